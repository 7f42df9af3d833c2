//! Emulated devices for the device audit, on loopback: each answers the read-only queries of
//! its product with the documented payloads (the sources named in `models/checks`), checks
//! the account the way the product does (HTTP Digest, ONVIF WS-Security UsernameToken, a UniFi
//! OS session cookie), and records every request it receives so a test can prove that the
//! audit sent nothing but reads. Some misbehave on purpose: garbage, huge bodies, redirect
//! loops, slow drips.
//!
//! The people in their libraries have names (as real devices do) so that tests can prove no
//! name reaches a report.

use super::devices::{digest_authorized, digest_challenge, Loopback};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What an emulated device is and how it is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditDevice {
    /// A Hikvision NVR with two face libraries holding 12 records and a face-comparison
    /// alarm trigger.
    HikvisionFaceLibrary,
    /// A Hikvision camera that captures faces (face snap) and has no face library.
    HikvisionCaptureOnly,
    /// A Dahua NVR whose face recognition server holds two face groups of 30 and 50 faces.
    DahuaFaceGroups,
    /// An ONVIF camera with a tt:FaceRecognition rule configured.
    OnvifFaceRecognition,
    /// An ONVIF camera with a motion rule only.
    OnvifMotionOnly,
    /// A UniFi OS console with Protect, its face recognition switch off.
    UnifiProtectFaceOff,
    /// A Frigate NVR with face recognition on and two people in its face library.
    FrigateFaceOn,
    /// Answers everything with bytes that are no document.
    Garbage,
    /// Answers everything with a 50 MB body.
    HugeBody,
    /// Redirects every request to itself.
    RedirectLoop,
    /// Sends its answer one byte a second.
    SlowDrip,
}

/// Names in the emulated libraries: none may appear in any report.
pub const PEOPLE: [&str; 4] = [
    "Jane Roe",
    "John Poe",
    "Residents Block C",
    "Tenant Watchlist",
];

/// One request as the device received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// For SOAP requests, the operation's local name.
    pub soap_operation: Option<String>,
}

/// A running emulated device. Stops on drop.
pub struct AuditServer {
    /// What it emulates.
    pub device: AuditDevice,
    /// Every request received.
    pub requests: Arc<Mutex<Vec<RecordedRequest>>>,
    /// The server on its loopback port.
    pub server: Loopback,
}

