//! The evaluator of a rule's payload program: each option in rule order over its buffer, with
//! one cursor per buffer and Snort's re-evaluation of earlier contents and pcres (see the
//! module docs of [`super`]). Recursion depth is the number of options of the rule; retries
//! are bounded by [`MAX_RETRIES`] per evaluation.

use super::bytes::{self, Vars};
use super::{cmp, Buffers, MAX_RETRIES};
use crate::rules::{Buffer, Content, JumpFrom, PayloadOp, MAX_VARS};

/// What the options before the current one left: cursors and variables. Small and `Copy`, so
/// a retry starts again from a saved copy.
#[derive(Clone, Copy)]
struct State {
    cursors: [usize; Buffer::COUNT],
    vars: Vars,
}

impl State {
    fn cursor(&self, b: Buffer) -> usize {
        self.cursors.get(b.index()).copied().unwrap_or(0)
    }

    fn with_cursor(mut self, b: Buffer, at: usize) -> State {
        if let Some(c) = self.cursors.get_mut(b.index()) {
            *c = at;
        }
        self
    }

    fn with_var(mut self, id: u8, v: u32) -> State {
        if let Some(x) = self.vars.get_mut(usize::from(id)) {
            *x = v;
        }
        self
    }
}

/// One option of the program.
enum Op<'r> {
    Content(&'r Content),
    Other(&'r PayloadOp),
    /// A content index that names no content (cannot come out of the compiler).
    Broken,
}

struct Prog<'r, 'b> {
    contents: &'r [Content],
    payload: &'r [PayloadOp],
    bufs: &'r Buffers<'b>,
}

impl<'r> Prog<'r, '_> {
    fn op(&self, i: usize) -> Option<Op<'r>> {
        if self.payload.is_empty() {
            return self.contents.get(i).map(Op::Content);
        }
        Some(match self.payload.get(i)? {
            PayloadOp::Content(ci) => self
                .contents
                .get(usize::from(*ci))
                .map_or(Op::Broken, Op::Content),
            other => Op::Other(other),
        })
    }

    /// Whether option `i` starts from a cursor: only then can another position of the option
    /// before it change its answer.
    fn is_relative(&self, i: usize) -> bool {
        match self.op(i) {
            Some(Op::Content(c)) => c.is_relative(),
            Some(Op::Other(op)) => match op {
                PayloadOp::Pcre(p) => p.relative,
                PayloadOp::ByteTest(t) => t.read.relative,
                PayloadOp::ByteJump(j) => j.read.relative,
                PayloadOp::ByteExtract(x) => x.read.relative,
                PayloadOp::ByteMath(m) => m.read.relative,
                PayloadOp::IsDataAt(d) => d.relative,
                PayloadOp::Content(_) | PayloadOp::Urilen { .. } => false,
            },
            _ => false,
        }
    }

    fn eval(&self, i: usize, st: State, budget: &mut u32) -> bool {
        let Some(op) = self.op(i) else {
            return true;
        };
        match op {
            Op::Broken => false,
            Op::Content(c) => self.content(c, i, st, budget),
            Op::Other(op) => self.other(op, i, st, budget),
        }
    }

    fn content(&self, c: &Content, i: usize, st: State, budget: &mut u32) -> bool {
        let Some(data) = self.bufs.get(c.buffer) else {
            return c.negated && self.eval(i + 1, st, budget);
        };
        let Some((start, end)) = window(c, data.len(), st.cursor(c.buffer), &st.vars) else {
            // The window lies outside the buffer: a negated content trivially holds.
            return c.negated && self.eval(i + 1, st, budget);
        };
        let Some(hay) = data.get(start..end) else {
            return false;
        };
        if c.negated {
            return find(hay, &c.pattern, c.nocase).is_none() && self.eval(i + 1, st, budget);
        }
        let mut from = start;
        while from <= end {
            let Some(pos) = data
                .get(from..end)
                .and_then(|h| find(h, &c.pattern, c.nocase))
            else {
                return false;
            };
            let at = from + pos;
            if self.eval(
                i + 1,
                st.with_cursor(c.buffer, at + c.pattern.len()),
                budget,
            ) {
                return true;
            }
            if !self.is_relative(i + 1) || *budget == 0 {
                return false;
            }
            *budget -= 1;
            from = at + 1;
        }
        false
    }

    fn other(&self, op: &PayloadOp, i: usize, st: State, budget: &mut u32) -> bool {
        let next = |st: State, budget: &mut u32| self.eval(i + 1, st, budget);
        match op {
            PayloadOp::Content(_) => false, // resolved by `op`
            PayloadOp::Pcre(p) => {
                // sp_pcre.c `SnortPcre`: an HTTP-buffer pcre searches its whole buffer and
                // leaves the cursor alone; otherwise a relative pcre's subject starts at the
                // cursor (so `^` and `\A` anchor there), which must lie inside the buffer.
                // `pcre_search` fails on an empty subject, negated or not, and a missing HTTP
                // buffer is no match either way.
                let Some(data) = self.bufs.get(p.buffer) else {
                    return false;
                };
                let http = p.buffer.is_http();
                let base = if p.relative && !http {
                    st.cursor(p.buffer)
                } else {
                    0
                };
                let Some(subject) = data.get(base..).filter(|s| !s.is_empty()) else {
                    return false;
                };
                if p.negated {
                    // sp_pcre.c `pcre_search`: a search that fails (a match limit reached)
                    // answers "no match" before the negation is applied, so the option fails.
                    return match p.regex.find_at(subject, 0) {
                        Ok(found) => found.is_none() && next(st, budget),
                        Err(_) => false,
                    };
                }
                // The cursor moves to the end of the match; detection_options.c retries from
                // there when a later relative option fails (never for anchored or HTTP pcres).
                let retry = !p.anchored && !http && self.is_relative(i + 1);
                let mut from = 0;
                while from < subject.len() {
                    let Some(m) = p.regex.find_at(subject, from).ok().flatten() else {
                        return false;
                    };
                    let after = if http {
                        st
                    } else {
                        st.with_cursor(p.buffer, base + m.end())
                    };
                    if next(after, budget) {
                        return true;
                    }
                    if !retry || *budget == 0 {
                        return false;
                    }
                    *budget -= 1;
                    // An empty match would be found again at the same place.
                    from = m.end().max(from + 1);
                }
                false
            }
            PayloadOp::ByteTest(t) => {
                let Some(data) = self.bufs.get(t.read.buffer) else {
                    return false;
                };
                let Some((v, _)) = bytes::read(&t.read, data, st.cursor(t.read.buffer), &st.vars)
                else {
                    return false;
                };
                let value = bytes::resolve(t.value, &st.vars) as u32;
                bytes::compare(t.op, v, value) != t.negated && next(st, budget)
            }
            PayloadOp::ByteJump(j) => {
                let b = j.read.buffer;
                let Some(data) = self.bufs.get(b) else {
                    return false;
                };
                let Some((v, after)) = bytes::read(&j.read, data, st.cursor(b), &st.vars) else {
                    return false;
                };
                // sp_byte_jump.c: value × multiplier, aligned to 4, from the bytes read (or the
                // buffer's start / end), plus post_offset; the result must lie in [0, len].
                let jump =
                    bytes::align_up(v.wrapping_mul(j.multiplier), if j.align { 4 } else { 0 });
                let from = match j.from {
                    JumpFrom::Read => after,
                    JumpFrom::Beginning => 0,
                    JumpFrom::End => data.len(),
                };
                let pos = i64::try_from(from).unwrap_or(i64::MAX)
                    + i64::from(jump)
                    + bytes::resolve(j.post_offset, &st.vars);
                match usize::try_from(pos) {
                    Ok(p) if p <= data.len() => next(st.with_cursor(b, p), budget),
                    _ => false,
                }
            }
            PayloadOp::ByteExtract(x) => {
                let b = x.read.buffer;
                let Some(data) = self.bufs.get(b) else {
                    return false;
                };
                let Some((v, after)) = bytes::read(&x.read, data, st.cursor(b), &st.vars) else {
                    return false;
                };
                // sp_byte_extract.c: multiply, align, store; the cursor moves past the bytes.
                let v = bytes::align_up(v.wrapping_mul(x.multiplier), u32::from(x.align));
                next(st.with_cursor(b, after).with_var(x.var, v), budget)
            }
            PayloadOp::ByteMath(m) => {
                let Some(data) = self.bufs.get(m.read.buffer) else {
                    return false;
                };
                let Some((v, _)) = bytes::read(&m.read, data, st.cursor(m.read.buffer), &st.vars)
                else {
                    return false;
                };
                let r = bytes::resolve(m.rvalue, &st.vars) as u32;
                match bytes::math(m.oper, v, r) {
                    Some(result) => next(st.with_var(m.var, result), budget),
                    None => false,
                }
            }
            PayloadOp::IsDataAt(d) => {
                let Some(data) = self.bufs.get(d.buffer) else {
                    return d.negated && next(st, budget);
                };
                // sp_isdataat.c: a byte exists at base + offset (base: start, or the cursor).
                let base = if d.relative { st.cursor(d.buffer) } else { 0 };
                let pos =
                    i64::try_from(base).unwrap_or(i64::MAX) + bytes::resolve(d.offset, &st.vars);
                let there = usize::try_from(pos).is_ok_and(|p| p < data.len());
                there != d.negated && next(st, budget)
            }
            PayloadOp::Urilen { cmp: c, buffer } => match self.bufs.get(*buffer) {
                Some(uri) => {
                    cmp(*c, u32::try_from(uri.len()).unwrap_or(u32::MAX)) && next(st, budget)
                }
                None => false,
            },
        }
    }
}

