//! IAM (users, groups, roles, access keys, inline and managed policies) and STS (AssumeRole,
//! GetCallerIdentity) as AWS behaves (companion spec §4, §5), on the store's IAM entities.
//!
//! Entities are JSON documents owned by this module (`docs`); every write is a
//! compare-and-swap on the entity's revision, retried on conflict. Every write bumps the
//! store's `iam_generation`, which caches of principals and policies compare against.
//!
//! Role sessions are stateless: the session token is the session itself, sealed under the
//! keyring (`session`), so any node can verify it without a store read or write.

mod docs;
mod error;
mod policy;
mod service;
mod session;
mod sts;

use std::sync::Arc;

use coffer_crypto::Keyring;
use coffer_store::{IamEntityRecord, Store, StoreError};

use crate::clock::{Clock, Millis};
use crate::identity::{Principal, PrincipalKind};
use crate::random::Randomness;

pub use docs::{
    AccessKeyView, AttachedPolicyView, GroupView, IamArn, InlinePolicyView, ManagedPolicyView,
    Page, PolicyVersionView, RoleView, TagPair, UserView, iam_arn,
};
pub use error::{IamError, IamResult};
pub use policy::{ADMINISTRATOR_ACCESS_DOCUMENT, ADMINISTRATOR_ACCESS_POLICY_NAME};
pub use session::{SessionClaims, open_session_token};
pub use sts::{AssumeRoleInput, AssumeRoleOutput, CallerIdentity, TemporaryCredentials};

pub(crate) use docs::{UserDoc, encode as encode_doc, unique_id};

use docs::{EntityDoc, decode};

/// How many times a write is recomputed after losing a compare-and-swap race.
const MAX_WRITE_ATTEMPTS: usize = 32;
/// Entities read per store round trip when scanning.
const SCAN_BATCH: usize = 500;

/// Everything IAM knows that policy evaluation needs about one principal, as policy texts
/// (the authorizer compiles and caches them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrincipalPolicies {
    /// `aws:userid`: `AIDA…` for users, `ROLEID:session` for sessions.
    pub user_id: String,
    /// `aws:PrincipalTag/*`: user tags, or role tags + session tags.
    pub tags: Vec<(String, String)>,
    /// User inline + attached managed + its groups' inline and attached; or role inline +
    /// attached.
    pub identity: Vec<String>,
    /// Permissions boundary policy text, if any.
    pub boundary: Option<String>,
    /// Session policy for role sessions.
    pub session: Option<String>,
}

/// Which kind of entity holds an inline policy or an attachment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    User,
    Group,
    Role,
}

