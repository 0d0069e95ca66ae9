import Recognition

/// JSON lines of `digitd run --emit events`, in the style of `ScanSupport.jsonLine` (whose
/// helpers they share): `{"event":"appeared","source":…,"frame":…,"track":…,"box":[x,y,w,h],
/// "digit":…,"confidence":…,"number":"2024"|null}`, with `previous_digit` on `changed`.
enum TrackEventJSON {
    static func line(_ e: TrackEvent, source: String) -> String {
        var s = "{\"event\":\"\(e.kind.rawValue)\",\"source\":\(ScanSupport.quote(source)),\"frame\":\(e.frame),"
        s += "\"track\":\(e.track),\"box\":\(ScanSupport.box(e.box)),\"digit\":\(e.digit),"
        if let p = e.previousDigit { s += "\"previous_digit\":\(p)," }
        s += "\"confidence\":\(ScanSupport.number(e.confidence, decimals: 3)),"
        s += "\"number\":\(e.number.map(ScanSupport.quote) ?? "null")}"
        return s
    }

    /// A frame line (the scan contract) with run's extra fields appended.
    static func frameLine(source: String, frame: Int, reading: FrameReading, latencyMs: Double, endToEndMs: Double) -> String {
        let base = ScanSupport.jsonLine(source: source, frame: frame, reading: reading, latencyMs: latencyMs)
        return String(base.dropLast()) + ",\"end_to_end_ms\":\(ScanSupport.number(endToEndMs, decimals: 2))}"
    }
}
