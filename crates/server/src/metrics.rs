//! Prometheus metrics, served by `GET /metrics` in the OpenMetrics text format.
//!
//! What is exposed: API requests counted and timed by service, operation name and outcome
//! (`ok`, or the AWS error type sent), whether the server is sealed, requests that ended in an
//! internal (store) failure, and the audit writer's queue, writes and failures. Never a secret
//! name, ARN, key id, value, principal or request parameter: operation names come from fixed
//! tables (anything else is `unknown`), and outcomes are the error types the code sends. The
//! endpoint is unauthenticated like `/health`; restrict it at the proxy.
//!
//! Cost per request: the handles of every operation of every service exist from the start, so
//! recording one is a binary search over a sorted table of static names, an atomic increment
//! and one histogram observation. No label set is built, hashed or allocated. An error outcome
//! is found in a short per-operation list filled when that outcome first occurs.
//!
//! Every operation's `ok` count is a series from the start (at 0), so rates and alerts work
//! before the first call. Its latency histogram becomes a series at its first request: 16
//! buckets for each of the hundred-odd operations would be some 2,000 series, and a 200 KB
//! scrape, of zeros for operations most servers never see.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Response, StatusCode, header};
use coffer_auth::SigV4Verifier;
use coffer_wire::cloudtrail;
use coffer_wire::iam::model as iam;
use coffer_wire::kms;
use coffer_wire::secretsmanager::model as secretsmanager;
use coffer_wire::sts::model as sts;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::gate::Gate;
use crate::http::SECRETS_MANAGER_TARGET_PREFIX;

/// What `prometheus_client`'s text encoder writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The operation label of any name outside the service's tables: a client choosing the name
/// must not be able to create series.
const UNKNOWN: &str = "unknown";
const OK: &str = "ok";

/// Outcomes meaning the server, not the caller, failed (a store or other internal error):
/// Secrets Manager's, IAM/STS's, KMS's and CloudTrail's names for it.
const STORE_FAILURES: [&str; 4] = [
    "InternalServiceError",
    "InternalFailure",
    "KMSInternalException",
    "ServiceFailure",
];

/// Distinct error outcomes kept per operation. Outcomes are the code's own error types, so
/// this is never reached in practice; past it, further ones are counted as `other` so that no
/// code path can grow the exposition without bound.
const MAX_OUTCOMES_PER_OPERATION: usize = 64;
const OTHER_OUTCOME: &str = "other";

/// Upper bounds (seconds) from 50 µs, a cached read on an idle server, to 5 s, far beyond any
/// healthy request; 1-2.5-5 steps so quantiles stay within a factor of 2.5.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// The `service` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    SecretsManager,
    Kms,
    Iam,
    Sts,
    CloudTrail,
    /// A request no service claims (no or a foreign `X-Amz-Target`, not a Query request).
    Unknown,
}

impl Service {
    const ALL: [Service; 6] = [
        Service::SecretsManager,
        Service::Kms,
        Service::Iam,
        Service::Sts,
        Service::CloudTrail,
        Service::Unknown,
    ];

    fn label(self) -> &'static str {
        match self {
            Service::SecretsManager => "secretsmanager",
            Service::Kms => "kms",
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::CloudTrail => "cloudtrail",
            Service::Unknown => UNKNOWN,
        }
    }

    /// The operation names the service serves, each a series from the start.
    fn operations(self) -> Vec<&'static str> {
        match self {
            Service::SecretsManager => secretsmanager::Operation::ALL
                .iter()
                .map(|op| op.name())
                .collect(),
            Service::Kms => kms::Operation::ALL.iter().map(|op| op.name()).collect(),
            Service::Iam => iam::Operation::ALL.iter().map(|op| op.name()).collect(),
            Service::Sts => sts::Operation::ALL.iter().map(|op| op.name()).collect(),
            Service::CloudTrail => cloudtrail::Operation::ALL
                .iter()
                .map(|op| op.name())
                .collect(),
            Service::Unknown => Vec::new(),
        }
    }

    fn target_prefix(self) -> &'static str {
        match self {
            Service::SecretsManager => SECRETS_MANAGER_TARGET_PREFIX,
            Service::Kms => kms::TARGET_PREFIX,
            Service::CloudTrail => cloudtrail::TARGET_PREFIX,
            Service::Iam | Service::Sts | Service::Unknown => "",
        }
    }
}

