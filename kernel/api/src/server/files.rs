//! The process's open-file limit: raised to the hard limit at start, read to size the
//! connection cap (every open connection is one open file).

/// A soft limit asked for when the hard limit is unlimited, and the one tried when the system
/// refuses the hard limit (macOS refuses more than `OPEN_MAX`, 10240).
#[cfg(unix)]
const CEILINGS: [u64; 2] = [1 << 20, 10_240];

/// Raises the soft open-file limit towards the hard limit where the system allows it and
/// returns the limit in force afterwards (`None`: unlimited or unknown).
#[cfg(unix)]
pub fn raise_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current?;
    let hard = limit.maximum.unwrap_or(CEILINGS[0]);
    for wanted in [hard, CEILINGS[1].min(hard)] {
        if wanted <= current {
            break;
        }
        match setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: limit.maximum }) {
            Ok(()) => {
                tracing::info!(from = current, to = wanted, "raised the open-file limit");
                return Some(wanted);
            }
            Err(e) => tracing::debug!(wanted, error = %e, "could not raise the open-file limit"),
        }
    }
    Some(current)
}

/// Raising the limit is a Unix notion; elsewhere nothing changes.
#[cfg(not(unix))]
pub fn raise_file_limit() -> Option<u64> {
    None
}

/// The soft open-file limit in force (`None`: unlimited or unknown).
#[cfg(unix)]
pub fn file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Unknown outside Unix.
#[cfg(not(unix))]
pub fn file_limit() -> Option<u64> {
    None
}
