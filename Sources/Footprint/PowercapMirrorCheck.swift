import Foundation

/// The evidence for or against two zones reading one counter.
///
/// Multi-die parts list one socket counter once per die. A first reading within a joule of a
/// kept zone's only nominates a pair: DRAM counters, whose ranges run from tens of joules to
/// tens of kilojoules, agree that closely by chance on some start-ups. A mirror is proven by
/// behaviour: both counters, read back to back at ``PowercapInventory/mirrorCheckReads``
/// instants spread over 0.1 s, advance in lockstep while they advance. Two reads of one
/// counter taken back to back differ by at most one hardware update (about 1 ms of energy)
/// plus what the counter gained between them; distinct counters drift apart at the difference
/// of their powers.
public struct MirrorCheck: Sendable, Equatable {
    /// The zone that was checked.
    public var zoneID: String
    /// The kept zone it was compared with.
    public var otherID: String
    /// Seconds between consecutive reads, one per interval.
    public var intervalSeconds: [Double]
    /// Microjoules each counter advanced per interval; nil where a read failed or the counter
    /// went backwards.
    public var deltasMicrojoules: [UInt64?]
    public var otherDeltasMicrojoules: [UInt64?]
    public var isMirror: Bool
    /// One line: what the deltas showed.
    public var verdict: String

    /// `1200000/1200500, ...`: this zone's delta over the other's, per interval.
    public var deltasText: String {
        zip(deltasMicrojoules, otherDeltasMicrojoules).map { a, b in
            "\(a.map(String.init) ?? "-")/\(b.map(String.init) ?? "-")"
        }.joined(separator: ", ")
    }
}

/// Both counters of a pair read back to back: when, how long the two reads took, the values.
struct MirrorCheckRead {
    var time: Double
    var skew: Double
    var a: UInt64?
    var b: UInt64?
}

extension PowercapInventory {
    /// Instants at which a mirror check reads both counters, and the time between them: five
    /// intervals over 0.1 s, twice the ~50 ms a convincing check needs.
    public static let mirrorCheckReads = 6
    public static let mirrorCheckSpacingSeconds = 0.02
    /// How far apart two back-to-back reads of one counter may be, in seconds of its power:
    /// one RAPL update (~1 ms), twice.
    static let lockstepSlackSeconds = 0.002

    /// Pairs (kept candidate, zone) of readable package or dram zones whose first readings are
    /// within a joule, both nonzero; an `-mmio` package named like another is a duplicate
    /// decided by name and needs no check.
    static func mirrorCandidates(_ zones: [PowercapZone]) -> [(Int, Int)] {
        func mirrorable(_ zone: PowercapZone) -> Bool {
            (zone.kind == .package || zone.kind == .dram) && (zone.initialEnergyMicrojoules ?? 0) > 0
        }
        var pairs: [(Int, Int)] = []
        for j in zones.indices where mirrorable(zones[j]) {
            for i in zones.indices.prefix(j) where mirrorable(zones[i]) && zones[i].kind == zones[j].kind {
                let (a, b) = (zones[i], zones[j])
                if a.name == b.name && a.controlType.hasSuffix("-mmio") != b.controlType.hasSuffix("-mmio") { continue }
                let (x, y) = (a.initialEnergyMicrojoules ?? 0, b.initialEnergyMicrojoules ?? 0)
                if (x > y ? x - y : y - x) <= mirrorToleranceMicrojoules { pairs.append((i, j)) }
            }
        }
        return pairs
    }

