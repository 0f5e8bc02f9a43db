//! The audit trail through the domain on the real embedded store: group commit under
//! concurrent writers, the chain and digests verifying, LookupEvents' filters and paging.

use std::sync::Arc;

use coffer_crypto::{AuditSigner, RootKey, TokenSigner};
use coffer_domain::audit::*;
use coffer_domain::clock::ManualClock;
use coffer_domain::identity::Principal;
use coffer_domain::secrets::{Actor, Caller};
use coffer_store::Store;
use coffer_store_embedded::EmbeddedStore;

const T0: i64 = 1_735_732_800_000;
const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

fn event(n: usize, name: &str, user: &str, secret: &str) -> AuditEvent {
    AuditEvent {
        event_time: T0 + n as i64 * 1_000,
        event_source: "secretsmanager.amazonaws.com".into(),
        event_name: name.into(),
        aws_region: REGION.into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "test".into(),
        identity: AuditIdentity::Principal {
            principal: Arc::new(Principal::user("aws", ACCOUNT, user)),
            user_id: None,
            access_key_id: format!("AKIA{user:0>16}").to_uppercase(),
        },
        request_parameters: serde_json::json!({ "secretId": secret }),
        response_elements: serde_json::Value::Null,
        failure: None,
        request_id: format!("req-{n}"),
        event_id: format!("evt-{n}"),
        read_only: name.starts_with("Get"),
        resources: vec![AuditResource {
            account_id: ACCOUNT.into(),
            resource_type: "AWS::SecretsManager::Secret".into(),
            arn: secret.into(),
        }],
        recipient_account_id: ACCOUNT.into(),
        additional_event_data: None,
    }
}

fn system() -> Caller {
    Caller {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        actor: Actor::System,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_are_group_committed_into_one_verifiable_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path().join("coffer.db")).unwrap());
    let root = RootKey::generate().unwrap();
    let signer = AuditSigner::derive(&root);
    let public_key = signer.public_key();
    let clock = Arc::new(ManualClock::new(T0));
    let (log, writer) = AuditLog::start(
        store.clone(),
        signer,
        Vec::new(),
        None,
        clock.clone(),
        AuditConfig {
            digest_every_records: 250,
            ..AuditConfig::default()
        },
    );
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            for i in 0..125 {
                let n = worker * 125 + i;
                let e = event(
                    n,
                    if i % 5 == 0 {
                        "PutSecretValue"
                    } else {
                        "GetSecretValue"
                    },
                    "alice",
                    "db",
                );
                if i % 5 == 0 {
                    log.record_durably(e).await.unwrap();
                } else {
                    log.record(e).unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(log.accepting());
    drop(log);
    writer.await.unwrap();

    let report = verify_trail(store.as_ref(), Some(&public_key))
        .await
        .unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.records, 1_000);
    assert_eq!((report.first_seq, report.last_seq), (Some(1), Some(1_000)));
    assert!(report.digests >= 1);
    assert_eq!(
        report.signed_through,
        Some(1_000),
        "the last digest is signed at shutdown"
    );
    // Another key's digests are not this trail's.
    let stranger = AuditSigner::derive(&RootKey::generate().unwrap()).public_key();
    let report = verify_trail(store.as_ref(), Some(&stranger)).await.unwrap();
    assert!(
        report
            .findings
            .iter()
            .all(|f| matches!(f, Finding::UnknownSigner { .. }))
    );
    assert!(!report.findings.is_empty());
}

