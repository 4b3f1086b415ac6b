//! Browser sessions, kept on the server in an embedded database under the root directory, so
//! they survive restarts. The browser holds only a random token (256 bits); the database holds
//! an HMAC of it (keyed by `sessionKeysFile`'s `hashKey`, or a key generated once and kept
//! beside the database), never the token itself. A session ends when idle for
//! [`IDLE`], at the latest [`ABSOLUTE`] after sign-in, or at sign-out.

use crate::pool::BlockingPool;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use redb::{Database, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(2 * 3600);
/// A session ends this long after sign-in, used or not.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// Last use is written at most this often per session (each write is a durable commit).
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Live sessions kept in memory at most.
const RECENT_SESSIONS: u64 = 10_000;

/// A signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The user name.
    pub username: String,
    /// Groups the identity source asserted at sign-in.
    pub groups: Vec<String>,
    /// Which authenticator or provider signed the user in.
    pub source: String,
    /// The OpenID provider's end-session endpoint, for sign-out.
    pub end_session_url: Option<String>,
    /// Sign-in, ms since the Unix epoch.
    pub created_ms: u64,
    /// Last use, ms since the Unix epoch.
    pub seen_ms: u64,
}

/// The session database.
pub struct SessionStore {
    db: Arc<Database>,
    key: Arc<[u8]>,
    pool: BlockingPool,
    /// Sessions read recently, by id: a signed-in page's requests need no database read while
    /// their session's last use is recent. Only used while alive; sign-out removes its entry.
    recent: moka::sync::Cache<Vec<u8>, Session>,
    /// Held while a session is read from the database into `recent`, and while one is deleted:
    /// a sign-out can never be undone by a read that started before it.
    reading: Arc<std::sync::Mutex<()>>,
}

/// A fresh random token, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system has a random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl SessionStore {
    /// Open (or create) the database at `path`. `hash_key` is `sessionKeysFile`'s `hashKey`;
    /// without one, a key is generated once and kept in `key_file`.
    pub fn open(
        path: &Path,
        hash_key: Option<&str>,
        key_file: &Path,
    ) -> anyhow::Result<SessionStore> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let key: Arc<[u8]> = match hash_key {
            Some(k) if !k.is_empty() => k.as_bytes().into(),
            _ => load_or_make_key(key_file)?.into(),
        };
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(TABLE)?;
        tx.commit()?;
        Ok(SessionStore {
            db: Arc::new(db),
            key,
            pool: BlockingPool::new("the session store", 8, Duration::from_secs(5)),
            recent: moka::sync::Cache::new(RECENT_SESSIONS),
            reading: Arc::default(),
        })
    }

    fn id(&self, token: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Start a session; returns its token (for the cookie).
    pub async fn create(&self, mut session: Session) -> anyhow::Result<String> {
        let token = random_token();
        let id = self.id(&token);
        let now = crate::clock::now_ms();
        session.created_ms = now;
        session.seen_ms = now;
        let db = self.db.clone();
        self.pool
            .run(move || write(&db, &id, Some(&session)))
            .await??;
        Ok(token)
    }

    /// The live session of `token`, if any (an expired one is removed).
    pub async fn get(&self, token: &str) -> anyhow::Result<Option<Session>> {
        let id = self.id(token);
        if let Some(session) = self.recent.get(&id) {
            if fresh(&session, crate::clock::now_ms()) {
                return Ok(Some(session));
            }
        }
        let (db, recent, reading) = (self.db.clone(), self.recent.clone(), self.reading.clone());
        self.pool
            .run(move || {
                let _reading = reading.lock().unwrap_or_else(|e| e.into_inner());
                recent.invalidate(&id);
                let tx = db.begin_read()?;
                let table = tx.open_table(TABLE)?;
                let Some(bytes) = table.get(id.as_slice())? else {
                    return Ok(None);
                };
                let Ok(mut session) = serde_json::from_slice::<Session>(bytes.value()) else {
                    return Ok(None);
                };
                drop(bytes);
                drop(table);
                drop(tx);
                let now = crate::clock::now_ms();
                if !alive(&session, now) {
                    write(&db, &id, None)?;
                    return Ok(None);
                }
                if !fresh(&session, now) {
                    session.seen_ms = now;
                    write(&db, &id, Some(&session))?;
                }
                recent.insert(id, session.clone());
                Ok(Some(session))
            })
            .await?
    }

    /// End the session of `token`; returns it if it existed.
    pub async fn delete(&self, token: &str) -> anyhow::Result<Option<Session>> {
        let id = self.id(token);
        let (db, recent, reading) = (self.db.clone(), self.recent.clone(), self.reading.clone());
        self.pool
            .run(move || {
                let _reading = reading.lock().unwrap_or_else(|e| e.into_inner());
                recent.invalidate(&id);
                let tx = db.begin_write()?;
                let old = {
                    let mut table = tx.open_table(TABLE)?;
                    let removed = table.remove(id.as_slice())?;
                    removed.and_then(|v| serde_json::from_slice::<Session>(v.value()).ok())
                };
                tx.commit()?;
                Ok(old)
            })
            .await?
    }

    /// Remove expired sessions; returns how many.
    pub async fn sweep(&self) -> anyhow::Result<usize> {
        let db = self.db.clone();
        self.pool
            .run(move || {
                let now = crate::clock::now_ms();
                let tx = db.begin_write()?;
                let removed = {
                    let mut table = tx.open_table(TABLE)?;
                    let before = table.len()?;
                    table.retain(|_, v| {
                        serde_json::from_slice::<Session>(v).is_ok_and(|s| alive(&s, now))
                    })?;
                    before - table.len()?
                };
                tx.commit()?;
                Ok(removed as usize)
            })
            .await?
    }
}

