import Imaging
import NeuralNet
import Vision

/// One digit read in one image: where, what, how sure.
public struct Detection: Sendable, Equatable {
    public var box: Box
    public var digit: Int
    public var confidence: Float
    /// Class probabilities from the network (10 digits, then "not a digit" if the model has it).
    public var probabilities: [Float]
    public init(box: Box, digit: Int, confidence: Float, probabilities: [Float]) {
        self.box = box; self.digit = digit; self.confidence = confidence; self.probabilities = probabilities
    }
}

/// Neighbouring digits on one line, read left to right.
public struct NumberReading: Sendable, Equatable {
    public var value: String
    public var box: Box
    public var confidence: Float
    public init(value: String, box: Box, confidence: Float) {
        self.value = value; self.box = box; self.confidence = confidence
    }
}

/// Everything read in one image.
public struct FrameReading: Sendable {
    public var width: Int
    public var height: Int
    public var detections: [Detection]
    public var numbers: [NumberReading]
    /// Stage name -> milliseconds, in pipeline order.
    public var timings: [(stage: String, ms: Double)]
    public init(width: Int, height: Int, detections: [Detection], numbers: [NumberReading],
                timings: [(stage: String, ms: Double)]) {
        self.width = width; self.height = height; self.detections = detections
        self.numbers = numbers; self.timings = timings
    }
}
