//! TLS trust for the HTTPS banwatch speaks (device event streams, ONVIF, audits, Alertmanager,
//! webhooks), with `rustls` and the `ring` provider. Three ways to trust a server:
//!
//! - the system's root certificates (default), or the CA certificates of a PEM file
//!   (`ca_file`), checked with the host name as usual;
//! - **pinning**: `pin_sha256` is the SHA-256 of the server certificate (DER). Only that
//!   certificate is accepted, whoever signed it and whatever name it carries: cameras and NVRs
//!   use self-signed certificates, and pinning is how an inventory trusts exactly one of them.
//!   The handshake signature is still verified against the pinned certificate's key;
//! - `insecure`: any certificate (an explicit choice of the operator, which reports record).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

/// How to trust one HTTPS endpoint (`tls = { ... }` in a feed, sink or inventory entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file of CA certificates trusted instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// SHA-256 of the server's certificate (DER), hex, colons allowed: only this certificate is
    /// accepted. `openssl x509 -noout -fingerprint -sha256` prints it.
    pub pin_sha256: Option<String>,
    /// Accept any certificate. Only for a spot check that says so in its report.
    #[serde(default)]
    pub insecure: bool,
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read or holds no certificate.
    #[error("tls ca_file {path}: {message}")]
    CaFile {
        /// The file named in the settings.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// `pin_sha256` is not 32 bytes of hex.
    #[error("tls pin_sha256 {0:?} is not a SHA-256 in hex (64 hex digits, colons allowed)")]
    Pin(String),
    /// rustls refused the configuration.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsSettings {
    /// Check the settings without building anything that touches the system (used by config
    /// loading, so a bad pin fails at start with the file and line).
    pub fn validate(&self) -> Result<(), TlsError> {
        if let Some(p) = &self.pin_sha256 {
            parse_pin(p)?;
        }
        Ok(())
    }
}

/// The 32 bytes of a hex SHA-256 fingerprint (`ab:cd:…` or `abcd…`, any case).
pub fn parse_pin(text: &str) -> Result<[u8; 32], TlsError> {
    let hexits: String = text
        .trim()
        .trim_start_matches("sha256:")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let bytes = hex::decode(&hexits).map_err(|_| TlsError::Pin(text.to_string()))?;
    bytes
        .try_into()
        .map_err(|_| TlsError::Pin(text.to_string()))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration for `settings`.
pub fn client_config(settings: &TlsSettings) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = if settings.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                pin: None,
                provider,
            }))
            .with_no_client_auth()
    } else if let Some(p) = &settings.pin_sha256 {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                pin: Some(parse_pin(p)?),
                provider,
            }))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(settings.ca_file.as_ref())?)
            .with_no_client_auth()
    };
    Ok(config)
}

fn roots(ca_file: Option<&PathBuf>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let err = |message: String| TlsError::CaFile {
                path: path.clone(),
                message,
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| err(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| err(e.to_string()))?;
            if certs.is_empty() {
                return Err(err("no certificate in the file".into()));
            }
            for c in certs {
                store.add(c).map_err(|e| err(e.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!("system certificates: {e}");
            }
            let (added, ignored) = store.add_parsable_certificates(found.certs);
            tracing::debug!(added, ignored, "system root certificates loaded");
        }
    }
    Ok(store)
}

/// Accepts exactly the pinned certificate (or, with no pin, any certificate), and still checks
/// the handshake signature against the presented certificate's key.
#[derive(Debug)]
struct Pinned {
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.pin {
            None => Ok(ServerCertVerified::assertion()),
            Some(pin) if Sha256::digest(end_entity.as_ref()).as_slice() == pin => {
                Ok(ServerCertVerified::assertion())
            }
            Some(_) => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_and_without_colons() {
        let hexed = "AB".repeat(32);
        let coloned = vec!["ab"; 32].join(":");
        assert_eq!(parse_pin(&hexed).unwrap(), [0xab; 32]);
        assert_eq!(parse_pin(&coloned).unwrap(), [0xab; 32]);
        assert!(parse_pin("abcd").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let e = client_config(&TlsSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsSettings::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
