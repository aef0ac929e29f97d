//! Schemas of the record query and aggregation bodies and of a collection's paging, for the
//! OpenAPI document only: `erp-query` reads the bodies and knows nothing of OpenAPI.
#![allow(dead_code)]

use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::Type;
use utoipa::{IntoParams, ToSchema};

/// A query of a collection's records.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryBody {
    /// The filter tree: comparisons `{"field", "op", "value"}` (op `eq`, `ne`, `lt`, `lte`,
    /// `gt`, `gte`, `in`, `prefix`, `contains`, or `has` for an item of a list) combined with `{"and": [...]}` and
    /// `{"or": [...]}`; at most 16 levels, 100 branches per level, 200 comparisons and 2000
    /// values. Fields are the collection's, or `id`, `created_at` and `updated_at`.
    #[schema(value_type = Option<Object>)]
    filter: Option<Value>,
    /// The sort key (by id, oldest first, when absent); a list of at most one is read too.
    #[schema(schema_with = sort)]
    sort: Option<Value>,
    /// Page size, 1 to 500 (50 when absent).
    #[schema(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[schema(schema_with = record_cursor_or_null)]
    cursor: Option<String>,
}

/// An aggregation of a collection's records.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AggregateBody {
    /// The filter tree, as in queries.
    #[schema(value_type = Option<Object>)]
    filter: Option<Value>,
    /// Fields to group by, at most 5 (one group over everything when empty).
    #[serde(default)]
    #[schema(max_items = 5)]
    group_by: Vec<String>,
    /// The metrics, 1 to 20.
    #[schema(min_items = 1, max_items = 20)]
    metrics: Vec<MetricBody>,
}

/// One metric of an aggregation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricBody {
    /// What to compute.
    #[schema(value_type = String, pattern = "^(count|sum|min|max|avg)$")]
    op: String,
    /// The field (not for `count`).
    #[schema(pattern = "^[^\\x00]*$")]
    field: Option<String>,
    /// Name of the result (default `count` or `<op>_<field>`).
    #[serde(rename = "as")]
    #[schema(pattern = "^[^\\x00]*$")]
    name: Option<String>,
}

/// `?limit=&cursor=` on a collection's records.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RecordPageQuery {
    /// Items per page, 1..=500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Cursor from the previous page's `next_cursor`.
    #[param(schema_with = record_cursor)]
    cursor: Option<String>,
}

/// A record cursor: base64url without padding, like every cursor, of any length (it carries
/// the sort key of the last record seen).
fn record_cursor() -> utoipa::openapi::Object {
    let mut cursor = super::doc::cursor();
    cursor.max_length = None;
    cursor
}

fn record_cursor_or_null() -> utoipa::openapi::Object {
    let mut cursor = record_cursor();
    cursor.schema_type = super::doc::or_null(Type::String);
    cursor
}

/// `{"field", "desc"}`, a list of at most one of those, or `null`.
fn sort() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder};
    let key = || {
        ObjectBuilder::new()
            .property(
                "field",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[^\x00]*$"))
                    .description(Some("An indexed field of the collection, or `id`, `created_at`, `updated_at`")),
            )
            .required("field")
            .property("desc", ObjectBuilder::new().schema_type(Type::Boolean).description(Some("Descending")))
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
    };
    OneOfBuilder::new()
        .item(key())
        .item(ArrayBuilder::new().items(key()).max_items(Some(1)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("The sort key (by id, oldest first, when absent)"))
        .build()
        .into()
}
