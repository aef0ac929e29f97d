//! End-to-end tests: a real server, real HTTP, real databases (SQLite and PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod accounting;
mod architecture;
mod bad_input;
mod browser;
mod bus;
mod collaboration;
mod companies;
mod connections;
mod crm;
mod documents;
mod durability;
mod fair_use;
mod files;
mod forms;
mod hr;
mod identity;
mod isolation;
mod mail;
mod mail_tls;
mod marketing;
mod nodes;
mod notifications;
mod openapi;
mod operations;
mod outbound;
mod plugin_files;
mod plugins;
mod pool_recovery;
mod presentation;
mod records;
mod replies;
mod response_headers;
mod sandbox;
mod scaffold;
mod schemathesis;
mod security;
mod settings;
mod ui;
mod walks;
mod warehouse;
