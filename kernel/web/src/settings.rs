//! Settings pages: the company's details, bank account, time zone and currency; each enabled
//! plugin's settings as a form; the person's own time zone.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{Offset, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};
use serde_json::{Map, Value, json};

use super::client::Failure;
use super::fields::{self, FormSpec};
use super::{Ctx, Page, meta, see_other};
use erp_kernel::access::permissions::{COMPANY_MANAGE, PLUGINS_MANAGE};

/// Zones of Russia first, by their city in both languages; the rest of the world follows by name.
const RUSSIAN_ZONES: &[(&str, &str, &str)] = &[
    ("Europe/Kaliningrad", "Kaliningrad", "Калининград"),
    ("Europe/Moscow", "Moscow", "Москва"),
    ("Europe/Samara", "Samara", "Самара"),
    ("Asia/Yekaterinburg", "Yekaterinburg", "Екатеринбург"),
    ("Asia/Omsk", "Omsk", "Омск"),
    ("Asia/Novosibirsk", "Novosibirsk", "Новосибирск"),
    ("Asia/Krasnoyarsk", "Krasnoyarsk", "Красноярск"),
    ("Asia/Irkutsk", "Irkutsk", "Иркутск"),
    ("Asia/Yakutsk", "Yakutsk", "Якутск"),
    ("Asia/Vladivostok", "Vladivostok", "Владивосток"),
    ("Asia/Magadan", "Magadan", "Магадан"),
    ("Asia/Kamchatka", "Petropavlovsk-Kamchatsky", "Петропавловск-Камчатский"),
];

/// Currencies offered first, with their names; a stored code not listed is kept as it is.
const CURRENCIES: &[(&str, &str, &str)] = &[
    ("RUB", "Russian rouble", "Российский рубль"),
    ("USD", "US dollar", "Доллар США"),
    ("EUR", "Euro", "Евро"),
    ("CNY", "Chinese yuan", "Китайский юань"),
    ("KZT", "Kazakhstani tenge", "Казахстанский тенге"),
    ("BYN", "Belarusian rouble", "Белорусский рубль"),
    ("AMD", "Armenian dram", "Армянский драм"),
    ("UZS", "Uzbekistani sum", "Узбекский сум"),
    ("KGS", "Kyrgyzstani som", "Киргизский сом"),
    ("TRY", "Turkish lira", "Турецкая лира"),
    ("AED", "UAE dirham", "Дирхам ОАЭ"),
    ("GBP", "Pound sterling", "Фунт стерлингов"),
];

/// The company form's fields by section: `(section, [(field, multiline)])`.
const SECTIONS: &[(&str, &[(&str, bool)])] = &[
    (
        "company_details",
        &[
            ("name", false),
            ("legal_name", false),
            ("tax_id", false),
            ("kpp", false),
            ("registration_number", false),
            ("address", true),
            ("phone", false),
            ("email", false),
        ],
    ),
    (
        "bank_details",
        &[("bank_name", false), ("bank_bic", false), ("bank_account", false), ("bank_corr_account", false)],
    ),
    ("signatories", &[("director", false), ("accountant", false)]),
    ("region", &[("time_zone", false), ("currency", false)]),
];

fn offset_text(tz: Tz) -> String {
    let seconds = Utc::now().with_timezone(&tz).offset().fix().local_minus_utc();
    let (sign, s) = if seconds < 0 { ('−', -seconds) } else { ('+', seconds) };
    if s % 3600 == 0 { format!("UTC{sign}{}", s / 3600) } else { format!("UTC{sign}{}:{:02}", s / 3600, s % 3600 / 60) }
}

/// Time zones as select options: Russia's by city, then every other by its name.
fn zone_options(lang: &str) -> Vec<Value> {
    let mut out: Vec<Value> = RUSSIAN_ZONES
        .iter()
        .filter_map(|(name, en, ru)| {
            let tz: Tz = name.parse().ok()?;
            let city = if lang == "ru" { ru } else { en };
            Some(json!({ "value": name, "label": format!("{city} ({})", offset_text(tz)) }))
        })
        .collect();
    out.extend(
        TZ_VARIANTS
            .iter()
            .filter(|tz| !RUSSIAN_ZONES.iter().any(|(n, _, _)| *n == tz.name()))
            .map(|tz| json!({ "value": tz.name(), "label": format!("{} ({})", tz.name(), offset_text(*tz)) })),
    );
    out
}

