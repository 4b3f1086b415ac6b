// A real OpenID provider for the sign-in tests (tests/e2e/signin.rs): panva's oidc-provider on
// 127.0.0.1, with keys made for this run, its own minimal login page (a user name and a
// password), users whose `groups` claims differ, and three clients (client_secret_basic, public
// with PKCE only, private_key_jwt).
//
//   node provider.mjs [--port N] [--registry http://127.0.0.1:PORT] [--client-key FILE]
//
// When it listens it prints one JSON line: {"issuer", "clients": {...}}. It exits when its
// standard input closes (the test process that started it died or is done), so it never
// outlives the tests.
//
// Test control, for this test script only: `POST /__test/tamper` with a JSON body
// {"account": "<email>", "mode": "signature" | "nonce" | "audience" | "issuer" | "expired"}
// makes the token endpoint's next answer for that account carry a broken ID token: a flipped
// signature, or a token re-signed with the provider's own key whose nonce, audience, issuer or
// expiry is wrong. The relying party's checks are tested against real tokens that way.
//
// Redirect URIs: the clients are registered with `application_type: native`, for which
// oidc-provider matches an http loopback redirect URI with any port (RFC 8252 §7.3): one
// provider serves every registry a test process starts, whatever port each listens on.

import { randomBytes, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import http from "node:http";
import { decodeJwt, decodeProtectedHeader, exportJWK, exportPKCS8, generateKeyPair, importJWK, SignJWT } from "jose";
import Provider from "oidc-provider";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(arg("--port", "0"));
const registry = arg("--registry", "http://127.0.0.1:5000").replace(/\/$/, "");
const clientKeyFile = arg("--client-key", "");

// The people who can sign in. `groups` differs on purpose: an array, another array, none at
// all, and a single string (zot accepts a claim that is a string or an array).
const USERS = {
  "ci@example.test": { password: "ci-password", name: "CI Robot", groups: ["artifact-workloads"] },
  "boss@example.test": { password: "boss-password", name: "The Boss", groups: ["admins"] },
  "nogroups@example.test": { password: "nogroups-password", name: "No Groups" },
  "solo@example.test": { password: "solo-password", name: "Single String", groups: "admins" },
  "mallory@example.test": { password: "mallory-password", name: "Mallory", groups: ["artifact-workloads"] },
};

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;background:#eef2f0;margin:2rem}main{max-width:22rem;margin:auto;background:#fff;padding:1rem 1.5rem;border:1px solid #9bb;border-radius:6px}
label{display:block;margin-top:.7rem}input{width:100%;box-sizing:border-box;padding:.3rem}button{margin-top:1rem;padding:.4rem 1rem}.error{color:#a00}</style>
</head><body><main><h1>Test OpenID provider</h1>${body}</main></body></html>`;
}

// Keys for this run: the provider's signing key, and the private_key_jwt client's key.
const signing = await generateKeyPair("RS256", { extractable: true });
const signingJwk = { ...(await exportJWK(signing.privateKey)), kid: randomUUID(), alg: "RS256", use: "sig" };
const client = await generateKeyPair("RS256", { extractable: true });
const clientPublicJwk = { ...(await exportJWK(client.publicKey)), kid: randomUUID(), alg: "RS256", use: "sig" };
if (clientKeyFile) {
  writeFileSync(clientKeyFile, await exportPKCS8(client.privateKey), { mode: 0o600 });
}
const clientSecret = randomBytes(24).toString("hex");

const common = {
  application_type: "native",
  redirect_uris: [`${registry}/zot/auth/callback/oidc`],
  post_logout_redirect_uris: [`${registry}/login`],
  grant_types: ["authorization_code"],
  response_types: ["code"],
};
const CLIENTS = [
  { ...common, client_id: "portcullis", client_secret: clientSecret, token_endpoint_auth_method: "client_secret_basic" },
  { ...common, client_id: "portcullis-public", token_endpoint_auth_method: "none" },
  { ...common, client_id: "portcullis-pkjwt", token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [clientPublicJwk] } },
];

const server = http.createServer();
await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: CLIENTS,
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
    groups: ["groups"],
  },
  // Claims in the ID token as well as from userinfo, as Authentik and Keycloak do.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page("Sign out", `${form}<p>Sign out of the test provider?</p>
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page("Signed out", "<p>You are signed out.</p>");
      },
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = "html";
    ctx.body = page("Error", `<p class="error" id="error">${escapeHtml(out.error)}: ${escapeHtml(out.error_description || "")}</p>`);
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, id) => {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      claims: async () => {
        const claims = { sub: id, email: id, email_verified: true, name: user.name, preferred_username: id.split("@")[0] };
        if (user.groups !== undefined) claims.groups = user.groups;
        return claims;
      },
    };
  },
});
provider.on("server_error", (_ctx, error) => console.error("provider server_error:", error));

