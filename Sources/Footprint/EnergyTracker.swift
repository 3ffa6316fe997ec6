import Foundation
import Synchronization

/// What the tracker needs to know: where the counters are and how to estimate without them.
public struct FootprintConfiguration: Sendable {
    /// The powercap root; nil resolves `FMCTL_POWERCAP_ROOT`, then `/sys/class/powercap`.
    public var powercapRoot: String
    /// The sampling interval asked for; nil means 1 s. Shortened when a counter could wrap faster.
    public var sampleIntervalSeconds: Double?
    /// `--cpu-tdp`: watts per socket for the estimate.
    public var cpuTDPWatts: Double?
    public var reader: any PowercapFileReader
    public var host: HostInfo
    /// Where windows, the sampler and the mirror check take their time from.
    public var clock: any FootprintClock
    /// GPUs to measure through NVML; nil: those `CUDA_VISIBLE_DEVICES` lists, else all.
    public var gpus: GPUSelection?
    /// The NVML library to open (tests name a fake by path).
    var nvmlLibrary = GPUInventory.nvmlLibraryName
    /// False leaves the background sampler thread out: reads happen only at window boundaries,
    /// start, stop and `sample()` calls (tests place every read themselves).
    var backgroundSampling = true

    public static let defaultSampleIntervalSeconds = 1.0

    public init(powercapRoot: String? = nil, sampleIntervalSeconds: Double? = nil, cpuTDPWatts: Double? = nil,
                reader: any PowercapFileReader = SystemPowercapFileReader(), host: HostInfo = .current(),
                clock: any FootprintClock = SystemClock(), gpus: GPUSelection? = nil) {
        self.powercapRoot = PowercapInventory.resolveRoot(powercapRoot)
        self.sampleIntervalSeconds = sampleIntervalSeconds
        self.cpuTDPWatts = cpuTDPWatts
        self.reader = reader
        self.host = host
        self.clock = clock
        self.gpus = gpus
    }
}

/// Measures energy in named, nestable windows, like Zeus's `begin_window`/`end_window`.
///
/// RAPL counters are read exactly at every window boundary and by a background sampler often
/// enough to see every wrap; a window's energy is the sum of counter deltas, never mean power
/// times time. Without readable counters the tracker estimates, and says so in every figure.
///
///     let tracker = EnergyTracker(configuration: FootprintConfiguration())
///     tracker.start()
///     try tracker.beginWindow("epoch-1")
///     ... work ...
///     let epoch = try tracker.endWindow("epoch-1")   // joules, seconds, source, warnings
///     tracker.stop()
public final class EnergyTracker: Sendable {
    public let configuration: FootprintConfiguration
    public let inventory: PowercapInventory
    /// The GPUs NVML lists and which of them are measured; their domains (`gpu-N`) are added to
    /// the total beside package and dram, or beside the estimate's cpu and ram.
    public let gpus: GPUInventory
    /// How the CPU side is measured: RAPL or the estimate (each domain's own source is in
    /// `provenance.domainSources`).
    public let source: EnergySource
    /// The interval the sampler runs at (the requested one, shortened for fast-wrapping counters).
    public let sampleIntervalSeconds: Double
    /// Why the estimate is used, or why the interval changed; shown once at start.
    public let startupWarnings: [String]
    public let cpuModel: CPUPowerModel
    private let clock: any FootprintClock

    private let state: Mutex<State>
    private let signal = SamplerSignal()

    struct OpenWindow {
        var startMonotonic: Double
        var startDate: Date
        var joules: [String: Double]
        var readCount: Int
        var missingCount: Int
        var cpuSeconds: Double
    }

    struct State {
        var meter: any EnergyMeter
        var source: EnergySource
        var started = false
        var stopped = false
        var startMonotonic = 0.0
        var startDate = Date()
        var lastJoules: [String: Double] = [:]
        /// Per domain: the number (`readCount`) of its last good read, to tell whether a window
        /// saw one.
        var lastGoodRead: [String: Int] = [:]
        /// Per domain: time and cumulative joules of its last good read, for the timeline.
        var lastPoint: [String: (time: Double, joules: Double)] = [:]
        var readCount = 0
        var missingSamples = 0
        var warnings: [String] = []
        var windows: [String: OpenWindow] = [:]
        var samples: [PowerSample] = []
        var idle: IdleBaseline?
        var samplerCPUSeconds = 0.0
        var children: [Int32] = []
        var warnedDomains: Set<String> = []
    }

