#if canImport(Glibc)
import Glibc
#endif

/// Images with one integer label each, pixels kept as bytes and scaled to floats per batch.
///
/// `images` is (count, height, width, channels), NHWC, row-major; `labels` is (count).
public struct LabeledImages: Sendable {
    public let images: [UInt8]
    public let labels: [Int32]
    public let count: Int
    public let height: Int
    public let width: Int
    public let channels: Int
    /// Number of classes: one more than the largest label of the data this set was loaded with.
    /// A ``prefix(_:)`` or split keeps its parent's value, so a model sized from it fits every part.
    public let classCount: Int

    /// Bytes (and floats) per sample: height x width x channels.
    public var sampleSize: Int { height * width * channels }

    /// `classCount` defaults to the largest label + 1; the images and labels must agree in count
    /// and labels must lie in `0..<classCount` (checked: this is the caller's data, not a file's).
    public init(images: [UInt8], labels: [Int32], height: Int, width: Int, channels: Int, classCount: Int? = nil) {
        precondition(height > 0 && width > 0 && channels > 0, "image dimensions must be positive")
        precondition(images.count == labels.count * height * width * channels,
                     "\(images.count) image bytes for \(labels.count) samples of \(height)x\(width)x\(channels)")
        let largest = labels.max() ?? -1
        precondition(labels.min() ?? 0 >= 0, "labels must be >= 0")
        let classes = classCount ?? Int(largest) + 1
        precondition(Int(largest) < classes, "label \(largest) is beyond classCount \(classes)")
        self.images = images
        self.labels = labels
        self.count = labels.count
        self.height = height
        self.width = width
        self.channels = channels
        self.classCount = classes
    }

    /// The first `n` samples (all of them when `n >= count`): `--limit`.
    public func prefix(_ n: Int) -> LabeledImages {
        slice(0..<max(0, min(n, count)))
    }

    /// Samples `range`, keeping `classCount`.
    public func slice(_ range: Range<Int>) -> LabeledImages {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice \(range) outside 0..<\(count)")
        return LabeledImages(
            images: Array(images[(range.lowerBound * sampleSize)..<(range.upperBound * sampleSize)]),
            labels: Array(labels[range]),
            height: height, width: width, channels: channels, classCount: classCount)
    }

    /// Keras's `validation_split`: the LAST `fraction` of the samples, taken before any shuffling,
    /// becomes the validation set. Like Keras 3 (`train_validation_split`), the training part is
    /// `floor(count * (1 - fraction))` samples: 54,000 / 6,000 for 60,000 at 0.1.
    ///
    /// A fraction of 0 gives an empty validation set. A fraction outside [0, 1), or one that
    /// leaves either part empty, is an error naming the `--validation-split` option (exit 64).
    public func splitValidation(fraction: Double) throws(DataError) -> (train: LabeledImages, validation: LabeledImages) {
        guard fraction.isFinite, fraction >= 0, fraction < 1 else {
            throw DataError(path: "--validation-split", message: "\(fraction) is outside [0, 1); expected a fraction such as 0.1", exitCode: DataError.usageExitCode)
        }
        if fraction == 0 { return (self, slice(count..<count)) }
        let splitAt = Int((Double(count) * (1.0 - fraction)).rounded(.down))
        guard splitAt > 0, splitAt < count else {
            throw DataError(path: "--validation-split",
                            message: "\(fraction) of \(count) samples leaves \(splitAt == 0 ? "no training" : "no validation") data; expected a split that leaves samples on both sides",
                            exitCode: DataError.usageExitCode)
        }
        return (slice(0..<splitAt), slice(splitAt..<count))
    }

