/// What a number of accelerator-hours costs: facility energy, operational CO2e, money, and
/// (apart, never added to the CO2e) embodied carbon.
///
/// Patterson et al. 2021's formulas: `kWh = accelerator-hours x average W x PUE / 1000` and
/// `kg CO2e = kWh x g CO2e/kWh / 1000`. Each input enters once, so ranges stay exact.
public struct AcceleratorTimeCost: Sendable, Equatable {
    public var acceleratorHours: Interval
    public var energyKWh: Interval
    public var co2eKg: Interval
    /// Nil without `--price-per-kwh`.
    public var energyCost: Interval?
    /// Nil without `--price-per-accelerator-hour`.
    public var computeCost: Interval?
    /// Nil without `--embodied-kg-per-accelerator-hour`.
    public var embodiedCO2eKg: Interval?

    public init(acceleratorHours: Interval, inputs: ProjectionInputs) {
        self.acceleratorHours = acceleratorHours
        energyKWh = acceleratorHours * inputs.averagePowerWatts.value * inputs.pue.value / 1000
        co2eKg = energyKWh * inputs.carbonIntensity.value / 1000
        energyCost = inputs.pricePerKWh.map { energyKWh * $0.value }
        computeCost = inputs.pricePerAcceleratorHour.map { acceleratorHours * $0.value }
        embodiedCO2eKg = inputs.embodiedKgPerAcceleratorHour.map { acceleratorHours * $0.value }
    }
}

/// A training run's price.
public struct TrainingProjection: Sendable, Equatable {
    /// Nil when only the duration was given.
    public var flops: Interval?
    public var days: Interval
    public var cost: AcceleratorTimeCost
    /// With `--days` and the FLOPs on a catalogue accelerator: the utilisation of its peak that
    /// the duration implies, `FLOPs / (accelerator-seconds x peak)`.
    public var impliedMFU: Interval?
}

/// An inference service's price per day and per 1,000 queries.
public struct InferenceProjection: Sendable, Equatable {
    /// 2·N FLOPs per token (a forward pass; Kaplan et al. 2020).
    public var flopsPerDay: Interval
    public var perDay: AcceleratorTimeCost
    /// How many accelerators the day's tokens keep busy around the clock.
    public var acceleratorsBusy: Interval
    public var queryTokens: Interval
    /// 2·N·L·1000 for queries of L tokens.
    public var flopsPerThousandQueries: Interval
    public var perThousandQueries: AcceleratorTimeCost
}

/// How many FLOPs per second and per joule one accelerator does at the projection's
/// precision and utilisation, beside this machine's measured rate (`--from-run`).
public struct EfficiencyRow: Sendable, Equatable {
    public var name: String
    public var description: String
    public var flopsPerSecond: Interval
    /// `peak x MFU / TDP` for the catalogue's accelerators; FLOPs over joules for this machine.
    public var flopsPerJoule: Interval
    public var source: String
}

/// A projection: the inputs and what they give.
public struct Projection: Sendable {
    public var inputs: ProjectionInputs
    public var training: TrainingProjection?
    public var inference: InferenceProjection?
    /// This machine first, then the catalogue; only with `--from-run`.
    public var efficiency: [EfficiencyRow]?

    public init(inputs: ProjectionInputs, catalogue: AcceleratorCatalogue) {
        self.inputs = inputs
        let rate = inputs.ratePerAccelerator
        let secondsPerHour = 3600.0, hoursPerDay = 24.0

        // Training: the duration given wins; otherwise the FLOPs at the effective rate. The
        // accelerator-hours come from the FLOPs alone (not via the count and the days), so a
        // range of counts does not widen the energy.
        if let days = inputs.days {
            let hours = inputs.count.value * days.value * hoursPerDay
            var impliedMFU: Interval?
            if case let .accelerator(_, peak) = inputs.hardware, let flops = inputs.flops {
                impliedMFU = flops.value / (hours * secondsPerHour * peak.value)
            }
            training = TrainingProjection(flops: inputs.flops?.value, days: days.value,
                                          cost: AcceleratorTimeCost(acceleratorHours: hours, inputs: inputs), impliedMFU: impliedMFU)
        } else if let flops = inputs.flops {
            let hours = flops.value / (rate * secondsPerHour)
            training = TrainingProjection(flops: flops.value, days: hours / (inputs.count.value * hoursPerDay),
                                          cost: AcceleratorTimeCost(acceleratorHours: hours, inputs: inputs), impliedMFU: nil)
        }

        if let parameters = inputs.parameters, let tokensPerDay = inputs.inferenceTokensPerDay,
           let queryTokens = inputs.queryTokens {
            let flopsPerDay = parameters.value * tokensPerDay.value * 2
            let acceleratorHoursPerDay = flopsPerDay / (rate * secondsPerHour)
            let flopsPerThousandQueries = parameters.value * queryTokens.value * 2000
            inference = InferenceProjection(flopsPerDay: flopsPerDay,
                                            perDay: AcceleratorTimeCost(acceleratorHours: acceleratorHoursPerDay, inputs: inputs),
                                            acceleratorsBusy: acceleratorHoursPerDay / hoursPerDay, queryTokens: queryTokens.value,
                                            flopsPerThousandQueries: flopsPerThousandQueries,
                                            perThousandQueries: AcceleratorTimeCost(
                                                acceleratorHours: flopsPerThousandQueries / (rate * secondsPerHour), inputs: inputs))
        }

        if case let .measured(run) = inputs.hardware {
            let here = EfficiencyRow(name: "this machine", description: run.label, flopsPerSecond: Interval(run.flopsPerSecond),
                                     flopsPerJoule: Interval(run.flopsPerJoule), source: "measured")
            efficiency = [here] + catalogue.accelerators.compactMap { accelerator in
                guard let peak = accelerator.peak(inputs.precision) else { return nil }
                let flopsPerSecond = inputs.mfu.value * peak.flopsPerSecond
                return EfficiencyRow(name: accelerator.name, description: accelerator.description, flopsPerSecond: flopsPerSecond,
                                     flopsPerJoule: flopsPerSecond / accelerator.tdpWatts,
                                     source: "\(peak.column) x MFU / TDP \(accelerator.tdpWatts) W; \(accelerator.source)")
            }
        }
    }
}
