//! The plugins' key-value store: one embedded database under the root directory, with each
//! plugin's keys kept apart by a namespace prefix.

use redb::{Database, TableDefinition};
use std::path::Path;
use std::sync::Arc;

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("plugin_kv");

/// Handle to the shared database.
#[derive(Clone)]
pub struct KvStore {
    db: Arc<Database>,
}

/// One plugin's view of the store.
#[derive(Clone)]
pub struct KvNamespace {
    store: KvStore,
    prefix: String,
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
        Ok(KvStore { db: Arc::new(db) })
    }

    /// The namespace of plugin `name`.
    pub fn namespace(&self, name: &str) -> KvNamespace {
        KvNamespace {
            store: self.clone(),
            prefix: format!("{name}\u{0}"),
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

    /// Write a value durably.
    pub fn set(&self, key: &str, value: &[u8]) -> anyhow::Result<()> {
        let tx = self.store.db.begin_write()?;
        tx.open_table(TABLE)?
            .insert(self.key(key).as_str(), value)?;
        tx.commit()?;
        Ok(())
    }

    /// Remove a value; true if it existed.
    pub fn delete(&self, key: &str) -> anyhow::Result<bool> {
        let tx = self.store.db.begin_write()?;
        let existed = tx
            .open_table(TABLE)?
            .remove(self.key(key).as_str())?
            .is_some();
        tx.commit()?;
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
        {
            let store = KvStore::open(&path).unwrap();
            let (a, b) = (store.namespace("a"), store.namespace("b"));
            a.set("k1", b"1").unwrap();
            a.set("k2", b"2").unwrap();
            b.set("k1", b"other").unwrap();
            assert_eq!(a.list("k").unwrap(), vec!["k1", "k2"]);
            assert!(a.delete("k2").unwrap());
            assert!(!a.delete("k2").unwrap());
        }
        let store = KvStore::open(&path).unwrap();
        assert_eq!(
            store.namespace("a").get("k1").unwrap().as_deref(),
            Some(&b"1"[..])
        );
        assert_eq!(
            store.namespace("b").get("k1").unwrap().as_deref(),
            Some(&b"other"[..])
        );
        assert_eq!(store.namespace("a").list("").unwrap(), vec!["k1"]);
    }
}