    /// Writes the samples at `indices` as floats in [0, 1] and their labels: the training step's
    /// batch. No allocation.
    ///
    /// `images` must hold `indices.count * sampleSize` floats (B, H, W, C); `labels` `indices.count`.
    /// Pixels are `Float(x) / 255`, which equals Keras's `x / 255.0` rounded to float32 for every byte
    /// (multiplying by a rounded 1/255 does not: it is off by one ulp for many of them).
    public func fillBatch(indices: UnsafeBufferPointer<Int>, images output: UnsafeMutablePointer<Float>, labels labelOutput: UnsafeMutablePointer<Int32>) {
        let size = sampleSize
        let total = count
        images.withUnsafeBufferPointer { pixels in
            labels.withUnsafeBufferPointer { sourceLabels in
                guard let pixelBase = pixels.baseAddress, let labelBase = sourceLabels.baseAddress else { return }
                for (row, index) in indices.enumerated() {
                    precondition(index >= 0 && index < total, "sample index \(index) outside 0..<\(total)")
                    Self.scale(pixelBase + index * size, into: output + row * size, count: size)
                    labelOutput[row] = labelBase[index]
                }
            }
        }
    }

    /// Writes samples `range` contiguously: the evaluation batch. No allocation.
    ///
    /// `images` must hold `range.count * sampleSize` floats; `labels` `range.count`.
    public func fillBatch(range: Range<Int>, images output: UnsafeMutablePointer<Float>, labels labelOutput: UnsafeMutablePointer<Int32>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range \(range) outside 0..<\(count)")
        let size = sampleSize
        images.withUnsafeBufferPointer { pixels in
            labels.withUnsafeBufferPointer { sourceLabels in
                guard let pixelBase = pixels.baseAddress, let labelBase = sourceLabels.baseAddress else { return }
                Self.scale(pixelBase + range.lowerBound * size, into: output, count: range.count * size)
                (labelOutput).update(from: labelBase + range.lowerBound, count: range.count)
            }
        }
    }

    /// `output[i] = Float(input[i]) / 255` for i in 0..<count; a plain loop the compiler vectorises.
    @inline(__always)
    static func scale(_ input: UnsafePointer<UInt8>, into output: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            output[i] = Float(input[i]) / 255
        }
    }
}

/// A training set and a test set of labelled images, from a folder of the four standard IDX files.
public struct Dataset: Sendable {
    /// Fashion-MNIST as Debian's `dataset-fashion-mnist` installs it.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    /// The name that stands for ``defaultDirectory`` (`--dataset fashion-mnist`).
    public static let defaultName = "fashion-mnist"
    /// The standard MNIST-family file names, without the optional `.gz`.
    public static let trainImagesName = "train-images-idx3-ubyte"
    public static let trainLabelsName = "train-labels-idx1-ubyte"
    public static let testImagesName = "t10k-images-idx3-ubyte"
    public static let testLabelsName = "t10k-labels-idx1-ubyte"

    public let train: LabeledImages
    public let test: LabeledImages

    public init(train: LabeledImages, test: LabeledImages) {
        self.train = train
        self.test = test
    }

    /// The folder a `--dataset` value names: ``defaultName`` is ``defaultDirectory``, anything else a
    /// path (write `./fashion-mnist` for a local folder of that name).
    public static func directory(for nameOrPath: String) -> String {
        nameOrPath == defaultName ? defaultDirectory : nameOrPath
    }

    /// Reads the four standard files from `directory` (or the ``defaultName`` alias), each
    /// `NAME.gz` if present, else `NAME`. Images are rank 3 (N, H, W; one channel) or rank 4
    /// (N, H, W, C); labels rank 1. Classes come from the training labels.
    ///
    /// - Parameter nameOrPath: `fashion-mnist` (``defaultName``) or a folder.
    /// - Returns: the training and test splits.
    /// - Throws: ``DataError``: a missing folder or file (66), a corrupt file, counts that
    ///   disagree, test images of another size or test labels beyond the training classes (65),
    ///   a failed read (74).
    public static func load(directory nameOrPath: String = defaultDirectory) throws(DataError) -> Dataset {
        let directory = Self.directory(for: nameOrPath)
        let trainImagesPath = try find(trainImagesName, in: directory)
        let trainLabelsPath = try find(trainLabelsName, in: directory)
        let testImagesPath = try find(testImagesName, in: directory)
        let testLabelsPath = try find(testLabelsName, in: directory)
        let train = try labeledImages(imagesPath: trainImagesPath, labelsPath: trainLabelsPath, classCount: nil)
        let test = try labeledImages(imagesPath: testImagesPath, labelsPath: testLabelsPath,
                                     classCount: (train.classCount, trainLabelsPath))
        if (test.height, test.width, test.channels) != (train.height, train.width, train.channels) {
            throw DataError.badData(testImagesPath, "images are \(test.height)x\(test.width)x\(test.channels); expected \(train.height)x\(train.width)x\(train.channels) like \(trainImagesPath)")
        }
        return Dataset(train: train, test: test)
    }

