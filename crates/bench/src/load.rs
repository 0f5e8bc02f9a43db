//! The closed-loop load generator: N workers, each with its own keep-alive connection, each
//! sending its next request as soon as the previous answer is read, for a warm-up and then a
//! measured window. Every Secrets Manager request is signed when it is built.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::Request;
use http_body_util::Full;
use serde::Serialize;

use crate::client::{Api, Conn, describe_failure};
use crate::server::cpu_seconds;

/// Most versions the PutSecretValue scenario may write to one secret: below the quota of 100
/// versions per secret (the first version counts, and versions younger than 24 hours cannot
/// be pruned).
pub const MAX_PUTS_PER_SECRET: u64 = 95;

/// Name of the `index`th secret written by the PutSecretValue scenario.
pub fn put_secret_name(index: u64) -> String {
    format!("bench/put/{index:06}")
}

/// The secrets the PutSecretValue scenario may write: indices below `created`. Each worker
/// leases one secret at a time, so no two connections write the same secret at once.
pub struct PutPool {
    pub next: AtomicU64,
    pub created: AtomicU64,
    pub value: String,
    /// Versions written to one secret before moving to a fresh one.
    pub puts_per_secret: u64,
}

#[derive(Clone)]
pub enum Workload {
    Health,
    GetSecretValue { body: Bytes },
    DescribeSecret { body: Bytes },
    PutSecretValue { pool: Arc<PutPool> },
}

/// What one worker keeps between requests.
#[derive(Default)]
struct WorkerState {
    /// Leased put secret and versions written to it.
    put_secret: Option<(u64, u64)>,
}

impl Workload {
    /// The next request, signed now; `None` when the put pool is used up.
    fn next(
        &self,
        api: &Api,
        state: &mut WorkerState,
    ) -> Option<anyhow::Result<Request<Full<Bytes>>>> {
        match self {
            Workload::Health => Some(Ok(api.health())),
            Workload::GetSecretValue { body } => Some(api.json("GetSecretValue", body.clone())),
            Workload::DescribeSecret { body } => Some(api.json("DescribeSecret", body.clone())),
            Workload::PutSecretValue { pool } => {
                let (index, written) = match state.put_secret {
                    Some((index, written)) if written < pool.puts_per_secret => (index, written),
                    _ => (pool.next.fetch_add(1, Ordering::Relaxed), 0),
                };
                if index >= pool.created.load(Ordering::Relaxed) {
                    return None;
                }
                state.put_secret = Some((index, written + 1));
                let body = serde_json::json!({
                    "SecretId": put_secret_name(index),
                    "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
                    "SecretString": pool.value,
                });
                Some(api.json("PutSecretValue", Bytes::from(body.to_string())))
            }
        }
    }
}

pub struct RunSettings {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// One measured run of one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub connections: usize,
    /// Successful requests that started and finished inside the measured window.
    pub requests: u64,
    pub window_s: f64,
    pub req_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Failed requests (any status but 2xx, or a transport error), warm-up included.
    pub errors: u64,
    pub first_error: Option<String>,
    /// CPU seconds used during the measured window by the server and by this tool.
    pub server_cpu_s: f64,
    pub bench_cpu_s: f64,
    /// Server CPU per measured request, in microseconds.
    pub server_cpu_us_per_req: f64,
    /// The put pool ran out before the window ended (the window was cut short).
    pub truncated: bool,
    /// Requests sent in total, warm-up included.
    pub sent_total: u64,
}

#[derive(Default)]
struct WorkerResult {
    histogram: Option<Histogram<u64>>,
    ok_in_window: u64,
    errors: u64,
    first_error: Option<String>,
    sent: u64,
    stopped_early_at: Option<Instant>,
}

fn new_histogram() -> Histogram<u64> {
    // Nanoseconds, 1 µs .. 60 s, 3 significant digits.
    Histogram::new_with_bounds(1_000, 60_000_000_000, 3).expect("valid histogram bounds")
}

