import CBLAS

/// 2-D convolution, stride 1, square kernel, zero padding; im2col + one SGEMM per L2-sized chunk of the batch.
///
/// x is `[C, N, H, W]`, y is `[K, N, OH, OW]` with `OH = H + 2p - k + 1`.
/// weight is `[K, C, k, k]` (the usual OIHW order), bias `[K]`.
public final class Conv2D: Layer {
    public let inChannels: Int, outChannels: Int, kernel: Int, padding: Int
    public var needsInputGradient = true
    /// Floats of im2col columns per chunk of the batch (128 Ki floats = 512 KB, half of L2).
    public var inferenceColumnBudget = 128 * 1024
    /// The same in training, where backward holds the columns and their gradient at once.
    public var trainingColumnBudget = 64 * 1024
    public var token: String { "conv\(outChannels)k\(kernel)" + (padding > 0 ? "p\(padding)" : "") }

    var weight: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>!
    var weightGrad: UnsafeMutablePointer<Float>!, biasGrad: UnsafeMutablePointer<Float>!

    let output = Tensor(shape: [0])
    let inputGrad = Tensor(shape: [0])
    let columns = Tensor(shape: [0])       // [C*k*k, chunk*OH*OW], one chunk of the batch at a time
    let columnGrad = Tensor(shape: [0])
    let padded = Tensor(shape: [0])        // direct path: zero-padded input planes, kept for backward
    /// Tests turn this off to compare the direct path with im2col + SGEMM.
    var allowsDirectPath = true
    var inShape: [Int] = []

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
        if usesDirectPath(outputWidth: ow) {
            forwardDirect(x, n: n, h: x.shape[2], w: x.shape[3], oh: oh, ow: ow)
            return output
        }
        // The batch goes through in chunks whose columns stay in L2, instead of streaming megabytes
        // of columns through memory; backward rebuilds each chunk's columns (cheaper than keeping them).
        input = x
        let chunk = chunkSize(n: n, rows: rows, outputPlane: oh * ow, training: training)
        columns.resize([rows, chunk * oh * ow])
        var first = 0
        while first < n {
            let count = min(chunk, n - first)
            let cp = count * oh * ow
            im2col(x, into: columns.data, first: first, count: count, n: n, h: x.shape[2], w: x.shape[3], oh: oh, ow: ow)
            // y[K, first*P' ..< (first+count)*P'] = W[K, rows] * col[rows, cp] + b, the bias added
            // while the chunk is still in cache
            let y = output.data + first * oh * ow
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(cp), Int32(rows),
                        1, weight, Int32(rows), columns.data, Int32(cp), 0, y, Int32(p))
            for k in 0..<outChannels { vectorAdd(bias[k], to: y + k * p, cp) }
            first += count
        }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let n = inShape[1], h = inShape[2], w = inShape[3]
        let oh = dy.shape[2], ow = dy.shape[3]
        let p = n * oh * ow, rows = inChannels * kernel * kernel
        if usesDirectPath(outputWidth: ow) {
            backwardDirect(dy, n: n, oh: oh, ow: ow)
            inputGrad.resize(inShape)
            return inputGrad
        }
        for k in 0..<outChannels { biasGrad[k] += vectorSum(dy.data + k * p, p) }
        inputGrad.resize(inShape)
        let x = input!
        let chunk = chunkSize(n: n, rows: rows, outputPlane: oh * ow, training: true)
        columns.resize([rows, chunk * oh * ow])
        if needsInputGradient { columnGrad.resize([rows, chunk * oh * ow]) }
        var first = 0
        while first < n {
            let count = min(chunk, n - first)
            let cp = count * oh * ow, dyChunk = dy.data + first * oh * ow
            im2col(x, into: columns.data, first: first, count: count, n: n, h: h, w: w, oh: oh, ow: ow)
            // dW[K, rows] += dy[K, chunk] * col^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(outChannels), Int32(rows), Int32(cp),
                        1, dyChunk, Int32(p), columns.data, Int32(cp), 1, weightGrad, Int32(rows))
            if needsInputGradient {
                // dcol[rows, chunk] = W^T * dy[K, chunk]
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(cp), Int32(outChannels),
                            1, weight, Int32(rows), dyChunk, Int32(p), 0, columnGrad.data, Int32(cp))
                col2im(columnGrad.data, into: inputGrad, first: first, count: count, n: n, h: h, w: w, oh: oh, ow: ow)
            }
            first += count
        }
        return inputGrad
    }

    private var input: Tensor?

    func chunkSize(n: Int, rows: Int, outputPlane: Int, training: Bool) -> Int {
        let budget = training ? trainingColumnBudget : inferenceColumnBudget
        return max(1, min(n, budget / max(1, rows * outputPlane)))
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
                            for ox in 0..<ox0 { row[ox] = 0 }
                            copyShortRow(row + ox0, from: src + iy * w + ox0 + kx - padding, count: ox1 - ox0)
                            for ox in ox1..<ow { row[ox] = 0 }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of im2col: dx[c, first+b, iy, ix] = sum of the column entries that read it,
    /// for the `count` images from `first` (whose gradient planes it overwrites).
    private func col2im(_ col: UnsafeMutablePointer<Float>, into dx: Tensor, first: Int, count: Int, n: Int,
                        h: Int, w: Int, oh: Int, ow: Int) {
        let p = count * oh * ow
        for c in 0..<inChannels {
            (dx.data + (c * n + first) * h * w).update(repeating: 0, count: count * h * w)
        }
        for c in 0..<inChannels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    let src = col + ((c * kernel + ky) * kernel + kx) * p
                    let ox0 = max(0, padding - kx), ox1 = min(ow, w + padding - kx)
                    guard ox1 > ox0 else { continue }
                    for b in 0..<count {
                        let dst = dx.data + (c * n + first + b) * h * w
                        for oy in 0..<oh {
                            let iy = oy + ky - padding
                            if iy < 0 || iy >= h { continue }
                            let s = src + (b * oh + oy) * ow
                            let d = dst + iy * w + kx - padding
                            addShortRow(d + ox0, s + ox0, count: ox1 - ox0)
                        }
                    }
                }
            }
        }
    }

    /// im2col and col2im move rows of a few floats (11 for a 13x13 input): a memmove call per
    /// row cost more than the copy, so these are inline 8-lane loops.
    @inline(__always)
    private func copyShortRow(_ d: UnsafeMutablePointer<Float>, from s: UnsafePointer<Float>, count n: Int) {
        let rd = UnsafeMutableRawPointer(d), rs = UnsafeRawPointer(s)
        if n >= 8 {
            var i = 0
            while i + 8 <= n {
                rd.storeBytes(of: rs.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self), toByteOffset: 4 * i, as: SIMD8<Float>.self)
                i += 8
            }
            // the last, partial group: one overlapping 8-float copy
            if i < n {
                rd.storeBytes(of: rs.loadUnaligned(fromByteOffset: 4 * (n - 8), as: SIMD8<Float>.self),
                              toByteOffset: 4 * (n - 8), as: SIMD8<Float>.self)
            }
            return
        }
        var i = 0
        if n >= 4 {
            rd.storeBytes(of: rs.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            i = 4
        }
        while i < n { d[i] = s[i]; i += 1 }
    }

    @inline(__always)
    private func addShortRow(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, count n: Int) {
        var i = 0
        while i + 8 <= n {
            let r = UnsafeMutableRawPointer(d + i)
            r.storeBytes(of: r.loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self),
                         as: SIMD8<Float>.self)
            i += 8
        }
        if i + 4 <= n {
            let r = UnsafeMutableRawPointer(d + i)
            r.storeBytes(of: r.loadUnaligned(as: SIMD4<Float>.self) + UnsafeRawPointer(s + i).loadUnaligned(as: SIMD4<Float>.self),
                         as: SIMD4<Float>.self)
            i += 4
        }
        while i < n { d[i] += s[i]; i += 1 }
    }

    // MARK: direct path for the first layer

    /// A one-channel input (the image) makes im2col + SGEMM a poor fit: the GEMM's inner
    /// dimension is only k*k = 9, so packing and copying the columns cost more than the
    /// multiply-adds. Instead each output row (at most 32 wide: two 16-lane vectors) is
    /// accumulated in registers from k*k shifted rows of the zero-padded image. Only the first
    /// layer qualifies (no input gradient is needed).
    func usesDirectPath(outputWidth ow: Int) -> Bool {
        allowsDirectPath && inChannels == 1 && !needsInputGradient && ow <= 32
    }

    /// Copies the batch into zero-padded planes of `(h + 2p) x (w + 2p)`, with 32 spare floats
    /// at the end so a 32-lane row load never leaves the buffer.
    private func padInput(_ x: Tensor, n: Int, h: Int, w: Int) -> (stride: Int, plane: Int) {
        let s = w + 2 * padding, plane = (h + 2 * padding) * s
        padded.resize([n * plane + 32])
        padded.zero()
        for b in 0..<n {
            for y in 0..<h {
                (padded.data + b * plane + (y + padding) * s + padding).update(from: x.data + (b * h + y) * w, count: w)
            }
        }
        return (s, plane)
    }

    /// One output row of the direct convolution: 32 outputs accumulated in two SIMD16 registers
    /// from the `kernel` shifted rows of the padded plane starting `byteOffset` bytes into `src`.
    @inline(__always)
    private func directRow(_ src: UnsafeRawPointer, byteOffset: Int, weights wo: UnsafeMutablePointer<Float>, kernel k: Int,
                           rowStride s: Int, bias: Float) -> (SIMD16<Float>, SIMD16<Float>) {
        var a0 = SIMD16<Float>(repeating: bias), a1 = a0
        var at = byteOffset
        for ky in 0..<k {
            for kx in 0..<k {
                let w16 = SIMD16<Float>(repeating: wo[ky * k + kx])
                a0 = a0.addingProduct(w16, src.loadUnaligned(fromByteOffset: at + 4 * kx, as: SIMD16<Float>.self))
                a1 = a1.addingProduct(w16, src.loadUnaligned(fromByteOffset: at + 4 * kx + 64, as: SIMD16<Float>.self))
            }
            at += 4 * s
        }
        return (a0, a1)
    }

    private func forwardDirect(_ x: Tensor, n: Int, h: Int, w: Int, oh: Int, ow: Int) {
        let (s, plane) = padInput(x, n: n, h: h, w: w)
        let src = UnsafeRawPointer(padded.data), k = kernel, kk = k * k
        let p = n * oh * ow, total = outChannels * p
        var last = (SIMD16<Float>(), SIMD16<Float>())
        for o in 0..<outChannels {
            let wo = weight + o * kk, b0 = bias[o]
            for b in 0..<n {
                let dst = output.data + o * p + b * oh * ow
                for oy in 0..<oh {
                    let (a0, a1) = directRow(src, byteOffset: 4 * (b * plane + oy * s), weights: wo, kernel: k, rowStride: s, bias: b0)
                    // Rows are written in order, so the lanes past `ow` land on the next row and
                    // are overwritten by it; only the very last row must not spill past the tensor.
                    let row = dst + oy * ow
                    if row - output.data + 32 <= total {
                        let r = UnsafeMutableRawPointer(row)
                        r.storeBytes(of: a0, toByteOffset: 0, as: SIMD16<Float>.self)
                        r.storeBytes(of: a1, toByteOffset: 64, as: SIMD16<Float>.self)
                    } else {
                        last = (a0, a1)
                        withUnsafeBytes(of: &last) { row.update(from: $0.baseAddress!.assumingMemoryBound(to: Float.self), count: ow) }
                    }
                }
            }
        }
    }

    /// dW[o, ky, kx] = sum over images and output positions of dy[o, b, oy, ox] * image[oy+ky-p, ox+kx-p];
    /// db[o] = sum of dy[o]. Each output row of dy is masked to its `ow` lanes.
    private func backwardDirect(_ dy: Tensor, n: Int, oh: Int, ow: Int) {
        let s = inShape[3] + 2 * padding, plane = (inShape[2] + 2 * padding) * s
        let src = UnsafeRawPointer(padded.data), k = kernel
        let p = n * oh * ow
        var lanes0 = SIMD16<Float>(), lanes1 = SIMD16<Float>()
        for i in 0..<16 { lanes0[i] = i < ow ? 1 : 0; lanes1[i] = i + 16 < ow ? 1 : 0 }
        var tail = (SIMD16<Float>(), SIMD16<Float>())
        /// One masked row of dy (32 lanes; zeros past `ow`, and never read past the tensor).
        @inline(__always) func dyRow(_ row: UnsafeMutablePointer<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
            if row - dy.data + 32 <= dy.count {
                let r = UnsafeRawPointer(row)
                return (r.loadUnaligned(as: SIMD16<Float>.self) * lanes0,
                        r.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) * lanes1)
            }
            tail = (SIMD16<Float>(), SIMD16<Float>())
            withUnsafeMutableBytes(of: &tail) { $0.baseAddress!.assumingMemoryBound(to: Float.self).update(from: row, count: ow) }
            return tail
        }
        if k == 3 {
            // 3x3: each dy row is loaded once per kernel row and feeds three kernel columns
            for o in 0..<outChannels {
                let g = dy.data + o * p
                biasGrad[o] += vectorSum(g, p)
                for ky in 0..<3 {
                    var a0 = SIMD16<Float>(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0
                    for b in 0..<n {
                        var at = 4 * (b * plane + ky * s)
                        var row = g + b * oh * ow
                        for _ in 0..<oh {
                            let (d0, d1) = dyRow(row)
                            a0 = a0.addingProduct(d0, src.loadUnaligned(fromByteOffset: at, as: SIMD16<Float>.self))
                            a1 = a1.addingProduct(d1, src.loadUnaligned(fromByteOffset: at + 64, as: SIMD16<Float>.self))
                            b0 = b0.addingProduct(d0, src.loadUnaligned(fromByteOffset: at + 4, as: SIMD16<Float>.self))
                            b1 = b1.addingProduct(d1, src.loadUnaligned(fromByteOffset: at + 68, as: SIMD16<Float>.self))
                            c0 = c0.addingProduct(d0, src.loadUnaligned(fromByteOffset: at + 8, as: SIMD16<Float>.self))
                            c1 = c1.addingProduct(d1, src.loadUnaligned(fromByteOffset: at + 72, as: SIMD16<Float>.self))
                            at += 4 * s
                            row += ow
                        }
                    }
                    weightGrad[(o * 3 + ky) * 3] += (a0 + a1).sum()
                    weightGrad[(o * 3 + ky) * 3 + 1] += (b0 + b1).sum()
                    weightGrad[(o * 3 + ky) * 3 + 2] += (c0 + c1).sum()
                }
            }
            return
        }
        for o in 0..<outChannels {
            let g = dy.data + o * p
            biasGrad[o] += vectorSum(g, p)
            for ky in 0..<k {
                for kx in 0..<k {
                    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
                    for b in 0..<n {
                        var at = 4 * (b * plane + ky * s + kx)
                        var row = g + b * oh * ow
                        for _ in 0..<oh {
                            let (d0, d1) = dyRow(row)
                            a0 = a0.addingProduct(d0, src.loadUnaligned(fromByteOffset: at, as: SIMD16<Float>.self))
                            a1 = a1.addingProduct(d1, src.loadUnaligned(fromByteOffset: at + 64, as: SIMD16<Float>.self))
                            at += 4 * s
                            row += ow
                        }
                    }
                    weightGrad[(o * k + ky) * k + kx] += (a0 + a1).sum()
                }
            }
        }
    }
}

