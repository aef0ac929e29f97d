//! `/api/v1/companies/{id}/members`: who belongs to a company and with which role; `people`:
//! their names, for every member.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListOf, PageQuery, company_read, company_work, kernel_event, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use erp_kernel::Platform;
use erp_kernel::access::permissions::{MEMBERS_MANAGE, MEMBERS_READ};
use erp_kernel::access::{CompanyScope, roles};
use erp_kernel::audit::{self, Actor, Entry, Outcome};
use erp_kernel::identity::{Member, members, users};
use erp_kernel::ids;
use erp_kernel::storage::DbConn;
use erp_kernel::validation::Invalid;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddMember {
    /// E-mail of an existing user.
    #[schema(schema_with = super::doc::existing_email)]
    email: String,
    /// Role name (built-in or custom).
    #[schema(schema_with = super::doc::role_name)]
    role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMember {
    /// New role name.
    #[schema(schema_with = super::doc::role_name)]
    role: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MemberOut {
    /// User id.
    user_id: String,
    /// E-mail.
    email: String,
    /// Display name.
    name: String,
    /// Role in this company.
    role: String,
    /// When they joined.
    joined_at: String,
}

impl From<Member> for MemberOut {
    fn from(m: Member) -> MemberOut {
        MemberOut { user_id: m.user_id, email: m.email, name: m.name, role: m.role, joined_at: time(m.joined_at) }
    }
}

/// Checks that the caller may hand out `role`: it exists, only owners make owners, and nobody
/// grants permissions they do not hold themselves, counting what enabled plugins give the
/// built-in `member` role.
fn check_grantable(platform: &Platform, conn: &mut DbConn, scope: &CompanyScope, role: &str) -> Result<(), ApiError> {
    let granted = platform
        .effective_permissions(conn, &scope.company_id, role)?
        .ok_or_else(|| Invalid::one("role", format!("no role named {role:?} in this company")))?;
    if role == roles::OWNER && !scope.is_owner() {
        return Err(ApiError::forbidden("only owners may make other owners"));
    }
    scope.require_covers(&granted)?;
    Ok(())
}

/// Checks that the caller may change or remove a member holding `role`: nobody acts on a
/// member with more power than they have.
fn check_over(platform: &Platform, conn: &mut DbConn, scope: &CompanyScope, role: &str) -> Result<(), ApiError> {
    if let Some(granted) = platform.effective_permissions(conn, &scope.company_id, role)? {
        scope.require_covers(&granted)?;
    }
    Ok(())
}

fn audit_member(
    conn: &mut DbConn,
    scope: &CompanyScope,
    actor: &Actor,
    action: &str,
    user_id: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        Entry {
            company_id: Some(&scope.company_id),
            actor,
            action,
            object_type: "user",
            object_id: Some(user_id),
            outcome: Outcome::Success,
            detail,
        },
    )?;
    Ok(())
}

/// Lists the company's members.
#[utoipa::path(get, path = "/api/v1/companies/{id}/members", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), PageQuery), responses((status = 200, body = ListOf<MemberOut>), (status = 404, description = "no such company")))]
pub(crate) async fn list_members(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<ListOf<MemberOut>>, ApiError> {
    let page = q.request()?;
    let found = company_read(&state, &auth, &id, move |conn, scope| {
        scope.require(MEMBERS_READ)?;
        Ok(members::list(conn, &scope.company_id, &page)?)
    })
    .await?;
    Ok(Json(ListOf::from_page(found, MemberOut::from)))
}

/// A colleague as every member of the company sees them.
#[derive(Serialize, ToSchema)]
pub(crate) struct PersonOut {
    /// User id.
    user_id: String,
    /// Display name.
    name: String,
}

/// The company's people by name, for every member: what the web UI needs to show a user id
/// (a deal's responsible) by name and to offer colleagues in a form. E-mails and roles stay
/// with the members list, which needs `kernel.members.read`.
#[utoipa::path(get, path = "/api/v1/companies/{id}/people", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), PageQuery), responses((status = 200, body = ListOf<PersonOut>), (status = 404, description = "no such company")))]
pub(crate) async fn list_people(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<ListOf<PersonOut>>, ApiError> {
    let page = q.request()?;
    let found =
        company_read(&state, &auth, &id, move |conn, scope| Ok(members::list(conn, &scope.company_id, &page)?)).await?;
    Ok(Json(ListOf::from_page(found, |m| PersonOut { user_id: m.user_id, name: m.name })))
}

/// Adds an existing user to the company with a role.
#[utoipa::path(post, path = "/api/v1/companies/{id}/members", tag = "companies", security(("bearer" = [])), request_body = AddMember,
    params(("id" = String, Path, description = "Company id")),
    responses((status = 201, body = MemberOut), (status = 403, description = "missing permission"), (status = 404, description = "no such company"), (status = 409, description = "already a member"), (status = 422, description = "unknown user or role")))]
pub(crate) async fn add_member(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<(StatusCode, Json<MemberOut>), ApiError> {
    let platform = state.platform.clone();
    let member = company_work(&state, &auth, &id, "member.add", move |session, scope, actor| {
        scope.require(MEMBERS_MANAGE)?;
        let conn = session.conn()?;
        let user = users::find_by_email(conn, &body.email)?
            .ok_or_else(|| Invalid::one("email", "no user with this e-mail"))?;
        check_grantable(&platform, conn, scope, &body.role)?;
        members::add(conn, &scope.company_id, &user.id, &body.role)?;
        audit_member(conn, scope, actor, "member.add", &user.id, serde_json::json!({ "role": body.role }))?;
        let member =
            members::get(conn, &scope.company_id, &user.id)?.ok_or_else(|| ApiError::internal("member vanished"))?;
        kernel_event(
            &platform,
            session,
            "kernel.member.added",
            serde_json::json!({ "user_id": user.id, "role": body.role }),
        )?;
        Ok(member)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

/// Changes a member's role.
#[utoipa::path(patch, path = "/api/v1/companies/{id}/members/{user_id}", tag = "companies", security(("bearer" = [])), request_body = UpdateMember,
    params(("id" = String, Path, description = "Company id"), ("user_id" = String, Path, description = "User id")),
    responses((status = 200, body = MemberOut), (status = 403, description = "missing permission"), (status = 404, description = "no such member"), (status = 409, description = "would leave no owner")))]
pub(crate) async fn update_member(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, user_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> Result<Json<MemberOut>, ApiError> {
    let user_id = ids::parse(&user_id).ok_or_else(ApiError::not_found)?;
    let platform = state.platform.clone();
    let member = company_work(&state, &auth, &id, "member.update", move |session, scope, actor| {
        scope.require(MEMBERS_MANAGE)?;
        let conn = session.conn()?;
        let current = members::get(conn, &scope.company_id, &user_id)?.ok_or_else(ApiError::not_found)?;
        check_over(&platform, conn, scope, &current.role)?;
        check_grantable(&platform, conn, scope, &body.role)?;
        if current.role == roles::OWNER && body.role != roles::OWNER {
            if !scope.is_owner() {
                return Err(ApiError::forbidden("only owners may change an owner's role"));
            }
            if members::count_owners(conn, &scope.company_id)? <= 1 {
                return Err(ApiError::conflict("a company must keep at least one owner"));
            }
        }
        members::set_role(conn, &scope.company_id, &user_id, &body.role)?;
        audit_member(
            conn,
            scope,
            actor,
            "member.update",
            &user_id,
            serde_json::json!({ "from": current.role, "to": body.role }),
        )?;
        let member = members::get(conn, &scope.company_id, &user_id)?.ok_or_else(ApiError::not_found)?;
        let payload = serde_json::json!({ "user_id": user_id, "from": current.role, "to": body.role });
        kernel_event(&platform, session, "kernel.member.role_changed", payload)?;
        Ok(member)
    })
    .await?;
    Ok(Json(member.into()))
}

/// Removes a member. Members may always remove themselves; a company keeps at least one owner.
#[utoipa::path(delete, path = "/api/v1/companies/{id}/members/{user_id}", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id"), ("user_id" = String, Path, description = "User id")),
    responses((status = 204, description = "removed"), (status = 403, description = "missing permission"), (status = 404, description = "no such member"), (status = 409, description = "would leave no owner")))]
pub(crate) async fn remove_member(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, user_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user_id = ids::parse(&user_id).ok_or_else(ApiError::not_found)?;
    let platform = state.platform.clone();
    company_work(&state, &auth, &id, "member.remove", move |session, scope, actor| {
        if user_id != scope.user_id {
            scope.require(MEMBERS_MANAGE)?;
        }
        let conn = session.conn()?;
        let current = members::get(conn, &scope.company_id, &user_id)?.ok_or_else(ApiError::not_found)?;
        if user_id != scope.user_id {
            check_over(&platform, conn, scope, &current.role)?;
        }
        if current.role == roles::OWNER {
            if !scope.is_owner() {
                return Err(ApiError::forbidden("only owners may remove an owner"));
            }
            if members::count_owners(conn, &scope.company_id)? <= 1 {
                return Err(ApiError::conflict("a company must keep at least one owner"));
            }
        }
        members::remove(conn, &scope.company_id, &user_id)?;
        audit_member(conn, scope, actor, "member.remove", &user_id, serde_json::json!({ "role": current.role }))?;
        kernel_event(&platform, session, "kernel.member.removed", serde_json::json!({ "user_id": user_id }))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
