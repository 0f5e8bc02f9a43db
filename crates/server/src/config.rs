//! The server's resolved configuration: flags and `COFFER_*` variables (already merged by
//! clap), then the TOML file, then the defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use zeroize::Zeroizing;

use coffer_store_postgres::PgOptions;

use crate::cli::{LogFormat, ServerArgs, Switch};
use crate::store::StoreChoice;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8484";
pub const DEFAULT_DATA_DIR: &str = "./coffer-data";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";
/// How long a node serves a cached secret when other nodes write the same store.
pub const DEFAULT_SHARED_CACHE_MAX_AGE: Duration = Duration::from_secs(1);

/// The credentials `--dev` uses. Fixed and published so that examples work by copy and
/// paste; they protect nothing, which is why dev mode keeps no data.
pub const DEV_ACCESS_KEY_ID: &str = "AKIACOFFERDEVKEY0001";
pub const DEV_SECRET_ACCESS_KEY: &str = "cofferDevSecretKey/DoNotUseInProduction0";

/// The TOML file: the same options, all optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    store: Option<String>,
    store_pool_size: Option<usize>,
    store_connect_timeout: Option<f64>,
    store_statement_timeout: Option<f64>,
    store_schema: Option<String>,
    cache_max_age: Option<f64>,
    region: Option<String>,
    account_id: Option<String>,
    partition: Option<String>,
    root_key: Option<String>,
    root_key_command: Option<String>,
    admin_access_key_id: Option<String>,
    admin_secret_access_key: Option<String>,
    dev: Option<bool>,
    log_format: Option<LogFormat>,
    log: Option<String>,
    deletion_purge_interval: Option<u64>,
    audit: Option<Switch>,
    audit_file: Option<PathBuf>,
    audit_stdout: Option<bool>,
    audit_fail_open: Option<bool>,
    audit_retention_days: Option<u32>,
    shutdown_grace: Option<u64>,
    rotation_functions: Option<Vec<String>>,
    rotation_check_interval: Option<u64>,
    rotation_retry_delay: Option<u64>,
    rotation_max_attempts: Option<u32>,
}

pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub store: StoreChoice,
    /// The PostgreSQL pool and timeouts (and schema); unused by the embedded store.
    pub store_options: PgOptions,
    /// How long a cached secret is served; `None`: until invalidated by this node's writes.
    pub cache_max_age: Option<Duration>,
    pub region: String,
    pub account_id: String,
    pub partition: String,
    pub root_key: Option<Zeroizing<String>>,
    /// A shell command whose standard output is the root key (base64): the seam for
    /// auto-unseal through an external KMS or HSM.
    pub root_key_command: Option<String>,
    pub admin_key: Option<(String, Zeroizing<String>)>,
    pub dev: bool,
    pub log_format: LogFormat,
    pub log: String,
    pub deletion_purge_interval: Duration,
    pub audit: AuditSettings,
    pub shutdown_grace: Duration,
    pub rotation: RotationConfig,
}

#[derive(Clone, Debug)]
pub struct RotationConfig {
    pub functions: crate::rotation::FunctionRegistry,
    /// Functions given as flags or environment: they win over the file, on reloads too.
    pub functions_from_flags: Vec<String>,
    /// The file to read `rotation_functions` from again on SIGHUP.
    pub config_file: Option<PathBuf>,
    pub check_interval: Duration,
    pub retry_delay: Duration,
    pub max_attempts: u32,
}

