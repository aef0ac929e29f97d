//! An out-of-tree plugin scaffolded by `erp plugin new` builds with plain cargo, installs and
//! enables from the command line, and runs through the HTTP API.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::durability::{ERP, admin, start};
use crate::support::workspace;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaffolded_plugin_builds_installs_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("hello_shop");
    let out = Command::new(ERP).args(["plugin", "new", "hello_shop", "--path"]).arg(&crate_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in ["Cargo.toml", "plugin.toml", "src/lib.rs", "README.md"] {
        assert!(crate_dir.join(file).exists(), "{file} scaffolded");
    }
    // Same dependency versions as this workspace, so the build needs nothing new.
    std::fs::copy(workspace().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let target = workspace().join("target").join("wasm-plugins");
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env_remove("RUSTFLAGS")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    assert!(build.success(), "the scaffolded plugin builds with plain cargo");
    let package = target.join("wasm32-wasip2").join("release").join("hello_shop.wasm");

    let db = format!("sqlite://{}", dir.path().join("erp.db").display());
    admin(&[
        "admin",
        "create-user",
        "--db",
        &db,
        "--email",
        "root@example.com",
        "--password",
        "durable-password",
        "--superadmin",
    ]);
    let company =
        admin(&["admin", "create-company", "--db", &db, "--name", "Hello Ltd", "--owner", "root@example.com"]);
    let installed = admin(&["plugin", "install", "--db", &db, package.to_str().unwrap()]);
    assert_eq!(installed, "installed hello_shop 0.1.0");
    admin(&["plugin", "enable", "--db", &db, "hello_shop", "--company", &company]);
    let listed = admin(&["plugin", "list", "--db", &db]);
    assert!(listed.starts_with("hello_shop 0.1.0"), "{listed}");

    let (mut child, base) = start(&db);
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": "root@example.com", "password": "durable-password" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let command = |name: &str| format!("{base}/api/v1/companies/{company}/plugins/hello_shop/commands/{name}");
    let added =
        client.post(command("add")).bearer_auth(&token).json(&json!({ "title": "First item" })).send().await.unwrap();
    assert_eq!(added.status().as_u16(), 200);
    let missing = client.post(command("add")).bearer_auth(&token).json(&json!({})).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 422, "the declared input is checked by the kernel");
    let count: Value =
        client.post(command("count")).bearer_auth(&token).json(&json!({})).send().await.unwrap().json().await.unwrap();
    child.kill().unwrap();
    assert_eq!(count, json!({ "open": 1 }));
}
