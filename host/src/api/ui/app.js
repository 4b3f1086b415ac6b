// Portcullis sign-in page: plain JavaScript, no framework, no external asset. Every call to
// the registry carries zot's UI header, without which a session cookie authorizes nothing.
"use strict";

const UI = { "X-ZOT-API-CLIENT": "zot-ui" };
const $ = (id) => document.getElementById(id);

function say(text) { $("message").textContent = text || ""; }

async function call(path, options = {}) {
  const headers = Object.assign({}, UI, options.headers || {});
  return fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
}

async function errorText(response) {
  try {
    const body = await response.json();
    const e = body.errors && body.errors[0];
    if (e) return e.message + (e.detail && e.detail.reason ? ": " + e.detail.reason : "");
  } catch (_) { /* not JSON */ }
  return "the registry answered " + response.status;
}

function basic(user, password) {
  const bytes = new TextEncoder().encode(user + ":" + password);
  let text = "";
  bytes.forEach((b) => { text += String.fromCharCode(b); });
  return "Basic " + btoa(text);
}

function when(iso) {
  return !iso || iso.startsWith("0001-") ? "never" : new Date(iso).toLocaleString();
}

async function show() {
  const response = await call("/portcullis/identity");
  if (response.status !== 200) {
    $("signed-in").hidden = true;
    $("sign-in").hidden = false;
    return;
  }
  const me = await response.json();
  $("who").textContent = me.username;
  $("source").textContent = me.source;
  $("groups").textContent = me.groups.length ? me.groups.join(", ") : "none";
  $("sign-in").hidden = true;
  $("signed-in").hidden = false;
  $("keys").hidden = !me.apiKeys;
  if (me.apiKeys) await listKeys();
}

async function listKeys() {
  const response = await call("/zot/auth/apikey");
  if (response.status !== 200) { say(await errorText(response)); return; }
  const { apiKeys } = await response.json();
  const rows = $("key-list");
  rows.replaceChildren();
  for (const key of apiKeys) {
    const tr = document.createElement("tr");
    for (const text of [key.label, (key.scopes || []).join(" ") || "all", when(key.createdAt),
      (key.isExpired ? "expired " : "") + when(key.expirationDate), when(key.lastUsed)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement("td");
    const revoke = document.createElement("button");
    revoke.type = "button";
    revoke.textContent = "Revoke";
    revoke.setAttribute("aria-label", "Revoke key " + key.label);
    revoke.addEventListener("click", async () => {
      const r = await call("/zot/auth/apikey?id=" + encodeURIComponent(key.uuid), { method: "DELETE" });
      say(r.status === 200 ? "Key " + key.label + " revoked." : await errorText(r));
      await listKeys();
    });
    td.append(revoke);
    tr.append(td);
    rows.append(tr);
  }
}

function wire() {
  const password = $("password");
  if (password) {
    password.addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await call("/v2/", {
        headers: { Authorization: basic($("username").value, $("password-input").value) },
      });
      $("password-input").value = "";
      if (response.status === 200) { say(""); await show(); } else { say("Sign-in failed: " + await errorText(response)); }
    });
  }
  $("sign-out").addEventListener("click", async () => {
    const response = await call("/zot/auth/logout", { method: "POST" });
    const body = response.status === 200 ? await response.json() : {};
    $("created").hidden = true;
    if (body.endSessionUrl) { window.location.assign(body.endSessionUrl); return; }
    say("Signed out.");
    await show();
  });
  $("new-key").addEventListener("submit", async (event) => {
    event.preventDefault();
    const scopes = $("key-scopes").value.split("\n").map((s) => s.trim()).filter((s) => s);
    const expiry = $("key-expiry").value;
    const body = { label: $("key-label").value, scopes };
    if (expiry) body.expirationDate = new Date(expiry + "T23:59:59").toISOString();
    const response = await call("/zot/auth/apikey", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status !== 201) { say("No key: " + await errorText(response)); return; }
    const created = await response.json();
    $("created-key").textContent = created.apiKey;
    $("created").hidden = false;
    $("copy").focus();
    say("Key " + created.label + " created.");
    event.target.reset();
    await listKeys();
  });
  $("copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("created-key").textContent); say("Copied."); }
    catch (_) { say("Select the key and copy it."); }
  });
}

document.addEventListener("DOMContentLoaded", () => { wire(); show(); });
