//! The record query language of the plugin contract: filters, sort keys, pages and
//! aggregations, as the JSON that crosses the WIT boundary (and the HTTP API) carries them.
//!
//! One definition, used by both sides: the SDK builds these values, the kernel reads them.
//! Filter trees travel as JSON inside the request ([`Query::filter`]) so that the kernel can
//! report every problem in a tree with its path; [`Filter::to_json`] writes a tree and
//! [`Filter::from_json`] reads one, checking its shape (the kernel then checks it against the
//! collection's fields). The payload of the kernel's record events (`<plugin>.<collection>.
//! created|updated|deleted`) is [`RecordChange`]; the demo-data protocol is [`demo`].
//! `wit/README.md` describes the same grammar in prose.

pub mod demo;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

/// Deepest nesting of `and`/`or` in a filter tree.
pub const MAX_FILTER_DEPTH: usize = 16;
/// Most branches under one `and` or `or`.
pub const MAX_BRANCHES: usize = 100;
/// Most values in an `in` list.
pub const MAX_IN_VALUES: usize = 500;
/// Most comparisons in a whole filter tree.
pub const MAX_FILTER_TERMS: usize = 200;
/// Most values in a whole filter tree (each comparison counts one, an `in` list its length):
/// every value becomes a bound parameter, and databases cap those per statement.
pub const MAX_FILTER_VALUES: usize = 2_000;
/// Most `group_by` fields of an aggregation.
pub const MAX_GROUP_BY: usize = 5;
/// Most metrics of an aggregation.
pub const MAX_METRICS: usize = 20;

/// One problem in a request, at a path such as `filter.and[1].op`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, in dotted form from the request's root.
    pub path: String,
    /// What is wrong, for a human.
    pub message: String,
}

impl Problem {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { path: path.into(), message: message.into() }
    }
}

/// Comparison operators of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal (also true when the field is absent).
    Ne,
    /// Less than.
    Lt,
    /// Less or equal.
    Lte,
    /// Greater than.
    Gt,
    /// Greater or equal.
    Gte,
    /// One of a list.
    In,
    /// Text starts with.
    Prefix,
    /// Text contains, ignoring case.
    Contains,
    /// A list of items holds the value (a member among a group's members).
    Has,
}

impl Op {
    /// Every operator, in the order messages list them.
    pub const ALL: [Op; 10] =
        [Op::Eq, Op::Ne, Op::Lt, Op::Lte, Op::Gt, Op::Gte, Op::In, Op::Prefix, Op::Contains, Op::Has];

    /// The operator's name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::In => "in",
            Op::Prefix => "prefix",
            Op::Contains => "contains",
            Op::Has => "has",
        }
    }

    /// Reads an operator's name.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }
}

/// A filter tree. Build it with [`Filter::eq`] and friends.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// One comparison.
    Cmp {
        /// Field name (or `id`, `created_at`, `updated_at`).
        field: String,
        /// The operator.
        op: Op,
        /// The value compared with (`null` when absent).
        value: Value,
    },
    /// All must hold.
    And(Vec<Filter>),
    /// At least one must hold.
    Or(Vec<Filter>),
}

