//! What the manifests say about presentation holds for the real bundled plugins on the demo
//! company: every report declares the lists and values it answers with; fields the plugin
//! computes are refused in users' writes; user fields take members and show their names;
//! every member can read colleagues' names; reports read in Russian with totals.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp};
use crate::ui::Browser;
use erp_kernel::plugins::manifest::{FieldType, Manifest};

const DEMO_PASSWORD: &str = "Presentation-demo-9";

/// The manifests of the bundled plugins.
fn manifests() -> Vec<Manifest> {
    erp::bundled::BUNDLED
        .iter()
        .map(|(_, bytes)| {
            let text = erp_kernel::plugins::package::embedded_manifest(bytes).unwrap().unwrap();
            erp_kernel::plugins::registry::parse_stored(&text).unwrap()
        })
        .collect()
}

/// Paths of the lists of objects in an answer (`""` for the answer itself) with their items,
/// and the paths of its single values.
fn shape(prefix: &str, v: &Value, lists: &mut Vec<(String, Vec<Value>)>, scalars: &mut BTreeSet<String>) {
    match v {
        Value::Array(items) if items.iter().any(Value::is_object) => lists.push((prefix.to_string(), items.clone())),
        Value::Object(map) => {
            for (k, val) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                shape(&key, val, lists, scalars);
            }
        }
        _ => {
            scalars.insert(prefix.to_string());
        }
    }
}

/// A value at a key or a dotted path of an item.
fn at<'v>(item: &'v Value, key: &str) -> Option<&'v Value> {
    item.get(key).or_else(|| key.split('.').try_fold(item, |v, part| v.get(part)))
}

/// What a page shows: its text without tags (attribute values such as option values are not
/// shown), the contents of scripts and styles left out.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tag = &rest[open..];
        let skip_to = if tag.starts_with("<script") {
            tag.find("</script>").map(|e| e + 9)
        } else if tag.starts_with("<style") {
            tag.find("</style>").map(|e| e + 8)
        } else {
            tag.find('>').map(|e| e + 1)
        };
        let Some(end) = skip_to else { break };
        out.push(' ');
        rest = &tag[end..];
    }
    out.push_str(rest);
    out
}

/// Text for a query string.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The first record of a collection.
async fn first(app: &TestApp, token: &str, co: &str, plugin: &str, coll: &str) -> Value {
    let found =
        app.post(&format!("/api/v1/companies/{co}/data/{plugin}/{coll}/query"), token, json!({ "limit": 1 })).await;
    found.expect(200)["items"][0].clone()
}

both_backends!(bundled_presentation_holds_on_the_demo);

