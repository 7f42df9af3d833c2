//! MQTT subscriber (Frigate, edge AI boxes): subscribes to the configured topic filters and
//! hands each JSON payload, with its topic, to the shared event decoders. Binary payloads
//! (snapshots) are counted and dropped unread; malformed JSON is counted as a decode error.

use super::context::{reconnect_loop, stopped, SourceContext, SourceError};
use super::source::{settings, LiveSource, RunFuture, SourceKind};
use crate::model::Direction;
use crate::secret::Secret;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Largest accepted publish (Frigate snapshots can be large; events are small).
const MAX_PACKET: usize = 4 << 20;

/// An MQTT broker to subscribe to. A broker does not tell subscribers who published a message,
/// so an `mqtt` feed must name the `device` its messages are about (the service refuses one
/// without).
///
/// ```toml
/// [[feed]]
/// id = "frigate-mqtt"
/// kind = "mqtt"
/// device = "nvr-frigate"
/// host = "10.20.0.50"
/// topics = ["frigate/#", "double-take/#"]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mqtt {
    /// Broker host name or address.
    pub host: String,
    /// Broker port (default 1883).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Topic filters to subscribe to (`#` and `+` wildcards).
    pub topics: Vec<String>,
    /// Account on the broker, if it wants one.
    pub username: Option<String>,
    /// Its password: inline, `{ env = "…" }` or `{ file = "…" }`.
    pub password: Option<Secret>,
}

fn default_port() -> u16 {
    1883
}

/// The registry entry.
pub const KIND: SourceKind = SourceKind {
    name: "mqtt",
    description: "MQTT subscriber (Frigate, Double Take, edge boxes): JSON payloads by topic",
    build: |t| {
        let m: Mqtt = settings(t)?;
        if m.topics.is_empty() {
            return Err("topics: at least one topic filter is needed".into());
        }
        if m.host.trim().is_empty() {
            return Err("host: empty".into());
        }
        if m.port == 0 {
            return Err("port: 0 is not a port".into());
        }
        if m.password.is_some() && m.username.is_none() {
            return Err("password given without username".into());
        }
        Ok(Arc::new(m))
    },
};

impl LiveSource for Mqtt {
    fn kind(&self) -> &'static str {
        KIND.name
    }
    fn endpoint(&self) -> String {
        format!("mqtt://{}:{}", self.host, self.port)
    }
    fn needs_device(&self) -> bool {
        true
    }
    fn run(self: Arc<Self>, ctx: SourceContext) -> RunFuture {
        Box::pin(async move {
            let creds = match (&self.username, &self.password) {
                (Some(u), p) => match p.as_ref().map(Secret::resolve).transpose() {
                    Ok(p) => Some((u.clone(), p.flatten().unwrap_or_default())),
                    Err(e) => return ctx.health.set_error(&e),
                },
                (None, _) => None,
            };
            reconnect_loop(&ctx, |shutdown| once(&self, creds.as_ref(), &ctx, shutdown)).await
        })
    }
}

async fn once(
    cfg: &Mqtt,
    creds: Option<&(String, String)>,
    ctx: &SourceContext,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let (host, port, topics) = (cfg.host.as_str(), cfg.port, &cfg.topics);
    let id = format!("banwatch-{}-{}", ctx.feed, std::process::id());
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    let mut opts = MqttOptions::new(id, host, port);
    opts.set_keep_alive(Duration::from_secs(15));
    opts.set_max_packet_size(MAX_PACKET, 64 * 1024);
    opts.set_clean_session(true);
    if let Some((u, p)) = creds {
        opts.set_credentials(u.clone(), p.clone());
    }
    let (client, mut events) = AsyncClient::new(opts, 16);
    for t in topics {
        client
            .subscribe(t.as_str(), QoS::AtMostOnce)
            .await
            .map_err(|e| SourceError::Connect(format!("subscribe {t}: {e}")))?;
    }
    loop {
        let ev = tokio::select! {
            ev = events.poll() => ev.map_err(|e| SourceError::Connect(format!("{host}:{port}: {e}")))?,
            _ = stopped(&mut shutdown) => {
                let _ = client.try_disconnect();
                return Ok(());
            }
        };
        match ev {
            Event::Incoming(Packet::ConnAck(_)) => ctx.health.set_up(true),
            Event::Incoming(Packet::Publish(p)) => {
                let payload = &p.payload[..];
                let first = payload.iter().find(|c| !c.is_ascii_whitespace());
                let mut obs = Vec::new();
                if matches!(first, Some(b'{') | Some(b'[')) {
                    if serde_json::from_slice::<serde::de::IgnoredAny>(payload).is_err() {
                        ctx.health.add_decode_error(&format!(
                            "malformed JSON on {}",
                            crate::decode::printable(p.topic.as_bytes())
                        ));
                        continue;
                    }
                    let mut em = crate::decode::Emitter::new(crate::clock::now(), None, &mut obs)
                        .demanding(&ctx.demand);
                    crate::decode::events::decode_json(
                        Some(&p.topic),
                        payload,
                        Direction::ToClient,
                        &mut em,
                    );
                }
                ctx.deliver(payload.len(), obs).await?;
            }
            _ => {}
        }
    }
}
