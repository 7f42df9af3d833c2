//! MQTT 3.1 / 3.1.1 / 5 (`proto = "mqtt"`), both directions.
//!
//! Fields: `protocol` (`MQTT 3.1`, `MQTT 3.1.1`, `MQTT 5`), `client_id`, `username` (`present`
//! only; the password is never parsed), `topic` (every PUBLISH, both directions, topic aliases
//! resolved), `subscribe` (every SUBSCRIBE filter). PUBLISH payloads that are JSON go to
//! [`events::decode_json`] with the topic as context; XML goes to [`events::decode_body`].
//!
//! Packets may span chunks and chunks may hold many packets. Remaining length is a varint of at
//! most 4 bytes; packets up to [`MAX_PACKET`] are buffered whole, larger ones have their topic
//! read from the first bytes and the rest skipped by count. If a direction does not start with
//! a packet boundary (capture started late, or after a gap) the parser scans for a plausible
//! PUBLISH header (type 3, sane length, a UTF-8 topic) and resynchronises there.

use super::events;
use super::{printable, AppParser, Emitter, Progress};
use crate::model::Direction;
use rustc_hash::FxHashMap;

use super::protocol::FieldTable;

/// Fields of MQTT 3.1, 3.1.1 and 5 control packets.
pub const FIELDS: FieldTable = FieldTable(
    "
mqtt.topic      value        Topic of a PUBLISH, members of collections masked (`double-take/matches/+`)
mqtt.subscribe  value        Topic filter of a SUBSCRIBE, masked the same way
mqtt.protocol   enumeration  Protocol level of a CONNECT (`3.1.1`, `5`)
mqtt.client_id  value        Client identifier of a CONNECT
mqtt.username   presence     `present` when a CONNECT carries a user name
",
);

/// MQTT in the protocol registry: a CONNECT naming `MQTT`/`MQIsdp`, or the MQTT port.
pub const PROTOCOL: super::protocol::AppProtocol = super::protocol::AppProtocol {
    name: "mqtt",
    ports: &[1883, 8883],
    probe: |s| {
        let head = &s.data[..s.data.len().min(16)];
        let connect = s.data.first() == Some(&0x10)
            && (memchr::memmem::find(head, b"MQTT").is_some()
                || memchr::memmem::find(head, b"MQIsdp").is_some());
        if connect || s.on_port(&[1883]) {
            super::protocol::Probe::Yes
        } else {
            super::protocol::Probe::No
        }
    },
    parser: || Box::new(MqttParser::new()),
};

const P: &str = "mqtt";
/// Largest packet buffered whole.
pub const MAX_PACKET: usize = (1 << 20) + 1024;
/// Bytes scanned without finding a packet boundary before a direction is given up.
const MAX_UNSYNCED: usize = 256 * 1024;
/// Topic aliases remembered per direction.
const MAX_ALIASES: usize = 1024;
/// Most topic filters read from one SUBSCRIBE.
const MAX_FILTERS: usize = 256;

/// Fixed header: (packet type, flags, remaining length, header length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    /// Packet type (upper nibble of the first byte).
    pub ptype: u8,
    /// Flags (lower nibble).
    pub flags: u8,
    /// Remaining length (bytes after the fixed header).
    pub rem: usize,
    /// Length of the fixed header itself.
    pub hlen: usize,
}

/// Parse a fixed header. `Ok(None)`: need more bytes; `Err(())`: a varint longer than 4 bytes.
#[allow(clippy::result_unit_err)]
pub fn fixed_header(b: &[u8]) -> Result<Option<Fixed>, ()> {
    let Some(&b0) = b.first() else {
        return Ok(None);
    };
    let mut rem: usize = 0;
    for i in 0..4 {
        let Some(&c) = b.get(1 + i) else {
            return Ok(None);
        };
        rem |= ((c & 0x7f) as usize) << (7 * i);
        if c & 0x80 == 0 {
            return Ok(Some(Fixed {
                ptype: b0 >> 4,
                flags: b0 & 0x0f,
                rem,
                hlen: 2 + i,
            }));
        }
    }
    Err(())
}

