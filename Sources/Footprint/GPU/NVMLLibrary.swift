import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An NVML call that did not succeed: its `nvmlReturn_t` and NVML's own words for it.
struct NVMLError: Error, Equatable, Sendable, CustomStringConvertible {
    var code: Int32
    var message: String

    var description: String { "\(message) (NVML error \(code))" }
    var isNotSupported: Bool { code == NVMLLibrary.notSupported }
}

/// Why NVML cannot be used on this machine: no library, a library without a symbol fmctl
/// needs, or an `nvmlInit_v2` that failed (no driver loaded, no GPU).
struct NVMLUnavailable: Error, Equatable, Sendable, CustomStringConvertible {
    var description: String
}

/// NVML (`libnvidia-ml.so.1`, the NVIDIA driver's management library), opened with `dlopen` at
/// run time: fmctl has no build-time dependency on it, and a machine without the driver is a
/// machine without GPUs, not an error.
///
/// The C types are NVML's, declared here rather than taken from `nvml.h`: `nvmlReturn_t` is a C
/// enum (`Int32`), `nvmlDevice_t` an opaque pointer, `unsigned int` `UInt32`, `unsigned long
/// long` `UInt64`. The symbols in ``requiredSymbols`` must all be there; any other is optional
/// and its absence only drops the detail it gives (the driver version, the power limit).
final class NVMLLibrary: @unchecked Sendable {   // immutable after init; NVML is thread-safe
    /// `NVML_SUCCESS`, `NVML_ERROR_NOT_SUPPORTED` (e.g. the energy counter before Volta).
    static let success: Int32 = 0
    static let notSupported: Int32 = 3
    static let unknownError: Int32 = 999
    /// `NVML_DEVICE_NAME_V2_BUFFER_SIZE`, `NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE`.
    static let nameBufferSize = 96
    static let driverVersionBufferSize = 80

    static let requiredSymbols = [
        "nvmlInit_v2", "nvmlShutdown", "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetName",
        "nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetPowerUsage", "nvmlErrorString",
    ]

    typealias Device = OpaquePointer
    private typealias Call = @convention(c) () -> Int32
    private typealias GetCount = @convention(c) (UnsafeMutablePointer<UInt32>) -> Int32
    private typealias GetHandle = @convention(c) (UInt32, UnsafeMutablePointer<Device?>) -> Int32
    private typealias GetText = @convention(c) (Device?, UnsafeMutablePointer<CChar>, UInt32) -> Int32
    private typealias GetSystemText = @convention(c) (UnsafeMutablePointer<CChar>, UInt32) -> Int32
    private typealias GetUInt64 = @convention(c) (Device?, UnsafeMutablePointer<UInt64>) -> Int32
    private typealias GetUInt32 = @convention(c) (Device?, UnsafeMutablePointer<UInt32>) -> Int32
    private typealias ErrorString = @convention(c) (Int32) -> UnsafePointer<CChar>?

    /// The name it was opened by.
    let name: String
    private let handle: UnsafeMutableRawPointer
    private let shutdown: Call
    private let getCount: GetCount
    private let getHandle: GetHandle
    private let getName: GetText
    private let getTotalEnergy: GetUInt64
    private let getPower: GetUInt32
    private let errorString: ErrorString
    private let getDriverVersion: GetSystemText?
    private let getEnforcedPowerLimit: GetUInt32?

