import Foundation
@testable import Footprint
import RunRecords
import Testing

/// Under mpirun each host is measured once and rank 0 adds the hosts up (docs/distributed.md).
@Suite struct DistributedRecordTests {
    func measurement(joules: [String: Double], source: EnergySource, sources: [String: DomainSource],
                     duration: Double, warnings: [String] = [], aboveIdle: Double? = nil) -> EnergyMeasurement {
        var m = EnergyMeasurement(name: "epoch-1", startedAt: Date(timeIntervalSince1970: 0), durationSeconds: duration,
                                  energyJoules: joules.values.reduce(0, +), domainJoules: joules,
                                  countedDomains: joules.keys.sorted(), source: source, method: source.rawValue,
                                  warnings: warnings, sampleCount: 3, missingSampleCount: 1, cpuSeconds: 2,
                                  logicalCPUs: 4, energyAboveIdleJoules: aboveIdle)
        m.domainSources = sources
        return m
    }

    @Test func hosts_addUp_andAnEstimatedHostMakesTheTotalAnEstimate() {
        let a = measurement(joules: ["package-0": 100, "dram": 10, "gpu-0": 50], source: .rapl,
                            sources: ["package-0": .rapl, "dram": .rapl, "gpu-0": .nvml], duration: 2, aboveIdle: 5)
        let b = measurement(joules: ["cpu": 30, "ram": 3, "gpu-0": 40], source: .estimate,
                            sources: ["cpu": .estimate, "ram": .estimate, "gpu-0": .nvml], duration: 2.5,
                            warnings: ["no RAPL"], aboveIdle: 1)
        let m = EnergyMeasurement.combined([("a", a), ("b", b)])
        #expect(m.energyJoules == 233)
        #expect(m.domainJoules == ["package-0": 100, "dram": 10, "gpu-0": 90, "cpu": 30, "ram": 3])
        #expect(Set(m.countedDomains) == ["package-0", "dram", "gpu-0", "cpu", "ram"])
        #expect(m.source == .estimate)
        #expect(m.domainSources["gpu-0"] == .nvml && m.domainSources["cpu"] == .estimate)
        #expect(m.warnings == ["b: no RAPL"])
        #expect(m.durationSeconds == 2.5)
        #expect(m.sampleCount == 6 && m.missingSampleCount == 2 && m.cpuSeconds == 4 && m.logicalCPUs == 8)
        #expect(m.energyAboveIdleJoules == 6)
        #expect(m.method == "a: rapl; b: estimate")
        // Two RAPL hosts stay RAPL; one host is itself.
        #expect(EnergyMeasurement.combined([("a", a), ("a2", a)]).source == .rapl)
        #expect(EnergyMeasurement.combined([("b", b)]) == b)
    }

    @Test func hostRecords_accumulateTheirWindows() {
        var host = HostEnergyRecord(host: "node1", ranks: [0, 1])
        host.add(measurement(joules: ["package-0": 10], source: .rapl, sources: [:], duration: 1))
        host.add(measurement(joules: ["package-0": 5, "dram": 1], source: .rapl, sources: [:], duration: 1))
        #expect(host.energyJoules == 16 && host.domains == ["package-0": 15, "dram": 1] && host.source == .rapl)
        host.add(measurement(joules: ["cpu": 1], source: .estimate, sources: [:], duration: 1))
        #expect(host.source == .estimate)
        let record = DistributedRecord(worldSize: 2, hosts: [host])
        let json = String(decoding: try! JSONEncoder().encode(record), as: UTF8.self)
        #expect(json.contains("\"world_size\":2") && json.contains("\"energy_j\":17"))
    }
}
