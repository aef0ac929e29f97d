//! The search box in the header: records of every collection whose manifest marks fields with
//! `search` (customers by name, INN, phone or e-mail; leads, deals, products, invoices,
//! employees by name or number), only where the person may read them.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use super::records::Params;
use super::{Ctx, Page, fields, meta};
use erp_kernel::plugins::manifest::SearchKind;

/// Most records shown per collection.
const PER_COLLECTION: usize = 8;

pub(super) async fn search(mut ctx: Ctx, Path(cid): Path<String>, RawQuery(raw): RawQuery) -> Page {
    ctx.enter(&cid).await?;
    let params = Params::parse(raw);
    let q: String = params.get("q").unwrap_or_default().trim().chars().take(100).collect();
    let groups = if q.chars().count() >= 2 { find(&ctx, &q).await } else { Vec::new() };
    Ok(ctx.render("search.html", json!({ "q": q, "groups": groups })))
}

/// `Иван` and `иван` both start names written with a capital.
fn capitalized(q: &str) -> String {
    let mut chars = q.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The contact key prefix a typed phone number or e-mail address starts with, if it is one.
pub(super) fn key_prefix(q: &str) -> Option<String> {
    let q = q.trim();
    if q.contains('@') {
        return Some(format!("email:{}", q.to_lowercase()));
    }
    if !q.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
        return None;
    }
    let mut digits: String = q.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 4 {
        return None;
    }
    if digits.starts_with('8') && !q.starts_with('+') {
        digits.replace_range(0..1, "7");
    } else if digits.starts_with('9') && !q.starts_with('+') {
        digits.insert(0, '7');
    }
    Some(format!("phone:{digits}"))
}

/// The filters that look `q` up in a field searched the `kind` way.
fn filters(field: &str, kind: SearchKind, q: &str) -> Vec<Value> {
    match kind {
        SearchKind::Exact => vec![json!({ "field": field, "op": "eq", "value": q })],
        SearchKind::Key => {
            key_prefix(q).map(|p| json!({ "field": field, "op": "prefix", "value": p })).into_iter().collect()
        }
        SearchKind::Text => {
            let mut variants = vec![q.to_string(), capitalized(q)];
            variants.dedup();
            variants.into_iter().map(|v| json!({ "field": field, "op": "prefix", "value": v })).collect()
        }
    }
}

/// Matches grouped by the collection they show, each group named and each match linked.
async fn find(ctx: &Ctx, q: &str) -> Vec<Value> {
    let Some(company) = ctx.company.as_ref() else { return Vec::new() };
    // (plugin, collection) -> record ids in the order found.
    let mut found: Vec<((String, String), Vec<String>)> = Vec::new();
    for m in &company.plugins {
        for (cname, coll) in &m.collections {
            let searched: Vec<(&String, SearchKind)> =
                coll.fields.iter().filter_map(|(n, f)| f.search.map(|k| (n, k))).collect();
            if searched.is_empty() || !company.may_read(m, cname) {
                continue;
            }
            let mut hits: Vec<Value> = Vec::new();
            for (field, kind) in searched {
                for filter in filters(field, kind, q) {
                    if hits.len() >= PER_COLLECTION {
                        break;
                    }
                    let path = format!("/api/v1/companies/{}/data/{}/{cname}/query", company.id, m.plugin.name);
                    // A field the person may not filter by (sensitive) simply finds nothing.
                    let Ok(answer) = ctx.api.post(&path, json!({ "filter": filter, "limit": PER_COLLECTION })).await
                    else {
                        continue;
                    };
                    for r in answer["items"].as_array().into_iter().flatten() {
                        if !hits.iter().any(|h| h["id"] == r["id"]) {
                            hits.push(r.clone());
                        }
                    }
                }
            }
            let (target, ids): (String, Vec<String>) = match &coll.search_shows {
                Some(via) => {
                    let to = coll.fields.get(via).and_then(|f| f.to.clone()).unwrap_or_default();
                    (to, hits.iter().filter_map(|r| r["data"][via].as_str().map(str::to_string)).collect())
                }
                None => (cname.clone(), hits.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect()),
            };
            let key = (m.plugin.name.clone(), target);
            match found.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.extend(ids),
                None if !ids.is_empty() => found.push((key, ids)),
                None => {}
            }
        }
    }
    let mut groups = Vec::new();
    for ((plugin, coll), mut ids) in found {
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        ids.truncate(PER_COLLECTION);
        let Some(m) = company.plugin(&plugin) else { continue };
        let Some(spec) = m.collections.get(&coll) else { continue };
        let titles: HashMap<String, String> = fields::titles(ctx, m, &coll, &ids).await.unwrap_or_default();
        let items: Vec<Value> = ids
            .iter()
            .filter_map(|id| {
                let title = titles.get(id)?;
                Some(json!({ "title": title, "url": format!("{}/p/{plugin}/d/{coll}/r/{id}", ctx.base()) }))
            })
            .collect();
        if !items.is_empty() {
            groups.push(json!({ "label": meta::plural_label(spec, &coll, ctx.lang), "plugin": meta::plugin_label(m, ctx.lang), "items": items }));
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails_are_read_as_contact_keys() {
        for typed in ["8 999 123-45", "+7 (999) 123-45", "999 123 45", "79991234"] {
            assert!(key_prefix(typed).unwrap().starts_with("phone:7999123"), "{typed}");
        }
        assert_eq!(key_prefix("Anna@Mail.RU").as_deref(), Some("email:anna@mail.ru"));
        assert_eq!(key_prefix("Иванов"), None);
        assert_eq!(key_prefix("12"), None, "too short to be a phone");
        assert_eq!(capitalized("иван"), "Иван");
    }
}
