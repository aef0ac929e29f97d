//! Builds plugin crates for `wasm32-wasip2` with a nested `cargo build`, from a build script
//! (the `erp` binary embeds the bundled plugins, the end-to-end tests use the fixtures) or
//! from a test (the test kit). No dependencies, so it costs a build script nothing.
//!
//! Every caller builds into the same folder (`<target>/wasm-plugins`) with the same settings,
//! so a plugin compiled once is reused by all of them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The WebAssembly target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Variables of an outer build that are meant for the host, not for the plugins (wrappers of
/// clippy or coverage, host flags, an explicit target).
const HOST_ONLY_VARS: &[&str] = &[
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CLIPPY_ARGS",
    "CLIPPY_CONF_DIR",
];

/// What to build: a workspace (or crate) manifest and the packages in it.
#[derive(Debug, Clone)]
pub struct PluginBuild {
    manifest: PathBuf,
    packages: Vec<String>,
    target_dir: PathBuf,
}

impl PluginBuild {
    /// Builds `packages` of the workspace or crate whose `Cargo.toml` is `manifest`, into
    /// `<target_dir>/wasm-plugins`.
    pub fn new(manifest: impl Into<PathBuf>, packages: &[&str], target_dir: impl AsRef<Path>) -> PluginBuild {
        PluginBuild {
            manifest: manifest.into(),
            packages: packages.iter().map(|p| p.to_string()).collect(),
            target_dir: target_dir.as_ref().join("wasm-plugins"),
        }
    }

    /// Runs the build and returns the folder holding `<crate>.wasm` for each package built.
    pub fn run(&self) -> Result<PathBuf, String> {
        ensure_target()?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--release", "--target", TARGET, "--target-dir"])
            .arg(&self.target_dir)
            .arg("--manifest-path")
            .arg(&self.manifest);
        for p in &self.packages {
            cmd.args(["-p", p]);
        }
        for var in HOST_ONLY_VARS {
            cmd.env_remove(var);
        }
        // Plugins are small and carry no debug info.
        cmd.env("CARGO_PROFILE_RELEASE_DEBUG", "false").env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo");
        let status = cmd.status().map_err(|e| format!("cannot run cargo to build plugins: {e}"))?;
        if !status.success() {
            return Err(format!("building {} for {TARGET} failed (see the output above)", self.packages.join(", ")));
        }
        Ok(self.target_dir.join(TARGET).join("release"))
    }
}

/// The package name in a crate's `Cargo.toml`, as its `.wasm` file is named.
pub fn package_name(crate_dir: &Path) -> Result<String, String> {
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("reading {}: {e}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if in_package
            && let Some(rest) = line.strip_prefix("name")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            return Ok(value.trim().trim_matches('"').replace('-', "_"));
        }
    }
    Err(format!("no package name in {}", manifest.display()))
}

/// The target folder of an outer cargo build, found from a build script's `OUT_DIR`
/// (`<target>/[<triple>/]<profile>/build/<pkg>/out`) or a test binary's path
/// (`<target>/<profile>/deps/<binary>`): the nearest folder holding `CACHEDIR.TAG`.
pub fn outer_target_dir(inside: &Path) -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir));
    }
    inside.ancestors().find(|p| p.join("CACHEDIR.TAG").exists()).map(Path::to_path_buf)
}

/// Makes sure the toolchain has the plugin target. rustup adds the targets listed in
/// `rust-toolchain.toml` only when it installs the toolchain itself, so an existing toolchain
/// may lack it; then this adds it (once, through rustup) instead of failing mid-build.
pub fn ensure_target() -> Result<(), String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot =
        Command::new(&rustc).args(["--print", "sysroot"]).output().map_err(|e| format!("cannot run {rustc}: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib").join("rustlib").join(TARGET).exists() {
        return Ok(());
    }
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", TARGET]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        cmd.args(["--toolchain", &toolchain]);
    }
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(_) => Err(format!("`rustup target add {TARGET}` failed; run it by hand, then build again")),
        Err(e) => Err(format!(
            "the {TARGET} target is missing and rustup cannot be run ({e}); install the target for {rustc}"
        )),
    }
}
