//! The domain vocabulary of DESIGN.md §2, in one place. Every stage speaks these types; the JSON
//! names they serialize to are a contract (the `scan --format json` report, `inspect` lines).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// What a piece of evidence (or a model) shows is running. Detection is not recognition: the
/// variants that only find or count faces or people are kept apart from the ones that identify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Technique {
    /// Finding faces (to blur, count or crop): allowed.
    FaceDetection,
    /// 1:N identification, watch lists, face search, embedding extraction.
    FaceRecognition,
    /// 1:1 comparison of two faces.
    FaceVerification,
    /// Age, gender, emotion: biometric categorisation.
    FaceAttributes,
    /// Facial landmarks / alignment: a pre-processing step, not identification by itself.
    FaceLandmarks,
    /// Liveness / presentation-attack detection.
    FaceAntiSpoofing,
    /// Identifying people by how they walk.
    GaitRecognition,
    /// Finding people (counting, intrusion): allowed.
    PersonDetection,
    /// Following a person across cameras by appearance.
    PersonReidentification,
    /// Body keypoints (pose).
    BodyPose,
    /// Residents' data leaving city networks for federal immigration enforcement or the
    /// networks it draws on (ALPR data pools). Not biometric: a finding kind of its own.
    DataSharing,
    /// Nothing biometric.
    None,
}

impl Technique {
    /// Every technique, in report order.
    pub const ALL: [Technique; 12] = [
        Technique::FaceDetection,
        Technique::FaceRecognition,
        Technique::FaceVerification,
        Technique::FaceAttributes,
        Technique::FaceLandmarks,
        Technique::FaceAntiSpoofing,
        Technique::GaitRecognition,
        Technique::PersonDetection,
        Technique::PersonReidentification,
        Technique::BodyPose,
        Technique::DataSharing,
        Technique::None,
    ];

    /// The name reports use (`face_recognition`).
    pub fn as_str(self) -> &'static str {
        match self {
            Technique::FaceDetection => "face_detection",
            Technique::FaceRecognition => "face_recognition",
            Technique::FaceVerification => "face_verification",
            Technique::FaceAttributes => "face_attributes",
            Technique::FaceLandmarks => "face_landmarks",
            Technique::FaceAntiSpoofing => "face_anti_spoofing",
            Technique::GaitRecognition => "gait_recognition",
            Technique::PersonDetection => "person_detection",
            Technique::PersonReidentification => "person_reidentification",
            Technique::BodyPose => "body_pose",
            Technique::DataSharing => "data_sharing",
            Technique::None => "none",
        }
    }

    /// Techniques that identify or verify a person, or categorise them biometrically.
    pub fn is_biometric_identification(self) -> bool {
        matches!(
            self,
            Technique::FaceRecognition
                | Technique::FaceVerification
                | Technique::GaitRecognition
                | Technique::PersonReidentification
        )
    }
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Technique {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Technique::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown technique {s:?}"))
    }
}

/// What a device does with a technique (DESIGN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The technique executes there: a face server, a camera matching on board, a model file.
    Runs,
    /// It sends faces to a server, or calls a cloud face API: its `peer` runs the technique.
    Uses,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Runs => "runs",
            Role::Uses => "uses",
        })
    }
}

/// How much one piece of evidence proves on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// Consistent with the technique, needs corroboration (a DNS name, a generic shape).
    Weak,
    /// Proves the technique by itself (a face-match event, a face-search API call).
    Strong,
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strength::Weak => "weak",
            Strength::Strong => "strong",
        })
    }
}

/// Verdict status per device and technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// No finding (weak evidence below the line, or none).
    Clear,
    /// Weak evidence only: worth a look, never proof.
    Suspected,
    /// Strong evidence: the technique runs.
    Confirmed,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Clear => "clear",
            Status::Suspected => "suspected",
            Status::Confirmed => "confirmed",
        })
    }
}

/// Kind of site, as the policy distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteType {
    /// Public housing.
    Housing,
    /// A school.
    School,
    /// Public transit.
    Transit,
    /// Anything else the city runs.
    Other,
}