pub async fn run(
    api: Arc<Api>,
    workload: Workload,
    settings: &RunSettings,
    server_pid: u32,
) -> anyhow::Result<RunResult> {
    run_spread(&[api], workload, settings, &[server_pid]).await
}

/// CPU seconds of all these processes together.
fn cpu_seconds_of(stats: &[String]) -> anyhow::Result<f64> {
    stats.iter().map(|stat| cpu_seconds(stat)).sum()
}

/// [`run`] over several servers (nodes sharing one store): connection `i` goes to
/// `apis[i % apis.len()]`, and the server CPU is that of all `server_pids`.
pub async fn run_spread(
    apis: &[Arc<Api>],
    workload: Workload,
    settings: &RunSettings,
    server_pids: &[u32],
) -> anyhow::Result<RunResult> {
    anyhow::ensure!(!apis.is_empty(), "no server to send the load to");
    let start = Instant::now();
    let measure_from = start + settings.warmup;
    let end = measure_from + settings.duration;

    // CPU samples at the edges of the measured window.
    let server_stats: Vec<String> = server_pids
        .iter()
        .map(|pid| format!("/proc/{pid}/stat"))
        .collect();
    let sampler = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let first = (
            cpu_seconds_of(&server_stats),
            cpu_seconds("/proc/self/stat"),
        );
        tokio::time::sleep_until(end.into()).await;
        let last = (
            cpu_seconds_of(&server_stats),
            cpu_seconds("/proc/self/stat"),
        );
        match (first, last) {
            ((Ok(s0), Ok(b0)), (Ok(s1), Ok(b1))) => (s1 - s0, b1 - b0),
            _ => (f64::NAN, f64::NAN),
        }
    });

    let mut workers = Vec::with_capacity(settings.connections);
    for i in 0..settings.connections {
        let api = apis[i % apis.len()].clone();
        let workload = workload.clone();
        workers.push(tokio::spawn(async move {
            worker(api, workload, measure_from, end).await
        }));
    }
    let mut histogram = new_histogram();
    let mut total = WorkerResult::default();
    let mut truncated_at: Option<Instant> = None;
    for worker in workers {
        let result = worker.await.context("a load worker panicked")??;
        if let Some(h) = &result.histogram {
            histogram.add(h).context("merging histograms")?;
        }
        total.ok_in_window += result.ok_in_window;
        total.errors += result.errors;
        total.sent += result.sent;
        if total.first_error.is_none() {
            total.first_error = result.first_error;
        }
        if let Some(at) = result.stopped_early_at {
            truncated_at = Some(truncated_at.map_or(at, |t: Instant| t.max(at)));
        }
    }
    let (server_cpu_s, bench_cpu_s) = if truncated_at.is_some() {
        sampler.abort();
        (f64::NAN, f64::NAN)
    } else {
        sampler.await.unwrap_or((f64::NAN, f64::NAN))
    };

    let window = match truncated_at {
        Some(at) if at < end => at.saturating_duration_since(measure_from),
        _ => settings.duration,
    };
    let window_s = window.as_secs_f64();
    let q = |quantile: f64| {
        if histogram.is_empty() {
            f64::NAN
        } else {
            histogram.value_at_quantile(quantile) as f64 / 1e6
        }
    };
    let req_per_s = if window_s > 0.0 {
        total.ok_in_window as f64 / window_s
    } else {
        f64::NAN
    };
    Ok(RunResult {
        connections: settings.connections,
        requests: total.ok_in_window,
        window_s,
        req_per_s,
        p50_ms: q(0.50),
        p90_ms: q(0.90),
        p99_ms: q(0.99),
        max_ms: if histogram.is_empty() {
            f64::NAN
        } else {
            histogram.max() as f64 / 1e6
        },
        errors: total.errors,
        first_error: total.first_error,
        server_cpu_s,
        bench_cpu_s,
        server_cpu_us_per_req: server_cpu_s * 1e6 / total.ok_in_window.max(1) as f64,
        truncated: truncated_at.is_some_and(|at| at < end),
        sent_total: total.sent,
    })
}

