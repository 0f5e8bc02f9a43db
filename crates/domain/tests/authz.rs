//! Authorisation of the Secrets Manager operations, through the domain on the real embedded
//! store, with an in-memory principal directory: which action and resource each operation
//! asks for, resource policies, tag conditions, and AWS's AccessDenied messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use coffer_crypto::{RootKey, TokenSigner};
use coffer_domain::authz::{Authorizer, BoxFuture, PrincipalDirectory, PrincipalPolicies};
use coffer_domain::clock::ManualClock;
use coffer_domain::identity::Principal;
use coffer_domain::secrets::password::PasswordRules;
use coffer_domain::secrets::tags::TagInput;
use coffer_domain::secrets::*;
use coffer_domain::{Randomness, SecretValue, SecretsError};
use coffer_store_embedded::EmbeddedStore;
use zeroize::Zeroizing;

const T0: i64 = 1_735_732_800_123;
const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

#[derive(Default)]
struct Directory {
    policies: Mutex<HashMap<String, PrincipalPolicies>>,
    generation: Mutex<i64>,
}

impl PrincipalDirectory for Directory {
    fn principal_policies<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> BoxFuture<'a, Result<PrincipalPolicies, String>> {
        let found = self.policies.lock().unwrap().get(&principal.arn).cloned();
        Box::pin(async move { found.ok_or_else(|| format!("no such principal {}", principal.arn)) })
    }

    fn generation(&self) -> BoxFuture<'_, Result<i64, String>> {
        let generation = *self.generation.lock().unwrap();
        Box::pin(async move { Ok(generation) })
    }
}

struct Harness {
    service: SecretsService<EmbeddedStore>,
    directory: Arc<Directory>,
    authorizer: Arc<Authorizer>,
    admin: Caller,
    _dir: tempfile::TempDir,
}

fn caller_for(principal: &Principal) -> Caller {
    Caller {
        account_id: principal.account_id.clone(),
        region: REGION.into(),
        actor: Actor::Principal {
            principal: Arc::new(principal.clone()),
            source_ip: Some("10.1.2.3".parse().unwrap()),
        },
    }
}

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(EmbeddedStore::open(dir.path().join("coffer.db")).unwrap());
    let root = RootKey::generate().unwrap();
    let keyring = coffer_domain::keyring::open_keyring(store.as_ref(), &root, T0)
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let directory = Arc::new(Directory::default());
    let authorizer = Arc::new(Authorizer::new(directory.clone(), clock.clone()));
    let service = SecretsService::new(
        store,
        keyring,
        TokenSigner::derive(&root, "pagination"),
        clock,
        Randomness::seeded(7),
        ServiceConfig::default(),
    )
    .with_authorizer(authorizer.clone());
    let harness = Harness {
        service,
        directory,
        authorizer,
        admin: caller_for(&Principal::user("aws", ACCOUNT, "admin")),
        _dir: dir,
    };
    harness.set_policies("admin", &[ALLOW_ALL], &[]);
    harness
}

impl Harness {
    fn set_policies(&self, user: &str, identity: &[&str], tags: &[(&str, &str)]) {
        let principal = Principal::user("aws", ACCOUNT, user);
        self.directory.policies.lock().unwrap().insert(
            principal.arn,
            PrincipalPolicies {
                user_id: format!("AIDA{:0>17}", user.to_uppercase()),
                tags: tags
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                identity: identity.iter().map(|p| (*p).to_owned()).collect(),
                boundary: None,
            },
        );
        *self.directory.generation.lock().unwrap() += 1;
        self.authorizer.invalidate();
    }

    fn user(&self, name: &str, identity: &[&str]) -> Caller {
        self.set_policies(name, identity, &[]);
        caller_for(&Principal::user("aws", ACCOUNT, name))
    }

