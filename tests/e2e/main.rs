//! End-to-end tests: a real server, real HTTP, real databases (SQLite and PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod accounting;
mod architecture;
mod bad_input;
mod browser;
mod bus;
mod companies;
mod crm;
mod durability;
mod fair_use;
mod hr;
mod identity;
mod isolation;
mod marketing;
mod openapi;
mod plugins;
mod records;
mod sandbox;
mod scaffold;
mod ui;
mod warehouse;
