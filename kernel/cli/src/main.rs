//! The `erp` binary.

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = erp::Cli::parse();
    // The benchmark's requests would drown its figures in access log lines.
    let default = if cli.is_bench() { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env("ERP_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // One JSON object per line for log collectors; the request's span (method, path, request
    // id) rides along with every line logged while serving it.
    match std::env::var("ERP_LOG_FORMAT").as_deref() {
        Ok("json") => logs.json().with_current_span(true).with_span_list(false).init(),
        Ok("text") | Ok("") | Err(_) => logs.init(),
        Ok(other) => {
            logs.init();
            tracing::warn!(format = other, "ERP_LOG_FORMAT must be json or text; logging as text");
        }
    }
    match erp::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
