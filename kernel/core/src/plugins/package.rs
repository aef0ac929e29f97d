//! Plugin packages: a WebAssembly component with its `plugin.toml` embedded in an
//! `erp:manifest` custom section (the SDK's `export_plugin!` puts it there). Inspection
//! checks everything and reports every problem at once.

use std::collections::BTreeMap;

use semver::Version;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use super::PluginHost;
use super::host::{ALLOWED_WASI, KERNEL_INTERFACES, supported_wit};
use super::manifest::{self, Manifest, wit_compatible};

/// Name of the custom section that carries the manifest.
pub const MANIFEST_SECTION: &str = "erp:manifest";
/// Name of the custom section that carries the document templates (`export_plugin!`'s
/// `documents`): entries of a little-endian u32 path length, a u32 text length, the path and
/// the text.
pub const DOCUMENTS_SECTION: &str = "erp:documents";
/// Largest package accepted.
pub const MAX_PACKAGE_BYTES: usize = 32 * 1024 * 1024;

/// A package that passed inspection.
pub struct Inspected {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The manifest text as embedded.
    pub manifest_text: String,
    /// SHA-256 of the package, hex.
    pub sha256: String,
    /// The package as uploaded.
    pub package: Vec<u8>,
    /// The compiled artifact for this engine.
    pub artifact: Vec<u8>,
    /// The component (from the artifact).
    pub component: Component,
    /// The document templates the manifest names, by path.
    pub templates: BTreeMap<String, String>,
}

impl std::fmt::Debug for Inspected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspected").field("plugin", &self.manifest.plugin.name).field("sha256", &self.sha256).finish()
    }
}

/// SHA-256 of bytes, hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Finds the embedded manifest in a component (it lives in the core module's custom sections).
pub fn embedded_manifest(bytes: &[u8]) -> Result<Option<String>, String> {
    let mut found = None;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::CustomSection(reader)) if reader.name() == MANIFEST_SECTION => {
                if found.is_some() {
                    return Err("the package has more than one embedded manifest".into());
                }
                let text =
                    std::str::from_utf8(reader.data()).map_err(|_| "the embedded manifest is not UTF-8".to_string())?;
                found = Some(text.to_string());
            }
            Ok(_) => {}
            Err(e) => return Err(format!("not a valid WebAssembly file: {e}")),
        }
    }
    Ok(found)
}

/// The document templates embedded in a component, by path.
pub fn embedded_templates(bytes: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut found = BTreeMap::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::CustomSection(reader)) if reader.name() == DOCUMENTS_SECTION => {
                let mut rest = reader.data();
                while !rest.is_empty() {
                    let (path, text, tail) =
                        template_entry(rest).ok_or_else(|| format!("the {DOCUMENTS_SECTION} section is malformed"))?;
                    let text = String::from_utf8(text.to_vec()).map_err(|_| format!("template {path} is not UTF-8"))?;
                    if found.insert(path.clone(), text).is_some() {
                        return Err(format!("template {path} is embedded twice"));
                    }
                    rest = tail;
                }
            }
            Ok(_) => {}
            Err(e) => return Err(format!("not a valid WebAssembly file: {e}")),
        }
    }
    Ok(found)
}

/// One entry of the templates section: its path, its text and what follows.
fn template_entry(bytes: &[u8]) -> Option<(String, &[u8], &[u8])> {
    let len = |b: &[u8]| -> Option<usize> { usize::try_from(u32::from_le_bytes(b.get(..4)?.try_into().ok()?)).ok() };
    let path_len = len(bytes)?;
    let text_len = len(bytes.get(4..)?)?;
    let path = bytes.get(8..8usize.checked_add(path_len)?)?;
    let end = 8usize.checked_add(path_len)?.checked_add(text_len)?;
    let text = bytes.get(8 + path_len..end)?;
    Some((String::from_utf8(path.to_vec()).ok()?, text, bytes.get(end..)?))
}

/// The templates the manifest names, each present and free of syntax errors; every problem
/// is reported with the template's line.
fn declared_templates(
    manifest: &Manifest,
    embedded: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (i, doc) in manifest.documents.iter().enumerate() {
        for (lang, path) in &doc.templates {
            let at = format!("documents.{i}.templates.{lang}");
            let Some(text) = embedded.get(path) else {
                problems.push(format!("{at}: {path} is not in the package; list it in export_plugin!'s documents"));
                continue;
            };
            if let Err(e) = erp_typeset::check(text) {
                for p in e.problems() {
                    problems.push(format!("{at}: {path}: {p}"));
                }
                continue;
            }
            out.insert(path.clone(), text.clone());
        }
    }
    out
}

/// Checks one import name against what the kernel offers.
fn check_import(name: &str, plugin_wit: &Version) -> Result<(), String> {
    let (path, version) = name.split_once('@').unwrap_or((name, ""));
    if let Some(iface) = path.strip_prefix("erp:plugin/") {
        if !KERNEL_INTERFACES.contains(&iface) {
            return Err(format!("imports {name}, which this kernel does not provide"));
        }
        let v = Version::parse(version).map_err(|_| format!("imports {name} without a valid version"))?;
        if !supported_wit().iter().any(|k| wit_compatible(&v, k)) {
            return Err(format!("imports {name}, a WIT version this kernel does not support"));
        }
        if &v > plugin_wit {
            return Err(format!("imports {name}, newer than the WIT version {plugin_wit} its manifest declares"));
        }
        return Ok(());
    }
    if ALLOWED_WASI.contains(&path) {
        return match Version::parse(version) {
            Ok(v) if v.major == 0 && v.minor == 2 => Ok(()),
            _ => Err(format!("imports {name}: only WASI 0.2 is supported")),
        };
    }
    let why = if path.starts_with("wasi:filesystem") {
        " (plugins have no file system)"
    } else if path.starts_with("wasi:sockets") || path.starts_with("wasi:http") {
        " (plugins have no network)"
    } else {
        ""
    };
    Err(format!("imports {name}, which plugins may not use{why}"))
}

