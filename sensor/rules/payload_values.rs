//! The value syntax of the payload options beyond `content` and `pcre` (see [`super::pcre`]):
//! `byte_test`, `byte_jump`, `byte_extract`, `byte_math`, `isdataat`, `urilen`, and the rule's
//! `byte_extract`/`byte_math` variable names. Pure functions from option text to the typed
//! values of [`super::model`]; which buffer an option reads (sticky `file_data`) and where the
//! result goes in the rule is `options`' business.
//!
//! Each parser returns the option and whether it asked for `dce` (a DCE/RPC byte order this
//! sensor cannot know: the caller skips the rule with that reason).

use super::model::*;
use super::option_values::{dsize, need, number};

/// Longest number read as text (Snort 2.9 extract.h `PARSELEN`).
const MAX_STRING_BYTES: u8 = 10;

/// The `byte_extract` names and the `byte_math` result of one rule, in definition order.
#[derive(Debug, Default)]
pub struct VarNames {
    extract: Vec<String>,
    math: Option<String>,
}

/// Slot of the `byte_math` result (Snort 2.9 `BYTE_MATH_VAR_INDEX`); `byte_extract` names take
/// slots 0 and 1 (`NUM_BYTE_EXTRACT_VARS`).
const MATH_SLOT: VarId = 2;
const MAX_EXTRACT_VARS: usize = 2;

impl VarNames {
    pub fn get(&self, name: &str) -> Option<VarId> {
        if let Some(i) = self.extract.iter().position(|n| n == name) {
            return VarId::try_from(i).ok();
        }
        (self.math.as_deref() == Some(name)).then_some(MATH_SLOT)
    }

    fn define_extract(&mut self, name: &str) -> Result<VarId, String> {
        valid_name(name)?;
        if self.get(name).is_some() {
            return Err(format!("variable '{name}' is already defined in this rule"));
        }
        if self.extract.len() >= MAX_EXTRACT_VARS {
            return Err(format!(
                "at most {MAX_EXTRACT_VARS} byte_extract variables per rule (Snort NUM_BYTE_EXTRACT_VARS), '{name}' is one more"
            ));
        }
        self.extract.push(name.to_string());
        VarId::try_from(self.extract.len() - 1).map_err(|_| "too many variables".to_string())
    }

    fn define_math(&mut self, name: &str) -> Result<VarId, String> {
        valid_name(name)?;
        match &self.math {
            Some(n) if n == name => Ok(MATH_SLOT),
            Some(n) => Err(format!(
                "at most one byte_math result per rule (Snort BYTE_MATH_VAR_INDEX), '{n}' is already defined"
            )),
            None if self.get(name).is_some() => {
                Err(format!("variable '{name}' is already defined in this rule"))
            }
            None => {
                self.math = Some(name.to_string());
                Ok(MATH_SLOT)
            }
        }
    }
}

fn valid_name(name: &str) -> Result<(), String> {
    if name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(())
    } else {
        Err(format!(
            "bad variable name '{name}', expected a letter then letters, digits or '_'"
        ))
    }
}

/// A number (decimal or `0x` hex, optionally negative) or a defined variable's name.
pub fn num_arg(s: &str, vars: &VarNames) -> Result<NumArg, String> {
    let t = s.trim();
    if t.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) && !t.starts_with("0x") {
        return vars.get(t).map(NumArg::Var).ok_or_else(|| {
            format!("'{t}' is not a byte_extract or byte_math variable defined earlier in the rule")
        });
    }
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t),
    };
    let n = i64::from(
        number(digits)
            .map_err(|_| format!("expected a number or a byte_extract variable, got '{t}'"))?,
    );
    Ok(NumArg::Lit(if neg { -n } else { n }))
}

/// The `bytes` field: 1 to 4 binary, 1 to 10 as text (`allow_zero` for `byte_jump`). Snort 2.9
/// extract.c `byte_extract` reads 1, 2, 3 ("due to popular demand") or 4 binary bytes, and
/// community rules use 3 (`byte_test:3,>,200,1`).
fn byte_count(s: &str, string: bool, allow_zero: bool) -> Result<u8, String> {
    let n = number(s)?;
    let ok = if string {
        (1..=u32::from(MAX_STRING_BYTES)).contains(&n)
    } else {
        (1..=4).contains(&n)
    } || (allow_zero && n == 0);
    if !ok {
        return Err(if string {
            format!("{n} bytes, expected 1 to {MAX_STRING_BYTES} with 'string'")
        } else {
            format!("{n} bytes, expected 1 to 4 (or up to {MAX_STRING_BYTES} with 'string')")
        });
    }
    Ok(n as u8)
}

