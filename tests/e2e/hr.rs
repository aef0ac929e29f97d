//! The HR plugin through HTTP: personal data hidden from colleagues, leave requested,
//! refused beyond the balance and approved by the manager only, one's own records only, and
//! an approved absence reaching the CRM's lead assignment.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(people_and_leave_through_http, an_absence_reaches_the_crm,);

fn data(co: &str, coll: &str) -> String {
    format!("/api/v1/companies/{co}/data/hr/{coll}")
}

fn cmd(co: &str, name: &str) -> String {
    format!("/api/v1/companies/{co}/plugins/hr/commands/{name}")
}

async fn create(app: &TestApp, co: &str, coll: &str, body: Value) -> String {
    let r = app.post(&data(co, coll), &app.root, body).await;
    r.expect(201)["id"].as_str().unwrap().to_string()
}

async fn people_and_leave_through_http(app: &TestApp) {
    let (anna_id, anna) = app.user("anna@example.com").await;
    let (boss_id, boss) = app.user("boss@example.com").await;
    let (oleg_id, oleg) = app.user("oleg@example.com").await;
    let (_, hr) = app.user("hr@example.com").await;
    let members = [("anna@example.com", "member"), ("boss@example.com", "member"), ("oleg@example.com", "member")];
    let co = app.company("Acme", &members).await;
    app.install(&package("hr")).await;
    app.enable(&co, "hr", json!({})).await.expect(200);
    app.member_with_role(&co, "hr@example.com", "hr", &["hr.*"]).await;
    let boss_emp =
        create(app, &co, "employee", json!({ "name": "Мария", "user_id": boss_id, "hire_date": "2020-01-01" })).await;
    let person = |name: &str, user: &str| {
        json!({ "name": name, "user_id": user, "manager": boss_emp, "hire_date": "2020-01-01",
                "birth_date": "1991-02-03", "salary": "120000", "personal_phone": "+7 900 111-22-33" })
    };
    let anna_emp = create(app, &co, "employee", person("Анна", &anna_id)).await;
    let oleg_emp = create(app, &co, "employee", person("Олег", &oleg_id)).await;
    // Colleagues see the directory, not personal data; HR sees it.
    let seen = app.get(&format!("{}/{oleg_emp}", data(&co, "employee")), &anna).await;
    let seen = seen.expect(200)["data"].clone();
    assert_eq!(seen["name"], "Олег");
    for hidden in ["birth_date", "salary", "personal_phone"] {
        assert!(seen.get(hidden).is_none(), "{hidden} leaked: {seen}");
    }
    let by_birth = json!({ "filter": { "field": "birth_date", "op": "eq", "value": "1991-02-03" } });
    app.post(&format!("{}/query", data(&co, "employee")), &anna, by_birth).await.expect(403);
    let full = app.get(&format!("{}/{oleg_emp}", data(&co, "employee")), &hr).await;
    assert_eq!(full.expect(200)["data"]["salary"], "120000");
    let mine = app.post(&cmd(&co, "my-profile"), &anna, json!({})).await;
    assert_eq!(mine.expect(200)["data"]["birth_date"], "1991-02-03");
    app.patch(&format!("{}/{oleg_emp}", data(&co, "employee")), &anna, json!({ "position": "CEO" })).await.expect(403);

    // Leave: HR sets up the type and the allocation.
    create(app, &co, "leave_type", json!({ "code": "ANNUAL", "name": "Ежегодный" })).await;
    for e in [&anna_emp, &oleg_emp] {
        let body = json!({ "employee": e, "leave_type": "ANNUAL", "year": 2026, "days": 28, "accrual": "upfront" });
        app.post(&cmd(&co, "allocate"), &hr, body.clone()).await.expect(200);
        app.post(&cmd(&co, "allocate"), &anna, body).await.expect(403);
    }
    let before = app.snapshot().await;
    for bad in [
        json!({ "leave_type": "ANNUAL", "from": "2026-06-01", "to": "2026-07-31" }),
        json!({ "leave_type": "ANNUAL", "from": "2026-06-10", "to": "2026-06-01" }),
        json!({ "leave_type": "NOPE", "from": "2026-06-01", "to": "2026-06-05" }),
        json!({ "leave_type": "ANNUAL", "from": "June", "to": "2026-06-05" }),
        json!({ "leave_type": "ANNUAL", "from": "2026-06-01", "to": "2026-06-05", "paid": true }),
        json!([1, 2, 3]),
    ] {
        let r = app.post(&cmd(&co, "request-leave"), &anna, bad.clone()).await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.body);
    }
    assert_eq!(app.snapshot().await, before, "refused requests changed something");
    let r = app
        .post(
            &cmd(&co, "request-leave"),
            &anna,
            json!({ "leave_type": "ANNUAL", "from": "2026-06-01", "to": "2026-06-12" }),
        )
        .await;
    let req = r.expect(200).clone();
    assert_eq!(req["days"], "10", "two weeks less the weekend");
    let rid = req["id"].as_str().unwrap().to_string();
    let overlap = app
        .post(
            &cmd(&co, "request-leave"),
            &anna,
            json!({ "leave_type": "ANNUAL", "from": "2026-06-10", "to": "2026-06-15" }),
        )
        .await;
    overlap.expect(422);
    // Anna sees her requests, not Oleg's; Oleg cannot decide hers; Anna cannot decide her own.
    app.post(
        &cmd(&co, "request-leave"),
        &oleg,
        json!({ "leave_type": "ANNUAL", "from": "2026-09-07", "to": "2026-09-11" }),
    )
    .await
    .expect(200);
    let listed = app.get(&data(&co, "leave_request"), &anna).await;
    assert_eq!(listed.expect(200)["items"].as_array().unwrap().len(), 1);
    app.post(&cmd(&co, "decide-leave"), &anna, json!({ "id": rid, "approve": true })).await.expect(403);
    app.post(&cmd(&co, "decide-leave"), &oleg, json!({ "id": rid, "approve": true })).await.expect(404);
    app.post(
        &data(&co, "leave_request"),
        &hr,
        json!({ "employee": anna_emp, "leave_type": "x", "from": "2026-01-01", "to": "2026-01-02" }),
    )
    .await
    .expect(403);
    let pending = app.post(&cmd(&co, "team-requests"), &boss, json!({})).await;
    assert_eq!(pending.expect(200)["requests"].as_array().unwrap().len(), 2);
    app.post(&cmd(&co, "decide-leave"), &boss, json!({ "id": rid, "approve": true })).await.expect(200);
    let balance = app.post(&cmd(&co, "balance"), &anna, json!({ "at": "2026-06-30" })).await;
    assert_eq!(balance.expect(200)["types"][0]["available"], "18");
    let calendar = app.post(&cmd(&co, "absences"), &oleg, json!({ "from": "2026-06-01", "to": "2026-06-30" })).await;
    assert_eq!(calendar.expect(200)["absences"][0]["name"], "Анна");
}

