#include "loadtest/loadtester/run_report.h"

#include <cmath>
#include <cstdio>

#include "common/base/json_writer.h"

namespace push::loadtester {
namespace {

// A figure through formatNumber (JsonWriter::number would print 1000000 as 1e+06).
void figure(JsonWriter& w, std::string_view key, double v) {
  w.key(key).raw(formatNumber(v));
}

void writePoint(JsonWriter& w, const TimelinePoint& p) {
  w.beginObject();
  figure(w, "t_s", p.t_s);
  figure(w, "connected", static_cast<double>(p.connected));
  figure(w, "ready", static_cast<double>(p.ready));
  figure(w, "failed", static_cast<double>(p.failed));
  figure(w, "lost", static_cast<double>(p.lost));
  figure(w, "reconnected", static_cast<double>(p.reconnected));
  figure(w, "new_per_s", p.new_per_s);
  figure(w, "back_per_s", p.back_per_s);
  figure(w, "pings_per_s", p.pings_per_s);
  figure(w, "pongs_per_s", p.pongs_per_s);
  figure(w, "pushes_per_s", p.pushes_per_s);
  figure(w, "loadgen_cores", p.loadgen_cores);
  figure(w, "rtt_count", static_cast<double>(p.rtt_count));
  figure(w, "rtt_p50_ms", static_cast<double>(p.rtt_p50_ns) / 1e6);
  figure(w, "rtt_p99_ms", static_cast<double>(p.rtt_p99_ns) / 1e6);
  figure(w, "rtt_max_ms", static_cast<double>(p.rtt_max_ns) / 1e6);
  figure(w, "sent_per_s", p.sent_per_s);
  figure(w, "delivered_per_s", p.delivered_per_s);
  figure(w, "send_errors", static_cast<double>(p.send_errors));
  figure(w, "duplicates", static_cast<double>(p.duplicates));
  figure(w, "lat_p50_ms", static_cast<double>(p.lat_p50_ns) / 1e6);
  figure(w, "lat_p99_ms", static_cast<double>(p.lat_p99_ns) / 1e6);
  figure(w, "lat_max_ms", static_cast<double>(p.lat_max_ns) / 1e6);
  w.endObject();
}

// The percentile spectrum: where the chart of the latency distribution comes from.
constexpr double kPercentiles[] = {0,  10,   25,   50,    75,    90,     95,
                                   99, 99.5, 99.9, 99.95, 99.99, 99.999, 100};

}  // namespace

std::string formatNumber(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  // Counts exactly (1000000, not 1e+06); other figures to 6 significant digits.
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

std::string reportJson(const RunReport& r) {
  JsonWriter w(1024 + r.timeline.size() * 256);
  w.beginObject();
  w.key("tool").string("push-loadtest");
  w.key("scenario").string(r.scenario);
  w.key("started_at").string(r.started_at);
  w.key("passed").boolean(r.passed);
  w.key("settings").beginObject();
  for (const auto& [name, value] : r.settings)
    w.key(name).string(value);
  w.endObject();
  w.key("results").beginObject();
  for (const auto& [name, value] : r.results)
    figure(w, name, value);
  w.endObject();
  w.key("problems").beginArray();
  for (const std::string& p : r.problems)
    w.string(p);
  w.endArray();
  w.key("timeline").beginArray();
  for (const TimelinePoint& p : r.timeline)
    writePoint(w, p);
  w.endArray();
  w.key("latency").beginObject();
  w.key("name").string(r.latency_name);
  w.key("unit").string("ms");
  figure(w, "count", static_cast<double>(r.latency.count()));
  figure(w, "mean", r.latency.mean() / 1e6);
  w.key("percentiles").beginArray();
  for (double q : kPercentiles) {
    if (r.latency.count() == 0) break;
    w.beginArray()
        .raw(formatNumber(q))
        .raw(formatNumber(static_cast<double>(r.latency.percentile(q / 100)) / 1e6))
        .endArray();
  }
  w.endArray();
  w.endObject();
  w.endObject();
  // `<`, `>` and `&` only ever stand inside strings here: as \u escapes no text in the report
  // can close the page's script element (reportHtml embeds this as is).
  std::string out;
  const std::string json = w.take();
  out.reserve(json.size());
  for (char c : json) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else {
      out += c;
    }
  }
  return out;
}

std::string reportHtml(const RunReport& r) {
  // Charts are drawn from the embedded JSON by the script below (SVG, no library): the page
  // works offline and from any directory. body[data-rendered] counts the charts drawn.
  static constexpr char kHead[] = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>push-loadtest report</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#176a1f;font-weight:bold}.fail{color:#a11;font-weight:bold}
svg{background:#fafafa;border:1px solid #ddd}
.axis{stroke:#888;stroke-width:1}.grid{stroke:#e4e4e4;stroke-width:1}
svg text{font-size:11px;fill:#555}
</style></head>
<body data-rendered="0">
<h1>push-loadtest: <span id="scenario"></span> <span id="verdict"></span></h1>
<p id="when"></p>
<ul id="problems"></ul>
<h2>Results</h2><table id="results"></table>
<h2>Connections over time</h2><div id="chart-connections" class="chart"></div>
<h2>Throughput over time</h2><div id="chart-throughput" class="chart"></div>
<h2>Latency distribution</h2><div id="chart-latency" class="chart"></div>
<h2>Settings</h2><table id="settings"></table>
<script id="report" type="application/json">)HTML";
  static constexpr char kTail[] = R"HTML(</script>
<script>
"use strict";
const report = JSON.parse(document.getElementById("report").textContent);
const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f6fb4", "#d9652b", "#2c9a3c", "#a33ea1", "#777", "#b8860b", "#17becf"];
function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function fmt(v) {
  if (Math.abs(v) >= 1e6) return (v / 1e6).toPrecision(3) + "M";
  if (Math.abs(v) >= 1e3) return (v / 1e3).toPrecision(3) + "k";
  return +v.toPrecision(3) + "";
}
// series: [{name, points: [[x, y], ...]}]; xs: optional labels of categorical x positions.
function lineChart(id, series, xLabel, xs) {
  const W = 900, H = 260, L = 60, R = 150, T = 12, B = 36;
  const svg = el("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`,
                         "data-series": series.length});
  let xMax = 0, yMax = 0;
  for (const s of series) for (const [x, y] of s.points) {
    xMax = Math.max(xMax, x); yMax = Math.max(yMax, y);
  }
  if (xMax <= 0) xMax = 1;
  if (yMax <= 0) yMax = 1;
  const X = x => L + (W - L - R) * x / xMax, Y = y => H - B - (H - T - B) * y / yMax;
  for (let i = 0; i <= 4; i++) {
    const y = yMax * i / 4;
    el("line", {class: "grid", x1: L, x2: W - R, y1: Y(y), y2: Y(y)}, svg);
    el("text", {x: L - 6, y: Y(y) + 4, "text-anchor": "end"}, svg).textContent = fmt(y);
  }
  for (let i = 0; i <= 5; i++) {
    const x = xMax * i / 5;
    const label = xs ? xs[Math.round(x)] ?? "" : fmt(x);
    el("text", {x: X(x), y: H - B + 16, "text-anchor": "middle"}, svg).textContent = label;
  }
  el("text", {x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle"}, svg).textContent = xLabel;
  el("line", {class: "axis", x1: L, x2: L, y1: T, y2: H - B}, svg);
  el("line", {class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B}, svg);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    el("polyline", {fill: "none", stroke: color, "stroke-width": 2, "data-name": s.name,
                    points: s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`)
                                .join(" ")}, svg);
    el("rect", {x: W - R + 12, y: T + 18 * i, width: 12, height: 3, fill: color}, svg);
    el("text", {x: W - R + 30, y: T + 18 * i + 5}, svg).textContent = s.name;
  });
  document.getElementById(id).appendChild(svg);
  document.body.dataset.rendered = +document.body.dataset.rendered + 1;
}
function table(id, rows) {
  const t = document.getElementById(id);
  for (const [k, v] of rows) {
    const tr = t.insertRow();
    tr.insertCell().textContent = k;
    const c = tr.insertCell();
    c.textContent = typeof v === "number" ? +v.toPrecision(6) : v;
    if (typeof v === "number") c.className = "n";
  }
}
document.getElementById("scenario").textContent = report.scenario;
const verdict = document.getElementById("verdict");
verdict.textContent = report.passed ? "passed" : "did not pass";
verdict.className = report.passed ? "pass" : "fail";
document.getElementById("when").textContent = "started " + report.started_at;
for (const p of report.problems) {
  document.getElementById("problems").appendChild(document.createElement("li")).textContent = p;
}
table("results", Object.entries(report.results));
table("settings", Object.entries(report.settings));
const tl = report.timeline;
const series = key => tl.map(p => [p.t_s, p[key]]);
lineChart("chart-connections", [
  {name: "connected", points: series("connected")},
  {name: "failed", points: series("failed")},
  {name: "lost", points: series("lost")},
  {name: "reconnected", points: series("reconnected")}], "seconds");
lineChart("chart-throughput", [
  {name: "new connections/s", points: series("new_per_s")},
  {name: "reconnections/s", points: series("back_per_s")},
  {name: "pings/s", points: series("pings_per_s")},
  {name: "pongs/s", points: series("pongs_per_s")},
  {name: "pushes/s", points: series("pushes_per_s")},
  {name: "unicast sent/s", points: series("sent_per_s")},
  {name: "delivered/s (unicast pushes, broadcast copies)", points: series("delivered_per_s")}], "seconds");
const pct = report.latency.percentiles;
lineChart("chart-latency", [
  {name: report.latency.name + " (ms)", points: pct.map(([q, v], i) => [i, v])}],
  "percentile (" + report.latency.count + " samples)", pct.map(([q]) => q + "%"));
</script>
</body></html>
)HTML";
  std::string out = kHead;
  out += reportJson(r);
  out += kTail;
  return out;
}

}  // namespace push::loadtester
