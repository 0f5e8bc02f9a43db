//! The shared store behaviour suite, run on the PostgreSQL backend, one schema per case.

mod common;

coffer_store::store_behaviour_suite!(common::fresh().await);
