/// Labelled samples that `fit`, `evaluate` and `predict` read batch by batch.
///
/// Implementations keep their data compact (Fashion-MNIST as UInt8, 47 MB) and convert one
/// batch at a time into the model's Float32 input buffer, so nothing is allocated per batch.
public protocol LabeledBatchSource {
    var count: Int { get }
    /// Per-sample shape, `[height, width, channels]` for images.
    var sampleShape: [Int] { get }
    /// Number of classes (largest label + 1).
    var classCount: Int { get }
    /// Labels per sample: one per classified row of the model's output (1 for an image
    /// classifier, the context length for a language model; docs/transformer.md). A negative
    /// label is ignored by the loss and the metrics.
    var labelsPerSample: Int { get }
    /// Whether some labels may be negative (ignored). False lets a data-parallel `fit` know
    /// every process's counted rows without a sum over the group (docs/transformer.md).
    var mayIgnoreLabels: Bool { get }
    /// Writes the samples at `indices` into `inputs` (indices.count * sample size floats) and
    /// their labels into `labels` (indices.count * labelsPerSample).
    func fillBatch(indices: UnsafeBufferPointer<Int>, inputs: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>)
}

extension LabeledBatchSource {
    /// One label per sample.
    public var labelsPerSample: Int { 1 }
    /// Unless a source says otherwise, some labels may be ignored.
    public var mayIgnoreLabels: Bool { true }
}

/// A batch source over Float arrays, for small data made in code (tests, examples).
public struct ArrayBatchSource: LabeledBatchSource, Sendable {
    public let inputs: [Float]
    public let labels: [Int32]
    public let sampleShape: [Int]
    public let classCount: Int
    public let labelsPerSample: Int
    public let mayIgnoreLabels: Bool

    /// - Parameters:
    ///   - inputs: the samples, one after another.
    ///   - labels: `labelsPerSample` labels per sample (negative: ignored).
    ///   - sampleShape: the shape of one sample.
    ///   - classCount: the classes (nil: the largest label + 1).
    ///   - labelsPerSample: labels per sample (one per classified row of the output).
    public init(inputs: [Float], labels: [Int32], sampleShape: [Int], classCount: Int? = nil, labelsPerSample: Int = 1) {
        precondition(labelsPerSample > 0 && labels.count % labelsPerSample == 0, "labels are not a whole number of samples")
        precondition(inputs.count == labels.count / labelsPerSample * sampleShape.reduce(1, *), "inputs do not match labels x sample shape")
        self.inputs = inputs
        self.labels = labels
        self.sampleShape = sampleShape
        self.labelsPerSample = labelsPerSample
        mayIgnoreLabels = labels.contains { $0 < 0 }
        self.classCount = classCount ?? Int((labels.max() ?? 0) + 1)
    }

    public var count: Int { labels.count / labelsPerSample }

    public func fillBatch(indices: UnsafeBufferPointer<Int>, inputs out: UnsafeMutablePointer<Float>, labels outLabels: UnsafeMutablePointer<Int32>) {
        let n = sampleShape.reduce(1, *), k = labelsPerSample
        inputs.withUnsafeBufferPointer { src in
            labels.withUnsafeBufferPointer { l in
                for (row, i) in indices.enumerated() {
                    (out + row * n).update(from: src.baseAddress! + i * n, count: n)
                    (outLabels + row * k).update(from: l.baseAddress! + i * k, count: k)
                }
            }
        }
    }
}

extension LabeledImages: LabeledBatchSource {
    public var sampleShape: [Int] { [height, width, channels] }
    /// Image labels are bytes: never negative.
    public var mayIgnoreLabels: Bool { false }

    public func fillBatch(indices: UnsafeBufferPointer<Int>, inputs: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        fillBatch(indices: indices, images: inputs, labels: labels)
    }
}