async fn bundled_presentation_holds_on_the_demo(app: &TestApp) {
    let demo = app.demo(DEMO_PASSWORD).await;
    let co = demo.company_id;
    let owner = app.login(erp::demo::EMAIL, DEMO_PASSWORD).await;

    // A realistic demo: names agree with gender, and customers' histories show payments.
    let women = app
        .post(
            &format!("/api/v1/companies/{co}/data/crm/customer/query"),
            &owner,
            json!({ "filter": { "field": "gender", "op": "eq", "value": "female" }, "limit": 500 }),
        )
        .await
        .expect(200)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!women.is_empty());
    for w in &women {
        let patronymic = w["data"]["patronymic"].as_str().unwrap_or("вна");
        assert!(patronymic.ends_with("вна"), "a woman's patronymic: {}", w["data"]);
    }
    let payments = app
        .post(
            &format!("/api/v1/companies/{co}/data/crm/timeline/query"),
            &owner,
            json!({ "filter": { "field": "kind", "op": "eq", "value": "payment" }, "limit": 5 }),
        )
        .await;
    assert!(!payments.expect(200)["items"].as_array().unwrap().is_empty(), "payments on customers' timelines");

    // Every report, run with the inputs a person would give first, answers only with lists
    // whose columns it declares, and every declared column is there.
    let mut ran = 0;
    for m in manifests() {
        let plugin = &m.plugin.name;
        for c in m.commands.iter().filter(|c| c.report) {
            let mut input = Map::new();
            for (name, f) in c.input.iter().filter(|(_, f)| f.required) {
                let value = match f.kind {
                    FieldType::Enum => json!(f.values[0]),
                    FieldType::Date => json!(chrono::Utc::now().date_naive().to_string()),
                    FieldType::Ref => first(app, &owner, &co, plugin, f.to.as_deref().unwrap()).await["id"].clone(),
                    // The general ledger's account, by code.
                    _ => first(app, &owner, &co, plugin, "account").await["data"]["code"].clone(),
                };
                input.insert(name.clone(), value);
            }
            let path = format!("/api/v1/companies/{co}/plugins/{plugin}/commands/{}", c.name);
            let answer = app.post(&path, &owner, Value::Object(input)).await.expect(200).clone();
            let (mut lists, mut scalars) = (Vec::new(), BTreeSet::new());
            shape("", &answer, &mut lists, &mut scalars);
            for (list, items) in &lists {
                let declared: Vec<&str> = c
                    .columns
                    .iter()
                    .filter(|col| col.rows.as_deref() == Some(list.as_str()))
                    .map(|col| col.key.as_str())
                    .collect();
                assert!(!declared.is_empty(), "{plugin} {}: the list {list:?} has no declared columns", c.name);
                for key in declared {
                    assert!(
                        items.iter().any(|i| at(i, key).is_some()),
                        "{plugin} {}: column {key} of {list:?} is in no item: {}",
                        c.name,
                        items[0]
                    );
                }
            }
            for col in c.columns.iter().filter(|col| col.rows.is_none()) {
                assert!(scalars.contains(&col.key), "{plugin} {}: {} is not in the answer {answer}", c.name, col.key);
            }
            ran += 1;
        }
    }
    assert!(ran >= 15, "every bundled report ran: {ran}");

    // A total the CRM keeps is the plugin's to set: a user's create or change is refused,
    // sending back the stored value is not a change.
    let customers = format!("/api/v1/companies/{co}/data/crm/customer");
    let refused = app.post(&customers, &owner, json!({ "name": "Totals Ltd", "total_spent": "1000" })).await;
    assert_eq!(refused.expect(422)["error"]["fields"][0]["field"], "total_spent", "{}", refused.body);
    let created = app.post(&customers, &owner, json!({ "name": "Totals Ltd" })).await.expect(201).clone();
    let id = created["id"].as_str().unwrap();
    let stored = created["data"]["total_spent"].clone();
    let changed = app.patch(&format!("{customers}/{id}"), &owner, json!({ "total_spent": "99" })).await;
    changed.expect(422);
    let same =
        app.patch(&format!("{customers}/{id}"), &owner, json!({ "total_spent": stored, "name": "Totals Ltd." })).await;
    assert_eq!(same.expect(200)["data"]["name"], "Totals Ltd.");

    // A member without the right to read the members list still sees colleagues by name.
    let reader = app.user("reader@example.com").await.1;
    let role = json!({ "name": "reader", "permissions": ["kernel.company.read"] });
    app.post(&format!("/api/v1/companies/{co}/roles"), &owner, role).await.expect(201);
    let member = json!({ "email": "reader@example.com", "role": "reader" });
    app.post(&format!("/api/v1/companies/{co}/members"), &owner, member).await.expect(201);
    app.get(&format!("/api/v1/companies/{co}/members"), &reader).await.expect(403);
    let people = app.get(&format!("/api/v1/companies/{co}/people"), &reader).await.expect(200).clone();
    let names: BTreeSet<&str> = people["items"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains("Дмитрий Орлов") && names.contains("Иван Соколов"), "{names:?}");
    assert!(people["items"][0].get("email").is_none(), "names only: {}", people["items"][0]);
    let (stranger_id, stranger) = app.user("stranger@example.com").await;
    app.get(&format!("/api/v1/companies/{co}/people"), &stranger).await.expect(404);

    // A user field names a member: someone outside the company is refused.
    let outsider = app.post(&customers, &owner, json!({ "name": "Outsider's", "responsible": stranger_id })).await;
    assert_eq!(outsider.expect(422)["error"]["fields"][0]["message"], "is not a member of this company");
    let ids: Vec<String> =
        people["items"].as_array().unwrap().iter().map(|p| p["user_id"].as_str().unwrap().to_string()).collect();
    let anna = people["items"].as_array().unwrap().iter().find(|p| p["name"] == "Анна Петрова").unwrap();
    app.post(&customers, &owner, json!({ "name": "Anna's", "responsible": anna["user_id"] })).await.expect(201);

    // In the UI, in Russian: people by name, never by id; reports with Russian headers, money
    // per locale and a totals row; the new customer form offers colleagues, not an id box.
    let mut browser = Browser::new(app);
    browser.login_with(erp::demo::EMAIL, DEMO_PASSWORD).await;
    browser.language("ru");
    let no_ids = |page: &str, body: &str| {
        let text = visible_text(body);
        for id in &ids {
            assert!(!text.contains(id.as_str()), "{page} shows the user id {id}");
        }
    };
    let list = browser.get(&format!("/c/{co}/p/crm/d/customer")).await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Анна Петрова") && list.body.contains("Ответственный"), "names in the list");
    no_ids("the customer list", &list.body);
    let managers = browser.get(&format!("/c/{co}/p/crm/cmd/report-managers")).await;
    assert_eq!(managers.status, 200);
    for word in ["Менеджер", "Итого", "Анна Петрова"] {
        assert!(managers.body.contains(word), "the managers report shows {word}");
    }
    assert!(!managers.body.contains("Win rate"), "no English headers");
    no_ids("the managers report", &managers.body);
    let balance = browser.get(&format!("/c/{co}/p/accounting/cmd/trial-balance")).await;
    assert_eq!(balance.status, 200);
    assert!(balance.body.contains("Итого") && balance.body.contains("class=\"totals\""), "a totals row");
    assert!(!balance.body.contains("Opening"), "Russian headers");
    let form = browser.get(&format!("/c/{co}/p/crm/d/customer/new")).await;
    assert!(
        form.body.contains("<option value=\"") && form.body.contains(">Иван Соколов</option>"),
        "colleagues offered"
    );
    assert!(form.body.contains("Физическое лицо"), "enum values in Russian");
    assert!(!form.body.contains("name=\"total_spent\""), "computed fields are not typed");

    // An action of one record is a button on its page: "Done" on an open activity runs at
    // once and comes back to the activity, now done.
    let open = app
        .post(
            &format!("/api/v1/companies/{co}/data/crm/activity/query"),
            &owner,
            json!({ "filter": { "field": "done", "op": "eq", "value": false }, "limit": 1 }),
        )
        .await
        .expect(200)["items"][0]
        .clone();
    let activity = open["id"].as_str().expect("the demo has an open activity");
    let page_url = format!("/c/{co}/p/crm/d/activity/r/{activity}");
    let page = browser.get(&page_url).await;
    let actions = &page.body[page.body.find("id=\"record-actions\"").expect("record actions")..];
    let button = actions.find("<form method=\"post\"").expect("a button, not a link");
    assert!(
        actions[button..].starts_with("<form method=\"post\" action=\"")
            && actions.contains("cmd&#x2f;complete-activity\"")
    );
    let csrf = crate::ui::csrf_of(&page.body);
    let done = browser
        .post(
            &format!("/c/{co}/p/crm/cmd/complete-activity"),
            &[("_csrf", &csrf), ("_back", &page_url), ("id", activity)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some(format!("{page_url}?ok=done").as_str()));
    let after = app.get(&format!("/api/v1/companies/{co}/data/crm/activity/{activity}"), &owner).await;
    assert_eq!(after.expect(200)["data"]["done"], true);
    // The start page: the person's own work, what waits for them and key figures.
    let home = browser.get(&format!("/c/{co}")).await;
    assert_eq!(home.status, 200);
    let text = visible_text(&home.body);
    for block in ["Мои дела: на сегодня и просроченные", "Новые лиды ждут ответа", "Мои открытые сделки по этапам"]
    {
        assert!(text.contains(block), "the start page shows {block}");
    }
    assert!(text.contains("Взвешенный прогноз продаж") && text.contains("Отпуска на согласование"), "{text}");
    no_ids("the start page", &home.body);
    // The menu: a few main entries per section, named in the plural, with the rest of each
    // plugin's tables under its settings; no entry twice in a section.
    let nav = &home.body[home.body.find("<nav id=\"nav\"").unwrap()..home.body.find("</nav>").unwrap()];
    let mut main = String::new();
    let mut rest = nav;
    while let Some(open) = rest.find("<details") {
        main.push_str(&rest[..open]);
        rest = &rest[rest[open..].find("</details>").map_or(rest.len(), |e| open + e + 10)..];
    }
    main.push_str(rest);
    let entries = main.matches("<li").count();
    assert!(entries <= 40, "{entries} main menu entries");
    assert!(nav.contains("Настройки") && main.contains(">Клиенты<") && main.contains(">Сделки<"), "{main}");
    for section in nav.split("<section class=\"navplugin\"").skip(1) {
        let labels: Vec<&str> = section
            .split("<li")
            .skip(1)
            .filter_map(|li| li.split("</a>").next().and_then(|a| a.rsplit_once("\">")).map(|(_, text)| text))
            .collect();
        let unique: BTreeSet<&&str> = labels.iter().collect();
        assert_eq!(unique.len(), labels.len(), "an entry twice in {labels:?}");
    }
    // A leave request is approved from the start page, and the page comes back.
    let pending =
        app.post(&format!("/api/v1/companies/{co}/plugins/hr/commands/team-requests"), &owner, json!({})).await;
    let request = pending.expect(200)["requests"][0]["id"].as_str().expect("a pending request in the demo").to_string();
    assert!(home.body.contains(&format!("value=\"{request}\"")), "the request has its buttons");
    let csrf = crate::ui::csrf_of(&home.body);
    let home_url = format!("/c/{co}");
    let approved = browser
        .post(
            &format!("/c/{co}/p/hr/cmd/decide-leave"),
            &[("_csrf", &csrf), ("_back", &home_url), ("id", &request), ("approve", "true"), ("__present", "approve")],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let after = app.get(&format!("/api/v1/companies/{co}/data/hr/leave_request/{request}"), &owner).await;
    assert_eq!(after.expect(200)["data"]["state"], "approved");
    // The search box: a customer by a phone typed another way, and by the start of a name.
    let phone = app
        .post(
            &format!("/api/v1/companies/{co}/data/crm/contact/query"),
            &owner,
            json!({ "filter": { "field": "kind", "op": "eq", "value": "phone" }, "limit": 1 }),
        )
        .await
        .expect(200)["items"][0]
        .clone();
    let digits: String = phone["data"]["value"].as_str().unwrap().chars().filter(char::is_ascii_digit).collect();
    let typed = format!("8 ({}) {}-{}", &digits[1..4], &digits[4..7], &digits[7..]);
    let customer = app
        .get(
            &format!("/api/v1/companies/{co}/data/crm/customer/{}", phone["data"]["customer"].as_str().unwrap()),
            &owner,
        )
        .await;
    let name = customer.expect(200)["data"]["name"].as_str().unwrap().to_string();
    let found = browser.get(&format!("/c/{co}/search?q={}", urlencode(&typed))).await;
    assert!(visible_text(&found.body).contains(&name), "{typed} finds {name}: {}", visible_text(&found.body));
    let start: String = name.chars().take(4).collect::<String>().to_lowercase();
    let found = browser.get(&format!("/c/{co}/search?q={}", urlencode(&start))).await;
    assert!(visible_text(&found.body).contains(&name), "{start} finds {name}");
    let nothing = browser.get(&format!("/c/{co}/search?q=zzqqxx")).await;
    assert!(nothing.body.contains("id=\"search-empty\""));
    // Adding a member offers the lowest role first, roles by their Russian names.
    let members = browser.get(&format!("/c/{co}/admin/members")).await;
    let add = &members.body[members.body.find("id=\"m-role\"").expect("the add member form")..];
    let add = &add[..add.find("</select>").unwrap()];
    assert!(add.contains("<option value=\"member\" selected>Сотрудник</option>"), "{add}");
    assert!(add.contains(">Владелец</option>") && !add.contains(">owner<"), "{add}");
    // Undoing actions ask first.
    let invoice = first(app, &owner, &co, "accounting", "invoice").await;
    let page = browser.get(&format!("/c/{co}/p/accounting/d/invoice/r/{}", invoice["id"].as_str().unwrap())).await;
    assert!(page.body.contains("class=\"inline confirm\""), "cancelling an invoice asks first");
}

/// A raw record id in text: a UUID, or the first eight hex digits and a dash of one.
fn raw_id(text: &str) -> Option<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(13)).find_map(|i| {
        let hex = |r: std::ops::Range<usize>| b[r].iter().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        let edge = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        (edge && hex(i..i + 8) && b[i + 8] == b'-' && hex(i + 9..i + 13) && b[i..i + 8].iter().any(u8::is_ascii_digit))
            .then(|| text[i..i + 13].to_string())
    })
}

