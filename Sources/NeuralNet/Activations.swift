/// max(0, x), any shape.
public final class ReLU: Layer {
    public var needsInputGradient = true
    public var token: String { "relu" }
    let output = Tensor(shape: [0])
    let inputGrad = Tensor(shape: [0])
    public init() {}

    public func outputShape(_ s: [Int]) -> [Int]? { s }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        output.resize(x.shape)
        let src = x.data, dst = output.data
        for i in 0..<x.count { let v = src[i]; dst[i] = v > 0 ? v : 0 }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        inputGrad.resize(dy.shape)
        let y = output.data, g = dy.data, dx = inputGrad.data
        for i in 0..<dy.count { dx[i] = y[i] > 0 ? g[i] : 0 }
        return inputGrad
    }
}

/// 2x2 max pooling, stride 2, over `[C, N, H, W]`; odd edges are dropped (floor).
public final class MaxPool: Layer {
    public var needsInputGradient = true
    public var token: String { "pool2" }
    let output = Tensor(shape: [0])
    let inputGrad = Tensor(shape: [0])
    /// Training: for each output, the index within its input plane of the maximum.
    var argmax: [Int32] = []
    var inShape: [Int] = []
    private var input: Tensor?
    public init() {}

    public func outputShape(_ s: [Int]) -> [Int]? {
        guard s.count == 4, s[2] >= 2, s[3] >= 2 else { return nil }
        return [s[0], s[1], s[2] / 2, s[3] / 2]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        inShape = x.shape
        let o = outputShape(x.shape)!
        output.resize(o)
        let planes = o[0] * o[1], h = x.shape[2], w = x.shape[3], oh = o[2], ow = o[3]
        guard training else {
            // Inference: no argmax bookkeeping, branch-free maxima the compiler can vectorise.
            for p in 0..<planes {
                let src = x.data + p * h * w, dst = output.data + p * oh * ow
                for oy in 0..<oh {
                    let r0 = src + 2 * oy * w, r1 = r0 + w, d = dst + oy * ow
                    for ox in 0..<ow {
                        let a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], e = r1[2 * ox + 1]
                        let m0 = a > b ? a : b, m1 = c > e ? c : e
                        d[ox] = m0 > m1 ? m0 : m1
                    }
                }
            }
            return output
        }
        input = x
        if argmax.count < output.count { argmax = [Int32](repeating: 0, count: output.count) }
        argmax.withUnsafeMutableBufferPointer { am in
            for p in 0..<planes {
                let src = x.data + p * h * w, dst = output.data + p * oh * ow
                for oy in 0..<oh {
                    let r0 = src + 2 * oy * w, r1 = r0 + w
                    let d = dst + oy * ow, indices = am.baseAddress! + p * oh * ow + oy * ow
                    let rowBase = Int32(2 * oy * w), w32 = Int32(w)
                    for ox in 0..<ow {
                        // selects, not branches: the compiler turns them into blends
                        let a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], e = r1[2 * ox + 1]
                        let top = b > a, bottom = e > c
                        let m0 = top ? b : a, m1 = bottom ? e : c
                        let second = m1 > m0
                        d[ox] = second ? m1 : m0
                        let off0: Int32 = top ? 1 : 0, off1: Int32 = bottom ? w32 + 1 : w32
                        indices[ox] = rowBase + Int32(2 * ox) + (second ? off1 : off0)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor { backward(dy, throughReLU: false) }

    /// With `throughReLU`, this is also the backward of a ReLU right before the pool: the
    /// gradient reaches only the arg-max positions, so the ReLU mask is needed only there
    /// (input > 0), instead of a separate pass over the whole, four times larger, tensor.
    public func backward(_ dy: Tensor, throughReLU: Bool) -> Tensor {
        inputGrad.resize(inShape)
        inputGrad.zero()
        let planes = dy.shape[0] * dy.shape[1], per = dy.shape[2] * dy.shape[3], inPer = inShape[2] * inShape[3]
        let x = input!.data
        argmax.withUnsafeBufferPointer { am in
            for p in 0..<planes {
                let g = dy.data + p * per, dx = inputGrad.data + p * inPer, xp = x + p * inPer
                if throughReLU {
                    for i in 0..<per {
                        let j = Int(am[p * per + i])
                        if xp[j] > 0 { dx[j] += g[i] }
                    }
                } else {
                    for i in 0..<per { dx[Int(am[p * per + i])] += g[i] }
                }
            }
        }
        return inputGrad
    }
}

/// `[C, N, H, W]` -> `[N, C*H*W]`, feature index `c*H*W + y*W + x` (the usual NCHW flatten order).
public final class Flatten: Layer {
    public var needsInputGradient = true
    public var token: String { "flatten" }
    let output = Tensor(shape: [0])
    let inputGrad = Tensor(shape: [0])
    private var inShape: [Int] = []
    public init() {}

    public func outputShape(_ s: [Int]) -> [Int]? {
        guard s.count == 4 else { return nil }
        return [s[1], s[0] * s[2] * s[3]]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        inShape = x.shape
        let c = x.shape[0], n = x.shape[1], hw = x.shape[2] * x.shape[3]
        output.resize([n, c * hw])
        for ci in 0..<c {
            for b in 0..<n {
                (output.data + b * c * hw + ci * hw).update(from: x.data + (ci * n + b) * hw, count: hw)
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        inputGrad.resize(inShape)
        let c = inShape[0], n = inShape[1], hw = inShape[2] * inShape[3]
        for ci in 0..<c {
            for b in 0..<n {
                (inputGrad.data + (ci * n + b) * hw).update(from: dy.data + b * c * hw + ci * hw, count: hw)
            }
        }
        return inputGrad
    }
}

/// Inverted dropout: in training each value is zeroed with probability `rate` and the rest
/// scaled by 1/(1-rate); identity at inference.
public final class Dropout: Layer {
    public let rate: Float
    public var needsInputGradient = true
    public var token: String { "drop\(rate)" }
    public var random = RandomSource(seed: 7)
    let output = Tensor(shape: [0])
    let inputGrad = Tensor(shape: [0])
    let mask = Tensor(shape: [0])
    private var wasTraining = false
    public init(rate: Float) { self.rate = rate }

    public func outputShape(_ s: [Int]) -> [Int]? { s }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        wasTraining = training
        output.resize(x.shape)
        guard training, rate > 0 else {
            output.data.update(from: x.data, count: x.count)
            return output
        }
        mask.resize(x.shape)
        let keep = 1 / (1 - rate)
        for i in 0..<x.count {
            let m: Float = random.uniform() < rate ? 0 : keep
            mask.data[i] = m
            output.data[i] = x.data[i] * m
        }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        inputGrad.resize(dy.shape)
        if wasTraining && rate > 0 {
            for i in 0..<dy.count { inputGrad.data[i] = dy.data[i] * mask.data[i] }
        } else {
            inputGrad.data.update(from: dy.data, count: dy.count)
        }
        return inputGrad
    }
}
