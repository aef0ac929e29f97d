//! Queries over a collection: filters (eq, ne, lt, lte, gt, gte, in, prefix, contains; and/or),
//! sort, limit and cursor.
//!
//! Conditions on indexed fields are pushed into SQL over `record_keys` (as a superset of the
//! answer); every condition is then checked exactly on the stored values, so decimals and
//! datetimes compare exactly whatever the index approximates.

use std::cmp::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::values::{self, Key};
use super::{Collection, RecordError, StoredRecord, Visibility};
use crate::clock;
use crate::paging::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::storage::DbConn;
use crate::storage::dialect::{Bind, Sql};
use crate::validation::{FieldError, Invalid};
use erp_manifest::{FieldSpec, FieldType};

/// Most rows examined for one page (or one aggregation batch) before answering with what was
/// found so far.
const SCAN_BUDGET: usize = 20_000;

/// The query language's wire types, shared with the SDK.
pub use erp_query::{Op, Query as QueryRequest, Sort as SortRequest};

/// A field of a record as queries see it: a declared field or a built-in column.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A declared field.
    Field(String, Box<FieldSpec>),
    /// The record id.
    Id,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

impl Target {
    /// The type compared and aggregated.
    pub(crate) fn kind(&self) -> FieldType {
        match self {
            Target::Field(_, s) => s.kind,
            Target::Id => FieldType::Text,
            Target::CreatedAt | Target::UpdatedAt => FieldType::Datetime,
        }
    }

    /// The record's value for this target.
    pub(crate) fn value_of(&self, r: &StoredRecord) -> Option<Value> {
        match self {
            Target::Field(name, _) => r.data.get(name).cloned(),
            Target::Id => Some(Value::String(r.id.clone())),
            Target::CreatedAt => Some(Value::String(clock::to_rfc3339(r.created_at))),
            Target::UpdatedAt => Some(Value::String(clock::to_rfc3339(r.updated_at))),
        }
    }

    fn indexed(&self) -> bool {
        match self {
            Target::Field(_, s) => s.is_indexed(),
            _ => true,
        }
    }
}

/// A validated filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// One comparison with normalised value(s).
    Cmp {
        /// What is compared.
        target: Target,
        /// How.
        op: Op,
        /// With what (a list for `in`).
        value: Value,
    },
    /// All hold.
    And(Vec<Filter>),
    /// Any holds.
    Or(Vec<Filter>),
}

/// Resolves a field name used in a query, refusing sensitive fields the caller cannot see.
pub fn target(coll: &Collection, name: &str, vis: Visibility, path: &str) -> Result<Target, RecordError> {
    match name {
        "id" => return Ok(Target::Id),
        "created_at" => return Ok(Target::CreatedAt),
        "updated_at" => return Ok(Target::UpdatedAt),
        _ => {}
    }
    let spec = coll.spec()?.fields.get(name).ok_or_else(|| {
        RecordError::Invalid(Invalid::one(path, format!("{name} is not a field of {}", coll.qualified())))
    })?;
    if spec.sensitive && !vis.sensitive {
        return Err(RecordError::Forbidden(format!(
            "{} (to use the sensitive field {name})",
            coll.sensitive_permission()
        )));
    }
    Ok(Target::Field(name.to_string(), Box::new(spec.clone())))
}

/// Parses and validates a filter tree.
pub fn parse_filter(coll: &Collection, raw: &Value, vis: Visibility) -> Result<Filter, RecordError> {
    let tree = erp_query::Filter::from_json(raw, "filter").map_err(|problems| {
        RecordError::Invalid(Invalid(problems.into_iter().map(|p| FieldError::new(p.path, p.message)).collect()))
    })?;
    let mut errors = Vec::new();
    let parsed = resolve(coll, tree, vis, "filter", &mut errors)?;
    if !errors.is_empty() {
        return Err(RecordError::Invalid(Invalid(errors)));
    }
    parsed.ok_or_else(|| RecordError::Invalid(Invalid::one("filter", "is not a filter")))
}

