//! How database failures become [`StoreError`]s, and which of them are worth another attempt.
//!
//! Messages carry the SQLSTATE and PostgreSQL's primary message only, never its DETAIL:
//! the detail of a constraint violation quotes the row (names, ciphertext).

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use coffer_store::StoreError;
use tokio_postgres::error::SqlState;

/// Why one attempt at a statement or a transaction failed.
pub(crate) enum Fail {
    /// An answer for the caller (NameTaken, Conflict, NotFound, Corrupt): never retried.
    Store(StoreError),
    /// The database refused or failed; the runner decides whether another attempt may help.
    Db(tokio_postgres::Error),
}

pub(crate) type Outcome<T> = Result<T, Fail>;

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Fail {
        Fail::Db(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail::Store(e)
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> Fail {
    Fail::Store(StoreError::Corrupt(what.to_string()))
}

/// Attempts at one transaction before a run of serialization failures or deadlocks is
/// reported as `Unavailable`. Contention in this schema is short (row locks held for a few
/// statements), so a handful of quick retries clears it; more would only hide an overload.
pub(crate) const MAX_ATTEMPTS: u32 = 8;

/// Attempts after losing the connection. The pool's idle connections are dropped on such a
/// loss, so one is normally enough to get past connections the server closed (restart,
/// failover) before the pool noticed; the second covers a stale connection another task
/// handed back meanwhile. More losses mean the database is really gone, and the caller
/// should hear so.
const MAX_RECONNECTS: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// 40001 / 40P01: the transaction was rolled back and may simply be run again.
    Serialization,
    /// The connection is gone (closed socket, server shutting down, I/O error).
    ConnectionLost,
    /// 23505.
    UniqueViolation,
    Other,
}

pub(crate) fn kind(e: &tokio_postgres::Error) -> Kind {
    if e.is_closed() {
        return Kind::ConnectionLost;
    }
    if let Some(code) = e.code() {
        return if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            Kind::Serialization
        } else if *code == SqlState::UNIQUE_VIOLATION {
            Kind::UniqueViolation
        } else if code.code().starts_with("08")
            || *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
            || *code == SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT
        {
            Kind::ConnectionLost
        } else {
            Kind::Other
        };
    }
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    if io {
        Kind::ConnectionLost
    } else {
        Kind::Other
    }
}

/// The pause before attempt `attempt + 1`, or `None` when the failure is final.
/// `committing`: the failure came from COMMIT, when a lost connection leaves it unknown
/// whether the transaction was applied, so that it must not be run again.
pub(crate) fn retry_delay(
    e: &tokio_postgres::Error,
    attempt: u32,
    committing: bool,
) -> Option<Duration> {
    match kind(e) {
        Kind::Serialization if attempt < MAX_ATTEMPTS => Some(backoff(attempt)),
        Kind::ConnectionLost if !committing && attempt <= MAX_RECONNECTS => Some(Duration::ZERO),
        _ => None,
    }
}

/// Exponential from 2 ms, capped at 100 ms, with full jitter so that two nodes that collided
/// once do not collide again in lockstep.
fn backoff(attempt: u32) -> Duration {
    let ceiling_us = (2_000u64 << attempt.min(6)).min(100_000);
    // RandomState is seeded per instance from the OS: enough randomness for jitter without
    // a dependency on a random number crate.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_micros(ceiling_us / 2 + random % (ceiling_us / 2 + 1))
}

/// What the caller sees when a database failure is final.
pub(crate) fn store_error(e: tokio_postgres::Error, committing: bool) -> StoreError {
    match kind(&e) {
        Kind::UniqueViolation => StoreError::NameTaken,
        Kind::Serialization => StoreError::Unavailable(format!(
            "gave up after {MAX_ATTEMPTS} attempts that conflicted with concurrent writers: {}",
            describe(&e)
        )),
        Kind::ConnectionLost if committing => StoreError::Unavailable(format!(
            "the connection to PostgreSQL was lost while committing, so the change may or may \
             not have been applied: {}",
            describe(&e)
        )),
        Kind::ConnectionLost => StoreError::Unavailable(format!(
            "lost the connection to PostgreSQL: {}",
            describe(&e)
        )),
        Kind::Other if e.code() == Some(&SqlState::QUERY_CANCELED) => {
            StoreError::Unavailable(format!(
                "PostgreSQL cancelled a statement (statement timeout): {}",
                describe(&e)
            ))
        }
        Kind::Other => StoreError::Unavailable(describe(&e)),
    }
}

/// A one-line description without row contents.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        // DETAIL, HINT and WHERE are left out on purpose: DETAIL quotes the offending row.
        Some(db) => format!("PostgreSQL error {}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_its_ceiling() {
        for attempt in 0..20 {
            let delay = backoff(attempt);
            assert!(delay <= Duration::from_millis(100), "{attempt}: {delay:?}");
            assert!(
                delay >= Duration::from_micros(1_000),
                "{attempt}: {delay:?}"
            );
        }
    }
}
