import CSDL2
import Display
import Foundation
import Imaging
import Recognition
import Testing

/// The SDL window drawn with SDL's offscreen video driver (no X server needed), read back from the
/// renderer. SDL is used from one thread, so the suite runs serially.
@Suite(.serialized) struct OverlayWindowTests {
    init() { setenv("SDL_VIDEODRIVER", "offscreen", 1) }

    func page() -> GrayImage { GrayImage(width: 320, height: 240, fill: 200) }

    func trackedSeven(at box: Box) -> (FrameReading, [Track]) {
        var probs = [Float](repeating: 0.01, count: 10); probs[7] = 0.91
        let d = Detection(box: box, digit: 7, confidence: 0.91, probabilities: probs)
        let reading = FrameReading(width: 320, height: 240, detections: [d], numbers: [], timings: [])
        let tracker = Tracker()
        for f in 0..<3 { _ = tracker.update(reading, frame: f) }
        return (reading, tracker.stableTracks)
    }

    func pixel(_ img: RGBImage, _ x: Int, _ y: Int) -> [UInt8] {
        let o = 3 * (y * img.width + x)
        return Array(img.pixels[o..<(o + 3)])
    }

    let green: [UInt8] = [0, 220, 0]

    /// Mostly green: the box colour, possibly blended with the page by linear scaling.
    func isGreen(_ p: [UInt8]) -> Bool { Int(p[1]) > Int(p[0]) + 60 && Int(p[1]) > Int(p[2]) + 60 }

    @Test func aStableDigitsBoxIsDrawnInGreenWhereTheFrameIsScaledTo() throws {
        let window = try OverlayWindow(title: "test", width: 640, height: 480)
        let box = Box(x: 100, y: 100, width: 40, height: 60)
        let (reading, tracks) = trackedSeven(at: box)
        #expect(tracks.count == 1)
        window.show(image: page(), reading: reading, tracks: tracks,
                    hud: HUD(framesPerSecond: 30, latencyMs: 4, dropped: 0, corrupt: 0, frame: 2))
        let shot = try #require(window.readPixels())
        #expect(shot.width == 640 && shot.height == 480)
        // 320x240 shown at 2x: the box's left edge (x=100) is at window x=200..201, its middle at y=260.
        #expect(isGreen(pixel(shot, 201, 260)))
        #expect(isGreen(pixel(shot, 2 * 139, 260)))          // right edge
        #expect(pixel(shot, 240, 260) == [200, 200, 200])   // inside: the page
        #expect(pixel(shot, 4, 200) == [200, 200, 200])
    }

    @Test func aWindowOfAnotherShapeLetterboxesTheFrame() throws {
        let window = try OverlayWindow(title: "test", width: 800, height: 400)
        let box = Box(x: 100, y: 100, width: 40, height: 60)
        let (reading, tracks) = trackedSeven(at: box)
        window.show(image: page(), reading: reading, tracks: tracks,
                    hud: HUD(framesPerSecond: 30, latencyMs: 4, dropped: 0, corrupt: 0, frame: 2))
        let r = window.pictureRect
        #expect(r.height == 400 && r.width == 533 && r.x == 133 && r.y == 0)
        let shot = try #require(window.readPixels())
        #expect(pixel(shot, 20, 200) == [0, 0, 0])        // bar
        #expect(pixel(shot, 780, 200) == [0, 0, 0])       // bar
        let x = 133 + 101 * 533 / 320, y = 130 * 400 / 240
        #expect(isGreen(pixel(shot, x, y)))
    }

    @Test func keysTogglePauseViewsAndSaveASnapshot() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-snap-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let window = try OverlayWindow(title: "test", width: 640, height: 480, snapshotDirectory: dir)
        let (reading, tracks) = trackedSeven(at: Box(x: 100, y: 100, width: 40, height: 60))
        window.show(image: page(), reading: reading, tracks: tracks,
                    hud: HUD(framesPerSecond: 30, latencyMs: 4, dropped: 0, corrupt: 0, frame: 2))
        #expect(window.handleKey(SDL_Keycode(SDLK_SPACE.rawValue)))
        #expect(window.isPaused)
        window.handleKey(SDL_Keycode(SDLK_t.rawValue))
        #expect(window.mode == .threshold)
        window.handleKey(SDL_Keycode(SDLK_c.rawValue))
        #expect(window.mode == .crops)
        window.handleKey(SDL_Keycode(SDLK_c.rawValue))
        #expect(window.mode == .camera)
        window.refresh()
        let path = try window.saveSnapshot()
        let saved = try loadRGBImage(path: path)
        #expect(saved.width == 320 && saved.height == 240)
        #expect(pixel(saved, 100, 130) == green)
        #expect(window.handleKey(SDL_Keycode(SDLK_q.rawValue)) == false)
        #expect(window.handleKey(SDL_Keycode(SDLK_ESCAPE.rawValue)) == false)
    }

    @Test func withoutADisplayNoWindowIsOffered() {
        #expect(OverlayWindow.displayAvailable(environment: [:]) == false)
        #expect(OverlayWindow.displayAvailable(environment: ["DISPLAY": ":0"]))
    }
}
