import Foundation
import Testing
@testable import Models

@Suite struct DatasetTests {
    let directory = TemporaryDirectory()

    /// Writes a dataset of `trainCount` + `testCount` images of `height` x `width`, pixel bytes
    /// numbered from 0 and labels `i % classes`.
    func writeDataset(trainCount: Int = 10, testCount: Int = 5, height: Int = 4, width: Int = 3,
                      classes: Int = 3, gzip: Bool = true) throws {
        func images(_ count: Int) -> IDXArray {
            IDXArray(dimensions: [count, height, width], bytes: (0..<(count * height * width)).map { UInt8($0 % 256) })
        }
        func labels(_ count: Int) -> IDXArray {
            IDXArray(dimensions: [count], bytes: (0..<count).map { UInt8($0 % classes) })
        }
        let suffix = gzip ? ".gz" : ""
        try IDX.write(images(trainCount), to: directory.file(Dataset.trainImagesName + suffix), gzip: gzip)
        try IDX.write(labels(trainCount), to: directory.file(Dataset.trainLabelsName + suffix), gzip: gzip)
        try IDX.write(images(testCount), to: directory.file(Dataset.testImagesName + suffix), gzip: gzip)
        try IDX.write(labels(testCount), to: directory.file(Dataset.testLabelsName + suffix), gzip: gzip)
    }

    @Test(arguments: [false, true]) func loadsFourStandardFiles(gzip: Bool) throws {
        try writeDataset(gzip: gzip)
        let data = try Dataset.load(directory: directory.path)
        #expect(data.train.count == 10 && data.test.count == 5)
        #expect((data.train.height, data.train.width, data.train.channels) == (4, 3, 1))
        #expect(data.train.classCount == 3 && data.test.classCount == 3)
        #expect(data.train.labels == (0..<10).map { Int32($0 % 3) })
        #expect(data.train.images == (0..<120).map { UInt8($0) })
    }

    @Test func rankFourImagesKeepTheirChannels() throws {
        try writeDataset()
        let rgb = IDXArray(dimensions: [10, 2, 2, 3], bytes: [UInt8](repeating: 9, count: 120))
        try IDX.write(rgb, to: directory.file(Dataset.trainImagesName + ".gz"), gzip: true)
        try IDX.write(IDXArray(dimensions: [5, 2, 2, 3], bytes: [UInt8](repeating: 1, count: 60)),
                      to: directory.file(Dataset.testImagesName + ".gz"), gzip: true)
        let data = try Dataset.load(directory: directory.path)
        #expect((data.train.height, data.train.width, data.train.channels, data.train.sampleSize) == (2, 2, 3, 12))
    }

    @Test func prefersGzipWhenBothExist() throws {
        try writeDataset(gzip: true)
        try IDX.write(IDXArray(dimensions: [10], bytes: [UInt8](repeating: 7, count: 10)),
                      to: directory.file(Dataset.trainLabelsName), gzip: false)
        #expect(try Dataset.load(directory: directory.path).train.classCount == 3)
    }

    @Test func imageAndLabelCountsMustMatch() throws {
        try writeDataset()
        let labels = directory.file(Dataset.trainLabelsName + ".gz")
        try IDX.write(IDXArray(dimensions: [9], bytes: [UInt8](repeating: 0, count: 9)), to: labels, gzip: true)
        let error = dataError { _ = try Dataset.load(directory: directory.path) }
        #expect(error?.exitCode == 65)
        #expect(error?.path == directory.file(Dataset.trainImagesName + ".gz"))
        #expect(error?.message.contains(labels) == true)
        #expect(error?.message.contains("10 images") == true && error?.message.contains("9 labels") == true)
    }

    @Test func testLabelsBeyondTrainingClasses() throws {
        try writeDataset()
        let testLabels = directory.file(Dataset.testLabelsName + ".gz")
        try IDX.write(IDXArray(dimensions: [5], bytes: [0, 1, 2, 5, 1]), to: testLabels, gzip: true)
        let error = dataError { _ = try Dataset.load(directory: directory.path) }
        #expect(error?.exitCode == 65)
        #expect(error?.path == testLabels)
        #expect(error?.message.contains("label 5 at index 3") == true)
        #expect(error?.message.contains("3 classes") == true)
    }

    @Test func testImagesMustMatchTrainingSize() throws {
        try writeDataset()
        try IDX.write(IDXArray(dimensions: [5, 3, 3], bytes: [UInt8](repeating: 0, count: 45)),
                      to: directory.file(Dataset.testImagesName + ".gz"), gzip: true)
        let error = dataError { _ = try Dataset.load(directory: directory.path) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("expected 4x3x1") == true)
    }

    @Test func imagesMustBeRankThreeOrFour() throws {
        try writeDataset()
        try IDX.write(IDXArray(dimensions: [10, 12], bytes: [UInt8](repeating: 0, count: 120)),
                      to: directory.file(Dataset.trainImagesName + ".gz"), gzip: true)
        let error = dataError { _ = try Dataset.load(directory: directory.path) }
        #expect(error?.exitCode == 65)
        #expect(error?.message.contains("rank 2") == true)
    }