/// Checks a well-formed tree against the collection: fields the caller may see, operators
/// that apply to their types, values normalised like the fields' own.
fn resolve(
    coll: &Collection,
    tree: erp_query::Filter,
    vis: Visibility,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Result<Option<Filter>, RecordError> {
    let (field, op, value) = match tree {
        erp_query::Filter::And(items) | erp_query::Filter::Or(items) if items.is_empty() => return Ok(None),
        erp_query::Filter::And(items) => {
            return resolve_all(coll, items, vis, &format!("{path}.and"), errors).map(|v| Some(Filter::And(v)));
        }
        erp_query::Filter::Or(items) => {
            return resolve_all(coll, items, vis, &format!("{path}.or"), errors).map(|v| Some(Filter::Or(v)));
        }
        erp_query::Filter::Cmp { field, op, value } => (field, op, value),
    };
    let target = match target(coll, &field, vis, &format!("{path}.field")) {
        Ok(t) => t,
        Err(RecordError::Invalid(mut i)) => {
            errors.append(&mut i.0);
            return Ok(None);
        }
        Err(other) => return Err(other),
    };
    let kind = target.kind();
    let vpath = format!("{path}.value");
    let normalized = match op {
        Op::Prefix | Op::Contains => {
            if !matches!(kind, FieldType::Text | FieldType::Enum) {
                errors.push(FieldError::new(format!("{path}.op"), "prefix and contains apply to text fields"));
                return Ok(None);
            }
            match value.as_str() {
                Some(s) if !s.is_empty() => value.clone(),
                _ => {
                    errors.push(FieldError::new(vpath, "must be non-empty text"));
                    return Ok(None);
                }
            }
        }
        Op::Has => {
            let Some(item) = (match &target {
                Target::Field(_, spec) => spec.item_spec(),
                _ => None,
            }) else {
                errors.push(FieldError::new(format!("{path}.op"), "has applies to lists of items"));
                return Ok(None);
            };
            match values::normalize(&item, &value) {
                Ok(v) => v,
                Err(msg) => {
                    errors.push(FieldError::new(vpath, msg));
                    return Ok(None);
                }
            }
        }
        Op::In => {
            let Some(items) = value.as_array().filter(|a| !a.is_empty() && a.len() <= erp_query::MAX_IN_VALUES) else {
                errors.push(FieldError::new(
                    vpath,
                    format!("must be a list of 1 to {} values", erp_query::MAX_IN_VALUES),
                ));
                return Ok(None);
            };
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match normalize_for(&target, item) {
                    Ok(v) => out.push(v),
                    Err(msg) => errors.push(FieldError::new(format!("{vpath}[{i}]"), msg)),
                }
            }
            Value::Array(out)
        }
        _ => {
            if kind == FieldType::Json {
                errors.push(FieldError::new(format!("{path}.field"), "json fields cannot be filtered"));
                return Ok(None);
            }
            if matches!(op, Op::Lt | Op::Lte | Op::Gt | Op::Gte)
                && matches!(kind, FieldType::Bool | FieldType::Ref | FieldType::User)
            {
                errors.push(FieldError::new(format!("{path}.op"), "cannot order this field"));
                return Ok(None);
            }
            match normalize_for(&target, &value) {
                Ok(v) => v,
                Err(msg) => {
                    errors.push(FieldError::new(vpath, msg));
                    return Ok(None);
                }
            }
        }
    };
    Ok(Some(Filter::Cmp { target, op, value: normalized }))
}

fn resolve_all(
    coll: &Collection,
    items: Vec<erp_query::Filter>,
    vis: Visibility,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Result<Vec<Filter>, RecordError> {
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        if let Some(f) = resolve(coll, item, vis, &format!("{path}[{i}]"), errors)? {
            out.push(f);
        }
    }
    Ok(out)
}

fn normalize_for(target: &Target, v: &Value) -> Result<Value, String> {
    match target {
        Target::Field(_, spec) => values::normalize(spec, v),
        Target::Id => {
            v.as_str().and_then(crate::ids::parse).map(Value::String).ok_or_else(|| "must be a record id".into())
        }
        Target::CreatedAt | Target::UpdatedAt => {
            let spec = FieldSpec::of(FieldType::Datetime);
            values::normalize(&spec, v)
        }
    }
}

