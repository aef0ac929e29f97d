//! Small helpers over the SDK: reading inputs, finding records by id or code, the config.

use erp_sdk::store::{self, Filter, Query, Record};
use erp_sdk::{Error, Result, Value, context};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Most records one command reads from a collection in one go.
pub const MAX_SCAN: usize = 100_000;

/// A required text input.
pub fn text<'a>(input: &'a Value, field: &str) -> Result<&'a str> {
    input[field].as_str().filter(|s| !s.trim().is_empty()).ok_or_else(|| Error::invalid(field, "is required"))
}

/// A record of `collection` by id, or by its unique `code` when `key` is not an id.
pub fn by_id_or_code<T: DeserializeOwned>(collection: &str, field: &str, key: &str) -> Result<Record<T>> {
    if let Ok(r) = store::get::<T>(collection, key) {
        return Ok(r);
    }
    store::first(collection, Query::new().filter(Filter::eq("code", key)))?
        .ok_or_else(|| Error::invalid(field, format!("no {collection} {key}")))
}

/// Every record that matches `filter`, page by page.
pub fn all<T: DeserializeOwned>(collection: &str, filter: Filter) -> Result<Vec<Record<T>>> {
    store::query_all(collection, Query::new().filter(filter), MAX_SCAN)
}

/// This company's settings of the plugin, and under `company` the company's own settings
/// that the kernel gives every plugin.
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    pub chart: Option<String>,
    pub payment_days: Option<i64>,
    pub deal_tax: Option<String>,
    pub company: CompanySettings,
}

/// The company's settings shared by every plugin (Settings → Company in the kernel).
#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CompanySettings {
    /// ISO 4217 code of the company's currency; empty when the kernel gives none.
    pub currency: String,
}

/// The company's settings.
pub fn config() -> Config {
    context::config::<Config>().unwrap_or_default()
}

/// The currency the books are kept in: the company's currency, `RUB` when none is set.
pub fn company_currency() -> String {
    let currency = config().company.currency;
    if currency.len() == 3 { currency.to_uppercase() } else { "RUB".into() }
}

/// A currency code: three letters, upper case.
pub fn currency(field: &str, v: Option<&str>) -> Result<String> {
    match v {
        None => Ok(company_currency()),
        Some(c) if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => Ok(c.to_uppercase()),
        Some(_) => Err(Error::invalid(field, "must be a three-letter currency code such as RUB")),
    }
}
