//! Starting and stopping the coffer binary, and reading its figures from /proc.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;

use crate::client::{Api, Conn};

/// Fixed administrator credentials given to the server (AKIA + 16, 40 characters).
pub const ACCESS_KEY_ID: &str = "AKIACOFFERBENCH00001";
pub const SECRET_ACCESS_KEY: &str = "cofferBenchSecretKey/NotForProduction000";
pub const REGION: &str = "us-east-1";

/// How much of the server's stderr (its logs) is kept to explain a failure.
const STDERR_TAIL_BYTES: usize = 16 * 1024;
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub struct ServerSpec {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    /// `--log` filter for the server; `None` keeps the server's default.
    pub log: Option<String>,
    /// Further `coffer server` arguments (e.g. `--audit off` for the comparison server).
    pub extra_args: Vec<String>,
}

/// Start-up times of one start, in milliseconds from `spawn`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct StartTimes {
    pub to_listening_ms: f64,
    pub to_first_ok_ms: f64,
}

pub struct Server {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub version: String,
    stderr_tail: Arc<Mutex<VecDeque<u8>>>,
}

impl Server {
    /// Spawns the server and waits for its listening line, then for the first successful
    /// authenticated request (GetRandomPassword: it passes SigV4, which reads the
    /// administrator's credential from the store, and nothing else).
    pub async fn start(spec: &ServerSpec) -> anyhow::Result<(Self, StartTimes)> {
        let mut command = Command::new(&spec.binary);
        command
            .arg("server")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&spec.data_dir)
            .arg("--region")
            .arg(REGION)
            .arg("--shutdown-grace")
            .arg("5")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Only what is set here configures the server.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("COFFER_") {
                command.env_remove(name);
            }
        }
        command
            .env("COFFER_ADMIN_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("COFFER_ADMIN_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
        if let Some(log) = &spec.log {
            command.arg("--log").arg(log);
        }
        for arg in &spec.extra_args {
            command.arg(arg);
        }

        let spawned = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start {}", spec.binary.display()))?;
        let pid = child.id();

        let stderr_tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_BYTES)));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let tail = stderr_tail.clone();
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut tail = tail.lock().expect("tail lock");
                tail.extend(&chunk[..n]);
                let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
                tail.drain(..excess);
            }
        });

        // stdout: wait for the listening line, then keep draining.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = tokio::sync::oneshot::channel::<(Instant, String, SocketAddr)>();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut tx = Some(tx);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if let Some(parsed) = parse_listening(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send((Instant::now(), parsed.0, parsed.1));
                }
            }
        });

        let mut server = Self {
            child,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            version: String::new(),
            stderr_tail,
        };
        let (listening_at, version, addr) = match tokio::time::timeout(START_TIMEOUT, rx).await {
            Ok(Ok(found)) => found,
            Ok(Err(_)) => {
                let status = server.child.wait().ok();
                bail!(
                    "the server exited before listening ({}); its last output:\n{}",
                    status.map_or("unknown status".into(), |s| s.to_string()),
                    server.stderr_tail()
                );
            }
            Err(_) => {
                server.kill();
                bail!(
                    "the server did not print its listening line within {START_TIMEOUT:?}; its last output:\n{}",
                    server.stderr_tail()
                );
            }
        };
        server.addr = addr;
        server.version = version;

        let api = Api::new(addr, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY);
        let first_ok_at = loop {
            if spawned.elapsed() > START_TIMEOUT {
                server.kill();
                bail!(
                    "no successful authenticated request within {START_TIMEOUT:?}; last output:\n{}",
                    server.stderr_tail()
                );
            }
            let attempt = async {
                let mut conn = Conn::connect(addr).await?;
                conn.call(&api, "GetRandomPassword", &serde_json::json!({}))
                    .await
            };
            match attempt.await {
                Ok(_) => break Instant::now(),
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        };
        let times = StartTimes {
            to_listening_ms: ms(listening_at - spawned),
            to_first_ok_ms: ms(first_ok_at - spawned),
        };
        Ok((server, times))
    }

    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().expect("tail lock");
        let bytes: Vec<u8> = tail.iter().copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// SIGTERM, then up to 20 s for a clean stop (SIGKILL after that).
    pub fn stop(mut self) -> anyhow::Result<()> {
        // SAFETY: kill(2) on the pid of a child this process spawned and has not reaped.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    eprintln!(
                        "warning: the server stopped with {status}; its last output:\n{}",
                        self.stderr_tail()
                    );
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                bail!("the server did not stop within 20 s of SIGTERM; killed it");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        Memory::of(self.pid)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// `coffer <version> listening on http://<addr>`
fn parse_listening(line: &str) -> Option<(String, SocketAddr)> {
    let rest = line.trim().strip_prefix("coffer ")?;
    let (version, addr) = rest.split_once(" listening on http://")?;
    Some((version.to_owned(), addr.trim().parse().ok()?))
}

/// Resident memory of a process, in KiB, from /proc/<pid>/status.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Memory {
    pub vm_rss_kib: u64,
    pub vm_hwm_kib: u64,
}

impl Memory {
    fn of(pid: u32) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let field = |name: &str| -> anyhow::Result<u64> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| anyhow!("no {name} in /proc/{pid}/status"))
        };
        Ok(Self {
            vm_rss_kib: field("VmRSS:")?,
            vm_hwm_kib: field("VmHWM:")?,
        })
    }
}

/// User + system CPU time of a process from a /proc/.../stat file, in seconds.
pub fn cpu_seconds(stat_path: &str) -> anyhow::Result<f64> {
    let stat =
        std::fs::read_to_string(stat_path).with_context(|| format!("reading {stat_path}"))?;
    // The command name (field 2) may hold spaces: count fields after its closing paren.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected {stat_path}"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: f64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((utime + stime) / ticks.max(1.0))
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The mount holding `path`: (mount point, filesystem type, device).
pub fn filesystem_of(path: &Path) -> Option<(String, String, String)> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = fields.next()?;
            let point = fields.next()?;
            let fstype = fields.next()?;
            Some((point.to_owned(), fstype.to_owned(), device.to_owned()))
        })
        .filter(|(point, _, _)| path.starts_with(point))
        .max_by_key(|(point, _, _)| point.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        let (version, addr) =
            parse_listening("coffer 0.1.0 listening on http://127.0.0.1:40123\n").unwrap();
        assert_eq!(version, "0.1.0");
        assert_eq!(addr, "127.0.0.1:40123".parse().unwrap());
        assert!(parse_listening("  region us-east-1").is_none());
    }

    #[test]
    fn reads_own_cpu_and_memory() {
        assert!(cpu_seconds("/proc/self/stat").unwrap() >= 0.0);
        let memory = Memory::of(std::process::id()).unwrap();
        assert!(memory.vm_rss_kib > 0 && memory.vm_hwm_kib >= memory.vm_rss_kib);
    }
}
