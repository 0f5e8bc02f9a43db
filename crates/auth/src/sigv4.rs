//! AWS Signature Version 4 request verification.
//!
//! # Logging: read this before wiring up a subscriber
//!
//! The canonicalisation and signature code underneath this module (`scratchstack-aws-signature`) logs through the
//! `log` crate. At `trace` level it prints the canonical request — including the `x-amz-security-token` header — and,
//! on a mismatch, the signature the server expected (a valid signature for that request). Callers must never route the
//! `scratchstack_aws_signature` log target below `warn`, whatever the user's filter says; add the directives from
//! [`SENSITIVE_LOG_TARGETS`] *after* the user's own. This module itself logs nothing.
//!
//! # Why it looks like this
//!
//! Every Coffer API (Secrets Manager, KMS, STS, IAM, CloudTrail) authenticates with SigV4, and the unchanged AWS
//! clients are the only clients, so verification has to agree with them byte for byte — and its refusals have to
//! carry AWS's own error codes and messages, because SDKs, the CLI and users' scripts match on them.
//!
//! Canonicalisation and the constant-time comparison come from `scratchstack-aws-signature` (pinned, reviewed) rather
//! than being written here, but that crate is wrapped completely: none of its types (nor `chrono`'s) appear in this
//! API, so it can be replaced without touching callers. Its top-level entry point hard-codes a 15-minute window and
//! reports some checks differently from AWS, so this module drives its lower-level pieces and does the checks whose
//! wording or policy matters itself, in AWS's order:
//!
//! 1. presence of any authentication, the `Authorization` header or presigned-query syntax, the signed-header
//!    requirements (the operation header must be covered, or a captured request could be replayed as another
//!    operation);
//! 2. the clock window, which differs per service (5 minutes for the JSON APIs, 15 for STS/IAM), and for presigned
//!    URLs also `X-Amz-Expires`;
//! 3. the credential scope (service, served region, date, terminator) — before the access key is looked up, so a
//!    mis-scoped request never costs a store round trip;
//! 4. the access key and its session token (temporary keys must present their own token; long-term keys must not
//!    present one);
//! 5. the signature itself, over a hash of the body actually received. A client-supplied `X-Amz-Content-Sha256` is
//!    never trusted as the payload hash: it must equal the real one, so `UNSIGNED-PAYLOAD` and `STREAMING-*` (S3
//!    features) can never exempt a body here.
//!
//! The access key is looked up on every request (a deleted or deactivated key must stop working at once), but the
//! derived signing key — four HMACs — is cached per (access key, day, region, service), as AWS intends derived keys
//! to be used. Each cache entry remembers a keyed fingerprint of the secret it was derived from, so a changed secret
//! can never be verified against a stale key.
//!
//! Where the underlying crate departs from AWS, this module corrects it: presigned `X-Amz-Credential` and
//! `X-Amz-Security-Token` values are percent-decoded, the request path is encoded a second time as every AWS SDK does
//! for non-S3 services, scope errors carry AWS's trailing space, and `X-Amz-Expires` is enforced.

