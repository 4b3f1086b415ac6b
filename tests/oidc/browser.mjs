// A real browser for the sign-in tests (tests/e2e/signin.rs): Debian's Chromium driven by
// playwright-core (which downloads no browser), headless, with background networking off and
// every request that does not go to 127.0.0.1 aborted.
//
//   node browser.mjs SCREENSHOT_DIR
//
// It reads one JSON command per line on standard input and answers each with one JSON line on
// standard output ({"ok": true, ...} or {"ok": false, "error": "..."}), taking a screenshot of
// each step into SCREENSHOT_DIR. Every command names a browser context ("as"): each is a
// separate person with their own cookies. Commands:
//
//   {"op":"signin","as":"ci","registry":URL,"provider":"Name","user":U,"password":P}
//       open the registry's page, click "Sign in with Name", sign in on the provider's page,
//       come back; answers the pages the browser went through and what the page shows
//   {"op":"identity","as":…}        what the page shows (user, source, groups)
//   {"op":"mint","as":…,"label":L,"scopes":[…],"expiry":"YYYY-MM-DD"}   create a key on the
//       page; answers the key as the page shows it
//   {"op":"keys","as":…}            the key table's rows
//   {"op":"revoke","as":…,"label":L} press the key's Revoke button
//   {"op":"signout","as":…}         press Sign out, confirm at the provider, come back
//   {"op":"cookies","as":…}         the context's cookies
//   {"op":"close"}                  close the browser and exit
//
// It also exits when standard input closes.

import { mkdirSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { chromium } from "playwright-core";

const shots = path.resolve(process.argv[2] || "screenshots");
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // playwright-core makes a fresh, temporary --user-data-dir for this launch (and removes it).
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});

const contexts = new Map();
let step = 0;

async function person(name) {
  let entry = contexts.get(name);
  if (!entry) {
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    // Nothing leaves this machine: only loopback is reachable.
    await context.route("**/*", (route) => {
      const host = new URL(route.request().url()).hostname;
      return host === "127.0.0.1" || host === "localhost" ? route.continue() : route.abort();
    });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const trail = [];
    page.on("request", (request) => {
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) trail.push(request.url());
    });
    const consoleErrors = [];
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    entry = { context, page, trail, consoleErrors };
    contexts.set(name, entry);
  }
  return entry;
}

async function shot(page, who, name) {
  step += 1;
  const file = path.join(shots, `${String(step).padStart(2, "0")}-${who}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

async function shown(page) {
  await page.waitForFunction(() => !document.getElementById("signed-in").hidden || !document.getElementById("sign-in").hidden);
  const signedIn = await page.locator("#signed-in").isVisible();
  return {
    url: page.url(),
    signedIn,
    user: signedIn ? await page.locator("#who").textContent() : null,
    source: signedIn ? await page.locator("#source").textContent() : null,
    groups: signedIn ? await page.locator("#groups").textContent() : null,
    message: await page.locator("#message").textContent(),
  };
}

const ops = {
  async signin({ as, registry, provider, user, password }) {
    const { page, trail } = await person(as);
    trail.length = 0;
    await page.goto(`${registry}/`);
    await page.locator("#sign-in").waitFor({ state: "visible" });
    const files = [await shot(page, as, "sign-in-page")];
    await page.getByRole("link", { name: `Sign in with ${provider}` }).click();
    await page.locator("#login-name").waitFor();
    files.push(await shot(page, as, "provider-login"));
    const atProvider = page.url();
    await page.locator("#login-name").fill(user);
    await page.locator("#login-password").fill(password);
    await page.locator("#login-submit").click();
    await page.waitForURL((url) => url.href.startsWith(registry));
    const state = await shown(page);
    files.push(await shot(page, as, "signed-in"));
    return { ...state, atProvider, trail: [...trail], files };
  },

  async identity({ as }) {
    const { page } = await person(as);
    return shown(page);
  },

  async mint({ as, label, scopes, expiry }) {
    const { page } = await person(as);
    await page.getByLabel("Label").fill(label);
    if (scopes) await page.locator("#key-scopes").fill(scopes.join("\n"));
    if (expiry) await page.locator("#key-expiry").fill(expiry);
    await page.getByRole("button", { name: "Create key" }).click();
    await page.locator("#created").waitFor({ state: "visible" });
    await page.getByRole("cell", { name: label, exact: true }).waitFor();
    const key = (await page.locator("#created-key").textContent()).trim();
    const file = await shot(page, as, `key-${label}`);
    return { key, message: await page.locator("#message").textContent(), files: [file] };
  },

  async keys({ as }) {
    const { page } = await person(as);
    // As a person would: load the page again to see the keys as they are now.
    await page.reload();
    await page.locator("#key-list tr").first().waitFor();
    const rows = await page.locator("#key-list tr").evaluateAll((trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll("td")).slice(0, 5).map((td) => td.textContent)));
    return { rows };
  },

  async revoke({ as, label }) {
    const { page } = await person(as);
    await page.getByRole("button", { name: `Revoke key ${label}`, exact: true }).click();
    await page.locator("#message").filter({ hasText: "revoked" }).waitFor();
    await page.getByRole("cell", { name: label, exact: true }).waitFor({ state: "detached" });
    const file = await shot(page, as, `revoked-${label}`);
    return { message: await page.locator("#message").textContent(), files: [file] };
  },

  async signout({ as, registry }) {
    const { page, trail } = await person(as);
    trail.length = 0;
    await page.getByRole("button", { name: "Sign out" }).click();
    // With an end-session endpoint the page goes to the provider, which asks to confirm.
    const confirm = page.getByRole("button", { name: "Yes, sign me out" });
    const where = await Promise.race([
      confirm.waitFor().then(() => "provider"),
      page.locator("#message").filter({ hasText: "Signed out." }).waitFor().then(() => "registry"),
    ]);
    const files = [];
    if (where === "provider") {
      files.push(await shot(page, as, "provider-sign-out"));
      await confirm.click();
      await page.waitForURL((url) => url.href.startsWith(registry));
    }
    const state = await shown(page);
    files.push(await shot(page, as, "signed-out"));
    return { ...state, trail: [...trail], files };
  },

  async cookies({ as }) {
    const { context } = await person(as);
    return { cookies: await context.cookies() };
  },

  async errors({ as }) {
    const { consoleErrors } = await person(as);
    return { errors: consoleErrors };
  },

  async close() {
    await browser.close();
    process.exit(0);
  },
};

const input = readline.createInterface({ input: process.stdin });
for await (const line of input) {
  if (!line.trim()) continue;
  let answer;
  let command = {};
  try {
    command = JSON.parse(line);
    const op = ops[command.op];
    if (!op) throw new Error(`unknown op ${command.op}`);
    answer = { ok: true, ...(await op(command)) };
  } catch (error) {
    const entry = contexts.get(command.as);
    let file = null;
    try { if (entry) file = await shot(entry.page, "error", "failure"); } catch (_) { /* none */ }
    answer = { ok: false, error: String(error && error.stack || error), screenshot: file };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
await browser.close();
process.exit(0);
