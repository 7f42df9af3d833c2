//! MQTT subscriber (Frigate, edge AI boxes): subscribes to the configured topic filters and
//! hands each JSON payload, with its topic, to the shared event decoders. Binary payloads
//! (snapshots) are counted and dropped unread; malformed JSON is counted as a decode error.

use super::live::{reconnect_loop, stopped, TapContext, TapError};
use crate::model::Direction;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::Duration;

/// Largest accepted publish (Frigate snapshots can be large; events are small).
const MAX_PACKET: usize = 4 << 20;

pub async fn run(host: String, port: u16, topics: Vec<String>, ctx: &TapContext) {
    reconnect_loop(ctx, |shutdown| once(&host, port, &topics, ctx, shutdown)).await
}

async fn once(
    host: &str,
    port: u16,
    topics: &[String],
    ctx: &TapContext,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), TapError> {
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
    let (client, mut events) = AsyncClient::new(opts, 16);
    for t in topics {
        client
            .subscribe(t.as_str(), QoS::AtMostOnce)
            .await
            .map_err(|e| TapError::Connect(format!("subscribe {t}: {e}")))?;
    }
    loop {
        let ev = tokio::select! {
            ev = events.poll() => ev.map_err(|e| TapError::Connect(format!("{host}:{port}: {e}")))?,
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
                    let mut em = crate::decode::Emitter::new(super::live::now(), None, &mut obs);
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
