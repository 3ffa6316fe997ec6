import Foundation
import Testing
@testable import Footprint

@Suite struct CarbonAndSettingsTests {
    let temporary = TemporaryDirectory()

    @Test func co2eAndCost_areKWhTimesPUETimesFactor() {
        let carbon = CarbonSettings(intensityGramsPerKWh: 400, region: "custom", source: "test", year: nil,
                                    pue: 1.5, pricePerKWh: 0.2, currency: "EUR")
        #expect(abs(carbon.co2eGrams(energyKWh: 2) - 1200) < 1e-9)
        #expect(abs(carbon.cost(energyKWh: 2)! - 0.6) < 1e-12)
        #expect(CarbonSettings.worldAverage.cost(energyKWh: 1) == nil)
    }

    @Test func regionTable_lookupAndWorldDefault() throws {
        let table = try CarbonIntensityTable.bundled()
        #expect(table.row(iso3: "WORLD")?.gramsPerKWh == 475)
        #expect(table.row(iso3: "WORLD")?.year == 2019)
        let france = try #require(table.settings(region: "fra"))
        #expect(france.region == "FRA")
        #expect(france.intensityGramsPerKWh > 0 && france.intensityGramsPerKWh < 200)
        #expect(table.settings(region: "XYZ") == nil)
    }

    @Test func settings_defaultIsWorld475() throws {
        let folder = temporary.path
        let settings = try FootprintSettings.resolve(overrides: FootprintOverrides(), directory: folder, host: testHost)
        #expect(settings.carbon.intensityGramsPerKWh == 475)
        #expect(settings.carbon.region == "WORLD")
        #expect(settings.carbon.source.contains("IEA"))
        #expect(settings.carbon.pue == 1)
        #expect(settings.enabled)
        #expect(settings.configFile == nil)
    }

    @Test func settings_tomlThenCommandLineOverrides() throws {
        let folder = temporary.path
        try """
        # lab defaults
        region = "DEU"   # Germany
        pue = 1.4
        price_per_kwh = 0.31
        currency = 'EUR'
        idle_baseline = 2
        epochs = 5       # belongs to train; ignored here
        """.write(toFile: folder + "/fmctl.toml", atomically: true, encoding: .utf8)
        let fromFile = try FootprintSettings.resolve(overrides: FootprintOverrides(), directory: folder, host: testHost)
        #expect(fromFile.carbon.region == "DEU")
        #expect(fromFile.carbon.pue == 1.4)
        #expect(fromFile.carbon.pricePerKWh == 0.31)
        #expect(fromFile.carbon.currency == "EUR")
        #expect(fromFile.idleBaselineSeconds == 2)
        let overridden = try FootprintSettings.resolve(
            overrides: FootprintOverrides(carbonIntensityGramsPerKWh: 100, pue: 1.1), directory: folder, host: testHost)
        #expect(overridden.carbon.intensityGramsPerKWh == 100)
        #expect(overridden.carbon.source.contains("--carbon-intensity"))
        #expect(overridden.carbon.pue == 1.1)
        #expect(overridden.carbon.pricePerKWh == 0.31)
    }

    @Test func settings_badTomlValueNamesFileAndLine() throws {
        let folder = temporary.path
        try "region = \"FRA\"\npue = 0.8\n".write(toFile: folder + "/fmctl.toml", atomically: true, encoding: .utf8)
        do {
            _ = try FootprintSettings.resolve(overrides: FootprintOverrides(), directory: folder, host: testHost)
            Issue.record("expected an error")
        } catch let error as FootprintError {
            #expect(error.description.hasPrefix(folder + "/fmctl.toml:2:"))
            #expect(error.description.contains("pue"))
            #expect(error.exitCode == 65)
        }
    }

