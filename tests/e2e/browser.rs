//! The web UI in headless Chromium, driven over WebDriver (fantoccini + chromedriver) as a user
//! would: log in, switch company, make a customer (a validation error first), move a deal on
//! the kanban and see the robot's activity, open a report, install and enable a plugin, and
//! a colleague without permission seeing neither the menu entry nor the data. Screenshots of
//! the main pages go to `target/ui-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, eventually, package};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

pub(crate) struct Driver {
    process: Child,
    pub(crate) client: Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Chromium under chromedriver, or `None` (loudly) where they are not installed; under CI
/// their absence fails the test.
pub(crate) async fn chromium() -> Option<Driver> {
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_string());
    let browser = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_string());
    if !Path::new(&driver).exists() || !Path::new(&browser).exists() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must have {driver} and {browser} (packages chromium, chromium-driver)"
        );
        eprintln!(
            "\n!!! SKIPPING the browser tests: {driver} or {browser} is missing (apt install chromium chromium-driver)\n"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let process = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().unwrap();
    let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {
            "binary": browser,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,1000", format!("--user-data-dir={}", profile.path().display())]
        }
    }))
    .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let mut last = String::new();
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return Some(Driver { process, client, _profile: profile }),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start: {last}");
}

fn shots() -> PathBuf {
    let dir = crate::support::workspace().join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

pub(crate) async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

pub(crate) async fn fill(c: &Client, css: &str, value: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

pub(crate) async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
}

/// The demo people's password in this test (`serve --demo` makes a random one).
pub(crate) const DEMO_PASSWORD: &str = "browser-demo-password";

pub(crate) async fn login(c: &Client, base: &str, email: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "#email", email).await;
    fill(c, "#password", DEMO_PASSWORD).await;
    click(c, "#login-submit").await;
    if c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#logout")).await.is_err() {
        shot(c, "login-failed").await;
        panic!("not logged in: {}", c.source().await.unwrap_or_default());
    }
}

