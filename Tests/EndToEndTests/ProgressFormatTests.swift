import Testing
@testable import fmctl

/// The progress line's pieces, against what Keras 3 prints for the same times.
@Suite struct ProgressFormatTests {
    @Test(arguments: [
        (0.94 * 57 / 1000, 57, "940us/step"),   // the MLP's step on a fast machine
        (1.688 * 5.2, 1688, "5ms/step"),
        (1.688 * 0.9996, 1688, "1000us/step"),   // Keras too: below 1e-3 is microseconds
        (30.0, 20, "2s/step"),
        (0.0, 10, "0s/step"),
        (1.0, 0, ""),
        (0.0025 * 4, 4, "2ms/step"),   // %.0f rounds half to even, as Python does
    ])
    func perStep_usesKerasUnits(_ c: (seconds: Double, steps: Int, expected: String)) {
        #expect(ProgressPrinter.perStep(c.seconds, steps: c.steps) == c.expected)
    }

    @Test func bar_fillsInProportion() {
        #expect(ProgressPrinter.bar(0, 10) == String(repeating: "─", count: 20))
        #expect(ProgressPrinter.bar(5, 10) == String(repeating: "━", count: 10) + String(repeating: "─", count: 10))
        #expect(ProgressPrinter.bar(10, 10) == String(repeating: "━", count: 20))
    }

    @Test func elapsed_isWholeSeconds() {
        #expect(ProgressPrinter.elapsed(9.4) == "9s")
        #expect(ProgressPrinter.elapsed(75.2) == "75s")
        #expect(ProgressPrinter.elapsed(3725) == "3725s")
    }

    @Test func eta_likeKeras() {
        #expect(ProgressPrinter.eta(9.9) == "9s")
        #expect(ProgressPrinter.eta(75.5) == "1:15")
        #expect(ProgressPrinter.eta(3725) == "1:02:05")
        #expect(ProgressPrinter.eta(.infinity) == "?s")   // no crash before the first timing
    }
}
