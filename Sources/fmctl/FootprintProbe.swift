import ArgumentParser
import Footprint
import Reports

/// `fmctl footprint probe`: which RAPL zones exist, which are counted and why, and what to fix;
/// then which GPUs NVML lists, how each is measured, or why none can be.
struct FootprintProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "List powercap zones and GPUs, how each is counted, wrap times, and a diagnosis with the fix.")

    @Option(name: .customLong("powercap-root"),
            help: ArgumentHelp("Powercap folder (default: $FMCTL_POWERCAP_ROOT or /sys/class/powercap).", valueName: "dir"))
    var powercapRoot: String?

    @Option(name: .customLong("gpus"), parsing: .unconditional, help: ArgumentHelp(gpusHelp, valueName: "list"))
    var gpus: String?

    func validate() throws {
        do { try FootprintOverrides(gpus: gpus).validate(table: nil) }
        catch let error as FootprintError { throw ValidationError(error.description) }
    }

    func run() throws {
        let root = PowercapInventory.resolveRoot(powercapRoot)
        let probe = PowercapProbe(inventory: PowercapInventory.discover(root: root))
        print(probe.rendered(), terminator: "")
        print(GPUInventory.discover(selection: gpus.flatMap(GPUSelection.init(argument:)), listAll: true).rendered(), terminator: "")
    }
}
