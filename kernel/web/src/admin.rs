//! Administration pages: installed plugins (upload, capabilities, enable and disable per
//! company), members and roles, the audit log and the event log with dead-letter replay.

use axum::body::Bytes;
use axum::extract::{Multipart, Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::client::Failure;
use super::records::Params;
use super::{Ctx, Page, format, meta, see_other, session};
use erp_kernel::access::permissions;
use erp_kernel::plugins::manifest::{Access, Manifest};

async fn plugins_page(ctx: &Ctx, failure: Option<&Failure>) -> Page {
    let installed = ctx.api.get("/api/v1/plugins").await.map_err(|f| ctx.fail(&f))?;
    let company = ctx.company()?;
    // Usage and quarantine need the company's read permission; without it the columns stay empty.
    let usage = ctx.api.get(&format!("/api/v1/companies/{}/usage", company.id)).await.unwrap_or(Value::Null);
    let of = |name: &str| {
        usage["plugins"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["plugin"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let plugins: Vec<Value> = installed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let name = p["name"].as_str().unwrap_or_default();
            let manifest = serde_json::from_value::<Manifest>(p["manifest"].clone()).ok();
            let label = manifest.as_ref().map_or_else(|| name.to_string(), |m| meta::plugin_label(m, ctx.lang));
            let summary = manifest.as_ref().map_or_else(String::new, |m| meta::plugin_summary(m, ctx.lang));
            let u = of(name);
            let quarantined = u["quarantined_at"].as_str().map(|at| format::datetime(at, ctx.loc()));
            json!({ "name": name, "label": label, "version": p["version"], "publisher": p["publisher"],
                    "description": summary, "enabled": company.plugin(name).is_some(),
                    "records": u["records"].as_i64().map(|n| format::number(&n.to_string(), ctx.lang)),
                    "quarantined": quarantined, "last_limit": u["last_limit"] })
        })
        .collect();
    let page = json!({ "plugins": plugins, "base": ctx.base(),
        "error": failure.map(|f| f.message.clone()), "problems": failure.map(|f| f.problems.clone()) });
    Ok(ctx.render_status(failure.map(|f| f.status).unwrap_or(StatusCode::OK), "admin_plugins.html", page))
}

pub(super) async fn plugins(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    plugins_page(&ctx, None).await
}

/// Installs an uploaded package (the API decides who may), then shows what it asks for.
pub(super) async fn upload(
    mut ctx: Ctx,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
    mut multipart: Multipart,
) -> Page {
    ctx.enter(&cid).await?;
    // A multipart body is read only after its token checked out, which rides in the query.
    let params = Params::parse(raw);
    if !session::csrf_ok(&ctx.secret, params.get(session::CSRF_FIELD)) {
        return Err(ctx.csrf_refused());
    }
    let mut package = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("package") => match field.bytes().await {
                Ok(b) => package = Some(b.to_vec()),
                Err(e) => return plugins_page(&ctx, Some(&bad(e.body_text()))).await,
            },
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return plugins_page(&ctx, Some(&bad(e.body_text()))).await,
        }
    }
    let Some(bytes) = package.filter(|b| !b.is_empty()) else {
        return plugins_page(&ctx, Some(&bad(ctx.t("package")))).await;
    };
    match ctx.api.upload("/api/v1/plugins", bytes).await {
        Ok(done) => {
            Ok(see_other(&format!("{}/admin/plugins/{}", ctx.base(), done["name"].as_str().unwrap_or_default())))
        }
        Err(f) => plugins_page(&ctx, Some(&f)).await,
    }
}

fn bad(message: String) -> Failure {
    Failure { status: StatusCode::BAD_REQUEST, ..Failure::internal(message) }
}

