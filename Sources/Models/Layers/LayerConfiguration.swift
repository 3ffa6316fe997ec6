/// One layer in the model JSON format: Keras's class name and option names
/// (`{"type": "Conv2D", "filters": 32, "kernel_size": [3, 3], "activation": "relu"}`).
public struct LayerConfiguration: Codable, Equatable, Sendable {
    public var type: String
    public var name: String?
    public var units: Int?
    public var filters: Int?
    public var kernelSize: [Int]?
    public var strides: [Int]?
    public var padding: Padding?
    public var activation: Activation?
    public var poolSize: [Int]?
    public var rate: Double?

    public init(type: String, name: String? = nil, units: Int? = nil, filters: Int? = nil,
                kernelSize: [Int]? = nil, strides: [Int]? = nil, padding: Padding? = nil,
                activation: Activation? = nil, poolSize: [Int]? = nil, rate: Double? = nil) {
        self.type = type; self.name = name; self.units = units; self.filters = filters
        self.kernelSize = kernelSize; self.strides = strides; self.padding = padding
        self.activation = activation; self.poolSize = poolSize; self.rate = rate
    }

    enum CodingKeys: String, CodingKey {
        case type, name, units, filters, strides, padding, activation, rate
        case kernelSize = "kernel_size", poolSize = "pool_size"
    }
}

import Tensor
