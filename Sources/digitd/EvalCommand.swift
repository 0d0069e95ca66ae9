import ArgumentParser

extension Digitd {
    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "eval", abstract: "(not yet built)")
        func run() async throws { throw ValidationError("digitd eval is not built yet") }
    }
}
