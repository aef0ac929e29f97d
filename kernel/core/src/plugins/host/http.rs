//! Requests from plugins to hosts outside the platform (WIT 0.2.1): only to hosts the
//! plugin's manifest declares and the company's administrator granted, and only while the
//! change has written nothing, since a remote side cannot be rolled back with it.

use std::time::{Duration, Instant};

use erp_manifest::hosts::{self, HostPattern};

use super::HostState;
use crate::outbound::{Caller, OutboundError, Request, Response};

/// The hosts a plugin may call in the company it runs for: granted there, and still declared
/// by the version that runs.
fn granted(state: &HostState) -> Vec<HostPattern> {
    let declared = state.active.loaded.manifest.declared_hosts();
    state
        .active
        .grants
        .iter()
        .filter(|g| hosts::is_host_grant(g) && declared.contains(g))
        .filter_map(|g| HostPattern::parse(g).ok())
        .collect()
}

/// Sends a plugin's request and waits for the answer.
pub(super) fn send(state: &mut HostState, req: Request) -> Result<Response, OutboundError> {
    if state.session.is_writing() {
        let error = OutboundError::Invalid(
            "an outbound request must come before the change's first write (the remote side cannot be rolled back): \
             make it first, or from an after-commit event handler"
                .into(),
        );
        let company = state.session.company_id.clone();
        let source = state.plugin().to_string();
        let caller = Caller { company_id: &company, source: &source, granted: Vec::new() };
        let platform = state.platform.clone();
        // Logged in the change's own transaction: it holds the write lock.
        return Err(match state.session.conn() {
            Ok(conn) => platform.outbound().refuse(conn, platform.plugins().metrics(), &caller, &req, error),
            Err(_) => error,
        });
    }
    let now = Instant::now();
    let mut left = state.clock.until.saturating_duration_since(now);
    if let Some(deadline) = &state.session.deadline {
        left = left.min(deadline.instant().saturating_duration_since(now));
    }
    let caller = Caller { company_id: &state.session.company_id, source: state.plugin(), granted: granted(state) };
    let platform = state.platform.clone();
    let started = Instant::now();
    let answer = platform.outbound().send(platform.db(), platform.plugins().metrics(), &caller, req, left);
    // Waiting for the network is not computing: the call's own time limit moves on by the
    // wait (the request's deadline does not).
    state.clock.until += started.elapsed().min(Duration::from_secs(60));
    answer
}
