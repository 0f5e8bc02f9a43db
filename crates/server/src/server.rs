//! `coffer server`: start-up, the listener, the background jobs, and a graceful stop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use coffer_auth::SigV4Verifier;
use coffer_domain::identity::CredentialStore;
use coffer_domain::secrets::{SecretsService, ServiceConfig};
use coffer_domain::{Clock, Randomness, SystemClock};
use coffer_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY, ServerConfig};
use crate::http::{AppState, router};
use crate::setup::{self, RootKeyOrigin};

/// Secrets removed per round of the deletion purge before it checks for more.
const PURGE_BATCH: usize = 100;
/// Derived SigV4 signing keys kept (one per access key, day, region and service).
const SIGNING_KEY_CACHE: usize = 10_000;

pub async fn run(mut config: ServerConfig) -> anyhow::Result<()> {
    // Dev mode keeps its state in a directory that disappears with the process.
    let _dev_dir = if config.dev {
        let dir = tempfile::Builder::new()
            .prefix("coffer-dev-")
            .tempdir()
            .context("could not create a temporary directory")?;
        config.data_dir = dir.path().to_path_buf();
        config.admin_key = Some((
            DEV_ACCESS_KEY_ID.into(),
            zeroize::Zeroizing::new(DEV_SECRET_ACCESS_KEY.into()),
        ));
        Some(dir)
    } else {
        None
    };

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let randomness = Randomness::System;
    let started = setup::start(&config, clock.as_ref(), &randomness).await?;
    let store = started.store.clone();

    let service = Arc::new(SecretsService::new(
        store.clone(),
        started.keyring.clone(),
        started.tokens,
        clock.clone(),
        randomness,
        ServiceConfig {
            partition: config.partition.clone(),
            ..ServiceConfig::default()
        },
    ));
    let state = Arc::new(AppState {
        service: service.clone(),
        credentials: CredentialStore::new(
            store.clone(),
            started.keyring.clone(),
            &config.partition,
        ),
        verifier: SigV4Verifier::new(SIGNING_KEY_CACHE),
        clock: clock.clone(),
        regions: vec![config.region.clone()],
    });

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("could not listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    report_start(
        &config,
        &started.root_key_origin,
        started.admin_credentials_written.as_deref(),
        address,
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let purge = tokio::spawn(purge_loop(
        service.clone(),
        config.deletion_purge_interval,
        stop_rx.clone(),
    ));

    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let mut serve_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = serve_stop.wait_for(|stop| *stop).await;
            })
            .await
    });

    let signal = shutdown_signal().await;
    tracing::info!(signal, "stopping: finishing in-flight requests");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(config.shutdown_grace, server).await {
        Ok(joined) => joined
            .context("the HTTP server task failed")?
            .context("the HTTP server failed")?,
        Err(_) => tracing::warn!(
            grace_seconds = config.shutdown_grace.as_secs(),
            "requests still running after the grace period; closing anyway"
        ),
    }
    let _ = purge.await;
    store
        .close()
        .await
        .context("could not close the store cleanly")?;
    tracing::info!("stopped");
    Ok(())
}

fn report_start(
    config: &ServerConfig,
    root_key_origin: &RootKeyOrigin,
    admin_credentials: Option<&std::path::Path>,
    address: std::net::SocketAddr,
) {
    // Plain lines on stdout: the listening line is what scripts and tests wait for.
    println!(
        "coffer {} listening on http://{address}",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "  region {}, account {}, data directory {}",
        config.region,
        config.account_id,
        config.data_dir.display()
    );
    match root_key_origin {
        RootKeyOrigin::Generated(path) => println!(
            "  root key generated at {} -- back it up: without it nothing in the data directory can be read",
            path.display()
        ),
        RootKeyOrigin::File(path) => println!("  root key read from {}", path.display()),
        RootKeyOrigin::Environment => println!("  root key taken from COFFER_ROOT_KEY"),
    }
    if config.dev {
        println!(
            "  DEVELOPMENT MODE: throwaway store, fixed public credentials. Never put real secrets here."
        );
        println!();
        println!("export AWS_ENDPOINT_URL=http://{address}");
        println!("export AWS_ACCESS_KEY_ID={DEV_ACCESS_KEY_ID}");
        println!("export AWS_SECRET_ACCESS_KEY={DEV_SECRET_ACCESS_KEY}");
        println!("export AWS_DEFAULT_REGION={}", config.region);
        println!();
    } else if let Some(path) = admin_credentials {
        println!(
            "  administrator credentials written to {} (AWS shared-credentials format)",
            path.display()
        );
    }
}

async fn purge_loop<S: Store>(
    service: Arc<SecretsService<S>>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        loop {
            match service.purge_due_deletions(PURGE_BATCH).await {
                Ok(purged) => {
                    for arn in &purged {
                        tracing::info!(arn, "secret deleted at the end of its recovery window");
                    }
                    if purged.len() < PURGE_BATCH {
                        break;
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "deletion purge failed; retrying next round");
                    break;
                }
            }
        }
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    }
}
