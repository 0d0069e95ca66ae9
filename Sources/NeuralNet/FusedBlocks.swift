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
    /// time from 16-float loads split into even and odd columns, then four, then one. (The
    /// eight- and four-lane bodies are the same code on different widths: written once as a
    /// generic over SIMD types it was not specialised and ran 10x slower.)
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
    func maskedSums(y: UnsafePointer<Float>, g: UnsafePointer<Float>, x: UnsafePointer<Float>,
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

/// The first block, `conv(1 channel),bn,relu,pool2`, backward without ever forming the
/// convolution's output gradient.
///
/// The batch norm's input gradient is dx = a + b·x everywhere, plus s·g at the pool's open
/// arg-max positions (FusedBlocks above), and x = w·patch + c is the convolution itself. So the
/// first layer's weight gradient, Σ over positions P of dx(P)·patch(P), is
///
///   dW = a·S + b·(w·G + c·S) + s·Σ_open g·patch(argmax),   dc = a·M + b·(w·S + c·M) + s·Σ_open g,
///
/// with S = Σ patch and G = Σ patch·patchᵀ over all M positions — one small Gram matrix per
/// batch, shared by every output channel. Only the sparse arg-max terms remain per channel,
/// instead of writing and re-reading a dense gradient four times the pooled size.
extension Conv2D {
    func backwardFirstBlock(_ dp: Tensor, batchNorm bn: BatchNorm, pool: MaxPool) {
        let n = inShape[1], s = inShape[3] + 2 * padding, plane = (inShape[2] + 2 * padding) * s
        let oh = pool.inShape[2], ow = pool.inShape[3], per = dp.shape[2] * dp.shape[3]
        let k = kernel, kk = k * k, positions = n * oh * ow
        let fm = Float(positions)
        // S and G over every output position, 32 lanes (one output row) at a time
        var lanes0 = SIMD16<Float>(), lanes1 = SIMD16<Float>()
        for i in 0..<16 { lanes0[i] = i < ow ? 1 : 0; lanes1[i] = i + 16 < ow ? 1 : 0 }
        var sums = [Float](repeating: 0, count: kk), gram = [Float](repeating: 0, count: kk * kk)
        withUnsafeTemporaryAllocation(of: SIMD16<Float>.self, capacity: 4 * kk + 2 * kk * kk) { buffer in
            let rows = buffer.baseAddress!, sumAcc = rows + 2 * kk, acc = sumAcc + 2 * kk
            acc.initialize(repeating: SIMD16<Float>(), count: 2 * kk * kk)
            sumAcc.initialize(repeating: SIMD16<Float>(), count: 2 * kk)
            let src = UnsafeRawPointer(padded.data)
            for b in 0..<n {
                for oy in 0..<oh {
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let at = 4 * (b * plane + (oy + ky) * s + kx), r = ky * k + kx
                            rows[2 * r] = src.loadUnaligned(fromByteOffset: at, as: SIMD16<Float>.self) * lanes0
                            rows[2 * r + 1] = src.loadUnaligned(fromByteOffset: at + 64, as: SIMD16<Float>.self) * lanes1
                        }
                    }
                    for r in 0..<kk {
                        let u0 = rows[2 * r], u1 = rows[2 * r + 1]
                        sumAcc[2 * r] += u0; sumAcc[2 * r + 1] += u1
                        for q in r..<kk {
                            let e = 2 * (r * kk + q)
                            acc[e] = acc[e].addingProduct(u0, rows[2 * q])
                            acc[e + 1] = acc[e + 1].addingProduct(u1, rows[2 * q + 1])
                        }
                    }
                }
            }
            for r in 0..<kk {
                sums[r] = (sumAcc[2 * r] + sumAcc[2 * r + 1]).sum()
                for q in r..<kk {
                    let v = (acc[2 * (r * kk + q)] + acc[2 * (r * kk + q) + 1]).sum()
                    gram[r * kk + q] = v; gram[q * kk + r] = v
                }
            }
        }
        var spikes = [Float](repeating: 0, count: kk)
        pool.argmax.withUnsafeBufferPointer { am in
            for o in 0..<outChannels {
                let mean = bn.batchMean[o], invStd = bn.inverseStd[o]
                let base = o * n * per
                let (sg, sgx) = bn.maskedSums(y: pool.output.data + base, g: dp.data + base,
                                              x: bn.pooledInputs.data + base, mean: mean, inverseStd: invStd,
                                              count: n * per)
                bn.gammaGrad[o] += sgx
                bn.betaGrad[o] += sg
                let kcoef = bn.gamma[o] * invStd / fm
                let bcoef = -kcoef * sgx * invStd, acoef = -kcoef * sg - bcoef * mean, spike = kcoef * fm
                // Σ over open arg-max positions of g · patch: each kernel row of the patch is one
                // 8-float load (k ≤ 7), branch-free (a closed position adds 0)
                spikes.withUnsafeMutableBufferPointer { sp in
                    openPatchSums(y: pool.output.data + base, g: dp.data + base, argmax: am.baseAddress! + base,
                                  n: n, per: per, pooledWidth: dp.shape[3], ow: ow, stride: s, plane: plane,
                                  into: sp.baseAddress!)
                }
                let w = weight + o * kk, c = bias[o]
                var total: Float = 0   // Σ x = w·S + c·M
                for r in 0..<kk { total += w[r] * sums[r] }
                total += c * fm
                for r in 0..<kk {
                    var wg: Float = 0
                    for q in 0..<kk { wg += w[q] * gram[q * kk + r] }
                    weightGrad[o * kk + r] += acoef * sums[r] + bcoef * (wg + c * sums[r]) + spike * spikes[r]
                }
                biasGrad[o] += acoef * fm + bcoef * total + spike * sg
            }
        }
    }

    /// spikes[ky·k + kx] = Σ over pooled outputs q with y_q > 0 of g_q · image[iy+ky, ix+kx],
    /// (iy, ix) the arg-max of q in the convolution's output (rows `ow` wide, pooled rows `pw`).
    /// y, g and argmax point at one channel's `n * per` pooled outputs.
    private func openPatchSums(y: UnsafePointer<Float>, g: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                               n: Int, per: Int, pooledWidth pw: Int, ow: Int, stride s: Int, plane: Int,
                               into spikes: UnsafeMutablePointer<Float>) {
        let k = kernel
        var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0
        var pooledRow = 0, rowEnd = pw
        for image in 0..<n {
            let img = UnsafeRawPointer(padded.data + image * plane)
            for i in 0..<per {
                let q = image * per + i
                let v = y[q] > 0 ? g[q] : 0
                // the arg-max (iy, ix) from its index: iy is twice the pooled row, or one more
                if i == 0 { pooledRow = 0; rowEnd = pw } else if i == rowEnd { pooledRow += 1; rowEnd += pw }
                let j = Int(argmax[q]), top = 2 * pooledRow * ow
                let down = j - top >= ow ? 1 : 0
                let iy = 2 * pooledRow + down, ix = j - top - down * ow
                let at = 4 * (iy * s + ix), step = 4 * s
                let vv = SIMD8<Float>(repeating: v)
                a0 = a0.addingProduct(vv, img.loadUnaligned(fromByteOffset: at, as: SIMD8<Float>.self))
                a1 = a1.addingProduct(vv, img.loadUnaligned(fromByteOffset: at + step, as: SIMD8<Float>.self))
                a2 = a2.addingProduct(vv, img.loadUnaligned(fromByteOffset: at + 2 * step, as: SIMD8<Float>.self))
                if k > 3 {
                    a3 = a3.addingProduct(vv, img.loadUnaligned(fromByteOffset: at + 3 * step, as: SIMD8<Float>.self))
                    if k > 4 { a4 = a4.addingProduct(vv, img.loadUnaligned(fromByteOffset: at + 4 * step, as: SIMD8<Float>.self)) }
                    if k > 5 { a5 = a5.addingProduct(vv, img.loadUnaligned(fromByteOffset: at + 5 * step, as: SIMD8<Float>.self)) }
                    if k > 6 { a6 = a6.addingProduct(vv, img.loadUnaligned(fromByteOffset: at + 6 * step, as: SIMD8<Float>.self)) }
                }
            }
        }
        var rows = (a0, a1, a2, a3, a4, a5, a6)
        withUnsafeBytes(of: &rows) { raw in
            let lanes = raw.bindMemory(to: Float.self)   // kernel row ky at lanes 8·ky ..< 8·ky + 8
            for ky in 0..<k {
                for kx in 0..<k { spikes[ky * k + kx] = lanes[8 * ky + kx] }
            }
        }
    }
}
