/// `bn,relu,pool2` in training, as one forward and one backward.
///
/// Run layer by layer, this block streams the convolution's output through memory five times
/// forward (two statistics passes, normalise, ReLU, pool) and four times backward (zero, scatter,
/// two batch-norm passes), on tensors too large for L2. Fused, forward reads the convolution's
/// output x for the statistics and once more to write the pooled, rectified output
/// max(0, max(A·x + B)) directly (A = γ/σ, B = β − μ·A), keeping only the pool's arg-max and the
/// x there; x̂ is never stored — backward recomputes it from x, which the convolution still
/// holds. Backward uses that the gradient g reaching the batch norm is zero except at the
/// arg-max positions whose maximum was positive:
///
///   dγ = Σ g·x̂ and dβ = Σ g over those positions only, and
///   dx = γ/(σ·m) · (m·g − dβ − x̂·dγ) = (a + b·x) everywhere, plus γ/σ·g at those positions.
///
/// The network uses it for every `bn,relu,pool2` on convolution output while training
/// (Network.forward); the layers' own forward/backward stay the reference, and a test checks
/// the two agree.
extension BatchNorm {
    func forwardReLUPool(_ x: Tensor, pool: MaxPool) -> Tensor {
        let n = x.shape[1], h = x.shape[2], w = x.shape[3], oh = h / 2, ow = w / 2
        let m = n * h * w, plane = h * w, per = oh * ow
        fusedInput = x
        pool.inShape = x.shape
        pool.output.resize([channels, n, oh, ow])
        pooledInputs.resize(pool.output.shape)
        if pool.argmax.count < pool.output.count { pool.argmax = [Int32](repeating: 0, count: pool.output.count) }
        pool.argmax.withUnsafeMutableBufferPointer { am in
            for c in 0..<channels {
                let src = x.data + c * m
                let (mean, invStd) = channelStatistics(src, count: m, channel: c)
                batchMean[c] = mean
                let scale = gamma[c] * invStd, shift = beta[c] - mean * scale
                for image in 0..<n {
                    let outBase = (c * n + image) * per
                    poolPlane(src + image * plane, w: w, oh: oh, ow: ow, scale: scale, shift: shift,
                              into: pool.output.data + outBase, argmax: am.baseAddress! + outBase,
                              inputAtMaximum: pooledInputs.data + outBase)
                }
            }
        }
        return pool.output
    }

    func backwardReLUPool(_ dp: Tensor, pool: MaxPool) -> Tensor {
        let shape = pool.inShape, x = fusedInput!
        let n = shape[1], plane = shape[2] * shape[3], m = n * plane
        let per = dp.shape[2] * dp.shape[3]
        let fm = Float(m)
        inputGrad.resize(shape)
        pool.argmax.withUnsafeBufferPointer { am in
            for c in 0..<channels {
                let mean = batchMean[c], invStd = inverseStd[c]
                let (sg, sgx) = maskedSums(y: pool.output.data + c * n * per, g: dp.data + c * n * per,
                                           x: pooledInputs.data + c * n * per, mean: mean, inverseStd: invStd,
                                           count: n * per)
                gammaGrad[c] += sgx
                betaGrad[c] += sg
                guard needsInputGradient else { continue }
                let k = gamma[c] * invStd / fm
                // a + b·x̂ with x̂ = (x − μ)/σ
                let b = -k * sgx * invStd, a = -k * sg - b * mean, spike = k * fm
                let src = x.data + c * m, dx = inputGrad.data + c * m
                for i in 0..<m { dx[i] = a + b * src[i] }
                for image in 0..<n {
                    let o = (c * n + image) * per
                    let y = pool.output.data + o, g = dp.data + o, ind = am.baseAddress! + o
                    let dxp = dx + image * plane
                    for i in 0..<per where y[i] > 0 { dxp[Int(ind[i])] += spike * g[i] }
                }
            }
        }
        return inputGrad
    }