/// True when the record satisfies the filter (exact, on stored values).
pub fn matches(filter: &Filter, r: &StoredRecord) -> bool {
    match filter {
        Filter::And(v) => v.iter().all(|f| matches(f, r)),
        Filter::Or(v) => v.iter().any(|f| matches(f, r)),
        Filter::Cmp { target, op, value } => {
            let actual = target.value_of(r);
            let kind = target.kind();
            let Some(actual) = actual else { return *op == Op::Ne };
            if *op == Op::Has {
                let Target::Field(_, spec) = target else { return false };
                let item = spec.items.unwrap_or(kind);
                return actual.as_array().is_some_and(|items| {
                    items.iter().any(|a| values::compare(item, a, value) == Some(Ordering::Equal))
                });
            }
            let cmp = |b: &Value| values::compare(kind, &actual, b);
            match op {
                Op::Eq => cmp(value) == Some(Ordering::Equal),
                Op::Ne => cmp(value) != Some(Ordering::Equal),
                Op::Lt => cmp(value) == Some(Ordering::Less),
                Op::Lte => matches!(cmp(value), Some(Ordering::Less | Ordering::Equal)),
                Op::Gt => cmp(value) == Some(Ordering::Greater),
                Op::Gte => matches!(cmp(value), Some(Ordering::Greater | Ordering::Equal)),
                Op::In => value.as_array().is_some_and(|items| items.iter().any(|b| cmp(b) == Some(Ordering::Equal))),
                Op::Prefix => match (actual.as_str(), value.as_str()) {
                    (Some(a), Some(p)) => a.starts_with(p),
                    _ => false,
                },
                Op::Contains => match (actual.as_str(), value.as_str()) {
                    (Some(a), Some(n)) => a.to_lowercase().contains(&n.to_lowercase()),
                    _ => false,
                },
                Op::Has => false,
            }
        }
    }
}

/// Where a cursor points: after the row with this sort key and id.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
struct Position {
    /// The sort key was absent (rows without a value sort last).
    null: bool,
    text: Option<String>,
    num: Option<f64>,
    id: String,
}

/// How rows are ordered.
#[derive(Debug, Clone)]
struct Order {
    target: Target,
    desc: bool,
}

impl Order {
    fn numeric(&self) -> bool {
        matches!(self.target.kind(), FieldType::Int | FieldType::Decimal)
    }

    fn position(&self, r: &StoredRecord) -> Position {
        let key = match &self.target {
            Target::CreatedAt => Some(Key::Num(r.created_at as f64)),
            Target::UpdatedAt => Some(Key::Num(r.updated_at as f64)),
            Target::Id => Some(Key::Text(r.id.clone())),
            Target::Field(name, spec) => r.data.get(name).and_then(|v| values::index_key(spec.kind, v)),
        };
        match key {
            None => Position { null: true, text: None, num: None, id: r.id.clone() },
            Some(Key::Text(t)) => Position { null: false, text: Some(t), num: None, id: r.id.clone() },
            Some(Key::Num(n)) => Position { null: false, text: None, num: Some(n), id: r.id.clone() },
        }
    }
}

fn encode_position(p: &Position) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(p).unwrap_or_default())
}

fn decode_position(c: &str) -> Option<Position> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()
}

/// A validated query, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    filter: Option<Filter>,
    order: Order,
    limit: usize,
    after: Option<Position>,
}

/// Validates a query request.
pub fn plan(coll: &Collection, req: &QueryRequest, vis: Visibility) -> Result<Plan, RecordError> {
    let filter = req.filter.as_ref().map(|f| parse_filter(coll, f, vis)).transpose()?;
    let order = match &req.sort {
        None => Order { target: Target::Id, desc: false },
        Some(s) => {
            let target = target(coll, &s.field, vis, "sort.field")?;
            if !target.indexed() || matches!(target.kind(), FieldType::Json) {
                return Err(RecordError::Invalid(Invalid::one(
                    "sort.field",
                    format!("{} is not indexed; sort by an indexed field, id, created_at or updated_at", s.field),
                )));
            }
            Order { target, desc: s.desc }
        }
    };
    let limit = req.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(RecordError::Invalid(Invalid::one("limit", format!("must be between 1 and {MAX_LIMIT}"))));
    }
    let bad_cursor = || RecordError::Invalid(Invalid::one("cursor", "is not a cursor of this query"));
    let after = match req.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => {
            let p = decode_position(c).ok_or_else(bad_cursor)?;
            // A cursor must carry a key of the sort's kind, so nothing of the wrong type
            // reaches the database.
            let numeric = matches!(order.target, Target::CreatedAt | Target::UpdatedAt) || order.numeric();
            let fits = crate::ids::parse(&p.id).is_some()
                && match (p.null, numeric) {
                    (true, _) => p.text.is_none() && p.num.is_none() && matches!(order.target, Target::Field(..)),
                    (false, true) => p.num.is_some_and(f64::is_finite) && p.text.is_none(),
                    (false, false) => p.text.is_some() && p.num.is_none(),
                };
            if !fits {
                return Err(bad_cursor());
            }
            Some(p)
        }
    };
    Ok(Plan { filter, order, limit: limit as usize, after })
}

