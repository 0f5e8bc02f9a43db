//! Staging labels and version retention (spec §4.4–4.5), as pure functions over a secret's
//! label map and version list.

use std::collections::BTreeMap;

use coffer_store::VersionMeta;

use crate::clock::{DAY, Millis};
use crate::error::{SecretsError, SecretsResult};

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
pub const AWSPENDING: &str = "AWSPENDING";

/// Labels attached across all versions of one secret (AWS quota).
pub const MAX_LABELS_PER_SECRET: usize = 20;
/// Versions one secret keeps (AWS quota, not adjustable).
pub const MAX_VERSIONS_PER_SECRET: usize = 100;
/// Deprecated versions younger than this are never removed.
pub const MIN_VERSION_AGE_BEFORE_REMOVAL: Millis = DAY;

/// Label -> version id.
pub type Stages = BTreeMap<String, String>;

/// Attaches `label` to `target`, detaching it from its previous holder. When AWSCURRENT
/// moves, the version that lost it becomes AWSPREVIOUS (taking that label from whoever had
/// it), and the new current version cannot also be AWSPREVIOUS.
pub fn attach(stages: &mut Stages, label: &str, target: &str) {
    let holder = stages.insert(label.to_owned(), target.to_owned());
    if label == AWSCURRENT {
        if let Some(previous_current) = holder.filter(|h| h != target) {
            stages.insert(AWSPREVIOUS.to_owned(), previous_current);
        }
        if stages.get(AWSPREVIOUS).map(String::as_str) == Some(target) {
            stages.remove(AWSPREVIOUS);
        }
    }
}

/// UpdateSecretVersionStage's move of one label (spec §3.6). The caller has checked that
/// both version ids, when given, are versions of the secret.
pub fn move_label(
    stages: &mut Stages,
    label: &str,
    remove_from: Option<&str>,
    move_to: Option<&str>,
) -> SecretsResult<()> {
    let holder = stages.get(label).cloned();
    match (remove_from, holder.as_deref()) {
        (Some(remove_from), holder) if holder != Some(remove_from) => {
            return Err(SecretsError::StageNotAttachedToVersion {
                label: label.to_owned(),
                version_id: remove_from.to_owned(),
            });
        }
        (None, Some(holder)) if move_to != Some(holder) => {
            return Err(SecretsError::RemoveFromVersionIdRequired {
                label: label.to_owned(),
                version_id: holder.to_owned(),
            });
        }
        _ => {}
    }
    match move_to {
        Some(target) => attach(stages, label, target),
        None if remove_from.is_some() && label == AWSCURRENT => {
            return Err(SecretsError::CannotDetachCurrent);
        }
        None if remove_from.is_some() => {
            stages.remove(label);
        }
        None => {}
    }
    Ok(())
}

/// The labels on one version, in a stable (sorted) order.
pub fn labels_of(stages: &Stages, version_id: &str) -> Vec<String> {
    let mut labels: Vec<String> = stages
        .iter()
        .filter(|(_, v)| v.as_str() == version_id)
        .map(|(label, _)| label.clone())
        .collect();
    labels.sort();
    labels
}

/// Version id -> its labels, for `VersionIdsToStages` / `SecretVersionsToStages`.
pub fn versions_to_stages(stages: &Stages) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (label, version_id) in stages {
        map.entry(version_id.clone())
            .or_default()
            .push(label.clone());
    }
    map
}

/// Labels for a version created by PutSecretValue / UpdateSecret / CreateSecret.
/// `requested` is the request's `VersionStages` (already defaulted to `[AWSCURRENT]`).
pub fn label_new_version(stages: &mut Stages, version_id: &str, requested: &[String]) {
    let had_current = stages.contains_key(AWSCURRENT);
    for label in requested {
        attach(stages, label, version_id);
    }
    // A secret's first value is always current, whatever labels were asked for.
    if !had_current {
        attach(stages, AWSCURRENT, version_id);
    }
    // A new current value abandons any rotation in progress: its pending version loses the
    // label unless this very call asked for AWSPENDING.
    let became_current = stages.get(AWSCURRENT).map(String::as_str) == Some(version_id);
    if had_current && became_current && !requested.iter().any(|l| l == AWSPENDING) {
        stages.remove(AWSPENDING);
    }
}

pub fn check_label_quota(stages: &Stages) -> SecretsResult<()> {
    if stages.len() > MAX_LABELS_PER_SECRET {
        return Err(SecretsError::TooManyStagingLabels);
    }
    Ok(())
}

