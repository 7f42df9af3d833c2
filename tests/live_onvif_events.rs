//! ONVIF PullPoint events against a loopback SOAP server following ONVIF Core §9.1
//! (CreatePullPointSubscription → SubscriptionReference → PullMessages long-poll), which
//! accepts a request only with a valid WS-Security UsernameToken (ONVIF Core §5.12.2) whose
//! nonce it has not seen before.

mod live_common;

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const CREATE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa5="http://www.w3.org/2005/08/addressing" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"><env:Body><tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa5:Address>http://127.0.0.1:{port}/onvif/Events/PullSubManager_7</wsa5:Address></tev:SubscriptionReference><wsnt:CurrentTime>2026-11-02T09:00:00Z</wsnt:CurrentTime><wsnt:TerminationTime>2026-11-02T09:02:00Z</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse></env:Body></env:Envelope>"#;
const PULL: &str = r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics"><env:Body><tev:PullMessagesResponse><tev:CurrentTime>2026-11-02T09:00:05Z</tev:CurrentTime><tev:TerminationTime>2026-11-02T09:01:05Z</tev:TerminationTime><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/Recognition/Face</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2026-11-02T09:00:05Z" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="VideoSource" Value="vs1"/><tt:SimpleItem Name="Rule" Value="FaceRec"/></tt:Source><tt:Data><tt:SimpleItem Name="EnrollmentID" Value="enr-0042"/><tt:SimpleItem Name="Likelihood" Value="0.9"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tev:PullMessagesResponse></env:Body></env:Envelope>"#;

const USER: &str = "onvif-auditor";
const PASSWORD: &str = "pull-point-7731";

/// The text of the element `<qname …>…</qname>` (e.g. `wsse:Nonce`).
fn element<'a>(body: &'a str, qname: &str) -> Option<&'a str> {
    let open = body
        .find(&format!("<{qname}>"))
        .or_else(|| body.find(&format!("<{qname} ")))?;
    let start = open + body[open..].find('>')? + 1;
    let end = start + body[start..].find("</")?;
    Some(&body[start..end])
}

/// Whether the request's UsernameToken is the account's, with a digest that checks and a
/// nonce not used before.
fn token_ok(body: &str, nonces: &Mutex<std::collections::HashSet<String>>) -> bool {
    use base64::Engine as _;
    let (Some(user), Some(digest), Some(nonce), Some(created)) = (
        element(body, "wsse:Username"),
        element(body, "wsse:Password"),
        element(body, "wsse:Nonce"),
        element(body, "wsu:Created"),
    ) else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(nonce) else {
        return false;
    };
    user == USER
        && !body.contains(PASSWORD)
        && banwatch::net::soap::password_digest(&raw, created, PASSWORD) == digest
        && nonces.lock().unwrap().insert(nonce.to_string())
}

async fn device() -> (u16, Arc<Mutex<Vec<(String, String)>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let lg = log.clone();
    let nonces = Arc::new(Mutex::new(std::collections::HashSet::new()));
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let lg = lg.clone();
            let nonces = nonces.clone();
            tokio::spawn(async move {
                let mut io = BufReader::new(s);
                let mut first = String::new();
                io.read_line(&mut first).await.ok()?;
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if io.read_line(&mut h).await.ok()? == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().ok()?;
                    }
                }
                let mut body = vec![0u8; len.min(1 << 20)];
                io.read_exact(&mut body).await.ok()?;
                let body = String::from_utf8_lossy(&body).into_owned();
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let op = ["CreatePullPointSubscription", "PullMessages", "Renew"]
                    .into_iter()
                    .find(|op| body.contains(&format!(":{op}>")))
                    .unwrap_or("?")
                    .to_string();
                lg.lock().unwrap().push((path.clone(), op.clone()));
                let authorised = token_ok(&body, &nonces);
                let resp = match (path.as_str(), op.as_str()) {
                    _ if !authorised => String::new(),
                    ("/onvif/event_service", "CreatePullPointSubscription") => {
                        CREATE.replace("{port}", &port.to_string())
                    }
                    ("/onvif/Events/PullSubManager_7", "PullMessages") => {
                        // Long-poll: the device answers when it has something.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        PULL.to_string()
                    }
                    _ => String::new(),
                };
                let status = if resp.is_empty() {
                    "400 Bad Request"
                } else {
                    "200 OK"
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", resp.len());
                io.get_mut().write_all(head.as_bytes()).await.ok()?;
                io.get_mut().write_all(resp.as_bytes()).await.ok()
            });
        }
    });
    (port, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pullpoint_subscription_delivers_recognition_events() {
    let (port, log) = device().await;
    let mut f = live_common::start(vec![(
        "onvif".into(),
        Some("cam".into()),
        live_common::source(
            "onvif_events",
            &format!(
                "url = \"http://127.0.0.1:{port}/\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\""
            ),
        ),
    )]);
    let ok = f
        .collect_until(Duration::from_secs(10), |f| {
            f.count("onvif", "onvif", "data_item", "EnrollmentID") >= 3
        })
        .await;
    assert!(ok, "{:?}", f.seen);
    assert!(f.has(
        "onvif",
        "onvif",
        "topic",
        "tns1:RuleEngine/Recognition/Face"
    ));
    assert!(f.health["onvif"].is_up());
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log.first().map(|(p, o)| (p.as_str(), o.as_str())),
        Some(("/onvif/event_service", "CreatePullPointSubscription"))
    );
    assert!(
        log.iter()
            .skip(1)
            .all(|(p, o)| p == "/onvif/Events/PullSubManager_7" && o == "PullMessages"),
        "{log:?}"
    );
    assert!(f
        .events
        .iter()
        .flat_map(|e| e.observations.iter())
        .all(|o| !o.value.contains("enr-0042")));
    f.stop().await;
}
