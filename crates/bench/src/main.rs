//! `coffer-bench`: starts a coffer binary on a throwaway data directory and measures it from
//! the outside — start-up, signed-request throughput and latency, durable writes, seeding,
//! ListSecrets at scale, memory, and start-up again on the seeded store. See README.md.

mod client;
mod load;
mod report;
mod server;
mod sigv4;
mod stores;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};

use crate::client::{Api, Conn};
use crate::load::{PutPool, RunSettings, Workload, put_secret_name};
use crate::report::{
    AUDIT_OFF_GET_LABEL, IAM_USER_GET_LABEL, ListCase, Machine, MemorySample, Ratios, Report,
    ScenarioReport, Settings, Startup,
};
use crate::server::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, Server, ServerSpec, StartTimes};

#[derive(Parser, Debug)]
#[command(
    name = "coffer-bench",
    version,
    about = "Benchmark a coffer binary end to end: start-up, signed-request throughput and latency, scale.",
    long_about = "Benchmark a coffer binary end to end: start-up, signed-request throughput and \
        latency, scale.\n\n\
        Build both first, then run from the workspace root:\n  \
        cargo build --release --locked -p coffer -p coffer-bench\n  \
        target/release/coffer-bench --coffer target/release/coffer\n\n\
        The tool starts the server itself on a temporary data directory with fixed administrator \
        credentials, and shares the machine's cores with it: compare ratios within one run, not \
        absolute figures across machines."
)]
struct Args {
    /// The coffer binary to benchmark.
    #[arg(long, value_name = "PATH", default_value = "target/release/coffer")]
    coffer: PathBuf,

    /// Keep-alive connections (closed-loop workers) for the read scenarios.
    #[arg(long, default_value_t = 32)]
    connections: usize,

    /// Connections for the PutSecretValue scenario.
    #[arg(long, default_value_t = 8)]
    write_connections: usize,

    /// PutSecretValue calls made on one secret before moving to a fresh one (1-95; the quota
    /// is 100 versions per secret). Each put reads the secret with all its versions, so more
    /// versions per secret make puts dearer.
    #[arg(long, default_value_t = 10)]
    puts_per_secret: u64,

    /// Connections used to seed the store with CreateSecret.
    #[arg(long, default_value_t = 64)]
    seed_connections: usize,

    /// Warm-up seconds before each measured window. [default: 3; --quick: 1]
    #[arg(long, value_name = "SECONDS")]
    warmup: Option<f64>,

    /// Measured seconds per scenario and round. [default: 10; --quick: 2]
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,

    /// Rounds of every scenario, interleaved; figures are medians of rounds.
    /// [default: 3; --quick: 1]
    #[arg(long)]
    rounds: Option<usize>,

    /// Secrets to seed before measuring ListSecrets, the load and the restart.
    /// [default: 100000; --quick: 1000]
    #[arg(long)]
    secrets: Option<u64>,

    /// ListSecrets calls per case. [default: 50; --quick: 10]
    #[arg(long)]
    list_calls: Option<usize>,

    /// Restarts measured on the empty and on the seeded store. [default: 3; --quick: 1]
    #[arg(long)]
    restarts: Option<usize>,

