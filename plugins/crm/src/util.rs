//! Small helpers over the SDK: reading inputs, paging through queries, permissions, PII.

use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, context, serde_json};
use serde::de::DeserializeOwned;

/// Permission to see personal data.
pub const PII: &str = "crm.customer.pii";
/// Permission to see every deal, not only one's own.
pub const ALL_DEALS: &str = "crm.deal.all";

/// Most records one command reads from a collection in one go.
pub const MAX_SCAN: usize = 10_000;

/// Deserialises a command input, naming the problem for the caller.
pub fn input<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::invalid("input", e.to_string()))
}

/// Every record that matches `filter`, page by page, up to [`MAX_SCAN`].
pub fn all<T: DeserializeOwned>(collection: &str, filter: Filter) -> Result<Vec<Record<T>>> {
    store::query_all(collection, Query::new().filter(filter), MAX_SCAN)
}

/// The first record that matches, if any.
pub fn first<T: DeserializeOwned>(collection: &str, query: Query) -> Result<Option<Record<T>>> {
    store::first(collection, query)
}

/// The user the plugin acts for.
pub fn current_user() -> Option<String> {
    context::current().user_id
}

/// True when the caller may see personal data. Events, schedules and webhooks have no
/// caller and never answer with personal data.
pub fn sees_pii() -> bool {
    context::has_permission(PII)
}

/// True when the caller may see the deal: responsible for it, or allowed to see all deals.
pub fn may_see_deal(responsible: Option<&str>) -> bool {
    context::has_permission(ALL_DEALS) || (responsible.is_some() && responsible == current_user().as_deref())
}

/// Personal-data fields per collection, as `plugin.toml` marks them.
fn sensitive(collection: &str) -> &'static [&'static str] {
    match collection {
        "customer" => &["birth_date", "gender"],
        "contact" => &["value", "key"],
        "address" => &["country", "city", "line", "postal_code"],
        "lead" => &["contact_key", "other_key", "email", "phone"],
        "message" => &["sender", "external_key"],
        "document" => &["html"],
        _ => &[],
    }
}

/// A record as JSON for the caller: id, version and fields, without personal data unless
/// the caller may see it.
pub fn shown<T: serde::Serialize>(collection: &str, r: &Record<T>, pii: bool) -> Value {
    let mut data = serde_json::to_value(&r.data).unwrap_or(Value::Null);
    if !pii && let Value::Object(map) = &mut data {
        for f in sensitive(collection) {
            map.remove(*f);
        }
    }
    erp_sdk::json!({ "id": r.id, "version": r.version, "data": data, "created_at": r.created_at })
}
