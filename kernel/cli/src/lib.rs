//! The `erp` command line: `serve`, `admin ...`, `plugin ...`, `bench`. It composes the kernel,
//! the API and the web UI, and embeds the bundled plugins.

mod admin;
mod bench;
mod bench_attack;
mod bench_documents;
mod bench_ledger;
mod bench_live;
mod bench_mail;
mod bench_rows;
mod bench_search;
mod bench_stock;
mod bench_ui;
pub mod bundled;
pub mod demo;
pub mod demo_mail;
mod plugin;
mod serve;

use clap::{Args, Parser, Subcommand};

/// Default database when none is given.
pub const DEFAULT_DB: &str = "sqlite://erp.db";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// ERP platform kernel.
#[derive(Debug, Parser)]
#[command(name = "erp", version, about = "Modular ERP/CRM platform")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// Whether this runs `erp bench`.
    pub fn is_bench(&self) -> bool {
        matches!(self.command, Command::Bench { .. })
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(Box<ServeArgs>),
    /// Administer users and companies directly in the database.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Install, list and enable plugins; scaffold a new plugin.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Measure the plugin runtime and the record store; prints figures and ratios.
    Bench {
        /// Database URL (default: a fresh SQLite file in the temp directory).
        #[arg(long = "db")]
        db: Option<String>,
        /// Records in the collection for the query benchmark.
        #[arg(long, default_value_t = 1_000_000)]
        records: usize,
        /// Repetitions of the per-call benchmarks.
        #[arg(long, default_value_t = 5_000)]
        calls: usize,
        /// Events for the delivery throughput benchmark.
        #[arg(long, default_value_t = 50_000)]
        events: usize,
        /// Done stock moves in the history for the warehouse on-hand benchmark.
        #[arg(long, default_value_t = 100_000)]
        moves: usize,
        /// Posted journal lines for the trial balance benchmark.
        #[arg(long, default_value_t = 1_000_000)]
        lines: usize,
        /// Customers (each with a phone) for the search box benchmark.
        #[arg(long, default_value_t = 100_000)]
        customers: usize,
        /// Run one part only: `documents` (printed documents, no database).
        #[arg(long, value_parser = ["documents"])]
        only: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Install a plugin package (.wasm), or upgrade the installed plugin to it.
    Install {
        #[command(flatten)]
        db: DbArg,
        /// The package file.
        file: std::path::PathBuf,
    },
    /// List installed plugins.
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Enable a plugin for a company.
    Enable {
        #[command(flatten)]
        db: DbArg,
        /// Plugin name.
        name: String,
        /// Company id.
        #[arg(long)]
        company: String,
        /// Grant a capability the plugin requests (a collection such as crm.customer).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Configuration as a JSON object.
        #[arg(long)]
        config: Option<String>,
    },
    /// Create a new plugin crate that builds, installs and runs as it is.
    New {
        /// Plugin name (lower-case letters, digits, '_').
        name: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        path: Option<std::path::PathBuf>,
        /// Path to the erp-sdk crate (default: the SDK this kernel was built with).
        #[arg(long)]
        sdk: Option<std::path::PathBuf>,
    },
}

/// Options of `erp serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Database URL: sqlite://PATH or postgres://...
    #[arg(long = "db", env = "ERP_DATABASE_URL", default_value = DEFAULT_DB)]
    pub db: String,
    /// Address to listen on.
    #[arg(long, env = "ERP_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Create (once) a demo company with sample data and print how to log in.
    #[arg(long)]
    pub demo: bool,
    /// The demo people's password when the demo is created (default: a random one, printed
    /// once).
    #[arg(long, env = "ERP_DEMO_PASSWORD", hide_env_values = true)]
    pub demo_password: Option<String>,
    /// Let --demo add its company and operator to a database that already has other users.
    #[arg(long, requires = "demo")]
    pub demo_allow_existing: bool,
    /// Reverse proxies (IP addresses or CIDR ranges, comma-separated) whose X-Forwarded-For
    /// names the client, for login throttling and the audit log.
    #[arg(long, env = "ERP_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// When set, GET /metrics needs it as `Authorization: Bearer <token>`.
    #[arg(long, env = "ERP_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Login attempts per client address per minute (more get 429).
    #[arg(long, env = "ERP_LOGINS_PER_ADDRESS", default_value_t = 60)]
    pub logins_per_address: u32,
    /// Login attempts per account per minute from all addresses (more wait, then get 429).
    #[arg(long, env = "ERP_LOGINS_PER_ACCOUNT", default_value_t = 30)]
    pub logins_per_account: u32,
    /// Password hashes computed at once; 0 means half the cores (more wait, then get 503).
    #[arg(long, env = "ERP_CONCURRENT_HASHES", default_value_t = 0)]
    pub concurrent_hashes: usize,
    /// Webhook deliveries per company per minute (more get 429).
    #[arg(long, env = "ERP_WEBHOOKS_PER_COMPANY", default_value_t = 600)]
    pub webhooks_per_company: u32,
    /// Requests of one company that may run at once.
    #[arg(long, env = "ERP_COMPANY_CONCURRENCY", default_value_t = 4)]
    pub company_concurrency: usize,
    /// Requests of one company that may wait for a turn (more get 503 with Retry-After).
    #[arg(long, env = "ERP_COMPANY_QUEUE", default_value_t = 32)]
    pub company_queue: usize,
    /// Every request's deadline in milliseconds; work still running then is rolled back.
    #[arg(long, env = "ERP_REQUEST_DEADLINE_MS", default_value_t = 30_000)]
    pub request_deadline_ms: u64,
    /// How long plugin code may compute while holding the write lock, in milliseconds.
    #[arg(long, env = "ERP_WRITE_HOLD_MS", default_value_t = erp_kernel::plugins::host::DEFAULT_WRITE_HOLD_MS)]
    pub write_hold_ms: u32,
    /// Seconds a client has to send a complete request head (line and headers).
    #[arg(long, env = "ERP_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request (and a client may take no
    /// byte of an answer) before it is closed.
    #[arg(long, env = "ERP_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Seconds any request body may take; after the first 10 s it must also keep the minimum rate.
    #[arg(long, env = "ERP_BODY_TIMEOUT_SECS", default_value_t = 120)]
    pub body_timeout_secs: u64,
    /// Bytes per second a request body must average after its first 10 s (0: no minimum).
    #[arg(long, env = "ERP_BODY_MIN_RATE", default_value_t = 1024)]
    pub body_min_rate: u64,
    /// Connections open at once (lowered to what the open-file limit allows); when all are
    /// taken a new one closes the connection that has waited longest for a request.
    #[arg(long, env = "ERP_MAX_CONNECTIONS", default_value_t = erp_api::server::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Where uploaded files are kept (default: beside the SQLite file, `<db>.files`; for
    /// PostgreSQL `erp-files` in the working directory). Nodes sharing a database need one
    /// shared directory.
    #[arg(long, env = "ERP_FILES_DIR")]
    pub files_dir: Option<std::path::PathBuf>,
    /// Encrypts files at rest with this key: 32 bytes as 64 hex digits or base64. Files kept
    /// before stay readable.
    #[arg(long, env = "ERP_FILES_KEY", hide_env_values = true)]
    pub files_key: Option<String>,
    /// Largest file, in MiB.
    #[arg(long, env = "ERP_MAX_FILE_MB", default_value_t = 256)]
    pub max_file_mb: u64,
    /// Room for one company's files, in MiB (0: unlimited).
    #[arg(long, env = "ERP_COMPANY_FILES_MB", default_value_t = 20 * 1024)]
    pub company_files_mb: u64,
    /// Private, loopback or link-local networks that plugins and webhooks may reach all the same,
    /// comma-separated (`10.1.0.0/16,127.0.0.1`; `*` for all); a system beside the platform on
    /// the same network. Empty: only public addresses.
    #[arg(long, env = "ERP_OUTBOUND_ALLOW_PRIVATE", value_delimiter = ',')]
    pub outbound_allow_private: Vec<String>,
    /// Longest an outbound request may take, redirects included, in milliseconds.
    #[arg(long, env = "ERP_OUTBOUND_TIMEOUT_MS", default_value_t = 10_000)]
    pub outbound_timeout_ms: u64,
    /// Largest answer to an outbound request, in KiB.
    #[arg(long, env = "ERP_OUTBOUND_MAX_RESPONSE_KB", default_value_t = 4096)]
    pub outbound_max_response_kb: usize,
    /// Outbound requests one company may make per minute.
    #[arg(long, env = "ERP_OUTBOUND_PER_MINUTE", default_value_t = 600)]
    pub outbound_per_minute: u32,
    /// Origins whose requests go elsewhere, comma-separated `from=to`
    /// (`https://api.telegram.org=http://127.0.0.1:8081`): a test rig's stand-in or an egress
    /// relay. Grants and the log still name the origin asked for; the target's network must be
    /// allowed like any other.
    #[arg(long, env = "ERP_OUTBOUND_ROUTE", value_delimiter = ',')]
    pub outbound_route: Vec<String>,
    /// A PEM file of certificate authorities trusted besides the public ones, for mail servers
    /// and plugins' requests to systems with an internal CA.
    #[arg(long, env = "ERP_OUTBOUND_CA_FILE")]
    pub outbound_ca_file: Option<std::path::PathBuf>,
    /// Seals stored secrets such as mailbox passwords: 32 bytes as 64 hex digits or base64.
    /// Without it the key is kept in a file beside the data (`<db>.secret-key`; for PostgreSQL
    /// `erp-secret.key` in the working directory), made on first start. Nodes sharing a
    /// database need the same key.
    #[arg(long, env = "ERP_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,
    /// The address people reach this server at (`https://erp.example.com`), which links in
    /// e-mails start with: unsubscribe links in mailings, records named in notifications.
    /// Default: the address the server listens on, which only suits a server used on this
    /// machine or network.
    #[arg(long, env = "ERP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seconds between checks of the companies' mailboxes (0: only when asked).
    #[arg(long, env = "ERP_MAIL_POLL_SECS", default_value_t = 60)]
    pub mail_poll_secs: u64,
}

