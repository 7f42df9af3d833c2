//! The spot check (`banwatch scan`) and the decoder view (`banwatch inspect`): wires taps →
//! decode → detect → judge for files on disk. Each input is sniffed by content (not extension):
//! captures go through the packet decoders and signatures, everything else through the file
//! walker, model parsers and fingerprints. One bad input never ends the scan.

use crate::decode::flow::{DecodeStats, Decoder, DecoderConfig};
use crate::decode::models::sniff::sniff_and_parse;
use crate::detect::fingerprint::{classify_model, FingerprintOptions};
use crate::detect::signatures::SignatureSet;
use crate::judge::policy::Policy;
use crate::judge::{Judge, JudgeConfig};
use crate::model::{Artifact, DeviceId, Observation, Strength, Technique};
use crate::sinks::report::{InputSummary, ScanReport};
use crate::taps::files::{self, FoundFile, Limits};
use crate::taps::pcap::PcapReader;
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: {message}")]
    Unusable { path: String, message: String },
}

/// What a scan needs besides its inputs.
pub struct ScanOptions {
    pub policy: Policy,
    pub signatures: SignatureSet,
    pub fingerprint: FingerprintOptions,
    pub judge: JudgeConfig,
    /// Show a progress line on stderr (only when stderr is a terminal).
    pub progress: bool,
}

/// The kind of an input, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Pcap,
    Pcapng,
    /// Suricata EVE JSON lines.
    Eve,
    /// Zeek JSON logs (dns, ssl, http, conn).
    Zeek,
    Directory,
    /// Anything else: model files, archives, firmware images, raw blobs.
    Files,
}

/// Sniff an input's kind. Errors name the path and what is wrong.
pub fn input_kind(path: &Path) -> Result<InputKind, ScanError> {
    let unusable = |message: String| ScanError::Unusable {
        path: path.display().to_string(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| unusable(io_reason(&e)))?;
    if meta.is_dir() {
        return Ok(InputKind::Directory);
    }
    if meta.len() == 0 {
        return Err(unusable("empty file".into()));
    }
    let mut first = [0u8; 4096];
    let mut f = std::fs::File::open(path).map_err(|e| unusable(io_reason(&e)))?;
    let n = f.read(&mut first).map_err(|e| unusable(io_reason(&e)))?;
    if first[..n].first() == Some(&b'{') {
        // JSON lines: EVE records carry event_type; Zeek's carry uid and id.orig_h.
        let line = first[..n].split(|b| *b == b'\n').next().unwrap_or(&[]);
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice::<serde_json::Value>(line)
        {
            if m.contains_key("event_type") {
                return Ok(InputKind::Eve);
            }
            if m.contains_key("id.orig_h") || m.contains_key("uid") {
                return Ok(InputKind::Zeek);
            }
        }
    }
    let head = if n >= 4 {
        [first[0], first[1], first[2], first[3]]
    } else {
        [0; 4]
    };
    Ok(match (n.min(4), head) {
        (4, [0xd4, 0xc3, 0xb2, 0xa1])
        | (4, [0xa1, 0xb2, 0xc3, 0xd4])
        | (4, [0x4d, 0x3c, 0xb2, 0xa1])
        | (4, [0xa1, 0xb2, 0x3c, 0x4d]) => InputKind::Pcap,
        (4, [0x0a, 0x0d, 0x0d, 0x0a]) => InputKind::Pcapng,
        _ => InputKind::Files,
    })
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Redraws one status line on stderr, at most five times a second.
pub struct Progress {
    enabled: bool,
    last: Instant,
    drawn: bool,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        Progress {
            enabled: enabled && std::io::stderr().is_terminal(),
            last: Instant::now(),
            drawn: false,
        }
    }

    pub fn tick(&mut self, line: impl FnOnce() -> String) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        self.drawn = true;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{}", line());
        let _ = err.flush();
    }

    pub fn clear(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            self.drawn = false;
        }
    }
}

/// Run a spot check over `paths`.
pub fn run(paths: &[PathBuf], opts: &ScanOptions) -> ScanReport {
    let mut judge = Judge::new(opts.judge);
    let mut inputs = Vec::new();
    let mut artifacts = Vec::new();
    let mut progress = Progress::new(opts.progress);
    for path in paths {
        let shown = path.display().to_string();
        let summary = match input_kind(path) {
            Err(e) => {
                tracing::error!("{e}");
                unusable(&shown, e)
            }
            Ok(InputKind::Pcap | InputKind::Pcapng) => {
                match scan_capture(
                    path,
                    &opts.signatures,
                    &mut judge,
                    &mut progress,
                    &mut |_| {},
                ) {
                    Ok(s) => s,
                    Err(e) => unusable(&shown, e),
                }
            }
            Ok(kind @ (InputKind::Eve | InputKind::Zeek)) => {
                match scan_log(path, kind, &opts.signatures, &mut judge) {
                    Ok(s) => s,
                    Err(e) => unusable(&shown, e),
                }
            }
            Ok(kind @ (InputKind::Directory | InputKind::Files)) => {
                scan_files(path, kind, opts, &mut judge, &mut artifacts, &mut progress)
            }
        };
        progress.clear();
        inputs.push(summary);
    }
    let devices = judge.verdicts();
    let violations = judge.violations(&devices, &opts.policy);
    ScanReport {
        version: crate::VERSION.to_string(),
        inputs,
        devices,
        artifacts,
        violations,
    }
}

