//! The IAM operations (companion spec §5): users, access keys, inline and managed policies,
//! groups and roles. Each operation authorizes the caller first (`IamService::authorize`), on
//! the entity's ARN (with its path when the entity exists), then applies AWS's rules.

use coffer_auth::policy::PolicyKind;
use coffer_store::{AccessKeyInsert, AccessKeyRecord, AccessKeyStatus, IamEntityRecord, Store};
use zeroize::Zeroizing;

use crate::iam::docs::{
    AccessKeyView, AttachedPolicyView, EntityDoc, GroupDoc, GroupView, IamArn, InlinePolicyView,
    ManagedPolicyView, Page, PolicyDoc, PolicyVersionView, RoleDoc, RoleView, TagPair, UserDoc,
    UserView, iam_arn, normalise_path, paginate, policy_size, unique_id,
};
use crate::iam::error::{self, IamError, IamResult};
use crate::iam::policy::validate;
use crate::iam::{Holder, IamService, caller_user_name};
use crate::identity::{AccessKeyPair, Principal};

const ACCESS_KEYS_PER_USER: usize = 2;
const MANAGED_POLICIES_PER_ENTITY: usize = 10;
const TAGS_PER_ENTITY: usize = 50;
const USER_INLINE_POLICY_SIZE: usize = 2_048;
const GROUP_INLINE_POLICY_SIZE: usize = 5_120;
const ROLE_INLINE_POLICY_SIZE: usize = 10_240;
const MANAGED_POLICY_SIZE: usize = 6_144;
const TRUST_POLICY_SIZE: usize = 2_048;
const DEFAULT_MAX_SESSION_DURATION: i32 = 3_600;
/// Every managed policy has exactly one version.
const DEFAULT_VERSION_ID: &str = "v1";

impl Holder {
    fn arn_kind(self) -> &'static str {
        match self {
            Holder::User => "user",
            Holder::Group => "group",
            Holder::Role => "role",
        }
    }

    fn action_noun(self) -> &'static str {
        match self {
            Holder::User => "User",
            Holder::Group => "Group",
            Holder::Role => "Role",
        }
    }

    fn not_found(self, name: &str) -> IamError {
        match self {
            Holder::User => error::no_such_user(name),
            Holder::Group => error::no_such_group(name),
            Holder::Role => error::no_such_role(name),
        }
    }

    fn inline_size_limit(self) -> usize {
        match self {
            Holder::User => USER_INLINE_POLICY_SIZE,
            Holder::Group => GROUP_INLINE_POLICY_SIZE,
            Holder::Role => ROLE_INLINE_POLICY_SIZE,
        }
    }
}

/// The inline policies and attachments every holder has.
trait PolicyHolder: EntityDoc {
    fn inline(&mut self) -> &mut std::collections::BTreeMap<String, String>;
    fn attached(&mut self) -> &mut Vec<String>;
}

impl PolicyHolder for UserDoc {
    fn inline(&mut self) -> &mut std::collections::BTreeMap<String, String> {
        &mut self.inline
    }
    fn attached(&mut self) -> &mut Vec<String> {
        &mut self.attached
    }
}

impl PolicyHolder for GroupDoc {
    fn inline(&mut self) -> &mut std::collections::BTreeMap<String, String> {
        &mut self.inline
    }
    fn attached(&mut self) -> &mut Vec<String> {
        &mut self.attached
    }
}

impl PolicyHolder for RoleDoc {
    fn inline(&mut self) -> &mut std::collections::BTreeMap<String, String> {
        &mut self.inline
    }
    fn attached(&mut self) -> &mut Vec<String> {
        &mut self.attached
    }
}

fn status_name(status: AccessKeyStatus) -> &'static str {
    match status {
        AccessKeyStatus::Active => "Active",
        AccessKeyStatus::Inactive => "Inactive",
    }
}

fn tags_or_none(tags: &[TagPair]) -> Option<Vec<TagPair>> {
    (!tags.is_empty()).then(|| tags.to_vec())
}

