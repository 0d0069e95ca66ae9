import Foundation
import Testing
@testable import NeuralNet

/// Central-difference gradient checks (cs231n style): for a scalar loss L = sum(y * r) with a
/// fixed random r, compare each layer's analytic input and parameter gradients with
/// (L(x + h) - L(x - h)) / 2h. Computed in Float32, so the tolerance is a relative error of 2e-2
/// on the worst element and 2e-3 on the mean.
struct GradientCheckTests {
    /// Runs `layer` on input of `shape` and checks dL/dx and dL/dparams.
    func check(_ layer: Layer, input shape: [Int], seed: UInt64 = 3, training: Bool = true,
               checkInput: Bool = true, sourceOfParameters: Int = 0) {
        var rng = RandomSource(seed: seed)
        let x = Tensor(shape: shape)
        for i in 0..<x.count { x[i] = rng.normal() }
        let specs = layer.parameterSpecs
        var valueBuffers: [[Float]] = specs.map { s in (0..<s.shape.reduce(1, *)).map { _ in rng.normal() * 0.5 + (s.name == "gamma" || s.name == "running_var" ? 1.5 : 0) } }
        var gradBuffers: [[Float]] = specs.map { [Float](repeating: 0, count: $0.shape.reduce(1, *)) }
        let vp = valueBuffers.indices.map { i in UnsafeMutablePointer<Float>.allocate(capacity: valueBuffers[i].count) }
        let gp = gradBuffers.indices.map { i in UnsafeMutablePointer<Float>.allocate(capacity: gradBuffers[i].count) }
        defer { vp.forEach { $0.deallocate() }; gp.forEach { $0.deallocate() } }
        for i in specs.indices {
            vp[i].initialize(from: valueBuffers[i], count: valueBuffers[i].count)
            gp[i].initialize(repeating: 0, count: gradBuffers[i].count)
        }
        layer.bind(values: vp, gradients: gp)
        layer.needsInputGradient = checkInput
        (layer as? Dropout)?.random = RandomSource(seed: 11)

        let outShape = layer.outputShape(shape)!
        let r = (0..<outShape.reduce(1, *)).map { _ in rng.normal() }
        func loss() -> Double {
            (layer as? Dropout)?.random = RandomSource(seed: 11)   // same mask every call
            let y = layer.forward(x, training: training)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
            return s
        }
        _ = loss()
        let dy = Tensor(shape: outShape, values: r)
        let dx = layer.backward(dy)
        let analyticInput = dx.values
        for i in specs.indices { gradBuffers[i] = Array(UnsafeBufferPointer(start: gp[i], count: gradBuffers[i].count)) }

        let h: Float = 1e-2
        func compare(_ analytic: [Float], perturb: (Int, Float) -> Void, count: Int, what: String) {
            var worst = 0.0, total = 0.0
            let stride = max(1, count / 60)
            var checked = 0
            for i in Swift.stride(from: 0, to: count, by: stride) {
                perturb(i, h); let lp = loss()
                perturb(i, -2 * h); let lm = loss()
                perturb(i, h)
                let numeric = (lp - lm) / Double(2 * h)
                let a = Double(analytic[i])
                let rel = abs(numeric - a) / max(1e-2, abs(numeric) + abs(a))
                worst = max(worst, rel); total += rel; checked += 1
            }
            #expect(worst < 2e-2, "\(layer.token) \(what): worst relative error \(worst)")
            #expect(total / Double(checked) < 2e-3, "\(layer.token) \(what): mean relative error \(total / Double(checked))")
        }
        if checkInput {
            compare(analyticInput, perturb: { i, d in x[i] += d }, count: x.count, what: "input")
        }
        for (pi, s) in specs.enumerated() where s.learnable {
            compare(gradBuffers[pi], perturb: { i, d in vp[pi][i] += d }, count: gradBuffers[pi].count, what: s.name)
        }
        _ = valueBuffers.removeAll()
    }

    @Test func conv2DWithPaddingMatchesNumericalGradient() {
        check(Conv2D(inChannels: 2, outChannels: 3, kernel: 3, padding: 1), input: [2, 2, 6, 5])
    }

    @Test func conv2DValidMatchesNumericalGradient() {
        check(Conv2D(inChannels: 3, outChannels: 2, kernel: 3, padding: 0), input: [3, 2, 5, 6])
    }