    /// The test split alone (`t10k-*`), for evaluation: a folder needs no training files, and
    /// nothing is decompressed that evaluation does not read. Labels are checked for being
    /// non-negative only; the model's output count bounds them at evaluation.
    /// - Parameter nameOrPath: `fashion-mnist` (``defaultName``) or a folder.
    /// - Returns: the test split.
    /// - Throws: ``DataError`` as ``load(directory:)`` does.
    public static func loadTest(directory nameOrPath: String = defaultDirectory) throws(DataError) -> LabeledImages {
        let directory = Self.directory(for: nameOrPath)
        let testImagesPath = try find(testImagesName, in: directory)
        let testLabelsPath = try find(testLabelsName, in: directory)
        return try labeledImages(imagesPath: testImagesPath, labelsPath: testLabelsPath, classCount: nil)
    }

    private static var standardNames: String {
        [trainImagesName, trainLabelsName, testImagesName, testLabelsName].map { $0 + "[.gz]" }.joined(separator: ", ")
    }

    /// `directory/name.gz` if it exists, else `directory/name`; missing both is exit 66.
    private static func find(_ name: String, in directory: String) throws(DataError) -> String {
        var info = stat()
        guard stat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw DataError.missingInput(directory, "no such dataset folder; expected a folder holding \(standardNames) (or --dataset \(defaultName))")
        }
        let base = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        for candidate in [base + ".gz", base] where stat(candidate, &info) == 0 {
            return candidate
        }
        throw DataError.missingInput(base + "[.gz]", "missing; expected \(name).gz or \(name) in \(directory) (the four standard names: \(standardNames))")
    }

    /// One images/labels pair. `classCount`, when given, bounds the labels (the test set uses the
    /// training set's classes; the path names the file they came from).
    private static func labeledImages(imagesPath: String, labelsPath: String, classCount: (Int, String)?) throws(DataError) -> LabeledImages {
        let images = try IDX.read(path: imagesPath)
        let labels = try IDX.read(path: labelsPath)
        let dims = images.dimensions
        guard dims.count == 3 || dims.count == 4 else {
            throw DataError.badData(imagesPath, "images of rank \(dims.count); expected rank 3 (N, H, W) or 4 (N, H, W, C)")
        }
        guard labels.dimensions.count == 1 else {
            throw DataError.badData(labelsPath, "labels of rank \(labels.dimensions.count); expected rank 1 (N)")
        }
        guard dims[0] == labels.dimensions[0] else {
            throw DataError.badData(imagesPath, "holds \(dims[0]) images but \(labelsPath) holds \(labels.dimensions[0]) labels; expected equal counts")
        }
        let labelValues = labels.bytes.map { Int32($0) }
        let largest = Int(labelValues.max() ?? 0)
        if let (classes, source) = classCount, largest >= classes {
            let index = labelValues.firstIndex(of: Int32(largest)) ?? 0
            throw DataError.badData(labelsPath, "label \(largest) at index \(index) is beyond the \(classes) classes of \(source); expected labels 0 to \(classes - 1)")
        }
        return LabeledImages(images: images.bytes, labels: labelValues,
                             height: dims[1], width: dims[2], channels: dims.count == 4 ? dims[3] : 1,
                             classCount: classCount?.0)
    }
}
