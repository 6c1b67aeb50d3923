// Every screen against axe-core's WCAG 2 A and AA rules (labels, names, contrast,
// landmarks, ARIA), in the states people use it in: signing in, the desktop with an offer
// and its screen pop, the wallboard on a desk and on the wall, the admin's flows,
// staffing and users.

import assert from "node:assert/strict";
import { test, demoAndBrowser, newPage, signIn, startChat, accessibilityProblems } from "./harness.mjs";

const env = demoAndBrowser();

test("the sign-in page and the desktop with an offer meet WCAG 2 AA", async () => {
  const page = await newPage(env.browser, { bypassCSP: true });
  await page.goto(`${env.server.url}/`);
  await page.getByLabel("User name").waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], "sign-in");

  await signIn(page, env.server.url, "bob", "demo", "/desktop");
  await page.getByRole("button", { name: "Available" }).click();
  await page.locator("#state.available").waitFor();
  const chat = await startChat(env.server.url, "support", "+441632960001");
  await chat.as("POST", `/chat/${chat.contact}/messages`, { text: "0" });
  await page.getByRole("article", { name: `Offer of contact ${chat.contact}` }).waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], "desktop with an offer");
  await page.context().close();
});

test("the wallboard meets WCAG 2 AA on a desk and on the wall", async () => {
  const page = await newPage(env.browser, { bypassCSP: true });
  await signIn(page, env.server.url, "sam", "demo", "/wallboard");
  await page.locator("#queues tbody tr").first().waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], "wallboard");
  await page.goto(`${env.server.url}/wallboard?wall=1`);
  await page.locator("body.wall #queues tbody tr").first().waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], "wallboard on the wall");
  await page.context().close();
});

test("the admin's flows, staffing and users meet WCAG 2 AA", async () => {
  const page = await newPage(env.browser, { bypassCSP: true });
  await signIn(page, env.server.url, "admin", "admin", "/admin#flows");
  await page.locator("svg.diagram").waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], "flows");
  await page.getByRole("button", { name: "Staffing" }).click();
  await page.getByRole("button", { name: "Calculate" }).click();
  await page.locator("#agents-needed").waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], "staffing");
  await page.getByRole("button", { name: "Users and roles" }).click();
  await page.getByRole("button", { name: "Edit admin" }).waitFor();
  assert.deepEqual(await accessibilityProblems(page), [], "users");
  await page.context().close();
});
