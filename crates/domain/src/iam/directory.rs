//! The read side of IAM that authorisation needs: which policies apply to a principal.
//!
//! It is the [`PrincipalDirectory`] behind the shared [`Authorizer`](crate::authz::Authorizer),
//! which compiles what it returns once and caches it until the store's IAM generation moves.
//! It holds only the store, so the authoriser and the IAM service can share it without a cycle.

use std::sync::Arc;

use coffer_store::{IamEntityRecord, Store};

use crate::authz::{BoxFuture, PrincipalDirectory, PrincipalPolicies};
use crate::iam::IamArn;
use crate::iam::docs::{EntityDoc, GroupDoc, PolicyDoc, RoleDoc, UserDoc, decode};
use crate::iam::error::IamResult;
use crate::identity::{Principal, PrincipalKind};

pub struct IamDirectory<S: Store> {
    store: Arc<S>,
}

impl<S: Store> IamDirectory<S> {
    pub fn new(store: Arc<S>) -> Self {
        IamDirectory { store }
    }

    pub(crate) async fn load<D: EntityDoc>(
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

    /// The policies and attributes of `principal` that evaluation needs. A user or role that
    /// no longer exists has no policies (so it is denied everything). A role session's
    /// session policy travels in its token and is not looked up here.
    pub async fn principal_policies(&self, principal: &Principal) -> IamResult<PrincipalPolicies> {
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
                    if let Some((_, group)) = self.load::<GroupDoc>(account, group_name).await? {
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
                })
            }
            PrincipalKind::AssumedRole {
                role_arn,
                user_id,
                tags,
                ..
            } => {
                // The session's tags were merged over the role's when it was issued.
                let mut policies = PrincipalPolicies {
                    user_id: user_id.clone(),
                    tags: tags.clone(),
                    ..PrincipalPolicies::default()
                };
                let role = match IamArn::parse(role_arn) {
                    Some(arn) => self.load::<RoleDoc>(account, &arn.name).await?,
                    None => None,
                };
                if let Some((_, role)) = role {
                    policies.identity = role.inline.values().cloned().collect();
                    policies
                        .identity
                        .extend(self.managed_documents(account, &role.attached).await?);
                    policies.boundary = self.boundary_document(account, &role.boundary).await?;
                }
                Ok(policies)
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
    pub(crate) async fn managed_policy(
        &self,
        account: &str,
        arn: &str,
    ) -> IamResult<Option<(IamEntityRecord, PolicyDoc)>> {
        let Some(parsed) = IamArn::parse(arn) else {
            return Ok(None);
        };
        if parsed.kind != "policy" || parsed.account != account {
            return Ok(None);
        }
        Ok(self
            .load::<PolicyDoc>(account, &parsed.name)
            .await?
            .filter(|(record, doc)| doc.path == parsed.path && record.name == parsed.name))
    }
}

impl<S: Store> PrincipalDirectory for IamDirectory<S> {
    fn principal_policies<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> BoxFuture<'a, Result<PrincipalPolicies, String>> {
        Box::pin(async move {
            IamDirectory::principal_policies(self, principal)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn generation(&self) -> BoxFuture<'_, Result<i64, String>> {
        Box::pin(async move { self.store.iam_generation().await.map_err(|e| e.to_string()) })
    }
}
