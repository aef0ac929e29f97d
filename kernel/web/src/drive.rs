//! The drive: the person's drives (their own, the company's, their groups', what was shared
//! with them), a folder with its files and an upload by drag and drop, a file with its
//! versions, access log and shares, and the trash.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::Path;
use serde_json::{Value, json};

use super::collab::{self, Surface, call};
use super::{Ctx, Page, encode, format, see_other};
use erp_kernel::plugins::manifest::Manifest;

fn folder_row(ctx: &Ctx, f: &Value) -> Value {
    json!({ "name": f["name"], "url": format!("{}/drive/f/{}", ctx.base(), encode(f["id"].as_str().unwrap_or_default())) })
}

fn document_row(ctx: &Ctx, d: &Value, people: &HashMap<String, String>) -> Value {
    let base = ctx.base();
    json!({
        "id": d["id"],
        "name": d["name"],
        "url": format!("{base}/drive/d/{}", encode(d["id"].as_str().unwrap_or_default())),
        "download": d["file"]["id"].as_str().map(|f| format!("{base}/files/{}", encode(f))),
        "version": d["version"],
        "size": format::file_size(d["size"].as_i64().unwrap_or(0), ctx.lang),
        "by": collab::name_of(ctx, people, d["uploaded_by"].as_str()),
        "at": format::datetime(d["at"].as_str().unwrap_or_default(), ctx.loc()),
        "trashed_at": d["trashed_at"].as_str().map(|t| format::datetime(t, ctx.loc())),
        "purge_at": d["purge_at"].as_str().map(|t| format::datetime(t, ctx.loc())),
    })
}

/// The groups the person sees, for sharing (when the drive's plugin keeps groups).
async fn groups(ctx: &Ctx, m: &Manifest) -> Vec<Value> {
    if !m.collections.contains_key("group") {
        return Vec::new();
    }
    let company = ctx.company.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    let path = format!("/api/v1/companies/{company}/data/{}/group?limit=200", m.plugin.name);
    let found = ctx.api.get(&path).await.unwrap_or(Value::Null);
    found["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| json!({ "id": g["id"], "name": g["data"]["name"] }))
        .collect()
}

/// `GET /c/{company}/drive`: the person's drives.
pub(super) async fn index(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Drive)?;
    let people = super::commands::people(&ctx).await;
    let drives = call(&ctx, &m, "drive", json!({})).await.map_err(|f| ctx.fail(&f))?;
    let rows = |key: &str| -> Vec<Value> {
        drives[key].as_array().into_iter().flatten().map(|f| folder_row(&ctx, f)).collect()
    };
    let shared_files: Vec<Value> =
        drives["shared_files"].as_array().into_iter().flatten().map(|d| document_row(&ctx, d, &people)).collect();
    Ok(ctx.render(
        "drive.html",
        json!({
            "home": true, "personal": rows("personal"), "company_folders": rows("company"), "groups": rows("groups"),
            "shared": rows("shared"), "shared_files": shared_files,
        }),
    ))
}

/// `GET /c/{company}/drive/f/{folder}`: a folder's folders and files.
pub(super) async fn folder(mut ctx: Ctx, Path((cid, folder)): Path<(String, String)>) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Drive)?;
    let folder = ctx.segment(&folder)?;
    let people = super::commands::people(&ctx).await;
    let found = call(&ctx, &m, "drive", json!({ "folder": folder })).await.map_err(|f| ctx.fail(&f))?;
    let f = &found["folder"];
    let base = ctx.base();
    let path: Vec<Value> = found["path"].as_array().into_iter().flatten().map(|p| folder_row(&ctx, p)).collect();
    let folders: Vec<Value> = found["folders"].as_array().into_iter().flatten().map(|c| folder_row(&ctx, c)).collect();
    let documents: Vec<Value> =
        found["documents"].as_array().into_iter().flatten().map(|d| document_row(&ctx, d, &people)).collect();
    let names = |key: &str| -> Vec<String> {
        f[key].as_array().into_iter().flatten().map(|u| collab::name_of(&ctx, &people, u.as_str())).collect()
    };
    let url = format!("{base}/drive/f/{}", encode(&folder));
    Ok(ctx.render(
        "drive.html",
        json!({
            "folder": { "id": folder, "name": f["name"], "url": url, "can_edit": f["can_edit"], "space": f["space"],
                        "shared_read": names("shared_read"), "shared_edit": names("shared_edit") },
            "path": path, "folders": folders, "documents": documents,
            "people": collab::options(&people), "all_groups": groups(&ctx, &m).await,
            "upload_url": format!("{base}/files"),
        }),
    ))
}

/// `GET /c/{company}/drive/trash`: the files the person deleted or may restore.
pub(super) async fn trash(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Drive)?;
    let people = super::commands::people(&ctx).await;
    let found = call(&ctx, &m, "drive", json!({ "trash": true })).await.map_err(|f| ctx.fail(&f))?;
    let documents: Vec<Value> =
        found["documents"].as_array().into_iter().flatten().map(|d| document_row(&ctx, d, &people)).collect();
    Ok(ctx.render("drive.html", json!({ "trash": true, "documents": documents, "days": found["days"] })))
}