/// What the trailing flags of a byte option set.
#[derive(Default)]
struct ReadFlags {
    relative: bool,
    little: Option<bool>,
    string: bool,
    base: Option<u32>,
    bitmask: Option<u32>,
    dce: bool,
}

impl ReadFlags {
    /// Takes one flag word (`words` supplies a value for `bitmask`/`endian`/`string X` forms).
    /// Returns `Ok(false)` when the word is not a common flag.
    fn take(&mut self, w: &str) -> Result<bool, String> {
        let (key, val) = match w.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, v)) => (k, Some(v.trim())),
            None => (w, None),
        };
        match (key, val) {
            ("relative", None) => self.relative = true,
            ("big", None) | ("endian", Some("big")) => self.set_endian(false)?,
            ("little", None) | ("endian", Some("little")) => self.set_endian(true)?,
            ("string", None) => self.string = true,
            ("string", Some(b)) => {
                self.string = true;
                self.set_base(b)?;
            }
            ("hex" | "dec" | "oct", None) => self.set_base(key)?,
            ("dce", None) => self.dce = true,
            ("bitmask", Some(v)) => {
                let m = number(v)?;
                if m == 0 {
                    return Err("bitmask 0 masks every bit".into());
                }
                self.bitmask = Some(m);
            }
            ("bitmask", None) => return Err("bitmask needs a value, e.g. 'bitmask 0x0f'".into()),
            ("endian", _) => return Err("expected 'endian big' or 'endian little'".into()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn set_endian(&mut self, little: bool) -> Result<(), String> {
        if self.little.is_some() {
            return Err("endianness given twice".into());
        }
        self.little = Some(little);
        Ok(())
    }

    fn set_base(&mut self, b: &str) -> Result<(), String> {
        let base = match b {
            "hex" => 16,
            "dec" => 10,
            "oct" => 8,
            _ => return Err(format!("bad number type '{b}', expected hex, dec or oct")),
        };
        if self.base.is_some() {
            return Err("number type given twice".into());
        }
        self.base = Some(base);
        Ok(())
    }

    fn read(&self, bytes: u8, offset: NumArg, buffer: Buffer) -> ByteRead {
        ByteRead {
            bytes,
            offset,
            relative: self.relative,
            little_endian: self.little == Some(true),
            string_base: self.string.then(|| self.base.unwrap_or(10)),
            bitmask: self.bitmask,
            buffer,
        }
    }
}

fn fields(s: &str) -> Vec<&str> {
    s.split(',').map(str::trim).collect()
}

/// `byte_test: bytes, [!]op, value, offset[, relative][, big|little][, string[, hex|dec|oct]]
/// [, dce][, bitmask N]` (Snort 2.9 sp_byte_check.c `ByteTestParse`).
pub fn parse_byte_test(
    s: &str,
    vars: &VarNames,
    buffer: Buffer,
) -> Result<(ByteTest, bool), String> {
    let f = fields(s);
    if f.len() < 4 || f.iter().take(4).any(|x| x.is_empty()) {
        return Err("expected 'bytes, operator, value, offset[, ...]'".into());
    }
    let mut flags = ReadFlags::default();
    for w in &f[4..] {
        if !flags.take(w)? {
            return Err(format!(
                "unknown modifier '{w}', expected relative, big, little, string, hex, dec, oct, dce or bitmask N"
            ));
        }
    }
    let bytes = byte_count(f[0], flags.string, false)?;
    let (negated, op) = match f[1].strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, f[1]),
    };
    let op = match op {
        "<" => ByteOp::Lt,
        ">" => ByteOp::Gt,
        "=" => ByteOp::Eq,
        // `!` alone (and `!=`) is "not equal".
        "" if negated => ByteOp::Eq,
        "&" => ByteOp::And,
        "^" => ByteOp::Xor,
        "<=" => ByteOp::Le,
        ">=" => ByteOp::Ge,
        _ => {
            return Err(format!(
                "bad operator '{}', expected < > = ! & ^ <= >= (optionally after !)",
                f[1]
            ))
        }
    };
    let value = num_arg(f[2], vars)?;
    if let NumArg::Lit(v) = value {
        if !(0..=i64::from(u32::MAX)).contains(&v) {
            return Err(format!("value {v} out of range, expected 0 to 4294967295"));
        }
    }
    let offset = num_arg(f[3], vars)?;
    Ok((
        ByteTest {
            read: flags.read(bytes, offset, buffer),
            op,
            negated,
            value,
        },
        flags.dce,
    ))
}

