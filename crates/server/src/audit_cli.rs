//! `coffer audit verify`: checks a store's audit trail (a data directory's, or a PostgreSQL
//! database's with `--store`) and says what, if anything, was tampered with, and where.

use anyhow::{Context, bail};
use coffer_crypto::{AuditSigner, RootKey, RootKeySource};
use coffer_domain::audit::verify_trail;
use coffer_store::Store as _;
use zeroize::Zeroizing;

use crate::cli::{AuditArgs, AuditCommand, VerifyArgs};
use crate::setup::ROOT_KEY_FILE;
use crate::store::StoreChoice;

/// Runs the command; `Ok(false)` means the trail is not intact (exit status 1).
pub fn run(args: &AuditArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<bool> {
    match &args.command {
        AuditCommand::Verify(verify) => runtime.block_on(run_verify(verify)),
    }
}

fn expected_public_key(args: &VerifyArgs) -> anyhow::Result<(Option<Vec<u8>>, &'static str)> {
    if let Some(hex) = &args.public_key {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .filter(|b| b.len() == 32)
            .context("--public-key must be 64 hexadecimal digits")?;
        return Ok((Some(bytes), "the public key given"));
    }
    let root = match &args.root_key {
        Some(value) => Some(
            RootKey::load(&RootKeySource::parse(Zeroizing::new(value.clone())))
                .context("could not load the root key given")?,
        ),
        None => {
            let path = args.data_dir.join(ROOT_KEY_FILE);
            if path.exists() {
                Some(
                    RootKey::load(&RootKeySource::File(path.clone()))
                        .with_context(|| format!("could not read {}", path.display()))?,
                )
            } else {
                None
            }
        }
    };
    Ok(match root {
        Some(root) => (
            Some(AuditSigner::derive(&root).public_key().to_vec()),
            "the key derived from the root key",
        ),
        None => (
            None,
            "the keys stored with the digests (no root key or --public-key given)",
        ),
    })
}

async fn run_verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let choice = StoreChoice::parse(args.store.as_deref())?;
    let options = crate::operator::store_options(&choice, args.store_schema.as_deref())?;
    // The embedded store opens what it is given, creating it: check first that there is one.
    let shown = match choice.sqlite_path(&args.data_dir) {
        Some(database) if !database.exists() => match &choice {
            StoreChoice::DataDir => bail!("{} holds no store", args.data_dir.display()),
            _ => bail!("{} holds no store", database.display()),
        },
        Some(_) if choice == StoreChoice::DataDir => args.data_dir.display().to_string(),
        _ => choice.describe(&args.data_dir, &options),
    };
    let (public_key, checked_against) = expected_public_key(args)?;
    let store = crate::store::open(&choice, &args.data_dir, &options).await?;
    let report = verify_trail(&store, public_key.as_deref())
        .await
        .context("could not read the audit trail")?;
    // A read-only check: closing only returns the connections.
    let _ = store.close().await;
    match (report.first_seq, report.last_seq) {
        (Some(first), Some(last)) => println!(
            "audit trail of {shown}: records {first}..{last} ({} records), {} signed digest(s), checked against {checked_against}",
            report.records, report.digests
        ),
        _ => println!("audit trail of {shown}: no records yet"),
    }
    if let Some(first) = report.first_seq.filter(|f| *f > 1) {
        println!("  records before {first} were removed by the retention purge");
    }
    match (report.signed_through, report.last_seq) {
        (Some(signed), Some(last)) if signed < last => println!(
            "  records {}..{last} are not covered by a signed digest yet (the chain still links them)",
            signed + 1
        ),
        (None, Some(_)) => println!("  no valid signed digest covers the trail yet"),
        _ => {}
    }
    if report.is_intact() {
        println!("INTACT: no record was modified, removed, inserted or reordered");
        return Ok(true);
    }
    println!("TAMPERED: {} problem(s):", report.findings.len());
    for finding in &report.findings {
        println!("  - {finding}");
    }
    Ok(false)
}
