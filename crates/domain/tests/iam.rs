//! IAM and STS rules end to end through the domain, on the real embedded store, with a manual
//! clock: quotas, case-insensitive names, delete conflicts, policy validation, authorization of
//! IAM operations, and stateless role sessions (round trip, expiry, tampering).

use std::sync::Arc;

use coffer_auth::CredentialLookup;
use coffer_crypto::RootKey;
use coffer_domain::Randomness;
use coffer_domain::clock::{HOUR, ManualClock, SECOND};
use coffer_domain::iam::{AssumeRoleInput, Holder, IamError, IamService};
use coffer_domain::identity::{self, CredentialStore, Principal, PrincipalKind};
use coffer_store_embedded::EmbeddedStore;

const T0: i64 = 1_735_732_800_000; // 2025-01-01T12:00:00Z
const ACCOUNT: &str = "111122223333";
const ALLOW_ALL_SECRETS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}"#;
const TRUST_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#;

struct Harness {
    iam: Arc<IamService<EmbeddedStore>>,
    credentials: Arc<CredentialStore<EmbeddedStore>>,
    clock: Arc<ManualClock>,
    admin: Principal,
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
    identity::ensure_admin_user(store.as_ref(), ACCOUNT, &Randomness::seeded(1), T0)
        .await
        .unwrap();
    // Idempotent.
    identity::ensure_admin_user(store.as_ref(), ACCOUNT, &Randomness::seeded(2), T0)
        .await
        .unwrap();
    let credentials = Arc::new(CredentialStore::new(store.clone(), keyring.clone(), "aws"));
    let iam = IamService::new(store, keyring, clock.clone(), Randomness::seeded(7), "aws")
        .with_change_hook(credentials.invalidator());
    Harness {
        iam: Arc::new(iam),
        credentials,
        clock,
        admin: Principal::user("aws", ACCOUNT, identity::ADMIN_USER_NAME),
        _dir: dir,
    }
}

impl Harness {
    async fn user(&self, name: &str) {
        self.iam
            .create_user(&self.admin, name, None, None, vec![])
            .await
            .unwrap();
    }

    async fn role(&self, name: &str, trust: &str) {
        self.iam
            .create_role(&self.admin, name, None, trust, None, None, None, vec![])
            .await
            .unwrap();
    }

    /// The principal a fresh access key of `user` authenticates as.
    async fn login(&self, user: &str) -> (String, Principal) {
        let key = self
            .iam
            .create_access_key(&self.admin, Some(user))
            .await
            .unwrap();
        let credential = self
            .credentials
            .lookup(&key.access_key_id, None)
            .await
            .unwrap()
            .expect("a new key authenticates");
        (key.access_key_id, (*credential.principal).clone())
    }
}

