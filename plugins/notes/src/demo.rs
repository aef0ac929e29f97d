//! Sample notebooks and notes for `erp serve --demo`.

use erp_sdk::{DemoAnswer, DemoRequest, Result, Value, json, store};

/// A notebook with three notes, in one step.
pub fn step(_request: &DemoRequest) -> Result<DemoAnswer> {
    let work = store::create::<Value>("notebook", &json!({ "name": "Work" }))?.id;
    for note in [
        json!({ "title": "Call Romashka LLC about the renewal", "priority": "high", "due": "2026-12-05", "notebook": work, "words": 6, "cost": "0.00" }),
        json!({ "title": "Prepare the Q4 price list", "priority": "normal", "due": "2026-12-15", "notebook": work, "words": 5, "pinned": true }),
        json!({ "title": "Order office paper", "priority": "low", "notebook": work, "words": 3, "cost": "1250.50" }),
    ] {
        store::create::<Value>("note", &note)?;
    }
    Ok(DemoAnswer::done())
}
