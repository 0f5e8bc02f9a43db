//! AWS wire protocols for Coffer: JSON 1.1 (Secrets Manager, KMS) and the Query protocol (IAM,
//! STS) — request decoding, validation to AWS's model rules, response encoding, and the mapping
//! of Coffer's typed errors to AWS error shapes.
//!
//! Architecture Invariant: wire knows nothing of SQL or of key material. It depends on the
//! domain only for its input/output types and errors, and on auth only for its errors.

pub mod codec;
pub mod errors;
pub mod iam;
pub mod kms;
pub mod query;
pub mod secretsmanager;
pub mod sts;
