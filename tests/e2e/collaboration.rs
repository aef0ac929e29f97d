//! Collaboration end to end: a private group and everything of it (its chat and messages,
//! feed, drive folder and files, notifications and events) is out of reach for a colleague
//! outside it, by every path: records, queries, aggregates, search, file downloads,
//! commands, notifications and the event log; company admins included. Mentions reach the
//! person live, also from another node, and a drive download lands in the file's access log.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::notifications::Events;
use crate::support::{Backend, TestApp, eventually, package};
use crate::ui::Browser;

both_backends!(a_private_group_is_out_of_reach_by_every_path);

const SECRET: &str = "Покупаем ООО Ромашка за 40 млн";
const FILE_NAME: &str = "term-sheet-romashka.txt";

fn cmd(co: &str, name: &str) -> String {
    format!("/api/v1/companies/{co}/plugins/collaboration/commands/{name}")
}

fn data(co: &str, coll: &str) -> String {
    format!("/api/v1/companies/{co}/data/collaboration/{coll}")
}

async fn upload(app: &TestApp, co: &str, token: &str, name: &str, bytes: &[u8]) -> String {
    let path = format!("/api/v1/companies/{co}/files?name={name}");
    let r = app.call_raw(Method::POST, &path, Some(token), Some("text/plain"), bytes.to_vec()).await;
    r.expect(201)["id"].as_str().expect("file id").to_string()
}

async fn setup(app: &TestApp) -> (String, [(String, String); 4]) {
    app.install(&package("collaboration")).await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let mallory = app.user("mallory@example.com").await;
    let carol = app.user("carol@example.com").await;
    let co = app
        .company(
            "Acme",
            &[
                ("alice@example.com", "member"),
                ("bob@example.com", "member"),
                ("mallory@example.com", "member"),
                ("carol@example.com", "admin"),
            ],
        )
        .await;
    app.enable(&co, "collaboration", json!({})).await.expect(200);
    (co, [alice, bob, mallory, carol])
}

