//! The root of trust when it is split into Shamir unseal shares.
//!
//! `coffer operator init` (offline, on a new data directory) generates the root key, creates
//! the store's first key-encryption key under it, writes `seal.json` (the share count, the
//! threshold and the root key's check value — nothing secret) and prints the shares once.
//! The root key itself is never written anywhere. A server started on such a directory is
//! *sealed*: it listens, answers every API call with 503, and collects shares through
//! `coffer operator unseal` until the threshold is reached, the recombined key matches the
//! check value, and the keyring opens. `coffer operator seal` drops every key again.
//!
//! The other modes are the key file or `COFFER_ROOT_KEY` (the quick-start default) and, as
//! the seam for auto-unseal through an external KMS or HSM, `--root-key-command` (a command
//! that prints the key): see the README's "Root of trust".

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_crypto::{RootKey, UnsealShare, combine_shares};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub const SEAL_FILE: &str = "seal.json";

/// `seal.json`: how the root key was split. Safe to keep beside the data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub shares: u8,
    pub threshold: u8,
    /// Base64 of the root key's check value.
    pub check_value: String,
}

impl SealConfig {
    /// The directory's seal configuration, if it is sealed with shares.
    pub fn read(data_dir: &Path) -> anyhow::Result<Option<SealConfig>> {
        let path = data_dir.join(SEAL_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
        };
        let config: SealConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid seal configuration", path.display()))?;
        if config.kind != "shamir" {
            bail!(
                "{} names the seal type {:?}; this coffer knows only \"shamir\"",
                path.display(),
                config.kind
            );
        }
        Ok(Some(config))
    }

    fn write(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = data_dir.join(SEAL_FILE);
        let mut options = File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        let text = serde_json::to_string_pretty(self).expect("the seal configuration serialises");
        file.write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .with_context(|| format!("could not write {}", path.display()))
    }

    fn matches(&self, key: &RootKey) -> bool {
        BASE64
            .decode(&self.check_value)
            .is_ok_and(|check| key.matches_check_value(&check))
    }
}

/// What `coffer operator init` produced: the shares, to be printed once.
pub struct Initialised {
    pub config: SealConfig,
    pub shares: Vec<UnsealShare>,
}

impl Initialised {
    /// Writes `seal.json`, marking the directory as sealed with these shares.
    pub fn commit(&self, data_dir: &Path) -> anyhow::Result<()> {
        self.config.write(data_dir)
    }
}

/// Splits a fresh root key into `shares` with `threshold`. The caller has created and locked
/// the data directory, initialises the store with the returned key, and only then writes the seal
/// configuration ([`Initialised::commit`]): a crash before that leaves a directory that can
/// simply be initialised again.
pub fn initialise(shares: u8, threshold: u8) -> anyhow::Result<(RootKey, Initialised)> {
    if !(1..=16).contains(&shares) || !(1..=shares).contains(&threshold) {
        bail!(
            "--key-shares must be between 1 and 16 and --key-threshold between 1 and --key-shares \
             (got {shares} shares, threshold {threshold})"
        );
    }
    if shares > 1 && threshold < 2 {
        bail!("--key-threshold must be at least 2 when there is more than one share");
    }
    let root = RootKey::generate().context("could not generate a root key")?;
    let split = coffer_crypto::split_root_key(&root, shares, threshold)
        .context("could not split the root key")?;
    let config = SealConfig {
        kind: "shamir".into(),
        shares,
        threshold,
        check_value: BASE64.encode(root.check_value()),
    };
    Ok((
        root,
        Initialised {
            config,
            shares: split,
        },
    ))
}

/// Shares submitted so far to a sealed server.
pub struct UnsealProgress {
    config: SealConfig,
    shares: Vec<UnsealShare>,
}

/// The answer to one submitted share.
pub enum Unseal {
    /// More shares are needed ([`UnsealProgress::submitted`] says how many were accepted).
    Progress,
    /// The threshold was reached and the key matched: the root key, for the keyring.
    Unsealed(RootKey),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsealError {
    #[error("the share is not a valid unseal share (mistyped or truncated?)")]
    InvalidShare,
    #[error("the share was already submitted")]
    DuplicateShare,
    #[error(
        "the shares submitted do not recombine into this server's root key; progress was reset: submit the threshold of shares again"
    )]
    WrongKey,
}

impl UnsealProgress {
    pub fn new(config: SealConfig) -> Self {
        UnsealProgress {
            config,
            shares: Vec::new(),
        }
    }

    pub fn threshold(&self) -> u8 {
        self.config.threshold
    }

