//! Statements for the audit trail: hash-chained records appended in batches, LookupEvents
//! queries, signed digests and the retention purge.
//!
//! Appends from every node are serialised on the one row of `audit_append_lock`: the head
//! is read after that lock is granted (READ COMMITTED takes a new snapshot per statement, so
//! it sees the previous appender's commit), and the lock is held until this batch commits.
//! Two nodes can therefore never both link to the same head.

use coffer_store::{
    AuditAttribute, AuditDigestRow, AuditLink, AuditQuery, AuditRecordRow, NewAuditRecord,
};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::failure::{Outcome, corrupt};
use crate::sql::limit;

const RECORD_COLUMNS: &str = "seq, account_id, region, event_time, event_id, event_name, \
     event_source, read_only, username, access_key_id, resources, record, previous_hash, hash";

fn encode_resources(resources: &[(String, String)]) -> String {
    let mut out = String::new();
    for (kind, name) in resources {
        out.push_str(kind);
        out.push('\t');
        out.push_str(name);
        out.push('\n');
    }
    out
}

fn decode_resources(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(k, n)| (k.to_owned(), n.to_owned()))
        .collect()
}

fn record_from_row(row: &Row) -> Outcome<AuditRecordRow> {
    let resources: String = row.try_get(10)?;
    Ok(AuditRecordRow {
        seq: row.try_get(0)?,
        entry: NewAuditRecord {
            account_id: row.try_get(1)?,
            region: row.try_get(2)?,
            event_time: row.try_get(3)?,
            event_id: row.try_get(4)?,
            event_name: row.try_get(5)?,
            event_source: row.try_get(6)?,
            read_only: row.try_get(7)?,
            username: row.try_get(8)?,
            access_key_id: row.try_get(9)?,
            resources: decode_resources(&resources),
            record: row.try_get(11)?,
        },
        previous_hash: row.try_get(12)?,
        hash: row.try_get(13)?,
    })
}

pub async fn head(c: &impl GenericClient) -> Outcome<Option<(i64, Vec<u8>)>> {
    let statement = c
        .prepare_cached("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
        .await?;
    match c.query_opt(&statement, &[]).await? {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}

pub async fn append(
    tx: &Transaction<'_>,
    records: &[NewAuditRecord],
    link: AuditLink,
) -> Outcome<Vec<i64>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let lock = tx
        .prepare_cached("SELECT id FROM audit_append_lock WHERE id = 1 FOR UPDATE")
        .await?;
    if tx.query_opt(&lock, &[]).await?.is_none() {
        return Err(corrupt("the audit append lock row is missing"));
    }
    // A separate statement from the lock: its snapshot is taken after the lock was granted.
    let (mut seq, mut previous) = head(tx).await?.unwrap_or((0, vec![0u8; 32]));

    let n = records.len();
    let mut seqs = Vec::with_capacity(n);
    let mut previous_hashes = Vec::with_capacity(n);
    let mut hashes = Vec::with_capacity(n);
    for r in records {
        seq += 1;
        let hash = link(seq as u64, &previous, r.record.as_bytes()).to_vec();
        seqs.push(seq);
        previous_hashes.push(std::mem::replace(&mut previous, hash.clone()));
        hashes.push(hash);
    }
    let column = |f: fn(&NewAuditRecord) -> &str| records.iter().map(f).collect::<Vec<&str>>();
    let optional = |f: fn(&NewAuditRecord) -> Option<&str>| {
        records.iter().map(f).collect::<Vec<Option<&str>>>()
    };
    let account_ids = column(|r| &r.account_id);
    let regions = column(|r| &r.region);
    let event_ids = column(|r| &r.event_id);
    let event_names = column(|r| &r.event_name);
    let event_sources = column(|r| &r.event_source);
    let texts = column(|r| &r.record);
    let usernames = optional(|r| r.username.as_deref());
    let access_key_ids = optional(|r| r.access_key_id.as_deref());
    let event_times: Vec<i64> = records.iter().map(|r| r.event_time).collect();
    let read_only: Vec<bool> = records.iter().map(|r| r.read_only).collect();
    let resources: Vec<String> = records
        .iter()
        .map(|r| encode_resources(&r.resources))
        .collect();

    // One statement for the whole batch: the append lock is held for one round trip however
    // large the batch, not one per record.
    let insert = tx
        .prepare_cached(&format!(
            "INSERT INTO audit_records ({RECORD_COLUMNS}) \
             SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], \
                 $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BOOLEAN[], $9::TEXT[], $10::TEXT[], \
                 $11::TEXT[], $12::TEXT[], $13::BYTEA[], $14::BYTEA[])"
        ))
        .await?;
    let params: [&(dyn ToSql + Sync); 14] = [
        &seqs,
        &account_ids,
        &regions,
        &event_times,
        &event_ids,
        &event_names,
        &event_sources,
        &read_only,
        &usernames,
        &access_key_ids,
        &resources,
        &texts,
        &previous_hashes,
        &hashes,
    ];
    tx.execute(&insert, &params).await?;
    Ok(seqs)
}

pub async fn records(
    c: &impl GenericClient,
    after_seq: i64,
    limit: usize,
) -> Outcome<Vec<AuditRecordRow>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .await?;
    let rows = c
        .query(&statement, &[&after_seq, &self::limit(limit)])
        .await?;
    rows.iter().map(record_from_row).collect()
}

