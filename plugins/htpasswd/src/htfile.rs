//! The htpasswd logic, free of any wasm or WIT type so that it is unit-tested natively.
//!
//! Semantics follow zot's htpasswd support (see `zot-auth.md` §3.3): one `user:hash` entry a
//! line, split on the first `:`; bcrypt (`$2a$`, `$2b$`, `$2y$`) and SHA-crypt (`$5$`, `$6$`,
//! with or without `rounds=`) hashes are accepted; every other kind (MD5 `$apr1$`, `{SHA}`,
//! crypt(3) DES, plaintext, …) is refused for that user only.

use std::collections::BTreeMap;

/// The prefix of a zot API key given as a Basic password.
pub const API_KEY_PREFIX: &str = "zak_";

/// A parsed htpasswd file: user name to how that user's password is checked.
///
/// A `BTreeMap` rather than a `HashMap`: std's `RandomState` would make the component import
/// `wasi:random/insecure-seed` for nothing.
#[derive(Debug, Default)]
pub struct Htpasswd {
    users: BTreeMap<String, Entry>,
    /// A hash of the kind and cost the file uses, checked for unknown users so that a wrong
    /// user name costs as much as a wrong password (no user enumeration by timing).
    decoy: Option<Entry>,
}

/// How one user's password is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A bcrypt hash (`$2a$`, `$2b$` or `$2y$`), checked structurally at load time.
    Bcrypt(String),
    /// A SHA-crypt hash (`$5$` or `$6$`), checked structurally at load time.
    ShaCrypt(String),
    /// A hash kind that is not supported; the user can never log in with a password.
    Refused(&'static str),
}

/// Something worth a warning found while parsing, that does not stop the plugin from loading.
///
/// Never contains a hash or a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

/// The verdict on one set of credentials, mirroring the WIT `authn-result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The password is right for this user.
    Authenticated,
    /// Not ours: the user is not in the file, or the password is an API key that does not
    /// match the user's hash (the API-key authenticator after us should try it).
    NotMine,
    /// The user is ours and the password is wrong; the reason is for the log only.
    Rejected(String),
}

impl Htpasswd {
    /// Parse the whole content of an htpasswd file.
    ///
    /// Lines are trimmed of surrounding whitespace (so CRLF files work); empty lines and lines
    /// whose first non-blank character is `#` are skipped. Each other line must be `user:hash`
    /// with a non-empty user; a line that is not is skipped with a warning naming the line
    /// (1-based) — never its content — as zot does, so one bad line never keeps the rest of
    /// the file (and its revocations) from loading. A user listed twice keeps its last entry
    /// (zot keeps a map). Users whose hash kind is not supported are kept as refused, with a
    /// warning.
    pub fn parse(content: &str) -> (Self, Vec<Warning>) {
        let mut users: BTreeMap<String, (usize, Entry)> = BTreeMap::new();
        let mut warnings = Vec::new();
        for (index, raw) in content.lines().enumerate() {
            let number = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                warnings.push(Warning(format!(
                    "htpasswd line {number}: expected `user:hash` (no `:` found); line skipped"
                )));
                continue;
            };
            if user.is_empty() {
                warnings.push(Warning(format!(
                    "htpasswd line {number}: empty user name; line skipped"
                )));
                continue;
            }
            let entry = classify(hash.trim());
            if let Entry::Refused(kind) = entry {
                warnings.push(Warning(format!(
                    "htpasswd line {number}: user {user:?} has an unsupported password hash \
                     ({kind}); only bcrypt ($2a$, $2b$, $2y$) and SHA-crypt ($5$, $6$) are \
                     accepted, so this user cannot log in with a password"
                )));
            }
            if let Some((previous, _)) = users.insert(user.to_owned(), (number, entry)) {
                warnings.push(Warning(format!(
                    "htpasswd line {number}: user {user:?} was already listed on line \
                     {previous}; the last entry wins"
                )));
            }
        }
        let users: BTreeMap<String, Entry> = users
            .into_iter()
            .map(|(user, (_, entry))| (user, entry))
            .collect();
        let decoy = users
            .values()
            .find(|e| matches!(e, Entry::Bcrypt(_)))
            .or_else(|| users.values().find(|e| matches!(e, Entry::ShaCrypt(_))))
            .cloned();
        (Htpasswd { users, decoy }, warnings)
    }

    /// Number of users in the file (refused ones included).
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file has no user at all.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Judge one set of Basic credentials.
    ///
    /// - A password shaped like an API key (`zak_` and 32 hex digits, which no password in the
    ///   file is): [`Verdict::NotMine`] for every user, without hashing, so that API keys
    ///   pass to the key authenticator (zot tries htpasswd, then API keys, with the same Basic
    ///   credentials).
    /// - Unknown user: [`Verdict::NotMine`] (the next authenticator may try), after checking
    ///   the password against a decoy hash of the file's kind, so that an unknown user costs
    ///   as much time as a wrong password.
    /// - Known user, right password: [`Verdict::Authenticated`].
    /// - Known user, wrong password (or a refused hash kind): [`Verdict::Rejected`].
    ///
    /// The comparison of derived hashes is constant-time: `bcrypt::verify` compares with
    /// `subtle::ConstantTimeEq`, `sha_crypt`'s verifier with `ctutils::CtEq`.
    pub fn check(&self, username: &str, password: &str) -> Verdict {
        if is_api_key(password) {
            return Verdict::NotMine;
        }
        let Some(entry) = self.users.get(username) else {
            if let Some(decoy) = &self.decoy {
                let _ = verify(decoy, password);
            }
            return Verdict::NotMine;
        };
        match verify(entry, password) {
            Ok(()) => Verdict::Authenticated,
            Err(reason) => Verdict::Rejected(reason),
        }
    }
}

