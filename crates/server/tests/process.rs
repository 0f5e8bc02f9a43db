//! Process-level guarantees of the `coffer` binary: durability of acknowledged writes across
//! SIGKILL, no secret material at rest or in logs, graceful shutdown, the data directory's
//! lock / root key / generated administrator credentials, the command line, `coffer
//! profile` and `--dev`.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::primitives::Blob;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::{ACCESS_KEY_ID, ACCOUNT_ID, Options, REGION, SECRET_ACCESS_KEY, Server, client_for};

/// The documented, fixed credentials of `coffer server --dev`.
const DEV_ACCESS_KEY_ID: &str = "AKIACOFFERDEVKEY0001";
const DEV_SECRET_ACCESS_KEY: &str = "cofferDevSecretKey/DoNotUseInProduction0";

// -------------------------------------------------------------------------------------------
// Helpers
// -------------------------------------------------------------------------------------------

/// Polls `condition` every 10 ms until it holds; panics with `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out.truncate(n);
    out
}

fn random_text(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        hex_lower(&random_bytes(20)).to_ascii_uppercase()
    )
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A `coffer` process started by these tests themselves (for runs the harness cannot
/// express: no administrator key in the environment, `--dev`, the whole stdout).
struct Proc {
    child: Option<Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Proc {
    /// `coffer <args>` with a clean environment (PATH plus `env`).
    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut child = Command::new(common::coffer_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start coffer");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let collect = |pipe: Box<dyn Read + Send>, into: Arc<Mutex<String>>| {
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut text = into.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            })
        };
        let readers = vec![
            collect(Box::new(child.stdout.take().unwrap()), stdout.clone()),
            collect(Box::new(child.stderr.take().unwrap()), stderr.clone()),
        ];
        Proc {
            child: Some(child),
            stdout,
            stderr,
            readers,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn output(&self) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            self.stdout(),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits for the "listening on" line and returns the endpoint URL.
    fn endpoint(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(rest) = self.stdout().split("listening on ").nth(1) {
                return rest.lines().next().unwrap().trim().to_owned();
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.join_readers();
                panic!(
                    "coffer exited with {status} before listening:\n{}",
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "coffer did not listen within 30 s:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_for_stdout(&self, text: &str) {
        wait_until(
            &format!("{text:?} on stdout"),
            Duration::from_secs(30),
            || self.stdout().contains(text),
        );
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }

    /// Waits for the process to exit on its own; all output is collected afterwards.
    fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "coffer did not exit in time:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        self.child = None;
        self.join_readers();
        status
    }

    /// SIGTERM, then waits for the exit.
    fn terminate(&mut self) -> ExitStatus {
        common::signal(self.child.as_ref().expect("running").id(), "TERM");
        self.wait(Duration::from_secs(30))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `coffer <args>` to completion, with a clean environment.
fn run_coffer(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let output = Command::new(common::coffer_bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run coffer");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// All versions of a secret (deprecated ones included): version id -> labels.
async fn all_versions(client: &Client, secret: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let page = client
            .list_secret_version_ids()
            .secret_id(secret)
            .include_deprecated(true)
            .max_results(100)
            .set_next_token(next.take())
            .send()
            .await
            .unwrap_or_else(|e| panic!("ListSecretVersionIds {secret}: {e:?}"));
        for version in page.versions() {
            let id = version.version_id().unwrap().to_owned();
            let stages = version.version_stages().to_vec();
            assert!(
                out.insert(id.clone(), stages).is_none(),
                "{secret}: version {id} listed twice"
            );
        }
        match page.next_token() {
            Some(token) => next = Some(token.to_owned()),
            None => return out,
        }
    }
}

// -------------------------------------------------------------------------------------------
// Raw requests (for a request that is provably in flight)
// -------------------------------------------------------------------------------------------

/// SigV4 headers (`x-amz-date`, `authorization`) for a `POST /` to `host`.
fn sigv4_headers(host: &str, target: &str, body: &[u8]) -> Vec<(String, String)> {
    let mut headers = vec![
        ("host".to_owned(), host.to_owned()),
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        ("x-amz-target".to_owned(), target.to_owned()),
    ];
    let added = common::Signer::admin().sign("POST", host, "/", &headers, body);
    headers.extend(added);
    headers
}

/// Reads from `stream` until `raw` holds a complete response head; returns its length.
fn read_head(stream: &mut TcpStream, raw: &mut Vec<u8>) -> usize {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            return at + 4;
        }
        let n = stream.read(&mut buf).expect("read response");
        assert!(
            n > 0,
            "connection closed before a response head: {:?}",
            String::from_utf8_lossy(raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}

// -------------------------------------------------------------------------------------------
// Crash safety
// -------------------------------------------------------------------------------------------

/// What one writer did to one secret.
#[derive(Default, Clone)]
struct Writes {
    /// (VersionId, value) of every acknowledged PutSecretValue, in order.
    acked: Vec<(String, String)>,
    /// Every ClientRequestToken sent (acknowledged or not).
    attempted: Vec<String>,
}

struct CrashSecret {
    name: String,
    initial_version: String,
    initial_value: String,
    /// One entry per writer.
    writers: Vec<Arc<Mutex<Writes>>>,
}

impl CrashSecret {
    fn acked(&self) -> Vec<(String, String)> {
        self.writers
            .iter()
            .flat_map(|w| w.lock().unwrap().acked.clone())
            .collect()
    }

    fn attempted(&self) -> HashSet<String> {
        self.writers
            .iter()
            .flat_map(|w| w.lock().unwrap().attempted.clone())
            .collect()
    }
}

/// Checks every acknowledged version of every secret; returns the number of versions found.
async fn verify_crash_secrets(client: &Client, secrets: &[CrashSecret]) -> usize {
    let mut found = 0;
    for secret in secrets {
        let versions = all_versions(client, &secret.name).await;
        found += versions.len();
        let acked = secret.acked();
        let attempted = secret.attempted();
        let acked_ids: HashSet<&str> = acked.iter().map(|(id, _)| id.as_str()).collect();

        // Every acknowledged version is there, with the acknowledged value.
        for (version_id, value) in &acked {
            assert!(
                versions.contains_key(version_id),
                "{}: acknowledged version {version_id} lost ({} acked, {} found)",
                secret.name,
                acked.len(),
                versions.len()
            );
            let read = client
                .get_secret_value()
                .secret_id(&secret.name)
                .version_id(version_id)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{} {version_id}: {e:?}", secret.name));
            assert_eq!(
                read.secret_string(),
                Some(value.as_str()),
                "{} {version_id}",
                secret.name
            );
        }
        // Nothing appears that nobody wrote.
        for id in versions.keys() {
            assert!(
                *id == secret.initial_version || attempted.contains(id),
                "{}: unknown version {id}",
                secret.name
            );
        }
        // Exactly one AWSCURRENT.
        let current: Vec<&String> = versions
            .iter()
            .filter(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
            .map(|(id, _)| id)
            .collect();
        assert_eq!(
            current.len(),
            1,
            "{}: AWSCURRENT on {current:?}",
            secret.name
        );
        let current = current[0].clone();
        for (id, stages) in &versions {
            for stage in stages {
                assert_eq!(
                    versions
                        .values()
                        .filter(|s| s.iter().any(|x| x == stage))
                        .count(),
                    1,
                    "{}: label {stage} (on {id}) is on several versions",
                    secret.name
                );
            }
        }
        // With one sequential writer, AWSCURRENT is the last acknowledged version or the
        // one request that was in flight when the server died.
        if let [writer] = secret.writers.as_slice() {
            let writes = writer.lock().unwrap();
            let last_acked = writes
                .acked
                .last()
                .map(|(id, _)| id.clone())
                .unwrap_or_else(|| secret.initial_version.clone());
            let mut allowed = vec![last_acked];
            if let Some(last) = writes
                .attempted
                .last()
                .filter(|t| !acked_ids.contains(t.as_str()))
            {
                allowed.push(last.clone());
            }
            assert!(
                allowed.contains(&current),
                "{}: AWSCURRENT is {current}, expected one of {allowed:?}",
                secret.name
            );
            let unacked: Vec<&String> = writes
                .attempted
                .iter()
                .filter(|t| !acked_ids.contains(t.as_str()))
                .collect();
            assert!(
                unacked.len() <= 1,
                "{}: several unacknowledged attempts {unacked:?}",
                secret.name
            );
        }
        // The current value is readable by label.
        let read = client
            .get_secret_value()
            .secret_id(&secret.name)
            .send()
            .await
            .unwrap();
        assert_eq!(read.version_id(), Some(current.as_str()));
        if current == secret.initial_version {
            assert_eq!(read.secret_string(), Some(secret.initial_value.as_str()));
        }
    }
    found
}

/// Every acknowledged CreateSecret (name, VersionId, value) is there with its value.
async fn verify_created_secrets(client: &Client, created: &[(String, String, String)]) {
    for (name, version_id, value) in created {
        let read = client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("acknowledged CreateSecret {name} lost: {e:?}"));
        assert_eq!(read.version_id(), Some(version_id.as_str()), "{name}");
        assert_eq!(read.secret_string(), Some(value.as_str()), "{name}");
        assert_eq!(read.version_stages(), ["AWSCURRENT"], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    /// Kill after this many acknowledged PutSecretValue calls, one round each.
    const KILL_AFTER: [usize; 3] = [7, 60, 180];
    /// Puts per writer; with the initial version this stays under AWS's 100 versions.
    const PUTS_PER_WRITER: usize = 90;

    let mut server = Server::start();
    let _data = server.keep_data();
    let data_dir = server.data_dir.clone();
    let mut secrets: Vec<CrashSecret> = Vec::new();
    let created: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();

    for (round, kill_after) in KILL_AFTER.into_iter().enumerate() {
        if round > 0 {
            server = Server::start_with(Options {
                data_dir: Some(data_dir.clone()),
                ..Options::default()
            });
            let client = server.client().await;
            let found = verify_crash_secrets(&client, &secrets).await;
            let created = created.lock().unwrap().clone();
            verify_created_secrets(&client, &created).await;
            eprintln!(
                "round {round}: after restart, {found} versions found, all acknowledged ones intact; {} acknowledged creates intact",
                created.len()
            );
        }
        let client = server.client().await;

        // Four secrets with one sequential writer each, one with two concurrent writers.
        let mut round_secrets = Vec::new();
        for (i, writers) in [1, 1, 1, 1, 2].into_iter().enumerate() {
            let name = format!("crash/r{round}/s{i}");
            let value = random_text("initial");
            let created = client
                .create_secret()
                .name(&name)
                .secret_string(&value)
                .send()
                .await
                .unwrap();
            round_secrets.push(CrashSecret {
                name,
                initial_version: created.version_id().unwrap().to_owned(),
                initial_value: value,
                writers: (0..writers)
                    .map(|_| Arc::new(Mutex::new(Writes::default())))
                    .collect(),
            });
        }

        let acks = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for secret in &round_secrets {
            let puts = PUTS_PER_WRITER / secret.writers.len();
            for writes in &secret.writers {
                let (client, name, writes) = (client.clone(), secret.name.clone(), writes.clone());
                let (acks, in_flight) = (acks.clone(), in_flight.clone());
                tasks.push(tokio::spawn(async move {
                    for n in 0..puts {
                        let token = uuid::Uuid::new_v4().to_string();
                        let value = format!("{name}#{n}#{}", random_text("v"));
                        writes.lock().unwrap().attempted.push(token.clone());
                        in_flight.fetch_add(1, Ordering::SeqCst);
                        let result = client
                            .put_secret_value()
                            .secret_id(&name)
                            .client_request_token(&token)
                            .secret_string(&value)
                            .send()
                            .await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        match result {
                            Ok(out) => {
                                assert_eq!(out.version_id(), Some(token.as_str()));
                                writes.lock().unwrap().acked.push((token, value));
                                acks.fetch_add(1, Ordering::SeqCst);
                            }
                            // The server is gone: stop here.
                            Err(_) => return,
                        }
                    }
                }));
            }
        }

        // And a writer that creates new secrets.
        {
            let (client, created, in_flight) = (client.clone(), created.clone(), in_flight.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..200 {
                    let name = format!("crash/r{round}/created{n}");
                    let value = random_text("created");
                    in_flight.fetch_add(1, Ordering::SeqCst);
                    let result = client
                        .create_secret()
                        .name(&name)
                        .secret_string(&value)
                        .send()
                        .await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    match result {
                        Ok(out) => created.lock().unwrap().push((
                            name,
                            out.version_id().unwrap().to_owned(),
                            value,
                        )),
                        Err(_) => return,
                    }
                }
            }));
        }

        // Kill from another task once enough writes are acknowledged.
        let pid = server.pid();
        let killer = {
            let (acks, in_flight) = (acks.clone(), in_flight.clone());
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(120);
                while acks.load(Ordering::SeqCst) < kill_after {
                    assert!(Instant::now() < deadline, "too few acknowledgements");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let at_kill = (
                    acks.load(Ordering::SeqCst),
                    in_flight.load(Ordering::SeqCst),
                );
                common::signal(pid, "KILL");
                at_kill
            })
        };
        let (acks_at_kill, in_flight_at_kill) = killer.await.unwrap();
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .expect("a writer hung after the kill")
                .unwrap();
        }
        server.kill9(); // reaps the process
        eprintln!(
            "round {round}: SIGKILL after {acks_at_kill} acks ({in_flight_at_kill} requests in flight); {} acks in total",
            acks.load(Ordering::SeqCst)
        );
        assert!(
            acks.load(Ordering::SeqCst) < 5 * PUTS_PER_WRITER,
            "the kill came too late"
        );
        secrets.extend(round_secrets);
    }

    // Final restart: everything acknowledged in every round is there, and writes work.
    let mut server = Server::start_with(Options {
        data_dir: Some(data_dir.clone()),
        ..Options::default()
    });
    let client = server.client().await;
    let found = verify_crash_secrets(&client, &secrets).await;
    let created = created.lock().unwrap().clone();
    verify_created_secrets(&client, &created).await;
    let acked: usize = secrets.iter().map(|s| s.acked().len()).sum();
    eprintln!(
        "final: {acked} acknowledged puts over {} secrets, {found} versions found; {} acknowledged creates intact",
        secrets.len(),
        created.len()
    );
    for secret in &secrets {
        client
            .put_secret_value()
            .secret_id(&secret.name)
            .secret_string("after the crash")
            .send()
            .await
            .unwrap();
    }
    assert!(server.terminate().success());
}

// -------------------------------------------------------------------------------------------
// No plaintext at rest or in logs
// -------------------------------------------------------------------------------------------

/// The byte strings that must never appear, with a label for the failure message.
fn needles(strings: &[(&str, &str)], binaries: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (label, value) in strings {
        out.push((format!("{label} (raw)"), value.as_bytes().to_vec()));
        out.push((
            format!("{label} (base64)"),
            STANDARD.encode(value).into_bytes(),
        ));
    }
    for (label, value) in binaries {
        out.push((format!("{label} (raw bytes)"), value.to_vec()));
        out.push((
            format!("{label} (base64)"),
            STANDARD.encode(value).into_bytes(),
        ));
        out.push((
            format!("{label} (base64, no padding)"),
            STANDARD_NO_PAD.encode(value).into_bytes(),
        ));
        out.push((
            format!("{label} (base64url)"),
            URL_SAFE.encode(value).into_bytes(),
        ));
        out.push((
            format!("{label} (base64url, no padding)"),
            URL_SAFE_NO_PAD.encode(value).into_bytes(),
        ));
        out.push((format!("{label} (hex)"), hex_lower(value).into_bytes()));
    }
    out
}

fn assert_absent(place: &str, content: &[u8], needles: &[(String, Vec<u8>)]) {
    for (label, needle) in needles {
        assert!(
            !contains(content, needle),
            "{label} found in {place} ({} bytes)",
            content.len()
        );
    }
}

fn scan_data_dir(data_dir: &Path, needles: &[(String, Vec<u8>)]) -> usize {
    let files = common::files_below(data_dir);
    for file in &files {
        // A file may vanish between listing and reading (SQLite's -shm/-wal at close).
        let Ok(content) = std::fs::read(file) else {
            continue;
        };
        assert_absent(&file.display().to_string(), &content, needles);
    }
    files.len()
}

#[tokio::test]
async fn no_secret_material_at_rest_or_in_the_log() {
    let mut server = Server::start_with(Options {
        log: Some("trace".into()),
        ..Options::default()
    });
    let client = server.client().await;
    let data_dir = server.data_dir.clone();

    let string_1 = random_text("string-one");
    let string_2 = random_text("string-two");
    let string_3 = random_text("string-three");
    let refused_string = random_text("refused");
    let long_marker = random_text("long");
    let binary_1 = random_bytes(64);
    let binary_2 = random_bytes(48);
    let json_value = format!(r#"{{"username":"app","password":"{}"}}"#, random_text("pw"));

    // Writes and reads of string and binary secrets.
    client
        .create_secret()
        .name("plain/string")
        .description("a description is not secret")
        .secret_string(&string_1)
        .send()
        .await
        .unwrap();
    client
        .create_secret()
        .name("plain/binary")
        .secret_binary(Blob::new(binary_1.clone()))
        .send()
        .await
        .unwrap();
    client
        .create_secret()
        .name("plain/json")
        .secret_string(&json_value)
        .send()
        .await
        .unwrap();
    let read = client
        .get_secret_value()
        .secret_id("plain/string")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_string(), Some(string_1.as_str()));
    let read = client
        .get_secret_value()
        .secret_id("plain/binary")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_binary().unwrap().as_ref(), binary_1.as_slice());
    client
        .put_secret_value()
        .secret_id("plain/string")
        .secret_string(&string_2)
        .send()
        .await
        .unwrap();
    client
        .put_secret_value()
        .secret_id("plain/binary")
        .secret_binary(Blob::new(binary_2.clone()))
        .send()
        .await
        .unwrap();
    client
        .update_secret()
        .secret_id("plain/string")
        .secret_string(&string_3)
        .send()
        .await
        .unwrap();
    let previous = client
        .get_secret_value()
        .secret_id("plain/string")
        .version_stage("AWSPREVIOUS")
        .send()
        .await
        .unwrap();
    assert_eq!(previous.secret_string(), Some(string_2.as_str()));
    let batch = client
        .batch_get_secret_value()
        .secret_id_list("plain/string")
        .secret_id_list("plain/binary")
        .secret_id_list("plain/json")
        .send()
        .await
        .unwrap();
    assert_eq!(batch.secret_values().len(), 3);
    client
        .describe_secret()
        .secret_id("plain/string")
        .send()
        .await
        .unwrap();
    client
        .list_secret_version_ids()
        .secret_id("plain/binary")
        .include_deprecated(true)
        .send()
        .await
        .unwrap();
    let password = client
        .get_random_password()
        .password_length(40)
        .send()
        .await
        .unwrap()
        .random_password()
        .unwrap()
        .to_owned();
    // Deleting a secret does not leave its value around in the clear either.
    client
        .delete_secret()
        .secret_id("plain/json")
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();

    // Refused requests that carry secret material.
    let both = client
        .create_secret()
        .name("plain/both")
        .secret_string(&refused_string)
        .secret_binary(Blob::new(binary_2.clone()))
        .send()
        .await;
    assert!(both.is_err());
    let missing = client
        .put_secret_value()
        .secret_id("plain/does-not-exist")
        .secret_string(&refused_string)
        .send()
        .await;
    assert!(missing.is_err());
    let too_long = client
        .create_secret()
        .name("plain/too-long")
        .secret_string(long_marker.repeat(65536 / long_marker.len() + 1))
        .send()
        .await;
    assert!(too_long.is_err());

    let strings = [
        ("SecretString 1", string_1.as_str()),
        ("SecretString 2", string_2.as_str()),
        ("SecretString 3", string_3.as_str()),
        ("JSON SecretString", json_value.as_str()),
        ("refused SecretString", refused_string.as_str()),
        ("too-long SecretString", long_marker.as_str()),
        ("RandomPassword", password.as_str()),
        // The administrator's secret access key (set through COFFER_ADMIN_* by the harness).
        ("admin secret access key", SECRET_ACCESS_KEY),
    ];
    let binaries = [
        ("SecretBinary 1", binary_1.as_slice()),
        ("SecretBinary 2", binary_2.as_slice()),
    ];
    let needles = needles(&strings, &binaries);

    // While running (the WAL and shared-memory files exist now).
    let files = scan_data_dir(&data_dir, &needles);
    assert!(files >= 2, "expected a store in {}", data_dir.display());
    assert_absent("the log (running)", server.log().as_bytes(), &needles);

    assert!(server.terminate().success(), "{}", server.log());

    let log = server.log();
    assert!(
        log.contains("GetSecretValue") && log.contains("PutSecretValue"),
        "the log was not captured:\n{log}"
    );
    assert!(log.contains("TRACE") || log.contains("DEBUG") || log.contains("request"));
    assert_absent("the log", log.as_bytes(), &needles);
    let files = scan_data_dir(&data_dir, &needles);
    eprintln!(
        "scanned {files} files under {} and {} bytes of log",
        data_dir.display(),
        log.len()
    );

    // The admin key came from COFFER_ADMIN_*: no credentials file is written at all. (The
    // one place a *generated* admin secret key may be stored in the clear is
    // <data-dir>/admin-credentials: see a_generated_admin_key_is_written_once_privately.)
    assert!(
        !data_dir.join("admin-credentials").exists(),
        "admin-credentials written although the key came from the environment"
    );
}

// -------------------------------------------------------------------------------------------
// Graceful shutdown
// -------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let mut server = Server::start();
    let _data = server.keep_data();
    let data_dir = server.data_dir.clone();
    let client = server.client().await;
    client
        .create_secret()
        .name("graceful/raw")
        .secret_string("before")
        .send()
        .await
        .unwrap();
    for i in 0..3 {
        client
            .create_secret()
            .name(format!("graceful/sdk{i}"))
            .secret_string("before")
            .send()
            .await
            .unwrap();
    }

    // SDK writers keep requests flowing until the server stops answering.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
    let mut writers = Vec::new();
    for i in 0..3 {
        let (client, stop, acked) = (client.clone(), stop.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let name = format!("graceful/sdk{i}");
            for n in 0..80 {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let value = format!("{name}-{n}");
                match client
                    .put_secret_value()
                    .secret_id(&name)
                    .secret_string(&value)
                    .send()
                    .await
                {
                    Ok(out) => acked.lock().unwrap().push((
                        name.clone(),
                        out.version_id().unwrap().to_owned(),
                        value,
                    )),
                    Err(_) => return,
                }
            }
        }));
    }
    wait_until("some SDK writes", Duration::from_secs(30), || {
        acked.lock().unwrap().len() >= 5
    });

    // A raw PutSecretValue that is provably in flight: the server has read its head and is
    // waiting for the body (it said "100 Continue").
    let host = server
        .endpoint
        .strip_prefix("http://")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let token = uuid::Uuid::new_v4().to_string();
    let body = format!(
        r#"{{"SecretId":"graceful/raw","ClientRequestToken":"{token}","SecretString":"in flight at SIGTERM"}}"#
    );
    let mut head = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in sigv4_headers(&host, "secretsmanager.PutSecretValue", body.as_bytes()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nexpect: 100-continue\r\n\r\n",
        body.len()
    ));
    let mut stream = TcpStream::connect(&host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let head_len = read_head(&mut stream, &mut raw);
    let interim = String::from_utf8_lossy(&raw[..head_len]).into_owned();
    assert!(
        interim.starts_with("HTTP/1.1 100"),
        "expected 100 Continue, got {interim:?}"
    );
    raw.drain(..head_len);

    // SIGTERM while that request (and the SDK's) are in flight.
    common::signal(server.pid(), "TERM");
    wait_until("the stopping log line", Duration::from_secs(30), || {
        server.log().contains("stopping")
    });

    // The in-flight request completes successfully after the signal.
    stream.write_all(body.as_bytes()).unwrap();
    let head_len = read_head(&mut stream, &mut raw);
    let response_head = String::from_utf8_lossy(&raw[..head_len]).into_owned();
    let mut rest = raw[head_len..].to_vec();
    let _ = stream.read_to_end(&mut rest);
    assert!(
        response_head.starts_with("HTTP/1.1 200"),
        "in-flight request after SIGTERM: {response_head} {}",
        String::from_utf8_lossy(&rest)
    );
    let answer: serde_json::Value = serde_json::from_slice(&rest)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&rest)));
    assert_eq!(answer["VersionId"], token.as_str());

    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(60), writer)
            .await
            .expect("an SDK writer hung during shutdown")
            .unwrap();
    }
    // The process exits 0 (a second SIGTERM from `terminate` is harmless at this point).
    let status = server.terminate();
    assert!(status.success(), "exit status {status}:\n{}", server.log());
    assert!(server.log().contains("stopped"), "{}", server.log());

    // A restart on the same data dir sees everything that was acknowledged.
    let server = Server::start_with(Options {
        data_dir: Some(data_dir),
        ..Options::default()
    });
    let client = server.client().await;
    let read = client
        .get_secret_value()
        .secret_id("graceful/raw")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_string(), Some("in flight at SIGTERM"));
    assert_eq!(read.version_id(), Some(token.as_str()));
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "graceful: {} SDK writes acknowledged before the stop",
        acked.len()
    );
    for (name, version, value) in &acked {
        let read = client
            .get_secret_value()
            .secret_id(name)
            .version_id(version)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name} {version}: {e:?}"));
        assert_eq!(read.secret_string(), Some(value.as_str()));
    }
}

