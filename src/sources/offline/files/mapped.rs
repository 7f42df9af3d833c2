//! Files on disk, memory-mapped: read in place, and their pages handed back behind a reader.

use std::path::Path;

/// A file's bytes, memory-mapped (an empty file is an empty slice).
#[derive(Debug)]
pub struct MappedFile {
    map: Option<memmap2::Mmap>,
    /// Bytes from the start already handed back by [`MappedFile::release_before`].
    released: std::sync::atomic::AtomicUsize,
}

/// [`MappedFile::release_before`] hands pages back in steps of this many bytes.
const RELEASE_STEP: usize = 8 << 20;

impl MappedFile {
    /// Map `path` read-only. The file must not be truncated while mapped (another process
    /// shrinking it would fault the reader); inputs of a scan are evidence, not live files.
    pub fn open(path: &Path) -> std::io::Result<MappedFile> {
        let f = std::fs::File::open(path)?;
        let released = std::sync::atomic::AtomicUsize::new(0);
        if f.metadata()?.len() == 0 {
            return Ok(MappedFile {
                map: None,
                released,
            });
        }
        // SAFETY: the map is read-only and private to this process; the only hazard is another
        // process truncating the file while it is mapped, documented above.
        let map = unsafe { memmap2::Mmap::map(&f)? };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(MappedFile {
            map: Some(map),
            released,
        })
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Hand back the memory of the pages before byte `end` (whole steps of 8 MiB): a reader
    /// that has gone past them says so, and the process's resident memory stays bounded
    /// however large the file (the pages stay in the page cache; touching them again reads
    /// them back from the file, with the same contents).
    pub fn release_before(&self, end: usize) {
        use std::sync::atomic::Ordering;
        let Some(map) = &self.map else { return };
        let end = end.min(map.len()) / RELEASE_STEP * RELEASE_STEP;
        let from = self.released.load(Ordering::Relaxed);
        if end <= from {
            return;
        }
        self.released.store(end, Ordering::Relaxed);
        #[cfg(unix)]
        // SAFETY: a read-only shared mapping of a file nobody writes (see `open`): after
        // MADV_DONTNEED a later access repopulates the page from the file, so every byte
        // still reads as it did; no reference sees different contents.
        unsafe {
            let _ =
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, end - from);
        }
    }
}