fn unusable(path: &str, e: ScanError) -> InputSummary {
    InputSummary {
        path: path.to_string(),
        kind: "unusable".into(),
        packets: 0,
        errors: 1,
        files: None,
        error: Some(e.to_string()),
    }
}

/// Decode a capture, match signatures and hand evidence to the judge. `each` sees every
/// observation (used by `inspect`).
pub fn scan_capture(
    path: &Path,
    signatures: &SignatureSet,
    judge: &mut Judge,
    progress: &mut Progress,
    each: &mut dyn FnMut(&Observation),
) -> Result<InputSummary, ScanError> {
    let shown = path.display().to_string();
    let mut reader = PcapReader::open(path).map_err(|e| ScanError::Unusable {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let kind = if reader.is_pcapng() { "pcapng" } else { "pcap" };
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut obs: Vec<Observation> = Vec::new();
    let mut read_errors = 0u64;
    let mut handle = |obs: &mut Vec<Observation>, judge: &mut Judge| {
        for o in obs.drain(..) {
            each(&o);
            for sig in signatures.match_observation(&o) {
                let Some(ip) = sig.device_of(&o) else {
                    continue;
                };
                let device = DeviceId(ip.to_string());
                judge.signature_hit(device.clone(), sig, &o, "pcap");
                if let Some(mac) = mac_of(&o, ip) {
                    judge.set_mac(&device, mac);
                }
            }
        }
    };
    loop {
        match reader.next_packet() {
            None => break,
            Some(Ok(pkt)) => {
                decoder.packet(pkt.ts, pkt.linktype, pkt.data, &mut obs);
            }
            Some(Err(e)) => {
                read_errors += 1;
                tracing::warn!("{e}");
                if reader.is_done() {
                    break;
                }
            }
        }
        if !obs.is_empty() {
            handle(&mut obs, judge);
        }
        progress.tick(|| {
            let pos = reader.position();
            let pct = (pos * 100).checked_div(total).unwrap_or(0);
            format!(
                "{shown}: {pct}% ({} of {} MB, {} packets)",
                pos / 1_000_000,
                total / 1_000_000,
                reader.packets()
            )
        });
    }
    decoder.finish(&mut obs);
    handle(&mut obs, judge);
    let stats: &DecodeStats = decoder.stats();
    Ok(InputSummary {
        path: shown,
        kind: kind.into(),
        packets: reader.packets(),
        errors: read_errors + stats.errors(),
        files: None,
        error: None,
    })
}

/// Suricata EVE or Zeek JSON logs, one record a line, through the same signatures as captures.
/// A broken line is counted and skipped.
fn scan_log(
    path: &Path,
    kind: InputKind,
    signatures: &SignatureSet,
    judge: &mut Judge,
) -> Result<InputSummary, ScanError> {
    use std::io::BufRead;
    let shown = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| ScanError::Unusable {
        path: shown.clone(),
        message: io_reason(&e),
    })?;
    let (tap, name) = match kind {
        InputKind::Eve => ("eve", "eve"),
        _ => ("zeek", "zeek"),
    };
    let mut records = 0u64;
    let mut errors = 0u64;
    let mut line = Vec::new();
    let mut r = std::io::BufReader::new(f);
    loop {
        line.clear();
        match r.by_ref().take(1 << 20).read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                tracing::warn!("{shown}: {e}");
                break;
            }
        }
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        records += 1;
        let decoded = match kind {
            InputKind::Eve => crate::taps::eve::decode_line(&line),
            _ => crate::taps::zeek::decode_line(&line),
        };
        match decoded {
            Ok(obs) => {
                for o in &obs {
                    for sig in signatures.match_observation(o) {
                        if let Some(ip) = sig.device_of(o) {
                            judge.signature_hit(DeviceId(ip.to_string()), sig, o, tap);
                        }
                    }
                }
            }
            Err(e) => {
                errors += 1;
                tracing::debug!("{shown}: record {records}: {e}");
            }
        }
    }
    Ok(InputSummary {
        path: shown,
        kind: name.into(),
        packets: records,
        errors,
        files: None,
        error: None,
    })
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

