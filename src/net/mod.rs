//! Protocol plumbing shared by sources, sinks and the service, built on the ecosystem's crates:
//! HTTP clients on `reqwest` with `rustls` ([`http`], [`tls`]), HTTP Digest through
//! `digest_auth`, SOAP envelopes with the WS-Security UsernameToken ([`soap`]), and the backoff
//! every reconnecting part uses ([`backoff`]). Decoding captured protocols is not here: that is
//! `decode`.

#[cfg(feature = "live")]
pub(crate) mod backoff;
#[cfg(feature = "live")]
pub mod http;
#[cfg(feature = "live")]
pub mod soap;
#[cfg(feature = "live")]
pub mod tls;