#[tokio::test]
async fn idle_connections_do_not_delay_a_graceful_stop() {
    let mut server = Server::start_with(Options {
        args: vec!["--shutdown-grace".into(), "20".into()],
        ..Options::default()
    });
    let host = server
        .endpoint
        .strip_prefix("http://")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    // A keep-alive connection that has finished one request and stays open.
    let mut kept_alive = TcpStream::connect(&host).unwrap();
    kept_alive
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = b"{}";
    let mut head = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in sigv4_headers(&host, "secretsmanager.ListSecrets", body) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("content-length: 2\r\n\r\n{}");
    kept_alive.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let head_len = read_head(&mut kept_alive, &mut raw);
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&raw[..head_len])
    );
    // A connection that never sends anything.
    let _silent = TcpStream::connect(&host).unwrap();
    // An SDK client with pooled connections.
    server.client().await.list_secrets().send().await.unwrap();

    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "{status}: {}", server.log());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "idle connections held the stop for {:?} (grace 20 s)",
        started.elapsed()
    );
}

// -------------------------------------------------------------------------------------------
// Data directory: lock, root key, administrator credentials
// -------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_fails_fast() {
    let mut first = Server::start();
    let data_dir = first.data_dir.clone();
    let client = first.client().await;
    client
        .create_secret()
        .name("lock/a")
        .secret_string("v")
        .send()
        .await
        .unwrap();

    let started = Instant::now();
    let error = match Server::try_start(Options {
        data_dir: Some(data_dir.clone()),
        ..Options::default()
    }) {
        Ok(_) => panic!("a second server started on {}", data_dir.display()),
        Err(error) => error,
    };
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?} to fail",
        started.elapsed()
    );
    assert!(
        error.contains(&format!(
            "another coffer server is already using {}",
            data_dir.display()
        )),
        "{error}"
    );
    assert!(!error.contains("exit status: 0"), "{error}");

    // The first server is unaffected.
    let read = client
        .get_secret_value()
        .secret_id("lock/a")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_string(), Some("v"));

    // Once it has stopped, the directory is free again.
    let _data = first.keep_data();
    assert!(first.terminate().success());
    let second = Server::start_with(Options {
        data_dir: Some(data_dir),
        ..Options::default()
    });
    let read = second
        .client()
        .await
        .get_secret_value()
        .secret_id("lock/a")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_string(), Some("v"));
}

