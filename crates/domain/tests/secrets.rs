//! The Secrets Manager rules end to end through the domain, on the real embedded store, with
//! a manual clock. Scenario letters and section numbers refer to the spec.

use std::sync::Arc;

use coffer_crypto::{RootKey, TokenSigner};
use coffer_domain::clock::{DAY, HOUR, ManualClock};
use coffer_domain::secrets::filters::FilterInput;
use coffer_domain::secrets::password::PasswordRules;
use coffer_domain::secrets::tags::TagInput;
use coffer_domain::secrets::*;
use coffer_domain::{Randomness, SecretValue, SecretsError};
use coffer_store_embedded::EmbeddedStore;
use zeroize::Zeroizing;

const T0: i64 = 1_735_732_800_123; // 2025-01-01T12:00:00.123Z

struct Harness {
    service: Arc<SecretsService<EmbeddedStore>>,
    clock: Arc<ManualClock>,
    caller: Caller,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path().join("coffer.db")).unwrap());
    let root = RootKey::generate().unwrap();
    let keyring = coffer_domain::keyring::open_keyring(store.as_ref(), &root, T0)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let service = SecretsService::new(
        store,
        keyring,
        TokenSigner::derive(&root, "pagination"),
        clock.clone(),
        Randomness::seeded(42),
        ServiceConfig::default(),
    );
    Harness {
        service: Arc::new(service),
        clock,
        caller: Caller {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            actor: Actor::System,
        },
        _dir: dir,
    }
}