// MARK: fused inference blocks

/// Where a fused inference block writes channel `c` of image `b`: the plane at
/// `base + offset + c * channelStride + b * imageStride`, its rows `rowStride` apart. Writing into
/// the interior of the next convolution's zero-padded planes makes that convolution's im2col a
/// plain row copy; writing in `[N, C*H*W]` order makes a following flatten free.
struct PlaneLayout {
    var channelStride: Int, imageStride: Int, rowStride: Int, offset: Int
}

/// The epilogue of a fused block for one plane: optional 2x2 max pool (floor), plus `bias`
/// (when `addsBias`), optional ReLU; `src` rows `srcStride` apart, `oh x ow` before pooling.
/// The same comparisons as MaxPool and ReLU; the bias is added after the pool instead of
/// before, which gives the same floats (rounding is monotonic: max(a+b, c+b) = max(a, c) + b).
@inline(__always)
func finishPlane(_ src: UnsafePointer<Float>, srcStride: Int, oh: Int, ow: Int, bias: Float, addsBias: Bool,
                 pool: Bool, relu: Bool, into dst: UnsafeMutablePointer<Float>, dstStride: Int) {
    if pool {
        for py in 0..<(oh / 2) {
            let r0 = src + 2 * py * srcStride, r1 = r0 + srcStride, d = dst + py * dstStride
            for px in 0..<(ow / 2) {
                let a = r0[2 * px], b = r0[2 * px + 1], c = r1[2 * px], e = r1[2 * px + 1]
                let m0 = a > b ? a : b, m1 = c > e ? c : e
                var v = m0 > m1 ? m0 : m1
                if addsBias { v = v + bias }
                d[px] = relu ? (v > 0 ? v : 0) : v
            }
        }
    } else {
        for y in 0..<oh {
            let r = src + y * srcStride, d = dst + y * dstStride
            for x in 0..<ow {
                var v = r[x]
                if addsBias { v = v + bias }
                d[x] = relu ? (v > 0 ? v : 0) : v
            }
        }
    }
}

