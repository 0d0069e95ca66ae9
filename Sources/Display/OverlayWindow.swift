import CSDL2
import Foundation
import Imaging
import Recognition

/// A failure of SDL, with SDL's own message.
public struct DisplayError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var message: String
    public var description: String { "\(operation): \(message)" }
    static func sdl(_ operation: String) -> DisplayError {
        DisplayError(operation: operation, message: String(cString: SDL_GetError()))
    }
}

/// The live window: the frame letterboxed into a resizable window, with boxes, digits,
/// confidences, numbers and a heads-up display drawn by `OverlayComposer`.
///
/// Keys: q or Esc quit, space pause, t threshold view, c crops view, s snapshot (PNG of what is
/// shown), f fullscreen. Use from one thread only (the one that created it).
public final class OverlayWindow {
    public private(set) var isPaused = false
    public private(set) var mode = OverlayMode.camera
    public private(set) var isFullscreen: Bool
    public let snapshotDirectory: String
    /// Messages for the user (snapshot saved, ...).
    public var log: ((String) -> Void)?

    private let window: OpaquePointer
    private let renderer: OpaquePointer
    private var texture: OpaquePointer?
    private var textureSize = (width: 0, height: 0)
    /// What is on screen, for snapshots and redraws while paused.
    public private(set) var lastComposed: RGBImage?
    private var lastInputs: (image: GrayImage, reading: FrameReading, tracks: [Track], hud: HUD)?
    private var snapshots = 0

    /// Whether a window can be opened here: an X11 or Wayland display, or SDL_VIDEODRIVER chosen
    /// explicitly (e.g. `offscreen` in tests).
    public static func displayAvailable(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        ["DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"].contains { !(environment[$0] ?? "").isEmpty }
    }

    public init(title: String, width: Int = 960, height: Int = 720, fullscreen: Bool = false,
                snapshotDirectory: String = ".") throws {
        guard SDL_InitSubSystem(SDL_INIT_VIDEO) == 0 else { throw DisplayError.sdl("SDL_Init") }
        SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear")
        var flags = SDL_WINDOW_RESIZABLE.rawValue | SDL_WINDOW_ALLOW_HIGHDPI.rawValue
        if fullscreen { flags |= SDL_WINDOW_FULLSCREEN_DESKTOP.rawValue }
        let undefined = Int32(bitPattern: 0x1FFF_0000)   // SDL_WINDOWPOS_UNDEFINED
        guard let w = SDL_CreateWindow(title, undefined, undefined, Int32(width), Int32(height), flags) else {
            let e = DisplayError.sdl("SDL_CreateWindow")
            SDL_QuitSubSystem(SDL_INIT_VIDEO)
            throw e
        }
        guard let r = SDL_CreateRenderer(w, -1, 0) ?? SDL_CreateRenderer(w, -1, SDL_RENDERER_SOFTWARE.rawValue) else {
            let e = DisplayError.sdl("SDL_CreateRenderer")
            SDL_DestroyWindow(w)
            SDL_QuitSubSystem(SDL_INIT_VIDEO)
            throw e
        }
        window = w
        renderer = r
        isFullscreen = fullscreen
        self.snapshotDirectory = snapshotDirectory
    }

    deinit {
        if let texture { SDL_DestroyTexture(texture) }
        SDL_DestroyRenderer(renderer)
        SDL_DestroyWindow(window)
        SDL_QuitSubSystem(SDL_INIT_VIDEO)
    }

    /// Handles pending window events and keys. Returns false when the user asked to quit.
    public func handleEvents() -> Bool {
        var event = SDL_Event()
        var redraw = false
        while SDL_PollEvent(&event) != 0 {
            switch SDL_EventType(event.type) {
            case SDL_QUIT:
                return false
            case SDL_WINDOWEVENT:
                redraw = true
            case SDL_KEYDOWN:
                guard event.key.repeat == 0 else { continue }
                if !handleKey(event.key.keysym.sym) { return false }
                redraw = true
            default:
                break
            }
        }
        if redraw { refresh() }
        return true
    }

    /// Acts on one key; false for quit. Public so tests can press keys without an event queue.
    @discardableResult
    public func handleKey(_ key: SDL_Keycode) -> Bool {
        switch key {
        case SDL_Keycode(SDLK_q.rawValue), SDL_Keycode(SDLK_ESCAPE.rawValue):
            return false
        case SDL_Keycode(SDLK_SPACE.rawValue):
            isPaused.toggle()
        case SDL_Keycode(SDLK_t.rawValue):
            mode = mode == .threshold ? .camera : .threshold
        case SDL_Keycode(SDLK_c.rawValue):
            mode = mode == .crops ? .camera : .crops
        case SDL_Keycode(SDLK_f.rawValue):
            isFullscreen.toggle()
            SDL_SetWindowFullscreen(window, isFullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP.rawValue : 0)
        case SDL_Keycode(SDLK_s.rawValue):
            if let path = try? saveSnapshot() { log?("snapshot saved to \(path)") }
        default:
            break
        }
        return true
    }

