// The agent desktop: state, offers with the screen pop, the contact in hand (a chat's
// conversation, a call's details), transfer, notes, wrap-up, knowledge base and history.
// Everything live comes from the event stream; the REST API is read once at start and
// after a reconnection.
import { api, start, follow, el, clock, timeOf, dateTimeOf, notify, attempt, every } from "/web/app.js";

const $ = (id) => document.getElementById(id);

const me = await start("Agent desktop");
if (me && !me.agent) {
  $("desktop").replaceChildren(el("section", { class: "panel refused", role: "alert" },
    el("h2", {}, "No agent profile"),
    el("p", {}, `${me.name} is a ${me.role} without an agent profile; the desktop is for agents.`),
    el("p", {}, el("a", { href: "/wallboard" }, "Open the wallboard"))));
}
if (me && me.agent) await run(me.agent);

async function run(agent) {
  /** Server clock minus ours, from the last event (offers expire on the server's clock). */
  let skew = 0;
  const view = {
    state: "offline",
    since: Date.now(),
    offers: new Map(), // contact id → {pop, expires_ms, card}
    current: null, // {contact, lines, ended_ms, notes}
    codes: {},
    /** Counts the state changes announced; a read started before one is stale. */
    changes: 0,
  };

  const title = document.title;
  // A short two-tone chime for each offer. Browsers allow sound only after the page has
  // been used, so the audio starts with the agent's first click.
  let audio = null;
  document.addEventListener("click", () => { audio ||= new AudioContext(); }, { once: true });
  function chime() {
    if (!audio) return;
    const t = audio.currentTime;
    for (const [i, hz] of [880, 660].entries()) {
      const tone = audio.createOscillator();
      const level = audio.createGain();
      tone.frequency.value = hz;
      level.gain.setValueAtTime(0.2, t + i * 0.18);
      level.gain.exponentialRampToValueAtTime(0.001, t + i * 0.18 + 0.16);
      tone.connect(level).connect(audio.destination);
      tone.start(t + i * 0.18);
      tone.stop(t + i * 0.18 + 0.17);
    }
  }

  // ---- state ----
  function showState(state, inStateSecs = 0) {
    view.state = state;
    view.since = Date.now() - inStateSecs * 1000;
    const [name, reason] = state.split(":");
    const badge = $("state");
    badge.className = `badge ${name}`;
    badge.textContent = reason ? `away · ${reason}` : name.replace("_", "-");
    $("go-available").setAttribute("aria-pressed", String(name === "available"));
    $("go-away").setAttribute("aria-pressed", String(name === "away"));
    $("go-offline").setAttribute("aria-pressed", String(name === "offline"));
    tick();
  }
  function tick() {
    $("in-state").textContent = clock((Date.now() - view.since) / 1000);
    for (const [, o] of view.offers) {
      const left = (o.expires_ms - skew - Date.now()) / 1000;
      o.countdown.textContent = left > 0 ? `${Math.ceil(left)} s` : "…";
    }
    if (view.current && view.current.ended_ms) {
      const acw = $("acw");
      if (acw) acw.textContent = clock((Date.now() + skew - view.current.ended_ms) / 1000);
    }
  }
  every(1000, tick);

  async function setState(state, reason) {
    const before = view.changes;
    const done = await attempt(() => api("POST", `/agents/${encodeURIComponent(agent)}/state`, reason ? { state, reason } : { state }));
    // Shown at once, unless a newer change was announced meanwhile.
    if (done !== undefined && view.changes === before) showState(reason ? `${state}:${reason}` : state);
  }
  $("go-available").addEventListener("click", () => setState("available"));
  $("go-away").addEventListener("click", () => setState("away", $("away-reason").value));
  $("go-offline").addEventListener("click", () => setState("offline"));

  // ---- offers and the screen pop ----
  function showOffer(contact, data, atMs) {
    if (view.offers.has(contact)) return;
    const pop = data.screen_pop || {};
    const c = pop.contact || {};
    const k = pop.customer;
    const countdown = el("span", { class: "countdown" });
    const accept = el("button", { type: "button", class: "good", onclick: () => answer(contact, true) }, "Accept");
    const reject = el("button", { type: "button", onclick: () => answer(contact, false) }, "Reject");
    const card = el("article", { class: "panel offer", "aria-label": `Offer of contact ${contact}`, dataset: { contact } },
      el("div", { class: "spread" },
        el("h3", {}, `${c.channel === "voice" ? "Call" : "Chat"} from ${k ? k.name : c.address || "unknown"}`),
        countdown),
      el("p", {}, `Queue ${c.queue || "–"} · dialed ${c.dialed || "–"} · offered ${timeOf(atMs)}`),
      c.channel === "voice" ? el("p", { class: "muted" }, "Your phone is ringing: pick it up, or accept here and then answer it.") : null,
      el("div", { class: "row" }, accept, reject));
    view.offers.set(contact, { pop, expires_ms: data.expires_ms, countdown, card });
    renderOffers();
    chime();
    showPop(pop);
    notify(`Contact ${contact} offered: ${k ? k.name : c.address}`);
    tick();
  }
  function endOffer(contact) {
    if (view.offers.delete(contact)) renderOffers();
  }
  function renderOffers() {
    const box = $("offers");
    // The tab's title says so too, for an agent looking at another window.
    document.title = view.offers.size ? `(${view.offers.size}) Offer · Agent desktop · Switchboard` : title;
    if (!view.offers.size) {
      box.replaceChildren(el("p", { class: "muted" }, view.state === "available" ? "Waiting for a contact…" : "No offer. Become available to receive contacts."));
      return;
    }
    box.replaceChildren(...[...view.offers.values()].map((o) => o.card));
  }
  async function answer(contact, accept) {
    const ok = await attempt(() => api("POST", `/agents/${encodeURIComponent(agent)}/offers/${contact}/${accept ? "accept" : "reject"}`));
    if (ok !== undefined) endOffer(contact);
  }

  function showPop(pop) {
    const k = pop.customer;
    const c = pop.contact || {};
    const parts = [];
    if (k) {
      parts.push(el("div", { class: "spread" }, el("h3", {}, k.name),
        el("span", {}, k.segment ? el("span", { class: `badge ${k.segment}` }, k.segment) : null, " ",
          k.tier ? el("span", { class: `badge ${k.tier}` }, k.tier) : null)));
      parts.push(el("dl", {},
        el("dt", {}, "Phone"), el("dd", {}, k.phone || "–"),
        el("dt", {}, "Email"), el("dd", {}, k.email || "–"),
        el("dt", {}, "Language"), el("dd", {}, k.language || "–"),
        el("dt", {}, "Account owner"), el("dd", {}, k.account_owner || "–"),
        k.external_id ? [el("dt", {}, "CRM id"), el("dd", {}, k.external_id)] : null));
    } else {
      parts.push(el("h3", {}, "Unknown customer"), el("p", { class: "muted" }, `From ${c.address || "–"}`));
    }
    parts.push(el("h3", {}, "Why"),
      (pop.ivr_path || []).length
        ? el("ol", { class: "ivr-path", "aria-label": "IVR path" }, (pop.ivr_path || []).map((p) => el("li", {}, p)))
        : el("p", { class: "muted" }, "No IVR choices."));
    const said = (pop.transcript || []).filter((l) => l.from === "customer");
    if (said.length) parts.push(el("p", {}, "They entered: ", said.map((l) => l.text).join(" · ")));
    parts.push(el("h3", {}, "Open cases"),
      (pop.open_cases || []).length
        ? el("ul", {}, pop.open_cases.map((x) => el("li", {}, `#${x.id} ${x.subject} (since ${dateTimeOf(x.opened_ms)})`)))
        : el("p", { class: "muted" }, "None."));
    const history = pop.history || [];
    parts.push(el("h3", {}, "Previous contacts"),
      history.length
        ? el("ul", { class: "previous" }, history.map((h) => el("li", {},
          `${dateTimeOf(h.created_ms)} · ${h.channel} · ${h.queue || "–"} · ${h.agent ? `agent ${h.agent}` : "no agent"} · ${h.wrapup_code || h.status}${h.resolved === false ? " · unresolved" : ""}`)))
        : el("p", { class: "muted" }, "First contact."));
    if (history.length && history[0].agent) parts.push(el("p", {}, `Last agent: ${history[0].agent}`));
    $("customer").replaceChildren(el("div", { class: "pop" }, parts));
    showArticles(pop.articles || [], "Suggested for this contact");
  }

  // ---- knowledge base ----
  function showArticles(list, title) {
    $("articles").replaceChildren(
      el("p", { class: "muted" }, list.length ? title : "No article found."),
      ...list.map((a) => el("article", {}, el("h3", {}, a.title), el("p", {}, a.body))));
  }
  $("kb-search").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = $("kb-q").value.trim();
    if (!q) return;
    const list = await attempt(() => api("GET", `/articles?q=${encodeURIComponent(q)}`));
    if (list) showArticles(list, `Articles for “${q}”`);
  });

  // ---- the contact in hand ----
  // `answeredMs`: when the contact was answered, as its `contact.connected` said (the store
  // the contacts API reads may not show it yet).
  async function take(contact, reloaded = false, answeredMs = null) {
    const c = await attempt(() => api("GET", `/contacts/${contact}`));
    if (!c) return;
    c.answered_ms ??= answeredMs;
    const notes = view.current && view.current.contact.id === contact ? view.current.notes : c.notes || "";
    view.current = { contact: c, ended_ms: c.ended_ms, notes };
    renderCurrent();
    if (reloaded) {
      // After a reload there was no offer to carry the screen pop: rebuild it.
      const customer = c.customer_id ? await attempt(() => api("GET", `/customers/${c.customer_id}`)) : null;
      const h = c.customer_id ? await attempt(() => api("GET", `/customers/${c.customer_id}/history`)) : null;
      showPop({ contact: c, customer, ivr_path: c.ivr_path, transcript: c.transcript,
        history: ((h && h.contacts) || []).filter((x) => x.id !== c.id).slice(0, 5),
        open_cases: ((h && h.cases) || []).filter((x) => x.status === "open"), articles: [] });
    }
  }
  function line(l) {
    return el("div", { class: `line ${l.from}` }, el("span", { class: "who" }, `${l.from} · ${timeOf(l.at_ms)}`), l.text);
  }
  function renderCurrent() {
    const box = $("current");
    const cur = view.current;
    if (!cur) {
      box.replaceChildren(el("p", { class: "muted" }, "No contact in hand."));
      return;
    }
    const c = cur.contact;
    const ended = cur.ended_ms != null;
    const parts = [
      el("div", { class: "spread" },
        el("h3", {}, `#${c.id} · ${c.channel} · ${c.address || ""}`),
        el("span", { id: "contact-status", class: "badge" }, ended ? "ended" : cur.held ? "on hold" : "connected")),
      el("p", { class: "muted" }, `Queue ${c.queue || "–"} · answered ${timeOf(c.answered_ms)}`),
    ];
    if (c.channel !== "voice") {
      parts.push(el("div", { class: "transcript", id: "transcript", "aria-label": "Conversation", "aria-live": "polite" },
        (c.transcript || []).map(line)));
      if (!ended) {
        const input = el("input", { id: "reply", placeholder: "Type a reply", "aria-label": "Reply", autocomplete: "off" });
        const form = el("form", { class: "compose" }, input, el("button", { type: "submit", class: "primary" }, "Send"));
        form.addEventListener("submit", async (e) => {
          e.preventDefault();
          const text = input.value.trim();
          if (!text) return;
          const ok = await attempt(() => api("POST", `/contacts/${c.id}/messages`, { text }));
          if (ok !== undefined) input.value = "";
        });
        parts.push(form);
      }
    } else if (c.recording || (c.recordings || []).length) {
      parts.push(el("p", { class: "muted" }, "This call is recorded."));
    }
    const notes = el("textarea", { id: "notes", rows: 3, "aria-label": "Notes" }, cur.notes || "");
    notes.addEventListener("input", () => { cur.notes = notes.value; });
    parts.push(el("label", { for: "notes" }, "Notes"), notes);
    if (!ended) {
      const to = el("input", { id: "transfer-to", placeholder: "queue, agent or number", "aria-label": "Transfer to" });
      const transfer = el("form", { class: "row" }, to, el("button", { type: "submit" }, "Transfer"));
      transfer.addEventListener("submit", async (e) => {
        e.preventDefault();
        if (!to.value.trim()) return;
        await attempt(() => api("POST", `/contacts/${c.id}/transfer`, { to: to.value.trim() }));
      });
      const end = el("button", { type: "button", class: "bad", id: "end-contact",
        onclick: () => attempt(() => api("POST", `/contacts/${c.id}/end`)) }, c.channel === "voice" ? "Hang up" : "End chat");
      // A call's hold is confirmed by the call (`contact.hold`), then shown.
      const hold = c.channel === "voice"
        ? el("button", { type: "button", id: "hold", "aria-pressed": String(!!cur.held),
          onclick: () => attempt(() => api("POST", `/contacts/${c.id}/hold`, { held: !cur.held })) }, cur.held ? "Resume" : "Hold")
        : null;
      parts.push(el("div", { class: "row" }, transfer, el("span", { class: "grow" }), hold, end));
    } else {
      parts.push(wrapUpForm(c, cur));
    }
    box.replaceChildren(...parts);
    const t = $("transcript");
    if (t) t.scrollTop = t.scrollHeight;
  }
  function wrapUpForm(c, cur) {
    const code = el("select", { id: "wrapup-code", required: true },
      el("option", { value: "" }, "Choose…"),
      Object.entries(view.codes).map(([value, label]) => el("option", { value }, label)));
    const resolved = el("input", { type: "checkbox", id: "resolved" });
    // A follow-up callback: when (local time) and which number.
    const callback = el("input", { type: "checkbox", id: "follow-up" });
    const soon = new Date(Date.now() + 3600_000);
    soon.setMinutes(soon.getMinutes() - soon.getTimezoneOffset(), 0, 0);
    const when = el("input", { type: "datetime-local", id: "follow-up-at", value: soon.toISOString().slice(0, 16) });
    const number = el("input", { id: "follow-up-number", value: c.channel === "voice" || c.channel === "callback" ? c.address : "" });
    const details = el("div", { class: "row", hidden: true },
      el("label", { for: "follow-up-at" }, "When"), when,
      el("label", { for: "follow-up-number" }, "Number"), number);
    callback.addEventListener("change", () => { details.hidden = !callback.checked; });
    const save = el("button", { type: "submit", class: "primary" }, "Save wrap-up");
    const form = el("form", { id: "wrapup", "aria-label": "Wrap-up" },
      el("h3", {}, "Wrap-up ", el("span", { class: "muted" }, "after-call work "), el("span", { id: "acw" }, "0:00")),
      el("label", { for: "wrapup-code" }, "Outcome"), code,
      el("p", {}, el("label", { class: "inline" }, resolved, "Resolved on this contact")),
      el("p", {}, el("label", { class: "inline" }, callback, "Follow-up callback")),
      details,
      el("div", { class: "row" }, save));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!code.value) {
        notify("Choose an outcome first.", "error");
        code.focus();
        return;
      }
      const body = { code: code.value, resolved: resolved.checked, notes: cur.notes || null };
      if (callback.checked) {
        body.follow_up = { at_ms: new Date(when.value).getTime(), number: number.value.trim() || null };
      }
      save.disabled = true;
      const ok = await attempt(() => api("POST", `/contacts/${c.id}/wrapup`, body));
      save.disabled = false;
      if (ok !== undefined) {
        notify(callback.checked ? `Contact ${c.id} saved; callback on ${when.value.replace("T", " ")}.` : `Contact ${c.id} saved.`);
        view.current = null;
        renderCurrent();
        loadHistory();
      }
    });
    setTimeout(() => code.focus(), 0);
    return form;
  }

  // ---- history ----
  async function loadHistory() {
    const list = await attempt(() => api("GET", `/contacts?agent=${encodeURIComponent(agent)}&limit=15`));
    if (!list) return;
    $("history").replaceChildren(...list.map((c) => el("tr", { dataset: { contact: c.id } },
      el("td", {}, c.id), el("td", {}, dateTimeOf(c.created_ms)), el("td", {}, c.channel),
      el("td", {}, c.address || "–"), el("td", {}, c.queue || "–"), el("td", {}, c.status),
      el("td", {}, c.wrapup_code || "–"), el("td", {}, c.resolved == null ? "–" : c.resolved ? "yes" : "no"))));
    if (!list.length) $("history").replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "muted" }, "No contact yet.")));
  }
  $("refresh-history").addEventListener("click", loadHistory);

  // ---- start: read the state, then follow events ----
  async function load() {
    view.codes = (await attempt(() => api("GET", "/wrapup-codes"))) || {};
    const before = view.changes;
    const agents = await attempt(() => api("GET", "/agents"));
    const mine = (agents || []).find((a) => a.login === agent);
    if (mine && mine.live) {
      // A change announced while the list was read is newer than the list.
      if (view.changes === before) showState(mine.live.state, mine.live.in_state_secs);
      showFigures(mine.live);
      const held = mine.live.contacts || [];
      if (held.length) await take(held[held.length - 1], true);
    }
    loadHistory();
  }
  function showFigures(a) {
    $("figures").textContent = `Handled today: ${a.handled} · AHT ${clock(a.aht_secs)} · occupancy ${a.occupancy == null ? "–" : `${a.occupancy.toFixed(0)}%`}`;
  }

  const mineOnly = (n) => n.agent === agent;
  follow({
    "agent.state": (n) => { if (mineOnly(n)) { view.changes += 1; skew = n.at_ms - Date.now(); showState(n.data.state); renderOffers(); } },
    "contact.offered": (n) => { if (mineOnly(n)) { skew = n.at_ms - Date.now(); showOffer(n.contact, n.data, n.at_ms); } },
    "contact.offer_ended": (n) => { if (mineOnly(n)) endOffer(n.contact); },
    "contact.connected": (n) => { if (mineOnly(n)) { endOffer(n.contact); take(n.contact, false, n.at_ms); } },
    "contact.message": (n) => {
      const cur = view.current;
      if (cur && cur.contact.id === n.contact) {
        const l = { at_ms: n.at_ms, from: n.data.from, text: n.data.text };
        cur.contact.transcript = [...(cur.contact.transcript || []), l];
        const t = $("transcript");
        if (t) { t.append(line(l)); t.scrollTop = t.scrollHeight; }
      }
    },
    "contact.hold": (n) => {
      const cur = view.current;
      if (cur && cur.contact.id === n.contact) { cur.held = n.data.held; renderCurrent(); }
    },
    "contact.ended": (n) => {
      endOffer(n.contact);
      const cur = view.current;
      if (cur && cur.contact.id === n.contact) {
        cur.ended_ms = n.at_ms;
        notify(`Contact ${n.contact} ended (${n.data.reason}). Wrap it up.`);
        take(n.contact).then(() => { if (view.current) view.current.ended_ms = n.at_ms; });
      }
    },
    "contact.transferred": (n) => {
      const cur = view.current;
      if (cur && cur.contact.id === n.contact && mineOnly(n)) {
        notify(`Contact ${n.contact} transferred to ${n.data.to}.`);
        view.current = null;
        renderCurrent();
        loadHistory();
      }
    },
    "contact.wrapped_up": (n) => { if (mineOnly(n)) loadHistory(); },
    // Notices were dropped for this page: read the state again.
    lagged: () => load(),
    kpis: (k) => {
      skew = k.at_ms - Date.now();
      const a = (k.agents || []).find((x) => x.agent === agent);
      if (a) showFigures(a);
    },
  }, (up) => {
    $("link").textContent = up ? "Live" : "Reconnecting…";
    if (up) load();
  });
}
