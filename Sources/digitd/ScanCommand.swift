import ArgumentParser

extension Digitd {
    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "scan", abstract: "(not yet built)")
        func run() async throws { throw ValidationError("digitd scan is not built yet") }
    }
}
