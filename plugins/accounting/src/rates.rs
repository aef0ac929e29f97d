//! Exchange rates: company currency per unit of another currency, by date; a transaction
//! uses the latest rate on or before its date unless it states its own.

use chrono::NaiveDate;
use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value};
use rust_decimal::Decimal;

use crate::dates;

/// The rate of `currency` on `date` (1 for the company currency), or the one given.
pub fn at(currency: &str, date: NaiveDate, given: Option<Decimal>) -> Result<Decimal> {
    if currency == crate::util::company_currency() {
        return Ok(Decimal::ONE);
    }
    if let Some(r) = given {
        return positive(r);
    }
    let q = Query::new()
        .filter(Filter::and(vec![Filter::eq("currency", currency), Filter::lte("date", dates::format(date))]))
        .sort_desc("date");
    let found = store::first::<Value>("rate", q)?;
    let rate = found.and_then(|r| r.data["rate"].as_str().and_then(|s| s.parse::<Decimal>().ok()));
    rate.ok_or_else(|| {
        Error::invalid(
            "rate",
            format!("no exchange rate for {currency} on or before {}: enter one", dates::format(date)),
        )
    })
}

fn positive(r: Decimal) -> Result<Decimal> {
    if r <= Decimal::ZERO {
        return Err(Error::invalid("rate", "must be more than zero"));
    }
    Ok(r)
}

/// Validation of a rate: a currency code, a positive rate, one rate per currency and day.
pub fn validate(id: &str, after: &Value) -> Result<()> {
    let currency = after["currency"].as_str().unwrap_or_default();
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::invalid("currency", "must be a three-letter code in capitals, such as USD"));
    }
    positive(after["rate"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default())?;
    let date = after["date"].as_str().unwrap_or_default();
    let q = Query::new().filter(Filter::and(vec![Filter::eq("currency", currency), Filter::eq("date", date)])).limit(2);
    if store::query::<Value>("rate", &q)?.records.iter().any(|r| r.id != id) {
        return Err(Error::invalid("date", format!("{currency} already has a rate on {date}")));
    }
    Ok(())
}