/// Whether a password is shaped like a zot API key.
fn is_api_key(password: &str) -> bool {
    password.strip_prefix(API_KEY_PREFIX).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Check a password against one entry.
fn verify(entry: &Entry, password: &str) -> Result<(), String> {
    match entry {
        Entry::Bcrypt(hash) => match bcrypt::verify(password, hash) {
            Ok(true) => Ok(()),
            Ok(false) => Err("invalid password".to_owned()),
            // Structure was checked at load time; anything left is a hash we cannot use.
            Err(e) => Err(format!("unusable bcrypt hash: {e}")),
        },
        Entry::ShaCrypt(hash) => {
            use sha_crypt::{PasswordVerifier, ShaCrypt};
            match ShaCrypt::default().verify_password(password.as_bytes(), hash.as_str()) {
                Ok(()) => Ok(()),
                Err(sha_crypt::password_hash::Error::PasswordInvalid) => {
                    Err("invalid password".to_owned())
                }
                Err(e) => Err(format!("unusable SHA-crypt hash: {e}")),
            }
        }
        Entry::Refused(kind) => Err(format!("unsupported password hash ({kind})")),
    }
}

/// The alphabet of crypt(3)'s base 64 (bcrypt uses the same characters, in another order).
fn is_crypt64(c: u8) -> bool {
    c == b'.' || c == b'/' || c.is_ascii_alphanumeric()
}

/// Decide how a hash is checked, or name the unsupported kind it is.
///
/// The names returned in [`Entry::Refused`] are fixed strings: a hash never reaches the log.
fn classify(hash: &str) -> Entry {
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        return if valid_bcrypt(hash) {
            Entry::Bcrypt(hash.to_owned())
        } else {
            Entry::Refused("malformed bcrypt hash")
        };
    }
    if hash.starts_with("$5$") || hash.starts_with("$6$") {
        return if valid_sha_crypt(hash) {
            Entry::ShaCrypt(hash.to_owned())
        } else {
            Entry::Refused("malformed SHA-crypt hash")
        };
    }
    Entry::Refused(unsupported_kind(hash))
}

/// `$2?$NN$` + 22 characters of salt + 31 of hash, cost 4 to 31 (what `bcrypt::verify`
/// accepts).
fn valid_bcrypt(hash: &str) -> bool {
    let b = hash.as_bytes();
    if b.len() != 60 || b[6] != b'$' {
        return false;
    }
    let Ok(cost) = hash[4..6].parse::<u32>() else {
        return false;
    };
    (4..=31).contains(&cost) && b[7..].iter().all(|&c| is_crypt64(c))
}

