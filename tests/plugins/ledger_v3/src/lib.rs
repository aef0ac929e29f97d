//! Ledger 2.0.0: exact decimal amounts; the migration rewrites 1.x entries.

use erp_sdk::store::{self, Aggregate, Query};
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

    fn migrate(from_version: &str) -> Result<()> {
        if !from_version.starts_with("1.") {
            return Err(Error::failed(format!("cannot migrate from {from_version}")));
        }
        let mut cursor: Option<String> = None;
        loop {
            let mut q = Query::new().limit(100);
            if let Some(c) = &cursor {
                q = q.cursor(c.clone());
            }
            let page = store::query::<Value>("entry", &q)?;
            for r in &page.records {
                let amount = r.data["amount"].as_i64().map(|a| format!("{a}.00"));
                let title = match r.data["code"].as_str() {
                    Some(code) => format!("[{code}] {}", r.data["title"].as_str().unwrap_or_default()),
                    None => r.data["title"].as_str().unwrap_or_default().to_string(),
                };
                let mut patch = json!({ "title": title });
                if let Some(a) = amount {
                    patch["amount"] = json!(a);
                }
                store::update::<Value>("entry", &r.id, &patch, Some(r.version))?;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(()),
            }
        }
    }
}

erp_sdk::export_plugin!(Ledger);
