//! Document templates for administrators: the kinds of document the company's plugins print,
//! and an editor for each template that saves versions and shows a template's errors by line.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::client::Failure;
use super::{Ctx, Page, encode, format, meta, see_other};

/// The kinds of document the company prints, each language with the version in use.
pub(super) async fn index(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    let company = ctx.company()?;
    let kinds = ctx.api.get(&format!("/api/v1/companies/{}/documents", company.id)).await.map_err(|f| ctx.fail(&f))?;
    let rows: Vec<Value> = kinds
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            let plugin = k["plugin"].as_str().unwrap_or_default();
            let plugin_label = company.plugin(plugin).map(|m| meta::plugin_label(m, ctx.lang)).unwrap_or_default();
            let languages: Vec<Value> = k["languages"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    let lang = l["language"].as_str().unwrap_or_default();
                    let version = l["version"].as_i64().unwrap_or(0);
                    json!({
                        "label": ctx.t(&format!("language_{lang}")),
                        "url": format!("{}/admin/documents/{}/{}/{}", ctx.base(), encode(plugin), encode(k["document"].as_str().unwrap_or_default()), encode(lang)),
                        "state": if version == 0 { ctx.t("template_shipped") } else { format!("{} {version}", ctx.t("template_version")) },
                    })
                })
                .collect();
            json!({ "label": k["label"], "plugin": plugin_label, "languages": languages })
        })
        .collect();
    Ok(ctx.render("admin_documents.html", json!({ "kinds": rows })))
}

async fn editor(ctx: &Ctx, key: (&str, &str, &str), typed: Option<&str>, failure: Option<&Failure>) -> Page {
    let company = ctx.company()?;
    let (plugin, document, language) = key;
    let path = format!(
        "/api/v1/companies/{}/documents/{}/{}/{}",
        company.id,
        encode(plugin),
        encode(document),
        encode(language)
    );
    let t = ctx.api.get(&path).await.map_err(|f| ctx.fail(&f))?;
    let kinds = ctx.api.get(&format!("/api/v1/companies/{}/documents", company.id)).await.map_err(|f| ctx.fail(&f))?;
    let label = kinds
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["plugin"] == plugin && k["document"] == document)
        .and_then(|k| k["label"].as_str())
        .unwrap_or(document)
        .to_string();
    let people = super::commands::people(ctx).await;
    let versions: Vec<Value> = t["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let by = v["created_by"].as_str().and_then(|u| people.get(u).cloned()).unwrap_or_default();
            json!({ "version": v["version"], "at": format::value(&v["created_at"], None, ctx.loc()), "by": by })
        })
        .collect();
    let problems: Vec<String> = failure
        .map(|f| {
            if f.fields.is_empty() {
                vec![f.message.clone()]
            } else {
                f.fields.iter().map(|(_, m)| m.clone()).collect()
            }
        })
        .unwrap_or_default()
        .iter()
        .map(|p| localized_position(ctx, p))
        .collect();
    let version = t["version"].as_i64().unwrap_or(0);
    let page = json!({
        "label": label, "language": ctx.t(&format!("language_{language}")),
        "source": typed.map_or_else(|| t["source"].clone(), |s| json!(s)),
        "shipped": t["shipped"], "versions": versions, "problems": problems,
        "state": if version == 0 { ctx.t("template_shipped") } else { format!("{} {version}", ctx.t("template_version")) },
        "action": format!("{}/admin/documents/{}/{}/{}", ctx.base(), encode(plugin), encode(document), encode(language)),
        "back": format!("{}/admin/documents", ctx.base()),
    });
    let status = failure.map_or(StatusCode::OK, |f| f.status);
    Ok(ctx.render_status(status, "admin_document.html", page))
}

/// One template: the text in use, the plugin's original and the saved versions.
pub(super) async fn template(
    mut ctx: Ctx,
    Path((cid, plugin, document, language)): Path<(String, String, String, String)>,
) -> Page {
    ctx.enter(&cid).await?;
    editor(&ctx, (&plugin, &document, &language), None, None).await
}

/// Saves the edited template as a new version; errors come back with their lines, the text
/// as typed kept in the editor.
pub(super) async fn save(
    mut ctx: Ctx,
    Path((cid, plugin, document, language)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let source = form.get("source").unwrap_or_default().replace("\r\n", "\n");
    let company = ctx.company()?;
    let path = format!(
        "/api/v1/companies/{}/documents/{}/{}/{}",
        company.id,
        encode(&plugin),
        encode(&document),
        encode(&language)
    );
    match ctx.api.put(&path, json!({ "source": source })).await {
        Ok(_) => Ok(see_other(&format!(
            "{}/admin/documents/{}/{}/{}?ok=saved",
            ctx.base(),
            encode(&plugin),
            encode(&document),
            encode(&language)
        ))),
        Err(f) => editor(&ctx, (&plugin, &document, &language), Some(&source), Some(&f)).await,
    }
}

/// `line 3, column 10: …` as the reader's language writes where a problem is (the compiler's
/// own words after it stay as they are).
fn localized_position(ctx: &Ctx, problem: &str) -> String {
    let parse = || -> Option<(usize, usize, &str)> {
        let rest = problem.strip_prefix("line ")?;
        let (line, rest) = rest.split_once(", column ")?;
        let (column, rest) = rest.split_once(": ")?;
        Some((line.parse().ok()?, column.parse().ok()?, rest))
    };
    match parse() {
        Some((line, column, what)) => {
            format!("{} {line}, {} {column}: {what}", ctx.t("template_line"), ctx.t("template_column"))
        }
        None => problem.to_string(),
    }
}