/// `$5$` or `$6$`, an optional `rounds=N$` with N in 1000..=999999999 (what the `sha-crypt`
/// crate accepts; glibc and OpenSSL never write another value), a salt of at most 16
/// characters (not empty: glibc accepts an empty salt but the `sha-crypt` crate cannot parse
/// one, and no tool writes one unless asked), and 43 (SHA-256) or 86 (SHA-512) characters of hash.
fn valid_sha_crypt(hash: &str) -> bool {
    let (digest_len, rest) = match (hash.strip_prefix("$5$"), hash.strip_prefix("$6$")) {
        (Some(rest), _) => (43, rest),
        (_, Some(rest)) => (86, rest),
        _ => return false,
    };
    let rest = match rest.strip_prefix("rounds=") {
        Some(rounds_and_rest) => {
            let Some((rounds, rest)) = rounds_and_rest.split_once('$') else {
                return false;
            };
            if rounds.is_empty() || !rounds.bytes().all(|c| c.is_ascii_digit()) {
                return false;
            }
            match rounds.parse::<u32>() {
                Ok(n) if (1_000..=999_999_999).contains(&n) => rest,
                _ => return false,
            }
        }
        None => rest,
    };
    let Some((salt, digest)) = rest.split_once('$') else {
        return false;
    };
    !salt.is_empty()
        && salt.len() <= 16
        && salt.bytes().all(|c| c.is_ascii_graphic() && c != b'$')
        && digest.len() == digest_len
        && digest.bytes().all(is_crypt64)
}