/// `byte_jump: bytes, offset[, relative][, multiplier N][, big|little][, string[, hex|dec|oct]]
/// [, align][, from_beginning|from_end][, post_offset N][, dce][, bitmask N]` (sp_byte_jump.c).
pub fn parse_byte_jump(
    s: &str,
    vars: &VarNames,
    buffer: Buffer,
) -> Result<(ByteJump, bool), String> {
    let f = fields(s);
    if f.len() < 2 || f.iter().take(2).any(|x| x.is_empty()) {
        return Err("expected 'bytes, offset[, ...]'".into());
    }
    let mut flags = ReadFlags::default();
    let (mut multiplier, mut align, mut from, mut post_offset) =
        (1, false, JumpFrom::Read, NumArg::Lit(0));
    for w in &f[2..] {
        if flags.take(w)? {
            continue;
        }
        let (key, val) = match w.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, v)) => (k, Some(v.trim())),
            None => (*w, None),
        };
        match (key, val) {
            ("multiplier", Some(v)) => {
                multiplier = number(v)?;
                if multiplier == 0 || multiplier > 65535 {
                    return Err(format!("multiplier {multiplier}, expected 1 to 65535"));
                }
            }
            ("align", None) => align = true,
            ("from_beginning" | "from_end", None) => {
                if from != JumpFrom::Read {
                    return Err("from_beginning and from_end exclude each other".into());
                }
                from = if key == "from_end" {
                    JumpFrom::End
                } else {
                    JumpFrom::Beginning
                };
            }
            ("post_offset", Some(v)) => post_offset = num_arg(v, vars)?,
            _ => {
                return Err(format!(
                    "unknown modifier '{w}', expected relative, multiplier N, big, little, string, hex, dec, oct, align, from_beginning, from_end, post_offset N, dce or bitmask N"
                ))
            }
        }
    }
    let bytes = byte_count(f[0], flags.string, true)?;
    let offset = num_arg(f[1], vars)?;
    Ok((
        ByteJump {
            read: flags.read(bytes, offset, buffer),
            multiplier,
            align,
            from,
            post_offset,
        },
        flags.dce,
    ))
}

/// `byte_extract: bytes, offset, name[, relative][, multiplier N][, big|little]
/// [, string[, hex|dec|oct]][, align 2|4][, dce][, bitmask N]` (sp_byte_extract.c); defines
/// `name` in `vars`.
pub fn parse_byte_extract(
    s: &str,
    vars: &mut VarNames,
    buffer: Buffer,
) -> Result<(ByteExtract, bool), String> {
    let f = fields(s);
    if f.len() < 3 || f.iter().take(3).any(|x| x.is_empty()) {
        return Err("expected 'bytes, offset, name[, ...]'".into());
    }
    let mut flags = ReadFlags::default();
    let (mut multiplier, mut align) = (1, 0);
    for w in &f[3..] {
        if flags.take(w)? {
            continue;
        }
        let (key, val) = match w.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, v)) => (k, Some(v.trim())),
            None => (*w, None),
        };
        match (key, val) {
            ("multiplier", Some(v)) => {
                multiplier = number(v)?;
                if multiplier == 0 || multiplier > 65535 {
                    return Err(format!("multiplier {multiplier}, expected 1 to 65535"));
                }
            }
            ("align", Some(v)) => {
                align = match number(v)? {
                    2 => 2,
                    4 => 4,
                    n => return Err(format!("align {n}, expected 2 or 4")),
                }
            }
            _ => {
                return Err(format!(
                    "unknown modifier '{w}', expected relative, multiplier N, big, little, string, hex, dec, oct, align 2|4, dce or bitmask N"
                ))
            }
        }
    }
    let bytes = byte_count(f[0], flags.string, false)?;
    let off = crate::rules::option_values::signed(f[1])?;
    let var = vars.define_extract(f[2])?;
    Ok((
        ByteExtract {
            read: flags.read(bytes, NumArg::Lit(i64::from(off)), buffer),
            multiplier,
            align,
            var,
        },
        flags.dce,
    ))
}