/// Variable-byte integer at `pos` → (value, new pos).
fn varint(b: &[u8], mut pos: usize) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for i in 0..4 {
        let c = *b.get(pos)?;
        pos += 1;
        v |= ((c & 0x7f) as usize) << (7 * i);
        if c & 0x80 == 0 {
            return Some((v, pos));
        }
    }
    None
}

fn u16_at(b: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(pos)?, *b.get(pos + 1)?]))
}

/// Length-prefixed bytes at `pos` → (bytes, new pos).
fn bin(b: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let n = u16_at(b, pos)? as usize;
    let s = b.get(pos + 2..pos + 2 + n)?;
    Some((s, pos + 2 + n))
}

fn utf8(b: &[u8], pos: usize) -> Option<(&str, usize)> {
    let (s, p) = bin(b, pos)?;
    Some((std::str::from_utf8(s).ok()?, p))
}

/// MQTT 5 property block at `pos` → (position after it, topic alias if any). Strict: an unknown
/// property id or a length that overruns makes the block invalid.
fn properties(b: &[u8], pos: usize) -> Option<(usize, Option<u16>)> {
    let (len, mut p) = varint(b, pos)?;
    let end = p.checked_add(len)?;
    if end > b.len() {
        return None;
    }
    let mut alias = None;
    while p < end {
        let id = *b.get(p)?;
        p += 1;
        p = match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => p + 1,
            0x13 | 0x21 | 0x22 => p + 2,
            0x23 => {
                alias = Some(u16_at(b, p)?);
                p + 2
            }
            0x02 | 0x11 | 0x18 | 0x27 => p + 4,
            0x0B => varint(b, p)?.1,
            0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F | 0x09 | 0x16 => bin(b, p)?.1,
            0x26 => bin(b, bin(b, p)?.1)?.1,
            _ => return None,
        };
    }
    (p == end).then_some((end, alias))
}

fn valid_topic(t: &[u8]) -> bool {
    !t.is_empty()
        && std::str::from_utf8(t).is_ok()
        && !t
            .iter()
            .any(|&c| c < 0x20 || c == 0x7f || c == b'+' || c == b'#')
}

#[derive(Debug, PartialEq, Eq)]
enum Plausible {
    Yes,
    No,
    NeedMore,
}

/// Is there a believable packet start at the beginning of `b`? `any_type` accepts every packet
/// type (start of a direction); otherwise only PUBLISH (resync after garbage or a gap).
fn plausible(b: &[u8], any_type: bool) -> Plausible {
    plausible_at(b, any_type, true)
}

fn plausible_at(b: &[u8], any_type: bool, follow: bool) -> Plausible {
    let f = match fixed_header(b) {
        Ok(Some(f)) => f,
        Ok(None) => return Plausible::NeedMore,
        Err(()) => return Plausible::No,
    };
    let flags_ok = match f.ptype {
        3 => (f.flags >> 1) & 3 != 3,
        6 | 8 | 10 => f.flags == 2,
        0 => false,
        _ => f.flags == 0,
    };
    if !flags_ok || (!any_type && f.ptype != 3) {
        return Plausible::No;
    }
    let body = b.get(f.hlen..).unwrap_or(&[]);
    let ok = match f.ptype {
        3 => {
            if f.rem < 3 {
                return Plausible::No;
            }
            let Some(tlen) = u16_at(body, 0) else {
                return Plausible::NeedMore;
            };
            let tlen = tlen as usize;
            if tlen == 0 || tlen + 2 > f.rem {
                return Plausible::No;
            }
            let Some(t) = body.get(2..2 + tlen) else {
                return Plausible::NeedMore;
            };
            valid_topic(t)
        }
        1 => {
            let Some(name) = body.get(..8) else {
                return Plausible::NeedMore;
            };
            name.starts_with(b"\x00\x04MQTT") || name.starts_with(b"\x00\x06MQIsdp")
        }
        12..=14 => f.rem == 0 || (f.ptype == 14 && f.rem < 256),
        2 | 4 | 5 | 6 | 7 | 11 => (2..=1024).contains(&f.rem),
        8 | 10 => f.rem >= 5,
        9 => f.rem >= 3,
        15 => f.rem < 65536,
        _ => false,
    };
    if !ok {
        return Plausible::No;
    }
    // If the packet is complete and more bytes follow, they must start a packet too.
    let total = f.hlen + f.rem;
    if !follow {
        return Plausible::Yes;
    }
    match b.get(total..) {
        Some(rest) if !rest.is_empty() => match plausible_at(rest, true, false) {
            Plausible::No => Plausible::No,
            _ => Plausible::Yes,
        },
        _ => Plausible::Yes,
    }
}

