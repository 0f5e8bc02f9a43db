//! Statements for the audit trail: hash-chained records appended in batches, LookupEvents
//! queries, signed digests and the retention purge.

use coffer_store::{
    AuditAttribute, AuditDigestRow, AuditLink, AuditQuery, AuditRecordRow, NewAuditRecord,
    StoreResult,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::sql::unavailable;

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

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecordRow> {
    let resources: String = row.get(10)?;
    Ok(AuditRecordRow {
        seq: row.get(0)?,
        entry: NewAuditRecord {
            account_id: row.get(1)?,
            region: row.get(2)?,
            event_time: row.get(3)?,
            event_id: row.get(4)?,
            event_name: row.get(5)?,
            event_source: row.get(6)?,
            read_only: row.get(7)?,
            username: row.get(8)?,
            access_key_id: row.get(9)?,
            resources: decode_resources(&resources),
            record: row.get(11)?,
        },
        previous_hash: row.get(12)?,
        hash: row.get(13)?,
    })
}

pub fn head(c: &Connection) -> StoreResult<Option<(i64, Vec<u8>)>> {
    c.prepare_cached("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
        .map_err(unavailable)?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(unavailable)
}

pub fn append(
    tx: &Transaction<'_>,
    records: &[NewAuditRecord],
    link: AuditLink,
) -> StoreResult<Vec<i64>> {
    // The head is read inside the writing transaction: no other writer can append between.
    let (mut seq, mut previous) = head(tx)?.unwrap_or((0, vec![0u8; 32]));
    let mut statement = tx
        .prepare_cached(&format!(
            "INSERT INTO audit_records ({RECORD_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))
        .map_err(unavailable)?;
    let mut assigned = Vec::with_capacity(records.len());
    for r in records {
        seq += 1;
        let hash = link(seq as u64, &previous, r.record.as_bytes());
        statement
            .execute(params![
                seq,
                r.account_id,
                r.region,
                r.event_time,
                r.event_id,
                r.event_name,
                r.event_source,
                r.read_only,
                r.username,
                r.access_key_id,
                encode_resources(&r.resources),
                r.record,
                previous,
                hash.as_slice(),
            ])
            .map_err(unavailable)?;
        previous = hash.to_vec();
        assigned.push(seq);
    }
    Ok(assigned)
}

pub fn records(c: &Connection, after_seq: i64, limit: usize) -> StoreResult<Vec<AuditRecordRow>> {
    let mut statement = c
        .prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM audit_records WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))
        .map_err(unavailable)?;
    let rows = statement
        .query_map(params![after_seq, limit as i64], record_from_row)
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

pub fn lookup(c: &Connection, q: &AuditQuery) -> StoreResult<Vec<AuditRecordRow>> {
    let (condition, value): (&str, Option<rusqlite::types::Value>) = match &q.attribute {
        None => ("1", None),
        Some((attribute, value)) => {
            let text = rusqlite::types::Value::Text(value.clone());
            match attribute {
                AuditAttribute::EventId => ("event_id = ?6", Some(text)),
                AuditAttribute::EventName => ("event_name = ?6", Some(text)),
                AuditAttribute::EventSource => ("event_source = ?6", Some(text)),
                AuditAttribute::Username => ("username = ?6", Some(text)),
                AuditAttribute::AccessKeyId => ("access_key_id = ?6", Some(text)),
                AuditAttribute::ReadOnly => (
                    "read_only = ?6",
                    Some(rusqlite::types::Value::Integer(i64::from(value == "true"))),
                ),
                AuditAttribute::ResourceName => (
                    "instr(resources, char(9) || ?6 || char(10)) > 0",
                    Some(text),
                ),
                AuditAttribute::ResourceType => (
                    "instr(char(10) || resources, char(10) || ?6 || char(9)) > 0",
                    Some(text),
                ),
            }
        }
    };
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM audit_records \
         WHERE account_id = ?1 AND region = ?2 AND event_time >= ?3 AND event_time <= ?4 \
         AND seq < ?5 AND {condition} ORDER BY seq DESC LIMIT ?7"
    );
    let mut statement = c.prepare_cached(&sql).map_err(unavailable)?;
    let before = q.before_seq.unwrap_or(i64::MAX);
    let value = value.unwrap_or(rusqlite::types::Value::Null);
    let rows = statement
        .query_map(
            params![
                q.account_id,
                q.region,
                q.start_time,
                q.end_time,
                before,
                value,
                q.limit as i64
            ],
            record_from_row,
        )
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

pub fn append_digest(tx: &Transaction<'_>, d: &AuditDigestRow) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO audit_digests (seq, head_hash, created_at, public_key, signature) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![d.seq, d.head_hash, d.created_at, d.public_key, d.signature],
    )
    .map_err(unavailable)?;
    Ok(())
}

pub fn digests(c: &Connection) -> StoreResult<Vec<AuditDigestRow>> {
    let mut statement = c
        .prepare_cached(
            "SELECT seq, head_hash, created_at, public_key, signature FROM audit_digests ORDER BY seq",
        )
        .map_err(unavailable)?;
    let rows = statement
        .query_map([], |row| {
            Ok(AuditDigestRow {
                seq: row.get(0)?,
                head_hash: row.get(1)?,
                created_at: row.get(2)?,
                public_key: row.get(3)?,
                signature: row.get(4)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

pub fn purge(tx: &Transaction<'_>, before_time: i64) -> StoreResult<u64> {
    let Some((head, _)) = head(tx)? else {
        return Ok(0);
    };
    // Records leave from the front only (everything before the first record young enough to
    // keep), so what stays is one unbroken chain; the newest record always stays, it carries
    // the chain's head.
    let first_kept: Option<i64> = tx
        .query_row(
            "SELECT min(seq) FROM audit_records WHERE event_time >= ?1",
            params![before_time],
            |row| row.get(0),
        )
        .map_err(unavailable)?;
    let last_old = first_kept.map_or(head, |first| first - 1).min(head - 1);
    if last_old < 1 {
        return Ok(0);
    }
    let removed = tx
        .execute(
            "DELETE FROM audit_records WHERE seq <= ?1",
            params![last_old],
        )
        .map_err(unavailable)?;
    tx.execute(
        "DELETE FROM audit_digests WHERE seq <= ?1",
        params![last_old],
    )
    .map_err(unavailable)?;
    Ok(removed as u64)
}
