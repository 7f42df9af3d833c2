//! Files as a source: directories, archives (tar, gzip, zip, ar packages, CPIO), compressed
//! streams (gzip, xz, bzip2, zstd, LZ4, and LZMA in uImages), squashfs images, U-Boot images
//! and raw firmware blobs, walked recursively and handed on one file at a time, whatever they are (captures and
//! logs included: the caller sniffs each). Files on disk are memory-mapped, not copied. Nested
//! finds are named `outer!/inner/path`; regions carved out of a blob `blob.bin!/@0x1f400.onnx`.
//!
//! Everything is bounded: per-file size, total bytes expanded (checked *before* an entry is
//! inflated, and the walk stops when it is spent), compression ratio (a zip bomb is an error
//! naming the entry), zip entries that share their data (counted once: the second is refused),
//! number of files, nesting depth and wall time. A bad entry is counted and logged; the walk
//! goes on.

pub mod carve;
pub mod containers;
pub mod fit;
pub mod jffs2;
pub mod lzo;
pub mod lzop;
mod mapped;
mod others;
pub mod sevenz;
pub mod ubi;
pub mod ubifs;

pub use mapped::MappedFile;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bounds of one walk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest single file or archive entry read.
    pub max_file: u64,
    /// Total bytes read and expanded per input.
    pub max_total: u64,
    /// Largest expansion ratio of a compressed entry.
    pub max_ratio: u64,
    /// Most files handed on.
    pub max_files: u64,
    /// Archives inside archives. A flash dump nests deep: dump, partition, filesystem,
    /// package, compressed member, archive, model is six levels.
    pub max_depth: u32,
    /// Longest a walk may take; then it stops with an error.
    pub max_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file: 1 << 30,
            max_total: 4 << 30,
            max_ratio: 200,
            max_files: 200_000,
            max_depth: 8,
            max_time: Duration::from_secs(600),
        }
    }
}

/// One file found, with a way to read files next to it (weight shards, `.bin` beside `.param`).
pub struct FoundFile<'a> {
    /// `outer!/inner/path` for nested finds.
    pub path: String,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// Reads a file next to this one by name (`None` inside archives and carved regions).
    pub sibling: &'a dyn Fn(&str) -> Option<Vec<u8>>,
    /// The mapped file these bytes are, whole (`None` inside archives and carved regions): a
    /// reader may hand back the pages it has passed ([`MappedFile::release_before`]).
    pub mapped: Option<std::sync::Arc<MappedFile>>,
}

/// What the visitor says of a file it was handed: whether to carve it for embedded models and
/// images (a file recognised as a model or a capture is not a blob and is not carved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carve {
    /// Look inside for embedded models and images.
    Yes,
    /// It was recognised; do not.
    No,
}

/// What a walk saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// What the top-level input was: `directory`, `archive`, `firmware`, `blob` or `file`.
    pub kind: &'static str,
    /// Files handed on.
    pub files: u64,
    /// Counted problems (unreadable entries, refused bombs, budgets spent).
    pub errors: u64,
    /// Regions carved out of blobs.
    pub carved: u64,
    /// Something in the input was not examined: an entry unreadable or refused (a bomb, an
    /// overlap), or the walk stopped because a budget was spent. The first reason is
    /// [`WalkStats::first_error`]; [`WalkStats::errors`] counts them all.
    pub incomplete: bool,
    /// The first problem, in words, naming the file or entry.
    pub first_error: Option<String>,
}

/// Why a walk could not start.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The input cannot be read at all.
    #[error("{path}: {message}")]
    Unusable {
        /// The input as given.
        path: String,
        /// What is wrong.
        message: String,
    },
}

struct Walker<'v> {
    limits: Limits,
    visit: &'v mut dyn FnMut(FoundFile<'_>) -> Carve,
    stats: WalkStats,
    total: u64,
    started: Instant,
    /// A budget is spent: nothing more is read.
    stopped: bool,
    /// The file on disk being walked, mapped.
    mapped: Option<std::sync::Arc<MappedFile>>,
}

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Gzip,
    Tar,
    Zip,
    Squashfs,
    /// Compressed streams, packages, CPIO and uImage ([`containers`]).
    Other(containers::Kind),
    None,
}

