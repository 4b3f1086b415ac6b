//! The plugins' key-value store: one embedded database under the root directory, with each
//! plugin's keys kept apart by a namespace prefix, and each namespace bounded: keys of at most
//! [`MAX_KEY`] bytes, values of at most the value limit, and a total of keys and values of at
//! most the quota. A write past a bound stores nothing and says why.

use redb::{Database, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("plugin_kv");

/// Longest key a plugin may use, in bytes.
pub const MAX_KEY: usize = 512;
/// Default `plugins.kvValueLimitKb`.
pub const VALUE_LIMIT: usize = 64 << 10;
/// Default `plugins.kvQuotaMb`.
pub const QUOTA: u64 = 16 << 20;

/// Bounds of one namespace.
#[derive(Clone, Copy, Debug)]
pub struct KvLimits {
    /// Largest value, in bytes.
    pub value: usize,
    /// Largest total of keys and values, in bytes.
    pub total: u64,
}

impl Default for KvLimits {
    fn default() -> Self {
        KvLimits {
            value: VALUE_LIMIT,
            total: QUOTA,
        }
    }
}

/// Handle to the shared database.
#[derive(Clone)]
pub struct KvStore {
    db: Arc<Database>,
    /// Bytes used per namespace, counted on first use and kept up to date by every write.
    usage: Arc<Mutex<HashMap<String, u64>>>,
}

/// One plugin's view of the store.
#[derive(Clone)]
pub struct KvNamespace {
    store: KvStore,
    prefix: String,
    limits: KvLimits,
}

impl KvStore {
    /// Open or create the database file.
    pub fn open(path: &Path) -> anyhow::Result<KvStore> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(TABLE)?;
        tx.commit()?;
        Ok(KvStore {
            db: Arc::new(db),
            usage: Arc::default(),
        })
    }

    /// The namespace of plugin `name`, with `limits`.
    pub fn namespace(&self, name: &str, limits: KvLimits) -> KvNamespace {
        KvNamespace {
            store: self.clone(),
            prefix: format!("{name}\u{0}"),
            limits,
        }
    }
}

impl KvNamespace {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Read a value.
    pub fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let tx = self.store.db.begin_read()?;
        let table = tx.open_table(TABLE)?;
        Ok(table
            .get(self.key(key).as_str())?
            .map(|v| v.value().to_vec()))
    }

    /// Bytes this namespace uses (counted once, then maintained).
    fn usage(
        &self,
        table: &impl ReadableTable<&'static str, &'static [u8]>,
    ) -> anyhow::Result<u64> {
        let mut usage = self.store.usage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(used) = usage.get(&self.prefix) {
            return Ok(*used);
        }
        let mut used = 0u64;
        for entry in table.range(self.prefix.as_str()..)? {
            let (k, v) = entry?;
            if !k.value().starts_with(&self.prefix) {
                break;
            }
            used += (k.value().len() - self.prefix.len() + v.value().len()) as u64;
        }
        usage.insert(self.prefix.clone(), used);
        Ok(used)
    }

    fn set_usage(&self, used: u64) {
        self.store
            .usage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.prefix.clone(), used);
    }

    /// Write a value durably, within the namespace's bounds.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        if key.len() > MAX_KEY {
            return Err(format!("kv key longer than {MAX_KEY} bytes"));
        }
        if value.len() > self.limits.value {
            return Err(format!(
                "kv value of {} bytes exceeds the limit of {} bytes",
                value.len(),
                self.limits.value
            ));
        }
        let write = || -> anyhow::Result<Result<(), String>> {
            let tx = self.store.db.begin_write()?;
            let used = {
                let mut table = tx.open_table(TABLE)?;
                let used = self.usage(&table)?;
                let full_key = self.key(key);
                let old = table
                    .get(full_key.as_str())?
                    .map(|v| (key.len() + v.value().len()) as u64)
                    .unwrap_or(0);
                let new = used - old.min(used) + (key.len() + value.len()) as u64;
                if new > self.limits.total {
                    return Ok(Err(format!(
                        "kv quota of {} bytes would be exceeded",
                        self.limits.total
                    )));
                }
                table.insert(full_key.as_str(), value)?;
                new
            };
            tx.commit()?;
            self.set_usage(used);
            Ok(Ok(()))
        };
        write().map_err(|e| format!("kv write failed: {e}"))?
    }

    /// Remove a value; true if it existed.
    pub fn delete(&self, key: &str) -> anyhow::Result<bool> {
        let tx = self.store.db.begin_write()?;
        let (existed, used) = {
            let mut table = tx.open_table(TABLE)?;
            let used = self.usage(&table)?;
            let removed = table
                .remove(self.key(key).as_str())?
                .map(|v| (key.len() + v.value().len()) as u64);
            (removed.is_some(), used - removed.unwrap_or(0).min(used))
        };
        tx.commit()?;
        self.set_usage(used);
        Ok(existed)
    }

    /// Keys (without the namespace) starting with `prefix`, sorted.
    pub fn list(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let tx = self.store.db.begin_read()?;
        let table = tx.open_table(TABLE)?;
        let start = self.key(prefix);
        let mut keys = Vec::new();
        for entry in table.range(start.as_str()..)? {
            let (k, _) = entry?;
            let Some(rest) = k.value().strip_prefix(&start) else {
                break;
            };
            keys.push(format!("{prefix}{rest}"));
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_separate_and_persistent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.redb");
        let limits = KvLimits::default();
        {
            let store = KvStore::open(&path).unwrap();
            let (a, b) = (store.namespace("a", limits), store.namespace("b", limits));
            a.set("k1", b"1").unwrap();
            a.set("k2", b"2").unwrap();
            b.set("k1", b"other").unwrap();
            assert_eq!(a.list("k").unwrap(), vec!["k1", "k2"]);
            assert!(a.delete("k2").unwrap());
            assert!(!a.delete("k2").unwrap());
        }
        let store = KvStore::open(&path).unwrap();
        assert_eq!(
            store.namespace("a", limits).get("k1").unwrap().as_deref(),
            Some(&b"1"[..])
        );
        assert_eq!(
            store.namespace("b", limits).get("k1").unwrap().as_deref(),
            Some(&b"other"[..])
        );
        assert_eq!(store.namespace("a", limits).list("").unwrap(), vec!["k1"]);
    }

    #[test]
    fn bounds_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = KvStore::open(&dir.path().join("kv.redb")).unwrap();
        let ns = store.namespace(
            "p",
            KvLimits {
                value: 100,
                total: 250,
            },
        );
        assert!(ns.set(&"k".repeat(MAX_KEY + 1), b"x").is_err());
        assert!(ns.set("big", &[0; 101]).is_err());
        ns.set("a", &[0; 100]).unwrap();
        ns.set("b", &[0; 100]).unwrap();
        let refused = ns.set("c", &[0; 100]).unwrap_err();
        assert!(refused.contains("quota"), "{refused}");
        assert!(
            ns.get("c").unwrap().is_none(),
            "a refused write stores nothing"
        );
        // Overwriting within the quota, and freeing by deleting, both count.
        ns.set("a", &[1; 100]).unwrap();
        assert!(ns.delete("a").unwrap());
        ns.set("c", &[0; 100]).unwrap();
    }
}
