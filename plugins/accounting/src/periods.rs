//! Periods: the lock date no posting may fall on or before, and the monthly turnover of
//! each account, kept as entries post so that reports never read all of history.

use chrono::NaiveDate;
use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value, events, json};
use rust_decimal::Decimal;

use crate::dates;
use crate::model::Balance;

const LOCK: &str = "lock";

/// The last locked day, if the books are locked.
pub fn locked_until() -> Result<Option<NaiveDate>> {
    let lock = store::first::<Value>("lock", Query::new().filter(Filter::eq("key", LOCK)))?;
    Ok(lock.and_then(|l| l.data["until"].as_str().and_then(|s| dates::parse("until", s).ok())))
}

/// Refuses a posting dated on or before the lock date.
pub fn check_open(field: &str, date: NaiveDate) -> Result<()> {
    match locked_until()? {
        Some(until) if date <= until => Err(Error::invalid(
            field,
            format!("the books are locked up to {}: post on a later date", dates::format(until)),
        )),
        _ => Ok(()),
    }
}

/// The first day postings may fall on, at or after `date`.
pub fn first_open(date: NaiveDate) -> Result<NaiveDate> {
    Ok(match locked_until()? {
        Some(until) if date <= until => dates::next(until),
        _ => date,
    })
}

/// `lock-period`: locks the books up to and including `until`. Moving the date back reopens
/// those days; both are recorded in the lock's history by the kernel.
pub fn lock(input: Value) -> Result<Value> {
    let until = dates::parse("until", input["until"].as_str().unwrap_or_default())?;
    let text = dates::format(until);
    match store::first::<Value>("lock", Query::new().filter(Filter::eq("key", LOCK)))? {
        Some(l) => {
            store::update::<Value>("lock", &l.id, &json!({ "until": text }), Some(l.version))?;
        }
        None => {
            store::create::<Value>("lock", &json!({ "key": LOCK, "until": text }))?;
        }
    }
    events::publish("accounting.period.locked", &json!({ "until": text }))?;
    Ok(json!({ "locked_until": text }))
}

/// Adds posted amounts to an account's turnover for the month and for the day, each written
/// with the version read so that concurrent postings never lose one.
pub fn add(account: &str, date: NaiveDate, debit: Decimal, credit: Decimal) -> Result<()> {
    let period = dates::period(date);
    bump("balance", format!("{account}|{period}"), debit, credit, || json!({ "account": account, "period": period }))?;
    let day = dates::format(date);
    bump("daily", format!("{account}|{day}"), debit, credit, || json!({ "account": account, "date": day }))
}

fn bump(collection: &str, key: String, debit: Decimal, credit: Decimal, fields: impl Fn() -> Value) -> Result<()> {
    match store::first::<Balance>(collection, Query::new().filter(Filter::eq("key", key.as_str())))? {
        Some(b) => {
            let patch = json!({
                "debit": (b.data.debit + debit).to_string(),
                "credit": (b.data.credit + credit).to_string(),
            });
            store::update::<Value>(collection, &b.id, &patch, Some(b.version))?;
        }
        None => {
            let mut record = fields();
            record["key"] = json!(key);
            record["debit"] = json!(debit.to_string());
            record["credit"] = json!(credit.to_string());
            store::create::<Value>(collection, &record)?;
        }
    }
    Ok(())
}
