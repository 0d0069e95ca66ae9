import Foundation

/// Softmax followed by cross-entropy against integer labels, with optional label smoothing
/// (Szegedy et al. 2016): the target is `1 - s` on the label and `s / K` spread over all classes.
/// logits `[N, K]`; returns the mean loss and writes d(mean loss)/d(logits) into `gradient`.
public enum SoftmaxCrossEntropy {
    public static func softmax(_ logits: UnsafePointer<Float>, _ probabilities: UnsafeMutablePointer<Float>, rows: Int, classes: Int) {
        for i in 0..<rows {
            let z = logits + i * classes, p = probabilities + i * classes
            var m = z[0]
            for k in 1..<classes { m = max(m, z[k]) }
            var s: Float = 0
            for k in 0..<classes { let e = expf(z[k] - m); p[k] = e; s += e }
            let inv = 1 / s
            for k in 0..<classes { p[k] *= inv }
        }
    }

    @discardableResult
    public static func lossAndGradient(logits: Tensor, labels: UnsafePointer<Int32>, smoothing: Float,
                                       gradient: Tensor) -> Float {
        let n = logits.shape[0], k = logits.shape[1]
        gradient.resize(logits.shape)
        softmax(logits.data, gradient.data, rows: n, classes: k)
        var loss: Double = 0
        let off = smoothing / Float(k), on = 1 - smoothing + off
        let scale = 1 / Float(n)
        for i in 0..<n {
            let p = gradient.data + i * k
            let y = Int(labels[i])
            for c in 0..<k {
                let t = c == y ? on : off
                if t > 0 { loss -= Double(t * logf(max(p[c], 1e-12))) }
                p[c] = (p[c] - t) * scale
            }
        }
        return Float(loss / Double(n))
    }
}