#[derive(Clone)]
struct Emulated {
    device: AuditDevice,
    username: Arc<str>,
    password: Arc<str>,
    port: u16,
    nonces: Arc<Mutex<HashSet<String>>>,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl AuditServer {
    /// Start `device` on a free loopback port with one account; over HTTPS when `tls` is given.
    pub async fn start(
        device: AuditDevice,
        username: &str,
        password: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<AuditServer> {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let (username, password) = (Arc::from(username), Arc::from(password));
        // The ONVIF device names its own services' addresses: it is built for its port.
        let server = Loopback::start(tls, move |port| {
            let state = Emulated {
                device,
                username,
                password,
                port,
                nonces: Arc::new(Mutex::new(HashSet::new())),
                requests: recorded,
            };
            Router::new().fallback(answer).with_state(state)
        })
        .await?;
        Ok(AuditServer {
            device,
            requests,
            server,
        })
    }

    /// `http(s)://127.0.0.1:port`.
    pub fn url(&self) -> String {
        self.server.origin()
    }

    /// The requests received so far.
    pub fn received(&self) -> Vec<RecordedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// The local name of the first element inside a SOAP Body.
fn soap_operation(body: &[u8]) -> Option<String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(body);
    let mut in_body = false;
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(s) | Event::Empty(s) => {
                let name = s.local_name().as_ref().to_vec();
                if in_body {
                    return String::from_utf8(name).ok();
                }
                in_body = name == b"Body";
            }
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

/// The text of the first element with this local name.
fn element_text(body: &[u8], local: &[u8]) -> Option<String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(body);
    let mut inside = false;
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(s) => inside = s.local_name().as_ref() == local,
            Event::Text(t) if inside => return t.unescape().ok().map(|t| t.into_owned()),
            Event::End(_) => inside = false,
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn json(body: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn text(body: &str) -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], body.to_string()).into_response()
}

async fn answer(
    State(d): State<Emulated>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let soap = (method == Method::POST)
        .then(|| soap_operation(&body))
        .flatten();
    if let Ok(mut r) = d.requests.lock() {
        r.push(RecordedRequest {
            method: method.to_string(),
            target: target.clone(),
            soap_operation: soap.clone(),
        });
    }
    match d.device {
        AuditDevice::HikvisionFaceLibrary | AuditDevice::HikvisionCaptureOnly => {
            match digest(&d, &headers, "IP Camera", &method) {
                Some(challenge) => challenge,
                None => hikvision(d.device, &target),
            }
        }
        AuditDevice::DahuaFaceGroups => match digest(&d, &headers, "Login to 4L0C", &method) {
            Some(challenge) => challenge,
            None => dahua(&target),
        },
        AuditDevice::OnvifFaceRecognition | AuditDevice::OnvifMotionOnly => {
            onvif(&d, &target, soap.as_deref(), &body)
        }
        AuditDevice::UnifiProtectFaceOff => unifi(&d, &method, &target, &headers, &body),
        AuditDevice::FrigateFaceOn => frigate(&target),
        AuditDevice::Garbage => {
            (StatusCode::OK, b"\x00\xff\xfe<<{{garbage]]\x01".to_vec()).into_response()
        }
        AuditDevice::HugeBody => {
            let chunk = Bytes::from(vec![b'<'; 1 << 20]);
            let chunks = futures_util::stream::iter(
                (0..50).map(move |_| Ok::<_, std::convert::Infallible>(chunk.clone())),
            );
            Body::from_stream(chunks).into_response()
        }
        AuditDevice::RedirectLoop => {
            (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
        }
        AuditDevice::SlowDrip => {
            let drip = futures_util::stream::unfold(0u32, |n| async move {
                if n > 600 {
                    return None;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                Some((
                    Ok::<_, std::convert::Infallible>(Bytes::from_static(b"<")),
                    n + 1,
                ))
            });
            Body::from_stream(drip).into_response()
        }
    }
}

/// `None` when the request carries a valid Digest answer, else the 401 challenge.
fn digest(d: &Emulated, headers: &HeaderMap, realm: &str, method: &Method) -> Option<Response> {
    let ok = digest_authorized(
        headers,
        realm,
        &d.nonces,
        &d.username,
        &d.password,
        method.as_str(),
    );
    if ok {
        return None;
    }
    let challenge = digest_challenge(realm, &d.nonces);
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response(),
    )
}

const HIK_NS: &str = "http://www.hikvision.com/ver20/XMLSchema";

fn hikvision(device: AuditDevice, target: &str) -> Response {
    let face = device == AuditDevice::HikvisionFaceLibrary;
    let not_supported = || {
        xml(
            StatusCode::FORBIDDEN,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><ResponseStatus version="2.0" xmlns="{HIK_NS}"><requestURL>{target}</requestURL><statusCode>4</statusCode><statusString>Invalid Operation</statusString><subStatusCode>notSupport</subStatusCode></ResponseStatus>"#
            ),
        )
    };
    match target {
        "/ISAPI/System/deviceInfo" => {
            let (model, kind) = if face {
                ("DS-7608NXI-I2", "NVR")
            } else {
                ("DS-2CD2386G2-IU", "IPCamera")
            };
            xml(
                StatusCode::OK,
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>
<DeviceInfo version="2.0" xmlns="{HIK_NS}"><deviceName>Lobby</deviceName><deviceID>99f98000-1234-11b3-8137-000000000001</deviceID><model>{model}</model><serialNumber>{model}20230101AAWR000000001</serialNumber><firmwareVersion>V5.7.3</firmwareVersion><deviceType>{kind}</deviceType><manufacturer>hikvision</manufacturer></DeviceInfo>"#
                ),
            )
        }
        "/ISAPI/System/capabilities" => xml(
            StatusCode::OK,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<DeviceCap version="2.0" xmlns="{HIK_NS}"><SmartCap><isSupportFaceDetect>true</isSupportFaceDetect></SmartCap><EventCap><isSupportMotionDetection>true</isSupportMotionDetection><isSupportFaceContrast>{face}</isSupportFaceContrast>{lib}<isSupportFaceSnap>true</isSupportFaceSnap></EventCap></DeviceCap>"#,
                lib = if face {
                    ""
                } else {
                    "<isSupportFaceLib>false</isSupportFaceLib>"
                }
            ),
        ),
        "/ISAPI/Intelligent/FDLib" if face => xml(
            StatusCode::OK,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<FDLibBaseCfgList version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema"><FDLibBaseCfg><id>1</id><FDID>1D28BF6FAA5D4C92929C9ED02F0F73E4</FDID><name>{}</name><faceLibType>blackFD</faceLibType></FDLibBaseCfg><FDLibBaseCfg><id>2</id><FDID>B1F5A8F601B84E18BE3C22EA52033345</FDID><name>{}</name><faceLibType>ordinary</faceLibType></FDLibBaseCfg></FDLibBaseCfgList>"#,
                PEOPLE[3], PEOPLE[2]
            ),
        ),
        "/ISAPI/Intelligent/FDLib/Count?format=json" if face => json(serde_json::json!({
            "statusCode": 1, "statusString": "OK", "subStatusCode": "ok",
            "FDRecordDataInfo": [
                {"FDID": "1D28BF6FAA5D4C92929C9ED02F0F73E4", "faceLibType": "blackFD", "name": PEOPLE[3], "recordDataNumber": 7},
                {"FDID": "B1F5A8F601B84E18BE3C22EA52033345", "faceLibType": "ordinary", "name": PEOPLE[2], "recordDataNumber": 5}
            ]
        })),
        "/ISAPI/Event/triggers" => {
            let face_trigger = if face {
                "<EventTrigger><id>faceContrast-1</id><eventType>faceContrast</eventType><videoInputChannelID>1</videoInputChannelID></EventTrigger>"
            } else {
                ""
            };
            xml(
                StatusCode::OK,
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>
<EventTriggerList version="2.0" xmlns="{HIK_NS}"><EventTrigger><id>VMD-1</id><eventType>VMD</eventType></EventTrigger><EventTrigger><id>faceSnap-1</id><eventType>faceSnap</eventType></EventTrigger>{face_trigger}</EventTriggerList>"#
                ),
            )
        }
        t if t.starts_with("/ISAPI/Intelligent/FDLib") => not_supported(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn dahua(target: &str) -> Response {
    match target {
        "/cgi-bin/magicBox.cgi?action=getDeviceType" => text("type=DHI-NVR5216-16P-I\r\n"),
        "/cgi-bin/faceRecognitionServer.cgi?action=findGroup" => text(&format!(
            "GroupList[0].groupID=00001\r\nGroupList[0].groupName={}\r\nGroupList[0].groupDetail={}\r\nGroupList[0].groupSize=30\r\nGroupList[0].groupType=BlackListDB\r\nGroupList[1].groupID=00003\r\nGroupList[1].groupName={}\r\nGroupList[1].groupSize=50\r\n",
            PEOPLE[3], PEOPLE[0], PEOPLE[2]
        )),
        _ => (StatusCode::BAD_REQUEST, "Error\r\nBad Request!\r\n").into_response(),
    }
}

const SOAP_NS: &str = r#"xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tan="http://www.onvif.org/ver20/analytics/wsdl" xmlns:ter="http://www.onvif.org/ver10/error""#;

fn soap_reply(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")],
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope {SOAP_NS}><s:Body>{body}</s:Body></s:Envelope>"#
        ),
    )
        .into_response()
}

