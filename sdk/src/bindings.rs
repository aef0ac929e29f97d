//! The generated WIT bindings. Private to the SDK: plugins use the curated API instead.

wit_bindgen::generate!({
    path: "../wit/erp-plugin@0.2.4",
    world: "erp:plugin/plugin@0.2.4",
    pub_export_macro: true,
    export_macro_name: "__export_erp_plugin_world",
    default_bindings_module: "::erp_sdk::__bindings",
    runtime_path: "::erp_sdk::__wit_bindgen::rt",
});