/// `GET /c/{company}/drive/d/{document}`: a file: download, versions, access log, shares.
pub(super) async fn document(mut ctx: Ctx, Path((cid, doc)): Path<(String, String)>) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Drive)?;
    let doc = ctx.segment(&doc)?;
    let people = super::commands::people(&ctx).await;
    let versions = call(&ctx, &m, "versions", json!({ "document": doc })).await.map_err(|f| ctx.fail(&f))?;
    let base = ctx.base();
    let rows: Vec<Value> = versions["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            json!({
                "number": v["number"], "current": v["current"],
                "by": collab::name_of(&ctx, &people, v["uploaded_by"].as_str()),
                "at": format::datetime(v["at"].as_str().unwrap_or_default(), ctx.loc()),
                "size": format::file_size(v["size"].as_i64().unwrap_or(0), ctx.lang),
                "download": v["file"]["id"].as_str().map(|f| format!("{base}/files/{}", encode(f))),
            })
        })
        .collect();
    // The access log is for who may edit the file; others see the file without it.
    let log: Option<Vec<Value>> = call(&ctx, &m, "access-log", json!({ "document": doc })).await.ok().map(|l| {
        l["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let action = a["action"].as_str().unwrap_or_default();
                json!({
                    "at": format::datetime(a["at"].as_str().unwrap_or_default(), ctx.loc()),
                    "who": collab::name_of(&ctx, &people, a["user"].as_str()),
                    "action": ctx.t(&format!("drive_{action}")), "version": a["version"],
                })
            })
            .collect()
    });
    let d = &versions["document"];
    let mut comments = super::comments::panel(&ctx, &m, "document", &doc).await;
    if let Some(panel) = comments.as_mut() {
        panel["back"] = json!(format!("{base}/drive/d/{}", encode(&doc)));
    }
    let names = |key: &str| -> Vec<String> {
        d[key].as_array().into_iter().flatten().map(|u| collab::name_of(&ctx, &people, u.as_str())).collect()
    };
    Ok(ctx.render(
        "drive_document.html",
        json!({
            "doc": document_row(&ctx, d, &people),
            "folder_url": format!("{base}/drive/f/{}", encode(d["folder"].as_str().unwrap_or_default())),
            "trashed": d["trashed"], "versions": rows, "log": log, "can_edit": log.is_some(),
            "shared_read": names("shared_read"), "shared_edit": names("shared_edit"),
            "people": collab::options(&people), "all_groups": groups(&ctx, &m).await,
            "url": format!("{base}/drive/d/{}", encode(&doc)),
            "comments": comments,
        }),
    ))
}

/// `POST /c/{company}/drive/f/{folder}/put`: puts an uploaded file in the folder.
pub(super) async fn put(mut ctx: Ctx, Path((cid, folder)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Drive)?;
    let folder = ctx.segment(&folder)?;
    let form = ctx.form(&body)?;
    let file = ctx.segment(form.get("file").unwrap_or_default())?;
    call(&ctx, &m, "upload", json!({ "folder": folder, "file": file })).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/drive/f/{}?ok=saved", ctx.base(), encode(&folder))))
}

/// `POST /c/{company}/drive/folder`: a new folder (in another, or at the top of the
/// company's drive or the person's own).
pub(super) async fn create_folder(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Drive)?;
    let form = ctx.form(&body)?;
    let mut input =
        json!({ "name": form.get("name").unwrap_or_default(), "personal": form.get("personal") == Some("true") });
    if let Some(p) = form.get("parent").filter(|p| !p.is_empty()) {
        input["parent"] = json!(ctx.segment(p)?);
    }
    let created = call(&ctx, &m, "create-folder", input).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/drive/f/{}?ok=created", ctx.base(), encode(created["id"].as_str().unwrap_or_default()))))
}

/// `POST /c/{company}/drive/share`: shares a folder or a file (or takes the share back).
pub(super) async fn share(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Drive)?;
    let form = ctx.form(&body)?;
    let mut input = json!({ "users": form.all("users"), "groups": form.all("groups"), "access": form.get("access").unwrap_or("read") });
    let back = match (form.get("folder").filter(|v| !v.is_empty()), form.get("document").filter(|v| !v.is_empty())) {
        (Some(f), _) => {
            input["folder"] = json!(ctx.segment(f)?);
            format!("{}/drive/f/{}", ctx.base(), encode(f))
        }
        (None, Some(d)) => {
            input["document"] = json!(ctx.segment(d)?);
            format!("{}/drive/d/{}", ctx.base(), encode(d))
        }
        _ => format!("{}/drive", ctx.base()),
    };
    call(&ctx, &m, "share", input).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{back}?ok=saved")))
}

/// `POST /c/{company}/drive/d/{document}/trash` and `/restore`.
pub(super) async fn trash_or_restore(
    mut ctx: Ctx,
    Path((cid, doc, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Drive)?;
    let doc = ctx.segment(&doc)?;
    ctx.form(&body)?;
    let command = match action.as_str() {
        "trash" => "trash",
        "restore" => "restore",
        _ => {
            return Err(ctx.fail(&super::client::Failure {
                status: axum::http::StatusCode::NOT_FOUND,
                ..super::client::Failure::internal(ctx.t("not_found"))
            }));
        }
    };
    let d = call(&ctx, &m, command, json!({ "document": doc })).await.map_err(|f| ctx.fail(&f))?;
    let to = if command == "trash" {
        format!("{}/drive/f/{}?ok=deleted", ctx.base(), encode(d["folder"].as_str().unwrap_or_default()))
    } else {
        format!("{}/drive/d/{}?ok=done", ctx.base(), encode(&doc))
    };
    Ok(see_other(&to))
}