impl ServeArgs {
    /// Where and how files are kept, as these arguments ask.
    pub fn files(&self) -> anyhow::Result<erp_kernel::files::FileSettings> {
        let dir = match (&self.files_dir, erp_kernel::storage::backup::sqlite_file(&self.db)) {
            (Some(dir), _) => dir.clone(),
            (None, Some(db)) => std::path::PathBuf::from(format!("{}.files", db.display())),
            (None, None) => std::path::PathBuf::from("erp-files"),
        };
        let key = match self.files_key.as_deref().filter(|k| !k.trim().is_empty()) {
            Some(k) => Some(erp_kernel::files::FileKey::parse(k).map_err(|e| anyhow::anyhow!("ERP_FILES_KEY: {e}"))?),
            None => None,
        };
        let mib = 1024 * 1024;
        Ok(erp_kernel::files::FileSettings {
            dir,
            key,
            max_file_bytes: self.max_file_mb.max(1).saturating_mul(mib),
            company_bytes: (self.company_files_mb > 0)
                .then(|| i64::try_from(self.company_files_mb.saturating_mul(mib)).unwrap_or(i64::MAX)),
        })
    }

    /// The public address given, or the one of `listening` (a wildcard address read as
    /// `localhost`).
    pub fn public_url(&self, listening: std::net::SocketAddr) -> anyhow::Result<erp_kernel::links::PublicUrl> {
        use erp_kernel::links::PublicUrl;
        if let Some(url) = self.public_url.as_deref().filter(|u| !u.trim().is_empty()) {
            return PublicUrl::parse(url).map_err(|e| anyhow::anyhow!("ERP_PUBLIC_URL: {e}"));
        }
        let host = match listening.ip() {
            ip if ip.is_unspecified() => "localhost".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        PublicUrl::parse(&format!("http://{host}:{}", listening.port())).map_err(anyhow::Error::msg)
    }

    /// The key stored secrets are sealed with: the one given, or the key file beside the data.
    pub fn secrets(&self) -> anyhow::Result<erp_kernel::secrets::SecretKey> {
        use erp_kernel::secrets::SecretKey;
        if let Some(k) = self.secrets_key.as_deref().filter(|k| !k.trim().is_empty()) {
            return SecretKey::parse(k).map_err(|e| anyhow::anyhow!("ERP_SECRETS_KEY: {e}"));
        }
        let file = match erp_kernel::storage::backup::sqlite_file(&self.db) {
            Some(db) => std::path::PathBuf::from(format!("{}.secret-key", db.display())),
            None => std::path::PathBuf::from("erp-secret.key"),
        };
        SecretKey::load_or_create(&file).map_err(|e| anyhow::anyhow!(e))
    }

    /// The outbound request settings these arguments ask for.
    pub fn outbound(&self) -> anyhow::Result<erp_kernel::outbound::OutboundSettings> {
        use erp_kernel::outbound::address::Network;
        let mut allow_private = Vec::new();
        for entry in self.outbound_allow_private.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if entry == "*" {
                allow_private.extend(Network::everything());
            } else {
                allow_private
                    .push(Network::parse(entry).map_err(|e| anyhow::anyhow!("ERP_OUTBOUND_ALLOW_PRIVATE: {e}"))?);
            }
        }
        let extra_roots = match &self.outbound_ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("ERP_OUTBOUND_CA_FILE: cannot read {}: {e}", path.display()))?;
                erp_kernel::outbound::roots::ExtraRoots::from_pem(&pem)
                    .map_err(|e| anyhow::anyhow!("ERP_OUTBOUND_CA_FILE {}: {e}", path.display()))?
            }
            None => erp_kernel::outbound::roots::ExtraRoots::default(),
        };
        Ok(erp_kernel::outbound::OutboundSettings {
            extra_roots,
            allow_private,
            timeout: std::time::Duration::from_millis(self.outbound_timeout_ms.max(100)),
            max_response_bytes: self.outbound_max_response_kb.max(1).saturating_mul(1024),
            per_minute: self.outbound_per_minute.max(1),
            routes: self
                .outbound_route
                .iter()
                .map(|r| r.trim())
                .filter(|r| !r.is_empty())
                .map(|r| erp_kernel::outbound::Route::parse(r).map_err(|e| anyhow::anyhow!("ERP_OUTBOUND_ROUTE: {e}")))
                .collect::<anyhow::Result<_>>()?,
        })
    }

    /// The fair-use settings these arguments ask for.
    pub fn fair_use(&self) -> erp_kernel::fair_use::Settings {
        erp_kernel::fair_use::Settings {
            per_company: self.company_concurrency.max(1),
            queue: self.company_queue,
            deadline: std::time::Duration::from_millis(self.request_deadline_ms.max(100)),
            write_hold_ms: self.write_hold_ms.max(1),
            ..Default::default()
        }
    }

    /// The connection limits these arguments ask for.
    pub fn http(&self) -> erp_api::HttpSettings {
        use std::time::Duration;
        erp_api::HttpSettings {
            header_timeout: Duration::from_secs(self.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(self.body_timeout_secs.max(1)),
            body_min_rate: self.body_min_rate,
            max_connections: self.max_connections.max(1),
            ..Default::default()
        }
    }

    /// The trusted proxies these arguments name; an entry that is no address or range is an
    /// error.
    pub fn proxies(&self) -> anyhow::Result<erp_api::server::TrustedProxies> {
        erp_api::server::TrustedProxies::parse(self.trusted_proxies.iter().map(String::as_str))
            .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))
    }

    /// The caps on unauthenticated work these arguments ask for.
    pub fn throttle(&self) -> erp_api::throttle::ThrottleSettings {
        let defaults = erp_api::throttle::ThrottleSettings::default();
        erp_api::throttle::ThrottleSettings {
            concurrent_hashes: if self.concurrent_hashes == 0 {
                defaults.concurrent_hashes
            } else {
                self.concurrent_hashes
            },
            logins_per_address: self.logins_per_address.max(1),
            logins_per_account: self.logins_per_account.max(1),
            webhooks_per_company: self.webhooks_per_company.max(1),
            ..defaults
        }
    }
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a user.
    CreateUser(CreateUserArgs),
    /// Create a company with an existing user as owner.
    CreateCompany(CreateCompanyArgs),
    /// Take a consistent copy of a SQLite database, also while the server runs.
    Backup(BackupArgs),
    /// Put a backup in place of a SQLite database (the server must be stopped).
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
struct BackupArgs {
    #[command(flatten)]
    db: DbArg,
    /// The backup file to write (must not exist).
    #[arg(long)]
    to: std::path::PathBuf,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// The backup file.
    #[arg(long)]
    from: std::path::PathBuf,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
struct DbArg {
    /// Database URL: sqlite://PATH or postgres://...
    #[arg(long = "db", env = "ERP_DATABASE_URL", default_value = DEFAULT_DB)]
    db: String,
}

#[derive(Debug, Args)]
struct CreateUserArgs {
    #[command(flatten)]
    db: DbArg,
    /// Login e-mail.
    #[arg(long)]
    email: String,
    /// Initial password (at least 8 characters).
    #[arg(long)]
    password: String,
    /// Display name (defaults to the e-mail).
    #[arg(long)]
    name: Option<String>,
    /// Make the user a platform operator.
    #[arg(long)]
    superadmin: bool,
}

#[derive(Debug, Args)]
struct CreateCompanyArgs {
    #[command(flatten)]
    db: DbArg,
    /// Company name.
    #[arg(long)]
    name: String,
    /// E-mail of the user who becomes owner.
    #[arg(long)]
    owner: String,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Admin(AdminCommand::CreateUser(a)) => {
            admin::create_user(&a.db.db, &a.email, &a.password, a.name.as_deref(), a.superadmin)
        }
        Command::Admin(AdminCommand::CreateCompany(a)) => admin::create_company(&a.db.db, &a.name, &a.owner),
        Command::Admin(AdminCommand::Backup(a)) => admin::backup(&a.db.db, &a.to),
        Command::Admin(AdminCommand::Restore(a)) => admin::restore(&a.from, &a.db.db),
        Command::Bench { only: Some(_), .. } => bench_documents::run(),
        Command::Bench { db, records, calls, events, moves, lines, customers, only: None } => {
            bench::run(bench::BenchOptions { db, records, calls, events, moves, lines, customers })
        }
        Command::Plugin(PluginCommand::Install { db, file }) => plugin::install(&db.db, &file),
        Command::Plugin(PluginCommand::List { db }) => plugin::list(&db.db),
        Command::Plugin(PluginCommand::Enable { db, name, company, grants, config }) => {
            plugin::enable(&db.db, &name, &company, grants, config.as_deref())
        }
        Command::Plugin(PluginCommand::New { name, path, sdk }) => {
            let dir = plugin::scaffold(&name, path.as_deref(), sdk.as_deref())?;
            println!(
                "created {}; build it with: cd {} && cargo build --release --target wasm32-wasip2",
                dir.display(),
                dir.display()
            );
            Ok(())
        }
    }
}
