import CBLAS

/// 2-D convolution, stride 1, square kernel, zero padding; im2col + one SGEMM per batch.
///
/// x is `[C, N, H, W]`, y is `[K, N, OH, OW]` with `OH = H + 2p - k + 1`.
/// weight is `[K, C, k, k]` (the usual OIHW order), bias `[K]`.
public final class Conv2D: Layer {
    public let inChannels: Int, outChannels: Int, kernel: Int, padding: Int
    public var needsInputGradient = true
    /// Floats of im2col columns per inference chunk (128 Ki floats = 512 KB, half of L2).
    public var inferenceColumnBudget = 128 * 1024
    public var token: String { "conv\(outChannels)k\(kernel)" + (padding > 0 ? "p\(padding)" : "") }

    var weight: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>!
    var weightGrad: UnsafeMutablePointer<Float>!, biasGrad: UnsafeMutablePointer<Float>!

    let output = Tensor(shape: [0])
    let inputGrad = Tensor(shape: [0])
    let columns = Tensor(shape: [0])       // [C*k*k, N*OH*OW], kept for backward
    let columnGrad = Tensor(shape: [0])
    private var inShape: [Int] = []

    public init(inChannels: Int, outChannels: Int, kernel: Int, padding: Int) {
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.padding = padding
    }

    public var parameterSpecs: [ParameterSpec] {
        let fanIn = inChannels * kernel * kernel
        return [
            ParameterSpec(name: "weight", shape: [outChannels, inChannels, kernel, kernel],
                          initialValue: .he(fanIn: fanIn), decays: true, learnable: true),
            ParameterSpec(name: "bias", shape: [outChannels], initialValue: .zeros, decays: false, learnable: true),
        ]
    }

    public func bind(values: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        weight = values[0]; bias = values[1]; weightGrad = gradients[0]; biasGrad = gradients[1]
    }

    public func outputShape(_ s: [Int]) -> [Int]? {
        guard s.count == 4, s[0] == inChannels else { return nil }
        let oh = s[2] + 2 * padding - kernel + 1, ow = s[3] + 2 * padding - kernel + 1
        guard oh > 0, ow > 0 else { return nil }
        return [outChannels, s[1], oh, ow]
    }

    public func multiplyAdds(_ s: [Int]) -> Int {
        guard let o = outputShape(s) else { return 0 }
        return o[2] * o[3] * outChannels * inChannels * kernel * kernel
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        inShape = x.shape
        let o = outputShape(x.shape)!
        let n = x.shape[1], oh = o[2], ow = o[3]
        let p = n * oh * ow, rows = inChannels * kernel * kernel
        output.resize(o)
        for k in 0..<outChannels {
            (output.data + k * p).update(repeating: bias[k], count: p)
        }
        // Training keeps the whole column matrix for backward. Inference works through the batch
        // in chunks whose columns stay in L2 (~512 KB), instead of streaming megabytes through memory.
        let chunk = training ? n : max(1, min(n, inferenceColumnBudget / max(1, rows * oh * ow)))
        columns.resize([rows, chunk * oh * ow])
        var first = 0
        while first < n {
            let count = min(chunk, n - first)
            let cp = count * oh * ow
            im2col(x, into: columns.data, first: first, count: count, n: n, h: x.shape[2], w: x.shape[3], oh: oh, ow: ow)
            // y[K, first*P' ..< (first+count)*P'] += W[K, rows] * col[rows, cp]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(cp), Int32(rows),
                        1, weight, Int32(rows), columns.data, Int32(cp), 1, output.data + first * oh * ow, Int32(p))
            first += count
        }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let n = inShape[1], h = inShape[2], w = inShape[3]
        let oh = dy.shape[2], ow = dy.shape[3]
        let p = n * oh * ow, rows = inChannels * kernel * kernel
        // dW[K, rows] += dy[K, P] * col^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(outChannels), Int32(rows), Int32(p),
                    1, dy.data, Int32(p), columns.data, Int32(p), 1, weightGrad, Int32(rows))
        for k in 0..<outChannels { biasGrad[k] += vectorSum(dy.data + k * p, p) }
        inputGrad.resize(inShape)
        guard needsInputGradient else { return inputGrad }
        columnGrad.resize([rows, p])
        // dcol[rows, P] = W^T * dy
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(p), Int32(outChannels),
                    1, weight, Int32(rows), dy.data, Int32(p), 0, columnGrad.data, Int32(p))
        col2im(columnGrad.data, into: inputGrad, n: n, h: h, w: w, oh: oh, ow: ow)
        return inputGrad
    }

    /// col[(c*k+ky)*k+kx, (b*OH+oy)*OW+ox] = x[c, first+b, oy+ky-p, ox+kx-p] (0 outside), for the
    /// `count` images from `first` of a batch of `n`.
    private func im2col(_ x: Tensor, into col: UnsafeMutablePointer<Float>, first: Int, count: Int, n: Int,
                        h: Int, w: Int, oh: Int, ow: Int) {
        let p = count * oh * ow
        for c in 0..<inChannels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let dst = col + ((c * kernel + ky) * kernel + kx) * p
                    let ox0 = max(0, padding - kx), ox1 = min(ow, w + padding - kx)
                    for b in 0..<count {
                        let src = x.data + (c * n + first + b) * h * w
                        for oy in 0..<oh {
                            let row = dst + (b * oh + oy) * ow
                            let iy = oy + ky - padding
                            if iy < 0 || iy >= h || ox1 <= ox0 {
                                row.update(repeating: 0, count: ow)
                                continue
                            }
                            if ox0 > 0 { row.update(repeating: 0, count: ox0) }
                            (row + ox0).update(from: src + iy * w + ox0 + kx - padding, count: ox1 - ox0)
                            if ox1 < ow { (row + ox1).update(repeating: 0, count: ow - ox1) }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of im2col: dx[c, n, iy, ix] = sum of the column entries that read it.
    private func col2im(_ col: UnsafeMutablePointer<Float>, into dx: Tensor, n: Int, h: Int, w: Int, oh: Int, ow: Int) {
        dx.zero()
        let p = n * oh * ow
        for c in 0..<inChannels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let src = col + ((c * kernel + ky) * kernel + kx) * p
                    let ox0 = max(0, padding - kx), ox1 = min(ow, w + padding - kx)
                    guard ox1 > ox0 else { continue }
                    for b in 0..<n {
                        let dst = dx.data + (c * n + b) * h * w
                        for oy in 0..<oh {
                            let iy = oy + ky - padding
                            if iy < 0 || iy >= h { continue }
                            let s = src + (b * oh + oy) * ow
                            let d = dst + iy * w + kx - padding
                            for ox in ox0..<ox1 { d[ox] += s[ox] }
                        }
                    }
                }
            }
        }
    }
}