use std::{
    borrow::Cow,
    fmt,
    future::Future,
    hash::{BuildHasher, RandomState},
    str::FromStr,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{
    HeaderValue, Uri,
    header::{AUTHORIZATION, HOST},
    request::Parts,
};
use jiff::{SignedDuration, Timestamp};
use scratchstack_aws_signature::{
    GetSigningKeyRequest, GetSigningKeyResponse, KSecretKey, KSigningKey,
    NO_ADDITIONAL_SIGNED_HEADERS, SignatureError, SignatureOptions, canonical::CanonicalRequest,
};
use subtle::ConstantTimeEq;
use tower::BoxError;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Log targets that must be clamped to `warn` (or quieter) in every log configuration, e.g. by appending
/// `scratchstack_aws_signature=warn` to the subscriber's filter after the user's directives. At `trace` they print
/// session tokens and expected signatures.
pub const SENSITIVE_LOG_TARGETS: &[&str] = &["scratchstack_aws_signature"];

/// Largest accepted `X-Amz-Expires` for presigned requests (seven days), as in AWS.
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// Upper bound applied to [`VerifyOptions::allowed_skew`]; larger values are treated as this one.
const MAX_ALLOWED_SKEW: Duration = Duration::from_secs(MAX_PRESIGNED_EXPIRES_SECS);

const MSG_MISSING_AUTHENTICATION_TOKEN_QUERY: &str = "Request is missing Authentication Token";
const MSG_SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. \
                                      Check your AWS Secret Access Key and signing method. Consult the service \
                                      documentation for details.";
const MSG_HOST_MUST_BE_SIGNED: &str =
    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";
const MSG_BOTH_AUTH_KINDS: &str =
    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.";
const MSG_CREDENTIAL_FIVE_PARTS: &str =
    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,";

const AWS4_REQUEST: &str = "aws4_request";
const ISO8601_BASIC: &str = "%Y%m%dT%H%M%SZ";
const X_AMZ_CREDENTIAL: &str = "X-Amz-Credential";
const X_AMZ_EXPIRES: &str = "X-Amz-Expires";
const X_AMZ_SECURITY_TOKEN: &str = "X-Amz-Security-Token";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

// ---------------------------------------------------------------------------------------------------------------
// Credentials and lookup
// ---------------------------------------------------------------------------------------------------------------

/// An AWS secret access key. Wiped from memory on drop; `Debug` prints `[REDACTED]`; no `Display`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretAccessKey(String);

impl SecretAccessKey {
    /// Wrap a secret access key.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Keep the borrow short and never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretAccessKey {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl From<&str> for SecretAccessKey {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// What an access key resolves to. `P` is the caller's principal type (opaque to this crate).
#[derive(Clone)]
pub struct Credential<P> {
    /// Who the key belongs to; returned in [`Verified::principal`].
    pub principal: P,
    /// The key's secret. Only 40-character secrets (the AWS format) can be verified.
    pub secret_access_key: SecretAccessKey,
    /// Required session token for temporary (`ASIA…`) keys; `None` for long-term keys, which are then refused if
    /// the request carries a token.
    pub session_token: Option<String>,
    /// When the credential stops working (`ExpiredToken` from this instant on); `None` for no expiry.
    pub expires_at: Option<Timestamp>,
}

impl<P: fmt::Debug> fmt::Debug for Credential<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("secret_access_key", &self.secret_access_key)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Failure of a [`CredentialLookup`] (store unavailable, …) — not "unknown key", which is `Ok(None)`.
///
/// The message ends up in [`AuthError::Internal`] and in logs: it must never contain key material.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct LookupError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl LookupError {
    /// A lookup failure described by `message` (no key material).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A lookup failure with an underlying cause (whose `Display` must not contain key material either).
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// Resolves access key ids to credentials. Called once per request that passes the syntax, clock and scope checks.
pub trait CredentialLookup: Send + Sync {
    /// The caller's principal type, handed back in [`Verified`].
    type Principal: Clone + Send + Sync + 'static;

    /// Resolve `access_key_id`. `Ok(None)` = unknown / inactive / deleted key.
    fn lookup(
        &self,
        access_key_id: &str,
    ) -> impl Future<Output = Result<Option<Credential<Self::Principal>>, LookupError>> + Send;
}

// ---------------------------------------------------------------------------------------------------------------
// Options, results, errors
// ---------------------------------------------------------------------------------------------------------------

/// Per-request verification policy.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// Expected signing name, e.g. `"secretsmanager"`.
    pub service: &'a str,
    /// Regions this server serves; the scope region must be one of them.
    pub regions: &'a [String],
    /// Allowed difference between `X-Amz-Date` and [`now`](Self::now), in both directions: 5 minutes for the
    /// Secrets Manager/KMS/CloudTrail JSON APIs, 15 for STS/IAM. Values above 7 days are treated as 7 days.
    pub allowed_skew: Duration,
    /// Lower-case header names that must be in `SignedHeaders`, e.g. `["host", "x-amz-target"]`. `host` is always
    /// required (signing `:authority` instead also satisfies it).
    pub required_signed_headers: &'a [&'a str],
    /// The server's current time.
    pub now: Timestamp,
}

