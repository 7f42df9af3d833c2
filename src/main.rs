//! The `banwatch` command: parses arguments and calls the library. Nothing else lives here.

use banwatch::detect::fingerprint::FingerprintOptions;
use banwatch::detect::signatures::SignatureSet;
use banwatch::judge::policy::Policy;
use banwatch::judge::JudgeConfig;
use banwatch::scan::{self, ScanOptions};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: the decode workers allocate observations that the merging thread frees, which
/// glibc's per-thread arenas make costly; mimalloc frees across threads without a lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "banwatch",
    version,
    about = "Finds face and gait recognition where a city has banned it"
)]
struct Cli {
    /// Log filter (error, warn, info, debug, trace, or a tracing directive); also RUST_LOG.
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    /// One self-contained HTML page.
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Html,
    Json,
    Csv,
    /// Through headless Chromium's print-to-PDF; needs --out.
    Pdf,
}

#[derive(Subcommand)]
enum Command {
    /// Spot check: captures (pcap, pcapng), sensor logs (EVE, Zeek), model files, directories,
    /// archives, firmware images. Exit code 0: nothing banned found; 1: at least one violation;
    /// 2: an input unusable, or read only in part with no violation found, or bad arguments.
    Scan {
        #[cfg_attr(feature = "live", arg(required_unless_present = "interface"))]
        #[cfg_attr(not(feature = "live"), arg(required = true))]
        paths: Vec<PathBuf>,
        /// Capture on this interface (needs CAP_NET_RAW) for --duration, then scan what was
        /// captured with the inputs.
        #[cfg(feature = "live")]
        #[arg(long)]
        interface: Option<String>,
        /// How long to capture: 90s, 10m, 1h.
        #[cfg(feature = "live")]
        #[arg(long, default_value = "60s", requires = "interface")]
        duration: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Policy file (TOML); default: the shipped ban (models/policy.toml).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Directory of signature files; default: the shipped models/signatures.
        #[arg(long)]
        signatures: Option<PathBuf>,
        /// Ignore the catalog of known models: classify by structure alone.
        #[arg(long)]
        no_catalog: bool,
        /// Run models in ONNX Runtime on synthetic inputs (auto: when the library is found,
        /// ORT_DYLIB_PATH or .deps/onnxruntime).
        #[arg(long, value_enum, default_value = "auto")]
        probe: ProbeMode,
        /// Threads reading the inputs (0: one per core): several inputs at once, a capture's
        /// flows on several workers. The report is the same for any number.
        #[arg(long, default_value_t = 0)]
        workers: usize,
    },
    /// Print the observations the decoders extract from a capture or log, one JSON object per
    /// line.
    Inspect { path: PathBuf },
    /// Ask devices what they are configured to do: read-only, authenticated checks
    /// (models/checks) against cameras, NVRs and VMS. Targets are URLs (the account from
    /// BANWATCH_AUDIT_USERNAME and BANWATCH_AUDIT_PASSWORD) or the devices of an inventory with
    /// an `audit` table. Same report and exit codes as scan.
    #[cfg(feature = "live")]
    Audit {
        /// Device URLs: http(s)://host[:port][/prefix]; a bare host means http.
        #[arg(required_unless_present = "inventory")]
        targets: Vec<String>,
        /// Inventory (the serve configuration): its devices with an `audit` table.
        #[arg(long)]
        inventory: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// The product of the URL targets (a models/checks product id); default: identify it.
        #[arg(long)]
        product: Option<String>,
        /// Trust only the certificate with this SHA-256 (hex) for the URL targets.
        #[arg(long)]
        pin_sha256: Option<String>,
        /// Accept any certificate (the report records it).
        #[arg(long)]
        insecure: bool,
        /// Answer a Basic-only device over plain HTTP (the password crosses the network
        /// readable).
        #[arg(long)]
        allow_basic: bool,
        /// Devices audited at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Longest wait for one answer, seconds.
        #[arg(long, default_value_t = 20)]
        timeout: u64,
        /// Directory of check files; default: the shipped models/checks.
        #[arg(long)]
        checks: Option<PathBuf>,
        /// Policy file (TOML); default: the shipped ban.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// The long-running service: taps feeds, keeps verdicts, raises and resolves alerts, serves
    /// /metrics, /healthz and /api/v1. With no --config it runs the demo network on loopback.
    #[cfg(feature = "live")]
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address (overrides the configuration's `listen`).
        #[arg(long)]
        listen: Option<String>,
        /// Where the alert store lives (overrides `state_dir`).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Also run the demo network on loopback (implied when there is no --config).
        #[arg(long)]
        demo: bool,
    },
    /// The contractor audit from the alert store: every ban-violation finding at the
    /// contractor's sites over the period (technique, role, status, first seen, resolved, days
    /// open, evidence, acknowledgements), data sharing apart, totals and a compliance timeline.
    #[cfg(feature = "live")]
    Report {
        /// The contractor, as the inventory's sites name it.
        #[arg(long)]
        contractor: String,
        /// Only this site.
        #[arg(long)]
        site: Option<String>,
        /// Length of the period in days (the city audits contractors every 90 days).
        #[arg(long, default_value_t = 90)]
        days: u32,
        #[arg(long, value_enum, default_value = "html")]
        format: ReportFormat,
        /// Write here instead of stdout (required for pdf).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The serve configuration: its inventory (devices that never had a finding count too)
        /// and its store (state_dir, or a cluster's PostgreSQL).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the alert store is (overrides the configuration's state_dir).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// End of the period, RFC 3339 (default: now).
        #[arg(long)]
        until: Option<String>,
    },
    /// Internal: probe one model read from stdin (scan runs this in a child process).
    #[cfg(feature = "probe")]
    #[command(hide = true)]
    ProbeWorker,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ProbeMode {
    Auto,
    On,
    Off,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut filter = std::env::var("RUST_LOG").unwrap_or_else(|_| cli.log.clone());
    if !filter.contains("refinery") {
        // The store's schema migrations say what they apply at info; banwatch says it once.
        filter.push_str(",refinery_core=warn");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal; log files and journals get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!(
                "banwatch: {}",
                banwatch::sinks::text::terminal_safe(&cause_chain(&e))
            );
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, `a: b: c`, leaving out a cause whose text the message before it
/// already ends with (library errors that put their source in their own message).
fn cause_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// `scan --interface`: capture for the duration into a temporary capture file, with a
/// progress line on a terminal. Returns the directory (removed when dropped) and the file.
#[cfg(feature = "live")]
fn capture_for(interface: &str, duration: &str) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    use banwatch::sources::live::capture::record;
    let d = record::parse_duration(duration).map_err(anyhow::Error::msg)?;
    let dir = tempfile::tempdir()?;
    let safe: String = interface
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let file = dir.path().join(format!("interface-{safe}.pcap"));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last = 0u64;
    let n = record::record(interface, d, &file, &mut |t, n| {
        if terminal && t.as_secs() != last {
            last = t.as_secs();
            eprint!(
                "\rcapturing on {interface}: {} of {} s, {n} packets   ",
                last,
                d.as_secs()
            );
        }
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if terminal {
        eprintln!();
    }
    tracing::info!(interface, packets = n, "capture done");
    // Nothing seen is not "nothing banned": a wrong interface or a dead mirror port must not
    // read as a clean site.
    if n == 0 {
        anyhow::bail!(
            "interface {interface}: no packets in {} s; is it the camera network's interface \
             (a mirror/SPAN port carrying its traffic)?",
            d.as_secs()
        );
    }
    Ok((dir, file))
}

/// Print a report of `scan` or `audit` (problems with inputs on stderr, the report on stdout)
/// and return its exit code.
fn print_report(report: &banwatch::sinks::report::ScanReport, format: Format) -> u8 {
    for i in &report.inputs {
        for e in i.error.iter().chain(&i.incomplete) {
            eprintln!("banwatch: {}", banwatch::sinks::text::terminal_safe(e));
        }
    }
    let text = match format {
        Format::Json => report.to_json() + "\n",
        Format::Text => banwatch::sinks::text::render(report),
        Format::Html => banwatch::sinks::html::scan(report),
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe is not an error of the command.
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    report.exit_code() as u8
}

/// The fingerprint options of `--probe` and `--no-catalog`.
fn fingerprint(no_catalog: bool, probe: ProbeMode) -> anyhow::Result<FingerprintOptions> {
    let opts = FingerprintOptions::default().with_catalog(!no_catalog);
    #[cfg(feature = "probe")]
    {
        use banwatch::detect::fingerprint::probe::Probe;
        use banwatch::detect::fingerprint::LazyProbe;
        let load = || Probe::load_isolated(std::env::current_exe().ok());
        Ok(match probe {
            ProbeMode::Off => opts,
            ProbeMode::On => opts.with_probe(Some(load()?)),
            // Loaded when the first ONNX model needs it: captures and logs never pay for it.
            ProbeMode::Auto => opts.with_lazy_probe(LazyProbe::new(move || match load() {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!("behavioural probe off: {e}");
                    None
                }
            })),
        })
    }
    #[cfg(not(feature = "probe"))]
    {
        if matches!(probe, ProbeMode::On) {
            anyhow::bail!("--probe on: this build has no behavioural probe (feature `probe`)");
        }
        Ok(opts)
    }
}

fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Scan {
            #[allow(unused_mut)]
            mut paths,
            format,
            policy,
            signatures,
            no_catalog,
            probe,
            workers,
            #[cfg(feature = "live")]
            interface,
            #[cfg(feature = "live")]
            duration,
        } => {
            #[cfg(feature = "live")]
            let _recorded = match &interface {
                Some(ifc) => {
                    let (dir, file) = capture_for(ifc, &duration)?;
                    paths.push(file.clone());
                    Some((dir, file))
                }
                None => None,
            };
            let policy = match policy {
                Some(p) => Policy::load(&p)?,
                None => Policy::default_ban(),
            };
            let dir = signatures.unwrap_or_else(SignatureSet::default_dir);
            let opts = ScanOptions {
                policy,
                signatures: SignatureSet::load_dir(&dir)?,
                fingerprint: fingerprint(no_catalog, probe)?,
                judge: JudgeConfig::default(),
                progress: matches!(format, Format::Text),
                workers: banwatch::sources::offline::workers_for(workers),
            };
            #[allow(unused_mut)]
            let mut report = scan::run(&paths, &opts);
            #[cfg(feature = "live")]
            if let (Some(ifc), Some((_, file))) = (&interface, &_recorded) {
                // The capture file is temporary: name the interface instead.
                let shown = file.display().to_string();
                for i in &mut report.inputs {
                    if i.path == shown {
                        i.path = format!("interface {ifc} ({duration})");
                    }
                }
            }
            Ok(print_report(&report, format))
        }
        #[cfg(feature = "probe")]
        Command::ProbeWorker => Ok(banwatch::detect::fingerprint::probe::worker_main()?),
        #[cfg(feature = "live")]
        Command::Serve {
            config,
            listen,
            state_dir,
            demo,
        } => {
            let mut cfg = match &config {
                Some(p) => banwatch::service::config::Config::load(p)?,
                None => banwatch::service::config::Config::parse(
                    std::path::Path::new("(demo)"),
                    banwatch::sim::live::DEMO_INVENTORY,
                )?,
            };
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(d) = state_dir {
                cfg.state_dir = d;
            }
            let rt = anyhow::Context::context(
                tokio::runtime::Runtime::new(),
                "start the async runtime",
            )?;
            rt.block_on(async {
                // Keep the demo network alive as long as the service runs.
                let demo = if demo || config.is_none() {
                    Some(banwatch::sim::live::DemoNetwork::start().await?)
                } else {
                    None
                };
                let feeds = match &demo {
                    Some(d) => d.feeds()?,
                    None => Vec::new(),
                };
                banwatch::service::run(cfg, feeds).await?;
                drop(demo);
                anyhow::Ok(())
            })?;
            Ok(0)
        }
        #[cfg(feature = "live")]
        Command::Report {
            contractor,
            site,
            days,
            format,
            out,
            config,
            state_dir,
            until,
        } => {
            use banwatch::sinks::contractor::{self, DeviceRow, Scope};
            if days == 0 {
                anyhow::bail!("--days 0: the period must be at least one day");
            }
            let cfg = match &config {
                Some(p) => Some(banwatch::service::config::Config::load(p)?),
                None => None,
            };
            // A cluster's replicas share PostgreSQL: the report reads it, unless --state-dir
            // names one replica's SQLite store.
            let shared = match cfg.as_ref().and_then(|c| c.cluster.as_ref()) {
                Some(c) if state_dir.is_none() => Some((
                    c.store
                        .resolve()
                        .map_err(|e| anyhow::anyhow!("cluster store: {e}"))?
                        .ok_or_else(|| anyhow::anyhow!("cluster store: no URL"))?,
                    c.tls.clone(),
                )),
                _ => None,
            };
            let dir = state_dir
                .or_else(|| cfg.as_ref().map(|c| c.state_dir.clone()))
                .unwrap_or_else(|| PathBuf::from("banwatch-state"));
            let until = match &until {
                Some(t) => banwatch::clock::parse_rfc3339(t)
                    .ok_or_else(|| anyhow::anyhow!("--until {t:?} is not an RFC 3339 time"))?,
                None => banwatch::clock::now(),
            };
            let inventory: Vec<DeviceRow> = cfg
                .iter()
                .flat_map(|c| {
                    c.devices.iter().filter_map(|d| {
                        let s = c.site(&d.site)?;
                        s.contractor
                            .as_deref()
                            .is_some_and(|k| k.eq_ignore_ascii_case(&contractor))
                            .then(|| DeviceRow {
                                device: d.id.clone(),
                                site: Some(s.id.clone()),
                                site_type: Some(s.site_type),
                            })
                    })
                })
                .collect();
            if let Some(c) = &cfg {
                let known = c.sites.iter().any(|s| {
                    s.contractor
                        .as_deref()
                        .is_some_and(|k| k.eq_ignore_ascii_case(&contractor))
                });
                if !known {
                    eprintln!(
                        "banwatch: warning: no site of {} names contractor {contractor:?}",
                        config
                            .as_deref()
                            .unwrap_or(std::path::Path::new("?"))
                            .display()
                    );
                }
            }
            let scope = Scope {
                contractor,
                site,
                days,
                until,
            };
            let report = match &shared {
                Some((url, tls)) => {
                    contractor::from_postgres(url, tls.as_ref(), &scope, &inventory)
                }
                None => contractor::from_store(&dir, &scope, &inventory),
            }
            .map_err(anyhow::Error::msg)?;
            let write = |bytes: &[u8]| -> anyhow::Result<()> {
                match &out {
                    Some(p) => std::fs::write(p, bytes)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display())),
                    None => {
                        let mut o = std::io::stdout().lock();
                        let _ = o.write_all(bytes).and_then(|_| o.flush());
                        Ok(())
                    }
                }
            };
            match format {
                ReportFormat::Json => write((report.to_json() + "\n").as_bytes())?,
                ReportFormat::Csv => {
                    write(report.to_csv().map_err(anyhow::Error::msg)?.as_bytes())?
                }
                ReportFormat::Html => write(banwatch::sinks::html::contractor(&report).as_bytes())?,
                ReportFormat::Pdf => {
                    let Some(p) = &out else {
                        anyhow::bail!("--format pdf needs --out FILE");
                    };
                    banwatch::sinks::pdf::print(
                        &banwatch::sinks::html::contractor(&report),
                        p,
                        std::time::Duration::from_secs(60),
                    )?;
                }
            }
            Ok(0)
        }
        #[cfg(feature = "live")]
        Command::Audit {
            targets,
            inventory,
            format,
            product,
            pin_sha256,
            insecure,
            allow_basic,
            concurrency,
            timeout,
            checks,
            policy,
        } => {
            use banwatch::detect::checks::CheckSet;
            let checks = CheckSet::load_dir(&checks.unwrap_or_else(CheckSet::default_dir))?;
            let policy = match policy {
                Some(p) => Policy::load(&p)?,
                None => Policy::default_ban(),
            };
            let tls = banwatch::net::tls::TlsSettings {
                ca_file: None,
                pin_sha256,
                insecure,
            };
            tls.validate()?;
            let mut list = banwatch::audit::targets_from_urls(
                &targets,
                product.as_deref(),
                &tls,
                allow_basic,
            )?;
            let cfg = match &inventory {
                Some(p) => Some(banwatch::service::config::Config::load(p)?),
                None => None,
            };
            if let Some(c) = &cfg {
                let from = c.audit_targets(insecure).map_err(anyhow::Error::msg)?;
                if from.is_empty() {
                    anyhow::bail!(
                        "{}: no device has an `audit` table (url, username, password)",
                        inventory
                            .as_deref()
                            .unwrap_or(std::path::Path::new("?"))
                            .display()
                    );
                }
                list.extend(from);
            }
            let terminal = matches!(format, Format::Text)
                && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let progress: Option<std::sync::Arc<dyn Fn(usize, usize) + Send + Sync>> = terminal
                .then(|| {
                    std::sync::Arc::new(|done: usize, total: usize| {
                        eprint!("\r\x1b[2Kaudited {done} of {total} devices");
                        if done == total {
                            eprint!("\r\x1b[2K");
                        }
                    }) as std::sync::Arc<dyn Fn(usize, usize) + Send + Sync>
                });
            let opts = banwatch::sources::audit::AuditOptions {
                concurrency,
                request_timeout: std::time::Duration::from_secs(timeout.max(1)),
                ..Default::default()
            };
            let rt = anyhow::Context::context(
                tokio::runtime::Runtime::new(),
                "start the async runtime",
            )?;
            let report = rt.block_on(banwatch::audit::audit_and_judge(
                list,
                std::sync::Arc::new(checks),
                opts,
                &policy,
                &|d| cfg.as_ref().and_then(|c| c.placement_of(d)),
                progress,
            ));
            Ok(print_report(&report, format))
        }
        Command::Inspect { path } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = scan::inspect(&path, &mut out)?;
            let _ = out.flush();
            if summary.errors > 0 {
                eprintln!(
                    "banwatch: {}: {} records, {} errors",
                    banwatch::sinks::text::terminal_safe(&summary.path),
                    summary.packets,
                    summary.errors
                );
            }
            if let Some(why) = &summary.incomplete {
                eprintln!("banwatch: {}", banwatch::sinks::text::terminal_safe(why));
                return Ok(2);
            }
            Ok(0)
        }
    }
}
