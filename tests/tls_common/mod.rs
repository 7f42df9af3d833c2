//! Certificates made in the test: a CA, a server certificate for 127.0.0.1 signed by it, and
//! a self-signed one; written as PEM files and as a rustls server configuration.
#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

pub struct ServerCert {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// PEM files of the certificate (with its chain) and its key.
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    /// A rustls server configuration presenting it.
    pub config: Arc<rustls::ServerConfig>,
}

impl ServerCert {
    /// `sha256:…` pin of the certificate, as a feed's `tls.pin_sha256` takes it.
    pub fn pin(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }
}

pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_pem: PathBuf,
    /// Signed by the CA.
    pub signed: ServerCert,
    /// Self-signed, as cameras ship.
    pub self_signed: ServerCert,
}

fn server_config(chain: Vec<Vec<u8>>, key: &KeyPair) -> Arc<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = chain.into_iter().map(CertificateDer::from).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate"),
    )
}

pub fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.pem()).expect("write CA");

    let write = |name: &str, cert_pem: String, key: &KeyPair| {
        let c = dir.path().join(format!("{name}.pem"));
        let k = dir.path().join(format!("{name}.key"));
        std::fs::write(&c, cert_pem).expect("write cert");
        std::fs::write(&k, key.serialize_pem()).expect("write key");
        (c, k)
    };
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let (cert_pem, key_pem) = write("signed", format!("{}{}", leaf.pem(), ca.pem()), &leaf_key);
    let signed = ServerCert {
        der: leaf.der().to_vec(),
        config: server_config(vec![leaf.der().to_vec(), ca.der().to_vec()], &leaf_key),
        cert_pem,
        key_pem,
    };

    let own =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("self-signed");
    let (cert_pem, key_pem) = write("self", own.cert.pem(), &own.signing_key);
    let self_signed = ServerCert {
        der: own.cert.der().to_vec(),
        config: server_config(vec![own.cert.der().to_vec()], &own.signing_key),
        cert_pem,
        key_pem,
    };
    Pki {
        dir,
        ca_pem,
        signed,
        self_signed,
    }
}
