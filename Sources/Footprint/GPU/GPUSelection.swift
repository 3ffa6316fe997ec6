import Foundation

/// Which GPUs a run measures: `--gpus all|none|0,2` (or `gpus` in `fmctl.toml`); without one,
/// those `CUDA_VISIBLE_DEVICES` lists by index, else all.
///
/// Indices are NVML's, which number GPUs in PCI bus order; CUDA numbers them the same way with
/// `CUDA_DEVICE_ORDER=PCI_BUS_ID` (its default puts the fastest first).
public enum GPUSelection: Sendable, Equatable, CustomStringConvertible {
    case all
    /// These indices; an empty list (`none`) measures no GPU. (No `none` case: beside
    /// Optional's, `.none` would read as nil.)
    case indices([Int])

    /// What `--gpus` accepts, for its error message.
    public static let expected = "all, none, or GPU indices separated by commas, such as 0,2"

    /// `all`, `none`, or comma-separated non-negative indices (repeats collapse); nil otherwise.
    public init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        switch text {
        case "all": self = .all
        case "none": self = .indices([])
        default:
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            let indices = parts.compactMap { part in part.allSatisfy(\.isASCIIDigit) ? Int(part) : nil }
            guard !parts.isEmpty, indices.count == parts.count else { return nil }
            var seen = Set<Int>()
            self = .indices(indices.filter { seen.insert($0).inserted })
        }
    }

    /// `CUDA_VISIBLE_DEVICES` as CUDA reads it: indices up to the first entry that is not one
    /// (`-1` hides every GPU; empty means none). A list of UUIDs (`GPU-...`, `MIG-...`) cannot
    /// be matched to NVML's indices without more of NVML, so it selects all, with a note.
    public static func fromCUDAVisibleDevices(_ value: String) -> (GPUSelection, note: String?) {
        let parts = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if let first = parts.first, first.hasPrefix("GPU-") || first.hasPrefix("MIG-") {
            return (.all, "CUDA_VISIBLE_DEVICES names GPUs by UUID; measuring every GPU (use --gpus to choose by index)")
        }
        let indices = parts.prefix { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }.compactMap { Int($0) }
        var seen = Set<Int>()
        return (.indices(indices.filter { seen.insert($0).inserted }), nil)
    }

    /// True when it includes no GPU: `none`, or `CUDA_VISIBLE_DEVICES=`.
    public var isEmpty: Bool { self == .indices([]) }

    public func includes(_ index: Int) -> Bool {
        switch self {
        case .all: return true
        case let .indices(list): return list.contains(index)
        }
    }

    /// `all`, `none`, `0,2`.
    public var description: String {
        switch self {
        case .all: return "all"
        case let .indices(list): return list.isEmpty ? "none" : list.map(String.init).joined(separator: ",")
        }
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
