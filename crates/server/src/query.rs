//! The Query-protocol APIs (companion spec §1, §3): IAM and STS, `Action=…&Version=…` form
//! requests answered in XML.
//!
//! Per request: read the body (bounded, wiped), pick the service from the SigV4 scope (or, for
//! unsigned requests, from `Version`), authenticate with a 15-minute clock window (signed for
//! `us-east-1` or a served region), resolve `Action`, decode and
//! validate with the generated models, call the IAM service, encode XML. Every response body is
//! wiped after sending (CreateAccessKey and AssumeRole carry secret keys).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Response, StatusCode, header};
use bytes::Bytes;
use coffer_auth::{SigV4Verifier, VerifyOptions};
use coffer_domain::audit::AuditIdentity;
use coffer_domain::iam::{Holder, IamError};
use coffer_domain::identity::{Principal, PrincipalKind};
use coffer_wire::iam::convert as iam_convert;
use coffer_wire::iam::model as iam;
use coffer_wire::query::{self, QueryError, QueryOutput};
use coffer_wire::sts::convert as sts_convert;
use coffer_wire::sts::model as sts;

use crate::audit::AuditFacts;
use crate::http::{AppState, BodyError, MAX_BODY_BYTES, WipedOnDrop, read_body};

/// AWS's clock-skew window for STS (and, documented generally, IAM): 15 minutes.
const QUERY_API_SKEW: Duration = Duration::from_secs(15 * 60);
/// IAM is global: AWS's clients sign it for us-east-1 whatever their region.
const IAM_SIGNING_REGION: &str = "us-east-1";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Service {
    Iam,
    Sts,
}

impl Service {
    fn namespace(self) -> &'static str {
        match self {
            Service::Iam => iam::XML_NAMESPACE,
            Service::Sts => sts::XML_NAMESPACE,
        }
    }

    /// STS when the request is signed for it; IAM otherwise (IAM is also the API unsigned or
    /// malformed requests are answered as).
    fn of_scope(scope: Option<&coffer_auth::CredentialScope>) -> Service {
        match scope {
            Some(scope) if scope.service == sts::SIGNING_NAME => Service::Sts,
            _ => Service::Iam,
        }
    }

    /// The audit record's `eventSource`.
    fn event_source(self) -> &'static str {
        match self {
            Service::Iam => "iam.amazonaws.com",
            Service::Sts => "sts.amazonaws.com",
        }
    }

    fn signing_name(self) -> &'static str {
        match self {
            Service::Iam => iam::SIGNING_NAME,
            Service::Sts => sts::SIGNING_NAME,
        }
    }
}

/// Whether a request without `X-Amz-Target` is a Query-protocol (IAM/STS) request: signed for
/// `iam` or `sts`, or a form body, or `Action=` in the URL.
pub fn is_query_request(parts: &Parts) -> bool {
    if let Some(scope) = SigV4Verifier::peek_scope(parts) {
        return scope.service == iam::SIGNING_NAME || scope.service == sts::SIGNING_NAME;
    }
    let form_body = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with(FORM_CONTENT_TYPE));
    let action_in_url = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("Action=")));
    form_body || action_in_url
}