/// A fixed name for a hash kind we refuse.
fn unsupported_kind(hash: &str) -> &'static str {
    if hash.is_empty() {
        "empty hash"
    } else if hash.starts_with("$apr1$") {
        "MD5 $apr1$"
    } else if hash.starts_with("$1$") {
        "MD5-crypt $1$"
    } else if hash.starts_with("$2x$") || hash.starts_with("$2$") {
        "legacy bcrypt variant"
    } else if hash.starts_with("{SHA}") {
        "SHA-1 {SHA}"
    } else if hash.len() == 13 && hash.bytes().all(is_crypt64) {
        "crypt(3) DES or plaintext"
    } else if hash.starts_with('$') {
        "unrecognised crypt scheme"
    } else {
        "plaintext"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed on the development machine:
    //   htpasswd -nbB -C 10 alice 'correct horse'
    //   htpasswd -nbB -C 4 bob hunter2
    //   openssl passwd -5 -salt saltsalt sha256pw
    //   openssl passwd -6 -salt saltsalt sha512pw
    //   python3: crypt.crypt('roundspw', '$5$rounds=10000$saltstring')
    //   python3: crypt.crypt('roundspw6', '$6$rounds=5000$usesomesillystri')
    //   htpasswd -nbm / -nbs / -nbp / -nbd for the refused kinds.
    const ALICE_BCRYPT_10: &str = "$2y$10$jSMp1ROsBBj39ICTS1TRrOCNUHa3nIW60thZtUtbTHoMlFswDrDyO";
    const BOB_BCRYPT_4: &str = "$2y$04$osFw0XOMy0Nplkose60gZOKPMaq2gmbfUATKsxt0dX3TjDRlZYwXa";
    const SHA256: &str = "$5$saltsalt$WzUmQii01nfTV1TYCOkBeBwTyxmKMzcJfuoexqMmrA6";
    const SHA512: &str = "$6$saltsalt$4tunjKVuZncbXa0keYjfESkXJUqiWNDNjPLUgx2nQ6AlupqEiGSROLeZQ9GydXZv/JBhOV2OIAPlVA8lJ8vA91";
    const SHA256_ROUNDS: &str =
        "$5$rounds=10000$saltstring$zHll/By2m2OCv3894bqSSCnE7ricBqao2yQXtLMhs.6";
    const SHA512_ROUNDS: &str = "$6$rounds=5000$usesomesillystri$IGF.229ShKek6CNGeqiBs94Mg9Qrqd4QqApJ5bZaw9lqtAP70tOLhRDg2BsAFW7VdTqE9DIdp2GrOcRgC2SnF1";
    const MD5_APR1: &str = "$apr1$kD0/iywL$UlZ3NWBUsCx2KA3JPAjqR0";
    const SHA1: &str = "{SHA}qs67vlse11GdWHE+bbh7CYDxCOs=";
    const DES: &str = "nQ.a56aANKN0Y";

    fn parse_ok(content: &str) -> (Htpasswd, Vec<Warning>) {
        Htpasswd::parse(content)
    }

    fn rejected() -> Verdict {
        Verdict::Rejected("invalid password".to_owned())
    }

    #[test]
    fn bcrypt_2y_cost_4() {
        let (h, w) = parse_ok(&format!("bob:{BOB_BCRYPT_4}\n"));
        assert!(w.is_empty());
        assert_eq!(h.check("bob", "hunter2"), Verdict::Authenticated);
        assert_eq!(h.check("bob", "hunter3"), rejected());
        assert_eq!(h.check("bob", ""), rejected());
    }

    #[test]
    fn bcrypt_2a_and_2b_prefixes() {
        // For ASCII passwords $2a$, $2b$ and $2y$ compute the same hash; only the label differs.
        for prefix in ["$2a$", "$2b$"] {
            let hash = format!("{prefix}{}", &BOB_BCRYPT_4[4..]);
            let (h, w) = parse_ok(&format!("bob:{hash}"));
            assert!(w.is_empty(), "{prefix}");
            assert_eq!(
                h.check("bob", "hunter2"),
                Verdict::Authenticated,
                "{prefix}"
            );
            assert_eq!(h.check("bob", "nope"), rejected(), "{prefix}");
        }
    }

    #[test]
    fn bcrypt_cost_10_and_timing() {
        let (h, _) = parse_ok(&format!("alice:{ALICE_BCRYPT_10}"));
        let start = std::time::Instant::now();
        assert_eq!(h.check("alice", "correct horse"), Verdict::Authenticated);
        let elapsed = start.elapsed();
        eprintln!("bcrypt cost 10 verify took {elapsed:?}");
        assert_eq!(h.check("alice", "correct horse battery"), rejected());
    }

    #[test]
    fn sha_crypt_256_and_512() {
        let content = format!("s5:{SHA256}\ns6:{SHA512}\nr5:{SHA256_ROUNDS}\nr6:{SHA512_ROUNDS}\n");
        let (h, w) = parse_ok(&content);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(h.len(), 4);
        assert_eq!(h.check("s5", "sha256pw"), Verdict::Authenticated);
        assert_eq!(h.check("s5", "sha512pw"), rejected());
        assert_eq!(h.check("s6", "sha512pw"), Verdict::Authenticated);
        assert_eq!(h.check("s6", "sha256pw"), rejected());
        assert_eq!(h.check("r5", "roundspw"), Verdict::Authenticated);
        assert_eq!(h.check("r5", "roundspw6"), rejected());
        assert_eq!(h.check("r6", "roundspw6"), Verdict::Authenticated);
        assert_eq!(h.check("r6", "roundspw"), rejected());
    }

    #[test]
    fn glibc_reference_vector() {
        // From the SHA-crypt specification (Drepper): rounds=5000 spelled out is the default.
        // glibc writes the salt truncated to 16 characters.
        let hash = "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5";
        let (h, w) = parse_ok(&format!("u:{hash}"));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(h.check("u", "This is just a test"), Verdict::Authenticated);
    }

    #[test]
    fn sha_crypt_empty_salt_is_refused() {
        // python3: crypt.crypt('x', '$5$$'): glibc accepts an empty salt, the sha-crypt crate
        // does not parse it, so it is refused at load time rather than failing at login.
        let (h, w) = parse_ok("u:$5$$0Uor7kq6CTPY0DtjOiw.I2DuJSUfiZxCqkrafMVjNc8");
        assert_eq!(w.len(), 1);
        assert!(w[0].0.contains("malformed SHA-crypt"), "{w:?}");
        assert!(matches!(h.check("u", "x"), Verdict::Rejected(_)));
    }

    #[test]
    fn unknown_user_is_not_mine() {
        let (h, _) = parse_ok(&format!("bob:{BOB_BCRYPT_4}"));
        assert_eq!(h.check("carol", "hunter2"), Verdict::NotMine);
        assert_eq!(
            h.check("carol", "zak_0123456789abcdef0123456789abcdef"),
            Verdict::NotMine
        );
        assert_eq!(
            h.check("Bob", "hunter2"),
            Verdict::NotMine,
            "user names are exact"
        );
    }

    #[test]
    fn api_key_of_known_user_is_not_mine() {
        let (h, _) = parse_ok(&format!("bob:{BOB_BCRYPT_4}\nmd5:{MD5_APR1}"));
        assert_eq!(
            h.check("bob", "zak_0123456789abcdef0123456789abcdef"),
            Verdict::NotMine
        );
        assert_eq!(
            h.check("md5", "zak_0123456789abcdef0123456789abcdef"),
            Verdict::NotMine
        );
    }

    #[test]
    fn refused_kinds_load_with_warnings_and_reject() {
        let content = format!(
            "md5:{MD5_APR1}\nsha1:{SHA1}\ndes:{DES}\nplain:plainpw\nempty:\nmd5crypt:$1$abc$def\n\
             x2:$2x$04$osFw0XOMy0Nplkose60gZOKPMaq2gmbfUATKsxt0dX3TjDRlZYwXa\n\
             weird:$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA\nbob:{BOB_BCRYPT_4}\n"
        );
        let (h, w) = parse_ok(&content);
        assert_eq!(h.len(), 9);
        assert_eq!(w.len(), 8, "{w:?}");
        let expect = [
            ("md5", "MD5 $apr1$"),
            ("sha1", "SHA-1 {SHA}"),
            ("des", "crypt(3) DES or plaintext"),
            ("plain", "plaintext"),
            ("empty", "empty hash"),
            ("md5crypt", "MD5-crypt $1$"),
            ("x2", "legacy bcrypt variant"),
            ("weird", "unrecognised crypt scheme"),
        ];
        for (i, (user, kind)) in expect.iter().enumerate() {
            let message = &w[i].0;
            assert!(message.contains(&format!("{user:?}")), "{message}");
            assert!(message.contains(kind), "{message}");
            assert!(message.contains(&format!("line {}", i + 1)), "{message}");
            assert_eq!(
                h.check(user, "whatever"),
                Verdict::Rejected(format!("unsupported password hash ({kind})"))
            );
        }
        // Even the right password of a refused kind does not log in.
        assert!(matches!(h.check("plain", "plainpw"), Verdict::Rejected(_)));
        assert!(matches!(h.check("des", "despw"), Verdict::Rejected(_)));
        // The supported user next to them still works.
        assert_eq!(h.check("bob", "hunter2"), Verdict::Authenticated);
    }

    #[test]
    fn warnings_never_contain_hashes() {
        let content = format!("md5:{MD5_APR1}\nsha1:{SHA1}\ndes:{DES}\nplain:plainpw\n");
        let (_, w) = parse_ok(&content);
        for Warning(message) in &w {
            for secret in [MD5_APR1, SHA1, DES, "plainpw", "kD0/iywL"] {
                assert!(!message.contains(secret), "{message}");
            }
        }
    }

    #[test]
    fn malformed_supported_kinds_are_refused() {
        let cases = [
            // truncated bcrypt
            "$2y$10$jSMp1ROsBBj39ICTS1TRrOCNUHa3nIW60thZtUtbTHoMlFswDrDy",
            // bcrypt cost out of range
            "$2y$03$osFw0XOMy0Nplkose60gZOKPMaq2gmbfUATKsxt0dX3TjDRlZYwXa",
            "$2y$32$osFw0XOMy0Nplkose60gZOKPMaq2gmbfUATKsxt0dX3TjDRlZYwXa",
            // bcrypt with a non-alphabet character
            "$2y$04$osFw0XOMy0Nplkose60gZOKPMaq2gmbfUATKsxt0dX3TjDRlZYwX!",
            // SHA-crypt: bad digest length, rounds out of range, bad rounds, salt over 16
            "$5$saltsalt$WzUmQii01nfTV1TYCOkBeBwTyxmKMzcJfuoexqMmrA",
            "$5$rounds=999$saltstring$zHll/By2m2OCv3894bqSSCnE7ricBqao2yQXtLMhs.6",
            "$5$rounds=x$saltstring$zHll/By2m2OCv3894bqSSCnE7ricBqao2yQXtLMhs.6",
            "$5$toolongsaltstring$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5",
            "$6$saltsalt$WzUmQii01nfTV1TYCOkBeBwTyxmKMzcJfuoexqMmrA6",
        ];
        for (i, hash) in cases.iter().enumerate() {
            let (h, w) = parse_ok(&format!("u:{hash}"));
            assert_eq!(w.len(), 1, "case {i}");
            assert!(w[0].0.contains("malformed"), "case {i}: {}", w[0].0);
            assert!(
                matches!(h.check("u", "x"), Verdict::Rejected(_)),
                "case {i}"
            );
        }
    }

    #[test]
    fn comments_blank_lines_crlf_and_first_colon() {
        let content = format!(
            "# a comment\r\n\r\n   \n  # indented comment\nbob:{BOB_BCRYPT_4}\r\ns5:{SHA256}  \n"
        );
        let (h, w) = parse_ok(&content);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(h.len(), 2);
        assert_eq!(h.check("bob", "hunter2"), Verdict::Authenticated);
        assert_eq!(h.check("s5", "sha256pw"), Verdict::Authenticated);

        // Only the first `:` splits: the rest is the hash (here a refused, odd one).
        let (h, w) = parse_ok("u:a:b");
        assert_eq!(h.len(), 1);
        assert_eq!(w.len(), 1);
        assert!(w[0].0.contains("plaintext"));
    }

    #[test]
    fn empty_file_is_fine() {
        let (h, w) = parse_ok("");
        assert!(h.is_empty() && w.is_empty());
        assert_eq!(h.check("anyone", "x"), Verdict::NotMine);
        let (h, _) = parse_ok("# only comments\n\n");
        assert!(h.is_empty());
    }

    #[test]
    fn bad_lines_are_skipped_with_a_warning_naming_the_line() {
        let (h, w) = parse_ok(&format!(
            "# c\nnocolonhere\nbob:{BOB_BCRYPT_4}\n:{SHA256}\n"
        ));
        assert_eq!(h.len(), 1, "the good line still loads");
        assert_eq!(h.check("bob", "hunter2"), Verdict::Authenticated);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].0.contains("line 2") && !w[0].0.contains("nocolonhere"),
            "{w:?}"
        );
        assert!(
            w[1].0.contains("line 4") && w[1].0.contains("empty user"),
            "{w:?}"
        );
    }

    #[test]
    fn unknown_users_cost_as_much_as_wrong_passwords() {
        let hash = bcrypt::hash_with_salt("pw", 8, [3u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let (h, _) = parse_ok(&format!("u:{hash}"));
        let time = |user: &str| {
            let started = std::time::Instant::now();
            for _ in 0..3 {
                h.check(user, "wrong");
            }
            started.elapsed()
        };
        let (known, unknown) = (time("u"), time("nobody"));
        assert!(
            unknown * 2 > known && known * 2 > unknown,
            "known {known:?} vs unknown {unknown:?}"
        );
    }

    #[test]
    fn duplicate_user_last_wins() {
        let (h, w) = parse_ok(&format!("u:{SHA256}\nu:{SHA512}\n"));
        assert_eq!(h.len(), 1);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].0.contains("line 2") && w[0].0.contains("line 1"),
            "{w:?}"
        );
        assert_eq!(h.check("u", "sha512pw"), Verdict::Authenticated);
        assert_eq!(h.check("u", "sha256pw"), rejected());

        // Last wins even when the last one is refused.
        let (h, w) = parse_ok(&format!("u:{SHA256}\nu:{MD5_APR1}\n"));
        assert_eq!(w.len(), 2);
        assert!(matches!(h.check("u", "sha256pw"), Verdict::Rejected(_)));
    }

    #[test]
    fn long_bcrypt_passwords_are_truncated_like_go() {
        // bcrypt only uses the first 72 bytes; Go's CompareHashAndPassword and the bcrypt
        // crate's `verify` both accept a longer password whose first 72 bytes match.
        let hash = bcrypt::hash_with_salt("a".repeat(72), 4, [7u8; 16])
            .unwrap()
            .format_for_version(bcrypt::Version::TwoY);
        let (h, _) = parse_ok(&format!("u:{hash}"));
        assert_eq!(h.check("u", &"a".repeat(72)), Verdict::Authenticated);
        assert_eq!(h.check("u", &"a".repeat(80)), Verdict::Authenticated);
        assert_eq!(h.check("u", &"a".repeat(71)), rejected());
    }
}