/// One page of records.
#[derive(Debug, Clone)]
pub struct RecordPage {
    /// The records.
    pub records: Vec<StoredRecord>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Runs a plan in one company.
pub fn run(conn: &mut DbConn, company_id: &str, coll: &Collection, plan: &Plan) -> Result<RecordPage, RecordError> {
    let mut out = Vec::new();
    let mut after = plan.after.clone();
    let mut scanned = 0;
    let batch = (plan.limit * 2).clamp(50, 1000);
    loop {
        let rows = fetch(conn, company_id, coll, plan, after.as_ref(), batch)?;
        let exhausted = rows.len() < batch;
        for r in rows {
            scanned += 1;
            after = Some(plan.order.position(&r));
            if plan.filter.as_ref().is_none_or(|f| matches(f, &r)) {
                out.push(r);
                if out.len() == plan.limit {
                    return Ok(RecordPage { next_cursor: after.as_ref().map(encode_position), records: out });
                }
            }
        }
        if exhausted {
            return Ok(RecordPage { records: out, next_cursor: None });
        }
        if scanned >= SCAN_BUDGET {
            // Answer with what was found; the cursor continues the scan.
            return Ok(RecordPage { next_cursor: after.as_ref().map(encode_position), records: out });
        }
    }
}

/// Visits every record matching the filter, in id order, in batches.
pub fn scan(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    filter: Option<&Filter>,
    max_rows: usize,
    mut visit: impl FnMut(&StoredRecord) -> Result<(), RecordError>,
) -> Result<(), RecordError> {
    let plan =
        Plan { filter: filter.cloned(), order: Order { target: Target::Id, desc: false }, limit: 1, after: None };
    let mut after: Option<Position> = None;
    let mut scanned = 0;
    loop {
        let rows = fetch(conn, company_id, coll, &plan, after.as_ref(), 1000)?;
        let exhausted = rows.len() < 1000;
        for r in &rows {
            scanned += 1;
            if scanned > max_rows {
                return Err(RecordError::Invalid(Invalid::one(
                    "filter",
                    format!("matches more than {max_rows} records; narrow the filter"),
                )));
            }
            if filter.is_none_or(|f| matches(f, r)) {
                visit(r)?;
            }
        }
        match rows.last() {
            Some(last) if !exhausted => after = Some(plan.order.position(last)),
            _ => return Ok(()),
        }
    }
}

/// Conditions that can be answered from `record_keys`; the rest is checked in Rust.
fn pushdown(sql: &mut Sql, company_id: &str, coll: &Collection, filter: &Filter) {
    let terms: Vec<&Filter> = match filter {
        Filter::And(v) => v.iter().collect(),
        other => vec![other],
    };
    let mut used = vec![false; terms.len()];
    for i in 0..terms.len() {
        if used[i] {
            continue;
        }
        // A lower and an upper bound on one field become one subquery, so the database reads
        // only the keys between them instead of everything on either side.
        let pair = (i + 1..terms.len())
            .filter(|&j| !used[j])
            .find_map(|j| between(company_id, coll, terms[i], terms[j]).map(|sql| (j, sql)));
        let cond = match pair {
            Some((j, sql)) => {
                used[j] = true;
                Some(sql)
            }
            None => condition(company_id, coll, terms[i]),
        };
        if let Some(cond) = cond {
            sql.push(" AND ");
            sql.append(cond);
        }
    }
}

/// The start of a subquery for the records whose key of field `name` matches what follows.
fn keys_of(sql: &mut Sql, company_id: &str, coll: &Collection, name: &str) {
    sql.push("r.id IN (SELECT k.record_id FROM record_keys k WHERE k.company_id = ")
        .bind(Bind::Text(company_id.to_string()))
        .push(" AND k.plugin = ")
        .bind(Bind::Text(coll.plugin.clone()))
        .push(" AND k.collection = ")
        .bind(Bind::Text(coll.name.clone()))
        .push(" AND k.field = ")
        .bind(Bind::Text(name.to_string()))
        .push(" AND ");
}

/// The `record_keys` column a field's keys are in.
fn key_column(spec: &FieldSpec) -> &'static str {
    if matches!(spec.kind, FieldType::Int | FieldType::Decimal) { "k.key_num" } else { "k.key_text" }
}