async fn worker(
    api: Arc<Api>,
    workload: Workload,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<WorkerResult> {
    let mut result = WorkerResult {
        histogram: Some(new_histogram()),
        ..WorkerResult::default()
    };
    let mut state = WorkerState::default();
    let mut conn = Conn::connect(api.addr).await?;
    loop {
        // Latency runs from here (the request is already signed) to the last body byte.
        let Some(request) = workload.next(&api, &mut state) else {
            result.stopped_early_at = Some(Instant::now());
            break;
        };
        let request = request?;
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        result.sent += 1;
        match conn.send(request).await {
            Ok((status, body)) => {
                let done = Instant::now();
                if status.is_success() {
                    if sent >= measure_from && done <= end {
                        result.ok_in_window += 1;
                        if let Some(h) = result.histogram.as_mut() {
                            h.saturating_record((done - sent).as_nanos() as u64);
                        }
                    }
                } else {
                    result.errors += 1;
                    result
                        .first_error
                        .get_or_insert_with(|| describe_failure(status, &body));
                }
            }
            Err(error) => {
                result.errors += 1;
                result
                    .first_error
                    .get_or_insert_with(|| format!("transport: {error:#}"));
                conn = Conn::connect(api.addr).await?;
            }
        }
    }
    Ok(result)
}

/// Result of creating many secrets at once.
#[derive(Clone, Debug, Serialize)]
pub struct SeedResult {
    pub secrets: u64,
    pub connections: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// Creates the secrets `name(i)` for `i` in `range` with CreateSecret over `connections`
/// connections, printing progress to stderr when `progress` is set.
pub async fn create_secrets(
    api: Arc<Api>,
    range: std::ops::Range<u64>,
    name: fn(u64) -> String,
    value: Arc<String>,
    connections: usize,
    progress: Option<&'static str>,
) -> anyhow::Result<SeedResult> {
    let count = range.end.saturating_sub(range.start);
    let next = Arc::new(AtomicU64::new(range.start));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let reporter = progress.map(|label| {
        let done = done.clone();
        let finished = finished.clone();
        tokio::spawn(async move {
            let mut last = Instant::now();
            while !finished.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if last.elapsed() >= Duration::from_secs(10) {
                    last = Instant::now();
                    let n = done.load(Ordering::Relaxed);
                    eprintln!(
                        "  {label}: {n}/{count} ({:.0}/s)",
                        n as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        })
    });

    let mut workers = Vec::new();
    for _ in 0..connections.max(1) {
        let (api, next, done, errors, value) = (
            api.clone(),
            next.clone(),
            done.clone(),
            errors.clone(),
            value.clone(),
        );
        let end = range.end;
        workers.push(tokio::spawn(async move {
            let mut first_error = None;
            let mut conn = Conn::connect(api.addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let body = serde_json::json!({
                    "Name": name(i),
                    "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
                    "SecretString": value.as_str(),
                });
                let request = api.json("CreateSecret", Bytes::from(body.to_string()))?;
                match conn.send(request).await {
                    Ok((status, _)) if status.is_success() => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok((status, body)) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| describe_failure(status, &body));
                    }
                    Err(error) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| format!("transport: {error:#}"));
                        conn = Conn::connect(api.addr).await?;
                    }
                }
            }
            anyhow::Ok(first_error)
        }));
    }
    let mut first_error = None;
    for worker in workers {
        let error = worker.await.context("a seeding worker panicked")??;
        if first_error.is_none() {
            first_error = error;
        }
    }
    finished.store(true, Ordering::Relaxed);
    if let Some(reporter) = reporter {
        let _ = reporter.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let ok = done.load(Ordering::Relaxed);
    Ok(SeedResult {
        secrets: ok,
        connections,
        seconds,
        per_second: ok as f64 / seconds.max(1e-9),
        errors: errors.load(Ordering::Relaxed),
        first_error,
    })
}
