/// What the rest of digitd sees of the network: a batch of 28x28 crops in, class probabilities out.
///
/// Input contract: `count * 784` floats, each crop 28x28 row-major, MNIST polarity and scale:
/// 0 = background, 1 = full ink, the digit fitted in a 20x20 box and centred by centre of mass.
/// Output contract: `count * classCount` probabilities (softmax), row per crop. Classes 0...9 are
/// the digits; a model with `classCount == 11` has class 10 = "not a digit".
public protocol DigitClassifier: AnyObject {
    var classCount: Int { get }
    func classify(_ inputs: UnsafeBufferPointer<Float>, count: Int,
                  into probabilities: UnsafeMutableBufferPointer<Float>)
}

extension DigitClassifier {
    /// Convenience for tests and small batches: returns `count * classCount` probabilities.
    public func classify(_ inputs: [Float]) -> [Float] {
        precondition(inputs.count % 784 == 0, "classify: input is not a whole number of 28x28 crops")
        let n = inputs.count / 784
        var out = [Float](repeating: 0, count: n * classCount)
        inputs.withUnsafeBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in classify(i, count: n, into: o) }
        }
        return out
    }
}