pub struct IamService<S: Store> {
    store: Arc<S>,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    randomness: Randomness,
    partition: String,
    on_change: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl<S: Store> IamService<S> {
    pub fn new(
        store: Arc<S>,
        keyring: Keyring,
        clock: Arc<dyn Clock>,
        randomness: Randomness,
        partition: &str,
    ) -> Self {
        IamService {
            store,
            keyring,
            clock,
            randomness,
            partition: partition.to_owned(),
            on_change: None,
        }
    }

    /// Called after every IAM write on this node (e.g. to drop the credential cache at once;
    /// other nodes notice through `iam_generation`).
    pub fn with_change_hook(mut self, hook: Arc<dyn Fn() + Send + Sync>) -> Self {
        self.on_change = Some(hook);
        self
    }

    /// The store's `iam_generation`: grows with every IAM or access-key write.
    pub async fn generation(&self) -> Result<i64, IamError> {
        Ok(self.store.iam_generation().await?)
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    fn now(&self) -> Millis {
        self.clock.now()
    }

    fn changed(&self) {
        if let Some(hook) = &self.on_change {
            hook();
        }
    }

    // ---------------------------------------------------------------------------------------
    // Authorization of IAM and STS operations
    // ---------------------------------------------------------------------------------------

    /// THE authorization hook for IAM and STS operations: may `caller` perform `action`
    /// (`iam:CreateUser`, `sts:AssumeRole`, ...) on `resource` (an ARN)?
    ///
    /// For now it evaluates the caller's identity policies (`principal_policies`) with
    /// `coffer_auth::policy::evaluate`, compiling them on every call, without resource policy.
    /// The lead replaces the body with the shared authorizer (cached compiled policies, full
    /// request context).
    pub async fn authorize(
        &self,
        caller: &Principal,
        action: &str,
        resource: &str,
    ) -> Result<(), IamError> {
        let policies = self.principal_policies(caller).await?;
        policy::check_identity(caller, &policies, action, resource, self.now())
    }

    // ---------------------------------------------------------------------------------------
    // Principal policies (the authorizer's input)
    // ---------------------------------------------------------------------------------------

    /// The policies and attributes of `principal` that evaluation needs. A user or role that
    /// no longer exists has no policies (so it is denied everything).
    pub async fn principal_policies(
        &self,
        principal: &Principal,
    ) -> Result<PrincipalPolicies, IamError> {
        let account = &principal.account_id;
        match &principal.kind {
            PrincipalKind::User => {
                let Some((_, user)) = self.load::<UserDoc>(account, &principal.user_name).await?
                else {
                    return Ok(PrincipalPolicies::default());
                };
                let mut identity: Vec<String> = user.inline.values().cloned().collect();
                identity.extend(self.managed_documents(account, &user.attached).await?);
                for group_name in &user.groups {
                    if let Some((_, group)) =
                        self.load::<docs::GroupDoc>(account, group_name).await?
                    {
                        identity.extend(group.inline.values().cloned());
                        identity.extend(self.managed_documents(account, &group.attached).await?);
                    }
                }
                let boundary = self.boundary_document(account, &user.boundary).await?;
                Ok(PrincipalPolicies {
                    user_id: user.id,
                    tags: user.tags,
                    identity,
                    boundary,
                    session: None,
                })
            }
            PrincipalKind::AssumedRole {
                role_arn,
                user_id,
                session_policy,
                tags,
                ..
            } => {
                let role = match IamArn::parse(role_arn) {
                    Some(arn) => self.load::<docs::RoleDoc>(account, &arn.name).await?,
                    None => None,
                };
                let Some((_, role)) = role else {
                    return Ok(PrincipalPolicies {
                        user_id: user_id.clone(),
                        tags: tags.clone(),
                        session: session_policy.clone(),
                        ..PrincipalPolicies::default()
                    });
                };
                let mut identity: Vec<String> = role.inline.values().cloned().collect();
                identity.extend(self.managed_documents(account, &role.attached).await?);
                let boundary = self.boundary_document(account, &role.boundary).await?;
                Ok(PrincipalPolicies {
                    user_id: user_id.clone(),
                    // The session's tags were merged over the role's when it was issued.
                    tags: tags.clone(),
                    identity,
                    boundary,
                    session: session_policy.clone(),
                })
            }
        }
    }

    async fn managed_documents(&self, account: &str, arns: &[String]) -> IamResult<Vec<String>> {
        let mut out = Vec::with_capacity(arns.len());
        for arn in arns {
            if let Some((_, policy)) = self.managed_policy(account, arn).await? {
                out.push(policy.document);
            }
        }
        Ok(out)
    }

    async fn boundary_document(
        &self,
        account: &str,
        boundary: &Option<String>,
    ) -> IamResult<Option<String>> {
        match boundary {
            Some(arn) => Ok(self
                .managed_policy(account, arn)
                .await?
                .map(|(_, p)| p.document)),
            None => Ok(None),
        }
    }

    /// A customer managed policy of `account` by ARN (path included in the match).
    async fn managed_policy(
        &self,
        account: &str,
        arn: &str,
    ) -> IamResult<Option<(IamEntityRecord, docs::PolicyDoc)>> {
        let Some(parsed) = IamArn::parse(arn) else {
            return Ok(None);
        };
        if parsed.kind != "policy" || parsed.account != account {
            return Ok(None);
        }
        Ok(self
            .load::<docs::PolicyDoc>(account, &parsed.name)
            .await?
            .filter(|(record, doc)| doc.path == parsed.path && record.name == parsed.name))
    }

    // ---------------------------------------------------------------------------------------
    // Store helpers
    // ---------------------------------------------------------------------------------------

    async fn load<D: EntityDoc>(
        &self,
        account: &str,
        name: &str,
    ) -> IamResult<Option<(IamEntityRecord, D)>> {
        match self.store.iam_entity(account, D::KIND, name).await? {
            Some(record) => {
                let doc = decode::<D>(&record)?;
                Ok(Some((record, doc)))
            }
            None => Ok(None),
        }
    }

    /// Inserts a new entity; false when the name (ignoring case) is taken.
    async fn insert<D: EntityDoc>(&self, account: &str, name: &str, doc: &D) -> IamResult<bool> {
        let record = IamEntityRecord {
            account_id: account.to_owned(),
            kind: D::KIND,
            name: name.to_owned(),
            document: docs::encode(doc),
            created_at: self.now(),
            revision: 1,
        };
        match self.store.put_iam_entity(record, None).await {
            Ok(()) => {
                self.changed();
                Ok(true)
            }
            Err(StoreError::NameTaken) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Read-modify-write of one entity, retried on conflict. `change` returns what the
    /// operation answers, and whether anything changed.
    async fn modify<D: EntityDoc, T>(
        &self,
        account: &str,
        name: &str,
        not_found: impl Fn() -> IamError,
        mut change: impl FnMut(&mut D, &IamEntityRecord) -> IamResult<(T, bool)>,
    ) -> IamResult<T> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let Some((record, mut doc)) = self.load::<D>(account, name).await? else {
                return Err(not_found());
            };
            let (answer, changed) = change(&mut doc, &record)?;
            if !changed {
                return Ok(answer);
            }
            let expected = record.revision;
            let next = IamEntityRecord {
                document: docs::encode(&doc),
                revision: expected + 1,
                ..record
            };
            match self.store.put_iam_entity(next, Some(expected)).await {
                Ok(()) => {
                    self.changed();
                    return Ok(answer);
                }
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(IamError::ConcurrentModification(
            "Concurrent modification of the entity; retry the request.".into(),
        ))
    }

    /// Deletes one entity once `check` accepts its current state, retried on conflict.
    async fn remove<D: EntityDoc>(
        &self,
        account: &str,
        name: &str,
        not_found: impl Fn() -> IamError,
        mut check: impl FnMut(&D) -> IamResult<()>,
    ) -> IamResult<()> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let Some((record, doc)) = self.load::<D>(account, name).await? else {
                return Err(not_found());
            };
            check(&doc)?;
            if self
                .store
                .delete_iam_entity(account, D::KIND, &record.name, record.revision)
                .await?
            {
                self.changed();
                return Ok(());
            }
        }
        Err(IamError::ConcurrentModification(
            "Concurrent modification of the entity; retry the request.".into(),
        ))
    }

    /// Every entity of one kind in the account, in name order.
    async fn all<D: EntityDoc>(&self, account: &str) -> IamResult<Vec<(IamEntityRecord, D)>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let batch = self
                .store
                .iam_entities(account, D::KIND, after.as_deref(), SCAN_BATCH)
                .await?;
            let done = batch.len() < SCAN_BATCH;
            after = batch.last().map(|r| r.name.clone());
            for record in batch {
                let doc = decode::<D>(&record)?;
                out.push((record, doc));
            }
            if done {
                return Ok(out);
            }
        }
    }
}

/// The caller's user name for operations whose `UserName` defaults to the caller.
pub(crate) fn caller_user_name(caller: &Principal, given: Option<&str>) -> IamResult<String> {
    match (given, &caller.kind) {
        (Some(name), _) => Ok(name.to_owned()),
        (None, PrincipalKind::User) => Ok(caller.user_name.clone()),
        (None, PrincipalKind::AssumedRole { .. }) => Err(error::non_user_credentials()),
    }
}
