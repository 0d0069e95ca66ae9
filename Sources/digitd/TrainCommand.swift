import ArgumentParser

extension Digitd {
    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "train", abstract: "(not yet built)")
        func run() async throws { throw ValidationError("digitd train is not built yet") }
    }
}
