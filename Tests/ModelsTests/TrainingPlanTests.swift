import Foundation
import Testing
import Tensor
@testable import Models

/// Records what a training step hands a gradient hook, and can scale the gradients.
final class RecordingHook: GradientHook {
    var events: [String] = []
    var received: [(bucket: GradientBucket, values: [Float], firstLayerGradientIsNaN: Bool)] = []
    var scale: Float = 1
    let firstLayerGradient: UnsafeMutableBufferPointer<Float>?

    init(watching firstLayerGradient: UnsafeMutableBufferPointer<Float>? = nil) {
        self.firstLayerGradient = firstLayerGradient
    }

    func gradientsReady(_ bucket: GradientBucket) {
        events.append("ready \(bucket.index)")
        let stillNaN = firstLayerGradient.map { $0.allSatisfy(\.isNaN) } ?? false
        received.append((bucket, Array(bucket.gradients), stillNaN))
        for i in bucket.gradients.indices { bucket.gradients[i] *= scale }
    }

    func synchronize() { events.append("synchronize") }
}

@Suite struct TrainingPlanTests {
    func cnn(fuse: Bool = true) throws -> Model {
        let m = try ModelDescription.cnn.adapted(inputShape: [10, 10, 1], classes: 3).makeModel(seed: 4, fuseLayers: fuse)
        m.compile(optimizer: Adam())
        return m
    }

