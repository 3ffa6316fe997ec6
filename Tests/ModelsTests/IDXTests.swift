import Foundation
import Testing
@testable import Models

@Suite struct IDXTests {
    let directory = TemporaryDirectory()

    func sample(_ dimensions: [Int], seed: UInt64 = 1) -> IDXArray {
        var rng = SplitMix64(seed: seed)
        let count = dimensions.reduce(1, *)
        return IDXArray(dimensions: dimensions, bytes: (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    @Test func rawRoundTrip() throws {
        let array = sample([3, 4, 5])
        let path = directory.file("images.idx")
        try IDX.write(array, to: path, gzip: false)
        #expect(Array(try directory.bytes("images.idx").prefix(8)) == [0, 0, 8, 3, 0, 0, 0, 3])
        #expect(try IDX.read(path: path) == array)
    }

    @Test func gzipRoundTrip() throws {
        let array = sample([7, 28, 28])
        let path = directory.file("images.gz")
        try IDX.write(array, to: path, gzip: true)
        #expect(Array(try directory.bytes("images.gz").prefix(2)) == [0x1F, 0x8B])
        #expect(try IDX.read(path: path) == array)
    }

    @Test func compressionIsDetectedByMagicNotName() throws {
        let array = sample([2, 3])
        try IDX.write(array, to: directory.file("raw.gz"), gzip: false)
        try IDX.write(array, to: directory.file("compressed.idx"), gzip: true)
        #expect(try IDX.read(path: directory.file("raw.gz")) == array)
        #expect(try IDX.read(path: directory.file("compressed.idx")) == array)
    }

    @Test func writeLeavesNoTemporaryFiles() throws {
        try IDX.write(sample([4]), to: directory.file("a.idx"), gzip: true)
        try IDX.write(sample([5], seed: 2), to: directory.file("a.idx"), gzip: false)
        #expect(directory.listing() == ["a.idx"])
        #expect(try IDX.read(path: directory.file("a.idx")) == sample([5], seed: 2))
    }

    @Test func writeRejectsInconsistentArrays() {
        let error = dataError { try IDX.write(IDXArray(dimensions: [2, 2], bytes: [1, 2, 3]), to: directory.file("x"), gzip: false) }
        #expect(error?.exitCode == DataError.softwareExitCode)
        #expect(directory.listing().isEmpty)
    }

    @Test(arguments: [false, true]) func truncatedPayload(gzip: Bool) throws {
        var bytes = idxBytes(dimensions: [10, 2], payload: [UInt8](repeating: 7, count: 19))
        if gzip { bytes = try IDX.compress(bytes, path: "") }
        let error = dataError { _ = try IDX.read(path: directory.write("short", bytes: bytes)) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("truncated") == true)
        #expect(error?.message.contains("20") == true)
        #expect(error?.path == directory.file("short"))
    }

    @Test func truncatedHeaderAndDimensions() {
        let header = dataError { _ = try IDX.read(path: directory.write("a", bytes: [0, 0, 8])) }
        #expect(header?.exitCode == 65)
        #expect(header?.message.contains("truncated") == true)
        let dimensions = dataError { _ = try IDX.read(path: directory.write("b", bytes: [0, 0, 8, 3, 0, 0, 0, 1, 0, 0])) }
        #expect(dimensions?.exitCode == 65)
        #expect(dimensions?.message.contains("12 bytes") == true)
    }

    @Test func truncatedGzipStream() throws {
        let compressed = try IDX.compress(idxBytes(dimensions: [1000], payload: (0..<1000).map { UInt8($0 % 251) }), path: "")
        let error = dataError { _ = try IDX.read(path: directory.write("cut.gz", bytes: Array(compressed.dropLast(12)))) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("truncated gzip stream") == true)
    }

    @Test func wrongMagic() {
        let error = dataError { _ = try IDX.read(path: directory.write("m", bytes: [1, 0, 8, 1, 0, 0, 0, 1, 9])) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("expected magic 00 00 08") == true)
        #expect(error?.message.contains("01 00 08 01") == true)
    }

    @Test(arguments: [(UInt8(0x0D), "float32"), (UInt8(0x09), "signed byte"), (UInt8(0x42), "invalid element type 0x42")])
    func wrongType(type: UInt8, named: String) {
        let error = dataError { _ = try IDX.read(path: directory.write("t", bytes: idxBytes(type: type, dimensions: [1], payload: [0, 0, 0, 0]))) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains(named) == true)
        #expect(error?.message.contains("expected 0x08 (unsigned byte)") == true)
    }

    @Test(arguments: [0, 5, 255]) func wrongRank(rank: Int) {
        let error = dataError { _ = try IDX.read(path: directory.write("r", bytes: [0, 0, 8, UInt8(rank)] + [UInt8](repeating: 0, count: 24))) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("rank \(rank) not supported") == true)
    }

    @Test(arguments: [false, true]) func trailingData(gzip: Bool) throws {
        var bytes = idxBytes(dimensions: [4], payload: [1, 2, 3, 4, 5, 6])
        if gzip { bytes = try IDX.compress(bytes, path: "") }
        let error = dataError { _ = try IDX.read(path: directory.write("long", bytes: bytes)) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("trailing data") == true)
    }

    @Test func zeroDimension() {
        let error = dataError { _ = try IDX.read(path: directory.write("z", bytes: idxBytes(dimensions: [3, 0, 2], payload: []))) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("3 x 0 x 2") == true)
    }

    /// Headers that claim far more data than the file holds fail fast, without allocating for the claim.
    @Test(arguments: [false, true]) func absurdDimensions(gzip: Bool) throws {
        var huge = idxBytes(dimensions: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: [1, 2, 3])
        var large = idxBytes(dimensions: [0xFFFF_FFFF, 0x7FFF_FFFF], payload: [1, 2, 3])
        if gzip {
            huge = try IDX.compress(huge, path: "")
            large = try IDX.compress(large, path: "")
        }
        let overflow = dataError { _ = try IDX.read(path: directory.write("huge", bytes: huge)) }
        #expect(overflow?.exitCode == 65)
        #expect(overflow?.message.contains("too large") == true)
        let claim = dataError { _ = try IDX.read(path: directory.write("large", bytes: large)) }
        #expect(claim?.exitCode == 65)
        #expect(claim?.message.contains("truncated") == true)
    }

    @Test func gzNameButNotGzip() {
        let error = dataError { _ = try IDX.read(path: directory.write("train-images-idx3-ubyte.gz", bytes: Array("hello, not gzip".utf8))) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("not gzip") == true)
    }

    @Test func corruptGzipStream() throws {
        let garbage = dataError { _ = try IDX.read(path: directory.write("a.gz", bytes: [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0xFF, count: 40))) }
        #expect(garbage?.exitCode == 65)
        #expect(garbage?.message.contains("corrupt gzip stream") == true)

        // A flipped bit inside the deflate data: caught by inflate or by the CRC-32 in the trailer.
        var compressed = try IDX.compress(idxBytes(dimensions: [4000], payload: (0..<4000).map { UInt8($0 % 13) }), path: "")
        compressed[compressed.count - 12] ^= 0x10
        let flipped = dataError { _ = try IDX.read(path: directory.write("b.gz", bytes: compressed)) }
        #expect(flipped?.exitCode == 65)
        #expect(flipped?.message.contains("gzip") == true)
    }

    @Test func emptyFile() {
        let error = dataError { _ = try IDX.read(path: directory.write("empty", bytes: [])) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("empty file") == true)
    }

    @Test func missingFileOrFolderIsExit66() {
        let missing = dataError { _ = try IDX.read(path: directory.file("nope")) }
        #expect(missing?.exitCode == 66)
        #expect(missing?.description.hasPrefix(directory.file("nope") + ": cannot open") == true)
        let folder = dataError { _ = try IDX.read(path: directory.path) }
        #expect(folder?.exitCode == 66)
    }

    /// Random byte flips and cuts of valid files: every outcome is a value or a DataError, never a trap,
    /// and a value always has exactly the bytes its dimensions call for.
    @Test(arguments: [false, true]) func mutatedFilesNeverCrash(gzip: Bool) throws {
        var original = try IDX.encode(sample([3, 5, 4]), path: "")
        if gzip { original = try IDX.compress(original, path: "") }
        var rng = SplitMix64(seed: gzip ? 11 : 12)
        var accepted = 0
        for round in 0..<300 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if round % 3 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng))) }
            let path = try directory.write("mutant", bytes: bytes)
            do {
                let array = try IDX.read(path: path)
                #expect(array.bytes.count == array.dimensions.reduce(1, *))
                accepted += 1
            } catch {
                #expect(error.exitCode == 65)
            }
        }
        #expect(accepted < 300)
    }
}
