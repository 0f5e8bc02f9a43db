//! Structured logs on stderr, as text or JSON lines.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Targets whose verbose levels would print credentials: the SigV4 verifier logs canonical
/// requests (session tokens included) at trace level. Clamped whatever the user asks for.
const CLAMPED_TARGETS: &[&str] = &["scratchstack_aws_signature", "aws_sigv4"];

pub fn filter(user_filter: &str) -> String {
    let mut filter = user_filter.to_owned();
    for target in coffer_auth::SENSITIVE_LOG_TARGETS
        .iter()
        .chain(CLAMPED_TARGETS)
    {
        filter.push_str(&format!(",{target}=warn"));
    }
    filter
}

pub fn init(format: LogFormat, user_filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter(user_filter))
        .map_err(|e| anyhow::anyhow!("invalid --log filter {user_filter:?}: {e}"))?;
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    }
    .map_err(|e| anyhow::anyhow!("could not set up logging: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_verifier_is_clamped_after_the_users_filter() {
        let f = super::filter("trace");
        assert!(f.starts_with("trace,"));
        assert!(f.ends_with("scratchstack_aws_signature=warn,aws_sigv4=warn"));
    }
}
