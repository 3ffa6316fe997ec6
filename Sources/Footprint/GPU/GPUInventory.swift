import Foundation

/// How a GPU's energy is obtained.
public enum GPUEnergyMethod: String, Sendable, Codable {
    /// NVML's total energy counter (mJ since the driver was loaded; Volta and newer), read
    /// exactly at every window boundary, like RAPL.
    case energyCounter = "energy counter"
    /// Where the counter answers NOT_SUPPORTED: the power reading (mW) at every read,
    /// integrated between reads (trapezoids), so as fine as the sampling interval.
    case sampledPower = "sampled power"

    /// The domain's source label: `nvml` for the counter, `sampled power` for integrated power.
    public var domainSource: DomainSource { self == .energyCounter ? .nvml : .sampledPower }
}

/// The GPUs NVML lists, which of them a run measures and how, or why none can be: what
/// `fmctl footprint probe` shows and what the GPU meter reads.
public struct GPUInventory: Sendable {
    public struct Device: Sendable, Equatable {
        /// NVML's index (PCI bus order).
        public var index: Int
        /// `nvmlDeviceGetName`, e.g. `NVIDIA H200`; nil when it failed.
        public var name: String?
        /// `gpu-N` in measurements.
        public var domain: String
        /// nil when neither the energy counter nor the power can be read (`readError` says why).
        public var method: GPUEnergyMethod?
        public var readError: String?
        /// Included by the selection.
        public var selected: Bool
        /// The counter at discovery (mJ), for the energy-counter method.
        public var initialEnergyMillijoules: UInt64?
        /// One power reading at discovery, in watts.
        public var powerWatts: Double?
        /// `nvmlDeviceGetEnforcedPowerLimit`, when the library has it.
        public var powerLimitWatts: Double?

        public var isMeasured: Bool { selected && method != nil }
        /// The power that bounds a plausible counter delta: the enforced limit, else an assumed
        /// 1000 W (above any current accelerator board).
        public var plausibleMaxPowerWatts: Double { powerLimitWatts ?? GPUInventory.assumedMaxPowerWatts }
        /// Why the device is or is not measured, in one line.
        public var reason: String {
            guard selected else { return "not selected (--gpus or CUDA_VISIBLE_DEVICES)" }
            switch method {
            case .energyCounter: return "counted: NVML energy counter, read at every window boundary"
            case .sampledPower: return "counted: no energy counter (NOT_SUPPORTED, before Volta), so its power is sampled and integrated"
            case nil: return "not measured: \(readError ?? "unreadable")"
            }
        }
    }

    static let assumedMaxPowerWatts = 1000.0
    /// The library fmctl opens: found as `dlopen` finds it (`LD_LIBRARY_PATH`, the linker cache).
    public static let nvmlLibraryName = "libnvidia-ml.so.1"

    /// The library asked for (`libnvidia-ml.so.1`).
    public var libraryName: String
    /// Why NVML cannot be used, or nil when it answered.
    public var unavailableReason: String?
    /// `nvmlSystemGetDriverVersion`, when the library has it.
    public var driverVersion: String?
    public var selection: GPUSelection
    /// Where the selection came from: `--gpus`, `CUDA_VISIBLE_DEVICES`, or `default`.
    public var selectionOrigin: String
    /// Something about the selection a run should say, e.g. UUIDs in CUDA_VISIBLE_DEVICES.
    public var selectionNote: String?
    public var devices: [Device]
    /// Kept open for the meter; nil when unavailable.
    let library: NVMLLibrary?

    public var measuredDevices: [Device] { devices.filter(\.isMeasured) }
    /// Selected indices NVML does not list.
    public var missingIndices: [Int] {
        guard unavailableReason == nil, case let .indices(list) = selection else { return [] }
        return list.filter { index in !devices.contains { $0.index == index } }
    }

    /// The selection as given (`--gpus` or `fmctl.toml`), else from `CUDA_VISIBLE_DEVICES`,
    /// else all; with where it came from and a note when the variable could not be used.
    static func resolveSelection(_ explicit: GPUSelection?, environment: [String: String]) -> (GPUSelection, String, String?) {
        if let explicit { return (explicit, "--gpus", nil) }
        if let visible = environment["CUDA_VISIBLE_DEVICES"] {
            let (selection, note) = GPUSelection.fromCUDAVisibleDevices(visible)
            return (selection, "CUDA_VISIBLE_DEVICES", note)
        }
        return (.all, "default", nil)
    }