extension Conv2D {
    /// Inference through `conv[,pool2][,relu]` in one pass per chunk of the batch: x is `n`
    /// zero-padded planes per input channel (`[C, N, H+2p, W+2p]`, rows `stride` floats, planes
    /// `plane` floats, with 32 spare floats at the end), h x w inside the padding. The result
    /// goes to `dst` laid out as `layout`. Same floats as the layers one by one: the direct
    /// path accumulates in the same order, the GEMM path multiplies the same columns in the same
    /// chunks.
    func forwardFused(padded x: UnsafePointer<Float>, n: Int, h: Int, w: Int, stride s: Int, plane: Int,
                      pool: Bool, relu: Bool, into dst: UnsafeMutablePointer<Float>, layout: PlaneLayout) {
        let oh = h + 2 * padding - kernel + 1, ow = w + 2 * padding - kernel + 1
        let k = kernel, kk = k * k
        @inline(__always) func target(_ o: Int, _ b: Int) -> UnsafeMutablePointer<Float> {
            dst + layout.offset + o * layout.channelStride + b * layout.imageStride
        }
        if usesDirectPath(outputWidth: ow) {
            // The direct path (see forwardDirect), one output plane at a time into a scratch
            // plane of 32-float rows, then the epilogue from there while it is in L1.
            columns.resize([oh * 32 + 32])
            let scratch = columns.data, src = UnsafeRawPointer(x)
            for o in 0..<outChannels {
                let wo = weight + o * kk, b0 = bias[o]
                for b in 0..<n {
                    for oy in 0..<oh {
                        let (a0, a1) = directRow(src, byteOffset: 4 * (b * plane + oy * s), weights: wo, kernel: k, rowStride: s, bias: b0)
                        let r = UnsafeMutableRawPointer(scratch + oy * 32)
                        r.storeBytes(of: a0, toByteOffset: 0, as: SIMD16<Float>.self)
                        r.storeBytes(of: a1, toByteOffset: 64, as: SIMD16<Float>.self)
                    }
                    finishPlane(scratch, srcStride: 32, oh: oh, ow: ow, bias: 0, addsBias: false, pool: pool, relu: relu,
                                into: target(o, b), dstStride: layout.rowStride)
                }
            }
            return
        }
        let rows = inChannels * kk, p = n * oh * ow
        output.resize([outChannels, n, oh, ow])
        let chunk = chunkSize(n: n, rows: rows, outputPlane: oh * ow, training: false)
        columns.resize([rows, chunk * oh * ow + 16])
        var first = 0
        while first < n {
            let count = min(chunk, n - first)
            let cp = count * oh * ow
            im2colPadded(x, into: columns.data, first: first, count: count, n: n, stride: s, plane: plane, oh: oh, ow: ow)
            let y = output.data + first * oh * ow
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(cp), Int32(rows),
                        1, weight, Int32(rows), columns.data, Int32(cp), 0, y, Int32(p))
            for o in 0..<outChannels {
                for b in 0..<count {
                    finishPlane(y + o * p + b * oh * ow, srcStride: ow, oh: oh, ow: ow, bias: bias[o], addsBias: true,
                                pool: pool, relu: relu, into: target(o, first + b), dstStride: layout.rowStride)
                }
            }
            first += count
        }
    }

    /// im2col from zero-padded planes: no edge cases, each column row a copy of `ow` floats
    /// (16 at a time, the excess landing on the next row, which overwrites it; the columns
    /// have 16 spare floats at the end and the planes 32).
    private func im2colPadded(_ x: UnsafePointer<Float>, into col: UnsafeMutablePointer<Float>, first: Int, count: Int, n: Int,
                              stride s: Int, plane: Int, oh: Int, ow: Int) {
        let p = count * oh * ow
        for c in 0..<inChannels {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    var dst = col + ((c * kernel + ky) * kernel + kx) * p
                    for b in 0..<count {
                        var src = x + (c * n + first + b) * plane + ky * s + kx
                        if ow <= 16 {
                            for _ in 0..<oh {
                                UnsafeMutableRawPointer(dst).storeBytes(of: UnsafeRawPointer(src).loadUnaligned(as: SIMD16<Float>.self),
                                                                        as: SIMD16<Float>.self)
                                dst += ow; src += s
                            }
                        } else {
                            for _ in 0..<oh {
                                dst.update(from: src, count: ow)
                                dst += ow; src += s
                            }
                        }
                    }
                }
            }
        }
    }
}
