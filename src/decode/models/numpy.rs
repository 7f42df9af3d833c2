//! NumPy `.npy` arrays (the published NEP 1 layout): magic `\x93NUMPY`, a major/minor version,
//! a header length (`u16` in v1, `u32` in v2/v3), then a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. The header is read by a small
//! bounded literal parser (never evaluated); the array becomes one weight named `array`.
//! Object arrays (`descr` `|O`) hold pickled Python objects: they are reported, never unpickled.
//! `.npz` archives are zips of `.npy` members; the zip walker hands each member to this parser.

use super::{ModelError, ModelFormat, ModelInfo, WeightInfo};

const MAGIC: &[u8] = b"\x93NUMPY";
/// Largest header accepted (NumPy itself refuses headers over 10 000 bytes by default).
const MAX_HEADER: usize = 1 << 20;
/// Deepest nesting of the header literal (structured dtypes nest lists of tuples).
const MAX_DEPTH: usize = 16;
/// Most dimensions accepted in `shape`.
const MAX_DIMS: usize = 64;

fn bad(what: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid(format!("numpy: {what}"))
}

/// A Python literal of the kinds a `.npy` header uses.
#[derive(Debug, Clone, PartialEq)]
enum Py {
    Str(String),
    Int(i64),
    Bool(bool),
    None,
    Seq(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

struct Lit<'a> {
    b: &'a [u8],
    at: usize,
}

impl Lit<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.at += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn value(&mut self, depth: usize) -> Result<Py, ModelError> {
        if depth > MAX_DEPTH {
            return Err(ModelError::TooLarge(
                "numpy: header nests too deeply".into(),
            ));
        }
        self.ws();
        match self.peek() {
            None => Err(bad("header ends inside a value")),
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(b'(') => self.seq(b')', depth).map(Py::Seq),
            Some(b'[') => self.seq(b']', depth).map(Py::Seq),
            Some(b'{') => self.dict(depth),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.at;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.at += 1;
                }
                match self.b.get(start..self.at) {
                    Some(b"True") => Ok(Py::Bool(true)),
                    Some(b"False") => Ok(Py::Bool(false)),
                    Some(b"None") => Ok(Py::None),
                    _ => Err(bad(format!("unexpected name at header byte {start}"))),
                }
            }
            Some(c) => Err(bad(format!(
                "unexpected byte 0x{c:02x} at header byte {}",
                self.at
            ))),
        }
    }
    fn string(&mut self, q: u8) -> Result<Py, ModelError> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(bad("unterminated string in header")),
                Some(c) if c == q => {
                    self.at += 1;
                    return Ok(Py::Str(String::from_utf8_lossy(&out).into_owned()));
                }
                Some(b'\\') => {
                    // Keep the escaped byte as is; dtype strings never need more.
                    self.at += 1;
                    let c = self
                        .peek()
                        .ok_or_else(|| bad("unterminated string in header"))?;
                    out.push(c);
                    self.at += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }
    fn int(&mut self) -> Result<Py, ModelError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        // Python 2 era headers may write longs as `3L`.
        let digits = self.b.get(start..self.at).unwrap_or_default();
        if self.peek() == Some(b'L') {
            self.at += 1;
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .map(Py::Int)
            .ok_or_else(|| bad(format!("bad integer at header byte {start}")))
    }
    fn seq(&mut self, close: u8, depth: usize) -> Result<Vec<Py>, ModelError> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            if !self.eat(b',') {
                if self.eat(close) {
                    return Ok(items);
                }
                return Err(bad(format!(
                    "expected `,` or close at header byte {}",
                    self.at
                )));
            }
        }
    }
    fn dict(&mut self, depth: usize) -> Result<Py, ModelError> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            if self.eat(b'}') {
                return Ok(Py::Dict(items));
            }
            let k = self.value(depth + 1)?;
            if !self.eat(b':') {
                return Err(bad(format!("expected `:` at header byte {}", self.at)));
            }
            let v = self.value(depth + 1)?;
            items.push((k, v));
            if !self.eat(b',') {
                if self.eat(b'}') {
                    return Ok(Py::Dict(items));
                }
                return Err(bad(format!(
                    "expected `,` or `}}` at header byte {}",
                    self.at
                )));
            }
        }
    }
}

/// Whether a dtype description (a string, or a structured list of `(name, descr[, shape])`)
/// contains Python objects.
fn has_objects(descr: &Py) -> bool {
    match descr {
        Py::Str(s) => s.trim_start_matches(['<', '>', '|', '=']).starts_with('O'),
        Py::Seq(items) => items.iter().any(has_objects),
        _ => false,
    }
}

