//! The company's relay and mailbox over TLS: STARTTLS and implicit TLS to SMTP servers of the
//! test's own and to Dovecot, whose certificates a test CA signed, which the operator trusts
//! (`ERP_OUTBOUND_CA_FILE`); a certificate for another name, or a CA nobody trusts, stops the
//! conversation before the password is sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use parking_lot::Mutex;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

use crate::mail::{Collect, Received};
use crate::support::{Backend, TestApp, loopback_outbound};

/// How a test relay speaks TLS.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Plain text until the client asks for STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Wrapper,
}

/// A CA, and a server certificate it signed for `names`.
struct Issued {
    ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
    /// The certificate and its key in PEM, for Dovecot.
    cert_pem: String,
    key_pem: String,
}

fn issue(names: &[&str]) -> Issued {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Acme internal CA");
    let ca = ca.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
    let cert = params.signed_by(&key, &ca, &ca_key).expect("certificate");
    Issued {
        ca_pem: ca.pem(),
        chain: vec![cert.der().clone()],
        key: key.serialize_der(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Answers the client on `stream` until it quits (`None`) or asks to start TLS (the stream
/// back, with nothing of the client's left unread).
fn talk<S: Read + Write, H: mailin::Handler>(
    stream: S,
    session: &mut mailin::Session<H>,
    greet: bool,
) -> std::io::Result<Option<S>> {
    let mut reader = BufReader::new(stream);
    if greet {
        session.greeting().write_to(reader.get_mut())?;
        reader.get_mut().flush()?;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let res = session.process(&line);
        match res.action {
            mailin::Action::Reply => res.write_to(reader.get_mut())?,
            mailin::Action::NoReply => {}
            mailin::Action::Close => {
                res.write_to(reader.get_mut())?;
                reader.get_mut().flush()?;
                return Ok(None);
            }
            mailin::Action::UpgradeTls => {
                res.write_to(reader.get_mut())?;
                reader.get_mut().flush()?;
                assert!(reader.buffer().is_empty(), "the client waits for the answer to STARTTLS");
                return Ok(Some(reader.into_inner()));
            }
        }
        reader.get_mut().flush()?;
    }
}

/// One client of the relay. Authentication is offered only once TLS is on.
fn converse(tcp: TcpStream, mode: Mode, config: Arc<rustls::ServerConfig>, keep: Collect) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let peer = tcp.peer_addr()?.ip();
    let mut session = mailin::SessionBuilder::new("smtp.acme.test")
        .enable_auth(mailin::AuthMechanism::Plain)
        .enable_start_tls()
        .build(peer, keep);
    let tcp = match mode {
        Mode::Wrapper => tcp,
        Mode::Starttls => match talk(tcp, &mut session, true)? {
            Some(tcp) => tcp,
            None => return Ok(()),
        },
    };
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let tls = rustls::StreamOwned::new(connection, tcp);
    session.tls_active();
    talk(tls, &mut session, mode == Mode::Wrapper).map(|_| ())
}

/// A relay on 127.0.0.1 presenting `issued`'s certificate.
struct Relay {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

fn start_relay(mode: Mode, issued: &Issued) -> Relay {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key.clone()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(issued.chain.clone(), key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let keep = Collect::new("acme", "relay-password", received.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, keep) = (config.clone(), keep.clone());
            std::thread::spawn(move || {
                let _ = converse(stream, mode, config, keep);
            });
        }
    });
    Relay { port, received }
}

fn settings(host: &str, port: u16, security: &str) -> serde_json::Value {
    json!({ "from_address": "sales@acme.example", "from_name": "Acme", "smtp_host": host, "smtp_port": port,
            "smtp_security": security, "smtp_username": "acme", "smtp_password": "relay-password" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_to_a_relay_over_starttls_and_tls_that_the_operator_trusts() {
    let issued = issue(&["127.0.0.1", "mail.acme.test"]);
    let mut outbound = loopback_outbound();
    outbound.extra_roots =
        erp_kernel::outbound::roots::ExtraRoots::from_pem(issued.ca_pem.as_bytes()).expect("the CA bundle reads");
    let app = TestApp::start_with_outbound(Backend::Sqlite, outbound).await.expect("sqlite");
    let co = app.company("Acme", &[]).await;
    let path = format!("/api/v1/companies/{co}/mail");
    let test = format!("{path}/test");

    for (mode, security) in [(Mode::Starttls, "starttls"), (Mode::Wrapper, "tls")] {
        let relay = start_relay(mode, &issued);
        app.put(&path, &app.root, settings("127.0.0.1", relay.port, security)).await.expect(200);
        let r = app.post(&test, &app.root, json!({ "to": "ivan@example.org" })).await;
        r.expect(200);
        let got = relay.received.lock().clone();
        assert_eq!(got.len(), 1, "{mode:?}");
        assert_eq!(got[0].to, ["ivan@example.org"]);
        assert_eq!(got[0].from, "sales@acme.example");
    }

    // A relay whose certificate names another host is not trusted, nor one from an unknown CA:
    // the message is not sent and the password never leaves.
    let relay = start_relay(Mode::Starttls, &issued);
    app.put(&path, &app.root, settings("localhost", relay.port, "starttls")).await.expect(200);
    let r = app.post(&test, &app.root, json!({ "to": "ivan@example.org" })).await;
    assert_eq!(r.status, 502, "{:?}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().to_lowercase().contains("certificate"), "{:?}", r.body);
    let stranger = start_relay(Mode::Wrapper, &issue(&["127.0.0.1"]));
    app.put(&path, &app.root, settings("127.0.0.1", stranger.port, "tls")).await.expect(200);
    let r = app.post(&test, &app.root, json!({ "to": "ivan@example.org" })).await;
    assert_eq!(r.status, 502, "{:?}", r.body);
    assert!(relay.received.lock().is_empty() && stranger.received.lock().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_is_read_over_tls_and_starttls() {
    let issued = issue(&["127.0.0.1"]);
    let tls = Some((issued.cert_pem.clone(), issued.key_pem.clone()));
    let Some(imap) = tokio::task::spawn_blocking(move || crate::mail::Dovecot::start_with(tls)).await.unwrap() else {
        return;
    };
    let mut outbound = loopback_outbound();
    outbound.extra_roots =
        erp_kernel::outbound::roots::ExtraRoots::from_pem(issued.ca_pem.as_bytes()).expect("the CA bundle reads");
    let app = TestApp::start_with_outbound(Backend::Sqlite, outbound).await.expect("sqlite");
    let co = app.company("Acme", &[]).await;
    app.install(&crate::support::package("crm")).await;
    app.enable(&co, "crm", json!({})).await.expect(200);
    let path = format!("/api/v1/companies/{co}/mail");
    let poll = format!("{path}/poll");
    let mailbox = |host: &str, port: u16, security: &str| {
        json!({ "imap_host": host, "imap_port": port, "imap_security": security, "imap_username": "inbox@example.com",
                "imap_password": "secret", "deliver_to": "crm/email" })
    };
    let letter =
        |n: u32| crate::mail::email("Ivan <ivan@example.org>", &format!("<t{n}@example.org>"), "Quote", "Chairs");

    imap.deliver("1.eml", &letter(1));
    app.put(&path, &app.root, mailbox("127.0.0.1", imap.tls_port.unwrap(), "tls")).await.expect(200);
    let r = app.post(&poll, &app.root, json!({})).await;
    assert_eq!(r.expect(200)["delivered"], 1, "over implicit TLS: {:?}", r.body);
    imap.deliver("2.eml", &letter(2));
    app.put(&path, &app.root, mailbox("127.0.0.1", imap.port, "starttls")).await.expect(200);
    let r = app.post(&poll, &app.root, json!({})).await;
    assert_eq!(r.expect(200)["delivered"], 1, "over STARTTLS, the first letter taken before: {:?}", r.body);

    // The certificate names 127.0.0.1, not localhost: nothing is read.
    imap.deliver("3.eml", &letter(3));
    app.put(&path, &app.root, mailbox("localhost", imap.tls_port.unwrap(), "tls")).await.expect(200);
    let r = app.post(&poll, &app.root, json!({})).await;
    assert_eq!(r.status, 502, "{:?}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().to_lowercase().contains("certificate"), "{:?}", r.body);
    let leads = app.get(&format!("/api/v1/companies/{co}/data/crm/lead"), &app.root).await;
    assert_eq!(leads.expect(200)["items"].as_array().unwrap().len(), 1, "both letters joined one lead");
}

#[test]
fn the_operator_s_ca_file_must_hold_certificates() {
    assert!(erp_kernel::outbound::roots::ExtraRoots::from_pem(b"").is_err());
    let issued = issue(&["127.0.0.1"]);
    let roots = erp_kernel::outbound::roots::ExtraRoots::from_pem(issued.ca_pem.as_bytes()).expect("reads");
    assert_eq!(roots.0.len(), 1);
}
