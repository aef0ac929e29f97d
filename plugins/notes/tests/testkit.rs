//! The notes plugin in the SDK's test kit: no server, just `cargo test`.

use erp_sdk::Error;
use erp_sdk::json;
use erp_testkit::TestKernel;

#[test]
fn notes_work_in_the_test_kit() {
    let kernel = TestKernel::for_crate(env!("CARGO_MANIFEST_DIR")).expect("the plugin builds and loads");
    let book = kernel.create("notebook", json!({ "name": "Work" })).expect("notebook");
    let note = kernel
        .create("note", json!({ "title": "Call the bank", "notebook": book["id"], "pinned": true, "priority": "high", "due": "2026-12-01" }))
        .expect("note");

    // The plugin's validation hook vetoes, with the field named.
    match kernel.create("note", json!({ "title": "TODO" })) {
        Err(Error::Invalid(fields)) => assert_eq!(fields[0].field, "title"),
        other => panic!("expected a veto, got {other:?}"),
    }

    let stats = kernel.command("stats", json!({})).expect("stats");
    assert_eq!(stats, json!({ "by_priority": { "high": 1 }, "pinned": 1 }));
    let archived = kernel.command("archive", json!({ "id": note["id"] })).expect("archive");
    assert_eq!(archived["version"], 2);
    let after = kernel.get("note", note["id"].as_str().expect("id")).expect("get");
    assert_eq!(after["data"]["priority"], "low");
    let pinned =
        kernel.query("note", json!({ "filter": { "field": "pinned", "op": "eq", "value": true } })).expect("query");
    assert!(pinned.is_empty());

    // Permissions are checked as in the kernel.
    assert!(matches!(kernel.command_as(&[], "stats", json!({})), Err(Error::AccessDenied(_))));
    assert!(matches!(kernel.command("archive", json!({})), Err(Error::Invalid(_))));
}

#[test]
fn the_demo_adds_a_notebook_with_notes() {
    let kernel = TestKernel::for_crate(env!("CARGO_MANIFEST_DIR")).expect("the plugin builds and loads");
    assert_eq!(kernel.demo(&[], "2026-12-05").expect("demo"), 1);
    assert_eq!(kernel.query("notebook", json!({})).expect("notebooks").len(), 1);
    assert_eq!(kernel.query("note", json!({})).expect("notes").len(), 3);
}
