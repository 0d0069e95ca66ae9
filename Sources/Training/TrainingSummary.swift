import Foundation

/// The training history and a summary for the model's metadata.
public enum TrainingSummary {
    public static func writeHistory(_ history: [EpochRecord], to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(history).write(to: URL(fileURLWithPath: path))
    }

    /// JSON string: the command, the configuration and the last epoch's figures.
    public static func json(config: TrainingConfiguration, history: [EpochRecord], command: String) throws -> String {
        struct Summary: Codable {
            var command: String; var configuration: TrainingConfiguration; var epochsDone: Int
            var lastEpoch: EpochRecord?; var totalSeconds: Double; var trainedOn: String
        }
        let s = Summary(command: command, configuration: config, epochsDone: history.count, lastEpoch: history.last,
                        totalSeconds: history.reduce(0) { $0 + $1.seconds },
                        trainedOn: "MNIST training set (LeCun, Cortes, Burges), \(config.holdout) held out")
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try enc.encode(s), as: UTF8.self)
    }
}
