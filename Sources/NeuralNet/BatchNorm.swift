/// Batch normalisation over each channel (conv layout `[C, N, H, W]`) or each feature
/// (dense layout `[N, F]`). Training uses batch statistics and updates the running ones;
/// inference uses the running ones (and is normally folded into the layer before it).
/// running_mean / running_var are state without gradient (Ioffe & Szegedy 2015).
public final class BatchNorm: Layer {
    public let channels: Int
    public let epsilon: Float = 1e-5
    public var momentum: Float = 0.1
    /// False in data-parallel replicas: only one copy writes the shared running statistics.
    public var updatesRunningStatistics = true
    public var needsInputGradient = true
    public var token: String { "bn" }

    var gamma: UnsafeMutablePointer<Float>!, beta: UnsafeMutablePointer<Float>!
    var gammaGrad: UnsafeMutablePointer<Float>!, betaGrad: UnsafeMutablePointer<Float>!
    var runningMean: UnsafeMutablePointer<Float>!, runningVar: UnsafeMutablePointer<Float>!

    let output = Tensor(shape: [0])
    let inputGrad = Tensor(shape: [0])
    let normalised = Tensor(shape: [0])   // x-hat, kept for backward
    // fused bn,relu,pool2 (FusedBlocks.swift): its input, the input at each window's maximum, the batch means
    var fusedInput: Tensor?
    let pooledInputs = Tensor(shape: [0])
    var batchMean: [Float]
    var inverseStd: [Float]
    private var sum1: [Float], sum2: [Float]

    public init(channels: Int) {
        self.channels = channels
        inverseStd = [Float](repeating: 1, count: channels)
        sum1 = inverseStd; sum2 = inverseStd; batchMean = inverseStd
    }

    public var parameterSpecs: [ParameterSpec] {
        [ParameterSpec(name: "gamma", shape: [channels], initialValue: .ones, decays: false, learnable: true),
         ParameterSpec(name: "beta", shape: [channels], initialValue: .zeros, decays: false, learnable: true),
         ParameterSpec(name: "running_mean", shape: [channels], initialValue: .zeros, decays: false, learnable: false),
         ParameterSpec(name: "running_var", shape: [channels], initialValue: .ones, decays: false, learnable: false)]
    }

    public func bind(values: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        gamma = values[0]; beta = values[1]; runningMean = values[2]; runningVar = values[3]
        gammaGrad = gradients[0]; betaGrad = gradients[1]
    }

    public func outputShape(_ s: [Int]) -> [Int]? {
        if s.count == 4, s[0] == channels { return s }
        if s.count == 2, s[1] == channels { return s }
        return nil
    }

    /// Per channel: the values are `groups` runs of `run` contiguous floats, `stride` apart.
    private func geometry(_ s: [Int]) -> (groups: Int, run: Int, stride: Int, channelStep: Int) {
        s.count == 4 ? (1, s[1] * s[2] * s[3], 0, s[1] * s[2] * s[3]) : (s[0], 1, channels, 1)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        output.resize(x.shape)
        let m = x.count / channels
        if training { normalised.resize(x.shape) }
        if x.shape.count == 4 {
            for c in 0..<channels {
                let src = x.data + c * m, dst = output.data + c * m
                var mean: Float, invStd: Float
                if training {
                    (mean, invStd) = channelStatistics(src, count: m, channel: c)
                    let xh = normalised.data + c * m
                    let g = gamma[c], b = beta[c]
                    for i in 0..<m { let h = (src[i] - mean) * invStd; xh[i] = h; dst[i] = g * h + b }
                } else {
                    mean = runningMean[c]; invStd = 1 / (runningVar[c] + epsilon).squareRoot()
                    let g = gamma[c] * invStd, b = beta[c] - mean * g
                    for i in 0..<m { dst[i] = g * src[i] + b }
                }
            }
        } else {
            let n = x.shape[0], f = channels
            if training {
                for c in 0..<f { sum1[c] = 0; sum2[c] = 0 }
                for i in 0..<n { let r = x.data + i * f; for c in 0..<f { sum1[c] += r[c] } }
                for c in 0..<f { sum1[c] /= Float(n) }
                for i in 0..<n { let r = x.data + i * f; for c in 0..<f { let d = r[c] - sum1[c]; sum2[c] += d * d } }
                for c in 0..<f {
                    let variance = sum2[c] / Float(n)
                    inverseStd[c] = 1 / (variance + epsilon).squareRoot()
                    guard updatesRunningStatistics else { continue }
                    runningMean[c] += momentum * (sum1[c] - runningMean[c])
                    runningVar[c] += momentum * (variance * Float(n) / Float(max(n - 1, 1)) - runningVar[c])
                }
                for i in 0..<n {
                    let r = x.data + i * f, o = output.data + i * f, h = normalised.data + i * f
                    for c in 0..<f { let v = (r[c] - sum1[c]) * inverseStd[c]; h[c] = v; o[c] = gamma[c] * v + beta[c] }
                }
            } else {
                for i in 0..<n {
                    let r = x.data + i * f, o = output.data + i * f
                    for c in 0..<f {
                        let invStd = 1 / (runningVar[c] + epsilon).squareRoot()
                        o[c] = gamma[c] * (r[c] - runningMean[c]) * invStd + beta[c]
                    }
                }
            }
        }
        return output
    }

    /// Batch mean and 1/sqrt(variance + eps) of one channel's `count` values; records the
    /// inverse deviation for backward and updates the running statistics.
    func channelStatistics(_ src: UnsafePointer<Float>, count m: Int, channel c: Int) -> (mean: Float, inverseStd: Float) {
        let mean = vectorSum(src, m) / Float(m)
        let variance = vectorSquaredDeviation(src, m, mean: mean) / Float(m)
        let invStd = 1 / (variance + epsilon).squareRoot()
        inverseStd[c] = invStd
        if updatesRunningStatistics {
            runningMean[c] += momentum * (mean - runningMean[c])
            runningVar[c] += momentum * (variance * Float(m) / Float(max(m - 1, 1)) - runningVar[c])
        }
        return (mean, invStd)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        inputGrad.resize(dy.shape)
        let m = dy.count / channels
        let fm = Float(m)
        if dy.shape.count == 4 {
            for c in 0..<channels {
                let g = dy.data + c * m, xh = normalised.data + c * m, dx = inputGrad.data + c * m
                let (sg, sgx) = vectorSumAndDot(g, xh, m)
                gammaGrad[c] += sgx
                betaGrad[c] += sg
                guard needsInputGradient else { continue }
                let k = gamma[c] * inverseStd[c] / fm
                for i in 0..<m { dx[i] = k * (fm * g[i] - sg - xh[i] * sgx) }
            }
        } else {
            let n = dy.shape[0], f = channels
            for c in 0..<f { sum1[c] = 0; sum2[c] = 0 }
            for i in 0..<n {
                let g = dy.data + i * f, h = normalised.data + i * f
                for c in 0..<f { sum1[c] += g[c]; sum2[c] += g[c] * h[c] }
            }
            for c in 0..<f { betaGrad[c] += sum1[c]; gammaGrad[c] += sum2[c] }
            if needsInputGradient {
                for i in 0..<n {
                    let g = dy.data + i * f, h = normalised.data + i * f, dx = inputGrad.data + i * f
                    for c in 0..<f {
                        dx[c] = gamma[c] * inverseStd[c] / fm * (fm * g[c] - sum1[c] - h[c] * sum2[c])
                    }
                }
            }
        }
        return inputGrad
    }
}
