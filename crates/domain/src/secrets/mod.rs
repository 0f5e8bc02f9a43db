//! Secrets, versions, staging labels, tags, filters and deletion.

pub mod arn;
pub mod cache;
pub mod filters;
pub mod labels;
pub mod model;
pub mod pagination;
pub mod password;
pub mod service;
pub mod tags;

pub use model::*;
pub use service::{SecretsService, ServiceConfig};