impl Filter {
    /// `field <op> value`.
    pub fn cmp(field: &str, op: Op, value: impl Into<Value>) -> Filter {
        Filter::Cmp { field: field.to_string(), op, value: value.into() }
    }
    /// `field == value`.
    pub fn eq(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, Op::Eq, value)
    }
    /// `field != value`.
    pub fn ne(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, Op::Ne, value)
    }
    /// `field < value`.
    pub fn lt(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, Op::Lt, value)
    }
    /// `field <= value`.
    pub fn lte(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, Op::Lte, value)
    }
    /// `field > value`.
    pub fn gt(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, Op::Gt, value)
    }
    /// `field >= value`.
    pub fn gte(field: &str, value: impl Into<Value>) -> Filter {
        Filter::cmp(field, Op::Gte, value)
    }
    /// `field` is one of `values`.
    pub fn is_in(field: &str, values: Vec<Value>) -> Filter {
        Filter::cmp(field, Op::In, Value::Array(values))
    }
    /// Text `field` starts with `prefix`.
    pub fn prefix(field: &str, prefix: &str) -> Filter {
        Filter::cmp(field, Op::Prefix, prefix)
    }
    /// Text `field` contains `needle`, ignoring case.
    pub fn contains(field: &str, needle: &str) -> Filter {
        Filter::cmp(field, Op::Contains, needle)
    }
    /// List `field` holds `item`.
    pub fn has(field: &str, item: impl Into<Value>) -> Filter {
        Filter::cmp(field, Op::Has, item)
    }
    /// All of `filters`.
    pub fn and(filters: Vec<Filter>) -> Filter {
        Filter::And(filters)
    }
    /// Any of `filters`.
    pub fn or(filters: Vec<Filter>) -> Filter {
        Filter::Or(filters)
    }

    /// Comparisons and values in the tree (an `in` list counts its length).
    pub fn size(&self) -> (usize, usize) {
        match self {
            Filter::Cmp { value, op, .. } => {
                let values = match (op, value) {
                    (Op::In, Value::Array(items)) => items.len(),
                    _ => 1,
                };
                (1, values)
            }
            Filter::And(v) | Filter::Or(v) => {
                v.iter().map(Filter::size).fold((0, 0), |(t, n), (t2, n2)| (t + t2, n + n2))
            }
        }
    }

    /// The JSON form: `{"field", "op", "value"}`, `{"and": [...]}` or `{"or": [...]}`.
    pub fn to_json(&self) -> Value {
        match self {
            Filter::Cmp { field, op, value } => json!({ "field": field, "op": op.as_str(), "value": value }),
            Filter::And(v) => json!({ "and": v.iter().map(Filter::to_json).collect::<Vec<_>>() }),
            Filter::Or(v) => json!({ "or": v.iter().map(Filter::to_json).collect::<Vec<_>>() }),
        }
    }

    /// Reads a filter tree, reporting every problem of its shape with its path (`path` names
    /// the tree's root, such as `filter`). What the values mean for the collection's fields is
    /// for the reader to check.
    pub fn from_json(raw: &Value, path: &str) -> Result<Filter, Vec<Problem>> {
        let mut problems = Vec::new();
        match read_node(raw, path, 0, &mut problems) {
            Some(f) if problems.is_empty() => {
                let (terms, values) = f.size();
                if terms > MAX_FILTER_TERMS {
                    problems.push(Problem::new(
                        path,
                        format!("has {terms} comparisons; at most {MAX_FILTER_TERMS} are allowed"),
                    ));
                }
                if values > MAX_FILTER_VALUES {
                    problems.push(Problem::new(
                        path,
                        format!("has {values} values; at most {MAX_FILTER_VALUES} are allowed in one filter"),
                    ));
                }
                if problems.is_empty() { Ok(f) } else { Err(problems) }
            }
            _ => {
                if problems.is_empty() {
                    problems.push(Problem::new(path, "is not a filter"));
                }
                Err(problems)
            }
        }
    }
}

fn read_node(raw: &Value, path: &str, depth: usize, problems: &mut Vec<Problem>) -> Option<Filter> {
    if depth > MAX_FILTER_DEPTH {
        problems.push(Problem::new(path, "nested too deeply"));
        return None;
    }
    let Some(obj) = raw.as_object() else {
        problems.push(Problem::new(path, "must be an object"));
        return None;
    };
    for (key, all) in [("and", true), ("or", false)] {
        if let Some(list) = obj.get(key) {
            if obj.len() != 1 {
                problems.push(Problem::new(path, format!("`{key}` must be alone in its object")));
                return None;
            }
            let Some(items) = list.as_array().filter(|a| !a.is_empty() && a.len() <= MAX_BRANCHES) else {
                problems.push(Problem::new(
                    format!("{path}.{key}"),
                    format!("must be a list of 1 to {MAX_BRANCHES} filters"),
                ));
                return None;
            };
            let branches: Vec<Filter> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| read_node(item, &format!("{path}.{key}[{i}]"), depth + 1, problems))
                .collect();
            return Some(if all { Filter::And(branches) } else { Filter::Or(branches) });
        }
    }
    let unknown: Vec<&String> = obj.keys().filter(|k| !["field", "op", "value"].contains(&k.as_str())).collect();
    if !unknown.is_empty() {
        problems.push(Problem::new(path, format!("unknown keys: {unknown:?}; use field/op/value, and or or")));
        return None;
    }
    let (Some(field), Some(op)) = (obj.get("field").and_then(Value::as_str), obj.get("op").and_then(Value::as_str))
    else {
        problems.push(Problem::new(path, "needs `field` and `op`"));
        return None;
    };
    let Some(op) = Op::parse(op) else {
        let names: Vec<&str> = Op::ALL.iter().map(|o| o.as_str()).collect();
        problems.push(Problem::new(format!("{path}.op"), format!("must be one of {}", names.join(", "))));
        return None;
    };
    Some(Filter::Cmp { field: field.to_string(), op, value: obj.get("value").cloned().unwrap_or(Value::Null) })
}

