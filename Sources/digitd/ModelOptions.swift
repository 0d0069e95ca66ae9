import ArgumentParser
import Foundation
import NeuralNet

/// `--model` and the cascade switches, shared by every command that classifies.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model file (.safetensors). Default: the shipped model ($DIGITD_MODEL, <prefix>/share/digitd, or the checkout's Models/).")
    var model: String?

    @OptionGroup var cascade: CascadeOptions

    func resolvedPath() throws -> String { try Self.resolve(model) }
    func load() throws -> Model { try Self.load(model) }

    /// The classifier the command uses: the cascade when it applies (see `CascadeOptions`),
    /// else the model alone.
    func loadClassifier() throws -> DigitClassifier { try Self.loadClassifier(model, cascade: cascade.choice) }

    /// The one place a `--model` value (or a config file's `model`) becomes a file: the path
    /// given, else the shipped default, else a one-line error saying where it looked.
    static func resolve(_ path: String?) throws -> String {
        if let path { return path }
        guard let found = DefaultModel.path() else {
            throw CommandError("no model: the shipped model \(DefaultModel.fileName) was not found (looked in \(DefaultModel.searchPaths.joined(separator: ", "))); pass --model FILE")
        }
        return found
    }

    static func load(_ path: String?) throws -> Model { try Model.load(path: try resolve(path)) }

    /// The screen model that goes with the full model at `fullPath`: `--screen-model` if given,
    /// else `digitd-screen.safetensors` beside a model named `digitd-default.safetensors` (the
    /// shipped pair), if that file exists; nil when the cascade is off or has no screen.
    static func screenPath(forFull fullPath: String, cascade: CascadeChoice) -> String? {
        if !cascade.enabled { return nil }
        if let s = cascade.screenModel { return s }
        guard (fullPath as NSString).lastPathComponent == DefaultModel.fileName else { return nil }
        let beside = ((fullPath as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent(CascadeClassifier.screenFileName)
        return FileManager.default.fileExists(atPath: beside) ? beside : nil
    }

    /// A batched classifier (batch norm folded) from `path` or the shipped default; a
    /// `CascadeClassifier` when a screen model goes with it and the cascade is not turned off.
    static func loadClassifier(_ path: String?, cascade: CascadeChoice = .init()) throws -> DigitClassifier {
        let fullPath = try resolve(path)
        let full = try Model.load(path: fullPath).makeClassifier()
        guard let screenPath = screenPath(forFull: fullPath, cascade: cascade) else { return full }
        let screen = try Model.load(path: screenPath).makeClassifier()
        do {
            return try CascadeClassifier(screen: screen, full: full, threshold: cascade.threshold)
        } catch {
            throw CommandError("\(screenPath): \(error)")
        }
    }
}

/// How the cascade (a small screen network on every crop, the full model only on the crops the
/// screen is unsure of) is chosen.
struct CascadeOptions: ParsableArguments {
    @Flag(help: "Use the full model alone on every crop, without the screen network.")
    var noCascade = false

    @Option(help: "Screen model for the cascade. Default: \(CascadeClassifier.screenFileName) beside the shipped model (only with the shipped model).")
    var screenModel: String?

    @Option(help: "Crops whose screen top probability is below this go to the full model (0...1).")
    var cascadeThreshold: Float = CascadeClassifier.defaultThreshold

    func validate() throws {
        guard (0...1).contains(cascadeThreshold) else { throw ValidationError("--cascade-threshold must be within 0...1") }
    }

    var choice: CascadeChoice { CascadeChoice(enabled: !noCascade, screenModel: screenModel, threshold: cascadeThreshold) }
}

/// The cascade settings as plain values (what `CascadeOptions` parses, or a config file sets).
struct CascadeChoice {
    var enabled = true
    var screenModel: String? = nil
    var threshold: Float = CascadeClassifier.defaultThreshold
}

extension DigitClassifier {
    /// One line saying what reads the crops: the model, or the cascade and its share escalated.
    func describe(fullPath: String) -> String {
        guard let c = self as? CascadeClassifier else { return "model \(fullPath)" }
        var s = String(format: "cascade (screen, then %@ below top probability %.2f)", fullPath, c.threshold)
        if c.screenedCount > 0 {
            s += String(format: ": %d of %d crops escalated (%.1f%%)", c.escalatedCount, c.screenedCount, 100 * c.escalatedFraction)
        }
        return s
    }
}