struct Side {
    dir: Direction,
    buf: Vec<u8>,
    /// At a packet boundary.
    synced: bool,
    /// Seen any byte (the first bytes may be any packet type; later resyncs need a PUBLISH).
    started: bool,
    /// Bytes of an oversized packet still to skip.
    skip: u64,
    /// Bytes thrown away while unsynced.
    scanned: usize,
    gave_up: bool,
    /// Bytes seen in this direction, and whether any of them made a meaningful packet; a
    /// direction of noise that keeps "syncing" on junk headers is given up after a while.
    consumed: usize,
    useful: bool,
    aliases: FxHashMap<u16, String>,
}

impl Side {
    fn new(dir: Direction) -> Self {
        Side {
            dir,
            buf: Vec::new(),
            synced: false,
            started: false,
            skip: 0,
            scanned: 0,
            gave_up: false,
            consumed: 0,
            useful: false,
            aliases: FxHashMap::default(),
        }
    }
}

/// Per-flow MQTT state.
pub struct MqttParser {
    to_server: Side,
    to_client: Side,
    /// Protocol level from CONNECT (3, 4, 5), or guessed from CONNACK.
    version: Option<u8>,
}

impl Default for MqttParser {
    fn default() -> Self {
        Self::new()
    }
}

impl MqttParser {
    /// A parser for one MQTT flow.
    pub fn new() -> Self {
        MqttParser {
            to_server: Side::new(Direction::ToServer),
            to_client: Side::new(Direction::ToClient),
            version: None,
        }
    }

    fn progress(&self) -> Progress {
        if self.to_server.gave_up && self.to_client.gave_up {
            Progress::Done
        } else {
            Progress::Continue
        }
    }
}

impl AppParser for MqttParser {
    fn feed(&mut self, dir: Direction, data: &[u8], em: &mut Emitter<'_>) -> Progress {
        let side = match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        };
        feed_side(side, &mut self.version, data, em);
        self.progress()
    }

    fn gap(&mut self, dir: Direction, len: u64, _em: &mut Emitter<'_>) -> Progress {
        let side = match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        };
        if side.skip >= len {
            side.skip -= len;
        } else {
            side.skip = 0;
            side.buf.clear();
            side.synced = false;
            side.started = true;
        }
        self.progress()
    }
}

