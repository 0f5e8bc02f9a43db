//! AWS Signature Version 4 request verification.
//!
//! # Why it looks like this
//!
//! Every Coffer API (Secrets Manager, KMS, STS, IAM, CloudTrail) authenticates with SigV4, and the unchanged AWS
//! clients are the only clients, so verification has to agree with them byte for byte — and its refusals have to
//! carry AWS's own error codes and messages, because SDKs, the CLI and users' scripts match on them.
//!
//! The canonicaliser is written here (`canonical`) rather than taken from a crate. It used to be
//! `scratchstack-aws-signature`, and three things made the change worth it:
//!
//! - **Speed.** Profiled under load, verification cost ~19 µs per request, nearly all of it the crate's general
//!   machinery — normalising every header into maps, parsing `Content-Type`, regex-and-`chrono` timestamp parsing
//!   and formatting — while SHA-256 and HMAC were ~1 %. Here the canonical request is streamed from the request head
//!   straight into SHA-256: no copy of the head, no maps, and for a typical `POST /` no allocation until the result
//!   is built. `verify_cost` (an example of this crate) measures it.
//! - **Zero copy.** That crate needed the body as an owned `Bytes`, so every body — often a secret value — was copied
//!   and the copy freed without being wiped. The body is now hashed where it lies. Copies of key material (the
//!   `"AWS4" + secret` key, every derived key, cached signing keys), the expected signature and a session token that
//!   had to be decoded live in `Zeroizing` buffers, and `sha2`/`hmac` are built with their `zeroize` feature so the
//!   hashers' internal buffers are wiped too.
//! - **Fewer corrections.** Driving that crate meant patching its departures from AWS after the fact (presigned
//!   `X-Amz-Credential`/`X-Amz-Security-Token` left encoded, the path not encoded a second time as the SDKs sign it
//!   for non-S3 services, scope messages without AWS's trailing space, no `X-Amz-Expires`) and living with two that
//!   could not be patched from outside (the canonical query sorted as `name=value` strings instead of (name, value)
//!   pairs; a trailing `.`/`..` segment normalised away together with its trailing `/`). Now each rule is written
//!   once, as AWS defines it (companion-apis.md §2.2).
//!
//! `scratchstack-aws-signature` remains a dev-dependency, as an independent oracle: a property test checks that
//! requests signed by the real AWS signer (`aws-sigv4`) verify both here and there, and the AWS SigV4 test suite that
//! ships in its source is run against the canonical requests and strings to sign produced here.
//!
//! The checks run in AWS's order, and the ones whose wording or policy matters carry AWS's messages:
//!
//! 1. presence of any authentication; then the path and the query string must canonicalise; then the
//!    `Authorization` header or presigned-query syntax, and the signed-header requirements (the operation header must
//!    be covered, or a captured request could be replayed as another operation);
//! 2. the clock window, which differs per service (5 minutes for the JSON APIs, 15 for STS/IAM), and for presigned
//!    URLs also `X-Amz-Expires`;
//! 3. the credential scope (service, served region, date, terminator) — before the access key is looked up, so a
//!    mis-scoped request never costs a store round trip;
//! 4. the access key and its session token (temporary keys must present their own token; long-term keys must not
//!    present one);
//! 5. the signature itself (compared in constant time), over a hash of the body actually received. A client-supplied
//!    `X-Amz-Content-Sha256` is never trusted as the payload hash: it must equal the real one, so `UNSIGNED-PAYLOAD`
//!    and `STREAMING-*` (S3 features) can never exempt a body here. A `SignedHeaders` list that is not sorted and
//!    lower-case, or that names a header the request lacks, describes a canonical request this request cannot have,
//!    and fails here as a mismatch.
//!
//! The access key is looked up on every request (a deleted or deactivated key must stop working at once), but the
//! derived signing key — four HMACs — is cached per (access key, day, region, service), as AWS intends derived keys
//! to be used. Each cache entry remembers a keyed fingerprint of the secret it was derived from, so a changed secret
//! can never be verified against a stale key.
//!
//! # Logging
//!
//! This module logs nothing: not the canonical request (which may hold the session token), not the string to sign,
//! and never the expected signature. [`SENSITIVE_LOG_TARGETS`] is accordingly empty.

mod canonical;

use std::{
    borrow::Cow,
    fmt,
    future::Future,
    hash::{BuildHasher, RandomState},
    sync::Arc,
    time::Duration,
};