    public init(configuration: FootprintConfiguration) {
        self.configuration = configuration
        clock = configuration.clock
        let inventory = PowercapInventory.discover(root: configuration.powercapRoot, reader: configuration.reader,
                                                   clock: configuration.clock)
        self.inventory = inventory
        let fallback = Self.fallbackReason(inventory)
        // The TDP table (5,000 rows) is only loaded when the estimate is needed.
        cpuModel = CPUPowerModel.resolve(overrideWatts: configuration.cpuTDPWatts, host: configuration.host,
                                         table: fallback == nil ? nil : try? CPUTDPTable.bundled())
        var warnings: [String] = []
        let requested = configuration.sampleIntervalSeconds ?? FootprintConfiguration.defaultSampleIntervalSeconds
        let now = clock.monotonicSeconds()
        var meter: any EnergyMeter
        if let reason = fallback {
            warnings.append(reason)
            meter = EstimateMeter(cpuModel: cpuModel, startMonotonic: now)
            source = .estimate
            sampleIntervalSeconds = requested
        } else {
            meter = RAPLMeter(inventory: inventory, reader: configuration.reader, startMonotonic: now)
            source = .rapl
            let (interval, warning) = Self.sampleInterval(requested: requested, explicit: configuration.sampleIntervalSeconds != nil,
                                                          inventory: inventory)
            sampleIntervalSeconds = interval
            if let warning { warnings.append(warning) }
            for zone in inventory.zones where zone.role == .counted && zone.maxEnergyRangeMicrojoules == nil {
                warnings.append("\(zone.path)/max_energy_range_uj missing or unreadable: a wrap of \(zone.domain) cannot be corrected and is reported as a missing interval")
            }
        }
        gpus = GPUInventory.discover(selection: configuration.gpus, libraryName: configuration.nvmlLibrary)
        warnings += gpus.warnings
        if let gpuMeter = GPUMeter(inventory: gpus) { meter = CombinedMeter([meter, gpuMeter]) }
        startupWarnings = warnings
        var initial = State(meter: meter, source: source)
        initial.warnings = warnings
        state = Mutex(initial)
    }

    /// Why RAPL cannot be used here, or nil if it can. The permission message is the loud one:
    /// it names the file and how to grant access.
    static func fallbackReason(_ inventory: PowercapInventory) -> String? {
        if !inventory.rootExists {
            return "no RAPL: \(inventory.root) does not exist (a VM, a container or a CPU without powercap support); energy is an estimate"
        }
        let denied = inventory.permissionDeniedZones
        if !denied.isEmpty {
            return permissionMessage(files: denied.map(\.energyPath), root: inventory.root)
        }
        if inventory.zones.isEmpty {
            return "no RAPL: \(inventory.root) holds no powercap zones (intel-rapl driver not loaded? try 'sudo modprobe intel_rapl_msr'); energy is an estimate"
        }
        if !inventory.isUsable {
            let why = inventory.zones.compactMap { zone in zone.readError.map { "\(zone.energyPath): \($0)" } }.prefix(3)
            return "no RAPL: no readable package, dram or psys zone under \(inventory.root)"
                + (why.isEmpty ? "" : " (" + why.joined(separator: "; ") + ")") + "; energy is an estimate"
        }
        return nil
    }

    /// The actionable message for root-only counters (CVE-2020-8694).
    public static func permissionMessage(files: [String], root: String) -> String {
        let shown = files.prefix(3).joined(separator: ", ") + (files.count > 3 ? " and \(files.count - 3) more" : "")
        let chmodTarget = files.count <= 3 ? files.joined(separator: " ") : "\(root)/*/energy_uj"
        return "RAPL counters not readable: permission denied on \(shown) (root-only since CVE-2020-8694); "
            + "energy is an estimate until read access is granted: run 'sudo chmod o+r \(chmodTarget)' (until reboot), "
            + "or make it permanent with the udev rule 'ACTION==\"add\", SUBSYSTEM==\"powercap\", RUN+=\"/bin/chmod o+r /sys%p/energy_uj\"' "
            + "in /etc/udev/rules.d/99-powercap.rules, or run as root"
    }

    /// The sampling interval: the requested one (default 1 s), shortened so that every sampled
    /// counter is read at least twice per wrap period at its plausible maximum power (a third of
    /// the shortest period leaves room for scheduling delays).
    static func sampleInterval(requested: Double, explicit: Bool, inventory: PowercapInventory) -> (Double, String?) {
        let requested = max(0.001, requested)
        guard let wrap = inventory.shortestWrapSeconds else { return (requested, nil) }
        let limit = max(0.001, wrap / 3)
        guard requested > limit else { return (requested, nil) }
        let warning = explicit
            ? "sample interval \(requested) s is too long: a counter can wrap every \(String(format: "%.3g", wrap)) s at its plausible maximum power; sampling every \(String(format: "%.3g", limit)) s"
            : nil
        return (limit, warning)
    }

    // MARK: - Lifecycle

