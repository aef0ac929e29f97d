//! The crate map's rules, checked on the resolved dependency graph (`cargo metadata`): which
//! crate may depend on which, and what the kernel, the SDK and the test kit must never pull in.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use crate::support::workspace;

/// The workspace's dependency graph: package name -> names of its normal (non-dev, non-build)
/// dependencies, for every package in the resolve.
struct Graph {
    normal: BTreeMap<String, BTreeSet<String>>,
    members: BTreeMap<String, String>,
}

impl Graph {
    fn load() -> Graph {
        // Resolved for this host only, so that no other platform's crates need downloading.
        let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("-vV")
            .output()
            .expect("rustc runs");
        let version = String::from_utf8_lossy(&rustc.stdout).to_string();
        let host = version.lines().find_map(|l| l.strip_prefix("host: ")).expect("rustc names its host").trim();
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", host, "--manifest-path"])
            .arg(workspace().join("Cargo.toml"))
            .output()
            .expect("cargo metadata runs");
        assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
        let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
        let name_of: BTreeMap<&str, &str> = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
            .collect();
        let root = workspace().canonicalize().expect("workspace root");
        let members = meta["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .filter(|p| meta["workspace_members"].as_array().expect("members").contains(&p["id"]))
            .map(|p| {
                let manifest = std::path::Path::new(p["manifest_path"].as_str().expect("manifest path"));
                let dir = manifest.parent().expect("crate folder").strip_prefix(&root).expect("inside the workspace");
                (p["name"].as_str().expect("name").to_string(), dir.display().to_string())
            })
            .collect();
        let mut normal = BTreeMap::new();
        for node in meta["resolve"]["nodes"].as_array().expect("resolve") {
            let name = name_of[node["id"].as_str().expect("id")].to_string();
            let deps: BTreeSet<String> = node["deps"]
                .as_array()
                .expect("deps")
                .iter()
                .filter(|d| d["dep_kinds"].as_array().expect("kinds").iter().any(|k| k["kind"].is_null()))
                .map(|d| name_of[d["pkg"].as_str().expect("pkg")].to_string())
                .collect();
            normal.entry(name).or_insert_with(BTreeSet::new).extend(deps);
        }
        Graph { normal, members }
    }

    /// Every package `name` needs to build and run (its normal dependencies, transitively).
    fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            for d in self.normal.get(&n).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    }

    /// The workspace crates `name` depends on directly.
    fn local_deps(&self, name: &str) -> BTreeSet<String> {
        self.normal[name].iter().filter(|d| self.members.contains_key(*d)).cloned().collect()
    }
}

fn assert_free_of(graph: &Graph, krate: &str, banned: &[&str]) {
    let closure = graph.closure(krate);
    let found: Vec<&&str> = banned.iter().filter(|b| closure.contains(**b)).collect();
    assert!(found.is_empty(), "{krate} must not depend on {found:?}, even indirectly");
}

#[test]
fn crates_depend_only_downwards() {
    let graph = Graph::load();
    // manifest <- core <- api <- web <- cli; the SDK and its build helper stand apart.
    // erp-query is the contract's query language: a leaf both sides may use.
    let allowed: &[(&str, &[&str])] = &[
        ("erp-manifest", &[]),
        ("erp-query", &[]),
        ("erp-typeset", &[]),
        ("erp-kernel", &["erp-manifest", "erp-query", "erp-typeset"]),
        ("erp-api", &["erp-kernel", "erp-manifest", "erp-query"]),
        ("erp-web", &["erp-api", "erp-kernel", "erp-manifest", "erp-query"]),
        ("erp", &["erp-web", "erp-api", "erp-kernel", "erp-manifest", "erp-query"]),
        ("erp-sdk", &["erp-query"]),
        ("erp-plugin-build", &[]),
        ("erp-testkit", &["erp-kernel", "erp-sdk", "erp-plugin-build", "erp-query"]),
    ];
    for (krate, may) in allowed {
        let extra: Vec<String> = graph.local_deps(krate).into_iter().filter(|d| !may.contains(&d.as_str())).collect();
        assert!(extra.is_empty(), "{krate} depends on {extra:?}, which the crate map does not allow");
    }
    // Every crate of the workspace is either in the map above or a plugin.
    for (name, dir) in &graph.members {
        let known = allowed.iter().any(|(k, _)| k == name);
        assert!(
            known || dir.starts_with("plugins/") || dir.starts_with("tests/plugins/"),
            "{name} ({dir}) is not in the crate map"
        );
    }
}

#[test]
fn the_kernel_knows_no_http_command_line_or_templates() {
    let graph = Graph::load();
    // Its HTTP client for outbound requests (reqwest) is allowed; a server or routing is not.
    assert_free_of(&graph, "erp-kernel", &["axum", "clap", "minijinja", "utoipa", "erp-api", "erp-web"]);
    assert_free_of(&graph, "erp-manifest", &["erp-kernel", "diesel", "wasmtime", "axum"]);
    assert_free_of(&graph, "erp-query", &["erp-kernel", "erp-manifest", "diesel", "wasmtime", "axum"]);
}

