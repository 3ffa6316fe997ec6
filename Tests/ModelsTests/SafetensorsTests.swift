import Foundation
import Testing
@testable import Models

@Suite struct SafetensorsTests {
    let directory = TemporaryDirectory()

    static let specialBits: [UInt32] = [
        0x7FC0_0000, 0x7FC0_0001, 0x7F80_0001, 0xFFC1_2345, // quiet NaN, NaN payloads, a signalling NaN
        0x8000_0000, 0x0000_0000,                          // -0.0, +0.0
        0x0000_0001, 0x007F_FFFF, 0x8000_0001,             // subnormals
        0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x3F80_0000, // inf, -inf, max, 1.0
    ]

    var tensors: [SafetensorsTensor] {
        var rng = SplitMix64(seed: 3)
        return [
            SafetensorsTensor(name: "conv.kernel", shape: [3, 3, 1, 2], values: (0..<18).map { _ in Float.random(in: -1...1, using: &rng) }),
            SafetensorsTensor(name: "special", shape: [13], values: Self.specialBits.map(Float.init(bitPattern:))),
            SafetensorsTensor(name: "scalar", shape: [], values: [42.5]),
            SafetensorsTensor(name: "empty", shape: [0, 4], values: []),
            SafetensorsTensor(name: "dense.bias", shape: [2], values: [-0.0, .leastNonzeroMagnitude]),
        ]
    }

    func expectBitExact(_ read: [SafetensorsTensor], _ written: [SafetensorsTensor]) {
        #expect(read.map(\.name) == written.map(\.name))
        #expect(read.map(\.shape) == written.map(\.shape))
        #expect(read.map { $0.values.map(\.bitPattern) } == written.map { $0.values.map(\.bitPattern) })
    }

    @Test func roundTripIsBitExact() throws {
        let path = directory.file("model.safetensors")
        try Safetensors.write(tensors: tensors, metadata: [:], to: path)
        let (read, metadata) = try Safetensors.read(path: path)
        expectBitExact(read, tensors)
        #expect(metadata.isEmpty)
        #expect(directory.listing() == ["model.safetensors"])
    }

    @Test func metadataRoundTrip() throws {
        let metadata = ["model": #"{"layers":[{"type":"Conv2D","filters":32}]}"#, "step": "1688",
                        "quote\"back\\slash": "line\nbreak\ttab\u{01}", "unicode": "énergie ⚡︎ 🌍", "": ""]
        let path = directory.file("m.safetensors")
        try Safetensors.write(tensors: tensors, metadata: metadata, to: path)
        #expect(try Safetensors.read(path: path).metadata == metadata)
    }

