// The admin: flows (edit with the validator's diagnostics at their lines, a diagram, dry
// runs, publish and roll back, path analytics), queues, agents and skills, calendars,
// wrap-up codes, numbers, users and roles, and staffing (Erlang C/A and what-if
// simulation). Supervisors manage flows and staffing; the rest is for admins (the API
// decides, the page shows its answer).
import { api, start, el, notify, attempt, dateTimeOf, percent, secs, ApiError } from "/web/app.js";

const $ = (id) => document.getElementById(id);

const me = await start("Admin", ["supervisor", "admin"]);
if (me) run(me);

function run(me) {
  const admin = me.role === "admin";
  const sections = [
    ["flows", "Flows", flowsSection, true],
    ["staffing", "Staffing", staffingSection, true],
    ["reports", "Reports", reportsSection, true],
    ["queues", "Queues", queuesSection, admin],
    ["agents", "Agents and skills", agentsSection, admin],
    ["calendars", "Calendars", calendarsSection, true],
    ["wrapup", "Wrap-up codes", wrapupSection, admin],
    ["numbers", "Numbers", numbersSection, admin],
    ["users", "Users and roles", usersSection, admin],
  ].filter(([, , , shown]) => shown);
  const nav = $("sections");
  const show = (key) => {
    const [, label, draw] = sections.find(([k]) => k === key) || sections[0];
    for (const b of nav.querySelectorAll("button")) b.setAttribute("aria-current", String(b.dataset.key === key));
    const box = $("section");
    box.replaceChildren(el("h2", { class: "section-title" }, label));
    history.replaceState(null, "", `#${key}`);
    draw(box);
  };
  nav.replaceChildren(...sections.map(([key, label]) =>
    el("button", { type: "button", dataset: { key }, onclick: () => show(key) }, label)));
  show(location.hash.slice(1) || "flows");
}

// ---------------------------------------------------------------- flows

async function flowsSection(box) {
  const flows = (await attempt(() => api("GET", "/flows"))) || [];
  const pick = el("select", { id: "flow-pick", "aria-label": "Flow" },
    el("option", { value: "" }, "New flow…"),
    flows.map((f) => el("option", { value: f.flow }, `${f.flow} (v${f.version})`)));
  const editor = el("textarea", { id: "flow-source", class: "editor", rows: 24, spellcheck: "false", "aria-label": "Flow YAML", "aria-describedby": "diagnostics" });
  const gutter = el("div", { class: "gutter", "aria-hidden": "true" });
  const diagnostics = el("div", { id: "diagnostics", "aria-live": "polite" });
  const versions = el("div", { id: "versions" });
  const diagram = el("div", { id: "diagram" });
  const analytics = el("div", { id: "analytics" });
  const dry = dryRunPanel(() => editor.value);
  let graph = null;
  let stats = null;

  const check = el("button", { type: "button", onclick: () => validate() }, "Check");
  const publish = el("button", { type: "button", class: "primary", onclick: () => publishFlow() }, "Publish");
  box.append(
    el("div", { class: "row" }, el("label", { for: "flow-pick" }, "Flow"), pick, el("span", { class: "grow" }), check, publish),
    el("div", { class: "flow-layout" },
      el("section", { class: "panel", "aria-label": "Editor" }, el("div", { class: "editor-wrap" }, gutter, editor), diagnostics),
      el("div", { class: "flow-side" },
        el("section", { class: "panel", "aria-labelledby": "diagram-title" }, el("h3", { id: "diagram-title" }, "Diagram"), diagram),
        dry,
        el("section", { class: "panel", "aria-labelledby": "versions-title" }, el("h3", { id: "versions-title" }, "Versions"), versions),
        el("section", { class: "panel", "aria-labelledby": "analytics-title" }, el("h3", { id: "analytics-title" }, "Path analytics (last 24 hours)"), analytics))));

  const numberLines = () => {
    const n = editor.value.split("\n").length;
    gutter.replaceChildren(...Array.from({ length: n }, (_, i) => el("div", { dataset: { line: i + 1 } }, i + 1)));
    gutter.scrollTop = editor.scrollTop;
  };
  editor.addEventListener("input", numberLines);
  editor.addEventListener("scroll", () => { gutter.scrollTop = editor.scrollTop; });
  let timer = null;
  editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(validate, 600); });

  function goTo(line, column) {
    const lines = editor.value.split("\n");
    const offset = lines.slice(0, Math.max(0, line - 1)).reduce((n, l) => n + l.length + 1, 0) + Math.max(0, column - 1);
    editor.focus();
    editor.setSelectionRange(offset, offset);
    const lineHeight = editor.scrollHeight / Math.max(1, lines.length);
    editor.scrollTop = Math.max(0, (line - 5) * lineHeight);
  }

  function showDiagnostics(list) {
    for (const d of gutter.querySelectorAll(".marked")) d.classList.remove("marked", "error", "warning");
    if (!list.length) {
      diagnostics.replaceChildren(el("p", { class: "good", id: "flow-ok" }, "No problems found."));
      return;
    }
    diagnostics.replaceChildren(el("ul", { class: "diagnostics", "aria-label": "Problems" }, list.map((d) => {
      const mark = gutter.querySelector(`[data-line="${d.line}"]`);
      if (mark) mark.classList.add("marked", d.severity);
      const where = d.line ? `line ${d.line}, column ${d.column}` : "file";
      return el("li", { class: `diag ${d.severity}` },
        el("button", { type: "button", class: "ghost", onclick: () => d.line && goTo(d.line, d.column) }, `${d.severity} at ${where}`),
        `: ${d.message}`, d.hint ? el("span", { class: "muted" }, ` (${d.hint})`) : null);
    })));
  }

  async function validate() {
    const result = await attempt(() => api("POST", "/flows/check", editor.value));
    if (!result) return null;
    showDiagnostics(result.diagnostics);
    graph = result.graph || null;
    drawDiagram(diagram, graph, stats);
    return result;
  }

  async function publishFlow() {
    const result = await validate();
    if (!result || !result.ok) {
      notify("Fix the errors before publishing.", "error");
      return;
    }
    try {
      const v = await api("PUT", `/flows/${encodeURIComponent(result.id)}`, editor.value);
      notify(`Published ${v.flow} version ${v.version}.`);
      await load(v.flow);
    } catch (e) {
      if (e instanceof ApiError && Array.isArray(e.details)) showDiagnostics(e.details);
      notify(e.message, "error");
    }
  }

  let loading = 0;
  async function load(id) {
    // A later choice wins over a load still under way.
    const mine = ++loading;
    const current = () => mine === loading;
    if (!id) {
      editor.value = "id: my-flow\nversion: 1\nstart: welcome\nnodes:\n  welcome:\n    say: \"Hello.\"\n    next: bye\n  bye:\n    hangup: {}\n";
      versions.replaceChildren(el("p", { class: "muted" }, "Not published yet."));
      analytics.replaceChildren();
      stats = null;
    } else {
      const list = (await attempt(() => api("GET", `/flows/${encodeURIComponent(id)}/versions`))) || [];
      if (!current()) return;
      // Newest first.
      const active = list.find((v) => v.active) || list[0];
      editor.value = active ? active.source : "";
      versions.replaceChildren(el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "Version"), el("th", {}, "Published"), el("th", {}, ""))),
        el("tbody", {}, list.map((v) => el("tr", {},
          el("td", {}, `v${v.version}`), el("td", {}, dateTimeOf(v.created_ms)),
          el("td", {}, v.active
            ? el("span", { class: "badge available" }, "active")
            : el("button", { type: "button", onclick: () => activate(id, v.version) }, `Make v${v.version} active`)))))));
      const figures = await attempt(() => api("GET", `/flows/${encodeURIComponent(id)}/stats`));
      if (!current()) return;
      stats = figures;
      drawAnalytics(analytics, stats);
    }
    numberLines();
    await validate();
  }

  async function activate(id, version) {
    const ok = await attempt(() => api("POST", `/flows/${encodeURIComponent(id)}/activate`, { version }));
    if (ok !== undefined) {
      notify(`${id} version ${version} is active.`);
      await load(id);
    }
  }

  pick.addEventListener("change", () => load(pick.value));
  const first = flows.length ? flows[0].flow : "";
  pick.value = first;
  await load(first);
}