/// A successfully verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<P> {
    /// The principal of the access key.
    pub principal: P,
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// The (validated) credential-scope region.
    pub region: String,
    /// The (validated) credential-scope service.
    pub service: String,
}

/// The credential scope of a request, read without verifying anything (see [`SigV4Verifier::peek_scope`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// Access key id.
    pub access_key_id: String,
    /// Scope date as written by the client (normally `yyyymmdd`).
    pub date: String,
    /// Scope region.
    pub region: String,
    /// Scope service (signing name).
    pub service: String,
}

/// Why a request was refused. `Display` is the exact message AWS sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header (or one that is not AWS SigV4 at all) and no presigned query.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// Malformed `Authorization` header / presigned parameters, missing date, unsigned required header.
    #[error("{0}")]
    IncompleteSignature(String),
    /// Unknown, inactive or deleted access key, or a bad session token.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// Signature mismatch, wrong credential scope, or a request outside the clock window.
    #[error("{0}")]
    InvalidSignature(String),
    /// The temporary credential has expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The request path cannot be canonicalised (bad `%` escape, `..` above the root).
    #[error("{0}")]
    InvalidUriPath(String),
    /// The query string cannot be canonicalised (bad `%` escape).
    #[error("{0}")]
    MalformedQueryString(String),
    /// Lookup failure or unusable stored credential; the message never contains key material.
    #[error("{0}")]
    Internal(String),
}

impl AuthError {
    /// `__type` for the AWS JSON protocol (Secrets Manager, KMS, CloudTrail); sent with a lower-case `message`.
    pub fn json_error_type(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature(_) => "IncompleteSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature(_) => "InvalidSignatureException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::InvalidUriPath(_) => "InvalidURIPath",
            Self::MalformedQueryString(_) => "MalformedQueryString",
            Self::Internal(_) => "InternalFailure",
        }
    }

    /// HTTP status for the AWS JSON protocol: 400, or 500 for [`AuthError::Internal`].
    pub fn json_http_status(&self) -> u16 {
        match self {
            Self::Internal(_) => 500,
            _ => 400,
        }
    }

    /// `Code` for the AWS Query protocol (STS, IAM).
    pub fn query_error_code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::UnrecognizedClient => "InvalidClientTokenId",
            Self::InvalidSignature(_) => "SignatureDoesNotMatch",
            Self::ExpiredToken => "ExpiredToken",
            Self::InvalidUriPath(_) => "InvalidURIPath",
            Self::MalformedQueryString(_) => "MalformedQueryString",
            Self::Internal(_) => "InternalFailure",
        }
    }

    /// HTTP status for the AWS Query protocol (companion-apis.md §2.7).
    pub fn query_http_status(&self) -> u16 {
        match self {
            Self::IncompleteSignature(_)
            | Self::InvalidUriPath(_)
            | Self::MalformedQueryString(_) => 400,
            Self::MissingAuthenticationToken
            | Self::UnrecognizedClient
            | Self::InvalidSignature(_)
            | Self::ExpiredToken => 403,
            Self::Internal(_) => 500,
        }
    }

    /// Message for the Query protocol: as `Display`, except that a missing token reads
    /// `Request is missing Authentication Token` there.
    pub fn query_message(&self) -> Cow<'static, str> {
        match self {
            Self::MissingAuthenticationToken => {
                Cow::Borrowed(MSG_MISSING_AUTHENTICATION_TOKEN_QUERY)
            }
            other => Cow::Owned(other.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The verifier
// ---------------------------------------------------------------------------------------------------------------

/// Cached signing key: `kSigning` plus a keyed fingerprint of the secret it was derived from.
#[derive(Clone, Copy)]
struct CachedKey {
    secret_fingerprint: u64,
    key: KSigningKey,
}

/// Verifies SigV4-signed requests; holds a bounded cache of derived signing keys keyed by
/// (access key id, yyyymmdd, region, service), so steady-state verification does no key derivation.
///
/// Share one instance (it is `Send + Sync`) across all requests.
pub struct SigV4Verifier {
    /// Keyed by `"{access key id}/{yyyymmdd}/{region}/{service}"` (access key ids cannot contain `/`).
    cache: Option<quick_cache::sync::Cache<String, CachedKey>>,
    /// Random per-verifier key for the secret fingerprints stored next to cached keys.
    fingerprint_key: RandomState,
}

impl fmt::Debug for SigV4Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigV4Verifier")
            .field("cached_signing_keys", &self.cached_signing_keys())
            .finish()
    }
}

