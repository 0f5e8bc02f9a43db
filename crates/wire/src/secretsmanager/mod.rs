//! AWS Secrets Manager (API `2017-10-17`) on the wire.

pub mod convert;
pub mod model;

#[cfg(test)]
mod tests;
