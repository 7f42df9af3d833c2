//! The spot check (`banwatch scan`) and the decoder view (`banwatch inspect`): wires sources →
//! decode → detect → judge for files on disk. Every input — a file given on the command line, a
//! file in a directory, a member of an archive or firmware image — is recognised by content
//! through one sniff table ([`crate::sources::offline::TRAFFIC`]): captures and sensor logs go
//! through the decoders and signatures, everything else through the model parsers and
//! fingerprints. One bad input never ends the scan, and an input read only in part is reported
//! as such (never as "nothing banned").

use crate::decode::models::sniff::sniff_and_parse;
use crate::detect::fingerprint::{classify_model_with, FingerprintOptions};
use crate::detect::pipeline::{self, ByAddress};
use crate::detect::signatures::SignatureSet;
use crate::judge::policy::Policy;
use crate::judge::{Judge, JudgeConfig};
use crate::model::{Artifact, DeviceId, Observation, Technique};
use crate::sinks::report::{InputSummary, ScanReport};
use crate::sources::offline::files::{self, Carve, FoundFile, Limits, MappedFile};
use crate::sources::offline::{self, TrafficSummary};
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why an input or argument cannot be used. Names the input.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The input cannot be used at all.
    #[error("{path}: {message}")]
    Unusable {
        /// The input as given.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// What a scan needs besides its inputs.
pub struct ScanOptions {
    /// Which techniques are banned where.
    pub policy: Policy,
    /// Traffic signatures.
    pub signatures: SignatureSet,
    /// Model classifier options (catalog, probe).
    pub fingerprint: FingerprintOptions,
    /// The judge's thresholds.
    pub judge: JudgeConfig,
    /// Show a progress line on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// Threads reading the inputs: up to this many inputs at once, and a capture's flows
    /// decoded on this many divided among them, at least two (see
    /// [`offline::ReadOptions::workers`]); 1 reads everything on one thread.
    pub workers: usize,
}

/// Redraws one status line on stderr, at most five times a second.
pub struct Progress {
    enabled: bool,
    last: Instant,
    drawn: bool,
}

impl Progress {
    /// A progress line, drawn only when `enabled` and stderr is a terminal.
    pub fn new(enabled: bool) -> Progress {
        Progress {
            enabled: enabled && std::io::stderr().is_terminal(),
            last: Instant::now(),
            drawn: false,
        }
    }

    /// Redraw with `line()` if enough time has passed. The line is made safe for a terminal.
    pub fn tick(&mut self, line: impl FnOnce() -> String) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        self.drawn = true;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2K{}",
            crate::sinks::text::terminal_safe(&line())
        );
        let _ = err.flush();
    }

    /// Erase the line.
    pub fn clear(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            self.drawn = false;
        }
    }
}

/// What one input of a scan gave, while it is being read.
#[derive(Default)]
struct Tally {
    records: u64,
    errors: u64,
    /// Why the input was read only in part.
    incomplete: Vec<String>,
    kinds: Vec<&'static str>,
}

impl Tally {
    fn traffic(&mut self, name: &str, s: &TrafficSummary) {
        self.records += s.records;
        self.errors += s.errors;
        if !self.kinds.contains(&s.kind) {
            self.kinds.push(s.kind);
        }
        if s.skipped_bytes > 0 {
            let read = s.total_bytes.saturating_sub(s.skipped_bytes);
            let pct = (read as f64 * 100.0 / s.total_bytes.max(1) as f64).floor();
            let why = s.first_error.as_deref().unwrap_or("unreadable records");
            let prefix = format!("{name}: ");
            let why = why.strip_prefix(prefix.as_str()).unwrap_or(why);
            self.incomplete.push(format!(
                "{name}: read only {pct}% ({read} of {} bytes): {why}",
                s.total_bytes
            ));
        }
    }
}

