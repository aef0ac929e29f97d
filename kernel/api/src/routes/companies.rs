//! `/api/v1/companies`: create (platform operators), list the caller's, get one, read and change
//! its profile (details and settings).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ListOf, PageQuery, company_read, company_work, time};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use erp_kernel::access::permissions::{COMPANY_MANAGE, COMPANY_READ};
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::events::NewEvent;
use erp_kernel::identity::companies::{self, Company};
use erp_kernel::identity::profile::{self, CompanyProfile};

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
    /// The company's time zone (on `GET /companies/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    /// The company's currency (on `GET /companies/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
}

fn out(c: Company, role: String) -> CompanyOut {
    CompanyOut {
        id: c.id,
        name: c.name,
        created_at: time(c.created_at),
        role,
        permissions: None,
        time_zone: None,
        currency: None,
    }
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
        let (_, profile) = profile::get(conn, &scope.company_id)?;
        Ok(CompanyOut {
            permissions: Some(scope.permissions.clone()),
            time_zone: Some(profile.time_zone),
            currency: Some(profile.currency),
            ..out(company, scope.role.clone())
        })
    })
    .await?;
    Ok(Json(found))
}

/// A company's display name and its profile: the details documents carry and the settings
/// every plugin shares.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfileBody {
    /// Display name.
    #[schema(schema_with = super::doc::display_name)]
    name: String,
    /// Full legal name for documents.
    #[serde(default)]
    legal_name: String,
    /// INN (10 or 12 digits with correct check digits) or a foreign tax number.
    #[serde(default)]
    tax_id: String,
    /// KPP (9 characters).
    #[serde(default)]
    kpp: String,
    /// OGRN (13 digits) or OGRNIP (15 digits).
    #[serde(default)]
    registration_number: String,
    /// Legal address.
    #[serde(default)]
    address: String,
    /// Phone.
    #[serde(default)]
    phone: String,
    /// E-mail.
    #[serde(default)]
    email: String,
    /// Bank name.
    #[serde(default)]
    bank_name: String,
    /// BIC (9 digits).
    #[serde(default)]
    bank_bic: String,
    /// Settlement account (20 digits).
    #[serde(default)]
    bank_account: String,
    /// Correspondent account (20 digits).
    #[serde(default)]
    bank_corr_account: String,
    /// Director.
    #[serde(default)]
    director: String,
    /// Chief accountant.
    #[serde(default)]
    accountant: String,
    /// IANA time zone such as `Europe/Moscow`.
    #[serde(default = "default_zone")]
    #[schema(schema_with = super::doc::time_zone)]
    time_zone: String,
    /// ISO 4217 currency code such as `RUB`.
    #[serde(default = "default_currency")]
    #[schema(schema_with = super::doc::currency)]
    currency: String,
}

fn default_zone() -> String {
    profile::DEFAULT_TIME_ZONE.into()
}

fn default_currency() -> String {
    profile::DEFAULT_CURRENCY.into()
}

impl ProfileBody {
    fn from_parts(name: String, p: CompanyProfile) -> ProfileBody {
        ProfileBody {
            name,
            legal_name: p.legal_name,
            tax_id: p.tax_id,
            kpp: p.kpp,
            registration_number: p.registration_number,
            address: p.address,
            phone: p.phone,
            email: p.email,
            bank_name: p.bank_name,
            bank_bic: p.bank_bic,
            bank_account: p.bank_account,
            bank_corr_account: p.bank_corr_account,
            director: p.director,
            accountant: p.accountant,
            time_zone: p.time_zone,
            currency: p.currency,
        }
    }

    fn into_parts(self) -> (String, CompanyProfile) {
        let profile = CompanyProfile {
            legal_name: self.legal_name,
            tax_id: self.tax_id,
            kpp: self.kpp,
            registration_number: self.registration_number,
            address: self.address,
            phone: self.phone,
            email: self.email,
            bank_name: self.bank_name,
            bank_bic: self.bank_bic,
            bank_account: self.bank_account,
            bank_corr_account: self.bank_corr_account,
            director: self.director,
            accountant: self.accountant,
            time_zone: self.time_zone,
            currency: self.currency,
        };
        (self.name, profile)
    }
}

/// The company's details and settings (every member may read them: documents and dates need
/// them).
#[utoipa::path(get, path = "/api/v1/companies/{id}/profile", tag = "companies", security(("bearer" = [])),
    params(("id" = String, Path, description = "Company id")), responses((status = 200, body = ProfileBody), (status = 404, description = "no such company, or not a member")))]
pub(crate) async fn get_profile(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ProfileBody>, ApiError> {
    let found = company_read(&state, &auth, &id, |conn, scope| {
        scope.require(COMPANY_READ)?;
        Ok(profile::get(conn, &scope.company_id)?)
    })
    .await?;
    Ok(Json(ProfileBody::from_parts(found.0, found.1)))
}

/// Replaces the company's details and settings; every problem is reported at once and nothing
/// changes unless all fields are valid.
#[utoipa::path(put, path = "/api/v1/companies/{id}/profile", tag = "companies", security(("bearer" = [])), request_body = ProfileBody,
    params(("id" = String, Path, description = "Company id")),
    responses((status = 200, body = ProfileBody), (status = 403, description = "missing permission"), (status = 404, description = "no such company"), (status = 422, description = "invalid input")))]
pub(crate) async fn put_profile(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Json<ProfileBody>, ApiError> {
    let platform = state.platform.clone();
    let saved = company_work(&state, &auth, &id, "company.profile.update", move |session, scope, actor| {
        scope.require(COMPANY_MANAGE)?;
        let (name, wanted) = body.into_parts();
        let conn = session.conn()?;
        let (old_name, old) = profile::get(conn, &scope.company_id)?;
        let saved = profile::set(conn, &scope.company_id, &name, wanted)?;
        let name = name.trim().to_string();
        let changed: Vec<String> = {
            let (before, after) = (profile::as_json(&old_name, &old), profile::as_json(&name, &saved));
            after
                .as_object()
                .map(|a| a.iter().filter(|(k, v)| before.get(k.as_str()) != Some(v)).map(|(k, _)| k.clone()).collect())
                .unwrap_or_default()
        };
        audit::record(
            conn,
            Entry {
                company_id: Some(&scope.company_id),
                actor,
                action: "company.profile.update",
                object_type: "company",
                object_id: Some(&scope.company_id),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "changed": changed }),
            },
        )?;
        super::kernel_event(&platform, session, "kernel.company.updated", serde_json::json!({ "changed": changed }))?;
        Ok((name, saved))
    })
    .await?;
    Ok(Json(ProfileBody::from_parts(saved.0, saved.1)))
}
