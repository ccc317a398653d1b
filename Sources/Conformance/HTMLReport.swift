import Foundation

/// `rnnconf run --html FILE`: one self-contained HTML page (inline CSS, SVG and a few lines of
/// JS; nothing fetched when it is opened). It holds the summary table and, for every case that
/// does not pass, its message, the first divergent layer, a place for the diagnosis and, per
/// failing output or layer, an error-over-time plot (greatest absolute error per step, log
/// scale, one line per batch row, the tolerance as a dashed line) and a step x unit heatmap.
///
/// The plots come from `CaseReport.errorMaps`, which only a run in this process fills: a report
/// read back from JSON (or from `--isolate` children) gets the tables and the text, and says
/// that the per-step data is not available.
public enum HTMLReport {
  /// Lines of a batch row drawn at most per plot (the rest are summarised in words).
  static let maxLines = 16
  /// Heatmap cells at most per axis; larger outputs are pooled (greatest error per block).
  static let maxCells = 128

  public static func render(_ report: RunReport) -> String {
    var h = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>rnnconf report: \(esc(report.summary.line))</title>
      <style>\(css)</style></head><body>
      <h1>rnnconf report</h1>
      <p class="summary">\(esc(report.summary.line)); \(report.summary.total) case\(report.summary.total == 1 ? "" : "s") \
      in \(String(format: "%.2f", report.durationSeconds)) s; started \(esc(report.startedAt)); \
      precision \(esc(report.precision.rawValue))\(report.toleranceOverride.map { "; tolerance from the command line: atol \(num($0.atol)), rtol \(num($0.rtol))" } ?? "")</p>

      """
    for w in report.warnings ?? [] { h += "<p class=\"warning\">warning: \(esc(w))</p>\n" }
    h += summaryTable(report)
    let detailed = report.cases.filter { $0.status != .pass }
    if !detailed.isEmpty { h += "<h2>Cases that do not pass</h2>\n" }
    for (k, c) in report.cases.enumerated() where c.status != .pass {
      h += caseSection(c, anchor: "case\(k)")
    }
    h += "<script>\(script)</script>\n</body></html>\n"
    return h
  }

  // MARK: - Summary

  static func summaryTable(_ report: RunReport) -> String {
    var h = """
      <h2>Summary</h2>
      <p><label><input type="checkbox" id="only-failing"> show only cases that do not pass</label></p>
      <table id="summary"><thead><tr><th>status</th><th>case</th><th>framework</th><th>cell</th>\
      <th>greatest abs. error</th><th>first failing step</th><th>message</th></tr></thead><tbody>

      """
    let text = TextReporter(color: false, verbose: false, quiet: false)
    for (k, c) in report.cases.enumerated() {
      let worst = c.outputs.compactMap(\.maxAbsError).max()
      let step = c.outputs.compactMap(\.firstFailingStep).min()
      let name = c.status == .pass ? esc(c.name) : "<a href=\"#case\(k)\">\(esc(c.name))</a>"
      h += "<tr class=\"\(c.status.rawValue)\"><td class=\"status\">\(c.status.label)</td><td>\(name)</td>"
        + "<td>\(esc(c.framework?.rawValue ?? ""))</td><td>\(esc(c.cell?.rawValue ?? ""))</td>"
        + "<td>\(worst.map(num) ?? "")</td><td>\(step.map(String.init) ?? "")</td>"
        + "<td>\(esc([c.message, text.notComparedLine(c)].compactMap { $0 }.joined(separator: "; ")))</td></tr>\n"
    }
    return h + "</tbody></table>\n"
  }

  // MARK: - One case

  static func caseSection(_ c: CaseReport, anchor: String) -> String {
    let text = TextReporter(color: false, verbose: false, quiet: false)
    var h = "<section class=\"case \(c.status.rawValue)\" id=\"\(anchor)\">\n"
    h += "<h3><span class=\"status\">\(c.status.label)</span> \(esc(c.name))</h3>\n"
    h += "<p class=\"path\">\(esc(c.path))</p>\n"
    if let m = c.message { h += "<p>\(esc(m))</p>\n" }
    if let line = text.notComparedLine(c) { h += "<p class=\"note\">\(esc(line))</p>\n" }
    if let reason = c.expectedFailureReason { h += "<p>Expected failure: \(esc(reason))</p>\n" }
    h += firstDivergentLayer(c, text)
    h += diagnosisSection(diagnosis(for: c))
    for o in c.outputs where o.status == .fail {
      h += "<div class=\"output\"><h4>output <code>\(esc(o.name))</code></h4>\n"
      h += "<p class=\"metrics\">\(esc(text.describe(o)))</p>\n"
      h += plots(for: o.name, isLayer: false, c)
      h += "</div>\n"
    }
    for o in c.intermediates ?? [] where o.status == .fail {
      h += "<div class=\"output\"><h4>layer <code>\(esc(o.name))</code></h4>\n"
      h += "<p class=\"metrics\">\(esc(String(text.describe(o).dropFirst("output `\(o.name)`: ".count))))</p>\n"
      h += plots(for: o.name, isLayer: true, c)
      h += "</div>\n"
    }
    return h + "</section>\n"
  }

  static func plots(for name: String, isLayer: Bool, _ c: CaseReport) -> String {
    guard let m = c.errorMaps.first(where: { $0.name == name && $0.isLayer == isLayer }) else {
      let o = (isLayer ? c.intermediates ?? [] : c.outputs).first { $0.name == name }
      if o?.problem != nil { return "" }  // shape, dtype or presence: nothing to draw
      return "<p class=\"note\">Per-step error data is not available (the report was read back from JSON or came from an --isolate child).</p>\n"
    }
    return "<div class=\"plots\">" + errorPlot(m) + heatmap(m) + "</div>\n"
  }

  /// The layers the case carries, in graph order, the first divergent one marked.
  static func firstDivergentLayer(_ c: CaseReport, _ text: TextReporter) -> String {
    guard let layers = c.intermediates, !layers.isEmpty else { return "" }
    var h = "<div class=\"layers\"><h4>First divergent layer: "
      + (c.firstDivergentLayer.map { "<code>\(esc($0))</code>" } ?? "none (every layer within tolerance)") + "</h4>\n"
    h += "<table><thead><tr><th>layer (graph order)</th><th>status</th><th>greatest abs. error</th><th>first failing step</th></tr></thead><tbody>\n"
    for o in layers {
      let first = o.name == c.firstDivergentLayer
      h += "<tr class=\"\(o.status == .pass ? "pass" : "fail")\(first ? " first" : "")\"><td><code>\(esc(o.name))</code></td>"
        + "<td>\(o.status.rawValue)\(o.problem.map { ": " + esc($0) } ?? "")</td><td>\(o.maxAbsError.map(num) ?? "")</td>"
        + "<td>\(o.firstFailingStep.map(String.init) ?? "")</td></tr>\n"
    }
    return h + "</tbody></table></div>\n"
  }

  // MARK: - Diagnosis (integration point)

  /// The case's diagnosis (Diagnosis/) as (kind, description) pairs, most specific first; nil when
  /// the run did not diagnose the case.
  static func diagnosis(for c: CaseReport) -> [(kind: String, description: String)]? {
    c.diagnosis?.map { (kind: $0.kind.rawValue, description: $0.description) }
  }

  /// The diagnosis block: nothing when `items` is nil (not diagnosed), a line saying no known
  /// mistake explains the numbers when it is empty, otherwise one entry per explanation.
  public static func diagnosisSection(_ items: [(kind: String, description: String)]?) -> String {
    guard let items else { return "" }
    var h = "<div class=\"diagnosis\"><h4>Diagnosis</h4>\n"
    if items.isEmpty { return h + "<p>No convention mistake in the catalogue explains the difference.</p></div>\n" }
    h += "<ul>\n"
    for item in items { h += "<li><span class=\"kind\">\(esc(item.kind))</span> \(esc(item.description))</li>\n" }
    return h + "</ul></div>\n"
  }

  // MARK: - Drawing

  static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                        "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d"]

  /// Greatest absolute error per step (log scale), one line per row, the tolerance dashed.
  static func errorPlot(_ m: ErrorMap) -> String {
    guard m.hasSteps else {
      return "<p class=\"note\">This output has no step axis: no error-over-time plot; the heatmap shows each unit's greatest error over the rows.</p>"
    }
    let w = 640.0, hgt = 260.0, left = 64.0, right = 150.0, top = 14.0, bottom = 36.0
    let pw = w - left - right, ph = hgt - top - bottom
    let finite = (m.rowStep + m.allowedPerStep).filter { $0 > 0 && $0.isFinite }
    var lo = log10(finite.min() ?? 1e-12), hi = log10(finite.max() ?? 1)
    lo = floor(lo); hi = ceil(hi); if hi <= lo { hi = lo + 1 }
    let hasInf = m.rowStep.contains { $0.isInfinite }
    let topValue = hasInf ? hi + 1 : hi  // infinite (NaN) errors drawn on a band above the range
    func x(_ step: Int) -> Double { left + (m.steps > 1 ? Double(step) / Double(m.steps - 1) * pw : pw / 2) }
    func y(_ v: Double) -> Double {
      let l = v.isInfinite ? topValue : (v > 0 ? max(log10(v), lo) : lo)
      return top + ph - (l - lo) / (topValue - lo) * ph
    }
    var s = "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(hgt))\" "
      + "viewBox=\"0 0 \(Int(w)) \(Int(hgt))\" role=\"img\"><title>greatest absolute error per step of \(esc(m.name))</title>\n"
    s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"#fff\" stroke=\"#999\"/>\n"
    var e = Int(lo)
    while Double(e) <= hi {  // decades
      let yy = y(pow(10, Double(e)))
      s += "<line x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(f(yy))\" y2=\"\(f(yy))\" stroke=\"#eee\"/>"
      s += "<text x=\"\(left - 6)\" y=\"\(f(yy + 4))\" text-anchor=\"end\" class=\"tick\">1e\(e)</text>\n"
      e += 1
    }
    if hasInf { s += "<text x=\"\(left - 6)\" y=\"\(f(y(.infinity) + 4))\" text-anchor=\"end\" class=\"tick\">NaN/inf</text>\n" }
    for t in Set([0, m.steps / 2, m.steps - 1]).sorted() {
      s += "<text x=\"\(f(x(t)))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\" class=\"tick\">\(t)</text>\n"
    }
    s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(hgt - 4))\" text-anchor=\"middle\" class=\"axis\">step</text>\n"
    s += "<text x=\"14\" y=\"\(f(top + ph / 2))\" text-anchor=\"middle\" class=\"axis\" transform=\"rotate(-90 14 \(f(top + ph / 2)))\">max |error|</text>\n"
    func path(_ values: [Double]) -> String {
      values.enumerated().map { k, v in (k == 0 ? "M" : "L") + f(x(k)) + "," + f(y(v)) }.joined(separator: " ")
    }
    let tol = path(m.allowedPerStep)
    s += "<path d=\"\(tol)\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 4\"><title>tolerance: atol + rtol * max|expected| at each step</title></path>\n"
    let shown = min(m.rows, maxLines)
    for r in 0..<shown {
      let values = Array(m.rowStep[(r * m.steps)..<((r + 1) * m.steps)])
      let color = palette[r % palette.count]
      s += "<path d=\"\(path(values))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\"><title>row \(r)</title></path>\n"
      if m.steps == 1 { s += "<circle cx=\"\(f(x(0)))\" cy=\"\(f(y(values[0])))\" r=\"3\" fill=\"\(color)\"/>" }
    }
    // Legend.
    var ly = top + 6
    s += "<line x1=\"\(left + pw + 10)\" x2=\"\(left + pw + 34)\" y1=\"\(ly)\" y2=\"\(ly)\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
    s += "<text x=\"\(left + pw + 40)\" y=\"\(ly + 4)\" class=\"tick\">tolerance</text>\n"
    for r in 0..<min(shown, 12) {
      ly += 15
      s += "<line x1=\"\(left + pw + 10)\" x2=\"\(left + pw + 34)\" y1=\"\(ly)\" y2=\"\(ly)\" stroke=\"\(palette[r % palette.count])\" stroke-width=\"2\"/>"
      s += "<text x=\"\(left + pw + 40)\" y=\"\(ly + 4)\" class=\"tick\">batch row \(r)</text>\n"
    }
    if m.rows > min(shown, 12) {
      s += "<text x=\"\(left + pw + 10)\" y=\"\(ly + 19)\" class=\"tick\">\(m.rows - min(shown, 12)) more rows\(m.rows > shown ? " (\(shown) drawn)" : "")</text>\n"
    }
    return s + "</svg>\n"
  }

  /// Step x unit heatmap of the greatest error over the rows, coloured by its ratio to the
  /// tolerance at that step: blues within, reds beyond.
  static func heatmap(_ m: ErrorMap) -> String {
    // Without a step axis `stepUnit` is one row: the greatest error per unit over the rows.
    let rowsShown = m.steps, colsN = m.units
    let values = m.stepUnit
    let binR = max(1, Int((Double(rowsShown) / Double(maxCells)).rounded(.up)))
    let binC = max(1, Int((Double(colsN) / Double(maxCells)).rounded(.up)))
    let nr = (rowsShown + binR - 1) / binR, nc = (colsN + binC - 1) / binC
    let cw = max(2.0, min(28.0, 520.0 / Double(nc))), ch = max(2.0, min(22.0, 320.0 / Double(nr)))
    let left = 48.0, top = 24.0
    let w = left + Double(nc) * cw + 120, hgt = max(top + Double(nr) * ch + 34, top + 6 * 16 + 8)  // room for the legend
    var s = "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(hgt))\" "
      + "viewBox=\"0 0 \(Int(w)) \(Int(hgt))\" role=\"img\"><title>\(m.hasSteps ? "step x unit" : "unit") heatmap of \(esc(m.name))</title>\n"
    s += "<text x=\"\(left)\" y=\"14\" class=\"axis\">unit \(binC > 1 ? "(blocks of \(binC))" : "") &#8594;</text>\n"
    s += "<text x=\"12\" y=\"\(f(top + Double(nr) * ch / 2))\" class=\"axis\" text-anchor=\"middle\" transform=\"rotate(-90 12 \(f(top + Double(nr) * ch / 2)))\">\(m.hasSteps ? "step" : "") \(binR > 1 ? "(blocks of \(binR))" : "")</text>\n"
    let titled = nr * nc <= 4096
    for br in 0..<nr {
      for bc in 0..<nc {
        var v = 0.0, allowed = Double.infinity
        for r in (br * binR)..<min(rowsShown, (br + 1) * binR) {
          for c in (bc * binC)..<min(colsN, (bc + 1) * binC) {
            v = max(v, values[r * colsN + c])
            allowed = min(allowed, m.allowedPerStep[r])
          }
        }
        let ratio = allowed > 0 ? v / allowed : (v > 0 ? .infinity : 0)
        let xx = left + Double(bc) * cw, yy = top + Double(br) * ch
        s += "<rect x=\"\(f(xx))\" y=\"\(f(yy))\" width=\"\(f(cw))\" height=\"\(f(ch))\" fill=\"\(color(ratio))\""
        if titled {
          s += "><title>\(m.hasSteps ? "step \(br * binR)" : "") unit \(bc * binC): max |error| \(num(v)), \(ratio.isFinite ? num(ratio) : "inf") x tolerance</title></rect>"
        } else { s += "/>" }
      }
      if m.hasSteps && (br == 0 || br == nr - 1 || nr <= 12) {
        s += "<text x=\"\(left - 4)\" y=\"\(f(top + Double(br) * ch + ch / 2 + 4))\" text-anchor=\"end\" class=\"tick\">\(br * binR)</text>"
      }
      s += "\n"
    }
    // Legend: ratio to the tolerance.
    let lx = left + Double(nc) * cw + 14
    for (k, ratio) in [1e-4, 1e-2, 0.5, 1.0, 10, 1e3].enumerated() {
      let ly = top + Double(k) * 16
      s += "<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"12\" height=\"12\" fill=\"\(color(ratio))\" stroke=\"#999\"/>"
      s += "<text x=\"\(f(lx + 16))\" y=\"\(f(ly + 10))\" class=\"tick\">\(ratio <= 1 ? "&#8804;" : "&gt;")\(num(ratio)) x tol</text>\n"
    }
    return s + "</svg>\n"
  }

  /// Blues for errors within the tolerance (lighter the smaller), reds beyond it.
  static func color(_ ratio: Double) -> String {
    if !(ratio > 0) { return "#f7fbff" }
    if ratio <= 1 {
      let t = min(1, max(0, (log10(ratio) + 6) / 6))  // 1e-6 ... 1
      return rgb(247 - 140 * t, 251 - 90 * t, 255 - 40 * t)
    }
    let t = ratio.isFinite ? min(1, log10(ratio) / 4) : 1  // 1 ... 1e4
    return rgb(252 - 100 * t, 187 - 170 * t, 161 - 140 * t)
  }

  static func rgb(_ r: Double, _ g: Double, _ b: Double) -> String {
    String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded()))
  }

  static func f(_ v: Double) -> String { String(format: "%.1f", v) }

  /// HTML text and attribute escaping.
  public static func esc(_ s: String) -> String {
    var out = ""
    for ch in s.unicodeScalars {
      switch ch {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default:
        if ch.value < 0x20 && ch != "\n" && ch != "\t" { continue }
        out.unicodeScalars.append(ch)
      }
    }
    return out
  }

  static let css = """
    body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
    table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
    th{background:#f3f3f3}tr.fail td.status,tr.error td.status,tr.unexpected-pass td.status{color:#b00;font-weight:bold}
    tr.pass td.status{color:#070}tr.expected-fail td.status{color:#a60}tr.first td{background:#fde0dc}
    section.case{border-top:2px solid #ddd;margin-top:1.5em}.path{color:#666;font-family:monospace}
    .metrics{font-family:monospace;white-space:pre-wrap}.note{color:#666;font-style:italic}
    .plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.tick{font-size:11px;fill:#444}.axis{font-size:12px;fill:#222}
    .diagnosis{background:#eef6ee;border:1px solid #9c9;padding:.3em .8em}.diagnosis .kind{font-family:monospace;background:#dfd;padding:0 4px;margin-right:.5em}
    .warning{color:#a60}
    """

  static let script = """
    (function () {
      var box = document.getElementById('only-failing');
      if (!box) { return; }
      box.addEventListener('change', function () {
        var rows = document.querySelectorAll('#summary tbody tr');
        for (var i = 0; i < rows.length; i++) {
          rows[i].style.display = (box.checked && rows[i].className === 'pass') ? 'none' : '';
        }
      });
    })();
    """
}
