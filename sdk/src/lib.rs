//! The SDK for writing plugins for the ERP platform.
//!
//! A plugin is a WebAssembly component built with plain
//! `cargo build --release --target wasm32-wasip2`. It depends on this crate only, never on the
//! kernel. It implements [`Plugin`] (every method has a default), registers itself with
//! [`export_plugin!`], and declares its collections, commands, permissions and subscriptions in
//! a `plugin.toml` beside its `Cargo.toml`; [`export_plugin!`] embeds that manifest in the
//! component, so the built `.wasm` file is the whole package.
//!
//! ```
//! use erp_sdk::{Plugin, Error, Result, export_plugin};
//! use serde_json::{Value, json};
//!
//! struct Greeter;
//!
//! impl Plugin for Greeter {
//!     fn command(name: &str, input: Value) -> Result<Value> {
//!         match name {
//!             "greet" => {
//!                 let who = input["name"].as_str().ok_or_else(|| Error::invalid("name", "is required"))?;
//!                 Ok(json!({ "greeting": format!("Hello, {who}!") }))
//!             }
//!             other => Err(Error::not_found(format!("no command {other}"))),
//!         }
//!     }
//! }
//!
//! // In a plugin crate (next to its plugin.toml): export_plugin!(Greeter);
//!
//! let answer = Greeter::command("greet", json!({ "name": "Anna" })).unwrap();
//! assert_eq!(answer, json!({ "greeting": "Hello, Anna!" }));
//! assert!(matches!(Greeter::command("greet", json!({})), Err(Error::Invalid(_))));
//! ```
//!
//! The record store ([`store`]), events ([`events`]), files ([`files`]), notifications
//! ([`notify`]), requests to granted hosts outside ([`http`]), the calling context ([`context`]), logging ([`log`]), [`now`] and [`new_id`]
//! call into the kernel; they work inside a running
//! plugin (and in the [test kit](crate#test-kit)), not in plain host code.
//!
//! # Test kit
//!
//! The `erp-testkit` crate (as a dev-dependency) has `erp_testkit::TestKernel`, which builds the
//! plugin crate for `wasm32-wasip2`, loads it into an in-memory kernel with one company, and
//! lets an ordinary `cargo test` call its commands, hooks and collections.
#![deny(missing_docs)]

// Lets the generated bindings name this crate as `::erp_sdk` both here and in plugins.
extern crate self as erp_sdk;

#[doc(hidden)]
#[allow(missing_docs, unsafe_code)]
pub mod bindings;
pub mod context;
pub mod documents;
mod error;
pub mod events;
pub mod files;
pub mod http;
pub mod log;
pub mod mail;
pub mod notify;
pub mod store;
pub mod words;

pub use erp_query::RecordChange;
pub use erp_query::demo::{DEMO_COMMAND, DemoAnswer, DemoPerson, DemoRequest};
pub use error::{Error, FieldError, Result};
pub use events::Event;
pub use serde_json::{self, Value, json};

#[doc(hidden)]
pub use bindings as __bindings;
#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

use bindings::exports::erp::plugin::handlers as wit;

/// What kind of write a validation hook sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// A new record.
    Create,
    /// A change to an existing record.
    Update,
    /// A deletion.
    Delete,
}

/// A write to one of the plugin's collections, about to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteCheck {
    /// The collection.
    pub collection: String,
    /// Create, update or delete.
    pub kind: WriteKind,
    /// The record's id.
    pub record_id: String,
    /// The record before (update, delete).
    pub before: Option<Value>,
    /// The record after (create, update).
    pub after: Option<Value>,
}

/// An inbound webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// HTTP method.
    pub method: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

/// The answer to an inbound webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// HTTP status.
    pub status: u16,
    /// Content type of the body.
    pub content_type: String,
    /// Raw body.
    pub body: Vec<u8>,
}