impl SiteType {
    /// Every site type.
    pub const ALL: [SiteType; 4] = [
        SiteType::Housing,
        SiteType::School,
        SiteType::Transit,
        SiteType::Other,
    ];
    /// The name configurations and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteType::Housing => "housing",
            SiteType::School => "school",
            SiteType::Transit => "transit",
            SiteType::Other => "other",
        }
    }
}

impl fmt::Display for SiteType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Transport of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// The two ends of a conversation. `client` opened it (sent the SYN, the first datagram, or the
/// request); decoders that pick a flow up mid-stream decide by port and content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// TCP or UDP.
    pub transport: Transport,
    /// Address and port of the client.
    pub client: SocketAddr,
    /// Address and port of the server.
    pub server: SocketAddr,
    /// The client's MAC address, when the capture shows it.
    pub client_mac: Option<[u8; 6]>,
    /// The server's MAC address, when the capture shows it.
    pub server_mac: Option<[u8; 6]>,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.client, self.server)
    }
}

/// Which way a message travelled within a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

/// A fact seen on the wire or in a file, tied to a flow (hence devices) and a time.
///
/// `proto` and `field` together name what a signature matches (`tls` + `sni` is `tls.sni`).
/// `value` never carries a face image, an embedding or a person's name: decoders emit the
/// *presence* of such fields (their names), not their contents.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Seconds since the Unix epoch (capture time).
    pub ts: f64,
    /// Protocol (`tls`, `http`, `hikvision`...).
    pub proto: &'static str,
    /// Field within the protocol (`sni`); `proto.field` is declared in `decode::fields`.
    pub field: &'static str,
    /// The value, bounded and printable (what the field keeps, see its declaration).
    pub value: String,
    /// The flow it travelled in, when known.
    pub flow: Option<Flow>,
    /// Which way it travelled.
    pub dir: Direction,
}

impl Observation {
    /// `proto.field`, the name signatures match on.
    pub fn key(&self) -> String {
        format!("{}.{}", self.proto, self.field)
    }

    /// The address that sent this message.
    pub fn sender(&self) -> Option<IpAddr> {
        self.flow.map(|f| match self.dir {
            Direction::ToServer => f.client.ip(),
            Direction::ToClient => f.server.ip(),
        })
    }
}

/// The JSON line `banwatch inspect` prints for one observation.
#[derive(Debug, Serialize)]
pub struct ObservationLine<'a> {
    /// Protocol.
    pub proto: &'a str,
    /// Field.
    pub field: &'a str,
    /// Value.
    pub value: &'a str,
    /// `client-server` addresses, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    /// Which way.
    pub dir: Direction,
    /// Seconds since the Unix epoch.
    pub ts: f64,
}

impl<'a> From<&'a Observation> for ObservationLine<'a> {
    fn from(o: &'a Observation) -> Self {
        ObservationLine {
            proto: o.proto,
            field: o.field,
            value: &o.value,
            flow: o.flow.map(|f| f.to_string()),
            dir: o.dir,
            ts: o.ts,
        }
    }
}

/// Who a device is: an address (and a MAC where the capture shows one), or for files, the path
/// of the image the artifact came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub String);

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One signature or fingerprint that fired for a device, aggregated over its occurrences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The signature or fingerprint id.
    pub signature: String,
    /// What it proves.
    pub technique: Technique,
    /// How strongly, on its own.
    pub strength: Strength,
    /// Whether the device runs the technique or uses it.
    #[serde(default = "runs")]
    pub role: Role,
    /// For `uses`: the device or service that runs it (an address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// For `data_sharing`: the organisation the data goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// Which source and field, e.g. `pcap:http.header.x-amz-target`.
    pub source: String,
    /// Fixed text from the signature standing for what matched (a pattern, a hash, a size):
    /// never a value observed in a feed.
    pub excerpt: String,
    /// Occurrences.
    pub count: u64,
    /// First occurrence, RFC 3339.
    pub first_seen: String,
    /// Last occurrence, RFC 3339.
    pub last_seen: String,
}