#[test]
fn plugins_and_the_sdk_never_reach_the_kernel() {
    let graph = Graph::load();
    assert_free_of(&graph, "erp-sdk", &["erp-kernel", "erp-manifest", "wasmtime", "diesel"]);
    let plugins: Vec<(&String, &String)> = graph
        .members
        .iter()
        .filter(|(_, dir)| dir.starts_with("plugins/") || dir.starts_with("tests/plugins/"))
        .collect();
    assert!(plugins.len() >= 6, "the bundled plugins and the fixtures are workspace members");
    for (name, _) in plugins {
        let local = graph.local_deps(name);
        assert!(
            local.iter().all(|d| d == "erp-sdk"),
            "plugin {name} depends on {local:?}; plugins depend only on erp-sdk"
        );
        assert_free_of(&graph, name, &["erp-kernel", "wasmtime"]);
    }
}

#[test]
fn the_test_kit_builds_no_http_or_web_ui() {
    let graph = Graph::load();
    assert_free_of(&graph, "erp-testkit", &["axum", "erp-api", "erp-web", "minijinja", "clap", "utoipa"]);
}

#[test]
fn only_the_binary_depends_on_the_web_ui() {
    let graph = Graph::load();
    for (name, deps) in &graph.normal {
        if deps.contains("erp-web") {
            assert_eq!(name, "erp", "{name} depends on erp-web; only the binary may");
        }
    }
}

/// The top-level modules of `erp-kernel` and, for each, the other top-level modules its code
/// (tests excluded) names through `crate::`.
fn kernel_module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = workspace().join("kernel/core/src");
    let mut modules: BTreeMap<String, Vec<std::path::PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("kernel sources") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().expect("name").to_string_lossy().to_string();
        if name == "lib" {
            continue;
        }
        let mut files = Vec::new();
        let mut todo = vec![path];
        while let Some(p) = todo.pop() {
            if p.is_dir() {
                todo.extend(std::fs::read_dir(&p).expect("folder").map(|e| e.expect("entry").path()));
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
        modules.entry(name).or_default().extend(files);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (name, files) in &modules {
        let mut uses = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(file).expect("source");
            // Unit tests may reach anywhere; the rule is about the code.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                // `crate::Platform` is the platform module's re-export.
                let target = if word == "Platform" { "platform".to_string() } else { word };
                if &target != name && names.contains(&target) {
                    uses.insert(target);
                }
            }
            // `use crate::{a, b::c}` groups.
            for (i, _) in code.match_indices("crate::{") {
                let group = &code[i + "crate::{".len()..];
                let group = &group[..group.find('}').unwrap_or(0)];
                for item in group.split(',') {
                    let word: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if &word != name && names.contains(&word) {
                        uses.insert(word);
                    }
                }
            }
        }
        graph.insert(name.clone(), uses);
    }
    graph
}

/// A cycle in `graph`, as the path that closes it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn kernel_modules_import_each_other_without_cycles() {
    let graph = kernel_module_graph();
    for core in ["storage", "records", "bus", "plugins", "platform", "access", "identity"] {
        assert!(graph.contains_key(core), "module {core} found in kernel/core/src");
    }
    assert!(graph["platform"].contains("bus"), "the graph sees `crate::` paths: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("erp-kernel modules import each other in a cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(find_cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    graph.get_mut("c").expect("c").clear();
    assert_eq!(find_cycle(&graph), None);
}

/// Rust sources under `dir`, recursively.
fn sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            todo.extend(std::fs::read_dir(&p).expect("folder").map(|e| e.expect("entry").path()));
        } else if p.extension().is_some_and(|e| e == "rs") {
            files.push(p);
        }
    }
    files
}

#[test]
fn the_kernel_names_no_bundled_plugin_outside_its_benchmarks() {
    let root = workspace();
    let mut plugins = Vec::new();
    for entry in std::fs::read_dir(root.join("plugins")).expect("plugins") {
        let manifest = entry.expect("entry").path().join("plugin.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let table: toml::Table = toml::from_str(&text).expect("a manifest");
            plugins.push(table["plugin"]["name"].as_str().expect("a name").to_string());
        }
    }
    assert!(plugins.len() >= 6, "{plugins:?}");
    for krate in ["manifest", "core", "api", "web", "cli"] {
        for file in sources(&root.join("kernel").join(krate).join("src")) {
            // Benchmarks measure particular bundled plugins on purpose.
            if file.file_name().is_some_and(|n| n.to_string_lossy().starts_with("bench")) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("source");
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for name in &plugins {
                // A qualified name (`"crm.deal"`), or the plugin handed to a call that runs or
                // enables it; a bare word such as a field called `notes` is not a plugin.
                let calls = ["run_command", "run_webhook", "lifecycle::", ".active("];
                let named = code.lines().any(|line| {
                    line.contains(&format!("\"{name}."))
                        || (line.contains(&format!("\"{name}\"")) && calls.iter().any(|c| line.contains(c)))
                });
                assert!(
                    !named,
                    "{} names the bundled plugin {name}: demo data and knowledge of a plugin's API belong to the plugin",
                    file.display()
                );
            }
        }
    }
}