#[tokio::test]
async fn the_root_key_is_generated_privately_and_a_wrong_one_is_refused() {
    let mut server = Server::start();
    let _data = server.keep_data();
    let data_dir = server.data_dir.clone();
    let root_key_path = data_dir.join("root.key");
    assert_eq!(mode_of(&data_dir), 0o700, "data directory mode");
    assert_eq!(mode_of(&root_key_path), 0o600, "root.key mode");
    let root_key = std::fs::read_to_string(&root_key_path).unwrap();
    let decoded = STANDARD
        .decode(root_key.trim())
        .expect("root.key holds base64");
    assert_eq!(decoded.len(), 32, "root.key holds 32 bytes");

    server
        .client()
        .await
        .create_secret()
        .name("root/a")
        .secret_string("sealed")
        .send()
        .await
        .unwrap();
    assert!(server.terminate().success());

    // Another valid key: refused, with a message that says so (and never echoes the key).
    let other_key = STANDARD.encode(random_bytes(32));
    let started = Instant::now();
    let error = match Server::try_start(Options {
        data_dir: Some(data_dir.clone()),
        env: vec![("COFFER_ROOT_KEY".into(), other_key.clone())],
        ..Options::default()
    }) {
        Ok(_) => panic!("started with the wrong root key"),
        Err(error) => error,
    };
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        error.contains("the root key does not open this store's key-encryption keys"),
        "{error}"
    );
    assert!(!error.contains(&other_key), "the key was echoed: {error}");
    assert!(
        !error.contains(root_key.trim()),
        "the key was echoed: {error}"
    );
    // The key file was left alone.
    assert_eq!(std::fs::read_to_string(&root_key_path).unwrap(), root_key);

    // The right key, given inline or as a path, opens the store.
    let copy = data_dir.parent().unwrap().join("root-key-copy");
    std::fs::write(&copy, &root_key).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    for source in [root_key.trim().to_owned(), copy.display().to_string()] {
        let mut server = Server::start_with(Options {
            data_dir: Some(data_dir.clone()),
            env: vec![("COFFER_ROOT_KEY".into(), source)],
            ..Options::default()
        });
        let read = server
            .client()
            .await
            .get_secret_value()
            .secret_id("root/a")
            .send()
            .await
            .unwrap();
        assert_eq!(read.secret_string(), Some("sealed"));
        assert!(server.terminate().success());
    }
}

