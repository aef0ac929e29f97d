//! Campaigns and their spend: the rules their records keep.

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value};
use rust_decimal::Decimal;

use crate::util;

fn decimal(v: &Value) -> Option<Decimal> {
    v.as_str().and_then(|s| s.parse().ok())
}

/// Validation of a campaign: dates in order, a budget not below zero.
pub fn validate(after: &Value) -> Result<()> {
    if after["name"].as_str().is_none_or(|n| n.trim().is_empty()) {
        return Err(Error::invalid("name", "must not be blank"));
    }
    if decimal(&after["budget"]).is_some_and(|b| b.is_sign_negative()) {
        return Err(Error::invalid("budget", "must not be negative"));
    }
    if let (Some(s), Some(e)) = (after["start"].as_str(), after["end"].as_str())
        && util::date("start", s)? > util::date("end", e)?
    {
        return Err(Error::invalid("end", "must not be before the start"));
    }
    Ok(())
}

/// Validation of a spend entry: an amount not below zero, counts not below zero, one entry
/// per campaign and day entered by hand.
pub fn validate_spend(id: &str, after: &Value) -> Result<()> {
    if decimal(&after["amount"]).is_none_or(|a| a.is_sign_negative()) {
        return Err(Error::invalid("amount", "must not be negative"));
    }
    for f in ["impressions", "clicks"] {
        if after[f].as_i64().is_some_and(|n| n < 0) {
            return Err(Error::invalid(f, "must not be negative"));
        }
    }
    let campaign = after["campaign"].as_str().unwrap_or_default();
    let date = after["date"].as_str().unwrap_or_default();
    let same = Filter::and(vec![Filter::eq("campaign", campaign), Filter::eq("date", date)]);
    let q = Query::new().filter(same).limit(5);
    if store::query::<Value>("spend", &q)?.records.iter().any(|r| r.id != id) {
        return Err(Error::invalid("date", format!("the campaign already has spend on {date}: change that entry")));
    }
    Ok(())
}