async fn logout(c: &Client) {
    click(c, "#logout").await;
    c.wait().for_element(Locator::Css("#login-submit")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_works_through_the_browser() {
    let Some(driver) = chromium().await else { return };
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let demo = app.demo(DEMO_PASSWORD).await;
    let _bus = app.start_bus();
    let co = demo.company_id.clone();
    let owner = app.login(erp::demo::EMAIL, DEMO_PASSWORD).await;
    let second = app.post("/api/v1/companies", &owner, json!({ "name": "Second Company" })).await;
    let second = second.expect(201)["id"].as_str().unwrap().to_string();
    let c = &driver.client;
    let base = app.base.clone();

    // Log in: the start page of the first company, with its enabled plugins in the menu.
    login(c, &base, erp::demo::EMAIL).await;
    assert!(c.find(Locator::Css("[data-nav=\"crm.customer\"]")).await.is_ok(), "CRM in the menu");
    assert!(c.find(Locator::Css("[data-nav=\"warehouse.product\"]")).await.is_ok(), "warehouse in the menu");
    shot(c, "01-home").await;

    // Switch company and back.
    c.goto(&format!("{base}/switch?company={second}")).await.unwrap();
    let switcher = c.find(Locator::Css("#company-switch")).await.unwrap();
    switcher.select_by_value(&co).await.unwrap();
    let home = format!("/c/{co}");
    assert!(eventually(10, async || c.current_url().await.unwrap().path() == home).await, "switched by choosing");
    assert_eq!(text_of(c, "main h1").await, erp::demo::COMPANY);
    c.goto(&format!("{base}/switch?company={second}")).await.unwrap();
    assert_eq!(text_of(c, "main h1").await, "Second Company");
    assert!(c.find(Locator::Css("[data-nav=\"crm.customer\"]")).await.is_err(), "nothing enabled there");
    c.goto(&format!("{base}/c/{co}")).await.unwrap();

    // A customer: the kernel's validation error first, then fixed.
    click(c, "[data-nav=\"crm.customer\"]").await;
    shot(c, "02-customers").await;
    click(c, "#new-record").await;
    fill(c, "#f-tax_id", "7707083893").await;
    click(c, "#save").await;
    let error = c.wait().for_element(Locator::Css(".field.invalid .error")).await.unwrap();
    assert!(!error.text().await.unwrap().is_empty());
    shot(c, "03-customer-invalid").await;
    assert!(c.find(Locator::Css("#f-name-error")).await.is_ok(), "the name is required");
    fill(c, "#f-name", "ООО «Браузер»").await;
    click(c, "#save").await;
    c.wait().for_element(Locator::Css("p.flash")).await.unwrap();
    assert_eq!(text_of(c, "main h1").await, "ООО «Браузер»");
    shot(c, "04-customer").await;

    // A deal moved on the kanban to the proposal stage: the robot adds an activity.
    let stages =
        app.post(&format!("/api/v1/companies/{co}/data/crm/stage/query"), &owner, json!({ "limit": 100 })).await;
    let stages = stages.expect(200)["items"].as_array().unwrap().clone();
    let stage = |code: &str| stages.iter().find(|s| s["data"]["code"] == code).unwrap().clone();
    let (new_stage, proposal) = (stage("new"), stage("proposal"));
    let deal = app
        .post(
            &format!("/api/v1/companies/{co}/data/crm/deal"),
            &owner,
            json!({ "title": "Браузерная сделка", "amount": "250000", "currency": "RUB",
                    "pipeline": new_stage["data"]["pipeline"], "stage": new_stage["id"] }),
        )
        .await;
    let deal_id = deal.expect(201)["id"].as_str().unwrap().to_string();
    let moved = app
        .post(
            &format!("/api/v1/companies/{co}/plugins/crm/commands/move-deal"),
            &owner,
            json!({ "id": deal_id, "stage": stage("qualified")["id"] }),
        )
        .await;
    assert!(moved.status.is_success(), "{}", moved.body);
    c.goto(&format!("{base}/c/{co}/p/crm/d/deal/board")).await.unwrap();
    shot(c, "05-kanban").await;
    let card = format!("#card-{deal_id}");
    let select = c.find(Locator::Css(&format!("{card} select[name=stage]"))).await.unwrap();
    select.select_by_value(proposal["id"].as_str().unwrap()).await.unwrap();
    click(c, &format!("{card} form.move button")).await;
    let lane = format!("section.lane[data-stage=\"{}\"] {card}", proposal["id"].as_str().unwrap());
    if c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css(&lane)).await.is_err() {
        shot(c, "kanban-failed").await;
        panic!("the card is not in the proposal lane: {}", text_of(c, "main").await);
    }
    shot(c, "06-kanban-moved").await;
    let deal_page = format!("{base}/c/{co}/p/crm/d/deal/r/{deal_id}");
    let robot = eventually(20, async || {
        c.goto(&deal_page).await.unwrap();
        c.source().await.unwrap().contains("Отправить КП клиенту")
    })
    .await;
    assert!(robot, "the robot's activity shows on the deal");
    shot(c, "07-deal-with-robot-activity").await;

    // A report: table and chart.
    c.goto(&format!("{base}/c/{co}")).await.unwrap();
    // Reports are folded in each section's menu until opened (open on the plugin's own pages).
    click(c, "section[data-plugin=\"crm\"] details.navreports summary").await;
    click(c, "[data-nav=\"crm.report-funnel\"]").await;
    c.wait().for_element(Locator::Css("#result svg.bars")).await.expect("a chart");
    assert!(c.find(Locator::Css("#result table.data tbody tr")).await.is_ok(), "a table");
    shot(c, "08-report-funnel").await;
    click(c, "section[data-plugin=\"accounting\"] details.navreports summary").await;
    click(c, "[data-nav=\"accounting.trial-balance\"]").await;
    c.wait().for_element(Locator::Css("#result table.data")).await.expect("trial balance");
    shot(c, "09-trial-balance").await;

    // In Russian.
    click(c, "a.lang").await;
    c.wait().for_element(Locator::Css("html[lang=ru]")).await.unwrap();
    assert_eq!(text_of(c, "#logout").await, "Выйти");
    shot(c, "10-russian").await;
    click(c, "a.lang").await;
    c.wait().for_element(Locator::Css("html[lang=en]")).await.unwrap();

    // Install a plugin by upload, see what it asks for, grant it and enable it.
    let spy = shots().join("spy.wasm");
    std::fs::write(&spy, package("spy")).unwrap();
    c.goto(&format!("{base}/c/{co}/admin/plugins")).await.unwrap();
    c.find(Locator::Css("#package")).await.unwrap().send_keys(spy.to_str().unwrap()).await.unwrap();
    click(c, "#upload").await;
    c.wait().for_element(Locator::Css("#enable-form")).await.unwrap();
    let caps = text_of(c, "ul.caps").await;
    assert!(caps.contains("notes.note"), "the capability is shown before granting: {caps}");
    shot(c, "11-install-capabilities").await;
    click(c, "input[name=grant][value=\"notes.note\"]").await;
    click(c, "#enable").await;
    c.wait().for_element(Locator::Css("#disable")).await.expect("enabled");
    let enabled = app.get(&format!("/api/v1/companies/{co}/plugins"), &owner).await;
    let spy_row =
        enabled.body["items"].as_array().unwrap().iter().find(|p| p["name"] == "spy").cloned().expect("spy enabled");
    assert_eq!(spy_row["grants"], json!(["notes.note"]));
    logout(c).await;

    // A colleague without CRM permissions sees neither the menu entry nor the data.
    login(c, &base, "ivan.store@example.com").await;
    assert!(c.find(Locator::Css("[data-nav=\"crm.customer\"]")).await.is_err(), "no CRM menu entry");
    c.goto(&format!("{base}/c/{co}/p/crm/d/customer")).await.unwrap();
    let body = c.source().await.unwrap();
    assert!(!body.contains("ООО «Браузер»"), "no customer data");
    assert!(c.find(Locator::Css("table#records")).await.is_err());
    shot(c, "12-forbidden").await;

    // A phone-sized screen: the menu folds behind a button.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/c/{co}")).await.unwrap();
    assert!(c.find(Locator::Css(".menu-toggle")).await.unwrap().is_displayed().await.unwrap());
    shot(c, "13-phone").await;
    logout(c).await;
}