fn feed_side(side: &mut Side, version: &mut Option<u8>, mut data: &[u8], em: &mut Emitter<'_>) {
    if side.gave_up {
        return;
    }
    side.consumed = side.consumed.saturating_add(data.len());
    if !side.useful && side.consumed > MAX_UNSYNCED {
        side.gave_up = true;
        side.buf.clear();
        return;
    }
    if side.skip > 0 {
        let n = side.skip.min(data.len() as u64) as usize;
        side.skip -= n as u64;
        data = data.get(n..).unwrap_or(&[]);
    }
    if data.is_empty() {
        return;
    }
    side.buf.extend_from_slice(data);
    loop {
        if !side.synced && !resync(side) {
            return;
        }
        let f = match fixed_header(&side.buf) {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(()) => {
                side.synced = false;
                continue;
            }
        };
        if f.ptype == 0 {
            side.synced = false;
            continue;
        }
        let total = f.hlen + f.rem;
        if total <= side.buf.len() {
            let pkt: Vec<u8> = side.buf.drain(..total).collect();
            handle(side, version, f, pkt.get(f.hlen..).unwrap_or(&[]), em);
            continue;
        }
        if total <= MAX_PACKET {
            return; // wait for the rest
        }
        // Oversized: read the topic from the prefix if it is there, skip the rest by count.
        if f.ptype == 3 {
            let body = side.buf.get(f.hlen..).unwrap_or(&[]);
            match utf8(body, 0) {
                Some((t, _)) => emit_topic(side.dir, t, em),
                None if side.buf.len() < 64 * 1024 => return,
                None => {}
            }
        }
        side.skip = (total - side.buf.len()) as u64;
        side.buf.clear();
        return;
    }
}

/// Find a packet boundary in an unsynced buffer. Returns true when synced.
fn resync(side: &mut Side) -> bool {
    let any_type = !side.started;
    side.started = true;
    let mut i = 0;
    while i < side.buf.len() {
        let rest = side.buf.get(i..).unwrap_or(&[]);
        match plausible(rest, any_type && i == 0) {
            Plausible::Yes => {
                side.buf.drain(..i);
                side.scanned += i;
                side.synced = true;
                return true;
            }
            Plausible::NeedMore => {
                side.buf.drain(..i);
                side.scanned += i;
                if side.buf.len() > 128 * 1024 {
                    // A candidate that never completes: step past it.
                    side.buf.drain(..1);
                    side.scanned += 1;
                    i = 0;
                    continue;
                }
                // Keep the start-of-stream chance for a packet whose header is still partial.
                side.started = i > 0 || !any_type;
                return false;
            }
            Plausible::No => i += 1,
        }
    }
    side.scanned += side.buf.len();
    side.buf.clear();
    if side.scanned > MAX_UNSYNCED {
        side.gave_up = true;
    }
    false
}

fn protocol_name(level: u8) -> String {
    match level {
        3 => "MQTT 3.1".into(),
        4 => "MQTT 3.1.1".into(),
        5 => "MQTT 5".into(),
        n => format!("MQTT level {n}"),
    }
}

fn emit_topic(dir: Direction, t: &str, em: &mut Emitter<'_>) {
    em.emit(
        dir,
        P,
        "topic",
        crate::decode::identity::topic(&printable(t.as_bytes())),
    );
}

fn handle(side: &mut Side, version: &mut Option<u8>, f: Fixed, b: &[u8], em: &mut Emitter<'_>) {
    let dir = side.dir;
    match f.ptype {
        1 => side.useful |= connect(b, version, dir, em).is_some(),
        2 => {
            if b.len() == 2 && b.first().is_some_and(|&c| c <= 1) || b.len() > 2 {
                side.useful = true;
            }
            // CONNACK of MQTT 5 carries properties (remaining length > 2); 3.x is exactly 2.
            if version.is_none() {
                *version = Some(if f.rem > 2 { 5 } else { 4 });
            }
        }
        3 => publish(side, *version, f, b, em),
        8 => side.useful |= subscribe(*version, b, dir, em),
        _ => {}
    }
}

