//! Authentication and authorization for Coffer: AWS SigV4 request verification and IAM policy evaluation.
//!
//! Pure by design — no storage, no HTTP server, no logging: the caller supplies the request head and body, the
//! current time and a [`CredentialLookup`], and gets back either the principal or an [`AuthError`] that already
//! carries AWS's error codes and messages for both wire protocols.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod policy;
pub mod sigv4;

pub use policy::{
    Decision, DenyReason, Policy, PolicyError, PolicyKind, PolicySet, PrincipalInfo, PrincipalType,
    RequestContext, ValidationFinding, access_denied_message, evaluate, validate_resource_policy,
};
pub use sigv4::{
    AuthError, Credential, CredentialLookup, CredentialScope, LookupError,
    MAX_PRESIGNED_EXPIRES_SECS, SENSITIVE_LOG_TARGETS, SecretAccessKey, SigV4Verifier, Verified,
    VerifyOptions,
};