/// A value as the key it is stored under.
fn key_bind(spec: &FieldSpec, v: &Value) -> Option<Bind> {
    match values::index_key(spec.kind, v)? {
        Key::Text(t) => Some(Bind::Text(t)),
        Key::Num(n) => Some(Bind::Num(n)),
    }
}

/// One subquery for two range terms on the same indexed field, one bounding it from below
/// and one from above (in either order); `None` when the terms are not such a pair.
fn between(company_id: &str, coll: &Collection, a: &Filter, b: &Filter) -> Option<Sql> {
    let (
        Filter::Cmp { target: Target::Field(name, spec), op: op_a, value: va },
        Filter::Cmp { target: Target::Field(other, _), op: op_b, value: vb },
    ) = (a, b)
    else {
        return None;
    };
    let lower = |op: &Op| matches!(op, Op::Gt | Op::Gte);
    let upper = |op: &Op| matches!(op, Op::Lt | Op::Lte);
    if name != other || !spec.is_indexed() {
        return None;
    }
    let (lo, hi) = match (lower(op_a) && upper(op_b), upper(op_a) && lower(op_b)) {
        (true, _) => (va, vb),
        (_, true) => (vb, va),
        _ => return None,
    };
    let (lo, hi) = (key_bind(spec, lo)?, key_bind(spec, hi)?);
    let col = key_column(spec);
    let mut sql = Sql::default();
    keys_of(&mut sql, company_id, coll, name);
    sql.push(col).push(" >= ").bind(lo).push(" AND ").push(col).push(" <= ").bind(hi).push(")");
    Some(sql)
}

/// SQL for one term, or `None` when it cannot be pushed down exactly-or-wider.
fn condition(company_id: &str, coll: &Collection, f: &Filter) -> Option<Sql> {
    match f {
        Filter::And(_) => None,
        Filter::Or(items) => {
            let parts: Vec<Sql> = items.iter().map(|i| condition(company_id, coll, i)).collect::<Option<_>>()?;
            let mut sql = Sql::default();
            sql.push("(");
            for (i, p) in parts.into_iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                sql.append(p);
            }
            sql.push(")");
            Some(sql)
        }
        Filter::Cmp { target, op, value } => {
            if matches!(op, Op::Ne | Op::Contains) || !target.indexed() {
                return None;
            }
            let mut sql = Sql::default();
            match target {
                Target::Id => {
                    let ids: Vec<&str> = match op {
                        Op::Eq => vec![value.as_str()?],
                        Op::In => value.as_array()?.iter().filter_map(Value::as_str).collect(),
                        _ => return None,
                    };
                    sql.push("r.id IN (");
                    for (i, id) in ids.iter().enumerate() {
                        if i > 0 {
                            sql.push(", ");
                        }
                        sql.bind(Bind::Text(id.to_string()));
                    }
                    sql.push(")");
                    Some(sql)
                }
                Target::CreatedAt | Target::UpdatedAt => {
                    let col = if *target == Target::CreatedAt { "r.created_at" } else { "r.updated_at" };
                    let at = clock::parse_rfc3339(value.as_str()?)?;
                    let cmp = match op {
                        Op::Eq => "=",
                        Op::Lt | Op::Lte => "<=",
                        Op::Gt | Op::Gte => ">=",
                        _ => return None,
                    };
                    sql.push(col).push(" ").push(cmp).push(" ").bind(Bind::Int(at));
                    Some(sql)
                }
                Target::Field(name, spec) if *op == Op::Has => {
                    // Each item of an indexed list has its own key.
                    let item = spec.item_spec().filter(|_| spec.indexed)?;
                    let bind = key_bind(&item, value)?;
                    keys_of(&mut sql, company_id, coll, name);
                    sql.push(key_column(&item)).push(" = ").bind(bind).push(")");
                    Some(sql)
                }
                Target::Field(name, spec) => {
                    let col = key_column(spec);
                    let key = |v: &Value| key_bind(spec, v);
                    keys_of(&mut sql, company_id, coll, name);
                    match op {
                        Op::Eq => {
                            sql.push(col).push(" = ").bind(key(value)?);
                        }
                        Op::In => {
                            sql.push(col).push(" IN (");
                            for (i, v) in value.as_array()?.iter().enumerate() {
                                if i > 0 {
                                    sql.push(", ");
                                }
                                sql.bind(key(v)?);
                            }
                            sql.push(")");
                        }
                        Op::Lt | Op::Lte => {
                            sql.push(col).push(" <= ").bind(key(value)?);
                        }
                        Op::Gt | Op::Gte => {
                            sql.push(col).push(" >= ").bind(key(value)?);
                        }
                        Op::Prefix => {
                            let p = value.as_str()?.to_string();
                            let upper = format!("{p}\u{10FFFF}");
                            sql.push("k.key_text >= ")
                                .bind(Bind::Text(p))
                                .push(" AND k.key_text < ")
                                .bind(Bind::Text(upper));
                        }
                        Op::Ne | Op::Contains | Op::Has => return None,
                    }
                    sql.push(")");
                    Some(sql)
                }
            }
        }
    }
}

