import Foundation
import Testing
@testable import NeuralNet

struct AdamWTests {
    /// The vectorised step equals the textbook per-parameter AdamW (Loshchilov & Hutter 2019),
    /// including the scalar tail (37 is not a multiple of 16), and leaves non-learnable
    /// parameters (running statistics) untouched.
    @Test func vectorisedStepMatchesTheScalarDefinition() {
        let n = 37
        var rng = RandomSource(seed: 4)
        var values = (0..<n).map { _ in rng.normal() }
        let decay: [Float] = (0..<n).map { $0 % 3 == 0 ? 0 : 1 }
        let learnable: [Float] = (0..<n).map { $0 % 5 == 4 ? 0 : 1 }
        var reference = values
        var m = [Float](repeating: 0, count: n), v = m
        var optimiser = AdamW(parameterCount: n, weightDecay: 0.01)
        let lr: Float = 0.003
        for t in 1...3 {
            let grads = (0..<n).map { i in learnable[i] == 0 ? 0 : rng.normal() }
            optimiser.update(values: &values, gradients: grads, decayMask: decay, learnableMask: learnable,
                             count: n, learningRate: lr)
            for i in 0..<n where learnable[i] != 0 {
                m[i] = 0.9 * m[i] + 0.1 * grads[i]
                v[i] = 0.999 * v[i] + 0.001 * grads[i] * grads[i]
                let mh = m[i] / (1 - powf(0.9, Float(t))), vh = v[i] / (1 - powf(0.999, Float(t)))
                reference[i] -= lr * mh / (vh.squareRoot() + 1e-8) + 0.01 * lr * decay[i] * reference[i]
            }
        }
        for i in 0..<n {
            #expect(abs(values[i] - reference[i]) <= 1e-5 * max(1, abs(reference[i])), "parameter \(i)")
        }
        #expect(values[4] == reference[4], "a non-learnable parameter changed")
    }
}
