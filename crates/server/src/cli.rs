//! The command line. Every server option exists as a flag, as a `COFFER_*` environment
//! variable and as a key of the optional TOML file, in that order of precedence; clap
//! resolves flag-over-env, `config::ServerConfig::resolve` fills the rest from the file and
//! the defaults. Defaults are written in the help text because clap must not apply them
//! (a clap default would hide the file's value).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "coffer",
    version,
    about = "A self-hosted secrets manager that speaks the AWS Secrets Manager API.",
    long_about = "A self-hosted secrets manager that speaks the AWS Secrets Manager API.\n\n\
        Point the unchanged AWS CLI, boto3 or any AWS SDK at it with an endpoint URL. Secrets are \
        encrypted at rest under a root key and every request must carry a valid AWS Signature \
        Version 4.\n\n\
        Quick start:\n  coffer server --dev            throwaway server with fixed credentials\n  \
        coffer server                  durable server with its state in ./coffer-data"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Server(Box<ServerArgs>),
    /// Write an AWS CLI profile that points at a Coffer server, so that
    /// `aws --profile coffer secretsmanager list-secrets` just works.
    Profile(ProfileArgs),
    /// Root-of-trust operations: split a new data directory's root key into unseal shares,
    /// unseal or seal a running server, ask whether it is sealed, or rotate a root key kept
    /// in a key file.
    Operator(OperatorArgs),
    /// The audit trail: verify that no record was modified, removed, inserted or reordered.
    Audit(AuditArgs),
    /// Register, remove or list the rotation functions of a server's configuration file
    /// (`rotation_functions`). A running server reads them again on SIGHUP.
    RotationFunction(RotationFunctionArgs),
}

#[derive(Args, Debug)]
pub struct RotationFunctionArgs {
    /// The server's TOML configuration file (created if missing).
    #[arg(long, env = "COFFER_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: RotationFunctionCommand,
}

#[derive(Subcommand, Debug)]
pub enum RotationFunctionCommand {
    /// Register a function (or change its URL): RotationLambdaARN
    /// `arn:aws:lambda:<region>:<account>:function:NAME` then invokes it at URL.
    Add {
        /// NAME=URL, e.g. `pg-rotator=http://10.0.0.5:9000`.
        #[arg(value_name = "NAME=URL")]
        function: String,
    },
    /// Remove a function.
    Remove {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// List the registered functions.
    List,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the audit trail of a data directory: every record against its hash and its
    /// predecessor, and every signed digest. Reports each modified, removed, inserted or
    /// reordered record and where. Exit status 0 when intact, 1 when not. Safe while the
    /// server runs.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The data directory.
    #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
    pub data_dir: PathBuf,
    /// The store, as for `coffer server --store` (a PostgreSQL URL, or the embedded store's
    /// file); without it, the embedded store of the data directory.
    #[arg(long, env = "COFFER_STORE", value_name = "URL", hide_env_values = true)]
    pub store: Option<String>,
    /// The PostgreSQL schema, as for `coffer server --store-schema`.
    #[arg(long, env = "COFFER_STORE_SCHEMA", value_name = "SCHEMA")]
    pub store_schema: Option<String>,
    /// The root key (as for `coffer server --root-key`), to derive the digest-signing key and
    /// check digests against it. Without it (or --public-key), digests are checked against the
    /// key stored with them, which shows consistency but not who signed.
    #[arg(
        long,
        env = "COFFER_ROOT_KEY",
        value_name = "BASE64|PATH",
        hide_env_values = true
    )]
    pub root_key: Option<String>,
    /// The trail's digest-signing public key (hex), as printed at server start.
    #[arg(long, value_name = "HEX")]
    pub public_key: Option<String>,
}

#[derive(Args, Debug)]
pub struct OperatorArgs {
    #[command(subcommand)]
    pub command: OperatorCommand,
}

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Initialise a NEW data directory whose root key exists only as Shamir unseal shares.
    /// The shares are printed once; a server started on the directory is sealed until
    /// `coffer operator unseal` has received the threshold of them. Run it before the first
    /// `coffer server` on that directory.
    Init(InitArgs),
    /// Submit one unseal share to a sealed server (prompted on standard input if not given).
    Unseal(UnsealArgs),
    /// Seal a running server: it drops every key and answers 503 until unsealed again.
    /// Needs credentials allowed `coffer:Seal` (the administrator has them).
    Seal(SealArgs),
    /// Whether a server is sealed, and the unseal progress.
    Status(StatusArgs),
    /// Replace the root key of a data directory kept in a key file (the server must be
    /// stopped). The key-encryption keys are re-wrapped under a new key, which replaces the
    /// key file; nothing else is rewritten. Back up the new key file afterwards.
    RotateRootKey(RotateRootKeyArgs),
}