/// The words of `text`, for whole-word checks.
fn words(text: &str) -> BTreeSet<&str> {
    text.split(|c: char| !c.is_alphanumeric() && c != '_').filter(|w| !w.is_empty()).collect()
}

/// Every page of the demo company a person reaches by links from the start page, in Russian:
/// none shows an English label of a manifest, an enum value as its code, or a raw id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_page_reads_in_russian() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let demo = app.demo(DEMO_PASSWORD).await;
    let co = demo.company_id;
    // English labels that differ from their Russian ones (a few letters at least, not names
    // such as "CRM"), and enum codes whose label differs from the code.
    let mut english = BTreeSet::new();
    let mut codes = BTreeSet::new();
    for m in manifests() {
        for (path, label) in m.labels() {
            let Some(l) = label else { continue };
            let (en, ru) = (l.text("en").to_string(), l.text("ru").to_string());
            if en != ru && en.chars().filter(|c| c.is_alphabetic()).count() > 3 && !path.contains("value_labels") {
                english.insert(en);
            }
        }
        let fields = m
            .collections
            .values()
            .flat_map(|c| c.fields.values())
            .chain(m.commands.iter().flat_map(|c| c.input.values()));
        for f in fields.chain(m.collections.values().flat_map(|c| c.fields.values()).flat_map(|f| f.line.values())) {
            for v in &f.values {
                // A code its Russian label only capitalises (`telegram`: "Telegram") reads as
                // the name it is.
                if f.value_labels.get(v).is_some_and(|l| l.text("ru").to_lowercase() != v.to_lowercase()) && v.len() > 3
                {
                    codes.insert(v.clone());
                }
            }
        }
    }
    let mut browser = Browser::new(&app);
    browser.login_with(erp::demo::EMAIL, DEMO_PASSWORD).await;
    browser.language("ru");
    let home = format!("/c/{co}");
    let mut queue = std::collections::VecDeque::from([home.clone()]);
    let mut seen = BTreeSet::from([home.clone()]);
    let mut records_per_list: std::collections::HashMap<String, usize> = Default::default();
    let mut pages = 0;
    let mut problems = Vec::new();
    while let Some(path) = queue.pop_front() {
        let page = browser.get(&path).await;
        pages += 1;
        if page.status != 200 {
            problems.push(format!("{path}: status {}", page.status));
            continue;
        }
        let main = page.body.split("<main").nth(1).unwrap_or(&page.body);
        // Identifiers an administrator reads as such (permission and event names) are set in
        // `<code>`; everything else must read in Russian.
        let mut plain = String::new();
        let mut rest = main;
        while let Some(open) = rest.find("<code>") {
            plain.push_str(&rest[..open]);
            rest = rest[open..].find("</code>").map_or("", |end| &rest[open + end + 7..]);
        }
        plain.push_str(rest);
        let text = visible_text(&plain);
        let found = words(&text);
        if let Some(id) = raw_id(&text) {
            let at = text.find(&id).unwrap_or(0);
            let from = (0..=at.saturating_sub(60)).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let around: String = text[from..].chars().take(90).collect();
            problems.push(format!(
                "{path}: a raw id {id} in {:?}",
                around.split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
        for label in &english {
            let label_words = words(label);
            // A label is shown when its whole phrase is (one-word labels as a word).
            let shown =
                if label_words.len() == 1 { found.contains(label.as_str()) } else { text.contains(label.as_str()) };
            if shown {
                problems.push(format!("{path}: the English label {label:?}"));
            }
        }
        for code in &codes {
            if found.contains(code.as_str()) {
                problems.push(format!("{path}: the enum code {code:?}"));
            }
        }
        // Links within the company: every list and report, the first records of each list.
        for part in page.body.split("href=\"").skip(1) {
            let link = part.split('"').next().unwrap_or_default().replace("&amp;", "&");
            let clean = link.split('#').next().unwrap_or_default().to_string();
            if !clean.starts_with(&format!("{home}/")) || clean.contains("/new") || clean.contains("ok=") {
                continue;
            }
            let without_query = clean.split('?').next().unwrap_or_default().to_string();
            if let Some((list, _)) = without_query.split_once("/r/") {
                let n = records_per_list.entry(list.to_string()).or_default();
                if *n >= 2 {
                    continue;
                }
                *n += 1;
            }
            // One page of a list or report is enough: no paging, sorting or filtering.
            if seen.len() < 600 && seen.insert(without_query.clone()) {
                queue.push_back(without_query);
            }
        }
    }
    assert!(pages > 60, "the walk reached {pages} pages");
    assert!(problems.is_empty(), "{} problems on {pages} pages:\n{}", problems.len(), problems.join("\n"));
}