fn assume(role: &str, session: &str) -> AssumeRoleInput {
    AssumeRoleInput {
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
        role_session_name: session.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn the_administrator_is_a_user_with_administrator_access() {
    let h = harness().await;
    let admin = h.iam.get_user(&h.admin, None).await.unwrap();
    assert_eq!(admin.arn, format!("arn:aws:iam::{ACCOUNT}:user/admin"));
    assert!(admin.user_id.starts_with("AIDA") && admin.user_id.len() == 21);
    let policy = h
        .iam
        .get_inline_policy(&h.admin, Holder::User, "admin", "AdministratorAccess")
        .await
        .unwrap();
    assert!(policy.policy_document.contains(r#""Action":"*""#));
    let id = h.iam.get_caller_identity(&h.admin).await.unwrap();
    assert_eq!(
        (id.user_id, id.account),
        (admin.user_id, ACCOUNT.to_owned())
    );
}

#[tokio::test]
async fn names_are_unique_ignoring_case_and_keep_their_case() {
    let h = harness().await;
    h.user("Bob").await;
    let err = h
        .iam
        .create_user(&h.admin, "bob", None, None, vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IamError::EntityAlreadyExists(m) if m == "User with name bob already exists.")
    );
    assert_eq!(
        h.iam
            .get_user(&h.admin, Some("BOB"))
            .await
            .unwrap()
            .user_name,
        "Bob"
    );
    let err = h.iam.get_user(&h.admin, Some("carol")).await.unwrap_err();
    assert!(
        matches!(&err, IamError::NoSuchEntity(m) if m == "The user with name carol cannot be found.")
    );
}

#[tokio::test]
async fn paths_are_part_of_arns_and_listings() {
    let h = harness().await;
    let user = h
        .iam
        .create_user(
            &h.admin,
            "dana",
            Some("/team/core/"),
            None,
            vec![("team".into(), "core".into())],
        )
        .await
        .unwrap();
    assert_eq!(
        user.arn,
        format!("arn:aws:iam::{ACCOUNT}:user/team/core/dana")
    );
    let (_, principal) = h.login("dana").await;
    assert_eq!(principal.arn, user.arn);
    let listed = h
        .iam
        .list_users(&h.admin, Some("/team/"), None, None)
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].tags, None, "ListUsers omits tags");
    assert!(matches!(
        h.iam
            .create_user(&h.admin, "x", Some("team"), None, vec![])
            .await,
        Err(IamError::Validation(_))
    ));
}

#[tokio::test]
async fn two_access_keys_per_user() {
    let h = harness().await;
    h.user("erin").await;
    for _ in 0..2 {
        h.iam
            .create_access_key(&h.admin, Some("erin"))
            .await
            .unwrap();
    }
    let err = h
        .iam
        .create_access_key(&h.admin, Some("erin"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IamError::LimitExceeded(m) if m == "Cannot exceed quota for AccessKeysPerUser: 2")
    );
    let keys = h
        .iam
        .list_access_keys(&h.admin, Some("erin"), None, None)
        .await
        .unwrap();
    assert_eq!(keys.items.len(), 2);
    assert!(
        keys.items
            .iter()
            .all(|k| k.secret_access_key.is_none() && k.status == "Active")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_create_access_key_calls_respect_the_quota() {
    let h = harness().await;
    h.user("frank").await;
    let calls = (0..8).map(|_| {
        let iam = Arc::clone(&h.iam);
        let admin = h.admin.clone();
        tokio::spawn(async move { iam.create_access_key(&admin, Some("frank")).await })
    });
    let mut created = 0;
    for call in calls.collect::<Vec<_>>() {
        match call.await.unwrap() {
            Ok(_) => created += 1,
            Err(IamError::LimitExceeded(_)) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(created, 2);
    let keys = h
        .iam
        .list_access_keys(&h.admin, Some("frank"), None, None)
        .await
        .unwrap();
    assert_eq!(keys.items.len(), 2);
}

#[tokio::test]
async fn inactive_and_deleted_keys_stop_authenticating_at_once() {
    let h = harness().await;
    h.user("fred").await;
    let (key_id, _) = h.login("fred").await;
    h.iam
        .update_access_key(&h.admin, Some("fred"), &key_id, "Inactive")
        .await
        .unwrap();
    assert!(h.credentials.lookup(&key_id, None).await.unwrap().is_none());
    h.iam
        .update_access_key(&h.admin, Some("fred"), &key_id, "Active")
        .await
        .unwrap();
    assert!(h.credentials.lookup(&key_id, None).await.unwrap().is_some());
    h.iam
        .delete_access_key(&h.admin, Some("fred"), &key_id)
        .await
        .unwrap();
    assert!(h.credentials.lookup(&key_id, None).await.unwrap().is_none());
    let err = h
        .iam
        .delete_access_key(&h.admin, Some("fred"), &key_id)
        .await
        .unwrap_err();
    assert!(matches!(&err, IamError::NoSuchEntity(m) if m.starts_with("The Access Key with id")));
}

#[tokio::test]
async fn users_with_keys_policies_or_groups_cannot_be_deleted() {
    let h = harness().await;
    h.user("gina").await;
    let (key_id, _) = h.login("gina").await;
    let conflict = |e: IamError| matches!(e, IamError::DeleteConflict(_));
    assert!(conflict(
        h.iam.delete_user(&h.admin, "gina").await.unwrap_err()
    ));
    h.iam
        .delete_access_key(&h.admin, Some("gina"), &key_id)
        .await
        .unwrap();

    h.iam
        .put_inline_policy(&h.admin, Holder::User, "gina", "p", ALLOW_ALL_SECRETS)
        .await
        .unwrap();
    assert!(conflict(
        h.iam.delete_user(&h.admin, "gina").await.unwrap_err()
    ));
    h.iam
        .delete_inline_policy(&h.admin, Holder::User, "gina", "p")
        .await
        .unwrap();

    let policy = h
        .iam
        .create_policy(&h.admin, "managed", None, ALLOW_ALL_SECRETS, None, vec![])
        .await
        .unwrap();
    h.iam
        .attach_policy(&h.admin, Holder::User, "gina", &policy.arn)
        .await
        .unwrap();
    assert_eq!(
        h.iam
            .get_policy(&h.admin, &policy.arn)
            .await
            .unwrap()
            .attachment_count,
        1
    );
    assert!(conflict(
        h.iam.delete_user(&h.admin, "gina").await.unwrap_err()
    ));
    assert!(conflict(
        h.iam
            .delete_policy(&h.admin, &policy.arn)
            .await
            .unwrap_err()
    ));
    h.iam
        .detach_policy(&h.admin, Holder::User, "gina", &policy.arn)
        .await
        .unwrap();

    h.iam.create_group(&h.admin, "devs", None).await.unwrap();
    h.iam
        .add_user_to_group(&h.admin, "devs", "gina")
        .await
        .unwrap();
    assert!(conflict(
        h.iam.delete_user(&h.admin, "gina").await.unwrap_err()
    ));
    assert!(conflict(
        h.iam.delete_group(&h.admin, "devs").await.unwrap_err()
    ));
    let (_, members) = h.iam.get_group(&h.admin, "devs", None, None).await.unwrap();
    assert_eq!(members.items[0].user_name, "gina");
    h.iam
        .remove_user_from_group(&h.admin, "devs", "gina")
        .await
        .unwrap();

    h.iam.delete_user(&h.admin, "gina").await.unwrap();
    h.iam.delete_group(&h.admin, "devs").await.unwrap();
    h.iam.delete_policy(&h.admin, &policy.arn).await.unwrap();
    assert!(matches!(
        h.iam.get_user(&h.admin, Some("gina")).await,
        Err(IamError::NoSuchEntity(_))
    ));
}

#[tokio::test]
async fn policy_documents_are_validated_and_sized() {
    let h = harness().await;
    h.user("hank").await;
    let err = h
        .iam
        .put_inline_policy(&h.admin, Holder::User, "hank", "p", "{not json")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IamError::MalformedPolicyDocument(m) if m == "This policy contains invalid Json")
    );
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:111122223333:secret:{}"}}]}}"#,
        "a".repeat(2_000)
    );
    let err = h
        .iam
        .put_inline_policy(&h.admin, Holder::User, "hank", "big", &big)
        .await
        .unwrap_err();
    assert!(matches!(err, IamError::LimitExceeded(_)), "{err:?}");
    // Roles allow 10,240.
    h.role("big-role", TRUST_ACCOUNT).await;
    h.iam
        .put_inline_policy(&h.admin, Holder::Role, "big-role", "big", &big)
        .await
        .unwrap();
    // Trust policies need a principal.
    let err = h
        .iam
        .create_role(
            &h.admin,
            "r2",
            None,
            ALLOW_ALL_SECRETS,
            None,
            None,
            None,
            vec![],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, IamError::MalformedPolicyDocument(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn ten_managed_policies_per_user() {
    let h = harness().await;
    h.user("ivy").await;
    for i in 0..11 {
        let p = h
            .iam
            .create_policy(
                &h.admin,
                &format!("p{i}"),
                Some("/x/"),
                ALLOW_ALL_SECRETS,
                None,
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(p.arn, format!("arn:aws:iam::{ACCOUNT}:policy/x/p{i}"));
        let result = h
            .iam
            .attach_policy(&h.admin, Holder::User, "ivy", &p.arn)
            .await;
        if i < 10 {
            result.unwrap();
        } else {
            assert!(
                matches!(&result, Err(IamError::LimitExceeded(m)) if m == "Cannot exceed quota for PoliciesPerUser: 10")
            );
        }
    }
    let missing = format!("arn:aws:iam::{ACCOUNT}:policy/nope");
    let err = h
        .iam
        .attach_policy(&h.admin, Holder::User, "ivy", &missing)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IamError::NoSuchEntity(m) if m == &format!("Policy {missing} does not exist or is not attachable."))
    );
}

#[tokio::test]
async fn iam_operations_are_authorized_by_identity_policies() {
    let h = harness().await;
    h.user("jack").await;
    h.user("target").await;
    let (_, jack) = h.login("jack").await;
    let err = h
        .iam
        .create_user(&jack, "newbie", None, None, vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IamError::AccessDenied(m) if m == &format!("User: arn:aws:iam::{ACCOUNT}:user/jack is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/newbie because no identity-based policy allows the iam:CreateUser action")),
        "{err:?}"
    );
    h.iam.create_group(&h.admin, "admins", None).await.unwrap();
    h.iam
        .put_inline_policy(
            &h.admin,
            Holder::Group,
            "admins",
            "iam",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*User","Resource":"*"}]}"#,
        )
        .await
        .unwrap();
    h.iam
        .add_user_to_group(&h.admin, "admins", "jack")
        .await
        .unwrap();
    h.iam
        .create_user(&jack, "newbie", None, None, vec![])
        .await
        .unwrap();
    let policies = h.iam.principal_policies(&jack).await.unwrap();
    assert_eq!(policies.identity.len(), 1);
    assert!(policies.user_id.starts_with("AIDA"));
    // Jack may call GetUser on himself without a name.
    assert_eq!(h.iam.get_user(&jack, None).await.unwrap().user_name, "jack");
}

#[tokio::test]
async fn role_sessions_are_sealed_tokens() {
    let h = harness().await;
    h.role("app", TRUST_ACCOUNT).await;
    h.iam
        .put_inline_policy(&h.admin, Holder::Role, "app", "p", ALLOW_ALL_SECRETS)
        .await
        .unwrap();
    let out = h
        .iam
        .assume_role(
            &h.admin,
            AssumeRoleInput {
                policy: Some(ALLOW_ALL_SECRETS.into()),
                tags: vec![("team".into(), "core".into())],
                ..assume("app", "s1")
            },
        )
        .await
        .unwrap();
    let creds = &out.credentials;
    assert!(creds.access_key_id.starts_with("ASIA") && creds.access_key_id.len() == 20);
    assert_eq!(creds.secret_access_key.len(), 40);
    assert_eq!(creds.expiration, T0 + HOUR);
    assert_eq!(
        out.arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/s1")
    );
    assert!(out.assumed_role_id.starts_with("AROA") && out.assumed_role_id.ends_with(":s1"));
    assert!(out.packed_policy_size.is_some());

    let token = creds.session_token.as_bytes();
    let credential = h
        .credentials
        .lookup(&creds.access_key_id, Some(token))
        .await
        .unwrap()
        .expect("the session authenticates");
    assert_eq!(
        credential.secret_access_key.expose_secret(),
        creds.secret_access_key.as_str()
    );
    assert_eq!(
        credential.session_token.as_deref(),
        Some(creds.session_token.as_str())
    );
    assert_eq!(
        credential.expires_at.unwrap().as_millisecond(),
        T0 + HOUR,
        "the verifier answers ExpiredToken from here on"
    );
    let session = (*credential.principal).clone();
    assert_eq!(session.arn, out.arn);
    let PrincipalKind::AssumedRole {
        role_arn,
        user_id,
        session_policy,
        tags,
        ..
    } = &session.kind
    else {
        panic!("not a role session: {session:?}");
    };
    assert_eq!(role_arn, &format!("arn:aws:iam::{ACCOUNT}:role/app"));
    assert_eq!(user_id, &out.assumed_role_id);
    assert!(session_policy.is_some());
    assert_eq!(tags, &vec![("team".to_owned(), "core".to_owned())]);
    let id = h.iam.get_caller_identity(&session).await.unwrap();
    assert_eq!(
        (id.arn, id.user_id),
        (out.arn.clone(), out.assumed_role_id.clone())
    );
    let policies = h.iam.principal_policies(&session).await.unwrap();
    assert_eq!(policies.identity.len(), 1);

    // Without the token, with another key id, or altered: not ours.
    assert!(
        h.credentials
            .lookup(&creds.access_key_id, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        h.credentials
            .lookup("ASIAAAAAAAAAAAAAAAAA", Some(token))
            .await
            .unwrap()
            .is_none()
    );
    let mut tampered = creds.session_token.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    assert!(
        h.credentials
            .lookup(&creds.access_key_id, Some(&tampered))
            .await
            .unwrap()
            .is_none()
    );

    // The session still opens after it expires; the verifier refuses it by `expires_at`.
    h.clock.advance(HOUR + SECOND);
    assert!(
        h.credentials
            .lookup(&creds.access_key_id, Some(token))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn assume_role_rules() {
    let h = harness().await;
    h.role("app", TRUST_ACCOUNT).await;
    h.user("kim").await;
    let (_, kim) = h.login("kim").await;
    let denied = format!(
        "User: arn:aws:iam::{ACCOUNT}:user/kim is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{ACCOUNT}:role/app"
    );
    // Matched only through the account: kim needs an identity allow too.
    let err = h
        .iam
        .assume_role(&kim, assume("app", "s"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IamError::AccessDenied(m) if m == &denied),
        "{err:?}"
    );
    // A trust policy naming kim is enough on its own.
    h.iam
        .update_assume_role_policy(
            &h.admin,
            "app",
            &format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/kim"}},"Action":"sts:AssumeRole"}}]}}"#),
        )
        .await
        .unwrap();
    h.iam.assume_role(&kim, assume("app", "s")).await.unwrap();

    let err = h
        .iam
        .assume_role(&h.admin, assume("nope", "s"))
        .await
        .unwrap_err();
    assert!(matches!(err, IamError::AccessDenied(_)));
    let err = h
        .iam
        .assume_role(
            &h.admin,
            AssumeRoleInput {
                role_arn: "arn:a:::something/test-role".into(),
                ..assume("app", "s")
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IamError::Validation(m) if m == "arn:a:::something/test-role is invalid")
    );
    let err = h
        .iam
        .assume_role(
            &kim,
            AssumeRoleInput {
                duration_seconds: Some(7_200),
                ..assume("app", "s")
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IamError::Validation(m) if m.contains("MaxSessionDuration")),
        "{err:?}"
    );
    let err = h
        .iam
        .assume_role(
            &kim,
            AssumeRoleInput {
                policy: Some("{".into()),
                ..assume("app", "s")
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, IamError::MalformedPolicyDocument(_)));
    let err = h
        .iam
        .assume_role(
            &kim,
            AssumeRoleInput {
                tags: vec![("a".into(), "1".into()), ("A".into(), "2".into())],
                ..assume("app", "s")
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, IamError::InvalidParameterValue(_)));
    let out = h
        .iam
        .assume_role(
            &kim,
            AssumeRoleInput {
                duration_seconds: Some(900),
                ..assume("app", "s")
            },
        )
        .await
        .unwrap();
    assert_eq!(out.credentials.expiration, T0 + 900 * SECOND);
}
