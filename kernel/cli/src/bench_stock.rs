//! `erp bench`, warehouse part: the on-hand query for one product after a long history of
//! done moves, against summing that product's moves, to show that on-hand reads the quants
//! kept up to date by each move and never the history.

use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};

use super::bench::{millis, percentile};
use super::bench_rows::{Rows, analyze};
use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::ids;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::records::aggregate::AggregateRequest;
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;

/// Products that share the history; the measured product gets half of all moves.
const OTHER_PRODUCTS: usize = 49;

/// Runs the warehouse benchmark with `moves` done moves in the history.
pub fn run(platform: &Platform, company_id: &str, moves: usize) -> anyhow::Result<()> {
    let scope = CompanyScope::system(company_id);
    let caller = Caller::User(&scope);
    let mut session = Session::begin(&platform.db, company_id, None)?;
    let enabled = lifecycle::enable(platform, &mut session, &scope, "warehouse", EnableRequest::default())?;
    let coll = |name: &str| {
        Collection::new(enabled.manifest.clone(), name).with_context(|| format!("the warehouse has no {name}"))
    };
    let (location, product, move_coll) = (coll("location")?, coll("product")?, coll("move")?);
    let place = |session: &mut Session, code: &str, kind: &str| -> anyhow::Result<String> {
        Ok(records::create(session, platform, caller, &location, json!({ "code": code, "name": code, "kind": kind }))?
            .id)
    };
    let supplier = place(&mut session, "SUP", "supplier")?;
    let customer = place(&mut session, "CUS", "customer")?;
    let store = place(&mut session, "WH", "warehouse")?;
    let mut products = Vec::new();
    for i in 0..=OTHER_PRODUCTS {
        let sku = format!("BENCH-{i:03}");
        products
            .push(records::create(&mut session, platform, caller, &product, json!({ "sku": sku, "name": sku }))?.id);
    }
    // The stock on hand comes from real receipts and issues through the plugin.
    let target = products[0].clone();
    let run = |session: &mut Session, command: &str, input: Value| {
        lifecycle::run_command(platform, session, &scope, "warehouse", command, input)
    };
    run(
        &mut session,
        "receive",
        json!({ "product": target, "quantity": "150", "from_location": supplier, "to_location": store, "unit_cost": "10" }),
    )?;
    run(
        &mut session,
        "issue",
        json!({ "product": target, "quantity": "30", "from_location": store, "to_location": customer }),
    )?;
    session.commit()?;

    // The history: receipts and issues in equal pairs, so the quants still equal the sum of
    // all done moves. Loaded with multi-row inserts of the rows the record store writes.
    let started = Instant::now();
    load_history(platform, company_id, &products, &supplier, &store, &customer, moves)?;
    println!("loaded {moves} done moves in {:.1} s", started.elapsed().as_secs_f64());

    let mut on_hand = Vec::new();
    let mut answer = Value::Null;
    for i in 0..220 {
        let mut session = Session::begin(&platform.db, company_id, None)?;
        let started = Instant::now();
        answer = run(&mut session, "on-hand", json!({ "product": target }))?;
        if i >= 20 {
            on_hand.push(started.elapsed());
        }
        drop(session); // nothing to keep: the transaction rolls back
    }
    on_hand.sort();
    let mut scans = Vec::new();
    let mut history_sum = Value::Null;
    let req = AggregateRequest {
        filter: Some(json!({ "and": [
            { "field": "product", "op": "eq", "value": target },
            { "field": "state", "op": "eq", "value": "done" },
        ] })),
        group_by: Vec::new(),
        metrics: serde_json::from_value(json!([{ "op": "count" }, { "op": "sum", "field": "quantity" }]))?,
    };
    platform.db.read_blocking(|conn| {
        for _ in 0..5 {
            let started = Instant::now();
            history_sum = records::aggregate(conn, company_id, caller, &move_coll, &req)?;
            scans.push(started.elapsed());
        }
        Ok::<_, anyhow::Error>(())
    })?;
    scans.sort();
    let p50 = percentile(&on_hand, 0.5);
    let scan = percentile(&scans, 0.5);
    let counted = history_sum.pointer("/groups/0/values/count").cloned().unwrap_or(Value::Null);
    println!(
        "on-hand for one product with {moves} done moves in the company ({counted} of them its own): p50 {} , p99 {} \
         (plugin command through the kernel); on hand {} (expected 120)",
        millis(p50.as_secs_f64()),
        millis(percentile(&on_hand, 0.99).as_secs_f64()),
        answer["on_hand"]
    );
    println!(
        "  reading that product's history instead (kernel aggregate over its done moves): {}; on-hand is {:.0}x faster",
        millis(scan.as_secs_f64()),
        scan.as_secs_f64() / p50.as_secs_f64().max(f64::MIN_POSITIVE)
    );
    Ok(())
}

/// Inserts `n` done moves: half for the first product, the rest spread over the others;
/// each receipt is followed by an issue of the same quantity.
fn load_history(
    platform: &Platform,
    company_id: &str,
    products: &[String],
    supplier: &str,
    store: &str,
    customer: &str,
    n: usize,
) -> anyhow::Result<()> {
    let mut rows = Rows::new(company_id, "warehouse");
    for i in 0..n {
        let pair = i / 2;
        let product = if pair % 2 == 0 { &products[0] } else { &products[1 + (pair / 2) % (products.len() - 1)] };
        let (kind, from, to) = if i % 2 == 0 { ("receipt", supplier, store) } else { ("issue", store, customer) };
        let qty = 1 + pair % 7;
        let at = chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(19_000 + (pair as i64 % 700));
        let done_at = at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let id = ids::new_id();
        let cost = if kind == "receipt" { r#", "unit_cost": "10""# } else { "" };
        let data = format!(
            r#"{{"kind": "{kind}", "product": "{product}", "quantity": "{qty}", "from_location": "{from}", "to_location": "{to}", "state": "done", "done_at": "{done_at}"{cost}}}"#
        );
        rows.record(&id, "move", 2, &data);
        rows.key(&id, "move", "kind", kind);
        rows.key(&id, "move", "state", "done");
        rows.key(&id, "move", "done_at", &at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        for (field, target) in [("product", product.as_str()), ("from_location", from), ("to_location", to)] {
            rows.reference(&id, "move", field, target);
        }
        if rows.len() == 500 {
            rows.flush(platform)?;
        }
    }
    rows.flush(platform)?;
    analyze(platform)
}
