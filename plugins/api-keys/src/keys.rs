//! API keys, free of any wasm or WIT type so that they are unit-tested natively.
//!
//! zot's format: a key is `zak_` and 32 lowercase hex digits; only the SHA-256 (hex) of the 32
//! hex digits is stored, so a leaked store reveals no key. A key is presented as HTTP Basic
//! `<owner>:zak_…`. Unlike zot, a key's scopes are enforced: each scope is
//! `<repository glob>:<action>[,<action>…]`, and a key with scopes may do only what one of them
//! allows (on top of what its owner may do).
//!
//! Store layout (the plugin's private key-value namespace):
//! - `k/<sha256 of the secret>` → the key's record (JSON);
//! - `o/<hex of the owner>/<id>` → the key's hash, to list and revoke a user's keys;
//! - `g/<hex of the owner>` → the groups the owner's identity provider asserted at the last
//!   sign-in (JSON list), which the owner's keys carry.

use repo_glob::RepoGlob;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The prefix of every key.
pub const PREFIX: &str = "zak_";
/// The `source` of identities proven by a key.
pub const SOURCE: &str = "api-key";
/// Keys one owner may hold.
pub const MAX_KEYS_PER_OWNER: usize = 100;
/// Scopes one key may carry.
pub const MAX_SCOPES: usize = 32;
/// Longest label.
pub const MAX_LABEL: usize = 256;

/// What the plugin needs of its key-value store.
pub trait Store {
    /// A value.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Store a value.
    fn set(&mut self, key: &str, value: &[u8]) -> Result<(), String>;
    /// Remove a value; true if it existed.
    fn delete(&mut self, key: &str) -> Result<bool, String>;
    /// Keys starting with `prefix`.
    fn list(&self, prefix: &str) -> Vec<String>;
}

/// An action a scope may grant (zot's repository actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Pull.
    Read,
    /// Push something new.
    Create,
    /// Move a tag.
    Update,
    /// Delete.
    Delete,
}

impl Action {
    fn parse(name: &str) -> Option<Action> {
        match name.trim().to_ascii_lowercase().as_str() {
            "read" => Some(Action::Read),
            "create" => Some(Action::Create),
            "update" => Some(Action::Update),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// A parsed scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The repository glob.
    pub repositories: String,
    /// The actions.
    pub actions: Vec<Action>,
}

/// Parse `<glob>:<action>[,<action>…]`, checking the glob.
pub fn parse_scope(text: &str) -> Result<Scope, String> {
    let (glob, actions) = text.rsplit_once(':').ok_or_else(|| {
        format!("scope {text:?}: expected `<repository glob>:<action>[,<action>]`")
    })?;
    if glob.is_empty() {
        return Err(format!("scope {text:?}: the repository glob is empty"));
    }
    RepoGlob::new(glob).map_err(|e| format!("scope {text:?}: {e}"))?;
    let actions = actions
        .split(',')
        .map(|a| {
            Action::parse(a).ok_or_else(|| {
                format!("scope {text:?}: unknown action {a:?} (read, create, update, delete)")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scope {
        repositories: glob.to_owned(),
        actions,
    })
}

/// A stored key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The key's id (a UUID).
    pub id: String,
    /// Its owner's user name.
    pub owner: String,
    /// A label for humans.
    pub label: String,
    /// Scopes as given.
    pub scopes: Vec<String>,
    /// Creation, ms since the Unix epoch.
    pub created_at_ms: u64,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_ms: Option<u64>,
    /// Last use, ms since the Unix epoch.
    pub last_used_ms: Option<u64>,
    /// The creating request's `User-Agent`.
    pub creator_ua: String,
}

/// What a new key needs.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// Label.
    pub label: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Expiry.
    pub expires_at_ms: Option<u64>,
    /// `User-Agent`.
    pub creator_ua: String,
}

/// Why a key was not created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// The request is malformed.
    Invalid(String),
    /// It could not be stored.
    Failed(String),
}

/// An identity a key proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proven {
    /// The owner.
    pub owner: String,
    /// The owner's groups at the last sign-in.
    pub groups: Vec<String>,
    /// The key's scopes (None: unrestricted).
    pub scopes: Option<Vec<Scope>>,
    /// The key's expiry.
    pub expires_at_ms: Option<u64>,
}

/// A verdict on a Basic credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not shaped like a key.
    NotMine,
    /// A valid key of this owner.
    Proven(Proven),
    /// Shaped like a key, and not valid (the reason is for the log).
    Rejected(String),
}