fn soap_fault(status: StatusCode, code: &str, subcode: &str) -> Response {
    soap_reply(
        status,
        &format!(
            r#"<s:Fault><s:Code><s:Value>s:{code}</s:Value><s:Subcode><s:Value>ter:{subcode}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">{subcode}</s:Text></s:Reason></s:Fault>"#
        ),
    )
}

/// Whether the SOAP header carries a UsernameToken whose digest matches the account.
fn username_token_ok(d: &Emulated, body: &[u8]) -> bool {
    use base64::Engine as _;
    let (Some(user), Some(digest), Some(nonce), Some(created)) = (
        element_text(body, b"Username"),
        element_text(body, b"Password"),
        element_text(body, b"Nonce"),
        element_text(body, b"Created"),
    ) else {
        return false;
    };
    let Ok(nonce) = base64::engine::general_purpose::STANDARD.decode(nonce.trim()) else {
        return false;
    };
    user == *d.username
        && crate::net::soap::password_digest(&nonce, &created, &d.password) == digest.trim()
}

fn onvif(d: &Emulated, target: &str, op: Option<&str>, body: &[u8]) -> Response {
    let Some(op) = op else {
        return soap_fault(StatusCode::BAD_REQUEST, "Sender", "WellFormed");
    };
    if !username_token_ok(d, body) {
        return soap_fault(StatusCode::BAD_REQUEST, "Sender", "NotAuthorized");
    }
    let face = d.device == AuditDevice::OnvifFaceRecognition;
    let token_ok =
        || element_text(body, b"ConfigurationToken").as_deref() == Some("VideoAnalyticsToken");
    let base = format!("http://127.0.0.1:{}", d.port);
    match (target, op) {
        ("/onvif/device_service", "GetDeviceInformation") => soap_reply(
            StatusCode::OK,
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>Acme</tds:Manufacturer><tds:Model>DomeCam 4K</tds:Model><tds:FirmwareVersion>2.4.1</tds:FirmwareVersion><tds:SerialNumber>A0001</tds:SerialNumber><tds:HardwareId>1.0</tds:HardwareId></tds:GetDeviceInformationResponse>",
        ),
        ("/onvif/device_service", "GetCapabilities") => soap_reply(
            StatusCode::OK,
            &format!(
                "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Analytics><tt:XAddr>{base}/onvif/analytics_service</tt:XAddr><tt:RuleSupport>true</tt:RuleSupport><tt:AnalyticsModuleSupport>true</tt:AnalyticsModuleSupport></tt:Analytics><tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr></tt:Device><tt:Media><tt:XAddr>{base}/onvif/media_service</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"
            ),
        ),
        ("/onvif/media_service", "GetProfiles") => soap_reply(
            StatusCode::OK,
            r#"<trt:GetProfilesResponse><trt:Profiles token="Profile_1" fixed="true"><tt:Name>mainStream</tt:Name><tt:VideoAnalyticsConfiguration token="VideoAnalyticsToken"><tt:Name>VideoAnalyticsName</tt:Name><tt:UseCount>2</tt:UseCount></tt:VideoAnalyticsConfiguration></trt:Profiles></trt:GetProfilesResponse>"#,
        ),
        ("/onvif/analytics_service", "GetRules") if token_ok() => {
            let face_rule = if face {
                format!(
                    r#"<tan:Rule Name="{}" Type="tt:FaceRecognition"><tt:Parameters><tt:SimpleItem Name="IncludeImage" Value="false"/></tt:Parameters></tan:Rule>"#,
                    PEOPLE[3]
                )
            } else {
                String::new()
            };
            soap_reply(
                StatusCode::OK,
                &format!(
                    r#"<tan:GetRulesResponse><tan:Rule Name="MyMotionDetector" Type="tt:CellMotionDetector"><tt:Parameters><tt:SimpleItem Name="MinCount" Value="4"/></tt:Parameters></tan:Rule>{face_rule}</tan:GetRulesResponse>"#
                ),
            )
        }
        ("/onvif/analytics_service", "GetSupportedRules") if token_ok() => {
            let face_rule = if face {
                r#"<tt:RuleDescription Name="tt:FaceRecognition"><tt:Parameters><tt:SimpleItemDescription Name="IncludeImage" Type="xs:string"/></tt:Parameters></tt:RuleDescription>"#
            } else {
                ""
            };
            soap_reply(
                StatusCode::OK,
                &format!(
                    r#"<tan:GetSupportedRulesResponse><tan:SupportedRules><tt:RuleDescription Name="tt:CellMotionDetector"/>{face_rule}</tan:SupportedRules></tan:GetSupportedRulesResponse>"#
                ),
            )
        }
        ("/onvif/analytics_service", "GetRules" | "GetSupportedRules") => {
            soap_fault(StatusCode::BAD_REQUEST, "Sender", "InvalidArgVal")
        }
        _ => soap_fault(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Receiver",
            "ActionNotSupported",
        ),
    }
}

