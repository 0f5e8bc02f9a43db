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
    Server(ServerArgs),
    /// Write an AWS CLI profile that points at a Coffer server, so that
    /// `aws --profile coffer secretsmanager list-secrets` just works.
    Profile(ProfileArgs),
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
    /// administrator credentials. Created if missing. [default: ./coffer-data]
    #[arg(long, env = "COFFER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

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
    /// key is read from <data-dir>/root.key, and generated there (mode 0600) on first start.
    /// Prefer the environment variable or a path: a base64 key on the command line is
    /// visible to other users in the process list.
    #[arg(
        long,
        env = "COFFER_ROOT_KEY",
        value_name = "BASE64|PATH",
        hide_env_values = true
    )]
    pub root_key: Option<String>,

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

    /// Seconds between runs of the job that removes secrets whose recovery window has ended.
    /// [default: 60]
    #[arg(long, env = "COFFER_DELETION_PURGE_INTERVAL", value_name = "SECONDS")]
    pub deletion_purge_interval: Option<u64>,

    /// Seconds to let in-flight requests finish after SIGTERM or SIGINT before closing.
    /// [default: 30]
    #[arg(long, env = "COFFER_SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub shutdown_grace: Option<u64>,
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