/// Versions to remove so that at most 100 remain: deprecated (unlabelled) ones, oldest
/// first, never one younger than 24 hours. Fails when that is not enough.
pub fn versions_to_remove(
    versions: &[VersionMeta],
    stages: &Stages,
    now: Millis,
) -> SecretsResult<Vec<String>> {
    let excess = versions.len().saturating_sub(MAX_VERSIONS_PER_SECRET);
    if excess == 0 {
        return Ok(Vec::new());
    }
    let labelled: std::collections::HashSet<&str> = stages.values().map(String::as_str).collect();
    let mut removable: Vec<&VersionMeta> = versions
        .iter()
        .filter(|v| !labelled.contains(v.version_id.as_str()))
        .filter(|v| now - v.created_at >= MIN_VERSION_AGE_BEFORE_REMOVAL)
        .collect();
    if removable.len() < excess {
        return Err(SecretsError::TooManyVersions);
    }
    removable.sort_by(|a, b| (a.created_at, &a.version_id).cmp(&(b.created_at, &b.version_id)));
    Ok(removable
        .into_iter()
        .take(excess)
        .map(|v| v.version_id.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(stages: &Stages) -> BTreeMap<String, Vec<String>> {
        versions_to_stages(stages)
    }

    fn put(stages: &mut Stages, version: &str, labels: &[&str]) {
        let labels: Vec<String> = if labels.is_empty() {
            vec![AWSCURRENT.to_owned()]
        } else {
            labels.iter().map(|l| l.to_string()).collect()
        };
        label_new_version(stages, version, &labels);
    }

    fn expect(stages: &Stages, expected: &[(&str, &[&str])]) {
        let want: BTreeMap<String, Vec<String>> = expected
            .iter()
            .map(|(v, ls)| {
                let mut ls: Vec<String> = ls.iter().map(|l| l.to_string()).collect();
                ls.sort();
                (v.to_string(), ls)
            })
            .collect();
        assert_eq!(state(stages), want);
    }

    fn uvs(stages: &mut Stages, label: &str, remove: Option<&str>, move_to: Option<&str>) {
        move_label(stages, label, remove, move_to).unwrap();
    }

    #[test]
    fn scenario_a() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &["one", "two", "three"]);
        put(&mut s, "v3", &["one", "two", "three", "four"]);
        expect(
            &s,
            &[
                ("v1", &[AWSCURRENT]),
                ("v3", &["four", "one", "three", "two"]),
            ],
        );
    }

    #[test]
    fn scenario_b() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &["one", "two", "three"]);
        put(&mut s, "v3", &["one", "two", "four"]);
        expect(
            &s,
            &[
                ("v1", &[AWSCURRENT]),
                ("v2", &["three"]),
                ("v3", &["four", "one", "two"]),
            ],
        );
    }

    #[test]
    fn scenario_c() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &["AWSSOMETHING", AWSPENDING, "PUT1"]);
        uvs(&mut s, AWSCURRENT, Some("v1"), Some("v2"));
        expect(
            &s,
            &[
                ("v1", &[AWSPREVIOUS]),
                ("v2", &[AWSCURRENT, AWSPENDING, "AWSSOMETHING", "PUT1"]),
            ],
        );
        put(&mut s, "v3", &[AWSPENDING, "PUT2"]);
        expect(
            &s,
            &[
                ("v1", &[AWSPREVIOUS]),
                ("v2", &[AWSCURRENT, "AWSSOMETHING", "PUT1"]),
                ("v3", &[AWSPENDING, "PUT2"]),
            ],
        );
        uvs(&mut s, AWSCURRENT, Some("v2"), Some("v3"));
        expect(
            &s,
            &[
                ("v2", &[AWSPREVIOUS, "AWSSOMETHING", "PUT1"]),
                ("v3", &[AWSCURRENT, AWSPENDING, "PUT2"]),
            ],
        );
    }

    #[test]
    fn scenario_d() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &[AWSCURRENT, "PUT0"]);
        expect(&s, &[("v1", &[AWSPREVIOUS]), ("v2", &[AWSCURRENT, "PUT0"])]);
        put(&mut s, "v3", &[AWSPENDING, "PUT1"]);
        uvs(&mut s, AWSCURRENT, Some("v2"), Some("v3"));
        expect(
            &s,
            &[
                ("v2", &[AWSPREVIOUS, "PUT0"]),
                ("v3", &[AWSCURRENT, AWSPENDING, "PUT1"]),
            ],
        );
        put(&mut s, "v4", &[AWSPENDING, "PUT2"]);
        uvs(&mut s, AWSCURRENT, Some("v3"), Some("v4"));
        expect(
            &s,
            &[
                ("v2", &["PUT0"]),
                ("v3", &[AWSPREVIOUS, "PUT1"]),
                ("v4", &[AWSCURRENT, AWSPENDING, "PUT2"]),
            ],
        );
    }

    #[test]
    fn scenario_e_custom_pending_label() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &["PENDING"]);
        uvs(&mut s, AWSCURRENT, Some("v1"), Some("v2"));
        expect(
            &s,
            &[("v1", &[AWSPREVIOUS]), ("v2", &[AWSCURRENT, "PENDING"])],
        );
        uvs(&mut s, "PENDING", Some("v2"), None);
        expect(&s, &[("v1", &[AWSPREVIOUS]), ("v2", &[AWSCURRENT])]);
    }

    #[test]
    fn scenario_f_default_puts() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &[]);
        put(&mut s, "v3", &[]);
        expect(&s, &[("v2", &[AWSPREVIOUS]), ("v3", &[AWSCURRENT])]);
    }

    #[test]
    fn a_default_put_abandons_a_pending_rotation() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &[AWSPENDING]);
        uvs(&mut s, AWSCURRENT, Some("v1"), Some("v2"));
        expect(
            &s,
            &[("v1", &[AWSPREVIOUS]), ("v2", &[AWSCURRENT, AWSPENDING])],
        );
        put(&mut s, "v3", &[]);
        expect(&s, &[("v2", &[AWSPREVIOUS]), ("v3", &[AWSCURRENT])]);
    }

    #[test]
    fn the_first_value_is_current_whatever_was_asked() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[AWSPENDING]);
        expect(&s, &[("v1", &[AWSCURRENT, AWSPENDING])]);
    }

    #[test]
    fn rolling_back_to_the_previous_version_swaps_the_two_labels() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &[]);
        attach(&mut s, AWSCURRENT, "v1");
        expect(&s, &[("v1", &[AWSCURRENT]), ("v2", &[AWSPREVIOUS])]);
    }

    fn meta(id: &str, created_at: Millis) -> VersionMeta {
        VersionMeta {
            version_id: id.into(),
            created_at,
            last_accessed_day: None,
            kms_key_id: None,
            has_value: true,
        }
    }

    #[test]
    fn retention_removes_old_deprecated_versions_first() {
        let now = 10 * DAY;
        let mut versions: Vec<VersionMeta> =
            (0..101).map(|i| meta(&format!("v{i:03}"), i)).collect();
        let mut stages = Stages::new();
        stages.insert(AWSCURRENT.into(), "v100".into());
        stages.insert("keep".into(), "v000".into());
        assert_eq!(
            versions_to_remove(&versions, &stages, now).unwrap(),
            ["v001"]
        );
        versions.push(meta("v101", 101));
        assert_eq!(
            versions_to_remove(&versions, &stages, now).unwrap(),
            ["v001", "v002"]
        );
    }

    #[test]
    fn retention_never_removes_versions_younger_than_a_day() {
        let now = DAY;
        let versions: Vec<VersionMeta> = (0..101).map(|i| meta(&format!("v{i:03}"), i)).collect();
        let mut stages = Stages::new();
        stages.insert(AWSCURRENT.into(), "v100".into());
        assert_eq!(
            versions_to_remove(&versions, &stages, now - 1),
            Err(SecretsError::TooManyVersions)
        );
        // Version v000 turns 24 hours old at `now`.
        assert_eq!(
            versions_to_remove(&versions, &stages, now).unwrap(),
            ["v000"]
        );
    }

    #[test]
    fn moving_a_held_label_requires_naming_its_holder() {
        let mut s = Stages::new();
        put(&mut s, "v1", &[]);
        put(&mut s, "v2", &[AWSPENDING]);
        assert_eq!(
            move_label(&mut s, AWSCURRENT, None, Some("v2")),
            Err(SecretsError::RemoveFromVersionIdRequired {
                label: AWSCURRENT.into(),
                version_id: "v1".into()
            })
        );
        assert_eq!(
            move_label(&mut s, AWSCURRENT, Some("v2"), Some("v2")),
            Err(SecretsError::StageNotAttachedToVersion {
                label: AWSCURRENT.into(),
                version_id: "v2".into()
            })
        );
        assert_eq!(
            move_label(&mut s, AWSCURRENT, Some("v1"), None),
            Err(SecretsError::CannotDetachCurrent)
        );
        // Moving a label onto the version that holds it, or attaching a free label, needs no RemoveFrom.
        move_label(&mut s, AWSCURRENT, None, Some("v1")).unwrap();
        move_label(&mut s, "fresh", None, Some("v2")).unwrap();
        // A custom label never creates AWSPREVIOUS.
        move_label(&mut s, "fresh", Some("v2"), Some("v1")).unwrap();
        expect(&s, &[("v1", &[AWSCURRENT, "fresh"]), ("v2", &[AWSPENDING])]);
    }

    #[test]
    fn at_most_twenty_labels() {
        let mut s = Stages::new();
        for i in 0..20 {
            s.insert(format!("L{i}"), "v".into());
        }
        assert!(check_label_quota(&s).is_ok());
        s.insert("L20".into(), "v".into());
        assert_eq!(
            check_label_quota(&s),
            Err(SecretsError::TooManyStagingLabels)
        );
    }
}
