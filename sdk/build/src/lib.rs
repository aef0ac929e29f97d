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
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").ok();
    ensure_target_with(&rustc, "rustup", toolchain.as_deref()).map(|_| ())
}

/// What [`ensure_target_with`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum TargetCheck {
    /// The toolchain had the target.
    Present,
    /// rustup added it.
    Added,
}

/// [`ensure_target`] with explicit programs: the compiler whose sysroot is checked, the rustup
/// that adds the target, and the toolchain to add it to (the active one when `None`). The
/// error names the exact command to run by hand.
pub fn ensure_target_with(rustc: &str, rustup: &str, toolchain: Option<&str>) -> Result<TargetCheck, String> {
    let by_hand = match toolchain {
        Some(t) => format!("rustup target add {TARGET} --toolchain {t}"),
        None => format!("rustup target add {TARGET}"),
    };
    let has_target = || -> Result<bool, String> {
        let out = Command::new(rustc)
            .args(["--print", "sysroot"])
            .output()
            .map_err(|e| format!("cannot run {rustc} to find its sysroot: {e}"))?;
        let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Ok(out.status.success() && sysroot.join("lib").join("rustlib").join(TARGET).is_dir())
    };
    if has_target()? {
        return Ok(TargetCheck::Present);
    }
    let mut cmd = Command::new(rustup);
    cmd.args(["target", "add", TARGET]);
    if let Some(t) = toolchain {
        cmd.args(["--toolchain", t]);
    }
    match cmd.status() {
        Ok(s) if s.success() && has_target()? => Ok(TargetCheck::Added),
        Ok(s) if s.success() => Err(format!(
            "`{by_hand}` succeeded but {rustc} still lacks the {TARGET} target; check which toolchain cargo uses"
        )),
        Ok(_) => Err(format!("the {TARGET} target is missing and adding it failed; run `{by_hand}`, then build again")),
        Err(e) => Err(format!(
            "the {TARGET} target is missing and rustup cannot be run ({e}); install the target for {rustc} (with rustup: `{by_hand}`)"
        )),
    }
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fake toolchain in a temporary folder: `rustc` prints a sysroot, `rustup` logs its
    /// arguments and adds the target to that sysroot, or fails.
    struct Fake {
        dir: PathBuf,
    }

    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    impl Fake {
        fn new(name: &str, rustup_works: bool, has_target: bool) -> Fake {
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let dir = std::env::temp_dir().join(format!("erp-target-check-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let sysroot = dir.join("sysroot");
            std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu")).unwrap();
            if has_target {
                std::fs::create_dir_all(sysroot.join("lib/rustlib").join(TARGET)).unwrap();
            }
            let script = |file: &str, body: String| {
                let path = dir.join(file);
                std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            };
            script(
                "rustc",
                format!("if [ \"$1\" = --print ]; then echo {}; else echo \"rustc fake: $*\"; fi", sysroot.display()),
            );
            let add = if rustup_works {
                format!("mkdir -p {}/lib/rustlib/$3", sysroot.display())
            } else {
                "echo 'error: could not download' >&2; exit 1".to_string()
            };
            script("rustup", format!("echo \"$@\" >> {}/rustup.log\n{add}", dir.display()));
            Fake { dir }
        }

        fn check(&self, toolchain: Option<&str>) -> Result<TargetCheck, String> {
            // One fake runs at a time: a script written by one test thread while another forks
            // could fail to start ("text file busy").
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ensure_target_with(
                self.dir.join("rustc").to_str().unwrap(),
                self.dir.join("rustup").to_str().unwrap(),
                toolchain,
            )
        }

        fn rustup_calls(&self) -> Vec<String> {
            std::fs::read_to_string(self.dir.join("rustup.log")).unwrap_or_default().lines().map(String::from).collect()
        }
    }

    /// Runs the workspace's rustc wrapper (`.cargo/wasm-target.sh`) as cargo does, with this
    /// fake toolchain's programs first on `PATH` and rustup's own folder left out.
    fn wrapper(fake: &Fake, args: &[&str], toolchain: Option<&str>) -> std::process::Output {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cargo/wasm-target.sh");
        let mut cmd = Command::new("sh");
        cmd.arg(script).args(args.iter().map(|a| a.replace("{rustc}", fake.dir.join("rustc").to_str().unwrap())));
        cmd.env("PATH", format!("{}:/usr/bin:/bin", fake.dir.display())).env_remove("RUSTUP_TOOLCHAIN");
        if let Some(t) = toolchain {
            cmd.env("RUSTUP_TOOLCHAIN", t);
        }
        cmd.output().unwrap()
    }

    #[test]
    fn cargos_first_call_adds_the_missing_target_and_keeps_stdout_clean() {
        let fake = Fake::new("wrapper-adds", true, false);
        let out = wrapper(&fake, &["{rustc}", "-vV"], Some("1.95.0-x86_64-unknown-linux-gnu"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "rustc fake: -vV\n", "cargo parses this output");
        assert_eq!(fake.rustup_calls(), [format!("target add {TARGET} --toolchain 1.95.0-x86_64-unknown-linux-gnu")]);
        assert!(fake.dir.join("sysroot/lib/rustlib").join(TARGET).is_dir());
        let again = wrapper(&fake, &["{rustc}", "-vV"], Some("1.95.0-x86_64-unknown-linux-gnu"));
        assert!(again.status.success());
        assert_eq!(fake.rustup_calls().len(), 1, "a present target is not added again");
    }

    #[test]
    fn the_wrapper_checks_under_clippy_and_leaves_compiler_calls_alone() {
        let fake = Fake::new("wrapper-clippy", true, false);
        let out = wrapper(&fake, &["/bin/echo", "{rustc}", "-vV"], None);
        assert!(out.status.success());
        assert_eq!(fake.rustup_calls(), [format!("target add {TARGET}")]);
        assert!(String::from_utf8_lossy(&out.stdout).ends_with("rustc -vV\n"), "the call runs unchanged");

        let fake = Fake::new("wrapper-compile", false, false);
        let out = wrapper(&fake, &["{rustc}", "--crate-name", "x", "src/lib.rs"], None);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "rustc fake: --crate-name x src/lib.rs\n");
        assert!(fake.rustup_calls().is_empty(), "only cargo's first call checks");
    }

    #[test]
    fn when_the_wrapper_cannot_add_the_target_cargo_stops_with_the_command() {
        let fake = Fake::new("wrapper-offline", false, false);
        let out = wrapper(&fake, &["{rustc}", "-vV"], Some("1.95.0"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(out.stdout.is_empty(), "rustc did not run");
        assert!(err.contains(&format!("run `rustup target add {TARGET} --toolchain 1.95.0`")), "{err}");

        std::fs::remove_file(fake.dir.join("rustup")).unwrap();
        let out = wrapper(&fake, &["{rustc}", "-vV"], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("rustup is not installed") && err.contains(&format!("`rustup target add {TARGET}`")),
            "{err}"
        );
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn a_missing_target_is_added_for_the_active_toolchain_once() {
        let fake = Fake::new("adds", true, false);
        assert_eq!(fake.check(Some("1.95.0-x86_64-unknown-linux-gnu")), Ok(TargetCheck::Added));
        assert_eq!(fake.rustup_calls(), [format!("target add {TARGET} --toolchain 1.95.0-x86_64-unknown-linux-gnu")]);
        assert_eq!(fake.check(Some("1.95.0-x86_64-unknown-linux-gnu")), Ok(TargetCheck::Present));
        assert_eq!(fake.rustup_calls().len(), 1, "a present target is not added again");
    }

    #[test]
    fn a_present_target_needs_no_rustup() {
        let fake = Fake::new("present", false, true);
        assert_eq!(fake.check(None), Ok(TargetCheck::Present));
        assert!(fake.rustup_calls().is_empty());
    }

    #[test]
    fn when_rustup_cannot_add_it_the_error_gives_the_command() {
        let fake = Fake::new("offline", false, false);
        let err = fake.check(Some("1.95.0")).unwrap_err();
        assert!(err.contains(&format!("run `rustup target add {TARGET} --toolchain 1.95.0`")), "{err}");
        let err = {
            let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ensure_target_with(fake.dir.join("rustc").to_str().unwrap(), "/nonexistent/rustup", None).unwrap_err()
        };
        assert!(err.contains("rustup cannot be run") && err.contains(&format!("rustup target add {TARGET}")), "{err}");
    }
}