impl SigV4Verifier {
    /// A verifier caching up to `cache_capacity` derived signing keys (0 disables the cache).
    pub fn new(cache_capacity: usize) -> Self {
        Self {
            cache: (cache_capacity > 0).then(|| quick_cache::sync::Cache::new(cache_capacity)),
            fingerprint_key: RandomState::new(),
        }
    }

    /// Number of derived signing keys currently cached.
    pub fn cached_signing_keys(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.len())
    }

    /// Drop every cached signing key (e.g. after a bulk credential change; not needed for deletions, since the
    /// access key is looked up on every request).
    pub fn clear_signing_key_cache(&self) {
        if let Some(cache) = &self.cache {
            cache.clear();
        }
    }

    /// Verify the SigV4 signature of a request whose whole body is `body`.
    ///
    /// Errors come out in AWS's order (syntax, clock, scope, key, token, signature), with AWS's messages; no message
    /// ever contains a secret, a signature or a session token.
    pub async fn verify<L: CredentialLookup>(
        &self,
        parts: &Parts,
        body: &[u8],
        options: &VerifyOptions<'_>,
        lookup: &L,
    ) -> Result<Verified<L::Principal>, AuthError> {
        // 1. Is there any authentication at all? A non-SigV4 Authorization header counts as none, as in AWS (and its
        //    content is then never echoed).
        let auth_header = parts.headers.get(AUTHORIZATION);
        match auth_header {
            Some(value) if !value.as_bytes().trim_ascii_start().starts_with(b"AWS4-") => {
                return Err(AuthError::MissingAuthenticationToken);
            }
            None if parts.uri.query().is_none_or(str::is_empty) => {
                return Err(AuthError::MissingAuthenticationToken);
            }
            _ => {}
        }

        let (canonical, _, _) = CanonicalRequest::from_request_parts(
            signing_parts(parts)?,
            Bytes::copy_from_slice(body),
            SignatureOptions::default(),
        )
        .map_err(map_signature_error)?;

        // 2. Authorization header / presigned parameters, and the signed-header requirements.
        let mut params = canonical
            .get_auth_parameters(&NO_ADDITIONAL_SIGNED_HEADERS)
            .map_err(map_signature_error)?;
        for required in options.required_signed_headers {
            let required = required.to_ascii_lowercase();
            // `host` (or `:authority`) is always enforced by the parser above, with AWS's wording.
            if required != "host"
                && required != ":authority"
                && !params.signed_headers.contains(&required)
            {
                return Err(AuthError::IncompleteSignature(format!(
                    "'{required}' must be a 'SignedHeader' in the AWS Authorization."
                )));
            }
        }

        // With no Authorization header, the parser has taken the presigned-query branch.
        let presigned_expires = if auth_header.is_none() {
            let query = canonical.query_parameters();
            let first = |name: &str| query.get(name).and_then(|values| values.first());
            // The parser keeps query values percent-encoded; AWS compares them decoded.
            if let Some(credential) = first(X_AMZ_CREDENTIAL) {
                params.builder.credential(percent_decode(credential));
            }
            if let Some(token) = first(X_AMZ_SECURITY_TOKEN) {
                params.builder.session_token(percent_decode(token));
            }
            Some(parse_expires(first(X_AMZ_EXPIRES).map(String::as_str))?)
        } else {
            None
        };

        let timestamp_text = params.timestamp_str.clone();
        let authenticator = canonical
            .get_authenticator_from_auth_parameters(params)
            .map_err(map_signature_error)?;
        let request_chrono = authenticator.request_timestamp();
        let request_time = chrono_to_jiff(request_chrono).ok_or_else(|| {
            AuthError::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{timestamp_text}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ))
        })?;

        // 3. Clock window, then credential scope — before any lookup.
        let allowed_skew = options.allowed_skew.min(MAX_ALLOWED_SKEW);
        check_clock(request_time, options.now, allowed_skew, presigned_expires)?;
        let credential_text = authenticator.credential();
        let scope = split_scope(credential_text).ok_or_else(|| {
            AuthError::IncompleteSignature(format!(
                "{MSG_CREDENTIAL_FIVE_PARTS} got '{credential_text}'"
            ))
        })?;
        check_scope(&scope, request_time, options)?;

        // 4. Access key and session token.
        let credential = lookup
            .lookup(scope.access_key_id)
            .await
            .map_err(|e| AuthError::Internal(format!("credential lookup failed: {e}")))?
            .ok_or(AuthError::UnrecognizedClient)?;
        check_session(&credential, authenticator.session_token(), options.now)?;

        // 5. Signature, with the derived key from the cache when possible.
        let cache_key = scope.cache_key(credential_text);
        let secret_fingerprint = self
            .fingerprint_key
            .hash_one(credential.secret_access_key.expose_secret().as_bytes());
        let cached = self
            .cache
            .as_ref()
            .and_then(|cache| cache.get(cache_key))
            .filter(|entry| entry.secret_fingerprint == secret_fingerprint);
        let signing_key = match cached {
            Some(entry) => entry.key,
            None => derive_signing_key(
                &credential.secret_access_key,
                request_chrono.date_naive(),
                &scope,
            )?,
        };
        authenticator
            .validate_signature(
                scope.region,
                options.service,
                jiff_to_chrono(options.now),
                chrono::TimeDelta::from_std(allowed_skew).unwrap_or(chrono::TimeDelta::zero()),
                &mut FixedSigningKey(signing_key),
            )
            .await
            .map_err(map_signature_error)?;
        if cached.is_none()
            && let Some(cache) = &self.cache
        {
            cache.insert(
                cache_key.to_owned(),
                CachedKey {
                    secret_fingerprint,
                    key: signing_key,
                },
            );
        }

        // The signature covered the real body's hash; a declared payload hash must agree with it.
        let body_sha256 = canonical.body_sha256().as_bytes();
        if parts
            .headers
            .get_all(X_AMZ_CONTENT_SHA256)
            .iter()
            .any(|declared| declared.as_bytes() != body_sha256)
        {
            return Err(AuthError::InvalidSignature(
                MSG_SIGNATURE_MISMATCH.to_owned(),
            ));
        }

        Ok(Verified {
            principal: credential.principal,
            access_key_id: scope.access_key_id.to_owned(),
            region: scope.region.to_owned(),
            service: scope.service.to_owned(),
        })
    }

    /// Reads only the credential scope of the `Authorization` header (or `X-Amz-Credential` query parameter) without
    /// verifying anything, so the caller can pick the service's options (e.g. the allowed skew differs for sts/iam).
    /// `None` when there is no parseable scope.
    pub fn peek_scope(parts: &Parts) -> Option<CredentialScope> {
        let credential: Cow<'_, str> = match parts.headers.get(AUTHORIZATION) {
            Some(header) => {
                let header = header.to_str().ok()?.trim();
                let (algorithm, parameters) = header.split_once(' ').unwrap_or((header, ""));
                if algorithm != "AWS4-HMAC-SHA256" {
                    return None;
                }
                // Like the verifier: comma-separated key=value pairs, the last `Credential` wins.
                let credential = parameters
                    .split(',')
                    .filter_map(|p| p.trim().split_once('='))
                    .filter(|(key, _)| *key == "Credential")
                    .map(|(_, value)| value)
                    .next_back()?;
                Cow::Borrowed(credential)
            }
            None => {
                let query = parts.uri.query()?;
                let value = query.split('&').find_map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(key) == X_AMZ_CREDENTIAL).then_some(value)
                })?;
                Cow::Owned(percent_decode(value))
            }
        };
        let scope = split_scope(&credential)?;
        Some(CredentialScope {
            access_key_id: scope.access_key_id.to_owned(),
            date: scope.date.to_owned(),
            region: scope.region.to_owned(),
            service: scope.service.to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------------------------

/// The five `/`-separated parts of `keyid/date/region/service/term`.
struct ScopeParts<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    terminator: &'a str,
}

impl<'a> ScopeParts<'a> {
    /// `keyid/date/region/service` — the credential without its terminator.
    fn cache_key(&self, credential: &'a str) -> &'a str {
        let len = credential.len() - self.terminator.len() - 1;
        &credential[..len]
    }
}

fn split_scope(credential: &str) -> Option<ScopeParts<'_>> {
    let mut parts = credential.split('/');
    let scope = ScopeParts {
        access_key_id: parts.next()?,
        date: parts.next()?,
        region: parts.next()?,
        service: parts.next()?,
        terminator: parts.next()?,
    };
    parts.next().is_none().then_some(scope)
}

/// `X-Amz-Expires` of a presigned request: required, an integer, at most seven days.
fn parse_expires(value: Option<&str>) -> Result<u64, AuthError> {
    let value = value.ok_or_else(|| {
        AuthError::IncompleteSignature(format!(
            "AWS query-string parameters must include '{X_AMZ_EXPIRES}'. Re-examine the query-string parameters."
        ))
    })?;
    let seconds: u64 = value.parse().map_err(|_| {
        AuthError::IncompleteSignature("X-Amz-Expires should be a number".to_owned())
    })?;
    if seconds > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(AuthError::IncompleteSignature(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES_SECS}"
        )));
    }
    Ok(seconds)
}

