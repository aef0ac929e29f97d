//! The host side of the WIT contract (one `bindgen!` for the whole kernel).
#![allow(missing_docs, unsafe_code, clippy::all)]

wasmtime::component::bindgen!({
    path: "../../wit/erp-plugin@0.1.1",
    world: "erp:plugin/plugin@0.1.1",
    imports: { default: trappable },
});
