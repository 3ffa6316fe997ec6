import Foundation

/// XML text and attribute escaping: every string that reaches an SVG or HTML document
/// (run ids, model names, warnings, labels) goes through here.
public enum XMLText {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // XML 1.0 allows TAB, LF, CR and nothing else below 0x20.
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default: if scalar.value >= 0x20 && scalar.value != 0x7F { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}

/// Axis ticks at 1, 2 or 5 x 10^k (Heckbert's "nice numbers"), covering `lower...upper`.
public struct NiceScale: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var step: Double

    /// `minimumStep` keeps ticks on whole numbers where fractions mean nothing (epochs).
    public init(lower: Double, upper: Double, maxTicks: Int = 6, minimumStep: Double = 0) {
        var low = lower.isFinite ? lower : 0
        var high = upper.isFinite ? upper : 1
        if high < low { swap(&low, &high) }
        if high == low {
            // A flat series still needs an axis: widen around it (or 0...1 at zero).
            let pad = low == 0 ? 1 : abs(low) * 0.1
            low -= low == 0 ? 0 : pad
            high += pad
        }
        let range = Self.nice(high - low, round: false)
        let step = max(minimumStep, Self.nice(range / Double(max(1, maxTicks - 1)), round: true))
        self.step = step
        self.lower = (low / step).rounded(.down) * step
        self.upper = (high / step).rounded(.up) * step
    }

    /// The tick values from `lower` to `upper`, computed from an integer index so that
    /// repeated addition does not drift (0.1 + 0.2 ...).
    public var ticks: [Double] {
        let count = Int(((upper - lower) / step).rounded()) + 1
        return (0..<max(1, count)).map { lower + Double($0) * step }
    }

    /// A tick label with as many decimals as the step needs: `0.25`, `1.5`, `200`.
    public func label(_ value: Double) -> String {
        let decimals = min(9, max(0, Int((-log10(step) - 1e-9).rounded(.up))))
        // A tick computed as -1e-17 is zero, and must not print as "-0.0".
        let clean = abs(value) < step * 1e-9 ? 0 : value
        return String(format: "%.\(decimals)f", clean)
    }

    static func nice(_ value: Double, round: Bool) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let exponent = floor(log10(value))
        let fraction = value / pow(10, exponent)
        let niceFraction: Double
        if round {
            niceFraction = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            niceFraction = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return niceFraction * pow(10, exponent)
    }
}

/// A unit for a chart axis chosen so that the largest value reads between 1 and 1000
/// (`mg`, `g`, `kg`; `J`, `kJ`, `MJ`).
public struct ScaledUnit: Sendable, Equatable {
    public var name: String
    /// Base units per one of this unit (1000 for kJ when the base is J).
    public var factor: Double

    public static func pick(forMaximum maximum: Double, from units: [ScaledUnit]) -> ScaledUnit {
        let fitting = units.sorted { $0.factor < $1.factor }.last { maximum / $0.factor >= 1 }
        return fitting ?? units.min { $0.factor < $1.factor }!
    }

    public static let joules = [ScaledUnit(name: "J", factor: 1), ScaledUnit(name: "kJ", factor: 1e3), ScaledUnit(name: "MJ", factor: 1e6)]
    public static let wattHours = [ScaledUnit(name: "mWh", factor: 1e-3), ScaledUnit(name: "Wh", factor: 1), ScaledUnit(name: "kWh", factor: 1e3),
                                   ScaledUnit(name: "MWh", factor: 1e6)]
    public static let grams = [ScaledUnit(name: "µg", factor: 1e-6), ScaledUnit(name: "mg", factor: 1e-3), ScaledUnit(name: "g", factor: 1),
                               ScaledUnit(name: "kg", factor: 1e3), ScaledUnit(name: "t", factor: 1e6)]
}

/// How a series looks without colour: bars get a fill pattern, lines a dash style and a
/// marker, so that a chart printed in grey scale still tells its series apart.
public enum ChartMarker: String, Sendable {
    case circle, square, triangle, diamond, cross
}

public struct BarSeries: Sendable {
    public var name: String
    /// One value per category; nil draws nothing.
    public var values: [Double?]