fn connect(b: &[u8], version: &mut Option<u8>, dir: Direction, em: &mut Emitter<'_>) -> Option<()> {
    let (_name, p) = bin(b, 0)?;
    let level = *b.get(p)?;
    let flags = *b.get(p + 1)?;
    let mut p = p + 4; // level, flags, keep-alive
    *version = Some(level);
    em.emit(dir, P, "protocol", protocol_name(level));
    if level == 5 {
        p = properties(b, p)?.0;
    }
    let (cid, mut p) = bin(b, p)?;
    if !cid.is_empty() {
        em.emit(dir, P, "client_id", printable(cid));
    }
    if flags & 0x04 != 0 {
        if level == 5 {
            p = properties(b, p)?.0;
        }
        p = bin(b, p)?.1; // will topic
        p = bin(b, p)?.1; // will payload
    }
    if flags & 0x80 != 0 {
        bin(b, p)?;
        em.emit(dir, P, "username", "present");
    }
    Some(())
}

/// (topic, payload) of a PUBLISH body for a given protocol level.
fn split_publish(b: &[u8], qos: u8, v5: bool) -> Option<(&[u8], Option<u16>, &[u8])> {
    let (topic, mut p) = bin(b, 0)?;
    if qos > 0 {
        p += 2;
    }
    let mut alias = None;
    if v5 {
        let (np, a) = properties(b, p)?;
        p = np;
        alias = a;
    }
    Some((topic, alias, b.get(p..)?))
}

fn looks_structured(payload: &[u8]) -> bool {
    let skip = payload
        .iter()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    matches!(payload.get(skip), Some(b'{') | Some(b'[') | Some(b'<'))
}

fn publish(side: &mut Side, version: Option<u8>, f: Fixed, b: &[u8], em: &mut Emitter<'_>) {
    let qos = (f.flags >> 1) & 3;
    let parsed = match version {
        Some(5) => split_publish(b, qos, true),
        Some(_) => split_publish(b, qos, false),
        None => {
            // Unknown level (midstream): prefer the reading whose payload looks like a document.
            let v3 = split_publish(b, qos, false);
            let v5 = split_publish(b, qos, true);
            match (v3, v5) {
                (Some(a), _) if looks_structured(a.2) => Some(a),
                (_, Some(c)) if looks_structured(c.2) => Some(c),
                (a, c) => a.or(c),
            }
        }
    };
    let Some((topic, alias, payload)) = parsed else {
        return;
    };
    let topic = String::from_utf8_lossy(topic).into_owned();
    let topic = match (topic.is_empty(), alias) {
        (true, Some(a)) => side.aliases.get(&a).cloned().unwrap_or_default(),
        (false, Some(a)) => {
            if side.aliases.len() < MAX_ALIASES || side.aliases.contains_key(&a) {
                side.aliases.insert(a, topic.clone());
            }
            topic
        }
        _ => topic,
    };
    if !topic.is_empty() {
        side.useful = true;
        emit_topic(side.dir, &topic, em);
    }
    let skip = payload
        .iter()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    let t = (!topic.is_empty()).then_some(topic.as_str());
    match payload.get(skip) {
        Some(b'{') | Some(b'[') => events::decode_json(t, payload, side.dir, em),
        Some(b'<') => events::decode_body(Some("application/xml"), payload, side.dir, em),
        _ => {}
    }
}

fn subscribe(version: Option<u8>, b: &[u8], dir: Direction, em: &mut Emitter<'_>) -> bool {
    let filters = |v5: bool| -> Option<Vec<String>> {
        let mut p = 2; // packet id
        if v5 {
            p = properties(b, p)?.0;
        }
        let mut out = Vec::new();
        while p < b.len() && out.len() < MAX_FILTERS {
            let (t, np) = utf8(b, p)?;
            b.get(np)?; // options byte
            out.push(t.to_string());
            p = np + 1;
        }
        Some(out)
    };
    let list = match version {
        Some(5) => filters(true),
        Some(_) => filters(false),
        None => filters(false).or_else(|| filters(true)),
    };
    let list = list.unwrap_or_default();
    for t in &list {
        em.emit(
            dir,
            P,
            "subscribe",
            crate::decode::identity::topic(&printable(t.as_bytes())),
        );
    }
    !list.is_empty()
}

#[cfg(test)]
mod tests;
