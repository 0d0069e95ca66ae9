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

/// What the network saw, kept only when `RecognizerOptions.keepDebugImages` is set.
public struct RecognizerDebug: Sendable {
    /// The ink mask the detector worked on (255 = ink), at detection resolution.
    public var binary: GrayImage
    /// Input pixels per `binary` pixel (1 = full resolution, 2 = half, ...).
    public var binaryScale: Int
    /// Every candidate sent to the network, accepted or not.
    public var candidates: [RecognizerCandidate]
}

/// One candidate crop and the network's answer.
public struct RecognizerCandidate: Sendable {
    /// Box in input pixels.
    public var box: Box
    /// The 28x28 network input, row-major, 0 = background, 1 = ink.
    public var crop: [Float]
    /// The most probable digit and its probability.
    public var digit: Int
    public var confidence: Float
    /// Whether it became a `Detection`.
    public var accepted: Bool
}

/// Everything read in one image.
public struct FrameReading: Sendable {
    public var width: Int
    public var height: Int
    public var detections: [Detection]
    public var numbers: [NumberReading]
    /// Stage name -> milliseconds, in pipeline order.
    public var timings: [(stage: String, ms: Double)]
    /// Binary mask and crops, when asked for (see `RecognizerOptions.keepDebugImages`).
    public var debug: RecognizerDebug? = nil
    public init(width: Int, height: Int, detections: [Detection], numbers: [NumberReading],
                timings: [(stage: String, ms: Double)]) {
        self.width = width; self.height = height; self.detections = detections
        self.numbers = numbers; self.timings = timings
    }
}

/// Settings of the per-frame pipeline. The defaults are what `digitd scan` and `digitd run` use.
public struct RecognizerOptions: Sendable {
    /// A candidate becomes a detection only if its best digit has at least this probability.
    public var minimumConfidence: Float = 0.6
    /// ...and (11-class models) the "not a digit" class has less than this.
    public var maximumNotDigitProbability: Float = 0.5
    /// Ink polarity; `.automatic` decides per image.
    public var polarity: InkPolarity = .automatic
    /// Try a second-moment deskew of each crop and keep it when the network is surer.
    public var deskew: Bool = true
    /// At most this many candidates per frame go to the network (largest-first beyond it).
    public var maximumCandidates: Int = 256
    /// Keep the binary mask and the 28x28 crops in `FrameReading.debug`.
    public var keepDebugImages: Bool = false
    public init() {}
}

/// The per-frame pipeline: Vision finds candidate digits, the network reads them in one batch,
/// non-digits are rejected and digits grouped into numbers.
/// Not thread-safe: one Recognizer per thread (it reuses its buffers between frames).
public final class Recognizer {
    public let classifier: DigitClassifier
    public var options: RecognizerOptions

    public init(classifier: DigitClassifier, options: RecognizerOptions = .init()) {
        self.classifier = classifier
        self.options = options
    }

    /// Reads every digit in `image`. Boxes are in `image` pixels.
    public func read(_ image: GrayImage) -> FrameReading {
        // Pipeline body lands in the next commit; the API is stable.
        FrameReading(width: image.width, height: image.height, detections: [], numbers: [], timings: [])
    }
}
