//! Chats: the person's chats with unread counts, a conversation with replies, files and
//! edits, new direct and group chats, and search in messages. The page's script fetches new
//! messages when the event stream tells of one (and every few seconds while shown).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::collab::{self, Surface, call};
use super::records::Params;
use super::{Ctx, Page, encode, format, render, see_other};
use erp_kernel::plugins::manifest::Manifest;

/// The chat list's model: titles (a direct chat is named after the other person), the last
/// message and unread counts.
fn chat_rows(ctx: &Ctx, chats: &Value, people: &HashMap<String, String>, current: Option<&str>) -> Vec<Value> {
    let base = ctx.base();
    chats["chats"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let id = c["id"].as_str().unwrap_or_default();
            json!({
                "id": id,
                "url": format!("{base}/chat/{}", encode(id)),
                "title": title(ctx, c, people),
                "kind": c["kind"],
                "last": c["last_text"],
                "last_by": c["last_author"].as_str().map(|a| collab::name_of(ctx, people, Some(a))),
                "at": c["last_at"].as_str().map(|t| format::datetime(t, ctx.loc())),
                "unread": c["unread"],
                "current": Some(id) == current,
            })
        })
        .collect()
}

fn title(ctx: &Ctx, c: &Value, people: &HashMap<String, String>) -> String {
    match c["title"].as_str() {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => collab::name_of(ctx, people, c["with"].as_str()),
    }
}

/// One message as the page shows it.
fn message(ctx: &Ctx, m: &Value, people: &HashMap<String, String>) -> Value {
    let base = ctx.base();
    let file = m["file"]["id"].as_str().map(|id| {
        json!({
            "url": format!("{base}/files/{}", encode(id)),
            "name": m["file"]["name"],
            "size": format::file_size(m["file"]["size"].as_i64().unwrap_or(0), ctx.lang),
        })
    });
    let reply = m["reply_to"]["id"].as_str().map(|id| {
        json!({ "id": id, "author": collab::name_of(ctx, people, m["reply_to"]["author"].as_str()), "text": m["reply_to"]["text"] })
    });
    json!({
        "id": m["id"], "author": collab::name_of(ctx, people, m["author"].as_str()), "text": m["text"],
        "at": format::datetime(m["at"].as_str().unwrap_or_default(), ctx.loc()), "mine": m["mine"],
        "edited": m["edited_at"].is_string(), "file": file, "reply": reply,
    })
}

/// `GET /c/{company}/chat`: the chats, a search in messages, new chats.
pub(super) async fn index(mut ctx: Ctx, Path(cid): Path<String>, RawQuery(raw): RawQuery) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Chat)?;
    let people = super::commands::people(&ctx).await;
    let chats = call(&ctx, &m, "chats", json!({})).await.map_err(|f| ctx.fail(&f))?;
    let params = Params::parse(raw);
    let q = params.get("q").map(str::to_string);
    let found = match &q {
        Some(q) => Some(search(&ctx, &m, q, &people).await?),
        None => None,
    };
    Ok(ctx.render(
        "chat.html",
        json!({
            "chats": chat_rows(&ctx, &chats, &people, None), "people": collab::options(&people),
            "searched": found.is_some(), "search_q": q, "found": found, "me_id": ctx.me["id"],
        }),
    ))
}

async fn search(ctx: &Ctx, m: &Manifest, q: &str, people: &HashMap<String, String>) -> Result<Vec<Value>, Response> {
    let found = call(ctx, m, "search-messages", json!({ "q": q })).await.map_err(|f| ctx.fail(&f))?;
    let base = ctx.base();
    Ok(found["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let chat_title = match r["chat_title"].as_str() {
                Some(t) => t.to_string(),
                None => collab::name_of(ctx, people, r["chat_with"].as_str()),
            };
            json!({
                "url": format!("{base}/chat/{}#m-{}", encode(r["chat"].as_str().unwrap_or_default()), r["id"].as_str().unwrap_or_default()),
                "chat": chat_title, "author": collab::name_of(ctx, people, r["author"].as_str()),
                "at": format::datetime(r["at"].as_str().unwrap_or_default(), ctx.loc()), "text": r["text"],
            })
        })
        .collect())
}

