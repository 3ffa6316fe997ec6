import Foundation

/// The fake NVML of `Tests/Fixtures/fake-nvml/fake_nvml.c`, compiled by the tests into a folder
/// of their own as `libnvidia-ml.so.1`: an fmctl the test runs finds it there through
/// `LD_LIBRARY_PATH` (configured by `FAKE_NVML_*` environment variables), an in-process test
/// opens it by path (configured by `settings`, written beside it in `fake-nvml.env`, since
/// tests running in parallel share one environment). Each copy has state of its own.
public enum FakeNVML {
    public static let fileName = "libnvidia-ml.so.1"

    /// The C source, found from this file's path.
    public static let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/fake-nvml/fake_nvml.c").path

    /// Compiles the fake into `folder` (created if needed) and returns the library's path.
    /// `minimal` leaves out the optional symbols (driver version, power limit).
    @discardableResult
    public static func build(in folder: String, settings: [String: String] = [:], minimal: Bool = false) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let library = folder + "/" + fileName
        // `cc` as the issue asks; the Swift toolchain's clang where no `cc` is installed.
        let compiler = ["/usr/bin/cc", "/usr/local/bin/cc"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "clang"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [compiler, "-shared", "-fPIC", "-O1", "-Wall", "-Werror"] + (minimal ? ["-DFAKE_NVML_MINIMAL"] : [])
            + ["-o", library, source]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FakeNVMLError(description: "\(compiler) failed on \(source): \(String(decoding: output, as: UTF8.self))")
        }
        if !settings.isEmpty {
            let text = settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined()
            try text.write(toFile: folder + "/fake-nvml.env", atomically: true, encoding: .utf8)
        }
        return library
    }
}

public struct FakeNVMLError: Error, CustomStringConvertible {
    public let description: String
}