    @Test func firstLayerDirectConvolutionMatchesNumericalGradient() {
        // one input channel and no input gradient: the direct (non-im2col) path
        check(Conv2D(inChannels: 1, outChannels: 3, kernel: 3, padding: 1), input: [1, 2, 7, 6], checkInput: false)
        check(Conv2D(inChannels: 1, outChannels: 2, kernel: 5, padding: 0), input: [1, 3, 9, 20], checkInput: false)
    }

    /// The direct first-layer path and im2col + SGEMM agree on outputs and parameter gradients,
    /// for padded and valid kernels, rows narrower than 16 and wider than 16 lanes.
    @Test(arguments: [(3, 1, 28, 28), (3, 0, 28, 28), (5, 2, 11, 13), (3, 0, 33, 18)])
    func directFirstLayerMatchesIm2col(kernel: Int, padding: Int, h: Int, w: Int) {
        var rng = RandomSource(seed: 21)
        let n = 3, outChannels = 4
        let x = Tensor(shape: [1, n, h, w], values: (0..<(n * h * w)).map { _ in rng.uniform() })
        let weights = (0..<(outChannels * kernel * kernel + outChannels)).map { _ in rng.normal() }
        var results: [(y: [Float], grads: [Float])] = []
        for direct in [true, false] {
            let conv = Conv2D(inChannels: 1, outChannels: outChannels, kernel: kernel, padding: padding)
            conv.needsInputGradient = false
            conv.allowsDirectPath = direct
            let values = UnsafeMutablePointer<Float>.allocate(capacity: weights.count)
            let grads = UnsafeMutablePointer<Float>.allocate(capacity: weights.count)
            defer { values.deallocate(); grads.deallocate() }
            values.initialize(from: weights, count: weights.count)
            grads.initialize(repeating: 0, count: weights.count)
            let wc = outChannels * kernel * kernel
            conv.bind(values: [values, values + wc], gradients: [grads, grads + wc])
            let y = conv.forward(x, training: true).values
            var grng = RandomSource(seed: 8)
            let dy = Tensor(shape: conv.outputShape(x.shape)!, values: y.map { _ in grng.normal() })
            _ = conv.backward(dy)
            results.append((y, Array(UnsafeBufferPointer(start: grads, count: weights.count))))
        }
        #expect(results[0].y.count == results[1].y.count)
        let yError = zip(results[0].y, results[1].y).map { abs($0 - $1) }.max() ?? 1
        let gError = zip(results[0].grads, results[1].grads).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 1
        #expect(yError < 1e-4, "outputs differ by \(yError)")
        #expect(gError < 1e-4, "gradients differ by \(gError)")
    }

    @Test func denseMatchesNumericalGradient() {
        check(Dense(inFeatures: 7, outFeatures: 4), input: [3, 7])
    }

    @Test func batchNormOverChannelsMatchesNumericalGradient() {
        check(BatchNorm(channels: 3), input: [3, 4, 3, 3])
    }

    @Test func batchNormOverFeaturesMatchesNumericalGradient() {
        check(BatchNorm(channels: 5), input: [6, 5])
    }

    @Test func reluMatchesNumericalGradient() {
        check(ReLU(), input: [2, 3, 4, 4])
    }

    @Test func maxPoolMatchesNumericalGradient() {
        check(MaxPool(), input: [2, 2, 6, 6])
    }

    @Test func flattenMatchesNumericalGradient() {
        check(Flatten(), input: [3, 2, 2, 3])
    }

    @Test func dropoutMatchesNumericalGradient() {
        check(Dropout(rate: 0.3), input: [4, 10])
    }

