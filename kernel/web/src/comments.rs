//! The discussion panel on record pages: the thread of comments on the record, a form that
//! turns `@Name` into mentions, and where a mention's notification leads.

use axum::body::Bytes;
use axum::extract::Path;
use erp_kernel::plugins::manifest::Manifest;
use serde_json::{Value, json};

use super::collab::{self, Surface, call};
use super::{Ctx, Page, encode, format, see_other};

/// `plugin/collection/id`: what the plugin files a record's comments under.
fn target(m: &Manifest, coll: &str, rid: &str) -> String {
    format!("{}/{coll}/{rid}", m.plugin.name)
}

/// The panel's model for a record page, when the person has comments here.
pub(super) async fn panel(ctx: &Ctx, m: &Manifest, coll: &str, rid: &str) -> Option<Value> {
    let provider = collab::provider(ctx, Surface::Comments)?;
    let input = json!({ "target": target(m, coll, rid), "permission": m.read_permission(coll) });
    let thread = call(ctx, &provider, "comments", input).await.ok()?;
    let people = super::commands::people(ctx).await;
    let items: Vec<Value> = thread["comments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            json!({
                "id": c["id"], "author": collab::name_of(ctx, &people, c["author"].as_str()), "text": c["text"],
                "at": format::datetime(c["at"].as_str().unwrap_or_default(), ctx.loc()),
                "edited": c["edited_at"].is_string(), "reply": c["reply_to"].is_string(),
            })
        })
        .collect();
    let action = format!("{}/p/{}/d/{coll}/r/{}/comment", ctx.base(), m.plugin.name, encode(rid));
    Some(json!({ "items": items, "action": action, "people": collab::options(&people) }))
}

/// `POST /c/{company}/p/{plugin}/d/{coll}/r/{rid}/comment`: adds a comment; `@Name` and the
/// people chosen are told.
pub(super) async fn post(
    mut ctx: Ctx,
    Path((cid, plugin, coll, rid)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Page {
    ctx.enter(&cid).await?;
    let provider = collab::require(&ctx, Surface::Comments)?;
    let rid = ctx.segment(&rid)?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?;
    let m = company.plugin(&plugin).cloned().ok_or_else(|| ctx.fail(&not_found(&ctx)))?;
    if !m.collections.contains_key(&coll) {
        return Err(ctx.fail(&not_found(&ctx)));
    }
    // The record must be the person's to read: its title comes from it, too.
    let record = ctx
        .api
        .get(&format!("/api/v1/companies/{}/data/{plugin}/{coll}/{rid}", company.id))
        .await
        .map_err(|f| ctx.fail(&f))?;
    let title = super::meta::title_field(&m, &coll)
        .and_then(|t| record["data"].get(&t).map(|v| format::value(v, None, ctx.loc())))
        .filter(|t| !t.is_empty());
    let text = form.get("text").unwrap_or_default().trim().to_string();
    let people = super::commands::people(&ctx).await;
    let mut mentions = collab::mentioned(&text, &people);
    for chosen in form.all("mentions").into_iter().filter(|c| !c.is_empty()) {
        if !mentions.iter().any(|m| m == chosen) {
            mentions.push(chosen.to_string());
        }
    }
    let mut input = json!({
        "target": target(&m, &coll, &rid), "permission": m.read_permission(&coll), "text": text, "mentions": mentions,
    });
    if let Some(t) = title {
        input["title"] = json!(t);
    }
    call(&ctx, &provider, "comment", input).await.map_err(|f| ctx.fail(&f))?;
    // Back to the page the panel was on (a drive file's), within this company only.
    let back = form
        .get("_back")
        .filter(|b| b.starts_with(&format!("{}/", ctx.base())) && !b.contains("//") && !b.contains('\\'))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/p/{plugin}/d/{coll}/r/{}", ctx.base(), encode(&rid)));
    Ok(see_other(&format!("{back}#comments")))
}

fn not_found(ctx: &Ctx) -> super::client::Failure {
    super::client::Failure {
        status: axum::http::StatusCode::NOT_FOUND,
        ..super::client::Failure::internal(ctx.t("not_found"))
    }
}

/// `GET /c/{company}/comments/{id}`: the record a comment is on (where a mention leads).
pub(super) async fn open(mut ctx: Ctx, Path((cid, id)): Path<(String, String)>) -> Page {
    ctx.enter(&cid).await?;
    let provider = collab::require(&ctx, Surface::Comments)?;
    let id = ctx.segment(&id)?;
    let found = call(&ctx, &provider, "comment-target", json!({ "id": id })).await.map_err(|f| ctx.fail(&f))?;
    let target = found["target"].as_str().unwrap_or_default();
    match target.split('/').collect::<Vec<_>>()[..] {
        [plugin, coll, rid] => {
            Ok(see_other(&format!("{}/p/{}/d/{}/r/{}#comments", ctx.base(), encode(plugin), encode(coll), encode(rid))))
        }
        _ => Err(ctx.fail(&not_found(&ctx))),
    }
}