/// Run a spot check over `paths`. Several inputs are read at once, up to
/// [`ScanOptions::workers`] of them and [`MAX_AT_ONCE`] (a capture among them decoded on its
/// share of the workers, at least two), each into a judge of its own; the judges are absorbed
/// in input order, so that the report is the one a single thread reading the inputs one after
/// another gives.
pub fn run(paths: &[PathBuf], opts: &ScanOptions) -> ScanReport {
    let threads = opts.workers.max(1);
    let at_once = threads.min(paths.len()).clamp(1, MAX_AT_ONCE);
    let each = Each {
        opts,
        // At least two decode workers a capture even when inputs share the threads: a
        // capture that takes longer than the rest then still gets the cores they leave (a
        // strict share left one core idle; measured 1.6x slower on two unequal captures).
        workers: (threads / at_once).max(2).min(threads),
        progress: std::sync::Mutex::new(Progress::new(opts.progress)),
    };
    let mut judge = Judge::new(opts.judge);
    let mut inputs = Vec::new();
    let mut artifacts = Vec::new();
    for (summary, found, arts) in read_all(paths, at_once, &each) {
        if let Some(e) = &summary.error {
            tracing::error!("{e}");
        }
        judge.absorb(found);
        artifacts.extend(arts);
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
        audits: Vec::new(),
    }
}

/// Most inputs read at once, whatever the cores: an archive entry is expanded in memory (up to
/// [`Limits::max_file`], 1 GiB), so this bounds what a scan of many large images can hold
/// together on a machine of many cores.
pub const MAX_AT_ONCE: usize = 4;

/// Why an input or a file in it was not read when banwatch itself failed on it (a panic).
const FAILED_ON_IT: &str = "not read: banwatch failed on it (a bug; please report it)";

/// What every input of one scan is read with.
struct Each<'a> {
    opts: &'a ScanOptions,
    /// Decode workers for a capture.
    workers: usize,
    /// The one status line, shared by the inputs being read.
    progress: std::sync::Mutex<Progress>,
}

/// What one input gave: its summary, a judge holding its evidence alone, its artifacts.
type Read = (InputSummary, Judge, Vec<Artifact>);

/// Read `paths` on `at_once` threads, each taking the next input not yet taken; the results
/// in input order. An input whose reading fails in a way not caught nearer the decoders (a
/// bug) is reported as not read; the others go on.
fn read_all(paths: &[PathBuf], at_once: usize, each: &Each<'_>) -> Vec<Read> {
    let one = |path: &PathBuf| -> Read {
        let mut judge = Judge::new(each.opts.judge);
        let mut artifacts = Vec::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scan_input(path, each, &mut judge, &mut artifacts)
        }));
        if let Ok(mut p) = each.progress.lock() {
            p.clear();
        }
        match caught {
            Ok(summary) => (summary, judge, artifacts),
            Err(_) => (
                unusable(&path.display().to_string(), FAILED_ON_IT.into()),
                Judge::new(each.opts.judge),
                Vec::new(),
            ),
        }
    };
    if at_once <= 1 {
        return paths.iter().map(one).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<Option<Read>>> =
        std::sync::Mutex::new(paths.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for t in 0..at_once {
            let (next, done, one) = (&next, &done, &one);
            let spawned = std::thread::Builder::new()
                .name(format!("input-{t}"))
                .spawn_scoped(s, move || loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let r = one(path);
                    if let Ok(mut d) = done.lock() {
                        d[i] = Some(r);
                    }
                });
            if let Err(e) = spawned {
                // No thread: the inputs left are read by the others (or below).
                tracing::warn!("cannot start an input thread: {e}");
            }
        }
    });
    let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    // Inputs no thread reached (none could be started) are read here, in order.
    done.into_iter()
        .zip(paths)
        .map(|(r, path)| r.unwrap_or_else(|| one(path)))
        .collect()
}

fn unusable(path: &str, message: String) -> InputSummary {
    InputSummary {
        path: path.to_string(),
        kind: "unusable".into(),
        packets: 0,
        errors: 1,
        files: None,
        incomplete: None,
        error: Some(format!("{path}: {message}")),
    }
}

