import ArgumentParser
import Recognition

/// `--no-level` and `--level-from`: whether and from what tilt pictures are turned level before
/// they are read (README, pipeline step 10), for the commands that read pictures one at a time.
struct LevelingOptions: ParsableArguments {
    @Flag(help: "Read tilted pages as they are, without turning them level first.")
    var noLevel = false

    @Option(help: ArgumentHelp("Level pages whose lines of digits run at least this many degrees off the horizontal (0...34; digitd run levels from \(RecognizerOptions.cameraLevelFrom)).", valueName: "DEGREES"))
    var levelFrom: Double = RecognizerOptions.picturesLevelFrom

    func validate() throws {
        guard (0...34).contains(levelFrom) else { throw ValidationError("--level-from wants degrees within 0...34, not \(levelFrom)") }
    }

    /// Sets the levelling in `options`.
    func apply(to options: inout RecognizerOptions) {
        options.levelTiltedPages = !noLevel
        options.minimumTilt = levelFrom * .pi / 180
    }
}
