//! Python pickles holding NumPy arrays or whole estimators, as `joblib.dump` and `pickle.dump`
//! write them: raw, or compressed whole by joblib's compressors (zlib, gzip, LZ4 frame; the
//! magic numbers of `joblib/compressor.py`). MTCNN-style packages ship their weights this way
//! (`pnet.lz4`: a list of arrays), scikit-learn models (an SVM or k-NN over face embeddings)
//! too; scikeras pickles a Keras model as the bytes of its `.keras` zip, which the sniffer then
//! reads as the model ([`inner_file`]). The pickle is walked statically by [`super::pickle`];
//! nothing is ever unpickled or run.
//! xz, bz2 and LZMA compression are not read (no reader here).

use super::pickle;
use super::{ModelError, ModelFormat, ModelInfo};
use std::borrow::Cow;
use std::io::Read;

/// Most bytes decompressed: the walk reads what fits and says the rest was not read.
const MAX_INFLATED: u64 = 512 << 20;
/// Bytes inflated to recognise a compressed pickle.
const SNIFF: u64 = 64 << 10;

/// How the pickle is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Zlib,
    Gzip,
    Lz4,
}

impl Compression {
    fn of(b: &[u8]) -> Compression {
        match b {
            [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => Compression::Zlib,
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x04, 0x22, 0x4d, 0x18, ..] => Compression::Lz4,
            _ => Compression::None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zlib => "zlib",
            Compression::Gzip => "gzip",
            Compression::Lz4 => "lz4",
        }
    }
}

/// Up to `limit` bytes of `b` decompressed (what could be read before an error, with it); an
/// uncompressed pickle is borrowed, not copied.
fn inflate(b: &[u8], c: Compression, limit: u64) -> (Cow<'_, [u8]>, Option<String>) {
    let mut out = Vec::new();
    let r = match c {
        Compression::None => {
            let n = b.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
            return (Cow::Borrowed(&b[..n]), None);
        }
        Compression::Zlib => flate2::read::ZlibDecoder::new(b)
            .take(limit)
            .read_to_end(&mut out),
        Compression::Gzip => flate2::read::GzDecoder::new(b)
            .take(limit)
            .read_to_end(&mut out),
        Compression::Lz4 => lz4_flex::frame::FrameDecoder::new(b)
            .take(limit)
            .read_to_end(&mut out),
    };
    (Cow::Owned(out), r.err().map(|e| e.to_string()))
}

/// A pickle protocol 2–5 stream that names NumPy, joblib, scikit-learn or PyTorch near its
/// start: arbitrary binaries beginning `0x80 0x04` are not taken for models.
fn is_model_pickle(p: &[u8]) -> bool {
    let head = &p[..p.len().min(SNIFF as usize)];
    matches!(head, [0x80, 2..=5, ..])
        && [&b"numpy"[..], b"joblib", b"sklearn", b"torch"]
            .iter()
            .any(|w| memchr::memmem::find(head, w).is_some())
}

/// Whether `b` is a model pickle, raw or compressed.
pub fn looks_like(b: &[u8]) -> bool {
    let c = Compression::of(b);
    if c == Compression::None {
        return is_model_pickle(b);
    }
    is_model_pickle(&inflate(b, c, SNIFF).0)
}

/// A model pickled as the bytes of its own file (scikeras keeps a `.keras` zip so): the first
/// such byte array that `is_model` recognises, and a note; the sniffer reads it as the model.
pub fn inner_file(b: &[u8], is_model: &dyn Fn(&[u8]) -> bool) -> Option<(Vec<u8>, String)> {
    let c = Compression::of(b);
    let (data, _) = inflate(b, c, MAX_INFLATED);
    let facts = pickle::walk(&data, 1);
    facts.embedded.iter().find_map(|&(at, len)| {
        let blob = data.get(at..at.saturating_add(len))?;
        is_model(blob).then(|| {
            (
                blob.to_vec(),
                format!(
                    "inside a pickle ({} compression): a byte array of {len} bytes at {at} holds the model file",
                    c.as_str()
                ),
            )
        })
    })
}

