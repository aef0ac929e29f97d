//! `erp bench`, accounting part: the trial balance over a million posted journal lines,
//! for whole months (read from the monthly balances) and for a range with partial months
//! (monthly plus daily balances), against summing every line.

use std::collections::BTreeMap;
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
use erp_kernel::records::query::QueryRequest;
use erp_kernel::records::{self, Caller, Collection};
use erp_kernel::session::Session;

/// Lines per entry: five debits and five credits.
const PER_ENTRY: usize = 10;
/// Days the history spans, from 2025-01-01.
const DAYS: u64 = 730;

/// Runs the accounting benchmark with `lines` posted lines.
pub fn run(platform: &Platform, company_id: &str, lines: usize) -> anyhow::Result<()> {
    let scope = CompanyScope::system(company_id);
    let caller = Caller::User(&scope);
    let mut session = Session::begin(&platform.db, company_id, None)?;
    let enabled = lifecycle::enable(platform, &mut session, &scope, "accounting", EnableRequest::default())?;
    session.commit()?;
    let coll = |name: &str| {
        Collection::new(enabled.manifest.clone(), name).with_context(|| format!("accounting has no {name}"))
    };
    let (account, journal, line) = (coll("account")?, coll("journal")?, coll("line")?);
    let (accounts, journal_id) = platform.db.read_blocking(|conn| {
        let all = records::find(
            conn,
            company_id,
            caller,
            &account,
            &QueryRequest { limit: Some(500), ..QueryRequest::default() },
        )?;
        let leaves: Vec<String> = all
            .records
            .iter()
            .filter(|a| {
                !all.records.iter().any(|b| b.data.get("parent").and_then(Value::as_str) == Some(a.id.as_str()))
            })
            .map(|a| a.id.clone())
            .take(24)
            .collect();
        let req = QueryRequest {
            filter: Some(json!({ "field": "code", "op": "eq", "value": "GEN" })),
            ..QueryRequest::default()
        };
        let general = records::find(conn, company_id, caller, &journal, &req)?;
        let id = general.records.first().map(|j| j.id.clone()).context("no general journal")?;
        Ok::<_, anyhow::Error>((leaves, id))
    })?;
    let started = Instant::now();
    load(platform, company_id, &accounts, &journal_id, lines)?;
    println!(
        "loaded {lines} posted journal lines with their monthly balances in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let report = |input: Value| -> anyhow::Result<(Vec<std::time::Duration>, Value)> {
        let mut times = Vec::new();
        let mut answer = Value::Null;
        for i in 0..25 {
            let mut session = Session::begin(&platform.db, company_id, None)?;
            let started = Instant::now();
            answer =
                lifecycle::run_command(platform, &mut session, &scope, "accounting", "trial-balance", input.clone())?;
            if i >= 5 {
                times.push(started.elapsed());
            }
        }
        times.sort();
        Ok((times, answer))
    };
    let (whole, answer) = report(json!({ "from": "2025-01-01", "to": "2026-12-31" }))?;
    let (partial, _) = report(json!({ "from": "2025-03-15", "to": "2026-10-20" }))?;
    println!(
        "trial balance over {lines} lines, two whole years (monthly balances only): p50 {} , p99 {}; target under 500 ms ({:.3}x the target); balanced: {}, turnover {}",
        millis(percentile(&whole, 0.5).as_secs_f64()),
        millis(percentile(&whole, 0.99).as_secs_f64()),
        percentile(&whole, 0.5).as_secs_f64() / 0.5,
        answer["balanced"],
        answer["totals"]["debit"]
    );
    println!(
        "trial balance from the 15th of one month to the 20th of another (monthly and daily balances): p50 {} , p99 {} ({:.3}x the target)",
        millis(percentile(&partial, 0.5).as_secs_f64()),
        millis(percentile(&partial, 0.99).as_secs_f64()),
        percentile(&partial, 0.5).as_secs_f64() / 0.5
    );
    let req = AggregateRequest {
        filter: None,
        group_by: vec!["account".into()],
        metrics: serde_json::from_value(
            json!([{ "op": "sum", "field": "debit" }, { "op": "sum", "field": "credit" }]),
        )?,
    };
    let started = Instant::now();
    platform.db.read_blocking(|conn| records::aggregate(conn, company_id, caller, &line, &req))?;
    println!(
        "  summing every line instead (kernel aggregate over all {lines} lines): {}; the balances are {:.0}x faster",
        millis(started.elapsed().as_secs_f64()),
        started.elapsed().as_secs_f64() / percentile(&whole, 0.5).as_secs_f64().max(f64::MIN_POSITIVE)
    );
    Ok(())
}

/// Inserts posted entries of ten lines each, spread over two years, and the monthly and
/// daily balances posting would have kept for them.
fn load(platform: &Platform, company_id: &str, accounts: &[String], journal: &str, lines: usize) -> anyhow::Result<()> {
    let base = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).context("a date")?;
    let mut months: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut days: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut rows = Rows::new(company_id, "accounting");
    for e in 0..lines / PER_ENTRY {
        let date = base + chrono::Days::new((e as u64 * 7919) % DAYS);
        let day = date.format("%Y-%m-%d").to_string();
        let period = date.format("%Y-%m").to_string();
        let entry_id = ids::new_id();
        let data = format!(
            r#"{{"journal": "{journal}", "date": "{day}", "state": "posted", "number": "B-{e}", "lines": []}}"#
        );
        rows.record(&entry_id, "entry", 2, &data);
        rows.key(&entry_id, "entry", "date", &day);
        rows.key(&entry_id, "entry", "state", "posted");
        rows.reference(&entry_id, "entry", "journal", journal);
        for k in 0..PER_ENTRY {
            let id = ids::new_id();
            let acc = &accounts[(e * 3 + k * 7) % accounts.len()];
            let cents = 100 + ((e * 31 + k / 2 * 17) % 100_000) as i64;
            let (debit, credit) = if k % 2 == 0 { (cents, 0) } else { (0, cents) };
            let data = format!(
                r#"{{"entry": "{entry_id}", "account": "{acc}", "date": "{day}", "debit": "{}", "credit": "{}"}}"#,
                money(debit),
                money(credit)
            );
            rows.record(&id, "line", 1, &data);
            rows.key(&id, "line", "date", &day);
            rows.reference(&id, "line", "entry", &entry_id);
            rows.reference(&id, "line", "account", acc);
            for (sums, at) in [(&mut months, &period), (&mut days, &day)] {
                let s = sums.entry((acc.clone(), at.clone())).or_default();
                s.0 += debit;
                s.1 += credit;
            }
        }
        if rows.len() >= 1000 {
            rows.flush(platform)?;
        }
    }
    for (collection, field, sums) in [("balance", "period", &months), ("daily", "date", &days)] {
        for ((acc, at), (d, c)) in sums {
            let id = ids::new_id();
            let key = format!("{acc}|{at}");
            let data = format!(
                r#"{{"key": "{key}", "account": "{acc}", "{field}": "{at}", "debit": "{}", "credit": "{}"}}"#,
                money(*d),
                money(*c)
            );
            rows.record(&id, collection, 1, &data);
            rows.unique(&id, collection, "key", &key);
            rows.reference(&id, collection, "account", acc);
            rows.key(&id, collection, field, at);
            if rows.len() >= 1000 {
                rows.flush(platform)?;
            }
        }
    }
    rows.flush(platform)?;
    analyze(platform)
}

/// Kopecks as decimal text.
fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}
