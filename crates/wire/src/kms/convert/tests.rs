//! The KMS conversions: every domain error's exception, status and message key, and the response
//! members AWS sends (key ARNs and bare key ids where each belongs, `Truncated`, epoch seconds).

use std::collections::BTreeMap;

use coffer_domain::kms::{self as domain, KeyManager, KeyState, KmsError};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::*;
use crate::codec;
use crate::errors::MessageKey;

const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_ARN: &str =
    "arn:aws:kms:us-east-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab";

fn encoded<T: serde::Serialize>(value: &T) -> Value {
    serde_json::from_slice(&codec::encode(value)).unwrap()
}

fn body(error: &AwsError) -> Value {
    serde_json::from_slice(&error.to_json()).unwrap()
}

// ----- errors -----------------------------------------------------------------------------------

/// Position of each variant in the table below; a new `KmsError` variant fails to compile here
/// until the table says what it becomes.
fn variant_index(e: &KmsError) -> usize {
    match e {
        KmsError::NotFound(_) => 0,
        KmsError::AlreadyExists(_) => 1,
        KmsError::Disabled(_) => 2,
        KmsError::InvalidState(_) => 3,
        KmsError::InvalidCiphertext => 4,
        KmsError::IncorrectKey => 5,
        KmsError::Validation(_) => 6,
        KmsError::InvalidKeyUsage(_) => 7,
        KmsError::DryRun => 8,
        KmsError::Tag(_) => 9,
        KmsError::MalformedPolicyDocument(_) => 10,
        KmsError::UnsupportedOperation(_) => 11,
        KmsError::AccessDenied(_) => 12,
        KmsError::NotAuthorized => 13,
        KmsError::InvalidAliasName(_) => 14,
        KmsError::InvalidMarker(_) => 15,
        KmsError::LimitExceeded(_) => 16,
        KmsError::Internal { .. } => 17,
    }
}

#[test]
fn every_domain_error_becomes_its_kms_exception() {
    let disabled = format!("{KEY_ARN} is disabled.");
    let pending = format!("{KEY_ARN} is pending deletion.");
    let not_found = format!("Key '{KEY_ARN}' does not exist");
    let denied = format!(
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt on resource: {KEY_ARN} because no resource-based policy allows the kms:Encrypt action"
    );
    let table: Vec<(KmsError, &str, u16, &str)> = vec![
        (
            KmsError::NotFound(not_found.clone()),
            "NotFoundException",
            400,
            &not_found,
        ),
        (
            KmsError::AlreadyExists("An alias with the name x already exists".into()),
            "AlreadyExistsException",
            400,
            "An alias with the name x already exists",
        ),
        (
            KmsError::Disabled(disabled.clone()),
            "DisabledException",
            400,
            &disabled,
        ),
        (
            KmsError::InvalidState(pending.clone()),
            "KMSInvalidStateException",
            400,
            &pending,
        ),
        (
            KmsError::InvalidCiphertext,
            "InvalidCiphertextException",
            400,
            "",
        ),
        (
            KmsError::IncorrectKey,
            "IncorrectKeyException",
            400,
            "The key ID in the request does not identify a CMK that can perform this operation.",
        ),
        (
            KmsError::Validation("Please specify either number of bytes or key spec.".into()),
            "ValidationException",
            400,
            "Please specify either number of bytes or key spec.",
        ),
        (
            KmsError::InvalidKeyUsage("usage".into()),
            "InvalidKeyUsageException",
            400,
            "usage",
        ),
        (
            KmsError::DryRun,
            "DryRunOperationException",
            400,
            "The request would have succeeded, but the DryRun option is set.",
        ),
        (
            KmsError::Tag("Too many tags".into()),
            "TagException",
            400,
            "Too many tags",
        ),
        (
            KmsError::MalformedPolicyDocument(
                "The new key policy will not allow you to update the key policy in the future."
                    .into(),
            ),
            "MalformedPolicyDocumentException",
            400,
            "The new key policy will not allow you to update the key policy in the future.",
        ),
        (
            KmsError::UnsupportedOperation("no".into()),
            "UnsupportedOperationException",
            400,
            "no",
        ),
        (
            KmsError::AccessDenied(denied.clone()),
            "AccessDeniedException",
            400,
            &denied,
        ),
        (KmsError::NotAuthorized, "NotAuthorizedException", 400, ""),
        (
            KmsError::InvalidAliasName("bad".into()),
            "InvalidAliasNameException",
            400,
            "bad",
        ),
        (
            KmsError::InvalidMarker("Invalid marker".into()),
            "InvalidMarkerException",
            400,
            "Invalid marker",
        ),
        (
            KmsError::LimitExceeded("limit".into()),
            "LimitExceededException",
            400,
            "limit",
        ),
        (
            KmsError::internal("store: disk /var/lib/coffer is full"),
            "KMSInternalException",
            500,
            "An internal error occurred in Coffer. Retry the request.",
        ),
    ];
    let mut covered: Vec<usize> = table.iter().map(|(e, ..)| variant_index(e)).collect();
    covered.sort_unstable();
    assert_eq!(covered, (0..=17).collect::<Vec<_>>());

    for (domain_error, error_type, status, message) in &table {
        let aws = error(domain_error);
        assert_eq!(
            (aws.error_type, aws.status, aws.message.as_str()),
            (*error_type, *status, *message),
            "{domain_error:?}"
        );
        // KMS's exceptions, modeled or not, carry their text under the lower-case key.
        assert_eq!(aws.key, MessageKey::Framework, "{domain_error:?}");
        assert_eq!(
            body(&aws),
            json!({"__type": error_type, "message": message}),
            "{domain_error:?}"
        );
        if let Some(modeled) = ModeledError::from_error_type(error_type) {
            assert_eq!(aws, modeled.with_message(*message));
        }
    }
}