fn check_new_tags(tags: &[TagPair]) -> IamResult<()> {
    for (i, (key, _)) in tags.iter().enumerate() {
        if tags[..i].iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(IamError::InvalidInput(
                "User-defined tag keys can't start with \"aws:\". This prefix is reserved for AWS tags."
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Tags merged into `existing`: an existing key (ignoring case) gets the new value.
/// Removes the tags whose keys are listed (ignoring case); `true` when any was removed.
fn remove_tags(existing: &mut Vec<TagPair>, keys: &[String]) -> bool {
    let before = existing.len();
    existing.retain(|(k, _)| !keys.iter().any(|key| key.eq_ignore_ascii_case(k)));
    existing.len() != before
}

fn merge_tags(existing: &mut Vec<TagPair>, new: &[TagPair]) -> IamResult<()> {
    for (key, value) in new {
        match existing
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some(slot) => slot.1 = value.clone(),
            None => existing.push((key.clone(), value.clone())),
        }
    }
    if existing.len() > TAGS_PER_ENTITY {
        return Err(IamError::LimitExceeded(
            "The number of tags has reached the maximum limit.".into(),
        ));
    }
    Ok(())
}

impl<S: Store> IamService<S> {
    fn arn(&self, account: &str, kind: &str, path: &str, name: &str) -> String {
        iam_arn(&self.partition, account, kind, path, name)
    }

    /// The ARN of an entity, with its path when it exists (`/` otherwise).
    async fn entity_arn<D: EntityDoc>(&self, account: &str, name: &str) -> IamResult<String> {
        let path = self
            .load::<D>(account, name)
            .await?
            .map(|(_, d)| d.path().to_owned())
            .unwrap_or_else(|| "/".into());
        Ok(self.arn(account, D::ARN_KIND, &path, name))
    }

    async fn authorize_entity<D: EntityDoc>(
        &self,
        caller: &Principal,
        action: &str,
        name: &str,
    ) -> IamResult<()> {
        let arn = self.entity_arn::<D>(&caller.account_id, name).await?;
        self.authorize(caller, action, &arn).await
    }

    fn user_view(&self, record: &IamEntityRecord, doc: &UserDoc, with_tags: bool) -> UserView {
        UserView {
            path: doc.path.clone(),
            user_name: record.name.clone(),
            user_id: doc.id.clone(),
            arn: self.arn(&record.account_id, "user", &doc.path, &record.name),
            create_date: record.created_at,
            permissions_boundary: doc.boundary.clone(),
            tags: if with_tags {
                tags_or_none(&doc.tags)
            } else {
                None
            },
        }
    }

    fn group_view(&self, record: &IamEntityRecord, doc: &GroupDoc) -> GroupView {
        GroupView {
            path: doc.path.clone(),
            group_name: record.name.clone(),
            group_id: doc.id.clone(),
            arn: self.arn(&record.account_id, "group", &doc.path, &record.name),
            create_date: record.created_at,
        }
    }

    fn role_view(&self, record: &IamEntityRecord, doc: &RoleDoc) -> RoleView {
        RoleView {
            path: doc.path.clone(),
            role_name: record.name.clone(),
            role_id: doc.id.clone(),
            arn: self.arn(&record.account_id, "role", &doc.path, &record.name),
            create_date: record.created_at,
            assume_role_policy_document: doc.trust.clone(),
            description: doc.description.clone(),
            max_session_duration: doc.max_session_duration,
            permissions_boundary: doc.boundary.clone(),
            tags: tags_or_none(&doc.tags),
        }
    }

    fn policy_view(
        &self,
        record: &IamEntityRecord,
        doc: &PolicyDoc,
        attachment_count: i32,
        boundary_count: i32,
    ) -> ManagedPolicyView {
        ManagedPolicyView {
            policy_name: record.name.clone(),
            policy_id: doc.id.clone(),
            arn: self.arn(&record.account_id, "policy", &doc.path, &record.name),
            path: doc.path.clone(),
            default_version_id: DEFAULT_VERSION_ID.into(),
            attachment_count,
            permissions_boundary_usage_count: boundary_count,
            is_attachable: true,
            description: doc.description.clone(),
            create_date: record.created_at,
            update_date: doc.update_date,
            tags: tags_or_none(&doc.tags),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Users
    // ---------------------------------------------------------------------------------------

    pub async fn create_user(
        &self,
        caller: &Principal,
        user_name: &str,
        path: Option<&str>,
        permissions_boundary: Option<&str>,
        tags: Vec<TagPair>,
    ) -> IamResult<UserView> {
        let account = &caller.account_id;
        let path = normalise_path(path)?;
        self.authorize(
            caller,
            "iam:CreateUser",
            &self.arn(account, "user", &path, user_name),
        )
        .await?;
        check_new_tags(&tags)?;
        if let Some(boundary) = permissions_boundary {
            self.require_attachable(account, boundary).await?;
        }
        let doc = UserDoc {
            id: unique_id("AIDA", &self.randomness),
            path,
            tags,
            boundary: permissions_boundary.map(str::to_owned),
            ..UserDoc::default()
        };
        if !self.insert(account, user_name, &doc).await? {
            return Err(IamError::EntityAlreadyExists(format!(
                "User with name {user_name} already exists."
            )));
        }
        let (record, doc) = self
            .load::<UserDoc>(account, user_name)
            .await?
            .ok_or_else(|| error::no_such_user(user_name))?;
        Ok(self.user_view(&record, &doc, true))
    }

    /// GetUser; without a name, the calling user.
    pub async fn get_user(
        &self,
        caller: &Principal,
        user_name: Option<&str>,
    ) -> IamResult<UserView> {
        let name = caller_user_name(caller, user_name)?;
        self.authorize_entity::<UserDoc>(caller, "iam:GetUser", &name)
            .await?;
        let (record, doc) = self
            .load::<UserDoc>(&caller.account_id, &name)
            .await?
            .ok_or_else(|| error::no_such_user(&name))?;
        Ok(self.user_view(&record, &doc, true))
    }

    pub async fn list_users(
        &self,
        caller: &Principal,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<Page<UserView>> {
        self.authorize(
            caller,
            "iam:ListUsers",
            &self.arn(&caller.account_id, "user", "/", "*"),
        )
        .await?;
        let prefix = path_prefix.unwrap_or("/");
        let users: Vec<UserView> = self
            .all::<UserDoc>(&caller.account_id)
            .await?
            .into_iter()
            .filter(|(_, d)| d.path.starts_with(prefix))
            .map(|(r, d)| self.user_view(&r, &d, false))
            .collect();
        paginate(users, |u| u.user_name.to_lowercase(), marker, max_items)
    }

    /// DeleteUser: refused while the user has access keys, policies or group memberships.
    pub async fn delete_user(&self, caller: &Principal, user_name: &str) -> IamResult<()> {
        let account = &caller.account_id;
        self.authorize_entity::<UserDoc>(caller, "iam:DeleteUser", user_name)
            .await?;
        let keys = self.store.access_keys_of_user(account, user_name).await?;
        self.remove::<UserDoc>(
            account,
            user_name,
            || error::no_such_user(user_name),
            |doc| {
                if !keys.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must delete access keys first.".into(),
                    ));
                }
                if !doc.inline.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must delete policies first.".into(),
                    ));
                }
                if !doc.attached.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must detach all policies first.".into(),
                    ));
                }
                if !doc.groups.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must remove users from group first.".into(),
                    ));
                }
                Ok(())
            },
        )
        .await
    }

    pub async fn tag_user(
        &self,
        caller: &Principal,
        user_name: &str,
        tags: Vec<TagPair>,
    ) -> IamResult<()> {
        self.authorize_entity::<UserDoc>(caller, "iam:TagUser", user_name)
            .await?;
        check_new_tags(&tags)?;
        self.modify::<UserDoc, ()>(
            &caller.account_id,
            user_name,
            || error::no_such_user(user_name),
            |doc, _| {
                merge_tags(&mut doc.tags, &tags)?;
                Ok(((), true))
            },
        )
        .await
    }

    pub async fn untag_user(
        &self,
        caller: &Principal,
        user_name: &str,
        keys: Vec<String>,
    ) -> IamResult<()> {
        self.authorize_entity::<UserDoc>(caller, "iam:UntagUser", user_name)
            .await?;
        self.modify::<UserDoc, ()>(
            &caller.account_id,
            user_name,
            || error::no_such_user(user_name),
            |doc, _| Ok(((), remove_tags(&mut doc.tags, &keys))),
        )
        .await
    }

    pub async fn list_user_tags(
        &self,
        caller: &Principal,
        user_name: &str,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<Page<TagPair>> {
        self.authorize_entity::<UserDoc>(caller, "iam:ListUserTags", user_name)
            .await?;
        let (_, doc) = self
            .load::<UserDoc>(&caller.account_id, user_name)
            .await?
            .ok_or_else(|| error::no_such_user(user_name))?;
        let indexed: Vec<(usize, TagPair)> = doc.tags.into_iter().enumerate().collect();
        let page = paginate(indexed, |(i, _)| format!("{i:08}"), marker, max_items)?;
        Ok(Page {
            items: page.items.into_iter().map(|(_, t)| t).collect(),
            is_truncated: page.is_truncated,
            marker: page.marker,
        })
    }

    // ---------------------------------------------------------------------------------------
    // Access keys
    // ---------------------------------------------------------------------------------------

    /// CreateAccessKey: the only time the secret is returned. At most two keys per user.
    pub async fn create_access_key(
        &self,
        caller: &Principal,
        user_name: Option<&str>,
    ) -> IamResult<AccessKeyView> {
        let account = &caller.account_id;
        let name = caller_user_name(caller, user_name)?;
        self.authorize_entity::<UserDoc>(caller, "iam:CreateAccessKey", &name)
            .await?;
        let (record, _) = self
            .load::<UserDoc>(account, &name)
            .await?
            .ok_or_else(|| error::no_such_user(&name))?;
        let pair = AccessKeyPair::generate(&self.randomness);
        let sealed = self
            .keyring
            .seal_access_key(&pair.access_key_id, &pair.secret_access_key)?;
        let now = self.now();
        let inserted = self
            .store
            .insert_access_key(
                AccessKeyRecord {
                    access_key_id: pair.access_key_id.clone(),
                    account_id: account.clone(),
                    user_name: record.name.clone(),
                    sealed_secret_access_key: sealed,
                    status: AccessKeyStatus::Active,
                    created_at: now,
                },
                Some(ACCESS_KEYS_PER_USER),
            )
            .await?;
        match inserted {
            AccessKeyInsert::Inserted => {}
            AccessKeyInsert::QuotaReached => {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
                )));
            }
            AccessKeyInsert::IdTaken => {
                return Err(IamError::internal("a generated access key id collided"));
            }
        }
        self.changed();
        Ok(AccessKeyView {
            user_name: record.name,
            access_key_id: pair.access_key_id.clone(),
            status: "Active",
            create_date: now,
            secret_access_key: Some(Zeroizing::new(pair.secret_access_key.to_string())),
        })
    }

    pub async fn list_access_keys(
        &self,
        caller: &Principal,
        user_name: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<Page<AccessKeyView>> {
        let account = &caller.account_id;
        let name = caller_user_name(caller, user_name)?;
        self.authorize_entity::<UserDoc>(caller, "iam:ListAccessKeys", &name)
            .await?;
        let (record, _) = self
            .load::<UserDoc>(account, &name)
            .await?
            .ok_or_else(|| error::no_such_user(&name))?;
        let keys: Vec<AccessKeyView> = self
            .store
            .access_keys_of_user(account, &record.name)
            .await?
            .into_iter()
            .map(|k| AccessKeyView {
                user_name: record.name.clone(),
                access_key_id: k.access_key_id,
                status: status_name(k.status),
                create_date: k.created_at,
                secret_access_key: None,
            })
            .collect();
        paginate(keys, |k| k.access_key_id.clone(), marker, max_items)
    }

    /// The key, if it belongs to the user.
    async fn user_key(
        &self,
        caller: &Principal,
        user_name: Option<&str>,
        access_key_id: &str,
        action: &str,
    ) -> IamResult<AccessKeyRecord> {
        let name = caller_user_name(caller, user_name)?;
        self.authorize_entity::<UserDoc>(caller, action, &name)
            .await?;
        if user_name.is_some()
            && self
                .load::<UserDoc>(&caller.account_id, &name)
                .await?
                .is_none()
        {
            return Err(error::no_such_user(&name));
        }
        self.store
            .access_key(access_key_id)
            .await?
            .filter(|k| {
                k.account_id == caller.account_id && k.user_name.eq_ignore_ascii_case(&name)
            })
            .ok_or_else(|| error::no_such_access_key(access_key_id))
    }

    /// UpdateAccessKey: `Active` or `Inactive`; an inactive key stops authenticating at once on
    /// this node (and within a second on others).
    pub async fn update_access_key(
        &self,
        caller: &Principal,
        user_name: Option<&str>,
        access_key_id: &str,
        status: &str,
    ) -> IamResult<()> {
        let status = match status {
            "Active" => AccessKeyStatus::Active,
            "Inactive" => AccessKeyStatus::Inactive,
            other => {
                return Err(IamError::InvalidInput(format!(
                    "Status {other} is not valid for an access key; use Active or Inactive."
                )));
            }
        };
        let key = self
            .user_key(caller, user_name, access_key_id, "iam:UpdateAccessKey")
            .await?;
        if !self
            .store
            .update_access_key_status(&key.access_key_id, status)
            .await?
        {
            return Err(error::no_such_access_key(access_key_id));
        }
        self.changed();
        Ok(())
    }

    pub async fn delete_access_key(
        &self,
        caller: &Principal,
        user_name: Option<&str>,
        access_key_id: &str,
    ) -> IamResult<()> {
        let key = self
            .user_key(caller, user_name, access_key_id, "iam:DeleteAccessKey")
            .await?;
        if !self.store.delete_access_key(&key.access_key_id).await? {
            return Err(error::no_such_access_key(access_key_id));
        }
        self.changed();
        Ok(())
    }

    // ---------------------------------------------------------------------------------------
    // Inline policies (users, groups, roles)
    // ---------------------------------------------------------------------------------------

    async fn authorize_holder(
        &self,
        caller: &Principal,
        holder: Holder,
        verb: &str,
        suffix: &str,
        name: &str,
    ) -> IamResult<()> {
        let action = format!("iam:{verb}{}{suffix}", holder.action_noun());
        match holder {
            Holder::User => {
                self.authorize_entity::<UserDoc>(caller, &action, name)
                    .await
            }
            Holder::Group => {
                self.authorize_entity::<GroupDoc>(caller, &action, name)
                    .await
            }
            Holder::Role => {
                self.authorize_entity::<RoleDoc>(caller, &action, name)
                    .await
            }
        }
    }

    /// PutUserPolicy / PutGroupPolicy / PutRolePolicy: creates or replaces an inline policy.
    pub async fn put_inline_policy(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        policy_name: &str,
        document: &str,
    ) -> IamResult<()> {
        self.authorize_holder(caller, holder, "Put", "Policy", entity_name)
            .await?;
        validate(document, PolicyKind::Identity)?;
        let limit = holder.inline_size_limit();
        let change = |inline: &mut std::collections::BTreeMap<String, String>, name: &str| {
            inline.insert(policy_name.to_owned(), document.to_owned());
            let total: usize = inline.values().map(|d| policy_size(d)).sum();
            if total > limit {
                return Err(IamError::LimitExceeded(format!(
                    "Maximum policy size of {limit} bytes exceeded for {} {name}",
                    holder.arn_kind()
                )));
            }
            Ok(((), true))
        };
        self.modify_holder(caller, holder, entity_name, change)
            .await
    }

    async fn modify_holder<T>(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        mut change: impl FnMut(
            &mut std::collections::BTreeMap<String, String>,
            &str,
        ) -> IamResult<(T, bool)>,
    ) -> IamResult<T> {
        let account = &caller.account_id;
        let not_found = || holder.not_found(entity_name);
        match holder {
            Holder::User => {
                self.modify::<UserDoc, T>(account, entity_name, not_found, |d, r| {
                    change(d.inline(), &r.name)
                })
                .await
            }
            Holder::Group => {
                self.modify::<GroupDoc, T>(account, entity_name, not_found, |d, r| {
                    change(d.inline(), &r.name)
                })
                .await
            }
            Holder::Role => {
                self.modify::<RoleDoc, T>(account, entity_name, not_found, |d, r| {
                    change(d.inline(), &r.name)
                })
                .await
            }
        }
    }

    async fn modify_attached<T>(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        mut change: impl FnMut(&mut Vec<String>) -> IamResult<(T, bool)>,
    ) -> IamResult<T> {
        let account = &caller.account_id;
        let not_found = || holder.not_found(entity_name);
        match holder {
            Holder::User => {
                self.modify::<UserDoc, T>(account, entity_name, not_found, |d, _| {
                    change(d.attached())
                })
                .await
            }
            Holder::Group => {
                self.modify::<GroupDoc, T>(account, entity_name, not_found, |d, _| {
                    change(d.attached())
                })
                .await
            }
            Holder::Role => {
                self.modify::<RoleDoc, T>(account, entity_name, not_found, |d, _| {
                    change(d.attached())
                })
                .await
            }
        }
    }

    /// (canonical entity name, inline policies, attached ARNs)
    async fn holder_policies(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
    ) -> IamResult<(
        String,
        std::collections::BTreeMap<String, String>,
        Vec<String>,
    )> {
        let account = &caller.account_id;
        let found = match holder {
            Holder::User => self
                .load::<UserDoc>(account, entity_name)
                .await?
                .map(|(r, d)| (r.name, d.inline, d.attached)),
            Holder::Group => self
                .load::<GroupDoc>(account, entity_name)
                .await?
                .map(|(r, d)| (r.name, d.inline, d.attached)),
            Holder::Role => self
                .load::<RoleDoc>(account, entity_name)
                .await?
                .map(|(r, d)| (r.name, d.inline, d.attached)),
        };
        found.ok_or_else(|| holder.not_found(entity_name))
    }

    pub async fn get_inline_policy(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        policy_name: &str,
    ) -> IamResult<InlinePolicyView> {
        self.authorize_holder(caller, holder, "Get", "Policy", entity_name)
            .await?;
        let (name, inline, _) = self.holder_policies(caller, holder, entity_name).await?;
        let document = inline.get(policy_name).cloned().ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The {} policy with name {policy_name} cannot be found.",
                holder.arn_kind()
            ))
        })?;
        Ok(InlinePolicyView {
            entity_name: name,
            policy_name: policy_name.to_owned(),
            policy_document: document,
        })
    }

    pub async fn delete_inline_policy(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        policy_name: &str,
    ) -> IamResult<()> {
        self.authorize_holder(caller, holder, "Delete", "Policy", entity_name)
            .await?;
        self.modify_holder(caller, holder, entity_name, |inline, _| {
            if inline.remove(policy_name).is_none() {
                return Err(IamError::NoSuchEntity(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    holder.arn_kind()
                )));
            }
            Ok(((), true))
        })
        .await
    }

    pub async fn list_inline_policies(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<Page<String>> {
        self.authorize_holder(caller, holder, "List", "Policies", entity_name)
            .await?;
        let (_, inline, _) = self.holder_policies(caller, holder, entity_name).await?;
        paginate(
            inline.into_keys().collect(),
            |n| n.clone(),
            marker,
            max_items,
        )
    }

    // ---------------------------------------------------------------------------------------
    // Managed policies
    // ---------------------------------------------------------------------------------------

    /// The policy must exist in the caller's account (AWS managed policies are not served).
    async fn require_attachable(
        &self,
        account: &str,
        arn: &str,
    ) -> IamResult<(IamEntityRecord, PolicyDoc)> {
        if IamArn::parse(arn).is_none() {
            return Err(error::invalid_arn());
        }
        self.managed_policy(account, arn)
            .await?
            .ok_or_else(|| error::policy_not_attachable(arn))
    }

    /// How many users, groups and roles have the policy attached, and use it as boundary.
    async fn attachment_counts(
        &self,
        account: &str,
    ) -> IamResult<std::collections::HashMap<String, (i32, i32)>> {
        let mut counts: std::collections::HashMap<String, (i32, i32)> = Default::default();
        let mut count = |attached: &[String], boundary: &Option<String>| {
            for arn in attached {
                counts.entry(arn.clone()).or_default().0 += 1;
            }
            if let Some(arn) = boundary {
                counts.entry(arn.clone()).or_default().1 += 1;
            }
        };
        for (_, d) in self.all::<UserDoc>(account).await? {
            count(&d.attached, &d.boundary);
        }
        for (_, d) in self.all::<GroupDoc>(account).await? {
            count(&d.attached, &None);
        }
        for (_, d) in self.all::<RoleDoc>(account).await? {
            count(&d.attached, &d.boundary);
        }
        Ok(counts)
    }

    pub async fn create_policy(
        &self,
        caller: &Principal,
        policy_name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<&str>,
        tags: Vec<TagPair>,
    ) -> IamResult<ManagedPolicyView> {
        let account = &caller.account_id;
        let path = normalise_path(path)?;
        self.authorize(
            caller,
            "iam:CreatePolicy",
            &self.arn(account, "policy", &path, policy_name),
        )
        .await?;
        check_new_tags(&tags)?;
        validate(document, PolicyKind::Identity)?;
        if policy_size(document) > MANAGED_POLICY_SIZE {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}"
            )));
        }
        let doc = PolicyDoc {
            id: unique_id("ANPA", &self.randomness),
            path,
            document: document.to_owned(),
            description: description.filter(|d| !d.is_empty()).map(str::to_owned),
            tags,
            update_date: self.now(),
        };
        if !self.insert(account, policy_name, &doc).await? {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {policy_name} already exists. Duplicate names are not allowed."
            )));
        }
        let (record, doc) = self
            .load::<PolicyDoc>(account, policy_name)
            .await?
            .ok_or_else(|| IamError::internal("the new policy vanished"))?;
        Ok(self.policy_view(&record, &doc, 0, 0))
    }

    pub async fn get_policy(&self, caller: &Principal, arn: &str) -> IamResult<ManagedPolicyView> {
        self.authorize(caller, "iam:GetPolicy", arn).await?;
        if IamArn::parse(arn).is_none() {
            return Err(error::invalid_arn());
        }
        let (record, doc) = self
            .managed_policy(&caller.account_id, arn)
            .await?
            .ok_or_else(|| error::policy_not_found(arn))?;
        let counts = self.attachment_counts(&caller.account_id).await?;
        let (attached, boundary) = counts.get(arn).copied().unwrap_or_default();
        Ok(self.policy_view(&record, &doc, attached, boundary))
    }

    pub async fn get_policy_version(
        &self,
        caller: &Principal,
        arn: &str,
        version_id: &str,
    ) -> IamResult<PolicyVersionView> {
        self.authorize(caller, "iam:GetPolicyVersion", arn).await?;
        if IamArn::parse(arn).is_none() {
            return Err(error::invalid_arn());
        }
        let (record, doc) = self
            .managed_policy(&caller.account_id, arn)
            .await?
            .ok_or_else(|| error::policy_not_found(arn))?;
        if version_id != DEFAULT_VERSION_ID {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} version {version_id} does not exist or is not attachable."
            )));
        }
        Ok(PolicyVersionView {
            document: doc.document,
            version_id: DEFAULT_VERSION_ID.into(),
            is_default_version: true,
            create_date: record.created_at,
        })
    }

    /// DeletePolicy: refused while the policy is attached anywhere.
    pub async fn delete_policy(&self, caller: &Principal, arn: &str) -> IamResult<()> {
        let account = &caller.account_id;
        self.authorize(caller, "iam:DeletePolicy", arn).await?;
        let Some(parsed) = IamArn::parse(arn) else {
            return Err(error::invalid_arn());
        };
        let (record, _) = self
            .managed_policy(account, arn)
            .await?
            .ok_or_else(|| error::policy_not_found(arn))?;
        let counts = self.attachment_counts(account).await?;
        if counts.get(arn).is_some_and(|(a, b)| a + b > 0) {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        self.remove::<PolicyDoc>(
            account,
            &record.name,
            || error::policy_not_found(arn),
            |doc| {
                if doc.path != parsed.path {
                    return Err(error::policy_not_found(arn));
                }
                Ok(())
            },
        )
        .await
    }

    /// ListPolicies: only customer managed policies exist here (`Scope=AWS` lists nothing).
    #[allow(clippy::too_many_arguments)]
    pub async fn list_policies(
        &self,
        caller: &Principal,
        scope: Option<&str>,
        only_attached: bool,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<Page<ManagedPolicyView>> {
        let account = &caller.account_id;
        self.authorize(
            caller,
            "iam:ListPolicies",
            &self.arn(account, "policy", "/", "*"),
        )
        .await?;
        if scope == Some("AWS") {
            return paginate(
                Vec::new(),
                |p: &ManagedPolicyView| p.policy_name.clone(),
                marker,
                max_items,
            );
        }
        let prefix = path_prefix.unwrap_or("/");
        let counts = self.attachment_counts(account).await?;
        let policies: Vec<ManagedPolicyView> = self
            .all::<PolicyDoc>(account)
            .await?
            .into_iter()
            .filter(|(_, d)| d.path.starts_with(prefix))
            .map(|(r, d)| {
                let arn = self.arn(account, "policy", &d.path, &r.name);
                let (a, b) = counts.get(&arn).copied().unwrap_or_default();
                let mut view = self.policy_view(&r, &d, a, b);
                view.tags = None;
                view
            })
            .filter(|p| !only_attached || p.attachment_count > 0)
            .collect();
        paginate(
            policies,
            |p| p.policy_name.to_lowercase(),
            marker,
            max_items,
        )
    }

    /// AttachUserPolicy / AttachGroupPolicy / AttachRolePolicy: at most 10 per entity.
    pub async fn attach_policy(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        policy_arn: &str,
    ) -> IamResult<()> {
        self.authorize_holder(caller, holder, "Attach", "Policy", entity_name)
            .await?;
        let (record, doc) = self
            .require_attachable(&caller.account_id, policy_arn)
            .await?;
        let arn = self.arn(&caller.account_id, "policy", &doc.path, &record.name);
        self.modify_attached(caller, holder, entity_name, |attached| {
            if attached.contains(&arn) {
                return Ok(((), false));
            }
            if attached.len() >= MANAGED_POLICIES_PER_ENTITY {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for PoliciesPer{}: {MANAGED_POLICIES_PER_ENTITY}",
                    holder.action_noun()
                )));
            }
            attached.push(arn.clone());
            Ok(((), true))
        })
        .await
    }

    pub async fn detach_policy(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        policy_arn: &str,
    ) -> IamResult<()> {
        self.authorize_holder(caller, holder, "Detach", "Policy", entity_name)
            .await?;
        if IamArn::parse(policy_arn).is_none() {
            return Err(error::invalid_arn());
        }
        self.modify_attached(caller, holder, entity_name, |attached| {
            let before = attached.len();
            attached.retain(|a| a != policy_arn);
            if attached.len() == before {
                return Err(error::policy_not_found(policy_arn));
            }
            Ok(((), true))
        })
        .await
    }

    pub async fn list_attached_policies(
        &self,
        caller: &Principal,
        holder: Holder,
        entity_name: &str,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<Page<AttachedPolicyView>> {
        self.authorize_holder(caller, holder, "ListAttached", "Policies", entity_name)
            .await?;
        let (_, _, attached) = self.holder_policies(caller, holder, entity_name).await?;
        let prefix = path_prefix.unwrap_or("/");
        let views: Vec<AttachedPolicyView> = attached
            .into_iter()
            .filter_map(|arn| {
                let parsed = IamArn::parse(&arn)?;
                parsed
                    .path
                    .starts_with(prefix)
                    .then_some(AttachedPolicyView {
                        policy_name: parsed.name,
                        policy_arn: arn,
                    })
            })
            .collect();
        paginate(views, |p| p.policy_name.to_lowercase(), marker, max_items)
    }

    // ---------------------------------------------------------------------------------------
    // Groups
    // ---------------------------------------------------------------------------------------

    pub async fn create_group(
        &self,
        caller: &Principal,
        group_name: &str,
        path: Option<&str>,
    ) -> IamResult<GroupView> {
        let account = &caller.account_id;
        let path = normalise_path(path)?;
        self.authorize(
            caller,
            "iam:CreateGroup",
            &self.arn(account, "group", &path, group_name),
        )
        .await?;
        let doc = GroupDoc {
            id: unique_id("AGPA", &self.randomness),
            path,
            ..GroupDoc::default()
        };
        if !self.insert(account, group_name, &doc).await? {
            return Err(IamError::EntityAlreadyExists(format!(
                "Group with name {group_name} already exists."
            )));
        }
        let (record, doc) = self
            .load::<GroupDoc>(account, group_name)
            .await?
            .ok_or_else(|| error::no_such_group(group_name))?;
        Ok(self.group_view(&record, &doc))
    }

    /// Users of a group, by scanning users (membership is kept on the user).
    async fn group_members(&self, account: &str, group_name: &str) -> IamResult<Vec<UserView>> {
        Ok(self
            .all::<UserDoc>(account)
            .await?
            .into_iter()
            .filter(|(_, d)| d.groups.iter().any(|g| g.eq_ignore_ascii_case(group_name)))
            .map(|(r, d)| self.user_view(&r, &d, false))
            .collect())
    }

    pub async fn get_group(
        &self,
        caller: &Principal,
        group_name: &str,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<(GroupView, Page<UserView>)> {
        let account = &caller.account_id;
        self.authorize_entity::<GroupDoc>(caller, "iam:GetGroup", group_name)
            .await?;
        let (record, doc) = self
            .load::<GroupDoc>(account, group_name)
            .await?
            .ok_or_else(|| error::no_such_group(group_name))?;
        let members = self.group_members(account, &record.name).await?;
        let page = paginate(members, |u| u.user_name.to_lowercase(), marker, max_items)?;
        Ok((self.group_view(&record, &doc), page))
    }

    pub async fn delete_group(&self, caller: &Principal, group_name: &str) -> IamResult<()> {
        let account = &caller.account_id;
        self.authorize_entity::<GroupDoc>(caller, "iam:DeleteGroup", group_name)
            .await?;
        let has_members = !self.group_members(account, group_name).await?.is_empty();
        self.remove::<GroupDoc>(
            account,
            group_name,
            || error::no_such_group(group_name),
            |doc| {
                if has_members {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must remove users from group first.".into(),
                    ));
                }
                if !doc.inline.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must delete policies first.".into(),
                    ));
                }
                if !doc.attached.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must detach all policies first.".into(),
                    ));
                }
                Ok(())
            },
        )
        .await
    }

    pub async fn add_user_to_group(
        &self,
        caller: &Principal,
        group_name: &str,
        user_name: &str,
    ) -> IamResult<()> {
        let account = &caller.account_id;
        self.authorize_entity::<GroupDoc>(caller, "iam:AddUserToGroup", group_name)
            .await?;
        let (group, _) = self
            .load::<GroupDoc>(account, group_name)
            .await?
            .ok_or_else(|| error::no_such_group(group_name))?;
        self.modify::<UserDoc, ()>(
            account,
            user_name,
            || error::no_such_user(user_name),
            |doc, _| {
                if doc
                    .groups
                    .iter()
                    .any(|g| g.eq_ignore_ascii_case(&group.name))
                {
                    return Ok(((), false));
                }
                if doc.groups.len() >= 10 {
                    return Err(IamError::LimitExceeded(
                        "Cannot exceed quota for GroupsPerUser: 10".into(),
                    ));
                }
                doc.groups.push(group.name.clone());
                Ok(((), true))
            },
        )
        .await
    }

    pub async fn remove_user_from_group(
        &self,
        caller: &Principal,
        group_name: &str,
        user_name: &str,
    ) -> IamResult<()> {
        let account = &caller.account_id;
        self.authorize_entity::<GroupDoc>(caller, "iam:RemoveUserFromGroup", group_name)
            .await?;
        if self.load::<GroupDoc>(account, group_name).await?.is_none() {
            return Err(error::no_such_group(group_name));
        }
        self.modify::<UserDoc, ()>(
            account,
            user_name,
            || error::no_such_user(user_name),
            |doc, _| {
                let before = doc.groups.len();
                doc.groups.retain(|g| !g.eq_ignore_ascii_case(group_name));
                if doc.groups.len() == before {
                    return Err(IamError::NoSuchEntity(format!(
                        "The user with name {user_name} cannot be found in group {group_name}."
                    )));
                }
                Ok(((), true))
            },
        )
        .await
    }

    pub async fn list_groups_for_user(
        &self,
        caller: &Principal,
        user_name: &str,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<Page<GroupView>> {
        let account = &caller.account_id;
        self.authorize_entity::<UserDoc>(caller, "iam:ListGroupsForUser", user_name)
            .await?;
        let (_, user) = self
            .load::<UserDoc>(account, user_name)
            .await?
            .ok_or_else(|| error::no_such_user(user_name))?;
        let mut groups = Vec::new();
        for name in &user.groups {
            if let Some((record, doc)) = self.load::<GroupDoc>(account, name).await? {
                groups.push(self.group_view(&record, &doc));
            }
        }
        paginate(groups, |g| g.group_name.to_lowercase(), marker, max_items)
    }

    // ---------------------------------------------------------------------------------------
    // Roles
    // ---------------------------------------------------------------------------------------

    fn check_trust_policy(document: &str) -> IamResult<()> {
        validate(document, PolicyKind::Trust)?;
        if policy_size(document) > TRUST_POLICY_SIZE {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}"
            )));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn create_role(
        &self,
        caller: &Principal,
        role_name: &str,
        path: Option<&str>,
        trust_policy: &str,
        description: Option<&str>,
        max_session_duration: Option<i32>,
        permissions_boundary: Option<&str>,
        tags: Vec<TagPair>,
    ) -> IamResult<RoleView> {
        let account = &caller.account_id;
        let path = normalise_path(path)?;
        self.authorize(
            caller,
            "iam:CreateRole",
            &self.arn(account, "role", &path, role_name),
        )
        .await?;
        check_new_tags(&tags)?;
        Self::check_trust_policy(trust_policy)?;
        if let Some(boundary) = permissions_boundary {
            self.require_attachable(account, boundary).await?;
        }
        let doc = RoleDoc {
            id: unique_id("AROA", &self.randomness),
            path,
            trust: trust_policy.to_owned(),
            description: description.filter(|d| !d.is_empty()).map(str::to_owned),
            max_session_duration: max_session_duration.unwrap_or(DEFAULT_MAX_SESSION_DURATION),
            tags,
            boundary: permissions_boundary.map(str::to_owned),
            ..RoleDoc::default()
        };
        if !self.insert(account, role_name, &doc).await? {
            return Err(IamError::EntityAlreadyExists(format!(
                "Role with name {role_name} already exists."
            )));
        }
        let (record, doc) = self
            .load::<RoleDoc>(account, role_name)
            .await?
            .ok_or_else(|| error::no_such_role(role_name))?;
        Ok(self.role_view(&record, &doc))
    }

    pub async fn get_role(&self, caller: &Principal, role_name: &str) -> IamResult<RoleView> {
        self.authorize_entity::<RoleDoc>(caller, "iam:GetRole", role_name)
            .await?;
        let (record, doc) = self
            .load::<RoleDoc>(&caller.account_id, role_name)
            .await?
            .ok_or_else(|| error::no_such_role(role_name))?;
        Ok(self.role_view(&record, &doc))
    }

    pub async fn delete_role(&self, caller: &Principal, role_name: &str) -> IamResult<()> {
        self.authorize_entity::<RoleDoc>(caller, "iam:DeleteRole", role_name)
            .await?;
        self.remove::<RoleDoc>(
            &caller.account_id,
            role_name,
            || error::no_such_role(role_name),
            |doc| {
                if !doc.inline.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must delete policies first.".into(),
                    ));
                }
                if !doc.attached.is_empty() {
                    return Err(IamError::DeleteConflict(
                        "Cannot delete entity, must detach all policies first.".into(),
                    ));
                }
                Ok(())
            },
        )
        .await
    }

    pub async fn update_assume_role_policy(
        &self,
        caller: &Principal,
        role_name: &str,
        document: &str,
    ) -> IamResult<()> {
        self.authorize_entity::<RoleDoc>(caller, "iam:UpdateAssumeRolePolicy", role_name)
            .await?;
        Self::check_trust_policy(document)?;
        self.modify::<RoleDoc, ()>(
            &caller.account_id,
            role_name,
            || error::no_such_role(role_name),
            |doc, _| {
                doc.trust = document.to_owned();
                Ok(((), true))
            },
        )
        .await
    }

    pub async fn tag_role(
        &self,
        caller: &Principal,
        role_name: &str,
        tags: Vec<TagPair>,
    ) -> IamResult<()> {
        self.authorize_entity::<RoleDoc>(caller, "iam:TagRole", role_name)
            .await?;
        check_new_tags(&tags)?;
        self.modify::<RoleDoc, ()>(
            &caller.account_id,
            role_name,
            || error::no_such_role(role_name),
            |doc, _| {
                merge_tags(&mut doc.tags, &tags)?;
                Ok(((), true))
            },
        )
        .await
    }

    pub async fn untag_role(
        &self,
        caller: &Principal,
        role_name: &str,
        keys: Vec<String>,
    ) -> IamResult<()> {
        self.authorize_entity::<RoleDoc>(caller, "iam:UntagRole", role_name)
            .await?;
        self.modify::<RoleDoc, ()>(
            &caller.account_id,
            role_name,
            || error::no_such_role(role_name),
            |doc, _| Ok(((), remove_tags(&mut doc.tags, &keys))),
        )
        .await
    }
}
