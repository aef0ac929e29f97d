//! Money: exact decimals rounded to kopecks (cents) half away from zero, as accountants
//! round, and always carried with two decimals.

use erp_sdk::{Error, Result};
use rust_decimal::{Decimal, RoundingStrategy};

/// Rounded to two decimals, half away from zero, scale 2 (`10` becomes `10.00`).
pub fn round(d: Decimal) -> Decimal {
    let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r
}

/// An amount someone entered: not negative, at most two decimals.
pub fn amount(field: &str, d: Decimal) -> Result<Decimal> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(Error::invalid(field, "must not be negative"));
    }
    if d.normalize().scale() > 2 {
        return Err(Error::invalid(field, "must have at most 2 decimal places"));
    }
    Ok(round(d))
}

/// `a * b`, refusing amounts too large to hold exactly.
pub fn mul(field: &str, a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_mul(b).ok_or_else(|| Error::invalid(field, "is too large"))
}

/// `a + b`, refusing amounts too large to hold exactly.
pub fn add(field: &str, a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_add(b).ok_or_else(|| Error::invalid(field, "is too large"))
}

/// Text with two decimals.
pub fn text(d: Decimal) -> String {
    round(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(round(d("0.125")).to_string(), "0.13");
        assert_eq!(round(d("0.135")).to_string(), "0.14");
        assert_eq!(round(d("-0.125")).to_string(), "-0.13");
        assert_eq!(round(d("10")).to_string(), "10.00");
    }

    #[test]
    fn entered_amounts_are_checked() {
        assert!(amount("x", d("-1")).is_err());
        assert!(amount("x", d("1.005")).is_err());
        assert_eq!(amount("x", d("1.5")).unwrap().to_string(), "1.50");
    }
}
