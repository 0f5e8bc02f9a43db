//! Behaviour specific to a shared database: two `PgStore`s on one schema stand for two
//! nodes, each with its own pool, so their writes race on different connections.

mod common;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_store::behaviour::{secret, version};
use coffer_store::{
    AccessKeyInsert, AccessKeyRecord, AccessKeyStatus, KmsAliasRecord, KmsKeyRecord,
    KmsMaterialRecord, NewAuditRecord, SecretChange, Store, StoreError,
};
use coffer_store_postgres::{PgOptions, PgStore};
use common::{SchemaGuard, admin, url};
use tokio::sync::Barrier;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

async fn two_nodes() -> (Arc<PgStore>, Arc<PgStore>, SchemaGuard) {
    let guard = SchemaGuard::new().await;
    let a = guard.store().await;
    let b = guard.store().await;
    (Arc::new(a), Arc::new(b), guard)
}

/// A deterministic 32-byte digest of the three inputs (SipHash with fixed keys, four lanes):
/// not a cryptographic hash, but any change to an input changes it, which is what the
/// chain checks need.
fn link(seq: u64, previous: &[u8], record: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (lane, chunk) in out.chunks_mut(8).enumerate() {
        #[allow(deprecated)] // SipHasher: stable output across runs, unlike RandomState
        let mut h = std::hash::SipHasher::new_with_keys(lane as u64, 0x636f_6666_6572);
        seq.hash(&mut h);
        previous.hash(&mut h);
        record.hash(&mut h);
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    out
}

fn audit_entry(node: usize, n: usize) -> NewAuditRecord {
    NewAuditRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        event_time: 1_000 + n as i64,
        event_id: format!("event-{node}-{n}"),
        event_name: "GetSecretValue".into(),
        event_source: "secretsmanager.amazonaws.com".into(),
        read_only: true,
        username: Some(format!("node-{node}")),
        access_key_id: None,
        resources: vec![("AWS::SecretsManager::Secret".into(), format!("s{n}"))],
        record: format!("{{\"node\":{node},\"n\":{n}}}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_audit_appends_from_two_nodes_form_one_chain() {
    let (a, b, _guard) = two_nodes().await;
    const TASKS_PER_NODE: usize = 4;
    const BATCHES: usize = 15;
    const BATCH: usize = 7;
    let mut tasks = Vec::new();
    for (node, store) in [a.clone(), b.clone()].into_iter().enumerate() {
        for task in 0..TASKS_PER_NODE {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut assigned = Vec::new();
                for batch in 0..BATCHES {
                    let records: Vec<_> = (0..BATCH)
                        .map(|i| audit_entry(node, (task * BATCHES + batch) * BATCH + i))
                        .collect();
                    let seqs = store
                        .append_audit_records(Arc::new(records), link)
                        .await
                        .unwrap();
                    assert_eq!(seqs.len(), BATCH);
                    assert!(
                        seqs.windows(2).all(|w| w[1] == w[0] + 1),
                        "a batch gets consecutive numbers: {seqs:?}"
                    );
                    assigned.extend(seqs);
                }
                assigned
            }));
        }
    }
    let mut assigned = Vec::new();
    for task in tasks {
        assigned.extend(task.await.unwrap());
    }
    let total = 2 * TASKS_PER_NODE * BATCHES * BATCH;
    assigned.sort_unstable();
    assert_eq!(assigned, (1..=total as i64).collect::<Vec<_>>());

    let all = a.audit_records(0, total + 10).await.unwrap();
    assert_eq!(all.len(), total);
    let mut previous = vec![0u8; 32];
    for (i, row) in all.iter().enumerate() {
        assert_eq!(row.seq, i as i64 + 1);
        assert_eq!(
            row.previous_hash, previous,
            "record {} links its predecessor",
            row.seq
        );
        assert_eq!(
            row.hash,
            link(
                row.seq as u64,
                &row.previous_hash,
                row.entry.record.as_bytes()
            )
        );
        previous = row.hash.clone();
    }
    assert_eq!(
        b.audit_head().await.unwrap(),
        Some((total as i64, previous))
    );
}

fn kms_key(key_id: &str) -> KmsKeyRecord {
    KmsKeyRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        key_id: key_id.into(),
        document: "{}".into(),
        created_at: 1,
        revision: 1,
    }
}

