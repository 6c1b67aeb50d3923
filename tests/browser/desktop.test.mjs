// The agent desktop in Chromium: Alice signs in, becomes available, a chat started through
// the API reaches her with its screen pop, she accepts, talks, ends it, wraps it up with a
// code, and the contact shows in her history and in the store. A real call (SIPp as the
// caller and as Alice's desk phone) shows on the desktop, is held, resumed and hung up
// from it. Also: an agent cannot open the admin, and a wrong password is refused.

import assert from "node:assert/strict";
import { test, demoAndBrowser, newPage, signIn, client, startChat, shoot, freePort, sipp } from "./harness.mjs";

const env = demoAndBrowser();

test("an agent takes a chat from offer to wrap-up on the desktop", async () => {
  const page = await newPage(env.browser);
  // Not signed in: the desktop sends the browser to sign in, then back.
  await page.goto(`${env.server.url}/desktop`);
  await page.waitForURL(/\/\?next=%2Fdesktop/);
  await signIn(page, env.server.url, "alice", "demo", "/desktop");
  assert.equal(new URL(page.url()).pathname, "/desktop");
  await page.getByText("alice · agent").waitFor();

  await page.getByRole("button", { name: "Available" }).click();
  await page.locator("#state.available").waitFor();
  await shoot(page, "desktop-available");

  // A customer starts a chat and asks for an agent.
  const chat = await startChat(env.server.url, "support", "+441632960001");
  await chat.as("POST", `/chat/${chat.contact}/messages`, { text: "0" });

  // The offer arrives with the screen pop: who, why, history, articles.
  const offer = page.getByRole("article", { name: `Offer of contact ${chat.contact}` });
  await offer.waitFor();
  await offer.getByText("Chat from Ada Lovelace").waitFor();
  assert.match(await page.title(), /^\(1\) Offer/, "the tab's title shows the offer");
  const pop = page.locator("#customer");
  await pop.getByText("Ada Lovelace").waitFor();
  await pop.getByText("vip").waitFor();
  await pop.getByRole("list", { name: "IVR path" }).getByText("main-menu:0 agent").waitFor();
  assert.ok((await page.locator("#articles article").count()) > 0, "suggested articles shown");
  await shoot(page, "desktop-offer");

  await offer.getByRole("button", { name: "Accept" }).click();
  await page.locator("#contact-status", { hasText: "connected" }).waitFor();
  assert.equal(await offer.count(), 0, "the offer is gone once accepted");
  assert.equal(await page.title(), "Agent desktop · Switchboard");

  // The conversation, both ways.
  await chat.as("POST", `/chat/${chat.contact}/messages`, { text: "My router keeps dropping" });
  await page.locator("#transcript").getByText("My router keeps dropping").waitFor();
  await page.getByLabel("Reply").fill("Let us reset it together.");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator("#transcript .line.agent", { hasText: "Let us reset it together." }).waitFor();
  const seen = await chat.as("GET", `/chat/${chat.contact}`);
  assert.ok(seen.lines.some((l) => l.from === "agent" && l.text === "Let us reset it together."), "the customer got the reply");

  await page.getByLabel("Notes").fill("Router reset; line filter replaced.");
  await shoot(page, "desktop-conversation");
  await page.getByRole("button", { name: "End chat" }).click();

  // Wrap-up in a few clicks; the after-call work timer runs meanwhile.
  const wrap = page.getByRole("form", { name: "Wrap-up" });
  await wrap.waitFor();
  await page.locator("#state.wrap_up").waitFor();
  await wrap.getByLabel("Outcome").selectOption("resolved");
  await wrap.getByLabel("Resolved on this contact").check();
  // A follow-up callback tomorrow at 10:00 (local time), to Ada's phone.
  await wrap.getByLabel("Follow-up callback").check();
  const tomorrow = new Date(Date.now() + 86_400_000);
  tomorrow.setHours(10, 0, 0, 0);
  const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await wrap.getByLabel("When").fill(local);
  await wrap.getByLabel("Number").fill("+441632960001");
  await shoot(page, "desktop-wrap-up");
  await wrap.getByRole("button", { name: "Save wrap-up" }).click();
  await wrap.waitFor({ state: "detached" });

  // Saved to history: on the page and in the store.
  await page.locator(`#history tr[data-contact="${chat.contact}"]`, { hasText: "resolved" }).waitFor();
  const alice = await client(env.server.url, "alice", "demo");
  const stored = await alice("GET", `/contacts/${chat.contact}`);
  assert.equal(stored.wrapup_code, "resolved");
  assert.equal(stored.resolved, true);
  assert.equal(stored.notes, "Router reset; line filter replaced.");
  assert.equal(stored.agent, "alice");
  const sam = await client(env.server.url, "sam", "demo");
  const callbacks = await sam("GET", "/callbacks?status=pending");
  const promised = callbacks.find((cb) => cb.contact_id === chat.contact);
  assert.ok(promised, `a pending follow-up callback: ${JSON.stringify(callbacks)}`);
  assert.equal(promised.number, "+441632960001");
  assert.equal(promised.queue, "support");
  assert.equal(promised.due_ms, tomorrow.getTime());
  await shoot(page, "desktop-history");

  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("an agent cannot open the admin; a wrong password is refused", async () => {
  const page = await newPage(env.browser);
  await page.goto(`${env.server.url}/`);
  await page.getByLabel("User name").fill("alice");
  await page.getByLabel("Password").fill("wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").getByText("Wrong user name or password.").waitFor();
  assert.equal(new URL(page.url()).pathname, "/");

  await signIn(page, env.server.url, "alice", "demo");
  assert.equal(new URL(page.url()).pathname, "/desktop", "an agent starts on the desktop");
  await page.goto(`${env.server.url}/admin`);
  await page.getByRole("alert").getByText("Not for your role").waitFor();
  assert.equal(await page.getByRole("link", { name: "Admin" }).count(), 0, "no admin link for agents");
  await shoot(page, "admin-refused-for-agent");
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});

test("a call rings the agent's desk phone and is held, resumed and hung up from the desktop", async () => {
  // Alice's desk phone: SIPp answering at once and echoing the audio, registered with
  // the demo's phone password.
  const phonePort = await freePort();
  const phone = sipp("xtask/sipp/agent.xml", {}, ["-p", String(phonePort), "-mp", String(await freePort()), "-rtp_echo"]);
  const register = sipp("xtask/sipp/register.xml", { field0: "alice", field1: "phone", field2: `127.0.0.1:${phonePort}` },
    [env.server.sip, "-p", String(await freePort())]);
  const registered = await register.done;
  assert.equal(registered.code, 0, `the phone registers: ${registered.errors}`);

  const page = await newPage(env.browser);
  await signIn(page, env.server.url, "alice", "demo", "/desktop");
  if (!(await page.locator("#state.available").count())) {
    await page.getByRole("button", { name: "Available" }).click();
    await page.locator("#state.available").waitFor();
  }

  // Ada calls the support line and presses 3 (orders); the call reaches Alice's phone.
  const caller = sipp("crates/server/tests/sipp/caller-hung-up-on.xml", { caller: "+441632960001", key: "3", stream: "" },
    [env.server.sip, "-s", "support", "-p", String(await freePort()), "-mp", String(await freePort())]);
  const current = page.locator("#current");
  await current.getByText("· voice ·").waitFor();
  await page.locator("#contact-status", { hasText: "connected" }).waitFor();
  await page.locator("#customer").getByText("Ada Lovelace").waitFor();

  // Hold and resume: shown once the call confirms it.
  await page.getByRole("button", { name: "Hold" }).click();
  await page.locator("#contact-status", { hasText: "on hold" }).waitFor();
  await shoot(page, "desktop-call-on-hold");
  await page.getByRole("button", { name: "Resume" }).click();
  await page.locator("#contact-status", { hasText: "connected" }).waitFor();

  // Hung up from the desktop: both SIPp sides get their BYE and finish cleanly.
  await page.getByRole("button", { name: "Hang up" }).click();
  const wrap = page.getByRole("form", { name: "Wrap-up" });
  await wrap.waitFor();
  const [called, rang] = await Promise.all([caller.done, phone.done]);
  assert.equal(called.code, 0, `the caller's call: ${called.errors}`);
  assert.equal(rang.code, 0, `the phone's call: ${rang.errors}`);
  await wrap.getByLabel("Outcome").selectOption("information");
  await wrap.getByRole("button", { name: "Save wrap-up" }).click();
  await page.locator("#history tr", { hasText: "voice" }).filter({ hasText: "information" }).waitFor();
  assert.deepEqual(page.errors(), []);
  await page.context().close();
});
