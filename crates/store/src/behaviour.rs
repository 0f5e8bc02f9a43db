//! The behaviour every backend must show, written once and instantiated per backend with
//! [`crate::store_behaviour_suite!`]. Each case gets a fresh, empty store.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::*;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

pub fn secret(name: &str, created_at: i64) -> SecretRecord {
    SecretRecord {
        arn: format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"),
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        name: name.into(),
        description: None,
        kms_key_id: None,
        created_at,
        last_changed_at: created_at,
        last_accessed_day: None,
        deletion_date: None,
        tags: None,
        resource_policy: None,
        stages: BTreeMap::new(),
        rotation: None,
        next_rotation_at: None,
        revision: 1,
    }
}

pub fn version(version_id: &str, created_at: i64, ciphertext: Option<&[u8]>) -> VersionWrite {
    VersionWrite {
        meta: VersionMeta {
            version_id: version_id.into(),
            created_at,
            last_accessed_day: None,
            kms_key_id: None,
            has_value: ciphertext.is_some(),
        },
        ciphertext: ciphertext.map(<[u8]>::to_vec),
    }
}

fn query(sort_by: SortBy, descending: bool, limit: usize) -> ListQuery {
    ListQuery {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        include_planned_deletion: false,
        sort_by,
        descending,
        after: None,
        name_prefix: None,
        limit,
    }
}