/// Inspects a package: a valid component, an embedded valid manifest, imports limited to what
/// the kernel offers, exports matching the contract. Every problem is reported.
pub fn inspect(host: &PluginHost, bytes: &[u8]) -> Result<Inspected, Vec<String>> {
    let mut problems = Vec::new();
    if bytes.len() > MAX_PACKAGE_BYTES {
        return Err(vec![format!("the package is larger than {} MiB", MAX_PACKAGE_BYTES / (1024 * 1024))]);
    }
    if !wasmparser::Parser::is_component(bytes) {
        let what = if wasmparser::Parser::is_core_wasm(bytes) {
            "a core WebAssembly module, not a component; build with --target wasm32-wasip2"
        } else {
            "not a WebAssembly component"
        };
        return Err(vec![format!("the package is {what}")]);
    }
    let manifest_text = match embedded_manifest(bytes) {
        Ok(Some(t)) => Some(t),
        Ok(None) => {
            problems
                .push(format!("no embedded manifest (custom section {MANIFEST_SECTION}); use erp_sdk::export_plugin!"));
            None
        }
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let manifest = manifest_text.as_deref().and_then(|t| match manifest::parse(t, &supported_wit()) {
        Ok(m) => Some(m),
        Err(list) => {
            problems.extend(list.iter().map(ToString::to_string));
            None
        }
    });
    let templates = match (&manifest, embedded_templates(bytes)) {
        (Some(m), Ok(embedded)) => declared_templates(m, &embedded, &mut problems),
        (_, Err(e)) => {
            problems.push(e);
            BTreeMap::new()
        }
        (None, Ok(_)) => BTreeMap::new(),
    };
    let compiled = host.precompile(bytes).map_err(|e| format!("not a valid component: {e:#}")).and_then(|artifact| {
        host.component_from_artifact(&artifact)
            .map(|c| (artifact, c))
            .map_err(|e| format!("not a valid component: {e:#}"))
    });
    let (artifact, component) = match compiled {
        Ok(pair) => pair,
        Err(e) => {
            problems.push(e);
            return Err(problems);
        }
    };
    let plugin_wit = manifest.as_ref().map(|m| m.plugin.wit.clone()).unwrap_or_else(|| Version::new(u64::MAX, 0, 0));
    let ty = component.component_type();
    let mut bad_imports = false;
    for (name, item) in ty.imports(host.engine()) {
        if !matches!(item.ty, ComponentItem::ComponentInstance(_)) {
            problems.push(format!("imports {name}, which is not an interface"));
            bad_imports = true;
            continue;
        }
        if let Err(e) = check_import(name, &plugin_wit) {
            problems.push(e);
            bad_imports = true;
        }
    }
    if !bad_imports && let Err(e) = host.prepare(&component) {
        problems.push(format!("does not fit the kernel's contract: {e:#}"));
    }
    match (manifest, manifest_text, problems.is_empty()) {
        (Some(manifest), Some(manifest_text), true) => Ok(Inspected {
            manifest,
            manifest_text,
            sha256: sha256(bytes),
            package: bytes.to_vec(),
            artifact,
            component,
            templates,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_entries_are_read_and_malformed_ones_refused() {
        let mut bytes = Vec::new();
        for (path, text) in [("documents/a.typ", "= A"), ("documents/b.typ", "")] {
            bytes.extend_from_slice(&(path.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
            bytes.extend_from_slice(path.as_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
        let (path, text, rest) = template_entry(&bytes).expect("first");
        assert_eq!((path.as_str(), text), ("documents/a.typ", b"= A".as_slice()));
        let (path, text, rest) = template_entry(rest).expect("second");
        assert_eq!((path.as_str(), text, rest.len()), ("documents/b.typ", b"".as_slice(), 0));
        assert!(template_entry(&bytes[..10]).is_none(), "a cut entry");
        assert!(template_entry(&[255, 255, 255, 255, 0, 0, 0, 0]).is_none(), "a length past the end");
    }

    #[test]
    fn imports_are_checked() {
        let v = Version::new(0, 1, 1);
        assert!(check_import("erp:plugin/store@0.1.1", &v).is_ok());
        assert!(check_import("erp:plugin/store@0.1.0", &v).is_ok());
        assert!(check_import("erp:plugin/store@0.2.0", &v).is_err());
        assert!(check_import("erp:plugin/secrets@0.1.1", &v).is_err());
        assert!(check_import("erp:plugin/store@0.1.1", &Version::new(0, 1, 0)).is_err());
        assert!(check_import("wasi:cli/stdout@0.2.6", &v).is_ok());
        let fs = check_import("wasi:filesystem/types@0.2.6", &v).expect_err("refused");
        assert!(fs.contains("no file system"), "{fs}");
        assert!(check_import("wasi:sockets/tcp@0.2.6", &v).expect_err("refused").contains("no network"));
    }
}
