//! Files as a tap: directories, archives (tar, gzip, zip), squashfs images and raw firmware
//! blobs, walked recursively and handed on one file at a time. Nested finds are named
//! `outer!/inner/path`; regions carved out of a blob `blob.bin!/@0x1f400.onnx`.
//!
//! Everything is bounded: per-file size, total bytes expanded, compression ratio (a zip bomb is
//! an error naming the entry), number of files and nesting depth. A bad entry is counted and
//! logged; the walk goes on.

pub mod carve;

use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest single file or archive entry read.
    pub max_file: u64,
    /// Total bytes read and expanded per input.
    pub max_total: u64,
    /// Largest expansion ratio of a compressed entry.
    pub max_ratio: u64,
    pub max_files: u64,
    /// Archives inside archives.
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file: 1 << 30,
            max_total: 4 << 30,
            max_ratio: 200,
            max_files: 200_000,
            max_depth: 4,
        }
    }
}

/// One file found, with a way to read files next to it (weight shards, `.bin` beside `.param`).
pub struct FoundFile<'a> {
    pub path: String,
    pub bytes: &'a [u8],
    pub sibling: &'a dyn Fn(&str) -> Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkStats {
    /// What the top-level input was: `directory`, `archive`, `firmware`, `blob` or `file`.
    pub kind: &'static str,
    pub files: u64,
    pub errors: u64,
    pub carved: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{path}: {message}")]
    Unusable { path: String, message: String },
}

struct Walker<'v, 'f> {
    limits: Limits,
    visit: &'v mut dyn FnMut(FoundFile<'_>),
    stats: WalkStats,
    total: u64,
    _f: std::marker::PhantomData<&'f ()>,
}

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Gzip,
    Tar,
    Zip,
    Squashfs,
    None,
}

fn container(b: &[u8]) -> Container {
    if b.starts_with(&[0x1f, 0x8b]) {
        Container::Gzip
    } else if b.get(257..262) == Some(b"ustar") {
        Container::Tar
    } else if b.starts_with(b"PK\x03\x04")
        // PyTorch and Keras-zip checkpoints are zips too: they are models, not folders.
        && memchr::memmem::find(&b[..b.len().min(1 << 16)], b"data.pkl").is_none()
    {
        Container::Zip
    } else if b.starts_with(b"hsqs") {
        Container::Squashfs
    } else {
        Container::None
    }
}

fn no_sibling(_: &str) -> Option<Vec<u8>> {
    None
}

impl Walker<'_, '_> {
    fn error(&mut self, path: &str, why: impl std::fmt::Display) {
        // A carved candidate that turns out not to be what its signature suggested is a guess
        // that failed, not a defect of the input.
        if path.contains("!/@") {
            tracing::debug!("{path}: {why}");
            return;
        }
        self.stats.errors += 1;
        tracing::warn!("{path}: {why}");
    }

    /// Account for `n` more bytes; false once the input's budget is spent.
    fn budget(&mut self, path: &str, n: u64) -> bool {
        self.total = self.total.saturating_add(n);
        if self.total > self.limits.max_total {
            self.error(
                path,
                format!(
                    "expansion budget of {} bytes exhausted",
                    self.limits.max_total
                ),
            );
            return false;
        }
        true
    }

    fn bytes(
        &mut self,
        path: &str,
        bytes: &[u8],
        depth: u32,
        sibling: &dyn Fn(&str) -> Option<Vec<u8>>,
    ) {
        if self.stats.files >= self.limits.max_files {
            return;
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
        self.stats.files += 1;
        (self.visit)(FoundFile {
            path: path.to_string(),
            bytes,
            sibling,
        });
        if depth < self.limits.max_depth {
            for region in carve::regions(bytes) {
                self.stats.carved += 1;
                let inner = format!("{path}!/@{:#x}.{}", region.offset, region.ext);
                let slice = &bytes[region.offset..region.end];
                self.bytes(&inner, slice, depth + 1, &no_sibling);
            }
        }
    }

    /// Read at most `limit` bytes of a decompressing reader; the ratio check stops bombs early.
    fn read_bounded(&mut self, path: &str, r: &mut dyn Read, compressed: u64) -> Option<Vec<u8>> {
        let cap = self.limits.max_file.min(
            compressed
                .saturating_mul(self.limits.max_ratio)
                .max(1 << 20),
        );
        let mut out = Vec::new();
        match r.take(cap + 1).read_to_end(&mut out) {
            Ok(_) if out.len() as u64 > cap => {
                self.error(
                    path,
                    format!(
                        "expands beyond {cap} bytes (ratio over {}:1 or too large): not read",
                        self.limits.max_ratio
                    ),
                );
                None
            }
            Ok(_) => self.budget(path, out.len() as u64).then_some(out),
            Err(e) => {
                self.error(path, format!("cannot decompress: {e}"));
                None
            }
        }
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
                    Err(e) => return self.error(path, format!("zip: {e}")),
                };
                for i in 0..zip.len().min(self.limits.max_files as usize) {
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
            Container::None => {}
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
        let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        if len > self.limits.max_file {
            return self.error(shown, format!("{len} bytes: over the per-file limit"));
        }
        if !self.budget(shown, len) {
            return;
        }
        match std::fs::read(p) {
            Ok(bytes) => {
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
                self.bytes(shown, &bytes, 0, &sibling);
            }
            Err(e) => self.error(shown, e),
        }
    }
}

/// Walk `path` (a file or a directory), handing every file found to `visit`.
pub fn walk(
    path: &Path,
    limits: &Limits,
    visit: &mut dyn FnMut(FoundFile<'_>),
) -> Result<WalkStats, FilesError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| FilesError::Unusable {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let mut w = Walker {
        limits: *limits,
        visit,
        stats: WalkStats::default(),
        total: 0,
        _f: std::marker::PhantomData,
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
                message: e.to_string(),
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
