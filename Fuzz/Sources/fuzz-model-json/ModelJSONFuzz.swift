import FuzzerDriver
import Foundation
import Models

@main enum ModelJSONFuzz {
    static func main() { runFuzzer { data, size in fuzz(data, size) } }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let json = Data(UnsafeBufferPointer(start: data, count: size))
    guard let description = try? ModelDescription.parse(json) else { return 0 }
    // A description that parses either builds or says why not; it never traps.
    if let model = try? description.makeModel(seed: 1) {
        precondition(model.outputCount > 0)
    }
    return 0
}
