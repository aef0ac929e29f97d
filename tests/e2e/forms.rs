//! Forms without JSON: robots' conditions and actions, segments' conditions and status
//! histories as line tables, tags and skills as text separated by commas, a shipment's moves as
//! a choice of records, a deal's amount counted from its lines; no bundled form asks anyone to
//! type JSON.

use serde_json::{Value, json};

use crate::support::{Backend, TestApp};
use crate::ui::{Browser, Page, csrf_of, demo_in_russian, input_value};
use erp_kernel::plugins::manifest::FieldType;

const DEMO_PASSWORD: &str = "forms-demo-password";

/// Every `json` field and command input of the bundled plugins is a line table, a list of
/// items, computed by the plugin or given only through the API; only the notes sample keeps
/// a free JSON field, to show the type.
#[test]
fn bundled_manifests_ask_for_no_json() {
    let mut free = Vec::new();
    for (_, bytes) in erp::bundled::BUNDLED {
        let text = erp_kernel::plugins::package::embedded_manifest(bytes).unwrap().unwrap();
        let m = erp_kernel::plugins::registry::parse_stored(&text).unwrap();
        let plugin = m.plugin.name.clone();
        let typed = |f: &erp_kernel::plugins::manifest::FieldSpec| {
            f.kind == FieldType::Json && f.line.is_empty() && f.items.is_none() && !f.computed && !f.api_only
        };
        for (cname, c) in &m.collections {
            for (fname, _) in c.fields.iter().filter(|(_, f)| typed(f)) {
                free.push(format!("{plugin}.{cname}.{fname}"));
            }
        }
        for c in &m.commands {
            for (fname, _) in c.input.iter().filter(|(_, f)| typed(f)) {
                free.push(format!("{plugin} command {} input {fname}", c.name));
            }
        }
    }
    assert_eq!(free, ["notes.note.extra"], "JSON typed by hand");
}

