import FuzzerDriver
import Models

@main enum SafetensorsFuzz {
    static func main() { runFuzzer { data, size in fuzz(data, size) } }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let (tensors, _) = try Safetensors.read(bytes: bytes, path: "fuzz-input")
        // What a successful read promises: every tensor's values fill its shape, names are unique,
        // and the data buffer is covered exactly.
        var names: Set<String> = []
        var dataBytes = 0
        for tensor in tensors {
            precondition(tensor.values.count == tensor.shape.reduce(1, *), "tensor \(tensor.name) does not fill its shape")
            precondition(names.insert(tensor.name).inserted, "duplicate tensor \(tensor.name)")
            dataBytes += 4 * tensor.values.count
        }
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[i]) << (8 * i) }
        precondition(8 + headerLength + dataBytes == size, "tensors do not cover the data buffer")
    } catch {
        precondition(error.exitCode == 65, "unexpected exit code \(error.exitCode): \(error.message)")
    }
    return 0
}
