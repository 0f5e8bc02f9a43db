//! Statements for the audit trail: hash-chained records appended in batches, LookupEvents
//! queries, signed digests and the retention purge.
//!
//! Records are stored as *chunks*: each appended batch is one row holding its records,
//! LZ4-compressed. Measured on GetSecretValue, writing each ~1 KB record as its own row cost
//! more server CPU than the rest of the request (SQLite writes every byte twice, to the WAL
//! and at the checkpoint); records of one batch repeat most of their bytes, so a compressed
//! chunk is several times smaller. LookupEvents had no index to lose: it scans newest first,
//! now chunk by chunk, skipping chunks outside the time range.
//!
//! Chunk format (before compression): a version byte (1), then per record, in sequence
//! order: `seq` and `event_time` as little-endian i64, `read_only` as one byte, then eleven
//! byte strings, each a little-endian u32 length (`u32::MAX` = absent) and its bytes:
//! previous hash, hash, account id, region, event id, event name, event source, username,
//! access key id, resources (`type TAB name NEWLINE` each) and the record's JSON text.
//! The blob is `lz4_flex::compress_prepend_size` of that (a u32 LE size, then an LZ4 block).

use coffer_store::{
    AuditAttribute, AuditDigestRow, AuditLink, AuditQuery, AuditRecordRow, NewAuditRecord,
    StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::sql::unavailable;

const CHUNK_FORMAT: u8 = 1;
const ABSENT: u32 = u32::MAX;

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

fn put_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        None => out.extend_from_slice(&ABSENT.to_le_bytes()),
    }
}

fn encode_entry(out: &mut Vec<u8>, seq: i64, previous: &[u8], hash: &[u8], r: &NewAuditRecord) {
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&r.event_time.to_le_bytes());
    out.push(u8::from(r.read_only));
    put_bytes(out, Some(previous));
    put_bytes(out, Some(hash));
    put_bytes(out, Some(r.account_id.as_bytes()));
    put_bytes(out, Some(r.region.as_bytes()));
    put_bytes(out, Some(r.event_id.as_bytes()));
    put_bytes(out, Some(r.event_name.as_bytes()));
    put_bytes(out, Some(r.event_source.as_bytes()));
    put_bytes(out, r.username.as_deref().map(str::as_bytes));
    put_bytes(out, r.access_key_id.as_deref().map(str::as_bytes));
    put_bytes(out, Some(encode_resources(&r.resources).as_bytes()));
    put_bytes(out, Some(r.record.as_bytes()));
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("audit chunk: {what}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> StoreResult<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(corrupt("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn i64(&mut self) -> StoreResult<i64> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn optional_bytes(&mut self) -> StoreResult<Option<&'a [u8]>> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
        if len == ABSENT {
            return Ok(None);
        }
        self.take(len as usize).map(Some)
    }

    fn bytes(&mut self) -> StoreResult<Vec<u8>> {
        self.optional_bytes()?
            .map(<[u8]>::to_vec)
            .ok_or_else(|| corrupt("a required member is absent"))
    }

    fn optional_text(&mut self) -> StoreResult<Option<String>> {
        self.optional_bytes()?
            .map(|b| String::from_utf8(b.to_vec()).map_err(|_| corrupt("text is not UTF-8")))
            .transpose()
    }

    fn text(&mut self) -> StoreResult<String> {
        self.optional_text()?
            .ok_or_else(|| corrupt("a required member is absent"))
    }
}

/// What the decoded size of a chunk may claim at most: LZ4 expands at most 255 times, and a
/// tampered size prefix must not make the reader allocate gigabytes.
fn decoded_size(blob: &[u8]) -> StoreResult<usize> {
    let prefix: [u8; 4] = blob
        .get(..4)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| corrupt("truncated"))?;
    let size = u32::from_le_bytes(prefix) as usize;
    if size > (blob.len() - 4).saturating_mul(255) {
        return Err(corrupt("its size does not fit its compressed length"));
    }
    Ok(size)
}

