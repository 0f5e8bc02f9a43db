//! Shared by the tests against the local PostgreSQL (127.0.0.1:5432, user `postgres`) and
//! MariaDB (127.0.0.1:3306, `root` without a password) servers.
#![allow(dead_code)] // each test binary uses its own part

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_rotation_db::DatabaseSecret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub const PG_PORT: u16 = 5432;
pub const MY_PORT: u16 = 3306;

/// Passwords exercising every quoting rule: quotes, backslash, `%` and `$` (format and
/// dollar-quoting characters), spaces, non-ASCII. Non-ASCII here is left unchanged by SASLprep,
/// so the test's own SCRAM computation needs no normalisation.
pub const NASTY_PASSWORDS: &[&str] = &[
    r#"it's a "quoted" \ back\\slash %s %% $1 $$ end"#,
    "ünïcödé 密码 пароль ' \\' \\",
];

/// A name no other test, process or earlier run uses: tests run concurrently (nextest runs each
/// in its own process) and repeatedly against the same servers.
pub fn unique(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{tag}_{}_{nanos:x}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn secret(engine: &str, port: u16, username: &str, password: &str) -> DatabaseSecret {
    let json = serde_json::json!({
        "engine": engine,
        "host": "127.0.0.1",
        "port": port,
        "username": username,
        "password": password,
    });
    DatabaseSecret::parse(&json.to_string()).unwrap()
}

/// Runs `body`, then `cleanup` whether or not `body` panicked, then passes a panic on: the
/// servers are shared, so users and tables must not be left behind by a failing test.
pub async fn with_cleanup<B, C>(body: B, cleanup: C)
where
    B: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let outcome = tokio::spawn(body).await;
    cleanup.await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A TCP server that accepts connections and never says a word: a hung database.
pub async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

/// A port nothing listens on: bound, then released.
pub async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

pub const SHORT: Duration = Duration::from_millis(500);

/// Whether a SCRAM-SHA-256 verifier from `pg_authid.rolpassword` accepts `password`: the
/// check PostgreSQL makes at login, done here because this machine's pg_hba.conf trusts every
/// TCP login from 127.0.0.1 and so never asks for the password.
pub fn scram_verifies(verifier: &str, password: &str) -> bool {
    let rest = verifier
        .strip_prefix("SCRAM-SHA-256$")
        .expect("a SCRAM-SHA-256 verifier");
    let (iterations_salt, keys) = rest.split_once('$').unwrap();
    let (iterations, salt) = iterations_salt.split_once(':').unwrap();
    let (stored_key, server_key) = keys.split_once(':').unwrap();
    let iterations: u32 = iterations.parse().unwrap();
    let salt = STANDARD.decode(salt).unwrap();

    let hmac = |key: &[u8], data: &[&[u8]]| -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        for part in data {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    };
    // PBKDF2-HMAC-SHA-256, one block (RFC 5802 Hi()).
    let mut u = hmac(password.as_bytes(), &[&salt, &1u32.to_be_bytes()]);
    let mut salted = u;
    for _ in 1..iterations {
        u = hmac(password.as_bytes(), &[&u]);
        for (s, x) in salted.iter_mut().zip(u) {
            *s ^= x;
        }
    }
    let client_key = hmac(&salted, &[b"Client Key"]);
    let computed_stored: [u8; 32] = Sha256::digest(client_key).into();
    let computed_server = hmac(&salted, &[b"Server Key"]);
    STANDARD.encode(computed_stored) == stored_key && STANDARD.encode(computed_server) == server_key
}
