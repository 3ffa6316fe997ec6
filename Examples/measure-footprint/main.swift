// Measures its own code with the Footprint windows API, like Zeus's begin_window/end_window or
// CodeCarbon's tracker: a "run" window around two "epochs", each split into train and
// validation phases, then joules per domain, seconds, CO2e and where the numbers came from.
//
//     swift run -c release measure-footprint [--iterations 100000000]
//
// Runs anywhere: with readable RAPL counters the figures say `rapl` and are counter deltas;
// on a VM or without permission they say `estimate`, and the warnings say why.
import Footprint
import Foundation

var iterations = 100_000_000
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.count == 2, arguments[0] == "--iterations", let n = Int(arguments[1]), n > 0 {
    iterations = n
} else if !arguments.isEmpty {
    FileHandle.standardError.write(Data("usage: measure-footprint [--iterations N]\n".utf8))
    exit(64)
}

/// The work to measure: `count` square roots (pure CPU, about 1 ns each).
func work(_ count: Int) -> Double {
    var sum = 0.0
    for i in 0..<count { sum += Double(i).squareRoot() }
    return sum
}

/// One line per window: total, each domain read (counted ones make the total; core/uncore are
/// a breakdown of their package and psys is the whole platform, so neither is added).
func report(_ m: EnergyMeasurement, carbon: CarbonSettings, indent: String = "") {
    let domains = m.domainJoules.sorted { $0.key < $1.key }
        .map { "\($0.key) \(String(format: "%.3g", $0.value)) J\(m.countedDomains.contains($0.key) ? "" : " (not added)")" }
        .joined(separator: ", ")
    print(indent + String(format: "%@: %.2f J in %.3f s (%.1f W avg, CPU %.0f%%), %.6f gCO2e [%@]", m.name,
                          m.energyJoules, m.durationSeconds, m.averagePowerWatts, 100 * m.cpuUtilization,
                          carbon.co2eGrams(energyKWh: m.energyKWh), m.source.rawValue))
    print(indent + "  domains: \(domains); \(m.sampleCount) reads, \(m.missingSampleCount) missing")
}

// The tracker takes what `fmctl` takes: an `fmctl.toml` in the working folder (powercap root,
// cpu_tdp, region, pue, price ...) merged with overrides given in code, which win.
let settings: FootprintSettings
do {
    settings = try FootprintSettings.resolve(overrides: FootprintOverrides(sampleIntervalSeconds: 0.1))
} catch let error as FootprintError {
    // A bad fmctl.toml or value: one line and its sysexits code, as fmctl does.
    FileHandle.standardError.write(Data("measure-footprint: \(error)\n".utf8))
    exit(error.exitCode)
}
let carbon = settings.carbon
let tracker = EnergyTracker(configuration: settings.configuration)
for warning in tracker.startupWarnings { print("warning: \(warning)") }
tracker.start()   // first reading, then a background sampler every 0.1 s

// Windows nest and may overlap; each is measured from exact reads at its own boundaries.
try tracker.beginWindow("run")
var checksum = 0.0
for epoch in 1...2 {
    try tracker.beginWindow("epoch-\(epoch)")
    // `measure` wraps a closure in a window and returns the closure's result with it.
    let (trainSum, train) = try tracker.measure("train") { work(iterations) }
    let (validationSum, validation) = try tracker.measure("validation") { work(iterations / 5) }
    checksum += trainSum + validationSum
    let epochEnergy = try tracker.endWindow("epoch-\(epoch)")
    report(epochEnergy, carbon: carbon)
    report(train, carbon: carbon, indent: "  ")
    report(validation, carbon: carbon, indent: "  ")
}
let run = try tracker.endWindow("run")
tracker.stop()

report(run, carbon: carbon)
if let cost = carbon.cost(energyKWh: run.energyKWh) {
    print(String(format: "cost: %.6f %@", cost, carbon.currency ?? ""))
}
let provenance = tracker.provenance
print("carbon: \(carbon.intensityGramsPerKWh) gCO2e/kWh (\(carbon.region), \(carbon.source)"
    + "\(carbon.year.map { ", \($0)" } ?? "")), PUE \(carbon.pue)")
print("source: \(provenance.source.rawValue); domains counted: \(provenance.domains.joined(separator: " + "))")
print("method: \(provenance.method)")
print(String(format: "sampling: every %.3g s, sampler overhead %.3f%% of one CPU, %d missing samples",
             provenance.sampleIntervalSeconds, 100 * provenance.samplerOverhead, provenance.missingSamples))
// Every measurement carries the warnings that apply to it (here the startup one again).
for warning in run.warnings { print("warning: \(warning)") }
print("(checksum \(checksum), so the work is not optimised away)")