    /// Reads both counters of every pair back to back at each instant and judges each pair.
    /// The time each pair's two reads took (a preempted reader) widens its tolerance.
    static func checkMirrors(_ pairs: [(Int, Int)], zones: [PowercapZone], reader: some PowercapFileReader,
                             clock: any FootprintClock) -> [MirrorCheck] {
        guard !pairs.isEmpty else { return [] }
        var series = pairs.map { _ in [MirrorCheckRead]() }
        func value(_ zone: PowercapZone) -> UInt64? {
            if case let .success(value) = reader.unsignedValue(ofFile: zone.energyPath) { return value }
            return nil
        }
        for instant in 0..<mirrorCheckReads {
            if instant > 0 { clock.sleep(seconds: mirrorCheckSpacingSeconds) }
            for (index, (i, j)) in pairs.enumerated() {
                let before = clock.monotonicSeconds()
                let a = value(zones[j]), b = value(zones[i])
                let after = clock.monotonicSeconds()
                series[index].append(MirrorCheckRead(time: before, skew: after - before, a: a, b: b))
            }
        }
        return zip(pairs, series).map { pair, reads in
            let (kept, zone) = (zones[pair.0], zones[pair.1])
            let intervals = zip(reads, reads.dropFirst()).map { $1.time - $0.time }
            func deltas(_ value: KeyPath<MirrorCheckRead, UInt64?>, range: UInt64?) -> [UInt64?] {
                zip(reads, reads.dropFirst()).map { previous, current in
                    guard let p = previous[keyPath: value], let c = current[keyPath: value] else { return nil }
                    return EnergyCounter.deltaMicrojoules(previous: p, current: c, maxRange: range)
                }
            }
            let mine = deltas(\.a, range: zone.maxEnergyRangeMicrojoules)
            let theirs = deltas(\.b, range: kept.maxEnergyRangeMicrojoules)
            let skews = reads.map(\.skew)
            let (isMirror, verdict) = judge(mine, theirs, intervals: intervals, skews: skews)
            return MirrorCheck(zoneID: zone.id, otherID: kept.id, intervalSeconds: intervals, deltasMicrojoules: mine,
                               otherDeltasMicrojoules: theirs, isMirror: isMirror, verdict: verdict)
        }
    }

    /// Lockstep: every interval both advanced, and they differ, per interval and over the whole
    /// check, by no more than their power times the slack and the time the pair's reads took.
    static func judge(_ a: [UInt64?], _ b: [UInt64?], intervals: [Double], skews: [Double]) -> (Bool, String) {
        let span = intervals.reduce(0, +)
        let spanText = String(format: "%.0f ms", span * 1000)
        guard a.allSatisfy({ $0 != nil }), b.allSatisfy({ $0 != nil }) else {
            return (false, "a read failed or a counter went backwards during the check: not proven a mirror, counted")
        }
        let x = a.compactMap { $0 }, y = b.compactMap { $0 }
        if zip(x, y).contains(where: { ($0 == 0) != ($1 == 0) }) {
            return (false, "one counter advanced while the other did not: distinct counters")
        }
        if zip(x, y).contains(where: { $0 == 0 && $1 == 0 }) {
            return (false, "the counters did not advance during the \(spanText) check: not proven a mirror, counted")
        }
        func tolerance(_ joulesA: UInt64, _ joulesB: UInt64, seconds: Double, skew: Double) -> Double {
            Double(max(joulesA, joulesB)) / max(seconds, 1e-9) * (lockstepSlackSeconds + skew) + 1
        }
        for index in intervals.indices {
            let allowed = tolerance(x[index], y[index], seconds: intervals[index], skew: skews[index] + skews[index + 1])
            let difference = Double(x[index] > y[index] ? x[index] - y[index] : y[index] - x[index])
            if difference > allowed {
                return (false, "interval \(index + 1) differs by \(Int(difference)) µJ (lockstep allows \(Int(allowed))): distinct counters")
            }
        }
        let sumA = x.reduce(0, +), sumB = y.reduce(0, +)
        let drift = Double(sumA > sumB ? sumA - sumB : sumB - sumA)
        let allowed = tolerance(sumA, sumB, seconds: span, skew: skews[0] + skews[skews.count - 1])
        if drift > allowed {
            return (false, "drifted \(Int(drift)) µJ apart over \(spanText) (lockstep allows \(Int(allowed))): distinct counters")
        }
        return (true, "advanced in lockstep over \(spanText) (\(sumA) and \(sumB) µJ, lockstep allows \(Int(allowed)) apart): one counter")
    }
}
