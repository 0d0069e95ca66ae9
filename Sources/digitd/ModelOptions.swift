import ArgumentParser
import Foundation
import NeuralNet

/// `--model`, shared by every command that classifies.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model file (.safetensors). Default: the shipped model ($DIGITD_MODEL, <prefix>/share/digitd, or the checkout's Models/).")
    var model: String?

    func resolvedPath() throws -> String { try Self.resolve(model) }
    func load() throws -> Model { try Self.load(model) }

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

    /// A batched classifier (batch norm folded) from `path` or the shipped default.
    static func loadClassifier(_ path: String?) throws -> DigitClassifier { try load(path).makeClassifier() }
}
