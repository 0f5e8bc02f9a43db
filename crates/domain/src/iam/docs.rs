//! The documents IAM entities are stored as (the store keeps them opaque), unique ids, ARNs and
//! the views operations return.
//!
//! Relationships live on one side only, so that every change is one compare-and-swap: a user
//! lists its groups (a group's members are found by scanning users), a user, group or role
//! lists the managed policies attached to it (a policy's attachments are found by scanning).

use std::collections::BTreeMap;

use coffer_store::{IamEntityRecord, IamKind};
use rand::seq::IndexedRandom;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::iam::error::{IamError, IamResult};
use crate::random::Randomness;

/// A tag as (key, value), in the order given.
pub type TagPair = (String, String);

/// A stored entity document.
pub(crate) trait EntityDoc: Serialize + DeserializeOwned {
    const KIND: IamKind;
    /// The ARN's resource type (`user`, `group`, `role`, `policy`).
    const ARN_KIND: &'static str;
    fn path(&self) -> &str;
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct UserDoc {
    pub id: String,
    pub path: String,
    #[serde(default)]
    pub tags: Vec<TagPair>,
    /// Inline policies by name.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// Attached managed policies, by ARN.
    #[serde(default)]
    pub attached: Vec<String>,
    /// Names of the groups the user is in.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The permissions boundary's policy ARN.
    #[serde(default)]
    pub boundary: Option<String>,
}

impl EntityDoc for UserDoc {
    const KIND: IamKind = IamKind::User;
    const ARN_KIND: &'static str = "user";
    fn path(&self) -> &str {
        &self.path
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct GroupDoc {
    pub id: String,
    pub path: String,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
}

impl EntityDoc for GroupDoc {
    const KIND: IamKind = IamKind::Group;
    const ARN_KIND: &'static str = "group";
    fn path(&self) -> &str {
        &self.path
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct RoleDoc {
    pub id: String,
    pub path: String,
    /// The trust (assume-role) policy.
    pub trust: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: i32,
    #[serde(default)]
    pub tags: Vec<TagPair>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub boundary: Option<String>,
}

impl EntityDoc for RoleDoc {
    const KIND: IamKind = IamKind::Role;
    const ARN_KIND: &'static str = "role";
    fn path(&self) -> &str {
        &self.path
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct PolicyDoc {
    pub id: String,
    pub path: String,
    pub document: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagPair>,
    pub update_date: Millis,
}

impl EntityDoc for PolicyDoc {
    const KIND: IamKind = IamKind::Policy;
    const ARN_KIND: &'static str = "policy";
    fn path(&self) -> &str {
        &self.path
    }
}

pub(crate) fn decode<D: EntityDoc>(record: &IamEntityRecord) -> IamResult<D> {
    serde_json::from_str(&record.document).map_err(|e| {
        IamError::internal(format!(
            "stored {} {} is not readable: {e}",
            record.kind.as_str(),
            record.name
        ))
    })
}

pub(crate) fn encode<D: EntityDoc>(doc: &D) -> String {
    serde_json::to_string(doc).expect("IAM documents serialise")
}

/// `AIDA`/`AROA`/`ANPA`/`AGPA` + 17 upper-case letters and digits.
pub(crate) fn unique_id(prefix: &str, randomness: &Randomness) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = randomness.rng();
    let mut id = String::with_capacity(21);
    id.push_str(prefix);
    for _ in 0..17 {
        id.push(char::from(*ALPHABET.choose(&mut rng).expect("not empty")));
    }
    id
}

/// `arn:{partition}:iam::{account}:{kind}{path}{name}`.
pub fn iam_arn(partition: &str, account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:{kind}{path}{name}")
}

/// The parts of an IAM ARN `arn:{partition}:iam::{account}:{kind}{path}{name}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamArn {
    pub partition: String,
    pub account: String,
    pub kind: String,
    pub path: String,
    pub name: String,
}

impl IamArn {
    pub fn parse(arn: &str) -> Option<IamArn> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let (kind, resource) = rest.split_once('/')?;
        let (path, name) = match resource.rfind('/') {
            Some(at) => (format!("/{}", &resource[..=at]), &resource[at + 1..]),
            None => ("/".to_owned(), resource),
        };
        if partition.is_empty() || account.is_empty() || name.is_empty() {
            return None;
        }
        Some(IamArn {
            partition: partition.to_owned(),
            account: account.to_owned(),
            kind: kind.to_owned(),
            path,
            name: name.to_owned(),
        })
    }
}

/// Paths: `/` or `/a/b/`.
pub(crate) fn normalise_path(path: Option<&str>) -> IamResult<String> {
    let path = path.unwrap_or("/");
    if !path.starts_with('/') || !path.ends_with('/') || path.contains("//") {
        return Err(IamError::Validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters. Value: {path}"
        )));
    }
    Ok(path.to_owned())
}

/// A user as operations return it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserView {
    pub path: String,
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub create_date: Millis,
    pub permissions_boundary: Option<String>,
    /// `None` where AWS omits them (ListUsers, or no tags).
    pub tags: Option<Vec<TagPair>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    pub path: String,
    pub group_name: String,
    pub group_id: String,
    pub arn: String,
    pub create_date: Millis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleView {
    pub path: String,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: Millis,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    pub max_session_duration: i32,
    pub permissions_boundary: Option<String>,
    pub tags: Option<Vec<TagPair>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedPolicyView {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub default_version_id: String,
    pub attachment_count: i32,
    pub permissions_boundary_usage_count: i32,
    pub is_attachable: bool,
    pub description: Option<String>,
    pub create_date: Millis,
    pub update_date: Millis,
    pub tags: Option<Vec<TagPair>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyVersionView {
    pub document: String,
    pub version_id: String,
    pub is_default_version: bool,
    pub create_date: Millis,
}

/// An attached managed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedPolicyView {
    pub policy_name: String,
    pub policy_arn: String,
}

/// An inline policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InlinePolicyView {
    /// The user, group or role name.
    pub entity_name: String,
    pub policy_name: String,
    pub policy_document: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyView {
    pub user_name: String,
    pub access_key_id: String,
    /// `Active` or `Inactive`.
    pub status: &'static str,
    pub create_date: Millis,
    /// Only from CreateAccessKey.
    pub secret_access_key: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for AccessKeyView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyView")
            .field("user_name", &self.user_name)
            .field("access_key_id", &self.access_key_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub is_truncated: bool,
    /// Pass back as `Marker` for the next page.
    pub marker: Option<String>,
}

pub(crate) const DEFAULT_MAX_ITEMS: usize = 100;

pub(crate) fn max_items(requested: Option<i32>) -> usize {
    requested
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_ITEMS)
        .min(1000)
}

/// Markers are the sort key of the last item returned, base64url-encoded so they look opaque.
pub(crate) fn encode_marker(key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub(crate) fn decode_marker(marker: Option<&str>) -> IamResult<Option<String>> {
    use base64::Engine as _;
    let Some(marker) = marker else {
        return Ok(None);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Some)
        .ok_or_else(|| IamError::InvalidInput("Invalid Marker.".into()))
}

/// Pages an in-memory list sorted by `key`.
pub(crate) fn paginate<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    marker: Option<&str>,
    max: Option<i32>,
) -> IamResult<Page<T>> {
    let after = decode_marker(marker)?;
    items.sort_by_key(|item| key(item));
    if let Some(after) = after {
        items.retain(|item| key(item) > after);
    }
    let max = max_items(max);
    let is_truncated = items.len() > max;
    items.truncate(max);
    let marker = if is_truncated {
        items.last().map(|last| encode_marker(&key(last)))
    } else {
        None
    };
    Ok(Page {
        items,
        is_truncated,
        marker,
    })
}

/// Characters of a policy that count towards IAM's size quotas (whitespace does not).
pub(crate) fn policy_size(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse_with_paths() {
        let arn = IamArn::parse("arn:aws:iam::111122223333:role/a/b/app").unwrap();
        assert_eq!(
            (arn.kind.as_str(), arn.path.as_str(), arn.name.as_str()),
            ("role", "/a/b/", "app")
        );
        let arn = IamArn::parse("arn:aws:iam::111122223333:policy/p").unwrap();
        assert_eq!((arn.path.as_str(), arn.name.as_str()), ("/", "p"));
        assert!(IamArn::parse("arn:a:::something/test-role").is_none());
        assert!(IamArn::parse("arn:aws:iam::111122223333:role/").is_none());
    }

    #[test]
    fn ids_have_aws_shapes() {
        let id = unique_id("AIDA", &Randomness::seeded(1));
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
    }

    #[test]
    fn pages_follow_markers() {
        let items: Vec<String> = ["c", "a", "b"].iter().map(|s| s.to_string()).collect();
        let first = paginate(items.clone(), |s| s.clone(), None, Some(2)).unwrap();
        assert_eq!(first.items, ["a", "b"]);
        assert!(first.is_truncated);
        let second = paginate(items, |s| s.clone(), first.marker.as_deref(), Some(2)).unwrap();
        assert_eq!(second.items, ["c"]);
        assert!(!second.is_truncated);
    }
}
