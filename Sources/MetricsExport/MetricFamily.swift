/// One Prometheus metric family: a name, its help text, its type and one value per label set.
public struct MetricFamily: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// Only ever grows while the run lasts (energy, CO2e, cost, samples).
        case counter
        /// A value that goes up and down (power, epoch, loss, accuracy).
        case gauge
    }

    public var name: String
    public var help: String
    public var kind: Kind
    public var samples: [MetricSample]

    public init(name: String, help: String, kind: Kind, samples: [MetricSample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
    }
}

/// One series of a family: its labels, in the order they are written, and its value.
public struct MetricSample: Sendable, Equatable {
    public var labels: [MetricLabel]
    public var value: Double

    public init(labels: [MetricLabel], value: Double) {
        self.labels = labels
        self.value = value
    }

    /// The value of the label `name`, if the series has it.
    public func label(_ name: String) -> String? {
        labels.first { $0.name == name }?.value
    }
}

public struct MetricLabel: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}
