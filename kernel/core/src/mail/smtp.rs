//! Handing a message to the company's SMTP relay (lettre's client), connected to an address the
//! outbound rules allow and verified against the relay's host name, by the public roots and
//! those the operator trusts besides. A connection stays open for the company's next message
//! in the same round of the mail worker ([`Connections`]), so a mailing does not pay a
//! handshake (and a TLS handshake and a login) per letter.

use std::collections::HashMap;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::MailError;
use super::settings::{Security, Stored};
use crate::outbound::{Outbound, OutboundError};

/// Authentication mechanisms offered, in lettre's order of preference.
const MECHANISMS: &[Mechanism] = &[Mechanism::Plain, Mechanism::Login];

/// Open relay connections, one per company, kept while they work; closed politely (`QUIT`)
/// when dropped.
#[derive(Default)]
pub struct Connections {
    open: HashMap<String, Open>,
}

struct Open {
    /// The settings it was opened with: changed settings open a new one.
    fingerprint: String,
    conn: SmtpConnection,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections").field("open", &self.open.len()).finish()
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        for (_, mut open) in self.open.drain() {
            let _ = open.conn.quit();
        }
    }
}

fn fingerprint(s: &Stored) -> String {
    format!("{}|{}|{}|{}|{}", s.smtp_host, s.smtp_port, s.smtp_security, s.smtp_username, s.updated_at)
}

fn failed(s: &Stored, e: impl std::fmt::Display) -> MailError {
    MailError::Outbound(OutboundError::Failed(format!("{}: {e}", s.smtp_host)))
}

fn classify(s: &Stored, e: lettre::transport::smtp::Error) -> MailError {
    if e.is_permanent() { MailError::Rejected(e.to_string()) } else { failed(s, e) }
}

/// A new connection to `s`'s relay: TLS as the settings say, then the login.
fn connect(outbound: &Outbound, s: &Stored, password: &str, time: Duration) -> Result<SmtpConnection, MailError> {
    let port =
        u16::try_from(s.smtp_port).map_err(|_| OutboundError::Invalid("the SMTP port is out of range".into()))?;
    let address = outbound
        .resolve(&s.smtp_host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| OutboundError::Denied(format!("{} has no address the platform may reach", s.smtp_host)))?;
    let tls = || {
        let mut params = TlsParameters::builder(s.smtp_host.clone());
        for der in &outbound.settings().extra_roots.0 {
            let cert = Certificate::from_der(der.clone())
                .map_err(|e| MailError::Outbound(OutboundError::Failed(format!("a trusted certificate: {e}"))))?;
            params = params.add_root_certificate(cert);
        }
        params.build_rustls().map_err(|e| MailError::Outbound(OutboundError::Failed(format!("TLS cannot start: {e}"))))
    };
    let hello = ClientId::Domain(
        s.from_address.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_else(|| "localhost".into()),
    );
    let security = Security::parse(&s.smtp_security).unwrap_or(Security::Starttls);
    let wrapper = if security == Security::Tls { Some(tls()?) } else { None };
    let mut conn =
        SmtpConnection::connect(address, Some(time), &hello, wrapper.as_ref(), None).map_err(|e| classify(s, e))?;
    if security == Security::Starttls {
        conn.starttls(&tls()?, &hello).map_err(|e| classify(s, e))?;
    }
    if !s.smtp_username.is_empty() {
        conn.auth(MECHANISMS, &Credentials::new(s.smtp_username.clone(), password.to_string()))
            .map_err(|e| classify(s, e))?;
    }
    Ok(conn)
}

/// Sends `message` through `s`'s relay, on the company's open connection when there is one
/// that still works, else on a new one kept open for the next message.
pub(super) fn deliver(
    outbound: &Outbound,
    s: &Stored,
    password: &str,
    message: &lettre::Message,
    time: Duration,
    connections: &mut Connections,
) -> Result<(), MailError> {
    let envelope = message.envelope();
    let bytes = message.formatted();
    let print = fingerprint(s);
    if let Some(mut open) = connections.open.remove(&s.company_id)
        && open.fingerprint == print
    {
        match open.conn.send(envelope, &bytes) {
            Ok(_) => {
                connections.open.insert(s.company_id.clone(), open);
                return Ok(());
            }
            // The relay said no to this message: a new connection would hear the same.
            Err(e) if e.is_permanent() => return Err(MailError::Rejected(e.to_string())),
            // The relay let the idle connection go: try once on a new one.
            Err(_) => {}
        }
    }
    let mut conn = connect(outbound, s, password, time)?;
    conn.send(envelope, &bytes).map_err(|e| classify(s, e))?;
    connections.open.insert(s.company_id.clone(), Open { fingerprint: print, conn });
    Ok(())
}
