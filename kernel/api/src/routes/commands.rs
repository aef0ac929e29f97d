//! `POST /api/v1/companies/{id}/plugins/{plugin}/commands/{command}`: runs a plugin command
//! in one transaction and answers its JSON.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::company_work;
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{AnyJson, ApiPath, Auth};
use erp_kernel::audit::{self, Entry, Outcome};
use erp_kernel::plugins::lifecycle;

/// Runs a command declared by an enabled plugin. The caller needs the command's permission;
/// any error, trap or limit rolls everything the command did back.
#[utoipa::path(post, path = "/api/v1/companies/{id}/plugins/{plugin}/commands/{command}", tag = "plugins", security(("bearer" = [])),
    request_body(content = Value, description = "The command's JSON input, as the command declares it"),
    params(("id" = String, Path, description = "Company id"), ("plugin" = String, Path, description = "Plugin name"), ("command" = String, Path, description = "Command name")),
    responses((status = 200, description = "the command's JSON answer"), (status = 403, description = "missing the command's permission"), (status = 404, description = "plugin not enabled or no such command"), (status = 422, description = "invalid input or the plugin refused"), (status = 500, description = "the plugin failed or hit a limit")))]
pub(crate) async fn run_command(
    auth: Auth,
    State(state): State<AppState>,
    ApiPath((id, plugin, command)): ApiPath<(String, String, String)>,
    AnyJson(input): AnyJson,
) -> Result<Json<Value>, ApiError> {
    let platform = state.platform.clone();
    let answer = company_work(&state, &auth, &id, "plugin.command", move |session, scope, actor| {
        let answer = lifecycle::run_command(&platform, session, scope, &plugin, &command, input)?;
        // Reports and timelines read; anything they wrote is rolled back, so opening one by a
        // link (the web UI runs reports on GET) can change nothing.
        let company = session.company_id.clone();
        let active = platform.plugins.active(session.reader()?, &company, &plugin)?;
        session.discard = lifecycle::reads_only(&active.loaded.manifest, &command);
        let company = session.company_id.clone();
        audit::record(
            session.conn()?,
            Entry {
                company_id: Some(&company),
                actor,
                action: "plugin.command",
                object_type: "plugin",
                object_id: Some(&plugin),
                outcome: Outcome::Success,
                detail: serde_json::json!({ "command": command }),
            },
        )?;
        Ok(answer)
    })
    .await?;
    Ok(Json(answer))
}
