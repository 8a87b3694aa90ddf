//! Certificates made at test time: a CA, a server certificate for `localhost` and `127.0.0.1`,
//! and client certificates signed by the same CA, written to a directory of their own so that the
//! server reads them from files as a deployment would.
//!
//! Generated per test (ECDSA P-256 with ring, milliseconds each) rather than checked in, so that
//! nothing expires and no private key lives in the repository.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use terrace_platform::config::TlsSettings;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// The name the server certificate is for, and that clients verify.
pub const SERVER_NAME: &str = "localhost";

/// A CA, the server's certificate and key, and client certificates, as PEM files in a temporary
/// directory removed on drop.
#[derive(Debug)]
pub struct TestPki {
    dir: PathBuf,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A client certificate signed by the test CA.
#[derive(Debug, Clone)]
pub struct ClientCert {
    pub cert_pem: String,
    pub key_pem: String,
    /// Lower-case hex SHA-256 of the certificate's DER, as an mTLS agency is registered with.
    pub sha256: String,
}

impl TestPki {
    /// A new CA and server certificate, written to a fresh directory.
    pub fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = std::env::temp_dir().join(format!("terrace-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create the certificate directory");

        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Terrace test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let ca_pem = ca_cert.pem();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params =
            CertificateParams::new(vec![SERVER_NAME.to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        server_params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");

        std::fs::write(dir.join("ca.pem"), &ca_pem).expect("write ca.pem");
        std::fs::write(dir.join("server.pem"), server_cert.pem()).expect("write server.pem");
        std::fs::write(dir.join("server.key"), server_key.serialize_pem())
            .expect("write server.key");
        Self {
            dir,
            ca_pem,
            issuer,
        }
    }

    /// The directory the PEM files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Server settings: TLS with this PKI's server certificate and, with `client_ca`, optional
    /// client certificates signed by this CA.
    pub fn server_settings(&self, client_ca: bool) -> TlsSettings {
        TlsSettings {
            cert_file: self.dir.join("server.pem"),
            key_file: self.dir.join("server.key"),
            client_ca_file: client_ca.then(|| self.dir.join("ca.pem")),
        }
    }

    /// A new client certificate for `name`, signed by this CA.
    pub fn client(&self, name: &str) -> ClientCert {
        let key = KeyPair::generate().expect("client key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("client certificate");
        ClientCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            sha256: sha256_hex(cert.der()),
        }
    }

    /// Client TLS that trusts this CA, presenting `client`'s certificate if given.
    pub fn client_config(&self, client: Option<&ClientCert>) -> ClientTlsConfig {
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .domain_name(SERVER_NAME);
        match client {
            Some(client) => config.identity(Identity::from_pem(&client.cert_pem, &client.key_pem)),
            None => config,
        }
    }

    /// A TLS channel to `addr`, presenting `client`'s certificate if given.
    pub async fn channel(
        &self,
        addr: SocketAddr,
        client: Option<&ClientCert>,
    ) -> Result<Channel, tonic::transport::Error> {
        Channel::from_shared(format!("https://{addr}"))
            .expect("endpoint")
            .tls_config(self.client_config(client))?
            .connect()
            .await
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sha256_hex(der: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(der)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