    /// Draws a frame with its reading and presents it.
    public func show(image: GrayImage, reading: FrameReading, tracks: [Track], hud: HUD) {
        lastInputs = (image, reading, tracks, hud)
        refresh()
    }

    /// Composes the last frame again (mode or pause changed, window resized) and presents it.
    public func refresh() {
        guard let i = lastInputs else {
            SDL_SetRenderDrawColor(renderer, 0, 0, 0, 255)
            SDL_RenderClear(renderer)
            SDL_RenderPresent(renderer)
            return
        }
        let composed = OverlayComposer.compose(mode: mode, image: i.image, reading: i.reading, tracks: i.tracks,
                                               hud: i.hud, paused: isPaused)
        lastComposed = composed
        present(composed)
    }

    /// Where a `width x height` picture goes in the window: as large as fits, aspect kept, centred.
    public static func letterbox(width: Int, height: Int, inWidth ow: Int, height oh: Int) -> (x: Int, y: Int, width: Int, height: Int) {
        guard width > 0, height > 0, ow > 0, oh > 0 else { return (0, 0, 0, 0) }
        if ow * height <= oh * width {
            let h = ow * height / width
            return (0, (oh - h) / 2, ow, h)
        }
        let w = oh * width / height
        return ((ow - w) / 2, 0, w, oh)
    }

    /// The rectangle the picture occupies now, in renderer pixels.
    public var pictureRect: (x: Int, y: Int, width: Int, height: Int) {
        var ow: Int32 = 0, oh: Int32 = 0
        SDL_GetRendererOutputSize(renderer, &ow, &oh)
        return OverlayWindow.letterbox(width: textureSize.width, height: textureSize.height, inWidth: Int(ow), height: Int(oh))
    }

    private func present(_ image: RGBImage) {
        if texture == nil || textureSize != (image.width, image.height) {
            if let texture { SDL_DestroyTexture(texture) }
            texture = SDL_CreateTexture(renderer, SDL_PIXELFORMAT_RGB24.rawValue, Int32(SDL_TEXTUREACCESS_STREAMING.rawValue),
                                        Int32(image.width), Int32(image.height))
            textureSize = (image.width, image.height)
        }
        guard let texture else { return }
        image.pixels.withUnsafeBytes { SDL_UpdateTexture(texture, nil, $0.baseAddress, Int32(image.width * 3)) }
        SDL_SetRenderDrawColor(renderer, 0, 0, 0, 255)
        SDL_RenderClear(renderer)
        let r = pictureRect
        var dst = SDL_Rect(x: Int32(r.x), y: Int32(r.y), w: Int32(r.width), h: Int32(r.height))
        SDL_RenderCopy(renderer, texture, nil, &dst)
        SDL_RenderPresent(renderer)
    }

    /// Saves what is shown as a PNG in `snapshotDirectory`; returns its path.
    @discardableResult
    public func saveSnapshot() throws -> String {
        guard let image = lastComposed else { throw DisplayError(operation: "snapshot", message: "nothing shown yet") }
        snapshots += 1
        let stamp = Int(Date().timeIntervalSince1970)
        let path = (snapshotDirectory as NSString).appendingPathComponent("digitd-snapshot-\(stamp)-\(snapshots).png")
        try writeFileBytes(encodePNG(image), path: path)
        return path
    }

    /// The renderer's pixels as RGB (what the last present drew), for tests. SDL_RenderReadPixels
    public func readPixels() -> RGBImage? {
        var ow: Int32 = 0, oh: Int32 = 0
        SDL_GetRendererOutputSize(renderer, &ow, &oh)
        guard ow > 0, oh > 0 else { return nil }
        var out = RGBImage(width: Int(ow), height: Int(oh))
        let ok = out.pixels.withUnsafeMutableBytes {
            SDL_RenderReadPixels(renderer, nil, SDL_PIXELFORMAT_RGB24.rawValue, $0.baseAddress, ow * 3)
        }
        return ok == 0 ? out : nil
    }

    /// Sets the window size (tests; users resize with the mouse).
    public func resize(width: Int, height: Int) {
        SDL_SetWindowSize(window, Int32(width), Int32(height))
    }
}
