import ArgumentParser

extension Digitd {
    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fetch", abstract: "(not yet built)")
        func run() async throws { throw ValidationError("digitd fetch is not built yet") }
    }
}