const UNIFI_COOKIE: &str = "TOKEN=emulated-session";

fn unifi(
    d: &Emulated,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if method == Method::POST && target == "/api/auth/login" {
        let creds: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        if creds["username"] == *d.username && creds["password"] == *d.password {
            return (
                [
                    (
                        header::SET_COOKIE,
                        format!("{UNIFI_COOKIE}; path=/; samesite=strict; secure; httponly"),
                    ),
                    (
                        header::HeaderName::from_static("x-csrf-token"),
                        "emulated-csrf".to_string(),
                    ),
                ],
                "{}",
            )
                .into_response();
        }
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let session = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.split(';').any(|p| p.trim() == UNIFI_COOKIE));
    if !session {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match (method.as_str(), target) {
        ("GET", "/proxy/protect/api/bootstrap") => json(serde_json::json!({
            "authUserId": "a1",
            "nvr": {
                "id": "n1", "name": "School console", "version": "5.0.34",
                "smartDetection": {"enable": true, "faceRecognition": false, "licensePlateRecognition": false}
            },
            "cameras": [{"id": "c1", "name": "Gym entrance", "smartDetectSettings": {"objectTypes": ["person", "face"]}}],
            "users": [{"id": "u1", "name": PEOPLE[0]}],
            "groups": [], "liveviews": [], "viewers": []
        })),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

fn frigate(target: &str) -> Response {
    match target {
        "/api/config" => json(serde_json::json!({
            "mqtt": {"enabled": true, "host": "127.0.0.1"},
            "ffmpeg": {"hwaccel_args": []},
            "detectors": {"cpu": {"type": "cpu"}},
            "face_recognition": {"enabled": true, "model_size": "small", "min_area": 750},
            "cameras": {"front_door": {"face_recognition": {"enabled": true, "min_area": 750}}}
        })),
        "/api/faces" => json(serde_json::json!({
            PEOPLE[0]: ["face1.webp", "face2.webp"],
            PEOPLE[1]: ["face3.webp"],
            "train": ["unsorted-1.webp"]
        })),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