/// Parses the AWS shared-credentials file the server writes.
fn parse_admin_credentials(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut section = None;
    let mut values = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            section = Some(line.to_owned());
            continue;
        }
        let (key, value) = line.split_once('=').expect("key = value");
        assert_eq!(section.as_deref(), Some("[default]"), "{text}");
        values.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let id = values
        .get("aws_access_key_id")
        .expect("aws_access_key_id")
        .clone();
    let secret = values
        .get("aws_secret_access_key")
        .expect("aws_secret_access_key")
        .clone();
    assert!(
        id.len() == 20
            && id.starts_with("AKIA")
            && id[4..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "access key id {id:?}"
    );
    assert!(
        secret.len() == 40
            && secret
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+'),
        "secret access key is not 40 characters of [A-Za-z0-9/+]"
    );
    (id, secret)
}

#[tokio::test]
async fn a_generated_admin_key_is_written_once_privately_and_works() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let data = data_dir.to_str().unwrap();
    let args = [
        "server",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--region",
        REGION,
        "--account-id",
        ACCOUNT_ID,
    ];
    let credentials_path = data_dir.join("admin-credentials");

    // First start: a key is generated and written out.
    let mut first = Proc::spawn(&args, &[]);
    let endpoint = first.endpoint();
    first.wait_for_stdout("administrator credentials written to");
    assert!(
        first.stdout().contains(&format!(
            "administrator credentials written to {}",
            credentials_path.display()
        )),
        "{}",
        first.output()
    );
    assert_eq!(mode_of(&credentials_path), 0o600, "admin-credentials mode");
    let (id, secret) = parse_admin_credentials(&credentials_path);
    let written = std::fs::read(&credentials_path).unwrap();
    let written_at = std::fs::metadata(&credentials_path)
        .unwrap()
        .modified()
        .unwrap();

    let client = client_for(&endpoint, &id, &secret, REGION).await;
    client
        .create_secret()
        .name("admin/a")
        .secret_string("v")
        .send()
        .await
        .unwrap();
    assert!(first.terminate().success(), "{}", first.output());
    let output = first.output();
    assert!(
        !output.contains(&secret),
        "the start-up output contains the generated secret key"
    );
    let root_key = std::fs::read_to_string(data_dir.join("root.key")).unwrap();
    assert!(
        output.contains(&format!(
            "root key generated at {}",
            data_dir.join("root.key").display()
        )),
        "{output}"
    );
    assert!(
        !output.contains(root_key.trim()),
        "the start-up output contains the root key"
    );

    // The generated secret key is stored in the clear only in admin-credentials.
    for file in common::files_below(&data_dir) {
        if file == credentials_path {
            continue;
        }
        let content = std::fs::read(&file).unwrap();
        assert!(
            !contains(&content, secret.as_bytes()),
            "the generated admin secret key is in {}",
            file.display()
        );
    }

    // Second start: nothing new is written, and the same credentials work.
    let mut second = Proc::spawn(&args, &[]);
    let endpoint = second.endpoint();
    let client = client_for(&endpoint, &id, &secret, REGION).await;
    let read = client
        .get_secret_value()
        .secret_id("admin/a")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_string(), Some("v"));
    assert!(second.terminate().success(), "{}", second.output());
    let output = second.output();
    assert!(
        !output.contains("administrator credentials written"),
        "{output}"
    );
    assert!(!output.contains(&secret));
    assert_eq!(std::fs::read(&credentials_path).unwrap(), written);
    assert_eq!(
        std::fs::metadata(&credentials_path)
            .unwrap()
            .modified()
            .unwrap(),
        written_at
    );
}

