import Foundation

/// The evidence for or against two zones reading one counter.
///
/// Multi-die parts list one socket counter once per die. A first reading within a joule of a
/// kept zone's only nominates a pair: DRAM counters, whose ranges run from tens of joules to
/// tens of kilojoules, agree that closely by chance on some start-ups. A mirror is proven by
/// behaviour, at ``PowercapInventory/mirrorCheckReads`` instants spread over 0.1 s while the
/// counters advance: at each, the zone is read between two reads of the kept zone, and one
/// counter read three times in a row can only give a middle value between the other two
/// (modulo its range). Distinct counters pass that only if their values coincide to the
/// microjoule at every instant, which counters that merely started close, even at nearly the
/// same power, do not: no tolerance is involved.
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

/// A pair read at one instant: the kept zone (b), the zone (a), the kept zone again (bAfter).
struct MirrorCheckRead {
    var time: Double
    var a: UInt64?
    var b: UInt64?
    var bAfter: UInt64?
}

extension PowercapInventory {
    /// Instants at which a mirror check reads both counters, and the time between them: five
    /// intervals over 0.1 s, twice the ~50 ms a convincing check needs.
    public static let mirrorCheckReads = 6
    public static let mirrorCheckSpacingSeconds = 0.02

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

    /// Reads every pair at each instant (the kept zone, the zone, the kept zone again) and
    /// judges each pair.
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
                let time = clock.monotonicSeconds()
                let b = value(zones[i]), a = value(zones[j]), bAfter = value(zones[i])
                series[index].append(MirrorCheckRead(time: time, a: a, b: b, bAfter: bAfter))
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
            // Between the kept counter's two reads: no further from the first than the second is.
            let between: [Bool] = reads.map { read in
                guard let b = read.b, let a = read.a, let after = read.bAfter,
                      let toZone = EnergyCounter.deltaMicrojoules(previous: b, current: a, maxRange: kept.maxEnergyRangeMicrojoules),
                      let toAfter = EnergyCounter.deltaMicrojoules(previous: b, current: after, maxRange: kept.maxEnergyRangeMicrojoules)
                else { return false }
                return toZone <= toAfter
            }
            let (isMirror, verdict) = judge(mine, theirs, intervals: intervals, between: between)
            return MirrorCheck(zoneID: zone.id, otherID: kept.id, intervalSeconds: intervals, deltasMicrojoules: mine,
                               otherDeltasMicrojoules: theirs, isMirror: isMirror, verdict: verdict)
        }
    }

    /// A mirror: both counters advanced in every interval, and at every instant the zone's value
    /// lay between the kept zone's reads just before and after it.
    static func judge(_ a: [UInt64?], _ b: [UInt64?], intervals: [Double], between: [Bool]) -> (Bool, String) {
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
        if let instant = between.firstIndex(of: false) {
            return (false, "at read \(instant + 1) its value was not between two reads of the other taken just before and after: distinct counters")
        }
        let sumA = x.reduce(0, +), sumB = y.reduce(0, +)
        return (true, "read between two reads of the other at each of \(between.count) instants over \(spanText) (advanced \(sumA) and \(sumB) µJ): one counter")
    }
}