    public init(name: String, values: [Double?]) {
        self.name = name
        self.values = values
    }
}

public struct ChartPoint: Sendable {
    public var x: Double
    public var y: Double
    /// An error bar from `low` to `high` (e.g. a forecast's range).
    public var low: Double?
    public var high: Double?
    /// Text written beside the point.
    public var label: String?

    public init(x: Double, y: Double, low: Double? = nil, high: Double? = nil, label: String? = nil) {
        self.x = x
        self.y = y
        self.low = low
        self.high = high
        self.label = label
    }
}

public struct LineSeries: Sendable {
    public var name: String
    public var points: [ChartPoint]
    public var connected: Bool
    public var marker: ChartMarker?
    public var filledMarker: Bool
    /// Index into the dash styles (0 solid, 1 dashed, 2 dotted, 3 dash-dot).
    public var dash: Int
    /// Index into the stroke greys (0 darkest).
    public var tone: Int

    public init(name: String, points: [ChartPoint], connected: Bool = true, marker: ChartMarker? = nil,
                filledMarker: Bool = true, dash: Int = 0, tone: Int = 0) {
        self.name = name
        self.points = points
        self.connected = connected
        self.marker = marker
        self.filledMarker = filledMarker
        self.dash = dash
        self.tone = tone
    }

    var stroke: String { SVGChart.tones[tone % SVGChart.tones.count] }
    var dashPattern: String { SVGChart.dashes[dash % SVGChart.dashes.count] }
}

/// A horizontal line across the plot (e.g. the actual total a forecast aims at).
public struct ReferenceLine: Sendable {
    public var name: String
    public var y: Double

    public init(name: String, y: Double) {
        self.name = name
        self.y = y
    }
}

/// A chart's frame: title, axis labels (with units) and size in CSS pixels.
public struct ChartFrame: Sendable {
    public var id: String
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var width: Double
    public var height: Double

    /// `id` prefixes the ids of the chart's patterns, which share one namespace with every
    /// other SVG inlined in the same HTML page.
    public init(id: String, title: String, xLabel: String, yLabel: String, width: Double = 600, height: Double = 340) {
        self.id = id
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.width = width
        self.height = height
    }
}

/// Self-contained SVG charts (no script, no fonts, no external references): stacked bars,
/// lines and scatter plots with error bars. Every number in the output comes from the values
/// passed in; every text goes through `XMLText.escape`.
///
/// The `<svg>` elements are for inlining in HTML, whose parser puts them in the SVG namespace;
/// they carry no `xmlns` so that the page holds no URL at all.
public enum SVGChart {
    /// Stroke greys, darkest first, far enough apart in luminance to survive grey-scale print.
    static let tones = ["#1b2a3a", "#5a7590", "#8c6d46", "#9aa7b4", "#3f6e4e"]
    static let dashes = ["", "7 4", "2 3", "9 3 2 3"]
    /// Reference lines alternate two black dash patterns.
    static func referenceDash(_ index: Int) -> String { index % 2 == 0 ? "10 4" : "3 3" }

    // MARK: - Stacked bars