#[derive(Clone, Debug)]
pub struct AuditSettings {
    pub enabled: bool,
    pub file: Option<PathBuf>,
    pub stdout: bool,
    pub fail_open: bool,
    pub retention_days: u32,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("store", &self.store)
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("partition", &self.partition)
            .field("dev", &self.dev)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    pub fn resolve(args: ServerArgs) -> anyhow::Result<ServerConfig> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let dev = args.dev || file.dev.unwrap_or(false);
        let admin_id = args.admin_access_key_id.or(file.admin_access_key_id);
        let admin_secret = args
            .admin_secret_access_key
            .or(file.admin_secret_access_key)
            .map(Zeroizing::new);
        let admin_key = match (admin_id, admin_secret) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            _ => bail!(
                "set both COFFER_ADMIN_ACCESS_KEY_ID and COFFER_ADMIN_SECRET_ACCESS_KEY (or neither, to have a key generated)"
            ),
        };
        let store = StoreChoice::parse(args.store.or(file.store).as_deref())?;
        let defaults = PgOptions::default();
        let store_options = PgOptions {
            pool_size: args
                .store_pool_size
                .or(file.store_pool_size)
                .unwrap_or(defaults.pool_size),
            connect_timeout: match args.store_connect_timeout.or(file.store_connect_timeout) {
                Some(seconds) => positive_seconds(seconds, "--store-connect-timeout")?,
                None => defaults.connect_timeout,
            },
            statement_timeout: match args
                .store_statement_timeout
                .or(file.store_statement_timeout)
            {
                Some(seconds) => positive_seconds(seconds, "--store-statement-timeout")?,
                None => defaults.statement_timeout,
            },
            schema: args.store_schema.or(file.store_schema),
            ..defaults
        };
        // The pool wait is the connect timeout too: one bound for "a connection within".
        let store_options = PgOptions {
            pool_wait_timeout: store_options.connect_timeout,
            ..store_options
        };
        let cache_max_age = match args.cache_max_age.or(file.cache_max_age) {
            Some(seconds) => Some(seconds_at_least_zero(seconds, "--cache-max-age")?),
            // The embedded store's only writer is this server, whose writes invalidate.
            None => store.is_postgres().then_some(DEFAULT_SHARED_CACHE_MAX_AGE),
        };
        let config = ServerConfig {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            store,
            store_options,
            cache_max_age,
            region: args
                .region
                .or(file.region)
                .unwrap_or_else(|| DEFAULT_REGION.into()),
            account_id: args
                .account_id
                .or(file.account_id)
                .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.into()),
            partition: args
                .partition
                .or(file.partition)
                .unwrap_or_else(|| "aws".into()),
            root_key: args.root_key.or(file.root_key).map(Zeroizing::new),
            root_key_command: args.root_key_command.or(file.root_key_command),
            admin_key,
            dev,
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            deletion_purge_interval: Duration::from_secs(
                args.deletion_purge_interval
                    .or(file.deletion_purge_interval)
                    .unwrap_or(60)
                    .max(1),
            ),
            audit: AuditSettings {
                enabled: args.audit.or(file.audit).unwrap_or(Switch::On) == Switch::On,
                file: args.audit_file.or(file.audit_file),
                stdout: args.audit_stdout || file.audit_stdout.unwrap_or(false),
                fail_open: args.audit_fail_open || file.audit_fail_open.unwrap_or(false),
                retention_days: args
                    .audit_retention_days
                    .or(file.audit_retention_days)
                    .unwrap_or(90)
                    .max(1),
            },
            shutdown_grace: Duration::from_secs(
                args.shutdown_grace.or(file.shutdown_grace).unwrap_or(30),
            ),
            rotation: RotationConfig {
                functions_from_flags: args.rotation_functions.clone(),
                config_file: args.config.clone(),
                functions: crate::rotation::FunctionRegistry::parse(&if args
                    .rotation_functions
                    .is_empty()
                {
                    file.rotation_functions.unwrap_or_default()
                } else {
                    args.rotation_functions
                })?,
                check_interval: Duration::from_secs(
                    args.rotation_check_interval
                        .or(file.rotation_check_interval)
                        .unwrap_or(10)
                        .max(1),
                ),
                retry_delay: Duration::from_secs(
                    args.rotation_retry_delay
                        .or(file.rotation_retry_delay)
                        .unwrap_or(60),
                ),
                max_attempts: args
                    .rotation_max_attempts
                    .or(file.rotation_max_attempts)
                    .unwrap_or(3)
                    .max(1),
            },
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.root_key.is_some() && self.root_key_command.is_some() {
            bail!("give the root key either with --root-key or with --root-key-command, not both");
        }
        if self.dev && self.store != StoreChoice::DataDir {
            bail!(
                "--dev runs on a throwaway embedded store that disappears on exit; it cannot be combined with --store"
            );
        }
        if !self.store.is_postgres() && self.store_options.schema.is_some() {
            bail!(
                "--store-schema applies to a PostgreSQL store only (give --store postgres://...)"
            );
        }
        if self.store_options.pool_size == 0 {
            bail!("--store-pool-size must be at least 1");
        }
        if self.store.is_postgres() && self.root_key.is_none() && self.root_key_command.is_none() {
            bail!(
                "a PostgreSQL store needs the root key from --root-key (a key file or \
                 COFFER_ROOT_KEY) or --root-key-command, the same on every node: none is \
                 generated, because each node would generate a different one"
            );
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account-id must be 12 digits, got {:?}", self.account_id);
        }
        let region_ok = {
            let parts: Vec<&str> = self.region.split('-').collect();
            parts.len() >= 3
                && parts[..parts.len() - 1]
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
                && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
                && !parts[parts.len() - 1].is_empty()
        };
        if !region_ok {
            bail!(
                "--region must look like an AWS region (e.g. us-east-1), got {:?}",
                self.region
            );
        }
        if self.partition.is_empty()
            || !self
                .partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
        {
            bail!(
                "--partition must be lower-case letters and dashes, got {:?}",
                self.partition
            );
        }
        Ok(())
    }
}

/// A duration option given in seconds (fractions allowed), more than zero.
fn positive_seconds(seconds: f64, flag: &str) -> anyhow::Result<Duration> {
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("{flag} must be a number of seconds above 0, got {seconds}");
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| anyhow::anyhow!("{flag} is out of range: {seconds}"))
}

/// A duration option given in seconds (fractions allowed), zero or more.
fn seconds_at_least_zero(seconds: f64, flag: &str) -> anyhow::Result<Duration> {
    if !(seconds.is_finite() && seconds >= 0.0) {
        bail!("{flag} must be a number of seconds, 0 or more, got {seconds}");
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| anyhow::anyhow!("{flag} is out of range: {seconds}"))
}

