/// run.json `pretraining`: the run a fine-tuned model started from (`fmctl train --init-from`)
/// and what that run cost, copied from its run.json when fine-tuning began. Those figures are
/// the pretraining run's own measurement: reports show them beside this run's total, never
/// inside it (docs/run-folder.md).
public struct PretrainingRecord: Codable, Sendable, Equatable {
    /// The `--init-from` value as given (a run folder or a model.safetensors).
    public var path: String
    /// The pretraining run's `run_id`, model and data set; nil when it has no readable run.json.
    public var runID: String?
    public var model: String?
    public var dataset: String?
    /// Its status when fine-tuning began (`completed`, `interrupted`, ...).
    public var status: String?
    /// Its totals: duration, energy, CO2e and cost; nil where it measured none.
    public var durationSeconds: Double?
    public var energyJoules: Double?
    public var energyKWh: Double?
    public var co2eGrams: Double?
    public var cost: Double?
    public var currency: String?
    /// Where its energy came from (its measurement's source label, e.g. `rapl`, `estimate`).
    public var source: String?
    /// Layers loaded from it, and layers frozen in this run.
    public var loadedLayers: [String]
    public var frozenLayers: [String]

    enum CodingKeys: String, CodingKey {
        case path, model, dataset, status, currency, source, cost
        case runID = "run_id", durationSeconds = "duration_s", energyJoules = "energy_j", energyKWh = "energy_kwh"
        case co2eGrams = "co2e_g", loadedLayers = "loaded_layers", frozenLayers = "frozen_layers"
    }

    /// The record of fine-tuning from `path`, with the figures of `run` (the pretraining run's
    /// record) when there is one.
    public init(path: String, run: RunRecord?, loadedLayers: [String], frozenLayers: [String]) {
        self.path = path
        self.loadedLayers = loadedLayers
        self.frozenLayers = frozenLayers
        guard let run else { return }
        runID = run.runID
        model = run.model
        dataset = run.dataset
        status = run.status.rawValue
        durationSeconds = run.total.durationSeconds
        energyJoules = run.total.energyJoules
        energyKWh = run.total.energyKWh
        co2eGrams = run.total.co2eGrams
        cost = run.total.cost
        currency = run.carbon.currency
        source = run.measurement?.sourceLabel
    }
}
