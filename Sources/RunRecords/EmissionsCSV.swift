import FMSupport
import Footprint
import Foundation

/// emissions.csv in CodeCarbon 3.3's column set, order and units (duration s, emissions kg,
/// power W, energy kWh, RAM GB), so CodeCarbon's tools read fmctl runs. Cells that do not
/// apply (GPU without one measured, water, cloud, Python) are empty. `energy_consumed` is the measured energy
/// before PUE; `emissions` = energy_consumed x pue x intensity, with `pue` in its column.
public enum EmissionsCSV {
    public static let columns = [
        "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
        "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
        "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
        "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
        "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
        "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue",
    ]

    public static var header: String { CSV.row(columns) }

    /// One row with the run's cumulative figures so far.
    public static func row(for record: RunRecord, at date: Date = Date(), countryName: String? = nil) -> String {
        let total = record.total
        let duration = total.durationSeconds
        let domains = total.domains ?? [:]
        let counted = record.measurement?.domains ?? []
        func joules(_ isKind: (String) -> Bool) -> Double? {
            guard total.energyJoules != nil else { return nil }
            return counted.filter(isKind).compactMap { domains[$0] }.reduce(0, +)
        }
        let cpuJoules = joules { $0.hasPrefix("package") || $0 == "cpu" || $0 == "psys" }
        let ramJoules = joules { $0.hasPrefix("dram") || $0 == "ram" }
        let gpus = record.measurement?.gpus ?? []
        let gpuJoules = gpus.isEmpty ? nil : joules(MeasurementProvenance.isGPUDomain)
        let kilograms = total.co2eGrams.map { $0 / 1000 }
        func watts(_ joules: Double?) -> Double? { joules.flatMap { duration > 0 ? $0 / duration : nil } }
        let iso = record.carbon.region.count == 3 ? record.carbon.region : ""
        let values: [String: String] = [
            "timestamp": Timestamps.iso8601(date),
            "project_name": record.model,
            "run_id": record.runID,
            "duration": CSVNumber.format(duration),
            "emissions": CSVNumber.format(kilograms),
            "emissions_rate": CSVNumber.format(kilograms.flatMap { duration > 0 ? $0 / duration : nil }),
            "cpu_power": CSVNumber.format(watts(cpuJoules)),
            "ram_power": CSVNumber.format(watts(ramJoules)),
            "cpu_energy": CSVNumber.format(cpuJoules.map { $0 / EnergyUnits.joulesPerKWh }),
            "ram_energy": CSVNumber.format(ramJoules.map { $0 / EnergyUnits.joulesPerKWh }),
            "gpu_power": CSVNumber.format(watts(gpuJoules)),
            "gpu_energy": CSVNumber.format(gpuJoules.map { $0 / EnergyUnits.joulesPerKWh }),
            "gpu_count": gpus.isEmpty ? "" : String(gpus.count),
            "gpu_model": gpuModel(gpus),
            "energy_consumed": CSVNumber.format(total.energyKWh),
            "country_name": countryName ?? (record.carbon.region == "WORLD" ? "World" : ""),
            "country_iso_code": iso,
            "os": record.host.os,
            "cpu_count": String(record.host.cpuCount),
            "cpu_model": record.host.cpuModel,
            "ram_total_size": CSVNumber.format(record.host.ramTotalGB),
            "tracking_mode": record.measurement?.source == .rapl ? "machine" : "process",
            "cpu_utilization_percent": CSVNumber.format(total.cpuUtilization.map { $0 * 100 }),
            "on_cloud": "N",
            "pue": CSVNumber.format(record.carbon.pue),
        ]
        return CSV.row(columns.map { values[$0] ?? "" })
    }

    /// CodeCarbon's form: `2 x NVIDIA H200`, models in the order first seen.
    static func gpuModel(_ gpus: [GPURecord]) -> String {
        var names: [String] = []
        for gpu in gpus where !names.contains(gpu.name) { names.append(gpu.name) }
        return names.map { name in "\(gpus.filter { $0.name == name }.count) x \(name)" }.joined(separator: ", ")
    }
}
