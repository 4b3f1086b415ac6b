// A workload token issuer for the workload identity tests (tests/e2e/workload.rs), shaped like
// the Kubernetes API server or GitHub Actions' token service: OpenID discovery and a JWKS on
// its issuer port (plain HTTP, or HTTPS with --cert/--key), keys generated for this run.
//
//   node issuer.mjs [--cert FILE --key FILE] [--host NAME] [--docker-key FILE]
//                   [--docker-cert FILE [--token-user USER:PASSWORD]]
//
// With --docker-cert it is also a Docker token service, as CNCF distribution's `auth.token`
// expects one (tests/e2e/sync.rs): `GET /token?service=…&scope=…` on the issuer port answers
// {"token"} signed with --docker-key, the certificate in the header's x5c, granting the scope's
// actions; with --token-user only to that user (HTTP Basic), else to anyone.
//
// When both ports listen it prints one JSON line: {"issuer", "control"}. It exits when its
// standard input closes, so it never outlives the test that started it.
//
// The control port (plain HTTP on 127.0.0.1, for the test only) mints tokens and changes keys:
//   POST /mint    {"claims": {...}, "kid"?, "alg"?, "payload"?, "key"?}  → the compact JWT
//                 Claims `iss`, `iat` and `exp` (ten minutes) are added unless given; a claim
//                 given as null is left out. `kid` overrides the header's key id (the token is
//                 still signed with the current key), `payload` signs raw text instead of
//                 claims, and `"key": "docker"` signs with --docker-key (a PKCS#8 RSA key,
//                 RS256, no kid) as an external Docker token service would.
//   POST /rotate  {"alg"?}  → a new current key with a new kid; the old one leaves the JWKS
//   GET  /stats   → {"discovery": n, "jwks": n, "token": n}: how often each was fetched
//   GET  /public.pem → the current public key (SPKI PEM)

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, importPKCS8, SignJWT } from "jose";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const certFile = arg("--cert", "");
const keyFile = arg("--key", "");
const host = arg("--host", "127.0.0.1");
const dockerKeyFile = arg("--docker-key", "");
const dockerCertFile = arg("--docker-cert", "");
const tokenUser = arg("--token-user", "");

async function newKey(alg) {
  const pair = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" };
  return { alg, kid, jwk, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

let current = await newKey("RS256");
const dockerKey = dockerKeyFile ? await importPKCS8(readFileSync(dockerKeyFile, "utf8"), "RS256") : null;
const stats = { discovery: 0, jwks: 0, token: 0 };
// The certificate's DER, base64, for the x5c header.
const dockerCertDer = dockerCertFile
  ? readFileSync(dockerCertFile, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, "")
  : "";
let issuer = "";

function send(res, status, body, type = "application/json") {
  res.writeHead(status, { "content-type": type });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (text += chunk));
    req.on("end", () => {
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch (e) {
        reject(e);
      }
    });
  });
}

function serveIssuer(req, res) {
  if (req.method === "GET" && req.url === "/.well-known/openid-configuration") {
    stats.discovery += 1;
    return send(res, 200, {
      issuer,
      jwks_uri: `${issuer}/keys`,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: [current.alg],
    });
  }
  if (req.method === "GET" && req.url === "/keys") {
    stats.jwks += 1;
    return send(res, 200, { keys: [current.jwk] });
  }
  if (req.method === "GET" && req.url.startsWith("/token") && dockerCertDer) {
    return serveToken(req, res).catch((e) => send(res, 500, { error: String(e) }));
  }
  send(res, 404, { error: "not found" });
}

// A Docker token for the scope asked, to the configured user only (when there is one).
async function serveToken(req, res) {
  const url = new URL(req.url, "http://token");
  const given = Buffer.from((req.headers.authorization || "").replace(/^Basic /, ""), "base64").toString();
  if (tokenUser && given !== tokenUser) {
    return send(res, 401, { errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] });
  }
  stats.token += 1;
  const access = url.searchParams.getAll("scope").map((scope) => {
    const [type, ...rest] = scope.split(":");
    const actions = rest.pop().split(",");
    return { type, name: rest.join(":"), actions };
  });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    iss: "portcullis-test-token-service",
    sub: tokenUser.split(":")[0] || "anonymous",
    aud: url.searchParams.get("service") || "",
    iat: now,
    nbf: now - 5,
    exp: now + 300,
    jti: randomUUID(),
    access,
  })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", x5c: [dockerCertDer] })
    .sign(dockerKey);
  send(res, 200, { token, access_token: token, expires_in: 300 });
}

async function mint(body) {
  const now = Math.floor(Date.now() / 1000);
  if (body.key === "docker") {
    if (!dockerKey) throw new Error("no --docker-key");
    return new SignJWT({ iat: now, exp: now + 600, ...body.claims }).setProtectedHeader({ alg: "RS256" }).sign(dockerKey);
  }
  const header = { alg: body.alg || current.alg, kid: body.kid || current.kid, typ: "JWT" };
  if (body.payload !== undefined) {
    return new CompactSign(new TextEncoder().encode(body.payload)).setProtectedHeader(header).sign(current.privateKey);
  }
  const claims = { iss: issuer, iat: now, exp: now + 600, ...body.claims };
  for (const [name, value] of Object.entries(claims)) {
    if (value === null) delete claims[name];
  }
  return new SignJWT(claims).setProtectedHeader(header).sign(current.privateKey);
}

async function serveControl(req, res) {
  try {
    if (req.method === "POST" && req.url === "/mint") {
      return send(res, 200, await mint(await readJson(req)), "text/plain");
    }
    if (req.method === "POST" && req.url === "/rotate") {
      const body = await readJson(req);
      current = await newKey(body.alg || "RS256");
      return send(res, 200, { kid: current.kid });
    }
    if (req.method === "GET" && req.url === "/stats") {
      return send(res, 200, stats);
    }
    if (req.method === "GET" && req.url === "/public.pem") {
      return send(res, 200, await exportSPKI(current.publicKey), "text/plain");
    }
    send(res, 404, { error: "not found" });
  } catch (e) {
    send(res, 400, { error: String(e) });
  }
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

const tls = certFile && keyFile;
const issuerServer = tls
  ? https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, serveIssuer)
  : http.createServer(serveIssuer);
const issuerPort = await listen(issuerServer);
issuer = `${tls ? "https" : "http"}://${host}:${issuerPort}`;
const controlPort = await listen(http.createServer(serveControl));
process.stdout.write(JSON.stringify({ issuer, control: `http://127.0.0.1:${controlPort}` }) + "\n");

process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
