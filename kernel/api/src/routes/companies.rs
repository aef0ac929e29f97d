//! `/api/v1/companies`: create (platform operators), list the caller's, get one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListOf, PageQuery, company_read, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use erp_kernel::access::permissions::COMPANY_READ;
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::events::NewEvent;
use erp_kernel::identity::companies::{self, Company};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateCompany {
    /// Company name.
    #[schema(schema_with = super::doc::display_name)]
    name: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CompanyOut {
    /// Company id.
    id: String,
    /// Name.
    name: String,
    /// Creation time.
    created_at: String,
    /// The caller's role in it.
    role: String,
    /// The caller's permissions there (on `GET /companies/{id}` only), so that clients show
    /// only what the API would allow.
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<Vec<String>>,
}

fn out(c: Company, role: String) -> CompanyOut {
    CompanyOut { id: c.id, name: c.name, created_at: time(c.created_at), role, permissions: None }
}

/// Creates a company; the caller becomes its owner (platform operators only).
#[utoipa::path(post, path = "/api/v1/companies", tag = "companies", security(("bearer" = [])), request_body = CreateCompany,
    responses((status = 201, body = CompanyOut), (status = 403, description = "not a platform operator"), (status = 422, description = "invalid input")))]
pub(crate) async fn create_company(
    auth: Auth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateCompany>,
) -> Result<(StatusCode, Json<CompanyOut>), ApiError> {
    auth.require_superadmin()?;
    let actor = auth.actor();
    let owner = auth.user.id.clone();
    let company = state
        .db
        .write(move |conn| {
            let company = companies::create(conn, &body.name, &owner)?;
            // A new company has no plugins enabled yet, so nobody can subscribe to this one.
            let event = NewEvent {
                name: "kernel.company.created",
                source: "kernel",
                payload: serde_json::json!({ "name": company.name }),
                collection: None,
            };
            erp_kernel::events::insert(conn, &company.id, &event, Some(&owner), 0)?;
            audit::record(
                conn,
                Entry {
                    company_id: Some(&company.id),
                    actor: &actor,
                    action: "company.create",
                    object_type: "company",
                    object_id: Some(&company.id),
                    outcome: Outcome::Success,
                    detail: serde_json::json!({ "name": company.name }),
                },
            )?;
            Ok::<_, ApiError>(company)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(out(company, companies::OWNER_ROLE.to_string()))))
}

/// The companies the caller belongs to.
#[utoipa::path(get, path = "/api/v1/companies", tag = "companies", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = ListOf<CompanyOut>)))]
pub(crate) async fn list_companies(
    auth: Auth,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<ListOf<CompanyOut>>, ApiError> {
    let page = q.request()?;
    let user_id = auth.user.id.clone();
    let found =
        state.db.read(move |conn| companies::list_for_user(conn, &user_id, &page).map_err(ApiError::from)).await?;
    Ok(Json(ListOf::from_page(found, |(c, role)| out(c, role))))
}

/// One company the caller belongs to.
#[utoipa::path(get, path = "/api/v1/companies/{id}", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")), responses((status = 200, body = CompanyOut), (status = 404, description = "no such company, or not a member")))]
pub(crate) async fn get_company(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CompanyOut>, ApiError> {
    let found = company_read(&state, &auth, &id, |conn, scope| {
        scope.require(COMPANY_READ)?;
        let company = companies::get(conn, &scope.company_id)?.ok_or_else(ApiError::not_found)?;
        Ok(CompanyOut { permissions: Some(scope.permissions.clone()), ..out(company, scope.role.clone()) })
    })
    .await?;
    Ok(Json(found))
}