/// A sort key: `{"field": ..., "desc": false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sort {
    /// An indexed field, or `id`, `created_at`, `updated_at`.
    pub field: String,
    /// Descending.
    #[serde(default)]
    pub desc: bool,
}

/// Reads `sort` as one object or as a list of at most one (the form the WIT 0.1.x documents
/// as `"sort": [...]`), keeping serde's own message for what is wrong inside.
fn one_sort<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Sort>, D::Error> {
    use serde::de::Error;
    let one = |v: Value| Sort::deserialize(v).map_err(D::Error::custom);
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) if list.len() <= 1 => list.into_iter().next().map(one).transpose(),
        Some(Value::Array(_)) => Err(D::Error::custom("sort takes one key: {\"field\": ..., \"desc\": true|false}")),
        Some(v) => one(v).map(Some),
    }
}

/// A query: filter, sort key, page size and cursor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The filter tree as JSON (see [`Filter::from_json`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    /// The sort key (by id, oldest first, when absent).
    #[serde(default, deserialize_with = "one_sort", skip_serializing_if = "Option::is_none")]
    pub sort: Option<Sort>,
    /// Page size, 1 to 500 (50 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next-cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Query {
    /// All records, oldest first.
    pub fn new() -> Query {
        Query::default()
    }
    /// Only records matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(filter.to_json());
        self
    }
    /// Sort ascending by an indexed field (or `id`, `created_at`, `updated_at`).
    pub fn sort_asc(mut self, field: &str) -> Query {
        self.sort = Some(Sort { field: field.to_string(), desc: false });
        self
    }
    /// Sort descending by an indexed field (or `id`, `created_at`, `updated_at`).
    pub fn sort_desc(mut self, field: &str) -> Query {
        self.sort = Some(Sort { field: field.to_string(), desc: true });
        self
    }
    /// At most `limit` records per page (1..=500).
    pub fn limit(mut self, limit: u32) -> Query {
        self.limit = Some(limit);
        self
    }
    /// Continue after a previous page.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Query {
        self.cursor = Some(cursor.into());
        self
    }
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricOp {
    /// Number of records (takes no field).
    Count,
    /// Sum of an int or decimal field.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Average of an int or decimal field.
    Avg,
}

impl MetricOp {
    /// Every function.
    pub const ALL: [MetricOp; 5] = [MetricOp::Count, MetricOp::Sum, MetricOp::Min, MetricOp::Max, MetricOp::Avg];

    /// The function's name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricOp::Count => "count",
            MetricOp::Sum => "sum",
            MetricOp::Min => "min",
            MetricOp::Max => "max",
            MetricOp::Avg => "avg",
        }
    }

    /// Reads a function's name.
    pub fn parse(name: &str) -> Option<MetricOp> {
        MetricOp::ALL.into_iter().find(|op| op.as_str() == name)
    }
}

/// One metric: `{"op": "sum", "field": "amount", "as": "total"}`. The operator stays text so
/// that a wrong one is reported at its path ([`MetricOp::parse`] reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// count, sum, min, max or avg.
    pub op: String,
    /// The field (not for count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Name of the result (default `count` or `<op>_<field>`).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Metric {
    /// The name the result gets: `as`, or `count`, or `<op>_<field>`.
    pub fn result_name(&self) -> String {
        match (&self.name, &self.field) {
            (Some(name), _) => name.clone(),
            (None, Some(field)) => format!("{}_{field}", self.op),
            (None, None) => "count".to_string(),
        }
    }
}

/// An aggregation: group records and compute metrics per group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// The filter tree as JSON, as in queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    /// Fields to group by (one group over everything when empty).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Metrics to compute.
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

impl Aggregate {
    /// An aggregation over all records (one group unless [`Aggregate::group_by`] is used).
    pub fn new() -> Aggregate {
        Aggregate::default()
    }
    /// Only records matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Aggregate {
        self.filter = Some(filter.to_json());
        self
    }
    /// Group by a field.
    pub fn group_by(mut self, field: &str) -> Aggregate {
        self.group_by.push(field.to_string());
        self
    }
    /// Number of records, named `count`.
    pub fn count(mut self) -> Aggregate {
        self.metrics.push(Metric { op: MetricOp::Count.as_str().into(), field: None, name: None });
        self
    }
    /// `sum`, `min`, `max` or `avg` of a field, named `<op>_<field>`.
    pub fn metric(mut self, op: &str, field: &str) -> Aggregate {
        self.metrics.push(Metric { op: op.to_string(), field: Some(field.to_string()), name: None });
        self
    }
    /// The JSON form.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One group of an aggregation's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The group's values of the `group_by` fields.
    pub key: Map<String, Value>,
    /// Metric name to value. Sums and averages of decimals are exact decimal strings.
    pub values: Map<String, Value>,
}