/// `\x93NUMPY` at the start.
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Parse a `.npy` header: one weight `array` with the declared shape, dtype and order as facts.
/// Malformed headers are errors; the array data is never read.
pub fn parse(bytes: &[u8]) -> Result<ModelInfo, ModelError> {
    if !looks_like(bytes) {
        return Err(bad("no \\x93NUMPY magic"));
    }
    let (major, minor) = match (bytes.get(6), bytes.get(7)) {
        (Some(&a), Some(&b)) => (a, b),
        _ => return Err(ModelError::Truncated("numpy: no version".into())),
    };
    let (len, start) = match major {
        1 => {
            let b = bytes
                .get(8..10)
                .ok_or_else(|| ModelError::Truncated("numpy: no header length".into()))?;
            (usize::from(u16::from_le_bytes([b[0], b[1]])), 10usize)
        }
        2 | 3 => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| ModelError::Truncated("numpy: no header length".into()))?;
            let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            (usize::try_from(n).unwrap_or(usize::MAX), 12usize)
        }
        v => {
            return Err(ModelError::Unsupported(format!(
                "numpy: format version {v}.{minor}"
            )))
        }
    };
    if len > MAX_HEADER {
        return Err(ModelError::TooLarge(format!(
            "numpy: header of {len} bytes"
        )));
    }
    let header = start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or_else(|| {
            ModelError::Truncated(format!(
                "numpy: header of {len} bytes, file of {}",
                bytes.len()
            ))
        })?;
    let mut lit = Lit { b: header, at: 0 };
    lit.ws();
    if lit.peek() != Some(b'{') {
        return Err(bad("header is not a dict literal"));
    }
    let Py::Dict(items) = lit.value(0)? else {
        return Err(bad("header is not a dict literal"));
    };
    lit.ws();
    if lit.peek().is_some() {
        return Err(bad(format!(
            "trailing bytes after the header dict at {}",
            lit.at
        )));
    }
    let get = |key: &str| {
        items
            .iter()
            .find(|(k, _)| matches!(k, Py::Str(s) if s == key))
            .map(|(_, v)| v)
    };
    let descr = get("descr").ok_or_else(|| bad("header has no 'descr'"))?;
    let fortran = match get("fortran_order") {
        Some(Py::Bool(b)) => *b,
        _ => return Err(bad("header has no boolean 'fortran_order'")),
    };
    let Some(Py::Seq(dims)) = get("shape") else {
        return Err(bad("header has no 'shape' tuple"));
    };
    if dims.len() > MAX_DIMS {
        return Err(ModelError::TooLarge(format!(
            "numpy: shape of {} dimensions",
            dims.len()
        )));
    }
    let shape = dims
        .iter()
        .map(|d| match d {
            Py::Int(n) if *n >= 0 => Ok(*n),
            _ => Err(bad("shape holds a non-integer or negative dimension")),
        })
        .collect::<Result<Vec<i64>, _>>()?;

    let mut info = ModelInfo {
        format: Some(ModelFormat::Numpy),
        ..Default::default()
    };
    info.facts
        .insert("numpy.version".into(), format!("{major}.{minor}"));
    let descr_text = match descr {
        Py::Str(s) => s.chars().take(64).collect(),
        Py::Seq(_) => "structured".to_string(),
        _ => return Err(bad("'descr' is neither a string nor a field list")),
    };
    info.facts.insert("numpy.descr".into(), descr_text);
    info.facts
        .insert("numpy.fortran_order".into(), fortran.to_string());
    if has_objects(descr) {
        info.facts.insert("numpy.object".into(), "true".into());
        // The data is a pickle (`np.save(allow_pickle=True)`): walked statically, never
        // unpickled, for the arrays inside (old MTCNN packages keep their weights so).
        let data = bytes.get(start + len..).unwrap_or_default();
        let facts = super::pickle::walk(data, 1);
        if facts.arrays > 0 {
            info.facts
                .insert("pickle.arrays".into(), facts.arrays.to_string());
            super::pytorch::fill(&mut info, facts)?;
            return Ok(info);
        }
        info.notes.push(
            "object array: pickled Python objects, no arrays in them (never unpickled)".into(),
        );
    }
    info.count_params("array", &shape)?;
    info.weights.push(WeightInfo {
        name: "array".into(),
        shape,
    });
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(major: u8, header: &str) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[major, 0]);
        if major == 1 {
            v.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            v.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        v.extend_from_slice(header.as_bytes());
        v
    }

    #[test]
    fn reads_v1_and_v2_headers() {
        let f = npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }          \n",
        );
        assert!(looks_like(&f));
        let info = parse(&f).unwrap();
        assert_eq!(info.format, Some(ModelFormat::Numpy));
        assert_eq!(info.weights[0].name, "array");
        assert_eq!(info.weights[0].shape, vec![3, 4]);
        assert_eq!(info.params, 12);
        assert_eq!(
            info.facts.get("numpy.descr").map(String::as_str),
            Some("<f4")
        );

        let f = npy(
            2,
            "{'descr': '<i8', 'fortran_order': True, 'shape': (5,), }\n",
        );
        assert_eq!(parse(&f).unwrap().weights[0].shape, vec![5]);
        let f = npy(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }\n",
        );
        assert_eq!(parse(&f).unwrap().weights[0].shape, Vec::<i64>::new());
    }

    #[test]
    fn object_arrays_are_reported_not_unpickled() {
        let f = npy(
            1,
            "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n",
        );
        let info = parse(&f).unwrap();
        assert_eq!(
            info.facts.get("numpy.object").map(String::as_str),
            Some("true")
        );
        assert!(info.notes.iter().any(|n| n.contains("never unpickled")));
        let f = npy(
            1,
            "{'descr': [('a', '<f4'), ('b', '|O')], 'fortran_order': False, 'shape': (2,), }\n",
        );
        assert!(parse(&f).unwrap().facts.contains_key("numpy.object"));
    }

    #[test]
    fn malformed_headers_and_truncations_are_errors() {
        for h in [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } junk",
            "{'descr': '<f4' 'fortran_order': False, 'shape': (3, 4), }",
            "__import__('os')",
            "{'descr': '<f4', 'fortran_order': False, 'shape': ((((((((((((((((((1,),),),),),),),),),),),),),),),),),),), }",
        ] {
            assert!(parse(&npy(1, h)).is_err(), "{h}");
        }
        let f = npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\n",
        );
        for cut in 0..f.len() {
            assert!(parse(&f[..cut]).is_err(), "cut at {cut}");
        }
        let mut big = MAGIC.to_vec();
        big.extend_from_slice(&[2, 0, 0xff, 0xff, 0xff, 0xff, b'{']);
        assert!(parse(&big).is_err());
        assert!(parse(&npy(9, "{}")).is_err());
    }
}
