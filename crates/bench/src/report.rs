//! The results: gathered into one serialisable report, summarised by medians, and printed as
//! a table.

use serde::Serialize;

use crate::load::{RunResult, SeedResult};
use crate::server::{Memory, Server, StartTimes};

#[derive(Serialize)]
pub struct Report {
    pub tool: String,
    pub bench_version: String,
    pub started_at: String,
    pub finished_at: String,
    pub command_line: Vec<String>,
    pub machine: Machine,
    pub settings: Settings,
    pub startup: Startup,
    pub seeding: SeedResult,
    pub lists: Vec<ListCase>,
    pub memory: Vec<MemorySample>,
    /// The unmeasured 1 s PutSecretValue run that sized the pool of secrets it writes.
    pub put_probe: Option<RunResult>,
    pub scenarios: Vec<ScenarioReport>,
    pub ratios: Ratios,
    pub warnings: Vec<String>,
}

impl Report {
    /// Any failed request anywhere.
    pub fn failed(&self) -> bool {
        self.seeding.errors > 0
            || self
                .scenarios
                .iter()
                .flat_map(|s| &s.rounds)
                .any(|r| r.errors > 0)
    }
}

#[derive(Serialize, Clone)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub loadavg_start: String,
    pub loadavg_end: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            loadavg_start: loadavg(),
            loadavg_end: String::new(),
        }
    }

    pub fn with_end_load(mut self) -> Self {
        self.loadavg_end = loadavg();
        self
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Serialize)]
pub struct Settings {
    pub coffer_binary: String,
    pub coffer_version: String,
    pub coffer_profile: String,
    pub bench_profile: String,
    pub durability: String,
    pub data_dir_filesystem: String,
    pub server_log: String,
    pub connections: usize,
    pub write_connections: usize,
    pub puts_per_secret: u64,
    pub seed_connections: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub rounds: usize,
    pub secrets: u64,
    pub list_calls: usize,
    pub restarts: usize,
    pub quick: bool,
    pub signing: String,
}

#[derive(Serialize)]
pub struct Startup {
    /// The very first start, which also initialises the data directory.
    pub first_start: StartTimes,
    pub empty_restarts: Vec<StartTimes>,
    pub empty_median: StartTimes,
    pub seeded_secrets: u64,
    pub seeded_restarts: Vec<StartTimes>,
    pub seeded_median: StartTimes,
}

impl Startup {
    pub fn new(
        first_start: StartTimes,
        empty_restarts: Vec<StartTimes>,
        seeded_restarts: Vec<StartTimes>,
        seeded_secrets: u64,
    ) -> Self {
        let summary = |times: &[StartTimes]| StartTimes {
            to_listening_ms: median(times.iter().map(|t| t.to_listening_ms)),
            to_first_ok_ms: median(times.iter().map(|t| t.to_first_ok_ms)),
        };
        Self {
            first_start,
            empty_median: summary(&empty_restarts),
            seeded_median: summary(&seeded_restarts),
            empty_restarts,
            seeded_secrets,
            seeded_restarts,
        }
    }
}

#[derive(Serialize)]
pub struct ListCase {
    pub label: String,
    pub calls: usize,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Items in the first page and whether it offered a next page.
    pub items: usize,
    pub next_token: bool,
    pub latencies_ms: Vec<f64>,
}

impl ListCase {
    pub fn new(label: &str, latencies_ms: Vec<f64>, items: usize, next_token: bool) -> Self {
        let mut sorted = latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        Self {
            label: label.to_owned(),
            calls: latencies_ms.len(),
            median_ms: median(sorted.iter().copied()),
            p90_ms: percentile_sorted(&sorted, 0.90),
            min_ms: sorted.first().copied().unwrap_or(f64::NAN),
            max_ms: sorted.last().copied().unwrap_or(f64::NAN),
            items,
            next_token,
            latencies_ms,
        }
    }
}