#[test]
fn a_generated_admin_key_is_announced_even_if_the_first_start_fails() {
    // The first start creates the root key and the administrator key before it binds; if
    // the bind fails, the operator must still learn where the key file is (and be told to
    // back up the root key) — from that failed start or from the next one.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap().to_string();
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let data = data_dir.to_str().unwrap();
    let (status, first_stdout, first_stderr) =
        run_coffer(&["server", "--listen", &address, "--data-dir", data], &[]);
    assert!(!status.success());

    let mut second = Proc::spawn(
        &["server", "--listen", "127.0.0.1:0", "--data-dir", data],
        &[],
    );
    second.endpoint();
    assert!(second.terminate().success());
    let everything = format!("{first_stdout}{first_stderr}{}", second.output());
    let credentials = data_dir.join("admin-credentials");
    assert!(credentials.exists());
    assert!(
        everything.contains(&credentials.display().to_string()),
        "{} was created but never named:\n{everything}",
        credentials.display()
    );
    assert!(
        everything.contains("root key generated at"),
        "the root key was generated but the back-it-up notice never shown:\n{everything}"
    );
}

// -------------------------------------------------------------------------------------------
// Command line and configuration
// -------------------------------------------------------------------------------------------

#[test]
fn server_help_names_every_option_and_its_environment_variable() {
    let options = [
        ("--config", "COFFER_CONFIG"),
        ("--listen", "COFFER_LISTEN"),
        ("--data-dir", "COFFER_DATA_DIR"),
        ("--region", "COFFER_REGION"),
        ("--account-id", "COFFER_ACCOUNT_ID"),
        ("--partition", "COFFER_PARTITION"),
        ("--root-key", "COFFER_ROOT_KEY"),
        ("--admin-access-key-id", "COFFER_ADMIN_ACCESS_KEY_ID"),
        (
            "--admin-secret-access-key",
            "COFFER_ADMIN_SECRET_ACCESS_KEY",
        ),
        ("--dev", "COFFER_DEV"),
        ("--log-format", "COFFER_LOG_FORMAT"),
        ("--log", "COFFER_LOG"),
        (
            "--deletion-purge-interval",
            "COFFER_DELETION_PURGE_INTERVAL",
        ),
        ("--shutdown-grace", "COFFER_SHUTDOWN_GRACE"),
    ];
    let root_key = STANDARD.encode(random_bytes(32));
    let admin_secret = random_text("help-secret");
    let (status, help, stderr) = run_coffer(
        &["server", "--help"],
        &[
            ("COFFER_ROOT_KEY", &root_key),
            ("COFFER_ADMIN_SECRET_ACCESS_KEY", &admin_secret),
        ],
    );
    assert!(status.success(), "{stderr}");
    for (flag, variable) in options {
        assert!(
            help.split(|c: char| c.is_whitespace() || c == ',' || c == '[')
                .any(|word| word == flag),
            "{flag} missing from `coffer server --help`:\n{help}"
        );
        assert!(
            help.contains(variable),
            "{variable} missing from `coffer server --help`:\n{help}"
        );
    }
    // Secret values from the environment are never shown.
    assert!(
        !help.contains(&root_key),
        "--help shows COFFER_ROOT_KEY's value"
    );
    assert!(
        !help.contains(&admin_secret),
        "--help shows COFFER_ADMIN_SECRET_ACCESS_KEY's value"
    );

    let (status, help, _) = run_coffer(&["--help"], &[]);
    assert!(status.success());
    assert!(
        help.contains("server") && help.contains("profile"),
        "{help}"
    );
}