function dryRunPanel(source) {
  const caller = el("input", { id: "dry-caller", value: "+441632960001" });
  const at = el("input", { id: "dry-at", type: "datetime-local" });
  const presses = el("input", { id: "dry-presses", placeholder: "e.g. 1, 12345678#, (empty = silence)" });
  const answer = el("select", { id: "dry-answer" },
    el("option", { value: "0" }, "answers at once"),
    el("option", { value: "60" }, "answers after 1 minute"),
    el("option", { value: "" }, "nobody answers"));
  const out = el("div", { id: "dry-output", "aria-live": "polite" });
  const form = el("form", { class: "panel", "aria-labelledby": "dry-title" },
    el("h3", { id: "dry-title" }, "Dry run"),
    el("div", { class: "grid2" },
      el("label", { for: "dry-caller" }, "Caller number"), caller,
      el("label", { for: "dry-at" }, "Time"), at,
      el("label", { for: "dry-presses" }, "Key presses"), presses,
      el("label", { for: "dry-answer" }, "An agent"), answer),
    el("div", { class: "row" }, el("button", { type: "submit" }, "Run")),
    out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      source: source(),
      caller: caller.value.trim() || null,
      presses: presses.value.split(",").map((p) => p.trim()),
      answer_after_secs: answer.value === "" ? null : Number(answer.value),
    };
    if (!presses.value.trim()) body.presses = [];
    if (at.value) body.at = toRfc3339(new Date(at.value));
    const r = await attempt(() => api("POST", "/flows/dry-run", body));
    if (!r) return;
    if (!r.ok) {
      out.replaceChildren(el("p", { class: "error" }, "The flow has errors: fix them first."));
      return;
    }
    out.replaceChildren(
      el("ol", { class: "transcript-lines", "aria-label": "Transcript" }, r.lines.map((l) => el("li", {}, l))),
      el("p", { id: "dry-outcome" }, el("strong", {}, "Outcome: "), r.outcome));
    // The route taken, on the diagram.
    const route = new Set(r.path || []);
    for (const g of document.querySelectorAll("svg.diagram g.node")) g.classList.toggle("visited", route.has(g.dataset.node));
  });
  return form;
}

