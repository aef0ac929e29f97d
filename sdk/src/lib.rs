//! The SDK for writing plugins for the ERP platform.
//!
//! Plugins depend on this crate only, never on the kernel. The plugin runtime fills it with
//! the WIT bindings, the plugin trait and the test kit.
