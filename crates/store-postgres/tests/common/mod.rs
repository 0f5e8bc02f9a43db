//! A scratch schema per test, on the PostgreSQL at `COFFER_TEST_POSTGRES_URL`.

#![allow(dead_code)] // each test binary uses a different part of this

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coffer_store_postgres::{PgOptions, PgStore};

const PREFIX: &str = "coffer_test_";

/// Schemas a crashed or killed run left behind are dropped by a later run after this long
/// (a live test never takes near it).
const ABANDONED_AFTER: Duration = Duration::from_secs(30 * 60);

pub fn url() -> String {
    std::env::var("COFFER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url()` with an application name, so that a test can find its own sessions.
pub fn url_with_application_name(name: &str) -> String {
    let url = url();
    if url.contains("://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}application_name={name}")
    } else {
        format!("{url} application_name={name}")
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A schema name no other test (in this or another process) uses: the creation time, for
/// the sweep of abandoned schemas, then the process and a counter.
pub fn unique_schema_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{PREFIX}{}_{}_{n}_{nanos}", now_secs(), std::process::id())
}

pub async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .expect("the test PostgreSQL is reachable (set COFFER_TEST_POSTGRES_URL)");
    tokio::spawn(connection);
    client
}

/// Drops the scratch schema when the test ends, however it ends.
pub struct SchemaGuard {
    pub name: String,
}

impl SchemaGuard {
    /// Names a fresh schema (the store creates it) and sweeps abandoned ones.
    pub async fn new() -> SchemaGuard {
        sweep_abandoned().await;
        SchemaGuard {
            name: unique_schema_name(),
        }
    }

    pub fn options(&self) -> PgOptions {
        PgOptions {
            schema: Some(self.name.clone()),
            // Tests run in parallel against one server with max_connections of 100.
            pool_size: 8,
            ..PgOptions::default()
        }
    }

    /// The URL the test's stores connect with: its sessions carry the schema's name as
    /// their application name, so that the guard (and tests) can find them.
    pub fn url(&self) -> String {
        url_with_application_name(&self.name)
    }

    pub async fn store(&self) -> PgStore {
        PgStore::connect(&self.url(), self.options()).await.unwrap()
    }
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        // Drop cannot await, and may run on a runtime worker: a thread of its own with its
        // own runtime does the work, and is waited for so that the schema is gone when the
        // test process exits.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let client = admin().await;
                    // A store's connection may outlive the test for a moment (a current-thread
                    // runtime blocked here cannot run the task that would close it) while it
                    // still holds locks: end the test's sessions rather than wait for them.
                    client
                        .execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                             WHERE application_name = $1",
                            &[&name],
                        )
                        .await?;
                    client
                        .batch_execute(&format!(
                            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                        ))
                        .await
                })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test schema {}: {e}", self.name);
        }
    }
}

async fn sweep_abandoned() {
    let client = admin().await;
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
            &[&PREFIX],
        )
        .await
        .unwrap();
    let cutoff = now_secs().saturating_sub(ABANDONED_AFTER.as_secs());
    for row in rows {
        let name: String = row.get(0);
        let created = name[PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t < cutoff) {
            // Another test may be sweeping the same schema: its error is not ours.
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                .await;
        }
    }
}

/// A fresh store in a fresh schema, and the guard that drops the schema.
pub async fn fresh() -> (PgStore, SchemaGuard) {
    let guard = SchemaGuard::new().await;
    let store = guard.store().await;
    (store, guard)
}
