//! `--postgres URL`: the stores side by side, in one run. GetSecretValue and PutSecretValue on
//! the embedded store (one server), on PostgreSQL with one node, and on PostgreSQL with three
//! nodes sharing one database, the load's connections spread round-robin over the nodes. Every
//! deployment runs for the whole measurement and the scenarios are interleaved per round, so
//! the figures of one round saw the same machine.
//!
//! Each PostgreSQL deployment gets a schema of its own (`--store-schema`), dropped at the end
//! with `psql` when it is installed. The "srv CPU" figures are Coffer's processes only; the
//! PostgreSQL column is the CPU of every `postgres` process on the machine during the run
//! (warm-up included), per request sent.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use bytes::Bytes;

use crate::client::{Api, Conn};
use crate::load::{self, PutPool, RunSettings, Workload};
use crate::report::{Machine, ScenarioReport, median, print_scenarios};
use crate::server::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, Server, ServerSpec, cpu_seconds};

pub struct StoreSettings {
    pub coffer: std::path::PathBuf,
    pub postgres: String,
    pub nodes: usize,
    pub connections: usize,
    pub write_connections: usize,
    pub puts_per_secret: u64,
    pub warmup: Duration,
    pub duration: Duration,
    pub rounds: usize,
    pub server_log: Option<String>,
    pub work_dir: std::path::PathBuf,
}

/// One deployment under test: its nodes, a client per node, and its own put pool.
struct Deployment {
    name: &'static str,
    servers: Vec<Server>,
    apis: Vec<Arc<Api>>,
    pool: Arc<PutPool>,
    put_rate: f64,
    schema: Option<String>,
}

impl Deployment {
    fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(|s| s.pid).collect()
    }
}

fn schema_name(nodes: usize) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("coffer_bench_{now}_{}_{nodes}", std::process::id())
}

fn write_root_key(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    let path = dir.join("root.key");
    std::fs::write(
        &path,
        base64::engine::general_purpose::STANDARD.encode(bytes) + "\n",
    )
    .with_context(|| format!("could not write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(path)
}

/// Drops a schema with `psql`, if it is installed; says what to drop otherwise.
fn drop_schema(url: &str, schema: &str) {
    let dropped = std::process::Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-c",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !dropped {
        eprintln!("note: could not drop the schema {schema} (no psql?); drop it by hand");
    }
}

/// CPU seconds of every `postgres` process on the machine.
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return f64::NAN;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|e| cpu_seconds(&e.path().join("stat").to_string_lossy()).ok())
        .sum()
}

async fn start(
    settings: &StoreSettings,
    name: &'static str,
    nodes: usize,
    postgres: Option<&Path>,
    work: &Path,
) -> anyhow::Result<Deployment> {
    crate::step(&format!("starting {name}"));
    let schema = postgres.map(|_| schema_name(nodes));
    let mut servers = Vec::new();
    for node in 0..nodes {
        let mut extra_args = Vec::new();
        if let (Some(key), Some(schema)) = (postgres, &schema) {
            extra_args.extend([
                "--store".to_owned(),
                settings.postgres.clone(),
                "--store-schema".to_owned(),
                schema.clone(),
                "--root-key".to_owned(),
                key.display().to_string(),
            ]);
        }
        let spec = ServerSpec {
            binary: settings.coffer.clone(),
            data_dir: work.join(format!("{}-{node}", name.replace([' ', ','], "-"))),
            log: settings.server_log.clone(),
            extra_args,
        };
        let (server, _) = Server::start(&spec).await?;
        servers.push(server);
    }
    let apis: Vec<Arc<Api>> = servers
        .iter()
        .map(|s| Arc::new(Api::new(s.addr, REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY)))
        .collect();
    let value = crate::secret_value("get");
    let mut conn = Conn::connect(apis[0].addr).await?;
    conn.call(
        &apis[0],
        "CreateSecret",
        &serde_json::json!({
            "Name": crate::GET_SECRET,
            "ClientRequestToken": uuid::Uuid::new_v4().to_string(),
            "SecretString": value,
        }),
    )
    .await
    .with_context(|| format!("creating the secret read by the load on {name}"))?;
    // Every node serves the same value (the others read it from the shared store).
    for api in &apis {
        let mut conn = Conn::connect(api.addr).await?;
        let fetched = conn
            .call(
                api,
                "GetSecretValue",
                &serde_json::json!({ "SecretId": crate::GET_SECRET }),
            )
            .await?;
        if fetched.get("SecretString").and_then(|v| v.as_str()) != Some(value.as_str()) {
            bail!("{name}: GetSecretValue returned a different value than was stored");
        }
    }
    let pool = Arc::new(PutPool {
        next: 0.into(),
        created: 0.into(),
        value: crate::secret_value("put"),
        puts_per_secret: settings.puts_per_secret,
    });
    crate::ensure_put_capacity(&apis[0], &pool, 2_000, settings.write_connections).await?;
    let probe = load::run_spread(
        &apis,
        Workload::PutSecretValue { pool: pool.clone() },
        &RunSettings {
            connections: settings.write_connections,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
        },
        &servers.iter().map(|s| s.pid).collect::<Vec<_>>(),
    )
    .await?;
    let put_rate = probe.sent_total as f64 / probe.window_s.max(0.05);
    eprintln!("    about {put_rate:.0} puts/s");
    Ok(Deployment {
        name,
        servers,
        apis,
        pool,
        put_rate,
        schema,
    })
}

