// The supervisor wallboard: totals, alerts, every queue and agent live (the `kpis` event
// each second and the notices of the event stream), monitoring of live calls, charts of
// the day drawn as SVG, and recent contacts with their recordings. The REST API is read
// once at start (and after a reconnection); the charts and recent contacts are read again
// when contacts end or are wrapped up, never on a timer.
import { api, start, follow, el, clock, percent, secs, timeOf, notify, every, session, ApiError } from "/web/app.js";

const $ = (id) => document.getElementById(id);

const me = await start("Wallboard", ["supervisor", "admin"]);
if (me) run(me);

function run(me) {
  /** The phone a supervisor monitors from: their agent login, else their user name. */
  const phoneUser = me.agent || me.name;
  const view = {
    skew: 0, // the server's clock minus ours, ms
    queues: [], // QueueView, as the API sends them
    agents: new Map(), // login → AgentView plus `since` (server ms)
    names: new Map(), // login → display name
    contacts: new Map(), // id → what is known of a contact (channel, answered_ms, …)
    monitor: new Map(), // contact id → {mode, pending, error} of my own monitoring
    watchedBy: new Map(), // contact id → {supervisor, mode} of anyone's monitoring
    alertKey: "",
  };
  const serverNow = () => Date.now() + view.skew;
  const thresholds = loadThresholds();

  // ---- big screen ----
  const wallButton = $("wall-toggle");
  function setWall(on, fullscreen = false) {
    document.body.classList.toggle("wall", on);
    wallButton.setAttribute("aria-pressed", String(on));
    const url = new URL(location.href);
    if (on) url.searchParams.set("wall", "1");
    else url.searchParams.delete("wall");
    history.replaceState(null, "", url);
    if (on && fullscreen && document.fullscreenEnabled && !document.fullscreenElement) {
      document.documentElement.requestFullscreen().catch(() => {});
    }
    if (!on && document.fullscreenElement) document.exitFullscreen().catch(() => {});
  }
  wallButton.addEventListener("click", () => setWall(!document.body.classList.contains("wall"), true));
  setWall(new URLSearchParams(location.search).get("wall") === "1");

  // ---- alert thresholds (kept in this browser) ----
  function loadThresholds() {
    let t = {};
    try {
      t = JSON.parse(localStorage.getItem("switchboard.wallboard.thresholds")) || {};
    } catch {
      t = {};
    }
    const minutes = (v, otherwise) => (v != null && Number(v) >= 0 ? Number(v) : otherwise);
    const contact = minutes(t.contact, 10);
    const away = minutes(t.away, 15);
    $("long-contact").value = contact;
    $("long-away").value = away;
    return { contact, away };
  }
  for (const [id, key] of [["long-contact", "contact"], ["long-away", "away"]]) {
    $(id).addEventListener("input", () => {
      const v = Number($(id).value);
      if ($(id).value === "" || !(v >= 0)) return;
      thresholds[key] = v;
      localStorage.setItem("switchboard.wallboard.thresholds", JSON.stringify(thresholds));
      tick();
    });
  }
  $("thresholds").addEventListener("submit", (e) => e.preventDefault());

  // ---- small helpers ----
  const put = (node, text) => { if (node.textContent !== text) node.textContent = text; };
  const pct = (v) => (v == null ? "–" : percent(v / 100));
  const nameOf = (login) => view.names.get(login) || login;
  const stateName = (state) => (state || "offline").split(":")[0];
  function stateLabel(state) {
    const [name, reason] = (state || "offline").split(":");
    return reason ? `${name} · ${reason}` : name.replace("_", "-");
  }
  function throttled(ms, f) {
    let timer = null;
    return () => {
      if (timer) return;
      timer = setTimeout(() => { timer = null; f(); }, ms);
    };
  }
  /** Keeps one row per key in `tbody`, in the order of `items`, updating rows in place. */
  function keyedRows(tbody, empty) {
    const rows = new Map();
    const placeholder = el("tr", { class: "placeholder" }, el("td", { colspan: 20, class: "muted" }, empty));
    return (items, keyOf, make, update) => {
      const keys = items.map(keyOf);
      for (const [k, row] of rows) {
        if (!keys.includes(k)) { row.remove(); rows.delete(k); }
      }
      items.forEach((item, i) => {
        let row = rows.get(keys[i]);
        if (!row) { row = make(item); rows.set(keys[i], row); }
        update(row, item);
      });
      const wanted = keys.length ? keys.map((k) => rows.get(k)) : [placeholder];
      const now = [...tbody.children];
      if (wanted.length !== now.length || wanted.some((r, i) => now[i] !== r)) tbody.replaceChildren(...wanted);
    };
  }

  // ---- totals ----
  const TILES = [
    ["waiting", "Waiting"], ["longest", "Longest wait"], ["sl", "Service level today"],
    ["answered", "Answered today"], ["abandoned", "Abandoned today"],
    ["available", "Agents available"], ["busy", "Agents busy"], ["away", "Agents away"],
  ];
  const tiles = new Map();
  $("tiles").replaceChildren(...TILES.map(([key, label]) => {
    const value = el("div", { class: "value" }, "–");
    const note = el("div", { class: "note" });
    const tile = el("div", { class: "tile", dataset: { tile: key } }, el("div", { class: "label" }, label), value, note);
    tiles.set(key, { tile, value, note });
    return tile;
  }));
  function setTile(key, text, note = "", tone = "") {
    const t = tiles.get(key);
    put(t.value, text);
    put(t.note, note);
    for (const c of ["good", "warn", "bad"]) t.value.classList.toggle(c, c === tone);
  }
  /** Queue names for a tile's note: a few by name, else how many. */
  const some = (qs) => (qs.length > 2 ? `${qs.length} queues` : qs.map((q) => q.queue).join(", "));
  function renderTiles() {
    const qs = view.queues;
    const waiting = qs.reduce((n, q) => n + q.waiting, 0);
    const longest = qs.reduce((m, q) => Math.max(m, q.longest_wait_secs), 0);
    const late = qs.filter((q) => q.waiting > 0 && q.longest_wait_secs > q.sl_target_secs);
    const unstaffed = qs.filter((q) => q.waiting > 0 && !(q.agents.available > 0));
    setTile("waiting", String(waiting), unstaffed.length ? `no agent for ${some(unstaffed)}` : waiting ? `in ${some(qs.filter((q) => q.waiting > 0))}` : "",
      unstaffed.length ? "bad" : waiting ? "warn" : "");
    setTile("longest", clock(longest), late.length ? `over target in ${some(late)}` : "", late.length ? "bad" : "");
    // All queues together: each queue's service level weighted by the contacts it counts.
    let weight = 0, sl = 0, target = 0;
    for (const q of qs) {
      if (q.service_level == null) continue;
      const n = q.sl_convention === "answered" ? q.answered : q.answered + q.abandoned;
      weight += n;
      sl += q.service_level * n;
      target += q.sl_target_percent * n;
    }
    const below = qs.filter((q) => q.service_level != null && q.service_level < q.sl_target_percent);
    setTile("sl", weight ? pct(sl / weight) : "–", weight ? below.length ? `below target in ${some(below)}` : `target ${pct(target / weight)} met` : "no contact yet",
      !weight ? "" : sl / weight < target / weight ? "bad" : "good");
    const answered = qs.reduce((n, q) => n + q.answered, 0);
    const abandoned = qs.reduce((n, q) => n + q.abandoned, 0);
    setTile("answered", String(answered));
    setTile("abandoned", String(abandoned), answered + abandoned ? `${pct((abandoned * 100) / (answered + abandoned))} of offered` : "", abandoned ? "warn" : "");
    const count = { available: 0, busy: 0, away: 0, offline: 0 };
    for (const a of view.agents.values()) {
      const s = stateName(a.state);
      if (s === "available") count.available++;
      else if (s === "away") count.away++;
      else if (s === "offline") count.offline++;
      else count.busy++;
    }
    setTile("available", String(count.available), `${view.agents.size - count.offline} signed in`, count.available ? "good" : "");
    setTile("busy", String(count.busy), "reserved, talking or wrapping up");
    setTile("away", String(count.away));
  }

  // ---- queues ----
  const CONVENTIONS = {
    offered: "answered within the target ÷ (answered + abandoned)",
    answered: "answered within the target ÷ answered",
    abandons_within_count_for: "(answered + abandoned within the target) ÷ (answered + abandoned)",
  };
  const STATES = ["available", "reserved", "busy", "wrap_up", "away", "offline"];
  const syncQueues = keyedRows($("queues").tBodies[0], "No queue configured.");
  function renderQueues() {
    syncQueues(view.queues, (q) => q.queue,
      (q) => el("tr", { dataset: { queue: q.queue } },
        el("th", { scope: "row" }, q.queue),
        ...Array.from({ length: 8 }, () => el("td", { class: "num" })),
        el("td", { class: "wb-states" })),
      (row, q) => {
        const c = row.cells;
        put(c[1], String(q.waiting));
        put(c[2], q.waiting ? clock(q.longest_wait_secs) : "–");
        c[2].classList.toggle("bad", q.waiting > 0 && q.longest_wait_secs > q.sl_target_secs);
        put(c[3], pct(q.service_level));
        c[3].title = `target ${q.sl_target_percent}% within ${q.sl_target_secs} s`;
        c[3].classList.toggle("bad", q.service_level != null && q.service_level < q.sl_target_percent);
        c[3].classList.toggle("good", q.service_level != null && q.service_level >= q.sl_target_percent);
        put(c[4], pct(q.service_level_window));
        put(c[5], String(q.answered));
        put(c[6], q.abandoned ? `${q.abandoned} (${pct(q.abandon_rate)})` : "0");
        put(c[7], secs(q.asa_secs));
        put(c[8], q.aht_secs == null ? "–" : clock(q.aht_secs));
        const sig = STATES.map((s) => q.agents[s] || 0).join(",");
        if (c[9].dataset.sig !== sig) {
          c[9].dataset.sig = sig;
          const parts = STATES.filter((s) => q.agents[s]).map((s) =>
            el("span", { class: `badge ${s}` }, `${q.agents[s]} ${stateLabel(s)}`));
          c[9].replaceChildren(...(parts.length ? parts : ["–"]));
        }
      });
    const conv = view.queues[0] && view.queues[0].sl_convention;
    put($("sl-note"), conv ? `Service level: ${CONVENTIONS[conv] || conv} (${conv}); targets per queue. SL 30 min: the last half hour.` : "");
  }

  // ---- agents ----
  const syncAgents = keyedRows($("agents").tBodies[0], "No agent.");
  function agentList() {
    return [...view.agents.values()].sort((a, b) => {
      const off = Number(stateName(a.state) === "offline") - Number(stateName(b.state) === "offline");
      return off || nameOf(a.agent).localeCompare(nameOf(b.agent));
    });
  }
  function renderAgents() {
    syncAgents(agentList(), (a) => a.agent,
      (a) => el("tr", { dataset: { agent: a.agent } },
        el("th", { scope: "row" }, el("span", { class: "wb-name" }), " ", el("span", { class: "muted small" }, a.agent)),
        el("td", {}, el("span", { class: "badge" })),
        el("td", { class: "num wb-in-state" }),
        el("td", { class: "wb-contacts" }),
        el("td", { class: "num" }), el("td", { class: "num" }), el("td", { class: "num" })),
      (row, a) => {
        const c = row.cells;
        put(c[0].firstChild, nameOf(a.agent));
        const badge = c[1].firstChild;
        badge.className = `badge ${stateName(a.state)}`;
        put(badge, stateLabel(a.state));
        row.classList.toggle("offline", stateName(a.state) === "offline");
        renderContacts(c[3], a);
        put(c[4], String(a.handled));
        put(c[5], a.aht_secs == null ? "–" : clock(a.aht_secs));
        put(c[6], pct(a.occupancy));
      });
  }

  /** The contacts an agent holds, each with its time and, for calls, monitoring. */
  function renderContacts(cell, a) {
    const sig = JSON.stringify(a.contacts.map((id) => {
      const c = view.contacts.get(id) || {};
      return [id, c.channel, c.answered_ms != null, c.ended_ms != null, view.monitor.get(id), view.watchedBy.get(id)];
    }));
    if (cell.dataset.sig === sig) return;
    cell.dataset.sig = sig;
    const focused = cell.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    cell.replaceChildren(...(a.contacts.length ? a.contacts.map(contactChip) : [el("span", { class: "muted" }, "–")]));
    if (focused) {
      const again = cell.querySelector(`[data-action="${focused}"]`);
      if (again) again.focus();
    }
  }
  function contactChip(id) {
    const c = view.contacts.get(id) || {};
    const chip = el("div", { class: "wb-contact", dataset: { contact: id } },
      el("span", { class: "wb-contact-id" }, `#${id}`), " ",
      el("span", {}, [c.channel, c.queue].filter(Boolean).join(" · ")), " ",
      el("span", { class: "wb-contact-time", dataset: { contactTime: id } },
        c.answered_ms == null ? "offered" : clock(((c.ended_ms || serverNow()) - c.answered_ms) / 1000)));
    const live = c.channel === "voice" && c.answered_ms != null && c.ended_ms == null;
    if (live) chip.append(monitorControls(id));
    return chip;
  }
  function monitorControls(id) {
    const m = view.monitor.get(id) || {};
    const other = view.watchedBy.get(id);
    const buttons = [["listen", "Listen"], ["whisper", "Whisper"], ["barge", "Barge"]].map(([mode, label]) =>
      el("button", {
        type: "button", class: "small", dataset: { action: `${id}:${mode}` },
        "aria-label": `${label} to contact ${id}`, "aria-pressed": String(m.mode === mode),
        onclick: () => startMonitor(id, mode),
      }, label));
    if (m.mode || m.pending) {
      buttons.push(el("button", { type: "button", class: "small bad", dataset: { action: `${id}:stop` },
        "aria-label": `Stop monitoring contact ${id}`, onclick: () => stopMonitor(id) }, "Stop"));
    }
    let status = "";
    if (m.error) status = m.error;
    else if (m.pending && m.pending !== m.mode) status = `Calling your phone (${m.pending})…`;
    else if (m.mode) status = `You are on the call: ${m.mode}`;
    else if (other) status = `${other.supervisor}: ${other.mode}`;
    return el("span", { class: "wb-monitor" },
      el("span", { class: "row", role: "group", "aria-label": `Monitor contact ${id}` }, buttons),
      el("span", { class: `wb-monitor-status${m.error ? " error" : ""}`, role: "status" }, status));
  }
  async function startMonitor(id, mode) {
    const before = view.monitor.get(id) || {};
    // Pending before the answer: `contact.monitor` may arrive first.
    view.monitor.set(id, { mode: before.mode || null, pending: mode, error: null });
    renderAgents();
    try {
      await api("POST", `/contacts/${id}/monitor`, { mode });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      view.monitor.set(id, { mode: before.mode || null, pending: null, error: e.message });
      notify(e.message, "error");
    }
    renderAgents();
  }
  async function stopMonitor(id) {
    try {
      await api("DELETE", `/contacts/${id}/monitor`);
      view.monitor.delete(id);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      view.monitor.set(id, { ...(view.monitor.get(id) || {}), error: e.message });
      notify(e.message, "error");
    }
    renderAgents();
  }

  /**
   * Learns what a contact an agent holds is (its channel, queue, answer time). The
   * contacts API reads the store, whose writes may trail the live figures a moment: a
   * contact it does not show answered yet (or at all) is asked about again when the
   * figures next list it, each second.
   */
  const asked = new Set();
  const complete = (c) => c && c.channel && c.queued_ms !== undefined && c.answered_ms != null;
  function learn(id) {
    if (complete(view.contacts.get(id)) || asked.has(id)) return;
    asked.add(id);
    api("GET", `/contacts/${id}`).then((c) => {
      view.contacts.set(id, { ...c, ...(view.contacts.get(id) || {}), ...pick(c) });
      if (!complete(view.contacts.get(id))) asked.delete(id);
      renderAgents();
      tick();
    }).catch(() => asked.delete(id));
  }
  const pick = (c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v != null));

  // ---- alerts and everything that ticks ----
  function tick() {
    const now = serverNow();
    for (const row of $("agents").tBodies[0].rows) {
      const a = view.agents.get(row.dataset.agent);
      if (!a) continue;
      put(row.querySelector(".wb-in-state"), clock((now - a.since) / 1000));
    }
    for (const span of document.querySelectorAll("[data-contact-time]")) {
      const c = view.contacts.get(Number(span.dataset.contactTime));
      if (c && c.answered_ms != null) put(span, clock(((c.ended_ms || now) - c.answered_ms) / 1000));
    }
    renderAlerts(now);
  }
  every(1000, tick);

  function alerts(now) {
    const list = [];
    // One line per queue, however many of its figures are wrong.
    for (const q of view.queues) {
      const why = [];
      if (q.waiting > 0 && !(q.agents.available > 0)) why.push(`${q.waiting} waiting and no agent available`);
      if (q.service_level != null && q.service_level < q.sl_target_percent) {
        why.push(`service level ${pct(q.service_level)} today, below the target of ${pct(q.sl_target_percent)} within ${q.sl_target_secs} s`);
      }
      if (why.length) list.push({ kind: why.length > 1 || why[0].includes("waiting") ? "unstaffed" : "sl", queue: q.queue, text: `${q.queue}: ${why.join("; ")}` });
    }
    for (const a of agentList()) {
      const inState = (now - a.since) / 60000;
      if (stateName(a.state) === "away" && inState >= thresholds.away) {
        list.push({ kind: "away", agent: a.agent,
          text: `${nameOf(a.agent)}: ${stateLabel(a.state)} for more than ${thresholds.away} min` });
      }
      for (const id of a.contacts) {
        const c = view.contacts.get(id);
        const from = c && c.answered_ms != null ? c.answered_ms : stateName(a.state) === "busy" ? a.since : null;
        if (from != null && (!c || c.ended_ms == null) && (now - from) / 60000 >= thresholds.contact) {
          list.push({ kind: "long", agent: a.agent, contact: id,
            text: `${nameOf(a.agent)}: contact #${id}${c && c.channel ? ` (${c.channel})` : ""} for more than ${thresholds.contact} min` });
        }
      }
    }
    return list;
  }
  function renderAlerts(now) {
    const list = alerts(now);
    const key = list.map((a) => a.text).join("\n");
    // Queues' alerts are red; agents' (away, long contacts) amber, as in the list.
    const flagged = new Set(list.map((a) => a.queue || a.agent));
    for (const row of $("queues").tBodies[0].rows) row.classList.toggle("alerting", flagged.has(row.dataset.queue));
    for (const row of $("agents").tBodies[0].rows) {
      row.classList.toggle("alerting", flagged.has(row.dataset.agent));
      row.classList.toggle("attention", flagged.has(row.dataset.agent));
    }
    if (key === view.alertKey) return;
    view.alertKey = key;
    $("alerts").replaceChildren(...list.map((a) => el("p", { class: `alert ${a.kind}`, dataset: { kind: a.kind } }, a.text)));
    $("no-alerts").hidden = list.length > 0;
  }

  // ---- the live figures ----
  function applyKpis(k) {
    view.skew = k.at_ms - Date.now();
    view.queues = k.queues || [];
    const logins = new Set();
    for (const a of k.agents || []) {
      logins.add(a.agent);
      view.agents.set(a.agent, { ...a, since: k.at_ms - a.in_state_secs * 1000 });
      for (const id of a.contacts) learn(id);
      if (!view.names.has(a.agent)) loadNames();
    }
    for (const login of [...view.agents.keys()]) if (!logins.has(login)) view.agents.delete(login);
    fillQueueChoice();
    render();
  }
  function render() {
    renderTiles();
    renderQueues();
    renderAgents();
    tick();
  }
  const loadNames = throttled(2000, async () => {
    const agents = await api("GET", "/agents").catch(() => null);
    for (const a of agents || []) view.names.set(a.login, (a.config && a.config.name) || a.login);
    for (const login of view.agents.keys()) if (!view.names.has(login)) view.names.set(login, login);
    renderAgents();
  });

  async function load() {
    const [k, agents] = await Promise.all([
      api("GET", "/kpis/realtime"),
      api("GET", "/agents").catch(() => []),
    ]).catch((e) => { notify(e.message, "error"); return []; });
    for (const a of agents || []) view.names.set(a.login, (a.config && a.config.name) || a.login);
    if (k) applyKpis(k);
    loadRecent();
    loadFlows().then(loadCharts);
  }

  const notices = {
    kpis: applyKpis,
    "agent.state": (n) => {
      const a = view.agents.get(n.agent);
      if (!a) return;
      a.state = n.data.state;
      a.since = n.at_ms;
      render();
    },
    "contact.started": (n) => {
      view.contacts.set(n.contact, { ...(view.contacts.get(n.contact) || {}), id: n.contact, ...n.data, created_ms: n.at_ms });
    },
    "contact.queued": (n) => {
      view.contacts.set(n.contact, { ...(view.contacts.get(n.contact) || {}), queue: n.queue, queued_ms: n.at_ms });
    },
    "contact.connected": (n) => {
      view.contacts.set(n.contact, { ...(view.contacts.get(n.contact) || {}), agent: n.agent, queue: n.queue, answered_ms: n.at_ms });
      learn(n.contact);
      refreshRecent();
    },
    "contact.transferred": () => refreshRecent(),
    "contact.ended": (n) => {
      const c = view.contacts.get(n.contact);
      if (c) c.ended_ms = n.at_ms;
      if (!n.agent) { view.contacts.delete(n.contact); asked.delete(n.contact); }
      view.monitor.delete(n.contact);
      view.watchedBy.delete(n.contact);
      renderAgents();
      refreshRecent();
      refreshCharts();
    },
    "contact.wrapped_up": (n) => {
      view.contacts.delete(n.contact);
      asked.delete(n.contact);
      refreshRecent();
      refreshCharts();
    },
    "contact.monitor": (n) => {
      const mode = n.data.mode;
      if (mode) view.watchedBy.set(n.contact, { supervisor: n.data.supervisor, mode });
      else view.watchedBy.delete(n.contact);
      if (n.data.supervisor === phoneUser) {
        const m = view.monitor.get(n.contact) || {};
        if (mode) view.monitor.set(n.contact, { mode, pending: null, error: null });
        else if (m.pending) {
          view.monitor.set(n.contact, { mode: null, pending: null,
            error: `Monitoring refused: your phone (${phoneUser}) did not answer, is not registered, or someone else is on the call.` });
        } else view.monitor.delete(n.contact);
      }
      renderAgents();
    },
    lagged: () => load(),
  };
  let down = false;
  follow(notices, (up) => {
    put($("link"), up ? "Live" : "Reconnecting…");
    $("link").classList.toggle("bad", !up);
    if (up && down) load();
    down = !up;
  });
  load();

  // ---- recent contacts ----
  const players = new Map(); // "id:n" → the cell part that plays it (kept across refreshes)
  const refreshRecent = throttled(500, loadRecent);
  $("refresh-recent").addEventListener("click", loadRecent);
  async function loadRecent() {
    const list = await api("GET", "/contacts?limit=30").catch((e) => { notify(e.message, "error"); return null; });
    if (!list) return;
    const body = $("recent").tBodies[0];
    if (!list.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 10, class: "muted" }, "No contact yet.")));
      return;
    }
    body.replaceChildren(...list.map((c) => {
      const left = c.answered_ms ?? c.ended_ms;
      const waited = c.queued_ms == null ? "–" : left != null ? clock((left - c.queued_ms) / 1000) : "waiting";
      const outcome = c.status === "closed" ? c.end_reason || "closed" : c.status.replace("_", "-");
      return el("tr", { dataset: { contact: c.id } },
        el("td", {}, c.id), el("td", {}, timeOf(c.created_ms)), el("td", {}, c.channel),
        el("td", {}, c.address || "–"), el("td", {}, c.queue || "–"),
        el("td", {}, c.agent ? nameOf(c.agent) : "–"), el("td", { class: "num" }, waited),
        el("td", {}, outcome + (c.transferred ? " · transferred" : "")),
        el("td", {}, c.wrapup_code ? `${c.wrapup_code}${c.resolved ? " ✓" : c.resolved === false ? " (unresolved)" : ""}` : "–"),
        el("td", { class: "wb-recording" }, recordingCell(c)));
    }));
  }
  function recordingCell(c) {
    const files = c.recordings && c.recordings.length ? c.recordings : c.recording ? [c.recording] : [];
    if (!files.length) return el("span", { class: "muted" }, "–");
    return files.map((_, n) => {
      const key = `${c.id}:${n}`;
      if (players.has(key)) return players.get(key);
      const label = files.length > 1 ? `Play part ${n + 1}` : "Play";
      const button = el("button", { type: "button", class: "small", "aria-label": `${label} of the recording of contact ${c.id}` }, label);
      const holder = el("span", { class: "wb-player" }, button);
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const url = await recordingUrl(c.id, n);
          const audio = el("audio", { controls: true, src: url, "aria-label": `Recording of contact ${c.id}${files.length > 1 ? `, part ${n + 1}` : ""}` });
          holder.replaceChildren(audio);
          audio.play().catch(() => {});
          audio.focus();
        } catch (e) {
          button.disabled = false;
          holder.replaceChildren(button, el("span", { class: "error small" }, ` ${e.message}`));
        }
      });
      players.set(key, holder);
      return holder;
    });
  }
  /** The recording as a blob URL: `<audio src>` cannot send the bearer token itself. */
  async function recordingUrl(id, n) {
    const res = await fetch(`/api/v1/contacts/${id}/recording?n=${n}`, {
      headers: { authorization: `Bearer ${session().token}` },
    });
    if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
    return URL.createObjectURL(await res.blob());
  }

  // ---- charts ----
  const refreshCharts = throttled(2000, () => loadCharts());
  $("chart-queue").addEventListener("change", () => loadCharts());
  $("chart-flow").addEventListener("change", () => loadCharts());
  function fillQueueChoice() {
    const select = $("chart-queue");
    const have = new Set([...select.options].map((o) => o.value));
    for (const q of view.queues) if (!have.has(q.queue)) select.append(el("option", { value: q.queue }, q.queue));
  }
  async function loadFlows() {
    const flows = await api("GET", "/flows").catch(() => []);
    const select = $("chart-flow");
    const current = select.value;
    const ids = [...new Set((flows || []).map((f) => f.flow))].sort();
    select.replaceChildren(...ids.map((id) => el("option", { value: id }, id)));
    select.value = ids.includes(current) ? current : ids.includes("tech-support") ? "tech-support" : ids[0] || "";
  }
  /** The start of the day the live figures count (00:00 UTC, docs/kpis.md). */
  function today() {
    const now = serverNow();
    return now - (now % 86400000);
  }
  let charting = 0;
  async function loadCharts() {
    const ticket = ++charting;
    const from = today();
    const to = Math.max(serverNow(), from + 1);
    const queue = $("chart-queue").value;
    const flow = $("chart-flow").value;
    const [rows, contacts, stats] = await Promise.all([
      api("GET", `/reports/intervals?from_ms=${from}&to_ms=${to}&interval_minutes=30`).catch(() => null),
      api("GET", `/contacts?since_ms=${from}&limit=1000${queue ? `&queue=${encodeURIComponent(queue)}` : ""}`).catch(() => null),
      flow ? api("GET", `/flows/${encodeURIComponent(flow)}/stats?from_ms=${from}&to_ms=${to}`).catch(() => null) : null,
    ]);
    if (ticket !== charting) return;
    drawIntervals($("chart-intervals"), rows || [], from, to, queue);
    drawWaits($("chart-waits"), contacts || [], queue);
    drawFunnel($("chart-funnel"), stats, flow);
  }

  const NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, String(v));
    for (const c of children.flat()) if (c != null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  let uid = 0;
  /** A chart: heading, SVG with title and description, legend, and its data as a table. */
  function figure(box, { title, summary, width, height, draw, legend = [], head, rows, empty }) {
    const id = `chart-${++uid}`;
    const parts = [el("figcaption", {}, el("h3", {}, title), el("p", { class: "muted small" }, summary))];
    if (empty) {
      parts.push(el("p", { class: "muted wb-empty" }, empty));
    } else {
      parts.push(svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-labelledby": `${id}-t ${id}-d` },
        svg("title", { id: `${id}-t` }, title), svg("desc", { id: `${id}-d` }, summary), draw()));
      if (legend.length) {
        parts.push(el("p", { class: "legend small" }, legend.map(([cls, label]) =>
          el("span", {}, el("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), label))));
      }
      parts.push(el("details", {}, el("summary", {}, "Data table"),
        el("table", { class: "wb-data" },
          el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, rows.map((r) => el("tr", {}, r.map((v, i) => el(i ? "td" : "th", i ? { class: "num" } : { scope: "row" }, v))))))));
    }
    box.replaceChildren(...parts);
  }
  const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const hhmm = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  function niceMax(v) {
    if (v <= 4) return 4;
    const p = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  }

  function drawIntervals(box, rows, from, to, queue) {
    const step = 30 * 60000;
    const by = new Map();
    for (const r of rows) {
      if (queue && r.key !== queue) continue;
      const a = by.get(r.start_ms) || { answered: 0, abandoned: 0, offered: 0, in_sl: 0 };
      a.answered += r.answered;
      a.abandoned += r.abandoned;
      a.offered += r.offered;
      a.in_sl += r.answered_in_sl;
      by.set(r.start_ms, a);
    }
    const last = from + Math.floor((to - 1 - from) / step) * step;
    let first = Math.max(from, last - 15 * step);
    for (const k of by.keys()) first = Math.min(first, k);
    const starts = [];
    for (let t = first; t <= last; t += step) starts.push(t);
    const total = [...by.values()].reduce((s, a) => ({ offered: s.offered + a.offered, in_sl: s.in_sl + a.in_sl }), { offered: 0, in_sl: 0 });
    const qs = queue ? view.queues.filter((q) => q.queue === queue) : view.queues;
    const targets = [...new Set(qs.map((q) => `${q.sl_target_percent}|${q.sl_target_secs}`))];
    const target = targets.length === 1 ? qs[0] : null;
    const summary = total.offered
      ? `${count(total.offered, "contact")} offered since 00:00 UTC; service level ${pct((total.in_sl * 100) / total.offered)}${target ? `, target ${target.sl_target_percent}% within ${target.sl_target_secs} s` : ""}. Per 30 minutes: bars are volume, the line is the service level.`
      : "No contact has reached a queue today.";
    const W = 480, H = 220, L = 34, R = 40, T = 12, B = 26;
    const pw = W - L - R, ph = H - T - B;
    const band = pw / starts.length;
    const vmax = niceMax(Math.max(1, ...[...by.values()].map((a) => a.answered + a.abandoned)));
    const y = (v) => T + ph - (v / vmax) * ph;
    const ys = (p) => T + ph - (p / 100) * ph;
    const labelEvery = Math.ceil(starts.length / 8);
    figure(box, {
      title: `Service level and volume${queue ? ` · ${queue}` : ""}`, summary, width: W, height: H,
      legend: [["answered", "answered"], ["abandoned", "abandoned"], ["sl", "service level"], ...(target ? [["target", `target ${target.sl_target_percent}%`]] : [])],
      head: ["Interval", "Offered", "Answered", "Abandoned", "Service level"],
      rows: starts.filter((s) => by.has(s)).map((s) => {
        const a = by.get(s);
        return [hhmm(s), a.offered, a.answered, a.abandoned, a.offered ? pct((a.in_sl * 100) / a.offered) : "–"];
      }),
      draw: () => {
        const g = [];
        for (const v of [0, vmax / 2, vmax]) {
          g.push(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
          g.push(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" }, Number.isInteger(v) ? v : v.toFixed(1)));
        }
        for (const p of [0, 50, 100]) g.push(svg("text", { x: W - R + 4, y: ys(p) + 4 }, `${p}%`));
        const points = [];
        starts.forEach((s, i) => {
          const a = by.get(s);
          const x = L + i * band + band * 0.15;
          const w = Math.max(1, band * 0.7);
          if (a) {
            g.push(svg("rect", { x, width: w, y: y(a.answered), height: y(0) - y(a.answered), class: "answered" },
              svg("title", {}, `${hhmm(s)}: ${a.answered} answered, ${a.abandoned} abandoned`)));
            if (a.abandoned) g.push(svg("rect", { x, width: w, y: y(a.answered + a.abandoned), height: y(a.answered) - y(a.answered + a.abandoned), class: "abandoned" }));
            if (a.offered) points.push([L + i * band + band / 2, ys((a.in_sl * 100) / a.offered)]);
          }
          if (i % labelEvery === 0) g.push(svg("text", { x: L + i * band + band / 2, y: H - 8, "text-anchor": "middle" }, hhmm(s)));
        });
        if (target) g.push(svg("line", { x1: L, x2: W - R, y1: ys(target.sl_target_percent), y2: ys(target.sl_target_percent), class: "target" }));
        if (points.length > 1) g.push(svg("polyline", { points: points.map((p) => p.join(",")).join(" "), class: "sl" }));
        for (const [px, py] of points) g.push(svg("circle", { cx: px, cy: py, r: 3, class: "sl-point" }));
        g.push(svg("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), class: "axis" }));
        return g;
      },
    });
  }

  const BUCKETS = [[0, 10], [10, 20], [20, 30], [30, 60], [60, 120], [120, 300], [300, Infinity]];
  const bucketLabel = ([lo, hi]) => (hi === Infinity ? `${lo / 60}+ min` : hi <= 60 ? `${lo}–${hi} s` : `${lo / 60}–${hi / 60} min`);
  function drawWaits(box, contacts, queue) {
    const counts = BUCKETS.map(() => ({ answered: 0, abandoned: 0 }));
    const target = new Map(view.queues.map((q) => [q.queue, q.sl_target_secs]));
    let answered = 0, within = 0, abandoned = 0;
    for (const c of contacts) {
      if (c.queued_ms == null) continue;
      let kind, wait;
      if (c.answered_ms != null) { kind = "answered"; wait = (c.answered_ms - c.queued_ms) / 1000; }
      else if (c.end_reason === "abandoned" && c.ended_ms != null) { kind = "abandoned"; wait = (c.ended_ms - c.queued_ms) / 1000; }
      else continue;
      const i = BUCKETS.findIndex(([lo, hi]) => wait >= lo && wait < hi);
      counts[Math.max(0, i)][kind]++;
      if (kind === "answered") {
        answered++;
        if (wait <= (target.get(c.queue) ?? 20)) within++;
      } else abandoned++;
    }
    const W = 480, H = 220, L = 34, R = 10, T = 12, B = 26;
    const pw = W - L - R, ph = H - T - B;
    const band = pw / BUCKETS.length;
    const vmax = niceMax(Math.max(1, ...counts.map((c) => c.answered + c.abandoned)));
    const y = (v) => T + ph - (v / vmax) * ph;
    const truncated = contacts.length >= 1000 ? " (the last 1000 contacts)" : "";
    figure(box, {
      title: `Wait before answer${queue ? ` · ${queue}` : ""}`,
      summary: answered + abandoned
        ? `${answered} answered today${truncated}, ${pct((within * 100) / Math.max(1, answered))} within their queue's target; ${abandoned} abandoned while waiting.`
        : "No contact has waited in a queue today.",
      width: W, height: H,
      legend: [["answered", "answered after"], ["abandoned", "abandoned after"]],
      head: ["Waited", "Answered", "Abandoned"],
      rows: BUCKETS.map((b, i) => [bucketLabel(b), counts[i].answered, counts[i].abandoned]),
      draw: () => {
        const g = [];
        for (const v of [0, vmax / 2, vmax]) {
          g.push(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
          g.push(svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" }, Number.isInteger(v) ? v : v.toFixed(1)));
        }
        counts.forEach((c, i) => {
          const x = L + i * band + band * 0.12;
          const w = band * 0.76;
          g.push(svg("rect", { x, width: w, y: y(c.answered), height: y(0) - y(c.answered), class: "answered" },
            svg("title", {}, `${bucketLabel(BUCKETS[i])}: ${c.answered} answered, ${c.abandoned} abandoned`)));
          if (c.abandoned) g.push(svg("rect", { x, width: w, y: y(c.answered + c.abandoned), height: y(c.answered) - y(c.answered + c.abandoned), class: "abandoned" }));
          if (c.answered + c.abandoned) g.push(svg("text", { x: x + w / 2, y: y(c.answered + c.abandoned) - 3, "text-anchor": "middle", class: "value" }, c.answered + c.abandoned));
          g.push(svg("text", { x: x + w / 2, y: H - 8, "text-anchor": "middle" }, bucketLabel(BUCKETS[i])));
        });
        g.push(svg("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), class: "axis" }));
        return g;
      },
    });
  }

  const OUTCOMES = [["queued", "queued"], ["contained", "self-service"], ["abandoned", "hung up in the IVR"],
    ["voicemail", "voicemail"], ["callbacks", "callback"], ["transferred", "transferred out"], ["failed", "failed"]];
  function drawFunnel(box, stats, flow) {
    const nodes = stats ? stats.nodes.filter(([, s]) => s.visits > 0) : [];
    const outcomes = stats ? OUTCOMES.filter(([k]) => stats[k] > 0).map(([k, label]) => `${stats[k]} ${label}`).join(" · ") : "";
    const title = `IVR path${flow ? ` · ${flow}` : ""}`;
    if (!stats || !stats.calls) {
      figure(box, { title, summary: flow ? "No contact went through this flow today." : "No flow.", empty: "Nothing to show yet." });
      return;
    }
    const W = 480, rowH = 20, T = 6, L = 120, R = 86;
    const H = T * 2 + rowH * nodes.length;
    const max = Math.max(1, ...nodes.map(([, s]) => s.visits));
    const x = (v) => (v / max) * (W - L - R);
    const dropped = nodes.filter(([, s]) => s.drop_offs > 0).map(([n, s]) => `${s.drop_offs} at ${n}`);
    figure(box, {
      title,
      summary: `${count(stats.calls, "contact")} today: ${outcomes || "none finished"}.${dropped.length ? ` Callers left at: ${dropped.join(", ")}.` : ""} Bars are visits per step, in flow order; the red part, callers who hung up there.`,
      width: W, height: H,
      legend: [["answered", "visits"], ["abandoned", "hung up there"]],
      head: ["Step", "Visits", "Hung up", "Choices"],
      rows: nodes.map(([n, s]) => [n, s.visits, s.drop_offs,
        Object.entries({ ...s.choices, ...s.routes }).map(([k, v]) => `${k}: ${v}`).join(", ") || "–"]),
      draw: () => nodes.map(([name, s], i) => {
        const top = T + i * rowH;
        const label = name.length > 18 ? `${name.slice(0, 17)}…` : name;
        return svg("g", {},
          svg("title", {}, `${name}: ${s.visits} visits, ${s.drop_offs} hung up${Object.keys(s.choices).length ? `; ${Object.entries(s.choices).map(([k, v]) => `${k} ${v}`).join(", ")}` : ""}`),
          svg("text", { x: L - 6, y: top + 14, "text-anchor": "end" }, label),
          svg("rect", { x: L, y: top + 3, width: Math.max(1, x(s.visits)), height: rowH - 6, class: "answered" }),
          s.drop_offs ? svg("rect", { x: L + x(s.visits - s.drop_offs), y: top + 3, width: Math.max(1, x(s.drop_offs)), height: rowH - 6, class: "abandoned" }) : null,
          svg("text", { x: L + x(s.visits) + 6, y: top + 14, class: "value" }, s.drop_offs ? `${s.visits} (${s.drop_offs} left)` : s.visits));
      }),
    });
    box.append(el("p", { class: "small" }, `Outcomes: ${outcomes || "–"}`));
  }
}