fn token(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn text(s: &str) -> Option<Zeroizing<String>> {
    Some(Zeroizing::new(s.to_owned()))
}

impl Harness {
    async fn create(&self, name: &str, value: Option<&str>, n: u32) -> CreateSecretOutput {
        self.service
            .create_secret(
                &self.caller,
                CreateSecretInput {
                    name: name.into(),
                    client_request_token: Some(token(n)),
                    secret_string: value.and_then(text),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    async fn put(
        &self,
        id: &str,
        value: &str,
        n: u32,
        stages: Option<&[&str]>,
    ) -> Result<PutSecretValueOutput, SecretsError> {
        self.service
            .put_secret_value(
                &self.caller,
                PutSecretValueInput {
                    secret_id: id.into(),
                    client_request_token: Some(token(n)),
                    secret_string: text(value),
                    version_stages: stages.map(|s| s.iter().map(|l| l.to_string()).collect()),
                    ..Default::default()
                },
            )
            .await
    }

    async fn get(&self, id: &str) -> Result<SecretValueOutput, SecretsError> {
        self.get_with(id, None, None).await
    }

    async fn get_with(
        &self,
        id: &str,
        version_id: Option<&str>,
        stage: Option<&str>,
    ) -> Result<SecretValueOutput, SecretsError> {
        self.service
            .get_secret_value(
                &self.caller,
                GetSecretValueInput {
                    secret_id: id.into(),
                    version_id: version_id.map(str::to_owned),
                    version_stage: stage.map(str::to_owned),
                },
            )
            .await
    }

    async fn stages(&self, id: &str) -> Vec<(String, Vec<String>)> {
        let d = self
            .service
            .describe_secret(&self.caller, id)
            .await
            .unwrap();
        d.versions_to_stages
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    async fn uvs(
        &self,
        id: &str,
        label: &str,
        remove: Option<u32>,
        move_to: Option<u32>,
    ) -> Result<SecretIdentity, SecretsError> {
        self.service
            .update_secret_version_stage(
                &self.caller,
                UpdateSecretVersionStageInput {
                    secret_id: id.into(),
                    version_stage: label.into(),
                    remove_from_version_id: remove.map(token),
                    move_to_version_id: move_to.map(token),
                },
            )
            .await
    }
}

fn string_of(value: &SecretValue) -> &str {
    match value {
        SecretValue::String(s) => s.as_str(),
        SecretValue::Binary(_) => panic!("expected a string"),
    }
}

fn st(pairs: &[(u32, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(n, labels)| (token(*n), labels.iter().map(|l| l.to_string()).collect()))
        .collect()
}

#[tokio::test]
async fn create_then_read_and_describe() {
    let h = harness().await;
    let created = h
        .create("prod/db", Some(r#"{"user":"u","password":"p"}"#), 1)
        .await;
    assert!(
        created
            .arn
            .starts_with("arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-")
    );
    assert_eq!(
        created.arn.len(),
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-".len() + 6
    );
    assert_eq!(created.version_id, Some(token(1)));

    let d = h
        .service
        .describe_secret(&h.caller, "prod/db")
        .await
        .unwrap();
    assert_eq!(d.created_date, T0);
    assert_eq!(d.last_changed_date, T0);
    assert_eq!(d.last_accessed_date, None);
    assert_eq!(d.tags, None);
    assert_eq!(d.description, None);
    assert_eq!(h.stages("prod/db").await, st(&[(1, &["AWSCURRENT"])]));

    let got = h.get("prod/db").await.unwrap();
    assert_eq!(string_of(&got.value), r#"{"user":"u","password":"p"}"#);
    assert_eq!(got.version_stages, ["AWSCURRENT"]);
    assert_eq!(got.created_date, T0);
    let midnight = T0 - T0 % DAY;
    let d = h
        .service
        .describe_secret(&h.caller, "prod/db")
        .await
        .unwrap();
    assert_eq!(
        d.last_accessed_date,
        Some(midnight),
        "access dates have day resolution"
    );
    h.clock.advance(HOUR);
    h.get("prod/db").await.unwrap();
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "prod/db")
            .await
            .unwrap()
            .last_accessed_date,
        Some(midnight)
    );
    h.clock.advance(DAY);
    h.get(&created.arn).await.unwrap();
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "prod/db")
            .await
            .unwrap()
            .last_accessed_date,
        Some(midnight + DAY)
    );
}

#[tokio::test]
async fn secret_without_a_value() {
    let h = harness().await;
    let created = h.create("empty", None, 1).await;
    assert_eq!(created.version_id, None);
    assert_eq!(h.stages("empty").await, vec![]);
    assert_eq!(
        h.get("empty").await.unwrap_err(),
        SecretsError::StagingLabelNotFound("AWSCURRENT".into())
    );
    let put = h.put("empty", "v", 2, Some(&["AWSPENDING"])).await.unwrap();
    assert_eq!(
        put.version_stages,
        ["AWSCURRENT", "AWSPENDING"],
        "the first value is always current"
    );
}

#[tokio::test]
async fn name_and_arn_resolution() {
    let h = harness().await;
    let names = [
        "s-c64bdc03",
        "Valid/_+=.@-Name",
        "Valid/_+=.@-Name-a1b2",
        "Valid/_+=.@-Name-a1b2c3-",
        "Invalid/_+=.@-Name-a1b2c3",
    ];
    for (i, name) in names.iter().enumerate() {
        h.create(name, Some("x"), i as u32).await;
    }
    for name in &names[..4] {
        let partial = format!("arn:aws:secretsmanager:us-east-1:111122223333:secret:{name}");
        assert_eq!(
            h.service
                .describe_secret(&h.caller, &partial)
                .await
                .unwrap()
                .name,
            *name
        );
    }
    let partial = "arn:aws:secretsmanager:us-east-1:111122223333:secret:Invalid/_+=.@-Name-a1b2c3";
    assert_eq!(
        h.service
            .describe_secret(&h.caller, partial)
            .await
            .unwrap_err(),
        SecretsError::SecretNotFound
    );
    // A full ARN works; another account's or region's ARN does not.
    let full = h
        .service
        .describe_secret(&h.caller, names[0])
        .await
        .unwrap()
        .arn;
    assert_eq!(
        h.service
            .describe_secret(&h.caller, &full)
            .await
            .unwrap()
            .name,
        names[0]
    );
    for other in [
        full.replace("111122223333", "999999999999"),
        full.replace("us-east-1", "eu-west-1"),
    ] {
        assert_eq!(
            h.service
                .describe_secret(&h.caller, &other)
                .await
                .unwrap_err(),
            SecretsError::SecretNotFound
        );
    }
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "bad name")
            .await
            .unwrap_err(),
        SecretsError::InvalidName
    );
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "missing")
            .await
            .unwrap_err(),
        SecretsError::SecretNotFound
    );
}

#[tokio::test]
async fn create_conflicts_and_idempotent_retries() {
    let h = harness().await;
    let first = h.create("a", Some("v1"), 1).await;
    // Same token and value: the original answer, nothing changed.
    let again = h.create("a", Some("v1"), 1).await;
    assert_eq!(again, first);
    let err = |input| async { h.service.create_secret(&h.caller, input).await.unwrap_err() };
    assert_eq!(
        err(CreateSecretInput {
            name: "a".into(),
            client_request_token: Some(token(1)),
            secret_string: text("v2"),
            ..Default::default()
        })
        .await,
        SecretsError::ClientRequestTokenInUse {
            token: token(1),
            arn: first.arn.clone()
        }
    );
    assert_eq!(
        err(CreateSecretInput {
            name: "a".into(),
            client_request_token: Some(token(2)),
            secret_string: text("v1"),
            ..Default::default()
        })
        .await,
        SecretsError::SecretAlreadyExists("a".into())
    );
    assert_eq!(
        err(CreateSecretInput {
            name: "b".into(),
            secret_string: text("v"),
            ..Default::default()
        })
        .await,
        SecretsError::MissingClientRequestToken
    );
    assert_eq!(
        err(CreateSecretInput {
            name: "b".into(),
            client_request_token: Some(token(3)),
            secret_string: text("v"),
            secret_binary: Some(Zeroizing::new(vec![1])),
            ..Default::default()
        })
        .await,
        SecretsError::BothSecretValues
    );
    assert_eq!(
        err(CreateSecretInput {
            name: "with space".into(),
            ..Default::default()
        })
        .await,
        SecretsError::InvalidName
    );
    assert_eq!(
        err(CreateSecretInput {
            name: "c".into(),
            client_request_token: Some(token(4)),
            kms_key_id: Some("alias/mine".into()),
            ..Default::default()
        })
        .await,
        SecretsError::KmsKeyNotFound
    );
    // The default key may be named explicitly.
    h.service
        .create_secret(
            &h.caller,
            CreateSecretInput {
                name: "d".into(),
                client_request_token: Some(token(5)),
                kms_key_id: Some("alias/aws/secretsmanager".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn put_token_matrix() {
    let h = harness().await;
    let created = h.create("p", Some("S0"), 1).await;
    let put = h.put("p", "S1", 2, None).await.unwrap();
    assert_eq!(put.version_stages, ["AWSCURRENT"]);
    // Retrying the same put changes nothing and reports the version's labels now.
    h.put("p", "S2", 3, None).await.unwrap();
    let retry = h.put("p", "S1", 2, None).await.unwrap();
    assert_eq!(retry.version_stages, ["AWSPREVIOUS"]);
    assert_eq!(
        h.put("p", "different", 2, None).await.unwrap_err(),
        SecretsError::ClientRequestTokenInUse {
            token: token(2),
            arn: created.arn.clone()
        }
    );
    // The creating token counts too.
    assert_eq!(
        h.put("p", "S0", 1, None).await.unwrap().version_stages,
        Vec::<String>::new()
    );
    let no_token = h
        .service
        .put_secret_value(
            &h.caller,
            PutSecretValueInput {
                secret_id: "missing".into(),
                secret_string: text("x"),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        no_token.unwrap_err(),
        SecretsError::MissingClientRequestToken,
        "checked before existence"
    );
    let no_value = h
        .service
        .put_secret_value(
            &h.caller,
            PutSecretValueInput {
                secret_id: "p".into(),
                client_request_token: Some(token(9)),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(no_value.unwrap_err(), SecretsError::MissingSecretValue);
    // A string and a binary with the same bytes are different values.
    let binary = h
        .service
        .put_secret_value(
            &h.caller,
            PutSecretValueInput {
                secret_id: "p".into(),
                client_request_token: Some(token(3)),
                secret_binary: Some(Zeroizing::new(b"S2".to_vec())),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(
        binary,
        Err(SecretsError::ClientRequestTokenInUse { .. })
    ));
}

#[tokio::test]
async fn recorded_label_scenarios() {
    let h = harness().await;
    // Scenario D.
    h.create("d", Some("SS"), 1).await;
    assert_eq!(
        h.put("d", "S1", 2, Some(&["AWSCURRENT", "PUT0"]))
            .await
            .unwrap()
            .version_stages,
        ["AWSCURRENT", "PUT0"]
    );
    assert_eq!(
        h.stages("d").await,
        st(&[(1, &["AWSPREVIOUS"]), (2, &["AWSCURRENT", "PUT0"])])
    );
    h.put("d", "S2", 3, Some(&["AWSPENDING", "PUT1"]))
        .await
        .unwrap();
    assert_eq!(
        string_of(&h.get("d").await.unwrap().value),
        "S1",
        "a pending put leaves the current value"
    );
    h.uvs("d", "AWSCURRENT", Some(2), Some(3)).await.unwrap();
    assert_eq!(
        h.stages("d").await,
        st(&[
            (2, &["AWSPREVIOUS", "PUT0"]),
            (3, &["AWSCURRENT", "AWSPENDING", "PUT1"])
        ])
    );
    h.put("d", "S3", 4, Some(&["AWSPENDING", "PUT2"]))
        .await
        .unwrap();
    h.uvs("d", "AWSCURRENT", Some(3), Some(4)).await.unwrap();
    assert_eq!(
        h.stages("d").await,
        st(&[
            (2, &["PUT0"]),
            (3, &["AWSPREVIOUS", "PUT1"]),
            (4, &["AWSCURRENT", "AWSPENDING", "PUT2"])
        ])
    );
    // Scenario F, and the deprecated version only shows with IncludeDeprecated.
    h.create("f", Some("1"), 11).await;
    h.put("f", "2", 12, None).await.unwrap();
    h.put("f", "3", 13, None).await.unwrap();
    assert_eq!(
        h.stages("f").await,
        st(&[(12, &["AWSPREVIOUS"]), (13, &["AWSCURRENT"])])
    );
    let list = |deprecated| {
        h.service.list_secret_version_ids(
            &h.caller,
            ListSecretVersionIdsInput {
                secret_id: "f".into(),
                include_deprecated: Some(deprecated),
                ..Default::default()
            },
        )
    };
    let listed = list(false).await.unwrap();
    assert_eq!(
        listed
            .versions
            .iter()
            .map(|v| v.version_id.clone())
            .collect::<Vec<_>>(),
        [token(12), token(13)]
    );
    let all = list(true).await.unwrap();
    assert_eq!(all.versions.len(), 3);
    assert_eq!(all.versions[0].version_id, token(11));
    assert_eq!(all.versions[0].version_stages, None);
    assert_eq!(all.versions[0].kms_key_ids, ["DefaultEncryptionKey"]);
    // A deprecated version can still be read by id.
    assert_eq!(
        string_of(&h.get_with("f", Some(&token(11)), None).await.unwrap().value),
        "1"
    );
}

#[tokio::test]
async fn version_selection_errors() {
    let h = harness().await;
    h.create("v", Some("1"), 1).await;
    h.put("v", "2", 2, None).await.unwrap();
    assert_eq!(
        string_of(
            &h.get_with("v", None, Some("AWSPREVIOUS"))
                .await
                .unwrap()
                .value
        ),
        "1"
    );
    assert_eq!(
        string_of(
            &h.get_with("v", Some(&token(2)), Some("AWSCURRENT"))
                .await
                .unwrap()
                .value
        ),
        "2"
    );
    assert_eq!(
        h.get_with("v", Some(&token(1)), Some("AWSCURRENT"))
            .await
            .unwrap_err(),
        SecretsError::StageNotOnVersion
    );
    assert_eq!(
        h.get_with("v", Some(&token(7)), None).await.unwrap_err(),
        SecretsError::VersionNotFound(token(7))
    );
    assert_eq!(
        h.get_with("v", None, Some("AWSPENDING")).await.unwrap_err(),
        SecretsError::StagingLabelNotFound("AWSPENDING".into())
    );
}

#[tokio::test]
async fn update_secret_version_stage_errors() {
    let h = harness().await;
    h.create("u", Some("1"), 1).await;
    h.put("u", "2", 2, Some(&["AWSPENDING"])).await.unwrap();
    assert_eq!(
        h.uvs("u", "AWSCURRENT", None, Some(2)).await.unwrap_err(),
        SecretsError::RemoveFromVersionIdRequired {
            label: "AWSCURRENT".into(),
            version_id: token(1)
        }
    );
    assert_eq!(
        h.uvs("u", "AWSCURRENT", Some(9), Some(2))
            .await
            .unwrap_err(),
        SecretsError::NotAVersionOfSecret(token(9))
    );
    assert_eq!(
        h.uvs("u", "AWSCURRENT", Some(1), None).await.unwrap_err(),
        SecretsError::CannotDetachCurrent
    );
    // A custom label attached and detached; moving to where it is already is a no-op.
    h.uvs("u", "blue", None, Some(1)).await.unwrap();
    h.uvs("u", "blue", None, Some(1)).await.unwrap();
    h.uvs("u", "blue", Some(1), None).await.unwrap();
    assert_eq!(
        h.stages("u").await,
        st(&[(1, &["AWSCURRENT"]), (2, &["AWSPENDING"])])
    );
    for i in 0..18 {
        h.uvs("u", &format!("L{i}"), None, Some(1)).await.unwrap();
    }
    assert_eq!(
        h.uvs("u", "L18", None, Some(1)).await.unwrap_err(),
        SecretsError::TooManyStagingLabels
    );
}

#[tokio::test]
async fn update_secret_behaviour() {
    let h = harness().await;
    let created = h.create("up", Some("1"), 1).await;
    let before = h.service.describe_secret(&h.caller, "up").await.unwrap();
    // Nothing to change: nothing changes.
    let noop = h
        .service
        .update_secret(
            &h.caller,
            UpdateSecretInput {
                secret_id: "up".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(noop.version_id, None);
    assert_eq!(
        h.service.describe_secret(&h.caller, "up").await.unwrap(),
        before
    );
    // Description only: LastChangedDate moves (strictly, even on a frozen clock), no version.
    let out = h
        .service
        .update_secret(
            &h.caller,
            UpdateSecretInput {
                secret_id: "up".into(),
                description: Some("d".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out,
        UpdateSecretOutput {
            arn: created.arn.clone(),
            name: "up".into(),
            version_id: None
        }
    );
    let after = h.service.describe_secret(&h.caller, "up").await.unwrap();
    assert_eq!(after.description.as_deref(), Some("d"));
    assert!(after.last_changed_date > before.last_changed_date);
    // A value makes a new current version.
    let update = |n, v: &str| UpdateSecretInput {
        secret_id: "up".into(),
        client_request_token: Some(token(n)),
        secret_string: text(v),
        ..Default::default()
    };
    assert_eq!(
        h.service
            .update_secret(&h.caller, update(2, "2"))
            .await
            .unwrap()
            .version_id,
        Some(token(2))
    );
    assert_eq!(
        h.service
            .update_secret(&h.caller, update(2, "2"))
            .await
            .unwrap()
            .version_id,
        Some(token(2))
    );
    assert!(matches!(
        h.service.update_secret(&h.caller, update(2, "3")).await,
        Err(SecretsError::ClientRequestTokenInUse { .. })
    ));
    assert_eq!(
        h.stages("up").await,
        st(&[(1, &["AWSPREVIOUS"]), (2, &["AWSCURRENT"])])
    );
    // An empty description clears it.
    h.service
        .update_secret(
            &h.caller,
            UpdateSecretInput {
                secret_id: "up".into(),
                description: Some(String::new()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "up")
            .await
            .unwrap()
            .description,
        None
    );
    let missing_token = UpdateSecretInput {
        secret_id: "nope".into(),
        secret_string: text("x"),
        ..Default::default()
    };
    assert_eq!(
        h.service
            .update_secret(&h.caller, missing_token)
            .await
            .unwrap_err(),
        SecretsError::MissingClientRequestToken
    );
}

#[tokio::test]
async fn retention_keeps_at_most_100_versions_and_honours_the_24_hour_rule() {
    let h = harness().await;
    h.create("r", Some("0"), 0).await;
    for n in 1..100 {
        h.put("r", &n.to_string(), n, None).await.unwrap();
    }
    // 100 versions, all younger than a day: the 101st cannot be made.
    assert_eq!(
        h.put("r", "100", 100, None).await.unwrap_err(),
        SecretsError::TooManyVersions
    );
    h.clock.advance(DAY);
    h.put("r", "100", 100, None).await.unwrap();
    let all = h
        .service
        .list_secret_version_ids(
            &h.caller,
            ListSecretVersionIdsInput {
                secret_id: "r".into(),
                include_deprecated: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.versions.len(), 100);
    assert_eq!(
        all.versions[0].version_id,
        token(1),
        "the oldest deprecated version went first"
    );
    assert!(h.get_with("r", Some(&token(0)), None).await.is_err());
    // Pages of ListSecretVersionIds cover everything exactly once.
    let mut seen = Vec::new();
    let mut next = None;
    loop {
        let page = h
            .service
            .list_secret_version_ids(
                &h.caller,
                ListSecretVersionIdsInput {
                    secret_id: "r".into(),
                    include_deprecated: Some(true),
                    max_results: Some(7),
                    next_token: next,
                },
            )
            .await
            .unwrap();
        seen.extend(page.versions.into_iter().map(|v| v.version_id));
        next = page.next_token;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 100);
}

#[tokio::test]
async fn deletion_lifecycle() {
    let h = harness().await;
    let created = h.create("del", Some("v"), 1).await;
    let delete = |id: &str, window: Option<i64>, force: Option<bool>| {
        h.service.delete_secret(
            &h.caller,
            DeleteSecretInput {
                secret_id: id.into(),
                recovery_window_in_days: window,
                force_delete_without_recovery: force,
            },
        )
    };
    assert_eq!(
        delete("del", Some(6), None).await.unwrap_err(),
        SecretsError::RecoveryWindowOutOfRange
    );
    assert_eq!(
        delete("del", Some(31), None).await.unwrap_err(),
        SecretsError::RecoveryWindowOutOfRange
    );
    assert_eq!(
        delete("del", Some(7), Some(true)).await.unwrap_err(),
        SecretsError::ForceDeleteWithRecoveryWindow
    );
    let out = delete("del", Some(7), None).await.unwrap();
    assert_eq!(out.deletion_date, T0 + 7 * DAY);
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "del")
            .await
            .unwrap()
            .deleted_date,
        Some(T0 + 7 * DAY)
    );
    assert_eq!(
        h.get("del").await.unwrap_err(),
        SecretsError::MarkedForDeletion
    );
    assert_eq!(
        h.put("del", "x", 2, None).await.unwrap_err(),
        SecretsError::MarkedForDeletion
    );
    assert_eq!(
        delete("del", None, None).await.unwrap_err(),
        SecretsError::MarkedForDeletion
    );
    assert_eq!(
        h.service
            .tag_resource(
                &h.caller,
                "del",
                vec![TagInput {
                    key: Some("k".into()),
                    value: None
                }]
            )
            .await
            .unwrap_err(),
        SecretsError::MarkedForDeletion
    );
    let recreate = h
        .service
        .create_secret(
            &h.caller,
            CreateSecretInput {
                name: "del".into(),
                client_request_token: Some(token(9)),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        recreate.unwrap_err(),
        SecretsError::NameScheduledForDeletion
    );
    h.service.restore_secret(&h.caller, "del").await.unwrap();
    assert_eq!(string_of(&h.get("del").await.unwrap().value), "v");
    h.service.restore_secret(&h.caller, "del").await.unwrap();

    // The purge removes a secret only once its window has passed.
    delete("del", Some(7), None).await.unwrap();
    h.clock.advance(7 * DAY - 1);
    assert!(h.service.purge_due_deletions(10).await.unwrap().is_empty());
    h.clock.advance(1);
    assert_eq!(
        h.service.purge_due_deletions(10).await.unwrap(),
        vec![created.arn.clone()]
    );
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "del")
            .await
            .unwrap_err(),
        SecretsError::SecretNotFound
    );
    let again = h.create("del", Some("new"), 3).await;
    assert_ne!(
        again.arn, created.arn,
        "a re-created secret never gets the old ARN"
    );
    assert_eq!(
        h.service
            .describe_secret(&h.caller, &created.arn)
            .await
            .unwrap_err(),
        SecretsError::SecretNotFound
    );

    // Forced deletion is immediate, also of scheduled and of unknown secrets.
    delete("del", None, None).await.unwrap();
    let forced = delete("del", None, Some(true)).await.unwrap();
    assert_eq!(forced.deletion_date, h.clock.now_for_tests());
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "del")
            .await
            .unwrap_err(),
        SecretsError::SecretNotFound
    );
    let phantom = delete("never-existed", None, Some(true)).await.unwrap();
    assert_eq!(phantom.name, "never-existed");
    assert!(
        phantom
            .arn
            .starts_with("arn:aws:secretsmanager:us-east-1:111122223333:secret:never-existed-")
    );
}

trait NowForTests {
    fn now_for_tests(&self) -> i64;
}

impl NowForTests for ManualClock {
    fn now_for_tests(&self) -> i64 {
        coffer_domain::Clock::now(self)
    }
}

#[tokio::test]
async fn tags_presence_rules() {
    let h = harness().await;
    h.create("t", None, 1).await;
    let tag = |k: &str, v: &str| TagInput {
        key: Some(k.into()),
        value: Some(v.into()),
    };
    h.service
        .tag_resource(&h.caller, "t", vec![tag("a", "1"), tag("b", "2")])
        .await
        .unwrap();
    h.service
        .tag_resource(&h.caller, "t", vec![tag("a", "3")])
        .await
        .unwrap();
    let tags = h
        .service
        .describe_secret(&h.caller, "t")
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(
        tags.iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect::<Vec<_>>(),
        [("a", "3"), ("b", "2")]
    );
    h.service
        .untag_resource(&h.caller, "t", vec!["a".into(), "unknown".into()])
        .await
        .unwrap();
    h.service
        .untag_resource(&h.caller, "t", vec!["b".into()])
        .await
        .unwrap();
    assert_eq!(
        h.service
            .describe_secret(&h.caller, "t")
            .await
            .unwrap()
            .tags,
        Some(vec![]),
        "Tags: [] after removal"
    );
    assert_eq!(
        h.service
            .tag_resource(&h.caller, "t", vec![tag("aws:x", "1")])
            .await
            .unwrap_err(),
        SecretsError::ReservedTagKey("aws:x".into())
    );
}

#[tokio::test]
async fn list_secrets_filters_sorts_and_pages() {
    let h = harness().await;
    for (i, name) in ["prod/a", "dev/b", "prod/c", "prodX", "other"]
        .iter()
        .enumerate()
    {
        h.create(name, Some("v"), i as u32).await;
        h.clock.advance(1_000);
    }
    h.service
        .delete_secret(
            &h.caller,
            DeleteSecretInput {
                secret_id: "other".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let list =
        |filters: Vec<FilterInput>, sort_by: Option<&str>, order: Option<&str>, include: bool| {
            let input = ListSecretsInput {
                filters: Some(filters),
                sort_by: sort_by.map(str::to_owned),
                sort_order: order.map(str::to_owned),
                include_planned_deletion: Some(include),
                ..Default::default()
            };
            let service = h.service.clone();
            let caller = h.caller.clone();
            async move {
                service
                    .list_secrets(&caller, input)
                    .await
                    .unwrap()
                    .secrets
                    .into_iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
            }
        };
    let name = |v: &str| FilterInput {
        key: Some("name".into()),
        values: Some(vec![v.into()]),
    };
    assert_eq!(
        list(vec![], None, None, false).await,
        ["prod/a", "dev/b", "prod/c", "prodX"]
    );
    assert_eq!(
        list(vec![], None, None, true).await,
        ["prod/a", "dev/b", "prod/c", "prodX", "other"]
    );
    assert_eq!(
        list(vec![], Some("name"), Some("desc"), false).await,
        ["prodX", "prod/c", "prod/a", "dev/b"]
    );
    assert_eq!(
        list(vec![name("prod/")], None, None, false).await,
        ["prod/a", "prod/c"]
    );
    assert_eq!(
        list(vec![name("!prod")], None, None, false).await,
        ["dev/b"]
    );
    assert_eq!(
        list(vec![name("prod"), name("!prod/")], None, None, false).await,
        ["prodX"]
    );
    let bad = h
        .service
        .list_secrets(
            &h.caller,
            ListSecretsInput {
                filters: Some(vec![FilterInput {
                    key: Some("name".into()),
                    values: None,
                }]),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        bad.unwrap_err(),
        SecretsError::InvalidFilterValues("name".into())
    );

    // Paging with MaxResults=1 walks everything once; a token is bound to its query.
    let mut names = Vec::new();
    let mut next = None;
    loop {
        let page = h
            .service
            .list_secrets(
                &h.caller,
                ListSecretsInput {
                    max_results: Some(1),
                    next_token: next,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        names.extend(page.secrets.into_iter().map(|s| s.name));
        next = page.next_token;
        if next.is_none() {
            break;
        }
    }
    assert_eq!(names, ["prod/a", "dev/b", "prod/c", "prodX"]);
    let token = h
        .service
        .list_secrets(
            &h.caller,
            ListSecretsInput {
                max_results: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .next_token
        .unwrap();
    let misuse = h
        .service
        .list_secrets(
            &h.caller,
            ListSecretsInput {
                max_results: Some(1),
                next_token: Some(token),
                sort_by: Some("name".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(misuse.unwrap_err(), SecretsError::InvalidNextToken);
}

#[tokio::test]
async fn batch_get_reports_per_secret_errors() {
    let h = harness().await;
    h.create("b/1", Some("one"), 1).await;
    h.create("b/2", Some("two"), 2).await;
    h.create("b/empty", None, 3).await;
    h.create("b/gone", Some("x"), 4).await;
    h.service
        .delete_secret(
            &h.caller,
            DeleteSecretInput {
                secret_id: "b/gone".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let out = h
        .service
        .batch_get_secret_value(
            &h.caller,
            BatchGetSecretValueInput {
                secret_id_list: Some(vec!["b/1".into(), "nope".into(), "b/gone".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.secret_values.len(), 1);
    assert_eq!(
        out.errors
            .iter()
            .map(|e| (e.secret_id.as_str(), e.error.clone_for_tests()))
            .collect::<Vec<_>>(),
        [
            ("nope", SecretsError::SecretNotFound),
            ("b/gone", SecretsError::MarkedForDeletion)
        ]
    );
    let filtered = h
        .service
        .batch_get_secret_value(
            &h.caller,
            BatchGetSecretValueInput {
                filters: Some(vec![FilterInput {
                    key: Some("name".into()),
                    values: Some(vec!["b/".into()]),
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let values: Vec<&str> = filtered
        .secret_values
        .iter()
        .map(|v| string_of(&v.value))
        .collect();
    assert_eq!(values, ["one", "two"]);
    assert_eq!(
        filtered.errors.len(),
        1,
        "the secret without a value is reported"
    );
    for (input, expected) in [
        (
            BatchGetSecretValueInput::default(),
            SecretsError::BatchSelectorInvalid,
        ),
        (
            BatchGetSecretValueInput {
                secret_id_list: Some(vec!["b/1".into()]),
                filters: Some(vec![]),
                ..Default::default()
            },
            SecretsError::BatchSelectorInvalid,
        ),
        (
            BatchGetSecretValueInput {
                secret_id_list: Some(vec!["b/1".into()]),
                max_results: Some(3),
                ..Default::default()
            },
            SecretsError::BatchMaxResultsWithoutFilters,
        ),
    ] {
        assert_eq!(
            h.service
                .batch_get_secret_value(&h.caller, input)
                .await
                .unwrap_err(),
            expected
        );
    }
}

trait CloneForTests {
    fn clone_for_tests(&self) -> SecretsError;
}

impl CloneForTests for SecretsError {
    fn clone_for_tests(&self) -> SecretsError {
        match self {
            SecretsError::SecretNotFound => SecretsError::SecretNotFound,
            SecretsError::MarkedForDeletion => SecretsError::MarkedForDeletion,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn binary_values_round_trip() {
    let h = harness().await;
    let bytes = vec![0x00, 0x01, 0x02, 0xff, 0xfe, 0xfd];
    h.service
        .create_secret(
            &h.caller,
            CreateSecretInput {
                name: "bin".into(),
                client_request_token: Some(token(1)),
                secret_binary: Some(Zeroizing::new(bytes.clone())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    match h.get("bin").await.unwrap().value {
        SecretValue::Binary(b) => assert_eq!(*b, bytes),
        SecretValue::String(_) => panic!("a binary secret came back as a string"),
    }
}

#[tokio::test]
async fn random_passwords_follow_the_rules() {
    let h = harness().await;
    let p = h
        .service
        .get_random_password(
            &h.caller,
            &PasswordRules {
                length: Some(20),
                include_space: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(p.chars().count(), 20);
}

#[tokio::test]
async fn concurrent_puts_keep_exactly_one_current_version() {
    let h = harness().await;
    h.create("hot", Some("0"), 0).await;
    let mut tasks = Vec::new();
    for n in 1..=24u32 {
        let service = h.service.clone();
        let caller = h.caller.clone();
        // Spawning also proves the operation futures are Send, as the server needs.
        tasks.push(tokio::spawn(async move {
            service
                .put_secret_value(
                    &caller,
                    PutSecretValueInput {
                        secret_id: "hot".into(),
                        client_request_token: Some(token(n)),
                        secret_string: text(&n.to_string()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stages = h.stages("hot").await;
    let current: Vec<_> = stages
        .iter()
        .filter(|(_, l)| l.contains(&"AWSCURRENT".to_string()))
        .collect();
    let previous: Vec<_> = stages
        .iter()
        .filter(|(_, l)| l.contains(&"AWSPREVIOUS".to_string()))
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(previous.len(), 1);
    let all = h
        .service
        .list_secret_version_ids(
            &h.caller,
            ListSecretVersionIdsInput {
                secret_id: "hot".into(),
                include_deprecated: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.versions.len(), 25, "every acknowledged put is kept");
}
