// What every browser test shares: a real `switchboard demo` on free ports with a fresh
// data directory, Debian's Chromium driven by playwright-core, sign-in, API calls as an
// integration would make them, screenshots, a check that no page logged an error, and the
// end of the server's log printed when a test fails.
//
// The binary is `SWITCHBOARD_BIN` (set by `cargo xtask test`), else target/debug/switchboard.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { before, after, test as nodeTest } from "node:test";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
export const screenshots = process.env.SWITCHBOARD_SCREENSHOTS || join(here, "screenshots");

/** The demo server started last in this file's process (its log is shown on a failure). */
let current = null;

/**
 * `node:test`'s `test`, but a test that fails prints the end of the demo server's log
 * first, so that a failure seen only in CI can be read.
 */
export function test(name, fn) {
  return nodeTest(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const tail = (current?.log() ?? "").split("\n").slice(-200).join("\n");
      process.stderr.write(`\n--- the end of switchboard demo's log when "${name}" failed:\n${tail}\n---\n`);
      throw e;
    }
  });
}

/** Starts the demo server; resolves when it prints its address. */
export async function startServer() {
  const bin = process.env.SWITCHBOARD_BIN || join(root, "target", "debug", "switchboard");
  const data = mkdtempSync(join(tmpdir(), "switchboard-browser-"));
  const child = spawn(bin, ["demo", "--http", "127.0.0.1:0", "--sip", "127.0.0.1:0", "--data", data], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => { log += d; });
  const [url, sip] = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      log += d;
      const http = out.match(/on (http:\/\/127\.0\.0\.1:\d+)/);
      const sip = out.match(/sip:support@(127\.0\.0\.1:\d+)/);
      if (http && sip) resolve([http[1], sip[1]]);
    });
    child.on("exit", (code) => reject(new Error(`switchboard demo exited (${code}):\n${log}`)));
    child.on("error", reject);
  });
  current = {
    url,
    /** The SIP address (host:port). */
    sip,
    log: () => log,
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(data, { recursive: true, force: true });
    },
  };
  return current;
}

/**
 * For a test file: a demo server and a browser started before its tests and stopped
 * after them; `env.server` and `env.browser` once started.
 */
export function demoAndBrowser() {
  const env = {};
  before(async () => {
    env.server = await startServer();
    env.browser = await launch();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

/** Debian's Chromium, headless, with a fresh profile. */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * A page in a context of its own (its own local storage, so its own session) that
 * records console errors and uncaught exceptions; `errors()` returns them.
 */
export async function newPage(browser, { width = 1366, height = 768, bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, bypassCSP });
  const page = await context.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => errors.push(`exception: ${e.message}`));
  page.errors = () => errors.filter((e) => !expectedError(e));
  return page;
}

// A refused request (e.g. a 409 from a late click) is logged by Chromium as a failed
// resource; the page shows the API's message itself, so only script errors count.
function expectedError(e) {
  return /Failed to load resource: the server responded with a status of (4\d\d)/.test(e);
}

/** Signs in through the sign-in page and waits for the screen it leads to. */
export async function signIn(page, url, name, password, next = "") {
  await page.goto(`${url}/${next ? `?next=${encodeURIComponent(next)}` : ""}`);
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname !== "/");
}

/** One API request with a bearer token (if any); the JSON answer, or an error. */
async function request(url, method, path, body, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** An API client as an integration uses it: `const sam = await client(url, "sam", "demo")`. */
export async function client(url, name, password) {
  const session = name ? await request(url, "POST", "/auth/login", { name, password }) : null;
  return (method, path, body) => request(url, method, path, body, session && session.token);
}

/**
 * A customer's chat to `to` from `from`, as the chat channel starts it: its `contact` id
 * and `status`, and `as(method, path, body)` to call the API with the chat's own token.
 */
export async function startChat(url, to, from) {
  const chat = await request(url, "POST", "/chat", { to, from });
  return { ...chat, as: (method, path, body) => request(url, method, path, body, chat.token) };
}

/**
 * A free UDP port below the kernel's ephemeral range (32768 and up), so that no outgoing
 * connection takes it before the peer binds it.
 */
export async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise((resolve) => {
      const s = createSocket("udp4");
      s.once("error", () => resolve(false));
      s.bind(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

/**
 * Runs SIPp with a scenario of the repository (`path` from the root), its `[name]`s
 * filled from `keys`; `args` are SIPp's own (the remote address, -s, -inf…). Resolves
 * with SIPp's exit code and its error log.
 */
export function sipp(path, keys, args) {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-sipp-"));
  let text = readFileSync(join(root, path), "utf8");
  for (const [k, v] of Object.entries(keys)) text = text.replaceAll(`[${k}]`, v);
  const file = join(dir, path.split("/").pop());
  writeFileSync(file, text);
  const child = spawn("sipp", ["-sf", file, "-m", "1", "-l", "1", "-nostdin", "-i", "127.0.0.1", "-mi", "127.0.0.1",
    "-timeout", "60s", "-timeout_error", "-trace_err", ...args], { cwd: dir, stdio: "ignore" });
  const done = new Promise((resolve) => child.on("exit", (code) => {
    let errors = "";
    try {
      errors = readFileSync(join(dir, `${file.split("/").pop().replace(".xml", "")}_${child.pid}_errors.log`), "utf8");
    } catch {
      // No error log: no error.
    }
    rmSync(dir, { recursive: true, force: true });
    resolve({ code, errors });
  }));
  return { done, dir, stop: () => child.kill("SIGTERM") };
}

/**
 * The WCAG 2 A and AA rules axe-core finds broken on the page as it is now, as readable
 * lines (empty: none). The page must come from `newPage(…, { bypassCSP: true })`, since
 * axe is injected as a script.
 */
export async function accessibilityProblems(page) {
  await page.addScriptTag({ path: join(here, "node_modules", "axe-core", "axe.min.js") });
  const result = await page.evaluate(() => globalThis.axe.run(document, { runOnly: ["wcag2a", "wcag2aa"] }));
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** Saves a screenshot of the page as `screenshots/NAME.png`. */
export async function shoot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}
