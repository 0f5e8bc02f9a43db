//! Appending records without serialising the hot path: requests hand their record to a queue
//! and one writer task commits whatever has gathered in one store transaction (group
//! commit), then copies the batch to the sinks, signs a digest when one is due, and answers
//! the requests that wait for durability.
//!
//! Durability by kind of call: a mutation's response waits until its record is committed;
//! a read's record is queued and the read answered at once, so a crash can lose the records
//! of the last reads (at most one batch, a few milliseconds). Batches are committed without
//! their own fsync (the store's relaxed commit): they survive the process being killed and
//! are fsynced with the next secret write or checkpoint. Fail closed (the default):
//! while the writer cannot write, or the queue is full, no request is served.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coffer_crypto::{AuditSigner, audit_chain_hash, audit_digest_message};
use coffer_store::{AuditDigestRow, NewAuditRecord, Store};
use tokio::sync::{mpsc, oneshot};

use crate::audit::record::AuditEvent;
use crate::clock::Clock;

/// What the writer reports, for metrics.
pub trait AuditObserver: Send + Sync {
    fn queue_depth(&self, depth: usize);
    fn batch_written(&self, records: usize, took: Duration);
    fn write_failed(&self);
}

/// Where committed records are copied (JSON lines).
pub trait AuditSink: Send {
    fn write_batch(&mut self, records: &[&str]) -> std::io::Result<()>;
}

/// Appends each record as one line to a file.
pub struct JsonLinesFile {
    file: std::fs::File,
}

impl JsonLinesFile {
    pub fn open(path: &std::path::Path) -> std::io::Result<JsonLinesFile> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(JsonLinesFile {
            file: options.open(path)?,
        })
    }
}

impl AuditSink for JsonLinesFile {
    fn write_batch(&mut self, records: &[&str]) -> std::io::Result<()> {
        let mut buffer = Vec::with_capacity(records.iter().map(|r| r.len() + 1).sum());
        for record in records {
            buffer.extend_from_slice(record.as_bytes());
            buffer.push(b'\n');
        }
        self.file.write_all(&buffer)
    }
}

/// Writes each record as one line to standard output.
pub struct StdoutSink;

impl AuditSink for StdoutSink {
    fn write_batch(&mut self, records: &[&str]) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        for record in records {
            out.write_all(record.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}

#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Serve requests even when records cannot be written (they are then lost). Off by
    /// default: fail closed.
    pub fail_open: bool,
    /// Records waiting for the writer before new requests are refused.
    pub queue_capacity: usize,
    /// Records committed in one transaction at most.
    pub batch_max: usize,
    /// How long the writer lets reads' records gather before it commits them. Waking the
    /// writer and committing once per record would cost more than the record itself; a
    /// mutation waiting for its record ends the wait at once.
    pub batch_linger: Duration,
    /// A digest is signed after this many records ...
    pub digest_every_records: u64,
    /// ... or this long after the previous one, whichever comes first (if anything was
    /// written since).
    pub digest_interval: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            fail_open: false,
            queue_capacity: 65_536,
            batch_max: 4_096,
            batch_linger: Duration::from_millis(5),
            digest_every_records: 100_000,
            digest_interval: Duration::from_secs(3600),
        }
    }
}

/// Why a request cannot be served: its record could not be taken or written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the audit trail cannot be written; the request was not served")]
pub struct AuditUnavailable;

struct Queued {
    record: NewAuditRecord,
    done: Option<oneshot::Sender<bool>>,
}

pub struct AuditLog {
    queue: mpsc::Sender<Queued>,
    /// Told when a record that a caller waits for is queued, so the writer stops lingering.
    urgent: Arc<tokio::sync::Notify>,
    depth: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    fail_open: bool,
}

/// The writer task's handle: await it after the log (and every sender) is dropped to flush.
pub type AuditWriter = tokio::task::JoinHandle<()>;

