//! The bell: the person's notifications in a company (newest first, unread ones marked), read
//! marks, where each kind goes, and the live stream the page's script listens to.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::{Value, json};

use super::records::Params;
use super::{Ctx, Page, encode, format, see_other};

/// The link of a notification to the record it is about, inside this company: the chat,
/// drive or discussion page when the record's plugin provides it, the record's page otherwise.
fn link_of(company: Option<&super::meta::Company>, base: &str, n: &Value) -> Option<String> {
    use super::collab::{Surface, provides};
    let link = &n["link"];
    let part = |k: &str| link[k].as_str().filter(|s| !s.is_empty()).map(encode);
    let (plugin, collection, record) = (part("plugin")?, part("collection")?, part("record")?);
    let surface = Surface::of_collection(&collection)
        .filter(|s| company.and_then(|c| c.plugin(&plugin).map(|m| provides(c, m, *s))).unwrap_or(false));
    Some(match (surface, collection.as_str()) {
        (Some(_), "chat") => format!("{base}/chat/{record}"),
        (Some(_), "comment") => format!("{base}/comments/{record}"),
        (Some(_), "folder") => format!("{base}/drive/f/{record}"),
        (Some(_), "document") => format!("{base}/drive/d/{record}"),
        _ => format!("{base}/p/{plugin}/d/{collection}/r/{record}"),
    })
}

/// `GET /c/{company}/notifications`.
pub(super) async fn inbox(mut ctx: Ctx, Path(cid): Path<String>, RawQuery(raw): RawQuery) -> Page {
    ctx.enter(&cid).await?;
    let params = Params::parse(raw);
    let base = ctx.base();
    let mut path = format!("/api/v1/companies/{}/notifications?limit=50", ctx.company()?.id);
    if let Some(c) = params.get("cursor") {
        path.push_str(&format!("&cursor={}", encode(c)));
    }
    let found = ctx.api.get(&path).await.map_err(|f| ctx.fail(&f))?;
    let loc = ctx.loc();
    let items: Vec<Value> = found["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            json!({
                "id": n["id"], "title": n["title"], "body": n["body"], "read": n["read"],
                "importance": n["importance"], "kind": n["kind_label"],
                "at": format::datetime(n["created_at"].as_str().unwrap_or_default(), loc),
                "open": link_of(ctx.company.as_ref(), &base, n).map(|_| format!("{base}/notifications/{}/open", encode(n["id"].as_str().unwrap_or_default()))),
            })
        })
        .collect();
    let prefs = ctx
        .api
        .get(&format!("/api/v1/companies/{}/notifications/preferences", ctx.company()?.id))
        .await
        .map_err(|f| ctx.fail(&f))?;
    let kinds: Vec<Value> = prefs["kinds"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| json!({ "kind": k["kind"], "label": k["label"], "channel": k["channel"] }))
        .collect();
    let next = found["next_cursor"].as_str().map(|c| format!("{base}/notifications?cursor={}", encode(c)));
    Ok(ctx.render(
        "notifications.html",
        json!({ "items": items, "unread": found["unread"], "kinds": kinds, "next_url": next }),
    ))
}

/// `GET /c/{company}/notifications/{id}/open`: marks it read and goes to its record.
pub(super) async fn open(mut ctx: Ctx, Path((cid, nid)): Path<(String, String)>) -> Page {
    ctx.enter(&cid).await?;
    let nid = ctx.segment(&nid)?;
    let company = ctx.company()?.id.clone();
    let base = ctx.base();
    let n = ctx.api.get(&format!("/api/v1/companies/{company}/notifications/{nid}")).await.map_err(|f| ctx.fail(&f))?;
    ctx.api
        .post(&format!("/api/v1/companies/{company}/notifications/read"), json!({ "ids": [nid] }))
        .await
        .map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&link_of(ctx.company.as_ref(), &base, &n).unwrap_or_else(|| format!("{base}/notifications"))))
}

/// `POST /c/{company}/notifications/read`: marks them all read.
pub(super) async fn read_all(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    ctx.form(&body)?;
    let company = ctx.company()?.id.clone();
    ctx.api
        .post(&format!("/api/v1/companies/{company}/notifications/read"), json!({ "all": true }))
        .await
        .map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/notifications?ok=done", ctx.base())))
}

/// `POST /c/{company}/notifications/preferences`: one channel per kind.
pub(super) async fn save_preferences(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?.id.clone();
    let kinds: Vec<Value> = form
        .0
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("channel.").map(|kind| json!({ "kind": kind, "channel": v })))
        .collect();
    ctx.api
        .put(&format!("/api/v1/companies/{company}/notifications/preferences"), json!({ "kinds": kinds }))
        .await
        .map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/notifications?ok=saved", ctx.base())))
}

/// `GET /c/{company}/notifications/stream`: the API's event stream, passed through as the
/// visitor (with `Last-Event-ID` when the browser reconnects).
pub(super) async fn stream(ctx: Ctx, Path(cid): Path<String>, headers: HeaderMap) -> Response {
    let Ok(cid) = ctx.segment(&cid) else {
        return ctx.fail(&super::client::Failure::internal("no such company"));
    };
    let path = format!("/api/v1/companies/{cid}/notifications/stream");
    let answer = ctx.api.pass(Method::GET, &path, &headers, Body::empty()).await;
    if answer.status().is_success() {
        return answer;
    }
    let failure = ctx.api.failure_of(answer).await;
    ctx.fail(&failure)
}