fn container(b: &[u8]) -> Container {
    if b.starts_with(&[0x1f, 0x8b]) {
        Container::Gzip
    } else if b.get(257..262) == Some(b"ustar") {
        Container::Tar
    } else if b.starts_with(b"PK\x03\x04") {
        Container::Zip
    } else if b.starts_with(b"hsqs") {
        Container::Squashfs
    } else if let Some(k) = containers::kind(b) {
        Container::Other(k)
    } else {
        Container::None
    }
}

fn no_sibling(_: &str) -> Option<Vec<u8>> {
    None
}

/// Problems logged one by one per input before the rest are only counted.
const LOGGED_ERRORS: u64 = 20;

/// A reader of files in place ([`jffs2::each`], [`ubifs::ubifs_each`], [`sevenz::each`]):
/// the image, most files, largest file, and a visit of each file's path, size and bytes.
type FilesInPlace =
    fn(&[u8], usize, u64, &mut dyn FnMut(&str, u64, containers::ReadFile<'_>)) -> Option<String>;

impl Walker<'_> {
    fn error(&mut self, path: &str, why: impl std::fmt::Display) {
        // A carved candidate that turns out not to be what its signature suggested is a guess
        // that failed, not a defect of the input. What goes wrong inside a candidate that did
        // open (a member of a carved partition) is a defect like any other.
        if path
            .rsplit("!/")
            .next()
            .is_some_and(|last| last.starts_with('@'))
        {
            tracing::debug!("{path}: {why}");
            return;
        }
        self.stats.errors += 1;
        self.stats.incomplete = true;
        let msg = format!("{path}: {why}");
        // One hostile archive can hold thousands of bad entries: the log gets the first few,
        // the report counts them all.
        match self.stats.errors {
            ..=LOGGED_ERRORS => tracing::warn!("{msg}"),
            n if n == LOGGED_ERRORS + 1 => {
                tracing::warn!("{path}: more problems in this input; counted, not logged")
            }
            _ => tracing::debug!("{msg}"),
        }
        self.stats.first_error.get_or_insert(msg);
    }

    /// Stop the walk: a budget is spent. What was not read makes the walk incomplete.
    fn stop(&mut self, path: &str, why: String) {
        if !self.stopped {
            self.stopped = true;
            self.stats.incomplete = true;
            self.error(
                path,
                format!("{why}; the rest of the input is not examined"),
            );
        }
    }

    /// Whether the walk may go on (no budget spent; time left).
    fn going(&mut self, path: &str) -> bool {
        if !self.stopped && self.started.elapsed() > self.limits.max_time {
            let t = self.limits.max_time;
            self.stop(path, format!("time budget of {t:?} spent"));
        }
        !self.stopped
    }

    /// Bytes still allowed by the expansion budget.
    fn remaining(&self) -> u64 {
        self.limits.max_total.saturating_sub(self.total)
    }

    /// Account for `n` more bytes; false (and the walk stopped) once the budget is spent.
    fn budget(&mut self, path: &str, n: u64) -> bool {
        if n > self.remaining() {
            let max = self.limits.max_total;
            self.stop(path, format!("expansion budget of {max} bytes spent"));
            return false;
        }
        self.total += n;
        true
    }

    fn bytes(
        &mut self,
        path: &str,
        bytes: &[u8],
        depth: u32,
        sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) {
        if !self.going(path) {
            return;
        }
        if self.stats.files >= self.limits.max_files {
            let max = self.limits.max_files;
            return self.stop(path, format!("file budget of {max} files spent"));
        }
        let kind = container(bytes);
        if kind != Container::None && depth < self.limits.max_depth {
            self.open(path, bytes, kind, depth);
            return;
        }
        if kind != Container::None {
            self.error(
                path,
                format!("archives nested deeper than {}", self.limits.max_depth),
            );
            return;
        }
        self.leaf(path, bytes, depth, sibling);
    }

    /// Hand a file on, then carve it for embedded models and images.
    fn leaf(
        &mut self,
        path: &str,
        bytes: &[u8],
        depth: u32,
        sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) {
        self.stats.files += 1;
        let mapped = self
            .mapped
            .clone()
            .filter(|m| std::ptr::eq(m.bytes(), bytes));
        let carve = (self.visit)(FoundFile {
            path: path.to_string(),
            bytes,
            sibling,
            mapped,
        });
        if carve == Carve::Yes && depth < self.limits.max_depth {
            for region in carve::regions(bytes) {
                self.stats.carved += 1;
                let inner = format!("{path}!/@{:#x}.{}", region.offset, region.ext);
                let slice = &bytes[region.offset..region.end];
                self.bytes(&inner, slice, depth + 1, &no_sibling);
            }
        }
    }

    /// Read a decompressing reader, at most what the ratio, the per-file bound and the
    /// remaining expansion budget allow — checked before reading, so a bomb costs only its cap.
    fn read_bounded(&mut self, path: &str, r: &mut dyn Read, compressed: u64) -> Option<Vec<u8>> {
        self.expand(path, compressed, &mut |cap| {
            let mut out = Vec::new();
            let err = r.take(cap).read_to_end(&mut out).err();
            (out, err.map(|e| e.to_string()))
        })
    }

    /// Expand `compressed` bytes with `inflate(cap)` (which returns at most `cap` bytes and
    /// the error that stopped it, if any) under the per-file, ratio and total budgets, like
    /// [`Self::read_bounded`].
    fn expand(
        &mut self,
        path: &str,
        compressed: u64,
        inflate: &mut dyn FnMut(u64) -> (Vec<u8>, Option<String>),
    ) -> Option<Vec<u8>> {
        if !self.going(path) {
            return None;
        }
        let ratio_cap = self.limits.max_file.min(
            compressed
                .saturating_mul(self.limits.max_ratio)
                .max(1 << 20),
        );
        let cap = ratio_cap.min(self.remaining());
        let (out, err) = inflate(cap + 1);
        if out.len() as u64 > cap && cap < ratio_cap {
            let max = self.limits.max_total;
            self.stop(path, format!("expansion budget of {max} bytes spent"));
            return None;
        }
        if out.len() as u64 > cap {
            self.error(
                path,
                format!(
                    "expands beyond {cap} bytes (ratio over {}:1 or too large): not read",
                    self.limits.max_ratio
                ),
            );
            return None;
        }
        if let Some(e) = err {
            if out.is_empty() {
                self.error(path, format!("cannot decompress: {e}"));
                return None;
            }
            // What came out before the damage is read; the damage is reported.
            self.error(
                path,
                format!("decompressed in part ({} bytes): {e}", out.len()),
            );
        }
        self.budget(path, out.len() as u64).then_some(out)
    }

    fn open(&mut self, path: &str, bytes: &[u8], kind: Container, depth: u32) {
        match kind {
            Container::Gzip => {
                // One member: a carved region may run on into unrelated bytes after it.
                let mut d = flate2::read::GzDecoder::new(bytes);
                if let Some(inner) = self.read_bounded(path, &mut d, bytes.len() as u64) {
                    let name = path.rsplit(['/', '!']).next().unwrap_or(path);
                    let stem = name
                        .strip_suffix(".gz")
                        .or_else(|| name.strip_suffix(".tgz"))
                        .unwrap_or(name);
                    self.bytes(&format!("{path}!/{stem}"), &inner, depth + 1, &no_sibling);
                }
            }
            Container::Tar => {
                let mut ar = tar::Archive::new(bytes);
                let entries = match ar.entries() {
                    Ok(e) => e,
                    Err(e) => return self.error(path, format!("tar: {e}")),
                };
                for entry in entries {
                    let mut entry = match entry {
                        Ok(e) => e,
                        Err(e) => {
                            self.error(path, format!("tar: {e}"));
                            break;
                        }
                    };
                    if !entry.header().entry_type().is_file() {
                        continue;
                    }
                    let name = entry
                        .path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| "?".into());
                    let inner = format!("{path}!/{}", name.trim_start_matches("./"));
                    let size = entry.size();
                    if size > self.limits.max_file {
                        self.error(&inner, format!("{size} bytes: over the per-file limit"));
                        continue;
                    }
                    if let Some(data) = self.read_bounded(&inner, &mut entry, size.max(1)) {
                        self.bytes(&inner, &data, depth + 1, &no_sibling);
                    }
                }
            }
            Container::Zip => {
                let mut zip = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
                    Ok(z) => z,
                    Err(e) => {
                        // Not a zip after all (a carved region, or a model that starts like
                        // one): hand it on as a file.
                        tracing::debug!("{path}: zip: {e}");
                        return self.leaf(path, bytes, depth, &no_sibling);
                    }
                };
                // A PyTorch or Keras checkpoint is a zip too, and is a model: hand it on whole.
                let names: Vec<String> = zip.file_names().map(str::to_string).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                if is_model_zip(&names) {
                    return self.leaf(path, bytes, depth, &no_sibling);
                }
                // Entries pointing at the same compressed data are read once.
                let mut extents: Vec<(u64, u64)> = Vec::new();
                for i in 0..zip.len() {
                    if !self.going(path) {
                        break;
                    }
                    let mut f = match zip.by_index(i) {
                        Ok(f) => f,
                        Err(e) => {
                            self.error(path, format!("zip entry {i}: {e}"));
                            continue;
                        }
                    };
                    if !f.is_file() {
                        continue;
                    }
                    let inner = format!("{path}!/{}", f.name());
                    let (size, packed) = (f.size(), f.compressed_size());
                    let extent = (f.data_start(), f.data_start().saturating_add(packed));
                    if extents
                        .iter()
                        .any(|(s, e)| extent.0 < *e && *s < extent.1.max(extent.0 + 1))
                    {
                        self.error(
                            &inner,
                            "shares its compressed data with another entry: refused as a zip bomb",
                        );
                        continue;
                    }
                    if extents.len() < 1_000_000 {
                        extents.push(extent);
                    }
                    if size > self.limits.max_file
                        || size > packed.saturating_mul(self.limits.max_ratio).max(1 << 20)
                    {
                        self.error(
                            &inner,
                            format!("declares {size} bytes from {packed} compressed: refused as a possible zip bomb"),
                        );
                        continue;
                    }
                    if let Some(data) = self.read_bounded(&inner, &mut f, packed.max(1)) {
                        drop(f);
                        self.bytes(&inner, &data, depth + 1, &no_sibling);
                    }
                }
            }
            Container::Squashfs => {
                let fs = match backhand::FilesystemReader::from_reader(std::io::Cursor::new(bytes))
                {
                    Ok(fs) => fs,
                    Err(e) => {
                        self.error(
                            path,
                            format!("squashfs: {e}; carving its raw bytes instead"),
                        );
                        for region in carve::regions(bytes) {
                            self.stats.carved += 1;
                            let inner = format!("{path}!/@{:#x}.{}", region.offset, region.ext);
                            self.bytes(
                                &inner,
                                &bytes[region.offset..region.end],
                                depth + 1,
                                &no_sibling,
                            );
                        }
                        return;
                    }
                };
                for node in fs.files() {
                    let backhand::InnerNode::File(file) = &node.inner else {
                        continue;
                    };
                    let inner = format!("{path}!{}", node.fullpath.display());
                    let size = file.file_len() as u64;
                    if size > self.limits.max_file {
                        self.error(&inner, format!("{size} bytes: over the per-file limit"));
                        continue;
                    }
                    let mut reader = fs.file(file).reader();
                    if let Some(data) = self.read_bounded(&inner, &mut reader, size.max(1)) {
                        self.bytes(&inner, &data, depth + 1, &no_sibling);
                    }
                }
            }
            Container::Other(kind) => self.open_other(path, bytes, kind, depth),
            Container::None => {}
        }
    }

    /// One file of a filesystem image, read whole under the per-file and total budgets.
    fn filesystem_file(
        &mut self,
        inner: &str,
        size: u64,
        read: containers::ReadFile<'_>,
        depth: u32,
    ) {
        if size > self.limits.max_file {
            self.error(inner, format!("{size} bytes: over the per-file limit"));
            return;
        }
        if !self.going(inner) || !self.budget(inner, size) {
            return;
        }
        match read() {
            Ok(data) => self.bytes(inner, &data, depth + 1, &no_sibling),
            Err(e) => self.error(inner, e),
        }
    }

    /// The regular files of an image or archive read in place (JFFS2, UBIFS, 7z) by `each`
    /// (image, most files, largest file, visit), each walked under `path!/name` when the
    /// budgets allow; what the reader found malformed is an error of `path`.
    fn files_in_place(&mut self, path: &str, bytes: &[u8], depth: u32, each: FilesInPlace) {
        let max = usize::try_from(self.limits.max_files).unwrap_or(usize::MAX);
        let max_file = self.limits.max_file;
        let err = each(bytes, max, max_file, &mut |file, size, read| {
            // Filesystems name files from their root (`/opt/x`), archives without it (`opt/x`).
            let sep = if file.starts_with('/') { "" } else { "/" };
            self.filesystem_file(&format!("{path}!{sep}{file}"), size, read, depth);
        });
        if let Some(e) = err {
            self.error(path, e);
        }
    }

    fn dir(&mut self, dir: &Path, depth: u32) {
        let mut entries: Vec<_> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
            Err(e) => return self.error(&dir.display().to_string(), e),
        };
        entries.sort();
        for p in entries {
            let shown = p.display().to_string();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                self.error(&shown, "cannot stat");
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            if meta.is_dir() {
                if depth < 32 {
                    self.dir(&p, depth + 1);
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            self.file(&p, &shown);
        }
    }

    fn file(&mut self, p: &Path, shown: &str) {
        if !self.going(shown) {
            return;
        }
        // Files on disk are mapped, not read: they cost no memory and no expansion budget.
        let map = match MappedFile::open(p) {
            Ok(m) => std::sync::Arc::new(m),
            Err(e) => return self.error(shown, e),
        };
        let parent = p.parent().map(Path::to_path_buf);
        let max = self.limits.max_file;
        let sibling = move |name: &str| -> Option<Vec<u8>> {
            if name.contains('/') || name.contains("..") {
                return None;
            }
            let q = parent.as_ref()?.join(name);
            if std::fs::metadata(&q).ok()?.len() > max {
                return None;
            }
            std::fs::read(q).ok()
        };
        self.mapped = Some(map.clone());
        self.bytes(shown, map.bytes(), 0, &sibling);
        self.mapped = None;
    }
}

