//! The day's work walked through in headless Chromium as people do it, in Russian and in
//! English, on a laptop (1366 px) and a phone (390 px), never typing an id or JSON: find a
//! customer by phone from the header, log a call on them, make a deal with two product lines
//! and move it on the board, see it on the start page, approve leave from the start page, open
//! this month's trial balance, change the company's details, and follow a colleague's note from
//! the bell. Screenshots go to `target/ui-screenshots/walk-*.png`.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::browser::{chromium, click, fill, shot, text_of};
use crate::support::{Backend, TestApp, eventually};

const PASSWORD: &str = "walks-demo-password";

/// What one walk looks for, in its language.
struct Words {
    lang: &'static str,
    approve: &'static str,
    saved: &'static str,
}

const RU: Words = Words { lang: "ru", approve: "Согласовать", saved: "Сохранено" };
const EN: Words = Words { lang: "en", approve: "Approve", saved: "Saved" };

/// Opens the menu first where it folds behind a button (phones).
async fn nav(c: &Client, css: &str) {
    let toggle = c.find(Locator::Css(".menu-toggle")).await.unwrap();
    if toggle.is_displayed().await.unwrap_or(false) {
        toggle.click().await.unwrap();
    }
    let link = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    if !link.is_displayed().await.unwrap_or(false) {
        // A folded part of a section (its reports or settings): open it.
        c.execute(
            "const a = document.querySelector(arguments[0]); const d = a && a.closest('details'); if (d) d.open = true;",
            vec![json!(css)],
        )
        .await
        .unwrap();
    }
    c.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

async fn flash(c: &Client, shot_name: &str) -> String {
    match c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("p.flash")).await {
        Ok(e) => e.text().await.unwrap(),
        Err(_) => {
            shot(c, shot_name).await;
            panic!("no confirmation: {}", text_of(c, "main").await);
        }
    }
}

/// The page fits the window's width: wide tables scroll inside their own box, the page never
/// sideways.
async fn fits(c: &Client, shot_name: &str) {
    let widths = c.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await.unwrap();
    let (page, window) = (widths[0].as_i64().unwrap_or(0), widths[1].as_i64().unwrap_or(0));
    if page > window {
        shot(c, shot_name).await;
        // The outermost elements that stick out, to say what to fix.
        let culprits = c
            .execute(
                "const out = []; for (const e of document.querySelectorAll('body *')) {                    const r = e.getBoundingClientRect();                    if (r.right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.getBoundingClientRect().right > window.innerWidth + 1))                      out.push(e.tagName + '.' + e.className + ' ' + Math.round(r.right)); }                  const b = document.querySelector('.board'), m = document.querySelector('main');                  if (b) out.push('board ' + b.clientWidth + '/' + b.scrollWidth + ' ' + getComputedStyle(b).overflowX + ' ' + getComputedStyle(b).display);                  if (m) out.push('main ' + m.clientWidth + ' ' + getComputedStyle(m).minWidth + ' parent ' + m.parentElement.className + ' ' + getComputedStyle(m.parentElement).display);                  return out.slice(0, 12);",
                vec![],
            )
            .await
            .unwrap_or_default();
        panic!("{shot_name}: the page is {page} px wide in a {window} px window: {culprits}");
    }
}

/// A screenshot of the page, which must fit the window's width.
async fn look(c: &Client, name: &str) {
    shot(c, name).await;
    fits(c, &format!("{name}-too-wide")).await;
}

