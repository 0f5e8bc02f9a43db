//! Coffer's rules: secrets, versions, staging labels, deletion and the keys they are sealed
//! under, written against the `coffer-store` trait.
//!
//! Architecture Invariant: this crate knows nothing of HTTP, SQL or AWS wire formats. Its
//! inputs and outputs use AWS's member names, but the wire layer does the encoding; its
//! errors carry AWS's messages, but the wire layer picks the error types.
//! Time and randomness come in through `Clock` and `Randomness` so tests control both.

pub mod audit;
pub mod authz;
pub mod clock;
pub mod error;
pub mod iam;
pub mod identity;
pub mod keyring;
pub mod kms;
pub mod lease;
pub mod random;
pub mod rotation;
pub mod secrets;
pub mod value;

pub use clock::{Clock, ManualClock, Millis, SystemClock};
pub use error::{SecretsError, SecretsResult};
pub use random::Randomness;
pub use value::SecretValue;