#[derive(Serialize)]
pub struct MemorySample {
    pub when: String,
    #[serde(flatten)]
    pub memory: Memory,
}

impl MemorySample {
    pub fn of(when: &str, server: &Server) -> anyhow::Result<Self> {
        Ok(Self {
            when: when.to_owned(),
            memory: server.memory()?,
        })
    }
}

#[derive(Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub rounds: Vec<RunResult>,
    /// Median over rounds of each figure, taken separately.
    pub median: Option<Medians>,
}

#[derive(Serialize, Clone, Copy)]
pub struct Medians {
    pub req_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub server_cpu_us_per_req: f64,
    pub server_cpu_share: f64,
    pub bench_cpu_share: f64,
}

impl ScenarioReport {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            rounds: Vec::new(),
            median: None,
        }
    }

    pub fn summarise(&mut self) {
        if self.rounds.is_empty() {
            return;
        }
        let m = |f: fn(&RunResult) -> f64| median(self.rounds.iter().map(f));
        self.median = Some(Medians {
            req_per_s: m(|r| r.req_per_s),
            p50_ms: m(|r| r.p50_ms),
            p90_ms: m(|r| r.p90_ms),
            p99_ms: m(|r| r.p99_ms),
            server_cpu_us_per_req: m(|r| r.server_cpu_us_per_req),
            server_cpu_share: m(|r| r.server_cpu_s / r.window_s),
            bench_cpu_share: m(|r| r.bench_cpu_s / r.window_s),
        });
    }

    fn errors(&self) -> u64 {
        self.rounds.iter().map(|r| r.errors).sum()
    }
}

/// The scenario label of GetSecretValue on the server without an audit trail.
pub const AUDIT_OFF_GET_LABEL: &str = "GetSecretValue (audit off)";

/// The scenario label of GetSecretValue made by a policy-bound IAM user.
pub const IAM_USER_GET_LABEL: &str = "GetSecretValue (IAM user)";

#[derive(Serialize, Default)]
pub struct Ratios {
    /// GetSecretValue req/s over GET /health req/s: of the medians, and within each round.
    pub get_over_health: Option<Ratio>,
    pub describe_over_health: Option<Ratio>,
    /// GetSecretValue by an IAM user (10-statement policy + resource policy) over the
    /// administrator's GetSecretValue.
    pub iam_user_get_over_admin_get: Option<Ratio>,
    /// GetSecretValue with the audit trail (the default) over the same without it.
    pub audit_on_get_over_audit_off_get: Option<Ratio>,
}

#[derive(Serialize)]
pub struct Ratio {
    pub of_medians: f64,
    pub per_round: Vec<f64>,
    pub median_of_rounds: f64,
}

impl Ratios {
    pub fn compute(scenarios: &[ScenarioReport]) -> Self {
        let find = |name: &str| scenarios.iter().find(|s| s.name == name);
        let ratio = |a: &str, b: &str| {
            let (a, b) = (find(a)?, find(b)?);
            let (ma, mb) = (a.median?, b.median?);
            let per_round: Vec<f64> = a
                .rounds
                .iter()
                .zip(&b.rounds)
                .map(|(x, y)| x.req_per_s / y.req_per_s)
                .collect();
            Some(Ratio {
                of_medians: ma.req_per_s / mb.req_per_s,
                median_of_rounds: median(per_round.iter().copied()),
                per_round,
            })
        };
        Self {
            get_over_health: ratio("GetSecretValue", "GET /health"),
            describe_over_health: ratio("DescribeSecret", "GET /health"),
            iam_user_get_over_admin_get: ratio(IAM_USER_GET_LABEL, "GetSecretValue"),
            audit_on_get_over_audit_off_get: ratio("GetSecretValue", AUDIT_OFF_GET_LABEL),
        }
    }
}

pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// 12345.6 -> "12,346"
fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

