//! `coffer profile`: writes `[profile NAME]` (region, endpoint_url) to the AWS CLI's config
//! file and `[NAME]` (the keys) to its credentials file, replacing those sections if present
//! and leaving everything else untouched.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use zeroize::Zeroizing;

use crate::cli::ProfileArgs;
use crate::config::{DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY};
use crate::setup::ADMIN_CREDENTIALS_FILE;

pub fn write(args: &ProfileArgs) -> anyhow::Result<()> {
    if args.name.is_empty() || args.name.contains(['[', ']', '\n']) {
        bail!("--name must be a plain profile name");
    }
    let (access_key_id, secret) = if args.dev {
        (
            DEV_ACCESS_KEY_ID.to_owned(),
            Zeroizing::new(DEV_SECRET_ACCESS_KEY.to_owned()),
        )
    } else {
        read_credentials_file(&args.data_dir.join(ADMIN_CREDENTIALS_FILE)).context(
            "the administrator credentials are written at the server's first start; pass \
             --data-dir, or --dev for a dev server",
        )?
    };
    let aws_dir = match &args.aws_dir {
        Some(dir) => dir.clone(),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set; pass --aws-dir")?)
            .join(".aws"),
    };
    std::fs::create_dir_all(&aws_dir)
        .with_context(|| format!("could not create {}", aws_dir.display()))?;

    let config_path = aws_dir.join("config");
    let config_section = format!(
        "[profile {}]\nregion = {}\nendpoint_url = {}\n",
        args.name, args.region, args.endpoint_url
    );
    replace_section(
        &config_path,
        &format!("[profile {}]", args.name),
        &config_section,
        false,
    )?;

    let credentials_path = aws_dir.join("credentials");
    let credentials_section = Zeroizing::new(format!(
        "[{}]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {}\n",
        args.name,
        secret.as_str()
    ));
    replace_section(
        &credentials_path,
        &format!("[{}]", args.name),
        &credentials_section,
        true,
    )?;

    println!(
        "wrote profile {:?} to {} and {}",
        args.name,
        config_path.display(),
        credentials_path.display()
    );
    println!(
        "try: aws --profile {} secretsmanager list-secrets",
        args.name
    );
    Ok(())
}

/// The `aws_access_key_id` and `aws_secret_access_key` of a shared-credentials file such as
/// `<data-dir>/admin-credentials` (its `[default]` profile: the only one Coffer writes there).
pub(crate) fn read_credentials_file(path: &Path) -> anyhow::Result<(String, Zeroizing<String>)> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?,
    );
    let value = |key: &str| {
        text.lines()
            .filter_map(|line| line.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_owned())
    };
    match (value("aws_access_key_id"), value("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok((id, Zeroizing::new(secret))),
        _ => bail!(
            "{} does not hold aws_access_key_id and aws_secret_access_key",
            path.display()
        ),
    }
}

/// Rewrites an INI file with `section` (whose header line is `header`) in place of any
/// existing section with that header.
fn replace_section(path: &Path, header: &str, section: &str, private: bool) -> anyhow::Result<()> {
    let existing = Zeroizing::new(match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
    });
    let mut out = Zeroizing::new(String::with_capacity(existing.len() + section.len() + 1));
    let mut skipping = false;
    for line in existing.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            skipping = trimmed == header;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(section);

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options
        .open(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    // The mode above applies only when the file is created; an existing credentials file
    // that others can read must not start holding a key.
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("could not make {} private", path.display()))?;
    }
    file.write_all(out.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "[default]\nregion = eu-west-1\n\n[profile coffer]\nregion = old\n\n[profile other]\nregion = x\n").unwrap();
        replace_section(
            &path,
            "[profile coffer]",
            "[profile coffer]\nregion = us-east-1\n",
            false,
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[default]\nregion = eu-west-1"));
        assert!(text.contains("[profile other]\nregion = x"));
        assert!(text.contains("[profile coffer]\nregion = us-east-1"));
        assert!(!text.contains("old"));
        assert_eq!(text.matches("[profile coffer]").count(), 1);
    }
}
