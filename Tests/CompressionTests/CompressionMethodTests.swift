import Compression
import Foundation
import Models
import Testing
import Tensor
import TestSupport

/// A small CNN on deterministic data: Conv2D relu, pool, flatten, Dense relu, Dense softmax.
func smallCNN(seed: UInt64 = 1) throws -> Model {
    try Sequential(inputShape: [8, 8, 1], layers: [
        Conv2D(filters: 4, kernelSize: 3, activation: .relu), MaxPool2D(poolSize: 2), Flatten(),
        Dense(units: 16, activation: .relu), Dense(units: 3, activation: .softmax),
    ], seed: seed)
}

func smallData(count: Int = 96, seed: UInt64 = 2) -> ArrayBatchSource {
    var rng = Xoshiro256(seed: seed)
    var x: [Float] = [], y: [Int32] = []
    for _ in 0..<count {
        let c = Int32(rng.nextInt(below: 3))
        for p in 0..<64 { x.append(Float(((p / 8) + Int(c) * (p % 8)) % 5) / 4 * 0.8 + rng.nextUnitFloat() * 0.2) }
        y.append(c)
    }
    return ArrayBatchSource(inputs: x, labels: y, sampleShape: [8, 8, 1], classCount: 3)
}

@Suite struct PruningTests {
    /// TF MOT's PolynomialDecay: sparsity = final + (initial - final) * (1 - p)^power.
    @Test func scheduleFollowsTheTFMOTFormula() {
        let s = PolynomialDecay(initialSparsity: 0.1, finalSparsity: 0.8, beginStep: 100, endStep: 1100, power: 3, frequency: 100)
        func tfmot(_ step: Int) -> Double {
            let p = min(1, max(0, Double(step - 100) / 1000))
            return 0.8 + (0.1 - 0.8) * pow(1 - p, 3)
        }
        for step in [0, 100, 350, 600, 1099, 1100, 5000] { #expect(abs(s.sparsity(at: step) - tfmot(step)) < 1e-12) }
        #expect(abs(s.sparsity(at: 600) - (0.8 - 0.7 * 0.125)) < 1e-12)   // halfway: (1/2)^3
        #expect(abs(s.sparsity(at: 100) - 0.1) < 1e-12 && s.sparsity(at: 1100) == 0.8)
        #expect(s.prunes(at: 100) && s.prunes(at: 200) && s.prunes(at: 1100))
        #expect(!s.prunes(at: 0) && !s.prunes(at: 150) && !s.prunes(at: 1200))
    }

    @Test func masksStayFixedThroughFineTuning() throws {
        let model = try smallCNN()
        let before = model.flatParameters
        // Pruned to 0.6 at step 0, then 8 more steps that only re-apply the masks.
        let pruner = try MagnitudePruner(model: model, schedule: PolynomialDecay(finalSparsity: 0.6, endStep: 0))
        _ = model.fit(smallData(), epochs: 3, batchSize: 32, seed: 1, observer: pruner)
        #expect(pruner.step == 9)
        for t in pruner.targets {
            let zeros = t.mask.filter { $0 == 0 }.count
            #expect(zeros == Int(Double(t.parameter.count) * 0.6))
            for i in 0..<t.parameter.count where t.mask[i] == 0 { #expect(t.parameter.pointer[i] == 0) }
        }
        // The kept weights trained; biases were not pruned.
        #expect(model.flatParameters != before)
        let biases = model.namedParameters.filter { $0.name.hasSuffix("bias") }
        #expect(biases.contains { $0.values.contains { $0 != 0 } })
    }

    @Test func refusesASparsityOutsideTheOpenInterval() throws {
        let model = try smallCNN()
        for s in [0.0, 1.0, 1.5] {
            #expect(throws: CompressionError.self) { try MagnitudePruner(model: model, schedule: PolynomialDecay(finalSparsity: s, endStep: 10)) }
        }
    }
}

@Suite struct LowRankTests {
    @Test func fullRankFactorsReconstructTheMatrix() throws {
        let (m, n) = (7, 5)
        let w = (0..<(m * n)).map { Float(sin(Double($0) * 0.77)) }
        let (u, v) = try LowRank.factors(of: w, m: m, n: n, rank: 5)
        for i in 0..<m {
            for j in 0..<n {
                let r = (0..<5).reduce(Float(0)) { $0 + u[i * 5 + $1] * v[$1 * n + j] }
                #expect(abs(r - w[i * n + j]) < 1e-5)
            }
        }
        #expect(throws: CompressionError.self) { try LowRank.factors(of: w, m: m, n: n, rank: 6) }
    }

    @Test func factorisesOnlyTheLayersItShrinks() throws {
        let model = try smallCNN()
        let (out, names) = try LowRank.factorize(model, rank: 3)
        #expect(names == ["dense"])   // 36x16 shrinks at rank 3; 16x3 would not (3 (16 + 3) >= 48)
        #expect(out.layers.contains { $0 is LowRankDense })
        #expect(out.parameterCount < model.parameterCount)
        // The factored product approximates the kernel's best rank-2 approximation: the
        // untouched layers are copied exactly.
        let conv = model.namedParameters.first { $0.name == "conv2d/kernel" }!.values
        #expect(out.namedParameters.first { $0.name == "conv2d/kernel" }!.values == conv)
    }

    @Test func badRanksAndModelsWithoutDenseAreOneLineErrors() throws {
        let model = try smallCNN()
        #expect(throws: CompressionError.self) { try LowRank.factorize(model, rank: 17) }
        let noDense = try Sequential(inputShape: [8, 8, 1], layers: [Conv2D(filters: 2, kernelSize: 3), Flatten()])
        do {
            _ = try LowRank.factorize(noDense, rank: 2)
            Issue.record("expected an error")
        } catch let e as CompressionError {
            #expect(e.message.contains("no Dense layer") && !e.message.contains("\n"))
        }
    }
}

@Suite struct QuantizationTests {
    @Test func int8ModelTracksTheFloatModel() throws {
        let model = try smallCNN()
        let data = smallData()
        _ = model.fit(data, epochs: 5, batchSize: 16, seed: 1)
        let q = try Quantization.quantize(model, calibration: data, range: 0..<64, keepFloat: { _ in false })
        #expect(q.layers.contains { $0 is QuantizedConv2D } && q.layers.contains { $0 is QuantizedDense })
        // By default the first convolution (patches of 9 values) stays float.
        let byDefault = try Quantization.quantize(model, calibration: data, range: 0..<64)
        #expect(byDefault.layers[0] is Conv2D && byDefault.layers.filter { $0 is QuantizedDense }.count == 2)
        let pf = model.predict(data, batchSize: 32), pq = q.predict(data, batchSize: 32)
        let diff = zip(pf.scalars, pq.scalars).map { abs($0 - $1) }.max()!
        #expect(diff < 0.05, "largest probability difference \(diff)")
        let agree = zip(model.predictClasses(data), q.predictClasses(data)).filter { $0 == $1 }.count
        #expect(agree >= 90)
    }

    /// The quantised Dense against its formula computed with plain loops.
    @Test func quantizedDenseMatchesItsFormula() throws {
        let m = try Sequential(inputShape: [5], layers: [QuantizedDense(units: 3, activation: .relu)])
        let p = Dictionary(uniqueKeysWithValues: m.namedParameters.map { ($0.name, $0) })
        let kq: [Float] = [3, -127, 5, 60, 0, -1, 127, 2, -7, -50, 9, 11, 1, 1, -100]
        let scales: [Float] = [0.01, 0.02, 0.005], bias: [Float] = [0.1, -0.2, 0.05]
        p["quantized_dense/kernel"]!.pointer.update(from: kq, count: 15)
        p["quantized_dense/kernel_scale"]!.pointer.update(from: scales, count: 3)
        p["quantized_dense/bias"]!.pointer.update(from: bias, count: 3)
        p["quantized_dense/input_scale"]!.pointer.pointee = 0.02
        p["quantized_dense/input_zero_point"]!.pointer.pointee = 50
        (m.layers[0] as! QuantizedDense).parametersChanged()
        let x: [Float] = [0.3, -0.7, 1.2, 0.0, 4.0, -1.0, 0.01, 0.5, 2.0, -0.33]
        let out = m.predict(ArrayBatchSource(inputs: x, labels: [0, 0], sampleShape: [5], classCount: 3), batchSize: 2)
        for b in 0..<2 {
            for j in 0..<3 {
                var acc = 0
                for i in 0..<5 {
                    // The kernel's rounding: x times the inverse scale, to nearest even.
                    let q = Int(max(0, min(255, (x[b * 5 + i] * (1 / Float(0.02))).rounded(.toNearestOrEven) + 50)))
                    acc += (q - 50) * Int(kq[i * 3 + j])
                }
                let y = max(0, Float(0.02) * scales[j] * Float(acc) + bias[j])
                #expect(abs(out[b, j] - y) < 1e-6, "row \(b) unit \(j)")
            }
        }
    }

    @Test func checkpointStoresInt8TensorsAndRoundTrips() throws {
        let model = try smallCNN()
        let data = smallData()
        let q = try Quantization.quantize(model, calibration: data, range: 0..<32, keepFloat: { _ in false })
        let dir = TemporaryDirectory()
        let qPath = dir.file("q.safetensors"), fPath = dir.file("f.safetensors")
        try ModelCheckpoint.save(q, to: qPath, includeOptimizer: false)
        try ModelCheckpoint.save(model, to: fPath, includeOptimizer: false)
        let (tensors, _) = try Safetensors.read(path: qPath)
        let kernels = tensors.filter { $0.name.hasSuffix("/kernel") }
        #expect(kernels.count == 3 && kernels.allSatisfy { $0.dtype == .i8 })
        #expect(tensors.filter { $0.name.hasSuffix("kernel_scale") }.allSatisfy { $0.dtype == .f32 })
        let loaded = try ModelCheckpoint.load(path: qPath).model
        #expect(loaded.flatParameters == q.flatParameters)
        #expect(loaded.predict(data, batchSize: 32).scalars == q.predict(data, batchSize: 32).scalars)
        let qSize = try FileManager.default.attributesOfItem(atPath: qPath)[.size] as! Int
        let fSize = try FileManager.default.attributesOfItem(atPath: fPath)[.size] as! Int
        // One byte per kernel weight instead of four (the scales and the header add a little).
        #expect(qSize < fSize)
    }

    @Test func int8SafetensorsRoundTrip() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t.safetensors")
        let i8 = SafetensorsTensor(name: "w", shape: [2, 3], values: [-128, -1, 0, 1, 64, 127], dtype: .i8)
        let f32 = SafetensorsTensor(name: "s", shape: [3], values: [0.5, 0.25, 1e-3])
        try Safetensors.write(tensors: [i8, f32], metadata: ["k": "v"], to: path)
        let (read, metadata) = try Safetensors.read(path: path)
        #expect(metadata["k"] == "v")
        #expect(read.map(\.name) == ["w", "s"] && read[0].dtype == .i8 && read[1].dtype == .f32)
        #expect(read[0].values == i8.values && read[1].values == f32.values && read[0].shape == [2, 3])
        let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let header = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)).prefix(8))
        let headerLength = header.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(bytes == 8 + headerLength + 6 + 12)
        #expect(throws: DataError.self) {
            try Safetensors.write(tensors: [SafetensorsTensor(name: "bad", shape: [1], values: [0.5], dtype: .i8)], metadata: [:], to: path)
        }
    }
}