/// The request time must lie in `[now - window, now + skew]`, where the backwards window is the skew, shortened to
/// `X-Amz-Expires` for presigned requests.
fn check_clock(
    request_time: Timestamp,
    now: Timestamp,
    skew: Duration,
    presigned_expires: Option<u64>,
) -> Result<(), AuthError> {
    let backwards =
        presigned_expires.map_or(skew, |expires| skew.min(Duration::from_secs(expires)));
    let earliest = now.checked_sub(signed(backwards)).unwrap_or(now);
    if request_time < earliest {
        return Err(AuthError::InvalidSignature(format!(
            "Signature expired: {} is now earlier than {} ({} - {}.)",
            basic(request_time),
            basic(earliest),
            basic(now),
            window_text(backwards)
        )));
    }
    let latest = now.checked_add(signed(skew)).unwrap_or(now);
    if request_time > latest {
        return Err(AuthError::InvalidSignature(format!(
            "Signature not yet current: {} is still later than {} ({} + {}.)",
            basic(request_time),
            basic(latest),
            basic(now),
            window_text(skew)
        )));
    }
    Ok(())
}

/// Every scope mismatch is reported in one message, each sentence followed by a space, as AWS does.
fn check_scope(
    scope: &ScopeParts<'_>,
    request_time: Timestamp,
    options: &VerifyOptions<'_>,
) -> Result<(), AuthError> {
    let mut message = String::new();
    if !options.regions.iter().any(|r| r == scope.region) {
        message.push_str(&format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            scope.region
        ));
    }
    if scope.service != options.service {
        message.push_str(&format!(
            "Credential should be scoped to correct service: '{}'. ",
            options.service
        ));
    }
    if scope.terminator != AWS4_REQUEST {
        message.push_str(&format!(
            "Credential should be scoped with a valid terminator: '{AWS4_REQUEST}', not '{}'. ",
            scope.terminator
        ));
    }
    let request_date = request_time.strftime("%Y%m%d").to_string();
    if scope.date != request_date {
        message.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != \
             '{request_date}', from '{}'. ",
            scope.date,
            basic(request_time)
        ));
    }
    if message.is_empty() {
        Ok(())
    } else {
        Err(AuthError::InvalidSignature(message))
    }
}