#[derive(Args, Debug)]
pub struct RotateRootKeyArgs {
    /// The data directory.
    #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
    pub data_dir: PathBuf,
    /// The key file, when it is not <data-dir>/root.key (the path given to --root-key).
    /// Required with a PostgreSQL store.
    #[arg(long, value_name = "PATH")]
    pub root_key_file: Option<PathBuf>,
    /// The store, as for `coffer server --store`. With PostgreSQL the nodes may keep running
    /// (they hold the unwrapped keys); restart each with the new key file afterwards.
    #[arg(long, env = "COFFER_STORE", value_name = "URL", hide_env_values = true)]
    pub store: Option<String>,
    /// The PostgreSQL schema, as for `coffer server --store-schema`.
    #[arg(long, env = "COFFER_STORE_SCHEMA", value_name = "SCHEMA")]
    pub store_schema: Option<String>,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The data directory to initialise; it must not hold a store yet.
    #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
    pub data_dir: PathBuf,
    /// How many unseal shares to split the root key into (1-16).
    #[arg(long, default_value_t = 5)]
    pub key_shares: u8,
    /// How many of them unseal the server (2 or more, unless there is a single share).
    #[arg(long, default_value_t = 3)]
    pub key_threshold: u8,
    /// The store, as for `coffer server --store`. Unseal shares work with the embedded store
    /// only: a PostgreSQL store is refused.
    #[arg(long, env = "COFFER_STORE", value_name = "URL", hide_env_values = true)]
    pub store: Option<String>,
}

#[derive(Args, Debug)]
pub struct UnsealArgs {
    /// URL of the Coffer server (plain HTTP, e.g. on the server's host).
    #[arg(
        long,
        env = "COFFER_ENDPOINT_URL",
        default_value = "http://127.0.0.1:8484"
    )]
    pub endpoint_url: String,
    /// The share. Prefer leaving it out and typing it when prompted: a share on the command
    /// line is visible in the process list and the shell history.
    pub share: Option<String>,
    /// Forget the shares submitted so far instead of submitting one.
    #[arg(long)]
    pub reset: bool,
}

#[derive(Args, Debug)]
pub struct SealArgs {
    /// URL of the Coffer server (plain HTTP, e.g. on the server's host).
    #[arg(
        long,
        env = "COFFER_ENDPOINT_URL",
        default_value = "http://127.0.0.1:8484"
    )]
    pub endpoint_url: String,
    /// A shared-credentials file (such as <data-dir>/admin-credentials) whose [default]
    /// keys sign the request; otherwise AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// The region the server serves (its --region).
    #[arg(long, env = "COFFER_REGION", default_value = "us-east-1")]
    pub region: String,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// URL of the Coffer server (plain HTTP, e.g. on the server's host).
    #[arg(
        long,
        env = "COFFER_ENDPOINT_URL",
        default_value = "http://127.0.0.1:8484"
    )]
    pub endpoint_url: String,
}

#[derive(Args, Debug, Default, Clone)]
#[command(next_line_help = false)]
pub struct ServerArgs {
    /// Optional TOML file with any of the options below (keys are the long option names with
    /// `-` replaced by `_`, e.g. `data_dir = "/var/lib/coffer"`). Flags and environment
    /// variables take precedence over it.
    #[arg(long, env = "COFFER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to serve HTTP on. Use port 0 to pick a free port (the chosen address is
    /// printed). [default: 127.0.0.1:8484]
    #[arg(long, env = "COFFER_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Directory holding the embedded store, the root key (unless given otherwise) and the
    /// administrator credentials. Created if missing. With a PostgreSQL store it holds no
    /// data: only the administrator credentials the first node writes.
    /// [default: ./coffer-data]
    #[arg(long, env = "COFFER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Where the data lives. `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (or `postgresql://`,
    /// or a libpq `host=... dbname=...` string): PostgreSQL, shared by any number of
    /// stateless nodes started with the same root key. `sqlite://PATH` or a path: the
    /// embedded store in that file. Prefer the environment variable or the TOML file for a
    /// URL with a password: the command line is visible in the process list.
    /// [default: the embedded store, <data-dir>/coffer.db]
    #[arg(long, env = "COFFER_STORE", value_name = "URL", hide_env_values = true)]
    pub store: Option<String>,

