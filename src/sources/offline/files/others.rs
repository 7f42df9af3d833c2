//! The walker's other containers ([`super::containers`]): compressed streams inflated under
//! the budgets, archive members and uImage payloads walked under `path!/name`.

use super::*;

impl Walker<'_> {
    /// The containers of [`containers`]: streams are inflated under the budgets, archive
    /// members and uImage payloads walked under `path!/name`.
    pub(super) fn open_other(
        &mut self,
        path: &str,
        bytes: &[u8],
        kind: containers::Kind,
        depth: u32,
    ) {
        use containers::Kind;
        let name = path.rsplit(['/', '!']).next().unwrap_or(path);
        match kind {
            Kind::Xz | Kind::Bzip2 | Kind::Zstd | Kind::Lz4 | Kind::Lzma | Kind::Lzop => {
                let stem = [
                    ".xz", ".txz", ".bz2", ".tbz2", ".zst", ".tzst", ".lz4", ".lzma", ".lzo",
                ]
                .iter()
                .find_map(|e| name.strip_suffix(e))
                .unwrap_or(name);
                let inner = format!("{path}!/{stem}");
                let out = self.expand(&inner, bytes.len() as u64, &mut |cap| {
                    containers::inflate(kind, bytes, cap)
                });
                if let Some(out) = out {
                    self.bytes(&inner, &out, depth + 1, &no_sibling);
                }
            }
            Kind::Ar => {
                let max = usize::try_from(self.limits.max_files).unwrap_or(usize::MAX);
                let err = containers::ar_each(bytes, max, &mut |member, size, r| {
                    let inner = format!("{path}!/{}", member.trim_end_matches('/'));
                    if size > self.limits.max_file {
                        self.error(&inner, format!("{size} bytes: over the per-file limit"));
                        return;
                    }
                    if let Some(data) = self.read_bounded(&inner, r, size.max(1)) {
                        self.bytes(&inner, &data, depth + 1, &no_sibling);
                    }
                });
                if let Some(e) = err {
                    self.error(path, e);
                }
            }
            Kind::Cpio => {
                let max = usize::try_from(self.limits.max_files).unwrap_or(usize::MAX);
                let (members, err) = containers::cpio_members(bytes, max);
                for m in members {
                    let inner = format!("{path}!/{}", m.name.trim_start_matches("./"));
                    if let Some(data) = bytes.get(m.range) {
                        self.bytes(&inner, data, depth + 1, &no_sibling);
                    }
                }
                if let Some(e) = err {
                    self.error(path, e);
                }
            }
            Kind::Ext4 => {
                // The reader wants an owned image: the copy is counted like an expansion.
                if !self.budget(path, bytes.len() as u64) {
                    return;
                }
                let max = usize::try_from(self.limits.max_files).unwrap_or(usize::MAX);
                let err = containers::ext4_each(bytes.to_vec(), max, &mut |file, size, read| {
                    self.filesystem_file(&format!("{path}!{file}"), size, read, depth);
                });
                if let Some(e) = err {
                    self.error(path, e);
                }
            }
            Kind::Cramfs => {
                let max = usize::try_from(self.limits.max_files).unwrap_or(usize::MAX);
                let err = containers::cramfs_each(bytes, max, &mut |file, size, read| {
                    self.filesystem_file(&format!("{path}!{file}"), size, read, depth);
                });
                if let Some(e) = err {
                    self.error(path, e);
                }
            }
            Kind::Fit => {
                let (images, err) = fit::images(bytes);
                for img in images {
                    // `lzma` is the one compression with no magic of its own.
                    if img.compression == "lzma" {
                        let inner = format!("{path}!/{}.lzma", img.name);
                        self.open_other(&inner, img.data, Kind::Lzma, depth + 1);
                    } else {
                        let inner = format!("{path}!/{}", img.name);
                        self.bytes(&inner, img.data, depth + 1, &no_sibling);
                    }
                }
                if let Some(e) = err {
                    self.error(path, e);
                }
            }
            Kind::Jffs2 => self.files_in_place(path, bytes, depth, jffs2::each),
            Kind::Ubi => {
                let (volumes, err) = ubi::ubi_volumes(bytes, self.limits.max_file as usize);
                for v in volumes {
                    let inner = format!("{path}!/{}", v.name);
                    if !self.going(&inner) || !self.budget(&inner, v.data.len() as u64) {
                        break;
                    }
                    self.bytes(&inner, &v.data, depth + 1, &no_sibling);
                }
                if let Some(e) = err {
                    self.error(path, e);
                }
            }
            Kind::SevenZ => self.files_in_place(path, bytes, depth, sevenz::each),
            Kind::Ubifs => self.files_in_place(path, bytes, depth, ubifs::ubifs_each),
            Kind::Romfs => {
                let max = usize::try_from(self.limits.max_files).unwrap_or(usize::MAX);
                let err = containers::romfs_each(bytes, max, &mut |file, data| {
                    self.bytes(&format!("{path}!{file}"), data, depth + 1, &no_sibling);
                });
                if let Some(e) = err {
                    self.error(path, e);
                }
            }
            Kind::Sparse => {
                let inner = format!("{path}!/{}.raw", name.trim_end_matches(".simg"));
                let out = self.expand(&inner, bytes.len() as u64, &mut |cap| {
                    match containers::sparse_expand(bytes, cap.saturating_sub(1)) {
                        Ok(v) => (v, None),
                        Err(e) => (Vec::new(), Some(e)),
                    }
                });
                if let Some(out) = out {
                    self.bytes(&inner, &out, depth + 1, &no_sibling);
                }
            }
            Kind::Rpm => match containers::rpm_payload(bytes) {
                Ok(payload) => {
                    self.bytes(&format!("{path}!/payload"), payload, depth + 1, &no_sibling)
                }
                Err(e) => {
                    self.error(path, e);
                    self.leaf(path, bytes, depth, &no_sibling);
                }
            },
            Kind::UImage => match containers::uimage(bytes) {
                Ok((image, comp, payload)) => {
                    let image = if image.is_empty() {
                        "payload".into()
                    } else {
                        image
                    };
                    // U-Boot's IH_COMP: 0 none, 1 gzip, 2 bzip2, 3 lzma, 5 lz4, 6 zstd. Only
                    // LZMA has no magic of its own to be recognised by.
                    if comp == 3 {
                        self.open_other(
                            &format!("{path}!/{image}.lzma"),
                            payload,
                            Kind::Lzma,
                            depth + 1,
                        );
                    } else {
                        self.bytes(&format!("{path}!/{image}"), payload, depth + 1, &no_sibling);
                    }
                }
                Err(e) => {
                    self.error(path, e);
                    self.leaf(path, bytes, depth, &no_sibling);
                }
            },
        }
    }
}