    @Test func outputIsDeterministicAndAligned() throws {
        var first: [String: String] = [:]
        var second: [String: String] = [:]
        for i in 0..<20 { first["k\(i)"] = "v\(i)" }
        for i in (0..<20).reversed() { second["k\(i)"] = "v\(i)" }
        let a = try Safetensors.encode(tensors: tensors, metadata: first, path: "")
        let b = try Safetensors.encode(tensors: tensors, metadata: second, path: "")
        #expect(a == b)
        try Safetensors.write(tensors: tensors, metadata: first, to: directory.file("a"))
        try Safetensors.write(tensors: tensors, metadata: second, to: directory.file("b"))
        #expect(try directory.bytes("a") == directory.bytes("b"))
        let headerLength = a[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + headerLength) % 8 == 0)
        #expect(a[8] == UInt8(ascii: "{"))
        let header = String(decoding: a[8..<(8 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix(#"{"__metadata__":{"k0":"v0","k1":"v1","k10":"v10""#))
        #expect(header.contains(#""conv.kernel":{"dtype":"F32","shape":[3,3,1,2],"data_offsets":[0,72]}"#))
    }

    /// A file as another writer might make it: whitespace, header order unlike data order,
    /// unknown fields ignored; tensors come back in data order.
    @Test func readsForeignLayout() throws {
        let header = #"{ "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8], "x": null},  "a": {"dtype":"F32","shape":[1],"data_offsets":[0,4]} }"#
        let path = try directory.write("f", bytes: file(header: header, data: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]))
        let (read, _) = try Safetensors.read(path: path)
        #expect(read.map(\.name) == ["a", "b"])
        #expect(read.map(\.values) == [[1], [2]])
    }

    /// 8-byte length, header, data: a file assembled by hand.
    func file(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = declaredLength ?? UInt64(headerBytes.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) } + headerBytes + data
    }

    func readError(_ bytes: [UInt8]) -> DataError? {
        dataError { _ = try Safetensors.read(path: directory.write("bad.safetensors", bytes: bytes)) }
    }

    @Test func truncatedFiles() throws {
        let valid = try Safetensors.encode(tensors: tensors, metadata: ["a": "b"], path: "")
        for (cut, fragment) in [(valid.count - 4, "run past"), (5, "truncated"), (0, "empty file"), (20, "larger than")] {
            let error = readError(Array(valid.prefix(cut)))
            #expect(error?.exitCode == 65)
            #expect(error?.message.contains(fragment) == true, "\(cut): \(error?.message ?? "no error")")
            #expect(error?.path == directory.file("bad.safetensors"))
        }
    }

    @Test(arguments: [
        ("xyz{}   ", "starting with '{'"),
        (#"{"a": "#, "garbage header"),
        (#"{"a": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "a": {}}"#, "duplicate key"),
        (#"{"__metadata__": {"k": 1}}"#, "expected a string"),
        (#"{"w": [1, 2]}"#, "expected an object"),
        (#"{"w": {"dtype":"F32","shape":[1]}}"#, "missing \"data_offsets\""),
        (#"{"w": {"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "non-negative"),
        (#"{"w": {"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#, "non-negative"),
        ("{\"w\u{01}\": 1}", "control character"),
    ])
    func garbageHeaders(header: String, fragment: String) {
        let error = readError(file(header: header, data: [0, 0, 0, 0]))
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
    }

    @Test func invalidUTF8InHeader() {
        var bytes = file(header: #"{"ab": 1}"#, data: [])
        bytes[11] = 0xFF
        #expect(readError(bytes)?.message.contains("UTF-8") == true)
    }

    @Test func headerLengthLargerThanFile() {
        let tooLong = readError(file(header: "{}", data: [], declaredLength: 4096))
        #expect(tooLong?.exitCode == 65)
        #expect(tooLong?.message.contains("header length 4096 is larger") == true)
        let absurd = readError(file(header: "{}", data: [], declaredLength: UInt64.max))
        #expect(absurd?.exitCode == 65)
        #expect(absurd?.message.contains("exceeds") == true)
    }

    @Test func onlyFloat32() {
        let error = readError(file(header: #"{"w": {"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("dtype F16 is not supported; expected F32") == true)
    }

    @Test(arguments: [
        (#"{"w": {"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "needs 12 bytes"),
        (#"{"a": {"dtype":"F32","shape":[2],"data_offsets":[0,8]}, "b": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "overlap"),
        (#"{"a": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "belong to no tensor"),
        (#"{"a": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8, "trailing bytes"),
        (#"{"a": {"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, 8, "end before they begin"),
        (#"{"a": {"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, "run past"),
        (#"{"a": {"dtype":"F32","shape":[4611686018427387904, 4],"data_offsets":[0,8]}}"#, 8, "too large"),
    ])
    func offsetsMustMatchShapesAndCoverTheBuffer(header: String, dataBytes: Int, fragment: String) {
        let error = readError(file(header: header, data: [UInt8](repeating: 0, count: dataBytes)))
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error")")
    }

    @Test func missingFileIsExit66() {
        #expect(dataError { _ = try Safetensors.read(path: directory.file("none.safetensors")) }?.exitCode == 66)
    }

    @Test func writeRejectsInconsistentTensors() {
        let cases: [[SafetensorsTensor]] = [
            [SafetensorsTensor(name: "w", shape: [2, 2], values: [1, 2, 3])],
            [SafetensorsTensor(name: "w", shape: [1], values: [1]), SafetensorsTensor(name: "w", shape: [1], values: [2])],
            [SafetensorsTensor(name: "__metadata__", shape: [1], values: [1])],
            [SafetensorsTensor(name: "w", shape: [-1], values: [])],
        ]
        for tensors in cases {
            #expect(dataError { try Safetensors.write(tensors: tensors, metadata: [:], to: directory.file("x")) }?.exitCode == 70)
        }
        #expect(directory.listing().isEmpty)
    }

    /// Every failed write leaves the previous checkpoint byte for byte, and no temporary file behind.
    @Test func failedWriteLeavesExistingFileIntact() throws {
        let path = directory.file("model.safetensors")
        try Safetensors.write(tensors: tensors, metadata: ["epoch": "1"], to: path)
        let before = try directory.bytes("model.safetensors")
        try FileManager.default.createDirectory(atPath: directory.file("folder"), withIntermediateDirectories: false)

        // The parent is a file: the temporary file cannot even be created.
        let parentIsFile = dataError { try Safetensors.write(tensors: tensors, metadata: [:], to: path + "/inner.safetensors") }
        #expect(parentIsFile?.exitCode == 74)
        // The target is a folder: everything is written, then the rename is refused.
        let targetIsFolder = dataError { try Safetensors.write(tensors: tensors, metadata: [:], to: directory.file("folder")) }
        #expect(targetIsFolder?.exitCode == 74)
        #expect(targetIsFolder?.message.contains("cannot replace") == true)
        // A tensor that does not fit its shape: refused before anything is written.
        let inconsistent = dataError { try Safetensors.write(tensors: [SafetensorsTensor(name: "w", shape: [2], values: [1])], metadata: [:], to: path) }
        #expect(inconsistent?.exitCode == 70)
        // A folder that does not exist.
        #expect(dataError { try Safetensors.write(tensors: tensors, metadata: [:], to: directory.file("absent/m.safetensors")) }?.exitCode == 74)

        #expect(try directory.bytes("model.safetensors") == before)
        #expect(try Safetensors.read(path: path).metadata == ["epoch": "1"])
        #expect(directory.listing() == ["folder", "model.safetensors"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("folder")).isEmpty)
    }

    @Test func writeReplacesAnExistingFile() throws {
        let path = directory.file("model.safetensors")
        try Safetensors.write(tensors: tensors, metadata: ["epoch": "1"], to: path)
        try Safetensors.write(tensors: Array(tensors.prefix(1)), metadata: ["epoch": "2"], to: path)
        let (read, metadata) = try Safetensors.read(path: path)
        #expect(metadata == ["epoch": "2"])
        expectBitExact(read, Array(tensors.prefix(1)))
    }

    /// Random byte flips and cuts of a valid file: a value or a DataError, never a trap.
    @Test func mutatedFilesNeverCrash() throws {
        let original = try Safetensors.encode(tensors: tensors, metadata: ["model": "cnn"], path: "")
        var rng = SplitMix64(seed: 5)
        var rejected = 0
        for round in 0..<400 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                // Mostly in the header, where the parsing happens.
                let limit = round % 4 == 0 ? bytes.count : min(bytes.count, 8 + 400)
                bytes[Int.random(in: 0..<limit, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if round % 5 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng))) }
            do {
                let (read, _) = try Safetensors.decode(bytes, path: "mutant")
                for tensor in read { #expect(tensor.values.count == tensor.shape.reduce(1, *)) }
            } catch {
                #expect(error.exitCode == 65)
                rejected += 1
            }
        }
        #expect(rejected > 0)
    }
}
