//! `coffer audit verify`: walks the trail and its signed digests and reports every record
//! that was modified, removed, inserted or reordered, and where.

use std::collections::HashMap;

use coffer_crypto::{GENESIS_HASH, audit_chain_hash, audit_digest_message, verify_audit_signature};
use coffer_store::{Store, StoreResult};

/// One problem found in the trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The record's content no longer matches its hash.
    Modified { seq: i64, event_id: String },
    /// Sequence numbers jump: the records between are gone.
    Missing { after: i64, next: i64 },
    /// The record does not link to its predecessor: something was inserted, removed or
    /// reordered there (and hashes recomputed around it).
    OutOfChain { seq: i64 },
    /// A signed digest does not match the trail at its position: the trail up to there was
    /// rewritten (or the digest's record is gone).
    DigestMismatch { seq: i64 },
    /// A digest's signature does not verify.
    BadSignature { seq: i64 },
    /// A digest was signed by another key than the trail's.
    UnknownSigner { seq: i64 },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Modified { seq, event_id } => write!(
                f,
                "record {seq} (eventID {event_id}) was modified: its content does not match its hash"
            ),
            Finding::Missing { after, next } => write!(
                f,
                "records {}..{} are missing: removed between record {after} and record {next}",
                after + 1,
                next - 1
            ),
            Finding::OutOfChain { seq } => write!(
                f,
                "record {seq} does not follow record {}: a record was inserted, removed or reordered here",
                seq - 1
            ),
            Finding::DigestMismatch { seq } => write!(
                f,
                "the trail up to record {seq} does not match the digest signed for it: it was rewritten"
            ),
            Finding::BadSignature { seq } => {
                write!(f, "the digest for record {seq} has an invalid signature")
            }
            Finding::UnknownSigner { seq } => write!(
                f,
                "the digest for record {seq} was signed by a key that is not this trail's"
            ),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub records: u64,
    pub digests: u64,
    /// The last record a valid digest covers.
    pub signed_through: Option<i64>,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

const BATCH: usize = 10_000;

/// Checks the whole trail. `public_key` is the trail's digest-signing key when the caller
/// knows it independently (derived from the root key, or given by an auditor); without it,
/// digests are checked against the key stored with them, which only proves consistency.
pub async fn verify_trail<S: Store>(
    store: &S,
    public_key: Option<&[u8]>,
) -> StoreResult<VerifyReport> {
    let digests = store.audit_digests().await?;
    let mut hashes_at: HashMap<i64, Vec<u8>> =
        digests.iter().map(|d| (d.seq, Vec::new())).collect();
    let mut report = VerifyReport::default();
    let mut previous: Option<(i64, Vec<u8>)> = None;
    let mut after = 0i64;
    loop {
        let rows = store.audit_records(after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in &rows {
            report.records += 1;
            report.first_seq.get_or_insert(row.seq);
            report.last_seq = Some(row.seq);
            let recomputed = audit_chain_hash(
                row.seq as u64,
                &row.previous_hash,
                row.entry.record.as_bytes(),
            );
            if recomputed.as_slice() != row.hash.as_slice() {
                report.findings.push(Finding::Modified {
                    seq: row.seq,
                    event_id: row.entry.event_id.clone(),
                });
            }
            match &previous {
                Some((prev_seq, prev_hash)) => {
                    if row.seq != prev_seq + 1 {
                        report.findings.push(Finding::Missing {
                            after: *prev_seq,
                            next: row.seq,
                        });
                    } else if &row.previous_hash != prev_hash {
                        report.findings.push(Finding::OutOfChain { seq: row.seq });
                    }
                }
                None if row.seq == 1 && row.previous_hash.as_slice() != GENESIS_HASH => {
                    report.findings.push(Finding::OutOfChain { seq: 1 });
                }
                None => {}
            }
            if let Some(slot) = hashes_at.get_mut(&row.seq) {
                *slot = row.hash.clone();
            }
            previous = Some((row.seq, row.hash.clone()));
        }
    }
    for digest in &digests {
        report.digests += 1;
        if public_key.is_some_and(|key| key != digest.public_key.as_slice()) {
            report
                .findings
                .push(Finding::UnknownSigner { seq: digest.seq });
            continue;
        }
        let message = audit_digest_message(digest.seq as u64, &digest.head_hash, digest.created_at);
        if !verify_audit_signature(&digest.public_key, &message, &digest.signature) {
            report
                .findings
                .push(Finding::BadSignature { seq: digest.seq });
            continue;
        }
        let at = hashes_at.get(&digest.seq).filter(|h| !h.is_empty());
        if at != Some(&digest.head_hash) {
            report
                .findings
                .push(Finding::DigestMismatch { seq: digest.seq });
            continue;
        }
        report.signed_through = Some(
            report
                .signed_through
                .map_or(digest.seq, |s| s.max(digest.seq)),
        );
    }
    Ok(report)
}