    /// One stacked bar per category; segments bottom-up in series order. Each segment is a
    /// `<rect class="bar" data-series=... data-category=... data-value=...>`.
    public static func stackedBars(_ frame: ChartFrame, categories: [String], series: [BarSeries]) -> String {
        let totals = categories.indices.map { index in
            series.reduce(0.0) { $0 + max(0, ($1.values.indices.contains(index) ? $1.values[index] : nil) ?? 0) }
        }
        var canvas = Canvas(frame: frame, legend: series.enumerated().map { LegendEntry.fill(name: $1.name, index: $0) })
        let scale = NiceScale(lower: 0, upper: totals.max() ?? 1)
        canvas.drawYAxis(scale)
        let plot = canvas.plot
        let band = plot.width / Double(max(1, categories.count))
        let barWidth = min(band * 0.62, 80)
        let labelEvery = max(1, Int((Double(categories.count) * 28 / plot.width).rounded(.up)))
        for (index, category) in categories.enumerated() {
            let center = plot.minX + band * (Double(index) + 0.5)
            var base = 0.0
            for (seriesIndex, item) in series.enumerated() {
                guard index < item.values.count, let value = item.values[index], value > 0 else { continue }
                let y0 = canvas.y(base, scale), y1 = canvas.y(base + value, scale)
                canvas.body += "<rect class=\"bar\" data-series=\"\(XMLText.escape(item.name))\" data-category=\"\(XMLText.escape(category))\""
                    + " data-value=\"\(number(value))\" x=\"\(coordinate(center - barWidth / 2))\" y=\"\(coordinate(y1))\""
                    + " width=\"\(coordinate(barWidth))\" height=\"\(coordinate(y0 - y1))\" fill=\"\(canvas.fill(seriesIndex))\""
                    + " stroke=\"#1b2a3a\" stroke-width=\"0.8\"><title>\(XMLText.escape("\(item.name), \(category): \(number(value))"))</title></rect>\n"
                base += value
            }
            if index % labelEvery == 0 {
                canvas.body += canvas.text(category, x: center, y: plot.maxY + 16, anchor: "middle", className: "tick")
            }
        }
        canvas.drawXAxisLine()
        return canvas.finish()
    }

    // MARK: - Lines and points

    /// Lines, points with optional error bars and labels, and horizontal reference lines, on
    /// numeric axes. `yFromZero` starts the y axis at zero (energy, power); accuracy does not.
    /// `integerX` keeps x ticks on whole numbers (epochs).
    public static func lines(_ frame: ChartFrame, series: [LineSeries], references: [ReferenceLine] = [],
                             xFromZero: Bool = true, yFromZero: Bool = true, integerX: Bool = false) -> String {
        var legend = series.map { LegendEntry.line($0) }
        legend += references.enumerated().map { LegendEntry.reference(name: $1.name, index: $0) }
        var canvas = Canvas(frame: frame, legend: legend)
        let points = series.flatMap(\.points)
        let xs = points.map(\.x)
        let ys = points.flatMap { [$0.y, $0.low, $0.high].compactMap { $0 } } + references.map(\.y)
        let xScale = NiceScale(lower: xFromZero ? min(0, xs.min() ?? 0) : xs.min() ?? 0, upper: xs.max() ?? 1,
                               minimumStep: integerX ? 1 : 0)
        let yScale = NiceScale(lower: yFromZero ? min(0, ys.min() ?? 0) : ys.min() ?? 0, upper: ys.max() ?? 1)
        canvas.drawYAxis(yScale)
        canvas.drawXAxis(xScale)
        let plot = canvas.plot
        for (index, reference) in references.enumerated() {
            let y = canvas.y(reference.y, yScale)
            canvas.body += "<line class=\"reference\" data-value=\"\(number(reference.y))\" x1=\"\(coordinate(plot.minX))\" y1=\"\(coordinate(y))\""
                + " x2=\"\(coordinate(plot.maxX))\" y2=\"\(coordinate(y))\" stroke=\"#000\" stroke-width=\"1.6\""
                + " stroke-dasharray=\"\(SVGChart.referenceDash(index))\"/>\n"
        }
        for item in series {
            let stroke = item.stroke, dash = item.dashPattern
            if item.connected, item.points.count > 1 {
                let path = item.points.enumerated().map { index, point in
                    (index == 0 ? "M" : "L") + coordinate(canvas.x(point.x, xScale)) + " " + coordinate(canvas.y(point.y, yScale))
                }.joined(separator: " ")
                canvas.body += "<path class=\"series\" data-series=\"\(XMLText.escape(item.name))\" d=\"\(path)\" fill=\"none\""
                    + " stroke=\"\(stroke)\" stroke-width=\"2\" stroke-linejoin=\"round\""
                    + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + "/>\n"
            }
            for point in item.points {
                let x = canvas.x(point.x, xScale), y = canvas.y(point.y, yScale)
                if let low = point.low, let high = point.high {
                    let yLow = canvas.y(low, yScale), yHigh = canvas.y(high, yScale)
                    canvas.body += "<path class=\"range\" data-low=\"\(number(low))\" data-high=\"\(number(high))\""
                        + " d=\"M\(coordinate(x)) \(coordinate(yLow)) V\(coordinate(yHigh)) M\(coordinate(x - 6)) \(coordinate(yLow))"
                        + " H\(coordinate(x + 6)) M\(coordinate(x - 6)) \(coordinate(yHigh)) H\(coordinate(x + 6))\""
                        + " stroke=\"\(stroke)\" stroke-width=\"1.4\" fill=\"none\"/>\n"
                }
                if let marker = item.marker {
                    canvas.body += markerElement(marker, x: x, y: y, filled: item.filledMarker, stroke: stroke,
                                                 title: "\(item.name): (\(number(point.x)), \(number(point.y)))",
                                                 attributes: "class=\"marker\" data-series=\"\(XMLText.escape(item.name))\""
                                                     + " data-x=\"\(number(point.x))\" data-y=\"\(number(point.y))\"")
                }
                if let label = point.label {
                    let anchor = x > plot.maxX - 120 ? "end" : "start"
                    canvas.body += canvas.text(label, x: x + (anchor == "end" ? -9 : 9), y: y - 8, anchor: anchor, className: "point-label")
                }
            }
        }
        return canvas.finish()
    }

