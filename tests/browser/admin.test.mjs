// The admin in Chromium: a supervisor writes a broken flow and sees the error at its line,
// fixes it, sees its diagram, dry-runs it, publishes two versions and rolls back; works
// out staffing with the Erlang calculator and a what-if simulation; an admin adds a user
// who then signs in.

import assert from "node:assert/strict";
import { test, demoAndBrowser, newPage, signIn, client, startChat, shoot } from "./harness.mjs";

const env = demoAndBrowser();

const BROKEN = `id: greeting
version: 1
start: welcome
nodes:
  welcome:
    say: "Thank you for calling Acme."
    next: menu
  menu:
    menu:
      prompt: "For sales, press 1. For support, press 2."
      options:
        - { key: "1", label: sales, next: sales }
        - { key: "2", label: support, next: support }
  sales:
    enqueue:
      queue: sales
  support:
    enqueue:
      queue: suport-typo
`;

test("a supervisor fixes, diagrams, dry-runs, publishes and rolls back a flow", async () => {
  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "sam", "demo", "/admin");
  assert.equal(new URL(page.url()).pathname, "/admin");
  await page.getByRole("button", { name: "Flows" }).waitFor();

  // A new flow with a queue that does not exist: the error shows at its line.
  await page.getByLabel("Flow", { exact: true }).selectOption("");
  const editor = page.getByLabel("Flow YAML");
  await editor.fill(BROKEN);
  await page.getByRole("button", { name: "Check" }).click();
  const problems = page.getByRole("list", { name: "Problems" });
  await problems.waitFor();
  const text = await problems.innerText();
  assert.match(text, /error at line 17/, text);
  assert.match(text, /suport-typo/, text);
  await page.locator('.gutter [data-line="17"].marked.error').waitFor();
  await shoot(page, "admin-flow-error");

  // Clicking the problem puts the cursor on its line.
  await problems.getByRole("button").first().click();
  const caretLine = await editor.evaluate((t) => t.value.slice(0, t.selectionStart).split("\n").length);
  assert.equal(caretLine, 17);

  // Fixed: no problems, and the diagram shows every node and the menu's choices.
  await editor.fill(BROKEN.replace("suport-typo", "support"));
  await page.getByRole("button", { name: "Check" }).click();
  await page.locator("#flow-ok").waitFor();
  for (const node of ["welcome", "menu", "sales", "support"]) {
    await page.locator(`svg.diagram g.node[data-node="${node}"]`).waitFor();
  }
  const labels = await page.locator("svg.diagram .edge-label").allTextContents();
  assert.ok(labels.some((l) => l.includes("1")) && labels.some((l) => l.includes("2")), `menu keys on the paths: ${labels}`);

  // Dry run: the caller presses 2 and lands in the support queue.
  await page.getByLabel("Key presses").fill("2");
  await page.getByRole("button", { name: "Run" }).click();
  const outcome = page.locator("#dry-outcome");
  await outcome.waitFor();
  assert.match(await outcome.innerText(), /support/);
  const transcript = await page.getByRole("list", { name: "Transcript" }).innerText();
  assert.match(transcript, /Thank you for calling Acme/);
  // The route taken is marked on the diagram; the node not visited is not.
  await page.locator('svg.diagram g.node.visited[data-node="support"]').waitFor();
  assert.equal(await page.locator('svg.diagram g.node.visited[data-node="sales"]').count(), 0);
  await shoot(page, "admin-flow-diagram");

  // Publish version 1, then version 2, then roll back to 1.
  await page.getByRole("button", { name: "Publish" }).click();
  await page.getByText("Published greeting version 1.").waitFor();
  await editor.fill(BROKEN.replace("suport-typo", "support").replace("Thank you for calling Acme.", "Welcome to Acme."));
  await page.getByRole("button", { name: "Publish" }).click();
  await page.getByText("Published greeting version 2.").waitFor();
  await page.getByRole("button", { name: "Make v1 active" }).click();
  await page.getByText("greeting version 1 is active.").waitFor();
  const sam = await client(env.server.url, "sam", "demo");
  const versions = await sam("GET", "/flows/greeting/versions");
  assert.deepEqual(versions.map((v) => [v.version, v.active]).sort(), [[1, true], [2, false]]);
  assert.match(await editor.inputValue(), /Thank you for calling Acme/, "the editor shows the active version");
  await shoot(page, "admin-flow-versions");

  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("staffing: the Erlang calculator and a what-if simulation", async () => {
  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "sam", "demo", "/admin#staffing");
  await page.getByRole("button", { name: "Calculate" }).click();
  // 360 calls/h × 240 s at 80/20: 29 agents (Erlang C).
  await page.locator("#agents-needed", { hasText: "29 agents needed" }).waitFor();
  const row28 = page.locator("#erlang-result tr", { has: page.locator("td", { hasText: /^28$/ }) });
  assert.match(await row28.innerText(), /33\.3%/, "P(wait) at 28 agents is .3331");
  await page.getByLabel("Calls per replication").fill("5000");
  await page.getByRole("button", { name: "Simulate" }).click();
  await page.locator("#sim-figures").waitFor();
  assert.match(await page.locator("#sim-figures").innerText(), /P\(wait\)\s+\d+\.\d% ± \d+\.\d%/);
  await shoot(page, "admin-staffing");
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("an admin adds a supervisor who can then sign in", async () => {
  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "admin", "admin", "/admin#users");
  await page.getByLabel("User name").fill("zoe");
  await page.getByLabel("Role").selectOption("supervisor");
  await page.getByLabel("Password").fill("correct horse");
  await page.getByRole("button", { name: "Save user" }).click();
  await page.getByRole("button", { name: "Edit zoe" }).waitFor();
  await shoot(page, "admin-users");
  assert.deepEqual(page.errors(), []);
  await page.context().close();

  const zoe = await client(env.server.url, "zoe", "correct horse");
  const me = await zoe("GET", "/me");
  assert.equal(me.role, "supervisor");
});

test("an admin edits a queue and adds an agent through forms", async () => {
  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "admin", "admin", "/admin#queues");
  await page.getByRole("button", { name: "Edit billing" }).click();
  const queue = page.getByRole("form", { name: "Queue billing" });
  await queue.getByLabel("Strategy").selectOption("best-skill");
  await queue.getByLabel("Ring timeout (s)").fill("25");
  await queue.getByLabel("Wrap-up (s; empty: manual)").fill("");
  await queue.getByRole("button", { name: "Save" }).click();
  await page.getByText("Queue billing: saved.").waitFor();
  const admin = await client(env.server.url, "admin", "admin");
  const billing = (await admin("GET", "/queues")).find((q) => q.name === "billing");
  assert.equal(billing.config.strategy, "best-skill");
  assert.equal(billing.config.ring_timeout_secs, 25);
  assert.equal(billing.config.wrap_up_secs, null);

  await page.getByRole("button", { name: "Agents and skills" }).click();
  await page.getByRole("button", { name: "Add an agent" }).click();
  const agent = page.getByRole("form", { name: "New agent" });
  await agent.getByLabel("Login").fill("fay");
  await agent.getByLabel("Name").fill("Fay Okafor");
  // A level that is not a number: the form says so and nothing is saved.
  await agent.getByLabel("Skills and levels").fill("devices high");
  await agent.getByRole("button", { name: "Save" }).click();
  await agent.getByRole("alert").getByText("Skills: write “name level, …”").waitFor();
  await agent.getByLabel("Skills and levels").fill("devices 3, network 2");
  await agent.getByLabel("Languages").fill("en, de");
  await agent.getByLabel("Queues and tiers").fill("support 1, billing 2");
  await agent.getByRole("button", { name: "Save" }).click();
  await page.getByText("New agent: saved.").waitFor();
  await page.getByRole("button", { name: "Edit fay" }).waitFor();
  const fay = (await admin("GET", "/agents")).find((a) => a.login === "fay");
  assert.deepEqual(fay.config.skills, { devices: 3, network: 2 });
  assert.deepEqual(fay.config.languages, ["en", "de"]);
  assert.deepEqual(fay.config.queues, { billing: 2, support: 1 });
  await shoot(page, "admin-agents");
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("an admin adds a wrap-up code, points a number at a flow and fixes a calendar", async () => {
  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "admin", "admin", "/admin#wrapup");
  await page.getByLabel("Code").fill("escalated-tier2");
  await page.getByLabel("Label").fill("Escalated to tier 2");
  await page.getByRole("button", { name: "Add or rename" }).click();
  await page.getByRole("cell", { name: "Escalated to tier 2" }).waitFor();

  await page.getByRole("button", { name: "Numbers" }).click();
  await page.getByLabel("Number or address").fill("2000");
  await page.getByLabel("Flow", { exact: true }).selectOption("billing");
  await page.getByRole("button", { name: "Point it at the flow" }).click();
  await page.getByRole("row", { name: "2000 billing" }).waitFor();

  // A calendar in a time zone that does not exist: refused with the line; fixed: saved.
  await page.getByRole("button", { name: "Calendars" }).click();
  const yaml = page.getByLabel("Calendar YAML");
  const source = await yaml.inputValue();
  await yaml.fill(source.replace("Europe/London", "Europe/Atlantis"));
  await page.getByRole("button", { name: "Save calendar" }).click();
  await page.locator(".diag.error", { hasText: "Atlantis" }).waitFor();
  await yaml.fill(source.replace('sat: "09:00-13:00"', 'sat: "09:00-14:00"'));
  await page.getByRole("button", { name: "Save calendar" }).click();
  await page.getByText("Saved; flows that use it apply it now.").waitFor();

  const admin = await client(env.server.url, "admin", "admin");
  assert.equal((await admin("GET", "/wrapup-codes"))["escalated-tier2"], "Escalated to tier 2");
  assert.equal((await admin("GET", "/numbers"))["2000"], "billing");
  const uk = (await admin("GET", "/calendars")).find((c) => c.name === "uk");
  assert.match(uk.source, /sat: "09:00-14:00"/);
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("a supervisor reads the interval report and the summary, and downloads the CSV", async () => {
  // One chat handled by Bob through the API, as his desktop would.
  const bob = await client(env.server.url, "bob", "demo");
  await bob("POST", "/agents/bob/state", { state: "available" });
  const chat = await startChat(env.server.url, "support", "+441632960002");
  await chat.as("POST", `/chat/${chat.contact}/messages`, { text: "0" });
  // Bob, the only agent available, is offered it before the chat's answer comes back.
  await bob("POST", `/agents/bob/offers/${chat.contact}/accept`);
  await bob("POST", `/contacts/${chat.contact}/end`);
  await bob("POST", `/contacts/${chat.contact}/wrapup`, { code: "resolved", resolved: true });

  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "sam", "demo", "/admin#reports");
  await page.getByLabel("Per", { exact: true }).selectOption("agent");
  await page.getByRole("button", { name: "Show" }).click();
  const row = page.locator("#r-rows tbody tr", { hasText: "bob" });
  await row.waitFor();
  const cells = await row.locator("td").allTextContents();
  assert.equal(cells[1], "bob");
  assert.ok(Number(cells[3]) >= 1, `answered: ${cells}`);
  await page.locator("#r-summary").getByText("First-contact resolution").waitFor();

  const [file] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  assert.equal(file.suggestedFilename(), "switchboard-agent-report.csv");
  const csv = await new Promise((resolve, reject) => {
    file.createReadStream().then((s) => {
      let text = "";
      s.on("data", (d) => { text += d; });
      s.on("end", () => resolve(text));
      s.on("error", reject);
    }, reject);
  });
  assert.match(csv.split("\n")[0], /^start_ms,key,offered,answered/);
  assert.ok(csv.split("\n").some((l) => l.includes(",bob,")), csv);
  await shoot(page, "admin-reports");
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});