/// Runs the comparison and prints it.
pub async fn run(settings: StoreSettings) -> anyhow::Result<bool> {
    let machine = Machine::read();
    let work = tempfile::Builder::new()
        .prefix("coffer-bench-stores-")
        .tempdir_in(&settings.work_dir)
        .with_context(|| {
            format!(
                "could not create a directory in {}",
                settings.work_dir.display()
            )
        })?;
    let key = write_root_key(work.path())?;
    let nodes = settings.nodes.max(2);
    let deployments = [
        ("embedded", 1, None),
        ("PG, 1 node", 1, Some(key.as_path())),
        (
            match nodes {
                2 => "PG, 2 nodes",
                3 => "PG, 3 nodes",
                4 => "PG, 4 nodes",
                _ => "PG, n nodes",
            },
            nodes,
            Some(key.as_path()),
        ),
    ];
    let mut started = Vec::new();
    let mut result = Ok(());
    for (name, count, postgres) in deployments {
        match start(&settings, name, count, postgres, work.path()).await {
            Ok(deployment) => started.push(deployment),
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    let outcome = match result {
        Ok(()) => measure(&settings, &mut started, &machine).await,
        Err(error) => Err(error),
    };
    for deployment in started {
        for server in deployment.servers {
            server.stop()?;
        }
        if let Some(schema) = &deployment.schema {
            drop_schema(&settings.postgres, schema);
        }
    }
    outcome
}

async fn measure(
    settings: &StoreSettings,
    deployments: &mut [Deployment],
    machine: &Machine,
) -> anyhow::Result<bool> {
    let read = RunSettings {
        connections: settings.connections,
        warmup: settings.warmup,
        duration: settings.duration,
    };
    let write = RunSettings {
        connections: settings.write_connections,
        ..read
    };
    let body = Bytes::from(serde_json::json!({ "SecretId": crate::GET_SECRET }).to_string());
    let mut reports: Vec<ScenarioReport> = Vec::new();
    let mut pg_cpu: Vec<Vec<f64>> = Vec::new();
    for operation in ["GetSecretValue", "PutSecretValue"] {
        for deployment in deployments.iter() {
            reports.push(ScenarioReport::new(&format!(
                "{} {}",
                operation.trim_end_matches("SecretValue"),
                deployment.name
            )));
            pg_cpu.push(Vec::new());
        }
    }
    let count = deployments.len();
    for round in 0..settings.rounds {
        crate::step(&format!(
            "round {}/{}: {} s warm-up + {} s measured per scenario",
            round + 1,
            settings.rounds,
            settings.warmup.as_secs_f64(),
            settings.duration.as_secs_f64()
        ));
        for (op, put) in [false, true].into_iter().enumerate() {
            for (index, deployment) in deployments.iter_mut().enumerate() {
                let (workload, run_settings) = if put {
                    let needed = deployment.put_rate
                        * (settings.warmup + settings.duration).as_secs_f64()
                        * 2.0;
                    crate::ensure_put_capacity(
                        &deployment.apis[0],
                        &deployment.pool,
                        needed as u64 + 1_000,
                        settings.write_connections,
                    )
                    .await?;
                    (
                        Workload::PutSecretValue {
                            pool: deployment.pool.clone(),
                        },
                        &write,
                    )
                } else {
                    (Workload::GetSecretValue { body: body.clone() }, &read)
                };
                let pg_before = postgres_cpu_seconds();
                let result =
                    load::run_spread(&deployment.apis, workload, run_settings, &deployment.pids())
                        .await?;
                let pg_used = postgres_cpu_seconds() - pg_before;
                if put {
                    deployment.put_rate = deployment.put_rate.max(
                        result.sent_total as f64
                            / (settings.warmup + settings.duration)
                                .as_secs_f64()
                                .max(0.05),
                    );
                }
                let slot = op * count + index;
                eprintln!(
                    "    {:<26} {:>9.0} req/s  p50 {:.3} ms  p99 {:.3} ms  errors {}",
                    reports[slot].name,
                    result.req_per_s,
                    result.p50_ms,
                    result.p99_ms,
                    result.errors
                );
                if let Some(error) = &result.first_error {
                    eprintln!("    first error: {error}");
                }
                pg_cpu[slot].push(if deployment.schema.is_some() {
                    pg_used * 1e6 / result.sent_total.max(1) as f64
                } else {
                    f64::NAN
                });
                reports[slot].rounds.push(result);
            }
        }
    }
    for report in &mut reports {
        report.summarise();
    }
    let machine = machine.clone().with_end_load();
    println!();
    println!("coffer-bench: the stores side by side");
    println!("{}", "=".repeat(100));
    println!(
        "machine       {} CPU(s) (nproc), {}, Linux {}",
        machine.nproc, machine.cpu_model, machine.kernel
    );
    println!(
        "load average  {} at start, {} at end",
        machine.loadavg_start, machine.loadavg_end
    );
    println!(
        "server        {} ({} build)",
        settings.coffer.display(),
        crate::profile_of(&settings.coffer)
    );
    println!(
        "stores        embedded: SQLite WAL, synchronous=FULL; PG: PostgreSQL at {} (each \
         deployment its own schema), READ COMMITTED, commit = the server's fsync",
        redact(&settings.postgres)
    );
    println!(
        "load          closed loop: {} connections for GetSecretValue, {} for PutSecretValue ({} \
         versions per secret), spread round-robin over a deployment's nodes",
        settings.connections, settings.write_connections, settings.puts_per_secret
    );
    println!(
        "timing        {} s warm-up + {} s measured per scenario, {} round(s) interleaved",
        settings.warmup.as_secs_f64(),
        settings.duration.as_secs_f64(),
        settings.rounds
    );
    println!();
    print_scenarios(&reports);
    println!(
        "  PostgreSQL CPU per request sent (all postgres processes, warm-up included), median of rounds:"
    );
    for (report, cpu) in reports.iter().zip(&pg_cpu) {
        let value = median(cpu.iter().copied());
        if value.is_finite() {
            println!("    {:<26} {:>9.1} µs", report.name, value);
        }
    }
    let find = |name: &str| {
        reports
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.median)
            .map(|m| m.req_per_s)
    };
    for op in ["Get", "Put"] {
        let names: Vec<String> = deployments
            .iter()
            .map(|d| format!("{op} {}", d.name))
            .collect();
        if let (Some(embedded), Some(one), Some(many)) =
            (find(&names[0]), find(&names[1]), find(&names[2]))
        {
            println!(
                "  {op}SecretValue req/s: PG 1 node / embedded {:.3}; {} / PG 1 node {:.3}",
                one / embedded,
                deployments[2].name,
                many / one
            );
        }
    }
    if cfg!(debug_assertions) || crate::profile_of(&settings.coffer) != "release" {
        println!(
            "warning: not a release build of both tools: figures are far below a release build's"
        );
    }
    Ok(!reports.iter().flat_map(|r| &r.rounds).any(|r| r.errors > 0))
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                if userinfo.contains(':') {
                    format!("{scheme}://{user}:****@{host}")
                } else {
                    format!("{scheme}://{userinfo}@{host}")
                }
            }
            None => url.to_owned(),
        },
        None => "(a key=value connection string)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_shown_has_no_password() {
        assert_eq!(
            redact("postgres://bench:s3cr3t@db:5432/coffer"),
            "postgres://bench:****@db:5432/coffer"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/postgres"),
            "postgres://postgres@127.0.0.1/postgres"
        );
        assert!(!redact("host=db password=s3cr3t").contains("s3cr3t"));
    }

    #[test]
    fn schemas_are_valid_postgresql_names() {
        let name = schema_name(3);
        assert!(name.len() <= 63);
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
    }
}