impl AuditLog {
    pub fn start<S: Store>(
        store: Arc<S>,
        signer: AuditSigner,
        sinks: Vec<Box<dyn AuditSink>>,
        observer: Option<Arc<dyn AuditObserver>>,
        clock: Arc<dyn Clock>,
        config: AuditConfig,
    ) -> (Arc<AuditLog>, AuditWriter) {
        let (queue, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let depth = Arc::new(AtomicUsize::new(0));
        let healthy = Arc::new(AtomicBool::new(true));
        let urgent = Arc::new(tokio::sync::Notify::new());
        let writer = Writer {
            urgent: Arc::clone(&urgent),
            store,
            signer,
            sinks,
            observer,
            clock,
            config: config.clone(),
            depth: Arc::clone(&depth),
            healthy: Arc::clone(&healthy),
            since_digest: 0,
            last_digest: Instant::now(),
            closing: false,
        };
        let handle = tokio::spawn(writer.run(receiver));
        (
            Arc::new(AuditLog {
                queue,
                urgent,
                depth,
                healthy,
                fail_open: config.fail_open,
            }),
            handle,
        )
    }

    /// Whether requests may be served now (checked before serving one): while the writer
    /// cannot write, records wait in the queue and are retried; once it is full, nothing more
    /// is served (fail closed). Serving resumes as soon as the writer catches up.
    pub fn accepting(&self) -> bool {
        self.fail_open || self.queue.capacity() > 0
    }

    /// Whether the last write succeeded (for readiness).
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    fn enqueue(&self, event: AuditEvent, done: Option<oneshot::Sender<bool>>) -> bool {
        let queued = Queued {
            record: event.into_store(),
            done,
        };
        // Counted before it is sent: the writer may take it (and count it out) at once.
        self.depth.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send(queued) {
            Ok(()) => true,
            Err(_) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                tracing::error!("the audit queue is full or closed; a record was not taken");
                false
            }
        }
    }

    /// Queues a read's record; the caller answers at once.
    pub fn record(&self, event: AuditEvent) -> Result<(), AuditUnavailable> {
        if self.enqueue(event, None) || self.fail_open {
            Ok(())
        } else {
            Err(AuditUnavailable)
        }
    }

    /// Queues a mutation's record and waits until it is committed.
    pub async fn record_durably(&self, event: AuditEvent) -> Result<(), AuditUnavailable> {
        let (done, committed) = oneshot::channel();
        if !self.enqueue(event, Some(done)) {
            return if self.fail_open {
                Ok(())
            } else {
                Err(AuditUnavailable)
            };
        }
        self.urgent.notify_one();
        match committed.await {
            Ok(true) => Ok(()),
            _ if self.fail_open => Ok(()),
            _ => Err(AuditUnavailable),
        }
    }
}

struct Writer<S: Store> {
    store: Arc<S>,
    urgent: Arc<tokio::sync::Notify>,
    signer: AuditSigner,
    sinks: Vec<Box<dyn AuditSink>>,
    observer: Option<Arc<dyn AuditObserver>>,
    clock: Arc<dyn Clock>,
    config: AuditConfig,
    depth: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    since_digest: u64,
    last_digest: Instant,
    /// The log is gone (shutdown): a batch that keeps failing is given up eventually.
    closing: bool,
}

/// Failed attempts at one batch before the requests waiting for it are answered (503).
const WRITE_ATTEMPTS: u32 = 5;