/// Temporary keys need their own token (compared in constant time); long-term keys must not present one.
fn check_session<P>(
    credential: &Credential<P>,
    presented: Option<&str>,
    now: Timestamp,
) -> Result<(), AuthError> {
    let token_ok = match (&credential.session_token, presented) {
        (Some(expected), Some(presented)) => {
            bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
        }
        (None, None) => true,
        _ => false,
    };
    if !token_ok {
        return Err(AuthError::UnrecognizedClient);
    }
    if credential
        .expires_at
        .is_some_and(|expires_at| now >= expires_at)
    {
        return Err(AuthError::ExpiredToken);
    }
    Ok(())
}

fn derive_signing_key(
    secret: &SecretAccessKey,
    date: chrono::NaiveDate,
    scope: &ScopeParts<'_>,
) -> Result<KSigningKey, AuthError> {
    let secret: KSecretKey = KSecretKey::from_str(secret.expose_secret()).map_err(|_| {
        AuthError::Internal(
            "the stored secret access key is not 40 characters long and cannot be used".to_owned(),
        )
    })?;
    Ok(secret.to_ksigning(date, scope.region, scope.service))
}

/// Hands the already derived signing key to the signature check.
struct FixedSigningKey(KSigningKey);

impl tower::Service<GetSigningKeyRequest> for FixedSigningKey {
    type Response = GetSigningKeyResponse;
    type Error = BoxError;
    type Future = std::future::Ready<Result<GetSigningKeyResponse, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: GetSigningKeyRequest) -> Self::Future {
        std::future::ready(
            GetSigningKeyResponse::builder()
                .signing_key(self.0)
                .build()
                .map_err(BoxError::from),
        )
    }
}

