import NN
import Zoo

extension KerasModelConfig {
    /// The model as a graph of zoo kinds, read through the `KerasLayers` table: one node per Keras
    /// layer with its name and inbound layers (a Sequential's layers read the one before). Nested
    /// models are inlined (see `ModelGraph`): their input layer stands for what feeds them and their
    /// last layer for their output. Throws naming the first layer no kind reads.
    public func graph(file: String = "") throws -> ModelGraph {
        guard let inputLayer = layers.first(where: { $0.className == "InputLayer" && $0.parent == nil }),
              let hwc = inputLayer.inputShape, hwc.count == 3, let h = hwc[0], let w = hwc[1], let c = hwc[2] else {
            throw WeightIOError(.malformed, file: file, "model_config has no input layer of known (H, W, C)")
        }
        var nodes: [Node] = []
        var rename: [String: String] = [:]   // nested input/container name -> the node it stands for
        func resolve(_ n: String) -> String { rename[n].map(resolve) ?? n }

        func visit(_ parent: String?, feeding: String?, sequential: Bool) throws -> String? {
            var previous = feeding
            for l in layers where l.parent == parent {
                if l.className == "InputLayer" {
                    if parent == nil { previous = l.name } else if let feeding { rename[l.name] = feeding }
                    continue
                }
                let inbound = l.inbound.map(resolve)
                if ["Functional", "Sequential", "Model"].contains(l.className) {
                    let out = try visit(l.name, feeding: inbound.first ?? previous, sequential: l.className == "Sequential")
                    if let out { rename[l.name] = out }
                    previous = out ?? previous
                    continue
                }
                guard let kind = KerasLayers.kind(l) else {
                    throw WeightIOError(.malformed, file: file, layer: l.name, "no layer kind reads Keras \(l.className) with this config")
                }
                let inputs = (sequential || inbound.isEmpty) ? previous.map { [$0] } ?? [] : inbound
                nodes.append(Node(name: l.name, layer: kind, inputs: inputs))
                previous = l.name
            }
            return previous
        }
        let output = try visit(nil, feeding: nil, sequential: className == "Sequential")
        return try ModelGraph(input: inputLayer.name, inputShape: [c, h, w], nodes: nodes, output: output.map(resolve))
    }
}
