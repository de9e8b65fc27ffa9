import NN
import TensorCore
import Zoo

/// Grad-CAM (Selvaraju et al. 2017): where in the image a class score comes from. The map of a class c
/// at a layer with feature maps A_k is ReLU(sum_k alpha_k A_k), alpha_k the spatial mean of dy_c/dA_k,
/// y_c the class's logit (its probability when the output layer has the softmax fused). Where the head
/// is global average pooling + dense, alpha_k is w_ck / HW, so the map is Zhou et al.'s CAM up to scale.
///
/// ```swift
/// let cam = try GradCAM(model: model)               // the last layer with a spatial map
/// let (maps, probabilities) = try cam.maps(images)  // one map per image, for its top class
/// ```
public struct GradCAM {
    /// One image's map at the layer's resolution, scaled to [0, 1] (all zeros where nothing is positive).
    public struct Map: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var values: [Float]
        /// The class it explains.
        public var targetClass: Int
    }

    public let model: ZooModel
    /// The layer whose output is explained.
    public let layer: String

    /// `layer`: a layer name of `model` with a [C, H, W] output (nil: the last such layer with more than
    /// one position, the usual choice: the last convolutional block).
    public init(model: ZooModel, layer: String? = nil) throws {
        self.model = model
        let shapes = try Self.layerShapes(model)
        if let layer {
            guard let s = shapes.first(where: { $0.name == layer })?.shape else {
                throw JobError("\(model.architecture) has no layer '\(layer)' (layers: \(shapes.map(\.name).joined(separator: ", ")))")
            }
            guard s.count == 3 else { throw JobError("layer '\(layer)' gives \(s), not a [C, H, W] feature map") }
            self.layer = layer
        } else {
            guard let last = shapes.last(where: { $0.shape.count == 3 && $0.shape[1] * $0.shape[2] > 1 }) else {
                throw JobError("\(model.architecture) has no layer with a spatial feature map to explain")
            }
            self.layer = last.name
        }
    }

    /// Every layer's per-image output shape, in order.
    static func layerShapes(_ model: ZooModel) throws -> [(name: String, shape: [Int])] {
        let graph = try model.graph
        let shapes = try graph.shapes(forInput: graph.inputShape)
        return graph.nodes.compactMap { n in shapes[n.name].map { (n.name, $0) } }
    }

    /// Maps for a batch of preprocessed images [N, C, H, W]: for `classes[i]`, or each image's top class
    /// when nil. Also returns the model's output for the batch (its scores, as the output layer gives them).
    public func maps(_ images: Tensor, classes: [Int]? = nil) throws -> (maps: [Map], outputs: Tensor) {
        let n = images.shape[0]
        if let classes, classes.count != n { throw JobError("Grad-CAM: \(classes.count) classes for \(n) images") }
        let wasTraining = model.isTraining
        model.setTraining(false)
        // No parameter takes a gradient: only the captured feature map does.
        let parameters = model.namedParameters().map(\.1)
        let frozen = parameters.map(\.isFrozen)
        for p in parameters { p.isFrozen = true }
        defer {
            for (p, f) in zip(parameters, frozen) { p.isFrozen = f; p.zeroGrad() }
            model.setTraining(wasTraining)
        }
        var captured: Parameter?
        let step = { (name: String, _: Module, run: () -> Var) -> Var in
            let y = run()
            guard name == self.layer else { return y }
            let leaf = Parameter(y.value)
            captured = leaf
            return Var(leaf)
        }
        let out = GradientMode.$isEnabled.withValue(true) {
            model.head.evaluate(model.trunk.evaluate(Var(images), step: step), step: step)
        }
        guard let features = captured, out.shape.count == 2 else {
            throw JobError("Grad-CAM: layer '\(layer)' was not reached, or the output \(out.shape) is not [N, classes]")
        }
        let classCount = out.shape[1]
        let targets = classes ?? argmaxRows(out.value)
        if let bad = targets.first(where: { $0 < 0 || $0 >= classCount }) {
            throw JobError("Grad-CAM: class \(bad) outside the model's \(classCount) classes")
        }
        var seed = Tensor(shape: out.shape, repeating: 0)
        for (i, c) in targets.enumerated() { seed[flat: i * classCount + c] = 1 }
        out.backward(seed: seed)
        guard let grad = features.grad else {
            throw JobError("Grad-CAM: no gradient reached layer '\(layer)' (is the output connected to it?)")
        }
        return (Self.combine(features: features.value, gradients: grad, targets: targets), out.value)
    }

    /// ReLU(sum_k mean(dA_k) A_k) per image, scaled to [0, 1].
    static func combine(features a: Tensor, gradients g: Tensor, targets: [Int]) -> [Map] {
        let (n, c, h, w) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        let plane = h * w
        let ap = a.pointer, gp = g.pointer
        return (0..<n).map { i in
            var cam = [Float](repeating: 0, count: plane)
            for k in 0..<c {
                let base = (i * c + k) * plane
                var alpha: Float = 0
                for j in 0..<plane { alpha += gp[base + j] }
                alpha /= Float(plane)
                if alpha == 0 { continue }
                for j in 0..<plane { cam[j] += alpha * ap[base + j] }
            }
            var top: Float = 0
            for j in 0..<plane { cam[j] = max(0, cam[j]); top = max(top, cam[j]) }
            if top > 0 { for j in 0..<plane { cam[j] /= top } }
            return Map(width: w, height: h, values: cam, targetClass: targets[i])
        }
    }
}