pub async fn create_and_load<S: Store>(store: &S) {
    let mut record = secret("prod/db", 1_000);
    record.description = Some("the database".into());
    record.tags = Some(vec![Tag {
        key: "team".into(),
        value: "core".into(),
    }]);
    record.stages.insert("AWSCURRENT".into(), "v1".into());
    store
        .create_secret(
            record.clone(),
            vec![version("v1", 1_000, Some(b"sealed-1"))],
        )
        .await
        .unwrap();

    let by_name = store
        .secret_by_name(ACCOUNT, REGION, "prod/db")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_name.secret, record);
    assert_eq!(by_name.versions.len(), 1);
    assert!(by_name.versions[0].has_value);
    let by_arn = store.secret_by_arn(&record.arn).await.unwrap().unwrap();
    assert_eq!(by_arn, by_name);
    assert_eq!(
        store
            .version_ciphertext(&record.arn, "v1")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"sealed-1"[..])
    );
    assert!(
        store
            .secret_by_name(ACCOUNT, REGION, "prod/DB")
            .await
            .unwrap()
            .is_none(),
        "names are case-sensitive"
    );
    assert!(
        store
            .secret_by_name(ACCOUNT, "eu-west-1", "prod/db")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .version_ciphertext(&record.arn, "v9")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn names_are_unique_per_account_and_region<S: Store>(store: &S) {
    store.create_secret(secret("a", 1), vec![]).await.unwrap();
    let mut again = secret("a", 2);
    again.arn.push('x');
    assert!(matches!(
        store.create_secret(again, vec![]).await,
        Err(StoreError::NameTaken)
    ));
    let mut elsewhere = secret("a", 3);
    elsewhere.region = "eu-west-1".into();
    elsewhere.arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:a-AbCdEf".into();
    store.create_secret(elsewhere, vec![]).await.unwrap();
}

pub async fn updates_compare_and_swap_the_revision<S: Store>(store: &S) {
    let record = secret("cas", 1);
    store.create_secret(record.clone(), vec![]).await.unwrap();

    let mut next = record.clone();
    next.revision = 2;
    next.description = Some("two".into());
    next.stages.insert("AWSCURRENT".into(), "v1".into());
    let change = SecretChange {
        secret: next.clone(),
        expected_revision: 1,
        put_versions: vec![version("v1", 5, Some(b"x"))],
        delete_versions: vec![],
    };
    store.update_secret(change.clone()).await.unwrap();
    assert!(matches!(
        store.update_secret(change).await,
        Err(StoreError::Conflict)
    ));

    let loaded = store.secret_by_arn(&record.arn).await.unwrap().unwrap();
    assert_eq!(loaded.secret, next);
    assert_eq!(loaded.versions.len(), 1);

    let mut gone = next.clone();
    gone.arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:none-AbCdEf".into();
    let missing = SecretChange {
        secret: gone,
        expected_revision: 1,
        put_versions: vec![],
        delete_versions: vec![],
    };
    assert!(matches!(
        store.update_secret(missing).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn versions_are_inserted_replaced_and_deleted<S: Store>(store: &S) {
    let record = secret("v", 1);
    store
        .create_secret(
            record.clone(),
            vec![
                version("b-first", 10, Some(b"1")),
                version("a-pending", 20, None),
            ],
        )
        .await
        .unwrap();
    let loaded = store.secret_by_arn(&record.arn).await.unwrap().unwrap();
    let ids: Vec<_> = loaded
        .versions
        .iter()
        .map(|v| v.version_id.as_str())
        .collect();
    assert_eq!(ids, ["b-first", "a-pending"], "oldest first, not by id");
    assert!(!loaded.versions[1].has_value);
    assert!(
        store
            .version_ciphertext(&record.arn, "a-pending")
            .await
            .unwrap()
            .is_none()
    );

    // Fill the placeholder and delete the first version in one change.
    let mut next = record.clone();
    next.revision = 2;
    let mut filled = version("a-pending", 20, Some(b"2"));
    filled.meta.kms_key_id = Some("arn:aws:kms:us-east-1:111122223333:key/k".into());
    store
        .update_secret(SecretChange {
            secret: next,
            expected_revision: 1,
            put_versions: vec![filled],
            delete_versions: vec!["b-first".into()],
        })
        .await
        .unwrap();
    let loaded = store.secret_by_arn(&record.arn).await.unwrap().unwrap();
    assert_eq!(loaded.versions.len(), 1);
    assert!(loaded.versions[0].has_value);
    assert_eq!(
        loaded.versions[0].kms_key_id.as_deref(),
        Some("arn:aws:kms:us-east-1:111122223333:key/k")
    );
    assert_eq!(
        store
            .version_ciphertext(&record.arn, "a-pending")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"2"[..])
    );
    assert!(
        store
            .version_ciphertext(&record.arn, "b-first")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn delete_removes_the_secret_and_its_versions<S: Store>(store: &S) {
    let record = secret("gone", 1);
    store
        .create_secret(record.clone(), vec![version("v1", 1, Some(b"1"))])
        .await
        .unwrap();
    assert!(
        !store.delete_secret(&record.arn, Some(2)).await.unwrap(),
        "revision moved on"
    );
    assert!(store.secret_by_arn(&record.arn).await.unwrap().is_some());
    assert!(store.delete_secret(&record.arn, Some(1)).await.unwrap());
    assert!(!store.delete_secret(&record.arn, None).await.unwrap());
    assert!(store.secret_by_arn(&record.arn).await.unwrap().is_none());
    assert!(
        store
            .version_ciphertext(&record.arn, "v1")
            .await
            .unwrap()
            .is_none()
    );
    // The name is free again.
    let mut again = secret("gone", 2);
    again.arn = again.arn.replace("AbCdEf", "ZyXwVu");
    store.create_secret(again, vec![]).await.unwrap();
}

pub async fn access_dates_move_forward_only_and_leave_the_revision<S: Store>(store: &S) {
    let record = secret("read", 1);
    store
        .create_secret(record.clone(), vec![version("v1", 1, Some(b"1"))])
        .await
        .unwrap();
    store
        .record_access(&record.arn, "v1", 86_400_000)
        .await
        .unwrap();
    store.record_access(&record.arn, "v1", 0).await.unwrap();
    let loaded = store.secret_by_arn(&record.arn).await.unwrap().unwrap();
    assert_eq!(loaded.secret.last_accessed_day, Some(86_400_000));
    assert_eq!(loaded.versions[0].last_accessed_day, Some(86_400_000));
    assert_eq!(loaded.secret.revision, 1);

    // A writer holding an older copy does not roll the access date back.
    let mut next = record.clone();
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
    let loaded = store.secret_by_arn(&record.arn).await.unwrap().unwrap();
    assert_eq!(loaded.secret.last_accessed_day, Some(86_400_000));
}

pub async fn list_pages_in_every_order<S: Store>(store: &S) {
    // Names chosen so that name order differs from creation order.
    for (i, name) in ["e", "c", "a", "d", "b"].iter().enumerate() {
        let mut record = secret(name, 100 + i as i64);
        record.last_changed_at = 1_000 - i as i64;
        store.create_secret(record, vec![]).await.unwrap();
    }
    let names = |page: &[SecretRecord]| page.iter().map(|s| s.name.clone()).collect::<Vec<_>>();

    for (sort_by, descending, expected) in [
        (SortBy::CreatedDate, false, ["e", "c", "a", "d", "b"]),
        (SortBy::CreatedDate, true, ["b", "d", "a", "c", "e"]),
        (SortBy::Name, false, ["a", "b", "c", "d", "e"]),
        (SortBy::Name, true, ["e", "d", "c", "b", "a"]),
        (SortBy::LastChangedDate, false, ["b", "d", "a", "c", "e"]),
    ] {
        let mut seen = Vec::new();
        let mut q = query(sort_by, descending, 2);
        loop {
            let page = store.list_secrets(&q).await.unwrap();
            if page.is_empty() {
                break;
            }
            seen.extend(names(&page));
            let last = page.last().unwrap();
            q.after = Some(ListCursor {
                sort_value: SortValue::of(last, sort_by),
                arn: last.arn.clone(),
            });
        }
        assert_eq!(seen, expected, "{sort_by:?} descending={descending}");
    }

    // Never-accessed secrets sort as the oldest access; ties fall back to the ARN.
    let page = store
        .list_secrets(&query(SortBy::LastAccessedDate, false, 10))
        .await
        .unwrap();
    assert_eq!(page.len(), 5);
}

pub async fn list_filters_by_prefix_and_planned_deletion<S: Store>(store: &S) {
    for (i, name) in ["prod/a", "prod/b", "production", "dev/a", "pro"]
        .iter()
        .enumerate()
    {
        let mut record = secret(name, i as i64);
        if *name == "prod/b" {
            record.deletion_date = Some(10_000);
        }
        store.create_secret(record, vec![]).await.unwrap();
    }
    let mut q = query(SortBy::CreatedDate, false, 100);
    q.name_prefix = Some("prod".into());
    let names: Vec<_> = store
        .list_secrets(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["prod/a", "production"]);
    q.include_planned_deletion = true;
    let names: Vec<_> = store
        .list_secrets(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["prod/a", "prod/b", "production"]);
    let mut other = query(SortBy::CreatedDate, false, 100);
    other.account_id = "999999999999".into();
    assert!(store.list_secrets(&other).await.unwrap().is_empty());
}

pub async fn prefixes_shared_by_many_secrets_page_correctly<S: Store>(store: &S) {
    // More than any backend's threshold for switching between "walk the sort order and
    // filter" and "read the name range and sort", so both plans are exercised.
    let many = 2_100;
    for i in 0..many {
        store
            .create_secret(secret(&format!("dense/{i:05}"), i as i64), vec![])
            .await
            .unwrap();
    }
    for i in 0..3 {
        store
            .create_secret(secret(&format!("sparse/{i}"), 10_000 + i), vec![])
            .await
            .unwrap();
    }
    for (prefix, expected) in [
        ("dense/", many),
        ("sparse/", 3),
        ("dense/0000", 10),
        ("nothing", 0),
    ] {
        for sort_by in [SortBy::CreatedDate, SortBy::Name] {
            let mut q = query(sort_by, true, 500);
            q.name_prefix = Some(prefix.into());
            let mut seen = Vec::new();
            loop {
                let page = store.list_secrets(&q).await.unwrap();
                let Some(last) = page.last() else { break };
                q.after = Some(ListCursor {
                    sort_value: SortValue::of(last, sort_by),
                    arn: last.arn.clone(),
                });
                seen.extend(page.into_iter().map(|s| s.name));
            }
            assert_eq!(seen.len(), expected as usize, "{prefix} by {sort_by:?}");
            assert!(seen.iter().all(|n| n.starts_with(prefix)));
            let mut sorted = seen.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), seen.len(), "no secret twice");
            if sort_by == SortBy::Name {
                sorted.reverse();
                assert_eq!(sorted, seen, "descending name order");
            }
        }
    }
}

pub async fn paging_survives_concurrent_inserts<S: Store>(store: &S) {
    for i in 0..4 {
        store
            .create_secret(secret(&format!("s{i}"), i), vec![])
            .await
            .unwrap();
    }
    let mut q = query(SortBy::CreatedDate, false, 2);
    let first = store.list_secrets(&q).await.unwrap();
    // A secret created between pages, sorting before the cursor, must not shift the next page.
    let mut early = secret("early", -1);
    early.arn = early.arn.replace("AbCdEf", "Early1");
    store.create_secret(early, vec![]).await.unwrap();
    let last = first.last().unwrap();
    q.after = Some(ListCursor {
        sort_value: SortValue::of(last, SortBy::CreatedDate),
        arn: last.arn.clone(),
    });
    let second: Vec<_> = store
        .list_secrets(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(second, ["s2", "s3"]);
}

pub async fn due_deletions_are_found_in_date_order<S: Store>(store: &S) {
    for (name, date) in [
        ("late", Some(300)),
        ("none", None),
        ("early", Some(100)),
        ("future", Some(900)),
    ] {
        let mut record = secret(name, 1);
        record.deletion_date = date;
        store.create_secret(record, vec![]).await.unwrap();
    }
    let due = store.secrets_due_for_deletion(300, 10).await.unwrap();
    let names: Vec<_> = due
        .iter()
        .map(|arn| arn.rsplit(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["early-AbCdEf", "late-AbCdEf"]);
    assert_eq!(
        store.secrets_due_for_deletion(300, 1).await.unwrap().len(),
        1
    );
}

pub async fn rotation_state_is_kept_and_due_rotations_found<S: Store>(store: &S) {
    for (name, date) in [
        ("late", Some(300)),
        ("none", None),
        ("early", Some(100)),
        ("future", Some(900)),
    ] {
        let mut record = secret(name, 1);
        record.next_rotation_at = date;
        record.rotation = date.map(|d| format!("{{\"due\":{d}}}"));
        store.create_secret(record, vec![]).await.unwrap();
    }
    let due = store.secrets_due_for_rotation(300, 10).await.unwrap();
    let names: Vec<_> = due
        .iter()
        .map(|arn| arn.rsplit(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["early-AbCdEf", "late-AbCdEf"]);
    assert_eq!(
        store.secrets_due_for_rotation(300, 1).await.unwrap().len(),
        1
    );

    let loaded = store
        .secret_by_name(ACCOUNT, REGION, "early")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.secret.rotation.as_deref(), Some("{\"due\":100}"));
    let mut next = loaded.secret.clone();
    next.rotation = Some("{\"rotated\":true}".into());
    next.next_rotation_at = None;
    next.revision += 1;
    store
        .update_secret(SecretChange {
            secret: next.clone(),
            expected_revision: loaded.secret.revision,
            put_versions: vec![],
            delete_versions: vec![],
        })
        .await
        .unwrap();
    let reloaded = store.secret_by_arn(&next.arn).await.unwrap().unwrap();
    assert_eq!(reloaded.secret, next);
    assert_eq!(
        store.secrets_due_for_rotation(300, 10).await.unwrap().len(),
        1
    );
}

pub async fn leases_have_one_holder_until_they_expire<S: Store>(store: &S) {
    assert!(store.acquire_lease("job", "a", 1_000, 500).await.unwrap());
    assert!(!store.acquire_lease("job", "b", 1_200, 500).await.unwrap());
    // The holder renews.
    assert!(store.acquire_lease("job", "a", 1_400, 500).await.unwrap());
    assert!(!store.acquire_lease("job", "b", 1_800, 500).await.unwrap());
    // Expired: taken over.
    assert!(store.acquire_lease("job", "b", 1_900, 500).await.unwrap());
    assert!(!store.acquire_lease("job", "a", 1_950, 500).await.unwrap());
    // Releasing by a non-holder does nothing; by the holder frees it.
    store.release_lease("job", "a").await.unwrap();
    assert!(!store.acquire_lease("job", "a", 2_000, 500).await.unwrap());
    store.release_lease("job", "b").await.unwrap();
    assert!(store.acquire_lease("job", "a", 2_000, 500).await.unwrap());
    // Leases are independent of each other.
    assert!(store.acquire_lease("other", "b", 2_000, 500).await.unwrap());
}

pub async fn key_encryption_keys_are_kept_and_rewrapped<S: Store>(store: &S) {
    let key = KeyEncryptionKeyRecord {
        key_id: "k1".into(),
        wrapped_material: vec![1, 2, 3],
        created_at: 5,
    };
    assert!(store.insert_key_encryption_key(key.clone()).await.unwrap());
    let mut other = key.clone();
    other.wrapped_material = vec![9];
    assert!(
        !store
            .insert_key_encryption_key(other.clone())
            .await
            .unwrap(),
        "first write wins"
    );
    assert_eq!(store.key_encryption_keys().await.unwrap(), vec![key]);
    store
        .rewrap_key_encryption_keys(vec![other.clone()])
        .await
        .unwrap();
    assert_eq!(store.key_encryption_keys().await.unwrap(), vec![other]);
}

pub async fn access_keys_are_stored<S: Store>(store: &S) {
    let key = AccessKeyRecord {
        access_key_id: "AKIAEXAMPLE000000001".into(),
        account_id: ACCOUNT.into(),
        user_name: "admin".into(),
        sealed_secret_access_key: vec![7; 60],
        status: AccessKeyStatus::Active,
        created_at: 3,
    };
    assert_eq!(
        store.insert_access_key(key.clone(), None).await.unwrap(),
        AccessKeyInsert::Inserted
    );
    assert_eq!(
        store.insert_access_key(key.clone(), None).await.unwrap(),
        AccessKeyInsert::IdTaken
    );
    assert_eq!(
        store.access_key("AKIAEXAMPLE000000001").await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(
        store.access_key("AKIAEXAMPLE000000002").await.unwrap(),
        None
    );

    // The per-user quota counts the user's keys (names ignoring case) in the same step.
    let key_of = |id: &str, user: &str| AccessKeyRecord {
        access_key_id: id.into(),
        user_name: user.into(),
        ..key.clone()
    };
    for (id, user, expected) in [
        ("AKIAEXAMPLE000000011", "bob", AccessKeyInsert::Inserted),
        ("AKIAEXAMPLE000000012", "Bob", AccessKeyInsert::Inserted),
        ("AKIAEXAMPLE000000013", "bob", AccessKeyInsert::QuotaReached),
        ("AKIAEXAMPLE000000001", "carol", AccessKeyInsert::IdTaken),
    ] {
        assert_eq!(
            store
                .insert_access_key(key_of(id, user), Some(2))
                .await
                .unwrap(),
            expected,
            "{id} for {user}"
        );
    }
    assert_eq!(
        store.access_key("AKIAEXAMPLE000000013").await.unwrap(),
        None
    );
}

fn kms_key(key_id: &str, created_at: i64) -> KmsKeyRecord {
    KmsKeyRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        key_id: key_id.into(),
        document: format!("{{\"state\":\"Enabled\",\"n\":{created_at}}}"),
        created_at,
        revision: 1,
    }
}

fn kms_material(key_id: &str, material_id: &str, created_at: i64) -> KmsMaterialRecord {
    KmsMaterialRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        key_id: key_id.into(),
        material_id: material_id.into(),
        sealed_material: vec![created_at as u8; 60],
        created_at,
    }
}

fn kms_alias(name: &str, target: &str, at: i64) -> KmsAliasRecord {
    KmsAliasRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        alias_name: name.into(),
        target_key_id: target.into(),
        created_at: at,
        updated_at: at,
    }
}

pub async fn kms_keys_materials_and_aliases_are_stored<S: Store>(store: &S) {
    let g0 = store.kms_generation().await.unwrap();
    let a = "11111111-1111-4111-8111-111111111111";
    let b = "22222222-2222-4222-8222-222222222222";
    assert!(
        store
            .create_kms_key(kms_key(a, 1), kms_material(a, "m1", 1), None)
            .await
            .unwrap()
    );
    assert!(store.kms_generation().await.unwrap() > g0);
    assert_eq!(
        store.kms_key(ACCOUNT, REGION, a).await.unwrap(),
        Some(kms_key(a, 1))
    );
    assert_eq!(store.kms_key(ACCOUNT, "eu-west-1", a).await.unwrap(), None);
    // The same id again is refused.
    assert!(matches!(
        store
            .create_kms_key(kms_key(a, 2), kms_material(a, "m9", 2), None)
            .await,
        Err(StoreError::NameTaken)
    ));

    // A key with an alias, all or nothing: a second key claiming the alias writes nothing.
    let alias = kms_alias("alias/aws/secretsmanager", b, 3);
    assert!(
        store
            .create_kms_key(kms_key(b, 3), kms_material(b, "m1", 3), Some(alias.clone()))
            .await
            .unwrap()
    );
    let c = "33333333-3333-4333-8333-333333333333";
    let rival = kms_alias("alias/aws/secretsmanager", c, 4);
    assert!(
        !store
            .create_kms_key(kms_key(c, 4), kms_material(c, "m1", 4), Some(rival))
            .await
            .unwrap()
    );
    assert_eq!(store.kms_key(ACCOUNT, REGION, c).await.unwrap(), None);
    assert!(
        store
            .kms_materials(ACCOUNT, REGION, c)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .kms_alias(ACCOUNT, REGION, "alias/aws/secretsmanager")
            .await
            .unwrap(),
        Some(alias)
    );

    // Updates compare and swap the revision; a rotation adds material in the same step.
    let mut next = kms_key(a, 1);
    next.document = "{\"state\":\"Disabled\"}".into();
    next.revision = 2;
    store
        .update_kms_key(next.clone(), 1, Some(kms_material(a, "m2", 5)))
        .await
        .unwrap();
    assert!(matches!(
        store.update_kms_key(next.clone(), 1, None).await,
        Err(StoreError::Conflict)
    ));
    let mut ghost = kms_key(c, 1);
    ghost.revision = 2;
    assert!(matches!(
        store.update_kms_key(ghost, 1, None).await,
        Err(StoreError::NotFound)
    ));
    let materials = store.kms_materials(ACCOUNT, REGION, a).await.unwrap();
    assert_eq!(
        materials
            .iter()
            .map(|m| m.material_id.as_str())
            .collect::<Vec<_>>(),
        ["m1", "m2"]
    );
    assert_eq!(materials[1], kms_material(a, "m2", 5));

    // Listing pages by key id.
    let page = store.kms_keys(ACCOUNT, REGION, None, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].key_id, a);
    let rest = store.kms_keys(ACCOUNT, REGION, Some(a), 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(),
        [b]
    );

    // Aliases: create, list, update, delete.
    assert!(
        store
            .create_kms_alias(kms_alias("alias/app", a, 6))
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_kms_alias(kms_alias("alias/app", b, 7))
            .await
            .unwrap()
    );
    assert!(
        store
            .update_kms_alias(ACCOUNT, REGION, "alias/app", b, 8)
            .await
            .unwrap()
    );
    assert!(
        !store
            .update_kms_alias(ACCOUNT, REGION, "alias/none", b, 8)
            .await
            .unwrap()
    );
    let app = store
        .kms_alias(ACCOUNT, REGION, "alias/app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (app.target_key_id.as_str(), app.created_at, app.updated_at),
        (b, 6, 8)
    );
    let names: Vec<String> = store
        .kms_aliases(ACCOUNT, REGION, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.alias_name)
        .collect();
    assert_eq!(names, ["alias/app", "alias/aws/secretsmanager"]);
    assert_eq!(
        store
            .kms_aliases(ACCOUNT, REGION, Some("alias/app"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .delete_kms_alias(ACCOUNT, REGION, "alias/app")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_kms_alias(ACCOUNT, REGION, "alias/app")
            .await
            .unwrap()
    );

    // Deleting a key removes its material and the aliases naming it.
    assert!(!store.delete_kms_key(ACCOUNT, REGION, b, 9).await.unwrap());
    assert!(store.delete_kms_key(ACCOUNT, REGION, b, 1).await.unwrap());
    assert_eq!(store.kms_key(ACCOUNT, REGION, b).await.unwrap(), None);
    assert!(
        store
            .kms_materials(ACCOUNT, REGION, b)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .kms_alias(ACCOUNT, REGION, "alias/aws/secretsmanager")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.kms_materials(ACCOUNT, REGION, a).await.unwrap().len(),
        2
    );
}

fn audit_entry(n: i64, name: &str, resource: &str) -> NewAuditRecord {
    NewAuditRecord {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        event_time: 1_000 * n,
        event_id: format!("event-{n}"),
        event_name: name.into(),
        event_source: "secretsmanager.amazonaws.com".into(),
        read_only: name.starts_with("Get"),
        username: Some(if n % 2 == 0 { "alice" } else { "bob" }.into()),
        access_key_id: Some(format!("AKIA{n:016}")),
        resources: vec![("AWS::SecretsManager::Secret".into(), resource.into())],
        record: format!("{{\"n\":{n}}}"),
    }
}

fn test_link(seq: u64, previous: &[u8], record: &[u8]) -> [u8; 32] {
    // Any deterministic function of the three will do for the store's behaviour.
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&seq.to_be_bytes());
    out[8] = previous.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    out[9] = record.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    out
}

pub async fn audit_records_are_chained_looked_up_and_purged<S: Store>(store: &S) {
    assert_eq!(store.audit_head().await.unwrap(), None);
    let first: Vec<NewAuditRecord> = (1..=3)
        .map(|n| audit_entry(n, "GetSecretValue", "arn:secret:a"))
        .collect();
    assert_eq!(
        store
            .append_audit_records(std::sync::Arc::new(first), test_link)
            .await
            .unwrap(),
        [1, 2, 3]
    );
    let second: Vec<NewAuditRecord> = (4..=6)
        .map(|n| audit_entry(n, "PutSecretValue", "arn:secret:b"))
        .collect();
    assert_eq!(
        store
            .append_audit_records(std::sync::Arc::new(second), test_link)
            .await
            .unwrap(),
        [4, 5, 6]
    );
    let all = store.audit_records(0, 100).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[0].previous_hash, vec![0u8; 32]);
    for pair in all.windows(2) {
        assert_eq!(
            pair[1].previous_hash, pair[0].hash,
            "the chain links each record"
        );
        assert_eq!(
            pair[1].hash.as_slice(),
            test_link(
                pair[1].seq as u64,
                &pair[1].previous_hash,
                pair[1].entry.record.as_bytes()
            )
        );
    }
    assert_eq!(
        store.audit_head().await.unwrap(),
        Some((6, all[5].hash.clone()))
    );
    assert_eq!(
        all[3].entry,
        audit_entry(4, "PutSecretValue", "arn:secret:b")
    );

    // Lookups: newest first, by attribute, time range and cursor.
    let query = |attribute: Option<(AuditAttribute, &str)>| AuditQuery {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        attribute: attribute.map(|(a, v)| (a, v.to_owned())),
        start_time: 0,
        end_time: i64::MAX,
        before_seq: None,
        limit: 100,
    };
    let seqs = |rows: Vec<AuditRecordRow>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.lookup_audit_records(query(None)).await.unwrap()),
        [6, 5, 4, 3, 2, 1]
    );
    for (attribute, value, expected) in [
        (AuditAttribute::EventName, "GetSecretValue", vec![3, 2, 1]),
        (AuditAttribute::ReadOnly, "false", vec![6, 5, 4]),
        (AuditAttribute::Username, "alice", vec![6, 4, 2]),
        (AuditAttribute::EventId, "event-5", vec![5]),
        (AuditAttribute::AccessKeyId, "AKIA0000000000000003", vec![3]),
        (AuditAttribute::ResourceName, "arn:secret:b", vec![6, 5, 4]),
        (AuditAttribute::ResourceName, "arn:secret", vec![]),
        (
            AuditAttribute::ResourceType,
            "AWS::SecretsManager::Secret",
            vec![6, 5, 4, 3, 2, 1],
        ),
        (AuditAttribute::EventSource, "kms.amazonaws.com", vec![]),
    ] {
        assert_eq!(
            seqs(
                store
                    .lookup_audit_records(query(Some((attribute, value))))
                    .await
                    .unwrap()
            ),
            expected,
            "{attribute:?} = {value}"
        );
    }
    let mut page = query(None);
    page.start_time = 2_000;
    page.end_time = 5_000;
    page.before_seq = Some(5);
    page.limit = 2;
    assert_eq!(
        seqs(store.lookup_audit_records(page).await.unwrap()),
        [4, 3]
    );

    // Digests.
    let digest = AuditDigestRow {
        seq: 3,
        head_hash: all[2].hash.clone(),
        created_at: 7,
        public_key: vec![1; 32],
        signature: vec![2; 64],
    };
    store.append_audit_digest(digest.clone()).await.unwrap();
    store.append_audit_digest(digest.clone()).await.unwrap();
    assert_eq!(store.audit_digests().await.unwrap(), vec![digest]);

    // Retention removes from the front only and always keeps the head.
    assert_eq!(store.purge_audit_records(3_500).await.unwrap(), 3);
    assert_eq!(seqs(store.audit_records(0, 100).await.unwrap()), [4, 5, 6]);
    assert!(store.audit_digests().await.unwrap().is_empty());
    assert_eq!(store.purge_audit_records(i64::MAX).await.unwrap(), 2);
    assert_eq!(seqs(store.audit_records(0, 100).await.unwrap()), [6]);
    assert_eq!(
        store
            .append_audit_records(
                std::sync::Arc::new(vec![audit_entry(7, "ListSecrets", "")]),
                test_link,
            )
            .await
            .unwrap(),
        [7]
    );
}