use http::{
    HeaderMap, HeaderName,
    header::{AUTHORIZATION, DATE},
    request::Parts,
};
use jiff::{SignedDuration, Timestamp};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use canonical::{
    ALGORITHM, BasicTime, CanonicalPath, CanonicalRequest, QueryParam, RequestHeaders,
    derive_signing_key, first_param, header_text, parse_query, parse_request_time, sha256_hex,
    write_string_to_sign,
};

/// Log targets that must be clamped to `warn` (or quieter) in every log configuration, e.g. by appending
/// `{target}=warn` to the subscriber's filter after the user's directives.
///
/// Empty: verification logs nothing, and the crate that used to print session tokens and expected signatures at
/// `trace` (`scratchstack-aws-signature`) is no longer linked outside tests. Kept so callers keep clamping whatever a
/// future dependency might need.
pub const SENSITIVE_LOG_TARGETS: &[&str] = &[];

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
const X_AMZ_ALGORITHM: &str = "X-Amz-Algorithm";
const X_AMZ_CREDENTIAL: &str = "X-Amz-Credential";
const X_AMZ_DATE: &str = "X-Amz-Date";
const X_AMZ_EXPIRES: &str = "X-Amz-Expires";
const X_AMZ_SECURITY_TOKEN: &str = "X-Amz-Security-Token";
const X_AMZ_SIGNATURE: &str = "X-Amz-Signature";
const X_AMZ_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
static X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");
static X_AMZ_DATE_HEADER: HeaderName = HeaderName::from_static("x-amz-date");
static X_AMZ_SECURITY_TOKEN_HEADER: HeaderName = HeaderName::from_static("x-amz-security-token");

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

    /// Resolve `access_key_id`. `Ok(None)` = unknown / inactive / deleted key. `session_token` is the presented
    /// `X-Amz-Security-Token`, if any: temporary credentials may be self-contained in it (the verifier still
    /// compares it with the returned credential's token in constant time).
    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&[u8]>,
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

/// Cached signing key: `kSigning` plus a keyed fingerprint of the secret it was derived from. The key sits behind an
/// `Arc` so that a cache hit hands out a pointer rather than another copy of the key, and is wiped when the last
/// reference goes (eviction, `clear_signing_key_cache`).
#[derive(Clone)]
struct CachedKey {
    secret_fingerprint: u64,
    key: Arc<Zeroizing<[u8; 32]>>,
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

/// What the `Authorization` header, or a presigned request's query parameters, say.
struct AuthParams<'a> {
    /// `keyid/date/region/service/term`, decoded.
    credential: Cow<'a, str>,
    signature: &'a str,
    /// `;`-separated, as the client sent it (decoded for presigned requests).
    signed_headers: Cow<'a, str>,
    /// `X-Amz-Date` (or `Date`), as sent.
    timestamp: Cow<'a, str>,
    session_token: Option<SessionToken<'a>>,
}

/// The presented session token: borrowed from the request, or — when it had to be decoded or normalised — a copy
/// that is wiped on drop.
enum SessionToken<'a> {
    Borrowed(&'a [u8]),
    Owned(Zeroizing<Vec<u8>>),
}

impl SessionToken<'_> {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Borrowed(token) => token,
            Self::Owned(token) => token,
        }
    }
}

