//! ONVIF events through a PullPoint subscription (ONVIF Core §9.1): CreatePullPointSubscription
//! on the device's event service, then PullMessages in a loop (long-poll), Renew before the
//! subscription runs out. Each PullMessagesResponse goes to the shared event decoders, which
//! read the NotificationMessage topics and SimpleItems. Auth: every request carries a
//! WS-Security UsernameToken (password digest, fresh nonce; ONVIF Core §5.12.2) when the feed
//! has credentials, and HTTP Digest answers a 401 — devices ask for one or the other.
//!
//! ```toml
//! [[feed]]
//! id = "hall-cam-onvif"
//! kind = "onvif_events"
//! url = "http://10.20.0.41"             # /onvif/event_service is added when absent
//! username = "audit"
//! password = { env = "HALL_CAM_PASSWORD" }
//! ```

use super::context::{reconnect_loop, stopped, SourceContext, SourceError};
use super::http_stream::{flow_of, DeviceHttp, Endpoint};
use super::source::{settings, LiveSource, RunFuture, SourceKind};
use crate::model::Direction;
use crate::net::http;
use quick_xml::events::Event;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

const SOAP_CT: &str = "application/soap+xml; charset=utf-8";
const RENEW_EVERY: Duration = Duration::from_secs(60);

/// A SOAP envelope around `body`, with `wsa:To` when given and a fresh UsernameToken when the
/// endpoint has credentials (built per request: a token's nonce and time must not repeat).
fn envelope(ep: &Endpoint, body: &str, to: Option<&str>) -> String {
    let mut header = to
        .map(|t| format!("<wsa:To>{}</wsa:To>", quick_xml::escape::escape(t)))
        .unwrap_or_default();
    if let Some(c) = &ep.creds {
        header.push_str(&crate::net::soap::username_token(&c.username, &c.password));
    }
    let header = if header.is_empty() {
        String::new()
    } else {
        format!("<s:Header>{header}</s:Header>")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">{header}<s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// Path of the event service when the configured URL names only the device.
pub const EVENT_SERVICE: &str = "/onvif/event_service";
/// Largest SOAP answer read.
pub const MAX_BODY: usize = 4 << 20;

/// The registry entry.
pub const KIND: SourceKind = SourceKind {
    name: "onvif_events",
    description:
        "ONVIF PullPoint events (CreatePullPointSubscription, PullMessages, Renew), Digest auth",
    build: |t| {
        let d: DeviceHttp = settings(t)?;
        d.validate(EVENT_SERVICE)?;
        Ok(Arc::new(OnvifEvents(d)))
    },
};

/// A configured ONVIF event service.
#[derive(Debug)]
pub struct OnvifEvents(pub DeviceHttp);

impl LiveSource for OnvifEvents {
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn endpoint(&self) -> String {
        self.0.shown()
    }
    fn run(self: Arc<Self>, ctx: SourceContext) -> RunFuture {
        Box::pin(async move {
            match self.0.endpoint(EVENT_SERVICE) {
                Ok(ep) => reconnect_loop(&ctx, |shutdown| once(&ep, &ctx, shutdown)).await,
                Err(e) => ctx.health.set_error(&e),
            }
        })
    }
}

async fn post(
    ep: &Endpoint,
    url: &Url,
    action: &str,
    operation: &str,
    to: Option<&str>,
) -> Result<(Vec<u8>, crate::model::Flow), SourceError> {
    let body = envelope(ep, operation, to);
    let mut headers = HeaderMap::new();
    let ct = format!("{SOAP_CT}; action=\"{action}\"");
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&ct).map_err(|e| SourceError::Protocol(e.to_string()))?,
    );
    let resp = http::send(
        &ep.client,
        reqwest::Method::POST,
        url,
        &headers,
        body.as_bytes(),
        ep.creds.as_ref(),
    )
    .await
    .map_err(|e| SourceError::Connect(e.to_string()))?;
    let status = resp.status().as_u16();
    let flow = flow_of(&resp);
    let bytes = http::read_bounded(resp, MAX_BODY)
        .await
        .map_err(|e| SourceError::Protocol(e.to_string()))?;
    if status != 200 {
        return Err(SourceError::Protocol(format!("{action}: HTTP {status}")));
    }
    Ok((bytes, flow))
}

