import Foundation
import Tensor
#if canImport(Glibc)
import Glibc
#endif

/// A text corpus read as bytes (vocabulary 256), from one file or a folder of files
/// (docs/transformer.md, "Text data").
public struct TextCorpus: Sendable {
    /// The name that stands for Debian's fortunes (`--dataset fortunes`), the default text data.
    public static let fortunesName = "fortunes"
    /// Where Debian's `fortunes` and `fortunes-min` install their fortune files.
    public static let fortunesDirectory = "/usr/share/games/fortunes"
    /// The prefix of a `--dataset` value that names a text file or folder (`text:PATH`).
    public static let prefix = "text:"
    /// The largest corpus read into memory.
    public static let maximumBytes = 1 << 31

    /// The bytes, files concatenated in name order.
    public let bytes: [UInt8]
    /// The files read, in order.
    public let files: [String]
    /// The file or folder the corpus was read from.
    public let path: String

    public init(bytes: [UInt8], path: String = "<memory>", files: [String] = []) {
        self.bytes = bytes
        self.path = path
        self.files = files
    }

    /// Whether a `--dataset` value names text: `fortunes` or `text:PATH`.
    public static func isText(_ dataset: String) -> Bool { dataset == fortunesName || dataset.hasPrefix(prefix) }

    /// Reads the corpus a `--dataset` value names: `fortunes` (the fortune files of
    /// ``fortunesDirectory``: those with a `strfile` index `.dat` beside them), or `text:PATH`, a
    /// file, or a folder whose regular files (not hidden, not links) are read in name order.
    /// - Throws: ``DataError``: missing or unreadable (66), empty (65), larger than
    ///   ``maximumBytes`` (65), a read failing part way (74).
    public static func load(_ dataset: String) throws(DataError) -> TextCorpus {
        let path: String
        var fortunes = false
        if dataset == fortunesName {
            path = fortunesDirectory
            fortunes = true
        } else if dataset.hasPrefix(prefix) {
            path = String(dataset.dropFirst(prefix.count))
            guard !path.isEmpty else {
                throw DataError(path: "--dataset", message: "'text:' needs a path; expected text:FILE or text:FOLDER", exitCode: DataError.usageExitCode)
            }
        } else {
            throw DataError(path: "--dataset", message: "'\(dataset)' is not text; expected fortunes or text:PATH", exitCode: DataError.usageExitCode)
        }
        return try read(path: path, fortunes: fortunes)
    }

    /// Reads a file, or a folder's files in name order; `fortunes` keeps only the files with a
    /// `.dat` beside them.
    static func read(path: String, fortunes: Bool) throws(DataError) -> TextCorpus {
        let expected = fortunes ? "Debian's fortunes (apt-get install fortunes)" : "a text file or a folder of text files"
        var info = stat()
        guard stat(path, &info) == 0 else { throw DataError.openFailure(path, errno: errno, expected: expected) }
        var files: [String] = []
        if (info.st_mode & S_IFMT) == S_IFDIR {
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: path).sorted() } catch {
                throw DataError.missingInput(path, "cannot list the folder; expected \(expected)")
            }
            let nameSet = Set(names)
            for name in names where !name.hasPrefix(".") {
                let full = path + "/" + name
                var l = stat()
                guard lstat(full, &l) == 0, (l.st_mode & S_IFMT) == S_IFREG else { continue }
                if fortunes && (name.hasSuffix(".dat") || !nameSet.contains(name + ".dat")) { continue }
                files.append(full)
            }
            guard !files.isEmpty else {
                throw DataError.missingInput(path, "the folder has no \(fortunes ? "fortune" : "regular") files; expected \(expected)")
            }
        } else {
            files = [path]
        }
        var bytes: [UInt8] = []
        for file in files {
            let f = try InputFile(path: file, expected: expected)
            guard f.sizeBytes <= maximumBytes - bytes.count else {
                throw DataError.badData(path, "more than \(maximumBytes >> 20) MiB of text; expected a smaller corpus")
            }
            bytes += try f.bytes(count: f.sizeBytes, at: 0)
        }
        guard !bytes.isEmpty else { throw DataError.badData(path, "is empty; expected text") }
        return TextCorpus(bytes: bytes, path: path, files: files)
    }

    /// The corpus as samples of `context` bytes for `objective` (all of it; `fit`'s validation
    /// split takes the last windows, which are the last bytes).
    /// - Throws: ``DataError`` (65) when the corpus is shorter than one window (`context + 1` bytes).
    public func windows(context: Int, objective: TextObjective, seed: UInt64 = 0) throws(DataError) -> TextWindows {
        precondition(context > 0, "context must be positive")
        guard bytes.count > context else {
            throw DataError.badData(path, "\(bytes.count) bytes is shorter than one window of the context length \(context) (\(context + 1) bytes); expected more text or a shorter --context")
        }
        return TextWindows(bytes: bytes, context: context, objective: objective, seed: seed)
    }
}