    /// A marker at (x, y) with `attributes` (its class and data) and a tooltip.
    static func markerElement(_ marker: ChartMarker, x: Double, y: Double, filled: Bool, stroke: String, title: String,
                              attributes: String) -> String {
        let r = 5.0
        let tag: String, geometry: String
        switch marker {
        case .circle:
            (tag, geometry) = ("circle", "cx=\"\(coordinate(x))\" cy=\"\(coordinate(y))\" r=\"\(coordinate(r))\"")
        case .square:
            (tag, geometry) = ("rect", "x=\"\(coordinate(x - r))\" y=\"\(coordinate(y - r))\" width=\"\(coordinate(2 * r))\" height=\"\(coordinate(2 * r))\"")
        case .triangle:
            (tag, geometry) = ("path", "d=\"M\(coordinate(x)) \(coordinate(y - r * 1.2)) L\(coordinate(x + r * 1.1)) \(coordinate(y + r * 0.8))"
                + " L\(coordinate(x - r * 1.1)) \(coordinate(y + r * 0.8)) Z\"")
        case .diamond:
            (tag, geometry) = ("path", "d=\"M\(coordinate(x)) \(coordinate(y - r * 1.3)) L\(coordinate(x + r * 1.3)) \(coordinate(y))"
                + " L\(coordinate(x)) \(coordinate(y + r * 1.3)) L\(coordinate(x - r * 1.3)) \(coordinate(y)) Z\"")
        case .cross:
            (tag, geometry) = ("path", "d=\"M\(coordinate(x - r)) \(coordinate(y - r)) L\(coordinate(x + r)) \(coordinate(y + r))"
                + " M\(coordinate(x - r)) \(coordinate(y + r)) L\(coordinate(x + r)) \(coordinate(y - r))\"")
        }
        let fill = marker == .cross ? "none" : filled ? stroke : "#fff"
        return "<\(tag) \(geometry) \(attributes) fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(marker == .cross ? 2.2 : 1.6)\">"
            + "<title>\(XMLText.escape(title))</title></\(tag)>\n"
    }

    // MARK: - Number formatting

    /// Pixel coordinates: two decimals are finer than any screen.
    static func coordinate(_ value: Double) -> String {
        String(format: "%.2f", value.isFinite ? value : 0)
    }

    /// Data values in attributes and tooltips, round-trippable enough for tests and readers.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.6g", value)
    }
}

// MARK: - Layout

enum LegendEntry {
    case fill(name: String, index: Int)
    case line(LineSeries)
    case reference(name: String, index: Int)

    var name: String {
        switch self {
        case let .fill(name, _), let .reference(name, _): return name
        case let .line(series): return series.name
        }
    }
}

struct PlotRect {
    var minX: Double, minY: Double, maxX: Double, maxY: Double
    var width: Double { maxX - minX }
    var height: Double { maxY - minY }
}