impl WebhookResponse {
    /// A JSON answer with status 200.
    pub fn json(value: &Value) -> WebhookResponse {
        WebhookResponse { status: 200, content_type: "application/json".into(), body: value.to_string().into_bytes() }
    }
}

/// A plugin. Every method has a default, so implement only what the manifest declares.
/// Methods take no `self`: the kernel runs each call in a fresh, isolated instance, so keep
/// state in the record store, not in memory.
pub trait Plugin {
    /// Runs a command declared in the manifest. The kernel has already checked the caller's
    /// permission for it.
    fn command(name: &str, input: Value) -> Result<Value> {
        let _ = input;
        Err(Error::not_found(format!("command {name}")))
    }

    /// Handles an event for a subscription declared in the manifest.
    fn event(handler: &str, event: &Event) -> Result<()> {
        let _ = event;
        Err(Error::not_found(format!("event handler {handler}")))
    }

    /// Called before every write to the plugin's own collections; an error vetoes the write
    /// and reaches the caller.
    fn validate(check: &WriteCheck) -> Result<()> {
        let _ = check;
        Ok(())
    }

    /// Runs a schedule declared in the manifest.
    fn schedule(name: &str) -> Result<()> {
        Err(Error::not_found(format!("schedule {name}")))
    }

    /// Migrates one company's data after an upgrade from `from_version`.
    fn migrate(from_version: &str) -> Result<()> {
        let _ = from_version;
        Ok(())
    }

    /// Handles an inbound webhook declared in the manifest.
    fn webhook(name: &str, request: WebhookRequest) -> Result<WebhookResponse> {
        let _ = request;
        Err(Error::not_found(format!("webhook {name}")))
    }

    /// Fills a demo company with sample data, for a plugin whose manifest declares `[demo]`.
    /// The kernel calls it with `step` 0, 1, 2, ... until it answers [`DemoAnswer::done`];
    /// each step runs under a command's limits, so split large demos and hand what the next
    /// step needs over in [`DemoAnswer::next`]'s state.
    fn demo(request: &DemoRequest) -> Result<DemoAnswer> {
        let _ = request;
        Ok(DemoAnswer::done())
    }
}

/// The current time, RFC 3339 UTC, as the kernel sees it.
pub fn now() -> String {
    bindings::erp::plugin::time::now()
}

/// Deserialises a command's input into `T`, naming the problem for the caller as an invalid
/// `input`. A missing input reads as `{}`, and JSON numbers are read as their decimal text,
/// so exact decimal fields (such as `rust_decimal` with `serde-str`) take `100` and `"100.00"`
/// alike; give integer fields a decimal type and convert.
pub fn input<T: serde::de::DeserializeOwned>(mut value: Value) -> Result<T> {
    fn decimals(v: &mut Value) {
        match v {
            Value::Number(n) => *v = Value::String(n.to_string()),
            Value::Array(items) => items.iter_mut().for_each(decimals),
            Value::Object(map) => map.values_mut().for_each(decimals),
            _ => {}
        }
    }
    if value.is_null() {
        value = Value::Object(Default::default());
    }
    decimals(&mut value);
    serde_json::from_value(value).map_err(|e| Error::invalid("input", e.to_string()))
}

/// A fresh, time-ordered unique id.
pub fn new_id() -> String {
    bindings::erp::plugin::ids::new_id()
}

/// Connects a [`Plugin`] to the generated exports. Used by [`export_plugin!`].
#[doc(hidden)]
pub struct Adapter<P>(std::marker::PhantomData<P>);

fn parse_json(field: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::invalid(field, format!("is not JSON: {e}")))
}

fn parse_opt(field: &str, text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| parse_json(field, &t)).transpose()
}

impl<P: Plugin> wit::Guest for Adapter<P> {
    fn run_command(name: String, input: String) -> Result<String, bindings::erp::plugin::types::Error> {
        if name == DEMO_COMMAND {
            let request: DemoRequest = serde_json::from_str(&input)
                .map_err(|e| Error::invalid("input", format!("is not a demo step: {e}")))?;
            let answer = P::demo(&request)?;
            return Ok(serde_json::to_string(&answer).map_err(|e| Error::failed(e.to_string()))?);
        }
        let input = parse_json("input", &input)?;
        Ok(P::command(&name, input)?.to_string())
    }