// One-shot ID-token tampering, per account (see the header comment).
const tamper = new Map();
const signingKey = await importJWK(signingJwk, "RS256");

async function broken(idToken, mode) {
  const [header, payload, signature] = idToken.split(".");
  if (mode === "signature") {
    // Flip bits in the middle of the signature (the last character only carries padding bits).
    const i = Math.floor(signature.length / 2);
    const flipped = signature[i] === "A" ? "B" : "A";
    return `${header}.${payload}.${signature.slice(0, i)}${flipped}${signature.slice(i + 1)}`;
  }
  const claims = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  if (mode === "nonce") claims.nonce = randomBytes(16).toString("base64url");
  else if (mode === "audience") { claims.aud = "someone-else"; delete claims.azp; }
  else if (mode === "issuer") claims.iss = "http://127.0.0.1:1/evil";
  else if (mode === "expired") { claims.iat = now - 7200; claims.exp = now - 3600; }
  else throw new Error(`unknown tamper mode ${mode}`);
  return new SignJWT(claims).setProtectedHeader(decodeProtectedHeader(idToken)).sign(signingKey);
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === "/token" && ctx.status === 200 && ctx.body && typeof ctx.body.id_token === "string") {
    const sub = decodeJwt(ctx.body.id_token).sub;
    const mode = tamper.get(sub);
    if (mode) {
      tamper.delete(sub);
      ctx.body = { ...ctx.body, id_token: await broken(ctx.body.id_token, mode) };
      console.error(`provider: tampered ID token (${mode}) for ${sub}`);
    }
  }
});

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 << 10) throw new Error("body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
  res.end(body);
}

function loginForm(uid, clientId, error) {
  return page("Sign in", `<p>Sign in to <strong>${escapeHtml(clientId)}</strong></p>
${error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : ""}
<form id="login" method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="login-name">User name</label><input id="login-name" name="login" autocomplete="username" autofocus required>
<label for="login-password">Password</label><input id="login-password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="login-submit">Sign in</button>
</form>`);
}

// The interaction pages: the login form, its check, and consent given at once (the registry
// is a first-party client here).
async function interaction(req, res, url) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (req.method === "GET" && url.pathname === `/interaction/${uid}`) {
    if (prompt.name === "login") {
      return send(res, 200, "text/html; charset=utf-8", loginForm(uid, params.client_id));
    }
    if (prompt.name === "consent") {
      const accountId = details.session.accountId;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId, clientId: params.client_id });
      const missing = prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      if (missing.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(" "));
        }
      }
      const grantId = await grant.save();
      const consent = details.grantId ? {} : { grantId };
      return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
    }
    return send(res, 400, "text/plain", `unexpected prompt ${prompt.name}`);
  }
  if (req.method === "POST" && url.pathname === `/interaction/${uid}/login`) {
    const form = new URLSearchParams(await readBody(req));
    const login = form.get("login") || "";
    const user = USERS[login];
    if (!user || form.get("password") !== user.password) {
      return send(res, 200, "text/html; charset=utf-8", loginForm(uid, params.client_id, "Wrong user name or password."));
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  return send(res, 404, "text/plain", "not found");
}

async function control(req, res, url) {
  if (req.method === "POST" && url.pathname === "/__test/tamper") {
    const { account, mode } = JSON.parse(await readBody(req));
    if (!USERS[account] || !["signature", "nonce", "audience", "issuer", "expired"].includes(mode)) {
      return send(res, 400, "application/json", JSON.stringify({ error: "unknown account or mode" }));
    }
    tamper.set(account, mode);
    return send(res, 204, "text/plain", "");
  }
  return send(res, 404, "text/plain", "not found");
}

const handle = provider.callback();
server.on("request", async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith("/interaction/")) return await interaction(req, res, url);
    if (url.pathname.startsWith("/__test/")) return await control(req, res, url);
    return handle(req, res);
  } catch (error) {
    console.error("provider: interaction failed:", error);
    if (!res.headersSent) send(res, 400, "text/html; charset=utf-8", page("Error", `<p class="error" id="error">${escapeHtml(error.message)}</p>`));
  }
});

console.log(JSON.stringify({
  issuer,
  clients: {
    confidential: { clientid: "portcullis", clientsecret: clientSecret },
    public: { clientid: "portcullis-public" },
    privateKeyJwt: { clientid: "portcullis-pkjwt", keyFile: clientKeyFile || null },
  },
  users: Object.fromEntries(Object.entries(USERS).map(([login, u]) => [login, u.password])),
}));

// Standard input closing means the test process is gone: stop with it.
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