    /// max(0, max of scale·x + shift over each 2x2 window) of one plane, and where the maximum is (its
    /// index in the plane; ties go to the earlier position, as in MaxPool). Eight windows at a
    /// time from 16-float loads split into even and odd columns, then four, then one.
    @inline(__always)
    private func poolPlane(_ hp: UnsafePointer<Float>, w: Int, oh: Int, ow: Int, scale g: Float, shift b: Float,
                           into dst: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                           inputAtMaximum: UnsafeMutablePointer<Float>) {
        let w32 = Int32(w)
        let lane8 = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14), lane4 = SIMD4<Int32>(0, 2, 4, 6)
        for oy in 0..<oh {
            let r0 = UnsafeRawPointer(hp + 2 * oy * w), r1 = r0 + 4 * w
            let d = UnsafeMutableRawPointer(dst + oy * ow), ind = UnsafeMutableRawPointer(argmax + oy * ow)
            let hm = UnsafeMutableRawPointer(inputAtMaximum + oy * ow)
            let rowBase = Int32(2 * oy * w)
            var ox = 0
            while ox + 8 <= ow {
                let x0 = r0.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD16<Float>.self)
                let x1 = r1.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD16<Float>.self)
                let t = x0 * g + b, u = x1 * g + b
                let a = t.evenHalf, bb = t.oddHalf, cc = u.evenHalf, e = u.oddHalf
                let top = bb .> a, bottom = e .> cc
                let m0 = a.replacing(with: bb, where: top), m1 = cc.replacing(with: e, where: bottom)
                let second = m1 .> m0
                let best = m0.replacing(with: m1, where: second)
                let off0 = SIMD8<Int32>(repeating: 0).replacing(with: 1, where: top)
                let off1 = SIMD8<Int32>(repeating: w32).replacing(with: w32 + 1, where: bottom)
                let off = off0.replacing(with: off1, where: second)
                d.storeBytes(of: best.replacing(with: 0, where: best .< 0), toByteOffset: 4 * ox, as: SIMD8<Float>.self)
                let h0 = x0.evenHalf.replacing(with: x0.oddHalf, where: top)
                let h1 = x1.evenHalf.replacing(with: x1.oddHalf, where: bottom)
                hm.storeBytes(of: h0.replacing(with: h1, where: second), toByteOffset: 4 * ox, as: SIMD8<Float>.self)
                ind.storeBytes(of: SIMD8<Int32>(repeating: rowBase + Int32(2 * ox)) &+ lane8 &+ off,
                               toByteOffset: 4 * ox, as: SIMD8<Int32>.self)
                ox += 8
            }
            if ox + 4 <= ow {
                let x0 = r0.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD8<Float>.self)
                let x1 = r1.loadUnaligned(fromByteOffset: 8 * ox, as: SIMD8<Float>.self)
                let t = x0 * g + b, u = x1 * g + b
                let a = t.evenHalf, bb = t.oddHalf, cc = u.evenHalf, e = u.oddHalf
                let top = bb .> a, bottom = e .> cc
                let m0 = a.replacing(with: bb, where: top), m1 = cc.replacing(with: e, where: bottom)
                let second = m1 .> m0
                let best = m0.replacing(with: m1, where: second)
                let off0 = SIMD4<Int32>(repeating: 0).replacing(with: 1, where: top)
                let off1 = SIMD4<Int32>(repeating: w32).replacing(with: w32 + 1, where: bottom)
                let off = off0.replacing(with: off1, where: second)
                d.storeBytes(of: best.replacing(with: 0, where: best .< 0), toByteOffset: 4 * ox, as: SIMD4<Float>.self)
                let h0 = x0.evenHalf.replacing(with: x0.oddHalf, where: top)
                let h1 = x1.evenHalf.replacing(with: x1.oddHalf, where: bottom)
                hm.storeBytes(of: h0.replacing(with: h1, where: second), toByteOffset: 4 * ox, as: SIMD4<Float>.self)
                ind.storeBytes(of: SIMD4<Int32>(repeating: rowBase + Int32(2 * ox)) &+ lane4 &+ off,
                               toByteOffset: 4 * ox, as: SIMD4<Int32>.self)
                ox += 4
            }
            let p0 = r0.assumingMemoryBound(to: Float.self), p1 = r1.assumingMemoryBound(to: Float.self)
            let dd = d.assumingMemoryBound(to: Float.self), ii = ind.assumingMemoryBound(to: Int32.self)
            while ox < ow {
                let a = g * p0[2 * ox] + b, bb = g * p0[2 * ox + 1] + b
                let cc = g * p1[2 * ox] + b, e = g * p1[2 * ox + 1] + b
                let top = bb > a, bottom = e > cc
                let m0 = top ? bb : a, m1 = bottom ? e : cc
                let second = m1 > m0
                let best = second ? m1 : m0
                dd[ox] = best > 0 ? best : 0
                let h0 = top ? p0[2 * ox + 1] : p0[2 * ox], h1 = bottom ? p1[2 * ox + 1] : p1[2 * ox]
                hm.assumingMemoryBound(to: Float.self)[ox] = second ? h1 : h0
                let off0: Int32 = top ? 1 : 0, off1: Int32 = bottom ? w32 + 1 : w32
                ii[ox] = rowBase + Int32(2 * ox) + (second ? off1 : off0)
                ox += 1
            }
        }
    }

    /// Σ g and Σ g·x̂ (x̂ = (x − μ)/σ) over the positions where y > 0 (where the ReLU let the
    /// gradient through).
    @inline(__always)
    private func maskedSums(y: UnsafePointer<Float>, g: UnsafePointer<Float>, x: UnsafePointer<Float>,
                            mean: Float, inverseStd: Float, count: Int) -> (Float, Float) {
        var s0 = SIMD16<Float>(), d0 = SIMD16<Float>()
        let ry = UnsafeRawPointer(y), rg = UnsafeRawPointer(g), rx = UnsafeRawPointer(x)
        var i = 0
        while i + 16 <= count {
            let open = ry.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self) .> 0
            let v = SIMD16<Float>().replacing(with: rg.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self), where: open)
            s0 += v
            d0 += v * ((rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self) - mean) * inverseStd)
            i += 16
        }
        var sg = s0.sum(), sgx = d0.sum()
        while i < count {
            if y[i] > 0 { sg += g[i]; sgx += g[i] * ((x[i] - mean) * inverseStd) }
            i += 1
        }
        return (sg, sgx)
    }
}
