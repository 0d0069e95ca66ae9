import Foundation

/// AdamW: Adam (Kingma & Ba 2015) with decoupled weight decay (Loshchilov & Hutter 2019).
/// Parameters, gradients and both moments are parallel flat arrays, so a step is one loop.
public struct AdamW {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float
    public private(set) var step: Int = 0
    var m: [Float], v: [Float]

    public init(parameterCount: Int, weightDecay: Float = 5e-4) {
        self.weightDecay = weightDecay
        m = [Float](repeating: 0, count: parameterCount)
        v = m
    }

    /// One update of `values` from `gradients`; `decayMask[i]` is 1 where weight decay applies.
    public mutating func update(values: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                                decayMask: UnsafePointer<Float>, learnableMask: UnsafePointer<Float>,
                                count: Int, learningRate: Float) {
        step += 1
        let c1 = 1 / (1 - powf(beta1, Float(step))), c2 = 1 / (1 - powf(beta2, Float(step)))
        let b1 = beta1, b2 = beta2, eps = epsilon, wd = weightDecay * learningRate
        m.withUnsafeMutableBufferPointer { mp in
            v.withUnsafeMutableBufferPointer { vp in
                // 16 parameters at a time, branch-free: a parameter that does not learn (running
                // statistics) has learnable 0, which zeroes its gradient and its whole update.
                typealias V = SIMD16<Float>
                let rv = UnsafeMutableRawPointer(values), rg = UnsafeRawPointer(gradients)
                let rd = UnsafeRawPointer(decayMask), rl = UnsafeRawPointer(learnableMask)
                let rm = UnsafeMutableRawPointer(mp.baseAddress!), rs = UnsafeMutableRawPointer(vp.baseAddress!)
                var i = 0
                while i + 16 <= count {
                    let o = 4 * i
                    let learn = rl.loadUnaligned(fromByteOffset: o, as: V.self)
                    let g = rg.loadUnaligned(fromByteOffset: o, as: V.self) * learn
                    let mi = b1 * rm.loadUnaligned(fromByteOffset: o, as: V.self) + (1 - b1) * g
                    let vi = b2 * rs.loadUnaligned(fromByteOffset: o, as: V.self) + (1 - b2) * g * g
                    rm.storeBytes(of: mi, toByteOffset: o, as: V.self)
                    rs.storeBytes(of: vi, toByteOffset: o, as: V.self)
                    let x = rv.loadUnaligned(fromByteOffset: o, as: V.self)
                    let step = learningRate * (mi * c1) / ((vi * c2).squareRoot() + eps)
                        + wd * rd.loadUnaligned(fromByteOffset: o, as: V.self) * x
                    rv.storeBytes(of: x - step * learn, toByteOffset: o, as: V.self)
                    i += 16
                }
                while i < count {
                    if learnableMask[i] != 0 {
                        let g = gradients[i]
                        let mi = b1 * mp[i] + (1 - b1) * g
                        let vi = b2 * vp[i] + (1 - b2) * g * g
                        mp[i] = mi; vp[i] = vi
                        values[i] -= learningRate * (mi * c1) / ((vi * c2).squareRoot() + eps) + wd * decayMask[i] * values[i]
                    }
                    i += 1
                }
            }
        }
    }

    /// Optimiser state for checkpoints: step, then m, then v.
    public var state: (step: Int, m: [Float], v: [Float]) { (step, m, v) }
    public mutating func restore(step: Int, m: [Float], v: [Float]) {
        precondition(m.count == self.m.count && v.count == self.v.count)
        self.step = step; self.m = m; self.v = v
    }
}

/// Learning rate: linear warm-up from `base/10` to `base`, then cosine decay to `base * final`.
public struct LearningRateSchedule: Sendable {
    public var base: Float, warmupSteps: Int, totalSteps: Int, finalFraction: Float
    public init(base: Float, warmupSteps: Int, totalSteps: Int, finalFraction: Float = 0.01) {
        self.base = base; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.finalFraction = finalFraction
    }
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return base * (0.1 + 0.9 * Float(step) / Float(max(warmupSteps, 1))) }
        let t = Float(step - warmupSteps) / Float(max(totalSteps - warmupSteps, 1))
        let cosine = 0.5 * (1 + cosf(.pi * min(t, 1)))
        return base * (finalFraction + (1 - finalFraction) * cosine)
    }
}