/// `byte_math: bytes N, offset N, oper + - * / << >>, rvalue V, result NAME[, relative]
/// [, endian big|little][, string hex|dec|oct][, dce][, bitmask N]` (sp_byte_math.c); defines
/// the result in `vars`.
pub fn parse_byte_math(
    s: &str,
    vars: &mut VarNames,
    buffer: Buffer,
) -> Result<(ByteMath, bool), String> {
    let mut flags = ReadFlags::default();
    let (mut bytes, mut offset, mut oper, mut rvalue, mut result) = (None, None, None, None, None);
    for w in fields(s) {
        if flags.take(w)? {
            continue;
        }
        let (key, val) = match w.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((k, v)) => (k, v.trim()),
            None => (w, ""),
        };
        match key {
            "bytes" => bytes = Some(need(Some(val), "'bytes N'")?),
            "offset" => offset = Some(num_arg(need(Some(val), "'offset N'")?, vars)?),
            "oper" => {
                oper = Some(match val {
                    "+" => MathOp::Add,
                    "-" => MathOp::Sub,
                    "*" => MathOp::Mul,
                    "/" => MathOp::Div,
                    "<<" => MathOp::Shl,
                    ">>" => MathOp::Shr,
                    _ => return Err(format!("bad oper '{val}', expected + - * / << or >>")),
                })
            }
            "rvalue" => rvalue = Some(num_arg(need(Some(val), "'rvalue V'")?, vars)?),
            "result" => result = Some(need(Some(val), "'result NAME'")?),
            _ => {
                return Err(format!(
                    "unknown field '{w}', expected bytes, offset, oper, rvalue, result, relative, endian, string, dce or bitmask"
                ))
            }
        }
    }
    let (Some(bytes), Some(offset), Some(oper), Some(rvalue), Some(result)) =
        (bytes, offset, oper, rvalue, result)
    else {
        return Err("expected 'bytes N, offset N, oper O, rvalue V, result NAME'".into());
    };
    let bytes = byte_count(bytes, flags.string, false)?;
    match rvalue {
        NumArg::Lit(0) if oper == MathOp::Div => return Err("rvalue 0 with oper /".into()),
        NumArg::Lit(v) if !(0..=i64::from(u32::MAX)).contains(&v) => {
            return Err(format!("rvalue {v} out of range, expected 0 to 4294967295"))
        }
        _ => {}
    }
    let var = vars.define_math(result)?;
    Ok((
        ByteMath {
            read: flags.read(bytes, offset, buffer),
            oper,
            rvalue,
            var,
        },
        flags.dce,
    ))
}

/// `isdataat:[!]N[, relative][, rawbytes]` (sp_isdataat.c). `rawbytes` reads the packet
/// whatever the sticky buffer.
pub fn parse_isdataat(s: &str, vars: &VarNames, buffer: Buffer) -> Result<IsDataAt, String> {
    let f = fields(s);
    let first = f.first().copied().unwrap_or("");
    let (negated, n) = match first.strip_prefix('!') {
        Some(r) => (true, r.trim()),
        None => (false, first),
    };
    if n.is_empty() {
        return Err("expected '[!]N[, relative][, rawbytes]'".into());
    }
    let offset = num_arg(n, vars)?;
    if let NumArg::Lit(v) = offset {
        if !(0..=65535).contains(&v) {
            return Err(format!("offset {v} out of range, expected 0 to 65535"));
        }
    }
    let mut d = IsDataAt {
        offset,
        relative: false,
        negated,
        buffer,
    };
    for w in &f[1..] {
        match *w {
            "relative" => d.relative = true,
            "rawbytes" => d.buffer = Buffer::Pkt,
            _ => {
                return Err(format!(
                    "unknown modifier '{w}', expected relative or rawbytes"
                ))
            }
        }
    }
    Ok(d)
}

/// `urilen:[<|>]N[, raw|norm]` or `N<>M` (inclusive; sp_urilen_check.c `URILEN_CHECK_RG`).
/// The raw URI by default, as Snort 2.9.20.
pub fn parse_urilen(s: &str) -> Result<PayloadOp, String> {
    let (len, which) = match s.split_once(',') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (s.trim(), None),
    };
    let buffer = match which {
        None | Some("raw") => Buffer::RawUri,
        Some("norm") => Buffer::Uri,
        Some(w) => return Err(format!("unknown modifier '{w}', expected raw or norm")),
    };
    Ok(PayloadOp::Urilen {
        cmp: dsize(len)?,
        buffer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_limits() {
        let mut v = VarNames::default();
        assert_eq!(v.define_extract("a"), Ok(0));
        assert_eq!(v.define_extract("b"), Ok(1));
        assert!(v.define_extract("c").unwrap_err().contains("at most 2"));
        assert!(v.define_extract("a").is_err());
        assert_eq!(v.define_math("m"), Ok(MATH_SLOT));
        assert!(v.define_math("n").is_err());
        assert_eq!(num_arg("b", &v), Ok(NumArg::Var(1)));
        assert_eq!(num_arg("-4", &v), Ok(NumArg::Lit(-4)));
        assert_eq!(num_arg("0x10", &v), Ok(NumArg::Lit(16)));
        assert!(num_arg("zz", &v).is_err());
    }
}