fn ms(value: f64) -> String {
    if !value.is_finite() {
        "-".into()
    } else if value < 10.0 {
        format!("{value:.3}")
    } else if value < 100.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn pct(share: f64) -> String {
    if share.is_finite() {
        format!("{:.0}%", share * 100.0)
    } else {
        "-".into()
    }
}

/// The throughput table: one row per scenario, medians of rounds.
pub fn print_scenarios(scenarios: &[ScenarioReport]) {
    println!(
        "  {:<26} {:>5} {:>10} {:>9} {:>9} {:>9} {:>7} {:>12} {:>7} {:>7}   req/s per round",
        "scenario",
        "conns",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "errors",
        "srv CPU/req",
        "srv CPU",
        "bench",
    );
    for scenario in scenarios {
        let Some(md) = scenario.median else { continue };
        let per_round: Vec<String> = scenario
            .rounds
            .iter()
            .map(|r| {
                let mut text = thousands(r.req_per_s);
                if r.truncated {
                    text.push('*');
                }
                text
            })
            .collect();
        println!(
            "  {:<26} {:>5} {:>10} {:>9} {:>9} {:>9} {:>7} {:>9.1} µs {:>7} {:>7}   {}",
            scenario.name,
            scenario.rounds.first().map_or(0, |r| r.connections),
            thousands(md.req_per_s),
            ms(md.p50_ms),
            ms(md.p90_ms),
            ms(md.p99_ms),
            scenario.errors(),
            md.server_cpu_us_per_req,
            pct(md.server_cpu_share),
            pct(md.bench_cpu_share),
            per_round.join(" ")
        );
    }
    println!(
        "  (srv CPU/req: server CPU time per measured request; srv CPU / bench: CPU used by the server / by this tool, 100% = one core)"
    );
    if scenarios
        .iter()
        .flat_map(|s| &s.rounds)
        .any(|r| r.truncated)
    {
        println!(
            "  * the put pool ran out before the end of that window; req/s is over the shortened window"
        );
    }
}

pub fn print_table(report: &Report) {
    let s = &report.settings;
    let m = &report.machine;
    println!();
    println!(
        "coffer-bench {} — {}",
        report.bench_version, report.started_at
    );
    println!("{}", "=".repeat(100));
    println!(
        "machine       {} CPU(s) (nproc), {}, Linux {}",
        m.nproc, m.cpu_model, m.kernel
    );
    println!(
        "load average  {} at start, {} at end (other work on the machine shows here)",
        m.loadavg_start, m.loadavg_end
    );
    println!(
        "server        coffer {} — {} build ({}); bench: {} build",
        s.coffer_version, s.coffer_profile, s.coffer_binary, s.bench_profile
    );
    println!("durability    {}", s.durability);
    println!("data dir      {}", s.data_dir_filesystem);
    println!("server log    {}", s.server_log);
    println!(
        "load          closed loop, keep-alive HTTP/1.1: {} connections (PutSecretValue: {}, {} versions per secret); {}",
        s.connections, s.write_connections, s.puts_per_secret, s.signing
    );
    println!(
        "timing        {} s warm-up + {} s measured per scenario, {} round(s) interleaved; figures are medians of rounds{}",
        s.warmup_s,
        s.duration_s,
        s.rounds,
        if s.quick { "  [--quick smoke run]" } else { "" }
    );
    println!(
        "store         {} seeded secrets present during ListSecrets and the load",
        thousands(s.secrets as f64)
    );

    println!();
    println!(
        "Start-up (from spawn)                           to listening line   to 1st authenticated 200"
    );
    let st = &report.startup;
    println!(
        "  first start, initialises the data dir         {:>12} ms   {:>14} ms",
        ms(st.first_start.to_listening_ms),
        ms(st.first_start.to_first_ok_ms)
    );
    println!(
        "  restart, empty store (median of {})            {:>12} ms   {:>14} ms",
        st.empty_restarts.len(),
        ms(st.empty_median.to_listening_ms),
        ms(st.empty_median.to_first_ok_ms)
    );
    println!(
        "  restart, {:>7} secrets (median of {})        {:>12} ms   {:>14} ms",
        thousands(st.seeded_secrets as f64),
        st.seeded_restarts.len(),
        ms(st.seeded_median.to_listening_ms),
        ms(st.seeded_median.to_first_ok_ms)
    );
    println!(
        "  seeded / empty restart                        {:>12.2}x   {:>14.2}x",
        st.seeded_median.to_listening_ms / st.empty_median.to_listening_ms,
        st.seeded_median.to_first_ok_ms / st.empty_median.to_first_ok_ms
    );

    println!();
    let sd = &report.seeding;
    println!(
        "Seeding       {} CreateSecret over {} connections in {:.1} s = {} secrets/s, errors {}",
        thousands(sd.secrets as f64),
        sd.connections,
        sd.seconds,
        thousands(sd.per_second),
        sd.errors
    );
    if let Some(error) = &sd.first_error {
        println!("              first error: {error}");
    }

    println!();
    println!(
        "Throughput and latency (median of {} round(s); latency = send → last body byte, signing excluded)",
        s.rounds
    );
    print_scenarios(&report.scenarios);
    for (label, ratio) in [
        ("GetSecretValue / health", &report.ratios.get_over_health),
        (
            "DescribeSecret / health",
            &report.ratios.describe_over_health,
        ),
        (
            "GetSecretValue as IAM user / as administrator",
            &report.ratios.iam_user_get_over_admin_get,
        ),
        (
            "GetSecretValue audit on / audit off",
            &report.ratios.audit_on_get_over_audit_off_get,
        ),
    ] {
        if let Some(r) = ratio {
            let rounds: Vec<String> = r.per_round.iter().map(|x| format!("{x:.3}")).collect();
            println!(
                "  {label} req/s: {:.3} (ratio of medians); within each round: {} (median {:.3})",
                r.of_medians,
                rounds.join(" "),
                r.median_of_rounds
            );
        }
    }
    for scenario in &report.scenarios {
        for (i, r) in scenario.rounds.iter().enumerate() {
            if let Some(error) = &r.first_error {
                println!(
                    "  {} round {}: {} errors; first: {error}",
                    scenario.name,
                    i + 1,
                    r.errors
                );
            }
        }
    }

    println!();
    println!(
        "ListSecrets, first page ({} secrets stored; {} calls per case, one connection)",
        thousands(s.secrets as f64),
        s.list_calls
    );
    println!(
        "  {:<44} {:>9} {:>9} {:>9} {:>9} {:>6} {:>5}",
        "case", "median ms", "p90 ms", "min ms", "max ms", "items", "next"
    );
    for case in &report.lists {
        println!(
            "  {:<44} {:>9} {:>9} {:>9} {:>9} {:>6} {:>5}",
            case.label,
            ms(case.median_ms),
            ms(case.p90_ms),
            ms(case.min_ms),
            ms(case.max_ms),
            case.items,
            if case.next_token { "yes" } else { "no" }
        );
    }

    println!();
    println!("Server memory (/proc/<pid>/status)         VmRSS        VmHWM");
    for sample in &report.memory {
        println!(
            "  {:<38} {:>11} {:>12}",
            sample.when,
            mib(sample.memory.vm_rss_kib),
            mib(sample.memory.vm_hwm_kib)
        );
    }
    if !report.warnings.is_empty() {
        println!();
        for warning in &report.warnings {
            println!("warning: {warning}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), 2.5);
        assert!(median(std::iter::empty()).is_nan());
        let sorted: Vec<f64> = (1..=50).map(f64::from).collect();
        assert_eq!(percentile_sorted(&sorted, 0.90), 45.0);
        assert_eq!(percentile_sorted(&sorted, 1.0), 50.0);
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ms(0.41234), "0.412");
        assert_eq!(ms(f64::NAN), "-");
    }
}