fn decode_chunk(blob: &[u8]) -> StoreResult<Vec<AuditRecordRow>> {
    let size = decoded_size(blob)?;
    let payload =
        lz4_flex::decompress(&blob[4..], size).map_err(|_| corrupt("cannot decompress"))?;
    let Some((&format, entries)) = payload.split_first() else {
        return Err(corrupt("empty"));
    };
    if format != CHUNK_FORMAT {
        return Err(corrupt("unknown format"));
    }
    let mut reader = Reader { bytes: entries };
    let mut rows = Vec::new();
    while !reader.bytes.is_empty() {
        let seq = reader.i64()?;
        let event_time = reader.i64()?;
        let read_only = reader.take(1)?[0] != 0;
        let previous_hash = reader.bytes()?;
        let hash = reader.bytes()?;
        let entry = NewAuditRecord {
            account_id: reader.text()?,
            region: reader.text()?,
            event_time,
            event_id: reader.text()?,
            event_name: reader.text()?,
            event_source: reader.text()?,
            read_only,
            username: reader.optional_text()?,
            access_key_id: reader.optional_text()?,
            resources: decode_resources(&reader.text()?),
            record: reader.text()?,
        };
        rows.push(AuditRecordRow {
            seq,
            entry,
            previous_hash,
            hash,
        });
    }
    Ok(rows)
}

/// Writes already-linked rows as one chunk.
fn insert_chunk(tx: &Transaction<'_>, rows: &[AuditRecordRow]) -> StoreResult<()> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(());
    };
    let mut buffers = ChunkBuffers::default();
    buffers.payload.push(CHUNK_FORMAT);
    for row in rows {
        encode_entry(
            &mut buffers.payload,
            row.seq,
            &row.previous_hash,
            &row.hash,
            &row.entry,
        );
    }
    let span = ChunkSpan {
        first_seq: first.seq,
        last_seq: last.seq,
        first_time: rows.iter().map(|r| r.entry.event_time).min().unwrap_or(0),
        last_time: rows.iter().map(|r| r.entry.event_time).max().unwrap_or(0),
        last_hash: &last.hash,
    };
    store_chunk(tx, &span, &mut buffers)
}

/// What the chunk table says of a chunk beside its records.
struct ChunkSpan<'a> {
    first_seq: i64,
    last_seq: i64,
    first_time: i64,
    last_time: i64,
    last_hash: &'a [u8],
}