/// Scan one input (file or directory): traffic, models, archives, all by content.
fn scan_input(
    path: &Path,
    each: &Each<'_>,
    judge: &mut Judge,
    artifacts: &mut Vec<Artifact>,
) -> InputSummary {
    let (opts, workers) = (each.opts, each.workers);
    let tick = |line: &dyn Fn() -> String| {
        if let Ok(mut p) = each.progress.lock() {
            p.tick(line);
        }
    };
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        Err(e) => return unusable(&shown, files::io_reason(&e)),
        Ok(m) if m.is_file() && m.len() == 0 => return unusable(&shown, "empty file".into()),
        Ok(_) => {}
    }
    let device = DeviceId(shown.clone());
    let before = artifacts.len();
    let mut tally = Tally::default();
    let mut found = 0u64;
    let mut model_errors = 0u64;
    let mut examine = |f: FoundFile<'_>| -> Carve {
        found += 1;
        if let Some(format) = offline::traffic_format(f.bytes) {
            let name = f.path.clone();
            let mut each = |obs: &[Observation]| {
                let mut touched = Vec::new();
                for o in obs {
                    pipeline::observe(
                        &opts.signatures,
                        judge,
                        o,
                        if format.name == "capture" {
                            "pcap"
                        } else {
                            format.name
                        },
                        &mut ByAddress,
                        &mut touched,
                    );
                }
            };
            let mut at = |pos: u64, total: u64| {
                tick(&|| {
                    let pct = (pos * 100).checked_div(total).unwrap_or(0);
                    format!(
                        "{name}: {pct}% ({} of {} MB)",
                        pos / 1_000_000,
                        total / 1_000_000
                    )
                })
            };
            // Captures are decoded for what the signatures read.
            // Only what some signature matches reaches the judge.
            let sigs = &opts.signatures;
            let matched = |o: &Observation| !sigs.match_observation(o).is_empty();
            let read = offline::ReadOptions {
                demand: sigs.demand(),
                workers,
                pages: f.mapped.clone(),
                keep: Some(&matched),
            };
            let s = (format.read)(f.bytes, &name, &read, &mut each, &mut at);
            tally.traffic(&name, &s);
            return Carve::No;
        }
        tick(&|| format!("{shown}: {found} files examined"));
        match examine_model(&f, &device, opts, judge) {
            ModelOutcome::Artifact(a) => {
                artifacts.push(*a);
                Carve::No
            }
            ModelOutcome::Broken(why) => {
                // A model that cannot be read cannot be said to be harmless.
                model_errors += 1;
                tally
                    .incomplete
                    .push(format!("{}: model not read: {why}", f.path));
                Carve::Yes
            }
            ModelOutcome::NotAModel => Carve::Yes,
        }
    };
    // A decoder bug (a panic) costs the file it met, reported as not read, never the scan.
    let mut bugs: Vec<String> = Vec::new();
    let mut visit = |f: FoundFile<'_>| -> Carve {
        let path = f.path.clone();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| examine(f))) {
            Ok(carve) => carve,
            Err(_) => {
                bugs.push(format!("{path}: {FAILED_ON_IT}"));
                Carve::No
            }
        }
    };
    let stats = match files::walk(path, &Limits::default(), &mut visit) {
        Ok(s) => s,
        Err(e) => return unusable(&shown, e.to_string()),
    };
    tally.incomplete.append(&mut bugs);
    if stats.incomplete {
        let first = stats
            .first_error
            .clone()
            .unwrap_or_else(|| format!("{shown}: a budget was spent"));
        tally.incomplete.push(match stats.errors {
            0 | 1 => first,
            n => format!("{first} (and {} more problems)", n - 1),
        });
    }
    let recognised = artifacts.len() > before || !tally.kinds.is_empty() || model_errors > 0;
    if stats.kind == "file" && !recognised {
        return unusable(
            &shown,
            "not a capture, log, model, archive or firmware image".into(),
        );
    }
    let kind = match (stats.kind, tally.kinds.as_slice()) {
        ("file", [k]) => (*k).to_string(),
        ("file", _) => "model".to_string(),
        (k, _) => k.to_string(),
    };
    InputSummary {
        path: shown,
        kind,
        packets: tally.records,
        errors: stats.errors + model_errors + tally.errors,
        files: (stats.kind != "file").then_some(stats.files),
        incomplete: (!tally.incomplete.is_empty()).then(|| tally.incomplete.join("; ")),
        error: None,
    }
}