/// Alive, and its last use recorded less than [`TOUCH_EVERY`] ago: usable without the database.
fn fresh(session: &Session, now: u64) -> bool {
    alive(session, now) && now.saturating_sub(session.seen_ms) < TOUCH_EVERY.as_millis() as u64
}

fn alive(session: &Session, now: u64) -> bool {
    now.saturating_sub(session.seen_ms) < IDLE.as_millis() as u64
        && now.saturating_sub(session.created_ms) < ABSOLUTE.as_millis() as u64
}

fn write(db: &Database, id: &[u8], session: Option<&Session>) -> anyhow::Result<()> {
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table(TABLE)?;
        match session {
            Some(s) => {
                table.insert(id, serde_json::to_vec(s)?.as_slice())?;
            }
            None => {
                table.remove(id)?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// The generated HMAC key, created (readable by the owner only) on first use.
fn load_or_make_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(key) = std::fs::read(path) {
        if key.len() >= 32 {
            return Ok(key);
        }
    }
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = crate::fsutil::temp_path(path.parent().unwrap_or(Path::new(".")));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            username: "alice".into(),
            groups: vec!["admins".into()],
            source: "openid:oidc".into(),
            end_session_url: None,
            created_ms: 0,
            seen_ms: 0,
        }
    }

    #[tokio::test]
    async fn sessions_survive_a_reopen_and_end_at_sign_out() {
        let dir = tempfile::tempdir().unwrap();
        let (db, key) = (dir.path().join("s.redb"), dir.path().join("key"));
        let token = {
            let store = SessionStore::open(&db, None, &key).unwrap();
            let token = store.create(session()).await.unwrap();
            assert_eq!(store.get(&token).await.unwrap().unwrap().username, "alice");
            assert!(store.get("forged").await.unwrap().is_none());
            token
        };
        let store = SessionStore::open(&db, None, &key).unwrap();
        assert!(
            store.get(&token).await.unwrap().is_some(),
            "survives a restart"
        );
        assert!(store.delete(&token).await.unwrap().is_some());
        assert!(store.get(&token).await.unwrap().is_none());
        // Another key (another sessionKeysFile) recognises no token.
        let token = store.create(session()).await.unwrap();
        let other = SessionStore::open(&dir.path().join("o.redb"), Some("other"), &key).unwrap();
        assert!(other.get(&token).await.unwrap().is_none());
    }

    #[test]
    fn expiry() {
        let mut s = session();
        s.created_ms = 1_000;
        s.seen_ms = 1_000;
        assert!(alive(&s, 1_000 + IDLE.as_millis() as u64 - 1));
        assert!(!alive(&s, 1_000 + IDLE.as_millis() as u64));
        s.seen_ms = ABSOLUTE.as_millis() as u64;
        assert!(!alive(&s, 1_000 + ABSOLUTE.as_millis() as u64));
    }
}
