// The supervisor wallboard in Chromium: Sam watches while Alice, driven through the API
// as her desktop would, becomes available, is offered a chat, takes it, ends it and wraps
// it up; every step shows live (no reload), the queue's figures move, the contact lands in
// recent contacts and the charts. Alerts follow a queue nobody serves and an agent away
// past the threshold Sam sets on the page; a chat offers no monitoring; big-screen mode
// toggles. On a real call (SIPp as caller and as Alice's and Sam's desk phones) Sam
// listens, then whispers, then stops. A wallboard opened as a contact is answered shows it
// answered even when the store trails the live figures. Also: an agent is refused the
// wallboard.

import assert from "node:assert/strict";
import { test, demoAndBrowser, newPage, signIn, client, startChat, shoot, freePort, sipp } from "./harness.mjs";

const env = demoAndBrowser();

/** The text of cell `i` (0 is the row's heading) of the row `selector`, once it exists. */
function cell(page, selector, i) {
  return page.locator(selector).evaluate((row, i) => row.cells[i].textContent.trim(), i);
}

/** Waits until contact `id`'s time on the call runs (`m:ss`, not "offered"). */
function timeRuns(page, id) {
  return page.waitForFunction((id) => /^\d+:\d\d$/.test(document.querySelector(`[data-contact-time="${id}"]`)?.textContent || ""), id);
}

/** Waits until cell `i` of row `selector` reads `text`. */
function cellReads(page, selector, i, text) {
  return page.waitForFunction(([selector, i, text]) => {
    const row = document.querySelector(selector);
    return row && row.cells[i].textContent.trim() === text;
  }, [selector, i, text]);
}