#[test]
fn invalid_option_values_fail_with_a_clear_message() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("never-created");
    let data = data_dir.to_str().unwrap();
    let bad_config = temp.path().join("bad.toml");
    std::fs::write(
        &bad_config,
        "listen = \"127.0.0.1:0\"\nno_such_option = 1\n",
    )
    .unwrap();
    // (extra arguments, environment, expected text on stderr)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["--account-id", "12"],
            vec![],
            "--account-id must be 12 digits, got \"12\"",
        ),
        (
            vec![],
            vec![("COFFER_ACCOUNT_ID", "12345678901x")],
            "--account-id must be 12 digits",
        ),
        (
            vec!["--region", "mars"],
            vec![],
            "--region must look like an AWS region",
        ),
        (
            vec!["--partition", "AWS!"],
            vec![],
            "--partition must be lower-case letters and dashes",
        ),
        (vec!["--listen", "not-an-address"], vec![], "--listen"),
        (vec!["--log-format", "xml"], vec![], "--log-format"),
        (vec!["--shutdown-grace=-5"], vec![], "--shutdown-grace"),
        (
            vec![],
            vec![("COFFER_DELETION_PURGE_INTERVAL", "soon")],
            "--deletion-purge-interval",
        ),
        (
            vec!["--admin-access-key-id", "AKIAEXAMPLEEXAMPLE00"],
            vec![],
            "set both COFFER_ADMIN_ACCESS_KEY_ID and COFFER_ADMIN_SECRET_ACCESS_KEY",
        ),
        (
            vec!["--config", bad_config.to_str().unwrap()],
            vec![],
            "unknown field",
        ),
        (
            vec!["--config", "/nonexistent/coffer.toml"],
            vec![],
            "could not read the config file /nonexistent/coffer.toml",
        ),
        (vec!["--log", "=[bad"], vec![], "invalid --log filter"),
    ];
    for (extra, env, expected) in cases {
        let mut args = vec!["server", "--listen", "127.0.0.1:0", "--data-dir", data];
        args.extend(&extra);
        let started = Instant::now();
        let (status, stdout, stderr) = run_coffer(&args, &env);
        assert!(
            !status.success(),
            "{extra:?} {env:?} was accepted:\n{stdout}{stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{extra:?} {env:?}: expected {expected:?} in:\n{stderr}"
        );
        assert!(
            !stdout.contains("listening on"),
            "{extra:?}: started anyway"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(
            !data_dir.exists(),
            "{extra:?}: the data directory was created before the options were checked"
        );
    }
}