#[test]
fn internal_errors_never_send_their_cause() {
    let aws = error(&KmsError::internal("crypto: key 0123 did not open"));
    assert!(aws.is_server_fault());
    let text = String::from_utf8(aws.to_json()).unwrap();
    assert!(!text.contains("crypto") && !text.contains("0123"), "{text}");
}

// ----- requests ---------------------------------------------------------------------------------

#[test]
fn create_key_input() {
    let input = create_key(CreateKeyRequest {
        description: Some("for the app".into()),
        tags: Some(vec![Tag {
            tag_key: Some("team".into()),
            tag_value: Some(String::new()),
        }]),
        bypass_policy_lockout_safety_check: Some(true),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(input.description.as_deref(), Some("for the app"));
    assert_eq!(input.tags, [("team".to_owned(), String::new())]);
    assert!(input.bypass_policy_lockout_safety_check);
    assert!(!input.multi_region);
    assert_eq!(input.policy, None);

    let refused = create_key(CreateKeyRequest {
        custom_key_store_id: Some("cks-1234567890abcdef0".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(refused.error_type, "UnsupportedOperationException");
    let refused = create_key(CreateKeyRequest {
        origin: Some("EXTERNAL_KEY_STORE".into()),
        xks_key_id: Some("k1".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(refused.error_type, "UnsupportedOperationException");
}

#[test]
fn encrypt_arguments_keep_the_plaintext_wrapped() {
    let args = encrypt(EncryptRequest {
        key_id: Some("alias/app".into()),
        plaintext: Some(SensitiveBlob::new(b"hunter2".to_vec())),
        encryption_context: Some(BTreeMap::from([("purpose".into(), "test".into())])),
        encryption_algorithm: Some("SYMMETRIC_DEFAULT".into()),
        dry_run: None,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(args.key_id, "alias/app");
    assert_eq!(args.plaintext.expose(), b"hunter2");
    assert_eq!(args.encryption_context["purpose"], "test");
    assert!(!args.dry_run);
    let debug = format!("{args:?}");
    assert!(
        !debug.contains("hunter2") && debug.contains("[REDACTED]"),
        "{debug}"
    );

    let refused = encrypt(EncryptRequest {
        key_id: Some(KEY_ID.into()),
        plaintext: Some(SensitiveBlob::new(b"hunter2".to_vec())),
        encryption_algorithm: Some("RSAES_OAEP_SHA_256".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(refused.error_type, "InvalidKeyUsageException");
    assert!(!refused.message.contains("hunter2"));
}

#[test]
fn decrypt_and_re_encrypt_arguments() {
    let args = decrypt(DecryptRequest {
        ciphertext_blob: Some(Blob::new(vec![1, 2, 3])),
        key_id: Some(KEY_ARN.into()),
        dry_run: Some(true),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(args.ciphertext_blob, [1, 2, 3]);
    assert_eq!(args.key_id.as_deref(), Some(KEY_ARN));
    assert!(args.encryption_context.is_empty());
    assert!(args.dry_run);

    let refused = decrypt(DecryptRequest {
        ciphertext_blob: Some(Blob::new(vec![1])),
        recipient: Some(RecipientInfo::default()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(refused.error_type, "UnsupportedOperationException");

    let args = re_encrypt(ReEncryptRequest {
        ciphertext_blob: Some(Blob::new(vec![4])),
        destination_key_id: Some("alias/next".into()),
        destination_encryption_context: Some(BTreeMap::from([("a".into(), "b".into())])),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        (args.source_key_id, args.destination_key_id.as_str()),
        (None, "alias/next")
    );
    assert_eq!(args.destination_encryption_context["a"], "b");
    assert!(args.source_encryption_context.is_empty());
    let refused = re_encrypt(ReEncryptRequest {
        destination_encryption_algorithm: Some("SM2PKE".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(refused.error_type, "InvalidKeyUsageException");
}

#[test]
fn data_key_and_random_arguments() {
    let args = generate_data_key(GenerateDataKeyRequest {
        key_id: Some(KEY_ID.into()),
        key_spec: Some("AES_256".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        (args.key_spec.as_deref(), args.number_of_bytes),
        (Some("AES_256"), None)
    );
    let args = generate_data_key_without_plaintext(GenerateDataKeyWithoutPlaintextRequest {
        key_id: Some(KEY_ID.into()),
        number_of_bytes: Some(64),
        ..Default::default()
    });
    assert_eq!((args.key_spec, args.number_of_bytes), (None, Some(64)));
    assert_eq!(
        generate_random(GenerateRandomRequest {
            number_of_bytes: Some(16),
            ..Default::default()
        })
        .unwrap(),
        Some(16)
    );
    let refused = generate_random(GenerateRandomRequest {
        number_of_bytes: Some(16),
        custom_key_store_id: Some("cks-1234567890abcdef0".into()),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(refused.error_type, "UnsupportedOperationException");
}

#[test]
fn tag_arguments() {
    let (key, tags) = tag_resource(TagResourceRequest {
        key_id: Some(KEY_ID.into()),
        tags: Some(vec![
            Tag {
                tag_key: Some("b".into()),
                tag_value: Some("2".into()),
            },
            Tag {
                tag_key: Some("a".into()),
                tag_value: Some("1".into()),
            },
        ]),
    });
    assert_eq!(key, KEY_ID);
    // Order is kept: the domain reports duplicates and limits on what the caller sent.
    assert_eq!(
        tags,
        [("b".to_owned(), "2".to_owned()), ("a".into(), "1".into())]
    );
    let (key, keys) = untag_resource(UntagResourceRequest {
        key_id: Some(KEY_ARN.into()),
        tag_keys: Some(vec!["a".into()]),
    });
    assert_eq!((key.as_str(), keys), (KEY_ARN, vec!["a".to_owned()]));
}

// ----- responses --------------------------------------------------------------------------------

fn metadata(state: KeyState) -> domain::KeyMetadata {
    domain::KeyMetadata {
        aws_account_id: "111122223333".into(),
        key_id: KEY_ID.into(),
        arn: KEY_ARN.into(),
        creation_date: 1_735_732_800_000,
        enabled: state == KeyState::Enabled,
        description: String::new(),
        key_usage: "ENCRYPT_DECRYPT",
        key_state: state,
        deletion_date: None,
        pending_deletion_window_in_days: None,
        origin: "AWS_KMS",
        key_manager: KeyManager::Customer,
        key_spec: "SYMMETRIC_DEFAULT",
        encryption_algorithms: vec!["SYMMETRIC_DEFAULT"],
        multi_region: false,
    }
}

#[test]
fn key_metadata_is_the_spec_example() {
    assert_eq!(
        encoded(&create_key_response(metadata(KeyState::Enabled))),
        json!({"KeyMetadata": {
            "AWSAccountId": "111122223333", "KeyId": KEY_ID, "Arn": KEY_ARN,
            "CreationDate": 1735732800, "Enabled": true, "Description": "",
            "KeyUsage": "ENCRYPT_DECRYPT", "KeyState": "Enabled", "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "KeySpec": "SYMMETRIC_DEFAULT", "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "MultiRegion": false}})
    );
}

#[test]
fn key_metadata_pending_deletion_and_aws_managed() {
    let mut m = metadata(KeyState::PendingDeletion);
    m.deletion_date = Some(1_736_337_600_500);
    m.pending_deletion_window_in_days = Some(7);
    m.key_manager = KeyManager::Aws;
    m.description = "Default key".into();
    let got = encoded(&describe_key_response(m));
    let meta = &got["KeyMetadata"];
    assert_eq!(meta["KeyState"], "PendingDeletion");
    assert_eq!(meta["Enabled"], false);
    assert_eq!(meta["DeletionDate"], json!(1736337600.5));
    assert_eq!(meta["PendingDeletionWindowInDays"], 7);
    assert_eq!(meta["KeyManager"], "AWS");
    assert_eq!(meta["Description"], "Default key");

    let disabled = encoded(&describe_key_response(metadata(KeyState::Disabled)));
    assert_eq!(
        (
            &disabled["KeyMetadata"]["KeyState"],
            &disabled["KeyMetadata"]["Enabled"]
        ),
        (&json!("Disabled"), &json!(false))
    );
    assert!(disabled["KeyMetadata"].get("DeletionDate").is_none());
}

#[test]
fn list_responses_always_say_whether_they_are_truncated() {
    let empty = list_keys_response(domain::Listing {
        items: vec![],
        next_marker: None,
    });
    assert_eq!(encoded(&empty), json!({"Keys": [], "Truncated": false}));

    let page = list_keys_response(domain::Listing {
        items: vec![domain::KeyListEntry {
            key_id: KEY_ID.into(),
            key_arn: KEY_ARN.into(),
        }],
        next_marker: Some(KEY_ID.into()),
    });
    assert_eq!(
        encoded(&page),
        json!({"Keys": [{"KeyId": KEY_ID, "KeyArn": KEY_ARN}], "NextMarker": KEY_ID,
               "Truncated": true})
    );

    let aliases = list_aliases_response(domain::Listing {
        items: vec![
            domain::AliasListEntry {
                alias_name: "alias/app".into(),
                alias_arn: "arn:aws:kms:us-east-1:111122223333:alias/app".into(),
                target_key_id: Some(KEY_ID.into()),
                creation_date: Some(1_700_000_000_000),
                last_updated_date: Some(1_700_000_000_250),
            },
            domain::AliasListEntry {
                alias_name: "alias/aws/secretsmanager".into(),
                alias_arn: "arn:aws:kms:us-east-1:111122223333:alias/aws/secretsmanager".into(),
                target_key_id: None,
                creation_date: None,
                last_updated_date: None,
            },
        ],
        next_marker: None,
    });
    assert_eq!(
        encoded(&aliases),
        json!({"Aliases": [
            {"AliasName": "alias/app", "AliasArn": "arn:aws:kms:us-east-1:111122223333:alias/app",
             "TargetKeyId": KEY_ID, "CreationDate": 1700000000, "LastUpdatedDate": 1700000000.25},
            {"AliasName": "alias/aws/secretsmanager",
             "AliasArn": "arn:aws:kms:us-east-1:111122223333:alias/aws/secretsmanager"}],
            "Truncated": false})
    );

    let tags = list_resource_tags_response(domain::Listing {
        items: vec![("team".into(), String::new())],
        next_marker: Some("team".into()),
    });
    assert_eq!(
        encoded(&tags),
        json!({"Tags": [{"TagKey": "team", "TagValue": ""}], "NextMarker": "team",
               "Truncated": true})
    );
}

#[test]
fn crypto_responses_name_the_key_by_arn() {
    let got = encoded(&encrypt_response(domain::Encrypted {
        key_arn: KEY_ARN.into(),
        ciphertext_blob: vec![0, 1, 2, 0xff],
        plaintext: None,
    }));
    assert_eq!(
        got,
        json!({"CiphertextBlob": "AAEC/w==", "KeyId": KEY_ARN,
               "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
    );

    let decrypted = decrypt_response(domain::Decrypted {
        key_arn: KEY_ARN.into(),
        plaintext: Zeroizing::new(b"hunter2".to_vec()),
    });
    assert!(!format!("{decrypted:?}").contains("hunter2"));
    assert_eq!(
        encoded(&decrypted),
        json!({"KeyId": KEY_ARN, "Plaintext": "aHVudGVyMg==",
               "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
    );

    let with_plaintext = generate_data_key_response(domain::Encrypted {
        key_arn: KEY_ARN.into(),
        ciphertext_blob: vec![9; 3],
        plaintext: Some(Zeroizing::new(vec![0; 32])),
    });
    assert_eq!(
        encoded(&with_plaintext),
        json!({"CiphertextBlob": "CQkJ",
               "Plaintext": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "KeyId": KEY_ARN})
    );
    let without = generate_data_key_without_plaintext_response(domain::Encrypted {
        key_arn: KEY_ARN.into(),
        ciphertext_blob: vec![9; 3],
        plaintext: Some(Zeroizing::new(vec![0; 32])),
    });
    assert_eq!(
        encoded(&without),
        json!({"CiphertextBlob": "CQkJ", "KeyId": KEY_ARN})
    );

    let random = generate_random_response(Zeroizing::new(vec![1, 2, 3]));
    assert_eq!(encoded(&random), json!({"Plaintext": "AQID"}));

    let re = re_encrypt_response(domain::ReEncrypted {
        ciphertext_blob: vec![7],
        source_key_arn: OTHER_ARN.into(),
        key_arn: KEY_ARN.into(),
    });
    assert_eq!(
        encoded(&re),
        json!({"CiphertextBlob": "Bw==", "SourceKeyId": OTHER_ARN, "KeyId": KEY_ARN,
               "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
               "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
    );
}

#[test]
fn key_management_responses() {
    let scheduled = schedule_key_deletion_response(domain::ScheduledDeletion {
        key_arn: KEY_ARN.into(),
        deletion_date: 1_736_337_600_000,
        key_state: KeyState::PendingDeletion,
        pending_window_in_days: 7,
    });
    assert_eq!(
        encoded(&scheduled),
        json!({"KeyId": KEY_ARN, "DeletionDate": 1736337600, "KeyState": "PendingDeletion",
               "PendingWindowInDays": 7})
    );
    assert_eq!(
        encoded(&cancel_key_deletion_response(KEY_ARN.into())),
        json!({"KeyId": KEY_ARN})
    );
    assert_eq!(
        encoded(&rotate_key_on_demand_response(KEY_ARN.into())),
        json!({"KeyId": KEY_ID})
    );
    let status = get_key_rotation_status_response(domain::RotationStatus {
        key_rotation_enabled: true,
        key_arn: KEY_ARN.into(),
        rotation_period_in_days: Some(365),
        next_rotation_date: Some(1_767_268_800_000),
    });
    assert_eq!(
        encoded(&status),
        json!({"KeyRotationEnabled": true, "KeyId": KEY_ID, "RotationPeriodInDays": 365,
               "NextRotationDate": 1767268800})
    );
    let off = get_key_rotation_status_response(domain::RotationStatus {
        key_rotation_enabled: false,
        key_arn: KEY_ARN.into(),
        rotation_period_in_days: None,
        next_rotation_date: None,
    });
    assert_eq!(
        encoded(&off),
        json!({"KeyRotationEnabled": false, "KeyId": KEY_ID})
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
    assert_eq!(
        encoded(&get_key_policy_response(policy.into())),
        json!({"Policy": policy, "PolicyName": "default"})
    );
}
