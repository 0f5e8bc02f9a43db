//! The built-in KMS through the domain on the real embedded store: key states, aliases,
//! encryption contexts, rotation (on demand, scheduled, and of the root key), deletion
//! windows, key-policy authority, and secrets sealed under KMS keys.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use coffer_crypto::{RootKey, TokenSigner};
use coffer_domain::authz::{Authorizer, BoxFuture, PrincipalDirectory, PrincipalPolicies};
use coffer_domain::clock::{DAY, ManualClock};
use coffer_domain::identity::Principal;
use coffer_domain::kms::{CreateKeyInput, KeyManager, KeyState, KmsError, KmsService};
use coffer_domain::secrets::*;
use coffer_domain::{Randomness, SecretValue, SecretsError};
use coffer_store_embedded::EmbeddedStore;
use zeroize::Zeroizing;

const T0: i64 = 1_735_732_800_123;
const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[derive(Default)]
struct Directory {
    policies: Mutex<HashMap<String, PrincipalPolicies>>,
}

impl PrincipalDirectory for Directory {
    fn principal_policies<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> BoxFuture<'a, Result<PrincipalPolicies, String>> {
        let found = self.policies.lock().unwrap().get(&principal.arn).cloned();
        Box::pin(async move { Ok(found.unwrap_or_default()) })
    }

    fn generation(&self) -> BoxFuture<'_, Result<i64, String>> {
        Box::pin(async { Ok(0) })
    }
}

struct Harness {
    store: Arc<EmbeddedStore>,
    root: RootKey,
    clock: Arc<ManualClock>,
    kms: Arc<KmsService<EmbeddedStore>>,
    secrets: SecretsService<EmbeddedStore>,
    directory: Arc<Directory>,
    authorizer: Arc<Authorizer>,
    admin: Caller,
    _dir: tempfile::TempDir,
}

fn caller_for(user: &str) -> Caller {
    Caller {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        actor: Actor::Principal {
            principal: Arc::new(Principal::user("aws", ACCOUNT, user)),
            source_ip: None,
        },
    }
}

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
    let kms = Arc::new(
        KmsService::new(store.clone(), keyring.clone(), clock.clone(), "aws")
            .with_authorizer(authorizer.clone()),
    );
    let secrets = SecretsService::new(
        store.clone(),
        keyring,
        TokenSigner::derive(&root, "pagination"),
        clock.clone(),
        Randomness::seeded(3),
        ServiceConfig::default(),
    )
    .with_authorizer(authorizer.clone())
    .with_kms(kms.clone());
    let h = Harness {
        store,
        root,
        clock,
        kms,
        secrets,
        directory,
        authorizer,
        admin: caller_for("admin"),
        _dir: dir,
    };
    h.set_policies("admin", &[ALLOW_ALL]);
    h
}

impl Harness {
    fn set_policies(&self, user: &str, identity: &[&str]) {
        let principal = Principal::user("aws", ACCOUNT, user);
        self.directory.policies.lock().unwrap().insert(
            principal.arn,
            PrincipalPolicies {
                user_id: format!("AIDA{user}"),
                identity: identity.iter().map(|p| (*p).to_owned()).collect(),
                ..PrincipalPolicies::default()
            },
        );
        self.authorizer.invalidate();
    }

    async fn key(&self) -> String {
        self.kms
            .create_key(&self.admin, CreateKeyInput::default())
            .await
            .unwrap()
            .key_id
    }

