//! The read cache that keeps the store off the GetSecretValue hot path.
//!
//! Secrets are cached by ARN and by (account, region, name); sealed values by (ARN, version
//! id, revision), so a write needs no value invalidation: it bumps the revision and later
//! reads look up new keys. Correctness argument for the secret entries: a writer commits,
//! then bumps `epoch`, then removes the entries; a reader notes `epoch` before loading,
//! inserts after loading, then re-checks `epoch` and removes its own insert if it moved.
//! Whatever the interleaving, a stale copy is either never inserted or removed afterwards.
//!
//! Every node caches only what its own writes invalidate; a deployment where several nodes
//! write one store must bound staleness by other means (the PostgreSQL backend's concern).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use coffer_store::{SecretAggregate, SecretRecord};
use quick_cache::sync::Cache;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SecretKey {
    Arn(String),
    Name {
        account_id: String,
        region: String,
        name: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ValueKey {
    arn: String,
    version_id: String,
    revision: i64,
}

#[derive(Clone)]
struct ByteWeight;

impl quick_cache::Weighter<ValueKey, Arc<Vec<u8>>> for ByteWeight {
    fn weight(&self, key: &ValueKey, value: &Arc<Vec<u8>>) -> u64 {
        (key.arn.len() + key.version_id.len() + value.len() + 64) as u64
    }
}

pub struct SecretCache {
    secrets: Cache<SecretKey, Arc<SecretAggregate>>,
    values: Cache<ValueKey, Arc<Vec<u8>>, ByteWeight>,
    epoch: AtomicU64,
}

/// What a reader remembers between looking and inserting.
#[derive(Clone, Copy)]
pub struct Epoch(u64);

impl SecretCache {
    pub fn new(max_secrets: usize, max_value_bytes: u64) -> SecretCache {
        SecretCache {
            secrets: Cache::new(max_secrets.max(1)),
            values: Cache::with_weighter(max_secrets.max(1), max_value_bytes.max(1), ByteWeight),
            epoch: AtomicU64::new(0),
        }
    }

    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::SeqCst))
    }

    pub fn by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Option<Arc<SecretAggregate>> {
        self.secrets.get(&SecretKey::Name {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn by_arn(&self, arn: &str) -> Option<Arc<SecretAggregate>> {
        self.secrets.get(&SecretKey::Arn(arn.to_owned()))
    }

    pub fn insert(&self, seen: Epoch, aggregate: Arc<SecretAggregate>) {
        let keys = keys_of(&aggregate.secret);
        for key in &keys {
            self.secrets.insert(key.clone(), aggregate.clone());
        }
        if self.epoch.load(Ordering::SeqCst) != seen.0 {
            for key in &keys {
                self.secrets.remove(key);
            }
        }
    }

    /// Called after a write to `secret` has committed.
    pub fn invalidate(&self, secret: &SecretRecord) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for key in keys_of(secret) {
            self.secrets.remove(&key);
        }
    }

    pub fn value(&self, arn: &str, version_id: &str, revision: i64) -> Option<Arc<Vec<u8>>> {
        self.values.get(&ValueKey {
            arn: arn.to_owned(),
            version_id: version_id.to_owned(),
            revision,
        })
    }

    pub fn insert_value(&self, arn: &str, version_id: &str, revision: i64, sealed: Arc<Vec<u8>>) {
        self.values.insert(
            ValueKey {
                arn: arn.to_owned(),
                version_id: version_id.to_owned(),
                revision,
            },
            sealed,
        );
    }
}

fn keys_of(secret: &SecretRecord) -> [SecretKey; 2] {
    [
        SecretKey::Arn(secret.arn.clone()),
        SecretKey::Name {
            account_id: secret.account_id.clone(),
            region: secret.region.clone(),
            name: secret.name.clone(),
        },
    ]
}