fn currency_options(lang: &str, current: &str) -> Vec<Value> {
    let mut out: Vec<Value> = CURRENCIES
        .iter()
        .map(|(code, en, ru)| json!({ "value": code, "label": format!("{code} — {}", if lang == "ru" { ru } else { en }) }))
        .collect();
    if !current.is_empty() && !CURRENCIES.iter().any(|(c, _, _)| *c == current) {
        out.push(json!({ "value": current, "label": current }));
    }
    out
}

/// The company form as input models, from stored or submitted values.
fn company_fields(ctx: &Ctx, values: &Map<String, Value>, failure: Option<&Failure>, readonly: bool) -> Vec<Value> {
    let text = |k: &str| values.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    SECTIONS
        .iter()
        .map(|(section, names)| {
            let fields: Vec<Value> = names
                .iter()
                .map(|(name, multiline)| {
                    let value = text(name);
                    let options = match *name {
                        "time_zone" => zone_options(ctx.lang),
                        "currency" => currency_options(ctx.lang, &value),
                        _ => Vec::new(),
                    };
                    let shown = options
                        .iter()
                        .find(|o| o["value"] == value.as_str())
                        .and_then(|o| o["label"].as_str())
                        .map_or_else(|| value.clone(), str::to_string);
                    json!({
                        "name": name, "label": ctx.t(&format!("profile_{name}")),
                        "kind": if options.is_empty() { "text" } else { "enum" },
                        "required": matches!(*name, "name" | "time_zone" | "currency"),
                        "values": options, "multiline": multiline, "value": value, "shown": shown,
                        "readonly": readonly, "error": failure.and_then(|f| f.field(name)),
                    })
                })
                .collect();
            json!({ "title": ctx.t(section), "fields": fields })
        })
        .collect()
}

/// The person's own time zone choice: the company's, or one of the zones.
fn my_zone_field(ctx: &Ctx, failure: Option<&Failure>) -> Value {
    let mut options = vec![json!({ "value": "", "label": ctx.t("follow_company_zone") })];
    options.extend(zone_options(ctx.lang));
    json!({ "name": "time_zone", "label": ctx.t("my_time_zone"), "kind": "enum", "required": false, "values": options,
            "value": ctx.me["time_zone"].as_str().unwrap_or_default(), "readonly": false,
            "error": failure.and_then(|f| f.field("time_zone")) })
}

/// Each enabled plugin whose settings the person may change, with a link to its form.
fn plugin_links(ctx: &Ctx) -> Vec<Value> {
    let Ok(company) = ctx.company() else { return Vec::new() };
    if !company.can(PLUGINS_MANAGE) {
        return Vec::new();
    }
    company
        .plugins
        .iter()
        .filter(|m| !m.config.is_empty())
        .map(|m| json!({ "label": meta::plugin_label(m, ctx.lang), "url": format!("{}/settings/p/{}", ctx.base(), m.plugin.name) }))
        .collect()
}

async fn company_page(
    ctx: &Ctx,
    submitted: Option<&Map<String, Value>>,
    failure: Option<&Failure>,
    mine: Option<&Failure>,
) -> Page {
    let company = ctx.company()?;
    let stored = match submitted {
        Some(_) => Value::Null,
        None => ctx.api.get(&format!("/api/v1/companies/{}/profile", company.id)).await.map_err(|f| ctx.fail(&f))?,
    };
    let values = submitted.cloned().unwrap_or_else(|| stored.as_object().cloned().unwrap_or_default());
    let manage = company.can(COMPANY_MANAGE);
    let status = failure.or(mine).map_or(StatusCode::OK, |f| f.status);
    let page = json!({
        "sections": company_fields(ctx, &values, failure, !manage), "manage": manage,
        "error": failure.map(|f| f.message.clone()), "mine_error": mine.map(|f| f.message.clone()),
        "my_zone": my_zone_field(ctx, mine), "plugins": plugin_links(ctx), "base": ctx.base(),
    });
    Ok(ctx.render_status(status, "settings.html", page))
}

/// The company's details and the person's own settings.
pub(super) async fn company(mut ctx: Ctx, Path(cid): Path<String>) -> Page {
    ctx.enter(&cid).await?;
    company_page(&ctx, None, None, None).await
}

/// Saves the company's details; on a problem the form comes back with what was typed.
pub(super) async fn save_company(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?;
    let mut submitted = Map::new();
    for (_, names) in SECTIONS {
        for (name, _) in *names {
            submitted.insert((*name).to_string(), Value::from(form.get(name).unwrap_or_default()));
        }
    }
    match ctx.api.put(&format!("/api/v1/companies/{}/profile", company.id), Value::Object(submitted.clone())).await {
        Ok(_) => Ok(see_other(&format!("{}/settings?ok=saved", ctx.base()))),
        Err(f) => company_page(&ctx, Some(&submitted), Some(&f), None).await,
    }
}

