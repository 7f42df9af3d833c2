//! ONVIF events through a PullPoint subscription (ONVIF Core §9.1): CreatePullPointSubscription
//! on the device's event service, then PullMessages in a loop (long-poll), Renew before the
//! subscription runs out. Each PullMessagesResponse goes to the shared event decoders, which
//! read the NotificationMessage topics and SimpleItems. Auth is HTTP Digest, which ONVIF devices
//! must support; WS-Security UsernameToken is not implemented.

use super::http_stream::{request, Credentials, HttpUrl, MAX_BODY};
use super::live::{reconnect_loop, stopped, TapContext, TapError};
use crate::model::Direction;
use quick_xml::events::Event;
use std::time::{Duration, Instant};

const SOAP_CT: &str = "application/soap+xml; charset=utf-8";
const RENEW_EVERY: Duration = Duration::from_secs(60);

fn envelope(body: &str, to: Option<&str>) -> String {
    let header = to
        .map(|t| format!("<s:Header><wsa:To>{t}</wsa:To></s:Header>"))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">{header}<s:Body>{body}</s:Body></s:Envelope>"#
    )
}

pub async fn run(url: String, creds: Option<Credentials>, ctx: &TapContext) {
    let u = match HttpUrl::parse(&url) {
        Ok(u) => u.with_default_path("/onvif/event_service"),
        Err(e) => return ctx.health.set_error(&e.to_string()),
    };
    reconnect_loop(ctx, |shutdown| once(&u, creds.as_ref(), ctx, shutdown)).await
}

async fn post(
    url: &HttpUrl,
    action: &str,
    body: &str,
    creds: Option<&Credentials>,
) -> Result<(Vec<u8>, crate::model::Flow), TapError> {
    let ct = format!("{SOAP_CT}; action=\"{action}\"");
    let resp = request(
        url,
        "POST",
        &[("Content-Type", &ct)],
        body.as_bytes(),
        creds,
    )
    .await?;
    let status = resp.status;
    let flow = resp.flow;
    let bytes = resp.read_all(MAX_BODY).await?;
    if status != 200 {
        return Err(TapError::Protocol(format!("{action}: HTTP {status}")));
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
    url: &HttpUrl,
    creds: Option<&Credentials>,
    ctx: &TapContext,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), TapError> {
    let create = envelope(
        "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>PT120S</tev:InitialTerminationTime></tev:CreatePullPointSubscription>",
        None,
    );
    let (resp, _) = post(
        url,
        "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest",
        &create,
        creds,
    )
    .await?;
    let addr = subscription_address(&resp)
        .ok_or_else(|| TapError::Protocol("no SubscriptionReference address".into()))?;
    // The reference is an absolute URL on the device; a relative one is resolved against ours.
    let sub = if addr.starts_with("http://") {
        HttpUrl::parse(&addr)?
    } else {
        HttpUrl {
            path: addr.clone(),
            ..url.clone()
        }
    };
    ctx.health.set_up(true);
    let pull = envelope(
        "<tev:PullMessages><tev:Timeout>PT10S</tev:Timeout><tev:MessageLimit>32</tev:MessageLimit></tev:PullMessages>",
        Some(&addr),
    );
    let renew = envelope(
        "<wsnt:Renew><wsnt:TerminationTime>PT120S</wsnt:TerminationTime></wsnt:Renew>",
        Some(&addr),
    );
    let mut renewed = Instant::now();
    loop {
        let (body, flow) = tokio::select! {
            r = post(&sub, "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest", &pull, creds) => r?,
            _ = stopped(&mut shutdown) => return Ok(()),
        };
        let mut obs = Vec::new();
        let mut em = crate::decode::Emitter::new(super::live::now(), Some(flow), &mut obs);
        crate::decode::events::decode_body(Some(SOAP_CT), &body, Direction::ToClient, &mut em);
        ctx.deliver(body.len(), obs).await?;
        if renewed.elapsed() >= RENEW_EVERY {
            post(
                &sub,
                "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest",
                &renew,
                creds,
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
