//! Builds the bundled plugins (and the test fixture plugins) for `wasm32-wasip2` with a
//! nested `cargo build`, so that one `cargo build` of the kernel builds everything. The
//! bundled ones are embedded in the `erp` binary; the fixtures are left beside them for tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Plugins that ship inside the `erp` binary: (crate, plugin name).
const BUNDLED: &[&str] = &["notes", "crm", "warehouse", "accounting", "hr", "marketing"];

/// Test fixture plugins (crates under tests/plugins/).
const FIXTURES: &[&str] = &[
    "hostile",
    "fs_reader",
    "bad_manifest",
    "needs_ghost",
    "legacy",
    "ledger_v1",
    "ledger_v2",
    "ledger_v3",
    "spy",
    "counter",
    "flaky",
    "guard",
    "ticker",
    "sink",
    "fake_accounting",
    "fake_hr",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("workspace root").to_path_buf();
    for dir in ["plugins", "sdk", "wit", "tests/plugins"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let target_dir = target_dir(&out_dir).join("wasm-plugins");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    for krate in BUNDLED.iter().chain(FIXTURES) {
        cmd.args(["-p", krate]);
    }
    // The outer build's wrappers and flags are for the host (clippy, coverage...), not for
    // the plugins; plugins are small and stripped of debug info.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false").env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run cargo to build the plugins: {e}"));
    if !status.success() {
        panic!(
            "building the plugins for wasm32-wasip2 failed (see above). If the target is missing: \
             rustup target add wasm32-wasip2"
        );
    }

    let built = target_dir.join("wasm32-wasip2").join("release");
    let mut bundled = String::from("/// Plugins bundled with the kernel: (plugin crate, package bytes).\n");
    bundled.push_str("pub const BUNDLED: &[(&str, &[u8])] = &[\n");
    for krate in BUNDLED.iter().chain(FIXTURES) {
        let from = built.join(format!("{krate}.wasm"));
        let to = out_dir.join(format!("{krate}.wasm"));
        copy_if_changed(&from, &to);
        if BUNDLED.contains(krate) {
            bundled.push_str(&format!("    ({krate:?}, include_bytes!({:?})),\n", to.display().to_string()));
        }
    }
    bundled.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), bundled).expect("write bundled.rs");
    println!("cargo:rustc-env=ERP_PLUGIN_PACKAGES={}", out_dir.display());
}

/// The target directory of the outer build: OUT_DIR is `<target>/[<triple>/]<profile>/build/<pkg>/out`.
fn target_dir(out_dir: &Path) -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    let build =
        out_dir.ancestors().find(|p| p.file_name().is_some_and(|n| n == "build")).expect("OUT_DIR inside build/");
    let profile = build.parent().expect("profile dir");
    let above = profile.parent().expect("target dir");
    // With --target, there is one more level (<target>/<triple>/<profile>).
    if above.join("CACHEDIR.TAG").exists() || above.file_name().is_some_and(|n| n == "target") {
        above.to_path_buf()
    } else {
        above.parent().map(Path::to_path_buf).unwrap_or_else(|| above.to_path_buf())
    }
}

fn copy_if_changed(from: &Path, to: &Path) {
    let new = std::fs::read(from).unwrap_or_else(|e| panic!("missing built plugin {}: {e}", from.display()));
    if std::fs::read(to).ok().as_deref() != Some(&new[..]) {
        std::fs::write(to, new).unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
    }
}
