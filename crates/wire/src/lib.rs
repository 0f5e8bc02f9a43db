//! AWS wire protocols for Coffer: JSON 1.1 (Secrets Manager, KMS, CloudTrail) and the Query
//! protocol (IAM, STS) — request decoding, validation to AWS's model rules, response encoding,
//! the mapping of Coffer's typed errors to AWS error shapes, and the request and response parts
//! of the audit record (`audit`).
//!
//! Architecture Invariant: wire knows nothing of SQL or of key material. It depends on the
//! domain only for its input/output types and errors, and on auth only for its errors.

pub mod audit;
pub mod cloudtrail;
pub mod codec;
pub mod errors;
pub mod iam;
pub mod kms;
pub mod query;
pub mod secretsmanager;
pub mod sts;
