import Foundation

/// A failure a user can cause in describing or loading a network; one line.
public struct NetworkError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A sequential CNN over 28x28 single-channel crops, described by a compact spec such as
/// `conv32k3p1,bn,relu,pool2,conv64k3p1,bn,relu,pool2,flatten,dense10`:
///
/// | token | layer |
/// | --- | --- |
/// | `conv<K>k<k>[p<p>]` | Conv2D, K filters of k x k, padding p (default 0) |
/// | `bn` | BatchNorm over the channels (or features, after flatten) |
/// | `relu` | ReLU |
/// | `pool2` | 2x2 max pool |
/// | `flatten` | `[C, N, H, W]` -> `[N, C*H*W]` |
/// | `dense<O>` | fully connected, O outputs |
/// | `drop<rate>` | inverted dropout |
///
/// All parameters live in one flat arena (values, gradients, masks), so the optimiser step is
/// one loop and a checkpoint is one copy.
public final class Network {
    public let spec: String
    public let inputShape = (channels: 1, height: 28, width: 28)
    public private(set) var layers: [Layer] = []
    /// (tensor name, shape, offset into the arena, learnable, decays), in layer order.
    public private(set) var parameterTable: [(name: String, shape: [Int], offset: Int, learnable: Bool, decays: Bool)] = []
    public let parameterCount: Int
    public let values: UnsafeMutablePointer<Float>
    public let gradients: UnsafeMutablePointer<Float>
    let decayMask: UnsafeMutablePointer<Float>
    let learnableMask: UnsafeMutablePointer<Float>
    public let classCount: Int
    private let input = Tensor(shape: [0])
    /// The network whose parameter values this replica uses (data-parallel training), if any.
    public let valueOwner: Network?

    /// A network with its own parameters, or — `sharingValuesWith` — a replica of `owner` that
    /// reads and writes the owner's parameter values but keeps its own activations and gradients.
    /// A replica's batch norms leave the running statistics to the owner.
    public init(spec: String, sharingValuesWith owner: Network? = nil) throws {
        self.spec = spec
        var shape = [1, 1, 28, 28]  // [C, N, H, W] with N = 1 for shape inference
        var built: [Layer] = []
        for raw in spec.split(separator: ",") {
            let t = raw.trimmingCharacters(in: .whitespaces)
            let layer: Layer
            if t == "bn" {
                layer = BatchNorm(channels: shape.count == 4 ? shape[0] : shape[1])
            } else if t == "relu" {
                layer = ReLU()
            } else if t == "pool2" {
                layer = MaxPool()
            } else if t == "flatten" {
                layer = Flatten()
            } else if t.hasPrefix("dense"), let o = Int(t.dropFirst(5)), o > 0 {
                guard shape.count == 2 else { throw NetworkError("spec: \(t) needs flatten before it") }
                layer = Dense(inFeatures: shape[1], outFeatures: o)
            } else if t.hasPrefix("drop"), let r = Float(t.dropFirst(4)), r >= 0, r < 1 {
                layer = Dropout(rate: r)
            } else if t.hasPrefix("conv"), let c = Network.parseConv(t) {
                guard shape.count == 4 else { throw NetworkError("spec: \(t) after flatten") }
                layer = Conv2D(inChannels: shape[0], outChannels: c.k, kernel: c.size, padding: c.pad)
            } else {
                throw NetworkError("spec: unknown layer '\(t)'")
            }
            guard let next = layer.outputShape(shape) else {
                throw NetworkError("spec: '\(t)' does not fit input shape \(shape)")
            }
            shape = next
            built.append(layer)
        }
        guard shape.count == 2, let last = built.last, last is Dense else {
            throw NetworkError("spec: must end with a dense layer giving the class scores")
        }
        classCount = shape[1]
        built.first?.needsInputGradient = false
        layers = built

        var offset = 0
        var table: [(String, [Int], Int, Bool, Bool)] = []
        for (i, l) in built.enumerated() {
            for p in l.parameterSpecs {
                table.append(("layers.\(i).\(p.name)", p.shape, offset, p.learnable, p.decays))
                offset += p.shape.reduce(1, *)
            }
        }
        parameterTable = table.map { ($0.0, $0.1, $0.2, $0.3, $0.4) }
        parameterCount = offset
        if let owner {
            guard owner.spec == spec else { throw NetworkError("replica spec \(spec) differs from \(owner.spec)") }
            values = owner.values
        } else {
            values = .allocate(capacity: max(offset, 1)); values.initialize(repeating: 0, count: max(offset, 1))
        }
        valueOwner = owner
        gradients = .allocate(capacity: max(offset, 1)); gradients.initialize(repeating: 0, count: max(offset, 1))
        decayMask = .allocate(capacity: max(offset, 1)); decayMask.initialize(repeating: 0, count: max(offset, 1))
        learnableMask = .allocate(capacity: max(offset, 1)); learnableMask.initialize(repeating: 0, count: max(offset, 1))
        var k = 0
        for l in built {
            var vs: [UnsafeMutablePointer<Float>] = [], gs: [UnsafeMutablePointer<Float>] = []
            for p in l.parameterSpecs {
                let e = parameterTable[k]; k += 1
                vs.append(values + e.offset); gs.append(gradients + e.offset)
                let n = p.shape.reduce(1, *)
                (decayMask + e.offset).update(repeating: p.decays ? 1 : 0, count: n)
                (learnableMask + e.offset).update(repeating: p.learnable ? 1 : 0, count: n)
            }
            l.bind(values: vs, gradients: gs)
        }
        if owner == nil {
            initialise(seed: 1)
        } else {
            for l in layers { (l as? BatchNorm)?.updatesRunningStatistics = false }
        }
    }

