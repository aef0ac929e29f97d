//! Handing a message to the company's SMTP relay (lettre's client), connected to an address the
//! outbound rules allow and verified against the relay's host name.

use std::time::Duration;

use lettre::Transport;
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::MailError;
use super::settings::{Security, Stored};
use crate::outbound::{Outbound, OutboundError};

/// Sends `message` through `s`'s relay.
pub(super) fn deliver(
    outbound: &Outbound,
    s: &Stored,
    password: &str,
    message: &lettre::Message,
    time: Duration,
) -> Result<(), MailError> {
    let port =
        u16::try_from(s.smtp_port).map_err(|_| OutboundError::Invalid("the SMTP port is out of range".into()))?;
    let address = outbound
        .resolve(&s.smtp_host, port)?
        .into_iter()
        .next()
        .ok_or_else(|| OutboundError::Denied(format!("{} has no address the platform may reach", s.smtp_host)))?;
    let tls = || {
        TlsParameters::new(s.smtp_host.clone())
            .map_err(|e| MailError::Outbound(OutboundError::Failed(format!("TLS cannot start: {e}"))))
    };
    let tls = match Security::parse(&s.smtp_security).unwrap_or(Security::Starttls) {
        Security::Starttls => Tls::Required(tls()?),
        Security::Tls => Tls::Wrapper(tls()?),
        Security::None => Tls::None,
    };
    let hello = s.from_address.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_else(|| "localhost".into());
    let mut builder = SmtpTransport::builder_dangerous(address.ip().to_string())
        .port(port)
        .tls(tls)
        .timeout(Some(time))
        .hello_name(ClientId::Domain(hello));
    if !s.smtp_username.is_empty() {
        builder = builder.credentials(Credentials::new(s.smtp_username.clone(), password.to_string()));
    }
    let transport = builder.build();
    match transport.send(message) {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(MailError::Rejected(e.to_string())),
        Err(e) => Err(MailError::Outbound(OutboundError::Failed(format!("{}: {e}", s.smtp_host)))),
    }
}