/// Accumulates one SVG document: patterns, legend, axes, then the marks.
struct Canvas {
    let frame: ChartFrame
    var plot: PlotRect
    var defs = ""
    var head = ""
    var body = ""

    /// Bar fills: grey levels and patterns (solid, diagonal hatch, dots, cross-hatch,
    /// horizontal lines) so that neighbouring segments differ without colour.
    static let fillCount = 5

    init(frame: ChartFrame, legend: [LegendEntry]) {
        self.frame = frame
        // Legend rows under the title; an entry is about 7 px per character plus its key.
        var rows: [[LegendEntry]] = [[]]
        var rowWidth = 0.0
        for entry in legend {
            let width = Self.legendWidth(entry)
            if rowWidth + width > frame.width - 70, !(rows.last?.isEmpty ?? true) {
                rows.append([])
                rowWidth = 0
            }
            rows[rows.count - 1].append(entry)
            rowWidth += width
        }
        let legendTop = 38.0
        let legendHeight = legend.isEmpty ? 0 : Double(rows.count) * 18
        plot = PlotRect(minX: 70, minY: legendTop + legendHeight + 12, maxX: frame.width - 20, maxY: frame.height - 50)
        defs = Self.patterns(prefix: frame.id)
        head += text(frame.title, x: frame.width / 2, y: 22, anchor: "middle", className: "chart-title")
        head += text(frame.xLabel, x: (plot.minX + plot.maxX) / 2, y: frame.height - 10, anchor: "middle", className: "axis-label")
        head += "<text class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(16 \(SVGChart.coordinate((plot.minY + plot.maxY) / 2))) rotate(-90)\">"
            + XMLText.escape(frame.yLabel) + "</text>\n"
        for (rowIndex, row) in rows.enumerated() {
            var x = plot.minX
            let y = legendTop + Double(rowIndex) * 18
            for entry in row {
                head += legendKey(entry, x: x, y: y)
                head += text(entry.name, x: x + 30, y: y + 4, anchor: "start", className: "legend")
                x += Self.legendWidth(entry)
            }
        }
    }

    /// A legend entry's width: its key, then about 6.6 px per character of its name.
    static func legendWidth(_ entry: LegendEntry) -> Double { Double(entry.name.count) * 6.6 + 44 }

    func fill(_ index: Int) -> String {
        "url(#\(frame.id)-fill\(index % Self.fillCount))"
    }

    func legendKey(_ entry: LegendEntry, x: Double, y: Double) -> String {
        switch entry {
        case let .fill(_, index):
            return "<rect x=\"\(SVGChart.coordinate(x))\" y=\"\(SVGChart.coordinate(y - 6))\" width=\"24\" height=\"12\" fill=\"\(fill(index))\" stroke=\"#1b2a3a\" stroke-width=\"0.8\"/>\n"
        case let .line(series):
            let stroke = series.stroke, dash = series.dashPattern
            var key = ""
            if series.connected {
                key += "<line x1=\"\(SVGChart.coordinate(x))\" y1=\"\(SVGChart.coordinate(y))\" x2=\"\(SVGChart.coordinate(x + 24))\""
                    + " y2=\"\(SVGChart.coordinate(y))\" stroke=\"\(stroke)\" stroke-width=\"2\"" + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + "/>\n"
            }
            if let marker = series.marker {
                key += SVGChart.markerElement(marker, x: x + 12, y: y, filled: series.filledMarker, stroke: stroke,
                                              title: series.name, attributes: "class=\"legend-marker\"")
            }
            return key
        case let .reference(_, index):
            return "<line x1=\"\(SVGChart.coordinate(x))\" y1=\"\(SVGChart.coordinate(y))\" x2=\"\(SVGChart.coordinate(x + 24))\" y2=\"\(SVGChart.coordinate(y))\""
                + " stroke=\"#000\" stroke-width=\"1.6\" stroke-dasharray=\"\(SVGChart.referenceDash(index))\"/>\n"
        }
    }

    func text(_ content: String, x: Double, y: Double, anchor: String, className: String) -> String {
        "<text class=\"\(className)\" x=\"\(SVGChart.coordinate(x))\" y=\"\(SVGChart.coordinate(y))\" text-anchor=\"\(anchor)\">"
            + XMLText.escape(content) + "</text>\n"
    }

