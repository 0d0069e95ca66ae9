/// A picture that cannot be read or written: which file (or "<memory>") and what is wrong.
/// `description` is one line, fit for stderr.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    public var fault: String
    public init(path: String = "<memory>", fault: String) {
        self.path = path; self.fault = fault
    }
    public var description: String { "\(path): \(fault)" }

    /// The same fault attributed to `path` (decoders see bytes; the file loader knows the name).
    public func at(_ path: String) -> ImageError { ImageError(path: path, fault: fault) }
}

/// Limits checked from the header, before any pixel buffer is allocated.
public enum ImageLimits {
    /// Largest width or height accepted.
    public static let maxDimension = 16_384
    /// Largest width * height accepted (100 megapixels).
    public static let maxPixels = 100_000_000

    /// Throws unless `width x height` is a plausible picture.
    public static func check(width: Int, height: Int) throws {
        guard width > 0, height > 0 else {
            throw ImageError(fault: "image has no pixels (\(width)x\(height))")
        }
        guard width <= maxDimension, height <= maxDimension, width * height <= maxPixels else {
            throw ImageError(fault: "image is too large (\(width)x\(height); limit \(maxDimension) per side, \(maxPixels / 1_000_000) megapixels)")
        }
    }
}
