//! The ERP platform kernel: storage, identity, access control, audit, the record store, the
//! event bus and the sandboxed plugin host. No HTTP, no command line, no templates: those live
//! in the crates above it (`erp-api`, `erp-web`, `erp`).
//!
//! See `ARCHITECTURE.md` at the repository root for the crate map and invariants.

pub mod access;
pub mod audit;
pub mod bus;
pub mod clock;
pub mod documents;
pub mod events;
pub mod fair_use;
pub mod files;
pub mod identity;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod outbound;
pub mod paging;
pub mod platform;
pub mod plugin_error;
pub mod plugins;
pub mod records;
pub mod secrets;
pub mod session;
pub mod storage;

pub use erp_manifest::cron as schedule;
pub use erp_manifest::{ids, validation};
pub use platform::Platform;