pub async fn resource_policies_are_stored_verbatim<S: Store>(store: &S) {
    let mut record = secret("with-policy", 1);
    let text = "{ \"Version\" : \"2012-10-17\",\n  \"Statement\": [] }";
    record.resource_policy = Some(text.into());
    store.create_secret(record.clone(), vec![]).await.unwrap();
    assert_eq!(
        store
            .secret_by_arn(&record.arn)
            .await
            .unwrap()
            .unwrap()
            .secret
            .resource_policy
            .as_deref(),
        Some(text)
    );
    let mut next = record.clone();
    next.revision = 2;
    next.resource_policy = None;
    store
        .update_secret(SecretChange {
            secret: next,
            expected_revision: 1,
            put_versions: vec![],
            delete_versions: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .secret_by_arn(&record.arn)
            .await
            .unwrap()
            .unwrap()
            .secret
            .resource_policy,
        None
    );
}

fn entity(kind: IamKind, name: &str, document: &str) -> IamEntityRecord {
    IamEntityRecord {
        account_id: ACCOUNT.into(),
        kind,
        name: name.into(),
        document: document.into(),
        created_at: 7,
        revision: 1,
    }
}

pub async fn iam_entities_are_unique_ignoring_case_and_swap_by_revision<S: Store>(store: &S) {
    let before = store.iam_generation().await.unwrap();
    store
        .put_iam_entity(entity(IamKind::User, "Alice", "{}"), None)
        .await
        .unwrap();
    assert!(
        store.iam_generation().await.unwrap() > before,
        "every change moves the generation"
    );
    assert!(matches!(
        store
            .put_iam_entity(entity(IamKind::User, "alice", "{}"), None)
            .await,
        Err(StoreError::NameTaken)
    ));
    // Another kind, or another account, may use the name.
    store
        .put_iam_entity(entity(IamKind::Role, "alice", "{}"), None)
        .await
        .unwrap();
    let mut other = entity(IamKind::User, "alice", "{}");
    other.account_id = "999999999999".into();
    store.put_iam_entity(other, None).await.unwrap();

    let found = store
        .iam_entity(ACCOUNT, IamKind::User, "ALICE")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.name, "Alice", "the name keeps its case");
    let mut next = found.clone();
    next.document = "{\"v\":2}".into();
    next.revision = 2;
    store.put_iam_entity(next.clone(), Some(1)).await.unwrap();
    assert!(matches!(
        store.put_iam_entity(next.clone(), Some(1)).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store
            .put_iam_entity(entity(IamKind::User, "nobody", "{}"), Some(1))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .iam_entity(ACCOUNT, IamKind::User, "alice")
            .await
            .unwrap()
            .unwrap()
            .document,
        "{\"v\":2}"
    );
    assert!(
        !store
            .delete_iam_entity(ACCOUNT, IamKind::User, "alice", 1)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_iam_entity(ACCOUNT, IamKind::User, "alice", 2)
            .await
            .unwrap()
    );
    assert!(
        store
            .iam_entity(ACCOUNT, IamKind::User, "alice")
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn iam_entities_list_in_name_order<S: Store>(store: &S) {
    for name in ["carol", "Bob", "alice", "dave"] {
        store
            .put_iam_entity(entity(IamKind::Group, name, "{}"), None)
            .await
            .unwrap();
    }
    store
        .put_iam_entity(entity(IamKind::User, "zed", "{}"), None)
        .await
        .unwrap();
    let names = |page: Vec<IamEntityRecord>| page.into_iter().map(|e| e.name).collect::<Vec<_>>();
    assert_eq!(
        names(
            store
                .iam_entities(ACCOUNT, IamKind::Group, None, 10)
                .await
                .unwrap()
        ),
        ["alice", "Bob", "carol", "dave"]
    );
    assert_eq!(
        names(
            store
                .iam_entities(ACCOUNT, IamKind::Group, Some("bob"), 2)
                .await
                .unwrap()
        ),
        ["carol", "dave"]
    );
}

pub async fn access_keys_are_listed_updated_and_deleted<S: Store>(store: &S) {
    for (i, user) in ["Alice", "alice", "bob"].iter().enumerate() {
        let key = AccessKeyRecord {
            access_key_id: format!("AKIAEXAMPLE00000000{i}"),
            account_id: ACCOUNT.into(),
            user_name: (*user).into(),
            sealed_secret_access_key: vec![i as u8],
            status: AccessKeyStatus::Active,
            created_at: i as i64,
        };
        store.insert_access_key(key, None).await.unwrap();
    }
    let alice = store.access_keys_of_user(ACCOUNT, "ALICE").await.unwrap();
    assert_eq!(alice.len(), 2, "user names compare ignoring case");
    let before = store.iam_generation().await.unwrap();
    assert!(
        store
            .update_access_key_status("AKIAEXAMPLE000000000", AccessKeyStatus::Inactive)
            .await
            .unwrap()
    );
    assert!(store.iam_generation().await.unwrap() > before);
    assert_eq!(
        store
            .access_key("AKIAEXAMPLE000000000")
            .await
            .unwrap()
            .unwrap()
            .status,
        AccessKeyStatus::Inactive
    );
    assert!(
        !store
            .update_access_key_status("AKIANOPE", AccessKeyStatus::Active)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_access_key("AKIAEXAMPLE000000001")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_access_key("AKIAEXAMPLE000000001")
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .access_keys_of_user(ACCOUNT, "alice")
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn settings_keep_the_first_value<S: Store>(store: &S) {
    assert_eq!(
        store.setting_or_insert("k", vec![1]).await.unwrap(),
        vec![1]
    );
    assert_eq!(
        store.setting_or_insert("k", vec![2]).await.unwrap(),
        vec![1]
    );
}

pub async fn concurrent_writers_serialise_per_secret<S: Store>(store: Arc<S>) {
    let record = secret("hot", 1);
    store.create_secret(record.clone(), vec![]).await.unwrap();
    // Sixteen writers race read-modify-write loops; every one must land exactly once.
    let mut tasks = Vec::new();
    for writer in 0..16 {
        let store = store.clone();
        let arn = record.arn.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let current = store.secret_by_arn(&arn).await.unwrap().unwrap();
                let mut next = current.secret.clone();
                next.revision += 1;
                next.stages
                    .insert(format!("W{writer}"), format!("v{writer}"));
                let change = SecretChange {
                    secret: next,
                    expected_revision: current.secret.revision,
                    put_versions: vec![version(&format!("v{writer}"), writer, Some(b"x"))],
                    delete_versions: vec![],
                };
                match store.update_secret(change).await {
                    Ok(()) => break,
                    Err(StoreError::Conflict) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let loaded = store.secret_by_arn(&record.arn).await.unwrap().unwrap();
    assert_eq!(loaded.secret.revision, 17);
    assert_eq!(loaded.secret.stages.len(), 16);
    assert_eq!(loaded.versions.len(), 16);
}

pub async fn close_makes_later_calls_fail<S: Store>(store: &S) {
    store.create_secret(secret("x", 1), vec![]).await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(
        store.secret_by_name(ACCOUNT, REGION, "x").await,
        Err(StoreError::Unavailable(_))
    ));
}

/// Instantiates every case as a `#[tokio::test]`; `$make` is an async expression that
/// yields `(store, guard)`: a fresh, empty store and whatever must outlive it (a temporary
/// directory, a scratch database).
#[macro_export]
macro_rules! store_behaviour_suite {
    ($make:expr) => {
        $crate::store_behaviour_suite!(@cases $make;
            create_and_load,
            names_are_unique_per_account_and_region,
            updates_compare_and_swap_the_revision,
            versions_are_inserted_replaced_and_deleted,
            delete_removes_the_secret_and_its_versions,
            access_dates_move_forward_only_and_leave_the_revision,
            list_pages_in_every_order,
            list_filters_by_prefix_and_planned_deletion,
            paging_survives_concurrent_inserts,
            prefixes_shared_by_many_secrets_page_correctly,
            due_deletions_are_found_in_date_order,
            rotation_state_is_kept_and_due_rotations_found,
            leases_have_one_holder_until_they_expire,
            key_encryption_keys_are_kept_and_rewrapped,
            access_keys_are_stored,
            kms_keys_materials_and_aliases_are_stored,
            audit_records_are_chained_looked_up_and_purged,
            settings_keep_the_first_value,
            resource_policies_are_stored_verbatim,
            iam_entities_are_unique_ignoring_case_and_swap_by_revision,
            iam_entities_list_in_name_order,
            access_keys_are_listed_updated_and_deleted,
            close_makes_later_calls_fail,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_writers_serialise_per_secret() {
            let (store, _guard) = $make;
            $crate::behaviour::concurrent_writers_serialise_per_secret(std::sync::Arc::new(store)).await;
        }
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make;
                $crate::behaviour::$case(&store).await;
            }
        )*
    };
}
