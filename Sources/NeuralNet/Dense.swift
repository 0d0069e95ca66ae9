import CBLAS

/// Fully connected layer. x is `[N, I]`, y is `[N, O]`; weight `[O, I]`, bias `[O]`.
public final class Dense: Layer {
    public let inFeatures: Int, outFeatures: Int
    public var needsInputGradient = true
    public var token: String { "dense\(outFeatures)" }

    var weight: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>!
    var weightGrad: UnsafeMutablePointer<Float>!, biasGrad: UnsafeMutablePointer<Float>!
    let output = Tensor(shape: [0])
    let inputGrad = Tensor(shape: [0])
    private var input: Tensor?

    public init(inFeatures: Int, outFeatures: Int) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
    }

    public var parameterSpecs: [ParameterSpec] {
        [ParameterSpec(name: "weight", shape: [outFeatures, inFeatures], initialValue: .he(fanIn: inFeatures),
                       decays: true, learnable: true),
         ParameterSpec(name: "bias", shape: [outFeatures], initialValue: .zeros, decays: false, learnable: true)]
    }

    public func bind(values: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        weight = values[0]; bias = values[1]; weightGrad = gradients[0]; biasGrad = gradients[1]
    }

    public func outputShape(_ s: [Int]) -> [Int]? {
        guard s.count == 2, s[1] == inFeatures else { return nil }
        return [s[0], outFeatures]
    }

    public func multiplyAdds(_ s: [Int]) -> Int { inFeatures * outFeatures }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        input = x
        let n = x.shape[0]
        output.resize([n, outFeatures])
        for i in 0..<n { (output.data + i * outFeatures).update(from: bias, count: outFeatures) }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(outFeatures), Int32(inFeatures),
                    1, x.data, Int32(inFeatures), weight, Int32(inFeatures), 1, output.data, Int32(outFeatures))
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let x = input!
        let n = x.shape[0]
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(outFeatures), Int32(inFeatures), Int32(n),
                    1, dy.data, Int32(outFeatures), x.data, Int32(inFeatures), 1, weightGrad, Int32(inFeatures))
        for i in 0..<n {
            let row = dy.data + i * outFeatures
            for o in 0..<outFeatures { biasGrad[o] += row[o] }
        }
        inputGrad.resize(x.shape)
        guard needsInputGradient else { return inputGrad }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(inFeatures), Int32(outFeatures),
                    1, dy.data, Int32(outFeatures), weight, Int32(inFeatures), 0, inputGrad.data, Int32(inFeatures))
        return inputGrad
    }
}