    async fn create(&self, name: &str, tags: &[(&str, &str)]) -> String {
        self.service
            .create_secret(
                &self.admin,
                CreateSecretInput {
                    name: name.into(),
                    client_request_token: Some(uuid(name)),
                    secret_string: Some(Zeroizing::new(format!("value of {name}"))),
                    tags: (!tags.is_empty()).then(|| {
                        tags.iter()
                            .map(|(k, v)| TagInput {
                                key: Some((*k).into()),
                                value: Some((*v).into()),
                            })
                            .collect()
                    }),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .arn
    }

    async fn get(&self, caller: &Caller, id: &str) -> Result<SecretValueOutput, SecretsError> {
        self.service
            .get_secret_value(
                caller,
                GetSecretValueInput {
                    secret_id: id.into(),
                    ..Default::default()
                },
            )
            .await
    }
}

fn uuid(name: &str) -> String {
    let n = name
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    format!("00000000-0000-4000-8000-{:012}", n % 1_000_000_000_000)
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn denied(result: Result<impl std::fmt::Debug, SecretsError>) -> String {
    match result {
        Err(SecretsError::AccessDenied(message)) => message,
        other => panic!("expected AccessDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn a_user_reads_only_the_secret_its_policy_names() {
    let h = harness().await;
    let arn = h.create("app/db", &[]).await;
    h.create("app/other", &[]).await;
    let policy = allow("secretsmanager:GetSecretValue", &arn);
    let alice = h.user("alice", &[&policy]);

    match h.get(&alice, "app/db").await.unwrap().value {
        SecretValue::String(value) => assert_eq!(value.as_str(), "value of app/db"),
        SecretValue::Binary(_) => panic!("a string was stored"),
    }
    assert_eq!(
        denied(h.get(&alice, "app/other").await),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: \
         secretsmanager:GetSecretValue on resource: app/other because no identity-based policy \
         allows the secretsmanager:GetSecretValue action"
    );
    // Writes need their own action.
    let put = h
        .service
        .put_secret_value(
            &alice,
            PutSecretValueInput {
                secret_id: "app/db".into(),
                client_request_token: Some(uuid("put")),
                secret_string: Some(Zeroizing::new("new".into())),
                ..Default::default()
            },
        )
        .await;
    assert!(denied(put).contains("secretsmanager:PutSecretValue on resource: app/db"));
}

#[tokio::test]
async fn secrets_that_do_not_exist_are_access_denied_without_permission() {
    let h = harness().await;
    let nobody = h.user("nobody", &[]);
    assert!(denied(h.get(&nobody, "missing").await).contains("on resource: missing because"));
    // With permission on the name, the caller learns that it does not exist.
    let policy = allow(
        "secretsmanager:GetSecretValue",
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:missing*",
    );
    let seer = h.user("seer", &[&policy]);
    assert!(matches!(
        h.get(&seer, "missing").await,
        Err(SecretsError::SecretNotFound)
    ));
}

#[tokio::test]
async fn an_explicit_deny_wins_over_an_allow() {
    let h = harness().await;
    h.create("team/secret", &[]).await;
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:team/*"}]}"#;
    let bob = h.user("bob", &[ALLOW_ALL, deny]);
    assert!(
        denied(h.get(&bob, "team/secret").await)
            .ends_with("with an explicit deny in an identity-based policy")
    );
    // The deny names one action: the others remain allowed.
    h.service
        .describe_secret(&bob, "team/secret")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_resource_policy_grants_a_user_without_identity_policies() {
    let h = harness().await;
    let arn = h.create("shared", &[]).await;
    let carol = h.user("carol", &[]);
    assert!(h.get(&carol, "shared").await.is_err());

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/carol"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    h.service
        .put_resource_policy(&h.admin, &arn, policy.into(), Some(true))
        .await
        .unwrap();
    assert!(h.get(&carol, "shared").await.is_ok());
    let (_, stored) = h
        .service
        .get_resource_policy(&h.admin, "shared")
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some(policy), "stored verbatim");

    // A resource policy that denies wins over the administrator's allow.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    h.service
        .put_resource_policy(&h.admin, &arn, deny.into(), None)
        .await
        .unwrap();
    assert!(
        denied(h.get(&h.admin, "shared").await)
            .ends_with("with an explicit deny in a resource-based policy")
    );
    h.service
        .delete_resource_policy(&h.admin, "shared")
        .await
        .unwrap();
    assert!(h.get(&h.admin, "shared").await.is_ok());
    assert!(h.get(&carol, "shared").await.is_err());
}

#[tokio::test]
async fn resource_policy_validation_and_public_access() {
    let h = harness().await;
    let arn = h.create("guarded", &[]).await;
    let public = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    assert!(matches!(
        h.service
            .put_resource_policy(&h.admin, &arn, public.into(), Some(true))
            .await,
        Err(SecretsError::PublicPolicy)
    ));
    let (_, stored) = h.service.get_resource_policy(&h.admin, &arn).await.unwrap();
    assert_eq!(stored, None, "a refused policy is not stored");
    // Without BlockPublicPolicy it is accepted (the model's default is false).
    h.service
        .put_resource_policy(&h.admin, &arn, public.into(), None)
        .await
        .unwrap();

    for malformed in [
        "not json",
        r#"{"Statement":[]}"#,
        r#"{"Version":"2012-10-18","Statement":[]}"#,
    ] {
        assert!(
            matches!(
                h.service
                    .put_resource_policy(&h.admin, &arn, malformed.into(), None)
                    .await,
                Err(SecretsError::MalformedPolicyDocument(_))
            ),
            "{malformed}"
        );
    }
    let findings = h
        .service
        .validate_resource_policy(&h.admin, Some(&arn), public)
        .await
        .unwrap();
    assert!(
        !findings.is_empty(),
        "a public policy does not pass validation"
    );
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    assert_eq!(
        h.service
            .validate_resource_policy(&h.admin, None, narrow)
            .await
            .unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn tag_conditions_compare_resource_tags_with_principal_tags() {
    let h = harness().await;
    h.create("red/one", &[("team", "red")]).await;
    h.create("blue/one", &[("team", "blue")]).await;
    let abac = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}"#;
    h.set_policies("dana", &[abac], &[("team", "red")]);
    let dana = caller_for(&Principal::user("aws", ACCOUNT, "dana"));
    assert!(h.get(&dana, "red/one").await.is_ok());
    assert!(h.get(&dana, "blue/one").await.is_err());
}

#[tokio::test]
async fn request_tags_condition_creation() {
    let h = harness().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:CreateSecret","secretsmanager:TagResource"],"Resource":"*","Condition":{"Null":{"aws:RequestTag/owner":"false"}}}]}"#;
    let erin = h.user("erin", &[policy]);
    let create = |tags: Option<Vec<TagInput>>, n: &str| CreateSecretInput {
        name: format!("erin/{n}"),
        client_request_token: Some(uuid(n)),
        tags,
        ..Default::default()
    };
    let untagged = h.service.create_secret(&erin, create(None, "a")).await;
    assert!(denied(untagged).contains("secretsmanager:CreateSecret on resource: erin/a"));
    let tagged = create(
        Some(vec![TagInput {
            key: Some("owner".into()),
            value: Some("erin".into()),
        }]),
        "b",
    );
    h.service.create_secret(&erin, tagged).await.unwrap();
}

#[tokio::test]
async fn actions_without_a_resource_omit_it_from_the_message() {
    let h = harness().await;
    let frank = h.user("frank", &[]);
    let listed = h
        .service
        .list_secrets(&frank, ListSecretsInput::default())
        .await;
    assert_eq!(
        denied(listed),
        "User: arn:aws:iam::111122223333:user/frank is not authorized to perform: \
         secretsmanager:ListSecrets because no identity-based policy allows the \
         secretsmanager:ListSecrets action"
    );
    let password = h
        .service
        .get_random_password(&frank, &PasswordRules::default())
        .await;
    assert!(denied(password).contains("secretsmanager:GetRandomPassword because"));
}

#[tokio::test]
async fn batch_get_checks_every_secret() {
    let h = harness().await;
    let readable = h.create("batch/readable", &[]).await;
    h.create("batch/hidden", &[]).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"secretsmanager:BatchGetSecretValue","Resource":"*"}},{{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"{readable}"}}]}}"#
    );
    let gina = h.user("gina", &[&policy]);
    let output = h
        .service
        .batch_get_secret_value(
            &gina,
            BatchGetSecretValueInput {
                secret_id_list: Some(vec!["batch/readable".into(), "batch/hidden".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(output.secret_values.len(), 1);
    assert_eq!(output.errors.len(), 1);
    assert!(matches!(
        output.errors[0].error,
        SecretsError::AccessDenied(_)
    ));
    // Without the batch action itself, nothing is read.
    let single = allow("secretsmanager:GetSecretValue", "*");
    let hank = h.user("hank", &[&single]);
    let refused = h
        .service
        .batch_get_secret_value(
            &hank,
            BatchGetSecretValueInput {
                secret_id_list: Some(vec!["batch/readable".into()]),
                ..Default::default()
            },
        )
        .await;
    assert!(denied(refused).contains("secretsmanager:BatchGetSecretValue because"));
}

#[tokio::test]
async fn policy_changes_take_effect_after_invalidation() {
    let h = harness().await;
    h.create("changing", &[]).await;
    let ivy = h.user("ivy", &[]);
    assert!(h.get(&ivy, "changing").await.is_err());
    h.set_policies("ivy", &[ALLOW_ALL], &[]);
    assert!(h.get(&ivy, "changing").await.is_ok());
}