fn map_signature_error(error: SignatureError) -> AuthError {
    match error {
        SignatureError::IncompleteSignature(message) => {
            AuthError::IncompleteSignature(redact_signatures(message))
        }
        SignatureError::SignatureDoesNotMatch(Some(message))
            if message == MSG_HOST_MUST_BE_SIGNED =>
        {
            AuthError::IncompleteSignature(message)
        }
        SignatureError::SignatureDoesNotMatch(Some(message)) => {
            AuthError::InvalidSignature(message)
        }
        // The parser's only message-less mismatch: both an Authorization header and X-Amz-Algorithm.
        SignatureError::SignatureDoesNotMatch(None) => {
            AuthError::InvalidSignature(MSG_BOTH_AUTH_KINDS.to_owned())
        }
        SignatureError::MissingAuthenticationToken(_) => AuthError::MissingAuthenticationToken,
        SignatureError::InvalidClientTokenId(_) => AuthError::UnrecognizedClient,
        SignatureError::ExpiredToken(_) => AuthError::ExpiredToken,
        SignatureError::InvalidURIPath(message) => AuthError::InvalidUriPath(message),
        SignatureError::MalformedQueryString(message) => AuthError::MalformedQueryString(message),
        _ => AuthError::Internal(
            "unexpected failure while verifying the request signature".to_owned(),
        ),
    }
}

