//! `erp plugin ...`: install, list and enable plugins from the command line, and scaffold a
//! new out-of-tree plugin crate.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use erp_kernel::Platform;
use erp_kernel::access::CompanyScope;
use erp_kernel::audit::Actor;
use erp_kernel::identity::companies;
use erp_kernel::plugins::PluginError;
use erp_kernel::plugins::lifecycle::{self, EnableRequest};
use erp_kernel::plugins::manifest::is_identifier;
use erp_kernel::session::Session;

/// Installs (or upgrades to) a package file.
pub fn install(db_url: &str, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let platform = Platform::open(db_url)?;
    match lifecycle::install(&platform, &bytes, &Actor::system()) {
        Ok(done) => {
            match done.upgraded_from {
                Some(from) => println!("upgraded {} {from} -> {}", done.name, done.version),
                None => println!("installed {} {}", done.name, done.version),
            }
            Ok(())
        }
        Err(PluginError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("  - {p}");
            }
            bail!("{} is not a valid plugin package ({} problem(s))", file.display(), problems.len())
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints the installed plugins.
pub fn list(db_url: &str) -> anyhow::Result<()> {
    let platform = Platform::open(db_url)?;
    let all = platform.db.read_blocking(|conn| lifecycle::list(&platform, conn))?;
    if all.is_empty() {
        println!("no plugins installed");
    }
    for p in all {
        let m = &p.manifest;
        println!(
            "{} {} (WIT {}, enabled in {} compan(y/ies)) - {}",
            m.plugin.name, m.plugin.version, m.plugin.wit, p.enabled_in, m.plugin.description
        );
    }
    Ok(())
}

/// Enables a plugin for a company, as the kernel itself.
pub fn enable(
    db_url: &str,
    name: &str,
    company_id: &str,
    grants: Vec<String>,
    config: Option<&str>,
) -> anyhow::Result<()> {
    let platform = Platform::open(db_url)?;
    let config = match config {
        Some(text) => serde_json::from_str(text).context("--config must be a JSON object")?,
        None => serde_json::Value::Null,
    };
    let mut session = Session::begin(&platform.db, company_id, None)?;
    if companies::get(session.conn()?, company_id)?.is_none() {
        bail!("no company with id {company_id}");
    }
    let scope = CompanyScope::system(company_id);
    lifecycle::enable(&platform, &mut session, &scope, name, EnableRequest { grants, config, webhook_secret: None })?;
    session.commit()?;
    println!("enabled {name} for company {company_id}");
    Ok(())
}

/// Where the SDK of this kernel lives (for the scaffold's path dependency).
fn default_sdk() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join("sdk")
}

/// Writes a new plugin crate that builds, installs and runs as it is.
pub fn scaffold(name: &str, path: Option<&Path>, sdk: Option<&Path>) -> anyhow::Result<PathBuf> {
    if !is_identifier(name, 32) {
        bail!("plugin names are 1-32 lower-case letters, digits or '_', starting with a letter");
    }
    let dir = path.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} exists and is not empty", dir.display());
    }
    let sdk = sdk.map(Path::to_path_buf).unwrap_or_else(default_sdk);
    let sdk = sdk.canonicalize().with_context(|| format!("the SDK is not at {}; pass --sdk PATH", sdk.display()))?;
    std::fs::create_dir_all(dir.join("src"))?;
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk)),
        ("plugin.toml", plugin_toml(name)),
        ("src/lib.rs", lib_rs(name)),
        ("rust-toolchain.toml", "[toolchain]\nchannel = \"1.95.0\"\ntargets = [\"wasm32-wasip2\"]\n".to_string()),
        (".gitignore", "/target\n".to_string()),
        ("README.md", readme(name)),
    ];
    for (file, text) in files {
        std::fs::write(dir.join(file), text).with_context(|| format!("writing {file}"))?;
    }
    Ok(dir)
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
erp-sdk = {{ path = {sdk:?} }}
serde = {{ version = "1", features = ["derive"] }}

[profile.release]
strip = "debuginfo"

# A plugin is its own workspace.
[workspace]
"#,
        sdk = sdk.display().to_string()
    )
}

fn plugin_toml(name: &str) -> String {
    format!(
        r#"[plugin]
name = "{name}"
version = "0.1.0"
wit = "0.2.4"
description = "What {name} does"
publisher = "You"

[[permissions]]
name = "{name}.item.read"
description = "Read items"
default_roles = ["member"]

[[permissions]]
name = "{name}.item.write"
description = "Create and change items"
default_roles = ["member"]

[collections.item]
label = {{ en = "Item", ru = "Элемент" }}
read_permission = "{name}.item.read"
write_permission = "{name}.item.write"

[collections.item.fields.title]
type = "text"
required = true
indexed = true
label = {{ en = "Title", ru = "Название" }}

[collections.item.fields.done]
type = "bool"
default = false
label = {{ en = "Done", ru = "Готово" }}

[[commands]]
name = "add"
permission = "{name}.item.write"
description = "Add an item"

[commands.input.title]
type = "text"
required = true

[[commands]]
name = "count"
permission = "{name}.item.read"
description = "Count open items"
"#
    )
}

fn lib_rs(name: &str) -> String {
    let ty: String = name
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        })
        .collect();
    format!(
        r#"//! The {name} plugin.

use erp_sdk::store::{{self, Filter, Query}};
use erp_sdk::{{Error, Plugin, Result, Value, export_plugin, json}};
use serde::{{Deserialize, Serialize}};

/// An item.
#[derive(Debug, Serialize, Deserialize)]
struct Item {{
    title: String,
    #[serde(default)]
    done: bool,
}}

/// The plugin.
struct {ty};

impl Plugin for {ty} {{
    fn command(name: &str, input: Value) -> Result<Value> {{
        match name {{
            "add" => {{
                let title = input["title"].as_str().ok_or_else(|| Error::invalid("title", "is required"))?;
                let item = store::create("item", &Item {{ title: title.to_string(), done: false }})?;
                Ok(json!({{ "id": item.id }}))
            }}
            "count" => {{
                let open = store::query::<Item>("item", &Query::new().filter(Filter::eq("done", false)).limit(500))?;
                Ok(json!({{ "open": open.records.len() }}))
            }}
            other => Err(Error::not_found(format!("command {{other}}"))),
        }}
    }}
}}

export_plugin!({ty});
"#
    )
}

fn readme(name: &str) -> String {
    format!(
        "# {name}\n\nA plugin for the ERP platform.\n\n```sh\ncargo build --release --target wasm32-wasip2\nerp plugin install target/wasm32-wasip2/release/{name}.wasm\nerp plugin enable {name} --company COMPANY_ID\n```\n\nThen run its commands: `POST /api/v1/companies/COMPANY_ID/plugins/{name}/commands/add` with `{{\"title\": \"...\"}}`.\n"
    )
}