/// Compresses `buffers.payload` (the encoded records) and stores it as one chunk.
fn store_chunk(
    tx: &Transaction<'_>,
    span: &ChunkSpan<'_>,
    buffers: &mut ChunkBuffers,
) -> StoreResult<()> {
    let (payload, compressed) = (&buffers.payload, &mut buffers.compressed);
    compressed.clear();
    compressed.resize(
        4 + lz4_flex::block::get_maximum_output_size(payload.len()),
        0,
    );
    compressed[..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    let size = lz4_flex::block::compress_into(payload, &mut compressed[4..])
        .map_err(|_| StoreError::Unavailable("audit chunk could not be compressed".into()))?;
    compressed.truncate(4 + size);
    tx.prepare_cached(
        "INSERT INTO audit_chunks (first_seq, last_seq, first_time, last_time, last_hash, records) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .map_err(unavailable)?
    .execute(params![
        span.first_seq,
        span.last_seq,
        span.first_time,
        span.last_time,
        span.last_hash,
        &compressed[..]
    ])
    .map_err(unavailable)?;
    Ok(())
}

pub fn head(c: &Connection) -> StoreResult<Option<(i64, Vec<u8>)>> {
    c.prepare_cached("SELECT last_seq, last_hash FROM audit_chunks ORDER BY first_seq DESC LIMIT 1")
        .map_err(unavailable)?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(unavailable)
}

/// Buffers reused from batch to batch: a batch's chunk is tens of kilobytes, and allocating
/// that afresh each time had the allocator hand pages back to the kernel and fault them in
/// again (measured: page zeroing was then the largest cost of the audit trail).
#[derive(Default)]
pub struct ChunkBuffers {
    payload: Vec<u8>,
    compressed: Vec<u8>,
}

pub fn append(
    tx: &Transaction<'_>,
    records: &[NewAuditRecord],
    link: AuditLink,
    buffers: &mut ChunkBuffers,
) -> StoreResult<Vec<i64>> {
    // The head is read inside the writing transaction: no other writer can append between.
    let (mut seq, mut previous) = head(tx)?.unwrap_or((0, vec![0u8; 32]));
    let payload = &mut buffers.payload;
    payload.clear();
    payload.push(CHUNK_FORMAT);
    let first_seq = seq + 1;
    let mut assigned = Vec::with_capacity(records.len());
    let (mut first_time, mut last_time) = (i64::MAX, i64::MIN);
    for r in records {
        seq += 1;
        let hash = link(seq as u64, &previous, r.record.as_bytes());
        encode_entry(payload, seq, &previous, &hash, r);
        previous.clear();
        previous.extend_from_slice(&hash);
        assigned.push(seq);
        first_time = first_time.min(r.event_time);
        last_time = last_time.max(r.event_time);
    }
    if assigned.is_empty() {
        return Ok(assigned);
    }
    let span = ChunkSpan {
        first_seq,
        last_seq: seq,
        first_time,
        last_time,
        last_hash: &previous,
    };
    store_chunk(tx, &span, buffers)?;
    Ok(assigned)
}

pub fn records(c: &Connection, after_seq: i64, limit: usize) -> StoreResult<Vec<AuditRecordRow>> {
    let mut statement = c
        .prepare_cached("SELECT records FROM audit_chunks WHERE last_seq > ?1 ORDER BY first_seq")
        .map_err(unavailable)?;
    let mut chunks = statement.query(params![after_seq]).map_err(unavailable)?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = chunks.next().map_err(unavailable)? else {
            break;
        };
        let blob = row.get_ref(0).map_err(unavailable)?;
        let blob = blob.as_blob().map_err(|_| corrupt("not a blob"))?;
        for record in decode_chunk(blob)? {
            if record.seq > after_seq && out.len() < limit {
                out.push(record);
            }
        }
    }
    Ok(out)
}

fn matches(q: &AuditQuery, row: &AuditRecordRow) -> bool {
    let e = &row.entry;
    if e.account_id != q.account_id
        || e.region != q.region
        || e.event_time < q.start_time
        || e.event_time > q.end_time
        || row.seq >= q.before_seq.unwrap_or(i64::MAX)
    {
        return false;
    }
    let Some((attribute, value)) = &q.attribute else {
        return true;
    };
    match attribute {
        AuditAttribute::EventId => e.event_id == *value,
        AuditAttribute::EventName => e.event_name == *value,
        AuditAttribute::EventSource => e.event_source == *value,
        AuditAttribute::Username => e.username.as_deref() == Some(value.as_str()),
        AuditAttribute::AccessKeyId => e.access_key_id.as_deref() == Some(value.as_str()),
        AuditAttribute::ReadOnly => e.read_only == (value == "true"),
        AuditAttribute::ResourceName => e.resources.iter().any(|(_, name)| name == value),
        AuditAttribute::ResourceType => e.resources.iter().any(|(kind, _)| kind == value),
    }
}

pub fn lookup(c: &Connection, q: &AuditQuery) -> StoreResult<Vec<AuditRecordRow>> {
    let mut statement = c
        .prepare_cached(
            "SELECT records FROM audit_chunks \
             WHERE first_seq < ?1 AND first_time <= ?2 AND last_time >= ?3 \
             ORDER BY first_seq DESC",
        )
        .map_err(unavailable)?;
    let before = q.before_seq.unwrap_or(i64::MAX);
    let mut chunks = statement
        .query(params![before, q.end_time, q.start_time])
        .map_err(unavailable)?;
    let mut out = Vec::new();
    while out.len() < q.limit {
        let Some(row) = chunks.next().map_err(unavailable)? else {
            break;
        };
        let blob = row.get_ref(0).map_err(unavailable)?;
        let blob = blob.as_blob().map_err(|_| corrupt("not a blob"))?;
        for record in decode_chunk(blob)?.into_iter().rev() {
            if out.len() < q.limit && matches(q, &record) {
                out.push(record);
            }
        }
    }
    Ok(out)
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

/// Retention: removes every record before the first one at or after `before_time` (records
/// leave from the front only, so what stays is one unbroken chain) but never the newest
/// record, which carries the chain's head; whole chunks are deleted and the chunk holding
/// the boundary is rewritten without its older records.
pub fn purge(tx: &Transaction<'_>, before_time: i64) -> StoreResult<u64> {
    let chunks: Vec<(i64, i64, i64)> = tx
        .prepare_cached(
            "SELECT first_seq, last_seq, last_time FROM audit_chunks ORDER BY first_seq",
        )
        .map_err(unavailable)?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(unavailable)?
        .collect::<Result<_, _>>()
        .map_err(unavailable)?;
    let Some(newest) = chunks.len().checked_sub(1) else {
        return Ok(0);
    };
    // The first chunk holding a record young enough to keep (its youngest is `last_time`).
    let boundary = chunks
        .iter()
        .position(|&(_, _, last_time)| last_time >= before_time)
        .unwrap_or(newest);
    let (boundary_first, _, _) = chunks[boundary];
    let mut removed: i64 = chunks[..boundary]
        .iter()
        .map(|&(first, last, _)| last - first + 1)
        .sum();
    tx.execute(
        "DELETE FROM audit_chunks WHERE first_seq < ?1",
        params![boundary_first],
    )
    .map_err(unavailable)?;

    let blob: Vec<u8> = tx
        .query_row(
            "SELECT records FROM audit_chunks WHERE first_seq = ?1",
            params![boundary_first],
            |row| row.get(0),
        )
        .map_err(unavailable)?;
    let rows = decode_chunk(&blob)?;
    let keep_at_least_one = usize::from(boundary == newest);
    let old = rows
        .iter()
        .take(rows.len() - keep_at_least_one.min(rows.len()))
        .take_while(|r| r.entry.event_time < before_time)
        .count();
    let first_kept = if old > 0 {
        // The chunk's time columns make this impossible unless it was tampered with; then
        // the purge must fail, not panic.
        let first_kept = rows
            .get(old)
            .map(|r| r.seq)
            .ok_or_else(|| corrupt("its times do not match its records"))?;
        tx.execute(
            "DELETE FROM audit_chunks WHERE first_seq = ?1",
            params![boundary_first],
        )
        .map_err(unavailable)?;
        insert_chunk(tx, &rows[old..])?;
        removed += old as i64;
        first_kept
    } else {
        boundary_first
    };
    tx.execute(
        "DELETE FROM audit_digests WHERE seq < ?1",
        params![first_kept],
    )
    .map_err(unavailable)?;
    Ok(removed as u64)
}

/// Moves records written one row each (schema 3 and 4) into chunks, once, at start-up, a
/// thousand at a time (a trail of months does not fit in memory at once).
pub fn move_rows_into_chunks(tx: &Transaction<'_>) -> StoreResult<u64> {
    const PAGE: i64 = 1_000;
    let mut statement = tx
        .prepare(
            "SELECT seq, account_id, region, event_time, event_id, event_name, event_source, \
             read_only, username, access_key_id, resources, record, previous_hash, hash \
             FROM audit_records WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(unavailable)?;
    let (mut after, mut moved) = (i64::MIN, 0u64);
    loop {
        let rows = statement
            .query_map(params![after, PAGE], |row| {
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
            })
            .map_err(unavailable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.seq;
        insert_chunk(tx, &rows)?;
        moved += rows.len() as u64;
    }
    drop(statement);
    tx.execute("DELETE FROM audit_records", [])
        .map_err(unavailable)?;
    Ok(moved)
}