fn kms_material(key_id: &str) -> KmsMaterialRecord {
    KmsMaterialRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        key_id: key_id.into(),
        material_id: "m1".into(),
        sealed_material: vec![1; 60],
        created_at: 1,
    }
}

fn kms_alias(name: &str, target: &str) -> KmsAliasRecord {
    KmsAliasRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        alias_name: name.into(),
        target_key_id: target.into(),
        created_at: 1,
        updated_at: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_racing_for_an_alias_create_one_key() {
    let (a, b, _guard) = two_nodes().await;
    for round in 0..20 {
        let alias = format!("alias/race-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for (node, store) in [a.clone(), b.clone()].into_iter().enumerate() {
            let (alias, barrier) = (alias.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let key_id = format!("key-{round}-{node}");
                barrier.wait().await;
                let created = store
                    .create_kms_key(
                        kms_key(&key_id),
                        kms_material(&key_id),
                        Some(kms_alias(&alias, &key_id)),
                    )
                    .await
                    .unwrap();
                (key_id, created)
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let winners: Vec<_> = outcomes.iter().filter(|(_, created)| *created).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let winner = &winners[0].0;
        let stored = a.kms_alias(ACCOUNT, REGION, &alias).await.unwrap().unwrap();
        assert_eq!(&stored.target_key_id, winner);
        for (key_id, created) in &outcomes {
            let key = b.kms_key(ACCOUNT, REGION, key_id).await.unwrap();
            let materials = b.kms_materials(ACCOUNT, REGION, key_id).await.unwrap();
            if *created {
                assert!(key.is_some() && materials.len() == 1);
            } else {
                assert!(
                    key.is_none() && materials.is_empty(),
                    "the loser wrote nothing"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_migrating_a_fresh_schema_together_all_succeed() {
    let guard = SchemaGuard::new().await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (url, options) = (guard.url(), guard.options());
        tasks.push(tokio::spawn(async move {
            PgStore::connect(&url, options).await
        }));
    }
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(task.await.unwrap().expect("every node starts"));
    }
    let client = admin().await;
    let versions: Vec<i64> = client
        .query(
            &format!(
                "SELECT version FROM \"{}\".coffer_schema_version ORDER BY version",
                guard.name
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(!versions.is_empty());
    assert_eq!(
        versions,
        (1..=versions.len() as i64).collect::<Vec<_>>(),
        "each migration applied once"
    );
    // Every node works on the one schema.
    stores[0]
        .create_secret(secret("shared", 1), vec![])
        .await
        .unwrap();
    assert!(
        stores[5]
            .secret_by_name(ACCOUNT, REGION, "shared")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_schema_newer_than_the_binary_is_refused() {
    let guard = SchemaGuard::new().await;
    drop(guard.store().await);
    admin()
        .await
        .execute(
            &format!(
                "INSERT INTO \"{}\".coffer_schema_version (version, applied_at) VALUES (999, 0)",
                guard.name
            ),
            &[],
        )
        .await
        .unwrap();
    match PgStore::connect(&guard.url(), guard.options()).await {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains("run a newer coffer"), "{message}")
        }
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("expected Corrupt, got a store"),
    }
}

#[tokio::test]
async fn a_closed_port_is_unavailable_at_once() {
    let options = PgOptions {
        connect_timeout: Duration::from_secs(2),
        ..PgOptions::default()
    };
    let started = Instant::now();
    let result = PgStore::connect("postgres://postgres@127.0.0.1:1/postgres", options).await;
    assert!(
        matches!(&result, Err(StoreError::Unavailable(_))),
        "{:?}",
        result.err()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_unavailable_within_the_connect_timeout() {
    // Accepts TCP connections (the kernel does, from the backlog) and never says a word:
    // the TCP connect succeeds, so only the bound on the whole handshake can end the wait.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = PgOptions {
        connect_timeout: Duration::from_secs(1),
        ..PgOptions::default()
    };
    let started = Instant::now();
    let result = PgStore::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        options,
    )
    .await;
    let elapsed = started.elapsed();
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("within"), "{message}")
        }
        Err(e) => panic!("expected Unavailable, got {e}"),
        Ok(_) => panic!("expected Unavailable, got a store"),
    }
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_from_two_nodes_have_one_winner_per_revision() {
    let (a, b, _guard) = two_nodes().await;
    let record = secret("contended", 1);
    a.create_secret(record.clone(), vec![]).await.unwrap();
    const ROUNDS: i64 = 25;
    for round in 0..ROUNDS {
        let current = a.secret_by_arn(&record.arn).await.unwrap().unwrap();
        assert_eq!(current.secret.revision, 1 + round);
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for (node, store) in [a.clone(), b.clone()].into_iter().enumerate() {
            let barrier = barrier.clone();
            let mut next = current.secret.clone();
            next.revision += 1;
            let version_id = format!("v{round}-{node}");
            next.stages.insert("AWSCURRENT".into(), version_id.clone());
            let change = SecretChange {
                secret: next,
                expected_revision: current.secret.revision,
                put_versions: vec![version(&version_id, round, Some(b"sealed"))],
                delete_versions: vec![],
            };
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                (version_id, store.update_secret(change).await)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (version_id, Ok(())) => winners.push(version_id),
                (_, Err(StoreError::Conflict)) => {}
                (_, Err(e)) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        let loaded = b.secret_by_arn(&record.arn).await.unwrap().unwrap();
        assert_eq!(loaded.secret.revision, 2 + round);
        assert_eq!(loaded.secret.stages.get("AWSCURRENT"), Some(&winners[0]));
        assert!(
            loaded.versions.iter().any(|v| v.version_id == winners[0]),
            "the winner's version is stored"
        );
        assert_eq!(
            loaded.versions.len() as i64,
            round + 1,
            "only winners' versions are stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_creating_one_name_get_one_secret() {
    let (a, b, _guard) = two_nodes().await;
    for round in 0..20 {
        let name = format!("same-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for (node, store) in [a.clone(), b.clone()].into_iter().enumerate() {
            let barrier = barrier.clone();
            let mut record = secret(&name, 1);
            record.arn = record.arn.replace("AbCdEf", &format!("Node{node}x"));
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.create_secret(record, vec![]).await
            }));
        }
        let mut created = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => created += 1,
                Err(StoreError::NameTaken) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(created, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_access_key_quota_holds_across_nodes() {
    let (a, b, _guard) = two_nodes().await;
    let barrier = Arc::new(Barrier::new(8));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let key = AccessKeyRecord {
                access_key_id: format!("AKIARACE00000000000{i}"),
                account_id: ACCOUNT.into(),
                user_name: if i % 3 == 0 { "Alice" } else { "alice" }.into(),
                sealed_secret_access_key: vec![i as u8; 60],
                status: AccessKeyStatus::Active,
                created_at: i,
            };
            barrier.wait().await;
            store.insert_access_key(key, Some(2)).await.unwrap()
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        if task.await.unwrap() == AccessKeyInsert::Inserted {
            inserted += 1;
        }
    }
    assert_eq!(inserted, 2);
    assert_eq!(
        a.access_keys_of_user(ACCOUNT, "ALICE").await.unwrap().len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_when_the_server_drops_its_connections() {
    let guard = SchemaGuard::new().await;
    let store = guard.store().await;
    // Several pooled connections, so that more than one goes stale.
    let mut reads = Vec::new();
    for _ in 0..4 {
        reads.push(store.secret_by_name(ACCOUNT, REGION, "x"));
    }
    for read in reads {
        read.await.unwrap();
    }
    store
        .create_secret(secret("kept", 1), vec![])
        .await
        .unwrap();

    // What a restart or failover does to the sessions: the server ends every one of them.
    let killed: i64 = admin()
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&guard.name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1);

    // Without waiting: the next calls get fresh connections (a stale one found closed is
    // dropped by the pool; one closed under a request is retried once).
    assert!(
        store
            .secret_by_name(ACCOUNT, REGION, "kept")
            .await
            .unwrap()
            .is_some()
    );
    store
        .create_secret(secret("after", 2), vec![])
        .await
        .unwrap();
    let mut next = secret("kept", 1);
    next.revision = 2;
    store
        .update_secret(SecretChange {
            secret: next,
            expected_revision: 1,
            put_versions: vec![],
            delete_versions: vec![],
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_blocked_on_a_lock_gives_up_at_the_statement_timeout() {
    let guard = SchemaGuard::new().await;
    let options = PgOptions {
        statement_timeout: Duration::from_millis(300),
        ..guard.options()
    };
    let store = PgStore::connect(&guard.url(), options).await.unwrap();
    let record = secret("locked", 1);
    store.create_secret(record.clone(), vec![]).await.unwrap();

    // Another session holds the secret's row lock and does not let go.
    let mut holder = admin().await;
    let tx = holder.transaction().await.unwrap();
    tx.query(
        &format!(
            "SELECT 1 FROM \"{}\".secrets WHERE arn = $1 FOR UPDATE",
            guard.name
        ),
        &[&record.arn],
    )
    .await
    .unwrap();

    let mut next = record.clone();
    next.revision = 2;
    next.stages = BTreeMap::from([("AWSCURRENT".into(), "v1".into())]);
    let started = Instant::now();
    let result = store
        .update_secret(SecretChange {
            secret: next,
            expected_revision: 1,
            put_versions: vec![],
            delete_versions: vec![],
        })
        .await;
    let elapsed = started.elapsed();
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("57014"), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    tx.rollback().await.unwrap();
    // Once the lock is gone the same store writes normally.
    assert_eq!(
        store
            .secret_by_arn(&record.arn)
            .await
            .unwrap()
            .unwrap()
            .secret
            .revision,
        1
    );
}

#[tokio::test]
async fn a_bad_schema_name_is_refused_before_connecting() {
    let options = PgOptions {
        schema: Some("Robert'); DROP TABLE students;--".into()),
        ..PgOptions::default()
    };
    assert!(matches!(
        PgStore::connect(&url(), options).await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn calls_after_close_fail_without_touching_the_database() {
    let guard = SchemaGuard::new().await;
    let store = guard.store().await;
    store.close().await.unwrap();
    for result in [
        store.iam_generation().await.map(drop),
        store.create_secret(secret("late", 1), vec![]).await,
    ] {
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
    }
}

/// A TCP relay to the test server that can be made to stop passing bytes, as a partition
/// or a frozen host would: the server cannot time the statement out, since it never gets it.
struct Relay {
    port: u16,
    frozen: Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    async fn start() -> Relay {
        use std::sync::atomic::AtomicBool;
        let config: tokio_postgres::Config = url().parse().unwrap();
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            #[allow(unreachable_patterns)]
            _ => panic!("the relay needs a TCP test server"),
        };
        let target = format!(
            "{host}:{}",
            config.get_ports().first().copied().unwrap_or(5432)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pass(client_read, server_write, flag.clone()));
                tokio::spawn(pass(server_read, client_write, flag.clone()));
            }
        });
        Relay { port, frozen }
    }

    fn url(&self, guard: &SchemaGuard) -> String {
        let config: tokio_postgres::Config = url().parse().unwrap();
        let user = config.get_user().unwrap_or("postgres");
        let database = config.get_dbname().unwrap_or("postgres");
        format!(
            "postgres://{user}@127.0.0.1:{}/{database}?application_name={}",
            self.port, guard.name
        )
    }
}

async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Frozen: hold the bytes back, as a lost route would; the connection stays open.
        while frozen.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_mid_request_does_not_hang_the_caller() {
    use std::sync::atomic::Ordering;
    let guard = SchemaGuard::new().await;
    let relay = Relay::start().await;
    let options = PgOptions {
        statement_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(1),
        ..guard.options()
    };
    let store = PgStore::connect(&relay.url(&guard), options).await.unwrap();
    store
        .create_secret(secret("before", 1), vec![])
        .await
        .unwrap();

    relay.frozen.store(true, Ordering::Relaxed);
    for writing in [false, true] {
        let started = Instant::now();
        let result = if writing {
            store.create_secret(secret("during", 2), vec![]).await
        } else {
            store
                .secret_by_name(ACCOUNT, REGION, "before")
                .await
                .map(drop)
        };
        let elapsed = started.elapsed();
        match result {
            // The first call is stuck on its pooled connection until the client-side bound
            // (twice the statement timeout); that connection is then thrown away, so the
            // second needs a new one, whose handshake the relay swallows until the connect
            // timeout.
            Err(StoreError::Unavailable(message)) => assert!(
                message.contains("did not answer") || message.contains("could not connect"),
                "{message}"
            ),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }

    // The route comes back: the dead connections were thrown away, new ones work.
    relay.frozen.store(false, Ordering::Relaxed);
    store
        .create_secret(secret("after", 3), vec![])
        .await
        .unwrap();
    assert!(
        store
            .secret_by_name(ACCOUNT, REGION, "after")
            .await
            .unwrap()
            .is_some()
    );
}
