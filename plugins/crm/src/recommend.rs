//! Recommendations: products to offer a customer next, from item-to-item co-occurrence across
//! the company's customers.
//!
//! Kept incrementally: `interest` holds which products each customer viewed or bought, and
//! `affinity` counts, for each ordered pair of products, how many customers showed interest in
//! both and how many bought both. A new view or purchase touches only the pairs of that
//! customer's own products, so answering never scans the history.

use std::collections::BTreeMap;

use erp_sdk::store::{self, Filter, Query};
use erp_sdk::{Error, Result, Value, json};
use serde::{Deserialize, Serialize};

use crate::util;

/// `interest`: one customer's interest in one product.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Interest {
    key: String,
    customer: String,
    product: String,
    viewed: bool,
    bought: bool,
}

/// `affinity`: how often two products go together.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
struct Affinity {
    key: String,
    product: String,
    other: String,
    together: i64,
    bought_together: i64,
}

/// Most products of one customer that a new interest is paired with (and that a merge takes
/// back): counts stay exact for customers with up to this many products.
const MAX_PAIRS: usize = 100;
/// Most distinct products of one purchase that feed recommendations.
const MAX_PER_PURCHASE: usize = 50;

/// A product id this module can key on: 1 to 100 characters, no control characters.
pub fn is_product_id(id: &str) -> bool {
    !id.trim().is_empty() && id.chars().count() <= 100 && !id.chars().any(char::is_control)
}

fn interests(customer: &str) -> Result<Vec<Interest>> {
    Ok(util::all::<Interest>("interest", Filter::eq("customer", customer))?.into_iter().map(|r| r.data).collect())
}

fn bump(product: &str, other: &str, together: i64, bought_together: i64) -> Result<()> {
    let key = format!("{product}\u{1f}{other}");
    match util::first::<Affinity>("affinity", Query::new().filter(Filter::eq("key", key.as_str())))? {
        Some(r) => {
            let patch = json!({
                "together": r.data.together + together,
                "bought_together": r.data.bought_together + bought_together,
            });
            store::update::<Value>("affinity", &r.id, &patch, Some(r.version))?;
        }
        None => {
            let a = Affinity { key, product: product.into(), other: other.into(), together, bought_together };
            store::create("affinity", &a)?;
        }
    }
    Ok(())
}

fn pair(a: &str, b: &str, together: i64, bought_together: i64) -> Result<()> {
    if together == 0 && bought_together == 0 {
        return Ok(());
    }
    bump(a, b, together, bought_together)?;
    bump(b, a, together, bought_together)
}

/// Records interest in `product`; `bought` when it was bought.
fn touch(customer: &str, product: &str, bought: bool) -> Result<()> {
    let mine = interests(customer)?;
    let current = mine.iter().find(|i| i.product == product).cloned();
    if current.as_ref().is_some_and(|c| c.bought || !bought) {
        return Ok(()); // nothing new: already bought, or viewed again
    }
    let is_new = current.is_none();
    for other in mine.iter().filter(|i| i.product != product).take(MAX_PAIRS) {
        // A new product pairs with everything the customer knew; a view turning into a
        // purchase adds only the bought-together count.
        let together = i64::from(is_new);
        let bought_together = i64::from(bought && other.bought);
        pair(product, &other.product, together, bought_together)?;
    }
    let key = format!("{customer}\u{1f}{product}");
    match util::first::<Interest>("interest", Query::new().filter(Filter::eq("key", key.as_str())))? {
        Some(r) => {
            store::update::<Value>("interest", &r.id, &json!({ "bought": true }), Some(r.version))?;
        }
        None => {
            let i = Interest { key, customer: customer.into(), product: product.into(), viewed: !bought, bought };
            store::create("interest", &i)?;
        }
    }
    Ok(())
}

/// A customer viewed a product.
pub fn viewed(customer: &str, product: &str) -> Result<()> {
    touch(customer, product, false)
}

/// A customer bought products.
pub fn bought(customer: &str, products: &[String]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for p in products.iter().filter(|p| seen.insert(p.as_str())).take(MAX_PER_PURCHASE) {
        touch(customer, p, true)?;
    }
    Ok(())
}

/// Moves one customer's interests to another (merging cards): the duplicate's pairs are
/// taken back first, so one person is never counted twice.
pub fn merge(into: &str, from: &str) -> Result<()> {
    let theirs = interests(from)?;
    for (n, a) in theirs.iter().enumerate().take(MAX_PAIRS) {
        for b in theirs.iter().take(MAX_PAIRS).skip(n + 1) {
            pair(&a.product, &b.product, -1, -i64::from(a.bought && b.bought))?;
        }
    }
    for i in theirs {
        if i.viewed || !i.bought {
            touch(into, &i.product, false)?;
        }
        if i.bought {
            touch(into, &i.product, true)?;
        }
    }
    for r in util::all::<Interest>("interest", Filter::eq("customer", from))? {
        store::delete("interest", &r.id, None)?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    customer: String,
    limit: Option<usize>,
}

/// A candidate product's score, and the pair that contributed most (the reason shown).
#[derive(Default)]
struct Score {
    total: i64,
    best: i64,
    source: String,
    together: i64,
    bought_together: i64,
}

/// `recommend`: products to offer, best first, each with a score and a reason.
pub fn recommend(input: Value) -> Result<Value> {
    let a: Ask = util::input(input)?;
    if let Err(Error::NotFound(_)) = store::get::<Value>("customer", &a.customer) {
        return Err(Error::invalid("customer", "no such customer"));
    }
    let limit = a.limit.unwrap_or(5).clamp(1, 50);
    let mine = interests(&a.customer)?;
    let bought: std::collections::BTreeSet<&str> =
        mine.iter().filter(|i| i.bought).map(|i| i.product.as_str()).collect();
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    for i in mine.iter().take(MAX_PAIRS) {
        let weight = if i.bought { 2 } else { 1 };
        let q = Query::new().filter(Filter::eq("product", i.product.as_str())).sort_desc("together").limit(50);
        for r in store::query::<Affinity>("affinity", &q)?.records {
            let a = r.data;
            if bought.contains(a.other.as_str()) {
                continue;
            }
            let s = weight * (a.together + 2 * a.bought_together);
            let entry = scores.entry(a.other.clone()).or_default();
            entry.total += s;
            if s > entry.best {
                *entry = Score {
                    total: entry.total,
                    best: s,
                    source: i.product.clone(),
                    together: a.together,
                    bought_together: a.bought_together,
                };
            }
        }
    }
    let mut ranked: Vec<(String, Score)> = scores.into_iter().collect();
    ranked.sort_by(|x, y| y.1.total.cmp(&x.1.total).then_with(|| x.0.cmp(&y.0)));
    let out: Vec<Value> = ranked
        .into_iter()
        .take(limit)
        .map(|(product, Score { total: score, source, together, bought_together, .. })| {
            let reason = if bought_together > 0 {
                format!("{bought_together} customer(s) who bought {source} also bought {product}")
            } else {
                format!("{together} customer(s) interested in {source} also looked at {product}")
            };
            json!({ "product": product, "score": score, "reason": reason, "because_of": source })
        })
        .collect();
    Ok(json!({ "customer": a.customer, "recommendations": out }))
}