impl<'a> From<Cow<'a, str>> for SessionToken<'a> {
    fn from(text: Cow<'a, str>) -> Self {
        match text {
            Cow::Borrowed(text) => Self::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Self::Owned(Zeroizing::new(text.into_bytes())),
        }
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
    /// ever contains a secret, a signature or a session token. The body is only read (hashed in place), never copied.
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

        // The path, then the query string, must canonicalise (`InvalidURIPath`, `MalformedQueryString`).
        let path = CanonicalPath::parse(parts.uri.path())?;
        let query = parse_query(parts.uri.query().unwrap_or_default())?;

        // 2. Authorization header / presigned parameters, and the signed-header requirements.
        let auth_text = auth_header.map(header_text);
        let params = match (&auth_text, first_param(&query, X_AMZ_ALGORITHM)) {
            (Some(_), Some(_)) => {
                return Err(AuthError::InvalidSignature(MSG_BOTH_AUTH_KINDS.to_owned()));
            }
            (Some(text), None) => parse_authorization(text, &parts.headers)?,
            (None, Some(algorithm)) => parse_presigned(algorithm, &query)?,
            (None, None) => return Err(AuthError::MissingAuthenticationToken),
        };
        check_signed_header_requirements(&params.signed_headers, options)?;
        let presigned = auth_text.is_none();
        let presigned_expires = if presigned {
            Some(parse_expires(first_param(&query, X_AMZ_EXPIRES))?)
        } else {
            None
        };
        let request_time = parse_request_time(&params.timestamp).ok_or_else(|| {
            AuthError::IncompleteSignature(format!(
                "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
                params.timestamp
            ))
        })?;

        // 3. Clock window, then credential scope — before any lookup.
        let allowed_skew = options.allowed_skew.min(MAX_ALLOWED_SKEW);
        check_clock(request_time, options.now, allowed_skew, presigned_expires)?;
        let credential_text = params.credential.as_ref();
        let scope = split_scope(credential_text).ok_or_else(|| {
            AuthError::IncompleteSignature(format!(
                "{MSG_CREDENTIAL_FIVE_PARTS} got '{credential_text}'"
            ))
        })?;
        let request_basic = BasicTime::of(request_time);
        check_scope(&scope, &request_basic, options)?;

        // 4. Access key and session token.
        let credential = lookup
            .lookup(
                scope.access_key_id,
                params.session_token.as_ref().map(SessionToken::as_bytes),
            )
            .await
            .map_err(|e| AuthError::Internal(format!("credential lookup failed: {e}")))?
            .ok_or(AuthError::UnrecognizedClient)?;
        check_session(
            &credential,
            params.session_token.as_ref().map(SessionToken::as_bytes),
            options.now,
        )?;

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
        let signing_key = match &cached {
            Some(entry) => Arc::clone(&entry.key),
            None => {
                // Derived straight into its final (wiped-on-drop) home, so no stray copy is left on the stack.
                let mut key = Arc::new(Zeroizing::new([0; 32]));
                let slot = Arc::get_mut(&mut key).expect("a new Arc is not shared");
                derive_signing_key(
                    credential.secret_access_key.expose_secret(),
                    scope.date,
                    scope.region,
                    options.service,
                    slot,
                )
                .ok_or_else(|| {
                    AuthError::Internal(
                        "the stored secret access key is not 40 characters long and cannot be used"
                            .to_owned(),
                    )
                })?;
                key
            }
        };

        // The payload hash is always that of the body actually received, hashed where it lies.
        let payload_hash = sha256_hex(body);
        let canonical_request = CanonicalRequest {
            method: parts.method.as_str(),
            path: &path,
            query: &query,
            presigned,
            headers: &RequestHeaders::new(parts),
            signed_headers: &params.signed_headers,
            payload_hash: &payload_hash,
        };
        let canonical_request_sha256 = canonical_request
            .sha256_hex()
            .map_err(|_| AuthError::InvalidSignature(MSG_SIGNATURE_MISMATCH.to_owned()))?;
        // The scope as signed: the credential without its access key id.
        let signed_scope = &credential_text[scope.access_key_id.len() + 1..];
        let mut expected = Zeroizing::new([0; 64]);
        canonical::signature(
            &signing_key,
            |mac| {
                write_string_to_sign(mac, &request_basic, signed_scope, &canonical_request_sha256)
            },
            &mut expected,
        );
        if !bool::from(expected.as_slice().ct_eq(params.signature.as_bytes())) {
            return Err(AuthError::InvalidSignature(
                MSG_SIGNATURE_MISMATCH.to_owned(),
            ));
        }
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
        if parts
            .headers
            .get_all(&X_AMZ_CONTENT_SHA256)
            .iter()
            .any(|declared| declared.as_bytes() != payload_hash)
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
                if algorithm != ALGORITHM {
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
// Authentication parameters
// ---------------------------------------------------------------------------------------------------------------

/// `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` (`header` already trimmed and collapsed like a
/// canonical header value): comma-separated `key=value` pairs in any order, the last of each key winning. The date
/// comes from `X-Amz-Date`, else `Date`; the session token from `X-Amz-Security-Token` (signed or not).
fn parse_authorization<'a>(
    header: &'a str,
    headers: &'a HeaderMap,
) -> Result<AuthParams<'a>, AuthError> {
    let header = header.trim_matches(|c: char| c.is_ascii_whitespace());
    let (algorithm, parameters) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(AuthError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    }
    let (mut credential, mut signature, mut signed_headers) = (None, None, None);
    for parameter in parameters.split(',') {
        let parameter = parameter.trim_matches(|c: char| c.is_ascii_whitespace());
        if parameter.is_empty() {
            continue;
        }
        let Some((key, value)) = parameter.split_once('=') else {
            return Err(AuthError::IncompleteSignature(redact_signatures(format!(
                "'{parameter}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'"
            ))));
        };
        match key {
            "Credential" => credential = Some(value),
            "Signature" => signature = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            _ => {}
        }
    }
    let first_text = |name: &HeaderName| headers.get(name).map(header_text);
    let timestamp = first_text(&X_AMZ_DATE_HEADER).or_else(|| first_text(&DATE));

    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if timestamp.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    match (credential, signature, signed_headers, timestamp) {
        (Some(credential), Some(signature), Some(signed_headers), Some(timestamp)) => {
            Ok(AuthParams {
                credential: Cow::Borrowed(credential),
                signature,
                signed_headers: Cow::Borrowed(signed_headers),
                timestamp,
                session_token: first_text(&X_AMZ_SECURITY_TOKEN_HEADER).map(SessionToken::from),
            })
        }
        _ => Err(AuthError::IncompleteSignature(format!(
            "{} Authorization={algorithm}",
            missing.join(" ")
        ))),
    }
}