/// The "not a valid key=value pair" message echoes the whole Authorization header, as AWS does; keep the echo but
/// not the signature value.
fn redact_signatures(message: String) -> String {
    const NEEDLE: &str = "Signature";
    if !message.contains("not a valid key=value pair") || !message.contains(NEEDLE) {
        return message;
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(at) = rest.find(NEEDLE) {
        let (before, after) = rest.split_at(at + NEEDLE.len());
        out.push_str(before);
        rest = after;
        if let Some(separator) = rest.chars().next().filter(|c| matches!(c, '=' | ':' | ' ')) {
            out.push(separator);
            rest = &rest[1..];
            let end = rest
                .find(|c: char| c == ',' || c == '\'' || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            if end > 0 {
                out.push_str("[REDACTED]");
            }
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// The request head as the canonicaliser needs it:
/// - with a `host` header taken from the URI authority when there is none (HTTP/2 carries the host in
///   `:authority`, which servers put into the URI, while clients sign it as `host`);
/// - with the path encoded once more: for every service but S3, AWS SDKs URI-encode the already-encoded path when
///   signing (`/a%20b` is signed as `/a%2520b`), while the canonicaliser only normalises the encoding.
fn signing_parts(parts: &Parts) -> Result<Parts, AuthError> {
    let (mut head, ()) = http::Request::new(()).into_parts();
    head.method = parts.method.clone();
    head.version = parts.version;
    head.headers = parts.headers.clone();
    if !head.headers.contains_key(HOST)
        && let Some(authority) = parts.uri.authority()
    {
        let host = authority.as_str().rsplit('@').next().unwrap_or_default();
        if let Ok(value) = HeaderValue::from_str(host) {
            head.headers.insert(HOST, value);
        }
    }
    let path = parts.uri.path();
    head.uri = if !path.starts_with('/') || path.bytes().all(|b| is_unreserved(b) || b == b'/') {
        parts.uri.clone()
    } else {
        let mut encoded = String::with_capacity(path.len() * 3);
        for byte in path.bytes() {
            if is_unreserved(byte) || byte == b'/' {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        if let Some(query) = parts.uri.query() {
            encoded.push('?');
            encoded.push_str(query);
        }
        Uri::builder()
            .path_and_query(encoded)
            .build()
            .map_err(|_| AuthError::InvalidUriPath(format!("Invalid URI path: {path}")))?
    };
    Ok(head)
}

/// Percent-decode a query element (`+` is a space); invalid escapes are kept literally, invalid UTF-8 replaced.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2]))
            {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|digit| u8::try_from(digit).ok())
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

/// `YYYYMMDDTHHMMSSZ`, as in AWS's messages.
fn basic(timestamp: Timestamp) -> String {
    timestamp.strftime(ISO8601_BASIC).to_string()
}

/// `5 min`, or `90 sec` when not a whole number of minutes.
fn window_text(window: Duration) -> String {
    let seconds = window.as_secs();
    if seconds.is_multiple_of(60) {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} sec")
    }
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;

fn jiff_to_chrono(timestamp: Timestamp) -> chrono::DateTime<chrono::Utc> {
    let nanos = timestamp.as_nanosecond();
    let seconds = i64::try_from(nanos.div_euclid(NANOS_PER_SECOND)).unwrap_or_default();
    let subsec = u32::try_from(nanos.rem_euclid(NANOS_PER_SECOND)).unwrap_or_default();
    chrono::DateTime::from_timestamp(seconds, subsec).unwrap_or_default()
}

fn chrono_to_jiff(timestamp: chrono::DateTime<chrono::Utc>) -> Option<Timestamp> {
    let nanos = i128::from(timestamp.timestamp()) * NANOS_PER_SECOND
        + i128::from(timestamp.timestamp_subsec_nanos());
    Timestamp::from_nanosecond(nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("AKID%2F20250101%2Fus-east-1%2Fsts%2Faws4_request"),
            "AKID/20250101/us-east-1/sts/aws4_request"
        );
        assert_eq!(percent_decode("a%2Bb%3D%3D+c"), "a+b== c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
    }

    #[test]
    fn signature_redaction() {
        let message = "'Foo' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 \
                       Credential=AKID/20250101/us-east-1/sts/aws4_request, Foo, Signature=abcdef0123, SignedHeaders=host'"
            .to_owned();
        let redacted = redact_signatures(message);
        assert!(!redacted.contains("abcdef0123"), "{redacted}");
        assert!(
            redacted.contains("Signature=[REDACTED], SignedHeaders=host'"),
            "{redacted}"
        );
        let untouched =
            "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256"
                .to_owned();
        assert_eq!(redact_signatures(untouched.clone()), untouched);
    }

    #[test]
    fn window_texts() {
        assert_eq!(window_text(Duration::from_secs(300)), "5 min");
        assert_eq!(window_text(Duration::from_secs(900)), "15 min");
        assert_eq!(window_text(Duration::from_secs(90)), "90 sec");
    }

    #[test]
    fn time_conversions_round_trip() {
        let ts: Timestamp = "2025-11-06T13:26:08.123456789Z".parse().unwrap();
        assert_eq!(chrono_to_jiff(jiff_to_chrono(ts)), Some(ts));
        let before_epoch: Timestamp = "1969-12-31T23:59:59.5Z".parse().unwrap();
        assert_eq!(
            chrono_to_jiff(jiff_to_chrono(before_epoch)),
            Some(before_epoch)
        );
    }
}
