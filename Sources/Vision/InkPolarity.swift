/// Which way round ink and background are.
public enum InkPolarity: String, Sendable, CaseIterable {
    /// Decide per image (or per region) from the statistics of the picture.
    case automatic
    /// Dark ink on light paper: pen, pencil, print.
    case darkOnLight
    /// Light ink on a dark ground: chalk on a blackboard, a lit display.
    case lightOnDark
}
