//! A plugin that misbehaves on purpose, to prove the sandbox holds.

use erp_sdk::notify::Notification;
use erp_sdk::{Error, Event, Plugin, Result, Value, events, files, json, store};

/// The plugin.
pub struct Hostile;

fn mark(label: &str) -> Result<String> {
    Ok(store::create("mark", &json!({ "label": label }))?.id)
}

/// Computes (no host calls) for about `ms` milliseconds.
fn spin_for(ms: u64) {
    let start = std::time::Instant::now();
    let mut n: u64 = 0;
    while (start.elapsed().as_millis() as u64) < ms {
        for _ in 0..10_000 {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

impl Plugin for Hostile {
    fn event(_handler: &str, _event: &Event) -> Result<()> {
        // Busy-waits until the kernel stops it.
        spin_for(u64::MAX);
        Ok(())
    }

    fn command(name: &str, input: Value) -> Result<Value> {
        match name {
            "ok" => Ok(json!({ "id": mark("ok")? })),
            "write-then-loop" => {
                mark("before loop")?;
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "loop" | "loop-report" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "slow-write" => {
                let ms = input["ms"].as_u64().unwrap_or(0);
                let label = input["label"].as_str().unwrap_or("slow").to_string();
                spin_for(ms);
                Ok(json!({ "id": mark(&label)? }))
            }
            "spin" => Ok(json!({ "id": store::create("spin", &json!({ "label": "spin" }))?.id })),
            "write-then-bomb" => {
                mark("before bomb")?;
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 16 * 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            "write-then-panic" => {
                mark("before panic")?;
                panic!("hostile plugin panics on purpose");
            }
            "huge-answer" => Ok(Value::String("x".repeat(8 * 1024 * 1024))),
            "ignore-veto" => {
                // notes' validation hook refuses this title; carry on as if nothing happened.
                let refused = store::create("notes.note", &json!({ "title": "TODO" })).is_err();
                Ok(json!({ "refused": refused, "id": mark("after ignored veto")? }))
            }
            "leak-handles" => {
                mark("before leak")?;
                for _ in 0..100_000 {
                    std::mem::forget(wasip2::cli::stdout::get_stdout());
                }
                Ok(json!({ "leaked": true }))
            }
            "chatty" => {
                for i in 0..100_000 {
                    println!("line {i} of a very chatty plugin that prints far too much");
                }
                Ok(json!({ "id": mark("chatty")? }))
            }
            "publish-foreign" => Ok(json!({ "event": events::publish("notes.note.created", &json!({}))? })),
            "spoof-record-event" => Ok(json!({ "event": events::publish("hostile.mark.created", &json!({}))? })),
            "big-argument" => {
                let big = "y".repeat(2 * 1024 * 1024);
                match store::create("mark", &json!({ "label": big })) {
                    Err(Error::LimitExceeded(m)) => Ok(json!({ "refused": m })),
                    other => Err(Error::failed(format!("expected a limit, got {other:?}"))),
                }
            }
            "read-file" => {
                let id = input["id"].as_str().unwrap_or_default();
                let info = files::info(id).map(|f| f.name);
                let read = files::read(id, 0, 1024);
                match (info, read) {
                    (Err(Error::NotFound(_)), Err(Error::NotFound(_))) => Ok(json!({ "refused": "not-found" })),
                    other => Ok(json!({ "leaked": format!("{other:?}") })),
                }
            }
            "list-files" => {
                let (coll, id) =
                    (input["collection"].as_str().unwrap_or_default(), input["id"].as_str().unwrap_or_default());
                match files::attached(coll, id) {
                    Ok(list) => Ok(json!({ "leaked": list.len() })),
                    Err(e) => Ok(json!({ "refused": e.to_string() })),
                }
            }
            "store-and-read" => {
                let file = files::create("own.bin", None, b"hostile bytes")?;
                let back = files::read_all(&file.id)?;
                Ok(json!({ "id": file.id, "read": String::from_utf8_lossy(&back) }))
            }
            "notify-as-notes" => {
                let user = input["user"].as_str().unwrap_or_default();
                match Notification::new("notes.shared").to(user).title("en", "spoofed").send() {
                    Err(Error::Invalid(_)) => Ok(json!({ "refused": "invalid" })),
                    other => Ok(json!({ "sent": format!("{other:?}") })),
                }
            }
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }
}

erp_sdk::export_plugin!(Hostile);