    /// Load scenarios to run, in this order within each round.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "health,get,get-as-user,get-audit-off,describe,put"
    )]
    scenarios: Vec<Scenario>,

    /// The server's --log filter (e.g. `debug` for one line per API request, which this tool
    /// drains from stderr). Unset: the server's default (`info`: start-up, shutdown, faults).
    #[arg(long, value_name = "FILTER")]
    server_log: Option<String>,

    /// Directory in which to create the temporary data directory (fsync costs depend on its
    /// filesystem). [default: the system temporary directory]
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Keep the data directory instead of deleting it at the end.
    #[arg(long)]
    keep_data: bool,

    /// Also write every raw result to this file as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// A short smoke run to validate the tool: 1000 secrets, 1 s warm-up, 2 s per scenario,
    /// one round, one restart. Explicit options still win.
    #[arg(long)]
    quick: bool,

    /// Instead of the full run, compare the stores: GetSecretValue and PutSecretValue on the
    /// embedded store, on this PostgreSQL database with one node, and with --nodes nodes
    /// sharing it (the load spread over them). Each deployment gets a schema of its own,
    /// dropped at the end (with psql). Uses --connections, --write-connections,
    /// --puts-per-secret, --warmup, --duration, --rounds, --server-log, --work-dir.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,

    /// Nodes of the several-node PostgreSQL deployment (2-4).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=4))]
    nodes: u8,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// GET /health, unsigned: the HTTP stack's ceiling.
    Health,
    /// GetSecretValue of one secret.
    Get,
    /// GetSecretValue of the same secret by an IAM user whose access comes from a
    /// 10-statement inline policy, with a resource policy on the secret: the cost of policy
    /// evaluation beside the administrator's figure.
    GetAsUser,
    /// GetSecretValue of the same secret on a second server started with `--audit off`: the
    /// cost of the audit trail, beside the first server's figure (audit on, the default).
    GetAuditOff,
    /// DescribeSecret of the same secret.
    Describe,
    /// PutSecretValue, spread over many secrets (durable writes).
    Put,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Scenario::Health => "GET /health",
            Scenario::Get => "GetSecretValue",
            Scenario::GetAsUser => IAM_USER_GET_LABEL,
            Scenario::GetAuditOff => AUDIT_OFF_GET_LABEL,
            Scenario::Describe => "DescribeSecret",
            Scenario::Put => "PutSecretValue",
        }
    }
}

const GET_SECRET: &str = "bench/get/value";
const LIST_PREFIX_NARROW: &str = "bench/seed/00001";
const LIST_PREFIX_ALL: &str = "bench/seed/";

fn seed_name(index: u64) -> String {
    format!("bench/seed/{index:06}")
}

