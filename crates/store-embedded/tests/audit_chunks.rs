//! Audit records written one row each by earlier versions are moved into chunks at start-up,
//! in order and with their chain intact.

use coffer_store::Store;
use coffer_store_embedded::EmbeddedStore;

#[tokio::test]
async fn rows_of_earlier_versions_move_into_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coffer.db");
    let store = EmbeddedStore::open(&path).unwrap();
    store.close().await.unwrap();
    drop(store);

    let db = rusqlite::Connection::open(&path).unwrap();
    for seq in 1..=2_500i64 {
        let previous = if seq == 1 {
            vec![0u8; 32]
        } else {
            vec![(seq - 1) as u8; 32]
        };
        db.execute(
            "INSERT INTO audit_records (seq, account_id, region, event_time, event_id, event_name, \
             event_source, read_only, username, access_key_id, resources, record, previous_hash, hash) \
             VALUES (?1, '111122223333', 'us-east-1', ?2, ?3, 'GetSecretValue', \
             'secretsmanager.amazonaws.com', 1, 'alice', NULL, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                seq,
                seq * 10,
                format!("event-{seq}"),
                format!("AWS::SecretsManager::Secret\tarn:{seq}\n"),
                format!("{{\"n\":{seq}}}"),
                previous,
                vec![seq as u8; 32],
            ],
        )
        .unwrap();
    }
    drop(db);

    let store = EmbeddedStore::open(&path).unwrap();
    let rows = store.audit_records(0, 10_000).await.unwrap();
    assert_eq!(rows.len(), 2_500);
    for (i, row) in rows.iter().enumerate() {
        let seq = i as i64 + 1;
        assert_eq!(row.seq, seq);
        assert_eq!(row.entry.event_id, format!("event-{seq}"));
        assert_eq!(row.entry.username.as_deref(), Some("alice"));
        assert_eq!(row.entry.access_key_id, None);
        assert_eq!(
            row.entry.resources,
            [(
                "AWS::SecretsManager::Secret".to_owned(),
                format!("arn:{seq}")
            )]
        );
        assert_eq!(row.hash, vec![seq as u8; 32]);
    }
    assert_eq!(store.audit_head().await.unwrap().unwrap().0, 2_500);
    let left: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM audit_records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}
