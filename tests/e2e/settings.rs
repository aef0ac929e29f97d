//! Company settings: the details documents carry, the time zone and currency every plugin
//! shares, and each person's own time zone; through the API on both databases, and in the web
//! UI in Russian, where times are shown and typed on the person's clock.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp};
use crate::ui::{csrf_of, demo_in_russian, input_value};

both_backends!(company_details_are_checked_kept_and_audited, people_choose_their_own_time_zone);

const DEMO_PASSWORD: &str = "settings-demo-password";

async fn company_details_are_checked_kept_and_audited(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let co = app.company("Acme", &[("anna@example.com", "member")]).await;
    let path = format!("/api/v1/companies/{co}/profile");

    // A new company: its name, UTC and roubles until someone says otherwise.
    let fresh = app.get(&path, &anna).await.expect(200).clone();
    assert_eq!(
        (fresh["name"].as_str(), fresh["time_zone"].as_str(), fresh["currency"].as_str()),
        (Some("Acme"), Some("UTC"), Some("RUB"))
    );
    assert_eq!(fresh["tax_id"], "");

    // Every problem at once, and nothing changes.
    let wrong = json!({ "name": " ", "tax_id": "7707083894", "kpp": "12", "bank_bic": "04452522", "bank_account": "4070",
                        "email": "not-an-address", "time_zone": "Mars/Olympus", "currency": "rubles" });
    let refused = app.put(&path, &app.root, wrong).await;
    let fields: Vec<&str> =
        refused.expect(422)["error"]["fields"].as_array().unwrap().iter().filter_map(|f| f["field"].as_str()).collect();
    for field in ["name", "tax_id", "kpp", "bank_bic", "bank_account", "email", "time_zone", "currency"] {
        assert!(fields.contains(&field), "{field} is named: {}", refused.body);
    }
    app.put(&path, &app.root, json!({ "name": "Acme", "colour": "red" })).await.expect(422);
    app.put(&path, &app.root, json!({ "name": "Acme", "tax_id": 7707083893u64 })).await.expect(422);
    assert_eq!(app.get(&path, &app.root).await.expect(200).clone(), fresh, "nothing changed");

    // A member reads them (documents and dates need them) but may not change them; a stranger
    // does not see the company at all.
    let good = json!({ "name": "Acme Trading", "legal_name": " ООО «Акме» ", "tax_id": "7707083893", "kpp": "773601001",
                       "registration_number": "1027700132195", "address": "Москва, ул. Вавилова, 19",
                       "bank_name": "ПАО Сбербанк", "bank_bic": "044525225", "bank_account": "40702810938000000001",
                       "bank_corr_account": "30101810400000000225", "director": "Иванов И. И.",
                       "time_zone": "Europe/Moscow", "currency": "RUB" });
    app.put(&path, &anna, good.clone()).await.expect(403);
    let (_, stranger) = app.user("stranger@example.com").await;
    app.get(&path, &stranger).await.expect(404);
    app.put(&path, &stranger, good.clone()).await.expect(404);

    let saved = app.put(&path, &app.root, good).await.expect(200).clone();
    assert_eq!(saved["legal_name"], "ООО «Акме»", "trimmed");
    assert_eq!(app.get(&path, &anna).await.expect(200)["bank_bic"], "044525225");
    let company = app.get(&format!("/api/v1/companies/{co}"), &anna).await.expect(200).clone();
    assert_eq!(
        (company["name"].as_str(), company["time_zone"].as_str()),
        (Some("Acme Trading"), Some("Europe/Moscow"))
    );

    // The change is in the audit log with what changed, and so is the refusal.
    let audit = app.get(&format!("/api/v1/companies/{co}/audit?limit=100"), &app.root).await.expect(200).clone();
    let entries = audit["items"].as_array().unwrap();
    let update = entries.iter().find(|e| e["action"] == "company.profile.update" && e["outcome"] == "success");
    let changed = update.expect("audited")["detail"]["changed"].as_array().unwrap().clone();
    assert!(changed.contains(&json!("tax_id")) && changed.contains(&json!("name")), "{changed:?}");
    assert!(!changed.contains(&json!("currency")), "the currency stayed: {changed:?}");
    assert!(
        entries.iter().any(|e| e["action"] == "company.profile.update" && e["outcome"] != "success"),
        "the refusal"
    );
}