pub async fn lookup(c: &impl GenericClient, q: &AuditQuery) -> Outcome<Vec<AuditRecordRow>> {
    let before = q.before_seq.unwrap_or(i64::MAX);
    let read_only = matches!(&q.attribute, Some((AuditAttribute::ReadOnly, v)) if v == "true");
    let limit = limit(q.limit);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![
        &q.account_id,
        &q.region,
        &q.start_time,
        &q.end_time,
        &before,
    ];
    let condition = match &q.attribute {
        None => String::new(),
        Some((attribute, value)) => {
            if *attribute == AuditAttribute::ReadOnly {
                params.push(&read_only);
            } else {
                params.push(value);
            }
            let p = params.len();
            let test = match attribute {
                AuditAttribute::EventId => format!("event_id = ${p}"),
                AuditAttribute::EventName => format!("event_name = ${p}"),
                AuditAttribute::EventSource => format!("event_source = ${p}"),
                AuditAttribute::Username => format!("username = ${p}"),
                AuditAttribute::AccessKeyId => format!("access_key_id = ${p}"),
                AuditAttribute::ReadOnly => format!("read_only = ${p}"),
                AuditAttribute::ResourceName => {
                    format!("strpos(resources, chr(9) || ${p}::TEXT || chr(10)) > 0")
                }
                AuditAttribute::ResourceType => {
                    format!("strpos(chr(10) || resources, chr(10) || ${p}::TEXT || chr(9)) > 0")
                }
            };
            format!(" AND {test}")
        }
    };
    params.push(&limit);
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM audit_records \
         WHERE account_id = $1 AND region = $2 AND event_time >= $3 AND event_time <= $4 \
         AND seq < $5{condition} ORDER BY seq DESC LIMIT ${}",
        params.len()
    );
    let statement = c.prepare_cached(&sql).await?;
    let rows = c.query(&statement, &params).await?;
    rows.iter().map(record_from_row).collect()
}

pub async fn append_digest(tx: &Transaction<'_>, d: &AuditDigestRow) -> Outcome<()> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO audit_digests (seq, head_hash, created_at, public_key, signature) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &d.seq,
            &d.head_hash,
            &d.created_at,
            &d.public_key,
            &d.signature,
        ],
    )
    .await?;
    Ok(())
}

pub async fn digests(c: &impl GenericClient) -> Outcome<Vec<AuditDigestRow>> {
    let statement = c
        .prepare_cached(
            "SELECT seq, head_hash, created_at, public_key, signature FROM audit_digests \
             ORDER BY seq",
        )
        .await?;
    let rows = c.query(&statement, &[]).await?;
    rows.iter()
        .map(|row| {
            Ok(AuditDigestRow {
                seq: row.try_get(0)?,
                head_hash: row.try_get(1)?,
                created_at: row.try_get(2)?,
                public_key: row.try_get(3)?,
                signature: row.try_get(4)?,
            })
        })
        .collect()
}

pub async fn purge(tx: &Transaction<'_>, before_time: i64) -> Outcome<u64> {
    // No append lock: appenders only add records after the head read here, and everything
    // removed lies before it, so the two need not wait for each other.
    let Some((head, _)) = head(tx).await? else {
        return Ok(0);
    };
    // Records leave from the front only (everything before the first record young enough to
    // keep), so what stays is one unbroken chain; the newest record always stays, it carries
    // the chain's head.
    let first_kept = tx
        .prepare_cached("SELECT min(seq) FROM audit_records WHERE event_time >= $1")
        .await?;
    let first_kept: Option<i64> = tx
        .query_one(&first_kept, &[&before_time])
        .await?
        .try_get(0)?;
    let last_old = first_kept.map_or(head, |first| first - 1).min(head - 1);
    if last_old < 1 {
        return Ok(0);
    }
    let records = tx
        .prepare_cached("DELETE FROM audit_records WHERE seq <= $1")
        .await?;
    let removed = tx.execute(&records, &[&last_old]).await?;
    let digests = tx
        .prepare_cached("DELETE FROM audit_digests WHERE seq <= $1")
        .await?;
    tx.execute(&digests, &[&last_old]).await?;
    Ok(removed)
}