/// Walk the pickle for its arrays (`#N` names and shapes), the classes it names and its
/// labels. Errors: not a model pickle. A stream that ends early, fails to inflate or exceeds
/// [`MAX_INFLATED`] gives what was read, with a note.
pub fn parse(b: &[u8]) -> Result<ModelInfo, ModelError> {
    let c = Compression::of(b);
    let (data, err) = inflate(b, c, MAX_INFLATED);
    if !is_model_pickle(&data) {
        return Err(ModelError::Invalid(format!(
            "pickle ({} compression): not a pickle naming NumPy, joblib, scikit-learn or PyTorch{}",
            c.as_str(),
            err.map(|e| format!(" ({e})")).unwrap_or_default()
        )));
    }
    let mut info = ModelInfo {
        format: Some(ModelFormat::Pickle),
        ..Default::default()
    };
    info.facts
        .insert("pickle.compression".into(), c.as_str().into());
    if let Some(e) = err {
        info.notes.push(format!("decompression stopped: {e}"));
    }
    if data.len() as u64 >= MAX_INFLATED {
        info.notes.push(format!(
            "only the first {MAX_INFLATED} decompressed bytes were read"
        ));
    }
    let facts = pickle::walk(&data, 1);
    info.facts
        .insert("pickle.arrays".into(), facts.arrays.to_string());
    super::pytorch::fill(&mut info, facts)?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `joblib.dump([ones((3,3,3,10)), zeros(10), ones((1,1,32,2))], compress=...)` by joblib
    /// 1.6 (scripts/gen-pickle-fixtures.py).
    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/data/pickle/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn joblib_arrays_raw_and_compressed() {
        for (f, c) in [
            ("list.joblib", "none"),
            ("list.z", "zlib"),
            ("list.gz", "gzip"),
            ("list.lz4", "lz4"),
        ] {
            let b = fixture(f);
            assert!(looks_like(&b), "{f}");
            let m = parse(&b).unwrap();
            assert_eq!(m.format, Some(ModelFormat::Pickle));
            assert_eq!(m.facts["pickle.compression"], c, "{f}");
            let shapes: Vec<&[i64]> = m.weights.iter().map(|w| w.shape.as_slice()).collect();
            assert_eq!(
                shapes,
                vec![&[3, 3, 3, 10][..], &[10][..], &[1, 1, 32, 2][..]],
                "{f}"
            );
            assert!(m.notes.is_empty(), "{f}: {:?}", m.notes);
        }
    }

    #[test]
    fn dict_keys_are_kept_only_as_parameter_words() {
        // {'conv1': {'weights': .., 'biases': ..}, 'Maria Lopez': ones(128)} with lz4.
        let m = parse(&fixture("dict.lz4")).unwrap();
        let names: Vec<&str> = m.weights.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, vec!["#0.weights", "#1.biases", "#2"]);
        let all = format!("{m:?}");
        assert!(!all.contains("Maria") && !all.contains("conv1"), "{all}");
    }

    #[test]
    fn numpy_pickles_and_object_arrays() {
        // pickle.dump({'w': ones((4, 8)), 'names': array(['a', 'b'], dtype=object)}, protocol 4)
        let m = parse(&fixture("numpy.pkl")).unwrap();
        let shapes: Vec<&[i64]> = m.weights.iter().map(|w| w.shape.as_slice()).collect();
        // Object arrays hold Python objects, not weights: walked past, not listed.
        assert_eq!(shapes, vec![&[4, 8][..]]);
        // A joblib file with an object array (its own pickle inside) and an array after it.
        let m = parse(&fixture("object.joblib")).unwrap();
        let shapes: Vec<&[i64]> = m.weights.iter().map(|w| w.shape.as_slice()).collect();
        assert_eq!(shapes, vec![&[5, 5][..]]);
        assert!(m.notes.is_empty(), "{:?}", m.notes);
    }

    #[test]
    fn hostile_and_foreign_inputs() {
        assert!(!looks_like(b"\x80\x04 just bytes"));
        assert!(!looks_like(&[0x1f, 0x8b, 8, 0, 0, 0]));
        assert!(!looks_like(b"x\x9c garbage"));
        for f in [
            "list.joblib",
            "list.lz4",
            "dict.lz4",
            "object.joblib",
            "numpy.pkl",
        ] {
            let b = fixture(f);
            for cut in (0..b.len()).step_by(7) {
                let _ = parse(&b[..cut]);
                let mut flipped = b.clone();
                flipped[cut] ^= 0xff;
                let _ = parse(&flipped);
            }
        }
    }
}