    pub fn submitted(&self) -> usize {
        self.shares.len()
    }

    /// Forgets the shares submitted so far (`coffer operator unseal --reset`, and sealing).
    pub fn reset(&mut self) {
        self.shares.clear();
    }

    /// Takes one share in its text form.
    pub fn submit(&mut self, text: &str) -> Result<Unseal, UnsealError> {
        let share = UnsealShare::from_text(text.trim()).map_err(|_| UnsealError::InvalidShare)?;
        if share.threshold() != self.config.threshold {
            return Err(UnsealError::InvalidShare);
        }
        if self.shares.iter().any(|s| s.index() == share.index()) {
            return Err(UnsealError::DuplicateShare);
        }
        self.shares.push(share);
        if self.shares.len() < usize::from(self.config.threshold) {
            return Ok(Unseal::Progress);
        }
        let combined = combine_shares(&self.shares);
        self.shares.clear();
        match combined {
            Ok(key) if self.config.matches(&key) => Ok(Unseal::Unsealed(key)),
            _ => Err(UnsealError::WrongKey),
        }
    }
}

/// The text printed by `coffer operator init`: the shares, once, with what to do next.
pub fn init_report(data_dir: &Path, done: &Initialised) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    out.push_str(&format!(
        "Coffer data directory {} initialised, sealed with {} unseal share(s); {} are needed to unseal.\n\n",
        data_dir.display(),
        done.config.shares,
        done.config.threshold
    ));
    for (i, share) in done.shares.iter().enumerate() {
        out.push_str(&format!(
            "Unseal share {}: {}\n",
            i + 1,
            share.to_text().as_str()
        ));
    }
    out.push_str(
        "\nThese shares are shown once and stored nowhere. Give each to a different person and keep \
         them apart: any threshold of them recovers the root key, fewer reveal nothing.\n\
         Start the server (`coffer server --data-dir <dir>`); it starts sealed. Unseal it with\n  \
         coffer operator unseal --endpoint-url <URL>\n\
         once per share holder, until the threshold is reached.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn k_shares_unseal_and_k_minus_one_do_not() {
        let d = dir();
        let (root, done) = initialise(5, 3).unwrap();
        done.commit(d.path()).unwrap();
        let config = SealConfig::read(d.path()).unwrap().unwrap();
        assert_eq!(config, done.config);
        let texts: Vec<Zeroizing<String>> = done.shares.iter().map(|s| s.to_text()).collect();

        let mut progress = UnsealProgress::new(config.clone());
        assert!(matches!(progress.submit(&texts[4]), Ok(Unseal::Progress)));
        assert_eq!(
            progress.submit(&texts[4]).err(),
            Some(UnsealError::DuplicateShare)
        );
        assert!(matches!(progress.submit(&texts[1]), Ok(Unseal::Progress)));
        match progress.submit(&texts[2]) {
            Ok(Unseal::Unsealed(key)) => {
                assert_eq!(key.check_value(), root.check_value());
            }
            _ => panic!("three shares must unseal"),
        }
        // Garbage and shares of another split are refused.
        let mut progress = UnsealProgress::new(config.clone());
        assert_eq!(
            progress.submit("not a share").err(),
            Some(UnsealError::InvalidShare)
        );
        let other = dir();
        let (_, foreign) = initialise(5, 3).unwrap();
        foreign.commit(other.path()).unwrap();
        progress.submit(&texts[0]).unwrap();
        progress.submit(&foreign.shares[1].to_text()).unwrap();
        assert_eq!(
            progress.submit(&foreign.shares[2].to_text()).err(),
            Some(UnsealError::WrongKey)
        );
        assert_eq!(
            progress.submitted(),
            0,
            "a failed attempt resets the progress"
        );
    }

    #[test]
    fn init_refuses_bad_counts_and_an_initialised_directory() {
        let d = dir();
        assert!(initialise(3, 4).is_err());
        assert!(initialise(3, 1).is_err());
        assert!(initialise(0, 0).is_err());
        let (_, done) = initialise(1, 1).unwrap();
        done.commit(d.path()).unwrap();
        assert!(
            done.commit(d.path()).is_err(),
            "seal.json is never overwritten"
        );
    }

    #[test]
    fn the_report_holds_every_share_once() {
        let d = dir();
        let (_, done) = initialise(3, 2).unwrap();
        let report = init_report(d.path(), &done);
        for share in &done.shares {
            assert_eq!(report.matches(share.to_text().as_str()).count(), 1);
        }
    }
}