fn runs() -> Role {
    Role::Runs
}

/// The judge's conclusion for one device and technique.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The technique.
    pub technique: Technique,
    /// Confirmed, suspected or clear.
    pub status: Status,
    /// Combined confidence in [0, 1] (noisy-OR of the evidence).
    pub confidence: f64,
    /// The evidence, strongest first.
    pub evidence: Vec<Evidence>,
}

/// A classified model file (a model fingerprint's result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// `outer!/inner/path` for nested finds.
    pub path: String,
    /// Format name (`onnx`, `tflite`...).
    pub format: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// What it implements.
    pub technique: Technique,
    /// How sure, in [0, 1].
    pub confidence: f64,
    /// Published family, when the catalog knows it.
    pub family: Option<String>,
    /// Why, in words.
    pub reasons: Vec<String>,
}

/// A banned technique found at a device, with the site types where it is banned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The device.
    pub device: DeviceId,
    /// The banned technique.
    pub technique: Technique,
    /// The verdict's status.
    pub status: Status,
    /// Whether the device runs the technique or uses it (through `peers`).
    #[serde(default = "runs")]
    pub role: Role,
    /// For `uses`: who runs it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
    /// Site types where it is banned (the device's own, when it has a site).
    pub banned_at: Vec<SiteType>,
}

/// Lifecycle state of an alert raised by the long-running service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The violation holds.
    Firing,
    /// No new evidence for the quiet period: over.
    Resolved,
}

/// A ban-violation alert: the unit sinks deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id (hash of device and technique, and the start second).
    pub id: String,
    /// Firing or resolved.
    pub state: AlertState,
    /// Site id, when the device is in the inventory.
    pub site: Option<String>,
    /// Site type.
    pub site_type: Option<SiteType>,
    /// Contractor answering for the site.
    pub contractor: Option<String>,
    /// The device.
    pub device: DeviceId,
    /// The banned technique.
    pub technique: Technique,
    /// The verdict's status.
    pub status: Status,
    /// The verdict's confidence.
    pub confidence: f64,
    /// The evidence (redacted by construction).
    pub evidence: Vec<Evidence>,
    /// When it started firing, RFC 3339.
    pub started_at: String,
    /// When it resolved, RFC 3339.
    pub resolved_at: Option<String>,
}

/// What became of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The answer is evidence.
    Fired,
    /// The answer was read and is not evidence.
    Quiet,
    /// The device does not offer what the check asks (404, an ONVIF fault, nothing to ask
    /// about): not evidence, and not an audit gap.
    Unavailable,
    /// The answer could not be had or read: the audit of this device is incomplete.
    Error,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check id.
    pub check: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The number read (a count or a sum), when read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// Why it is unavailable or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The audit of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceAudit {
    /// The device.
    pub device: DeviceId,
    /// The URL asked (no user information).
    pub target: String,
    /// The product identified (a checks product id).
    pub product: Option<String>,
    /// Certificates were not checked (`--insecure`): the report says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// Requests sent.
    pub requests: u32,
    /// Each check's result.
    pub checks: Vec<CheckResult>,
    /// Why the device could not be audited at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the audit started, Unix seconds.
    #[serde(skip)]
    pub started: f64,
}

/// A firing, confirmed face-recognition alert on device `cam`, started
/// 2026-11-02T09:00:00Z: the one the store and pending-file tests keep and read back.
#[cfg(all(test, feature = "live"))]
pub(crate) fn sample_alert(id: &str, state: AlertState) -> Alert {
    Alert {
        id: id.into(),
        state,
        site: None,
        site_type: None,
        contractor: None,
        device: DeviceId("cam".into()),
        technique: Technique::FaceRecognition,
        status: Status::Confirmed,
        confidence: 0.9,
        evidence: Vec::new(),
        started_at: "2026-11-02T09:00:00.000000Z".into(),
        resolved_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_names_round_trip() {
        for t in Technique::ALL {
            assert_eq!(t.as_str().parse::<Technique>(), Ok(t));
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
    }
}