    @Test(arguments: [
        (FootprintOverrides(carbonIntensityGramsPerKWh: -1), "--carbon-intensity"),
        (FootprintOverrides(pue: 0.9), "--pue"),
        (FootprintOverrides(region: "ATLANTIS"), "--region"),
        (FootprintOverrides(pricePerKWh: -0.1), "--price-per-kwh"),
        (FootprintOverrides(sampleIntervalSeconds: 0), "--sample-interval"),
        (FootprintOverrides(cpuTDPWatts: .nan), "--cpu-tdp"),
    ])
    func validation_namesTheOptionWithUsageExit(overrides: FootprintOverrides, option: String) throws {
        do {
            try overrides.validate(table: try CarbonIntensityTable.bundled())
            Issue.record("expected \(option) to be rejected")
        } catch let error as FootprintError {
            #expect(error.description.hasPrefix(option + " "))
            #expect(error.exitCode == 64)
            #expect(!error.description.contains("\n"))
        }
    }
}

@Suite struct FlatTOMLTests {
    @Test func parsesStringsNumbersBoolsAndComments() throws {
        let toml = try FlatTOML.parse("""
        # comment
        a = "x # not a comment"  # comment
        b = 'lit\\eral'
        c = 1_000.5
        d = -2e3
        e = true

        f = "esc\\"aped"
        """, path: "f.toml")
        #expect(toml.entries["a"]?.value == .string("x # not a comment"))
        #expect(toml.entries["b"]?.value == .string("lit\\eral"))
        #expect(toml.entries["c"]?.value == .number(1000.5))
        #expect(toml.entries["d"]?.value == .number(-2000))
        #expect(toml.entries["e"]?.value == .bool(true))
        #expect(toml.entries["f"]?.value == .string("esc\"aped"))
        #expect(toml.entries["c"]?.line == 4)
    }

    @Test(arguments: [
        ("[footprint]\n", 1), ("a = 1\nnovalue\n", 2), ("a = \"open\n", 1), ("a = 1\na = 2\n", 2),
        ("a = 12abc\n", 1), ("bad key = 1\n", 1), ("a = \"x\" trailing\n", 1), ("a =\n", 1),
    ])
    func errorsNameFileAndLine(text: String, line: Int) {
        #expect(throws: FootprintError.self) { try FlatTOML.parse(text, path: "fmctl.toml") }
        do { _ = try FlatTOML.parse(text, path: "fmctl.toml") } catch let error as FootprintError {
            #expect(error.description.hasPrefix("fmctl.toml:\(line): expected"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func wrongTypeNamesTheKey() throws {
        let toml = try FlatTOML.parse("pue = \"high\"\n", path: "fmctl.toml")
        #expect(throws: FootprintError.invalidConfigFile(path: "fmctl.toml", line: 1, expected: "pue = a number")) {
            try toml.number("pue")
        }
    }
}

@Suite struct CPUPowerModelTests {
    @Test(arguments: [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Intel Xeon Gold 6248", 150.0),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105.0),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280.0),
        ("Intel(R) Core(TM) i7-8550U CPU @ 1.80GHz", "Intel Core i7-8550U", 15.0),
    ])
    func tdpTable_matchesProcCpuinfoNames(model: String, name: String, tdp: Double) throws {
        let match = try #require(try CPUTDPTable.bundled().match(modelName: model))
        #expect(match.name == name)
        #expect(match.tdpWatts == tdp)
    }

    @Test func bareFamily_matchesNothingAndUsesStatedDefault() throws {
        let table = try CPUTDPTable.bundled()
        #expect(table.entries.count > 4800)
        #expect(table.skippedLines == [1774, 1784, 1785, 1787, 3566])
        #expect(table.match(modelName: "AMD EPYC") == nil)
        #expect(table.match(modelName: "") == nil)
        let model = CPUPowerModel.resolve(overrideWatts: nil, host: testHost, table: table)
        #expect(model.fullLoadWatts == CPUPowerModel.defaultWattsPerLogicalCPU * 2)
        #expect(model.origin.contains("no TDP table match for 'AMD EPYC'"))
        let overridden = CPUPowerModel.resolve(overrideWatts: 95, host: testHost, table: table)
        #expect(overridden.fullLoadWatts == 95)
        #expect(overridden.joules(cpuSeconds: 2) == 95)   // 95 W x 2 CPU s / 2 CPUs
    }

    @Test func cpuinfo_parsesModelAndSockets() {
        let text = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nphysical id\t: 0\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nphysical id\t: 1\n"
        let (model, sockets) = HostInfo.parseCPUInfo(text)
        #expect(model == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz")
        #expect(sockets == 2)
    }
}