    /// Opens NVML and reads what each GPU offers. Never throws: a missing library, a failed
    /// init or an unreadable GPU is recorded, and only the GPUs that can be read are measured.
    /// A selection of no GPU leaves NVML closed (its start-up can take a second), unless
    /// `listAll` asks for every GPU to be listed anyway (the probe).
    public static func discover(selection explicit: GPUSelection?,
                                environment: [String: String] = ProcessInfo.processInfo.environment,
                                libraryName: String = GPUInventory.nvmlLibraryName, listAll: Bool = false) -> GPUInventory {
        let (selection, origin, note) = resolveSelection(explicit, environment: environment)
        var inventory = GPUInventory(libraryName: libraryName, unavailableReason: nil, driverVersion: nil, selection: selection,
                                     selectionOrigin: origin, selectionNote: note, devices: [], library: nil)
        if selection.isEmpty, !listAll { return inventory }
        let library: NVMLLibrary
        do { library = try NVMLLibrary(name: libraryName) } catch {
            inventory.unavailableReason = error.description
            return inventory
        }
        inventory = GPUInventory(libraryName: libraryName, unavailableReason: nil, driverVersion: library.driverVersion(),
                                 selection: selection, selectionOrigin: origin, selectionNote: note, devices: [], library: library)
        switch library.deviceCount() {
        case let .failure(error): inventory.unavailableReason = "nvmlDeviceGetCount_v2 failed: \(error)"
        case let .success(count): inventory.devices = (0..<count).map { device(at: $0, library: library, selected: selection.includes($0)) }
        }
        return inventory
    }

    static func device(at index: Int, library: NVMLLibrary, selected: Bool) -> Device {
        var device = Device(index: index, name: nil, domain: "gpu-\(index)", method: nil, readError: nil, selected: selected)
        let handle: NVMLLibrary.Device
        switch library.device(at: index) {
        case let .failure(error):
            device.readError = "nvmlDeviceGetHandleByIndex_v2: \(error)"
            return device
        case let .success(found): handle = found
        }
        device.name = try? library.name(of: handle).get()
        device.powerLimitWatts = library.enforcedPowerLimitMilliwatts(handle).map { Double($0) / 1000 }
        let power = library.powerMilliwatts(handle)
        device.powerWatts = (try? power.get()).map { Double($0) / 1000 }
        switch library.totalEnergyMillijoules(handle) {
        case let .success(energy):
            device.method = .energyCounter
            device.initialEnergyMillijoules = energy
        case let .failure(error) where error.isNotSupported:
            switch power {
            case .success: device.method = .sampledPower
            case let .failure(powerError):
                device.readError = "no energy counter (\(error)) and nvmlDeviceGetPowerUsage: \(powerError)"
            }
        case let .failure(error):
            device.readError = "nvmlDeviceGetTotalEnergyConsumption: \(error)"
        }
        return device
    }

    /// What a run says at start about its GPUs: the selection's note, selected GPUs that cannot
    /// be read, sampled power, and selected indices NVML does not list. A machine without NVML
    /// says nothing unless GPUs were asked for by index.
    public var warnings: [String] {
        var lines: [String] = []
        if let selectionNote { lines.append(selectionNote) }
        if let unavailableReason {
            if case let .indices(list) = selection, !list.isEmpty, selectionOrigin == "--gpus" {
                lines.append("--gpus \(selection): \(unavailableReason)")
            }
            return lines
        }
        for device in devices where device.selected {
            switch device.method {
            case .sampledPower?:
                lines.append("\(device.domain) (\(device.name ?? "?")): no NVML energy counter; its energy is its power sampled at every read and integrated, as fine as the sampling interval")
            case nil: lines.append("\(device.domain) (\(device.name ?? "?")) is not measured: \(device.readError ?? "unreadable")")
            case .energyCounter?: break
            }
        }
        if !missingIndices.isEmpty, selectionOrigin != "--gpus" {
            lines.append("\(selectionOrigin) lists GPU(s) \(missingIndices.map(String.init).joined(separator: ",")) that NVML does not (it lists \(devices.count))")
        }
        return lines
    }

    /// `--gpus` naming a GPU NVML does not list is a usage error (64); from CUDA_VISIBLE_DEVICES
    /// it is only a warning, since that variable is meant for CUDA.
    public var selectionError: FootprintError? {
        guard selectionOrigin == "--gpus", !missingIndices.isEmpty else { return nil }
        return .invalidOption(option: "--gpus", value: selection.description,
                              expected: devices.isEmpty ? "none or all: NVML lists no GPU here"
                                  : "indices of GPUs NVML lists, 0 to \(devices.count - 1)")
    }

    /// One sentence for `measurement.method`: each measured GPU and how.
    public var method: String? {
        let measured = measuredDevices
        guard !measured.isEmpty else { return nil }
        return "NVML (\(libraryName)" + (driverVersion.map { ", driver \($0)" } ?? "") + "): "
            + measured.map { "\($0.domain) = \($0.name ?? "GPU \($0.index)") by \($0.method?.rawValue ?? "")" }.joined(separator: ", ")
            + "; each GPU's energy is the whole board's, whatever process uses it"
    }
}
