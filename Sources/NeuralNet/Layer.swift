/// A named learnable (or stateful) tensor of a layer, stored in the network's flat arena.
public struct ParameterSpec {
    public var name: String          // e.g. "weight", "bias", "running_mean"
    public var shape: [Int]
    public var initialValue: Initialiser
    /// Decoupled weight decay applies (weights of conv/dense; not biases or BN parameters).
    public var decays: Bool
    /// Learnable (gets a gradient and an optimiser step); false for running statistics.
    public var learnable: Bool

    public enum Initialiser { case zeros, ones, he(fanIn: Int) }
}

/// One stage of the network. Each conforming type keeps forward and backward side by side:
/// forward saves what backward needs; backward *accumulates* into parameter gradients
/// (the network zeroes them once per step) and returns the gradient of its input.
public protocol Layer: AnyObject {
    /// The spec token this layer was built from, e.g. "conv32k3p1".
    var token: String { get }
    var parameterSpecs: [ParameterSpec] { get }
    /// Called once by the network with pointers into its arenas, in `parameterSpecs` order.
    func bind(values: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>])
    /// The output shape for an input shape (both in the engine's layouts), or nil if unsupported.
    func outputShape(_ input: [Int]) -> [Int]?
    /// Multiply-adds per sample for an input shape.
    func multiplyAdds(_ input: [Int]) -> Int
    func forward(_ x: Tensor, training: Bool) -> Tensor
    func backward(_ dy: Tensor) -> Tensor
    /// When false the layer may skip computing its input gradient (first layer).
    var needsInputGradient: Bool { get set }
}

extension Layer {
    public var parameterSpecs: [ParameterSpec] { [] }
    public func bind(values: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {}
    public func multiplyAdds(_ input: [Int]) -> Int { 0 }
}
