//! IAM (users, groups, roles, access keys, inline and managed policies) and STS (AssumeRole,
//! GetCallerIdentity) as AWS behaves (companion spec §4, §5), on the store's IAM entities.
//!
//! Entities are JSON documents owned by this module (`docs`); every write is a
//! compare-and-swap on the entity's revision, retried on conflict. Every write bumps the
//! store's `iam_generation`, which caches of principals and policies compare against.
//!
//! Role sessions are stateless: the session token is the session itself, sealed under the
//! keyring (`session`), so any node can verify it without a store read or write.

mod directory;
mod docs;
mod error;
mod policy;
mod service;
mod session;
mod sts;

use std::sync::Arc;

use coffer_crypto::Keyring;
use coffer_store::{IamEntityRecord, Store, StoreError};

use coffer_auth::policy::RequestContext;

use crate::authz::{Authorizer, Resource};
use crate::clock::{Clock, Millis};
use crate::identity::{Principal, PrincipalKind};
use crate::random::Randomness;

pub use directory::IamDirectory;
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
    directory: Arc<IamDirectory<S>>,
    authorizer: Arc<Authorizer>,
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
        let directory = Arc::new(IamDirectory::new(Arc::clone(&store)));
        let authorizer = Arc::new(Authorizer::new(directory.clone(), Arc::clone(&clock)));
        IamService {
            store,
            keyring,
            clock,
            randomness,
            partition: partition.to_owned(),
            directory,
            authorizer,
            on_change: None,
        }
    }

    /// Called after every IAM write on this node (e.g. to drop the credential cache at once;
    /// other nodes notice through `iam_generation`).
    pub fn with_change_hook(mut self, hook: Arc<dyn Fn() + Send + Sync>) -> Self {
        self.on_change = Some(hook);
        self
    }

    /// The authoriser over this IAM's principals, for every service's operations; it forgets
    /// compiled policies at once on this node's IAM writes.
    pub fn authorizer(&self) -> Arc<Authorizer> {
        Arc::clone(&self.authorizer)
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
        self.authorizer.invalidate();
        if let Some(hook) = &self.on_change {
            hook();
        }
    }

    // ---------------------------------------------------------------------------------------
    // Authorization of IAM and STS operations
    // ---------------------------------------------------------------------------------------

    /// May `caller` perform an IAM or STS `action` (`iam:CreateUser`, ...) on `resource` (an
    /// ARN)? Decided by the caller's identity policies through the shared authoriser.
    pub async fn authorize(
        &self,
        caller: &Principal,
        action: &str,
        resource: &str,
    ) -> Result<(), IamError> {
        let context = RequestContext::new(action, resource, policy::timestamp(self.now()));
        let target = Resource {
            arn: resource,
            named_as: Some(resource),
            account: &caller.account_id,
            policy: None,
            policy_is_authoritative: false,
        };
        match self
            .authorizer
            .authorize(caller, None, context, &target)
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(denied)) => Err(IamError::AccessDenied(denied.message)),
            Err(failure) => Err(IamError::internal(failure.to_string())),
        }
    }

    /// The policies of `principal` (see [`IamDirectory::principal_policies`]).
    pub async fn principal_policies(
        &self,
        principal: &Principal,
    ) -> IamResult<crate::authz::PrincipalPolicies> {
        self.directory.principal_policies(principal).await
    }

    async fn managed_policy(
        &self,
        account: &str,
        arn: &str,
    ) -> IamResult<Option<(IamEntityRecord, docs::PolicyDoc)>> {
        self.directory.managed_policy(account, arn).await
    }

    // ---------------------------------------------------------------------------------------
    // Store helpers
    // ---------------------------------------------------------------------------------------

    async fn load<D: EntityDoc>(
        &self,
        account: &str,
        name: &str,
    ) -> IamResult<Option<(IamEntityRecord, D)>> {
        self.directory.load::<D>(account, name).await
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