async fn a_private_group_is_out_of_reach_by_every_path(app: &TestApp) {
    let (co, [(_, alice), (bob_id, bob), (mallory_id, mallory), (_, carol)]) = setup(app).await;
    let _bus = app.start_bus();

    // Alice's private project with Bob: a message with a file and a mention, a post, a file
    // on the group's drive.
    let group = app
        .post(
            &cmd(&co, "create-group"),
            &alice,
            json!({ "name": "Проект Ромашка", "private": true, "members": [bob_id], "kind": "project" }),
        )
        .await
        .expect(200)
        .clone();
    let file = upload(app, &co, &alice, FILE_NAME, SECRET.as_bytes()).await;
    let message = app
        .post(
            &cmd(&co, "post-message"),
            &alice,
            json!({ "chat": group["chat"], "text": SECRET, "file": file, "mentions": [bob_id] }),
        )
        .await
        .expect(200)
        .clone();
    let post =
        app.post(&cmd(&co, "post"), &alice, json!({ "group": group["id"], "text": SECRET })).await.expect(200).clone();
    let on_group = json!({ "target": format!("collaboration/group/{}", group["id"].as_str().unwrap()), "permission": "collaboration.use" });
    let mut comment = on_group.clone();
    comment["text"] = json!(SECRET);
    app.post(&cmd(&co, "comment"), &alice, comment).await.expect(200);
    let drive_file = upload(app, &co, &alice, "plan-romashka.txt", SECRET.as_bytes()).await;
    let document = app
        .post(&cmd(&co, "upload"), &alice, json!({ "folder": group["folder"], "file": drive_file }))
        .await
        .expect(200)
        .clone();
    let version_file = document["file"]["id"].as_str().expect("the current version's file").to_string();

    // Bob, a member, has it all: the mention, the message's file, the drive file.
    let told = app.get(&format!("/api/v1/companies/{co}/notifications"), &bob).await.expect(200).clone();
    assert!(told["items"].as_array().unwrap().iter().any(|n| n["kind"] == "collaboration.mention"), "{told}");
    assert!(told["items"][0]["title"].as_str().unwrap().contains("alice@example.com"), "names, not ids: {told}");
    let got = app
        .client
        .get(format!("{}/api/v1/companies/{co}/files/{file}", app.base))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.text().await.unwrap(), SECRET);
    let got = app
        .client
        .get(format!("{}/api/v1/companies/{co}/files/{version_file}", app.base))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    // That download is in the file's access log once the kernel's event is delivered.
    let logged = eventually(20, async || {
        let log = app.post(&cmd(&co, "access-log"), &alice, json!({ "document": document["id"] })).await;
        log.body["rows"]
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["action"] == "download" && r["user"] == json!(bob_id)))
    })
    .await;
    assert!(logged, "the download is in the access log");

    // Mallory (a member) and Carol (an admin) are outside: nothing, by any path.
    for (who, token) in [("member", &mallory), ("admin", &carol)] {
        for (coll, id) in [
            ("group", &group["id"]),
            ("chat", &group["chat"]),
            ("message", &message["id"]),
            ("post", &post["id"]),
            ("folder", &group["folder"]),
            ("document", &document["id"]),
        ] {
            let id = id.as_str().unwrap();
            assert_eq!(app.get(&format!("{}/{id}", data(&co, coll)), token).await.status, 404, "{who}: {coll} by id");
            let listed = app.get(&data(&co, coll), token).await;
            assert!(!listed.body.to_string().contains(id), "{who}: {coll} listed: {}", listed.body);
            let q = app
                .post(
                    &format!("{}/query", data(&co, coll)),
                    token,
                    json!({ "filter": { "field": "id", "op": "eq", "value": id } }),
                )
                .await;
            assert_eq!(q.expect(200)["items"], json!([]), "{who}: {coll} queried");
        }
        let counted = app
            .post(&format!("{}/aggregate", data(&co, "message")), token, json!({ "metrics": [{ "op": "count" }] }))
            .await;
        assert!(!counted.body.to_string().contains("\"count\":1"), "{who}: counted {}", counted.body);
        for f in [&file, &version_file] {
            let r = app
                .client
                .get(format!("{}/api/v1/companies/{co}/files/{f}", app.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 404, "{who}: a file of the group");
        }
        for (name, input) in [
            ("messages", json!({ "chat": group["chat"] })),
            ("post-message", json!({ "chat": group["chat"], "text": "hi" })),
            ("feed", json!({ "group": group["id"] })),
            ("drive", json!({ "folder": group["folder"] })),
            ("versions", json!({ "document": document["id"] })),
            ("join-group", json!({ "group": group["id"] })),
            ("comments", on_group.clone()),
        ] {
            assert_eq!(app.post(&cmd(&co, name), token, input).await.status, 404, "{who}: command {name}");
        }
        let searched = app.post(&cmd(&co, "search-messages"), token, json!({ "q": "Ромашка" })).await;
        assert_eq!(searched.expect(200)["rows"], json!([]), "{who}: message search");
        let feed = app.post(&cmd(&co, "feed"), token, json!({})).await;
        assert!(!feed.expect(200).to_string().contains(SECRET), "{who}: company feed");
        let inbox = app.get(&format!("/api/v1/companies/{co}/notifications"), token).await;
        assert!(!inbox.expect(200).to_string().contains("Ромашка"), "{who}: notifications");
    }
    // The event log: the admin reads it, but nothing of the group's records.
    let events = app.get(&format!("/api/v1/companies/{co}/events?limit=200"), &carol).await;
    let text = events.expect(200).to_string();
    assert!(text.contains("collaboration.message.created"), "the events are listed");
    assert!(!text.contains(SECRET) && !text.contains(FILE_NAME), "but not what they hold: {text}");
    assert_eq!(app.get(&format!("/api/v1/companies/{co}/events"), &mallory).await.status, 403);

    // The header's search box, as Mallory: the group's name finds nothing; Bob finds it.
    let mut b = Browser::new(app);
    b.login("mallory@example.com").await;
    let page = b.get(&format!("/c/{co}/search?q=%D0%9F%D1%80%D0%BE%D0%B5%D0%BA%D1%82")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Проект Ромашка"), "search shows the private group");
    let chat = b.get(&format!("/c/{co}/chat/{}", group["chat"].as_str().unwrap())).await;
    assert_eq!(chat.status, 404);
    let mut b = Browser::new(app);
    b.login("bob@example.com").await;
    let page = b.get(&format!("/c/{co}/search?q=%D0%9F%D1%80%D0%BE%D0%B5%D0%BA%D1%82")).await;
    assert!(page.body.contains("Проект Ромашка"), "a member finds it");

    // Added to the group, Mallory reads its history; writes by outsiders changed nothing.
    app.post(&cmd(&co, "add-members"), &alice, json!({ "group": group["id"], "members": [mallory_id] }))
        .await
        .expect(200);
    let page = app.post(&cmd(&co, "messages"), &mallory, json!({ "chat": group["chat"] })).await;
    assert_eq!(page.expect(200)["messages"][0]["text"], SECRET);
    let r = app
        .client
        .get(format!("{}/api/v1/companies/{co}/files/{file}", app.base))
        .bearer_auth(&mallory)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "and its files");
}