    /// Opens `name` (searched as `dlopen` searches: `LD_LIBRARY_PATH`, the linker cache), finds
    /// the symbols and initialises NVML.
    init(name: String) throws(NVMLUnavailable) {
        guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "cannot be opened"
            throw NVMLUnavailable(description: "\(name) not loaded (\(why)): no NVIDIA driver, GPUs are not measured")
        }
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        let missing = Self.requiredSymbols.filter { dlsym(handle, $0) == nil }
        guard missing.isEmpty,
              let initialize = symbol("nvmlInit_v2", as: Call.self), let shutdown = symbol("nvmlShutdown", as: Call.self),
              let getCount = symbol("nvmlDeviceGetCount_v2", as: GetCount.self),
              let getHandle = symbol("nvmlDeviceGetHandleByIndex_v2", as: GetHandle.self),
              let getName = symbol("nvmlDeviceGetName", as: GetText.self),
              let getTotalEnergy = symbol("nvmlDeviceGetTotalEnergyConsumption", as: GetUInt64.self),
              let getPower = symbol("nvmlDeviceGetPowerUsage", as: GetUInt32.self),
              let errorString = symbol("nvmlErrorString", as: ErrorString.self) else {
            dlclose(handle)
            throw NVMLUnavailable(description: "\(name) lacks \(missing.joined(separator: ", ")) (a driver too old for fmctl): GPUs are not measured")
        }
        // Initialise before any property is set: a class that throws once they all are runs its
        // deinit, which would shut down an NVML that never started.
        let status = initialize()
        guard status == Self.success else {
            let error = Self.error(status, errorString)
            dlclose(handle)
            throw NVMLUnavailable(description: "nvmlInit_v2 failed: \(error) (no GPU, or the driver is not loaded): GPUs are not measured")
        }
        self.name = name
        self.handle = handle
        self.shutdown = shutdown
        self.getCount = getCount
        self.getHandle = getHandle
        self.getName = getName
        self.getTotalEnergy = getTotalEnergy
        self.getPower = getPower
        self.errorString = errorString
        getDriverVersion = symbol("nvmlSystemGetDriverVersion", as: GetSystemText.self)
        getEnforcedPowerLimit = symbol("nvmlDeviceGetEnforcedPowerLimit", as: GetUInt32.self)
    }

    deinit {
        _ = shutdown()
        dlclose(handle)
    }

    private static func error(_ status: Int32, _ errorString: ErrorString) -> NVMLError {
        NVMLError(code: status, message: errorString(status).map { String(cString: $0) } ?? "unknown error")
    }

    /// A NUL-terminated buffer NVML filled, as UTF-8.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func check<T>(_ status: Int32, _ value: T) -> Result<T, NVMLError> {
        status == Self.success ? .success(value) : .failure(Self.error(status, errorString))
    }

    func deviceCount() -> Result<Int, NVMLError> {
        var count: UInt32 = 0
        return check(getCount(&count), Int(count))
    }

    func device(at index: Int) -> Result<Device, NVMLError> {
        var device: Device?
        return check(getHandle(UInt32(index), &device), device).flatMap { device in
            device.map { .success($0) } ?? .failure(NVMLError(code: Self.unknownError, message: "no handle returned"))
        }
    }

    func name(of device: Device) -> Result<String, NVMLError> {
        var buffer = [CChar](repeating: 0, count: Self.nameBufferSize)
        let status = getName(device, &buffer, UInt32(buffer.count))
        return check(status, Self.text(buffer))
    }

    /// `nvmlDeviceGetTotalEnergyConsumption`: millijoules since the driver was last loaded
    /// (Volta and newer; older GPUs answer NOT_SUPPORTED).
    func totalEnergyMillijoules(_ device: Device) -> Result<UInt64, NVMLError> {
        var energy: UInt64 = 0
        return check(getTotalEnergy(device, &energy), energy)
    }

    /// `nvmlDeviceGetPowerUsage`: the board's power draw in milliwatts.
    func powerMilliwatts(_ device: Device) -> Result<UInt32, NVMLError> {
        var power: UInt32 = 0
        return check(getPower(device, &power), power)
    }

    /// `nvmlSystemGetDriverVersion`, when the library has it.
    func driverVersion() -> String? {
        guard let getDriverVersion else { return nil }
        var buffer = [CChar](repeating: 0, count: Self.driverVersionBufferSize)
        guard getDriverVersion(&buffer, UInt32(buffer.count)) == Self.success else { return nil }
        return Self.text(buffer)
    }

    /// `nvmlDeviceGetEnforcedPowerLimit` in milliwatts, when the library has it and answers.
    func enforcedPowerLimitMilliwatts(_ device: Device) -> UInt32? {
        guard let getEnforcedPowerLimit else { return nil }
        var limit: UInt32 = 0
        return getEnforcedPowerLimit(device, &limit) == Self.success && limit > 0 ? limit : nil
    }
}