/// Where a request goes, as far as its head tells: read before the request is consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// A JSON 1.1 API: the operation is what follows the service's `X-Amz-Target` prefix.
    Json(Service),
    /// IAM or STS by the signing scope; `None` for an unsigned Query request, which is STS's
    /// when its action is one of STS's.
    Query(Option<Service>),
    Unknown,
}

impl Api {
    pub fn of_request(target: &str, parts: &Parts) -> Api {
        if target.is_empty() {
            if !crate::query::is_query_request(parts) {
                return Api::Unknown;
            }
            let scope = SigV4Verifier::peek_scope(parts);
            return Api::Query(scope.and_then(|scope| match scope.service.as_str() {
                iam::SIGNING_NAME => Some(Service::Iam),
                sts::SIGNING_NAME => Some(Service::Sts),
                _ => None,
            }));
        }
        [Service::SecretsManager, Service::Kms, Service::CloudTrail]
            .into_iter()
            .find(|service| target.starts_with(service.target_prefix()))
            .map_or(Api::Unknown, Api::Json)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: &'static str,
    operation: &'static str,
    outcome: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    service: &'static str,
    operation: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

type RequestCounters = Family<RequestLabels, Counter>;
type Durations = Family<OperationLabels, Histogram, fn() -> Histogram>;

/// The handles of one (service, operation).
struct OperationHandles {
    service: &'static str,
    operation: &'static str,
    ok: Counter,
    /// Registered at the operation's first request (see the module comment).
    duration: OnceLock<Histogram>,
    /// Error outcomes seen so far with their counters, filled on first occurrence.
    errors: RwLock<Vec<(Box<str>, Counter)>>,
}

impl OperationHandles {
    fn new(
        service: &'static str,
        operation: &'static str,
        requests: &RequestCounters,
    ) -> OperationHandles {
        OperationHandles {
            service,
            operation,
            ok: requests.get_or_create_owned(&RequestLabels {
                service,
                operation,
                outcome: Cow::Borrowed(OK),
            }),
            duration: OnceLock::new(),
            errors: RwLock::new(Vec::new()),
        }
    }

    fn observe(&self, elapsed: Duration, durations: &Durations) {
        let histogram = self.duration.get_or_init(|| {
            durations.get_or_create_owned(&OperationLabels {
                service: self.service,
                operation: self.operation,
            })
        });
        histogram.observe(elapsed.as_secs_f64());
    }

    fn count_error(&self, outcome: &str, requests: &RequestCounters) {
        {
            let errors = self.errors.read().unwrap_or_else(|p| p.into_inner());
            if let Some((_, counter)) = errors.iter().find(|(seen, _)| **seen == *outcome) {
                counter.inc();
                return;
            }
        }
        let mut errors = self.errors.write().unwrap_or_else(|p| p.into_inner());
        if let Some((_, counter)) = errors.iter().find(|(seen, _)| **seen == *outcome) {
            counter.inc();
            return;
        }
        let labels = |outcome| RequestLabels {
            service: self.service,
            operation: self.operation,
            outcome,
        };
        if errors.len() >= MAX_OUTCOMES_PER_OPERATION {
            requests
                .get_or_create(&labels(Cow::Borrowed(OTHER_OUTCOME)))
                .inc();
            return;
        }
        let counter = requests.get_or_create_owned(&labels(Cow::Owned(outcome.to_owned())));
        counter.inc();
        errors.push((outcome.into(), counter));
    }
}

/// One service's operations, sorted by name, and the handles of its unknown operations.
struct ServiceTable {
    names: Box<[&'static str]>,
    handles: Box<[OperationHandles]>,
    unknown: OperationHandles,
}

impl ServiceTable {
    fn new(service: Service, requests: &RequestCounters) -> ServiceTable {
        let label = service.label();
        let mut names = service.operations();
        names.sort_unstable();
        names.dedup();
        let handles = names
            .iter()
            .map(|name| OperationHandles::new(label, name, requests))
            .collect();
        ServiceTable {
            names: names.into_boxed_slice(),
            handles,
            unknown: OperationHandles::new(label, UNKNOWN, requests),
        }
    }

    fn lookup(&self, operation: &str) -> &OperationHandles {
        match self.names.binary_search(&operation) {
            Ok(index) => &self.handles[index],
            Err(_) => &self.unknown,
        }
    }
}

/// The audit writer's metrics. The handles share their values: clone this and keep it where
/// the writer runs.
#[derive(Clone, Debug)]
pub struct AuditMetrics {
    /// `coffer_audit_queue_depth`: records accepted and not yet written.
    pub queue_depth: Gauge,
    /// `coffer_audit_write_seconds`: the time one write (of a record or a batch) took.
    pub write_seconds: Histogram,
    /// `coffer_audit_records_total`: records written.
    pub records: Counter,
    /// `coffer_audit_failures_total`: writes that failed.
    pub failures: Counter,
}

impl AuditMetrics {
    fn new() -> AuditMetrics {
        AuditMetrics {
            queue_depth: Gauge::default(),
            write_seconds: latency_histogram(),
            records: Counter::default(),
            failures: Counter::default(),
        }
    }

    /// A write of `records` records that succeeded after `elapsed`.
    pub fn written(&self, records: u64, elapsed: Duration) {
        self.write_seconds.observe(elapsed.as_secs_f64());
        self.records.inc_by(records);
    }

    /// A write that failed after `elapsed`.
    pub fn failed(&self, elapsed: Duration) {
        self.write_seconds.observe(elapsed.as_secs_f64());
        self.failures.inc();
    }
}

/// Every metric of the process and the registry that encodes them. It outlives seal and
/// unseal (the gate owns it).
pub struct Metrics {
    registry: Registry,
    requests: RequestCounters,
    durations: Durations,
    /// Indexed by `Service as usize`, in `Service::ALL` order.
    services: Box<[ServiceTable]>,
    sealed: Gauge,
    store_errors: Counter,
    pub audit: AuditMetrics,
    /// `coffer_rotation_events_total{event}`: rotation outcomes (RotationSucceeded,
    /// RotationFailed, ...).
    pub rotations: RotationMetrics,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RotationLabels {
    event: String,
}

#[derive(Clone, Default)]
pub struct RotationMetrics(Family<RotationLabels, Counter>);

impl coffer_domain::rotation::RotationObserver for RotationMetrics {
    fn rotation_event(&self, name: &str) {
        self.0
            .get_or_create(&RotationLabels {
                event: name.to_owned(),
            })
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("coffer");
        let requests = RequestCounters::default();
        let durations = Durations::new_with_constructor(latency_histogram);
        let sealed = Gauge::default();
        let store_errors = Counter::default();
        let audit = AuditMetrics::new();
        registry.register(
            "requests",
            "API requests by service, operation and outcome (ok, or the AWS error type sent)",
            requests.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "API request latency in the server, from the request head to the response head",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register("sealed", "1 while the server is sealed", sealed.clone());
        registry.register(
            "store_errors",
            "API requests that ended in an internal (store) failure",
            store_errors.clone(),
        );
        registry.register(
            "audit_queue_depth",
            "Audit records accepted and not yet written",
            audit.queue_depth.clone(),
        );
        registry.register_with_unit(
            "audit_write",
            "Time taken by one audit write",
            Unit::Seconds,
            audit.write_seconds.clone(),
        );
        registry.register(
            "audit_records",
            "Audit records written",
            audit.records.clone(),
        );
        registry.register(
            "audit_failures",
            "Audit writes that failed",
            audit.failures.clone(),
        );
        let rotations = RotationMetrics::default();
        registry.register(
            "rotation_events",
            "Rotation events by kind (RotationStarted, RotationSucceeded, RotationFailed, ...)",
            rotations.0.clone(),
        );
        let services = Service::ALL
            .iter()
            .map(|&service| ServiceTable::new(service, &requests))
            .collect();
        Metrics {
            rotations,
            registry,
            requests,
            durations,
            services,
            sealed,
            store_errors,
            audit,
        }
    }

    pub fn set_sealed(&self, sealed: bool) {
        self.sealed.set(i64::from(sealed));
    }

    /// Records one API request. `target` is its `X-Amz-Target` (possibly empty); `operation`
    /// and `outcome` are what the request log says.
    pub fn record_request(
        &self,
        api: Api,
        target: &str,
        operation: &str,
        outcome: &str,
        elapsed: Duration,
    ) {
        let (service, name) = match api {
            Api::Json(service) => (
                service,
                target.strip_prefix(service.target_prefix()).unwrap_or(""),
            ),
            Api::Query(Some(service)) => (service, operation),
            Api::Query(None) if sts::Operation::from_action(operation).is_some() => {
                (Service::Sts, operation)
            }
            Api::Query(None) => (Service::Iam, operation),
            Api::Unknown => (Service::Unknown, ""),
        };
        let handles = self.services[service as usize].lookup(name);
        handles.observe(elapsed, &self.durations);
        if outcome == OK {
            handles.ok.inc();
            return;
        }
        handles.count_error(outcome, &self.requests);
        if STORE_FAILURES.contains(&outcome) {
            self.store_errors.inc();
        }
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::with_capacity(32 * 1024);
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// `GET /metrics`.
pub async fn endpoint(State(gate): State<Arc<Gate>>) -> Response<Body> {
    let (status, content_type, body) = match gate.metrics().encode() {
        Ok(text) => (StatusCode::OK, CONTENT_TYPE, text),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "the metrics could not be encoded\n".to_owned(),
        ),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::http::Request;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// `name{k="v",...}` with the labels sorted by name, the key of `parse`'s samples.
    fn key(name: &str, labels: &[(&str, &str)]) -> String {
        if labels.is_empty() {
            return name.to_owned();
        }
        let mut labels = labels.to_vec();
        labels.sort();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        format!("{name}{{{}}}", labels.join(","))
    }

    /// Parses the exposition strictly enough to catch a malformed line: `# HELP/TYPE/UNIT`
    /// comments, samples `name{label="value",...} number`, and the final `# EOF`. Returns the
    /// samples by `key`.
    fn parse(text: &str) -> HashMap<String, f64> {
        let mut samples = HashMap::new();
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line == "# EOF" {
                assert!(lines.peek().is_none(), "text after # EOF");
                return samples;
            }
            if let Some(comment) = line.strip_prefix("# ") {
                let kind = comment.split(' ').next().unwrap();
                assert!(["HELP", "TYPE", "UNIT"].contains(&kind), "{line}");
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect(line);
            let value: f64 = value.parse().expect(line);
            let name_end = series.find('{').unwrap_or(series.len());
            let name = &series[..name_end];
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            let mut labels = Vec::new();
            if name_end < series.len() {
                let list = series[name_end + 1..].strip_suffix('}').expect(line);
                for pair in list.split(',') {
                    let (label, quoted) = pair.split_once('=').expect(line);
                    assert!(label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                    let value = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"'));
                    labels.push((label, value.expect(line)));
                }
            }
            let series = key(name, &labels);
            assert!(samples.insert(series, value).is_none(), "{line}");
        }
        panic!("no # EOF at the end of the exposition");
    }

    fn exposition(metrics: &Metrics) -> (String, HashMap<String, f64>) {
        let text = metrics.encode().unwrap();
        let samples = parse(&text);
        (text, samples)
    }

    fn requests(service: &str, operation: &str, outcome: &str) -> String {
        key(
            "coffer_requests_total",
            &[
                ("service", service),
                ("operation", operation),
                ("outcome", outcome),
            ],
        )
    }

    fn parts(request: Request<()>) -> Parts {
        request.into_parts().0
    }

    #[test]
    fn services_index_their_tables_in_declaration_order() {
        for (index, service) in Service::ALL.into_iter().enumerate() {
            assert_eq!(service as usize, index);
        }
    }

    #[test]
    fn every_operation_of_every_service_is_a_series_from_the_start() {
        let metrics = Metrics::new();
        let (_, samples) = exposition(&metrics);
        for op in secretsmanager::Operation::ALL {
            assert_eq!(samples[&requests("secretsmanager", op.name(), "ok")], 0.0);
        }
        for op in kms::Operation::ALL {
            assert_eq!(samples[&requests("kms", op.name(), "ok")], 0.0);
        }
        for op in iam::Operation::ALL {
            assert_eq!(samples[&requests("iam", op.name(), "ok")], 0.0);
        }
        for op in sts::Operation::ALL {
            assert_eq!(samples[&requests("sts", op.name(), "ok")], 0.0);
        }
        for op in cloudtrail::Operation::ALL {
            assert_eq!(samples[&requests("cloudtrail", op.name(), "ok")], 0.0);
        }
        assert_eq!(samples[&requests("unknown", "unknown", "ok")], 0.0);
        assert_eq!(samples["coffer_sealed"], 0.0);
        assert_eq!(samples["coffer_store_errors_total"], 0.0);
        assert_eq!(samples["coffer_audit_queue_depth"], 0.0);
        assert_eq!(samples["coffer_audit_records_total"], 0.0);
        assert_eq!(samples["coffer_audit_failures_total"], 0.0);
        assert_eq!(samples["coffer_audit_write_seconds_count"], 0.0);
        // Latency series appear with an operation's first request.
        assert!(!samples.keys().any(|k| k.contains("request_duration")));
    }

    #[test]
    fn requests_are_counted_and_timed_by_service_operation_and_outcome() {
        let metrics = Metrics::new();
        let sm = Api::Json(Service::SecretsManager);
        let target = "secretsmanager.GetSecretValue";
        metrics.record_request(sm, target, "GetSecretValue", "ok", MS);
        metrics.record_request(sm, target, "GetSecretValue", "ok", 3 * MS);
        metrics.record_request(sm, target, "GetSecretValue", "AccessDeniedException", MS);
        metrics.record_request(sm, target, "GetSecretValue", "AccessDeniedException", MS);
        metrics.record_request(
            sm,
            target,
            "GetSecretValue",
            "ResourceNotFoundException",
            MS,
        );
        let kms_target = "TrentService.Decrypt";
        metrics.record_request(Api::Json(Service::Kms), kms_target, "Decrypt", "ok", MS);
        metrics.record_request(Api::Query(Some(Service::Iam)), "", "CreateUser", "ok", MS);
        metrics.record_request(Api::Query(None), "", "GetCallerIdentity", "ok", MS);
        metrics.record_request(Api::Query(None), "", "ListUsers", "AccessDenied", MS);

        let (_, samples) = exposition(&metrics);
        let get = |s, o, r| samples[&requests(s, o, r)];
        assert_eq!(get("secretsmanager", "GetSecretValue", "ok"), 2.0);
        assert_eq!(
            get("secretsmanager", "GetSecretValue", "AccessDeniedException"),
            2.0
        );
        assert_eq!(
            get(
                "secretsmanager",
                "GetSecretValue",
                "ResourceNotFoundException"
            ),
            1.0
        );
        assert_eq!(get("kms", "Decrypt", "ok"), 1.0);
        assert_eq!(get("iam", "CreateUser", "ok"), 1.0);
        assert_eq!(get("sts", "GetCallerIdentity", "ok"), 1.0);
        assert_eq!(get("iam", "ListUsers", "AccessDenied"), 1.0);
        assert_eq!(get("secretsmanager", "DescribeSecret", "ok"), 0.0);

        let histogram = |suffix: &str, le: Option<&str>| {
            let mut labels = vec![
                ("service", "secretsmanager"),
                ("operation", "GetSecretValue"),
            ];
            labels.extend(le.map(|le| ("le", le)));
            samples[&key(
                &format!("coffer_request_duration_seconds_{suffix}"),
                &labels,
            )]
        };
        assert_eq!(histogram("count", None), 5.0);
        assert!((histogram("sum", None) - 0.007).abs() < 1e-9);
        assert_eq!(histogram("bucket", Some("0.0005")), 0.0);
        assert_eq!(histogram("bucket", Some("0.001")), 4.0);
        assert_eq!(histogram("bucket", Some("0.005")), 5.0);
        assert_eq!(histogram("bucket", Some("+Inf")), 5.0);
        assert!(
            !samples
                .keys()
                .any(|k| k.contains("DescribeSecret") && k.contains("duration"))
        );
        assert_eq!(samples["coffer_store_errors_total"], 0.0);
    }

    #[test]
    fn unknown_operations_and_services_share_one_fixed_label() {
        let metrics = Metrics::new();
        let sm = Api::Json(Service::SecretsManager);
        for name in ["Bogus", "getsecretvalue", "GetSecretValue2", ""] {
            let target = format!("secretsmanager.{name}");
            metrics.record_request(sm, &target, &target, "UnknownOperationException", MS);
        }
        let kms_api = Api::Json(Service::Kms);
        metrics.record_request(
            kms_api,
            "TrentService.Sign",
            "Sign",
            "UnknownOperationException",
            MS,
        );
        metrics.record_request(
            Api::Query(Some(Service::Iam)),
            "",
            "Evil\"Name",
            "InvalidAction",
            MS,
        );
        metrics.record_request(
            Api::Unknown,
            "Foo_2020.Bar",
            "Foo_2020.Bar",
            "UnknownOperationException",
            MS,
        );

        let (text, samples) = exposition(&metrics);
        for leaked in [
            "Bogus",
            "getsecretvalue",
            "GetSecretValue2",
            "Sign\"",
            "Evil",
            "Foo_2020",
        ] {
            assert!(!text.contains(leaked), "{leaked} reached the exposition");
        }
        let get = |s, r| samples[&requests(s, "unknown", r)];
        assert_eq!(get("secretsmanager", "UnknownOperationException"), 4.0);
        assert_eq!(get("kms", "UnknownOperationException"), 1.0);
        assert_eq!(get("iam", "InvalidAction"), 1.0);
        assert_eq!(get("unknown", "UnknownOperationException"), 1.0);
    }

    #[test]
    fn internal_failures_count_as_store_errors() {
        let metrics = Metrics::new();
        let api = Api::Json(Service::SecretsManager);
        let target = "secretsmanager.PutSecretValue";
        metrics.record_request(api, target, "", "InternalServiceError", MS);
        metrics.record_request(api, target, "", "ValidationException", MS);
        let kms_api = Api::Json(Service::Kms);
        metrics.record_request(
            kms_api,
            "TrentService.Encrypt",
            "",
            "KMSInternalException",
            MS,
        );
        metrics.record_request(
            Api::Query(Some(Service::Sts)),
            "",
            "AssumeRole",
            "ServiceFailure",
            MS,
        );
        metrics.record_request(
            Api::Query(Some(Service::Iam)),
            "",
            "GetUser",
            "InternalFailure",
            MS,
        );
        let (_, samples) = exposition(&metrics);
        assert_eq!(samples["coffer_store_errors_total"], 4.0);
    }

    #[test]
    fn error_outcomes_per_operation_are_bounded() {
        let metrics = Metrics::new();
        let api = Api::Json(Service::SecretsManager);
        let target = "secretsmanager.GetSecretValue";
        for i in 0..MAX_OUTCOMES_PER_OPERATION + 10 {
            metrics.record_request(api, target, "", &format!("Error{i}"), MS);
        }
        metrics.record_request(api, target, "", "Error0", MS);
        let (_, samples) = exposition(&metrics);
        let series = samples
            .keys()
            .filter(|k| k.contains(r#"operation="GetSecretValue",outcome="Error"#))
            .count();
        assert_eq!(series, MAX_OUTCOMES_PER_OPERATION);
        assert_eq!(
            samples[&requests("secretsmanager", "GetSecretValue", "Error0")],
            2.0
        );
        assert_eq!(
            samples[&requests("secretsmanager", "GetSecretValue", "other")],
            10.0
        );
    }

    #[test]
    fn sealed_and_audit_metrics_are_exposed() {
        let metrics = Metrics::new();
        metrics.set_sealed(true);
        let audit = metrics.audit.clone();
        audit.queue_depth.set(7);
        audit.written(3, 2 * MS);
        audit.failed(MS);
        let (_, samples) = exposition(&metrics);
        assert_eq!(samples["coffer_sealed"], 1.0);
        assert_eq!(samples["coffer_audit_queue_depth"], 7.0);
        assert_eq!(samples["coffer_audit_records_total"], 3.0);
        assert_eq!(samples["coffer_audit_failures_total"], 1.0);
        assert_eq!(samples["coffer_audit_write_seconds_count"], 2.0);
        metrics.set_sealed(false);
        assert_eq!(exposition(&metrics).1["coffer_sealed"], 0.0);
    }

    #[test]
    fn the_exposition_declares_types_and_units() {
        let metrics = Metrics::new();
        let api = Api::Json(Service::Kms);
        metrics.record_request(api, "TrentService.Encrypt", "Encrypt", "ok", MS);
        let (text, _) = exposition(&metrics);
        for line in [
            "# TYPE coffer_requests counter",
            "# TYPE coffer_request_duration_seconds histogram",
            "# UNIT coffer_request_duration_seconds seconds",
            "# TYPE coffer_sealed gauge",
            "# TYPE coffer_store_errors counter",
            "# TYPE coffer_audit_queue_depth gauge",
            "# TYPE coffer_audit_write_seconds histogram",
            "# TYPE coffer_audit_records counter",
            "# TYPE coffer_audit_failures counter",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?}");
        }
    }

    #[test]
    fn requests_are_classified_by_target_and_scope() {
        let json = |target: &str| {
            let request = Request::post("/").header("x-amz-target", target);
            Api::of_request(target, &parts(request.body(()).unwrap()))
        };
        assert_eq!(
            json("secretsmanager.GetSecretValue"),
            Api::Json(Service::SecretsManager)
        );
        assert_eq!(json("TrentService.Decrypt"), Api::Json(Service::Kms));
        assert_eq!(
            json("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"),
            Api::Json(Service::CloudTrail)
        );
        assert_eq!(json("DynamoDB_20120810.GetItem"), Api::Unknown);

        let signed = |service: &str| {
            let authorization = format!(
                "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/{service}/aws4_request, \
                 SignedHeaders=host, Signature=00"
            );
            let request = Request::post("/")
                .header("authorization", authorization)
                .header("content-type", "application/x-www-form-urlencoded");
            Api::of_request("", &parts(request.body(()).unwrap()))
        };
        assert_eq!(signed("iam"), Api::Query(Some(Service::Iam)));
        assert_eq!(signed("sts"), Api::Query(Some(Service::Sts)));
        let unsigned = Request::post("/?Action=GetCallerIdentity&Version=2011-06-15");
        assert_eq!(
            Api::of_request("", &parts(unsigned.body(()).unwrap())),
            Api::Query(None)
        );
        let neither = Request::get("/favicon.ico").body(()).unwrap();
        assert_eq!(Api::of_request("", &parts(neither)), Api::Unknown);
    }
}