/// The secret part of a key (32 lowercase hex digits), if `password` is shaped like one.
fn secret_of(password: &str) -> Option<&str> {
    let secret = password.strip_prefix(PREFIX)?;
    (secret.len() == 32
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(secret)
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn owner_dir(owner: &str) -> String {
    format!("o/{}/", hex::encode(owner.as_bytes()))
}

fn groups_key(owner: &str) -> String {
    format!("g/{}", hex::encode(owner.as_bytes()))
}

fn read<T: for<'de> Deserialize<'de>>(store: &impl Store, key: &str) -> Option<T> {
    serde_json::from_slice(&store.get(key)?).ok()
}

/// Judge `username:password`. A valid key's last use is recorded.
pub fn authenticate(
    store: &mut impl Store,
    username: &str,
    password: &str,
    now_ms: u64,
) -> Verdict {
    let Some(secret) = secret_of(password) else {
        return Verdict::NotMine;
    };
    let key = format!("k/{}", hash(secret));
    let Some(mut record) = read::<Record>(store, &key) else {
        return Verdict::Rejected("unknown API key".into());
    };
    if record.owner != username {
        return Verdict::Rejected(format!("the API key does not belong to {username}"));
    }
    if record.expires_at_ms.is_some_and(|at| now_ms >= at) {
        return Verdict::Rejected("the API key has expired".into());
    }
    record.last_used_ms = Some(now_ms);
    if let Ok(bytes) = serde_json::to_vec(&record) {
        let _ = store.set(&key, &bytes);
    }
    let scopes = if record.scopes.is_empty() {
        None
    } else {
        Some(
            record
                .scopes
                .iter()
                .filter_map(|s| parse_scope(s).ok())
                .collect(),
        )
    };
    Verdict::Proven(Proven {
        groups: read(store, &groups_key(&record.owner)).unwrap_or_default(),
        owner: record.owner,
        scopes,
        expires_at_ms: record.expires_at_ms,
    })
}

/// Issue a key to `owner`; `random` gives 32 fresh random bytes (16 for the secret, 16 for the
/// id). Returns the record and the key, shown this once.
pub fn create(
    store: &mut impl Store,
    owner: &str,
    new: NewKey,
    now_ms: u64,
    random: [u8; 32],
) -> Result<(Record, String), CreateError> {
    let invalid = |m: String| Err(CreateError::Invalid(m));
    if owner.is_empty() {
        return invalid("an anonymous caller has no keys".into());
    }
    if new.label.chars().count() > MAX_LABEL {
        return invalid(format!("label longer than {MAX_LABEL} characters"));
    }
    if new.scopes.len() > MAX_SCOPES {
        return invalid(format!("more than {MAX_SCOPES} scopes"));
    }
    for scope in &new.scopes {
        parse_scope(scope).map_err(CreateError::Invalid)?;
    }
    if new.expires_at_ms.is_some_and(|at| at <= now_ms) {
        return invalid("the expiration date must be in the future".into());
    }
    if store.list(&owner_dir(owner)).len() >= MAX_KEYS_PER_OWNER {
        return invalid(format!(
            "{owner} already holds {MAX_KEYS_PER_OWNER} keys; revoke some"
        ));
    }
    let secret = hex::encode(&random[..16]);
    let id = uuid_v4(&random[16..]);
    let record = Record {
        id: id.clone(),
        owner: owner.to_owned(),
        label: new.label,
        scopes: new.scopes,
        created_at_ms: now_ms,
        expires_at_ms: new.expires_at_ms,
        last_used_ms: None,
        creator_ua: new.creator_ua,
    };
    let hashed = hash(&secret);
    let bytes = serde_json::to_vec(&record).map_err(|e| CreateError::Failed(e.to_string()))?;
    store
        .set(&format!("k/{hashed}"), &bytes)
        .map_err(CreateError::Failed)?;
    if let Err(e) = store.set(&format!("{}{id}", owner_dir(owner)), hashed.as_bytes()) {
        let _ = store.delete(&format!("k/{hashed}"));
        return Err(CreateError::Failed(e));
    }
    Ok((record, format!("{PREFIX}{secret}")))
}

/// The keys of `owner`, oldest first.
pub fn list(store: &impl Store, owner: &str) -> Vec<Record> {
    let mut records: Vec<Record> = store
        .list(&owner_dir(owner))
        .iter()
        .filter_map(|index| {
            let hashed = String::from_utf8(store.get(index)?).ok()?;
            read(store, &format!("k/{hashed}"))
        })
        .collect();
    records.sort_by(|a, b| a.created_at_ms.cmp(&b.created_at_ms).then(a.id.cmp(&b.id)));
    records
}

/// Revoke `owner`'s key `id`; false when the owner has no such key.
pub fn revoke(store: &mut impl Store, owner: &str, id: &str) -> bool {
    let index = format!("{}{id}", owner_dir(owner));
    let Some(hashed) = store.get(&index).and_then(|h| String::from_utf8(h).ok()) else {
        return false;
    };
    let _ = store.delete(&format!("k/{hashed}"));
    store.delete(&index).unwrap_or(false)
}

/// Remember the groups an identity provider asserted about `owner`.
pub fn record_sign_in(
    store: &mut impl Store,
    owner: &str,
    groups: &[String],
) -> Result<(), String> {
    let bytes = serde_json::to_vec(groups).map_err(|e| e.to_string())?;
    store.set(&groups_key(owner), &bytes)
}

/// A version 4 UUID from 16 random bytes.
fn uuid_v4(bytes: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&bytes[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Memory(BTreeMap<String, Vec<u8>>);

    impl Store for Memory {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.0.get(key).cloned()
        }
        fn set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
            self.0.insert(key.to_owned(), value.to_vec());
            Ok(())
        }
        fn delete(&mut self, key: &str) -> Result<bool, String> {
            Ok(self.0.remove(key).is_some())
        }
        fn list(&self, prefix: &str) -> Vec<String> {
            self.0
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect()
        }
    }

    fn new_key(scopes: &[&str], expires: Option<u64>) -> NewKey {
        NewKey {
            label: "ci".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_at_ms: expires,
            creator_ua: "test".into(),
        }
    }

    #[test]
    fn a_key_proves_its_owner_only_and_is_stored_hashed() {
        let mut store = Memory::default();
        record_sign_in(&mut store, "alice", &["admins".into()]).unwrap();
        let (record, key) = create(&mut store, "alice", new_key(&[], None), 1000, [7; 32]).unwrap();
        assert!(key.starts_with("zak_") && key.len() == 36);
        assert!(
            store
                .0
                .values()
                .all(|v| !String::from_utf8_lossy(v).contains(&key[4..])),
            "the secret is never stored"
        );
        match authenticate(&mut store, "alice", &key, 2000) {
            Verdict::Proven(p) => {
                assert_eq!(p.owner, "alice");
                assert_eq!(p.groups, vec!["admins"]);
                assert_eq!(p.scopes, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            authenticate(&mut store, "bob", &key, 2000),
            Verdict::Rejected(_)
        ));
        assert_eq!(
            authenticate(&mut store, "alice", "hunter2", 2000),
            Verdict::NotMine
        );
        assert!(matches!(
            authenticate(
                &mut store,
                "alice",
                "zak_00000000000000000000000000000000",
                2000
            ),
            Verdict::Rejected(_)
        ));
        assert_eq!(list(&store, "alice")[0].last_used_ms, Some(2000));
        assert!(revoke(&mut store, "alice", &record.id));
        assert!(!revoke(&mut store, "alice", &record.id));
        assert!(matches!(
            authenticate(&mut store, "alice", &key, 3000),
            Verdict::Rejected(_)
        ));
    }

    #[test]
    fn expiry_scopes_and_validation() {
        let mut store = Memory::default();
        let (_, key) = create(
            &mut store,
            "ci",
            new_key(&["ci/**:read,create"], Some(5000)),
            1000,
            [1; 32],
        )
        .unwrap();
        match authenticate(&mut store, "ci", &key, 4000) {
            Verdict::Proven(p) => assert_eq!(
                p.scopes,
                Some(vec![Scope {
                    repositories: "ci/**".into(),
                    actions: vec![Action::Read, Action::Create]
                }])
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            authenticate(&mut store, "ci", &key, 5000),
            Verdict::Rejected(_)
        ));
        for bad in ["ci/**", "ci/**:fly", "[:read", ":read"] {
            assert!(
                matches!(
                    create(&mut store, "ci", new_key(&[bad], None), 1, [2; 32]),
                    Err(CreateError::Invalid(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            create(&mut store, "ci", new_key(&[], Some(10)), 10, [3; 32]),
            Err(CreateError::Invalid(_))
        ));
    }

    #[test]
    fn ids_are_uuids() {
        let id = uuid_v4(&[0xff; 16]);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
