import Foundation
import FMSupport
import Footprint
import Reports

/// The arithmetic a training or inference run does: fp32, or fp16/bf16 on the tensor (matrix)
/// units with fp32 accumulation, as mixed-precision training does.
public enum Precision: String, CaseIterable, Sendable {
    case fp32, mixed
}

/// One accelerator (or CPU socket) of the catalogue, `Resources/accelerators.csv`.
public struct Accelerator: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Dense peak FLOP/s of fp32 math; nil where none is published (TPUs).
    public var fp32PeakFlopsPerSecond: Double?
    /// Dense peak FLOP/s of fp16/bf16 tensor math; nil where the chip has no such unit (CPUs).
    public var tensorPeakFlopsPerSecond: Double?
    public var tdpWatts: Double
    /// The datasheet or paper each figure comes from.
    public var source: String

    public init(name: String, description: String, fp32PeakFlopsPerSecond: Double?, tensorPeakFlopsPerSecond: Double?,
                tdpWatts: Double, source: String) {
        self.name = name
        self.description = description
        self.fp32PeakFlopsPerSecond = fp32PeakFlopsPerSecond
        self.tensorPeakFlopsPerSecond = tensorPeakFlopsPerSecond
        self.tdpWatts = tdpWatts
        self.source = source
    }

    /// The peak a projection at `precision` divides by, and why that one: mixed precision on a
    /// chip without fp16/bf16 tensor units runs at its fp32 rate. Nil when the chip publishes
    /// no peak for the precision (fp32 on a TPU).
    public func peak(_ precision: Precision) -> (flopsPerSecond: Double, column: String)? {
        switch (precision, tensorPeakFlopsPerSecond, fp32PeakFlopsPerSecond) {
        case let (.mixed, tensor?, _): return (tensor, "fp16/bf16 tensor peak")
        case let (.mixed, nil, fp32?): return (fp32, "fp32 peak (no fp16/bf16 tensor unit)")
        case let (.fp32, _, fp32?): return (fp32, "fp32 peak")
        default: return nil
        }
    }
}

/// The accelerators `fmctl footprint project` knows, in the CSV's order.
public struct AcceleratorCatalogue: Sendable {
    public var accelerators: [Accelerator]

    public static let columns = ["name", "description", "fp32_peak_flops", "tensor_peak_flops", "tdp_w", "source"]

    public static func bundled() throws -> AcceleratorCatalogue {
        let name = "accelerators.csv"
        guard let url = Bundle.module.url(forResource: "Resources/" + name, withExtension: nil),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw FootprintError.missingInput(path: name, expected: "the accelerator catalogue of the Projection module")
        }
        return try parse(csv: text, path: name)
    }

    /// Reads the CSV; a row without a name, a positive TDP, at least one positive peak and a
    /// source is bad data (exit 65, naming the line).
    public static func parse(csv: String, path: String) throws -> AcceleratorCatalogue {
        var accelerators: [Accelerator] = []
        for (number, fields) in CSV.parse(csv).enumerated() where number > 0 && !fields.allSatisfy(\.isEmpty) {
            func peak(_ field: String) -> Double?? { field.isEmpty ? .some(nil) : Double(field).flatMap { $0 > 0 ? $0 : nil } }
            guard fields.count == columns.count, !fields[0].isEmpty, let fp32 = peak(fields[2]), let tensor = peak(fields[3]),
                  fp32 != nil || tensor != nil, let tdp = Double(fields[4]), tdp > 0, !fields[5].isEmpty else {
                throw FootprintError.invalidConfigFile(path: path, line: number + 1, expected: columns.joined(separator: ","))
            }
            accelerators.append(Accelerator(name: fields[0].lowercased(), description: fields[1], fp32PeakFlopsPerSecond: fp32,
                                            tensorPeakFlopsPerSecond: tensor, tdpWatts: tdp, source: fields[5]))
        }
        return AcceleratorCatalogue(accelerators: accelerators)
    }

    public var names: [String] { accelerators.map(\.name) }

    /// The accelerator `name` names (any case); an unknown name is a usage error listing the known ones.
    public func accelerator(named name: String) throws -> Accelerator {
        guard let accelerator = accelerators.first(where: { $0.name == name.lowercased() }) else {
            throw FootprintError.invalidOption(option: "--accelerator", value: name,
                                               expected: "one of " + names.joined(separator: ", "))
        }
        return accelerator
    }
}
