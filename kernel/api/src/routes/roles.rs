//! `/api/v1/companies/{id}/roles`: built-in and custom roles.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{company_read, company_write};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, Auth};
use erp_kernel::access::permissions::{ROLES_MANAGE, ROLES_READ};
use erp_kernel::access::roles::{self, Role};
use erp_kernel::audit::{self, Entry, Outcome};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRole {
    /// Unique name: lower-case letters, digits, `_` or `-`; not a built-in role's name.
    #[schema(schema_with = super::doc::new_role_name)]
    name: String,
    /// What the role is for.
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^[^\\x00]*$")]
    description: String,
    /// Permissions such as `crm.deal.write` or `crm.*`.
    #[schema(schema_with = super::doc::permissions)]
    permissions: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateRole {
    /// What the role is for.
    #[serde(default)]
    #[schema(max_length = 500, pattern = "^[^\\x00]*$")]
    description: String,
    /// The complete new set of permissions.
    #[schema(schema_with = super::doc::permissions)]
    permissions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RoleOut {
    /// Name.
    name: String,
    /// Description.
    description: String,
    /// Granted permissions.
    permissions: Vec<String>,
    /// Built-in roles cannot be changed.
    builtin: bool,
}

impl From<Role> for RoleOut {
    fn from(r: Role) -> RoleOut {
        RoleOut { name: r.name, description: r.description, permissions: r.permissions, builtin: r.builtin }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RoleList {
    /// Built-in roles first, then custom ones by name.
    items: Vec<RoleOut>,
}

fn audit_role(
    conn: &mut erp_kernel::storage::DbConn,
    company_id: &str,
    actor: &audit::Actor,
    action: &str,
    name: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        Entry {
            company_id: Some(company_id),
            actor,
            action,
            object_type: "role",
            object_id: Some(name),
            outcome: Outcome::Success,
            detail,
        },
    )?;
    Ok(())
}

/// Lists the company's roles.
#[utoipa::path(get, path = "/api/v1/companies/{id}/roles", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")), responses((status = 200, body = RoleList), (status = 404, description = "no such company")))]
pub(crate) async fn list_roles(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RoleList>, ApiError> {
    let all = company_read(&state, &auth, &id, |conn, scope| {
        scope.require(ROLES_READ)?;
        Ok(roles::list(conn, &scope.company_id)?)
    })
    .await?;
    Ok(Json(RoleList { items: all.into_iter().map(RoleOut::from).collect() }))
}

/// Creates a custom role. Nobody can grant permissions they do not hold.
#[utoipa::path(post, path = "/api/v1/companies/{id}/roles", tag = "companies", security(("bearer" = [])), request_body = CreateRole,
    params(("id" = String, Path, description = "Company id")),
    responses((status = 201, body = RoleOut), (status = 403, description = "missing permission"), (status = 409, description = "name taken"), (status = 422, description = "invalid input")))]
pub(crate) async fn create_role(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateRole>,
) -> Result<(StatusCode, Json<RoleOut>), ApiError> {
    let role = company_write(&state, &auth, &id, "role.create", move |conn, scope, actor| {
        scope.require(ROLES_MANAGE)?;
        roles::validate(Some(&body.name), &body.description, &body.permissions)?;
        scope.require_covers(&body.permissions)?;
        let role = roles::create(conn, &scope.company_id, &body.name, &body.description, &body.permissions)?;
        audit_role(
            conn,
            &scope.company_id,
            actor,
            "role.create",
            &role.name,
            serde_json::json!({ "permissions": role.permissions }),
        )?;
        Ok(role)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

/// Replaces a custom role's description and permissions.
#[utoipa::path(put, path = "/api/v1/companies/{id}/roles/{name}", tag = "companies", security(("bearer" = [])), request_body = UpdateRole,
    params(("id" = String, Path, description = "Company id"), ("name" = String, Path, description = "Role name")),
    responses((status = 200, body = RoleOut), (status = 403, description = "missing permission"), (status = 404, description = "no such role"), (status = 409, description = "built-in role")))]
pub(crate) async fn update_role(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<UpdateRole>,
) -> Result<Json<RoleOut>, ApiError> {
    let role = company_write(&state, &auth, &id, "role.update", move |conn, scope, actor| {
        scope.require(ROLES_MANAGE)?;
        roles::validate(None, &body.description, &body.permissions)?;
        // Rewriting a role changes what its holders may do: only someone who holds all of it,
        // before and after, may do that.
        if let Some(current) = roles::get(conn, &scope.company_id, &name)? {
            scope.require_covers(&current.permissions)?;
        }
        scope.require_covers(&body.permissions)?;
        let role = roles::update(conn, &scope.company_id, &name, &body.description, &body.permissions)?;
        audit_role(
            conn,
            &scope.company_id,
            actor,
            "role.update",
            &role.name,
            serde_json::json!({ "permissions": role.permissions }),
        )?;
        Ok(role)
    })
    .await?;
    Ok(Json(role.into()))
}

/// Deletes a custom role that no member holds.
#[utoipa::path(delete, path = "/api/v1/companies/{id}/roles/{name}", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("name" = String, Path, description = "Role name")),
    responses((status = 204, description = "deleted"), (status = 403, description = "missing permission"), (status = 404, description = "no such role"), (status = 409, description = "built-in or still held")))]
pub(crate) async fn delete_role(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    company_write(&state, &auth, &id, "role.delete", move |conn, scope, actor| {
        scope.require(ROLES_MANAGE)?;
        if let Some(current) = roles::get(conn, &scope.company_id, &name)? {
            scope.require_covers(&current.permissions)?;
        }
        roles::delete(conn, &scope.company_id, &name)?;
        audit_role(conn, &scope.company_id, actor, "role.delete", &name, serde_json::json!({}))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
