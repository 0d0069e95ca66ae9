import Foundation

/// A float32 buffer with a shape. Memory is owned, 64-byte aligned, and reused across batches:
/// layers keep their output and input-gradient tensors and `resize` them when the batch changes.
///
/// Layout convention inside the engine (see Network): convolutional activations are
/// channel-major `[C, N, H, W]` so a whole batch is one GEMM per convolution and batch norm
/// reads each channel contiguously; dense activations are `[N, F]`. The network's input
/// `[N, 1, 28, 28]` is the same bytes as `[1, N, 28, 28]`.
public final class Tensor {
    public private(set) var shape: [Int]
    public private(set) var count: Int
    public private(set) var data: UnsafeMutablePointer<Float>
    private var capacity: Int

    public init(shape: [Int]) {
        self.shape = shape
        count = shape.reduce(1, *)
        capacity = max(count, 1)
        data = Tensor.allocate(capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { data.deallocate() }

    private static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64).bindMemory(to: Float.self, capacity: n)
    }

    /// Changes the shape, keeping the allocation when it is big enough. Contents are unspecified.
    public func resize(_ newShape: [Int]) {
        let n = newShape.reduce(1, *)
        if n > capacity {
            data.deallocate()
            capacity = n
            data = Tensor.allocate(n)
            data.initialize(repeating: 0, count: n)
        }
        shape = newShape
        count = n
    }

    public func zero() { data.update(repeating: 0, count: count) }

    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }
}

/// A small, fast, seedable generator (xoshiro256**); the same seed gives the same run.
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var z = seed &+ 0x9E3779B97F4A7C15
        func splitmix(_ z: inout UInt64) -> UInt64 {
            z = z &+ 0x9E3779B97F4A7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58476D1CE4E5B9
            x = (x ^ (x >> 27)) &* 0x94D049BB133111EB
            return x ^ (x >> 31)
        }
        s0 = splitmix(&z); s1 = splitmix(&z); s2 = splitmix(&z); s3 = splitmix(&z)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Uniform in [a, b).
    @inline(__always)
    public mutating func uniform(_ a: Float, _ b: Float) -> Float { a + (b - a) * uniform() }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

import CBLAS

/// Threads OpenBLAS may use for one GEMM (1 for inference on one core, or when the caller
/// parallelises across batches itself).
public func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
