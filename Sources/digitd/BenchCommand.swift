import ArgumentParser

extension Digitd {
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "bench", abstract: "(not yet built)")
        func run() async throws { throw ValidationError("digitd bench is not built yet") }
    }
}
