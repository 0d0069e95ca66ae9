import ArgumentParser
import Foundation
import NeuralNet

/// `--model`, shared by every command that classifies.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model file (.safetensors). Default: the shipped model ($DIGITD_MODEL, <prefix>/share/digitd, or the checkout's Models/).")
    var model: String?

    /// The model path to use, or a one-line error saying where it looked.
    func resolvedPath() throws -> String {
        if let model { return model }
        guard let p = DefaultModel.path() else {
            throw CommandError("no model found (looked in \(DefaultModel.searchPaths.joined(separator: ", "))); pass --model FILE")
        }
        return p
    }

    func load() throws -> Model { try Model.load(path: try resolvedPath()) }
}
