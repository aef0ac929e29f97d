//! WIT 0.2.0 through real plugins: a plugin stores a file and attaches it, reads files only
//! through records it may read, and notifies members of the company; a plugin built for 0.1.0
//! still loads and runs beside them.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{TestApp, package};

both_backends!(plugins_keep_files_and_notify_people);

fn command(co: &str, plugin: &str, name: &str) -> String {
    format!("/api/v1/companies/{co}/plugins/{plugin}/commands/{name}")
}

async fn plugins_keep_files_and_notify_people(app: &TestApp) {
    let (_, anna) = app.user("anna@example.com").await;
    let (boris_id, boris) = app.user("boris@example.com").await;
    let (vera_id, _) = app.user("vera@example.com").await;
    let co = app.company("Acme", &[("anna@example.com", "member"), ("boris@example.com", "member")]).await;
    for name in ["notes", "hostile", "legacy"] {
        app.install(&package(name)).await;
        app.enable(&co, name, json!({})).await.expect(200);
    }
    let notes = format!("/api/v1/companies/{co}/data/notes/note");
    let note = app.post(&notes, &anna, json!({ "title": "Квартальный план", "body": "Продажи: +20%" })).await;
    let note_id = note.expect(201)["id"].as_str().unwrap().to_string();

    // `export` stores the note as a text file through `files.create` and attaches it.
    let exported = app.post(&command(&co, "notes", "export"), &anna, json!({ "id": note_id })).await;
    let exported = exported.expect(200).clone();
    let file_id = exported["file"].as_str().unwrap().to_string();
    assert_eq!(exported["name"], "Квартальный план.txt");
    let text = "Квартальный план\n\nПродажи: +20%\n";
    assert_eq!(exported["size"], text.len());
    let stored = app.get(&format!("{notes}/{note_id}"), &anna).await;
    assert_eq!(stored.expect(200)["data"]["attachment"]["id"], file_id.as_str());
    let got = app.client.get(format!("{}/api/v1/companies/{co}/files/{file_id}", app.base)).bearer_auth(&anna);
    let got = got.send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), text);

    // `preview` reads it back through `files.attached` and `files.read`.
    let preview = app.post(&command(&co, "notes", "preview"), &boris, json!({ "id": note_id })).await;
    let preview = preview.expect(200);
    assert_eq!(preview["text"], text);
    assert_eq!(preview["complete"], true);
    assert_eq!(preview["sha256"].as_str().map(str::len), Some(64));

    // Another plugin without a grant to notes reaches neither the file nor its note.
    let probe = app.post(&command(&co, "hostile", "read-file"), &app.root, json!({ "id": file_id })).await;
    assert_eq!(probe.expect(200)["refused"], "not-found", "{:?}", probe.body);
    let listed = app
        .post(&command(&co, "hostile", "list-files"), &app.root, json!({ "collection": "notes.note", "id": note_id }))
        .await;
    assert_ne!(listed.expect(200)["refused"], Value::Null, "{:?}", listed.body);
    // Its own file it may read back in the same call.
    let own = app.post(&command(&co, "hostile", "store-and-read"), &app.root, json!({})).await;
    assert_eq!(own.expect(200)["read"], "hostile bytes");

    // `share` notifies a colleague through `notify.send`, with a link to the note.
    let sent = app
        .post(&command(&co, "notes", "share"), &anna, json!({ "id": note_id, "user": boris_id, "message": "Посмотри" }))
        .await;
    assert_eq!(sent.expect(200)["notified"], 1);
    let inbox = app.get(&format!("/api/v1/companies/{co}/notifications"), &boris).await;
    let inbox = inbox.expect(200).clone();
    let item = &inbox["items"][0];
    assert_eq!(item["kind"], "notes.shared");
    assert_eq!(item["kind_label"], "Notes shared with me");
    assert_eq!(item["body"], "Посмотри");
    assert!(item["title"].as_str().unwrap().contains("Квартальный план"), "{item:?}");
    assert_eq!(item["link"]["record"], note_id.as_str());

    // Someone outside the company is refused, and nothing is sent.
    let stranger = app.post(&command(&co, "notes", "share"), &anna, json!({ "id": note_id, "user": vera_id })).await;
    assert!(stranger.status == 422 || stranger.status == 400, "{:?}", stranger.body);
    // A plugin may not send another source's kinds.
    let foreign = app.post(&command(&co, "hostile", "notify-as-notes"), &app.root, json!({ "user": boris_id })).await;
    assert_eq!(foreign.expect(200)["refused"], "invalid", "{:?}", foreign.body);
    let after = app.get(&format!("/api/v1/companies/{co}/notifications"), &boris).await;
    assert_eq!(after.expect(200)["items"].as_array().unwrap().len(), 1);

    // People choose where each declared kind goes before they ever receive one, by its label,
    // in their language; a kind nobody sends here is refused.
    let (_, gleb) = app.user("gleb@example.com").await;
    app.member_with_role(&co, "gleb@example.com", "reader", &[]).await;
    let prefs = app.get(&format!("/api/v1/companies/{co}/notifications/preferences"), &gleb).await;
    let kinds = prefs.expect(200)["kinds"].as_array().unwrap().clone();
    let shared = kinds.iter().find(|k| k["kind"] == "notes.shared").expect("notes.shared is offered");
    assert_eq!(shared["label"], "Notes shared with me");
    assert_eq!(shared["channel"], "app");
    assert!(kinds.iter().any(|k| k["kind"] == "kernel.plugin_quarantined"), "{kinds:?}");
    let path = format!("/api/v1/companies/{co}/notifications/preferences");
    let off = app.put(&path, &gleb, json!({ "kinds": [{ "kind": "notes.shared", "channel": "off" }] })).await;
    let off = off.expect(200)["kinds"].as_array().unwrap().clone();
    assert_eq!(off.iter().find(|k| k["kind"] == "notes.shared").unwrap()["channel"], "off");
    let made_up = app.put(&path, &gleb, json!({ "kinds": [{ "kind": "notes.made_up", "channel": "off" }] })).await;
    made_up.expect(422);

    // The 0.1.0 plugin runs beside the 0.2.0 ones.
    let hello = app.post(&command(&co, "legacy", "hello"), &app.root, json!("from 0.1.0")).await;
    hello.expect(200);
}