impl Group {
    /// A metric as exact decimal text (sums come as strings, counts as integers).
    pub fn number(&self, name: &str) -> Option<String> {
        let v = self.values.get(name)?;
        v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|i| i.to_string()))
    }

    /// The text of a `group_by` field in this group.
    pub fn key_text(&self, field: &str) -> Option<&str> {
        self.key.get(field).and_then(Value::as_str)
    }
}

/// An aggregation's answer: `{"groups": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AggregateAnswer {
    /// The groups, in the order of their keys.
    pub groups: Vec<Group>,
}

/// The payload of a record event from the kernel: `{"id", "after"}` when created,
/// `{"id", "version", "before", "after"}` when updated, `{"id", "before"}` when deleted. Data
/// is the record's fields, less those the subscriber may not see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordChange {
    /// The record's id.
    pub id: String,
    /// The version after an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The fields before an update or a deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Map<String, Value>>,
    /// The fields after a creation or an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Map<String, Value>>,
}

impl RecordChange {
    /// A record was created with `after`.
    pub fn created(id: &str, after: Map<String, Value>) -> RecordChange {
        RecordChange { id: id.to_string(), version: None, before: None, after: Some(after) }
    }
    /// A record went from `before` to `after`, now at `version`.
    pub fn updated(id: &str, version: i64, before: Map<String, Value>, after: Map<String, Value>) -> RecordChange {
        RecordChange { id: id.to_string(), version: Some(version), before: Some(before), after: Some(after) }
    }
    /// A record holding `before` was deleted.
    pub fn deleted(id: &str, before: Map<String, Value>) -> RecordChange {
        RecordChange { id: id.to_string(), version: None, before: Some(before), after: None }
    }
    /// The JSON payload.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_round_trips_through_its_json() {
        let q = Query::new()
            .filter(Filter::and(vec![
                Filter::eq("status", "open"),
                Filter::or(vec![Filter::gte("amount", "10.00"), Filter::is_in("stage", vec![json!("a"), json!("b")])]),
                Filter::contains("name", "ром"),
            ]))
            .sort_desc("created_at")
            .limit(20)
            .cursor("abc");
        let text = serde_json::to_string(&q).expect("serialises");
        let back: Query = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, q);
        let tree = Filter::from_json(back.filter.as_ref().expect("filter"), "filter").expect("a valid tree");
        assert_eq!(tree.to_json(), q.filter.clone().expect("filter"));
        assert_eq!(
            q.to_json()["sort"],
            json!({ "field": "created_at", "desc": true }),
            "the sort key is one object on the wire"
        );
    }

    #[test]
    fn the_json_form_is_the_documented_one() {
        let q = Query::new().filter(Filter::eq("status", "open")).sort_asc("name").limit(5);
        assert_eq!(
            q.to_json(),
            json!({
                "filter": { "field": "status", "op": "eq", "value": "open" },
                "sort": { "field": "name", "desc": false },
                "limit": 5
            })
        );
        let a = Aggregate::new().group_by("stage").count().metric("sum", "amount");
        assert_eq!(
            a.to_json(),
            json!({ "group_by": ["stage"], "metrics": [{ "op": "count" }, { "op": "sum", "field": "amount" }] })
        );
        let back: Aggregate = serde_json::from_value(a.to_json()).expect("parses");
        assert_eq!(back, a);
        assert_eq!(back.metrics[1].result_name(), "sum_amount");
    }

    #[test]
    fn sort_is_one_key_as_an_object_or_a_list() {
        let one: Query = serde_json::from_str(r#"{"sort": {"field": "name", "desc": true}}"#).expect("object");
        let listed: Query = serde_json::from_str(r#"{"sort": [{"field": "name", "desc": true}]}"#).expect("list");
        assert_eq!(one, listed);
        assert_eq!(one.sort, Some(Sort { field: "name".into(), desc: true }));
        let empty: Query = serde_json::from_str(r#"{"sort": []}"#).expect("empty list");
        assert!(empty.sort.is_none());
        let two = serde_json::from_str::<Query>(r#"{"sort": [{"field": "a"}, {"field": "b"}]}"#);
        assert!(two.expect_err("two keys").to_string().contains("one key"));
        let unknown = serde_json::from_str::<Query>(r#"{"sort": {"field": "a", "up": true}}"#);
        assert!(unknown.expect_err("unknown key").to_string().contains("up"));
        assert!(serde_json::from_str::<Query>(r#"{"limit": 5, "company_id": "x"}"#).is_err(), "unknown keys");
    }

    #[test]
    fn oversized_trees_are_refused_whole() {
        let list: Vec<Value> = (0..500).map(|i| json!(i)).collect();
        let wide =
            json!({ "or": (0..100).map(|_| json!({ "field": "n", "op": "in", "value": list })).collect::<Vec<_>>() });
        let problems = Filter::from_json(&wide, "filter").expect_err("50,000 values");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("50000 values"), "{problems:?}");
        let many = json!({ "or": (0..3).map(|_| json!({ "or": (0..100).map(|_| json!({ "field": "n", "op": "eq", "value": 1 })).collect::<Vec<_>>() })).collect::<Vec<_>>() });
        let problems = Filter::from_json(&many, "filter").expect_err("300 comparisons");
        assert!(problems[0].message.contains("300 comparisons"), "{problems:?}");
        let fits =
            json!({ "or": (0..4).map(|_| json!({ "field": "n", "op": "in", "value": list })).collect::<Vec<_>>() });
        assert_eq!(Filter::from_json(&fits, "filter").expect("2,000 values fit").size(), (4, 2000));
    }

    #[test]
    fn every_shape_problem_is_reported_with_its_path() {
        let raw = json!({ "and": [
            { "field": "a", "op": "equals", "value": 1 },
            { "field": "b" },
            { "or": [] },
            { "and": [{ "field": "c", "op": "eq" }], "or": [] },
            { "field": "d", "op": "eq", "extra": 1 },
            "text"
        ] });
        let problems = Filter::from_json(&raw, "filter").expect_err("bad tree");
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "filter.and[0].op",
                "filter.and[1]",
                "filter.and[2].or",
                "filter.and[3]",
                "filter.and[4]",
                "filter.and[5]"
            ]
        );
        assert!(problems[0].message.contains("eq, ne, lt, lte, gt, gte, in, prefix, contains"));
        let mut deep = json!({ "field": "a", "op": "eq", "value": 1 });
        for _ in 0..=MAX_FILTER_DEPTH {
            deep = json!({ "and": [deep] });
        }
        let problems = Filter::from_json(&deep, "filter").expect_err("too deep");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].message, "nested too deeply");
    }

    #[test]
    fn operators_and_metrics_name_themselves() {
        for op in Op::ALL {
            assert_eq!(Op::parse(op.as_str()), Some(op));
            assert_eq!(serde_json::to_value(op).expect("op"), json!(op.as_str()));
        }
        for op in MetricOp::ALL {
            assert_eq!(MetricOp::parse(op.as_str()), Some(op));
        }
        assert_eq!(Op::parse("like"), None);
        let g: Group = serde_json::from_value(
            json!({ "key": { "stage": "won" }, "values": { "count": 3, "sum_amount": "10.50" } }),
        )
        .expect("group");
        assert_eq!(
            (g.key_text("stage"), g.number("count"), g.number("sum_amount")),
            (Some("won"), Some("3".into()), Some("10.50".into()))
        );
    }

    #[test]
    fn record_changes_have_the_documented_shape() {
        let mut data = Map::new();
        data.insert("name".into(), json!("Romashka"));
        let created = RecordChange::created("r1", data.clone());
        assert_eq!(created.to_json(), json!({ "id": "r1", "after": { "name": "Romashka" } }));
        let mut renamed = data.clone();
        renamed.insert("name".into(), json!("Vector"));
        let updated = RecordChange::updated("r1", 2, data.clone(), renamed);
        assert_eq!(
            updated.to_json(),
            json!({ "id": "r1", "version": 2, "before": { "name": "Romashka" }, "after": { "name": "Vector" } })
        );
        let deleted = RecordChange::deleted("r1", data);
        assert_eq!(deleted.to_json(), json!({ "id": "r1", "before": { "name": "Romashka" } }));
        for change in [created, updated, deleted] {
            let back: RecordChange = serde_json::from_value(change.to_json()).expect("parses");
            assert_eq!(back, change);
        }
    }
}
