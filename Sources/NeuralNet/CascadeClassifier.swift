/// A two-stage classifier: a small, cheap *screen* network reads every crop; only the crops it
/// is not sure of (its top probability below `threshold`) go to the *full* network, whose answer
/// then replaces the screen's for that row. Most crops of a frame are clear digits or clear
/// non-digits, so the frame costs about one screen pass plus a full pass over a few crops.
///
/// One batched screen pass, then one batched full pass over the escalated rows (gathered into a
/// contiguous buffer), their probabilities scattered back in order. Buffers grow to the largest
/// batch seen and are reused, so steady-state calls do not allocate.
/// Not thread-safe (nor are the networks inside): one per thread.
public final class CascadeClassifier: DigitClassifier {
    /// The threshold for the shipped screen (`Models/digitd-screen.safetensors`, trained on MNIST
    /// and scene crops with label smoothing 0.1, so its top probability tops out near 0.91):
    /// with it the cascade keeps the default model's 99.60% on the MNIST test set (4% of digits
    /// escalated) and the scene model's F1 on generated scenes within 0.0004 (11% of a 1280x720
    /// frame's crops escalated); 0.8 escalates twice as many for 0.0004 more F1 (README, "The cascade").
    public static let defaultThreshold: Float = 0.7
    /// The screen model's file name, looked for beside the full model.
    public static let screenFileName = "digitd-screen.safetensors"
    /// The scene model's own screen (trained on the same scene crops), looked for beside it.
    public static let sceneScreenFileName = "digitd-scene-screen.safetensors"

    /// What an escalated row's answer becomes.
    public enum Combination: Sendable {
        /// The full model's probabilities (a cheap screen in front of a strong model).
        case replace
        /// The mean of both models' probabilities (a second opinion of an equal model on the
        /// crops the first is unsure of: an ensemble paid for only where it can change the answer).
        case average
    }

    public let screen: DigitClassifier
    public let full: DigitClassifier
    /// Rows whose screen top probability is below this are escalated to the full model.
    public var threshold: Float
    public let combination: Combination
    public var classCount: Int { full.classCount }

    /// Crops screened and escalated since creation (or `resetCounts`).
    public private(set) var screenedCount = 0
    public private(set) var escalatedCount = 0
    /// Fraction of screened crops that went to the full model.
    public var escalatedFraction: Double { screenedCount == 0 ? 0 : Double(escalatedCount) / Double(screenedCount) }
    public func resetCounts() { screenedCount = 0; escalatedCount = 0 }

    private var gathered: UnsafeMutablePointer<Float>
    private var fullProbabilities: UnsafeMutablePointer<Float>
    private var rows: UnsafeMutablePointer<Int>
    private var capacity = 0

    public init(screen: DigitClassifier, full: DigitClassifier, threshold: Float = CascadeClassifier.defaultThreshold,
                combination: Combination = .replace) throws {
        guard screen.classCount == full.classCount else {
            throw NetworkError("cascade: the first model has \(screen.classCount) classes, the second \(full.classCount)")
        }
        self.screen = screen; self.full = full; self.threshold = threshold; self.combination = combination
        gathered = .allocate(capacity: 1); fullProbabilities = .allocate(capacity: 1); rows = .allocate(capacity: 1)
    }

    deinit { gathered.deallocate(); fullProbabilities.deallocate(); rows.deallocate() }

    private func reserve(_ n: Int) {
        guard n > capacity else { return }
        let c = max(n, 2 * capacity, 32)
        gathered.deallocate(); fullProbabilities.deallocate(); rows.deallocate()
        gathered = .allocate(capacity: c * 784)
        fullProbabilities = .allocate(capacity: c * full.classCount)
        rows = .allocate(capacity: c)
        capacity = c
    }

    public func classify(_ inputs: UnsafeBufferPointer<Float>, count: Int,
                         into probabilities: UnsafeMutableBufferPointer<Float>) {
        let classes = classCount
        precondition(inputs.count >= count * 784 && probabilities.count >= count * classes)
        guard count > 0 else { return }
        screen.classify(inputs, count: count, into: probabilities)
        let p = probabilities.baseAddress!, x = inputs.baseAddress!
        reserve(count)
        var m = 0
        for i in 0..<count {
            let row = p + i * classes
            var top = row[0]
            for k in 1..<classes where row[k] > top { top = row[k] }
            // (NaN compares false: a broken screen answer escalates.)
            if !(top >= threshold) {
                rows[m] = i
                (gathered + m * 784).update(from: x + i * 784, count: 784)
                m += 1
            }
        }
        screenedCount += count
        escalatedCount += m
        guard m > 0 else { return }
        full.classify(UnsafeBufferPointer(start: gathered, count: m * 784), count: m,
                      into: UnsafeMutableBufferPointer(start: fullProbabilities, count: m * classes))
        switch combination {
        case .replace:
            for j in 0..<m { (p + rows[j] * classes).update(from: fullProbabilities + j * classes, count: classes) }
        case .average:
            for j in 0..<m {
                let row = p + rows[j] * classes, second = fullProbabilities + j * classes
                for k in 0..<classes { row[k] = 0.5 * (row[k] + second[k]) }
            }
        }
    }
}
