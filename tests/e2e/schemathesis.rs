//! Schemathesis (the PyPI package) tests the running server against its own OpenAPI
//! document: no answer may be a server error, have a status, content type, body or header the
//! document does not describe, accept input the document forbids, or refuse input it allows,
//! and no route that needs a token may answer without one.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::support::{Backend, TestApp, package};

/// Test cases per operation and phase: enough to reach every documented rule, few enough to
/// finish in a few minutes on a small machine.
const MAX_EXAMPLES: u32 = 100;
/// The generator's seed, fixed so that a run is repeatable; `ERP_SCHEMATHESIS_SEED` explores.
const SEED: &str = "18";
/// The longest a run may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(15 * 60);

/// What the run checks: every answer against the document, the document's input rules
/// against what the server accepts and refuses, and that tokens are really required.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection,positive_data_acceptance,ignored_auth";

/// Secret of the notes plugin's inbound webhook in the test company.
const WEBHOOK_SECRET: &str = "fuzz-secret-fuzz-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    run(Backend::Postgres).await;
}

/// The `schemathesis` command when it is installed. Under `CI=true` it must be (`.ci/run`
/// installs it); elsewhere the test skips, loudly.
fn schemathesis() -> Option<&'static str> {
    let found = std::process::Command::new("schemathesis").arg("--version").output();
    match found {
        Ok(out) if out.status.success() => Some("schemathesis"),
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("schemathesis is required under CI but cannot be run: {why}");
            }
            eprintln!(
                "\n*** SKIPPING the schemathesis test: `schemathesis --version` failed ({why}); install it with `python3 -m pip install schemathesis` ***\n"
            );
            None
        }
    }
}

