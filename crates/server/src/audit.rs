//! What the edge knows about one call, gathered while it is served and turned into its audit
//! record(s) once the response is known: the API and operation, the caller, the redacted
//! request parameters and response elements (from the wire models), the resources, and how it
//! ended.

use std::sync::Arc;
use std::time::Duration;

use coffer_domain::audit::{
    AuditEvent, AuditFailure, AuditIdentity, AuditObserver, AuditResource, error_code,
};
use serde::Deserialize;
use serde_json::Value;

use crate::metrics::AuditMetrics;

/// `userAgent` is cut to this many bytes (at a character boundary).
const MAX_USER_AGENT: usize = 1024;

/// The audit facts of one request.
pub struct AuditFacts {
    /// False with `--audit off`: then nothing is gathered, so that the request costs what it
    /// would cost without the trail.
    enabled: bool,
    pub event_source: &'static str,
    pub event_name: String,
    /// The credential scope's region, once verified.
    pub region: Option<String>,
    pub identity: Option<AuditIdentity>,
    pub user_agent: String,
    pub request_parameters: Value,
    pub response_elements: Value,
    pub read_only: bool,
    /// The resource the call acted on, when known from the response.
    pub resource_arn: Option<String>,
    pub failure: Option<AuditFailure>,
    /// BatchGetSecretValue: the secrets returned, each recorded as a GetSecretValue.
    pub batch_reads: Vec<String>,
}

impl AuditFacts {
    pub fn new(user_agent: &str, enabled: bool) -> AuditFacts {
        let user_agent = if enabled {
            let mut end = user_agent.len().min(MAX_USER_AGENT);
            while !user_agent.is_char_boundary(end) {
                end -= 1;
            }
            user_agent[..end].to_owned()
        } else {
            String::new()
        };
        AuditFacts {
            enabled,
            event_source: "",
            event_name: String::new(),
            region: None,
            identity: None,
            user_agent,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            read_only: false,
            resource_arn: None,
            failure: None,
            batch_reads: Vec::new(),
        }
    }

    /// The API (`secretsmanager.amazonaws.com`, ...) and operation the request named.
    pub fn operation(&mut self, event_source: &'static str, event_name: &str) {
        self.event_source = event_source;
        self.event_name = event_name.to_owned();
    }

    /// The decoded request: its recordable members and whether it only reads.
    pub fn request(&mut self, parameters: impl FnOnce() -> Value, read_only: bool) {
        if self.enabled {
            self.request_parameters = parameters();
        }
        self.read_only = read_only;
    }

    /// The response's recordable members.
    pub fn response(&mut self, elements: impl FnOnce() -> Value) {
        if self.enabled {
            self.response_elements = elements();
        }
    }

    /// The caller's principal id (`AIDA…`), once the call has been authorised: the authoriser
    /// compiled the principal then, so this is a cache read.
    pub fn note_user_id(&mut self, state: &crate::http::AppState) {
        if !self.enabled {
            return;
        }
        if let Some(AuditIdentity::Principal {
            principal, user_id, ..
        }) = &mut self.identity
        {
            *user_id = state.iam.authorizer().cached_user_id(principal);
        }
    }

    pub fn failed(&mut self, error_type: &str, message: &str) {
        self.failure = Some(AuditFailure {
            code: error_code(error_type).to_owned(),
            message: message.to_owned(),
        });
    }