/// A mention written through one node reaches the person's stream on another, over a shared
/// PostgreSQL database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_crosses_nodes() {
    let Some(app) = TestApp::start(Backend::Postgres).await else { return };
    let (co, [(_, alice), (bob_id, bob), _, _]) = setup(&app).await;
    let chat = app.post(&cmd(&co, "open-direct"), &alice, json!({ "user": bob_id })).await.expect(200).clone();
    let other = app.another_node().await;
    let mut stream = Events::open(&other.base, &co, &bob, None).await;
    assert_eq!(stream.next(10).await.expect("ready").0, "ready");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    app.post(
        &cmd(&co, "post-message"),
        &alice,
        json!({ "chat": chat["id"], "text": "@Bob, глянь договор", "mentions": [bob_id] }),
    )
    .await
    .expect(200);
    let (name, _, data) = stream.next(10).await.expect("the mention arrives on the other node");
    assert_eq!(name, "notification");
    assert_eq!(data["kind"], "collaboration.mention", "{data}");
    assert_eq!(data["link"]["record"], chat["id"]);
    println!("mention delivered across nodes in {:?}", started.elapsed());
}

/// The text of the first element matching `css` now, or nothing (read in one step, so a page
/// that reloads meanwhile is no error).
async fn now_text(c: &fantoccini::Client, css: &str) -> String {
    let script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';";
    c.execute(script, vec![json!(css)]).await.ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// In Chromium, in Russian, on a laptop and a phone: the chat list with unread counts, a
/// conversation that shows a colleague's new message without a reload, a message sent with an
/// `@mention`, a comment with a mention on a deal's page (the mention leads back to it), and a
/// file put on the drive through the upload control. Screenshots: `collab-*.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_comments_and_drive_in_the_browser() {
    use crate::browser::{DEMO_PASSWORD, chromium, click, fill, login, shot, text_of};
    use fantoccini::Locator;

    let Some(driver) = chromium().await else { return };
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let demo = app.demo(DEMO_PASSWORD).await;
    let _bus = app.start_bus();
    let co = demo.company_id.clone();
    let anna = app.login(erp::demo::COLLEAGUES[0], DEMO_PASSWORD).await;
    let ivan = app.login(erp::demo::COLLEAGUES[1], DEMO_PASSWORD).await;
    let c = &driver.client;
    let base = app.base.clone();
    c.goto(&format!("{base}/lang?to=ru&back=/")).await.unwrap();
    login(c, &base, erp::demo::EMAIL).await;

    // The chats: the demo's three, by their names; the sales team's chat has a new message.
    c.goto(&format!("{base}/c/{co}/chat")).await.unwrap();
    let list = text_of(c, "#chats").await;
    for name in ["Отдел продаж", "Запуск новой коллекции", "Анна Петрова"] {
        assert!(list.contains(name), "{name} in {list}");
    }
    shot(c, "collab-chats-ru").await;
    c.find(Locator::XPath("//ul[@id='chats']//a[contains(., 'Отдел продаж')]")).await.unwrap().click().await.unwrap();
    c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#messages")).await.unwrap();
    let shown = text_of(c, "#messages").await;
    assert!(shown.contains("Иван Соколов") && shown.contains("Я возьму"), "{shown}");
    assert!(shown.contains("изменено"), "the edited message says so: {shown}");
    let chat_id =
        c.find(Locator::Css("#messages")).await.unwrap().attr("data-chat").await.unwrap().expect("the chat's id");

    // Anna writes; the open page shows it without a reload.
    app.post(&cmd(&co, "post-message"), &anna, json!({ "chat": chat_id, "text": "Звонок прошёл, клиент согласен" }))
        .await
        .expect(200);
    let live = eventually(20, async || now_text(c, "#messages").await.contains("Звонок прошёл")).await;
    assert!(live, "the new message appears live");
    shot(c, "collab-chat-ru").await;

    // A message with a mention from the page: Ivan is told.
    fill(c, "#message-text", "@Иван Соколов, отправь договор сегодня").await;
    click(c, "#send").await;
    let sent = eventually(15, async || now_text(c, "#messages").await.contains("отправь договор")).await;
    assert!(sent, "the message is in the chat");
    let told = app.get(&format!("/api/v1/companies/{co}/notifications"), &ivan).await;
    let told = told.expect(200)["items"].as_array().unwrap().clone();
    assert!(
        told.iter()
            .any(|n| n["kind"] == "collaboration.mention" && n["title"].as_str().unwrap().contains("Дмитрий Орлов")),
        "{told:?}"
    );

    // On a phone the conversation takes the whole width.
    c.set_window_size(390, 844).await.unwrap();
    c.refresh().await.unwrap();
    c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#compose")).await.unwrap();
    let widths = c.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await.unwrap();
    shot(c, "collab-chat-phone-ru").await;
    assert!(widths[0].as_i64() <= widths[1].as_i64(), "the chat fits a phone: {widths}");
    c.set_window_size(1280, 1000).await.unwrap();

    // A comment on a deal with a mention; the mention leads back to the deal's discussion.
    let deals = app.get(&format!("/api/v1/companies/{co}/data/crm/deal?limit=1"), &anna).await;
    let deal = deals.expect(200)["items"][0]["id"].as_str().expect("a demo deal").to_string();
    c.goto(&format!("{base}/c/{co}/p/crm/d/deal/r/{deal}")).await.unwrap();
    c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#comments")).await.unwrap();
    fill(c, "#comment-text", "@Анна Петрова, клиент просит скидку 5%").await;
    click(c, "#comment-send").await;
    let commented = eventually(15, async || now_text(c, "#comments").await.contains("просит скидку")).await;
    assert!(commented, "the comment is on the deal's page");
    assert!(text_of(c, "#comments").await.contains("Дмитрий Орлов"));
    shot(c, "collab-comments-ru").await;
    let told = app.get(&format!("/api/v1/companies/{co}/notifications"), &anna).await;
    let mention = told.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "collaboration.mention" && n["link"]["collection"] == "comment")
        .cloned()
        .expect("Anna is told of the comment");
    let mut b = Browser::new(&app);
    b.login_with(erp::demo::COLLEAGUES[0], DEMO_PASSWORD).await;
    let open = b.get(&format!("/c/{co}/notifications/{}/open", mention["id"].as_str().unwrap())).await;
    let to_comment = open.location.expect("to the comment");
    let there = b.get(&to_comment).await;
    assert!(there.location.unwrap_or_default().contains(&format!("/p/crm/d/deal/r/{deal}#comments")));

    // The drive: the company folder's contract in its second version; a file put through the
    // upload control lands in the folder.
    c.goto(&format!("{base}/c/{co}/drive")).await.unwrap();
    c.find(Locator::XPath("//ul[@id='company-folders']//a[contains(., 'Шаблоны документов')]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#files")).await.unwrap();
    let files = text_of(c, "#files").await;
    assert!(files.contains("Договор поставки.txt") && files.contains("Прайс-лист.csv"), "{files}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Счёт 17.txt");
    std::fs::write(&path, "Счёт № 17 на 12 500 ₽").unwrap();
    c.find(Locator::Css("#drop-input")).await.unwrap().send_keys(path.to_str().unwrap()).await.unwrap();
    let uploaded = eventually(20, async || now_text(c, "#files").await.contains("Счёт 17.txt")).await;
    shot(c, "collab-drive-ru").await;
    assert!(uploaded, "the file is in the folder");
}

