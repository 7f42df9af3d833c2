//! The one evidence path, shared by `scan` (captures, logs, files) and `serve` (live feeds):
//! observations are matched against the signatures, each hit is attributed to the devices it is
//! evidence about (the one that runs the technique and, for a face server, each client that
//! uses it), and handed to the judge as a [`Finding`]. Model classifications take the same
//! road through [`model_finding`].

use super::fingerprint::Classification;
use super::signatures::SignatureSet;
use crate::judge::{Basis, Finding, Judge};
use crate::model::{DeviceId, Observation, Role};
use std::net::IpAddr;

/// Who a party of a hit is, as the caller knows it.
pub trait DeviceResolver {
    /// The device an address belongs to (`None`: not one to report, e.g. banwatch itself).
    fn device(&mut self, address: IpAddr, role: Role) -> Option<DeviceId>;
}

/// Devices named by their address: a spot check with no inventory.
pub struct ByAddress;

impl DeviceResolver for ByAddress {
    fn device(&mut self, address: IpAddr, _role: Role) -> Option<DeviceId> {
        (!address.is_unspecified()).then(|| DeviceId(address.to_string()))
    }
}

/// Every hit of a feed that belongs to one device is about that device.
pub struct Fixed(pub DeviceId);

impl DeviceResolver for Fixed {
    fn device(&mut self, _address: IpAddr, role: Role) -> Option<DeviceId> {
        (role == Role::Runs).then(|| self.0.clone())
    }
}

/// Match `obs` against `signatures` and hand the findings to `judge`. `source` names the
/// source kind (`pcap`, `rtsp`, a feed id...) for the evidence's `source`. Returns the devices
/// that got evidence (each once), with the id of the signature.
pub fn observe(
    signatures: &SignatureSet,
    judge: &mut Judge,
    obs: &Observation,
    source: &str,
    resolve: &mut dyn DeviceResolver,
    touched: &mut Vec<(DeviceId, String)>,
) {
    for hit in signatures.match_observation(obs) {
        let sig = hit.signature;
        for party in sig.parties(obs) {
            let Some(device) = resolve.device(party.address, party.role) else {
                continue;
            };
            let peer = party.peer.map(|p| resolve_peer(resolve, p));
            let mac = mac_of(obs, party.address);
            judge.add(Finding {
                device: device.clone(),
                signature: sig.id.clone(),
                service: sig.service.clone(),
                technique: sig.technique,
                basis: Basis::Signature {
                    strength: sig.strength,
                    weight: sig.weight,
                },
                role: party.role,
                peer,
                organisation: sig.organisation.clone(),
                source: format!("{source}:{}.{}", obs.proto, obs.field),
                excerpt: hit.excerpt.to_string(),
                ts: obs.ts,
            });
            // After the finding: the judge keeps a MAC only for a device it holds evidence of.
            if let Some(mac) = mac {
                judge.set_mac(&device, mac);
            }
            if !touched.iter().any(|(d, s)| d == &device && s == &sig.id) {
                touched.push((device, sig.id.clone()));
            }
        }
    }
}

/// The peer of a `uses` finding: a configured device's id when the address is one, else the
/// address.
fn resolve_peer(resolve: &mut dyn DeviceResolver, peer: IpAddr) -> String {
    resolve
        .device(peer, Role::Runs)
        .map(|d| d.0)
        .unwrap_or_else(|| peer.to_string())
}

fn mac_of(o: &Observation, ip: IpAddr) -> Option<[u8; 6]> {
    let f = o.flow?;
    if f.client.ip() == ip {
        f.client_mac
    } else if f.server.ip() == ip {
        f.server_mac
    } else {
        None
    }
}

/// The finding a classified model file is: the image or directory it came from runs it.
pub fn model_finding(
    device: DeviceId,
    path: &str,
    format: &str,
    sha256: &str,
    size: u64,
    c: &Classification,
) -> Finding {
    Finding {
        device,
        signature: format!(
            "model.{}.{}",
            c.family.as_deref().unwrap_or(format),
            &sha256[..12.min(sha256.len())]
        ),
        service: "model".into(),
        technique: c.technique,
        basis: Basis::Model {
            confidence: c.confidence,
        },
        role: Role::Runs,
        peer: None,
        organisation: None,
        source: format!("file:{path}"),
        excerpt: format!("sha256 {} ({size} bytes)", &sha256[..16.min(sha256.len())]),
        ts: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Direction, Flow, Technique, Transport};
    use std::path::Path;

    const RULES: &str = r#"
[meta]
service = "compreface"
[[signature]]
id = "t.recognize"
field = "http.path"
exact = "/api/v1/recognition/recognize"
technique = "face_recognition"
strength = "strong"
attribute = "server"
description = "d"
source = "s"
positive = ["/api/v1/recognition/recognize"]
negative = ["/api/v1/detection/detect"]
"#;

    #[test]
    fn a_face_server_runs_recognition_and_its_client_uses_it() {
        let sigs = SignatureSet::from_sources([(Path::new("t.toml"), RULES)]).unwrap();
        let mut judge = Judge::default();
        let obs = Observation {
            ts: 1.0,
            proto: "http",
            field: "path",
            value: "/api/v1/recognition/recognize".into(),
            flow: Some(Flow {
                transport: Transport::Tcp,
                client: "10.0.0.7:40000".parse().unwrap(),
                server: "10.0.0.9:8000".parse().unwrap(),
                client_mac: Some([2, 0, 0, 0, 0, 7]),
                server_mac: Some([2, 0, 0, 0, 0, 9]),
            }),
            dir: Direction::ToServer,
        };
        let mut touched = Vec::new();
        observe(
            &sigs,
            &mut judge,
            &obs,
            "pcap",
            &mut ByAddress,
            &mut touched,
        );
        assert_eq!(touched.len(), 2);
        let v = judge.verdicts();
        let role = |d: &str| {
            let dv = v.iter().find(|x| x.device.0 == d).unwrap();
            let e = &dv.verdicts[0].evidence[0];
            (dv.verdicts[0].technique, e.role, e.peer.clone())
        };
        assert_eq!(
            role("10.0.0.9"),
            (Technique::FaceRecognition, Role::Runs, None)
        );
        // A device's MAC from its very first finding (the report of a device seen once has it).
        let mac = |d: &str| v.iter().find(|x| x.device.0 == d).unwrap().mac.clone();
        assert_eq!(mac("10.0.0.9").as_deref(), Some("02:00:00:00:00:09"));
        assert_eq!(mac("10.0.0.7").as_deref(), Some("02:00:00:00:00:07"));
        assert_eq!(
            role("10.0.0.7"),
            (
                Technique::FaceRecognition,
                Role::Uses,
                Some("10.0.0.9".to_string())
            )
        );
        let violations = judge.violations(&v, &crate::judge::policy::Policy::default_ban());
        assert_eq!(violations.len(), 2);
        let client = violations
            .iter()
            .find(|x| x.device.0 == "10.0.0.7")
            .unwrap();
        assert_eq!(
            (client.role, client.peers.clone()),
            (Role::Uses, vec!["10.0.0.9".to_string()])
        );
    }
}