#[tokio::test]
async fn lookup_events_filters_and_pages_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path().join("coffer.db")).unwrap());
    let root = RootKey::generate().unwrap();
    let clock = Arc::new(ManualClock::new(T0 + 100_000));
    let (log, writer) = AuditLog::start(
        store.clone(),
        AuditSigner::derive(&root),
        Vec::new(),
        None,
        clock.clone(),
        AuditConfig::default(),
    );
    for n in 0..30 {
        let (name, user, secret) = match n % 3 {
            0 => ("GetSecretValue", "alice", "arn:a"),
            1 => ("PutSecretValue", "bob", "arn:b"),
            _ => ("DescribeSecret", "alice", "arn:b"),
        };
        log.record_durably(event(n, name, user, secret))
            .await
            .unwrap();
    }
    drop(log);
    writer.await.unwrap();
    let service = AuditService::new(
        store.clone(),
        clock.clone(),
        TokenSigner::derive(&root, "lookup"),
    );

    let by = |key: LookupAttributeKey, value: &str| LookupEventsInput {
        lookup_attributes: vec![(key, value.to_owned())],
        ..LookupEventsInput::default()
    };
    let out = service
        .lookup_events(
            &system(),
            by(LookupAttributeKey::EventName, "PutSecretValue"),
        )
        .await
        .unwrap();
    assert_eq!(out.events.len(), 10);
    assert!(
        out.events
            .windows(2)
            .all(|w| w[0].event_time > w[1].event_time)
    );
    assert_eq!(out.events[0].event_id, "evt-28");
    let record: serde_json::Value = serde_json::from_str(&out.events[0].cloud_trail_event).unwrap();
    assert_eq!(record["eventName"], "PutSecretValue");
    for (key, value, count) in [
        (LookupAttributeKey::Username, "alice", 20),
        (LookupAttributeKey::ResourceName, "arn:b", 20),
        (LookupAttributeKey::ReadOnly, "true", 10),
        (LookupAttributeKey::EventId, "evt-7", 1),
        (LookupAttributeKey::EventSource, "kms.amazonaws.com", 0),
    ] {
        let out = service
            .lookup_events(&system(), by(key, value))
            .await
            .unwrap();
        assert_eq!(out.events.len(), count, "{key:?} = {value}");
    }

    // Paging: MaxResults, and a NextToken bound to its query.
    let mut input = by(LookupAttributeKey::Username, "alice");
    input.max_results = Some(8);
    let mut seen = Vec::new();
    loop {
        let page = service
            .lookup_events(&system(), input.clone())
            .await
            .unwrap();
        seen.extend(page.events.iter().map(|e| e.event_id.clone()));
        match page.next_token {
            Some(token) => input.next_token = Some(token),
            None => break,
        }
    }
    assert_eq!(seen.len(), 20);
    let first = service
        .lookup_events(
            &system(),
            LookupEventsInput {
                max_results: Some(1),
                ..LookupEventsInput::default()
            },
        )
        .await
        .unwrap();
    let mut replayed = by(LookupAttributeKey::Username, "bob");
    replayed.next_token = first.next_token;
    assert_eq!(
        service
            .lookup_events(&system(), replayed)
            .await
            .unwrap_err(),
        LookupError::InvalidNextToken
    );

    // Time windows and validation.
    let window = LookupEventsInput {
        start_time: Some(T0 + 5_000),
        end_time: Some(T0 + 9_000),
        ..LookupEventsInput::default()
    };
    assert_eq!(
        service
            .lookup_events(&system(), window)
            .await
            .unwrap()
            .events
            .len(),
        5
    );
    let backwards = LookupEventsInput {
        start_time: Some(T0 + 9_000),
        end_time: Some(T0),
        ..LookupEventsInput::default()
    };
    assert_eq!(
        service
            .lookup_events(&system(), backwards)
            .await
            .unwrap_err(),
        LookupError::InvalidTimeRange
    );
    let two = LookupEventsInput {
        lookup_attributes: vec![
            (LookupAttributeKey::Username, "alice".into()),
            (LookupAttributeKey::EventName, "GetSecretValue".into()),
        ],
        ..LookupEventsInput::default()
    };
    assert!(matches!(
        service.lookup_events(&system(), two).await,
        Err(LookupError::InvalidLookupAttributes(_))
    ));

    // Retention keeps the newest records.
    clock.set(T0 + 100 * 86_400_000);
    assert_eq!(service.purge_expired(90).await.unwrap(), 29);
    assert_eq!(store.audit_records(0, 100).await.unwrap().len(), 1);
}