/// Chooses the option whose text contains `text` in the select `css`.
async fn choose(c: &Client, css: &str, text: &str) {
    let select = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    for option in select.find_all(Locator::Css("option")).await.unwrap() {
        if option.text().await.unwrap().contains(text) {
            option.click().await.unwrap();
            return;
        }
    }
    panic!("no option {text:?} in {css}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_days_work_in_both_languages_on_a_laptop_and_a_phone() {
    let Some(driver) = chromium().await else { return };
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let demo = app.demo(PASSWORD).await;
    let _bus = app.start_bus();
    let co = demo.company_id.clone();
    let owner = app.login(erp::demo::EMAIL, PASSWORD).await;
    let api = |path: &str| format!("/api/v1/companies/{co}/{path}");

    // Leave waiting for the owner's decision: one request per walk.
    let pending = app.post(&api("plugins/hr/commands/team-requests"), &owner, json!({})).await.expect(200).clone();
    let first = pending["requests"][0]["id"].as_str().expect("a pending request in the demo").to_string();
    let request = app.get(&api(&format!("data/hr/leave_request/{first}")), &owner).await.expect(200).clone();
    for week in 1..=4 {
        let day = |d: i64| (chrono::Utc::now().date_naive() + chrono::Duration::days(60 + week * 7 + d)).to_string();
        let data = json!({ "employee": request["data"]["employee"], "leave_type": request["data"]["leave_type"],
                           "from": day(0), "to": day(1) });
        let made = app.post(&api("plugins/hr/commands/request-leave"), &owner, data).await;
        assert!(made.status.is_success(), "{}", made.body);
    }
    // A colleague shares a note with the owner for each walk: the bell brings it.
    let owner_id = app.get("/api/v1/me", &owner).await.expect(200)["id"].as_str().unwrap().to_string();
    let colleague = app.login(erp::demo::COLLEAGUES[0], PASSWORD).await;
    let share_note = async |title: &str| {
        let note = app.post(&api("data/notes/note"), &colleague, json!({ "title": title })).await;
        let note = note.expect(201)["id"].as_str().unwrap().to_string();
        let shared = app
            .post(
                &api("plugins/notes/commands/share"),
                &colleague,
                json!({ "id": note, "user": owner_id, "message": "Посмотрите, пожалуйста" }),
            )
            .await;
        assert_eq!(shared.expect(200)["notified"], 1);
    };
    // A customer and their phone, as the demo has them.
    let phone = app
        .post(
            &api("data/crm/contact/query"),
            &owner,
            json!({ "filter": { "field": "kind", "op": "eq", "value": "phone" }, "limit": 1 }),
        )
        .await
        .expect(200)["items"][0]
        .clone();
    let customer_id = phone["data"]["customer"].as_str().unwrap().to_string();
    let customer = app.get(&api(&format!("data/crm/customer/{customer_id}")), &owner).await.expect(200).clone();
    let customer_name = customer["data"]["name"].as_str().unwrap().to_string();
    let digits: String = phone["data"]["value"].as_str().unwrap().chars().filter(char::is_ascii_digit).collect();
    let typed_phone = format!("8 ({}) {}-{}", &digits[1..4], &digits[4..7], &digits[7..]);

    // The CRM record a walk made, found by its title.
    let titled = async |coll: &str, title: &str| {
        let query = json!({ "filter": { "field": "title", "op": "eq", "value": title } });
        app.post(&api(&format!("data/crm/{coll}/query")), &owner, query).await.expect(200)["items"][0].clone()
    };
    let c = &driver.client;
    let base = app.base.clone();
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "#email", erp::demo::EMAIL).await;
    fill(c, "#password", PASSWORD).await;
    click(c, "#login-submit").await;
    c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#logout")).await.expect("logged in");

    for (words, width) in [(&RU, 1366), (&EN, 1366), (&RU, 390), (&EN, 390)] {
        let lang = words.lang;
        let tag = format!("walk-{lang}-{width}");
        c.set_window_size(width, 900).await.unwrap();
        c.goto(&format!("{base}/lang?to={lang}&back=/c/{co}")).await.unwrap();
        c.wait().for_element(Locator::Css(&format!("html[lang={lang}]"))).await.unwrap();

        // 1. The customer, by a phone typed another way, from the header's search box.
        fill(c, "#global-search", &format!("{typed_phone}\u{E007}")).await;
        c.wait().for_element(Locator::Css("#search-results a")).await.unwrap_or_else(|_| panic!("{tag}: no results"));
        look(c, &format!("{tag}-1-search")).await;
        c.find(Locator::Css("#search-results a")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("#add-related, section.related")).await.unwrap();
        assert_eq!(text_of(c, "main h1").await, customer_name, "{tag}: the customer's card");

        // 2. A call logged on the customer: the form comes with the customer filled in.
        let title = format!("Звонок {lang} {width}");
        click(c, "[data-add=\"activity.customer\"]").await;
        c.wait().for_element(Locator::Css("#f-title")).await.unwrap();
        choose(c, "#f-kind", if lang == "ru" { "Звонок" } else { "Call" }).await;
        fill(c, "#f-title", &title).await;
        c.execute("document.getElementById('f-due_at').value = arguments[0]", vec![json!("2026-12-10T10:00")])
            .await
            .unwrap();
        let chosen = c.find(Locator::Css("#f-customer option:checked")).await.unwrap().text().await.unwrap();
        assert_eq!(chosen, customer_name, "{tag}: the customer is filled in");
        click(c, "#save").await;
        flash(c, &format!("{tag}-2-failed")).await;
        look(c, &format!("{tag}-2-call")).await;
        let logged = titled("activity", &title).await;
        assert_eq!(
            (logged["data"]["customer"].as_str(), logged["data"]["kind"].as_str()),
            (Some(customer_id.as_str()), Some("call"))
        );
        assert_eq!(logged["data"]["due_at"], "2026-12-10T07:00:00Z", "{tag}: typed in Moscow time");

        // 3. A deal with two product lines, then moved on the board.
        let deal_title = format!("Сделка {lang} {width}");
        c.goto(&format!("{base}/c/{co}/p/crm/d/deal")).await.unwrap();
        click(c, "#new-record").await;
        c.wait().for_element(Locator::Css("#f-title")).await.unwrap();
        fill(c, "#f-title", &deal_title).await;
        fill(c, "input[data-pick-for=\"f-customer\"]", &customer_name).await;
        assert!(
            eventually(10, async || {
                let v = c.find(Locator::Css("#f-customer")).await.unwrap().prop("value").await.unwrap();
                v.is_some_and(|v| !v.is_empty())
            })
            .await,
            "{tag}: the customer found by name"
        );
        // The demo's sales pipeline and its stages are the company's own names, in Russian.
        choose(c, "#f-pipeline", "Продажи").await;
        choose(c, "#f-stage", "Новая заявка").await;
        choose(c, "#f-responsible", "Дмитрий Орлов").await;
        // Prices typed as people of each language write them.
        let prices = if lang == "ru" { ["6 500,00", "12 000,50"] } else { ["6,500.00", "12,000.50"] };
        for (row, (code, name, qty, price)) in
            [("CH-1", "Стул", "2", prices[0]), ("DS-2", "Стол", "1", prices[1])].into_iter().enumerate()
        {
            if row > 0 {
                click(c, "button.add-line[data-for=\"f-lines\"]").await;
            }
            fill(c, &format!("input[name=\"lines[{row}].product\"]"), code).await;
            fill(c, &format!("input[name=\"lines[{row}].name\"]"), name).await;
            fill(c, &format!("input[name=\"lines[{row}].quantity\"]"), qty).await;
            fill(c, &format!("input[name=\"lines[{row}].price\"]"), price).await;
        }
        look(c, &format!("{tag}-3-deal-form")).await;
        click(c, "#save").await;
        flash(c, &format!("{tag}-3-failed")).await;
        look(c, &format!("{tag}-3-deal")).await;
        let deal = titled("deal", &deal_title).await;
        let lines: Vec<(Value, Value)> =
            deal["data"]["lines"].as_array().unwrap().iter().map(|l| (l["name"].clone(), l["price"].clone())).collect();
        assert_eq!(lines, [(json!("Стул"), json!("6500.00")), (json!("Стол"), json!("12000.50"))], "{tag}");
        let deal_id = deal["id"].as_str().unwrap().to_string();
        c.goto(&format!("{base}/c/{co}/p/crm/d/deal/board")).await.unwrap();
        let card = format!("#card-{deal_id}");
        let target_name = "Квалификация";
        choose(c, &format!("{card} select[name=stage]"), target_name).await;
        let target = c.find(Locator::Css(&format!("{card} select[name=stage] option:checked"))).await.unwrap();
        let target_id = target.attr("value").await.unwrap().unwrap();
        click(c, &format!("{card} form.move button")).await;
        let lane = format!("section.lane[data-stage=\"{target_id}\"] {card}");
        if c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(&lane)).await.is_err() {
            shot(c, &format!("{tag}-3-board-failed")).await;
            panic!("{tag}: the card did not move: {}", text_of(c, "main").await);
        }
        look(c, &format!("{tag}-3-board")).await;

        // 4. The start page counts it among my open deals, in its new stage.
        nav(c, "a.navhome").await;
        let mine = text_of(c, "section[data-block=\"my-deals\"]").await;
        assert!(mine.contains(target_name), "{tag}: {mine}");

        // 5. Leave approved from the start page.
        let block = "section[data-block=\"leave-to-approve\"]";
        let before = c.find_all(Locator::Css(&format!("{block} li"))).await.unwrap().len();
        assert!(before > 0, "{tag}: leave waits for approval");
        let buttons = c.find_all(Locator::Css(&format!("{block} li button"))).await.unwrap();
        let mut approve = None;
        for b in buttons {
            if b.text().await.unwrap() == words.approve {
                approve = Some(b);
                break;
            }
        }
        approve.unwrap_or_else(|| panic!("{tag}: no {} button", words.approve)).click().await.unwrap();
        flash(c, &format!("{tag}-5-failed")).await;
        let after = c.find_all(Locator::Css(&format!("{block} li"))).await.unwrap().len();
        assert_eq!(after, before - 1, "{tag}: the approved request left the list");
        look(c, &format!("{tag}-5-home")).await;

        // 6. This month's trial balance.
        nav(c, "[data-nav=\"accounting.trial-balance\"]").await;
        c.wait()
            .for_element(Locator::Css("#result table.data"))
            .await
            .unwrap_or_else(|_| panic!("{tag}: trial balance"));
        let from = c.find(Locator::Css("#f-from")).await.unwrap().prop("value").await.unwrap().unwrap_or_default();
        let month_start = chrono::Utc::now().date_naive().format("%Y-%m-01").to_string();
        assert_eq!(from, month_start, "{tag}: this month by default");
        look(c, &format!("{tag}-6-trial-balance")).await;

        // 7. The company's details.
        nav(c, "[data-nav=\"settings\"]").await;
        c.wait().for_element(Locator::Css("#f-phone")).await.unwrap();
        let new_phone = format!("+7 495 {width}-{}", if lang == "ru" { "11" } else { "22" });
        fill(c, "#f-phone", &new_phone).await;
        click(c, "#save").await;
        assert_eq!(flash(c, &format!("{tag}-7-failed")).await, words.saved, "{tag}");
        look(c, &format!("{tag}-7-settings")).await;
        let profile = app.get(&api("profile"), &owner).await.expect(200).clone();
        assert_eq!(profile["phone"], new_phone.as_str(), "{tag}");
        assert_eq!(profile["tax_id"], "7712345671", "{tag}: the rest stays");

        // 8. A colleague's note, from the bell: the count, the inbox, the note itself.
        let note_title = format!("Заметка {lang} {width}");
        share_note(&note_title).await;
        c.goto(&format!("{base}/c/{co}")).await.unwrap();
        let count = text_of(c, "#bell-count").await;
        assert!(count.parse::<u32>().is_ok_and(|n| n >= 1), "{tag}: the bell counts it ({count})");
        click(c, "#bell").await;
        c.wait().for_element(Locator::Css("#inbox")).await.unwrap();
        let first = text_of(c, "#inbox li:first-child .note-head a").await;
        assert!(first.contains(&note_title), "{tag}: the newest notification first: {first}");
        look(c, &format!("{tag}-8-notifications")).await;
        click(c, "#inbox li:first-child .note-head a").await;
        c.wait().for_element(Locator::Css("main h1")).await.unwrap();
        assert_eq!(text_of(c, "main h1").await, note_title, "{tag}: the notification opens the note");
    }
}