    async fn create_secret(&self, caller: &Caller, name: &str, kms_key_id: Option<&str>) {
        self.secrets
            .create_secret(
                caller,
                CreateSecretInput {
                    name: name.into(),
                    client_request_token: Some(uuid::Uuid::new_v4().to_string()),
                    kms_key_id: kms_key_id.map(str::to_owned),
                    secret_string: Some(Zeroizing::new(format!("value of {name}"))),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    async fn read(&self, caller: &Caller, name: &str) -> Result<String, SecretsError> {
        self.secrets
            .get_secret_value(
                caller,
                GetSecretValueInput {
                    secret_id: name.into(),
                    version_id: None,
                    version_stage: None,
                },
            )
            .await
            .map(|out| text_of(&out.value))
    }
}

fn text_of(value: &SecretValue) -> String {
    match value {
        SecretValue::String(s) => s.to_string(),
        SecretValue::Binary(_) => panic!("a binary value"),
    }
}

fn context(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn encrypt_and_decrypt_bind_the_encryption_context() {
    let h = harness().await;
    let key_id = h.key().await;
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}");
    h.kms
        .create_alias(&h.admin, "alias/app", &key_id)
        .await
        .unwrap();
    let ctx = context(&[("purpose", "test"), ("tenant", "a")]);
    for name in [key_id.as_str(), arn.as_str(), "alias/app"] {
        let encrypted = h
            .kms
            .encrypt(&h.admin, name, b"hello", &ctx, false)
            .await
            .unwrap();
        assert_eq!(encrypted.key_arn, arn);
        // Decrypt needs no KeyId: the blob names its key.
        let decrypted = h
            .kms
            .decrypt(&h.admin, &encrypted.ciphertext_blob, &ctx, None, false)
            .await
            .unwrap();
        assert_eq!(decrypted.plaintext.as_slice(), b"hello");
        assert_eq!(decrypted.key_arn, arn);
        for wrong in [
            context(&[("purpose", "test")]),
            context(&[("purpose", "test"), ("tenant", "b")]),
            context(&[]),
        ] {
            assert!(matches!(
                h.kms
                    .decrypt(&h.admin, &encrypted.ciphertext_blob, &wrong, None, false)
                    .await,
                Err(KmsError::InvalidCiphertext)
            ));
        }
    }
    // Flipping any byte of a blob is detected.
    let blob = h
        .kms
        .encrypt(&h.admin, &key_id, b"x", &ctx, false)
        .await
        .unwrap()
        .ciphertext_blob;
    for i in 0..blob.len() {
        let mut tampered = blob.clone();
        tampered[i] ^= 0x01;
        assert!(
            h.kms
                .decrypt(&h.admin, &tampered, &ctx, None, false)
                .await
                .is_err(),
            "byte {i}"
        );
    }
    // Another key named in Decrypt is IncorrectKey.
    let other = h.key().await;
    assert!(matches!(
        h.kms
            .decrypt(&h.admin, &blob, &ctx, Some(&other), false)
            .await,
        Err(KmsError::IncorrectKey)
    ));
    // Lookup errors carry AWS's messages.
    let missing = "00000000-0000-4000-8000-000000000000";
    assert_eq!(
        h.kms.describe_key(&h.admin, missing).await.unwrap_err(),
        KmsError::NotFound(format!(
            "Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist"
        ))
    );
    assert_eq!(
        h.kms.describe_key(&h.admin, "not-a-key").await.unwrap_err(),
        KmsError::NotFound("Invalid keyId 'not-a-key'".into())
    );
    assert_eq!(
        h.kms
            .describe_key(&h.admin, "alias/none")
            .await
            .unwrap_err(),
        KmsError::NotFound(format!(
            "Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/none is not found."
        ))
    );
}

#[tokio::test]
async fn key_states_govern_cryptographic_operations() {
    let h = harness().await;
    let key_id = h.key().await;
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}");
    let ctx = context(&[]);
    let blob = h
        .kms
        .encrypt(&h.admin, &key_id, b"v", &ctx, false)
        .await
        .unwrap()
        .ciphertext_blob;

    h.kms.disable_key(&h.admin, &key_id).await.unwrap();
    let disabled = KmsError::Disabled(format!("{arn} is disabled."));
    assert_eq!(
        h.kms
            .encrypt(&h.admin, &key_id, b"v", &ctx, false)
            .await
            .unwrap_err(),
        disabled
    );
    assert_eq!(
        h.kms
            .decrypt(&h.admin, &blob, &ctx, None, false)
            .await
            .unwrap_err(),
        disabled
    );
    h.kms.enable_key(&h.admin, &key_id).await.unwrap();
    h.kms
        .decrypt(&h.admin, &blob, &ctx, None, false)
        .await
        .unwrap();

    assert_eq!(
        h.kms
            .schedule_key_deletion(&h.admin, &key_id, Some(6))
            .await
            .unwrap_err(),
        KmsError::Validation("PendingWindowInDays should be between 7 and 30, but it is 6".into())
    );
    let scheduled = h
        .kms
        .schedule_key_deletion(&h.admin, &key_id, Some(7))
        .await
        .unwrap();
    assert_eq!(scheduled.deletion_date, T0 + 7 * DAY);
    let pending = KmsError::InvalidState(format!("{arn} is pending deletion."));
    assert_eq!(
        h.kms
            .decrypt(&h.admin, &blob, &ctx, None, false)
            .await
            .unwrap_err(),
        pending
    );
    assert_eq!(
        h.kms.enable_key(&h.admin, &key_id).await.unwrap_err(),
        pending
    );
    // Cancelling leaves the key disabled, as AWS does.
    h.kms.cancel_key_deletion(&h.admin, &key_id).await.unwrap();
    let meta = h.kms.describe_key(&h.admin, &key_id).await.unwrap();
    assert_eq!((meta.key_state, meta.enabled), (KeyState::Disabled, false));
    assert_eq!(
        h.kms
            .cancel_key_deletion(&h.admin, &key_id)
            .await
            .unwrap_err(),
        KmsError::InvalidState(format!("{arn} is not pending deletion."))
    );

    // A deletion whose window has passed removes the key and its material for good.
    h.kms
        .schedule_key_deletion(&h.admin, &key_id, Some(7))
        .await
        .unwrap();
    h.clock.advance(7 * DAY - 1);
    assert_eq!(h.kms.maintain(ACCOUNT, REGION).await.unwrap(), (0, 0));
    h.clock.advance(1);
    assert_eq!(h.kms.maintain(ACCOUNT, REGION).await.unwrap(), (0, 1));
    assert!(matches!(
        h.kms.describe_key(&h.admin, &key_id).await,
        Err(KmsError::NotFound(_))
    ));
    assert!(matches!(
        h.kms.decrypt(&h.admin, &blob, &ctx, None, false).await,
        Err(KmsError::InvalidCiphertext)
    ));
}

#[tokio::test]
async fn rotation_keeps_old_ciphertexts_readable() {
    let h = harness().await;
    let key_id = h.key().await;
    let ctx = context(&[("k", "v")]);
    let before = h
        .kms
        .encrypt(&h.admin, &key_id, b"before", &ctx, false)
        .await
        .unwrap()
        .ciphertext_blob;
    h.kms.rotate_key_on_demand(&h.admin, &key_id).await.unwrap();
    let after = h
        .kms
        .encrypt(&h.admin, &key_id, b"after", &ctx, false)
        .await
        .unwrap()
        .ciphertext_blob;
    assert_ne!(
        coffer_crypto::ciphertext_key(&before).unwrap().material_id,
        coffer_crypto::ciphertext_key(&after).unwrap().material_id
    );
    // Scheduled rotation: due after the period, done by maintenance.
    h.kms
        .enable_key_rotation(&h.admin, &key_id, Some(90))
        .await
        .unwrap();
    let status = h
        .kms
        .get_key_rotation_status(&h.admin, &key_id)
        .await
        .unwrap();
    assert_eq!(
        (status.key_rotation_enabled, status.next_rotation_date),
        (true, Some(T0 + 90 * DAY))
    );
    h.clock.advance(90 * DAY);
    assert_eq!(h.kms.maintain(ACCOUNT, REGION).await.unwrap(), (1, 0));
    let rotated = h
        .kms
        .encrypt(&h.admin, &key_id, b"rotated", &ctx, false)
        .await
        .unwrap()
        .ciphertext_blob;
    for (blob, text) in [
        (&before, &b"before"[..]),
        (&after, b"after"),
        (&rotated, b"rotated"),
    ] {
        let out = h
            .kms
            .decrypt(&h.admin, blob, &ctx, None, false)
            .await
            .unwrap();
        assert_eq!(out.plaintext.as_slice(), text);
    }
}

#[tokio::test]
async fn a_root_key_rotation_rewraps_without_rewriting_ciphertexts() {
    let h = harness().await;
    let key_id = h.key().await;
    let ctx = context(&[]);
    let blob = h
        .kms
        .encrypt(&h.admin, &key_id, b"kept", &ctx, false)
        .await
        .unwrap()
        .ciphertext_blob;
    h.create_secret(&h.admin, "db/kept", Some(&key_id)).await;
    let materials_before = h
        .store
        .kms_materials(ACCOUNT, REGION, &key_id)
        .await
        .unwrap();

    let new_root = RootKey::generate().unwrap();
    coffer_domain::keyring::rotate_root_key(h.store.as_ref(), &h.root, &new_root, T0)
        .await
        .unwrap();
    // The old root key no longer opens the store; the new one does, and everything sealed
    // before (KMS material, secret values) reads back unchanged.
    assert!(
        coffer_domain::keyring::open_keyring(h.store.as_ref(), &h.root, T0)
            .await
            .is_err()
    );
    let keyring = coffer_domain::keyring::open_keyring(h.store.as_ref(), &new_root, T0)
        .await
        .unwrap();
    use coffer_store::Store as _;
    assert_eq!(
        h.store
            .kms_materials(ACCOUNT, REGION, &key_id)
            .await
            .unwrap(),
        materials_before
    );
    let kms = Arc::new(
        KmsService::new(h.store.clone(), keyring.clone(), h.clock.clone(), "aws")
            .with_authorizer(h.authorizer.clone()),
    );
    let out = kms
        .decrypt(&h.admin, &blob, &ctx, None, false)
        .await
        .unwrap();
    assert_eq!(out.plaintext.as_slice(), b"kept");
    let secrets = SecretsService::new(
        h.store.clone(),
        keyring,
        TokenSigner::derive(&new_root, "pagination"),
        h.clock.clone(),
        Randomness::seeded(4),
        ServiceConfig::default(),
    )
    .with_authorizer(h.authorizer.clone())
    .with_kms(kms);
    let value = secrets
        .get_secret_value(
            &h.admin,
            GetSecretValueInput {
                secret_id: "db/kept".into(),
                version_id: None,
                version_stage: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(text_of(&value.value), "value of db/kept");
}

#[tokio::test]
async fn secrets_on_kms_keys_follow_the_key_state() {
    let h = harness().await;
    // The default key is created on first use, once.
    h.create_secret(&h.admin, "app/default", None).await;
    h.create_secret(&h.admin, "app/default-2", None).await;
    let default_key = h
        .kms
        .describe_key(&h.admin, "alias/aws/secretsmanager")
        .await
        .unwrap();
    assert_eq!(default_key.key_manager, KeyManager::Aws);
    assert_eq!(
        h.kms
            .list_keys(&h.admin, None, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let described = h
        .secrets
        .describe_secret(&h.admin, "app/default")
        .await
        .unwrap();
    assert_eq!(described.kms_key_id, None, "AWS omits the default key");

    // A customer managed key: the secret records its ARN.
    let key_id = h.key().await;
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}");
    h.kms
        .create_alias(&h.admin, "alias/db", &key_id)
        .await
        .unwrap();
    h.create_secret(&h.admin, "app/cmk", Some("alias/db")).await;
    let described = h
        .secrets
        .describe_secret(&h.admin, "app/cmk")
        .await
        .unwrap();
    assert_eq!(described.kms_key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(
        h.read(&h.admin, "app/cmk").await.unwrap(),
        "value of app/cmk"
    );

    h.kms.disable_key(&h.admin, &key_id).await.unwrap();
    let err = h.read(&h.admin, "app/cmk").await.unwrap_err();
    assert_eq!(
        err,
        SecretsError::KmsKeyUnusableForDecryption(format!("{arn} is disabled."))
    );
    let put = h
        .secrets
        .put_secret_value(
            &h.admin,
            PutSecretValueInput {
                secret_id: "app/cmk".into(),
                client_request_token: Some(uuid::Uuid::new_v4().to_string()),
                secret_string: Some(Zeroizing::new("next".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        put,
        SecretsError::KmsKeyUnusableForEncryption(format!("{arn} is disabled."))
    );
    // Other secrets are unaffected; enabling the key restores access.
    assert_eq!(
        h.read(&h.admin, "app/default").await.unwrap(),
        "value of app/default"
    );
    h.kms.enable_key(&h.admin, &key_id).await.unwrap();
    assert_eq!(
        h.read(&h.admin, "app/cmk").await.unwrap(),
        "value of app/cmk"
    );

    // Unknown keys are refused at creation.
    let missing = h
        .secrets
        .create_secret(
            &h.admin,
            CreateSecretInput {
                name: "app/missing-key".into(),
                client_request_token: Some(uuid::Uuid::new_v4().to_string()),
                kms_key_id: Some("alias/none".into()),
                secret_string: Some(Zeroizing::new("x".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(missing, SecretsError::KmsKeyNotFound);

    // Moving a secret to another key re-encrypts its current version under it: disabling
    // the old key no longer matters.
    h.secrets
        .update_secret(
            &h.admin,
            UpdateSecretInput {
                secret_id: "app/cmk".into(),
                kms_key_id: Some("alias/aws/secretsmanager".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    h.kms.disable_key(&h.admin, &key_id).await.unwrap();
    assert_eq!(
        h.read(&h.admin, "app/cmk").await.unwrap(),
        "value of app/cmk"
    );
}

#[tokio::test]
async fn reading_a_secret_needs_decrypt_on_its_customer_managed_key() {
    let h = harness().await;
    let key_id = h.key().await;
    h.create_secret(&h.admin, "team/db", Some(&key_id)).await;
    h.create_secret(&h.admin, "team/plain", None).await;
    let get_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
    let get_and_decrypt = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["secretsmanager:GetSecretValue","kms:Decrypt"],"Resource":"*"}]}"#;
    let deny_decrypt = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#;

    // No kms:Decrypt: the default key still works (its policy allows use through Secrets
    // Manager), the customer managed key does not.
    h.set_policies("reader", &[get_only]);
    let reader = caller_for("reader");
    assert_eq!(
        h.read(&reader, "team/plain").await.unwrap(),
        "value of team/plain"
    );
    assert_eq!(
        h.read(&reader, "team/db").await.unwrap_err(),
        SecretsError::AccessDenied("Access to KMS is not allowed".into())
    );
    h.set_policies("reader", &[get_and_decrypt]);
    assert_eq!(
        h.read(&reader, "team/db").await.unwrap(),
        "value of team/db"
    );
    // An explicit deny of kms:Decrypt wins.
    h.set_policies("reader", &[get_and_decrypt, deny_decrypt]);
    assert_eq!(
        h.read(&reader, "team/db").await.unwrap_err(),
        SecretsError::AccessDenied("Access to KMS is not allowed".into())
    );
    // ... on the AWS managed key too.
    assert_eq!(
        h.read(&reader, "team/plain").await.unwrap_err(),
        SecretsError::AccessDenied("Access to KMS is not allowed".into())
    );
    // A key policy that names neither the user nor the account: nobody reads through it,
    // whatever IAM says (the key policy is authoritative).
    h.kms
        .put_key_policy(
            &h.admin,
            &key_id,
            None,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"}]}"#,
            false,
        )
        .await
        .unwrap();
    h.set_policies("reader", &[get_and_decrypt]);
    assert_eq!(
        h.read(&reader, "team/db").await.unwrap_err(),
        SecretsError::AccessDenied("Access to KMS is not allowed".into())
    );
    assert_eq!(
        h.read(&h.admin, "team/db").await.unwrap(),
        "value of team/db"
    );
}

#[tokio::test]
async fn key_policies_are_checked_for_lockout() {
    let h = harness().await;
    let key_id = h.key().await;
    let locks_out = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/someone-else"},"Action":"kms:*","Resource":"*"}]}"#;
    assert_eq!(
        h.kms
            .put_key_policy(&h.admin, &key_id, None, locks_out, false)
            .await
            .unwrap_err(),
        KmsError::MalformedPolicyDocument(
            "The new key policy will not allow you to update the key policy in the future.".into()
        )
    );
    h.kms
        .put_key_policy(&h.admin, &key_id, None, locks_out, true)
        .await
        .unwrap();
    // Now even the administrator, allowed everything by IAM, is locked out of the key.
    assert!(matches!(
        h.kms.describe_key(&h.admin, &key_id).await,
        Err(KmsError::AccessDenied(_))
    ));
    assert!(matches!(
        h.kms
            .put_key_policy(&h.admin, &key_id, None, "{not json", true)
            .await,
        Err(KmsError::AccessDenied(_))
    ));
    let other = h.key().await;
    assert!(matches!(
        h.kms
            .put_key_policy(&h.admin, &other, None, "{not json", true)
            .await,
        Err(KmsError::MalformedPolicyDocument(_))
    ));
}

#[tokio::test]
async fn aliases_are_validated_and_listed() {
    let h = harness().await;
    let key_id = h.key().await;
    assert!(matches!(
        h.kms.create_alias(&h.admin, "app", &key_id).await,
        Err(KmsError::Validation(m)) if m.starts_with("Alias must start with the prefix \"alias/\".")
    ));
    assert_eq!(
        h.kms
            .create_alias(&h.admin, "alias/aws/mine", &key_id)
            .await
            .unwrap_err(),
        KmsError::NotAuthorized
    );
    h.kms
        .create_alias(&h.admin, "alias/one", &key_id)
        .await
        .unwrap();
    assert!(matches!(
        h.kms.create_alias(&h.admin, "alias/one", &key_id).await,
        Err(KmsError::AlreadyExists(_))
    ));
    let listed = h
        .kms
        .list_aliases(&h.admin, None, None, None)
        .await
        .unwrap();
    let names: Vec<(&str, bool)> = listed
        .items
        .iter()
        .map(|a| (a.alias_name.as_str(), a.target_key_id.is_some()))
        .collect();
    // The AWS managed alias is listed before its key exists, without a target.
    assert_eq!(
        names,
        [("alias/aws/secretsmanager", false), ("alias/one", true)]
    );
    let other = h.key().await;
    h.kms
        .update_alias(&h.admin, "alias/one", &other)
        .await
        .unwrap();
    let of_other = h
        .kms
        .list_aliases(&h.admin, Some(&other), None, None)
        .await
        .unwrap();
    assert_eq!(of_other.items.len(), 1);
    h.kms.delete_alias(&h.admin, "alias/one").await.unwrap();
    assert!(matches!(
        h.kms.delete_alias(&h.admin, "alias/one").await,
        Err(KmsError::NotFound(_))
    ));
}
