//! Builds the bundled plugins for `wasm32-wasip2` with a nested `cargo build`, so that one
//! `cargo build` of the binary builds everything, and embeds them in the `erp` binary. Test
//! fixtures are not built here: the end-to-end tests build them in their own build script.

use std::path::{Path, PathBuf};

/// Plugins that ship inside the `erp` binary (crate names under plugins/).
const BUNDLED: &[&str] = &["notes", "crm", "warehouse", "accounting", "hr", "marketing", "collaboration"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    for dir in ["plugins", "sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let target = erp_plugin_build::outer_target_dir(&out_dir).expect("OUT_DIR inside a cargo target folder");
    let built = erp_plugin_build::PluginBuild::new(root.join("Cargo.toml"), BUNDLED, &target)
        .run()
        .unwrap_or_else(|e| panic!("{e}"));

    let mut bundled = String::from("/// Plugins bundled with the binary: (plugin crate, package bytes).\n");
    bundled.push_str("pub const BUNDLED: &[(&str, &[u8])] = &[\n");
    for krate in BUNDLED {
        let to = out_dir.join(format!("{krate}.wasm"));
        copy_if_changed(&built.join(format!("{krate}.wasm")), &to);
        bundled.push_str(&format!("    ({krate:?}, include_bytes!({:?})),\n", to.display().to_string()));
    }
    bundled.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), bundled).expect("write bundled.rs");
}

fn copy_if_changed(from: &Path, to: &Path) {
    let new = std::fs::read(from).unwrap_or_else(|e| panic!("missing built plugin {}: {e}", from.display()));
    if std::fs::read(to).ok().as_deref() != Some(&new[..]) {
        std::fs::write(to, new).unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
    }
}