fn fetch(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    plan: &Plan,
    after: Option<&Position>,
    limit: usize,
) -> Result<Vec<StoredRecord>, RecordError> {
    if let Target::Field(name, _) = &plan.order.target {
        return fetch_by_key(conn, company_id, coll, plan, name, after, limit);
    }
    let mut sql = Sql::default();
    sql.push("SELECT r.id, r.version, r.data, r.created_at, r.updated_at, r.created_by, r.updated_by FROM records r");
    let order = &plan.order;
    // Timestamps are never null, and their cursors always carry a number (`plan` checks).
    let key_col = match &order.target {
        Target::CreatedAt => Some("r.created_at"),
        Target::UpdatedAt => Some("r.updated_at"),
        // By id; sorting by a field is `fetch_by_key`'s.
        Target::Id | Target::Field(..) => None,
    };
    sql.push(" WHERE r.company_id = ")
        .bind(Bind::Text(company_id.to_string()))
        .push(" AND r.plugin = ")
        .bind(Bind::Text(coll.plugin.clone()))
        .push(" AND r.collection = ")
        .bind(Bind::Text(coll.name.clone()));
    if let Some(f) = &plan.filter {
        pushdown(&mut sql, company_id, coll, f);
    }
    let gt = if order.desc { "<" } else { ">" };
    if let Some(p) = after {
        match (key_col, p.num) {
            (Some(col), Some(n)) => {
                sql.push(" AND (").push(col).push(" ").push(gt).push(" ").bind(Bind::Int(n as i64));
                sql.push(" OR (").push(col).push(" = ").bind(Bind::Int(n as i64));
                sql.push(" AND r.id ").push(gt).push(" ").bind(Bind::Text(p.id.clone())).push("))");
            }
            _ => {
                sql.push(" AND r.id ").push(gt).push(" ").bind(Bind::Text(p.id.clone()));
            }
        }
    }
    let dir = if order.desc { "DESC" } else { "ASC" };
    sql.push(" ORDER BY ");
    if let Some(col) = key_col {
        sql.push(col).push(" ").push(dir).push(", ");
    }
    sql.push("r.id ").push(dir);
    sql.push(&format!(" LIMIT {limit}"));
    let rows = load(conn, &sql)?;
    super::store::rows_to_records(rows)
}

