import ArgumentParser

@main
struct Digitd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digitd",
        abstract: "Real-time handwritten-digit recognition: webcam, video streams and scanned images.",
        discussion: """
        Point a webcam at handwriting and read the digits live (digitd run), read the digits of \
        photos and scans (digitd scan), or train and evaluate the network (digitd train, \
        digitd eval). Every command uses the shipped model unless --model names another.
        """,
        version: "0.1.0",
        subcommands: [Run.self, Scan.self, Train.self, Eval.self, Bench.self, Fetch.self, Synth.self]
    )
}