/// `GET /c/{company}/chat/{chat}`: a conversation, read up to now.
pub(super) async fn conversation(
    mut ctx: Ctx,
    Path((cid, chat)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Chat)?;
    let chat = ctx.segment(&chat)?;
    let people = super::commands::people(&ctx).await;
    let params = Params::parse(raw);
    let mut input = json!({ "chat": chat, "limit": 50 });
    if let Some(before) = params.get("before") {
        input["before"] = json!(before);
    }
    let page = call(&ctx, &m, "messages", input).await.map_err(|f| ctx.fail(&f))?;
    call(&ctx, &m, "mark-read", json!({ "chat": chat })).await.map_err(|f| ctx.fail(&f))?;
    let chats = call(&ctx, &m, "chats", json!({})).await.map_err(|f| ctx.fail(&f))?;
    let messages: Vec<Value> =
        page["messages"].as_array().into_iter().flatten().map(|m| message(&ctx, m, &people)).collect();
    let base = ctx.base();
    let first = messages.first().and_then(|m| m["id"].as_str()).map(str::to_string);
    let last = messages.last().and_then(|m| m["id"].as_str()).map(str::to_string);
    let members: Vec<Value> = page["chat"]["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| json!(collab::name_of(&ctx, &people, m.as_str())))
        .collect();
    let info = &page["chat"];
    let reply_to = params.get("reply").and_then(|r| messages.iter().find(|m| m["id"].as_str() == Some(r)).cloned());
    let editing = params
        .get("edit")
        .and_then(|r| messages.iter().find(|m| m["id"].as_str() == Some(r) && m["mine"] == true).cloned());
    Ok(ctx.render(
        "chat.html",
        json!({
            "chats": chat_rows(&ctx, &chats, &people, Some(&chat)),
            "chat": { "id": chat, "title": title(&ctx, info, &people), "kind": info["kind"], "members": members,
                      "url": format!("{base}/chat/{}", encode(&chat)), "group": info["group"] },
            "messages": messages,
            "older": page["more"].as_bool().unwrap_or(false).then(|| format!("{base}/chat/{}?before={}", encode(&chat), first.clone().unwrap_or_default())),
            "last": last,
            "since": format!("{base}/chat/{}/since", encode(&chat)),
            "people": collab::options(&people), "me_id": ctx.me["id"],
            "reply_to": reply_to, "editing": editing,
            "upload_url": format!("{base}/files"),
        }),
    ))
}

/// `GET /c/{company}/chat/{chat}/since?after=`: the messages after one, as list items for
/// the page's script; the chat is read up to them.
pub(super) async fn since(mut ctx: Ctx, Path((cid, chat)): Path<(String, String)>, RawQuery(raw): RawQuery) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Chat)?;
    let chat = ctx.segment(&chat)?;
    let params = Params::parse(raw);
    let mut input = json!({ "chat": chat, "limit": 100 });
    if let Some(after) = params.get("after") {
        input["after"] = json!(ctx.segment(after)?);
    }
    let page = call(&ctx, &m, "messages", input).await.map_err(|f| ctx.fail(&f))?;
    let people = super::commands::people(&ctx).await;
    let messages: Vec<Value> =
        page["messages"].as_array().into_iter().flatten().map(|m| message(&ctx, m, &people)).collect();
    if !messages.is_empty() {
        call(&ctx, &m, "mark-read", json!({ "chat": chat })).await.map_err(|f| ctx.fail(&f))?;
    }
    let url = format!("{}/chat/{}", ctx.base(), encode(&chat));
    let html =
        render::fragment(ctx.lang, "chat_messages.html", json!({ "messages": messages, "chat": { "url": url } }));
    Ok(([(header::CACHE_CONTROL, "no-store")], html).into_response())
}

/// `POST /c/{company}/chat/{chat}`: sends a message (text, a reply, a file), or saves an edit.
pub(super) async fn send(mut ctx: Ctx, Path((cid, chat)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Chat)?;
    let chat = ctx.segment(&chat)?;
    let form = ctx.form(&body)?;
    let text = form.get("text").map(str::trim).filter(|t| !t.is_empty());
    let url = format!("{}/chat/{}", ctx.base(), encode(&chat));
    if let Some(id) = form.get("edit").filter(|e| !e.is_empty()) {
        let id = ctx.segment(id)?;
        call(&ctx, &m, "edit-message", json!({ "id": id, "text": text.unwrap_or_default() }))
            .await
            .map_err(|f| ctx.fail(&f))?;
        return Ok(see_other(&format!("{url}#m-{id}")));
    }
    let people = super::commands::people(&ctx).await;
    let members = call(&ctx, &m, "messages", json!({ "chat": chat, "limit": 1 })).await.map_err(|f| ctx.fail(&f))?;
    let in_chat: Vec<&str> =
        members["chat"]["members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mentions: Vec<String> = collab::mentioned(text.unwrap_or_default(), &people)
        .into_iter()
        .filter(|m| in_chat.contains(&m.as_str()))
        .collect();
    let mut input = json!({ "chat": chat, "mentions": mentions });
    if let Some(t) = text {
        input["text"] = json!(t);
    }
    for key in ["reply_to", "file"] {
        if let Some(v) = form.get(key).filter(|v| !v.is_empty()) {
            input[key] = json!(v);
        }
    }
    let sent = call(&ctx, &m, "post-message", input).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{url}#m-{}", sent["id"].as_str().unwrap_or_default())))
}

/// `POST /c/{company}/chat/direct`: the direct chat with a colleague.
pub(super) async fn direct(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Chat)?;
    let form = ctx.form(&body)?;
    let user = form.get("user").unwrap_or_default().to_string();
    let chat = call(&ctx, &m, "open-direct", json!({ "user": user })).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/chat/{}", ctx.base(), encode(chat["id"].as_str().unwrap_or_default()))))
}

/// `POST /c/{company}/chat/new`: a group chat with the people chosen.
pub(super) async fn create(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Chat)?;
    let form = ctx.form(&body)?;
    let input = json!({ "title": form.get("title").unwrap_or_default(), "members": form.all("members") });
    let chat = call(&ctx, &m, "create-chat", input).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/chat/{}", ctx.base(), encode(chat["id"].as_str().unwrap_or_default()))))
}

/// `POST /c/{company}/chat/{chat}/members`: more people in a group chat.
pub(super) async fn add_members(mut ctx: Ctx, Path((cid, chat)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Chat)?;
    let chat = ctx.segment(&chat)?;
    let form = ctx.form(&body)?;
    call(&ctx, &m, "add-chat-members", json!({ "chat": chat, "members": form.all("members") }))
        .await
        .map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/chat/{}", ctx.base(), encode(&chat))))
}

/// `POST /c/{company}/chat/{chat}/leave`: out of a group chat.
pub(super) async fn leave(mut ctx: Ctx, Path((cid, chat)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let m = collab::require(&ctx, Surface::Chat)?;
    let chat = ctx.segment(&chat)?;
    ctx.form(&body)?;
    call(&ctx, &m, "leave-chat", json!({ "chat": chat })).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/chat?ok=done", ctx.base())))
}