/** A local time as RFC 3339 with its offset. */
function toRfc3339(d) {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:00${sign}${pad(off / 60)}:${pad(off % 60)}`;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/**
 * Draws the flow as layers from the start node (breadth first): each node a box with its
 * kind, each path an arrow with its label (menu key, open/closed…); links back to an
 * earlier layer curve around on the left. With analytics, boxes show their visits.
 */
function drawDiagram(box, graph, stats) {
  if (!graph || !graph.nodes.length) {
    box.replaceChildren(el("p", { class: "muted" }, "The diagram shows once the flow parses."));
    return;
  }
  const visits = new Map(((stats && stats.nodes) || []).map(([name, s]) => [name, s.visits]));
  const layer = new Map([[graph.start, 0]]);
  const queue = [graph.start];
  const out = new Map();
  for (const e of graph.edges) (out.get(e.from) || out.set(e.from, []).get(e.from)).push(e);
  while (queue.length) {
    const n = queue.shift();
    for (const e of out.get(n) || []) {
      if (!layer.has(e.to)) {
        layer.set(e.to, layer.get(n) + 1);
        queue.push(e.to);
      }
    }
  }
  let deepest = Math.max(...layer.values());
  for (const n of graph.nodes) if (!layer.has(n.name)) layer.set(n.name, ++deepest); // unreachable
  const rows = [];
  for (const n of graph.nodes) (rows[layer.get(n.name)] ||= []).push(n);
  const W = 150, H = 44, GX = 24, GY = 56, PAD = 40;
  const widest = Math.max(...rows.map((r) => (r ? r.length : 0)));
  const width = PAD * 2 + widest * (W + GX);
  const pos = new Map();
  rows.forEach((row, i) => {
    if (!row) return;
    const rowWidth = row.length * (W + GX) - GX;
    row.forEach((n, j) => pos.set(n.name, { x: (width - rowWidth) / 2 + j * (W + GX), y: PAD / 2 + i * (H + GY) }));
  });
  const height = PAD + rows.length * (H + GY) - GY;
  const root = svg("svg", { class: "diagram", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "diagram-desc" });
  root.append(svg("title", { id: "diagram-desc" }, `Flow diagram: ${graph.nodes.length} nodes, ${graph.edges.length} paths, starting at ${graph.start}`));
  const defs = svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" })));
  root.append(defs);
  for (const e of graph.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
    let d;
    if (b.y > a.y) d = `M${x1},${y1} C${x1},${y1 + GY / 2} ${x2},${y2 - GY / 2} ${x2},${y2}`;
    else {
      const left = Math.min(a.x, b.x) - 16;
      d = `M${a.x},${a.y + H / 2} C${left},${a.y + H / 2} ${left},${b.y + H / 2} ${b.x},${b.y + H / 2}`;
    }
    const g = svg("g", { class: "edge" }, svg("path", { d, "marker-end": "url(#arrow)" }));
    if (e.label) {
      const lx = b.y > a.y ? (x1 + x2) / 2 : Math.min(a.x, b.x) - 14;
      const ly = b.y > a.y ? (y1 + y2) / 2 : (a.y + b.y + H) / 2;
      g.append(svg("text", { x: lx, y: ly, class: "edge-label", "text-anchor": "middle" }, e.label.length > 22 ? `${e.label.slice(0, 21)}…` : e.label));
    }
    root.append(g);
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.name);
    const seen = visits.get(n.name);
    const g = svg("g", { class: `node ${n.kind}${n.name === graph.start ? " start" : ""}` });
    g.setAttribute("data-node", n.name);
    g.append(svg("title", {}, `${n.name} (${n.kind})${n.line ? `, line ${n.line}` : ""}${seen != null ? `, ${seen} visits` : ""}`));
    g.append(svg("rect", { x: p.x, y: p.y, width: W, height: H, rx: 6 }));
    g.append(svg("text", { x: p.x + W / 2, y: p.y + 18, "text-anchor": "middle", class: "node-name" }, n.name.length > 20 ? `${n.name.slice(0, 19)}…` : n.name));
    g.append(svg("text", { x: p.x + W / 2, y: p.y + 34, "text-anchor": "middle", class: "node-kind" }, seen != null ? `${n.kind} · ${seen}` : n.kind));
    root.append(g);
  }
  const escape = graph.escape
    ? el("p", { class: "muted" }, `Key ${graph.escape.key} from any menu leads to ${graph.escape.to}.`)
    : null;
  box.replaceChildren(root, escape || "");
}

function drawAnalytics(box, stats) {
  if (!stats) {
    box.replaceChildren(el("p", { class: "muted" }, "No figures."));
    return;
  }
  box.replaceChildren(
    el("p", {}, `${stats.calls} contacts · ${stats.contained} contained in the IVR · ${stats.abandoned} abandoned · ${stats.callbacks} callbacks · ${secs(stats.mean_seconds_in_ivr)} in the IVR on average`),
    el("table", {},
      el("thead", {}, el("tr", {}, el("th", {}, "Node"), el("th", { class: "num" }, "Visits"), el("th", { class: "num" }, "Drop-offs"),
        el("th", { class: "num" }, "No input"), el("th", { class: "num" }, "Invalid"), el("th", {}, "Choices"))),
      el("tbody", {}, stats.nodes.map(([name, s]) => el("tr", {},
        el("td", {}, name), el("td", { class: "num" }, s.visits), el("td", { class: "num" }, s.drop_offs),
        el("td", { class: "num" }, s.no_input), el("td", { class: "num" }, s.invalid),
        el("td", {}, Object.entries({ ...s.choices, ...s.routes }).map(([k, v]) => `${k}: ${v}`).join(", ") || "–"))))));
}

// ---------------------------------------------------------------- reports

/** Interval reports per queue or agent (table and CSV), and the period's summary. */
function reportsSection(box) {
  const period = el("select", { id: "r-period" },
    el("option", { value: "1" }, "Last 24 hours"), el("option", { value: "7" }, "Last 7 days"), el("option", { value: "30" }, "Last 30 days"));
  const interval = el("select", { id: "r-interval" }, [["15", "15 minutes"], ["30", "30 minutes"], ["60", "1 hour"], ["1440", "1 day"]]
    .map(([v, l]) => el("option", { value: v, selected: v === "60" }, l)));
  const by = el("select", { id: "r-by" }, el("option", { value: "queue" }, "Queue"), el("option", { value: "agent" }, "Agent"));
  const table = el("div", { id: "r-table", "aria-live": "polite" });
  const summary = el("div", { id: "r-summary" });
  const query = () => {
    const to = Date.now();
    // Intervals start on the clock: whole quarters, halves, hours, or local midnight.
    const step = Number(interval.value) * 60_000;
    let from = to - Number(period.value) * 86_400_000;
    from = step === 86_400_000 ? new Date(from).setHours(0, 0, 0, 0) : Math.floor(from / step) * step;
    return `from_ms=${from}&to_ms=${to}&interval_minutes=${interval.value}&by=${by.value}`;
  };
  const form = el("form", { class: "panel row", "aria-label": "Report" },
    el("label", { for: "r-period" }, "Period"), period, el("label", { for: "r-interval" }, "Interval"), interval,
    el("label", { for: "r-by" }, "Per"), by,
    el("button", { type: "submit", class: "primary" }, "Show"),
    el("button", { type: "button", id: "r-csv", onclick: () => download() }, "Download CSV"));
  form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
  box.append(form, el("section", { class: "panel", "aria-labelledby": "r-title" }, el("h3", { id: "r-title" }, "Intervals"), table),
    el("section", { class: "panel", "aria-labelledby": "s-title" }, el("h3", { id: "s-title" }, "Summary"), summary));

  // Answers can come back out of order: only the latest request's are shown.
  let latest = 0;
  async function show() {
    const asked = ++latest;
    const [rows, s] = await Promise.all([
      attempt(() => api("GET", `/reports/intervals?${query()}`)),
      attempt(() => api("GET", `/reports/summary?${query().split("&interval")[0]}`)),
    ]);
    if (asked !== latest) return;
    if (rows) {
      const active = rows.filter((r) => r.offered || r.answered || r.abandoned);
      table.replaceChildren(active.length ? el("table", { id: "r-rows" },
        el("thead", {}, el("tr", {}, ...["Interval", by.value === "agent" ? "Agent" : "Queue", "Offered", "Answered", "In SL", "Abandoned", "Service level", "ASA", "AHT", "Longest wait", "Transferred"]
          .map((h, i) => el("th", { class: i > 1 ? "num" : null }, h)))),
        el("tbody", {}, active.map((r) => el("tr", {},
          el("td", {}, dateTimeOf(r.start_ms)), el("td", {}, r.key), el("td", { class: "num" }, r.offered), el("td", { class: "num" }, r.answered),
          el("td", { class: "num" }, r.answered_in_sl), el("td", { class: "num" }, r.abandoned),
          el("td", { class: "num" }, r.service_level == null ? "–" : `${r.service_level.toFixed(1)}%`),
          el("td", { class: "num" }, secs(r.asa_secs)), el("td", { class: "num" }, secs(r.aht_secs)),
          el("td", { class: "num" }, secs(r.max_wait_secs)), el("td", { class: "num" }, r.transferred)))))
        : el("p", { class: "muted" }, "No contact in this period."));
    }
    if (s) {
      summary.replaceChildren(el("dl", { class: "figures" },
        el("dt", {}, "Handled"), el("dd", {}, s.handled),
        el("dt", {}, "First-contact resolution"), el("dd", {}, s.fcr == null ? "–" : `${s.fcr.toFixed(1)}% (no repeat within ${s.fcr_window_days} days)`),
        el("dt", {}, "Transfer rate"), el("dd", {}, s.transfer_rate == null ? "–" : `${s.transfer_rate.toFixed(1)}%`),
        el("dt", {}, "Customers who contact most"), el("dd", {}, (s.top_customers || []).map((c) => `${c.customer} (${c.contacts})`).join(", ") || "–"),
        el("dt", {}, "Wait by segment"), el("dd", {}, (s.wait_by_segment || []).map((w) => `${w.segment}: ASA ${secs(w.asa_secs)} over ${w.answered}`).join("; ") || "–")));
    }
  }

  /** The interval report as a CSV file (fetched with the session's token). */
  async function download() {
    const text = await attempt(() => api("GET", `/reports/intervals?${query()}&format=csv`, undefined, { raw: true }));
    if (text == null) return;
    const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: `switchboard-${by.value}-report.csv` });
    document.body.append(link);
    link.click();
    link.remove();
  }
  show();
}

// ---------------------------------------------------------------- staffing

function staffingSection(box) {
  const field = (id, label, value, hint) => [el("label", { for: id }, label), el("input", { id, value, "aria-describedby": hint ? `${id}-hint` : null }),
    hint ? el("span", { id: `${id}-hint`, class: "muted" }, hint) : el("span")];
  const erlang = el("form", { class: "panel", "aria-labelledby": "erlang-title" },
    el("h3", { id: "erlang-title" }, "Erlang calculator"),
    el("div", { class: "grid3" },
      field("e-arrivals", "Arrivals", "360/h", "e.g. 360/h or 6/m"),
      field("e-aht", "Average handle time", "240s", "e.g. 240s or 4m"),
      field("e-agents", "Agents", "", "a range such as 26..30; empty: around the need"),
      field("e-patience", "Mean patience", "", "empty: nobody abandons (Erlang C); e.g. 60s (Erlang A)"),
      field("e-sl", "Service-level threshold", "20s", ""),
      field("e-target", "Target", "80/20", "percent answered within seconds")),
    el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Calculate")),
    el("div", { id: "erlang-result", "aria-live": "polite" }));
  erlang.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [id, key] of [["e-arrivals", "arrivals"], ["e-aht", "aht"], ["e-agents", "agents"], ["e-patience", "patience"], ["e-sl", "sl"], ["e-target", "target"]]) {
      const v = $(id).value.trim();
      if (v) q.set(key, v);
    }
    const r = await attempt(() => api("GET", `/staffing/erlang?${q}`));
    if (!r) return;
    $("erlang-result").replaceChildren(
      el("p", {}, `${r.model}: ${r.erlangs.toFixed(2)} erlangs of work.`,
        r.agents_needed != null ? el("strong", { id: "agents-needed" }, ` ${r.agents_needed} agents needed for the target.`) : null),
      el("table", {},
        el("thead", {}, el("tr", {}, ...["Agents", "P(block) B", "P(wait)", "Service level", "ASA", "Occupancy", "P(abandon)", ""].map((h) => el("th", { class: "num" }, h)))),
        el("tbody", {}, r.rows.map((row) => el("tr", { class: row.needed ? "needed" : null },
          el("td", { class: "num" }, row.agents), el("td", { class: "num" }, percent(row.p_block, 1)),
          el("td", { class: "num" }, percent(row.p_wait, 1)), el("td", { class: "num" }, percent(row.service_level, 1)),
          el("td", { class: "num" }, secs(row.asa_s)), el("td", { class: "num" }, percent(row.occupancy, 1)),
          el("td", { class: "num" }, percent(row.p_abandon, 1)),
          el("td", { class: "num" }, row.meets_target == null ? "" : row.meets_target ? "meets target" : "below target"))))));
  });
  const sim = el("form", { class: "panel", "aria-labelledby": "sim-title" },
    el("h3", { id: "sim-title" }, "What-if simulation"),
    el("p", { class: "muted" }, "Runs the discrete-event simulator (the real routing engine) for one queue: replications with 95% confidence intervals."),
    el("div", { class: "grid3" },
      field("s-arrivals", "Arrivals per hour", "360", ""),
      field("s-aht", "Average handle time (s)", "240", ""),
      field("s-agents", "Agents", "28", ""),
      field("s-patience", "Mean patience (s)", "", "empty: nobody abandons"),
      field("s-sl", "Service-level threshold (s)", "20", ""),
      field("s-calls", "Calls per replication", "20000", "")),
    el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Simulate")),
    el("div", { id: "sim-result", "aria-live": "polite" }));
  sim.addEventListener("submit", async (e) => {
    e.preventDefault();
    const num = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
    const button = sim.querySelector("button");
    button.disabled = true;
    $("sim-result").replaceChildren(el("p", { class: "muted" }, "Simulating…"));
    const r = await attempt(() => api("POST", "/staffing/simulate", {
      arrivals_per_hour: num("s-arrivals"), aht_secs: num("s-aht"), agents: num("s-agents"),
      patience_secs: num("s-patience"), sl_secs: num("s-sl"), calls: num("s-calls"), replications: 5, seed: 1,
    }));
    button.disabled = false;
    if (!r) {
      $("sim-result").replaceChildren();
      return;
    }
    const ci = r.ci95 || {};
    const pm = (v, h, f) => `${f(v)}${h != null ? ` ± ${f(h)}` : ""}`;
    $("sim-result").replaceChildren(el("dl", { class: "figures", id: "sim-figures" },
      el("dt", {}, "P(wait)"), el("dd", {}, pm(r.p_wait, ci.p_wait, (v) => percent(v, 1))),
      el("dt", {}, "Service level"), el("dd", {}, pm(r.service_level, ci.service_level, (v) => percent(v, 1))),
      el("dt", {}, "ASA"), el("dd", {}, pm(r.asa_s, ci.asa_s, secs)),
      el("dt", {}, "Abandoned"), el("dd", {}, pm(r.abandon_rate, ci.abandon_rate, (v) => percent(v, 1))),
      el("dt", {}, "Occupancy"), el("dd", {}, pm(r.occupancy, ci.occupancy, (v) => percent(v, 1)))));
  });
  box.append(erlang, sim);
}

// ---------------------------------------------------------------- configuration

const STRATEGIES = ["longest-idle", "best-skill", "ring-all", "linear", "round-robin", "fewest-contacts",
  "least-talk-time", "least-occupied", "random", "weighted-random"];

/**
 * A form of labelled fields (`[id, label, input]`), saved by `save(form)`; the API's
 * refusal shows in the form.
 */
function configForm(title, fields, save) {
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const form = el("form", { class: "panel", "aria-label": title }, el("h3", {}, title),
    el("div", { class: "grid2" }, fields.flatMap(([id, label, input]) => {
      input.id = id;
      return [el("label", { for: id }, label), input];
    })),
    error, el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Save")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    try {
      await save();
      notify(`${title}: saved.`);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  return form;
}

const number = (value, attrs = {}) => el("input", { type: "number", value: value ?? "", ...attrs });
const optional = (input) => (input.value.trim() === "" ? null : Number(input.value));
/** `{a: 1, b: 2}` as "a 1, b 2", and back (a clear error for anything else). */
const pairsText = (o) => Object.entries(o || {}).map(([k, v]) => `${k} ${v}`).join(", ");
function pairs(text, what) {
  const out = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = part.match(/^(\S+)\s+(\d+)$/);
    if (!m) throw new Error(`${what}: write “name level, …”, not “${part}”`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

async function queuesSection(box) {
  const queues = (await attempt(() => api("GET", "/queues"))) || [];
  const detail = el("div");
  const redraw = () => { box.replaceChildren(box.firstChild); queuesSection(box); };
  box.append(el("table", {},
    el("thead", {}, el("tr", {}, ...["Queue", "Strategy", "Ring timeout", "Wrap-up", "SL target", "Recorded", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, queues.map((q) => el("tr", {},
      el("td", {}, q.name), el("td", {}, q.config.strategy), el("td", {}, `${q.config.ring_timeout_secs} s`),
      el("td", {}, q.config.wrap_up_secs == null ? "manual" : `${q.config.wrap_up_secs} s`),
      el("td", {}, `${q.config.sl_percent}% in ${q.config.sl_secs} s`), el("td", {}, q.config.record ? "yes" : "no"),
      el("td", {}, el("button", { type: "button", onclick: () => detail.replaceChildren(queueForm(q.name, q.config, redraw)) }, `Edit ${q.name}`)))))),
  el("div", { class: "row" }, el("button", { type: "button", onclick: () => detail.replaceChildren(queueForm("", null, redraw)) }, "Add a queue")),
  detail);
}

function queueForm(name, c, done) {
  c = c || { strategy: "longest-idle", ring_timeout_secs: 20, wrap_up_secs: null, sl_percent: 80, sl_secs: 20, weight: 1,
    aht_secs: 240, record: true, callback_attempts: 3, callback_retry_secs: 600 };
  const f = {
    name: el("input", { value: name, required: true, readonly: name ? true : null }),
    strategy: el("select", {}, STRATEGIES.map((s) => el("option", { value: s, selected: s === c.strategy }, s))),
    ring: number(c.ring_timeout_secs, { min: 1, max: 600, required: true }),
    wrap: number(c.wrap_up_secs, { min: 0, placeholder: "manual" }),
    slPercent: number(c.sl_percent, { min: 0, max: 100, step: "any", required: true }),
    slSecs: number(c.sl_secs, { min: 0, required: true }),
    weight: number(c.weight, { min: 1, required: true }),
    aht: number(c.aht_secs, { min: 1, required: true }),
    record: el("input", { type: "checkbox", checked: c.record }),
    attempts: number(c.callback_attempts, { min: 1, max: 20, required: true }),
    retry: number(c.callback_retry_secs, { min: 1, required: true }),
  };
  return configForm(name ? `Queue ${name}` : "New queue", [
    ["queue-name", "Name", f.name], ["queue-strategy", "Strategy", f.strategy],
    ["queue-ring", "Ring timeout (s)", f.ring], ["queue-wrap", "Wrap-up (s; empty: manual)", f.wrap],
    ["queue-sl-percent", "Service-level target (%)", f.slPercent], ["queue-sl-secs", "… answered within (s)", f.slSecs],
    ["queue-weight", "Weight", f.weight], ["queue-aht", "Expected handle time (s)", f.aht],
    ["queue-record", "Record calls", f.record],
    ["queue-attempts", "Callback attempts", f.attempts], ["queue-retry", "Between attempts (s)", f.retry],
  ], () => api("PUT", `/queues/${encodeURIComponent(f.name.value.trim())}`, {
    strategy: f.strategy.value, ring_timeout_secs: Number(f.ring.value), wrap_up_secs: optional(f.wrap),
    sl_percent: Number(f.slPercent.value), sl_secs: Number(f.slSecs.value), weight: Number(f.weight.value),
    aht_secs: Number(f.aht.value), record: f.record.checked, callback_attempts: Number(f.attempts.value),
    callback_retry_secs: Number(f.retry.value),
  }).then(done));
}

async function agentsSection(box) {
  const agents = (await attempt(() => api("GET", "/agents"))) || [];
  const detail = el("div");
  const redraw = () => { box.replaceChildren(box.firstChild); agentsSection(box); };
  box.append(el("table", {},
    el("thead", {}, el("tr", {}, ...["Agent", "Name", "Skills (level)", "Languages", "Queues (tier)", "Capacity", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, agents.map((a) => el("tr", {},
      el("td", {}, a.login), el("td", {}, a.config.name || "–"), el("td", {}, pairsText(a.config.skills) || "–"),
      el("td", {}, (a.config.languages || []).join(", ")), el("td", {}, pairsText(a.config.queues) || "–"),
      el("td", {}, `voice ${a.config.capacity.voice}, chat ${a.config.capacity.chat}, email ${a.config.capacity.email}`),
      el("td", {}, el("button", { type: "button", onclick: () => detail.replaceChildren(agentForm(a.login, a.config, redraw)) }, `Edit ${a.login}`)))))),
  el("div", { class: "row" }, el("button", { type: "button", onclick: () => detail.replaceChildren(agentForm("", null, redraw)) }, "Add an agent")),
  detail);
}

function agentForm(login, c, done) {
  c = c || { name: "", skills: {}, languages: ["en"], queues: {}, auto_away_after_missed: null,
    capacity: { voice: 1, chat: 2, email: 0, sms: 0, total: 2, voice_exclusive: true } };
  const cap = c.capacity || {};
  const f = {
    login: el("input", { value: login, required: true, readonly: login ? true : null }),
    name: el("input", { value: c.name, required: true }),
    skills: el("input", { value: pairsText(c.skills), placeholder: "devices 5, network 4" }),
    languages: el("input", { value: (c.languages || []).join(", "), placeholder: "en, fr" }),
    queues: el("input", { value: pairsText(c.queues), placeholder: "support 1, orders 2" }),
    voice: number(cap.voice, { min: 0, max: 255 }),
    chat: number(cap.chat, { min: 0, max: 255 }),
    email: number(cap.email, { min: 0, max: 255 }),
    sms: number(cap.sms, { min: 0, max: 255 }),
    total: number(cap.total, { min: 0, max: 255 }),
    exclusive: el("input", { type: "checkbox", checked: cap.voice_exclusive }),
    away: number(c.auto_away_after_missed, { min: 1, placeholder: "never" }),
  };
  const form = configForm(login ? `Agent ${login}` : "New agent", [
    ["agent-login", "Login", f.login], ["agent-name", "Name", f.name],
    ["agent-skills", "Skills and levels", f.skills], ["agent-languages", "Languages", f.languages],
    ["agent-queues", "Queues and tiers", f.queues],
    ["agent-voice", "Calls at once", f.voice], ["agent-chat", "Chats at once", f.chat],
    ["agent-email", "Emails at once", f.email], ["agent-sms", "SMS at once", f.sms],
    ["agent-total", "Contacts at once in all", f.total], ["agent-exclusive", "A call excludes other contacts", f.exclusive],
    ["agent-away", "Away after missed offers", f.away],
  ], () => api("PUT", `/agents/${encodeURIComponent(f.login.value.trim())}`, {
    name: f.name.value.trim(), skills: pairs(f.skills.value, "Skills"),
    languages: f.languages.value.split(",").map((l) => l.trim()).filter(Boolean),
    queues: pairs(f.queues.value, "Queues"),
    capacity: { voice: Number(f.voice.value), chat: Number(f.chat.value), email: Number(f.email.value),
      sms: Number(f.sms.value), total: Number(f.total.value), voice_exclusive: f.exclusive.checked },
    auto_away_after_missed: optional(f.away),
  }).then(done));
  const phone = el("input", { id: "phone-password", type: "password", autocomplete: "new-password" });
  const setPhone = el("form", { class: "row panel" }, el("label", { for: "phone-password" }, "Desk phone password"), phone,
    el("button", { type: "submit" }, "Set phone password"));
  setPhone.addEventListener("submit", async (e) => {
    e.preventDefault();
    const ok = await attempt(() => api("PUT", `/phones/${encodeURIComponent(f.login.value.trim())}`, { password: phone.value }));
    if (ok !== undefined) notify("Phone password set.");
  });
  return el("div", {}, form, login ? setPhone : null);
}

async function calendarsSection(box) {
  const calendars = (await attempt(() => api("GET", "/calendars"))) || [];
  const name = el("input", { id: "calendar-name", value: calendars[0] ? calendars[0].name : "" });
  const source = el("textarea", { id: "calendar-source", class: "editor", rows: 16, spellcheck: "false", "aria-label": "Calendar YAML" }, calendars[0] ? calendars[0].source : "");
  const result = el("div", { "aria-live": "polite" });
  const pick = el("select", { "aria-label": "Calendar file" }, calendars.map((c) => el("option", { value: c.name }, `${c.name} (${c.calendars.join(", ")})`)));
  pick.addEventListener("change", () => {
    const c = calendars.find((x) => x.name === pick.value);
    name.value = c.name;
    source.value = c.source;
  });
  const form = el("form", { class: "panel" },
    el("div", { class: "row" }, pick, el("label", { for: "calendar-name" }, "File name"), name),
    source, result, el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Save calendar")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("PUT", `/calendars/${encodeURIComponent(name.value.trim())}`, source.value);
      result.replaceChildren(el("p", { class: "good" }, "Saved; flows that use it apply it now."));
    } catch (err) {
      const list = err instanceof ApiError && Array.isArray(err.details) ? err.details : [];
      result.replaceChildren(el("p", { class: "error" }, err.message),
        el("ul", {}, list.map((d) => el("li", { class: `diag ${d.severity}` }, `line ${d.line}: ${d.message}`))));
    }
  });
  box.append(form);
}

async function wrapupSection(box) {
  const codes = (await attempt(() => api("GET", "/wrapup-codes"))) || {};
  const code = el("input", { id: "code", required: true, pattern: "[a-z0-9\\-]+" });
  const label = el("input", { id: "code-label", required: true });
  const form = el("form", { class: "row panel" },
    el("label", { for: "code" }, "Code"), code, el("label", { for: "code-label" }, "Label"), label,
    el("button", { type: "submit", class: "primary" }, "Add or rename"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const ok = await attempt(() => api("PUT", `/wrapup-codes/${encodeURIComponent(code.value.trim())}`, { label: label.value.trim() }));
    if (ok !== undefined) {
      box.replaceChildren(el("h2", { class: "section-title" }, "Wrap-up codes"));
      wrapupSection(box);
    }
  });
  box.append(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Code"), el("th", {}, "Label"))),
    el("tbody", {}, Object.entries(codes).map(([c, l]) => el("tr", {}, el("td", {}, c), el("td", {}, l))))), form);
}

async function numbersSection(box) {
  const [numbers, flows] = await Promise.all([attempt(() => api("GET", "/numbers")), attempt(() => api("GET", "/flows"))]);
  const address = el("input", { id: "number-address", required: true, placeholder: "e.g. 1000, support, +441632960000" });
  const flow = el("select", { id: "number-flow" }, (flows || []).map((f) => el("option", { value: f.flow }, f.flow)));
  const form = el("form", { class: "row panel" },
    el("label", { for: "number-address" }, "Number or address"), address, el("label", { for: "number-flow" }, "Flow"), flow,
    el("button", { type: "submit", class: "primary" }, "Point it at the flow"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const ok = await attempt(() => api("PUT", `/numbers/${encodeURIComponent(address.value.trim())}`, { flow: flow.value }));
    if (ok !== undefined) {
      box.replaceChildren(el("h2", { class: "section-title" }, "Numbers"));
      numbersSection(box);
    }
  });
  box.append(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Number or address"), el("th", {}, "Flow"))),
    el("tbody", {}, Object.entries(numbers || {}).map(([a, f]) => el("tr", {}, el("td", {}, a), el("td", {}, f))))), form);
}

async function usersSection(box) {
  const [users, agents] = await Promise.all([attempt(() => api("GET", "/users")), attempt(() => api("GET", "/agents"))]);
  const name = el("input", { id: "user-name", required: true, autocomplete: "off" });
  const role = el("select", { id: "user-role" }, ["agent", "supervisor", "admin"].map((r) => el("option", { value: r }, r)));
  const agent = el("select", { id: "user-agent" }, el("option", { value: "" }, "none"), (agents || []).map((a) => el("option", { value: a.login }, a.login)));
  const password = el("input", { id: "user-password", type: "password", autocomplete: "new-password", placeholder: "unchanged when empty" });
  const form = el("form", { class: "panel grid2", "aria-label": "Add or change a user" },
    el("label", { for: "user-name" }, "User name"), name,
    el("label", { for: "user-role" }, "Role"), role,
    el("label", { for: "user-agent" }, "Works as agent"), agent,
    el("label", { for: "user-password" }, "Password"), password,
    el("span"), el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Save user")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { role: role.value, agent: agent.value || null };
    if (password.value) body.password = password.value;
    const ok = await attempt(() => api("PUT", `/users/${encodeURIComponent(name.value.trim())}`, body));
    if (ok !== undefined) {
      notify(`User ${name.value.trim()} saved.`);
      box.replaceChildren(el("h2", { class: "section-title" }, "Users and roles"));
      usersSection(box);
    }
  });
  const edit = (u) => {
    name.value = u.name;
    role.value = u.role;
    agent.value = u.agent || "";
    password.value = "";
    name.focus();
  };
  box.append(el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "User"), el("th", {}, "Role"), el("th", {}, "Agent"), el("th", {}, ""))),
    el("tbody", {}, (users || []).map((u) => el("tr", {}, el("td", {}, u.name), el("td", {}, u.role), el("td", {}, u.agent || "–"),
      el("td", {}, el("button", { type: "button", onclick: () => edit(u) }, `Edit ${u.name}`)))))), form);
}