async fn run(backend: Backend) {
    let Some(command) = schemathesis() else { return };
    // A server error says only "internal error" to the client; its cause goes to the log.
    let _ = tracing_subscriber::fmt().with_max_level(tracing::Level::ERROR).with_test_writer().try_init();
    let Some(app) = TestApp::start(backend).await else { return };

    // A company with a plugin, a member, a record and an event, so that the routes answer
    // with real objects and not only 404s.
    app.install(&package("notes")).await;
    let (member, expendable) = app.user("expendable@example.com").await;
    let co = app.company("Fuzz", &[("expendable@example.com", "member")]).await;
    app.enable(&co, "notes", json!({ "webhook_secret": WEBHOOK_SECRET })).await.expect(200);
    let note =
        app.post(&format!("/api/v1/companies/{co}/data/notes/note"), &app.root, json!({ "title": "First" })).await;
    let record = note.expect(201)["id"].as_str().expect("record id").to_string();
    let events = app.get(&format!("/api/v1/companies/{co}/events"), &app.root).await;
    let event = events.expect(200)["items"][0]["id"].as_str().expect("event id").to_string();
    let hook = json!({ "url": "https://hooks.example.com/fuzz", "events": ["notes.note.*"] });
    let hook = app.post(&format!("/api/v1/companies/{co}/outgoing-webhooks"), &app.root, hook).await;
    let webhook = hook.expect(201)["id"].as_str().expect("webhook id").to_string();
    // The run's own token; the operations that revoke the caller's tokens get the member's,
    // so that they cannot log the run out.
    let token = app.post("/api/v1/auth/tokens", &app.root, json!({ "name": "schemathesis" })).await;
    let token = token.expect(201)["token"].as_str().expect("token").to_string();

    let dir = tempfile::tempdir().expect("temp dir");
    let ids = Ids { company: co.clone(), member, record, event, webhook };
    let config_path = dir.path().join("schemathesis.toml");
    std::fs::write(&config_path, config(&app.base, &ids, &token, &expendable)).expect("write the configuration");

    let out = dir.path().join("out.txt");
    let log = std::fs::File::create(&out).expect("output file");
    let err = log.try_clone().expect("output file");
    let seed = std::env::var("ERP_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.to_string());
    let mut child = tokio::process::Command::new(command)
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&config_path)
        .args(["--no-color", "run", &format!("{}/api/v1/openapi.json", app.base)])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        // One worker: hypothesis' generators are not safe to share between threads.
        .args(["--workers", "1", "--seed", &seed, "--generation-database", "none"])
        .args(["--request-timeout", "60"])
        .stdout(log)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .expect("start schemathesis");
    let status = match tokio::time::timeout(RUN_LIMIT, child.wait()).await {
        Ok(status) => status.expect("schemathesis ran"),
        Err(_) => {
            let _ = child.kill().await;
            panic!("schemathesis did not finish within {RUN_LIMIT:?}:\n{}", read(&out));
        }
    };
    let output = read(&out);
    eprintln!("{output}");
    assert!(status.success(), "schemathesis found answers that contradict the OpenAPI document (see above)");
    assert!(output.contains("generated"), "schemathesis ran no test case");

    // The run kept its credential and the company it tested.
    app.call(Method::GET, &format!("/api/v1/companies/{co}"), Some(&token), None).await.expect(200);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Real objects for the path parameters that name one.
struct Ids {
    company: String,
    member: String,
    record: String,
    event: String,
    webhook: String,
}

/// Operations whose valid input depends on what exists or on what a plugin declares, which
/// no static document can say: a user or role named in the body, a collection's fields and
/// cursors, a command's input, a webhook's payload, a plugin's grants and configuration, a
/// package, the kinds of notifications the company's plugins send. There, input that matches the document may still be refused with a 422 naming
/// the problem; everything else about their answers is checked as everywhere.
const REFERS_TO_STATE: &str = concat!(
    r"^(POST|PATCH) /api/v1/companies/\{id\}/members",
    r"|^(GET|POST|PATCH) /api/v1/companies/\{id\}/data/",
    r"|/commands/",
    r"|^POST /api/v1/hooks/",
    r"|^PUT /api/v1/companies/\{id\}/plugins/",
    r"|^PUT /api/v1/companies/\{id\}/notifications/preferences$",
    r"|^POST /api/v1/plugins$",
    r"|^(POST|PATCH) /api/v1/companies/\{id\}/outgoing-webhooks",
    r"|^PUT /api/v1/companies/\{id\}/mail$",
);

/// The run's configuration: the base URL, the credential, real objects in every path that
/// names one, the member's token for the operations that revoke the caller's tokens, and the
/// operations whose valid input depends on state (see [`REFERS_TO_STATE`]).
fn config(base: &str, ids: &Ids, token: &str, expendable: &str) -> String {
    let config = json!({
        "base-url": base,
        "headers": { "Authorization": format!("Bearer {token}") },
        "parameters": {
            "path.id": ids.company,
            "path.company_id": ids.company,
            "path.user_id": ids.member,
            "path.record_id": ids.record,
            "path.event_id": ids.event,
            "path.webhook_id": ids.webhook,
        },
        "operations": [
            {
                "include-path-regex": r"^/api/v1/companies/\{id\}/data/",
                "parameters": { "path.plugin": "notes", "path.collection": "note" },
            },
            {
                // Enabling again and releasing; disabling is tried with names of plugins
                // that are not enabled, so that the run keeps its records.
                "include-path-regex": r"^/api/v1/companies/\{id\}/plugins/\{name\}",
                "exclude-method": "DELETE",
                "parameters": { "path.name": "notes" },
            },
            {
                "include-path-regex": r"^/api/v1/companies/\{id\}/plugins/\{plugin\}/",
                "parameters": { "path.plugin": "notes", "path.command": "stats" },
            },
            {
                "include-path-regex": r"^/api/v1/hooks/",
                "parameters": {
                    "path.plugin": "notes",
                    "path.hook": "inbound",
                    "header.X-Webhook-Secret": WEBHOOK_SECRET,
                },
            },
            {
                "include-path-regex": r"^/api/v1/auth/tokens(/revoke-all|/\{token_id\})?$",
                "exclude-method": "GET",
                "headers": { "Authorization": format!("Bearer {expendable}") },
            },
            {
                // A live event stream answers for as long as its client listens, so a call
                // never ends; `notifications::the_stream_delivers_as_it_happens` covers it.
                "include-name-regex": r"^GET /api/v1/companies/\{id\}/notifications/stream$",
                "enabled": false,
            },
            {
                // An INN is valid only with its check digits, which JSON Schema cannot say.
                "include-name-regex": r"^PUT /api/v1/companies/\{id\}/profile$",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "401", "403", "404", "422", "429"],
                    },
                },
            },
            {
                "include-name-regex": REFERS_TO_STATE,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"],
                    },
                },
            },
        ],
    });
    let value = toml::Value::try_from(&config).expect("TOML");
    toml::to_string(&value).expect("TOML text")
}