    /// Reads the resource ARN from an encoded JSON response (`ARN`, `KeyId` or
    /// `KeyMetadata.Arn`) without materialising anything else in it.
    pub fn resource_from_response(&mut self, body: &[u8]) {
        if !self.enabled {
            return;
        }
        // Most responses name their resource first (`{"ARN":"…`); an ARN holds no quote or
        // escape, so it ends at the next quote. This spares parsing the whole body again
        // (a GetSecretValue body carries the secret value).
        if let Some(rest) = body.strip_prefix(br#"{"ARN":""#)
            && let Some(end) = rest.iter().position(|&b| b == b'"' || b == b'\\')
            && rest[end] == b'"'
            && let Ok(arn) = std::str::from_utf8(&rest[..end])
        {
            self.resource_arn = Some(arn.to_owned());
            return;
        }
        #[derive(Deserialize)]
        struct Metadata {
            #[serde(rename = "Arn")]
            arn: Option<String>,
        }
        #[derive(Deserialize)]
        struct Identifiers {
            #[serde(rename = "ARN")]
            arn: Option<String>,
            #[serde(rename = "KeyId")]
            key_id: Option<String>,
            #[serde(rename = "KeyMetadata")]
            key_metadata: Option<Metadata>,
        }
        if let Ok(ids) = serde_json::from_slice::<Identifiers>(body) {
            self.resource_arn = ids
                .arn
                .or(ids.key_metadata.and_then(|m| m.arn))
                .or(ids.key_id.filter(|k| k.starts_with("arn:")));
        }
    }

    fn resource_type(&self) -> Option<&'static str> {
        match self.event_source {
            "secretsmanager.amazonaws.com" => Some("AWS::SecretsManager::Secret"),
            "kms.amazonaws.com" => Some("AWS::KMS::Key"),
            _ => None,
        }
    }

    /// The resources of the record: the one the response named, or else the one the request
    /// named (a failed call's secret id or key id as given).
    fn resources(&self, account: &str) -> Vec<AuditResource> {
        let Some(resource_type) = self.resource_type() else {
            return Vec::new();
        };
        let named = self.resource_arn.clone().or_else(|| {
            ["secretId", "keyId"]
                .iter()
                .find_map(|k| self.request_parameters.get(*k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        named
            .map(|arn| {
                vec![AuditResource {
                    account_id: account.to_owned(),
                    resource_type: resource_type.to_owned(),
                    arn,
                }]
            })
            .unwrap_or_default()
    }

    /// The record(s) of the call.
    pub fn into_events(
        self,
        request_id: &str,
        source_ip: &str,
        event_time: i64,
        server_account: &str,
        server_region: &str,
    ) -> Vec<AuditEvent> {
        let account = match &self.identity {
            Some(AuditIdentity::Principal { principal, .. }) => principal.account_id.clone(),
            _ => server_account.to_owned(),
        };
        let region = self
            .region
            .clone()
            .unwrap_or_else(|| server_region.to_owned());
        let resources = self.resources(&account);
        let identity = self.identity.unwrap_or(AuditIdentity::Unauthenticated {
            access_key_id: None,
        });
        let base = AuditEvent {
            event_time,
            event_source: self.event_source.to_owned(),
            event_name: self.event_name,
            aws_region: region,
            source_ip_address: source_ip.to_owned(),
            user_agent: self.user_agent,
            identity,
            request_parameters: self.request_parameters,
            response_elements: self.response_elements,
            failure: self.failure,
            request_id: request_id.to_owned(),
            event_id: uuid::Uuid::new_v4().to_string(),
            read_only: self.read_only,
            resources,
            recipient_account_id: account.clone(),
            additional_event_data: None,
        };
        let mut events = Vec::with_capacity(1 + self.batch_reads.len());
        for arn in &self.batch_reads {
            events.push(AuditEvent {
                event_name: "GetSecretValue".into(),
                event_id: uuid::Uuid::new_v4().to_string(),
                read_only: true,
                request_parameters: serde_json::json!({ "secretId": arn }),
                response_elements: Value::Null,
                failure: None,
                resources: vec![AuditResource {
                    account_id: account.clone(),
                    resource_type: "AWS::SecretsManager::Secret".into(),
                    arn: arn.clone(),
                }],
                ..base.clone()
            });
        }
        events.insert(0, base);
        events
    }
}

/// Feeds the writer's reports into the Prometheus metrics.
pub struct MetricsObserver(pub AuditMetrics);

impl AuditObserver for MetricsObserver {
    fn queue_depth(&self, depth: usize) {
        self.0.queue_depth.set(depth as i64);
    }

    fn batch_written(&self, records: usize, took: Duration) {
        self.0.written(records as u64, took);
    }

    fn write_failed(&self) {
        self.0.failed(Duration::ZERO);
    }
}

pub fn observer(metrics: &AuditMetrics) -> Arc<dyn AuditObserver> {
    Arc::new(MetricsObserver(metrics.clone()))
}