    func y(_ value: Double, _ scale: NiceScale) -> Double {
        plot.maxY - (value - scale.lower) / (scale.upper - scale.lower) * plot.height
    }

    func x(_ value: Double, _ scale: NiceScale) -> Double {
        plot.minX + (value - scale.lower) / (scale.upper - scale.lower) * plot.width
    }

    mutating func drawYAxis(_ scale: NiceScale) {
        for tick in scale.ticks {
            let y = self.y(tick, scale)
            body += "<line class=\"grid\" x1=\"\(SVGChart.coordinate(plot.minX))\" y1=\"\(SVGChart.coordinate(y))\" x2=\"\(SVGChart.coordinate(plot.maxX))\""
                + " y2=\"\(SVGChart.coordinate(y))\" stroke=\"#d5dbe1\" stroke-width=\"1\"/>\n"
            body += text(scale.label(tick), x: plot.minX - 8, y: y + 4, anchor: "end", className: "tick")
        }
        body += "<line x1=\"\(SVGChart.coordinate(plot.minX))\" y1=\"\(SVGChart.coordinate(plot.minY))\" x2=\"\(SVGChart.coordinate(plot.minX))\""
            + " y2=\"\(SVGChart.coordinate(plot.maxY))\" stroke=\"#333\" stroke-width=\"1\"/>\n"
    }

    mutating func drawXAxis(_ scale: NiceScale) {
        for tick in scale.ticks {
            let x = self.x(tick, scale)
            body += "<line x1=\"\(SVGChart.coordinate(x))\" y1=\"\(SVGChart.coordinate(plot.maxY))\" x2=\"\(SVGChart.coordinate(x))\""
                + " y2=\"\(SVGChart.coordinate(plot.maxY + 5))\" stroke=\"#333\" stroke-width=\"1\"/>\n"
            body += text(scale.label(tick), x: x, y: plot.maxY + 18, anchor: "middle", className: "tick")
        }
        drawXAxisLine()
    }

    mutating func drawXAxisLine() {
        body += "<line x1=\"\(SVGChart.coordinate(plot.minX))\" y1=\"\(SVGChart.coordinate(plot.maxY))\" x2=\"\(SVGChart.coordinate(plot.maxX))\""
            + " y2=\"\(SVGChart.coordinate(plot.maxY))\" stroke=\"#333\" stroke-width=\"1\"/>\n"
    }

    func finish() -> String {
        let size = "width=\"\(SVGChart.coordinate(frame.width))\" height=\"\(SVGChart.coordinate(frame.height))\""
        return "<svg class=\"chart\" id=\"\(XMLText.escape(frame.id))\" \(size)"
            + " viewBox=\"0 0 \(SVGChart.coordinate(frame.width)) \(SVGChart.coordinate(frame.height))\" role=\"img\""
            + " aria-label=\"\(XMLText.escape(frame.title))\">\n"
            + "<title>\(XMLText.escape(frame.title))</title>\n<defs>\n\(defs)</defs>\n"
            + "<rect class=\"background\" x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
            + head + body + "</svg>\n"
    }

    static func patterns(prefix: String) -> String {
        let id = XMLText.escape(prefix)
        return """
        <pattern id="\(id)-fill0" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#2f4b66"/></pattern>
        <pattern id="\(id)-fill1" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#c8d3de"/><rect width="3" height="8" fill="#2f4b66"/></pattern>
        <pattern id="\(id)-fill2" width="7" height="7" patternUnits="userSpaceOnUse"><rect width="7" height="7" fill="#f2f4f6"/><circle cx="3.5" cy="3.5" r="1.6" fill="#1b2a3a"/></pattern>
        <pattern id="\(id)-fill3" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#8fa5ba"/><path d="M0 4H8M4 0V8" stroke="#1b2a3a" stroke-width="1"/></pattern>
        <pattern id="\(id)-fill4" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#e1e7ed"/><path d="M0 2H8M0 6H8" stroke="#5a7590" stroke-width="1.2"/></pattern>

        """
    }
}
