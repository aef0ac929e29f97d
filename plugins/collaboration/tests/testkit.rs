//! The collaboration plugin in the SDK test kit: chats with replies, edits, read marks,
//! unread counts, search and mentions; private groups that outsiders cannot reach through
//! any command; the drive's versions, shares, access log, trash and purge; comments shown
//! only to who may read their record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use erp_sdk::{DemoPerson, Error, Value, json};
use erp_testkit::{TestKernel, package};

fn kernel() -> TestKernel {
    TestKernel::for_package(package(env!("CARGO_MANIFEST_DIR")).expect("builds")).expect("plugin loads")
}

const USE: &[&str] = &["collaboration.use"];
const ANNA: &str = "u-anna";
const OLEG: &str = "u-oleg";

fn run(k: &TestKernel, who: &str, command: &str, input: Value) -> Result<Value, Error> {
    k.command_as_user(who, USE, command, input)
}

fn ok(k: &TestKernel, who: &str, command: &str, input: Value) -> Value {
    run(k, who, command, input).unwrap_or_else(|e| panic!("{command} as {who}: {e:?}"))
}

fn not_found(r: Result<Value, Error>) {
    assert!(matches!(r, Err(Error::NotFound(_))), "expected not found, got {r:?}");
}

#[test]
fn a_chat_carries_replies_edits_read_marks_and_mentions_to_its_members_only() {
    let k = kernel();
    let owner = k.owner_id().to_string();
    let chat = ok(&k, &owner, "create-chat", json!({ "title": "Закупки", "members": [ANNA] }));
    let chat_id = chat["id"].as_str().unwrap().to_string();
    assert_eq!(chat["members"], json!([owner, ANNA]));

    let first = ok(&k, &owner, "post-message", json!({ "chat": chat_id, "text": "Нужны стулья для переговорной" }));
    let anna_chats = ok(&k, ANNA, "chats", json!({}));
    assert_eq!(anna_chats["unread"], 1, "{anna_chats}");
    assert_eq!(anna_chats["chats"][0]["last_text"], "Нужны стулья для переговорной");

    // Anna answers and mentions the owner: a mention, not a plain message notice.
    let reply = ok(
        &k,
        ANNA,
        "post-message",
        json!({ "chat": chat_id, "text": "Заказала шесть штук", "reply_to": first["id"], "mentions": [owner] }),
    );
    assert_eq!(reply["reply_to"]["id"], first["id"]);
    let told = k.notifications(&owner).unwrap();
    assert_eq!(told[0]["kind"], "collaboration.mention", "{told:?}");
    assert_eq!(told[0]["link"]["collection"], "chat");
    assert!(told[0]["body"].as_str().unwrap().contains("Заказала"));
    assert_eq!(ok(&k, ANNA, "chats", json!({}))["unread"], 0, "her own message is read");
    assert_eq!(ok(&k, &owner, "chats", json!({}))["unread"], 1);
    ok(&k, &owner, "mark-read", json!({ "chat": chat_id }));
    assert_eq!(ok(&k, &owner, "chats", json!({}))["unread"], 0);

    // Edits: the author's only, the earlier text kept.
    assert!(matches!(
        run(&k, &owner, "edit-message", json!({ "id": reply["id"], "text": "нет" })),
        Err(Error::AccessDenied(_))
    ));
    let edited = ok(&k, ANNA, "edit-message", json!({ "id": reply["id"], "text": "Заказала восемь штук" }));
    assert_eq!(edited["edits"], 1);
    let stored = k.get("message", reply["id"].as_str().unwrap()).unwrap();
    assert_eq!(stored["data"]["history"][0]["text"], "Заказала шесть штук");

    let page = ok(&k, &owner, "messages", json!({ "chat": chat_id }));
    let texts: Vec<&str> = page["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Нужны стулья для переговорной", "Заказала восемь штук"]);
    assert!(page["read"][ANNA].is_string(), "read marks per member: {}", page["read"]);
    let after = ok(&k, &owner, "messages", json!({ "chat": chat_id, "after": first["id"] }));
    assert_eq!(after["messages"].as_array().unwrap().len(), 1);

    // Search finds it for members, nothing for an outsider.
    assert_eq!(ok(&k, ANNA, "search-messages", json!({ "q": "восемь" }))["rows"].as_array().unwrap().len(), 1);
    assert!(ok(&k, OLEG, "search-messages", json!({ "q": "восемь" }))["rows"].as_array().unwrap().is_empty());

    // An outsider reaches nothing of the chat.
    not_found(run(&k, OLEG, "messages", json!({ "chat": chat_id })));
    not_found(run(&k, OLEG, "post-message", json!({ "chat": chat_id, "text": "hi" })));
    not_found(run(&k, OLEG, "mark-read", json!({ "chat": chat_id })));
    not_found(run(&k, OLEG, "add-chat-members", json!({ "chat": chat_id, "members": [OLEG] })));
    assert!(ok(&k, OLEG, "chats", json!({}))["chats"].as_array().unwrap().is_empty());

    // Added later, he reads the history; leaving, he reads nothing more.
    ok(&k, ANNA, "add-chat-members", json!({ "chat": chat_id, "members": [OLEG] }));
    assert_eq!(ok(&k, OLEG, "messages", json!({ "chat": chat_id }))["messages"].as_array().unwrap().len(), 2);
    let msg = k.get("message", first["id"].as_str().unwrap()).unwrap();
    assert!(msg["data"]["members"].as_array().unwrap().contains(&json!(OLEG)));
    ok(&k, OLEG, "leave-chat", json!({ "chat": chat_id }));
    not_found(run(&k, OLEG, "messages", json!({ "chat": chat_id })));

    // Mentioning someone outside the chat, or an empty message, is refused.
    assert!(matches!(
        run(&k, ANNA, "post-message", json!({ "chat": chat_id, "text": "x", "mentions": [OLEG] })),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(run(&k, ANNA, "post-message", json!({ "chat": chat_id })), Err(Error::Invalid(_))));

    // A direct chat is found again, from either side.
    let d1 = ok(&k, &owner, "open-direct", json!({ "user": ANNA }));
    let d2 = ok(&k, ANNA, "open-direct", json!({ "user": owner }));
    assert_eq!(d1["id"], d2["id"]);
    assert_eq!(d2["with"], json!(owner));
}

