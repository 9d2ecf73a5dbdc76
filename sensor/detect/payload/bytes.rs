//! Reading numbers out of a buffer for `byte_test`, `byte_jump`, `byte_extract` and
//! `byte_math` (Snort 2.9 extract.c `byte_extract` / `string_extract`), and the arithmetic of
//! those options. Every position is checked against the buffer; nothing here can panic.

use crate::rules::{ByteOp, ByteRead, MathOp, NumArg, MAX_VARS};

/// The variables a rule has set so far (`byte_extract`, `byte_math`).
pub(super) type Vars = [u32; MAX_VARS];

/// A number argument's value: a literal, or a variable read as Snort stores it (`uint32_t`).
pub(super) fn resolve(n: NumArg, vars: &Vars) -> i64 {
    match n {
        NumArg::Lit(v) => v,
        NumArg::Var(id) => vars.get(usize::from(id)).map_or(0, |&v| i64::from(v)),
    }
}

/// Reads the number `r` describes from `data`, `cursor` being the buffer's cursor. Returns the
/// value (bitmask applied) and the position just past the bytes consumed; `None` when the
/// bytes lie outside the buffer or, as text, hold no digit.
///
/// Snort 2.9 sp_byte_check.c / sp_byte_jump.c / sp_byte_extract.c: the read starts at
/// `(relative ? doe_ptr : start) + offset`, which must lie inside the buffer; binary reads
/// need all their bytes; `string` reads `bytes` bytes and converts them like `strtoul`,
/// consuming only the digits.
pub(super) fn read(r: &ByteRead, data: &[u8], cursor: usize, vars: &Vars) -> Option<(u32, usize)> {
    let base = if r.relative { cursor } else { 0 };
    let pos = i64::try_from(base)
        .ok()?
        .checked_add(resolve(r.offset, vars))?;
    let pos = usize::try_from(pos).ok()?;
    let n = usize::from(r.bytes);
    if n == 0 {
        // A `byte_jump` that reads nothing: only the position is checked.
        return (pos <= data.len()).then_some((0, pos));
    }
    let bytes = data.get(pos..pos.checked_add(n)?)?;
    let (value, used) = match r.string_base {
        Some(base) => strtoul(bytes, base)?,
        None => {
            let v = if r.little_endian {
                bytes.iter().rev().fold(0u32, |a, &b| a << 8 | u32::from(b))
            } else {
                bytes.iter().fold(0u32, |a, &b| a << 8 | u32::from(b))
            };
            (v, n)
        }
    };
    Some((apply_bitmask(value, r.bitmask), pos + used))
}

/// sp_byte_extract.c / sp_byte_check.c: `value & mask`, then shifted right by the mask's
/// trailing zeros when non-zero.
fn apply_bitmask(value: u32, mask: Option<u32>) -> u32 {
    match mask {
        Some(m) => {
            let v = value & m;
            if v != 0 {
                v >> m.trailing_zeros()
            } else {
                v
            }
        }
        None => value,
    }
}

/// C's `strtoul` over at most 10 bytes: leading white space, an optional sign, `0x` for base
/// 16, then digits of `base`. Returns the value (truncated to 32 bits as Snort stores it) and
/// the bytes consumed, or `None` without a digit (extract.c `string_extract` fails then).
fn strtoul(bytes: &[u8], base: u32) -> Option<(u32, usize)> {
    let mut i = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let mut neg = false;
    if let Some(&s @ (b'+' | b'-')) = bytes.get(i) {
        neg = s == b'-';
        i += 1;
    }
    if base == 16
        && bytes.get(i) == Some(&b'0')
        && matches!(bytes.get(i + 1), Some(b'x' | b'X'))
        && bytes.get(i + 2).is_some_and(|b| b.is_ascii_hexdigit())
    {
        i += 2;
    }
    let start = i;
    let mut v: u64 = 0;
    while let Some(d) = bytes.get(i).and_then(|&b| char::from(b).to_digit(base)) {
        v = v
            .saturating_mul(u64::from(base))
            .saturating_add(u64::from(d));
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = v as u32; // Snort assigns the unsigned long to a uint32_t
    Some((if neg { v.wrapping_neg() } else { v }, i))
}

/// sp_byte_check.c `ByteTest`: `extracted OP value`.
pub(super) fn compare(op: ByteOp, extracted: u32, value: u32) -> bool {
    match op {
        ByteOp::Lt => extracted < value,
        ByteOp::Gt => extracted > value,
        ByteOp::Eq => extracted == value,
        ByteOp::And => extracted & value != 0,
        ByteOp::Xor => extracted ^ value != 0,
        ByteOp::Le => extracted <= value,
        ByteOp::Ge => extracted >= value,
    }
}

/// sp_byte_math.c: 32-bit unsigned arithmetic; `None` for a division by zero. Shifts of 32 or
/// more give 0.
pub(super) fn math(op: MathOp, l: u32, r: u32) -> Option<u32> {
    Some(match op {
        MathOp::Add => l.wrapping_add(r),
        MathOp::Sub => l.wrapping_sub(r),
        MathOp::Mul => l.wrapping_mul(r),
        MathOp::Div => l.checked_div(r)?,
        MathOp::Shl => l.checked_shl(r).unwrap_or(0),
        MathOp::Shr => l.checked_shr(r).unwrap_or(0),
    })
}

/// Rounds `v` up to a multiple of `align` (2 or 4; 0 or 1 leave it), wrapping like Snort's
/// `uint32_t` arithmetic.
pub(super) fn align_up(v: u32, align: u32) -> u32 {
    if align < 2 || v % align == 0 {
        v
    } else {
        v.wrapping_add(align - v % align)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::type_complexity)] // table test: one tuple per case
    fn strtoul_forms() {
        // (bytes, base, expected (value, consumed))
        let cases: &[(&[u8], u32, Option<(u32, usize)>)] = &[
            (b"123", 10, Some((123, 3))),
            (b"12a", 10, Some((12, 2))),
            (b" 7", 10, Some((7, 2))),
            (b"ff", 16, Some((255, 2))),
            (b"0x1F", 16, Some((31, 4))),
            (b"0x", 16, Some((0, 1))), // "0" then a non-digit: strtoul stops at the 'x'
            (b"777", 8, Some((511, 3))),
            (b"8", 8, None),
            (b"abc", 10, None),
            (b"-1", 10, Some((u32::MAX, 2))),
            (b"9999999999", 10, Some((9_999_999_999u64 as u32, 10))),
        ];
        for &(b, base, want) in cases {
            assert_eq!(strtoul(b, base), want, "{:?} base {base}", b);
        }
    }

    #[test]
    fn bitmask_shifts() {
        // byte_test:2,=,0x3,0,bitmask 0x0f00 on |03 45|: (0x0345 & 0x0f00) >> 8 = 3.
        assert_eq!(apply_bitmask(0x0345, Some(0x0f00)), 3);
        assert_eq!(apply_bitmask(0x0045, Some(0x0f00)), 0);
        assert_eq!(apply_bitmask(0x1234, None), 0x1234);
    }

    #[test]
    fn math_and_align() {
        assert_eq!(math(MathOp::Div, 10, 0), None);
        assert_eq!(math(MathOp::Shl, 1, 40), Some(0));
        assert_eq!(math(MathOp::Sub, 0, 1), Some(u32::MAX));
        assert_eq!(align_up(5, 4), 8);
        assert_eq!(align_up(8, 4), 8);
        assert_eq!(align_up(5, 2), 6);
        assert_eq!(align_up(5, 0), 5);
    }
}