    /// Takes the first reading and starts the sampler. Calling it again does nothing.
    public func start() {
        let begin = state.withLock { state -> Bool in
            guard !state.started else { return false }
            state.started = true
            state.startMonotonic = clock.monotonicSeconds()
            state.startDate = Date()
            Self.performRead(&state, now: state.startMonotonic)
            return true
        }
        guard begin, configuration.backgroundSampling else { return }
        let interval = sampleIntervalSeconds
        let signal = signal
        let thread = Thread { [self] in
            let threadStart = ProcessUsage.threadCPUSeconds()
            while signal.wait(seconds: interval) {
                sample()
                let cpuSeconds = ProcessUsage.threadCPUSeconds() - threadStart
                state.withLock { $0.samplerCPUSeconds = cpuSeconds }
            }
            signal.finished()
        }
        thread.name = "fmctl-energy-sampler"
        thread.start()
    }

    /// One background read, what the sampler thread does at each interval: under the same lock
    /// as the boundary reads, so a sample falls wholly before or after a window's boundary read
    /// and its snapshot. Does nothing before `start` or after `stop`.
    func sample() {
        state.withLock { state in
            guard state.started, !state.stopped else { return }
            Self.performRead(&state, now: clock.monotonicSeconds())
        }
    }

    /// Stops the sampler (waiting for it) after a last exact read. Open windows can still be ended.
    public func stop() {
        let running = state.withLock { state -> Bool in
            guard state.started, !state.stopped else { return false }
            Self.performRead(&state, now: clock.monotonicSeconds())
            state.stopped = true
            return true
        }
        if running { signal.stopAndWait() }
    }

    deinit { signal.stopAndWait() }

    /// Includes a child process (e.g. the command `fmctl footprint measure` runs) in the estimate.
    public func trackChildProcess(_ pid: Int32) {
        state.withLock { state in
            state.meter.track(childProcess: pid)
            state.children.append(pid)
        }
    }

    // MARK: - Windows

    /// Opens a window; names must be unique among open windows. Starts the tracker if needed.
    public func beginWindow(_ name: String) throws {
        start()
        try state.withLock { state in
            guard state.windows[name] == nil else {
                throw FootprintError.windowMisuse(name: name, reason: "already open")
            }
            // Counts are taken before the boundary read so that the window includes it.
            let (readCount, missingCount) = (state.readCount, state.missingSamples)
            let now = clock.monotonicSeconds()
            let reading = Self.performRead(&state, now: now)
            state.windows[name] = OpenWindow(startMonotonic: now, startDate: Date(), joules: state.lastJoules,
                                             readCount: readCount, missingCount: missingCount,
                                             cpuSeconds: reading.cpuSeconds ?? ProcessUsage.cpuSeconds(children: state.children))
        }
    }

    /// Closes a window with an exact read and returns its energy.
    public func endWindow(_ name: String) throws -> EnergyMeasurement {
        try state.withLock { state in
            guard let window = state.windows.removeValue(forKey: name) else {
                throw FootprintError.windowMisuse(name: name, reason: "not open")
            }
            let now = clock.monotonicSeconds()
            let reading = state.stopped ? nil : Self.performRead(&state, now: now)
            // A domain counts in the window only with a good read after its opening boundary read
            // (that one is number readCount + 1): the energy since its last good read before
            // the window is carried into it. With none (every read after the opening one failed,
            // the closing one included) the window saw no energy of it: it is left out, a
            // missing sample, never a zero.
            var domainJoules: [String: Double] = [:]
            for (domain, end) in state.lastJoules where (state.lastGoodRead[domain] ?? 0) > window.readCount + 1 {
                if let begin = window.joules[domain] { domainJoules[domain] = end - begin }
            }
            let counted = state.meter.countedDomains
            let total = counted.compactMap { domainJoules[$0] }.reduce(0, +)
            let duration = max(0, now - window.startMonotonic)
            var warnings = state.warnings
            for domain in counted where domainJoules[domain] == nil {
                warnings.append("\(domain): no good read inside window '\(name)'; its energy is missing from the total")
            }
            return EnergyMeasurement(
                name: name, startedAt: window.startDate, durationSeconds: duration, energyJoules: total,
                domainJoules: domainJoules, countedDomains: counted, source: state.source,
                method: state.meter.method, warnings: warnings,
                sampleCount: state.readCount - window.readCount,
                missingSampleCount: state.missingSamples - window.missingCount,
                cpuSeconds: max(0, (reading?.cpuSeconds ?? ProcessUsage.cpuSeconds(children: state.children)) - window.cpuSeconds),
                logicalCPUs: configuration.host.cpuCount,
                energyAboveIdleJoules: state.idle.map { total - $0.powerWatts * duration },
                domainSources: state.meter.domainSources)
        }
    }

    /// Runs `body` inside a window and returns its result with the window's energy.
    public func measure<T>(_ name: String, _ body: () throws -> T) throws -> (result: T, measurement: EnergyMeasurement) {
        try beginWindow(name)
        let result: T
        do { result = try body() } catch {
            _ = try? endWindow(name)
            throw error
        }
        return (result, try endWindow(name))
    }