    @Test func referenceCNN_plansItsFusionsOnce() throws {
        let m = try cnn()
        #expect(m.plannedFusions == [
            "conv2d -> max_pooling2d: the ReLU mask applied in the pool's backward",
            "conv2d + max_pooling2d: one conv+ReLU+pool kernel",
            "dense_1: softmax with the sparse_categorical_crossentropy loss",
            "dense: adam update inside backward",
            "dense_1: adam update inside backward",
        ])
        #expect(try cnn(fuse: false).plannedFusions == [
            "conv2d -> max_pooling2d: the ReLU mask applied in the pool's backward",
            "dense_1: softmax with the sparse_categorical_crossentropy loss",
        ])
        m.compile(optimizer: SGD())
        #expect(!m.plannedFusions.contains { $0.contains("update inside backward") })
    }

    @Test func aHook_unplansTheUpdateInsideBackward_andRemovingItPlansItAgain() throws {
        let m = try cnn()
        m.gradientHook = RecordingHook()
        #expect(m.plan.fusedUpdate == nil)
        #expect(m.plannedFusions.contains("conv2d + max_pooling2d: one conv+ReLU+pool kernel"))
        m.gradientHook = nil
        #expect(m.plan.fusedUpdate?.layers.count == 2)
    }

    /// A ReLU convolution whose output two layers take keeps its own ReLU backward: its
    /// gradients equal those of a linear convolution followed by a separate ReLU layer
    /// (which declares no mask capability), where masking in the pool alone would leave the
    /// other path unmasked.
    @Test func aSharedReLUOutput_isNotMasked() throws {
        func json(_ convolution: String) -> String {
            #"""
            {"inputs": [{"name": "image", "shape": [8, 8, 1]}],
             "layers": [\#(convolution),
                        {"type": "MaxPooling2D", "name": "p"}, {"type": "Flatten", "name": "f1"},
                        {"type": "Flatten", "name": "f2", "inputs": ["c"]},
                        {"type": "Concatenate", "inputs": ["f1", "f2"]}, {"type": "Dense", "units": 3, "activation": "softmax"}]}
            """#
        }
        let fusedReLU = try ModelDescription.parse(Data(json(#"{"type": "Conv2D", "name": "c", "filters": 2, "kernel_size": 3, "activation": "relu"}"#).utf8)).makeModel(seed: 6)
        let separate = try ModelDescription.parse(Data(json(#"{"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "ReLU", "name": "c"}"#).utf8)).makeModel(seed: 6)
        #expect(!fusedReLU.plannedFusions.contains { $0.hasPrefix("c ") })
        #expect(fusedReLU.flatParameters == separate.flatParameters)
        let data = syntheticImages(count: 8)
        var gradients: [[Float]] = []
        for m in [fusedReLU, separate] {
            m.prepare(maxBatch: 8)
            Array(0..<8).withUnsafeBufferPointer { m.fill(data, indices: $0) }
            _ = m.computeGradients(batch: 8)
            gradients.append(m.gradients.array)
        }
        #expect(maxAbsDiff(gradients[0], gradients[1]) < 1e-6)
        #expect(gradients[0][0..<20].contains { $0 != 0 })
    }

    /// Buckets arrive in reverse layer order while backward still runs (the first layer's
    /// gradient is not yet written when the last layers' bucket arrives), cover every
    /// parameter once, hold the final gradients, and `synchronize` comes once, after them.
    @Test func hook_receivesFinalGradientsInReverseOrderDuringBackward() throws {
        let data = syntheticImages(count: 16, height: 10, width: 10)
        let m = try cnn()
        m.compile(optimizer: SGD(learningRate: 0.1))
        m.gradientBucketCapacity = 300
        let firstLayer = UnsafeMutableBufferPointer(start: m.gradients.pointer, count: m.layers[0].parameterCount)
        let hook = RecordingHook(watching: firstLayer)
        m.gradientHook = hook
        #expect(m.gradientBuckets.map(\.layerNames) == [["dense_1"], ["dense"], ["conv2d"]])
        #expect(m.gradientBuckets.map(\.parameterRange.upperBound) == [m.parameterCount] + m.gradientBuckets.dropLast().map(\.parameterRange.lowerBound))
        #expect(m.gradientBuckets.last!.parameterRange.lowerBound == 0)

        // The gradients a reference computes for the same weights and batch.
        let reference = try cnn()
        reference.prepare(maxBatch: 16)
        Array(0..<16).withUnsafeBufferPointer { reference.fill(data, indices: $0) }
        _ = reference.computeGradients(batch: 16)

        m.prepare(maxBatch: 16)
        Array(0..<16).withUnsafeBufferPointer { m.fill(data, indices: $0) }
        m.gradients.pointer.update(repeating: .nan, count: m.parameterCount)
        _ = m.trainStep(batch: 16)
        #expect(hook.events == ["ready 0", "ready 1", "ready 2", "synchronize"])
        #expect(hook.received.map(\.firstLayerGradientIsNaN) == [true, true, false])
        for r in hook.received {
            #expect(r.values == Array(reference.gradients.array[r.bucket.parameterRange]))
        }
    }

    /// What the hook writes is what the optimiser applies: doubling every gradient equals
    /// doubling SGD's learning rate (exactly: both scale by a power of two).
    @Test func hook_changesTheGradientsTheUpdateUses() throws {
        let data = syntheticImages(count: 64, height: 10, width: 10)
        func trained(lr: Float, hookScale: Float?) throws -> Model {
            let m = try cnn()
            m.compile(optimizer: SGD(learningRate: lr))
            if let hookScale {
                let hook = RecordingHook()
                hook.scale = hookScale
                m.gradientHook = hook
            }
            _ = m.fit(data, epochs: 1, batchSize: 16, seed: 2)
            return m
        }
        let doubled = try trained(lr: 0.05, hookScale: 2)
        #expect(doubled.flatParameters == (try trained(lr: 0.1, hookScale: nil)).flatParameters)
        #expect(doubled.flatParameters != (try trained(lr: 0.05, hookScale: nil)).flatParameters)
    }

    /// Adam with a hook (gradients stored, then the update) trains like Adam inside backward.
    @Test func adamWithAHook_trainsLikeTheFusedUpdate() throws {
        let data = syntheticImages(count: 64, height: 10, width: 10)
        let fused = try cnn(), hooked = try cnn()
        let hook = RecordingHook()
        hooked.gradientHook = hook
        _ = fused.fit(data, epochs: 2, batchSize: 16, seed: 2)
        _ = hooked.fit(data, epochs: 2, batchSize: 16, seed: 2)
        #expect(hook.events.filter { $0 == "synchronize" }.count == 8)
        #expect(maxAbsDiff(fused.flatParameters, hooked.flatParameters) < 1e-4)
        #expect(fused.optimizer.stepCount == hooked.optimizer.stepCount)
    }
}
