//! The event log: every event is written in the same transaction as the change that caused
//! it, so an event exists exactly when its change committed.

use diesel::prelude::*;
use serde_json::Value;

use crate::clock;
use crate::ids;
use crate::storage::schema::events;
use crate::storage::{DbConn, StoreError};
pub use erp_manifest::check_publish_name;

/// Largest event payload, in bytes of JSON.
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// An event to write.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// `<source>.<name>`, such as `crm.deal.won`.
    pub name: &'a str,
    /// The plugin that published it, or `kernel`.
    pub source: &'a str,
    /// The payload.
    pub payload: Value,
    /// For record events: the collection (of the source plugin) the record belongs to.
    pub collection: Option<&'a str>,
}

/// Writes an event row; returns its id.
pub fn insert(
    conn: &mut DbConn,
    company_id: &str,
    ev: &NewEvent<'_>,
    actor: Option<&str>,
    depth: u32,
) -> Result<String, StoreError> {
    let (name, source, payload) = (ev.name, ev.source, &ev.payload);
    let id = ids::new_id();
    diesel::insert_into(events::table)
        .values((
            events::id.eq(&id),
            events::company_id.eq(company_id),
            events::name.eq(name),
            events::source.eq(source),
            events::payload.eq(payload.to_string()),
            events::actor_id.eq(actor),
            events::depth.eq(depth as i32),
            events::occurred_at.eq(clock::now()),
            events::collection.eq(ev.collection),
        ))
        .execute(conn)?;
    Ok(id)
}