impl RotationConfig {
    /// The functions as configured now: the flags (or environment), else the file as it is
    /// now.
    pub fn reload_functions(&self) -> anyhow::Result<crate::rotation::FunctionRegistry> {
        if !self.functions_from_flags.is_empty() {
            return crate::rotation::FunctionRegistry::parse(&self.functions_from_flags);
        }
        let listed = match &self.config_file {
            Some(path) => read_file(path)?.rotation_functions.unwrap_or_default(),
            None => Vec::new(),
        };
        crate::rotation::FunctionRegistry::parse(&listed)
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the config file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServerArgs {
        ServerArgs::default()
    }

    #[test]
    fn defaults_apply_without_flags_or_file() {
        let config = ServerConfig::resolve(args()).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.region, "us-east-1");
        assert_eq!(config.account_id, "000000000000");
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(
            &path,
            "region = \"eu-west-1\"\naccount_id = \"111122223333\"\nlisten = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let config = ServerConfig::resolve(ServerArgs {
            config: Some(path.clone()),
            region: Some("us-west-2".into()),
            ..args()
        })
        .unwrap();
        assert_eq!(config.region, "us-west-2");
        assert_eq!(config.account_id, "111122223333");
        assert_eq!(config.listen.port(), 9000);
    }

    #[test]
    fn the_store_and_its_options_come_from_flags_or_the_file() {
        let config = ServerConfig::resolve(args()).unwrap();
        assert_eq!(config.store, StoreChoice::DataDir);
        assert_eq!(
            config.cache_max_age, None,
            "the embedded store's cache is unbounded"
        );
        assert_eq!(config.store_options, PgOptions::default());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(
            &path,
            "store = \"postgres://coffer:pw@db/coffer\"\nstore_pool_size = 4\n\
             store_connect_timeout = 2\nstore_statement_timeout = 0.5\nstore_schema = \"team_a\"\n\
             root_key = \"/etc/coffer/root.key\"\n",
        )
        .unwrap();
        let config = ServerConfig::resolve(ServerArgs {
            config: Some(path.clone()),
            store_pool_size: Some(32),
            ..args()
        })
        .unwrap();
        assert!(config.store.is_postgres());
        assert_eq!(config.store_options.pool_size, 32);
        assert_eq!(config.store_options.connect_timeout, Duration::from_secs(2));
        assert_eq!(
            config.store_options.pool_wait_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            config.store_options.statement_timeout,
            Duration::from_millis(500)
        );
        assert_eq!(config.store_options.schema.as_deref(), Some("team_a"));
        assert_eq!(config.cache_max_age, Some(DEFAULT_SHARED_CACHE_MAX_AGE));
        assert!(!format!("{config:?}").contains("pw@"), "{config:?}");

        let config = ServerConfig::resolve(ServerArgs {
            config: Some(path),
            cache_max_age: Some(0.25),
            ..args()
        })
        .unwrap();
        assert_eq!(config.cache_max_age, Some(Duration::from_millis(250)));
    }

    #[test]
    fn store_options_that_cannot_work_are_refused() {
        let postgres = || ServerArgs {
            store: Some("postgres://db/coffer".into()),
            root_key: Some("/etc/coffer/root.key".into()),
            ..args()
        };
        let err = ServerConfig::resolve(ServerArgs {
            root_key: None,
            ..postgres()
        })
        .unwrap_err();
        assert!(err.to_string().contains("the same on every node"), "{err}");
        let err = ServerConfig::resolve(ServerArgs {
            dev: true,
            ..postgres()
        })
        .unwrap_err();
        assert!(err.to_string().contains("--dev"), "{err}");
        let err = ServerConfig::resolve(ServerArgs {
            store_schema: Some("s".into()),
            ..args()
        })
        .unwrap_err();
        assert!(err.to_string().contains("PostgreSQL store only"), "{err}");
        for bad in [0.0, -1.0, f64::NAN] {
            let err = ServerConfig::resolve(ServerArgs {
                store_statement_timeout: Some(bad),
                ..postgres()
            })
            .unwrap_err();
            assert!(err.to_string().contains("above 0"), "{err}");
        }
        let err = ServerConfig::resolve(ServerArgs {
            cache_max_age: Some(-1.0),
            ..postgres()
        })
        .unwrap_err();
        assert!(err.to_string().contains("--cache-max-age"), "{err}");
    }

    #[test]
    fn bad_values_are_explained() {
        let err = ServerConfig::resolve(ServerArgs {
            account_id: Some("12".into()),
            ..args()
        })
        .unwrap_err();
        assert!(err.to_string().contains("12 digits"));
        let err = ServerConfig::resolve(ServerArgs {
            region: Some("mars".into()),
            ..args()
        })
        .unwrap_err();
        assert!(err.to_string().contains("AWS region"));
        let err = ServerConfig::resolve(ServerArgs {
            admin_access_key_id: Some("AKIA".into()),
            ..args()
        })
        .unwrap_err();
        assert!(err.to_string().contains("both"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(&path, "unknown_key = 1\n").unwrap();
        let err = ServerConfig::resolve(ServerArgs {
            config: Some(path),
            ..args()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
    }
}