async fn an_absence_reaches_the_crm(app: &TestApp) {
    let (m1, _) = app.user("m1@example.com").await;
    let co = app.company("Acme", &[("m1@example.com", "member")]).await;
    app.install(&package("crm")).await;
    app.install(&package("hr")).await;
    app.enable(&co, "crm", json!({})).await.expect(200);
    app.enable(&co, "hr", json!({})).await.expect(200);
    let crm = format!("/api/v1/companies/{co}/data/crm/manager");
    app.post(&crm, &app.root, json!({ "user_id": m1, "name": "Мария" })).await.expect(201);
    let e = create(app, &co, "employee", json!({ "name": "Мария", "user_id": m1 })).await;
    create(app, &co, "leave_type", json!({ "code": "SICK", "name": "Больничный", "needs_allocation": false })).await;
    let _bus = app.start_bus();
    let today = chrono::Utc::now().date_naive();
    let day = |n: i64| (today + chrono::Duration::days(n)).format("%Y-%m-%d").to_string();
    let r = app
        .post(
            &cmd(&co, "request-leave"),
            &app.root,
            json!({ "employee": e, "leave_type": "SICK", "from": day(-1), "to": day(2) }),
        )
        .await;
    let rid = r.expect(200)["id"].clone();
    app.post(&cmd(&co, "decide-leave"), &app.root, json!({ "id": rid, "approve": true })).await.expect(200);
    let away = || async {
        let q = json!({ "filter": { "field": "user_id", "op": "eq", "value": m1 } });
        app.post(&format!("{crm}/query"), &app.root, q).await.body["items"][0]["data"]["absent"] == json!(true)
    };
    assert!(crate::support::eventually(20, away).await, "the CRM never heard of the absence");
    // Cancelled, she is back.
    app.post(&cmd(&co, "cancel-leave"), &app.root, json!({ "id": rid })).await.expect(200);
    let back = || async {
        let q = json!({ "filter": { "field": "user_id", "op": "eq", "value": m1 } });
        app.post(&format!("{crm}/query"), &app.root, q).await.body["items"][0]["data"]["absent"] == json!(false)
    };
    assert!(crate::support::eventually(20, back).await, "the CRM never heard she is back");
}
