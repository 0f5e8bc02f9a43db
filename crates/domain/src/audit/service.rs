//! CloudTrail LookupEvents over the stored trail, and the retention purge.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64;
use coffer_auth::policy::RequestContext;
use coffer_crypto::TokenSigner;
use coffer_store::{AuditAttribute, AuditQuery, Store};

use crate::audit::lookup::*;
use crate::authz::{Authorizer, Resource, authorize_caller};
use crate::clock::{Clock, DAY, Millis};
use crate::secrets::Caller;

const DEFAULT_MAX_RESULTS: i32 = 50;
/// LookupEvents' default window, and CloudTrail's event history.
const DEFAULT_WINDOW: Millis = 90 * DAY;

pub struct AuditService<S: Store> {
    store: Arc<S>,
    authorizer: Option<Arc<Authorizer>>,
    clock: Arc<dyn Clock>,
    tokens: TokenSigner,
}

fn store_attribute(key: LookupAttributeKey) -> AuditAttribute {
    match key {
        LookupAttributeKey::EventId => AuditAttribute::EventId,
        LookupAttributeKey::EventName => AuditAttribute::EventName,
        LookupAttributeKey::ReadOnly => AuditAttribute::ReadOnly,
        LookupAttributeKey::Username => AuditAttribute::Username,
        LookupAttributeKey::ResourceType => AuditAttribute::ResourceType,
        LookupAttributeKey::ResourceName => AuditAttribute::ResourceName,
        LookupAttributeKey::EventSource => AuditAttribute::EventSource,
        LookupAttributeKey::AccessKeyId => AuditAttribute::AccessKeyId,
    }
}

impl<S: Store> AuditService<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, tokens: TokenSigner) -> Self {
        AuditService {
            store,
            authorizer: None,
            clock,
            tokens,
        }
    }

    pub fn with_authorizer(mut self, authorizer: Arc<Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    async fn authorize(&self, caller: &Caller) -> Result<(), LookupError> {
        let build = || {
            let now = jiff::Timestamp::from_millisecond(self.clock.now())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            RequestContext::new("cloudtrail:LookupEvents", "*", now)
                .with_string("aws:RequestedRegion", caller.region.as_str())
        };
        let resource = Resource {
            arn: "*",
            named_as: None,
            account: &caller.account_id,
            policy: None,
            policy_is_authoritative: false,
        };
        match authorize_caller(self.authorizer.as_deref(), caller, &resource, build).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(denied)) => Err(LookupError::AccessDenied(denied.message)),
            Err(failure) => Err(LookupError::Internal {
                cause: failure.to_string(),
            }),
        }
    }

    /// What a NextToken is bound to: the query's filters and window, so a token cannot be
    /// replayed on another query.
    fn fingerprint(
        caller: &Caller,
        input: &LookupEventsInput,
        start: Millis,
        end: Millis,
    ) -> String {
        let attribute = input
            .lookup_attributes
            .first()
            .map(|(k, v)| format!("{k:?}={v}"))
            .unwrap_or_default();
        format!(
            "{}|{}|{attribute}|{start}|{end}",
            caller.account_id, caller.region
        )
    }

    fn encode_token(&self, fingerprint: &str, before_seq: i64) -> String {
        let payload = format!("{before_seq}|{fingerprint}");
        let tag = self.tokens.tag(payload.as_bytes());
        let mut bytes = before_seq.to_be_bytes().to_vec();
        bytes.extend_from_slice(&tag);
        BASE64.encode(bytes)
    }

    fn decode_token(&self, fingerprint: &str, token: &str) -> Result<i64, LookupError> {
        let bytes = BASE64
            .decode(token)
            .map_err(|_| LookupError::InvalidNextToken)?;
        if bytes.len() < 8 {
            return Err(LookupError::InvalidNextToken);
        }
        let (seq, tag) = bytes.split_at(8);
        let before_seq = i64::from_be_bytes(seq.try_into().expect("eight bytes"));
        let payload = format!("{before_seq}|{fingerprint}");
        if !self.tokens.verify(payload.as_bytes(), tag) {
            return Err(LookupError::InvalidNextToken);
        }
        Ok(before_seq)
    }

    pub async fn lookup_events(
        &self,
        caller: &Caller,
        input: LookupEventsInput,
    ) -> Result<LookupEventsOutput, LookupError> {
        self.authorize(caller).await?;
        if input.lookup_attributes.len() > 1 {
            return Err(LookupError::InvalidLookupAttributes(
                "You cannot specify more than one lookup attribute.".into(),
            ));
        }
        if let Some((LookupAttributeKey::ReadOnly, value)) = input.lookup_attributes.first()
            && value != "true"
            && value != "false"
        {
            return Err(LookupError::InvalidLookupAttributes(
                "The value of the ReadOnly lookup attribute must be true or false.".into(),
            ));
        }
        let max = input.max_results.unwrap_or(DEFAULT_MAX_RESULTS);
        if !(1..=50).contains(&max) {
            return Err(LookupError::InvalidMaxResults(format!(
                "Value {max} for MaxResults is invalid. It must be between 1 and 50."
            )));
        }
        match input.event_category.as_deref() {
            None => {}
            // Coffer records no insight events.
            Some("insight") => return Ok(LookupEventsOutput::default()),
            Some(other) => {
                return Err(LookupError::InvalidEventCategory(format!(
                    "Invalid event category {other}."
                )));
            }
        }
        let end = input.end_time.unwrap_or_else(|| self.clock.now());
        let start = input.start_time.unwrap_or(end - DEFAULT_WINDOW);
        if start > end {
            return Err(LookupError::InvalidTimeRange);
        }
        let fingerprint = Self::fingerprint(caller, &input, start, end);
        let before_seq = match &input.next_token {
            Some(token) => Some(self.decode_token(&fingerprint, token)?),
            None => None,
        };
        let limit = max as usize;
        let mut rows = self
            .store
            .lookup_audit_records(AuditQuery {
                account_id: caller.account_id.clone(),
                region: caller.region.clone(),
                attribute: input
                    .lookup_attributes
                    .first()
                    .map(|(k, v)| (store_attribute(*k), v.clone())),
                start_time: start,
                // CloudTrail's times are whole seconds: an end time includes its second.
                end_time: end + 999,
                before_seq,
                limit: limit + 1,
            })
            .await
            .map_err(|e| LookupError::Internal {
                cause: e.to_string(),
            })?;
        let next_token = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            self.encode_token(&fingerprint, rows[limit - 1].seq)
        });
        Ok(LookupEventsOutput {
            events: rows
                .into_iter()
                .map(|row| {
                    let e = row.entry;
                    LookedUpEvent {
                        event_id: e.event_id,
                        event_name: e.event_name,
                        read_only: e.read_only,
                        access_key_id: e.access_key_id,
                        event_time: e.event_time,
                        event_source: e.event_source,
                        username: e.username,
                        resources: e.resources,
                        cloud_trail_event: e.record,
                    }
                })
                .collect(),
            next_token,
        })
    }

    /// Removes records older than `retention_days` (from the front of the trail only).
    pub async fn purge_expired(&self, retention_days: u32) -> coffer_store::StoreResult<u64> {
        let before = self.clock.now() - i64::from(retention_days) * DAY;
        self.store.purge_audit_records(before).await
    }
}
