//! The event log: every event is written in the same transaction as the change that caused
//! it, so an event exists exactly when its change committed.

use diesel::prelude::*;
use serde_json::Value;

use crate::clock;
use crate::ids;
use crate::plugins::manifest::is_event_pattern;
use crate::storage::schema::events;
use crate::storage::{DbConn, StoreError};

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

/// Checks an event name a plugin wants to publish: `<plugin>.<name>[.<more>]`.
pub fn check_publish_name(plugin: &str, name: &str) -> Result<(), String> {
    let Some(rest) = name.strip_prefix(plugin).and_then(|r| r.strip_prefix('.')) else {
        return Err(format!("{plugin} may only publish events named {plugin}.<something>, not {name}"));
    };
    if rest.is_empty() || name.len() > 128 || name.ends_with(".*") || !is_event_pattern(name) {
        return Err(format!("{name:?} is not an event name like {plugin}.deal.won"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_publish_only_under_their_own_name() {
        assert!(check_publish_name("crm", "crm.deal.won").is_ok());
        assert!(check_publish_name("crm", "crmx.deal.won").is_err());
        assert!(check_publish_name("crm", "accounting.invoice.paid").is_err());
        assert!(check_publish_name("crm", "crm.").is_err());
        assert!(check_publish_name("crm", "crm.deal.*").is_err());
        assert!(check_publish_name("crm", "crm.Deal Won").is_err());
    }
}
