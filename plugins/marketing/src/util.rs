//! Small helpers: inputs, dates, the company's settings.

use chrono::NaiveDate;
use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, context};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Most records one command reads from a collection in one go.
pub const MAX_SCAN: usize = 50_000;

/// Every record that matches `filter`, page by page.
pub fn all<T: DeserializeOwned>(collection: &str, filter: Filter) -> Result<Vec<Record<T>>> {
    store::query_all(collection, Query::new().filter(filter), MAX_SCAN)
}

/// Every record of a collection.
pub fn every<T: DeserializeOwned>(collection: &str) -> Result<Vec<Record<T>>> {
    store::query_all(collection, Query::new(), MAX_SCAN)
}

/// A date `YYYY-MM-DD`.
pub fn date(field: &str, s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| Error::invalid(field, "must be a date, YYYY-MM-DD"))
}

/// The plugin's settings, and under `company` the company's own settings that the kernel
/// gives every plugin.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    gross_margin: Option<Decimal>,
    company: CompanySettings,
}

/// The company's settings shared by every plugin (Settings → Company in the kernel).
#[derive(Deserialize, Default)]
#[serde(default)]
struct CompanySettings {
    currency: String,
}

fn config() -> Config {
    context::config::<Config>().unwrap_or_default()
}

/// The gross margin on revenue, in percent, for ROI.
pub fn gross_margin() -> Decimal {
    config().gross_margin.unwrap_or(Decimal::from(30))
}

/// The currency spend and revenue are counted in: the company's currency, `RUB` when none is
/// set.
pub fn currency() -> String {
    let currency = config().company.currency;
    if currency.len() == 3 { currency.to_uppercase() } else { "RUB".into() }
}