/// A secret value of about 300 bytes, shaped like a database credential.
fn secret_value(tag: &str) -> String {
    let mut value = format!(
        r#"{{"engine":"postgres","host":"db-primary.internal.example.com","port":5432,"dbname":"orders","username":"app_{tag}","password":"pW7#kq2!ZxL9vR4mT1sN8bQ3","notes":""#
    );
    while value.len() < 298 {
        value.push('x');
    }
    value.push_str(r#""}"#);
    value
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(postgres) = args.postgres.clone() {
        return compare_stores(&runtime, args, postgres);
    }
    match runtime.block_on(run(args)) {
        Ok(report) => {
            report::print_table(&report);
            if report.failed() {
                eprintln!("\nFAILED: some requests failed (see the errors above).");
                std::process::ExitCode::from(1)
            } else {
                std::process::ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// `--postgres`: the stores side by side (see `stores`).
fn compare_stores(
    runtime: &tokio::runtime::Runtime,
    args: Args,
    postgres: String,
) -> std::process::ExitCode {
    let settings = resolve(&args).and_then(|config| {
        if !args.coffer.is_file() {
            bail!(
                "the coffer binary was not found at {}; build it first with \
                 `cargo build --release --locked -p coffer`",
                args.coffer.display()
            );
        }
        Ok(stores::StoreSettings {
            coffer: args.coffer.clone(),
            postgres,
            nodes: usize::from(args.nodes),
            connections: args.connections,
            write_connections: args.write_connections,
            puts_per_secret: args.puts_per_secret,
            warmup: config.warmup,
            duration: config.duration,
            rounds: config.rounds,
            server_log: args.server_log.clone(),
            work_dir: args.work_dir.clone().unwrap_or_else(std::env::temp_dir),
        })
    });
    match settings.map(|settings| runtime.block_on(stores::run(settings))) {
        Ok(Ok(true)) => std::process::ExitCode::SUCCESS,
        Ok(Ok(false)) => {
            eprintln!("\nFAILED: some requests failed (see the errors above).");
            std::process::ExitCode::from(1)
        }
        Ok(Err(error)) | Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

struct Resolved {
    warmup: Duration,
    duration: Duration,
    rounds: usize,
    secrets: u64,
    list_calls: usize,
    restarts: usize,
}

fn resolve(args: &Args) -> anyhow::Result<Resolved> {
    let quick = args.quick;
    let seconds = |value: Option<f64>, default: f64, quick_default: f64| {
        let s = value.unwrap_or(if quick { quick_default } else { default });
        if !(s.is_finite() && s >= 0.0) {
            bail!("durations must be non-negative seconds, got {s}");
        }
        Ok(Duration::from_secs_f64(s))
    };
    let resolved = Resolved {
        warmup: seconds(args.warmup, 3.0, 1.0)?,
        duration: seconds(args.duration, 10.0, 2.0)?,
        rounds: args.rounds.unwrap_or(if quick { 1 } else { 3 }),
        secrets: args.secrets.unwrap_or(if quick { 1_000 } else { 100_000 }),
        list_calls: args.list_calls.unwrap_or(if quick { 10 } else { 50 }),
        restarts: args.restarts.unwrap_or(if quick { 1 } else { 3 }),
    };
    if resolved.duration.is_zero() {
        bail!("--duration must be positive");
    }
    if resolved.rounds == 0 || resolved.restarts == 0 || resolved.list_calls == 0 {
        bail!("--rounds, --restarts and --list-calls must be at least 1");
    }
    if args.connections == 0 || args.write_connections == 0 || args.seed_connections == 0 {
        bail!("connection counts must be at least 1");
    }
    if !(1..=load::MAX_PUTS_PER_SECRET).contains(&args.puts_per_secret) {
        bail!(
            "--puts-per-secret must be between 1 and {}",
            load::MAX_PUTS_PER_SECRET
        );
    }
    Ok(resolved)
}

fn step(text: &str) {
    eprintln!("==> {text}");
}

async fn run(args: Args) -> anyhow::Result<Report> {
    let config = resolve(&args)?;
    if !args.coffer.is_file() {
        bail!(
            "the coffer binary was not found at {}.\n\
             Build it first, from the workspace root:\n    \
             cargo build --release --locked -p coffer\n\
             or point --coffer at an existing binary.",
            args.coffer.display()
        );
    }
    let mut warnings = Vec::new();
    if cfg!(debug_assertions) {
        let warning = "coffer-bench itself is a debug build: the load generator is slow and \
                       steals CPU from the server; build it with --release";
        eprintln!("warning: {warning}");
        warnings.push(warning.to_owned());
    }
    let coffer_profile = profile_of(&args.coffer);
    if coffer_profile != "release" {
        let warning = format!(
            "the coffer binary does not look like a release build ({}): figures will be far below a release build's",
            args.coffer.display()
        );
        eprintln!("warning: {warning}");
        warnings.push(warning);
    }

    let started_at = jiff::Timestamp::now().to_string();
    let machine_start = Machine::read();
    let work_parent = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = tempfile::Builder::new()
        .prefix("coffer-bench-")
        .tempdir_in(&work_parent)
        .with_context(|| format!("could not create a directory in {}", work_parent.display()))?;
    let data_dir = work.path().join("data");
    let spec = ServerSpec {
        binary: args.coffer.clone(),
        data_dir: data_dir.clone(),
        log: args.server_log.clone(),
        extra_args: Vec::new(),
    };
    let filesystem = server::filesystem_of(work.path()).map_or_else(
        || "unknown filesystem".to_owned(),
        |(point, fstype, device)| format!("{fstype} ({device} on {point})"),
    );
    if filesystem.starts_with("tmpfs") {
        let warning = "the data directory is on tmpfs: fsync costs nothing there, so write figures flatter the server";
        eprintln!("warning: {warning}");
        warnings.push(warning.to_owned());
    }
    let mut memory = Vec::new();

    // 1. Start-up on an empty store: the first start initialises the directory; restarts
    //    are the comparable figure.
    step(&format!(
        "starting {} on an empty data directory ({})",
        args.coffer.display(),
        data_dir.display()
    ));
    let (first_server, first_start) = Server::start(&spec).await?;
    let coffer_version = first_server.version.clone();
    memory.push(MemorySample::of("first start, empty store", &first_server)?);
    first_server.stop()?;
    let (server, empty_restarts) = restarts(&spec, config.restarts).await?;
    memory.push(MemorySample::of("after restart, empty store", &server)?);
    eprintln!(
        "    first start {:.1} ms to listening; restart {:.1} ms to listening, {:.1} ms to first authenticated 200",
        first_start.to_listening_ms,
        empty_restarts
            .last()
            .map_or(f64::NAN, |t| t.to_listening_ms),
        empty_restarts.last().map_or(f64::NAN, |t| t.to_first_ok_ms)
    );

    let api = Arc::new(Api::new(
        server.addr,
        REGION,
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
    ));
    api.check_signer()?;

    // 2. Seeding.
    step(&format!(
        "seeding {} secrets with CreateSecret over {} connections",
        config.secrets, args.seed_connections
    ));
    let value = Arc::new(secret_value("seed"));
    let seeding = load::create_secrets(
        api.clone(),
        0..config.secrets,
        seed_name,
        value.clone(),
        args.seed_connections,
        Some("seeding"),
    )
    .await?;
    eprintln!(
        "    {} secrets in {:.1} s ({:.0}/s), {} errors",
        seeding.secrets, seeding.seconds, seeding.per_second, seeding.errors
    );
    if let Some(error) = &seeding.first_error {
        eprintln!("    first error: {error}");
    }
    memory.push(MemorySample::of("after seeding", &server)?);

    // The secret the read scenarios fetch; its value must come back intact.
    let get_value = secret_value("get");
    let mut conn = Conn::connect(server.addr).await?;
    conn.call(
        &api,
        "CreateSecret",
        &serde_json::json!({
            "Name": GET_SECRET,
            "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
            "SecretString": get_value,
        }),
    )
    .await
    .context("creating the secret read by the load")?;
    let fetched = conn
        .call(
            &api,
            "GetSecretValue",
            &serde_json::json!({ "SecretId": GET_SECRET }),
        )
        .await?;
    if fetched.get("SecretString").and_then(|v| v.as_str()) != Some(get_value.as_str()) {
        bail!("GetSecretValue returned a different value than was stored: {fetched}");
    }

    let user_api = if args.scenarios.contains(&Scenario::GetAsUser) {
        step("creating an IAM user with a 10-statement policy and a resource policy on the secret");
        let user_api = Arc::new(iam_reader(&api, &mut conn, server.addr).await?);
        let mut user_conn = Conn::connect(server.addr).await?;
        let fetched = user_conn
            .call(
                &user_api,
                "GetSecretValue",
                &serde_json::json!({ "SecretId": GET_SECRET }),
            )
            .await
            .context("the IAM user reading the secret")?;
        if fetched.get("SecretString").and_then(|v| v.as_str()) != Some(get_value.as_str()) {
            bail!("GetSecretValue as the IAM user returned a different value: {fetched}");
        }
        Some(user_api)
    } else {
        None
    };

    // The comparison server without an audit trail, on its own data directory, with the
    // same secret; it runs beside the first for the whole load phase.
    let audit_off = if args.scenarios.contains(&Scenario::GetAuditOff) {
        step("starting a second server with --audit off for the audit comparison");
        let spec_off = ServerSpec {
            binary: args.coffer.clone(),
            data_dir: work.path().join("data-audit-off"),
            log: args.server_log.clone(),
            extra_args: vec!["--audit".into(), "off".into()],
        };
        let (server_off, _) = Server::start(&spec_off).await?;
        let api_off = Arc::new(Api::new(
            server_off.addr,
            REGION,
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
        ));
        let mut conn_off = Conn::connect(server_off.addr).await?;
        conn_off
            .call(
                &api_off,
                "CreateSecret",
                &serde_json::json!({
                    "Name": GET_SECRET,
                    "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
                    "SecretString": get_value,
                }),
            )
            .await
            .context("creating the secret on the audit-off server")?;
        Some((server_off, api_off))
    } else {
        None
    };

    // 3. ListSecrets at scale.
    step(&format!(
        "ListSecrets first page, {} calls per case, {} secrets stored",
        config.list_calls, config.secrets
    ));
    let list_cases = [
        (
            "no filter (default MaxResults)".to_owned(),
            serde_json::json!({}),
        ),
        (
            format!("name prefix \"{LIST_PREFIX_NARROW}\" (10 match)"),
            serde_json::json!({ "Filters": [{ "Key": "name", "Values": [LIST_PREFIX_NARROW] }] }),
        ),
        (
            format!("name prefix \"{LIST_PREFIX_ALL}\" (all match)"),
            serde_json::json!({ "Filters": [{ "Key": "name", "Values": [LIST_PREFIX_ALL] }] }),
        ),
    ];
    let mut lists = Vec::new();
    for (label, body) in list_cases {
        let case = list_case(&api, &mut conn, &label, &body, config.list_calls).await?;
        eprintln!(
            "    {label}: median {:.2} ms, {} items",
            case.median_ms, case.items
        );
        lists.push(case);
    }
    drop(conn);

    // 4. Throughput and latency, rounds interleaved.
    let read_settings = RunSettings {
        connections: args.connections,
        warmup: config.warmup,
        duration: config.duration,
    };
    let write_settings = RunSettings {
        connections: args.write_connections,
        ..read_settings
    };
    let pool = Arc::new(PutPool {
        next: 0.into(),
        created: 0.into(),
        value: secret_value("put"),
        puts_per_secret: args.puts_per_secret,
    });
    let secret_body = Bytes::from(serde_json::json!({ "SecretId": GET_SECRET }).to_string());
    let mut put_probe = None;
    let mut put_rate_estimate = 0.0f64;
    if args.scenarios.contains(&Scenario::Put) {
        step("PutSecretValue probe (1 s, unmeasured) to size the pool of secrets it writes");
        ensure_put_capacity(&api, &pool, 2_000, args.write_connections).await?;
        let probe = load::run(
            api.clone(),
            Workload::PutSecretValue { pool: pool.clone() },
            &RunSettings {
                connections: args.write_connections,
                warmup: Duration::ZERO,
                duration: Duration::from_secs(1),
            },
            server.pid,
        )
        .await?;
        put_rate_estimate = probe.sent_total as f64 / probe.window_s.max(0.05);
        eprintln!("    about {put_rate_estimate:.0} puts/s");
        put_probe = Some(probe);
    }

    let mut scenario_reports: Vec<ScenarioReport> = args
        .scenarios
        .iter()
        .map(|s| ScenarioReport::new(s.label()))
        .collect();
    for round in 0..config.rounds {
        step(&format!(
            "round {}/{}: {} s warm-up + {} s measured per scenario",
            round + 1,
            config.rounds,
            config.warmup.as_secs_f64(),
            config.duration.as_secs_f64()
        ));
        for (index, scenario) in args.scenarios.iter().enumerate() {
            let mut caller = &api;
            let (workload, settings) = match scenario {
                Scenario::Health => (Workload::Health, &read_settings),
                Scenario::Get => (
                    Workload::GetSecretValue {
                        body: secret_body.clone(),
                    },
                    &read_settings,
                ),
                Scenario::GetAuditOff => {
                    caller = &audit_off.as_ref().expect("started above").1;
                    (
                        Workload::GetSecretValue {
                            body: secret_body.clone(),
                        },
                        &read_settings,
                    )
                }
                Scenario::GetAsUser => {
                    caller = user_api.as_ref().expect("set up above");
                    (
                        Workload::GetSecretValue {
                            body: secret_body.clone(),
                        },
                        &read_settings,
                    )
                }
                Scenario::Describe => (
                    Workload::DescribeSecret {
                        body: secret_body.clone(),
                    },
                    &read_settings,
                ),
                Scenario::Put => {
                    let needed =
                        put_rate_estimate * (config.warmup + config.duration).as_secs_f64() * 2.0;
                    ensure_put_capacity(&api, &pool, needed as u64 + 1_000, args.write_connections)
                        .await?;
                    (
                        Workload::PutSecretValue { pool: pool.clone() },
                        &write_settings,
                    )
                }
            };
            let pid = match (scenario, &audit_off) {
                (Scenario::GetAuditOff, Some((server_off, _))) => server_off.pid,
                _ => server.pid,
            };
            let result = load::run(caller.clone(), workload, settings, pid).await?;
            if *scenario == Scenario::Put {
                put_rate_estimate = put_rate_estimate.max(
                    result.sent_total as f64
                        / (config.warmup + config.duration).as_secs_f64().max(0.05),
                );
            }
            eprintln!(
                "    {:<26} {:>9.0} req/s  p50 {:.3} ms  p99 {:.3} ms  errors {}{}",
                scenario.label(),
                result.req_per_s,
                result.p50_ms,
                result.p99_ms,
                result.errors,
                if result.truncated {
                    "  (put pool ran out: window cut short)"
                } else {
                    ""
                }
            );
            if let Some(error) = &result.first_error {
                eprintln!("    first error: {error}");
            }
            scenario_reports[index].rounds.push(result);
        }
    }
    for scenario in &mut scenario_reports {
        scenario.summarise();
    }
    memory.push(MemorySample::of("after the load", &server)?);
    let stored_secrets = config.secrets + 1 + pool.created.load(Ordering::Relaxed);

    // 5. Start-up on the seeded store.
    step(&format!(
        "restarting on the seeded store ({stored_secrets} secrets), {} time(s)",
        config.restarts
    ));
    drop(api);
    drop(user_api);
    if let Some((server_off, api_off)) = audit_off {
        drop(api_off);
        server_off.stop()?;
    }
    server.stop()?;
    let (seeded_server, seeded_restarts) = restarts(&spec, config.restarts).await?;
    memory.push(MemorySample::of(
        "after restart, seeded store",
        &seeded_server,
    )?);
    seeded_server.stop()?;

    let ratios = Ratios::compute(&scenario_reports);
    let startup = Startup::new(first_start, empty_restarts, seeded_restarts, stored_secrets);
    let report = Report {
        tool: "coffer-bench".into(),
        bench_version: env!("CARGO_PKG_VERSION").into(),
        started_at,
        finished_at: jiff::Timestamp::now().to_string(),
        command_line: std::env::args().collect(),
        machine: machine_start.with_end_load(),
        settings: Settings {
            coffer_binary: args.coffer.display().to_string(),
            coffer_version,
            coffer_profile: coffer_profile.into(),
            bench_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            durability: "SQLite WAL, synchronous=FULL (fsync of the WAL on every commit)".into(),
            data_dir_filesystem: filesystem,
            server_log: args
                .server_log
                .clone()
                .unwrap_or_else(|| "server default (info: start-up, shutdown and faults; per-request lines are debug)".into()),
            connections: args.connections,
            write_connections: args.write_connections,
            puts_per_secret: args.puts_per_secret,
            seed_connections: args.seed_connections,
            warmup_s: config.warmup.as_secs_f64(),
            duration_s: config.duration.as_secs_f64(),
            rounds: config.rounds,
            secrets: config.secrets,
            list_calls: config.list_calls,
            restarts: config.restarts,
            quick: args.quick,
            signing: "SigV4, computed per request (lean signer checked against aws-sigv4 at start; signing key derived once per date)"
                .into(),
        },
        startup,
        seeding,
        lists,
        memory,
        put_probe,
        scenarios: scenario_reports,
        ratios,
        warnings,
    };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("could not write {}", path.display()))?;
        eprintln!("raw results written to {}", path.display());
    }
    if args.keep_data {
        let kept = work.keep();
        eprintln!("data directory kept at {}", kept.join("data").display());
    }
    Ok(report)
}

/// The reader's identity policy: ten statements, as a real workload's might be — one grants
/// this secret, the others grant or deny other actions and resources, so evaluation walks them
/// all (a Deny anywhere must be found) with conditions and variables to match.
fn reader_policy() -> String {
    let statements = serde_json::json!([
        {"Sid": "ReadTheBenchSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": format!("arn:aws:secretsmanager:*:*:secret:{GET_SECRET}-??????")},
        {"Sid": "DescribeApp", "Effect": "Allow",
         "Action": ["secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"],
         "Resource": "arn:aws:secretsmanager:*:*:secret:app/*"},
        {"Sid": "List", "Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"},
        {"Sid": "NeverDelete", "Effect": "Deny",
         "Action": ["secretsmanager:DeleteSecret", "secretsmanager:DeleteResourcePolicy"],
         "Resource": "*"},
        {"Sid": "CurrentOnly", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": "arn:aws:secretsmanager:*:*:secret:other/*",
         "Condition": {"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT"}}},
        {"Sid": "TeamSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
        {"Sid": "NotFromOutside", "Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24"]}}},
        {"Sid": "NoWritesToBench", "Effect": "Deny",
         "Action": ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret*"],
         "Resource": "arn:aws:secretsmanager:*:*:secret:bench/*"},
        {"Sid": "Decrypt", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}}},
        {"Sid": "OwnUser", "Effect": "Allow", "Action": ["iam:GetUser", "iam:ListAccessKeys"],
         "Resource": "arn:aws:iam::*:user/${aws:username}"}
    ]);
    serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// Creates the IAM user of the `get-as-user` scenario, its access key, its inline policy and a
/// resource policy on the secret it reads; returns an API signed with the user's key.
async fn iam_reader(
    admin: &Api,
    conn: &mut Conn,
    addr: std::net::SocketAddr,
) -> anyhow::Result<Api> {
    let user = "bench-reader";
    let created = conn
        .iam_call(
            admin,
            "CreateUser",
            &[
                ("UserName", user),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "payments"),
            ],
        )
        .await?;
    let user_arn = client::xml_field(&created, "Arn").context("CreateUser returned no Arn")?;
    let policy = reader_policy();
    conn.iam_call(
        admin,
        "PutUserPolicy",
        &[
            ("UserName", user),
            ("PolicyName", "reader"),
            ("PolicyDocument", &policy),
        ],
    )
    .await?;
    let key = conn
        .iam_call(admin, "CreateAccessKey", &[("UserName", user)])
        .await?;
    let key_id = client::xml_field(&key, "AccessKeyId").context("no AccessKeyId")?;
    let secret = client::xml_field(&key, "SecretAccessKey").context("no SecretAccessKey")?;
    let resource_policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": user_arn},
             "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
             "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "secretsmanager:DeleteSecret",
             "Resource": "*"}
        ]
    });
    conn.call(
        admin,
        "PutResourcePolicy",
        &serde_json::json!({
            "SecretId": GET_SECRET,
            "ResourcePolicy": resource_policy.to_string(),
        }),
    )
    .await
    .context("putting the secret's resource policy")?;
    Ok(Api::new(addr, REGION, &key_id, &secret))
}

/// Starts the server `count` times in a row (stopping all but the last) and returns the last
/// one running with every start's times.
async fn restarts(spec: &ServerSpec, count: usize) -> anyhow::Result<(Server, Vec<StartTimes>)> {
    let mut times = Vec::with_capacity(count);
    let mut last = None;
    for _ in 0..count {
        if let Some(server) = last.take() {
            Server::stop(server)?;
        }
        let (server, t) = Server::start(spec).await?;
        times.push(t);
        last = Some(server);
    }
    Ok((last.expect("at least one start"), times))
}

/// Creates put secrets until `puts` more PutSecretValue calls fit (plus one partly used
/// secret per connection).
async fn ensure_put_capacity(
    api: &Arc<Api>,
    pool: &Arc<PutPool>,
    puts: u64,
    connections: usize,
) -> anyhow::Result<()> {
    let next = pool.next.load(Ordering::Relaxed);
    let created = pool.created.load(Ordering::Relaxed);
    let wanted = next + puts.div_ceil(pool.puts_per_secret) + connections as u64 + 1;
    if wanted <= created {
        return Ok(());
    }
    let started = Instant::now();
    let result = load::create_secrets(
        api.clone(),
        created..wanted,
        put_secret_name,
        Arc::new(pool.value.clone()),
        connections.max(16),
        None,
    )
    .await?;
    if result.errors > 0 {
        bail!(
            "could not create the secrets PutSecretValue writes: {}",
            result.first_error.unwrap_or_default()
        );
    }
    pool.created.store(wanted, Ordering::Relaxed);
    eprintln!(
        "    put pool: {} secrets ({} new in {:.1} s)",
        wanted,
        wanted - created,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn list_case(
    api: &Api,
    conn: &mut Conn,
    label: &str,
    body: &serde_json::Value,
    calls: usize,
) -> anyhow::Result<ListCase> {
    let mut latencies = Vec::with_capacity(calls);
    let mut items = 0;
    let mut next_token = false;
    let body = Bytes::from(body.to_string());
    for _ in 0..calls {
        let request = api.json("ListSecrets", body.clone())?;
        let sent = Instant::now();
        let (status, response) = conn.send(request).await?;
        let elapsed = sent.elapsed();
        if !status.is_success() {
            bail!(
                "ListSecrets ({label}) failed: {}",
                client::describe_failure(status, &response)
            );
        }
        latencies.push(server::ms(elapsed));
        let parsed: serde_json::Value = serde_json::from_slice(&response)?;
        items = parsed
            .get("SecretList")
            .and_then(|l| l.as_array())
            .map_or(0, Vec::len);
        next_token = parsed.get("NextToken").is_some();
    }
    Ok(ListCase::new(label, latencies, items, next_token))
}

/// "release" or "debug" from a binary under target/<profile>/, else "unknown".
fn profile_of(binary: &std::path::Path) -> &'static str {
    let path = binary
        .canonicalize()
        .unwrap_or_else(|_| binary.to_path_buf());
    let components: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if components.iter().any(|c| c == "release") {
        "release"
    } else if components.iter().any(|c| c == "debug") {
        "debug"
    } else {
        "unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_value_is_a_few_hundred_bytes_of_json() {
        let value = secret_value("get");
        assert_eq!(value.len(), 300);
        serde_json::from_str::<serde_json::Value>(&value).unwrap();
    }

    #[test]
    fn quick_sets_short_defaults_and_explicit_options_win() {
        let args = Args::parse_from(["coffer-bench", "--quick", "--secrets", "50"]);
        let resolved = resolve(&args).unwrap();
        assert_eq!(resolved.secrets, 50);
        assert_eq!(resolved.rounds, 1);
        assert_eq!(resolved.duration, Duration::from_secs(2));
        let args = Args::parse_from(["coffer-bench"]);
        let resolved = resolve(&args).unwrap();
        assert_eq!(
            (resolved.secrets, resolved.rounds, resolved.list_calls),
            (100_000, 3, 50)
        );
        assert_eq!(args.connections, 32);
    }

    #[test]
    fn seed_names_sort_and_match_the_narrow_prefix_ten_times() {
        let matching = (0..1_000)
            .map(seed_name)
            .filter(|n| n.starts_with(LIST_PREFIX_NARROW))
            .count();
        assert_eq!(matching, 10);
    }
}