impl<S: Store> Writer<S> {
    async fn run(mut self, mut receiver: mpsc::Receiver<Queued>) {
        let mut batch: Vec<Queued> = Vec::with_capacity(self.config.batch_max);
        let mut tick =
            tokio::time::interval(Duration::from_secs(60).min(self.config.digest_interval));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                first = receiver.recv() => {
                    let Some(first) = first else { break };
                    let waited_for = first.done.is_some();
                    batch.push(first);
                    if !waited_for && !self.config.batch_linger.is_zero() {
                        tokio::select! {
                            _ = tokio::time::sleep(self.config.batch_linger) => {}
                            _ = self.urgent.notified() => {}
                        }
                    }
                    self.closing = receiver.is_closed();
                    while batch.len() < self.config.batch_max {
                        match receiver.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    self.write(&mut batch).await;
                }
                _ = tick.tick() => {}
            }
            if self.since_digest > 0
                && (self.since_digest >= self.config.digest_every_records
                    || self.last_digest.elapsed() >= self.config.digest_interval)
            {
                self.sign_digest().await;
            }
        }
        // The log and every sender are gone: sign what was written since the last digest.
        if self.since_digest > 0 {
            self.sign_digest().await;
        }
    }

    async fn write(&mut self, batch: &mut Vec<Queued>) {
        let started = Instant::now();
        let mut waiting = Vec::new();
        let records: Arc<Vec<NewAuditRecord>> = Arc::new(
            batch
                .drain(..)
                .map(|q| {
                    if let Some(done) = q.done {
                        waiting.push(done);
                    }
                    q.record
                })
                .collect(),
        );
        // The batch is retried until it is written: records are never dropped. Callers
        // waiting for durability are told after a few attempts; meanwhile the queue fills
        // and, failing closed, the server stops serving until the store takes writes again.
        let mut attempt = 0u32;
        let outcome = loop {
            match self
                .store
                .append_audit_records(Arc::clone(&records), audit_chain_hash)
                .await
            {
                Ok(seqs) => break Ok(seqs),
                Err(error) => {
                    attempt += 1;
                    self.healthy.store(false, Ordering::Release);
                    if let Some(observer) = &self.observer {
                        observer.write_failed();
                    }
                    tracing::error!(
                        %error,
                        records = records.len(),
                        attempt,
                        "audit records could not be written; retrying"
                    );
                    if attempt == WRITE_ATTEMPTS {
                        for done in waiting.drain(..) {
                            let _ = done.send(false);
                        }
                    }
                    if attempt >= WRITE_ATTEMPTS * 4 && self.closing {
                        break Err(error.to_string());
                    }
                    tokio::time::sleep(Duration::from_millis((20u64 << attempt.min(6)).min(1_000)))
                        .await;
                }
            }
        };
        let committed = outcome.is_ok();
        match &outcome {
            Ok(_) => {
                self.healthy.store(true, Ordering::Release);
                self.since_digest += records.len() as u64;
                let texts: Vec<&str> = records.iter().map(|r| r.record.as_str()).collect();
                for sink in &mut self.sinks {
                    if let Err(error) = sink.write_batch(&texts) {
                        tracing::error!(%error, "an audit sink could not be written");
                    }
                }
                if let Some(observer) = &self.observer {
                    observer.batch_written(records.len(), started.elapsed());
                }
            }
            Err(error) => {
                tracing::error!(
                    error,
                    lost = records.len(),
                    "audit records could not be written before shutdown and were lost"
                );
            }
        }
        let taken = records.len();
        for done in waiting {
            let _ = done.send(committed);
        }
        let depth = self
            .depth
            .fetch_sub(taken, Ordering::Relaxed)
            .saturating_sub(taken);
        if let Some(observer) = &self.observer {
            observer.queue_depth(depth);
        }
    }

    async fn sign_digest(&mut self) {
        let head = match self.store.audit_head().await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, "could not read the audit head to sign a digest");
                return;
            }
        };
        let created_at = self.clock.now();
        let message = audit_digest_message(head.0 as u64, &head.1, created_at);
        let digest = AuditDigestRow {
            seq: head.0,
            head_hash: head.1,
            created_at,
            public_key: self.signer.public_key().to_vec(),
            signature: self.signer.sign(&message).to_vec(),
        };
        match self.store.append_audit_digest(digest).await {
            Ok(()) => {
                self.since_digest = 0;
                self.last_digest = Instant::now();
            }
            Err(error) => tracing::error!(%error, "could not store an audit digest"),
        }
    }
}
