// Shared by every screen: the session, API calls, the live event stream, the top bar and
// small DOM and formatting helpers. Plain ES module; no framework, no build step.

const KEY = "switchboard.session";

/** The signed-in session ({token, name, role, agent}) or null. */
export function session() {
  try {
    return JSON.parse(localStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function saveSession(s) {
  localStorage.setItem(KEY, JSON.stringify(s));
}

export function forgetSession() {
  localStorage.removeItem(KEY);
}

/** An API error: `code` and `message` as the server sent them, `details` if any. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "http";
    this.details = e.details || null;
  }
}

/**
 * Calls the API: `api("POST", "/agents/alice/state", {state: "available"})`.
 * A string body is sent as text (flow YAML); objects as JSON. Resolves to the parsed
 * JSON (or text, or null for 204); rejects with an ApiError. A 401 sends the browser
 * back to the sign-in page.
 */
export async function api(method, path, body, { raw = false } = {}) {
  const s = session();
  const headers = {};
  if (s) headers.authorization = `Bearer ${s.token}`;
  let payload;
  if (typeof body === "string") {
    headers["content-type"] = "text/plain; charset=utf-8";
    payload = body;
  } else if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const res = await fetch(`/api/v1${path}`, { method, headers, body: payload });
  if (res.status === 401 && !path.startsWith("/auth/")) {
    forgetSession();
    toLogin();
    throw new ApiError(401, await res.json().catch(() => null));
  }
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  if (res.status === 204) return null;
  if (raw) return res.text();
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/?next=${encodeURIComponent(next)}`);
}

/**
 * The page's start: checks the session with `/me`, draws the top bar and returns the
 * session. Sends the browser to sign in first when there is none. When `roles` is given
 * and the user's role is not in it, shows why and returns null.
 */
export async function start(title, roles) {
  if (!session()) {
    toLogin();
    return null;
  }
  const me = await api("GET", "/me");
  const s = { ...session(), ...me };
  topBar(title, s);
  if (roles && !roles.includes(s.role)) {
    const main = document.querySelector("main");
    main.replaceChildren(
      el("section", { class: "panel refused", role: "alert" },
        el("h2", {}, "Not for your role"),
        el("p", {}, `The ${title.toLowerCase()} is for ${roles.join(" and ")} users; you are signed in as ${s.name} (${s.role}).`),
        el("p", {}, el("a", { href: home(s) }, "Go to your screen"))),
    );
    return null;
  }
  return s;
}

/** The screen a role starts on. */
export function home(s) {
  return s.role === "agent" ? "/desktop" : "/wallboard";
}

function topBar(title, s) {
  document.title = `${title} · Switchboard`;
  const links = [["/desktop", "Desktop", s.agent != null]];
  links.push(["/wallboard", "Wallboard", s.role !== "agent"]);
  links.push(["/admin", "Admin", s.role !== "agent"]);
  const nav = el("nav", { "aria-label": "Screens" },
    ...links.filter(([, , shown]) => shown).map(([href, label]) =>
      el("a", { href, "aria-current": location.pathname === href ? "page" : null }, label)));
  const logout = el("button", { type: "button", class: "ghost", id: "logout" }, "Sign out");
  logout.addEventListener("click", async () => {
    try {
      await api("POST", "/auth/logout");
    } finally {
      forgetSession();
      location.assign("/");
    }
  });
  const header = el("header", { class: "top" },
    el("a", { class: "brand", href: home(s) }, el("img", { src: "/web/favicon.svg", alt: "" }), "Switchboard"),
    el("h1", {}, title),
    nav,
    el("span", { class: "who" }, `${s.name} · ${s.role}`),
    logout);
  document.body.prepend(header);
}

/**
 * Follows the live event stream: `handlers` maps event names (`agent.state`, `kpis`,
 * `contact.offered`, …) to functions of the parsed data (`lagged`: of the number of
 * notices missed). Reconnects by itself (EventSource does); `onStatus(true|false)`
 * reports the link.
 */
export function follow(handlers, onStatus = () => {}) {
  const s = session();
  const src = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(s.token)}`);
  for (const [name, handle] of Object.entries(handlers)) {
    src.addEventListener(name, (e) => handle(name === "lagged" ? Number(e.data) : JSON.parse(e.data)));
  }
  src.addEventListener("open", () => onStatus(true));
  src.addEventListener("error", () => onStatus(false));
  return src;
}

/**
 * Creates an element: `el("button", {class: "primary", onclick: f}, "Accept")`.
 * Children are nodes or text (never parsed as HTML); null/false children and attributes
 * are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** Seconds as `m:ss` or `h:mm:ss`. */
export function clock(secs) {
  if (secs == null || !isFinite(secs)) return "–";
  const s = Math.max(0, Math.floor(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A ratio (0..1) as a percentage, or – when there is none. */
export function percent(r, digits = 0) {
  return r == null ? "–" : `${(r * 100).toFixed(digits)}%`;
}

/** Seconds with one decimal, or –. */
export function secs(v) {
  return v == null ? "–" : `${v.toFixed(v < 10 ? 1 : 0)} s`;
}

/** A time of day from epoch milliseconds. */
export function timeOf(ms) {
  return ms == null ? "–" : new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** A date and time from epoch milliseconds. */
export function dateTimeOf(ms) {
  return ms == null ? "–" : new Date(ms).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

/** Shows a message in the page's status line (`role="status"`, read by screen readers). */
export function notify(text, kind = "info") {
  let box = document.getElementById("toast");
  if (!box) {
    box = el("div", { id: "toast", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = el("div", { class: `toast ${kind}` }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** Runs `f`, showing an ApiError's message instead of throwing it. */
export async function attempt(f) {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return undefined;
    notify(e.message, "error");
    return undefined;
  }
}

/** A ticking clock: calls `f()` every second, returns a function that stops it. */
export function every(ms, f) {
  const id = setInterval(f, ms);
  return () => clearInterval(id);
}