/// The presigned parameters, first value of each. Values stay canonically encoded except the credential, the
/// signed-header list and the session token, which AWS compares decoded.
fn parse_presigned<'q>(
    algorithm: &str,
    query: &'q [QueryParam<'_>],
) -> Result<AuthParams<'q>, AuthError> {
    if algorithm != ALGORITHM {
        return Err(AuthError::MissingAuthenticationToken);
    }
    let credential = first_param(query, X_AMZ_CREDENTIAL);
    let signature = first_param(query, X_AMZ_SIGNATURE);
    let signed_headers = first_param(query, X_AMZ_SIGNED_HEADERS);
    let timestamp = first_param(query, X_AMZ_DATE);
    let required = [
        (credential, X_AMZ_CREDENTIAL),
        (signature, X_AMZ_SIGNATURE),
        (signed_headers, X_AMZ_SIGNED_HEADERS),
        (timestamp, X_AMZ_DATE),
    ];
    let missing: Vec<String> = required
        .iter()
        .filter(|(value, _)| value.is_none())
        .map(|(_, name)| format!("AWS query-string parameters must include '{name}'."))
        .collect();
    match (credential, signature, signed_headers, timestamp) {
        (Some(credential), Some(signature), Some(signed_headers), Some(timestamp)) => {
            Ok(AuthParams {
                credential: Cow::Owned(percent_decode(credential)),
                signature,
                signed_headers: Cow::Owned(percent_decode(signed_headers)),
                timestamp: Cow::Borrowed(timestamp),
                session_token: first_param(query, X_AMZ_SECURITY_TOKEN)
                    .map(|token| SessionToken::Owned(percent_decode_bytes(token))),
            })
        }
        _ => Err(AuthError::IncompleteSignature(format!(
            "{} Re-examine the query-string parameters.",
            missing.join(" ")
        ))),
    }
}

/// `host` (or `:authority`) must always be signed; so must every header in
/// [`VerifyOptions::required_signed_headers`].
fn check_signed_header_requirements(
    signed_headers: &str,
    options: &VerifyOptions<'_>,
) -> Result<(), AuthError> {
    if !signed_headers
        .split(';')
        .any(|name| name == "host" || name == ":authority")
    {
        return Err(AuthError::IncompleteSignature(
            MSG_HOST_MUST_BE_SIGNED.to_owned(),
        ));
    }
    for required in options.required_signed_headers {
        // Already enforced above, with AWS's wording.
        if required.eq_ignore_ascii_case("host") || required.eq_ignore_ascii_case(":authority") {
            continue;
        }
        let signed = signed_headers.split(';').any(|name| {
            name.len() == required.len()
                && name
                    .bytes()
                    .zip(required.bytes())
                    .all(|(n, r)| n == r.to_ascii_lowercase())
        });
        if !signed {
            return Err(AuthError::IncompleteSignature(format!(
                "'{}' must be a 'SignedHeader' in the AWS Authorization.",
                required.to_ascii_lowercase()
            )));
        }
    }
    Ok(())
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
    request_time: &BasicTime,
    options: &VerifyOptions<'_>,
) -> Result<(), AuthError> {
    let region_ok = options.regions.iter().any(|r| r == scope.region);
    let service_ok = scope.service == options.service;
    let terminator_ok = scope.terminator == AWS4_REQUEST;
    let request_date = request_time.date();
    let date_ok = scope.date == request_date;
    if region_ok && service_ok && terminator_ok && date_ok {
        return Ok(());
    }
    let mut message = String::new();
    if !region_ok {
        message.push_str(&format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            scope.region
        ));
    }
    if !service_ok {
        message.push_str(&format!(
            "Credential should be scoped to correct service: '{}'. ",
            options.service
        ));
    }
    if !terminator_ok {
        message.push_str(&format!(
            "Credential should be scoped with a valid terminator: '{AWS4_REQUEST}', not '{}'. ",
            scope.terminator
        ));
    }
    if !date_ok {
        message.push_str(&format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != \
             '{request_date}', from '{}'. ",
            scope.date,
            request_time.as_str()
        ));
    }
    Err(AuthError::InvalidSignature(message))
}

