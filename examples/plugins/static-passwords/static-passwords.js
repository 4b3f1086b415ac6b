// Example authenticator (JavaScript, componentize-js): passwords from a static map.
//
// Configuration (the plugin's `config`, passed to `configure` as a JSON string):
//
//   {"users": {"ci-bot": {"sha256": "<hex SHA-256 of the password>", "groups": ["ci"]}}}
//
// The map holds SHA-256 digests, never passwords (`printf %s 'the password' | sha256sum`).
// SHA-256 is fast: use long random passwords (machine credentials, tokens), not ones people
// choose; for those, htpasswd's bcrypt is the right tool.
//
// Verdicts, as the contract's `authn-result` variant ({tag, val} objects in JavaScript):
// - a user in the map with the right password: `authenticated`, with the configured groups;
// - a user in the map with a wrong password: `rejected` (the chain stops: 401);
// - a user not in the map: `not-mine` (the host asks the next authenticator in the chain).
//
// Contract reminders (wit/plugin.wit, wit/README.md): `configure` runs once per instance,
// before anything else, and throwing there refuses the plugin; the instance then serves many
// requests of many users, so nothing per-request is kept in module state.

import { log } from 'portcullis:plugin/log@0.2.1';

/** username -> {digest: Uint8Array(32), groups: string[]}, set by configure. */
let users = null;

const HEX_SHA256 = /^[0-9a-f]{64}$/;

function fromHex(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.substr(2 * i, 2), 16);
  }
  return bytes;
}

/** Compare two equally long byte arrays in time independent of where they differ. */
function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function parseConfig(text) {
  const config = JSON.parse(text);
  if (typeof config !== 'object' || config === null || typeof config.users !== 'object' || config.users === null) {
    throw new Error('`users` must be an object mapping user names to {"sha256": ..., "groups": [...]}');
  }
  const parsed = new Map();
  for (const [name, entry] of Object.entries(config.users)) {
    const digest = String(entry?.sha256 ?? '').toLowerCase();
    if (!HEX_SHA256.test(digest)) {
      throw new Error(`user ${name}: \`sha256\` must be 64 hex digits`);
    }
    const groups = entry.groups ?? [];
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) {
      throw new Error(`user ${name}: \`groups\` must be a list of strings`);
    }
    parsed.set(name, { digest: fromHex(digest), groups });
  }
  return parsed;
}

// The exported `authenticator` interface: an object named after it, with its functions.
export const authenticator = {
  // result<_, string>: returning is `ok`; throwing is `err` with the error's message.
  configure(config) {
    try {
      users = parseConfig(config);
    } catch (e) {
      throw `static-passwords: invalid configuration: ${e.message ?? e}`;
    }
    log('info', `static-passwords: ${users.size} users`);
  },

  // basic-credentials -> authn-result. Exports may be async: componentize-js runs the event
  // loop until the promise settles, which WebCrypto's digest needs.
  async authenticate({ username, password }) {
    const user = users?.get(username);
    if (!user) {
      return { tag: 'not-mine' };
    }
    const digest = new Uint8Array(
      await crypto.subtle.digest('SHA-256', new TextEncoder().encode(password)),
    );
    if (!constantTimeEqual(digest, user.digest)) {
      return { tag: 'rejected', val: `wrong password for ${username}` };
    }
    return {
      tag: 'authenticated',
      val: {
        username,
        groups: user.groups,
        source: 'static-passwords',
        // option<...>: undefined is `none`.
        scopes: undefined,
        expiresAtMs: undefined,
      },
    };
  },
};