test("a supervisor follows a contact, the queues and alerts live on the wallboard", async () => {
  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "sam", "demo", "/wallboard");
  assert.equal(new URL(page.url()).pathname, "/wallboard");
  await page.getByText("sam · supervisor").waitFor();
  // Connected to the event stream before anything happens.
  await page.locator("#link", { hasText: "Live" }).waitFor();
  const aliceRow = page.locator('#agents tr[data-agent="alice"]');
  await aliceRow.getByText("Alice Martin").waitFor();
  await aliceRow.locator(".badge.offline").waitFor();
  const support = '#queues tr[data-queue="support"]';
  const answered = Number(await cell(page, support, 5));
  await page.getByText("No alerts.").waitFor();

  // Alice becomes available: shown live.
  const alice = await client(env.server.url, "alice", "demo");
  await alice("POST", "/agents/alice/state", { state: "available" });
  await aliceRow.locator(".badge.available", { hasText: "available" }).waitFor();
  await page.locator('[data-tile="available"] .value', { hasText: "1" }).waitFor();

  // A customer chats in and asks for an agent: Alice is reserved for it.
  const chat = await startChat(env.server.url, "support", "+441632960001");
  await chat.as("POST", `/chat/${chat.contact}/messages`, { text: "0" });
  await aliceRow.locator(".badge.reserved").waitFor();

  // She accepts: busy with the contact, whose time runs on the board.
  await alice("POST", `/agents/alice/offers/${chat.contact}/accept`);
  await aliceRow.locator(".badge.busy").waitFor();
  const chip = aliceRow.locator(`.wb-contact[data-contact="${chat.contact}"]`);
  await chip.getByText(`#${chat.contact}`).waitFor();
  await chip.getByText("chat · support").waitFor();
  await timeRuns(page, chat.contact);
  // A chat cannot be listened to: no monitoring buttons on it.
  assert.equal(await chip.getByRole("button").count(), 0, "no listen/whisper/barge on a chat");
  assert.equal(await page.getByRole("button", { name: /^(Listen|Whisper|Barge) to contact/ }).count(), 0);
  // The queue counts the answer.
  await cellReads(page, support, 5, String(answered + 1));
  await page.locator('[data-tile="busy"] .value', { hasText: "1" }).waitFor();

  // She ends and wraps up: handled 1, and the contact is in recent contacts.
  await alice("POST", `/contacts/${chat.contact}/end`);
  await aliceRow.locator(".badge.wrap_up").waitFor();
  await alice("POST", `/contacts/${chat.contact}/wrapup`, { code: "resolved", resolved: true });
  await aliceRow.locator(".badge.available").waitFor();
  await cellReads(page, '#agents tr[data-agent="alice"]', 4, "1");
  assert.equal(await aliceRow.locator(".wb-contact").count(), 0, "no contact in hand");
  const recent = page.locator(`#recent tr[data-contact="${chat.contact}"]`);
  await recent.getByText("resolved ✓").waitFor();
  await recent.getByText("handled").waitFor();
  assert.equal(await recent.locator("td").nth(5).textContent(), "Alice Martin");
  assert.equal(await recent.locator(".wb-recording").textContent(), "–", "a chat has no recording");

  // The charts were redrawn when the contact ended, with text for those who cannot see them.
  const volume = page.getByRole("img", { name: /^Service level and volume/ });
  await volume.waitFor();
  await page.locator("#chart-intervals figcaption", { hasText: /\d+ contacts? offered since 00:00 UTC/ }).waitFor();
  await page.locator("#chart-intervals details").getByText("Data table").click();
  await page.locator("#chart-intervals table tbody tr").first().waitFor();
  await page.locator("#chart-waits figcaption", { hasText: /\d+ answered today/ }).waitFor();
  await page.locator("#chart-funnel figcaption", { hasText: /contacts? today: .*queued/ }).waitFor();
  const funnel = page.getByRole("img", { name: /^IVR path · tech-support/ });
  await funnel.locator("text", { hasText: "main-menu" }).waitFor();

  // Alerts: a queue with someone waiting and nobody available…
  await page.getByText("No alerts.").waitFor();
  const waiting = await startChat(env.server.url, "billing", "+441632960001");
  assert.equal(waiting.status, "queued");
  const alerts = page.getByRole("alert");
  await alerts.getByText("billing: 1 waiting and no agent available").waitFor();
  await page.locator('#queues tr[data-queue="billing"].alerting').waitFor();
  await page.locator('[data-tile="waiting"] .value', { hasText: "1" }).waitFor();
  assert.ok(await page.getByText("No alerts.").isHidden());
  // …and an agent away longer than the threshold Sam sets (0 minutes: at once).
  await page.getByLabel("away longer than").fill("0");
  const bob = await client(env.server.url, "bob", "demo");
  await bob("POST", "/agents/bob/state", { state: "away", reason: "lunch" });
  await alerts.getByText("Bob Osei: away · lunch for more than 0 min").waitFor();
  await page.locator('#agents tr[data-agent="bob"].alerting').waitFor();
  // Raising it again clears that alert (the billing one stays).
  await page.getByLabel("away longer than").fill("15");
  await alerts.getByText("Bob Osei").waitFor({ state: "detached" });
  await alerts.getByText("billing: 1 waiting").waitFor();
  await page.getByLabel("away longer than").fill("0");
  await alerts.getByText("Bob Osei: away · lunch").waitFor();
  await shoot(page, "wallboard");

  // Big screen: dark, large, secondary panels hidden; and back.
  await page.setViewportSize({ width: 1920, height: 1080 });
  const toggle = page.getByRole("button", { name: "Big screen" });
  await toggle.click();
  await page.locator("body.wall").waitFor();
  assert.equal(await toggle.getAttribute("aria-pressed"), "true");
  assert.equal(new URL(page.url()).searchParams.get("wall"), "1");
  await page.locator("#recent").waitFor({ state: "hidden" });
  await page.locator("#chart-intervals").waitFor({ state: "hidden" });
  await page.locator("#queues").waitFor({ state: "visible" });
  await alerts.getByText("billing: 1 waiting and no agent available").waitFor();
  await shoot(page, "wallboard-wall");
  await toggle.click();
  await page.locator("body:not(.wall)").waitFor();
  assert.equal(await toggle.getAttribute("aria-pressed"), "false");
  await page.locator("#recent").waitFor({ state: "visible" });

  // `?wall=1` opens in big-screen mode.
  await page.goto(`${env.server.url}/wallboard?wall=1`);
  await page.locator("body.wall").waitFor();
  await page.locator('#agents tr[data-agent="alice"] .badge.available').waitFor();
  assert.equal(await page.getByRole("button", { name: "Big screen" }).getAttribute("aria-pressed"), "true");

  // The customer waiting in billing leaves: the alert goes.
  await waiting.as("DELETE", `/chat/${waiting.contact}`);
  await page.getByRole("alert").getByText("billing: 1 waiting").waitFor({ state: "detached" });

  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("the wallboard is keyboard-usable and works at 1366×768", async () => {
  const page = await newPage(env.browser, { width: 1366, height: 768 });
  await signIn(page, env.server.url, "sam", "demo", "/wallboard");
  await page.locator("#link", { hasText: "Live" }).waitFor();
  // Tab reaches the big-screen button; Enter toggles it; focus stays on it, visibly.
  const toggle = page.getByRole("button", { name: "Big screen" });
  await toggle.focus();
  await page.keyboard.press("Enter");
  await page.locator("body.wall").waitFor();
  assert.ok(await toggle.evaluate((b) => b === document.activeElement && b.matches(":focus-visible")));
  await page.keyboard.press("Enter");
  await page.locator("body:not(.wall)").waitFor();
  // Nothing is wider than the window.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 1366 px (${overflow} px over)`);
  // The thresholds and chart choices have labels.
  await page.getByLabel("Alert on a contact longer than").waitFor();
  await page.getByLabel("Queue", { exact: true }).selectOption("support");
  await page.getByRole("img", { name: "Service level and volume · support" }).waitFor();
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("an agent opening the wallboard sees that it is not for their role", async () => {
  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "alice", "demo");
  await page.goto(`${env.server.url}/wallboard`);
  await page.getByRole("alert").getByText("Not for your role").waitFor();
  assert.equal(await page.locator("#queues").count(), 0, "no figures shown");
  assert.equal(await page.getByRole("link", { name: "Wallboard" }).count(), 0, "no wallboard link for agents");
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("a wallboard opened as a contact is answered shows it answered, though the store trails", async () => {
  // A second wallboard, live, tells when the offer and the answer have happened.
  const watcher = await newPage(env.browser);
  await signIn(watcher, env.server.url, "sam", "demo", "/wallboard");
  await watcher.locator("#link", { hasText: "Live" }).waitFor();
  const alice = await client(env.server.url, "alice", "demo");
  await alice("POST", "/agents/alice/state", { state: "available" });
  const chat = await startChat(env.server.url, "support", "+441632960002");
  await chat.as("POST", `/chat/${chat.contact}/messages`, { text: "0" });
  await watcher.locator('#agents tr[data-agent="alice"] .badge.reserved').waitFor();
  await alice("POST", `/agents/alice/offers/${chat.contact}/accept`);
  await timeRuns(watcher, chat.contact);

  // This wallboard opens after the answer, so it learns of the contact from the live
  // figures and asks the contacts API about it; the first answer it gets is the store's
  // from before the answer was written (as when the store trails the live figures).
  const page = await newPage(env.browser);
  let asked = 0;
  await page.route(`**/api/v1/contacts/${chat.contact}`, async (route) => {
    asked += 1;
    const response = await route.fetch();
    const contact = await response.json();
    if (asked === 1) contact.answered_ms = null;
    await route.fulfill({ response, json: contact });
  });
  await signIn(page, env.server.url, "sam", "demo", "/wallboard");
  const chip = page.locator(`#agents tr[data-agent="alice"] .wb-contact[data-contact="${chat.contact}"]`);
  await chip.getByText("chat · support").waitFor();
  // It asks again, and shows the time on the contact rather than "offered".
  await timeRuns(page, chat.contact);
  assert.ok(asked >= 2, `the contact was asked about again (${asked} times)`);

  await alice("POST", `/contacts/${chat.contact}/end`);
  await alice("POST", `/contacts/${chat.contact}/wrapup`, { code: "resolved", resolved: true });
  assert.deepEqual(page.errors(), []);
  assert.deepEqual(watcher.errors(), []);
  await page.context().close();
  await watcher.context().close();
});

test("a supervisor listens to a live call, whispers, and plays its recording back from the wallboard", async () => {
  // Desk phones for Alice and for Sam (SIPp answering at once), and a caller.
  const phone = async (user) => {
    const port = await freePort();
    const answering = sipp("xtask/sipp/agent.xml", {}, ["-p", String(port), "-mp", String(await freePort()), "-rtp_echo"]);
    const registered = await sipp("xtask/sipp/register.xml", { field0: user, field1: "phone", field2: `127.0.0.1:${port}` },
      [env.server.sip, "-p", String(await freePort())]).done;
    assert.equal(registered.code, 0, `${user}'s phone registers: ${registered.errors}`);
    return answering;
  };
  const alicePhone = await phone("alice");
  const samPhone = await phone("sam");
  const alice = await client(env.server.url, "alice", "demo");
  await alice("POST", "/agents/alice/state", { state: "available" }).catch(() => {});

  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "sam", "demo", "/wallboard");
  const caller = sipp("crates/server/tests/sipp/caller-hung-up-on.xml", { caller: "+441632960001", key: "3", stream: "" },
    [env.server.sip, "-s", "support", "-p", String(await freePort()), "-mp", String(await freePort())]);

  // The call shows on Alice's row with the monitoring buttons.
  const listen = page.getByRole("button", { name: /^Listen to contact \d+$/ });
  await listen.waitFor();
  const contact = Number((await listen.getAttribute("aria-label")).match(/\d+$/)[0]);
  await listen.click();
  const status = page.getByRole("group", { name: `Monitor contact ${contact}` }).locator("xpath=..").getByRole("status");
  await status.getByText("You are on the call: listen").waitFor();
  await page.getByRole("button", { name: `Whisper to contact ${contact}` }).click();
  await status.getByText("You are on the call: whisper").waitFor();
  await shoot(page, "wallboard-monitoring");
  await page.getByRole("button", { name: `Stop monitoring contact ${contact}` }).click();
  const stopped = await samPhone.done;
  assert.equal(stopped.code, 0, `Sam's phone was called and hung up: ${stopped.errors}`);

  // Alice ends the call: the caller and her phone finish cleanly.
  await alice("POST", `/contacts/${contact}/end`);
  const [called, rang] = await Promise.all([caller.done, alicePhone.done]);
  assert.equal(called.code, 0, `the caller: ${called.errors}`);
  assert.equal(rang.code, 0, `Alice's phone: ${rang.errors}`);
  await alice("POST", `/contacts/${contact}/wrapup`, { code: "information" });

  // The recorded call plays back from recent contacts (the WAV fetched with Sam's token).
  await page.getByRole("button", { name: `Play of the recording of contact ${contact}` }).click();
  const audio = page.locator(`audio[aria-label="Recording of contact ${contact}"]`);
  await audio.waitFor();
  await page.waitForFunction((a) => a.readyState >= 1 || a.error, await audio.elementHandle());
  const seconds = await audio.evaluate((a) => (a.error ? `error ${a.error.code}` : a.duration));
  assert.ok(seconds > 0.2, `a recording of the conversation: ${seconds} s`);
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});
