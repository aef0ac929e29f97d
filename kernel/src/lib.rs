//! The ERP platform kernel: identity, storage, access control, audit and the HTTP API.
//!
//! See `ARCHITECTURE.md` at the repository root for the code map and invariants.

pub mod access;
pub mod audit;
pub mod bundled;
pub mod bus;
pub mod cli;
pub mod clock;
pub mod events;
pub mod http;
pub mod identity;
pub mod ids;
pub mod paging;
pub mod plugins;
pub mod records;
pub mod schedule;
pub mod session;
pub mod storage;
pub mod validation;
