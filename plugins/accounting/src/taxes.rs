//! Taxes on invoice lines: added to the price or included in it, computed per line and
//! rounded to kopecks half away from zero.

use erp_sdk::store::Record;
use erp_sdk::{Error, Result, Value, json};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::model::{InvoiceLine, Tax};
use crate::{money, util};

/// The amounts of one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Amounts {
    /// Without tax.
    pub base: Decimal,
    /// The tax.
    pub tax: Decimal,
    /// What the customer pays.
    pub total: Decimal,
}

/// A tax by id or code.
pub fn find(field: &str, key: &str) -> Result<Record<Tax>> {
    util::by_id_or_code("tax", field, key)
}

/// Amounts of `quantity x price` under `tax`.
pub fn compute(quantity: Decimal, price: Decimal, tax: Option<&Tax>) -> Result<Amounts> {
    let gross = money::round(money::mul("quantity", quantity, price)?);
    let hundred = Decimal::ONE_HUNDRED;
    Ok(match tax {
        None => Amounts { base: gross, tax: money::round(Decimal::ZERO), total: gross },
        Some(t) if t.included => {
            let tax = money::round(gross * t.rate / (hundred + t.rate));
            Amounts { base: gross - tax, tax, total: gross }
        }
        Some(t) => {
            let tax = money::round(gross * t.rate / hundred);
            Amounts { base: gross, tax, total: gross + tax }
        }
    })
}

/// Checks a line as entered and computes it, with the tax it names.
pub fn line(i: usize, l: &InvoiceLine) -> Result<(Amounts, Option<Record<Tax>>)> {
    if l.description.trim().is_empty() {
        return Err(Error::invalid(format!("lines.{i}.description"), "is required"));
    }
    if l.quantity <= Decimal::ZERO {
        return Err(Error::invalid(format!("lines.{i}.quantity"), "must be more than zero"));
    }
    if l.price.is_sign_negative() {
        return Err(Error::invalid(format!("lines.{i}.price"), "must not be negative"));
    }
    let tax = l.tax.as_deref().map(|t| find(&format!("lines.{i}.tax"), t)).transpose()?;
    Ok((compute(l.quantity, l.price, tax.as_ref().map(|t| &t.data))?, tax))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Preview {
    lines: Vec<InvoiceLine>,
}

/// `compute-taxes`: the amounts of lines without saving anything.
pub fn preview(input: Value) -> Result<Value> {
    let p: Preview = erp_sdk::input(input)?;
    let mut rows = Vec::new();
    let (mut base, mut tax, mut total) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (i, l) in p.lines.iter().enumerate() {
        let (a, _) = line(i, l)?;
        base += a.base;
        tax += a.tax;
        total += a.total;
        rows.push(json!({ "base": money::text(a.base), "tax": money::text(a.tax), "total": money::text(a.total) }));
    }
    Ok(json!({ "lines": rows, "untaxed": money::text(base), "tax": money::text(tax), "total": money::text(total) }))
}

/// Validation of a tax: a rate from 0 to 100 percent.
pub fn validate(after: &Value) -> Result<()> {
    let rate: Decimal = after["rate"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
    if rate.is_sign_negative() || rate > Decimal::ONE_HUNDRED {
        return Err(Error::invalid("rate", "must be a percentage from 0 to 100"));
    }
    Ok(())
}