/// Runs `payload` (or `contents` in order when `payload` is empty) over `bufs`.
pub(super) fn run(contents: &[Content], payload: &[PayloadOp], bufs: &Buffers<'_>) -> bool {
    let prog = Prog {
        contents,
        payload,
        bufs,
    };
    let st = State {
        cursors: [0; Buffer::COUNT],
        vars: [0; MAX_VARS],
    };
    let mut budget = MAX_RETRIES;
    prog.eval(0, st, &mut budget)
}

/// The search window `[start, end)` of a content, clamped to the buffer; `None` when empty or
/// too small for the pattern. A variable stands in for a number as Snort reads it (an
/// `int32_t` of the stored `uint32_t`).
fn window(c: &Content, len: usize, cursor: usize, vars: &Vars) -> Option<(usize, usize)> {
    let var = |field: Option<i32>, v: Option<u8>| -> Option<i64> {
        match v {
            Some(id) => Some(i64::from(
                vars.get(usize::from(id)).copied().unwrap_or(0) as i32
            )),
            None => field.map(i64::from),
        }
    };
    let len = i64::try_from(len).ok()?;
    let (base, limit) = if c.is_relative() {
        let base = i64::try_from(cursor).ok()? + var(c.distance, c.vars.distance).unwrap_or(0);
        (base, var(c.within, c.vars.within).map(|w| base + w))
    } else {
        let base = var(c.offset, c.vars.offset).unwrap_or(0);
        (base, var(c.depth, c.vars.depth).map(|d| base + d))
    };
    let start = base.max(0);
    let end = limit.unwrap_or(len).min(len);
    if end - start < i64::try_from(c.pattern.len()).ok()? {
        return None;
    }
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

/// First occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8], nocase: bool) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if needle.len() > hay.len() {
        return None;
    }
    if nocase {
        hay.windows(needle.len())
            .position(|w| w.eq_ignore_ascii_case(needle))
    } else {
        let first = *needle.first()?;
        let last_start = hay.len() - needle.len();
        let mut i = 0;
        while i <= last_start {
            let p = hay.get(i..=last_start)?.iter().position(|&b| b == first)?;
            i += p;
            if hay.get(i..i + needle.len()) == Some(needle) {
                return Some(i);
            }
            i += 1;
        }
        None
    }
}
