import CFuzzerDriver
#if canImport(Glibc)
import Glibc
#endif

/// Runs libFuzzer with the process's arguments and `testOneInput` as the target.
///
/// SwiftPM links every executable with `main` renamed to `<module>_main` (so tests can link
/// executables), which hides libFuzzer's own `main`; each harness therefore has an `@main`
/// that hands over to libFuzzer's driver, and also exports `LLVMFuzzerTestOneInput` for
/// drivers that look it up by name.
public func runFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}
