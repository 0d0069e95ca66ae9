import ArgumentParser

extension Digitd {
    struct Synth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "synth", abstract: "(not yet built)")
        func run() async throws { throw ValidationError("digitd synth is not built yet") }
    }
}
