//! Leases: how a background job (the deletion purge, the audit retention purge, KMS key
//! maintenance, rotation scheduling) runs on one node at a time when several nodes share a
//! store, and is taken over when that node dies.
//!
//! A job calls [`Lease::try_hold`] at the top of each round and runs the round only when it
//! returns true; a long round calls it again between steps, which renews the lease. The store
//! grants a lease to one holder until `now + ttl` ([`coffer_store::Store::acquire_lease`]),
//! so a node that dies (or stops renewing) loses it when the TTL runs out, and the next node
//! to try takes it over. On a clean stop, [`Lease::release`] hands it over at once.
//!
//! Leases keep the work from being done several times over; they are not what makes it
//! correct. The jobs only ever make compare-and-swap changes (a purge removes a secret only
//! at the revision it read), so a round that overlaps another node's (a holder paused for
//! longer than the TTL, clocks that disagree) does redundant work, never wrong work.
//!
//! Time comes from the caller (the injected [`crate::Clock`]), so nodes must keep their
//! clocks in step to well within the TTL, as NTP does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use coffer_store::Store;

use crate::clock::Millis;

/// One named lease, as seen by one holder (this node).
pub struct Lease<S: Store> {
    store: Arc<S>,
    name: String,
    holder: String,
    ttl: Duration,
    /// The last answer: only for logging when the job changes hands, never for deciding.
    held: AtomicBool,
}

impl<S: Store> Lease<S> {
    /// A lease `name` taken by `holder` (unique per process: see [`node_id`]) for `ttl` at a
    /// time. The TTL must exceed the time between two renewals, or the job changes hands
    /// while its holder is alive.
    pub fn new(
        store: Arc<S>,
        name: impl Into<String>,
        holder: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Lease {
            store,
            name: name.into(),
            holder: holder.into(),
            ttl,
            held: AtomicBool::new(false),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Takes the lease, or renews it if this node holds it; whether this node may run the
    /// job now. A store failure counts as not holding it: a node that cannot reach the store
    /// cannot tell whether another node took over.
    pub async fn try_hold(&self, now: Millis) -> bool {
        let ttl_ms = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let held = match self
            .store
            .acquire_lease(&self.name, &self.holder, now, ttl_ms)
            .await
        {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(lease = %self.name, %error, "could not take or renew a job lease; skipping this round");
                false
            }
        };
        let was = self.held.swap(held, Ordering::AcqRel);
        match (was, held) {
            (false, true) => {
                tracing::info!(lease = %self.name, holder = %self.holder, "this node now runs the job")
            }
            (true, false) => {
                tracing::info!(lease = %self.name, holder = %self.holder, "this node no longer runs the job")
            }
            (_, true) => tracing::debug!(lease = %self.name, "job lease renewed"),
            (_, false) => {
                tracing::debug!(lease = %self.name, "job lease held by another node")
            }
        }
        held
    }

    /// Gives the lease up if this node holds it, so another node takes over without waiting
    /// for it to expire (at shutdown). Failures are logged: the lease then simply expires.
    pub async fn release(&self) {
        if !self.held.swap(false, Ordering::AcqRel) {
            return;
        }
        match self.store.release_lease(&self.name, &self.holder).await {
            Ok(()) => tracing::debug!(lease = %self.name, "job lease released"),
            Err(error) => {
                tracing::warn!(lease = %self.name, %error, "could not release a job lease; it will expire")
            }
        }
    }
}

/// A holder id for this process: unique among nodes (random), and readable in the store's
/// lease table and in logs (host and process id).
pub fn node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &random[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    #[test]
    fn node_ids_differ_between_calls() {
        assert_ne!(node_id(), node_id());
    }

    async fn with_embedded<T>(
        f: impl AsyncFnOnce(Arc<coffer_store_embedded::EmbeddedStore>) -> T,
    ) -> T {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(coffer_store_embedded::EmbeddedStore::open(dir.path().join("s.db")).unwrap());
        f(store).await
    }

    #[tokio::test]
    async fn one_node_holds_a_job_until_it_stops_renewing_or_releases_it() {
        with_embedded(async |store| {
            let clock = ManualClock::new(1_000_000);
            let ttl = Duration::from_secs(10);
            let a = Lease::new(store.clone(), "deletion-purge", "node-a", ttl);
            let b = Lease::new(store.clone(), "deletion-purge", "node-b", ttl);
            assert!(a.try_hold(clock.now()).await);
            assert!(!b.try_hold(clock.now()).await);
            // The holder renews each round; the other node keeps being refused.
            for _ in 0..5 {
                clock.advance(6_000);
                assert!(a.try_hold(clock.now()).await);
                assert!(!b.try_hold(clock.now()).await);
            }
            // The holder dies: once its TTL has run out, the other node takes over.
            clock.advance(9_999);
            assert!(!b.try_hold(clock.now()).await);
            clock.advance(1);
            assert!(b.try_hold(clock.now()).await);
            assert!(!a.try_hold(clock.now()).await);
            // A clean stop hands it over at once.
            b.release().await;
            assert!(a.try_hold(clock.now()).await);
            // Another job's lease is independent.
            let other = Lease::new(store.clone(), "kms-maintenance", "node-b", ttl);
            assert!(other.try_hold(clock.now()).await);
        })
        .await;
    }

    #[tokio::test]
    async fn releasing_a_lease_this_node_does_not_hold_changes_nothing() {
        with_embedded(async |store| {
            let ttl = Duration::from_secs(10);
            let a = Lease::new(store.clone(), "job", "node-a", ttl);
            let b = Lease::new(store.clone(), "job", "node-b", ttl);
            assert!(a.try_hold(0).await);
            b.release().await;
            assert!(!b.try_hold(1).await);
            b.release().await;
            assert!(
                !b.try_hold(2).await,
                "b never held it, so its release removed nothing"
            );
        })
        .await;
    }
}
