//! Aggregations: count, sum, min, max and avg, grouped by fields. Sums and averages of ints
//! and decimals are exact (decimal arithmetic, never floats).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::query::{self, Filter, Target};
use super::values;
use super::{Collection, RecordError, Visibility};
use crate::storage::DbConn;
use crate::validation::{FieldError, Invalid};
use erp_manifest::FieldType;

/// Most records one aggregation may look at.
pub const MAX_ROWS: usize = 1_000_000;
/// Most groups one aggregation may return.
pub const MAX_GROUPS: usize = 10_000;

/// The aggregation's wire types, shared with the SDK.
pub use erp_query::{Aggregate as AggregateRequest, Metric as MetricRequest, MetricOp};

struct Metric {
    op: MetricOp,
    target: Option<Target>,
    kind: FieldType,
    name: String,
}

#[derive(Default, Clone)]
struct Acc {
    count: u64,
    sum: Decimal,
    n: u64,
    min: Option<Value>,
    max: Option<Value>,
}

/// Runs an aggregation and answers `{"groups": [{"key": {...}, "values": {...}}]}`.
pub fn run(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    req: &AggregateRequest,
    vis: Visibility,
) -> Result<Value, RecordError> {
    let filter: Option<Filter> = req.filter.as_ref().map(|f| query::parse_filter(coll, f, vis)).transpose()?;
    let mut errors = Vec::new();
    if req.group_by.len() > erp_query::MAX_GROUP_BY {
        errors.push(FieldError::new("group_by", format!("at most {} fields", erp_query::MAX_GROUP_BY)));
    }
    let mut groups_by = Vec::new();
    for (i, g) in req.group_by.iter().enumerate() {
        match query::target(coll, g, vis, &format!("group_by[{i}]")) {
            Ok(t) => groups_by.push((g.clone(), t)),
            Err(RecordError::Invalid(mut inv)) => errors.append(&mut inv.0),
            Err(e) => return Err(e),
        }
    }
    if req.metrics.is_empty() || req.metrics.len() > erp_query::MAX_METRICS {
        errors.push(FieldError::new("metrics", format!("give 1 to {} metrics", erp_query::MAX_METRICS)));
    }
    let mut metrics = Vec::new();
    for (i, m) in req.metrics.iter().enumerate() {
        let path = format!("metrics[{i}]");
        let Some(op) = MetricOp::parse(&m.op) else {
            errors.push(FieldError::new(format!("{path}.op"), "must be count, sum, min, max or avg"));
            continue;
        };
        let target = match (&m.field, op) {
            (None, MetricOp::Count) => None,
            (None, _) => {
                errors.push(FieldError::new(format!("{path}.field"), "is required for this metric"));
                continue;
            }
            (Some(f), _) => match query::target(coll, f, vis, &format!("{path}.field")) {
                Ok(t) => Some(t),
                Err(RecordError::Invalid(mut inv)) => {
                    errors.append(&mut inv.0);
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let kind = target.as_ref().map(Target::kind).unwrap_or(FieldType::Int);
        if matches!(op, MetricOp::Sum | MetricOp::Avg) && !matches!(kind, FieldType::Int | FieldType::Decimal) {
            errors.push(FieldError::new(format!("{path}.field"), "sum and avg need an int or decimal field"));
            continue;
        }
        let name = m.result_name();
        metrics.push(Metric { op, target, kind, name });
    }
    if !errors.is_empty() {
        return Err(RecordError::Invalid(Invalid(errors)));
    }

    let mut groups: BTreeMap<String, (Map<String, Value>, Vec<Acc>)> = BTreeMap::new();
    query::scan(conn, company_id, coll, filter.as_ref(), MAX_ROWS, |r| {
        let mut key = Map::new();
        for (name, t) in &groups_by {
            key.insert(name.clone(), t.value_of(r).unwrap_or(Value::Null));
        }
        let id = Value::Object(key.clone()).to_string();
        if !groups.contains_key(&id) && groups.len() >= MAX_GROUPS {
            return Err(RecordError::Invalid(Invalid::one("group_by", format!("more than {MAX_GROUPS} groups"))));
        }
        let entry = groups.entry(id).or_insert_with(|| (key, vec![Acc::default(); metrics.len()]));
        for (m, acc) in metrics.iter().zip(entry.1.iter_mut()) {
            acc.count += 1;
            let Some(t) = &m.target else { continue };
            let Some(v) = t.value_of(r) else { continue };
            if let Some(d) = values::decimal(&v)
                && matches!(m.kind, FieldType::Int | FieldType::Decimal)
            {
                acc.sum = acc.sum.checked_add(d).ok_or_else(|| {
                    RecordError::Invalid(Invalid::one(
                        format!("metrics.{}", m.name),
                        "the sum is too large for an exact decimal",
                    ))
                })?;
            }
            acc.n += 1;
            if acc.min.as_ref().is_none_or(|cur| values::compare(m.kind, &v, cur) == Some(Ordering::Less)) {
                acc.min = Some(v.clone());
            }
            if acc.max.as_ref().is_none_or(|cur| values::compare(m.kind, &v, cur) == Some(Ordering::Greater)) {
                acc.max = Some(v);
            }
        }
        Ok(())
    })?;
    if groups.is_empty() && groups_by.is_empty() {
        groups.insert("{}".into(), (Map::new(), vec![Acc::default(); metrics.len()]));
    }
    let out: Vec<Value> = groups
        .into_values()
        .map(|(key, accs)| {
            let mut values = Map::new();
            for (m, acc) in metrics.iter().zip(accs) {
                let v = match m.op {
                    MetricOp::Count if m.target.is_some() => json!(acc.n),
                    MetricOp::Count => json!(acc.count),
                    MetricOp::Sum => number(m.kind, acc.sum),
                    MetricOp::Avg if acc.n == 0 => Value::Null,
                    MetricOp::Avg => {
                        Value::String((acc.sum / Decimal::from(acc.n)).round_dp(10).normalize().to_string())
                    }
                    MetricOp::Min => acc.min.unwrap_or(Value::Null),
                    MetricOp::Max => acc.max.unwrap_or(Value::Null),
                };
                values.insert(m.name.clone(), v);
            }
            json!({ "key": key, "values": values })
        })
        .collect();
    Ok(json!({ "groups": out }))
}

/// Int sums stay JSON integers when they fit; decimal sums are exact strings.
fn number(kind: FieldType, d: Decimal) -> Value {
    if kind == FieldType::Int
        && let Ok(i) = i64::try_from(d)
    {
        return json!(i);
    }
    Value::String(d.to_string())
}
