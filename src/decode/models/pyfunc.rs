//! Python functions as Keras stores a `Lambda` layer's: `keras.utils.func_dump` (Keras 2,
//! tf.keras) writes the function's code object with `marshal.dumps`, base64-encoded, in the
//! layer's `function` field. Read just enough of CPython's marshal format (`Python/marshal.c`:
//! one type byte, its 0x80 bit asking for a back-reference slot, then the value) to say what a
//! short function computes, without running it: its positional argument names and whether its
//! whole body is `return <arg> * <arg>`.
//!
//! Code objects are read as CPython 3.6 to 3.12 write them: the integer header (5 fields before
//! 3.8 and from 3.11, 6 from 3.8 to 3.10), `co_code`, `co_consts`, `co_names`, then the
//! variable names (`co_varnames`, or `co_localsplusnames` from 3.11), whose first
//! `co_argcount` entries are the arguments. The body is matched against the bytecode those
//! versions emit for `return a * b` (`dis`: `LOAD_FAST`, `LOAD_FAST`, `BINARY_MULTIPLY` before
//! 3.11, `BINARY_OP 5` with its cache slot after `RESUME` from 3.11, `RETURN_VALUE`).

use super::ModelError;

/// Deepest nesting of tuples and code objects read.
const MAX_DEPTH: usize = 32;
/// Most elements of one tuple.
const MAX_TUPLE: usize = 100_000;

/// A marshalled value, as far as this reader needs.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Other,
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    Code(Box<Code>),
}

/// A code object's parts this reader keeps.
#[derive(Debug, Clone, PartialEq)]
struct Code {
    argcount: usize,
    code: Vec<u8>,
    varnames: Vec<String>,
}

/// What a function computes, when it is one this reader recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `return a * b` of its two positional arguments (either order).
    Product,
    /// Anything else.
    Unknown,
}

/// A function read from its marshalled code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its positional arguments' names, in order.
    pub args: Vec<String>,
    /// What its body computes.
    pub body: Body,
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    refs: Vec<Value>,
}

