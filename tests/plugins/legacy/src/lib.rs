//! A plugin built against WIT 0.1.0 with plain wit-bindgen: newer kernels must keep loading it.
#![allow(unsafe_code, missing_docs)]

wit_bindgen::generate!({
    path: "../../../wit/erp-plugin@0.1.0",
    world: "erp:plugin/plugin@0.1.0",
});

use erp::plugin::types::Error;
use exports::erp::plugin::handlers::{Event, Guest, WebhookRequest, WebhookResponse, WriteCheck};

struct Legacy;

impl Guest for Legacy {
    fn run_command(name: String, input: String) -> Result<String, Error> {
        if name != "hello" {
            return Err(Error::NotFound(name));
        }
        let ctx = erp::plugin::context::current();
        let memo = erp::plugin::store::create("memo", &format!("{{\"text\": {input:?}}}"))?;
        Ok(format!(
            "{{\"plugin\": \"{}\", \"company\": \"{}\", \"memo\": \"{}\"}}",
            ctx.plugin, ctx.company_id, memo.id
        ))
    }

    fn handle_event(handler: String, _event: Event) -> Result<(), Error> {
        Err(Error::NotFound(handler))
    }

    fn validate_write(_check: WriteCheck) -> Result<(), Error> {
        Ok(())
    }

    fn run_schedule(name: String) -> Result<(), Error> {
        Err(Error::NotFound(name))
    }

    fn migrate(_from_version: String) -> Result<(), Error> {
        Ok(())
    }

    fn handle_webhook(name: String, _request: WebhookRequest) -> Result<WebhookResponse, Error> {
        Err(Error::NotFound(name))
    }
}

export!(Legacy);

const MANIFEST: &[u8] = include_bytes!("../plugin.toml");

#[cfg_attr(target_family = "wasm", unsafe(link_section = "erp:manifest"))]
#[used]
static EMBEDDED_MANIFEST: [u8; MANIFEST.len()] = {
    let mut out = [0u8; MANIFEST.len()];
    let mut i = 0;
    while i < MANIFEST.len() {
        out[i] = MANIFEST[i];
        i += 1;
    }
    out
};
