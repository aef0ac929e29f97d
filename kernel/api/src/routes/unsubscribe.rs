//! `/api/v1/mail/unsubscribe/{token}`: the unsubscribe links of companies' mailings, which
//! need no login: the signed token is the permission. `GET` tells what the link stands for,
//! `POST` confirms it (once; later confirmations change nothing). The body of a `POST` is not
//! read, so mail programs may confirm in one click (RFC 8058).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiPath;
use erp_kernel::mail::MailError;
use erp_kernel::mail::unsubscribe::{self, Unsubscribed};
use erp_kernel::plugins::Kernel;
use erp_kernel::storage::run_blocking;

/// What an unsubscribe link stands for.
#[derive(Serialize, ToSchema)]
pub(crate) struct UnsubscribeOut {
    /// The company whose mail it is.
    company: String,
    /// The address the letter went to.
    recipient: String,
    /// `GET`: whether the link is still to be confirmed. `POST`: whether this confirmation
    /// was the first.
    first: bool,
}

impl From<Unsubscribed> for UnsubscribeOut {
    fn from(u: Unsubscribed) -> Self {
        UnsubscribeOut { company: u.company, recipient: u.recipient, first: u.first }
    }
}

/// What the unsubscribe link stands for, changing nothing.
#[utoipa::path(get, path = "/api/v1/mail/unsubscribe/{token}", tag = "mail",
    params(("token" = String, Path, description = "The token of the link in the letter")),
    responses((status = 200, body = UnsubscribeOut), (status = 404, description = "not a valid unsubscribe link")))]
pub(crate) async fn preview(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<UnsubscribeOut>, ApiError> {
    answer(state, token, unsubscribe::preview).await
}

/// What `step` did with the link, answered off the async threads.
async fn answer(
    state: AppState,
    token: String,
    step: fn(&dyn Kernel, &str) -> Result<Unsubscribed, MailError>,
) -> Result<Json<UnsubscribeOut>, ApiError> {
    let platform = state.platform.clone();
    run_blocking(move || step(&platform, &token).map(Into::into).map_err(ApiError::from)).await.map(Json)
}

/// Confirms the unsubscribe link: the company's plugin that sent the letter hears of it once
/// and sends that address no more mailings.
#[utoipa::path(post, path = "/api/v1/mail/unsubscribe/{token}", tag = "mail",
    params(("token" = String, Path, description = "The token of the link in the letter")),
    responses((status = 200, body = UnsubscribeOut), (status = 404, description = "not a valid unsubscribe link")))]
pub(crate) async fn confirm(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<UnsubscribeOut>, ApiError> {
    answer(state, token, unsubscribe::confirm).await
}