/// Sharing from the drive's pages, as forms post it: the owner shares the private project's
/// file with Pyotr, a new member outside the project, to read; told of it, he finds it under
/// "shared with me", may download it but not delete it, and the file's access log records the
/// share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_shared_from_its_drive_page() {
    use crate::browser::DEMO_PASSWORD;
    use crate::ui::csrf_of;

    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let demo = app.demo(DEMO_PASSWORD).await;
    let co = demo.company_id.clone();
    let owner = app.login(erp::demo::EMAIL, DEMO_PASSWORD).await;
    let (ivan_id, ivan) = app.user("pyotr@example.com").await;
    app.post(
        &format!("/api/v1/companies/{co}/members"),
        &owner,
        json!({ "email": "pyotr@example.com", "role": "member" }),
    )
    .await
    .expect(201);
    let found = app
        .post(
            &format!("{}/query", data(&co, "document")),
            &owner,
            json!({ "filter": { "field": "name", "op": "eq", "value": "Ассортимент.md" } }),
        )
        .await;
    let doc = found.expect(200)["items"][0]["id"].as_str().expect("the project's file").to_string();
    assert_eq!(app.get(&format!("{}/{doc}", data(&co, "document")), &ivan).await.status, 404, "private until shared");
    let mut b = Browser::new(&app);
    b.login_with(erp::demo::EMAIL, DEMO_PASSWORD).await;
    b.language("ru");
    let page = b.get(&format!("/c/{co}/drive/d/{doc}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Открыть доступ") && page.body.contains("id=\"share-document\""), "{}", page.body);
    let csrf = csrf_of(&page.body);
    let shared = b
        .post(
            &format!("/c/{co}/drive/share"),
            &[("_csrf", &csrf), ("document", &doc), ("users", &ivan_id), ("access", "read")],
        )
        .await;
    assert_eq!(shared.status, 303, "{}", shared.body);
    assert!(shared.location.unwrap_or_default().contains(&format!("/drive/d/{doc}")));

    let mut i = Browser::new(&app);
    i.login("pyotr@example.com").await;
    i.language("ru");
    let drive = i.get(&format!("/c/{co}/drive")).await;
    assert!(drive.body.contains("Ассортимент.md"), "under shared with me");
    let his = i.get(&format!("/c/{co}/drive/d/{doc}")).await;
    assert_eq!(his.status, 200);
    assert!(his.body.contains("Скачать") && !his.body.contains("id=\"trash-file\""), "read, not delete");
    assert_eq!(app.get(&format!("{}/{doc}", data(&co, "document")), &ivan).await.status, 200);
    let told = app.get(&format!("/api/v1/companies/{co}/notifications"), &ivan).await;
    assert!(told.expect(200)["items"].as_array().unwrap().iter().any(|n| n["kind"] == "collaboration.shared"));
    let log = app.post(&cmd(&co, "access-log"), &owner, json!({ "document": doc })).await;
    assert!(log.expect(200)["rows"].as_array().unwrap().iter().any(|r| r["action"] == "share"));
}