    @Test func softmaxCrossEntropyWithSmoothingMatchesNumericalGradient() {
        var rng = RandomSource(seed: 5)
        let logits = Tensor(shape: [4, 11], values: (0..<44).map { _ in rng.normal() * 2 })
        let labels: [Int32] = [0, 3, 10, 7]
        let grad = Tensor(shape: [0])
        SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels, smoothing: 0.1, gradient: grad)
        let analytic = grad.values
        let scratch = Tensor(shape: [0])
        let h: Float = 1e-2
        for i in 0..<44 {
            logits[i] += h
            let lp = SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels, smoothing: 0.1, gradient: scratch)
            logits[i] -= 2 * h
            let lm = SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels, smoothing: 0.1, gradient: scratch)
            logits[i] += h
            let numeric = (lp - lm) / (2 * h)
            #expect(abs(numeric - analytic[i]) < 2e-3, "logit \(i): numeric \(numeric) analytic \(analytic[i])")
        }
    }

    /// Training fuses each `bn,relu,pool2` (FusedBlocks.swift), and at the input the whole
    /// `conv,bn,relu,pool2` backward; the layer-by-layer path is the reference. Same logits,
    /// loss, parameter gradients and running statistics, with even and odd (13x13, 11x11)
    /// pooled sizes, valid and padded first layers, 3x3 and 5x5 kernels.
    @Test(arguments: ["conv4k3,bn,relu,pool2,conv6k3,bn,relu,pool2,flatten,dense8,bn,relu,dense11",
                      "conv5k3p1,bn,relu,pool2,conv6k3p1,bn,relu,pool2,conv4k3,bn,relu,flatten,dense11",
                      "conv3k5p2,bn,relu,pool2,flatten,dense10"])
    func fusedBatchNormReLUPoolMatchesLayerByLayer(spec: String) throws {
        var rng = RandomSource(seed: 12)
        let images = (0..<(5 * 784)).map { _ in rng.uniform() }
        let labels: [Int32] = [1, 10, 4, 7, 0]
        var results: [(logits: [Float], gradients: [Float], values: [Float])] = []
        for fused in [true, false] {
            let net = try Network(spec: spec)
            net.initialise(seed: 3)
            net.fusesBlocks = fused
            let grad = Tensor(shape: [0])
            net.zeroGradients()
            let logits = net.forward(images, count: 5, training: true)
            let l = logits.values
            SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels, smoothing: 0.1, gradient: grad)
            net.backward(grad)
            results.append((l, Array(UnsafeBufferPointer(start: net.gradients, count: net.parameterCount)),
                            Array(UnsafeBufferPointer(start: net.values, count: net.parameterCount))))
        }
        func worst(_ a: [Float], _ b: [Float]) -> Float {
            zip(a, b).map { abs($0 - $1) / max(1e-3, abs($1)) }.max() ?? 1
        }
        // rounding differs (the fused forward computes A·x + B, not γ·(x − μ)/σ + β): compare
        // the logits on the scale of the largest
        let scale = results[1].logits.map(abs).max() ?? 1
        let logitError = zip(results[0].logits, results[1].logits).map { abs($0 - $1) }.max() ?? 1
        #expect(logitError < 1e-4 * scale, "logits differ by \(logitError) (scale \(scale))")
        #expect(worst(results[0].gradients, results[1].gradients) < 1e-3)
        #expect(worst(results[0].values, results[1].values) < 1e-5, "running statistics differ")
        #expect(results[0].gradients.contains { $0 != 0 })
    }

    @Test func wholeNetworkGradientMatchesNumericalGradient() throws {
        let net = try Network(spec: "conv4k3p1,bn,relu,pool2,conv6k3,bn,relu,flatten,dense8,bn,relu,dense11")
        net.initialise(seed: 9)
        var rng = RandomSource(seed: 4)
        let images = (0..<(3 * 784)).map { _ in rng.uniform() }
        let labels: [Int32] = [1, 10, 4]
        let grad = Tensor(shape: [0])
        func loss() -> Float {
            let logits = net.forward(images, count: 3, training: true)
            return SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels, smoothing: 0, gradient: grad)
        }
        net.zeroGradients()
        _ = loss()
        net.backward(grad)
        let analytic = Array(UnsafeBufferPointer(start: net.gradients, count: net.parameterCount))
        // A smaller step than the per-layer checks: a weight step moves many ReLU/max-pool kinks at once.
        let h: Float = 2e-3
        var errors: [Double] = []
        for e in net.parameterTable where e.learnable {
            for i in Swift.stride(from: e.offset, to: e.offset + e.shape.reduce(1, *), by: 17) {
                net.values[i] += h; let lp = loss()
                net.values[i] -= 2 * h; let lm = loss()
                net.values[i] += h
                let numeric = Double(lp - lm) / Double(2 * h)
                // Floor 1e-2: a conv bias right before batch norm has a true gradient of 0, where only float noise remains.
                let rel = abs(numeric - Double(analytic[i])) / max(1e-2, abs(numeric) + abs(Double(analytic[i])))
                errors.append(rel)
            }
        }
        // In float32 a step can still cross a kink for a few parameters; the bulk must agree.
        errors.sort()
        let p95 = errors[errors.count * 95 / 100], worst = errors.last!
        #expect(p95 < 1e-2, "whole network: 95th percentile relative error \(p95)")
        #expect(worst < 0.5, "whole network: worst relative error \(worst)")
    }
}
