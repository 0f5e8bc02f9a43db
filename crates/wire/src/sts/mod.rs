//! AWS Security Token Service (API `2011-06-15`) on the wire: `GetCallerIdentity`, `AssumeRole`,
//! `GetSessionToken` (companion spec §4). Generated from botocore's model by
//! `tools/codegen/query_model.py`; the runtime is `crate::query`.

pub mod convert;
pub mod model;

#[cfg(test)]
mod tests;
