import ArgumentParser

extension Digitd {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "(not yet built)")
        func run() async throws { throw ValidationError("digitd run is not built yet") }
    }
}