async fn people_choose_their_own_time_zone(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    assert_eq!(app.get("/api/v1/me", &anna).await.expect(200)["time_zone"], Value::Null);
    let mine = app.patch("/api/v1/me", &anna, json!({ "time_zone": "Asia/Vladivostok" })).await;
    assert_eq!(mine.expect(200)["time_zone"], "Asia/Vladivostok");
    assert_eq!(app.get("/api/v1/me", &anna).await.expect(200)["time_zone"], "Asia/Vladivostok");
    let wrong = app.patch("/api/v1/me", &anna, json!({ "time_zone": "Vladivostok" })).await;
    assert_eq!(wrong.expect(422)["error"]["fields"][0]["field"], "time_zone");
    app.patch("/api/v1/me", &anna, json!({ "time_zone": "UTC", "is_superadmin": true })).await.expect(422);
    assert_eq!(app.get("/api/v1/me", &anna).await.expect(200)["time_zone"], "Asia/Vladivostok", "unchanged");
    app.patch("/api/v1/me", &anna, json!({ "time_zone": null })).await.expect(200);
    assert_eq!(app.get("/api/v1/me", &anna).await.expect(200)["time_zone"], Value::Null, "follows the company again");
}

/// A form's fields as the browser helper takes them.
fn borrowed<'f>(form: &'f [(&'static str, String)]) -> Vec<(&'static str, &'f str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_company_and_its_people_keep_their_settings_in_the_ui() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let (co, owner, mut b) = demo_in_russian(&app, DEMO_PASSWORD).await;

    // The demo company's details, in Russian, its zone by city.
    let page = b.get(&format!("/c/{co}/settings")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in ["Реквизиты компании", "Банковские реквизиты", "ООО «Демо Мебель»", "7712345671", "Москва (UTC+3)"]
    {
        assert!(page.body.contains(text), "{text} on the settings page");
    }
    assert!(page.body.contains("value=\"Europe&#x2f;Moscow\" selected"), "the company's zone is chosen");
    let csrf = csrf_of(&page.body);

    // A wrong INN: the form comes back with what was typed and the error at the field.
    let mut form = vec![
        ("_csrf", csrf.clone()),
        ("name", erp::demo::COMPANY.to_string()),
        ("legal_name", "ООО «Новая Мебель»".to_string()),
        ("tax_id", "7712345670".to_string()),
        ("kpp", "771201001".to_string()),
        ("address", "Москва, Тверская, 1".to_string()),
        ("bank_bic", "044525225".to_string()),
        ("director", "Петров П. П.".to_string()),
        ("time_zone", "Europe/Moscow".to_string()),
        ("currency", "RUB".to_string()),
    ];
    let refused = b.post(&format!("/c/{co}/settings"), &borrowed(&form)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"f-tax_id-error\""), "the error is at the INN");
    assert!(refused.body.contains("ООО «Новая Мебель»"), "what was typed stays");
    let profile = format!("/api/v1/companies/{co}/profile");
    assert_eq!(app.get(&profile, &owner).await.expect(200)["legal_name"], "ООО «Демо Мебель»", "nothing saved");

    form[3].1 = "7712345671".to_string();
    let saved = b.post(&format!("/c/{co}/settings"), &borrowed(&form)).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let stored = app.get(&profile, &owner).await.expect(200).clone();
    assert_eq!(
        (stored["legal_name"].as_str(), stored["director"].as_str()),
        (Some("ООО «Новая Мебель»"), Some("Петров П. П."))
    );
    // Fields the form left empty are cleared, as a person who emptied them means.
    assert_eq!(stored["bank_account"], "");

    // A call typed at 09:30 Moscow time is 06:30 UTC, and shown as typed.
    let new = b.get(&format!("/c/{co}/p/crm/d/activity/new")).await;
    assert!(!new.body.contains("(UTC)"), "no UTC label on times");
    let csrf = csrf_of(&new.body);
    let made = b
        .post(
            &format!("/c/{co}/p/crm/d/activity/new"),
            &[("_csrf", &csrf), ("kind", "call"), ("title", "Позвонить по договору"), ("due_at", "2026-12-10T09:30")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let url = made.location.clone().unwrap();
    let found = app
        .post(
            &format!("/api/v1/companies/{co}/data/crm/activity/query"),
            &owner,
            json!({ "filter": { "field": "title", "op": "eq", "value": "Позвонить по договору" } }),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(found["items"][0]["data"]["due_at"], "2026-12-10T06:30:00Z");
    let card = b.get(&url).await;
    assert_eq!(input_value(&card.body, "due_at"), "2026-12-10T09:30:00");

    // Someone in Vladivostok sees the same call at 16:30 on their clock.
    let settings = b.get(&format!("/c/{co}/settings")).await;
    let csrf = csrf_of(&settings.body);
    let mine = b.post(&format!("/c/{co}/settings/me"), &[("_csrf", &csrf), ("time_zone", "Asia/Vladivostok")]).await;
    assert_eq!(mine.status, 303, "{}", mine.body);
    let card = b.get(&url).await;
    assert_eq!(input_value(&card.body, "due_at"), "2026-12-10T16:30:00");
    let list = b.get(&format!("/c/{co}/p/crm/d/activity?sort=created_at&desc=1")).await;
    assert!(list.body.contains("10.12.2026 16:30"), "lists show local times too");
    // Saving the card unchanged changes nothing.
    let csrf = csrf_of(&card.body);
    let version = input_value(&card.body, "_version");
    let same = b
        .post(
            &url,
            &[
                ("_csrf", &csrf),
                ("_version", &version),
                ("kind", "call"),
                ("title", "Позвонить по договору"),
                ("due_at", "2026-12-10T16:30"),
            ],
        )
        .await;
    assert_eq!(same.status, 303, "{}", same.body);
    let again = app
        .get(&format!("/api/v1/companies/{co}/data/crm/activity/{}", found["items"][0]["id"].as_str().unwrap()), &owner)
        .await;
    assert_eq!(again.expect(200)["data"]["due_at"], "2026-12-10T06:30:00Z");

    // A module's settings are a form: the CRM's lead assignment, in Russian words. Saving them
    // keeps what the plugin was granted.
    let enabled = app.get(&format!("/api/v1/companies/{co}/plugins"), &owner).await.expect(200).clone();
    let row = |list: &Value| list["items"].as_array().unwrap().iter().find(|p| p["name"] == "crm").unwrap().clone();
    let grants_before = row(&enabled)["grants"].clone();
    let crm = b.get(&format!("/c/{co}/settings/p/crm")).await;
    assert_eq!(crm.status, 200, "{}", crm.body);
    assert!(crm.body.contains("Распределение лидов") && crm.body.contains("Наименее загруженному"), "{}", crm.body);
    let csrf = csrf_of(&crm.body);
    let set = b.post(&format!("/c/{co}/settings/p/crm"), &[("_csrf", &csrf), ("assignment", "least_loaded")]).await;
    assert_eq!(set.status, 303, "{}", set.body);
    let enabled = app.get(&format!("/api/v1/companies/{co}/plugins"), &owner).await.expect(200).clone();
    assert_eq!(row(&enabled)["config"]["assignment"], "least_loaded");
    assert_eq!(row(&enabled)["grants"], grants_before, "grants kept");
    let bad = b.post(&format!("/c/{co}/settings/p/crm"), &[("_csrf", &csrf), ("assignment", "by_mood")]).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
}