#[test]
fn a_private_group_is_nothing_to_outsiders_and_everything_to_members() {
    let k = kernel();
    let owner = k.owner_id().to_string();
    let g = ok(
        &k,
        &owner,
        "create-group",
        json!({ "name": "Слияние", "private": true, "members": [ANNA], "kind": "project" }),
    );
    let gid = g["id"].as_str().unwrap().to_string();
    ok(&k, ANNA, "post", json!({ "group": gid, "text": "Секретный план", "mentions": [owner] }));
    ok(&k, &owner, "post-message", json!({ "chat": g["chat"], "text": "Только для своих" }));
    ok(&k, &owner, "post", json!({ "text": "Всем привет" }));

    let feed = ok(&k, OLEG, "feed", json!({}));
    let texts: Vec<&str> = feed["rows"].as_array().unwrap().iter().filter_map(|r| r["text"].as_str()).collect();
    assert!(texts.contains(&"Всем привет") && !texts.contains(&"Секретный план"), "{texts:?}");
    not_found(run(&k, OLEG, "feed", json!({ "group": gid })));
    not_found(run(&k, OLEG, "join-group", json!({ "group": gid })));
    not_found(run(&k, OLEG, "messages", json!({ "chat": g["chat"] })));
    not_found(run(&k, OLEG, "drive", json!({ "folder": g["folder"] })));
    not_found(run(&k, OLEG, "post", json!({ "group": gid, "text": "я тут" })));
    let drives = ok(&k, OLEG, "drive", json!({}));
    assert!(drives["groups"].as_array().unwrap().is_empty(), "{drives}");

    // Only the owner or a moderator adds people; then they see it all.
    assert!(matches!(
        run(&k, ANNA, "add-members", json!({ "group": gid, "members": [OLEG] })),
        Err(Error::AccessDenied(_))
    ));
    ok(&k, &owner, "add-members", json!({ "group": gid, "members": [OLEG] }));
    let feed = ok(&k, OLEG, "feed", json!({ "group": gid }));
    assert!(feed["rows"].as_array().unwrap().iter().any(|r| r["text"] == "Секретный план"));
    assert_eq!(ok(&k, OLEG, "messages", json!({ "chat": g["chat"] }))["messages"].as_array().unwrap().len(), 1);
    let folder = k.get("folder", g["folder"].as_str().unwrap()).unwrap();
    assert!(folder["data"]["readers"].as_array().unwrap().contains(&json!(OLEG)));

    // Removed, he is outside again; the owner stays whatever happens.
    ok(&k, &owner, "remove-member", json!({ "group": gid, "user": OLEG }));
    not_found(run(&k, OLEG, "messages", json!({ "chat": g["chat"] })));
    assert!(matches!(
        run(&k, ANNA, "remove-member", json!({ "group": gid, "user": owner })),
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(run(&k, &owner, "remove-member", json!({ "group": gid, "user": owner })), Err(Error::Invalid(_))));

    // An open group: anyone may see it and join.
    let open = ok(&k, &owner, "create-group", json!({ "name": "Бег по утрам" }));
    ok(&k, OLEG, "join-group", json!({ "group": open["id"] }));
    assert_eq!(ok(&k, OLEG, "messages", json!({ "chat": open["chat"] }))["messages"].as_array().unwrap().len(), 0);
}

fn demo_kernel() -> (TestKernel, String) {
    let k = kernel();
    let owner = k.owner_id().to_string();
    let person = |id: &str, name: &str| DemoPerson {
        user_id: id.into(),
        name: name.into(),
        email: format!("{id}@example.com"),
        role: "member".into(),
    };
    let people = [person(&owner, "Дмитрий Орлов"), person(ANNA, "Анна Петрова"), person("u-ivan", "Иван Соколов")];
    k.demo(&people, "2026-12-06").unwrap();
    (k, owner)
}

fn find_document(k: &TestKernel, name: &str) -> Value {
    k.query("document", json!({ "filter": { "field": "name", "op": "eq", "value": name } })).unwrap()[0].clone()
}

#[test]
fn the_drive_keeps_versions_shares_logs_and_a_trash() {
    let (k, owner) = demo_kernel();
    let contract = find_document(&k, "Договор поставки.txt");
    let id = contract["id"].as_str().unwrap().to_string();
    assert_eq!(contract["data"]["revision"], 2, "the same name made a second version: {contract}");

    let versions = ok(&k, OLEG, "versions", json!({ "document": id }));
    let rows = versions["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0]["number"].clone(), rows[0]["current"].clone()), (json!(2), json!(true)));
    assert!(rows[1]["size"].as_i64().unwrap() < rows[0]["size"].as_i64().unwrap());

    // A download of the current version (the kernel's event) goes into the access log.
    let current = contract["data"]["current"].as_str().unwrap();
    k.handle(
        "file-downloaded",
        "ev-1",
        "kernel.file.downloaded",
        json!({ "plugin": "collaboration", "collection": "version", "record_id": current, "user_id": ANNA, "field": "file" }),
    )
    .unwrap();
    let log = ok(&k, ANNA, "access-log", json!({ "document": id }));
    let actions: Vec<&str> = log["rows"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["download", "new_version", "upload"], "{log}");
    assert_eq!(log["rows"][0]["version"], 2);

    // The project's file: members only; shared with Oleg to read, he reads but cannot delete.
    let plan = find_document(&k, "Ассортимент.md");
    let plan_id = plan["id"].as_str().unwrap().to_string();
    not_found(run(&k, OLEG, "versions", json!({ "document": plan_id })));
    ok(&k, &owner, "share", json!({ "document": plan_id, "users": [OLEG], "access": "read" }));
    ok(&k, OLEG, "versions", json!({ "document": plan_id }));
    let drives = ok(&k, OLEG, "drive", json!({}));
    assert_eq!(drives["shared_files"][0]["id"], json!(plan_id), "{drives}");
    assert!(matches!(run(&k, OLEG, "trash", json!({ "document": plan_id })), Err(Error::AccessDenied(_))));
    let version = k.get("version", plan["data"]["current"].as_str().unwrap()).unwrap();
    assert!(version["data"]["readers"].as_array().unwrap().contains(&json!(OLEG)), "versions follow the share");
    ok(&k, &owner, "share", json!({ "document": plan_id, "users": [OLEG], "access": "none" }));
    not_found(run(&k, OLEG, "versions", json!({ "document": plan_id })));

    // Trash, restore, trash again, and the purge after the configured days (0 here).
    ok(&k, &owner, "trash", json!({ "document": id }));
    let drive = ok(&k, &owner, "drive", json!({ "folder": contract["data"]["folder"] }));
    assert!(drive["documents"].as_array().unwrap().iter().all(|d| d["id"] != json!(id)));
    let trash = ok(&k, &owner, "drive", json!({ "trash": true }));
    assert_eq!(trash["documents"][0]["id"], json!(id));
    assert!(trash["documents"][0]["purge_at"].is_string());
    ok(&k, &owner, "restore", json!({ "document": id }));
    ok(&k, &owner, "trash", json!({ "document": id }));
    k.schedule("purge-trash").unwrap();
    assert!(k.get("document", &id).is_ok(), "30 days by default: still in the trash");
    k.enable("collaboration", Vec::new(), json!({ "trash_days": 0 })).unwrap();
    k.schedule("purge-trash").unwrap();
    assert!(k.get("document", &id).is_err(), "purged");
    assert!(
        k.query("version", json!({ "filter": { "field": "document", "op": "eq", "value": id } })).unwrap().is_empty()
    );
}

#[test]
fn comments_show_only_to_readers_of_their_record_and_tell_who_is_mentioned() {
    let (k, owner) = demo_kernel();
    let contract = find_document(&k, "Договор поставки.txt");
    let target = format!("collaboration/document/{}", contract["id"].as_str().unwrap());
    let thread = ok(&k, OLEG, "comments", json!({ "target": target }));
    assert_eq!(thread["comments"].as_array().unwrap().len(), 2);
    assert_eq!(thread["comments"][1]["reply_to"], thread["comments"][0]["id"]);

    // A comment on a deal carries the deal's read permission: who lacks it finds nothing.
    let deal = "crm/deal/0193a2b4-0000-7000-8000-000000000001";
    assert!(matches!(
        run(&k, OLEG, "comments", json!({ "target": deal, "permission": "crm.deal.read" })),
        Err(Error::NotFound(_))
    ));
    let c = k
        .command_as_user(
            "u-sales",
            &["collaboration.use", "crm.deal.read"],
            "comment",
            json!({
                "target": deal, "text": "Клиент просит скидку", "title": "Поставка кресел", "mentions": [owner],
                "permission": "crm.deal.read"
            }),
        )
        .unwrap();
    assert_eq!(c["mine"], true);
    assert_eq!(ok(&k, OLEG, "comments", json!({ "target": deal }))["comments"], json!([]), "nothing he may read");
    not_found(run(&k, OLEG, "comment", json!({ "target": deal, "text": "а я?" })));
    not_found(run(&k, OLEG, "comment-target", json!({ "id": c["id"] })));
    let feed = ok(&k, OLEG, "feed", json!({}));
    assert!(feed["rows"].as_array().unwrap().iter().all(|r| r["text"] != "Клиент просит скидку"));
    let reader =
        k.command_as_user(&owner, &["collaboration.use", "crm.deal.read"], "comments", json!({ "target": deal }));
    assert_eq!(reader.unwrap()["comments"].as_array().unwrap().len(), 1);
    assert!(matches!(run(&k, OLEG, "comments", json!({ "target": "crm/deal" })), Err(Error::Invalid(_))));

    // Mentions reach the inbox with a link to the comment.
    let owner_told = k.notifications(&owner).unwrap();
    assert!(owner_told.iter().any(|n| n["kind"] == "collaboration.mention" && n["link"]["collection"] == "comment"));
}

#[test]
fn the_demo_fills_groups_chats_posts_files_and_comments() {
    let (k, owner) = demo_kernel();
    assert_eq!(k.query("group", json!({})).unwrap().len(), 2);
    let chats = ok(&k, &owner, "chats", json!({}));
    assert_eq!(chats["chats"].as_array().unwrap().len(), 3, "{chats}");
    assert!(ok(&k, &owner, "feed", json!({}))["rows"].as_array().unwrap().len() >= 5);
    let edited =
        k.query("message", json!({})).unwrap().into_iter().filter(|m| m["data"]["edited_at"].is_string()).count();
    assert_eq!(edited, 1);
    // The owner hears of Anna's messages; the words name people (the kernel fills in names,
    // "someone" for ids that are no members here), never show ids.
    let told = k.notifications(&owner).unwrap();
    assert!(told.iter().any(|n| n["kind"] == "collaboration.message"), "{told:?}");
    assert!(told.iter().all(|n| !n["title"].as_str().unwrap().contains("{user:")), "{told:?}");
}
