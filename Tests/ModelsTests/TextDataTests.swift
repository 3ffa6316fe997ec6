import Foundation
import Testing
@testable import Models
import Tensor

@Suite struct TextDataTests {
    let directory = TemporaryDirectory()

    /// Fills one batch of `source` for windows `indices`.
    func batch(_ source: TextWindows, _ indices: [Int]) -> (inputs: [Float], labels: [Int32]) {
        var x = [Float](repeating: -7, count: indices.count * source.context)
        var y = [Int32](repeating: -7, count: indices.count * source.labelsPerSample)
        indices.withUnsafeBufferPointer { i in
            x.withUnsafeMutableBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in source.fillBatch(indices: i, inputs: xp.baseAddress!, labels: yp.baseAddress!) }
            }
        }
        return (x, y)
    }

    @Test func causalWindowsAreInputsAndTheNextBytes() throws {
        let bytes = Array("Hello, fortunes! 0123456789".utf8)   // 27 bytes
        let w = try TextCorpus(bytes: bytes).windows(context: 8, objective: .causal)
        #expect(w.count == 3)   // (27 - 1) / 8
        #expect(w.sampleShape == [8] && w.labelsPerSample == 8 && w.classCount == 256 && w.inputVocabulary == 256)
        let (x, y) = batch(w, [2, 0])
        #expect(x[0..<8].map { UInt8($0) } == Array(bytes[16..<24]))
        #expect(y[0..<8].map { UInt8($0) } == Array(bytes[17..<25]))
        #expect(x[8..<16].map { UInt8($0) } == Array(bytes[0..<8]))
        #expect(y[8..<16].map { UInt8($0) } == Array(bytes[1..<9]))
        // The last window's last label is the corpus's last byte it reaches.
        let exact = try TextCorpus(bytes: Array(bytes[0..<17])).windows(context: 8, objective: .causal)
        #expect(exact.count == 2)
        #expect(batch(exact, [1]).labels.last == Int32(bytes[16]))
    }

    @Test func prefixAndSliceKeepTheirWindows() throws {
        let bytes = (0..<200).map { UInt8($0) }
        let w = try TextCorpus(bytes: bytes).windows(context: 10, objective: .causal)
        #expect(w.count == 19)
        #expect(w.prefix(5).count == 5 && w.prefix(100).count == 19)
        let s = w.slice(3..<6)
        #expect(s.count == 3)
        #expect(batch(s, [1]).inputs.first == 40)   // window 4 starts at byte 40
    }

    @Test func maskedWindowsChooseFifteenPercentAsBERT() throws {
        var g = SplitMix64(seed: 3)
        let bytes = (0..<200_001).map { _ in UInt8(truncatingIfNeeded: g.next() % 200) }   // never 256, rarely the random byte
        let w = try TextCorpus(bytes: bytes).windows(context: 100, objective: .masked, seed: 11)
        #expect(w.inputVocabulary == 257)
        let (x, y) = batch(w, Array(0..<w.count))
        var chosen = 0, masked = 0, kept = 0, changed = 0
        for i in x.indices {
            let original = bytes[i]   // windows are contiguous from byte 0
            if y[i] < 0 {
                #expect(x[i] == Float(original))
                continue
            }
            chosen += 1
            #expect(y[i] == Int32(original))
            if x[i] == 256 { masked += 1 } else if x[i] == Float(original) { kept += 1 } else { changed += 1 }
        }
        let n = Double(x.count), c = Double(chosen)
        // 200,000 positions: the fractions' standard errors are below 0.1 and 0.3 points.
        #expect(abs(c / n - 0.15) < 0.005)
        #expect(abs(Double(masked) / c - 0.8) < 0.01)
        #expect(abs(Double(changed) / c - 0.1) < 0.01)
        #expect(abs(Double(kept) / c - 0.1) < 0.01)
        // Static masking: the same windows give the same batch; another seed another one.
        #expect(batch(w, [5, 9]).labels == batch(w, [5, 9]).labels)
        let other = try TextCorpus(bytes: bytes).windows(context: 100, objective: .masked, seed: 12)
        #expect(batch(other, [5, 9]).labels != batch(w, [5, 9]).labels)
    }

    @Test func loadsAFileAndAFolderInNameOrder() throws {
        try FileManager.default.createDirectory(atPath: directory.file("corpus"), withIntermediateDirectories: true)
        let a = try directory.write("corpus/b.txt", bytes: Array("second".utf8))
        _ = try directory.write("corpus/a.txt", bytes: Array("first ".utf8))
        _ = try directory.write("corpus/.hidden", bytes: Array("never".utf8))
        try FileManager.default.createSymbolicLink(atPath: directory.file("corpus/link"), withDestinationPath: a)
        let folder = try TextCorpus.load("text:" + directory.file("corpus"))
        #expect(String(decoding: folder.bytes, as: UTF8.self) == "first second")
        #expect(folder.files.map { ($0 as NSString).lastPathComponent } == ["a.txt", "b.txt"])
        let file = try TextCorpus.load("text:" + a)
        #expect(file.bytes == Array("second".utf8))
        #expect(TextCorpus.isText("fortunes") && TextCorpus.isText("text:x") && !TextCorpus.isText("fashion-mnist"))
    }

    @Test func fortunesTakesTheFilesWithAnIndex() throws {
        // The rule for the default corpus, on a fake folder: a fortune file has a `.dat` beside it.
        try FileManager.default.createDirectory(atPath: directory.file("f"), withIntermediateDirectories: true)
        _ = try directory.write("f/art", bytes: Array("art\n%\n".utf8))
        _ = try directory.write("f/art.dat", bytes: [0, 1, 2])
        _ = try directory.write("f/README", bytes: Array("not a fortune".utf8))
        let corpus = try TextCorpus.read(path: directory.file("f"), fortunes: true)
        #expect(corpus.bytes == Array("art\n%\n".utf8))
        if FileManager.default.fileExists(atPath: TextCorpus.fortunesDirectory) {
            let system = try TextCorpus.load("fortunes")
            #expect(system.bytes.count > 100_000)
            #expect(system.files.allSatisfy { !$0.hasSuffix(".dat") && FileManager.default.fileExists(atPath: $0 + ".dat") })
        }
    }

    @Test func badTextIsOneLineWithItsExitCode() throws {
        func code(_ body: () throws -> Void) -> Int32? {
            do { try body() } catch let e as DataError { #expect(!e.description.contains("\n")); return e.exitCode } catch { return nil }
            return 0
        }
        #expect(code { _ = try TextCorpus.load("text:" + directory.file("missing")) } == 66)
        _ = try directory.write("empty.txt", bytes: [])
        #expect(code { _ = try TextCorpus.load("text:" + directory.file("empty.txt")) } == 65)
        try FileManager.default.createDirectory(atPath: directory.file("none"), withIntermediateDirectories: true)
        #expect(code { _ = try TextCorpus.load("text:" + directory.file("none")) } == 66)
        #expect(code { _ = try TextCorpus.load("text:") } == 64)
        #expect(code { _ = try TextCorpus.load("images") } == 64)
        let short = TextCorpus(bytes: Array("short".utf8), path: "short.txt")
        #expect(code { _ = try short.windows(context: 5, objective: .causal) } == 65)
        #expect(code { _ = try short.windows(context: 4, objective: .causal) } == 0)
    }

    @Test func samplingFollowsTemperatureAndTopK() {
        let logits: [Float] = [0, 1, 2, 0.5]
        var rng = Xoshiro256(seed: 1)
        #expect(TextGenerator.sample(logits, temperature: 0, topK: nil, rng: &rng) == 2)
        for _ in 0..<50 { #expect(TextGenerator.sample(logits, temperature: 1, topK: 1, rng: &rng) == 2) }
        var counts = [0, 0, 0, 0]
        for _ in 0..<20_000 { counts[Int(TextGenerator.sample(logits, temperature: 1, topK: 2, rng: &rng))] += 1 }
        #expect(counts[0] == 0 && counts[3] == 0)
        // softmax([1, 2]) = 0.269, 0.731: 20,000 draws put the share within 0.01 (3 standard errors).
        #expect(abs(Double(counts[2]) / 20_000 - 0.7311) < 0.01)
        counts = [0, 0, 0, 0]
        for _ in 0..<20_000 { counts[Int(TextGenerator.sample(logits, temperature: 2, topK: nil, rng: &rng))] += 1 }
        let e = logits.map { exp(Double($0) / 2) }, z = e.reduce(0, +)
        for i in 0..<4 { #expect(abs(Double(counts[i]) / 20_000 - e[i] / z) < 0.012) }
        var a = Xoshiro256(seed: 9), b = Xoshiro256(seed: 9)
        #expect((0..<20).map { _ in TextGenerator.sample(logits, temperature: 1, topK: nil, rng: &a) }
                == (0..<20).map { _ in TextGenerator.sample(logits, temperature: 1, topK: nil, rng: &b) })
    }
}
