//! Records every note event it receives; honours idempotency keys, so each event counts once
//! however often it is delivered.

use erp_sdk::{Error, Event, Plugin, Result, Value, events, json, store};

/// The plugin.
pub struct Counter;

impl Plugin for Counter {
    fn event(handler: &str, event: &Event) -> Result<()> {
        match handler {
            "count" => {
                let payload: Value = event.payload()?;
                // The unique key makes a second application of the same delivery fail, and
                // the kernel rolls it back with its delivery.
                if events::first_time(event, "applied")? {
                    store::create(
                        "seen",
                        &json!({ "key": event.idempotency_key, "event": event.name, "payload": payload }),
                    )?;
                }
                Ok(())
            }
            // An endless chain of events: each link publishes the next one.
            "chain" => {
                let n = event.payload::<Value>()?["n"].as_u64().unwrap_or(0);
                events::publish("counter.chain.link", &json!({ "n": n + 1 }))?;
                Ok(())
            }
            other => Err(Error::not_found(format!("handler {other}"))),
        }
    }

    fn command(name: &str, _input: Value) -> Result<Value> {
        match name {
            "start-chain" | "peek" => {
                Ok(json!({ "event": events::publish("counter.chain.link", &json!({ "n": 0 }))? }))
            }
            other => Err(Error::not_found(format!("command {other}"))),
        }
    }
}

erp_sdk::export_plugin!(Counter);