    /// Measures the machine at rest for `seconds` (this thread sleeps) and keeps the power as
    /// the baseline that later measurements subtract in `energyAboveIdleJoules`.
    @discardableResult
    public func measureIdleBaseline(seconds: Double) throws -> IdleBaseline {
        let name = "idle-baseline"
        try beginWindow(name)
        clock.sleep(seconds: seconds)
        let measurement = try endWindow(name)
        let baseline = IdleBaseline(powerWatts: measurement.averagePowerWatts, seconds: measurement.durationSeconds,
                                    source: measurement.source)
        state.withLock { $0.idle = baseline }
        return baseline
    }

    public var idleBaseline: IdleBaseline? { state.withLock { $0.idle } }

    // MARK: - Timeline and provenance

    /// Removes and returns the power samples taken since the last call (for power.csv).
    public func drainPowerSamples() -> [PowerSample] {
        state.withLock { state in
            defer { state.samples.removeAll(keepingCapacity: true) }
            return state.samples
        }
    }

    /// Sampler CPU time / wall time since start, as a fraction of one CPU.
    public var samplerOverhead: Double {
        state.withLock { state in
            guard state.started else { return 0 }
            let wall = clock.monotonicSeconds() - state.startMonotonic
            return wall > 0 ? state.samplerCPUSeconds / wall : 0
        }
    }

    public var provenance: MeasurementProvenance {
        let overhead = samplerOverhead
        return state.withLock { state in
            MeasurementProvenance(
                source: source, domains: state.meter.countedDomains,
                breakdownDomains: source == .rapl ? inventory.sampledZones.filter { $0.role == .breakdown }.map(\.domain) : [],
                besideDomains: source == .rapl ? inventory.sampledZones.filter { $0.role == .beside }.map(\.domain) : [],
                sampleIntervalSeconds: sampleIntervalSeconds, warnings: state.warnings, method: state.meter.method,
                samplerOverhead: overhead, missingSamples: state.missingSamples,
                domainSources: state.meter.domainSources.mapValues(\.rawValue),
                gpus: gpus.measuredDevices.map { GPURecord(index: $0.index, name: $0.name ?? "GPU \($0.index)", domain: $0.domain,
                                                           method: $0.method?.rawValue ?? "") })
        }
    }

    /// Every domain read, counted ones first (the power.csv columns).
    public var domains: [String] { state.withLock { $0.meter.domains } }

    // MARK: - Reading

    /// Reads so far: start, boundaries, samples and stop.
    var readCount: Int { state.withLock { $0.readCount } }

    /// One read of every domain: updates the last good values, counts and warns about missing
    /// samples, and appends a timeline point.
    @discardableResult
    static func performRead(_ state: inout State, now: Double) -> MeterReading {
        let reading = state.meter.read(monotonicSeconds: now)
        state.readCount += 1
        state.missingSamples += reading.failures.count
        for (domain, why) in reading.failures.sorted(by: { $0.key < $1.key }) where !state.warnedDomains.contains(domain) {
            state.warnedDomains.insert(domain)
            state.warnings.append("missing sample of \(domain): \(why); its energy is carried to the next good read, never counted as zero")
        }
        for note in reading.notes where !state.warnings.contains(note) { state.warnings.append(note) }
        var watts: [String: Double] = [:]
        for (domain, joules) in reading.joules {
            if let last = state.lastPoint[domain], now - last.time >= 0.001 {
                watts[domain] = (joules - last.joules) / (now - last.time)
            }
            state.lastPoint[domain] = (now, joules)
            state.lastJoules[domain] = joules
            state.lastGoodRead[domain] = state.readCount
        }
        guard !watts.isEmpty else { return reading }
        let counted = state.meter.countedDomains
        let total: Double? = counted.allSatisfy { watts[$0] != nil } ? counted.compactMap { watts[$0] }.reduce(0, +) : nil
        state.samples.append(PowerSample(
            timestamp: state.startDate.addingTimeInterval(now - state.startMonotonic),
            elapsedSeconds: now - state.startMonotonic, watts: watts, totalWatts: total, source: state.source))
        return reading
    }
}

/// Wakes the sampler at its interval and tells it to stop; `stopAndWait` returns once the
/// thread has left its loop.
final class SamplerSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopRequested = false
    private var running = false
    private var done = false

    /// Sleeps up to `seconds`; false once stop was asked for.
    func wait(seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        running = true
        if !stopRequested { _ = condition.wait(until: Date(timeIntervalSinceNow: seconds)) }
        return !stopRequested
    }

    func finished() {
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    func stopAndWait() {
        condition.lock()
        stopRequested = true
        condition.broadcast()
        while running && !done { condition.wait() }
        condition.unlock()
    }
}