/// Posts a form of owned values.
async fn post(b: &mut Browser<'_>, url: &str, form: &[(&'static str, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(url, &pairs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_set_up_robots_segments_tags_and_deal_lines_in_forms() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let (co, owner, mut b) = demo_in_russian(&app, DEMO_PASSWORD).await;
    let api = |path: &str| format!("/api/v1/companies/{co}/{path}");
    let find = |coll: &'static str, field: &'static str, value: &'static str| {
        let (app, owner, url) = (&app, owner.clone(), api(&format!("data/{coll}/query")));
        async move {
            let q = json!({ "filter": { "field": field, "op": "eq", "value": value } });
            app.post(&url, &owner, q).await.expect(200)["items"][0].clone()
        }
    };

    // No new-record form of the demo's plugins shows a JSON box.
    for (plugin, coll) in [
        ("crm", "robot"),
        ("crm", "customer"),
        ("crm", "stage"),
        ("crm", "deal"),
        ("crm", "lead"),
        ("crm", "timeline"),
        ("marketing", "segment"),
        ("hr", "employee"),
        ("warehouse", "shipment"),
    ] {
        let page = b.get(&format!("/c/{co}/p/{plugin}/d/{coll}/new")).await;
        assert_eq!(page.status, 200, "{plugin}.{coll}: {}", page.body);
        assert!(!page.body.contains("class=\"mono\""), "a JSON box in the {plugin}.{coll} form");
    }

    // A robot: its conditions and actions chosen from lists, a stage by name, nothing in JSON.
    let new = b.get(&format!("/c/{co}/p/crm/d/robot/new")).await;
    for text in ["Поле сделки", "не меньше", "Создать дело", "Перевести на этап", "Менеджерам по очереди"]
    {
        assert!(new.body.contains(text), "{text} in the robot form");
    }
    let stage = &find("crm/stage", "code", "negotiation").await;
    let stage_id = stage["id"].as_str().expect("the demo has a negotiation stage").to_string();
    let stage_name = stage["data"]["name"].as_str().unwrap().to_string();
    let csrf = csrf_of(&new.body);
    let mut robot = vec![
        ("_csrf", csrf.clone()),
        ("name", "Крупная сделка на переговорах".to_string()),
        ("__present", "active".to_string()),
        ("active", "true".to_string()),
        ("trigger", "stage_entered".to_string()),
        ("stage", stage_id.clone()),
        ("__present", "conditions".to_string()),
        ("conditions[0].field", "amount".to_string()),
        ("conditions[0].op", "gte".to_string()),
        ("conditions[0].value", "100000".to_string()),
        ("conditions[1].field", "stage".to_string()),
        ("conditions[1].op", "eq".to_string()),
        ("conditions[1].value", stage_name.to_lowercase()),
        ("__present", "actions".to_string()),
        ("actions[0].type", "create_activity".to_string()),
        ("actions[0].title", "Согласовать скидку с руководителем".to_string()),
        ("actions[0].kind", "meeting".to_string()),
        ("actions[0].due_in_hours", "24".to_string()),
        ("actions[0].stage", stage_id.clone()),
    ];
    // A column the action does not use is named at its cell; nothing is saved.
    let refused = post(&mut b, &format!("/c/{co}/p/crm/d/robot/new"), &robot).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("is not used by the action"), "the error at the cell: {}", refused.body);
    assert!(refused.body.contains("Согласовать скидку с руководителем"), "what was typed stays");
    assert!(find("crm/robot", "name", "Крупная сделка на переговорах").await.is_null(), "nothing saved");
    robot.pop();
    let made = post(&mut b, &format!("/c/{co}/p/crm/d/robot/new"), &robot).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let stored = find("crm/robot", "name", "Крупная сделка на переговорах").await;
    assert_eq!(
        stored["data"]["conditions"],
        json!([{ "field": "amount", "op": "gte", "value": "100000" },
               { "field": "stage", "op": "eq", "value": stage_name.to_lowercase() }])
    );
    assert_eq!(
        stored["data"]["actions"],
        json!([{ "type": "create_activity", "title": "Согласовать скидку с руководителем", "kind": "meeting", "due_in_hours": 24 }])
    );
    let card = b.get(made.location.as_deref().unwrap()).await;
    assert!(card.body.contains("Согласовать скидку с руководителем") && card.body.contains("Встреча"));

    // Tags typed with commas; repeats and blanks dropped.
    let new = b.get(&format!("/c/{co}/p/crm/d/customer/new")).await;
    assert!(new.body.contains("Через запятую"), "the tags input says how to separate them");
    let csrf = csrf_of(&new.body);
    let made = b
        .post(
            &format!("/c/{co}/p/crm/d/customer/new"),
            &[("_csrf", &csrf), ("kind", "organization"), ("name", "ООО «Теговая»"), ("tags", "опт, VIP , опт,")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let customer = find("crm/customer", "name", "ООО «Теговая»").await;
    assert_eq!(customer["data"]["tags"], json!(["опт", "VIP"]));
    let card = b.get(made.location.as_deref().unwrap()).await;
    assert_eq!(input_value(&card.body, "tags"), "опт, VIP");
    // Through the API a list is still a list.
    let wrong = app.post(&api("data/crm/customer"), &owner, json!({ "name": "Ошибка", "tags": "опт" })).await;
    wrong.expect(422);

    // A deal with two product lines and no amount: the amount is their sum.
    let pipeline = stage["data"]["pipeline"].as_str().unwrap().to_string();
    let first = app
        .post(
            &api("data/crm/stage/query"),
            &owner,
            json!({ "filter": { "field": "pipeline", "op": "eq", "value": pipeline }, "sort": { "field": "position" }, "limit": 1 }),
        )
        .await
        .expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let new = b.get(&format!("/c/{co}/p/crm/d/deal/new")).await;
    let csrf = csrf_of(&new.body);
    let made = b
        .post(
            &format!("/c/{co}/p/crm/d/deal/new"),
            &[
                ("_csrf", csrf.as_str()),
                ("title", "Столы и стулья для переговорной"),
                ("pipeline", &pipeline),
                ("stage", &first),
                ("__present", "lines"),
                ("lines[0].product", "TABLE-01"),
                ("lines[0].quantity", "2"),
                ("lines[0].price", "12 500,50"),
                ("lines[1].product", "CHAIR-01"),
                ("lines[1].quantity", "8"),
                ("lines[1].price", "3 990"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let deal = find("crm/deal", "title", "Столы и стулья для переговорной").await;
    assert_eq!(deal["data"]["amount"], "56921.00", "{}", deal["data"]);
    // Who opened the deal is responsible for it unless someone else is named; the form says so.
    let me = app.get("/api/v1/me", &owner).await.expect(200)["id"].as_str().unwrap().to_string();
    assert_eq!(deal["data"]["responsible"], me.as_str());
    assert!(new.body.contains(&format!("<option value=\"{me}\" selected>")), "the form preselects its author");
    // Without lines the amount is what was typed.
    let typed = app
        .post(
            &api("data/crm/deal"),
            &owner,
            json!({ "title": "Консультация", "pipeline": pipeline, "stage": first, "amount": "15000" }),
        )
        .await;
    assert_eq!(typed.expect(201)["data"]["amount"], "15000");

    // A segment made of condition lines; its preview counts the customers it selects.
    let new = b.get(&format!("/c/{co}/p/marketing/d/segment/new")).await;
    for text in ["Всего потрачено, от–до", "Выполняются все условия"] {
        assert!(new.body.contains(text), "{text} in the segment form");
    }
    let csrf = csrf_of(&new.body);
    let made = b
        .post(
            &format!("/c/{co}/p/marketing/d/segment/new"),
            &[
                ("_csrf", csrf.as_str()),
                ("name", "Потратили от 10 000"),
                ("match", "all"),
                ("__present", "conditions"),
                ("conditions[0].what", "total_spent"),
                ("conditions[0].min", "10 000"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let segment = find("marketing/segment", "name", "Потратили от 10 000").await;
    assert_eq!(segment["data"]["conditions"], json!([{ "what": "total_spent", "min": "10000" }]));
    let preview =
        app.post(&api("plugins/marketing/commands/preview-segment"), &owner, json!({ "segment": segment["id"] })).await;
    assert!(preview.expect(200)["count"].as_u64().unwrap() > 0, "the demo has customers who spent 10 000");

    // A mistyped link inside the company: the UI's own page, in Russian, not the API's JSON.
    let lost = b.get(&format!("/c/{co}/p/marketing/d/segment/{}", segment["id"].as_str().unwrap())).await;
    assert_eq!(lost.status, 404);
    assert!(lost.body.contains("Не найдено") && lost.body.contains("<nav"), "{}", lost.body);

    // A shipment shows its moves by their titles and its history as a table, not as ids.
    let shipments =
        app.post(&api("data/warehouse/shipment/query"), &owner, json!({ "limit": 1 })).await.expect(200).clone();
    if let Some(s) = shipments["items"].as_array().and_then(|a| a.first()) {
        let page = b.get(&format!("/c/{co}/p/warehouse/d/shipment/r/{}", s["id"].as_str().unwrap())).await;
        assert_eq!(page.status, 200);
        for m in s["data"]["moves"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            assert!(!page.body.contains(&format!(">{m}<")), "a move's id shown");
        }
        assert!(page.body.contains("Готова к отправке"), "the history's statuses by their labels");
    }
}
