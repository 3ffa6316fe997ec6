import Footprint
@testable import Projection

/// The options a command line would give, as key paths and text.
typealias OptionValues = [(any WritableKeyPath<ProjectionOptions, String?> & Sendable, String)]

/// Resolves `values` (and `precision`) as `fmctl footprint project` does and projects them.
func project(_ values: OptionValues, precision: Precision? = nil, measured: MeasuredRate? = nil,
             catalogue: AcceleratorCatalogue? = nil) throws -> Projection {
    let catalogue = try catalogue ?? AcceleratorCatalogue.bundled()
    return Projection(inputs: try inputs(values, precision: precision, measured: measured, catalogue: catalogue), catalogue: catalogue)
}

func inputs(_ values: OptionValues, precision: Precision? = nil, measured: MeasuredRate? = nil,
            catalogue: AcceleratorCatalogue? = nil) throws -> ProjectionInputs {
    var options = ProjectionOptions()
    for (path, text) in values { options[keyPath: path] = text }
    options.precision = precision
    return try ProjectionInputs(options: options, catalogue: catalogue ?? AcceleratorCatalogue.bundled(),
                                carbonTable: CarbonIntensityTable.bundled(), measured: measured)
}

func relativeError(_ value: Double, _ expected: Double) -> Double { abs(value - expected) / abs(expected) }