/// Temporary keys need their own token (compared in constant time); long-term keys must not present one.
fn check_session<P>(
    credential: &Credential<P>,
    presented: Option<&[u8]>,
    now: Timestamp,
) -> Result<(), AuthError> {
    let token_ok = match (&credential.session_token, presented) {
        (Some(expected), Some(presented)) => bool::from(expected.as_bytes().ct_eq(presented)),
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

/// Percent-decode a query element (`+` is a space); invalid escapes are kept literally, invalid UTF-8 replaced.
fn percent_decode(value: &str) -> String {
    let bytes = percent_decode_bytes(value);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Percent-decode a query element into a buffer that is wiped on drop (it may be a session token). Sized up front:
/// decoding never lengthens, so the buffer never reallocates and leaves no stale copy.
fn percent_decode_bytes(value: &str) -> Zeroizing<Vec<u8>> {
    let bytes = value.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
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
    out
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

// ---------------------------------------------------------------------------------------------------------------
// Test hooks
// ---------------------------------------------------------------------------------------------------------------

/// The canonicaliser's pieces, for the AWS test-suite and differential tests in `tests/`. Not part of the API: no
/// stability promise, and nothing outside this crate's tests should call it.
#[doc(hidden)]
pub mod testing {
    use zeroize::Zeroizing;

    use super::{
        AuthError, BasicTime, CanonicalPath, CanonicalRequest, MSG_SIGNATURE_MISMATCH,
        canonical::{self, Sink},
        derive_signing_key, parse_query, parse_request_time, sha256_hex, write_string_to_sign,
    };

    /// The canonical request for a request given as raw parts (the path and query as sent, possibly not even valid
    /// in an `http::Uri`), with the payload hash of `body`. Headers match by case-insensitive name.
    pub fn canonical_request(
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &[u8])],
        signed_headers: &str,
        body: &[u8],
        presigned: bool,
    ) -> Result<Vec<u8>, AuthError> {
        let path = CanonicalPath::parse(path)?;
        let query = parse_query(query)?;
        let payload_hash = sha256_hex(body);
        let request = CanonicalRequest {
            method,
            path: &path,
            query: &query,
            presigned,
            headers,
            signed_headers,
            payload_hash: &payload_hash,
        };
        let mut out = Vec::new();
        request
            .write(&mut out)
            .map_err(|_| AuthError::InvalidSignature(MSG_SIGNATURE_MISMATCH.to_owned()))?;
        Ok(out)
    }

    /// The string to sign for a request dated `timestamp` (as `X-Amz-Date` carries it) in credential scope `scope`
    /// (`date/region/service/aws4_request`). `None` when the timestamp does not parse.
    pub fn string_to_sign(
        timestamp: &str,
        scope: &str,
        canonical_request: &[u8],
    ) -> Option<Vec<u8>> {
        let time = BasicTime::of(parse_request_time(timestamp)?);
        let mut out = Vec::new();
        write_string_to_sign(&mut out, &time, scope, &sha256_hex(canonical_request));
        Some(out)
    }

    /// The hex signature of `string_to_sign` under the key derived from `secret` for `date/region/service`. `None`
    /// unless the secret has the AWS length.
    pub fn signature(
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
        string_to_sign: &[u8],
    ) -> Option<String> {
        let mut key = Zeroizing::new([0; 32]);
        derive_signing_key(secret, date, region, service, &mut key)?;
        let mut signature = Zeroizing::new([0; 64]);
        canonical::signature(&key, |mac| mac.put(string_to_sign), &mut signature);
        Some(String::from_utf8_lossy(signature.as_slice()).into_owned())
    }
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
    fn header_auth_parameters() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        headers.insert(
            "date",
            "ignored when X-Amz-Date is present".parse().unwrap(),
        );
        let params = parse_authorization(
            "AWS4-HMAC-SHA256 SignedHeaders=a, Credential=old, Signature=s1,Credential=A/B/C/D/E ,",
            &headers,
        )
        .unwrap();
        // The last value of each key wins.
        assert_eq!(params.credential, "A/B/C/D/E");
        assert_eq!(params.signature, "s1");
        assert_eq!(params.signed_headers, "a");
        assert_eq!(params.timestamp, "20150830T123600Z");
        assert!(params.session_token.is_none());

        headers.remove("x-amz-date");
        let params = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=c, SignedHeaders=h, Signature=s",
            &headers,
        )
        .unwrap();
        assert_eq!(params.timestamp, "ignored when X-Amz-Date is present");
    }
}
