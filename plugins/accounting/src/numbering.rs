//! Document numbers: one gapless series per prefix and year (`SAL-2026-00001`), advanced
//! with the version read, so two postings never take the same number.

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Result, Value, json};

/// The next number of the series `prefix-year`.
pub fn next(prefix: &str, year: i32) -> Result<String> {
    let key = format!("{prefix}-{year}");
    let n = match store::first::<Value>("sequence", Query::new().filter(Filter::eq("key", key.as_str())))? {
        Some(s) => {
            let n = s.data["next"].as_i64().unwrap_or(1);
            store::update::<Value>("sequence", &s.id, &json!({ "next": n + 1 }), Some(s.version))?;
            n
        }
        None => {
            store::create::<Value>("sequence", &json!({ "key": key, "next": 2 }))?;
            1
        }
    };
    Ok(format!("{key}-{n:05}"))
}