/// Walk `path` (a file or a directory), handing every file found to `visit`.
pub fn walk(
    path: &Path,
    limits: &Limits,
    visit: &mut dyn FnMut(FoundFile<'_>) -> Carve,
) -> Result<WalkStats, FilesError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| FilesError::Unusable {
        path: shown.clone(),
        message: io_reason(&e),
    })?;
    let mut w = Walker {
        limits: *limits,
        visit,
        stats: WalkStats::default(),
        total: 0,
        started: Instant::now(),
        stopped: false,
        mapped: None,
    };
    if meta.is_dir() {
        w.stats.kind = "directory";
        w.dir(path, 0);
    } else {
        let mut head = [0u8; 264];
        let n = std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| FilesError::Unusable {
                path: shown.clone(),
                message: io_reason(&e),
            })?;
        w.stats.kind = match container(&head[..n]) {
            Container::Squashfs => "firmware",
            Container::None => "file",
            _ => "archive",
        };
        w.file(path, &shown);
        if w.stats.kind == "file" && w.stats.carved > 0 {
            w.stats.kind = "blob";
        }
    }
    Ok(w.stats)
}

/// An I/O error in the words a user expects.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Whether the names of a zip's entries are those of a model checkpoint (one file), not a
/// folder of files: PyTorch's zip format keeps every entry under one top folder holding
/// `data.pkl` (and `version`, `data/N`); Keras 3 `.keras` files hold `config.json`,
/// `metadata.json` and `model.weights.h5` at the top. A zip that merely contains a file named
/// `data.pkl` among others is a folder, and every entry of it is examined.
pub fn is_model_zip(names: &[&str]) -> bool {
    let Some(first) = names.first() else {
        return false;
    };
    let top = first.split('/').next().unwrap_or("");
    let torch = !top.is_empty()
        && names
            .iter()
            .all(|n| n.split('/').next() == Some(top) && n.len() > top.len())
        && names.iter().any(|n| *n == format!("{top}/data.pkl"));
    let keras = names.contains(&"config.json")
        && names.contains(&"metadata.json")
        && names.iter().any(|n| n.ends_with(".weights.h5"));
    torch || keras
}