#[test]
fn a_data_dir_that_is_a_file_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let (status, _, stderr) = run_coffer(
        &[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(
        stderr.contains(&format!(
            "the data directory {} exists but is not a directory",
            file.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_busy_listen_address_fails_with_a_clear_message() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap().to_string();
    let temp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (status, stdout, stderr) = run_coffer(
        &[
            "server",
            "--listen",
            &address,
            "--data-dir",
            temp.path().join("data").to_str().unwrap(),
            "--account-id",
            ACCOUNT_ID,
        ],
        &[
            ("COFFER_ADMIN_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("COFFER_ADMIN_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
        ],
    );
    assert!(!status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("could not listen on {address}")),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_toml_config_file_is_honoured_and_flags_and_env_override_it() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("from-the-file");
    let config = temp.path().join("coffer.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n\
             data_dir = \"{}\"\n\
             region = \"eu-west-1\"\n\
             account_id = \"444455556666\"\n\
             partition = \"aws-cn\"\n\
             admin_access_key_id = \"{ACCESS_KEY_ID}\"\n\
             admin_secret_access_key = \"{SECRET_ACCESS_KEY}\"\n\
             log_format = \"json\"\n\
             shutdown_grace = 5\n",
            data_dir.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    // Only the file: every value comes from it.
    let mut from_file = Proc::spawn(&["server", "--config", config], &[]);
    let endpoint = from_file.endpoint();
    from_file.wait_for_stdout("data directory");
    assert!(
        from_file.stdout().contains(&format!(
            "region eu-west-1, account 444455556666, data directory {}",
            data_dir.display()
        )),
        "{}",
        from_file.output()
    );
    assert!(data_dir.join("root.key").exists());
    let client = client_for(&endpoint, ACCESS_KEY_ID, SECRET_ACCESS_KEY, "eu-west-1").await;
    let created = client
        .create_secret()
        .name("config/a")
        .secret_string("v")
        .send()
        .await
        .unwrap();
    assert!(
        created
            .arn()
            .unwrap()
            .starts_with("arn:aws-cn:secretsmanager:eu-west-1:444455556666:secret:config/a-"),
        "{:?}",
        created.arn()
    );
    assert!(from_file.terminate().success(), "{}", from_file.output());
    // log_format = "json": the log lines are JSON objects.
    let log = from_file.output();
    let json_lines = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    assert!(json_lines > 0, "no JSON log lines:\n{log}");

    // The harness passes --region and --account-id flags: they beat the file; the
    // partition comes from the file.
    let mut server = Server::start_with(Options {
        args: vec!["--config".into(), config.into()],
        ..Options::default()
    });
    let created = server
        .client()
        .await
        .create_secret()
        .name("config/b")
        .secret_string("v")
        .send()
        .await
        .unwrap();
    assert!(
        created.arn().unwrap().starts_with(&format!(
            "arn:aws-cn:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:config/b-"
        )),
        "{:?}",
        created.arn()
    );
    assert!(server.terminate().success());

    // An environment variable beats the file; a flag beats both.
    for (args, expected) in [
        (vec![], "arn:aws-us-gov:"),
        (vec!["--partition".to_owned(), "aws".to_owned()], "arn:aws:"),
    ] {
        let mut all_args = vec!["--config".to_owned(), config.to_owned()];
        all_args.extend(args);
        let server = Server::start_with(Options {
            args: all_args,
            env: vec![("COFFER_PARTITION".into(), "aws-us-gov".into())],
            ..Options::default()
        });
        let created = server
            .client()
            .await
            .create_secret()
            .name("config/c")
            .secret_string("v")
            .send()
            .await
            .unwrap();
        assert!(
            created.arn().unwrap().starts_with(expected),
            "expected {expected}: {:?}",
            created.arn()
        );
    }
}

// -------------------------------------------------------------------------------------------
// `coffer profile` and `--dev`
// -------------------------------------------------------------------------------------------

#[allow(deprecated)] // the aliases in aws_config::profile::profile_file are the stable path
async fn client_from_profile(aws_dir: &Path, profile: &str) -> Client {
    use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
    let files = ProfileFiles::builder()
        .with_file(ProfileFileKind::Config, aws_dir.join("config"))
        .with_file(ProfileFileKind::Credentials, aws_dir.join("credentials"))
        .build();
    let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
        .profile_files(files.clone())
        .profile_name(profile)
        .build();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .profile_files(files)
        .profile_name(profile)
        .credentials_provider(credentials)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    Client::new(&config)
}

/// Runs the AWS CLI, if installed, against the profile; `None` when there is no usable CLI.
fn aws_cli(aws_dir: &Path, args: &[&str]) -> Option<(ExitStatus, String, String)> {
    let mut command = Command::new("aws");
    command
        .args(["--cli-connect-timeout", "5", "--cli-read-timeout", "20"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_CONFIG_FILE", aws_dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", aws_dir.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "");
    for (key, value) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text == "HOME" || key_text.starts_with("PYENV") {
            command.env(&key, value);
        }
    }
    let version = Command::new("aws")
        .arg("--version")
        .env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| {
            let k = k.to_string_lossy();
            k == "PATH" || k == "HOME" || k.starts_with("PYENV")
        }))
        .output()
        .ok()?;
    if !version.status.success() {
        return None;
    }
    let output = command.output().ok()?;
    Some((
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn profile_writes_a_working_aws_cli_profile() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let fresh_aws_dir = temp.path().join("fresh-aws");
    let aws_dir = temp.path().join("aws");
    std::fs::create_dir(&aws_dir).unwrap();
    // Existing content survives.
    std::fs::write(aws_dir.join("config"), "[default]\nregion = eu-west-1\n").unwrap();
    let credentials_path = aws_dir.join("credentials");
    std::fs::write(
        &credentials_path,
        "[other]\naws_access_key_id = AKIAOTHEROTHEROTHER0\naws_secret_access_key = other\n",
    )
    .unwrap();
    std::fs::set_permissions(&credentials_path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut server = Proc::spawn(
        &[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir.to_str().unwrap(),
        ],
        &[],
    );
    let endpoint = server.endpoint();
    server.wait_for_stdout("administrator credentials written to");
    let (id, secret) = parse_admin_credentials(&data_dir.join("admin-credentials"));

    for dir in [&aws_dir, &aws_dir, &fresh_aws_dir] {
        let (status, stdout, stderr) = run_coffer(
            &[
                "profile",
                "--aws-dir",
                dir.to_str().unwrap(),
                "--data-dir",
                data_dir.to_str().unwrap(),
                "--endpoint-url",
                &endpoint,
            ],
            &[],
        );
        assert!(status.success(), "{stdout}{stderr}");
        assert!(!stdout.contains(&secret) && !stderr.contains(&secret));
    }
    let config = std::fs::read_to_string(aws_dir.join("config")).unwrap();
    let credentials = std::fs::read_to_string(aws_dir.join("credentials")).unwrap();
    assert_eq!(config.matches("[profile coffer]").count(), 1, "{config}");
    assert!(config.contains("[default]\nregion = eu-west-1"), "{config}");
    assert!(
        config.contains(&format!("endpoint_url = {endpoint}")),
        "{config}"
    );
    assert!(config.contains("region = us-east-1"), "{config}");
    assert_eq!(credentials.matches("[coffer]").count(), 1);
    assert!(credentials.contains("[other]"));
    assert!(credentials.contains(&format!("aws_access_key_id = {id}")));
    assert!(credentials.contains(&format!("aws_secret_access_key = {secret}")));
    assert_eq!(mode_of(&credentials_path), 0o600);
    // A credentials file the command creates is private from the start.
    assert_eq!(mode_of(&fresh_aws_dir.join("credentials")), 0o600);
    assert_eq!(
        std::fs::read_to_string(fresh_aws_dir.join("config")).unwrap(),
        format!("[profile coffer]\nregion = us-east-1\nendpoint_url = {endpoint}\n")
    );

    // Without an admin-credentials file the command says where it looked and what to do.
    let empty = temp.path().join("no-such-data-dir");
    let (status, _, stderr) = run_coffer(
        &[
            "profile",
            "--aws-dir",
            fresh_aws_dir.to_str().unwrap(),
            "--data-dir",
            empty.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!status.success());
    assert!(
        stderr.contains(&format!(
            "could not read {}",
            empty.join("admin-credentials").display()
        )) && stderr.contains("--dev"),
        "{stderr}"
    );

    // The SDK, configured only by the profile, reaches the server.
    let client = client_from_profile(&aws_dir, "coffer").await;
    client
        .create_secret()
        .name("profile/sdk")
        .secret_string("through the profile")
        .send()
        .await
        .unwrap();
    let read = client
        .get_secret_value()
        .secret_id("profile/sdk")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_string(), Some("through the profile"));

    // The AWS CLI too, if there is one.
    match aws_cli(
        &aws_dir,
        &[
            "--profile",
            "coffer",
            "secretsmanager",
            "get-secret-value",
            "--secret-id",
            "profile/sdk",
            "--query",
            "SecretString",
            "--output",
            "text",
        ],
    ) {
        Some((status, stdout, stderr)) => {
            assert!(status.success(), "aws CLI failed: {stdout}{stderr}");
            assert_eq!(stdout.trim(), "through the profile");
        }
        None => eprintln!("no usable `aws` CLI on PATH; skipped the CLI check"),
    }
    assert!(server.terminate().success());
}

#[tokio::test]
async fn dev_mode_prints_working_fixed_credentials() {
    let mut dev = Proc::spawn(&["server", "--dev", "--listen", "127.0.0.1:0"], &[]);
    let endpoint = dev.endpoint();
    dev.wait_for_stdout("export AWS_DEFAULT_REGION=");
    let stdout = dev.stdout();
    let exports: HashMap<&str, &str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .collect();
    assert_eq!(
        exports.get("AWS_ENDPOINT_URL"),
        Some(&endpoint.as_str()),
        "{stdout}"
    );
    assert_eq!(exports.get("AWS_ACCESS_KEY_ID"), Some(&DEV_ACCESS_KEY_ID));
    assert_eq!(
        exports.get("AWS_SECRET_ACCESS_KEY"),
        Some(&DEV_SECRET_ACCESS_KEY)
    );
    let region = exports["AWS_DEFAULT_REGION"];
    assert_eq!(region, "us-east-1");
    assert!(stdout.contains("DEVELOPMENT MODE"), "{stdout}");
    let data_dir: PathBuf = stdout
        .split("data directory ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .map(PathBuf::from)
        .expect("the data directory is reported");
    assert!(data_dir.is_dir());
    assert!(!data_dir.join("admin-credentials").exists());

    let client = client_for(
        exports["AWS_ENDPOINT_URL"],
        exports["AWS_ACCESS_KEY_ID"],
        exports["AWS_SECRET_ACCESS_KEY"],
        region,
    )
    .await;
    client
        .create_secret()
        .name("dev/a")
        .secret_string("throwaway")
        .send()
        .await
        .unwrap();

    // `coffer profile --dev` writes the same credentials.
    let aws = tempfile::tempdir().unwrap();
    let (status, out, err) = run_coffer(
        &[
            "profile",
            "--dev",
            "--name",
            "coffer-dev",
            "--aws-dir",
            aws.path().to_str().unwrap(),
            "--endpoint-url",
            &endpoint,
        ],
        &[],
    );
    assert!(status.success(), "{out}{err}");
    let read = client_from_profile(aws.path(), "coffer-dev")
        .await
        .get_secret_value()
        .secret_id("dev/a")
        .send()
        .await
        .unwrap();
    assert_eq!(read.secret_string(), Some("throwaway"));

    // Ctrl-C is how a developer stops it: SIGINT is a graceful stop too.
    common::signal(dev.child.as_ref().unwrap().id(), "INT");
    let status = dev.wait(Duration::from_secs(30));
    assert!(status.success(), "{status}: {}", dev.output());
    // Dev mode keeps nothing.
    assert!(
        !data_dir.exists(),
        "the dev data directory {} survived the exit",
        data_dir.display()
    );
}

#[test]
fn profile_makes_an_existing_credentials_file_private() {
    // A user's ~/.aws/credentials created 0644 by some other tool: once Coffer has written
    // an administrator key into it, it must not stay readable by other users.
    let temp = tempfile::tempdir().unwrap();
    let aws_dir = temp.path().join("aws");
    std::fs::create_dir(&aws_dir).unwrap();
    let credentials_path = aws_dir.join("credentials");
    std::fs::write(
        &credentials_path,
        "[other]\naws_access_key_id = AKIAOTHEROTHEROTHER0\n",
    )
    .unwrap();
    std::fs::set_permissions(&credentials_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    // An admin-credentials file as a server writes it (no server is needed for this).
    let data_dir = temp.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let secret = STANDARD.encode(random_bytes(30));
    std::fs::write(
        data_dir.join("admin-credentials"),
        format!("[default]\naws_access_key_id = AKIAEXAMPLEEXAMPLE00\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    let (status, stdout, stderr) = run_coffer(
        &[
            "profile",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--aws-dir",
            aws_dir.to_str().unwrap(),
            "--endpoint-url",
            "http://127.0.0.1:1",
        ],
        &[],
    );
    assert!(status.success(), "{stdout}{stderr}");
    assert!(
        std::fs::read_to_string(&credentials_path)
            .unwrap()
            .contains(&secret)
    );
    assert_eq!(
        mode_of(&credentials_path),
        0o600,
        "the credentials file now holds a secret key but keeps mode {:o}",
        mode_of(&credentials_path)
    );
}