/// Rows sorted by an indexed field: first the rows that have a key, read from the key index in
/// its own order (so the database stops after `limit` instead of sorting the collection), then
/// the rows without one, by id, as the sort puts them last in either direction.
fn fetch_by_key(
    conn: &mut DbConn,
    company_id: &str,
    coll: &Collection,
    plan: &Plan,
    name: &str,
    after: Option<&Position>,
    limit: usize,
) -> Result<Vec<StoredRecord>, RecordError> {
    let order = &plan.order;
    let col = if order.numeric() { "s.key_num" } else { "s.key_text" };
    let (gt, dir) = if order.desc { ("<", "DESC") } else { (">", "ASC") };
    let scoped = |sql: &mut Sql| {
        sql.push(" AND r.company_id = ")
            .bind(Bind::Text(company_id.to_string()))
            .push(" AND r.plugin = ")
            .bind(Bind::Text(coll.plugin.clone()))
            .push(" AND r.collection = ")
            .bind(Bind::Text(coll.name.clone()));
    };
    let mut out = Vec::new();
    if after.is_none_or(|p| !p.null) {
        let mut sql = Sql::default();
        sql.push("SELECT r.id, r.version, r.data, r.created_at, r.updated_at, r.created_by, r.updated_by")
            .push(" FROM record_keys s JOIN records r ON r.id = s.record_id WHERE s.company_id = ")
            .bind(Bind::Text(company_id.to_string()))
            .push(" AND s.plugin = ")
            .bind(Bind::Text(coll.plugin.clone()))
            .push(" AND s.collection = ")
            .bind(Bind::Text(coll.name.clone()))
            .push(" AND s.field = ")
            .bind(Bind::Text(name.to_string()))
            .push(" AND ")
            .push(col)
            .push(" IS NOT NULL");
        scoped(&mut sql);
        if let Some(f) = &plan.filter {
            pushdown(&mut sql, company_id, coll, f);
        }
        if let Some(p) = after {
            let key = |sql: &mut Sql| {
                match p.num {
                    Some(n) => sql.bind(Bind::Num(n)),
                    None => sql.bind(Bind::NullableText(p.text.clone())),
                };
            };
            sql.push(" AND (").push(col).push(" ").push(gt).push(" ");
            key(&mut sql);
            sql.push(" OR (").push(col).push(" = ");
            key(&mut sql);
            sql.push(" AND s.record_id ").push(gt).push(" ").bind(Bind::Text(p.id.clone())).push("))");
        }
        sql.push(" ORDER BY ").push(col).push(" ").push(dir).push(", s.record_id ").push(dir);
        sql.push(&format!(" LIMIT {limit}"));
        out = super::store::rows_to_records(load(conn, &sql)?)?;
        if out.len() == limit {
            return Ok(out);
        }
    }
    let mut sql = Sql::default();
    sql.push("SELECT r.id, r.version, r.data, r.created_at, r.updated_at, r.created_by, r.updated_by FROM records r WHERE 1 = 1");
    scoped(&mut sql);
    sql.push(" AND NOT EXISTS (SELECT 1 FROM record_keys s WHERE s.record_id = r.id AND s.field = ")
        .bind(Bind::Text(name.to_string()))
        .push(" AND ")
        .push(col)
        .push(" IS NOT NULL)");
    if let Some(f) = &plan.filter {
        pushdown(&mut sql, company_id, coll, f);
    }
    if let Some(p) = after.filter(|p| p.null) {
        sql.push(" AND r.id ").push(gt).push(" ").bind(Bind::Text(p.id.clone()));
    }
    sql.push(" ORDER BY r.id ").push(dir).push(&format!(" LIMIT {}", limit - out.len()));
    out.extend(super::store::rows_to_records(load(conn, &sql)?)?);
    Ok(out)
}

#[derive(QueryableByName)]
struct RawRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    data: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    updated_at: i64,
    #[diesel(sql_type = Nullable<Text>)]
    created_by: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    updated_by: Option<String>,
}

use super::store::RowTuple as Tuple;

/// Runs the generated query on either backend.
fn load(conn: &mut DbConn, sql: &Sql) -> Result<Vec<Tuple>, RecordError> {
    let rows: Vec<RawRow> = sql.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.version, r.data, r.created_at, r.updated_at, r.created_by, r.updated_by))
        .collect())
}

/// Fields of `data` that are sensitive.
pub fn sensitive_fields(coll: &Collection, data: &Map<String, Value>) -> Vec<String> {
    match coll.spec() {
        Ok(spec) => data.keys().filter(|k| spec.fields.get(*k).is_some_and(|f| f.sensitive)).cloned().collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_positions_round_trip() {
        let p = Position { null: false, text: Some("abc".into()), num: None, id: "x".into() };
        assert_eq!(decode_position(&encode_position(&p)), Some(p));
        assert_eq!(decode_position("garbage!"), None);
    }
}