    /// PostgreSQL: most connections this node keeps to the database (made on demand).
    /// [default: 16]
    #[arg(long, env = "COFFER_STORE_POOL_SIZE", value_name = "N")]
    pub store_pool_size: Option<usize>,

    /// PostgreSQL: seconds allowed to make one connection (TCP and handshake); also how long
    /// a request waits for a free pooled connection. [default: 5]
    #[arg(long, env = "COFFER_STORE_CONNECT_TIMEOUT", value_name = "SECONDS")]
    pub store_connect_timeout: Option<f64>,

    /// PostgreSQL: seconds one statement may take, waiting for locks included; a
    /// transaction attempt is abandoned after twice this. [default: 10]
    #[arg(long, env = "COFFER_STORE_STATEMENT_TIMEOUT", value_name = "SECONDS")]
    pub store_statement_timeout: Option<f64>,

    /// PostgreSQL: keep Coffer's tables in this schema (created if missing), so that several
    /// deployments or test runs share one database. Lower-case letters, digits and `_`.
    /// [default: the database's search path]
    #[arg(long, env = "COFFER_STORE_SCHEMA", value_name = "SCHEMA")]
    pub store_schema: Option<String>,

    /// Seconds a cached secret (metadata, labels, policy, tags) is served before it is read
    /// again: how long a change made through another node may go unseen here. 0 disables
    /// the cache's secret entries. [default: 1 with PostgreSQL; unbounded with the embedded
    /// store, whose only writer is this server]
    #[arg(long, env = "COFFER_CACHE_MAX_AGE", value_name = "SECONDS")]
    pub cache_max_age: Option<f64>,

    /// The AWS region this server serves; clients must sign requests for it.
    /// [default: us-east-1]
    #[arg(long, env = "COFFER_REGION", value_name = "REGION")]
    pub region: Option<String>,

    /// The 12-digit AWS account id that owns everything on this server.
    /// [default: 000000000000]
    #[arg(long, env = "COFFER_ACCOUNT_ID", value_name = "ID")]
    pub account_id: Option<String>,

    /// ARN partition used in the ARNs this server returns. [default: aws]
    #[arg(long, env = "COFFER_PARTITION", value_name = "PARTITION")]
    pub partition: Option<String>,