    @Test func missingFileIsExit66NamingTheExpectedNames() throws {
        try writeDataset()
        try FileManager.default.removeItem(atPath: directory.file(Dataset.testLabelsName + ".gz"))
        let error = dataError { _ = try Dataset.load(directory: directory.path) }
        #expect(error?.exitCode == 66)
        #expect(error?.path == directory.file(Dataset.testLabelsName) + "[.gz]")
        #expect(error?.message.contains("t10k-labels-idx1-ubyte.gz or t10k-labels-idx1-ubyte") == true)
        #expect(error?.message.contains("train-images-idx3-ubyte[.gz]") == true)

        let folder = dataError { _ = try Dataset.load(directory: directory.file("absent")) }
        #expect(folder?.exitCode == 66)
        #expect(folder?.path == directory.file("absent"))
    }

    @Test func corruptFileIsExit65() throws {
        try writeDataset()
        try directory.write(Dataset.trainImagesName + ".gz", bytes: [0x1F, 0x8B, 1, 2, 3])
        let error = dataError { _ = try Dataset.load(directory: directory.path) }
        #expect(error?.exitCode == 65)
        #expect(error?.path == directory.file(Dataset.trainImagesName + ".gz"))
    }

    @Test func nameAliasesTheDefaultFolder() {
        #expect(Dataset.directory(for: "fashion-mnist") == "/usr/share/datasets/fashion-mnist")
        #expect(Dataset.directory(for: "./fashion-mnist") == "./fashion-mnist")
    }

    /// One 1x1x1 image per sample whose pixel and label are its index, so a split can be read back.
    func numbered(_ count: Int) -> LabeledImages {
        LabeledImages(images: (0..<count).map { UInt8($0 % 256) }, labels: (0..<count).map { Int32($0 % 10) },
                      height: 1, width: 1, channels: 1)
    }

    @Test func validationSplitTakesTheLastFraction() throws {
        let (train, validation) = try numbered(60_000).splitValidation(fraction: 0.1)
        #expect(train.count == 54_000 && validation.count == 6_000)
        #expect(train.labels.first == 0 && validation.labels.first == Int32(54_000 % 10))
        #expect(validation.images.first == UInt8(54_000 % 256) && validation.images.last == UInt8(59_999 % 256))
        #expect(validation.classCount == 10)
    }

    /// Keras 3 floors the training size: 10 samples at 0.33 train on floor(6.7) = 6, not round = 7.
    @Test(arguments: [(10, 0.33, 6), (100, 0.25, 75), (5, 0.1, 4), (7, 0.0, 7)])
    func validationSplitFloorsLikeKeras(count: Int, fraction: Double, trainCount: Int) throws {
        let (train, validation) = try numbered(count).splitValidation(fraction: fraction)
        #expect(train.count == trainCount && validation.count == count - trainCount)
    }

    @Test(arguments: [1.0, -0.1, Double.nan, 0.5]) func impossibleSplitsAreUsageErrors(fraction: Double) {
        let error = dataError { _ = try numbered(fraction == 0.5 ? 1 : 100).splitValidation(fraction: fraction) }
        #expect(error?.exitCode == 64)
        #expect(error?.path == "--validation-split")
    }

    @Test func prefixTakesTheFirstSamples() {
        let data = numbered(100)
        #expect(data.prefix(30).labels == data.labels.prefix(30).map { $0 })
        #expect(data.prefix(30).images == Array(data.images.prefix(30)))
        #expect(data.prefix(500).count == 100 && data.prefix(-1).count == 0)
        #expect(data.prefix(3).classCount == 10)
    }

    @Test func fillBatchScalesEveryByteExactly() {
        let data = LabeledImages(images: (0..<256).map { UInt8($0) } + [UInt8](repeating: 255, count: 256),
                                 labels: [4, 7], height: 16, width: 16, channels: 1)
        var images = [Float](repeating: -1, count: 512)
        var labels = [Int32](repeating: -1, count: 2)
        [1, 0].withUnsafeBufferPointer { data.fillBatch(indices: $0, images: &images, labels: &labels) }
        #expect(labels == [7, 4])
        #expect(images[0..<256].allSatisfy { $0 == 1 })
        // Keras divides float64 by 255 and casts to float32.
        #expect(Array(images[256...]) == (0..<256).map { Float(Double($0) / 255.0) })
    }

    @Test func fillBatchRangeCopiesContiguousSamples() {
        let data = numbered(50)
        var images = [Float](repeating: -1, count: 5)
        var labels = [Int32](repeating: -1, count: 5)
        data.fillBatch(range: 12..<17, images: &images, labels: &labels)
        #expect(images == (12..<17).map { Float($0) / 255 })
        #expect(labels == [2, 3, 4, 5, 6])
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: Dataset.defaultDirectory),
                   "Fashion-MNIST is not installed at /usr/share/datasets/fashion-mnist (apt install dataset-fashion-mnist)"))
    func realFashionMNIST() throws {
        let data = try Dataset.load(directory: Dataset.defaultName)
        #expect(data.train.count == 60_000 && data.test.count == 10_000)
        #expect((data.train.height, data.train.width, data.train.channels) == (28, 28, 1))
        #expect(data.train.classCount == 10 && data.test.classCount == 10)
        #expect(data.train.images.count == 60_000 * 784)
        // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
        var perClass = [Int](repeating: 0, count: 10)
        for label in data.train.labels { perClass[Int(label)] += 1 }
        #expect(perClass == [Int](repeating: 6_000, count: 10))
        let (train, validation) = try data.train.splitValidation(fraction: 0.1)
        #expect(train.count == 54_000 && validation.count == 6_000)
    }
}