enum ModelOutcome {
    Artifact(Box<Artifact>),
    /// Sniffed as a model, refused by its parser: why.
    Broken(String),
    NotAModel,
}

/// Parse and classify a file as a model; its finding goes to the judge.
fn examine_model(
    f: &FoundFile<'_>,
    device: &DeviceId,
    opts: &ScanOptions,
    judge: &mut Judge,
) -> ModelOutcome {
    let name = f
        .path
        .rsplit(['/', '!'])
        .next()
        .unwrap_or(&f.path)
        .to_string();
    let Some(parsed) = sniff_and_parse(&name, f.bytes, f.sibling) else {
        return ModelOutcome::NotAModel;
    };
    let info = match parsed {
        Ok(info) => info,
        // A carved region that does not parse was a false signature match, not an error.
        Err(e) if f.path.contains("!/@") => {
            tracing::debug!("{}: {e}", f.path);
            return ModelOutcome::NotAModel;
        }
        Err(e) => {
            tracing::warn!("{}: {e}", f.path);
            return ModelOutcome::Broken(e.to_string());
        }
    };
    let sha = hex::encode(Sha256::digest(f.bytes));
    let c = classify_model_with(&info, f.bytes, f.sibling, &sha, &name, &opts.fingerprint);
    let format = info
        .format
        .map(|x| x.as_str().to_string())
        .unwrap_or_else(|| "unknown".into());
    let size = f.bytes.len() as u64;
    if c.technique != Technique::None {
        judge.add(pipeline::model_finding(
            device.clone(),
            &f.path,
            &format,
            &sha,
            size,
            &c,
        ));
    }
    ModelOutcome::Artifact(Box::new(Artifact {
        path: f.path.clone(),
        format,
        sha256: sha,
        size,
        technique: c.technique,
        confidence: c.confidence,
        family: c.family,
        reasons: c.reasons,
    }))
}

/// Print every observation the decoders extract from a capture or log as JSON lines
/// (`banwatch inspect`).
pub fn inspect(path: &Path, out: &mut dyn Write) -> Result<InputSummary, ScanError> {
    let shown = path.display().to_string();
    let unusable = |message: String| ScanError::Unusable {
        path: shown.clone(),
        message,
    };
    if std::fs::metadata(path)
        .map_err(|e| unusable(files::io_reason(&e)))?
        .is_dir()
    {
        return Err(unusable(
            "inspect reads one capture or log (pcap, pcapng, EVE, Zeek), not a directory".into(),
        ));
    }
    let map =
        std::sync::Arc::new(MappedFile::open(path).map_err(|e| unusable(files::io_reason(&e)))?);
    let Some(format) = offline::traffic_format(map.bytes()) else {
        return Err(unusable(
            "inspect reads captures and logs (pcap, pcapng, EVE, Zeek)".into(),
        ));
    };
    let mut write_err = None;
    let mut each = |obs: &[Observation]| {
        for o in obs {
            if write_err.is_some() {
                return;
            }
            let line = crate::model::ObservationLine::from(o);
            if let Err(e) = serde_json::to_writer(&mut *out, &line)
                .and_then(|_| out.write_all(b"\n").map_err(serde_json::Error::io))
            {
                write_err = Some(e);
            }
        }
    };
    // Everything is built: inspect shows every observation.
    let everything = offline::ReadOptions {
        pages: Some(map.clone()),
        ..offline::ReadOptions::all_cores(Default::default())
    };
    let s = (format.read)(map.bytes(), &shown, &everything, &mut each, &mut |_, _| {});
    if let Some(e) = write_err {
        // A closed pipe (e.g. `| head`) is not an input error.
        tracing::debug!("inspect output stopped: {e}");
    }
    let mut tally = Tally::default();
    tally.traffic(&shown, &s);
    Ok(InputSummary {
        path: shown,
        kind: s.kind.into(),
        packets: s.records,
        errors: s.errors,
        files: None,
        incomplete: (!tally.incomplete.is_empty()).then(|| tally.incomplete.join("; ")),
        error: None,
    })
}
