//! Certificate authorities outbound connections trust: the web's public roots, and those the
//! operator adds for systems with an internal CA (a company's own mail server, an ERP beside
//! the platform), read from a PEM bundle.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Authorities the operator trusts besides the public ones, as DER certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraRoots(pub Vec<Vec<u8>>);

impl ExtraRoots {
    /// The certificates of a PEM bundle; an empty or unreadable bundle is an error, so that a
    /// misconfigured file is noticed at start-up rather than at the first handshake.
    pub fn from_pem(pem: &[u8]) -> Result<ExtraRoots, String> {
        let mut found = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
            // Checked now: a certificate the TLS stack cannot use as a root is refused here.
            let mut store = rustls::RootCertStore::empty();
            store.add(cert.clone()).map_err(|e| format!("a certificate cannot be a trust anchor: {e}"))?;
            found.push(cert.as_ref().to_vec());
        }
        if found.is_empty() {
            return Err("the bundle holds no certificate".into());
        }
        Ok(ExtraRoots(found))
    }

    /// The public roots and these, for rustls.
    pub fn store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for der in &self.0 {
            // Each was checked when read.
            let _ = roots.add(CertificateDer::from(der.clone()));
        }
        roots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_without_certificates_are_refused() {
        assert!(ExtraRoots::from_pem(b"").is_err());
        assert!(ExtraRoots::from_pem(b"just text").is_err());
        let broken = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        assert!(ExtraRoots::from_pem(broken).is_err());
        assert!(ExtraRoots::default().store().len() > 100, "the public roots are always there");
    }
}
