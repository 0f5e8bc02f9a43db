//! AWS Identity and Access Management (API `2010-05-08`) on the wire: the Query-protocol subset
//! Coffer serves (companion spec §5). Generated from botocore's model by
//! `tools/codegen/query_model.py`; the runtime is `crate::query`.

pub mod convert;
pub mod model;

#[cfg(test)]
mod tests;
