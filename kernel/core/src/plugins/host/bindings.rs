//! The host side of the WIT contract: one `bindgen!` per WIT line the kernel links, side by
//! side (each line's interfaces are distinct imports, so both can be in one linker).
#![allow(missing_docs, unsafe_code, clippy::all)]

/// The 0.1.x line, at its newest release.
pub mod v01 {
    wasmtime::component::bindgen!({
        path: "../../wit/erp-plugin@0.1.1",
        world: "erp:plugin/plugin@0.1.1",
        imports: { default: trappable },
    });
}

/// The 0.2.x line, at its newest release (the current version).
pub mod v02 {
    wasmtime::component::bindgen!({
        path: "../../wit/erp-plugin@0.2.4",
        world: "erp:plugin/plugin@0.2.4",
        imports: { default: trappable },
    });
}