/// What a text model learns to predict (docs/transformer.md, "Objectives").
public enum TextObjective: String, Codable, Sendable, CaseIterable {
    /// The next byte at every position (a decoder, `gpt-mini`).
    case causal = "causal-lm"
    /// 15 % of the positions, hidden (BERT's masked language model, `bert-mini`).
    case masked = "masked-lm"
}

/// Non-overlapping windows of a byte sequence as labelled samples: window `i` starts at byte
/// `i * context`. A causal window's inputs are bytes `[s, s + T)` and its labels bytes
/// `[s + 1, s + T]`; a masked window's inputs are bytes `[s, s + T)` with 15 % of the positions
/// chosen, of which 80 % become the mask id 256, 10 % a random byte and 10 % stay, and its
/// labels are the original bytes at the chosen positions and -1 (no target) elsewhere. The
/// choice is a fixed function of the seed, the window and the position (static masking:
/// every epoch and every process sees the same masks).
public struct TextWindows: LabeledBatchSource, Sendable {
    /// The mask token's input id (one past the bytes).
    public static let maskID = 256
    /// BERT's fractions: chosen positions, and of those the masked and the randomised.
    public static let maskedFraction = 0.15
    public static let maskTokenFraction = 0.8
    public static let randomTokenFraction = 0.1

    public let bytes: [UInt8]
    public let context: Int
    public let objective: TextObjective
    public let seed: UInt64
    /// The windows this source holds (all by default; `prefix` keeps the first ones).
    public let windows: Range<Int>

    public init(bytes: [UInt8], context: Int, objective: TextObjective, seed: UInt64 = 0, windows: Range<Int>? = nil) {
        precondition(context > 0 && bytes.count > context, "a window needs context + 1 bytes")
        self.bytes = bytes
        self.context = context
        self.objective = objective
        self.seed = seed
        let all = (bytes.count - 1) / context
        self.windows = windows ?? 0..<all
        precondition(self.windows.lowerBound >= 0 && self.windows.upperBound <= all, "windows outside the text")
    }

    public var count: Int { windows.count }
    public var sampleShape: [Int] { [context] }
    public var classCount: Int { 256 }
    public var labelsPerSample: Int { context }
    /// Only a masked window has positions without a target.
    public var mayIgnoreLabels: Bool { objective == .masked }
    /// Input ids the model's embedding must hold: the bytes, and the mask id for a masked model.
    public var inputVocabulary: Int { objective == .masked ? 257 : 256 }
    /// Tokens one window trains on: every position (causal) or the chosen ones (masked, on average).
    public var bytesPerSample: Int { context }

    /// The first `n` windows (`--limit`).
    public func prefix(_ n: Int) -> TextWindows {
        TextWindows(bytes: bytes, context: context, objective: objective, seed: seed,
                    windows: windows.lowerBound..<(windows.lowerBound + max(0, min(n, count))))
    }

    /// The windows `range` of this source (indices relative to it).
    public func slice(_ range: Range<Int>) -> TextWindows {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice \(range) outside 0..<\(count)")
        return TextWindows(bytes: bytes, context: context, objective: objective, seed: seed,
                           windows: (windows.lowerBound + range.lowerBound)..<(windows.lowerBound + range.upperBound))
    }

    public func fillBatch(indices: UnsafeBufferPointer<Int>, inputs: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        let t = context
        bytes.withUnsafeBufferPointer { b in
            for (row, index) in indices.enumerated() {
                precondition(index >= 0 && index < count, "window \(index) outside 0..<\(count)")
                let w = windows.lowerBound + index
                let start = w * t
                let x = inputs + row * t, y = labels + row * t
                switch objective {
                case .causal:
                    for p in 0..<t {
                        x[p] = Float(b[start + p])
                        y[p] = Int32(b[start + p + 1])
                    }
                case .masked:
                    for p in 0..<t {
                        let byte = b[start + p]
                        let (chosen, replacement) = Self.maskDecision(seed: seed, window: w, position: p)
                        if chosen {
                            y[p] = Int32(byte)
                            x[p] = Float(replacement ?? Int(byte))
                        } else {
                            y[p] = -1
                            x[p] = Float(byte)
                        }
                    }
                }
            }
        }
    }

    /// Whether position `position` of window `window` is chosen, and what its input becomes
    /// (nil: it keeps its byte): a hash of (seed, window, position), so any process and any
    /// epoch agree without sharing a generator.
    static func maskDecision(seed: UInt64, window: Int, position: Int) -> (chosen: Bool, replacement: Int?) {
        var g = SplitMix(seed: seed ^ (UInt64(truncatingIfNeeded: window) &* 0x9E37_79B9_7F4A_7C15)
                                   ^ (UInt64(truncatingIfNeeded: position) &* 0xC2B2_AE3D_27D4_EB4F))
        func next() -> UInt64 { g.next() }
        func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
        guard uniform() < maskedFraction else { return (false, nil) }
        let r = uniform()
        if r < maskTokenFraction { return (true, maskID) }
        if r < maskTokenFraction + randomTokenFraction { return (true, Int(next() & 0xFF)) }
        return (true, nil)
    }
}
