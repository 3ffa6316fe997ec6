import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The machine a run was measured on (run.json `host`).
public struct HostInfo: Codable, Sendable, Equatable {
    public var hostname: String
    public var os: String
    /// `/proc/cpuinfo`'s `model name`, as the kernel reports it (VMs may say only "AMD EPYC").
    public var cpuModel: String
    /// Logical CPUs available to this process.
    public var cpuCount: Int
    /// Distinct `physical id`s in `/proc/cpuinfo` (1 when absent).
    public var sockets: Int
    public var ramTotalGB: Double

    enum CodingKeys: String, CodingKey {
        case hostname, os, sockets
        case cpuModel = "cpu_model", cpuCount = "cpu_count", ramTotalGB = "ram_total_gb"
    }

    public init(hostname: String, os: String, cpuModel: String, cpuCount: Int, sockets: Int, ramTotalGB: Double) {
        self.hostname = hostname
        self.os = os
        self.cpuModel = cpuModel
        self.cpuCount = cpuCount
        self.sockets = max(1, sockets)
        self.ramTotalGB = ramTotalGB
    }

    /// This machine, from `/proc/cpuinfo`, `/etc/os-release` and the process's CPU affinity.
    public static func current(cpuinfoPath: String = "/proc/cpuinfo") -> HostInfo {
        let cpuinfo = (try? String(contentsOfFile: cpuinfoPath, encoding: .utf8)) ?? ""
        let (model, sockets) = parseCPUInfo(cpuinfo)
        var osName = ProcessInfo.processInfo.operatingSystemVersionString
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let line = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            osName = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return HostInfo(
            hostname: ProcessInfo.processInfo.hostName,
            os: kernel.isEmpty ? osName : "\(osName) (Linux \(kernel))",
            cpuModel: model,
            cpuCount: ProcessInfo.processInfo.activeProcessorCount,
            sockets: sockets,
            ramTotalGB: Double(ProcessInfo.processInfo.physicalMemory) / 1e9)
    }

    /// The first `model name` and the number of distinct `physical id`s.
    static func parseCPUInfo(_ text: String) -> (model: String, sockets: Int) {
        var model = ""
        var physicalIDs: Set<String> = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            if key == "model name", model.isEmpty { model = value }
            if key == "physical id" { physicalIDs.insert(value) }
        }
        return (model, max(1, physicalIDs.count))
    }
}

/// Files shipped in the module's `Resources` folder.
enum ResourceFiles {
    static func text(named name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "Resources/" + name, withExtension: nil)
                ?? Bundle.module.resourceURL?.appendingPathComponent("Resources/" + name) else {
            throw FootprintError.missingInput(path: name, expected: "a resource of the Footprint module")
        }
        do { return try String(contentsOf: url, encoding: .utf8) }
        catch { throw FootprintError.missingInput(path: url.path, expected: "a resource of the Footprint module") }
    }
}
