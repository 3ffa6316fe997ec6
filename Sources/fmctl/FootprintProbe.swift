import ArgumentParser
import Footprint
import Reports

/// `fmctl footprint probe`: which RAPL zones exist, which are counted and why, and what to fix.
struct FootprintProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "List powercap zones, how each is counted, wrap times, and a diagnosis with the fix.")

    @Option(name: .customLong("powercap-root"),
            help: ArgumentHelp("Powercap folder (default: $FMCTL_POWERCAP_ROOT or /sys/class/powercap).", valueName: "dir"))
    var powercapRoot: String?

    func run() throws {
        let root = PowercapInventory.resolveRoot(powercapRoot)
        let probe = PowercapProbe(inventory: PowercapInventory.discover(root: root))
        print(probe.rendered(), terminator: "")
    }
}