fn bad(m: impl Into<String>) -> ModelError {
    ModelError::Invalid(format!("python code: {}", m.into()))
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ModelError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or_else(|| bad("length overflow"))?;
        let s = self.b.get(self.at..end).ok_or_else(|| bad("ends early"))?;
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ModelError> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Result<i32, ModelError> {
        let s = self.take(4)?;
        Ok(i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn len(&mut self, short: bool) -> Result<usize, ModelError> {
        let n = if short {
            usize::from(self.u8()?)
        } else {
            usize::try_from(self.i32()?).map_err(|_| bad("a negative length"))?
        };
        if n > self.b.len() {
            return Err(bad("a length past the end"));
        }
        Ok(n)
    }

    fn value(&mut self, depth: usize) -> Result<Value, ModelError> {
        if depth > MAX_DEPTH {
            return Err(bad("nested too deep"));
        }
        let t = self.u8()?;
        let (kind, flag) = (t & 0x7f, t & 0x80 != 0);
        // A slot is reserved before the value is read, as marshal.c's R_REF does.
        let slot = flag.then(|| {
            self.refs.push(Value::Other);
            self.refs.len() - 1
        });
        let v = match kind {
            b'0' | b'N' => Value::None,
            b'F' | b'T' | b'.' | b'S' => Value::Other,
            b'i' => {
                self.take(4)?;
                Value::Other
            }
            b'g' => {
                self.take(8)?;
                Value::Other
            }
            b'y' => {
                self.take(16)?;
                Value::Other
            }
            b'l' => {
                let n = self.i32()?.unsigned_abs() as usize;
                self.take(n.checked_mul(2).ok_or_else(|| bad("long overflow"))?)?;
                Value::Other
            }
            b's' => {
                let n = self.len(false)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            b'a' | b'A' | b'u' | b't' | b'z' | b'Z' => {
                let n = self.len(matches!(kind, b'z' | b'Z'))?;
                Value::Str(String::from_utf8_lossy(self.take(n)?).into_owned())
            }
            b')' | b'(' | b'[' | b'<' | b'>' => {
                let n = if kind == b')' {
                    self.len(true)?
                } else {
                    self.len(false)?
                };
                if n > MAX_TUPLE {
                    return Err(bad("a tuple too long"));
                }
                let mut items = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Tuple(items)
            }
            b'r' => {
                let i = usize::try_from(self.i32()?).map_err(|_| bad("a negative reference"))?;
                self.refs
                    .get(i)
                    .cloned()
                    .ok_or_else(|| bad("a reference to nothing"))?
            }
            b'c' => self.code(depth)?,
            other => return Err(bad(format!("type byte {other:#04x}"))),
        };
        if let Some(s) = slot {
            self.refs[s] = v.clone();
        }
        Ok(v)
    }

    fn code(&mut self, depth: usize) -> Result<Value, ModelError> {
        let argcount = usize::try_from(self.i32()?).map_err(|_| bad("a negative argcount"))?;
        // Four more header fields, then a fifth unless `co_code` (a bytes object) follows.
        for _ in 0..4 {
            self.i32()?;
        }
        if self.b.get(self.at).map(|t| t & 0x7f) != Some(b's') {
            self.i32()?;
        }
        let Value::Bytes(code) = self.value(depth + 1)? else {
            return Err(bad("co_code is not bytes"));
        };
        let _consts = self.value(depth + 1)?;
        let _names = self.value(depth + 1)?;
        let Value::Tuple(vars) = self.value(depth + 1)? else {
            return Err(bad("no variable names"));
        };
        let varnames = vars
            .into_iter()
            .map(|v| match v {
                Value::Str(s) => s,
                _ => String::new(),
            })
            .collect();
        // The rest of the code object (kinds, free and cell variables, file and line tables)
        // is not needed; nothing after it is read.
        Ok(Value::Code(Box::new(Code {
            argcount,
            code,
            varnames,
        })))
    }
}

/// `return a * b` of arguments 0 and 1 (either order), as CPython 3.6–3.12 compile it.
fn is_product(code: &[u8]) -> bool {
    const LOAD_FAST: u8 = 0x7c;
    let loads = |a: u8, b: u8| [LOAD_FAST, a, LOAD_FAST, b];
    [(0u8, 1u8), (1, 0)].iter().any(|&(a, b)| {
        let l = loads(a, b);
        // 3.6–3.10: LOAD_FAST a, LOAD_FAST b, BINARY_MULTIPLY, RETURN_VALUE.
        let old = [&l[..], &[0x14, 0x00, 0x53, 0x00]].concat();
        // 3.11–3.12: RESUME 0, the loads, BINARY_OP 5 (multiply) and its cache, RETURN_VALUE.
        let new = [&[0x97, 0x00][..], &l, &[0x7a, 0x05, 0x00, 0x00, 0x53, 0x00]].concat();
        code == old.as_slice() || code == new.as_slice()
    })
}

/// Read a function marshalled as Keras's `func_dump` stores it (base64 of `marshal.dumps` of
/// its code object; line breaks allowed). Errors: not base64, not a code object, or a value
/// this reader does not know before the variable names.
pub fn read(base64_text: &str) -> Result<Function, ModelError> {
    use base64::Engine;
    let compact: String = base64_text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| bad(format!("not base64: {e}")))?;
    let mut r = Reader {
        b: &bytes,
        at: 0,
        refs: Vec::new(),
    };
    let Value::Code(c) = r.value(0)? else {
        return Err(bad("not a code object"));
    };
    Ok(Function {
        args: c.varnames.iter().take(c.argcount).cloned().collect(),
        body: if c.argcount == 2 && is_product(&c.code) {
            Body::Product
        } else {
            Body::Unknown
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keras-facenet's `scaling(x, scale): return x * scale`, as CPython 3.11 marshals it (the
    /// whole `function` field of a Lambda in a published FaceNet Keras file).
    #[test]
    fn a_scaling_function_is_a_product_of_its_arguments() {
        let f = read(
            "4wIAAAAAAAAAAAAAAAIAAAADAAAA8wwAAACXAHwAfAF6BQAAUwApAU6pACkC2gF42gVzY2FsZXMC\n\
             AAAAICD6OUE6LzEuQUkvZmFjZS1yZWNvZ25pdGlvbi15Y2MvdXRpbHMvaW5jZXB0aW9uX3Jlc25l\n\
             dF92MS5wedoHc2NhbGluZ3IGAAAAGgAAAHMMAAAAgADYCwyIdYk50AQU8wAAAAA=\n",
        )
        .unwrap();
        assert_eq!(f.args, vec!["x", "scale"]);
        assert_eq!(f.body, Body::Product);
    }

    /// The same function as CPython 3.6–3.10 compile it, and a sum, hand-marshalled: the
    /// older header and opcodes are read, and only a product is called one.
    #[test]
    fn older_bytecode_and_other_bodies() {
        use base64::Engine;
        let code = |body: &[u8], header_fields: usize| {
            let mut b = vec![0xe3];
            b.extend(2i32.to_le_bytes());
            for _ in 1..header_fields {
                b.extend(0i32.to_le_bytes());
            }
            b.push(b's');
            b.extend((body.len() as i32).to_le_bytes());
            b.extend(body);
            b.extend([b')', 1, b'N']); // consts (None,)
            b.extend([b')', 0]); // names ()
            b.extend([b')', 2, b'z', 1, b'x', b'z', 5]);
            b.extend(b"scale");
            base64::engine::general_purpose::STANDARD.encode(b)
        };
        let product = [0x7c, 0, 0x7c, 1, 0x14, 0, 0x53, 0];
        let sum = [0x7c, 0, 0x7c, 1, 0x17, 0, 0x53, 0];
        let f = read(&code(&product, 6)).unwrap();
        assert_eq!(
            (f.args.clone(), f.body),
            (vec!["x".into(), "scale".into()], Body::Product)
        );
        assert_eq!(read(&code(&product, 5)).unwrap().body, Body::Product);
        assert_eq!(read(&code(&sum, 6)).unwrap().body, Body::Unknown);
        assert!(read("not base64!").is_err());
        assert!(read("AAAA").is_err());
    }
}
