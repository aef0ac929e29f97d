//! What a plugin declares and the rules every layer shares: the `plugin.toml` schema and its
//! validation, field types and value normalisation, identifiers, permission strings, event
//! names and cron expressions.
//!
//! A leaf: it depends on no other crate of the platform, so the kernel, the API and tools can
//! all read a manifest without pulling in the runtime or the database.

pub mod cron;
pub mod hosts;
pub mod ids;
pub mod manifest;
pub mod permissions;
pub mod validation;
pub mod values;

pub use manifest::*;
