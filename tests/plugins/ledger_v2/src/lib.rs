//! Ledger 1.1.0: the same code, with additive manifest changes.

use erp_sdk::store::{self, Aggregate};
use erp_sdk::{Error, Plugin, Result, Value, json};

/// The plugin.
pub struct Ledger;

impl Plugin for Ledger {
    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "add" => Ok(json!({ "id": store::create::<Value>("entry", &input)?.id })),
            "total" => {
                let groups = store::aggregate("entry", &Aggregate::new().metric("sum", "amount").count())?;
                Ok(json!({ "total": groups[0].values["sum_amount"], "count": groups[0].values["count"] }))
            }
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }
}

erp_sdk::export_plugin!(Ledger);