/// The text of the first `Address` element (the subscription reference).
pub fn subscription_address(xml: &[u8]) -> Option<String> {
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut in_addr = false;
    for _ in 0..100_000 {
        match r.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => in_addr = e.local_name().as_ref() == b"Address",
            Ok(Event::Text(t)) if in_addr => {
                let s = t.unescape().ok()?.trim().to_string();
                return (!s.is_empty()).then_some(s);
            }
            Ok(Event::End(_)) => in_addr = false,
            Ok(Event::Eof) | Err(_) => return None,
            _ => {}
        }
        buf.clear();
    }
    None
}

async fn once(
    ep: &Endpoint,
    ctx: &SourceContext,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let (resp, _) = post(
        ep,
        &ep.url,
        "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest",
        "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>PT120S</tev:InitialTerminationTime></tev:CreatePullPointSubscription>",
        None,
    )
    .await?;
    let addr = subscription_address(&resp)
        .ok_or_else(|| SourceError::Protocol("no SubscriptionReference address".into()))?;
    // The reference is an absolute URL on the device; a relative one is resolved against ours.
    // Either way it must stay on the configured device: a reference elsewhere is refused, so a
    // device cannot send banwatch (and its credentials) to another host.
    let sub = ep
        .url
        .join(&addr)
        .map_err(|e| SourceError::Protocol(format!("subscription reference: {e}")))?;
    if sub.host_str() != ep.url.host_str()
        || sub.port_or_known_default() != ep.url.port_or_known_default()
    {
        return Err(SourceError::Protocol(
            "subscription reference points to another host: refused".into(),
        ));
    }
    ctx.health.set_up(true);
    let pull = "<tev:PullMessages><tev:Timeout>PT10S</tev:Timeout><tev:MessageLimit>32</tev:MessageLimit></tev:PullMessages>";
    let renew = "<wsnt:Renew><wsnt:TerminationTime>PT120S</wsnt:TerminationTime></wsnt:Renew>";
    let mut renewed = Instant::now();
    loop {
        let (body, flow) = tokio::select! {
            r = post(ep, &sub, "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest", pull, Some(&addr)) => r?,
            _ = stopped(&mut shutdown) => return Ok(()),
        };
        let mut obs = Vec::new();
        let mut em = crate::decode::Emitter::new(crate::clock::now(), Some(flow), &mut obs)
            .demanding(&ctx.demand);
        crate::decode::events::decode_body(Some(SOAP_CT), &body, Direction::ToClient, &mut em);
        ctx.deliver(body.len(), obs).await?;
        if renewed.elapsed() >= RENEW_EVERY {
            post(
                ep,
                &sub,
                "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest",
                renew,
                Some(&addr),
            )
            .await?;
            renewed = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_reference() {
        let x = br#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa5="http://www.w3.org/2005/08/addressing"><env:Body><tev:CreatePullPointSubscriptionResponse xmlns:tev="http://www.onvif.org/ver10/events/wsdl"><tev:SubscriptionReference><wsa5:Address>http://192.168.1.64/onvif/Events/PullSubManager_1</wsa5:Address></tev:SubscriptionReference></tev:CreatePullPointSubscriptionResponse></env:Body></env:Envelope>"#;
        assert_eq!(
            subscription_address(x).as_deref(),
            Some("http://192.168.1.64/onvif/Events/PullSubManager_1")
        );
        assert_eq!(subscription_address(b"<a><b>x</b></a>"), None);
        assert_eq!(subscription_address(b"<Address>"), None);
    }
}