    /// The root key: 32 bytes as base64, or the path of a file holding it. Without it the
    /// key is read from <data-dir>/root.key, and generated there (mode 0600) on first start;
    /// a PostgreSQL store needs it (or --root-key-command), the same on every node.
    /// Prefer the environment variable or a path: a base64 key on the command line is
    /// visible to other users in the process list.
    #[arg(
        long,
        env = "COFFER_ROOT_KEY",
        value_name = "BASE64|PATH",
        hide_env_values = true
    )]
    pub root_key: Option<String>,

    /// A command (run with `sh -c`) that prints the root key as base64 on standard output:
    /// the seam for auto-unseal through an external KMS or HSM, e.g.
    /// `aws kms decrypt --ciphertext-blob fileb:///etc/coffer/root.key.enc --query Plaintext
    /// --output text`. Its output is never logged. Not with --root-key.
    #[arg(long, env = "COFFER_ROOT_KEY_COMMAND", value_name = "COMMAND")]
    pub root_key_command: Option<String>,

    /// Access key id of the administrator to create on first start (together with the
    /// secret below); otherwise a key is generated and written to <data-dir>/admin-credentials.
    #[arg(long, env = "COFFER_ADMIN_ACCESS_KEY_ID", value_name = "AKIA...")]
    pub admin_access_key_id: Option<String>,

    /// Secret access key of that administrator.
    #[arg(
        long,
        env = "COFFER_ADMIN_SECRET_ACCESS_KEY",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub admin_secret_access_key: Option<String>,

    /// Development mode: a throwaway store in a temporary directory (deleted on exit), the
    /// fixed, documented development credentials, and a ready-to-paste block of environment
    /// variables. Never use it for real secrets.
    #[arg(long, env = "COFFER_DEV")]
    pub dev: bool,

    /// Log format. [default: text]
    #[arg(long, env = "COFFER_LOG_FORMAT", value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Log filter in RUST_LOG syntax, e.g. `info` or `coffer=debug`. [default: info]
    #[arg(long, env = "COFFER_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// Seconds between runs of the background jobs: removing secrets whose recovery window
    /// has ended, purging audit records past retention, and KMS key maintenance (due
    /// rotations, deletions at the end of their waiting period). Each job runs on one node
    /// at a time; another node takes it over within 3 x this + 5 s of its node dying.
    /// [default: 60]
    #[arg(long, env = "COFFER_DELETION_PURGE_INTERVAL", value_name = "SECONDS")]
    pub deletion_purge_interval: Option<u64>,

    /// Whether to keep an audit trail of every API call (on, or off only for measurements:
    /// a secrets manager without an audit trail cannot answer who read what). [default: on]
    #[arg(long, env = "COFFER_AUDIT", value_enum, value_name = "ON|OFF")]
    pub audit: Option<Switch>,

    /// Also append every audit record, as one JSON line, to this file.
    #[arg(long, env = "COFFER_AUDIT_FILE", value_name = "PATH")]
    pub audit_file: Option<PathBuf>,

    /// Also write every audit record, as one JSON line, to standard output.
    #[arg(long, env = "COFFER_AUDIT_STDOUT")]
    pub audit_stdout: bool,

    /// Serve requests even when the audit trail cannot be written (their records are then
    /// lost). By default the server fails closed: no record, no request.
    #[arg(long, env = "COFFER_AUDIT_FAIL_OPEN")]
    pub audit_fail_open: bool,

    /// Days of audit records kept; older records are purged. [default: 90]
    #[arg(long, env = "COFFER_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    pub audit_retention_days: Option<u32>,

    /// A rotation function Coffer may invoke, as NAME=URL (repeatable): RotationLambdaARN
    /// `arn:aws:lambda:<region>:<account>:function:NAME` is then invoked over the Lambda
    /// Invoke protocol at `URL/2015-03-31/functions/NAME/invocations` (http:// only). No other
    /// address is ever called. `coffer-rotation-single-user` and
    /// `coffer-rotation-alternating-users` are built in (database secrets).
    #[arg(
        long = "rotation-function",
        env = "COFFER_ROTATION_FUNCTIONS",
        value_delimiter = ',',
        value_name = "NAME=URL"
    )]
    pub rotation_functions: Vec<String>,

    /// Seconds between the rotation scheduler's looks for due rotations (it also runs at once
    /// after a RotateSecret). [default: 10]
    #[arg(long, env = "COFFER_ROTATION_CHECK_INTERVAL", value_name = "SECONDS")]
    pub rotation_check_interval: Option<u64>,

    /// Seconds before a failed rotation is retried from the step that failed; doubled for
    /// each later attempt. [default: 60]
    #[arg(long, env = "COFFER_ROTATION_RETRY_DELAY", value_name = "SECONDS")]
    pub rotation_retry_delay: Option<u64>,

    /// Attempts at one rotation before it is given up (the pending version is then left as
    /// the function left it). [default: 3]
    #[arg(long, env = "COFFER_ROTATION_MAX_ATTEMPTS", value_name = "N")]
    pub rotation_max_attempts: Option<u32>,

    /// Seconds to let in-flight requests finish after SIGTERM or SIGINT before closing.
    /// [default: 30]
    #[arg(long, env = "COFFER_SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub shutdown_grace: Option<u64>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    On,
    Off,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// Name of the profile to write.
    #[arg(long, default_value = "coffer")]
    pub name: String,

    /// URL of the Coffer server.
    #[arg(
        long,
        env = "COFFER_ENDPOINT_URL",
        default_value = "http://127.0.0.1:8484"
    )]
    pub endpoint_url: String,

    /// Region the profile signs for (the server's --region).
    #[arg(long, env = "COFFER_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Data directory of the server, whose admin-credentials file supplies the keys.
    #[arg(long, env = "COFFER_DATA_DIR", default_value = "./coffer-data")]
    pub data_dir: PathBuf,

    /// Use the fixed development credentials of `coffer server --dev` instead.
    #[arg(long)]
    pub dev: bool,

    /// Directory of the AWS CLI configuration (`config` and `credentials` files).
    /// [default: ~/.aws]
    #[arg(long, env = "COFFER_AWS_CONFIG_DIR", value_name = "DIR")]
    pub aws_dir: Option<PathBuf>,
}
