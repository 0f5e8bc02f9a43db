//! The read cache that keeps the store off the GetSecretValue hot path.
//!
//! Secrets are cached by ARN and by (account, region, name); sealed values by (ARN, version
//! id, revision), so a write needs no value invalidation: it bumps the revision and later
//! reads look up new keys. Correctness argument for the secret entries: a writer commits,
//! then bumps `epoch`, then removes the entries; a reader notes `epoch` before loading,
//! inserts after loading, then re-checks `epoch` and removes its own insert if it moved.
//! Whatever the interleaving, a stale copy is either never inserted or removed afterwards.
//!
//! Several nodes: a node's writes invalidate only its own cache, so when other nodes write
//! the same store (PostgreSQL) secret entries also have a maximum age: an entry older than
//! `max_age` is not served but reloaded, so a change made through another node is seen
//! within `max_age` (plus the reload). Age counts from when the load *started*, so a copy
//! that was read just before another node's commit is never served beyond the bound. Sealed
//! values need no age: they are keyed by revision, which any change moves, and a version's
//! sealed value never changes. With no maximum age (the embedded store, whose only writer is
//! this node) entries live until evicted or invalidated.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// A cached secret and when the load that produced it began.
#[derive(Clone)]
struct Entry {
    aggregate: Arc<SecretAggregate>,
    loaded: Instant,
}

pub struct SecretCache {
    secrets: Cache<SecretKey, Entry>,
    values: Cache<ValueKey, Arc<Vec<u8>>, ByteWeight>,
    epoch: AtomicU64,
    max_age: Option<Duration>,
}

/// What a reader remembers between looking and inserting.
#[derive(Clone, Copy)]
pub struct Epoch(u64, Instant);

impl SecretCache {
    /// A cache whose entries are served until evicted or invalidated (see
    /// [`Self::with_max_age`]).
    pub fn new(max_secrets: usize, max_value_bytes: u64) -> SecretCache {
        SecretCache {
            secrets: Cache::new(max_secrets.max(1)),
            values: Cache::with_weighter(max_secrets.max(1), max_value_bytes.max(1), ByteWeight),
            epoch: AtomicU64::new(0),
            max_age: None,
        }
    }

    /// Bounds how long a secret entry is served (`None`: until evicted or invalidated).
    pub fn with_max_age(mut self, max_age: Option<Duration>) -> SecretCache {
        self.max_age = max_age;
        self
    }

    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::SeqCst), Instant::now())
    }

    fn fresh(&self, key: &SecretKey) -> Option<Arc<SecretAggregate>> {
        let entry = self.secrets.get(key)?;
        if let Some(max_age) = self.max_age
            && entry.loaded.elapsed() >= max_age
        {
            // Left in place: the reload's insert replaces it, and removing it here could
            // drop a newer entry another reader has just put under the same key.
            return None;
        }
        Some(entry.aggregate)
    }

    pub fn by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Option<Arc<SecretAggregate>> {
        self.fresh(&SecretKey::Name {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn by_arn(&self, arn: &str) -> Option<Arc<SecretAggregate>> {
        self.fresh(&SecretKey::Arn(arn.to_owned()))
    }

    pub fn insert(&self, seen: Epoch, aggregate: Arc<SecretAggregate>) {
        let keys = keys_of(&aggregate.secret);
        let entry = Entry {
            aggregate,
            loaded: seen.1,
        };
        for key in &keys {
            self.secrets.insert(key.clone(), entry.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn aggregate(name: &str, revision: i64) -> Arc<SecretAggregate> {
        Arc::new(SecretAggregate {
            secret: SecretRecord {
                arn: format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:{name}-AbCdEf"),
                account_id: "111122223333".into(),
                region: "us-east-1".into(),
                name: name.into(),
                description: None,
                kms_key_id: None,
                created_at: 0,
                last_changed_at: 0,
                last_accessed_day: None,
                deletion_date: None,
                tags: None,
                resource_policy: None,
                stages: Default::default(),
                rotation: None,
                next_rotation_at: None,
                revision,
            },
            versions: Vec::new(),
        })
    }

    #[test]
    fn without_a_maximum_age_entries_live_until_invalidated() {
        let cache = SecretCache::new(10, 1 << 20).with_max_age(None);
        let secret = aggregate("db", 1);
        cache.insert(cache.epoch(), secret.clone());
        std::thread::sleep(Duration::from_millis(20));
        assert!(cache.by_arn(&secret.secret.arn).is_some());
        assert!(cache.by_name("111122223333", "us-east-1", "db").is_some());
        cache.invalidate(&secret.secret);
        assert!(cache.by_arn(&secret.secret.arn).is_none());
    }

    #[test]
    fn entries_older_than_the_maximum_age_are_reloaded() {
        let cache = SecretCache::new(10, 1 << 20).with_max_age(Some(Duration::from_millis(50)));
        let secret = aggregate("db", 1);
        cache.insert(cache.epoch(), secret.clone());
        assert!(cache.by_arn(&secret.secret.arn).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.by_arn(&secret.secret.arn).is_none());
        assert!(cache.by_name("111122223333", "us-east-1", "db").is_none());
        // The reload's insert serves again.
        let newer = aggregate("db", 2);
        cache.insert(cache.epoch(), newer);
        assert_eq!(cache.by_arn(&secret.secret.arn).unwrap().secret.revision, 2);
    }

    #[test]
    fn age_counts_from_the_start_of_the_load() {
        let cache = SecretCache::new(10, 1 << 20).with_max_age(Some(Duration::from_millis(50)));
        let seen = cache.epoch();
        // A slow load: what it read may predate a change made elsewhere meanwhile.
        std::thread::sleep(Duration::from_millis(60));
        let secret = aggregate("db", 1);
        cache.insert(seen, secret.clone());
        assert!(cache.by_arn(&secret.secret.arn).is_none());
    }

    #[test]
    fn a_zero_maximum_age_serves_nothing_from_the_cache() {
        let cache = SecretCache::new(10, 1 << 20).with_max_age(Some(Duration::ZERO));
        let secret = aggregate("db", 1);
        cache.insert(cache.epoch(), secret.clone());
        assert!(cache.by_arn(&secret.secret.arn).is_none());
    }
}
