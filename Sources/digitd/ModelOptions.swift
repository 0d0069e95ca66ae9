import ArgumentParser
import Foundation
import NeuralNet

/// What a command reads, which picks the shipped model it uses without `--model`.
enum ModelPurpose {
    /// Ready-made 28x28 digits (MNIST files: `eval`, `bench --part inference`): the default model.
    case digits
    /// Crops the pipeline cuts from pictures (`scan`, `run`, `synth`, `bench --part vision`): the
    /// scene model (`digitd-scene.safetensors`, trained on MNIST plus the pipeline's own crops of
    /// generated scenes) when it sits beside the default model, else the default model.
    case pictures
}

/// `--model` and the cascade switches, shared by every command that classifies.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model file (.safetensors). Default: the shipped model ($DIGITD_MODEL, <prefix>/share/digitd, or the checkout's Models/); for pictures (scan, run, synth, bench --part vision) the shipped scene model beside it.")
    var model: String?

    @OptionGroup var cascade: CascadeOptions

    func resolvedPath(for purpose: ModelPurpose) throws -> String { try Self.resolve(model, for: purpose) }

    /// The classifier the command uses: the cascade when it applies (see `CascadeOptions`),
    /// else the model alone.
    func loadClassifier(for purpose: ModelPurpose) throws -> DigitClassifier {
        try Self.loadClassifier(model, for: purpose, cascade: cascade.choice)
    }

    /// The one place a `--model` value (or a config file's `model`) becomes a file: the path
    /// given, else the shipped model for `purpose`, else a one-line error saying where it looked.
    static func resolve(_ path: String?, for purpose: ModelPurpose) throws -> String {
        if let path { return path }
        guard let found = DefaultModel.path() else {
            throw CommandError("no model: the shipped model \(DefaultModel.fileName) was not found (looked in \(DefaultModel.searchPaths.joined(separator: ", "))); pass --model FILE")
        }
        if purpose == .pictures, let scene = DefaultModel.scenePath(besideDefault: found) { return scene }
        return found
    }

    /// The screen model that goes with the full model at `fullPath`: `--screen-model` if given,
    /// else the shipped screen beside a shipped model, if that file exists —
    /// `digitd-scene-screen.safetensors` for `digitd-scene.safetensors` (trained on the same
    /// scene crops), `digitd-screen.safetensors` for `digitd-default.safetensors` (and for the
    /// scene model when its own screen is missing); nil when the cascade is off or has no screen.
    static func screenPath(forFull fullPath: String, cascade: CascadeChoice) -> String? {
        if !cascade.enabled { return nil }
        if let s = cascade.screenModel { return s }
        let name = (fullPath as NSString).lastPathComponent
        guard [DefaultModel.fileName, DefaultModel.sceneFileName].contains(name) else { return nil }
        let names = name == DefaultModel.sceneFileName
            ? [CascadeClassifier.sceneScreenFileName, CascadeClassifier.screenFileName] : [CascadeClassifier.screenFileName]
        let directory = (fullPath as NSString).deletingLastPathComponent as NSString
        return names.map { directory.appendingPathComponent($0) }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// A batched classifier (batch norm folded) from `path` or the shipped default; a
    /// `CascadeClassifier` when a screen model goes with it and the cascade is not turned off.
    static func loadClassifier(_ path: String?, for purpose: ModelPurpose, cascade: CascadeChoice = .init()) throws -> DigitClassifier {
        let fullPath = try resolve(path, for: purpose)
        var full: DigitClassifier = try Model.load(path: fullPath).makeClassifier()
        if let second = cascade.secondOpinion {
            let other = try Model.load(path: second).makeClassifier()
            do {
                full = try CascadeClassifier(screen: full, full: other, threshold: cascade.secondOpinionThreshold, combination: .average)
            } catch {
                throw CommandError("\(second): \(error)")
            }
        }
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

    @Option(help: "Screen model for the cascade. Default: the shipped screen beside the shipped model (\(CascadeClassifier.sceneScreenFileName) for pictures, \(CascadeClassifier.screenFileName) for MNIST files; only with the shipped models).")
    var screenModel: String?

    @Option(help: "Crops whose screen top probability is below this go to the full model (0...1).")
    var cascadeThreshold: Float = CascadeClassifier.defaultThreshold

    @Option(help: ArgumentHelp("A second full model whose answer is averaged with the first's on the crops the first is unsure of.",
                               valueName: "MODEL"))
    var secondOpinion: String?

    @Option(help: "Crops whose full-model top probability is below this also go to --second-opinion (0...1).")
    var secondOpinionThreshold: Float = CascadeChoice.defaultSecondOpinionThreshold

    func validate() throws {
        guard (0...1).contains(cascadeThreshold) else { throw ValidationError("--cascade-threshold must be within 0...1") }
        guard (0...1).contains(secondOpinionThreshold) else { throw ValidationError("--second-opinion-threshold must be within 0...1") }
    }

    var choice: CascadeChoice {
        CascadeChoice(enabled: !noCascade, screenModel: screenModel, threshold: cascadeThreshold,
                      secondOpinion: secondOpinion, secondOpinionThreshold: secondOpinionThreshold)
    }
}

/// The cascade settings as plain values (what `CascadeOptions` parses, or a config file sets).
struct CascadeChoice {
    var enabled = true
    var screenModel: String? = nil
    var threshold: Float = CascadeClassifier.defaultThreshold
    var secondOpinion: String? = nil
    var secondOpinionThreshold: Float = CascadeChoice.defaultSecondOpinionThreshold
    /// Crops the full model reads with a top probability below this also go to the second opinion.
    static let defaultSecondOpinionThreshold: Float = 0.8
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
