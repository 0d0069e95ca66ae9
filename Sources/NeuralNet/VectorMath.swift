/// Reductions over float buffers. A plain `for` loop summing floats cannot be vectorised (IEEE
/// addition is not associative, so the compiler keeps one serial chain with its add latency);
/// sixteen-lane accumulators let it use the vector units. Results differ from the serial sum
/// only in rounding.
@inline(__always)
func vectorSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 32 <= n {
        acc0 += raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        acc1 += raw.loadUnaligned(fromByteOffset: 4 * (i + 16), as: SIMD16<Float>.self)
        i += 32
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Sum of `(p[i] - mean)^2`.
@inline(__always)
func vectorSquaredDeviation(_ p: UnsafePointer<Float>, _ n: Int, mean: Float) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    let m = SIMD16<Float>(repeating: mean)
    var i = 0
    let raw = UnsafeRawPointer(p)
    while i + 32 <= n {
        let a = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self) - m
        let b = raw.loadUnaligned(fromByteOffset: 4 * (i + 16), as: SIMD16<Float>.self) - m
        acc0 += a * a
        acc1 += b * b
        i += 32
    }
    var s = (acc0 + acc1).sum()
    while i < n { let d = p[i] - mean; s += d * d; i += 1 }
    return s
}

/// Sum of `p[i]` and sum of `p[i] * q[i]`, in one pass.
@inline(__always)
func vectorSumAndDot(_ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ n: Int) -> (sum: Float, dot: Float) {
    var s0 = SIMD16<Float>(), d0 = SIMD16<Float>()
    var i = 0
    let rp = UnsafeRawPointer(p), rq = UnsafeRawPointer(q)
    while i + 16 <= n {
        let a = rp.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        let b = rq.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        s0 += a
        d0 += a * b
        i += 16
    }
    var s = s0.sum(), d = d0.sum()
    while i < n { s += p[i]; d += p[i] * q[i]; i += 1 }
    return (s, d)
}

/// `p[i] += value` for `n` floats.
@inline(__always)
func vectorAdd(_ value: Float, to p: UnsafeMutablePointer<Float>, _ n: Int) {
    let v = SIMD16<Float>(repeating: value), raw = UnsafeMutableRawPointer(p)
    var i = 0
    while i + 16 <= n {
        raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self) + v, toByteOffset: 4 * i, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { p[i] += value; i += 1 }
}
