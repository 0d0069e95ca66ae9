import Foundation
import Testing
@testable import NeuralNet

/// Inference runs each `conv[,pool2][,relu]` as one fused block (Conv2D.forwardFused, Network
/// forwardFused) writing into the next convolution's zero-padded planes; the layers one by one
/// are the reference. It is the same arithmetic, so the logits must be the same floats.
struct FusedInferenceTests {
    static func logits(_ net: Network, _ images: [Float], count n: Int, fused: Bool) -> [Float] {
        net.fusesInference = fused
        return images.withUnsafeBufferPointer { net.forward($0.baseAddress!, count: n, training: false).values }
    }

    /// Folded networks of several shapes: padded and valid convolutions, 3x3 and 5x5 kernels,
    /// even and odd (13x13, 11x11, 7x7) planes before a pool, a block without a pool, a block
    /// without a ReLU, a first layer too wide for the direct path (6 channels in the second
    /// block), batches of 1 to 37 (several GEMM chunks).
    @Test(arguments: ["conv4k3,pool2,relu,conv6k3,pool2,relu,flatten,dense8,relu,dense11",
                      "conv5k3p1,pool2,relu,conv6k3p1,pool2,relu,conv4k3,relu,flatten,dense11",
                      "conv3k5p2,pool2,relu,flatten,dense10",
                      "conv4k3p1,relu,conv3k3,pool2,conv5k5p2,relu,flatten,drop0.2,dense7"])
    func fusedInferenceGivesTheSameLogitsAsLayerByLayer(spec: String) throws {
        for n in [1, 5, 37] {
            var rng = RandomSource(seed: UInt64(n))
            let images = (0..<(n * 784)).map { _ in rng.uniform() }
            let net = try Network(spec: spec)
            net.initialise(seed: 5)
            // non-zero biases, so adding them after the pool is exercised
            for e in net.parameterTable where e.name.hasSuffix("bias") {
                for i in 0..<e.shape.reduce(1, *) { net.values[e.offset + i] = rng.uniform(-0.5, 0.5) }
            }
            #expect(net.inferencePlan != nil)
            let reference = Self.logits(net, images, count: n, fused: false)
            let fused = Self.logits(net, images, count: n, fused: true)
            #expect(fused.count == reference.count)
            #expect(fused == reference, "\(spec), batch \(n): max difference \(zip(fused, reference).map { abs($0 - $1) }.max() ?? 0)")
            // the plan is reused and the padding rezeroed when the batch size changes
            let again = Self.logits(net, images, count: n, fused: true)
            #expect(again == reference)
        }
    }

    /// The shipped models, folded as the classifier uses them, on MNIST-like inputs.
    @Test func shippedModelsFusedMatchLayerByLayer() throws {
        let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models")
        for name in ["digitd-default.safetensors", "digitd-screen.safetensors"] {
            let path = models.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let net = try Model.load(path: path).network.foldedForInference()
            var rng = RandomSource(seed: 77)
            let n = 23
            let images = (0..<(n * 784)).map { _ in rng.uniform() < 0.8 ? 0 : rng.uniform() }
            #expect(net.inferencePlan?.blocks.count == 3)
            let reference = Self.logits(net, images, count: n, fused: false)
            let fused = Self.logits(net, images, count: n, fused: true)
            #expect(fused == reference, "\(name)")
        }
    }

    /// Networks the plan does not cover run layer by layer (no flatten after the convolutions,
    /// batch norms left in).
    @Test func unfoldedNetworksHaveNoPlan() throws {
        #expect(try Network(spec: "conv4k3,bn,relu,pool2,flatten,dense10").inferencePlan == nil)
        #expect(try Network(spec: "flatten,dense10").inferencePlan == nil)
    }
}