@Suite struct SparseCheckTests {
    /// The CSR product against a plain triple loop, on a matrix with empty rows and columns.
    @Test func csrProductMatchesDenseLoops() {
        let (b, k, n) = (3, 7, 5)
        var w = [Float](repeating: 0, count: k * n)
        for i in 0..<k where i != 2 { for j in 0..<n where (i * 3 + j) % 4 == 0 { w[i * n + j] = Float(i - j) * 0.5 + 0.25 } }
        let x = (0..<(b * k)).map { Float(($0 * 5) % 7) - 2 }
        let sparse = w.withUnsafeBufferPointer { SparseCheck.csr($0.baseAddress!, k: k, n: n) }
        #expect(sparse.rows.count == k + 1 && sparse.rows[3] == sparse.rows[2])   // row 2 is empty
        var y = [Float](repeating: 9, count: b * n)
        SparseCheck.csrMultiply(x, b: b, k: k, n: n, rows: sparse.rows, columns: sparse.columns, values: sparse.values, into: &y)
        for s in 0..<b {
            for j in 0..<n {
                let expected = (0..<k).reduce(Float(0)) { $0 + x[s * k + $1] * w[$1 * n + j] }
                #expect(abs(y[s * n + j] - expected) < 1e-5)
            }
        }
    }
}