fn xml_response(status: StatusCode, request_id: &str, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(Bytes::from_owner(WipedOnDrop(body))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(query::CONTENT_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

fn error_response(service: Service, request_id: &str, error: &QueryError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    xml_response(
        status,
        request_id,
        error.to_xml(service.namespace(), request_id),
    )
}

/// What a sealed server answers an IAM or STS request: `ServiceUnavailable` (503) in the
/// protocol's XML error shape.
pub fn sealed_response(parts: &Parts, request_id: &str, message: String) -> Response<Body> {
    let service = Service::of_scope(SigV4Verifier::peek_scope(parts).as_ref());
    error_response(
        service,
        request_id,
        &QueryError::new("ServiceUnavailable", 503, message),
    )
}

/// Serves one IAM or STS request: (response, operation name, outcome) for the request log.
pub async fn serve(
    state: &AppState,
    request_id: &str,
    parts: Parts,
    body: Body,
    _peer_ip: IpAddr,
    facts: &mut AuditFacts,
) -> (Response<Body>, String, String) {
    let scope = SigV4Verifier::peek_scope(&parts);
    let mut service = Service::of_scope(scope.as_ref());
    let fail = |facts: &mut AuditFacts, service: Service, error: QueryError, operation: &str| {
        facts.operation(service.event_source(), operation);
        facts.failed(error.code, &error.message);
        if error.is_server_fault() {
            tracing::error!(request_id, code = error.code, "query request failed");
        }
        (
            error_response(service, request_id, &error),
            operation.to_owned(),
            error.code.to_owned(),
        )
    };

    let declared_len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = match read_body(body, declared_len).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let error = QueryError::new(
                "RequestEntityTooLarge",
                413,
                format!(
                    "The request body is larger than the {MAX_BODY_BYTES} bytes this server accepts."
                ),
            );
            return fail(facts, service, error, "");
        }
        Err(BodyError::Read(cause)) => {
            tracing::debug!(request_id, cause, "could not read the request body");
            return fail(
                facts,
                service,
                QueryError::new(
                    "MalformedQueryString",
                    400,
                    "The request body could not be read.",
                ),
                "",
            );
        }
    };
    let form = match query::decode_form(&body, parts.uri.query()) {
        Ok(form) => form,
        Err(e) => return fail(facts, service, QueryError::from(&e), ""),
    };
    if scope.is_none() && form.version() == Some(sts::API_VERSION) {
        service = Service::Sts;
    }
    let action = form.action().unwrap_or("").to_owned();

    let now = jiff::Timestamp::from_millisecond(state.clock.now())
        .unwrap_or_else(|_| jiff::Timestamp::now());
    // IAM is global (AWS: us-east-1 only); STS is regional (+ us-east-1 for global STS).
    // Coffer accepts the served regions for IAM too: with a custom endpoint, botocore and the
    // CLI sign IAM for the client's configured region.
    let mut regions = state.regions.clone();
    if !regions.iter().any(|r| r == IAM_SIGNING_REGION) {
        regions.push(IAM_SIGNING_REGION.to_owned());
    }
    let options = VerifyOptions {
        service: service.signing_name(),
        regions: &regions,
        allowed_skew: QUERY_API_SKEW,
        required_signed_headers: &["host"],
        now,
    };
    let verified = match state
        .verifier
        .verify(&parts, &body, &options, &state.credentials)
        .await
    {
        Ok(verified) => verified,
        Err(error) => {
            if let coffer_auth::AuthError::Internal(cause) = &error {
                tracing::error!(request_id, cause, "authentication failed internally");
            }
            facts.identity = Some(AuditIdentity::Unauthenticated {
                access_key_id: scope.as_ref().map(|s| s.access_key_id.clone()),
            });
            return fail(facts, service, QueryError::from(&error), &action);
        }
    };
    let principal: Arc<Principal> = verified.principal;
    facts.operation(service.event_source(), &action);
    facts.region = Some(verified.region.clone());
    facts.identity = Some(AuditIdentity::Principal {
        principal: Arc::clone(&principal),
        user_id: None,
        access_key_id: verified.access_key_id.clone(),
    });
    // Temporary keys acting as an IAM user come from GetSessionToken. Without MFA (Coffer has
    // none) AWS refuses them on the IAM API as an invalid token.
    let user_session =
        verified.access_key_id.starts_with("ASIA") && principal.kind == PrincipalKind::User;
    if user_session && service == Service::Iam {
        let error = QueryError::from(&coffer_auth::AuthError::UnrecognizedClient);
        return fail(facts, service, error, &action);
    }

    let result = match service {
        Service::Iam => handle_iam(state, request_id, &principal, &form, facts).await,
        Service::Sts => handle_sts(state, request_id, &principal, user_session, &form, facts).await,
    };
    facts.note_user_id(state);
    match result {
        Ok(body) => (
            xml_response(StatusCode::OK, request_id, body),
            action,
            "ok".into(),
        ),
        Err(error) => fail(facts, service, error, &action),
    }
}

fn log_internal(request_id: &str, error: &IamError) {
    if let IamError::Internal { cause } = error {
        tracing::error!(request_id, cause = %cause, "internal error");
    }
}

fn respond_iam<T: QueryOutput + iam::OperationOutput>(
    facts: &mut AuditFacts,
    output: T,
    request_id: &str,
) -> Result<Vec<u8>, QueryError> {
    facts.response(|| iam::audit_response_elements(&output));
    Ok(query::encode_response(&output, request_id))
}

fn respond_sts<T: QueryOutput + sts::OperationOutput>(
    facts: &mut AuditFacts,
    output: T,
    request_id: &str,
) -> Result<Vec<u8>, QueryError> {
    facts.response(|| sts::audit_response_elements(&output));
    Ok(query::encode_response(&output, request_id))
}

async fn handle_sts(
    state: &AppState,
    request_id: &str,
    caller: &Principal,
    user_session: bool,
    form: &query::FormParams,
    facts: &mut AuditFacts,
) -> Result<Vec<u8>, QueryError> {
    let operation = sts::Operation::from_params(form)?;
    let request = sts::Request::decode(operation, form).map_err(|e| QueryError::from(&e))?;
    facts.request(
        || sts::audit_request_parameters(&request),
        operation.read_only(),
    );
    let service = &state.iam;
    let fail = |e: IamError| {
        log_internal(request_id, &e);
        sts_convert::error(&e)
    };
    match request {
        sts::Request::GetCallerIdentity(_) => {
            let id = service.get_caller_identity(caller).await.map_err(fail)?;
            respond_sts(facts, sts_convert::caller_identity_response(id), request_id)
        }
        sts::Request::AssumeRole(r) => {
            let out = service
                .assume_role(caller, sts_convert::assume_role(r))
                .await
                .map_err(fail)?;
            respond_sts(facts, sts_convert::assume_role_response(out), request_id)
        }
        sts::Request::GetSessionToken(r) => {
            let is_session = user_session || !matches!(caller.kind, PrincipalKind::User);
            let credentials = service
                .get_session_token(
                    caller,
                    r.duration_seconds,
                    r.serial_number.as_deref(),
                    is_session,
                )
                .await
                .map_err(fail)?;
            respond_sts(
                facts,
                sts_convert::session_token_response(credentials),
                request_id,
            )
        }
    }
}

async fn handle_iam(
    state: &AppState,
    request_id: &str,
    caller: &Principal,
    form: &query::FormParams,
    facts: &mut AuditFacts,
) -> Result<Vec<u8>, QueryError> {
    use iam::Request as R;
    use iam_convert as c;

    let operation = iam::Operation::from_params(form)?;
    let request = iam::Request::decode(operation, form).map_err(|e| QueryError::from(&e))?;
    facts.request(
        || iam::audit_request_parameters(&request),
        operation.read_only(),
    );
    let s = &state.iam;
    let fail = |e: IamError| {
        log_internal(request_id, &e);
        c::error(&e)
    };
    let rid = request_id;
    // Required members are present: the model's validation ran in `decode`.
    fn req(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or_default()
    }

    match request {
        // Users
        R::CreateUser(r) => {
            let user = s
                .create_user(
                    caller,
                    req(&r.user_name),
                    r.path.as_deref(),
                    r.permissions_boundary.as_deref(),
                    c::tags_in(r.tags),
                )
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::CreateUserResponse {
                    user: Some(c::user(&user)),
                },
                rid,
            )
        }
        R::GetUser(r) => {
            let user = s
                .get_user(caller, r.user_name.as_deref())
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::GetUserResponse {
                    user: Some(c::user(&user)),
                },
                rid,
            )
        }
        R::ListUsers(r) => {
            let page = s
                .list_users(
                    caller,
                    r.path_prefix.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (users, is_truncated, marker) = c::page(page, c::user);
            respond_iam(
                facts,
                iam::ListUsersResponse {
                    users,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }
        R::DeleteUser(r) => {
            s.delete_user(caller, req(&r.user_name))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DeleteUserResponse {}, rid)
        }
        R::TagUser(r) => {
            s.tag_user(caller, req(&r.user_name), c::tags_in(r.tags))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::TagUserResponse {}, rid)
        }
        R::UntagUser(r) => {
            s.untag_user(caller, req(&r.user_name), r.tag_keys.unwrap_or_default())
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::UntagUserResponse {}, rid)
        }
        R::ListUserTags(r) => {
            let page = s
                .list_user_tags(caller, req(&r.user_name), r.marker.as_deref(), r.max_items)
                .await
                .map_err(fail)?;
            respond_iam(facts, c::tag_page(page), rid)
        }

        // Access keys
        R::CreateAccessKey(r) => {
            let key = s
                .create_access_key(caller, r.user_name.as_deref())
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::CreateAccessKeyResponse {
                    access_key: Some(c::access_key(key)),
                },
                rid,
            )
        }
        R::ListAccessKeys(r) => {
            let page = s
                .list_access_keys(
                    caller,
                    r.user_name.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (access_key_metadata, is_truncated, marker) = c::page(page, c::access_key_metadata);
            respond_iam(
                facts,
                iam::ListAccessKeysResponse {
                    access_key_metadata,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }
        R::UpdateAccessKey(r) => {
            s.update_access_key(
                caller,
                r.user_name.as_deref(),
                req(&r.access_key_id),
                req(&r.status),
            )
            .await
            .map_err(fail)?;
            respond_iam(facts, iam::UpdateAccessKeyResponse {}, rid)
        }
        R::DeleteAccessKey(r) => {
            s.delete_access_key(caller, r.user_name.as_deref(), req(&r.access_key_id))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DeleteAccessKeyResponse {}, rid)
        }

        // Inline policies
        R::PutUserPolicy(r) => {
            s.put_inline_policy(
                caller,
                Holder::User,
                req(&r.user_name),
                req(&r.policy_name),
                req(&r.policy_document),
            )
            .await
            .map_err(fail)?;
            respond_iam(facts, iam::PutUserPolicyResponse {}, rid)
        }
        R::PutGroupPolicy(r) => {
            s.put_inline_policy(
                caller,
                Holder::Group,
                req(&r.group_name),
                req(&r.policy_name),
                req(&r.policy_document),
            )
            .await
            .map_err(fail)?;
            respond_iam(facts, iam::PutGroupPolicyResponse {}, rid)
        }
        R::PutRolePolicy(r) => {
            s.put_inline_policy(
                caller,
                Holder::Role,
                req(&r.role_name),
                req(&r.policy_name),
                req(&r.policy_document),
            )
            .await
            .map_err(fail)?;
            respond_iam(facts, iam::PutRolePolicyResponse {}, rid)
        }
        R::GetUserPolicy(r) => {
            let p = s
                .get_inline_policy(caller, Holder::User, req(&r.user_name), req(&r.policy_name))
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::GetUserPolicyResponse {
                    user_name: Some(p.entity_name),
                    policy_name: Some(p.policy_name),
                    policy_document: Some(p.policy_document),
                },
                rid,
            )
        }
        R::GetGroupPolicy(r) => {
            let p = s
                .get_inline_policy(
                    caller,
                    Holder::Group,
                    req(&r.group_name),
                    req(&r.policy_name),
                )
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::GetGroupPolicyResponse {
                    group_name: Some(p.entity_name),
                    policy_name: Some(p.policy_name),
                    policy_document: Some(p.policy_document),
                },
                rid,
            )
        }
        R::GetRolePolicy(r) => {
            let p = s
                .get_inline_policy(caller, Holder::Role, req(&r.role_name), req(&r.policy_name))
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::GetRolePolicyResponse {
                    role_name: Some(p.entity_name),
                    policy_name: Some(p.policy_name),
                    policy_document: Some(p.policy_document),
                },
                rid,
            )
        }
        R::DeleteUserPolicy(r) => {
            s.delete_inline_policy(caller, Holder::User, req(&r.user_name), req(&r.policy_name))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DeleteUserPolicyResponse {}, rid)
        }
        R::DeleteGroupPolicy(r) => {
            s.delete_inline_policy(
                caller,
                Holder::Group,
                req(&r.group_name),
                req(&r.policy_name),
            )
            .await
            .map_err(fail)?;
            respond_iam(facts, iam::DeleteGroupPolicyResponse {}, rid)
        }
        R::DeleteRolePolicy(r) => {
            s.delete_inline_policy(caller, Holder::Role, req(&r.role_name), req(&r.policy_name))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DeleteRolePolicyResponse {}, rid)
        }
        R::ListUserPolicies(r) => {
            let page = s
                .list_inline_policies(
                    caller,
                    Holder::User,
                    req(&r.user_name),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (policy_names, is_truncated, marker) = c::page(page, String::clone);
            respond_iam(
                facts,
                iam::ListUserPoliciesResponse {
                    policy_names,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }
        R::ListGroupPolicies(r) => {
            let page = s
                .list_inline_policies(
                    caller,
                    Holder::Group,
                    req(&r.group_name),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (policy_names, is_truncated, marker) = c::page(page, String::clone);
            respond_iam(
                facts,
                iam::ListGroupPoliciesResponse {
                    policy_names,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }
        R::ListRolePolicies(r) => {
            let page = s
                .list_inline_policies(
                    caller,
                    Holder::Role,
                    req(&r.role_name),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (policy_names, is_truncated, marker) = c::page(page, String::clone);
            respond_iam(
                facts,
                iam::ListRolePoliciesResponse {
                    policy_names,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }

        // Managed policies
        R::CreatePolicy(r) => {
            let p = s
                .create_policy(
                    caller,
                    req(&r.policy_name),
                    r.path.as_deref(),
                    req(&r.policy_document),
                    r.description.as_deref(),
                    c::tags_in(r.tags),
                )
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::CreatePolicyResponse {
                    policy: Some(c::policy(&p)),
                },
                rid,
            )
        }
        R::GetPolicy(r) => {
            let p = s
                .get_policy(caller, req(&r.policy_arn))
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::GetPolicyResponse {
                    policy: Some(c::policy(&p)),
                },
                rid,
            )
        }
        R::GetPolicyVersion(r) => {
            let v = s
                .get_policy_version(caller, req(&r.policy_arn), req(&r.version_id))
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::GetPolicyVersionResponse {
                    policy_version: Some(c::policy_version(&v)),
                },
                rid,
            )
        }
        R::DeletePolicy(r) => {
            s.delete_policy(caller, req(&r.policy_arn))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DeletePolicyResponse {}, rid)
        }
        R::ListPolicies(r) => {
            let page = s
                .list_policies(
                    caller,
                    r.scope.as_deref(),
                    r.only_attached.unwrap_or(false),
                    r.path_prefix.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (policies, is_truncated, marker) = c::page(page, c::policy);
            respond_iam(
                facts,
                iam::ListPoliciesResponse {
                    policies,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }
        R::AttachUserPolicy(r) => {
            s.attach_policy(caller, Holder::User, req(&r.user_name), req(&r.policy_arn))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::AttachUserPolicyResponse {}, rid)
        }
        R::AttachGroupPolicy(r) => {
            s.attach_policy(
                caller,
                Holder::Group,
                req(&r.group_name),
                req(&r.policy_arn),
            )
            .await
            .map_err(fail)?;
            respond_iam(facts, iam::AttachGroupPolicyResponse {}, rid)
        }
        R::AttachRolePolicy(r) => {
            s.attach_policy(caller, Holder::Role, req(&r.role_name), req(&r.policy_arn))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::AttachRolePolicyResponse {}, rid)
        }
        R::DetachUserPolicy(r) => {
            s.detach_policy(caller, Holder::User, req(&r.user_name), req(&r.policy_arn))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DetachUserPolicyResponse {}, rid)
        }
        R::DetachGroupPolicy(r) => {
            s.detach_policy(
                caller,
                Holder::Group,
                req(&r.group_name),
                req(&r.policy_arn),
            )
            .await
            .map_err(fail)?;
            respond_iam(facts, iam::DetachGroupPolicyResponse {}, rid)
        }
        R::DetachRolePolicy(r) => {
            s.detach_policy(caller, Holder::Role, req(&r.role_name), req(&r.policy_arn))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DetachRolePolicyResponse {}, rid)
        }
        R::ListAttachedUserPolicies(r) => {
            let page = s
                .list_attached_policies(
                    caller,
                    Holder::User,
                    req(&r.user_name),
                    r.path_prefix.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (attached_policies, is_truncated, marker) = c::page(page, c::attached_policy);
            respond_iam(
                facts,
                iam::ListAttachedUserPoliciesResponse {
                    attached_policies,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }
        R::ListAttachedGroupPolicies(r) => {
            let page = s
                .list_attached_policies(
                    caller,
                    Holder::Group,
                    req(&r.group_name),
                    r.path_prefix.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (attached_policies, is_truncated, marker) = c::page(page, c::attached_policy);
            respond_iam(
                facts,
                iam::ListAttachedGroupPoliciesResponse {
                    attached_policies,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }
        R::ListAttachedRolePolicies(r) => {
            let page = s
                .list_attached_policies(
                    caller,
                    Holder::Role,
                    req(&r.role_name),
                    r.path_prefix.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .await
                .map_err(fail)?;
            let (attached_policies, is_truncated, marker) = c::page(page, c::attached_policy);
            respond_iam(
                facts,
                iam::ListAttachedRolePoliciesResponse {
                    attached_policies,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }

        // Groups
        R::CreateGroup(r) => {
            let g = s
                .create_group(caller, req(&r.group_name), r.path.as_deref())
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::CreateGroupResponse {
                    group: Some(c::group(&g)),
                },
                rid,
            )
        }
        R::GetGroup(r) => {
            let (g, page) = s
                .get_group(caller, req(&r.group_name), r.marker.as_deref(), r.max_items)
                .await
                .map_err(fail)?;
            let (users, is_truncated, marker) = c::page(page, c::user);
            respond_iam(
                facts,
                iam::GetGroupResponse {
                    group: Some(c::group(&g)),
                    users,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }
        R::DeleteGroup(r) => {
            s.delete_group(caller, req(&r.group_name))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DeleteGroupResponse {}, rid)
        }
        R::AddUserToGroup(r) => {
            s.add_user_to_group(caller, req(&r.group_name), req(&r.user_name))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::AddUserToGroupResponse {}, rid)
        }
        R::RemoveUserFromGroup(r) => {
            s.remove_user_from_group(caller, req(&r.group_name), req(&r.user_name))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::RemoveUserFromGroupResponse {}, rid)
        }
        R::ListGroupsForUser(r) => {
            let page = s
                .list_groups_for_user(caller, req(&r.user_name), r.marker.as_deref(), r.max_items)
                .await
                .map_err(fail)?;
            let (groups, is_truncated, marker) = c::page(page, c::group);
            respond_iam(
                facts,
                iam::ListGroupsForUserResponse {
                    groups,
                    is_truncated,
                    marker,
                },
                rid,
            )
        }

        // Roles
        R::CreateRole(r) => {
            let role = s
                .create_role(
                    caller,
                    req(&r.role_name),
                    r.path.as_deref(),
                    req(&r.assume_role_policy_document),
                    r.description.as_deref(),
                    r.max_session_duration,
                    r.permissions_boundary.as_deref(),
                    c::tags_in(r.tags),
                )
                .await
                .map_err(fail)?;
            respond_iam(
                facts,
                iam::CreateRoleResponse {
                    role: Some(c::role(&role)),
                },
                rid,
            )
        }
        R::GetRole(r) => {
            let role = s.get_role(caller, req(&r.role_name)).await.map_err(fail)?;
            respond_iam(
                facts,
                iam::GetRoleResponse {
                    role: Some(c::role(&role)),
                },
                rid,
            )
        }
        R::DeleteRole(r) => {
            s.delete_role(caller, req(&r.role_name))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::DeleteRoleResponse {}, rid)
        }
        R::UpdateAssumeRolePolicy(r) => {
            s.update_assume_role_policy(caller, req(&r.role_name), req(&r.policy_document))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::UpdateAssumeRolePolicyResponse {}, rid)
        }
        R::TagRole(r) => {
            s.tag_role(caller, req(&r.role_name), c::tags_in(r.tags))
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::TagRoleResponse {}, rid)
        }
        R::UntagRole(r) => {
            s.untag_role(caller, req(&r.role_name), r.tag_keys.unwrap_or_default())
                .await
                .map_err(fail)?;
            respond_iam(facts, iam::UntagRoleResponse {}, rid)
        }
    }
}