async fn plugin_page(ctx: &Ctx, name: &str, failure: Option<&Failure>) -> Page {
    let described = ctx.api.get(&format!("/api/v1/plugins/{name}")).await.map_err(|f| ctx.fail(&f))?;
    let m: Manifest = serde_json::from_value(described["manifest"].clone())
        .map_err(|e| ctx.fail(&Failure::internal(e.to_string())))?;
    let current = enabled_entry(ctx, name).await.map_err(|f| ctx.fail(&f))?;
    let granted: Vec<String> = current
        .as_ref()
        .and_then(|c| c["grants"].as_array())
        .map(|g| g.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let capabilities: Vec<Value> = m
        .capabilities
        .iter()
        .map(|c| {
            json!({ "collection": c.collection, "reason": c.reason, "sensitive": c.sensitive,
            "access": ctx.t(if c.access == Access::Read { "read" } else { "write" }),
            "granted": granted.contains(&c.collection) })
        })
        .collect();
    let hosts: Vec<Value> = m
        .hosts
        .iter()
        .filter_map(|h| erp_manifest::hosts::normalize(&h.url).ok().map(|url| (url, h)))
        .map(|(url, h)| json!({ "url": url, "reason": h.reason, "granted": granted.contains(&url) }))
        .collect();
    let mail = m.mail.as_ref().map(|spec| {
        json!({ "grant": erp_manifest::MAIL_GRANT, "reason": spec.reason,
                "granted": granted.iter().any(|g| g == erp_manifest::MAIL_GRANT) })
    });
    let page = json!({
        "hosts": hosts, "mail": mail,
        "plugin": { "name": m.plugin.name, "label": meta::plugin_label(&m, ctx.lang), "version": m.plugin.version.to_string(),
                    "description": meta::plugin_summary(&m, ctx.lang), "publisher": m.plugin.publisher },
        "capabilities": capabilities, "enabled": current.is_some(),
        "permissions": m.permissions.iter().map(|p| json!({ "name": p.name, "description": p.label.as_ref().map_or_else(|| super::commands::developer_note(ctx, &p.description).to_string(), |l| l.text(ctx.lang).to_string()) })).collect::<Vec<_>>(),
        "collections": m.collections.iter().map(|(n, c)| json!({ "name": n, "label": meta::collection_label(c, n, ctx.lang) })).collect::<Vec<_>>(),
        "base": ctx.base(), "error": failure.map(|f| f.message.clone()),
    });
    Ok(ctx.render_status(failure.map(|f| f.status).unwrap_or(StatusCode::OK), "admin_plugin.html", page))
}

/// The company's entry of an enabled plugin (its grants and configuration), if enabled.
pub(super) async fn enabled_entry(ctx: &Ctx, name: &str) -> Result<Option<Value>, Failure> {
    let company = ctx.company.as_ref().ok_or_else(|| Failure::internal("no company chosen"))?;
    let enabled = ctx.api.get(&format!("/api/v1/companies/{}/plugins", company.id)).await?;
    Ok(enabled["items"].as_array().into_iter().flatten().find(|p| p["name"].as_str() == Some(name)).cloned())
}

pub(super) async fn plugin(mut ctx: Ctx, Path((cid, name)): Path<(String, String)>) -> Page {
    ctx.enter(&cid).await?;
    let name = ctx.segment(&name)?;
    plugin_page(&ctx, &name, None).await
}

/// Enables the plugin with the capabilities the admin ticked; the configuration stays as it
/// was (defaults on first enabling).
pub(super) async fn enable(mut ctx: Ctx, Path((cid, name)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let name = ctx.segment(&name)?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?;
    let current = enabled_entry(&ctx, &name).await.map_err(|f| ctx.fail(&f))?;
    let config = current.map(|p| p["config"].clone()).unwrap_or(json!({}));
    let grants: Vec<&str> = form.all("grant");
    let answer = ctx
        .api
        .put(&format!("/api/v1/companies/{}/plugins/{name}", company.id), json!({ "grants": grants, "config": config }))
        .await;
    match answer {
        Ok(_) => Ok(see_other(&format!("{}/admin/plugins/{name}?ok=done", ctx.base()))),
        Err(f) => plugin_page(&ctx, &name, Some(&f)).await,
    }
}

pub(super) async fn disable(mut ctx: Ctx, Path((cid, name)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let name = ctx.segment(&name)?;
    ctx.form(&body)?;
    let company = ctx.company()?;
    match ctx.api.delete(&format!("/api/v1/companies/{}/plugins/{name}", company.id)).await {
        Ok(_) => Ok(see_other(&format!("{}/admin/plugins/{name}?ok=done", ctx.base()))),
        Err(f) => plugin_page(&ctx, &name, Some(&f)).await,
    }
}

pub(super) async fn release(mut ctx: Ctx, Path((cid, name)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let name = ctx.segment(&name)?;
    ctx.form(&body)?;
    let company = ctx.company()?;
    match ctx.api.post(&format!("/api/v1/companies/{}/plugins/{name}/release", company.id), json!({})).await {
        Ok(_) => Ok(see_other(&format!("{}/admin/plugins", ctx.base()))),
        Err(f) => plugins_page(&ctx, Some(&f)).await,
    }
}

async fn members_page(ctx: &Ctx, failure: Option<&Failure>) -> Page {
    let company = ctx.company()?;
    let members =
        ctx.api.get(&format!("/api/v1/companies/{}/members?limit=500", company.id)).await.map_err(|f| ctx.fail(&f))?;
    let roles = ctx.api.get(&format!("/api/v1/companies/{}/roles", company.id)).await.unwrap_or(json!({ "items": [] }));
    let page = json!({
        "members": members["items"], "roles": roles["items"], "base": ctx.base(),
        "role_names": { "owner": ctx.t("role_owner"), "admin": ctx.t("role_admin"), "member": ctx.t("role_member") },
        "manage": company.can(permissions::MEMBERS_MANAGE), "manage_roles": company.can(permissions::ROLES_MANAGE),
        "error": failure.map(|f| {
            let detail: Vec<String> = f.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if detail.is_empty() { f.message.clone() } else { format!("{} ({})", f.message, detail.join("; ")) }
        }),
    });
    Ok(ctx.render_status(failure.map(|f| f.status).unwrap_or(StatusCode::OK), "admin_members.html", page))
}

pub(super) async fn members(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    members_page(&ctx, None).await
}

/// Runs a change and shows the members page again, with the refusal if there was one.
async fn member_change(ctx: &Ctx, result: Result<Value, Failure>) -> Page {
    match result {
        Ok(_) => Ok(see_other(&format!("{}/admin/members?ok=saved", ctx.base()))),
        Err(f) => members_page(ctx, Some(&f)).await,
    }
}

pub(super) async fn add_member(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/members", ctx.company()?.id);
    let r = ctx
        .api
        .post(
            &path,
            json!({ "email": form.get("email").unwrap_or_default(), "role": form.get("role").unwrap_or_default() }),
        )
        .await;
    member_change(&ctx, r).await
}

/// A new user (platform operators), made a member of this company with the chosen role.
pub(super) async fn create_user(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let email = form.get("email").unwrap_or_default().to_string();
    let user = json!({ "email": email, "name": form.get("name").unwrap_or_default(), "password": form.get("password").unwrap_or_default() });
    let r = match ctx.api.post("/api/v1/users", user).await {
        Ok(_) => {
            let path = format!("/api/v1/companies/{}/members", ctx.company()?.id);
            ctx.api.post(&path, json!({ "email": email, "role": form.get("role").unwrap_or_default() })).await
        }
        Err(f) => Err(f),
    };
    member_change(&ctx, r).await
}

pub(super) async fn change_member(mut ctx: Ctx, Path((cid, uid)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let uid = ctx.segment(&uid)?;
    let form = ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/members/{uid}", ctx.company()?.id);
    let r = ctx.api.patch(&path, json!({ "role": form.get("role").unwrap_or_default() }), None).await;
    member_change(&ctx, r).await
}

pub(super) async fn remove_member(mut ctx: Ctx, Path((cid, uid)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let uid = ctx.segment(&uid)?;
    ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/members/{uid}", ctx.company()?.id);
    let r = ctx.api.delete(&path).await;
    member_change(&ctx, r).await
}

pub(super) async fn create_role(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let perms: Vec<&str> =
        form.get("permissions").unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let path = format!("/api/v1/companies/{}/roles", ctx.company()?.id);
    let r = ctx
        .api
        .post(&path, json!({ "name": form.get("name").unwrap_or_default(), "description": form.get("description").unwrap_or_default(), "permissions": perms }))
        .await;
    member_change(&ctx, r).await
}

pub(super) async fn delete_role(mut ctx: Ctx, Path((cid, name)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let name = ctx.segment(&name)?;
    ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/roles/{name}", ctx.company()?.id);
    let r = ctx.api.delete(&path).await;
    member_change(&ctx, r).await
}

/// One page (100 rows) of a company log the API pages by cursor (`audit`, `outbound`), from
/// the cursor in this page's query, and the address of the next page.
async fn log_page(ctx: &Ctx, raw: Option<String>, log: &str) -> Result<(Value, Option<String>), Response> {
    let params = Params::parse(raw);
    let company = ctx.company()?;
    let mut path = format!("/api/v1/companies/{}/{log}?limit=100", company.id);
    if let Some(c) = params.get("cursor") {
        path.push_str(&format!("&cursor={}", super::encode(c)));
    }
    let found = ctx.api.get(&path).await.map_err(|f| ctx.fail(&f))?;
    let next = found["next_cursor"].as_str().map(|c| format!("{}/admin/{log}?cursor={}", ctx.base(), super::encode(c)));
    Ok((found, next))
}

pub(super) async fn audit(mut ctx: Ctx, Path(cid): Path<String>, RawQuery(raw): RawQuery) -> Page {
    ctx.enter(&cid).await?;
    let (found, next) = log_page(&ctx, raw, "audit").await?;
    let items: Vec<Value> = found["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| json!({
            "at": format::value(&a["at"], None, ctx.loc()), "actor": a["actor_id"].as_str().map(|s| s.chars().take(8).collect::<String>()),
            "action": a["action"], "outcome": a["outcome"],
            "object": format!("{} {}", a["object_type"].as_str().unwrap_or_default(), a["object_id"].as_str().map(|s| s.chars().take(8).collect::<String>()).unwrap_or_default()),
        }))
        .collect();
    Ok(ctx.render("admin_audit.html", json!({ "items": items, "next_url": next })))
}

/// Requests to hosts outside the platform: who made each, where to, how it ended.
pub(super) async fn outbound(mut ctx: Ctx, Path(cid): Path<String>, RawQuery(raw): RawQuery) -> Page {
    ctx.enter(&cid).await?;
    let (found, next) = log_page(&ctx, raw, "outbound").await?;
    let company = ctx.company()?;
    let items: Vec<Value> = found["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let source = e["source"].as_str().unwrap_or_default();
            let who = match company.plugin(source) {
                Some(m) => meta::plugin_label(m, ctx.lang),
                None if source == "webhooks" => ctx.t("outgoing_webhooks"),
                None if source == "mail" => ctx.t("mail"),
                None => source.to_string(),
            };
            let outcome = e["outcome"].as_str().unwrap_or_default();
            json!({
                "at": format::value(&e["at"], None, ctx.loc()), "source": who, "method": e["method"], "host": e["host"],
                "status": e["status"], "outcome": outcome, "outcome_label": ctx.t(&format!("outbound_{outcome}")),
                "error": e["error"],
                "duration": format::number(&e["duration_ms"].as_i64().unwrap_or(0).to_string(), ctx.lang),
            })
        })
        .collect();
    Ok(ctx.render("admin_outbound.html", json!({ "items": items, "next_url": next })))
}

async fn webhooks_page(ctx: &Ctx, secret: Option<&str>, failure: Option<&Failure>) -> Page {
    let company = ctx.company()?;
    let found =
        ctx.api.get(&format!("/api/v1/companies/{}/outgoing-webhooks", company.id)).await.map_err(|f| ctx.fail(&f))?;
    let page = json!({
        "items": found["items"], "base": ctx.base(), "secret": secret,
        "manage": company.can(permissions::EVENTS_MANAGE),
        "error": failure.map(|f| {
            let detail: Vec<String> = f.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            if detail.is_empty() { f.message.clone() } else { format!("{} ({})", f.message, detail.join("; ")) }
        }),
    });
    Ok(ctx.render_status(failure.map(|f| f.status).unwrap_or(StatusCode::OK), "admin_webhooks.html", page))
}

/// The company's outgoing webhooks, with a form to add one.
pub(super) async fn webhooks(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    webhooks_page(&ctx, None, None).await
}

/// Adds a webhook and shows its signing secret once.
pub(super) async fn add_webhook(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let events: Vec<String> = form
        .get("events")
        .unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect();
    let body = json!({ "url": form.get("url").unwrap_or_default().trim(), "events": events,
                       "description": form.get("description").unwrap_or_default().trim() });
    let path = format!("/api/v1/companies/{}/outgoing-webhooks", ctx.company()?.id);
    match ctx.api.post(&path, body).await {
        Ok(created) => webhooks_page(&ctx, created["secret"].as_str(), None).await,
        Err(f) => webhooks_page(&ctx, None, Some(&f)).await,
    }
}

/// Pauses or resumes a webhook.
pub(super) async fn change_webhook(mut ctx: Ctx, Path((cid, id)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let id = ctx.segment(&id)?;
    let form = ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/outgoing-webhooks/{id}", ctx.company()?.id);
    match ctx.api.patch(&path, json!({ "active": form.get("active") == Some("true") }), None).await {
        Ok(_) => Ok(see_other(&format!("{}/admin/webhooks?ok=saved", ctx.base()))),
        Err(f) => webhooks_page(&ctx, None, Some(&f)).await,
    }
}

/// Removes a webhook.
pub(super) async fn delete_webhook(mut ctx: Ctx, Path((cid, id)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let id = ctx.segment(&id)?;
    ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/outgoing-webhooks/{id}", ctx.company()?.id);
    match ctx.api.delete(&path).await {
        Ok(_) => Ok(see_other(&format!("{}/admin/webhooks?ok=done", ctx.base()))),
        Err(f) => webhooks_page(&ctx, None, Some(&f)).await,
    }
}

pub(super) async fn events(mut ctx: Ctx, Path(cid): Path<String>, RawQuery(raw): RawQuery) -> Page {
    ctx.enter(&cid).await?;
    let params = Params::parse(raw);
    let company = ctx.company()?;
    let mut path = format!("/api/v1/companies/{}/events?limit=100", company.id);
    for key in ["cursor", "name"] {
        if let Some(v) = params.get(key) {
            path.push_str(&format!("&{key}={}", super::encode(v)));
        }
    }
    let dead_only = params.get("dead").is_some();
    let (found, error) = match ctx.api.get(&path).await {
        Ok(f) => (f, None),
        Err(f) if f.status == StatusCode::FORBIDDEN => return Err(ctx.fail(&f)),
        Err(f) => (json!({ "items": [] }), Some(f.message)),
    };
    let items: Vec<Value> = found["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let dead = e["deliveries"].as_array().is_some_and(|d| d.iter().any(|d| d["state"] == "dead"));
            json!({ "id": e["id"], "name": e["name"], "source": e["source"], "deliveries": e["deliveries"], "dead": dead,
                    "at": format::value(&e["occurred_at"], None, ctx.loc()) })
        })
        .filter(|e| !dead_only || e["dead"] == true)
        .collect();
    let next = found["next_cursor"].as_str().map(|c| {
        let mut url = format!("{}/admin/events?cursor={}", ctx.base(), super::encode(c));
        if dead_only {
            url.push_str("&dead=1");
        }
        if let Some(name) = params.get("name") {
            url.push_str(&format!("&name={}", super::encode(name)));
        }
        url
    });
    let page = json!({ "items": items, "next_url": next, "dead": dead_only, "name": params.get("name"), "error": error,
                       "manage": company.can(permissions::EVENTS_MANAGE), "base": ctx.base() });
    Ok(ctx.render("admin_events.html", page))
}

pub(super) async fn replay(mut ctx: Ctx, Path((cid, eid)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let eid = ctx.segment(&eid)?;
    ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/events/{eid}/replay", ctx.company()?.id);
    ctx.api.post(&path, json!({})).await.map_err(|f| ctx.fail(&f))?;
    Ok(see_other(&format!("{}/admin/events?ok=done", ctx.base())))
}

/// What the mail page says after an action: a notice or a failure.
enum MailOutcome<'a> {
    Notice(String),
    Failed(&'a Failure),
}

async fn mail_page(ctx: &Ctx, outcome: Option<MailOutcome<'_>>) -> Page {
    let company = ctx.company()?;
    let s = ctx.api.get(&format!("/api/v1/companies/{}/mail", company.id)).await.map_err(|f| ctx.fail(&f))?;
    // The webhooks of the company's plugins that take a raw e-mail message.
    let mut targets: Vec<Value> = company
        .plugins
        .iter()
        .flat_map(|m| {
            m.webhooks.iter().filter(|w| w.mail).map(move |w| {
                let value = format!("{}/{}", m.plugin.name, w.name);
                let label = match &w.label {
                    Some(l) => l.text(ctx.lang).to_string(),
                    None => meta::plugin_label(m, ctx.lang),
                };
                json!({ "value": value, "label": label })
            })
        })
        .collect();
    targets.sort_by(|a, b| a["label"].as_str().cmp(&b["label"].as_str()));
    let (notice, error, status) = match outcome {
        Some(MailOutcome::Notice(n)) => (Some(n), None, StatusCode::OK),
        Some(MailOutcome::Failed(f)) => {
            let detail: Vec<String> = f.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let message =
                if detail.is_empty() { f.message.clone() } else { format!("{} ({})", f.message, detail.join("; ")) };
            (None, Some(message), f.status)
        }
        None => (None, None, StatusCode::OK),
    };
    let sent = ctx
        .api
        .get(&format!("/api/v1/companies/{}/mail/outbox?limit=20", company.id))
        .await
        .map_err(|f| ctx.fail(&f))?;
    let outbox: Vec<Value> = sent["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let status = m["status"].as_str().unwrap_or_default();
            json!({
                "at": format::value(&m["created_at"], None, ctx.loc()), "recipient": m["recipient"],
                "subject": m["subject"], "status": status, "status_label": ctx.t(&format!("mail_status_{status}")),
                "error": m["error"],
                "unsubscribed": m["unsubscribed"].as_bool().unwrap_or(false).then(|| ctx.t("mail_unsubscribed")),
            })
        })
        .collect();
    let checked = match &s["checked_at"] {
        Value::Null => ctx.t("mail_never"),
        at => format::value(at, None, ctx.loc()),
    };
    let securities: Vec<Value> = ["starttls", "tls", "none"]
        .iter()
        .map(|k| json!({ "value": k, "label": ctx.t(&format!("mail_security_{k}")) }))
        .collect();
    let page = json!({
        "s": s, "base": ctx.base(), "targets": targets, "checked": checked,
        "received": format::number(&s["received"].as_i64().unwrap_or(0).to_string(), ctx.lang),
        "notice": notice, "error": error, "outbox": outbox,
        "securities": securities,
    });
    Ok(ctx.render_status(status, "admin_mail.html", page))
}

/// The company's mail settings: the outgoing server and the mailbox read into an inbox.
pub(super) async fn mail(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    mail_page(&ctx, None).await
}

/// Saves the mail settings; a password field left empty keeps the stored password.
pub(super) async fn save_mail(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let text = |name: &str| form.get(name).unwrap_or_default().trim().to_string();
    let port = |name: &str| form.get(name).and_then(|p| p.trim().parse::<u16>().ok()).unwrap_or(0);
    let password = |name: &str, clear: &str| match (form.get(name).unwrap_or_default(), form.get(clear)) {
        (_, Some("on")) => Some(String::new()),
        ("", _) => None,
        (p, _) => Some(p.to_string()),
    };
    let mut body = json!({
        "from_address": text("from_address"), "from_name": text("from_name"),
        "smtp_host": text("smtp_host"), "smtp_port": port("smtp_port"), "smtp_security": text("smtp_security"),
        "smtp_username": text("smtp_username"),
        "imap_host": text("imap_host"), "imap_port": port("imap_port"), "imap_security": text("imap_security"),
        "imap_username": text("imap_username"), "imap_folder": text("imap_folder"), "deliver_to": text("deliver_to"),
    });
    for (field, clear) in [("smtp_password", "smtp_password_clear"), ("imap_password", "imap_password_clear")] {
        if let Some(p) = password(field, clear) {
            body[field] = json!(p);
        }
    }
    let path = format!("/api/v1/companies/{}/mail", ctx.company()?.id);
    match ctx.api.put(&path, body).await {
        Ok(_) => Ok(see_other(&format!("{}/admin/mail?ok=saved", ctx.base()))),
        Err(f) => mail_page(&ctx, Some(MailOutcome::Failed(&f))).await,
    }
}

/// Sends a test message through the saved settings.
pub(super) async fn test_mail(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/mail/test", ctx.company()?.id);
    match ctx.api.post(&path, json!({ "to": form.get("to").unwrap_or_default().trim() })).await {
        Ok(_) => mail_page(&ctx, Some(MailOutcome::Notice(ctx.t("mail_test_sent")))).await,
        Err(f) => mail_page(&ctx, Some(MailOutcome::Failed(&f))).await,
    }
}

/// Checks the mailbox now and says what came of it.
pub(super) async fn poll_mail(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    ctx.form(&body)?;
    let path = format!("/api/v1/companies/{}/mail/poll", ctx.company()?.id);
    match ctx.api.post(&path, json!({})).await {
        Ok(r) => {
            let mut notice = ctx.t("mail_poll_done");
            for key in ["found", "delivered", "duplicates", "refused", "bounces"] {
                let n = format::number(&r[key].as_u64().unwrap_or(0).to_string(), ctx.lang);
                notice = notice.replace(&format!("{{{key}}}"), &n);
            }
            mail_page(&ctx, Some(MailOutcome::Notice(notice))).await
        }
        Err(f) => mail_page(&ctx, Some(MailOutcome::Failed(&f))).await,
    }
}