    deinit {
        if valueOwner == nil { values.deallocate() }
        gradients.deallocate(); decayMask.deallocate(); learnableMask.deallocate()
    }

    static func parseConv(_ t: String) -> (k: Int, size: Int, pad: Int)? {
        let body = t.dropFirst(4)
        let parts = body.split(separator: "k", maxSplits: 1)
        guard parts.count == 2, let k = Int(parts[0]), k > 0 else { return nil }
        let rest = parts[1].split(separator: "p", omittingEmptySubsequences: false)
        guard let size = Int(rest[0]), size > 0, size <= 7 else { return nil }
        var pad = 0
        if rest.count == 2 { guard let p = Int(rest[1]), p >= 0, p < size else { return nil }; pad = p }
        if rest.count > 2 { return nil }
        return (k, size, pad)
    }

    /// He-normal weights (He et al. 2015), zero biases, BN gamma 1 / beta 0, running var 1.
    public func initialise(seed: UInt64) {
        var rng = RandomSource(seed: seed)
        var k = 0
        for l in layers {
            for p in l.parameterSpecs {
                let e = parameterTable[k]; k += 1
                let n = p.shape.reduce(1, *), dst = values + e.offset
                switch p.initialValue {
                case .zeros: dst.update(repeating: 0, count: n)
                case .ones: dst.update(repeating: 1, count: n)
                case .he(let fanIn):
                    let sd = (2 / Float(fanIn)).squareRoot()
                    for i in 0..<n { dst[i] = rng.normal() * sd }
                }
            }
        }
        for l in layers { (l as? Dropout)?.random = RandomSource(seed: seed &+ 99) }
    }

    /// Multiply-adds for one 28x28 input.
    public var multiplyAdds: Int {
        var shape = [1, 1, 28, 28], total = 0
        for l in layers { total += l.multiplyAdds(shape); shape = l.outputShape(shape)! }
        return total
    }