    fn handle_event(handler: String, event: wit::Event) -> Result<(), bindings::erp::plugin::types::Error> {
        let event = Event {
            id: event.id,
            name: event.name,
            payload: event.payload,
            actor: event.actor,
            occurred_at: event.occurred_at,
            idempotency_key: event.idempotency_key,
        };
        Ok(P::event(&handler, &event)?)
    }

    fn validate_write(check: wit::WriteCheck) -> Result<(), bindings::erp::plugin::types::Error> {
        let check = WriteCheck {
            collection: check.collection,
            kind: match check.kind {
                wit::WriteKind::Create => WriteKind::Create,
                wit::WriteKind::Update => WriteKind::Update,
                wit::WriteKind::Delete => WriteKind::Delete,
            },
            record_id: check.record_id,
            before: parse_opt("before", check.before)?,
            after: parse_opt("after", check.after)?,
        };
        Ok(P::validate(&check)?)
    }

    fn run_schedule(name: String) -> Result<(), bindings::erp::plugin::types::Error> {
        Ok(P::schedule(&name)?)
    }

    fn migrate(from_version: String) -> Result<(), bindings::erp::plugin::types::Error> {
        Ok(P::migrate(&from_version)?)
    }

    fn handle_webhook(
        name: String,
        request: wit::WebhookRequest,
    ) -> Result<wit::WebhookResponse, bindings::erp::plugin::types::Error> {
        let answer =
            P::webhook(&name, WebhookRequest { method: request.method, headers: request.headers, body: request.body })?;
        Ok(wit::WebhookResponse { status: answer.status, content_type: answer.content_type, body: answer.body })
    }
}

#[doc(hidden)]
/// One entry of the `erp:documents` section: the path's and the text's lengths (u32, little
/// endian), the path, the text.
pub const fn __template_entry<const N: usize>(path: &[u8], text: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let (p, t) = ((path.len() as u32).to_le_bytes(), (text.len() as u32).to_le_bytes());
    let mut i = 0;
    while i < 4 {
        out[i] = p[i];
        out[4 + i] = t[i];
        i += 1;
    }
    let mut j = 0;
    while j < path.len() {
        out[8 + j] = path[j];
        j += 1;
    }
    let mut k = 0;
    while k < text.len() {
        out[8 + path.len() + k] = text[k];
        k += 1;
    }
    out
}

/// Registers a [`Plugin`] type as this component's implementation and embeds the crate's
/// `plugin.toml` in the component, so the built `.wasm` is the complete package.
///
/// Call it once, at the root of the plugin crate: `erp_sdk::export_plugin!(MyPlugin);`. A plugin
/// that prints [`documents`] lists its template files too, paths inside the crate as the
/// manifest names them: `erp_sdk::export_plugin!(MyPlugin, documents: ["documents/invoice.ru.typ"]);`
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty, documents: [$($template:literal),* $(,)?]) => {
        $crate::export_plugin!($plugin);
        $(
            const _: () = {
                const PATH: &[u8] = $template.as_bytes();
                const TEXT: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $template));
                #[cfg_attr(target_family = "wasm", unsafe(link_section = "erp:documents"))]
                #[used]
                static EMBEDDED_TEMPLATE: [u8; 8 + PATH.len() + TEXT.len()] = $crate::__template_entry(PATH, TEXT);
            };
        )*
    };
    ($plugin:ty) => {
        type __ErpPluginAdapter = $crate::Adapter<$plugin>;
        $crate::__bindings::__export_erp_plugin_world!(__ErpPluginAdapter with_types_in $crate::__bindings);

        const _: () = {
            const MANIFEST: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin.toml"));
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
        };
    };
}