fn scan_files(
    path: &Path,
    kind: InputKind,
    opts: &ScanOptions,
    judge: &mut Judge,
    artifacts: &mut Vec<Artifact>,
    progress: &mut Progress,
) -> InputSummary {
    let shown = path.display().to_string();
    let device = DeviceId(shown.clone());
    let before = artifacts.len();
    let mut found = 0u64;
    let mut model_errors = 0u64;
    let mut visit = |f: FoundFile<'_>| {
        found += 1;
        progress.tick(|| format!("{shown}: {found} files examined"));
        let name = f
            .path
            .rsplit(['/', '!'])
            .next()
            .unwrap_or(&f.path)
            .to_string();
        let Some(parsed) = sniff_and_parse(&name, f.bytes, f.sibling) else {
            return;
        };
        let sha = hex::encode(Sha256::digest(f.bytes));
        match parsed {
            Ok(info) => {
                let c = classify_model(&info, f.bytes, &sha, &name, &opts.fingerprint);
                let artifact = Artifact {
                    path: f.path.clone(),
                    format: info
                        .format
                        .map(|x| x.as_str().to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    sha256: sha.clone(),
                    size: f.bytes.len() as u64,
                    technique: c.technique,
                    confidence: c.confidence,
                    family: c.family.clone(),
                    reasons: c.reasons.clone(),
                };
                if c.technique != Technique::None && c.confidence >= 0.3 {
                    let strength = if c.confidence >= 0.8 {
                        Strength::Strong
                    } else {
                        Strength::Weak
                    };
                    let sig = format!(
                        "model.{}.{}",
                        c.family.as_deref().unwrap_or(artifact.format.as_str()),
                        &sha[..12.min(sha.len())]
                    );
                    judge.add(
                        device.clone(),
                        &sig,
                        "model",
                        c.technique,
                        strength,
                        c.confidence,
                        format!("file:{}", artifact.path),
                        &format!(
                            "sha256 {} ({} bytes)",
                            &sha[..16.min(sha.len())],
                            artifact.size
                        ),
                        0.0,
                    );
                }
                artifacts.push(artifact);
            }
            // A carved region that does not parse was a false signature match, not an error.
            Err(e) if f.path.contains("!/@") => tracing::debug!("{}: {e}", f.path),
            Err(e) => {
                model_errors += 1;
                tracing::warn!("{}: {e}", f.path);
            }
        }
    };
    match files::walk(path, &Limits::default(), &mut visit) {
        Ok(stats) if stats.kind == "file" && artifacts.len() == before && model_errors == 0 => {
            unusable(
                &shown,
                ScanError::Unusable {
                    path: shown.clone(),
                    message: "not a capture, model, archive or firmware image".into(),
                },
            )
        }
        Ok(stats) => InputSummary {
            path: shown,
            kind: match (kind, stats.kind) {
                (InputKind::Directory, _) => "directory".into(),
                (_, "file") => "model".into(),
                (_, k) => k.to_string(),
            },
            packets: 0,
            errors: stats.errors + model_errors,
            files: Some(stats.files),
            error: None,
        },
        Err(e) => unusable(
            &shown,
            ScanError::Unusable {
                path: shown.clone(),
                message: e.to_string(),
            },
        ),
    }
}

/// Print every observation the decoders extract from `path` as JSON lines (`banwatch inspect`).
pub fn inspect(path: &Path, out: &mut dyn Write) -> Result<InputSummary, ScanError> {
    let kind = input_kind(path)?;
    if !matches!(kind, InputKind::Pcap | InputKind::Pcapng) {
        return Err(ScanError::Unusable {
            path: path.display().to_string(),
            message: "inspect reads packet captures (pcap, pcapng)".into(),
        });
    }
    let empty =
        SignatureSet::from_sources(std::iter::empty()).map_err(|e| ScanError::Unusable {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    let mut judge = Judge::default();
    let mut progress = Progress::new(false);
    let mut write_err = None;
    let summary = scan_capture(path, &empty, &mut judge, &mut progress, &mut |o| {
        if write_err.is_some() {
            return;
        }
        let line = crate::model::ObservationLine::from(o);
        if let Err(e) = serde_json::to_writer(&mut *out, &line)
            .and_then(|_| out.write_all(b"\n").map_err(serde_json::Error::io))
        {
            write_err = Some(e);
        }
    })?;
    if let Some(e) = write_err {
        // A closed pipe (e.g. `| head`) is not an input error.
        tracing::debug!("inspect output stopped: {e}");
    }
    Ok(summary)
}