    /// Learnable parameter count (running statistics excluded).
    public var learnableParameterCount: Int {
        parameterTable.filter(\.learnable).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// images: `n * 784` floats (0 background .. 1 ink). Returns logits `[n, classCount]`
    /// (a tensor owned by the last layer, valid until the next forward).
    public func forward(_ images: UnsafePointer<Float>, count n: Int, training: Bool) -> Tensor {
        if !training && fusesInference && !recordsTimes, let plan = inferencePlan {
            return forwardFused(images, count: n, plan: plan)
        }
        input.resize([1, n, 28, 28])
        input.data.update(from: images, count: n * 784)
        var x = input
        var i = 0
        while i < layers.count {
            let t0 = recordsTimes ? Network.threadCPUNanoseconds() : 0
            var next = i + 1
            // bn,relu,pool2 on convolution output: one fused pass (FusedBlocks.swift)
            if training, fusesBlocks, x.shape.count == 4, i + 2 < layers.count, let bn = layers[i] as? BatchNorm,
               layers[i + 1] is ReLU, let pool = layers[i + 2] as? MaxPool {
                x = bn.forwardReLUPool(x, pool: pool)
                fusedBlockStarts[i] = true
                next = i + 3
            } else {
                x = layers[i].forward(x, training: training)
                fusedBlockStarts[i] = false
            }
            if recordsTimes { forwardNanoseconds[i] += Network.threadCPUNanoseconds() - t0 }
            i = next
        }
        return x
    }

    /// Training runs each `bn,relu,pool2` as one fused block; tests turn this off to compare
    /// with the layer-by-layer reference.
    public var fusesBlocks = true
    /// Inference runs the convolutions as fused blocks (see `forwardFused`); tests turn this off
    /// to compare with the layer-by-layer reference.
    public var fusesInference = true
    lazy var inferencePlan: InferencePlan? = Network.inferencePlan(layers)
    var fusedPlanes: [Tensor] = []
    private lazy var fusedBlockStarts = [Bool](repeating: false, count: layers.count)

    /// CPU time of the calling thread: unlike wall time, not inflated when other processes share the cores.
    static func threadCPUNanoseconds() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// When true, forward and backward add each layer's thread CPU time to `forwardNanoseconds` /
    /// `backwardNanoseconds` (by layer index; a fused group's time goes to its first layer).
    /// For `digitd bench --part layers`.
    public var recordsTimes = false {
        didSet {
            forwardNanoseconds = [UInt64](repeating: 0, count: layers.count)
            backwardNanoseconds = forwardNanoseconds
        }
    }
    public private(set) var forwardNanoseconds: [UInt64] = []
    public private(set) var backwardNanoseconds: [UInt64] = []

    /// Backpropagates d(loss)/d(logits); parameter gradients accumulate into `gradients`.
    public func backward(_ dLogits: Tensor) {
        var g = dLogits
        var i = layers.count - 1
        while i >= 0 {
            let t0 = recordsTimes ? Network.threadCPUNanoseconds() : 0
            var first = i
            if i == 3, let pool = layers[3] as? MaxPool, fusedBlockStarts[1], let bn = layers[1] as? BatchNorm,
               let conv = layers[0] as? Conv2D, conv.usesDirectPath(outputWidth: pool.inShape[3]) {
                // conv,bn,relu,pool2 at the input: no gradient for the conv output at all (FusedBlocks.swift)
                conv.backwardFirstBlock(g, batchNorm: bn, pool: pool)
                first = 0
            } else if let pool = layers[i] as? MaxPool, i >= 2, fusedBlockStarts[i - 2], let bn = layers[i - 2] as? BatchNorm {
                g = bn.backwardReLUPool(g, pool: pool)
                first = i - 2
            } else if let pool = layers[i] as? MaxPool, i > 0, layers[i - 1] is ReLU {
                // relu,pool2: one fused backward (see MaxPool.backward(_:throughReLU:))
                g = pool.backward(g, throughReLU: true)
                first = i - 1
            } else {
                g = layers[i].backward(g)
            }
            if recordsTimes { backwardNanoseconds[first] += Network.threadCPUNanoseconds() - t0 }
            i = first - 1
        }
    }

    public func zeroGradients() { gradients.update(repeating: 0, count: parameterCount) }

    public func step(_ optimiser: inout AdamW, learningRate: Float) {
        optimiser.update(values: values, gradients: gradients, decayMask: decayMask,
                         learnableMask: learnableMask, count: parameterCount, learningRate: learningRate)
    }

    public func copyValues(from other: Network) {
        precondition(other.parameterCount == parameterCount)
        values.update(from: other.values, count: parameterCount)
    }

    public func tensor(named name: String) -> (shape: [Int], pointer: UnsafeMutablePointer<Float>)? {
        guard let e = parameterTable.first(where: { $0.name == name }) else { return nil }
        return (e.shape, values + e.offset)
    }

    /// An inference copy: each batch norm folded into the conv/dense before it
    /// (w' = w * g/sqrt(v+eps), b' = (b - mean) * g/sqrt(v+eps) + beta), dropout removed,
    /// and every `relu,pool2` turned into `pool2,relu`.
    public func foldedForInference() throws -> Network {
        var tokens: [String] = []
        var sourceIndex: [Int] = []     // for each kept layer: its index here
        var foldedBN: [Int: Int] = [:]  // kept layer index here -> BN layer index here
        var i = 0
        while i < layers.count {
            let l = layers[i]
            if l is Dropout { i += 1; continue }
            if (l is Conv2D || l is Dense), i + 1 < layers.count, layers[i + 1] is BatchNorm {
                foldedBN[i] = i + 1
                tokens.append(l.token); sourceIndex.append(i); i += 2; continue
            }
            // ReLU and max-pool commute (relu(max(a,b,c,d)) = max of the relus): pooling first
            // runs the ReLU on a quarter of the values.
            if l is ReLU, i + 1 < layers.count, layers[i + 1] is MaxPool {
                tokens.append(layers[i + 1].token); sourceIndex.append(i + 1)
                tokens.append(l.token); sourceIndex.append(i)
                i += 2; continue
            }
            tokens.append(l.token); sourceIndex.append(i); i += 1
        }
        let out = try Network(spec: tokens.joined(separator: ","))
        for (j, src) in sourceIndex.enumerated() {
            let from = layers[src], to = out.layers[j]
            if let bn = to as? BatchNorm, let f = from as? BatchNorm {
                bn.gamma.update(from: f.gamma, count: f.channels); bn.beta.update(from: f.beta, count: f.channels)
                bn.runningMean.update(from: f.runningMean, count: f.channels)
                bn.runningVar.update(from: f.runningVar, count: f.channels)
                continue
            }
            var w: UnsafeMutablePointer<Float>?, b: UnsafeMutablePointer<Float>?, tw: UnsafeMutablePointer<Float>?, tb: UnsafeMutablePointer<Float>?
            var outputs = 0, perOutput = 0
            if let c = from as? Conv2D, let tc = to as? Conv2D {
                w = c.weight; b = c.bias; tw = tc.weight; tb = tc.bias
                outputs = c.outChannels; perOutput = c.inChannels * c.kernel * c.kernel
            } else if let d = from as? Dense, let td = to as? Dense {
                w = d.weight; b = d.bias; tw = td.weight; tb = td.bias
                outputs = d.outFeatures; perOutput = d.inFeatures
            }
            guard let w, let b, let tw, let tb else { continue }
            for o in 0..<outputs {
                var scale: Float = 1, shift: Float = 0
                if let bi = foldedBN[src], let bn = layers[bi] as? BatchNorm {
                    let s = bn.gamma[o] / (bn.runningVar[o] + bn.epsilon).squareRoot()
                    scale = s; shift = bn.beta[o] - bn.runningMean[o] * s
                }
                for k in 0..<perOutput { tw[o * perOutput + k] = w[o * perOutput + k] * scale }
                tb[o] = b[o] * scale + shift
            }
        }
        return out
    }
}

// MARK: fused inference

/// One `conv[,pool2][,relu]` of an inference pass (see `Network.forwardFused`).
struct FusedConvBlock {
    let conv: Conv2D
    let pool: Bool, relu: Bool
    /// Input planes: height and width inside the padding.
    let inHeight: Int, inWidth: Int
    /// Output planes (after the pool).
    let outHeight: Int, outWidth: Int
}

/// The convolutional front of a network run as fused blocks, then the layers from `rest` on
/// one by one (the first of them a flatten, whose work the last block does).
struct InferencePlan {
    let blocks: [FusedConvBlock]
    let rest: Int
}

extension Network {
    /// The plan for this network's layers, or nil when they do not start with convolution
    /// blocks followed by a flatten (then inference runs layer by layer).
    static func inferencePlan(_ layers: [Layer]) -> InferencePlan? {
        var blocks: [FusedConvBlock] = []
        var shape = [1, 1, 28, 28]
        var i = 0
        while i < layers.count, let conv = layers[i] as? Conv2D {
            guard let convOut = conv.outputShape(shape) else { return nil }
            var j = i + 1
            var pool = false, relu = false
            if j < layers.count, layers[j] is MaxPool { pool = true; j += 1 }
            if j < layers.count, layers[j] is ReLU { relu = true; j += 1 }
            let out = pool ? [convOut[0], convOut[1], convOut[2] / 2, convOut[3] / 2] : convOut
            guard out[2] > 0, out[3] > 0 else { return nil }
            blocks.append(FusedConvBlock(conv: conv, pool: pool, relu: relu, inHeight: shape[2], inWidth: shape[3],
                                         outHeight: out[2], outWidth: out[3]))
            shape = out
            i = j
        }
        guard !blocks.isEmpty, i < layers.count, layers[i] is Flatten else { return nil }
        return InferencePlan(blocks: blocks, rest: i)
    }

