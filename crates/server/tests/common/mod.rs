//! Test harness: runs the real `coffer` binary on a free port with a temporary data
//! directory and known administrator credentials, and builds real AWS SDK clients for it.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY_ID: &str = "AKIATESTADMINKEY0001";
pub const SECRET_ACCESS_KEY: &str = "testAdminSecretAccessKey/0000000000000+0";
pub const REGION: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "111122223333";

pub fn coffer_bin() -> &'static str {
    env!("CARGO_BIN_EXE_coffer")
}

/// How to start a server.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Reuse this data directory (e.g. to restart after a crash); a fresh one otherwise.
    pub data_dir: Option<PathBuf>,
    /// Extra command-line arguments after `server`.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Log filter (`--log`); `info` by default.
    pub log: Option<String>,
}

pub struct Server {
    child: Option<Child>,
    pub endpoint: String,
    pub data_dir: PathBuf,
    /// Where the server's stderr (its log) goes.
    pub log_path: PathBuf,
    /// Owns the temporary directory (data dir and log) for the life of the test.
    _temp: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Server {
        Server::try_start(options).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts a server; `Err` carries what it printed if it exits or never listens.
    pub fn try_start(options: Options) -> Result<Server, String> {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = options
            .data_dir
            .clone()
            .unwrap_or_else(|| temp.path().join("data"));
        let log_path = temp
            .path()
            .join(format!("server-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(coffer_bin());
        command
            .arg("server")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--region")
            .arg(REGION)
            .arg("--account-id")
            .arg(ACCOUNT_ID)
            .arg("--log")
            .arg(options.log.as_deref().unwrap_or("info"))
            .args(&options.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("COFFER_ADMIN_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("COFFER_ADMIN_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not start coffer: {e}"))?;
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.trim().to_owned());
                    break;
                }
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(endpoint) = rx.recv_timeout(Duration::from_millis(50)) {
                return Ok(Server {
                    child: Some(child),
                    endpoint,
                    data_dir,
                    log_path,
                    _temp: Some(temp),
                });
            }
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!(
                    "coffer exited with {status} before listening:\n{log}"
                ));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err("coffer did not start listening within 30 s".into());
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    /// Stops the server with SIGKILL: no chance to flush or close anything.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        signal(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "coffer did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Keeps the temporary directory (data dir and log) after this server is gone, so that
    /// a test can restart a server on the same data.
    pub fn keep_data(&mut self) -> tempfile::TempDir {
        self._temp.take().expect("data not taken yet")
    }

    /// A Secrets Manager client with the administrator's credentials and retries off (a
    /// refused connection must fail fast, not back off for seconds).
    pub async fn client(&self) -> aws_sdk_secretsmanager::Client {
        client_for(&self.endpoint, ACCESS_KEY_ID, SECRET_ACCESS_KEY, REGION).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub async fn client_for(
    endpoint: &str,
    access_key_id: &str,
    secret: &str,
    region: &str,
) -> aws_sdk_secretsmanager::Client {
    let credentials =
        aws_credential_types::Credentials::new(access_key_id, secret, None, None, "coffer-tests");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Every regular file below `dir`.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

impl Server {
    /// `127.0.0.1:<port>`: the address to connect to and the `Host` header value.
    pub fn host(&self) -> String {
        self.endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    }
}

/// Who signs a raw request, for which region and service, and at what time.
#[derive(Clone)]
pub struct Signer {
    pub access_key_id: String,
    pub secret: String,
    pub region: String,
    pub service: String,
    pub time: std::time::SystemTime,
}

impl Signer {
    /// The harness administrator, signing for this server's region and Secrets Manager, now.
    pub fn admin() -> Signer {
        Signer {
            access_key_id: ACCESS_KEY_ID.into(),
            secret: SECRET_ACCESS_KEY.into(),
            region: REGION.into(),
            service: "secretsmanager".into(),
            time: std::time::SystemTime::now(),
        }
    }

    /// The headers AWS's own signer adds (`x-amz-date`, `authorization`) to a request with
    /// these headers and body; every header given is signed.
    pub fn sign(
        &self,
        method: &str,
        host: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Vec<(String, String)> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let identity = aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret,
            None,
            None,
            "coffer-tests",
        )
        .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            method,
            format!("http://{host}{path}"),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}
