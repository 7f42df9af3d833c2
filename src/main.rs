//! The `banwatch` command: parses arguments and calls the library. Nothing else lives here.

use anyhow::Context;
use banwatch::detect::fingerprint::probe::Probe;
use banwatch::detect::fingerprint::FingerprintOptions;
use banwatch::detect::signatures::SignatureSet;
use banwatch::judge::policy::Policy;
use banwatch::judge::JudgeConfig;
use banwatch::scan::{self, ScanOptions};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
}

#[derive(Subcommand)]
enum Command {
    /// Spot check: captures (pcap, pcapng), model files, directories, archives, firmware images.
    /// Exit code 0: nothing banned found; 1: at least one violation; 2: unusable input or arguments.
    Scan {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
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
        /// Run ONNX models in ONNX Runtime on synthetic inputs (auto: when the library is found,
        /// ORT_DYLIB_PATH or .deps/onnxruntime).
        #[arg(long, value_enum, default_value = "auto")]
        probe: ProbeMode,
    },
    /// Print the observations the decoders extract from a capture, one JSON object per line.
    Inspect { path: PathBuf },
    /// The long-running service: taps feeds, keeps verdicts, raises and resolves alerts, serves
    /// /metrics, /healthz and /api/v1. With no --config it runs the demo network on loopback.
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
    /// Internal: probe one ONNX model read from stdin (scan runs this in a child process).
    #[command(hide = true)]
    ProbeWorker,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ProbeMode {
    Auto,
    On,
    Off,
}

/// Each model is probed in a child process (`banwatch probe-worker`), 60 s at most.
fn isolate(p: Probe) -> Probe {
    match std::env::current_exe() {
        Ok(exe) => p.isolated(exe, std::time::Duration::from_secs(60)),
        Err(_) => p,
    }
}

/// The child side of the isolated probe: model on stdin, report as JSON on stdout.
fn probe_worker() -> anyhow::Result<u8> {
    use std::io::Read;
    let mut model = Vec::new();
    std::io::stdin()
        .take(banwatch::detect::fingerprint::probe::MAX_PROBE_BYTES as u64 + 1)
        .read_to_end(&mut model)?;
    let report = Probe::load(None)?.run_here(&model)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| cli.log.clone());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("banwatch: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Scan {
            paths,
            format,
            policy,
            signatures,
            no_catalog,
            probe,
        } => {
            let policy = match policy {
                Some(p) => Policy::load(&p)?,
                None => Policy::default_ban(),
            };
            let dir = signatures.unwrap_or_else(SignatureSet::default_dir);
            let signatures = SignatureSet::load_dir(&dir)?;
            let probe = match probe {
                ProbeMode::Off => None,
                ProbeMode::On => Some(isolate(Probe::load(None)?)),
                ProbeMode::Auto => match Probe::load(None) {
                    Ok(p) => Some(isolate(p)),
                    Err(e) => {
                        tracing::warn!("behavioural probe off: {e}");
                        None
                    }
                },
            };
            let fingerprint = FingerprintOptions::default()
                .with_catalog(!no_catalog)
                .with_probe(probe);
            let opts = ScanOptions {
                policy,
                signatures,
                fingerprint,
                judge: JudgeConfig::default(),
                progress: matches!(format, Format::Text),
            };
            let report = scan::run(&paths, &opts);
            for i in &report.inputs {
                if let Some(e) = &i.error {
                    eprintln!("banwatch: {e}");
                }
            }
            let text = match format {
                Format::Json => report.to_json() + "\n",
                Format::Text => banwatch::sinks::text::render(&report),
            };
            let mut out = std::io::stdout().lock();
            // A closed pipe is not an error of the scan.
            let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
            Ok(report.exit_code() as u8)
        }
        Command::ProbeWorker => probe_worker(),
        Command::Serve {
            config,
            listen,
            state_dir,
            demo,
        } => {
            let mut cfg = match &config {
                Some(p) => banwatch::service::config::Config::load(p)?,
                None => {
                    banwatch::service::config::Config::parse(std::path::Path::new("(demo)"), "")?
                }
            };
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(d) = state_dir {
                cfg.state_dir = d;
            }
            let rt = tokio::runtime::Runtime::new().context("start the async runtime")?;
            rt.block_on(async {
                // Keep the demo network alive as long as the service runs.
                let demo = if demo || config.is_none() {
                    Some(banwatch::sim::live::DemoNetwork::start().await?)
                } else {
                    None
                };
                let feeds = demo.as_ref().map(|d| d.feeds()).unwrap_or_default();
                banwatch::service::run(cfg, feeds).await?;
                drop(demo);
                anyhow::Ok(())
            })?;
            Ok(0)
        }
        Command::Inspect { path } => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = scan::inspect(&path, &mut out)
                .with_context(|| format!("inspect {}", path.display()))?;
            let _ = out.flush();
            if summary.errors > 0 {
                eprintln!(
                    "banwatch: {}: {} packets, {} decode errors",
                    summary.path, summary.packets, summary.errors
                );
            }
            Ok(0)
        }
    }
}