    /// Inference with each `conv[,pool2][,relu]` as one fused pass (Conv2D.forwardFused) writing
    /// straight into the zero-padded planes the next convolution reads, the last one in
    /// flattened order; then the dense layers as usual. The same floats as `forward` layer by
    /// layer (a test compares them).
    func forwardFused(_ images: UnsafePointer<Float>, count n: Int, plan: InferencePlan) -> Tensor {
        let blocks = plan.blocks
        while fusedPlanes.count < blocks.count + 1 { fusedPlanes.append(Tensor(shape: [0])) }
        // The first block's input: the images in zero-padded planes.
        var current = fusedPlanes[0]
        var p = blocks[0].conv.padding
        var stride = 28 + 2 * p, plane = (28 + 2 * p) * stride
        current.resize([n * plane + 32])
        preparePadded(current.data, n: n, channels: 1, height: 28, width: 28, padding: p)
        for b in 0..<n {
            for y in 0..<28 {
                (current.data + b * plane + (y + p) * stride + p).update(from: images + (b * 28 + y) * 28, count: 28)
            }
        }
        for (k, block) in blocks.enumerated() {
            let next = fusedPlanes[k + 1], channels = block.conv.outChannels
            let oh = block.outHeight, ow = block.outWidth
            let layout: PlaneLayout
            var nextStride = 0, nextPlane = 0
            if k + 1 < blocks.count {
                p = blocks[k + 1].conv.padding
                nextStride = ow + 2 * p; nextPlane = (oh + 2 * p) * nextStride
                next.resize([channels * n * nextPlane + 32])
                preparePadded(next.data, n: n, channels: channels, height: oh, width: ow, padding: p)
                layout = PlaneLayout(channelStride: n * nextPlane, imageStride: nextPlane, rowStride: nextStride,
                                     offset: p * nextStride + p)
            } else {
                // the flatten: [N, C*H*W], feature c*H*W + y*W + x
                next.resize([n, channels * oh * ow])
                layout = PlaneLayout(channelStride: oh * ow, imageStride: channels * oh * ow, rowStride: ow, offset: 0)
            }
            block.conv.forwardFused(padded: current.data, n: n, h: block.inHeight, w: block.inWidth, stride: stride, plane: plane,
                                    pool: block.pool, relu: block.relu, into: next.data, layout: layout)
            current = next; stride = nextStride; plane = nextPlane
        }
        var x = current
        for l in layers[(plan.rest + 1)...] { x = l.forward(x, training: false) }
        return x
    }

    /// Zeroes the padding of `channels * n` planes of `(height + 2p) x (width + 2p)` (the
    /// interiors are about to be overwritten) and the 32 spare floats after them.
    private func preparePadded(_ d: UnsafeMutablePointer<Float>, n: Int, channels: Int, height: Int, width: Int, padding p: Int) {
        let s = width + 2 * p, plane = (height + 2 * p) * s, planes = channels * n
        (d + planes * plane).update(repeating: 0, count: 32)
        guard p > 0 else { return }
        for i in 0..<planes {
            let base = d + i * plane
            base.update(repeating: 0, count: p * s + p)                       // top rows, left of row 0
            for y in 0..<(height - 1) {
                (base + (p + y) * s + p + width).update(repeating: 0, count: 2 * p)   // right of y, left of y + 1
            }
            (base + (p + height - 1) * s + p + width).update(repeating: 0, count: p + p * s)   // right of the last row, bottom rows
        }
    }
}
