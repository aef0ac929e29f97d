//! Warehouses and locations as a tree (warehouse → zone → bin), plus virtual locations for
//! suppliers, customers, inventory loss and production.

use erp_sdk::store;
use erp_sdk::{Error, Result, Value, serde_json};

use crate::model::Location;

/// The validation hook for locations: warehouses and virtual locations stand alone, a zone
/// sits in a warehouse, a bin in a zone or a warehouse, and the tree has no cycles.
pub fn validate(id: &str, after: &Value) -> Result<()> {
    let l: Location = serde_json::from_value(after.clone()).map_err(|e| Error::invalid("location", e.to_string()))?;
    let parent = match &l.parent {
        None => None,
        Some(p) if p == id => return Err(Error::invalid("parent", "a location cannot be inside itself")),
        Some(p) => {
            Some(store::get::<Location>("location", p).map_err(|_| Error::invalid("parent", "no such location"))?)
        }
    };
    let fits = matches!(
        (l.kind.as_str(), parent.as_ref().map(|p| p.data.kind.as_str())),
        ("warehouse", None)
            | ("zone", Some("warehouse"))
            | ("bin", Some("warehouse" | "zone"))
            | ("supplier" | "customer" | "loss" | "production", None)
    );
    if !fits {
        return Err(Error::invalid(
            "parent",
            "a warehouse and virtual locations stand alone, a zone is in a warehouse, a bin in a zone or warehouse",
        ));
    }
    // Walk up: the tree is at most three levels, so a cycle shows quickly.
    let mut seen = vec![id.to_string()];
    let mut cur = parent;
    while let Some(p) = cur {
        if seen.contains(&p.id) || seen.len() > 4 {
            return Err(Error::invalid("parent", "would make a cycle"));
        }
        seen.push(p.id.clone());
        cur = match &p.data.parent {
            Some(pp) => store::get::<Location>("location", pp).ok(),
            None => None,
        };
    }
    Ok(())
}