/// Saves the person's own time zone.
pub(super) async fn save_mine(mut ctx: Ctx, Path(cid): Path<String>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let form = ctx.form(&body)?;
    let zone = form.get("time_zone").map(str::trim).filter(|z| !z.is_empty());
    match ctx.api.patch("/api/v1/me", json!({ "time_zone": zone }), None).await {
        Ok(_) => Ok(see_other(&format!("{}/settings?ok=saved", ctx.base()))),
        Err(f) => company_page(&ctx, None, None, Some(&f)).await,
    }
}

async fn plugin_page(ctx: &Ctx, name: &str, submitted: Option<&Map<String, Value>>, failure: Option<&Failure>) -> Page {
    let company = ctx.company()?;
    let not_found = || ctx.fail(&Failure { status: StatusCode::NOT_FOUND, ..Failure::internal(ctx.t("not_found")) });
    let m = company.plugin(name).cloned().ok_or_else(not_found)?;
    if m.config.is_empty() {
        return Err(not_found());
    }
    let current = super::admin::enabled_entry(ctx, name).await.map_err(|f| ctx.fail(&f))?;
    let stored = current.and_then(|p| p["config"].as_object().cloned()).unwrap_or_default();
    let values = submitted.cloned().unwrap_or(stored);
    let manage = company.can(PLUGINS_MANAGE);
    let spec = FormSpec {
        manifest: &m,
        fields: &m.config,
        values: &values,
        failure,
        blank: false,
        readonly: !manage,
        hide_sensitive: false,
        order: Vec::new(),
    };
    let fields = fields::form_fields(ctx, spec).await.map_err(|f| ctx.fail(&f))?;
    let page = json!({
        "plugin": { "name": m.plugin.name, "label": meta::plugin_label(&m, ctx.lang) },
        "fields": fields, "manage": manage, "error": failure.map(|f| f.message.clone()), "base": ctx.base(),
    });
    Ok(ctx.render_status(failure.map_or(StatusCode::OK, |f| f.status), "settings_plugin.html", page))
}

/// A plugin's settings as a form.
pub(super) async fn plugin(mut ctx: Ctx, Path((cid, name)): Path<(String, String)>) -> Page {
    ctx.enter(&cid).await?;
    let name = ctx.segment(&name)?;
    plugin_page(&ctx, &name, None, None).await
}

/// Saves a plugin's settings, keeping the capabilities granted to it.
pub(super) async fn save_plugin(mut ctx: Ctx, Path((cid, name)): Path<(String, String)>, body: Bytes) -> Page {
    ctx.enter(&cid).await?;
    let name = ctx.segment(&name)?;
    let form = ctx.form(&body)?;
    let company = ctx.company()?;
    let Some(m) = company.plugin(&name).cloned() else { return plugin_page(&ctx, &name, None, None).await };
    let current = super::admin::enabled_entry(&ctx, &name).await.map_err(|f| ctx.fail(&f))?;
    let grants = current.map(|p| p["grants"].clone()).unwrap_or(json!([]));
    // Settings left empty take their defaults again.
    let config = fields::read_form(&m.config, &form, false, ctx.loc());
    let answer = ctx
        .api
        .put(&format!("/api/v1/companies/{}/plugins/{name}", company.id), json!({ "grants": grants, "config": config }))
        .await;
    match answer {
        Ok(_) => Ok(see_other(&format!("{}/settings/p/{name}?ok=saved", ctx.base()))),
        Err(f) => plugin_page(&ctx, &name, Some(&config), Some(&f)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_zones_come_first_by_city_and_every_zone_is_offered_once() {
        let ru = zone_options("ru");
        assert_eq!(ru[1]["value"], "Europe/Moscow");
        assert_eq!(ru[1]["label"], "Москва (UTC+3)");
        assert_eq!(ru.len(), TZ_VARIANTS.len());
        let india = ru.iter().find(|o| o["value"] == "Asia/Kolkata").expect("listed");
        assert_eq!(india["label"], "Asia/Kolkata (UTC+5:30)");
    }

    #[test]
    fn a_stored_currency_outside_the_list_stays_offered() {
        assert!(currency_options("en", "CHF").iter().any(|o| o["value"] == "CHF"));
        assert_eq!(currency_options("ru", "RUB").len(), CURRENCIES.len());
    }
}
