//! A byte-level JSON reader over a `BufRead`, just enough for heap snapshots: it tracks the offset
//! for error messages, reads unsigned integers without allocating, decodes strings leniently (a
//! lone surrogate escape, which V8 writes for broken UTF-16 strings, becomes U+FFFD), and skips
//! values it does not need.

use std::io::BufRead;

use crate::error::ParseError;

/// The most bytes of one string that are kept (Chrome DevTools shows only the start of long strings
/// too); longer strings keep this much and end with `…`.
pub const MAX_STRING_BYTES: usize = 16 * 1024;

/// Deepest nesting accepted in the parts of the file read as values.
const MAX_DEPTH: u32 = 64;
/// The most bytes a value read whole ([`Json::value`], the snapshot's header: a few KB) may take:
/// its values are held in memory, dozens of bytes each.
pub const MAX_VALUE_BYTES: u64 = 1 << 20;

pub struct Json<R> {
    input: R,
    offset: u64,
}

impl<R: BufRead> Json<R> {
    pub fn new(input: R) -> Self {
        Json { input, offset: 0 }
    }

    pub fn syntax(&self, what: impl Into<String>) -> ParseError {
        ParseError::Syntax {
            offset: self.offset,
            what: what.into(),
        }
    }

    /// The next byte without consuming it; None at the end.
    fn peek_raw(&mut self) -> Result<Option<u8>, ParseError> {
        let offset = self.offset;
        let buf = self.input.fill_buf().map_err(|e| io_at(offset, e))?;
        Ok(buf.first().copied())
    }

    fn bump(&mut self) {
        self.input.consume(1);
        self.offset += 1;
    }

    /// The next non-whitespace byte, not consumed; `inside` names the place for a truncation error.
    pub fn peek(&mut self, inside: &'static str) -> Result<u8, ParseError> {
        loop {
            match self.peek_raw()? {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.bump(),
                Some(b) => return Ok(b),
                None => {
                    return Err(ParseError::Truncated {
                        offset: self.offset,
                        inside,
                    })
                }
            }
        }
    }

    /// Consumes `byte` (after whitespace) or fails.
    pub fn expect(&mut self, byte: u8, inside: &'static str) -> Result<(), ParseError> {
        let b = self.peek(inside)?;
        if b != byte {
            return Err(self.syntax(format!(
                "expected '{}', found '{}'",
                byte as char,
                printable(b)
            )));
        }
        self.bump();
        Ok(())
    }

    /// After a value in a container: true if a ',' followed, false at the closing `close`.
    pub fn next_in(&mut self, close: u8, inside: &'static str) -> Result<bool, ParseError> {
        match self.peek(inside)? {
            b',' => {
                self.bump();
                Ok(true)
            }
            b if b == close => {
                self.bump();
                Ok(false)
            }
            b => Err(self.syntax(format!(
                "expected ',' or '{}', found '{}'",
                close as char,
                printable(b)
            ))),
        }
    }

    /// True (and consumed) if the container closes right away with `close`.
    pub fn empty(&mut self, close: u8, inside: &'static str) -> Result<bool, ParseError> {
        if self.peek(inside)? == close {
            self.bump();
            return Ok(true);
        }
        Ok(false)
    }

    /// The elements of an array of unsigned 32-bit integers (its '[' already consumed), appended to
    /// `out`, up to and including the closing ']'.
    pub fn u32_array_into(
        &mut self,
        out: &mut Vec<u32>,
        max: usize,
        inside: &'static str,
    ) -> Result<(), ParseError> {
        let mut no_memory = None;
        let read = self.u32_array_chunks(inside, |numbers, _| {
            if out.len() + numbers.len() > max {
                return Err(format!("more than {max} numbers in {inside}"));
            }
            if let Err(e) = out.try_reserve(numbers.len()) {
                no_memory = Some(ParseError::Memory(format!("{inside}: {e}")));
                return Err(String::new());
            }
            out.extend_from_slice(numbers);
            Ok(())
        });
        no_memory.map_or(read, Err)
    }

    /// The elements of an array of unsigned 32-bit integers (its '[' already consumed), handed to
    /// `take` a buffer's worth at a time with the offset after them, up to and including the
    /// closing ']'. Works on whole buffers: this is most of the file. `take` may keep the vector
    /// (swapping in another); an error it returns is reported at the current offset.
    pub fn u32_array_chunks(
        &mut self,
        inside: &'static str,
        mut take: impl FnMut(&mut Vec<u32>, u64) -> Result<(), String>,
    ) -> Result<(), ParseError> {
        let mut chunk: Vec<u32> = Vec::with_capacity(1 << 16);
        let out = &mut chunk;
        // As DevTools' loader reads a number (HeapSnapshotLoader's #parseUintArray): digit by digit
        // into a double, exact below 2^53.
        let mut value: f64 = 0.0;
        let mut in_number = false;
        // true: a number (or, before the first, ']') comes next; false: ',' or ']'.
        let mut want_value = true;
        let mut first = true;
        loop {
            let offset = self.offset;
            let buf = self.input.fill_buf().map_err(|e| io_at(offset, e))?;
            if buf.is_empty() {
                return Err(ParseError::Truncated { offset, inside });
            }
            let mut i = 0;
            let mut done = false;
            let mut error: Option<String> = None;
            while i < buf.len() {
                if !in_number && i + FAST_MARGIN <= buf.len() {
                    match fast_u32s(buf, &mut i, &mut want_value, &mut first, out) {
                        Fast::Margin => continue,
                        Fast::Slow => {}
                        Fast::Error(what) => {
                            error = Some(format!("{what} in {inside}"));
                            break;
                        }
                    }
                }
                let b = buf[i];
                if in_number {
                    if b.is_ascii_digit() {
                        value = value * 10.0 + f64::from(b - b'0');
                        i += 1;
                        continue;
                    }
                    if matches!(b, b'.' | b'e' | b'E') {
                        error = Some(format!("expected a whole number in {inside}"));
                        break;
                    }
                    out.push(to_uint32(value));
                    in_number = false;
                    want_value = false;
                    continue;
                }
                match b {
                    b' ' | b'\n' | b'\r' | b'\t' => i += 1,
                    b'0'..=b'9' if want_value => {
                        in_number = true;
                        value = 0.0;
                        first = false;
                    }
                    b']' if !want_value || first => {
                        i += 1;
                        done = true;
                        break;
                    }
                    b',' if !want_value => {
                        want_value = true;
                        i += 1;
                    }
                    _ => {
                        error = Some(if want_value {
                            format!("expected a number in {inside}, found '{}'", printable(b))
                        } else {
                            format!("expected ',' or ']', found '{}'", printable(b))
                        });
                        break;
                    }
                }
            }
            self.input.consume(i);
            self.offset += i as u64;
            if let Some(what) = error {
                return Err(self.syntax(what));
            }
            take(out, self.offset).map_err(|what| ParseError::InconsistentBefore {
                what,
                offset: self.offset,
            })?;
            out.clear();
            if done {
                return Ok(());
            }
        }
    }

    /// A string, decoded leniently into `out` (cleared first).
    pub fn string_into(
        &mut self,
        out: &mut String,
        inside: &'static str,
    ) -> Result<(), ParseError> {
        let mut bytes = Vec::new();
        self.string_append(&mut bytes, inside)?;
        out.clear();
        out.push_str(&String::from_utf8_lossy(&bytes));
        Ok(())
    }

    /// A string, decoded leniently and appended to `bytes` as UTF-8 (bytes that are not UTF-8 become
    /// U+FFFD). At most [`MAX_STRING_BYTES`] of it are kept, cut at a character boundary and
    /// followed by `…`: the rest is read (escapes decoded, the offset counted) but not stored, so a
    /// crafted string of hundreds of MB costs no more memory than a short one.
    pub fn string_append(
        &mut self,
        bytes: &mut Vec<u8>,
        inside: &'static str,
    ) -> Result<(), ParseError> {
        self.expect(b'"', inside)?;
        let start = bytes.len();
        let limit = start + MAX_STRING_BYTES;
        let mut cut = false;
        let mut scratch = Vec::new();
        loop {
            let offset = self.offset;
            let buf = self.input.fill_buf().map_err(|e| io_at(offset, e))?;
            if buf.is_empty() {
                return Err(ParseError::Truncated {
                    offset: self.offset,
                    inside,
                });
            }
            let stop = memchr::memchr2(b'"', b'\\', buf);
            let plain = &buf[..stop.unwrap_or(buf.len())];
            let keep = plain.len().min(limit.saturating_sub(bytes.len()));
            cut |= keep < plain.len();
            room(bytes, keep, inside)?;
            bytes.extend_from_slice(&plain[..keep]);
            let Some(stop) = stop else {
                let n = buf.len();
                self.input.consume(n);
                self.offset += n as u64;
                continue;
            };
            let quote = buf[stop] == b'"';
            self.input.consume(stop + 1);
            self.offset += stop as u64 + 1;
            if quote {
                break;
            }
            if bytes.len() < limit {
                self.escape(bytes, inside)?;
            } else {
                scratch.clear();
                self.escape(&mut scratch, inside)?;
                cut = true;
            }
        }
        if cut {
            bytes.truncate(limit.min(bytes.len()));
            // Drop a character the cut split in two.
            if let Err(e) = std::str::from_utf8(&bytes[start..]) {
                if e.error_len().is_none() {
                    bytes.truncate(start + e.valid_up_to());
                }
            }
        }
        if std::str::from_utf8(&bytes[start..]).is_err() {
            let fixed = String::from_utf8_lossy(&bytes[start..]).into_owned();
            bytes.truncate(start);
            room(bytes, fixed.len(), inside)?;
            bytes.extend_from_slice(fixed.as_bytes());
        }
        if cut {
            room(bytes, 3, inside)?;
            bytes.extend_from_slice("\u{2026}".as_bytes());
        }
        Ok(())
    }

    fn byte(&mut self, inside: &'static str) -> Result<u8, ParseError> {
        match self.peek_raw()? {
            Some(b) => {
                self.bump();
                Ok(b)
            }
            None => Err(ParseError::Truncated {
                offset: self.offset,
                inside,
            }),
        }
    }

    fn hex4(&mut self, inside: &'static str) -> Result<u32, ParseError> {
        let mut v = 0;
        for _ in 0..4 {
            let b = self.byte(inside)?;
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| self.syntax("bad \\u escape"))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    /// After a backslash: appends the escaped character.
    fn escape(&mut self, out: &mut Vec<u8>, inside: &'static str) -> Result<(), ParseError> {
        let c = match self.byte(inside)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4(inside)?;
                if (0xD800..0xDC00).contains(&unit) && self.peek_raw()? == Some(b'\\') {
                    self.bump();
                    if self.byte(inside)? != b'u' {
                        return Err(self.syntax("bad escape after a high surrogate"));
                    }
                    let low = self.hex4(inside)?;
                    if (0xDC00..0xE000).contains(&low) {
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                            .unwrap_or('\u{FFFD}')
                    } else {
                        // A lone high surrogate followed by another escape: keep both, leniently.
                        out.extend_from_slice("\u{FFFD}".as_bytes());
                        char::from_u32(low).unwrap_or('\u{FFFD}')
                    }
                } else {
                    char::from_u32(unit).unwrap_or('\u{FFFD}')
                }
            }
            b => return Err(self.syntax(format!("unknown escape '\\{}'", printable(b)))),
        };
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }

    /// Skips one value of any kind (nesting deeper than [`MAX_DEPTH`] is an error, not a crash).
    pub fn skip_value(&mut self, inside: &'static str) -> Result<(), ParseError> {
        self.value_at(0, inside, None).map(|_| ())
    }

    /// Reads one small value, such as the snapshot's header: at most [`MAX_VALUE_BYTES`].
    pub fn value(&mut self, inside: &'static str) -> Result<serde_json::Value, ParseError> {
        let end = self.offset + MAX_VALUE_BYTES;
        self.value_at(0, inside, Some(end))
    }

    /// A value kept (`keep`: the offset it must end by), or skipped (None).
    fn value_at(
        &mut self,
        depth: u32,
        inside: &'static str,
        keep: Option<u64>,
    ) -> Result<serde_json::Value, ParseError> {
        use serde_json::Value;
        if depth > MAX_DEPTH {
            return Err(self.syntax(format!("values nested deeper than {MAX_DEPTH} in {inside}")));
        }
        match self.peek(inside)? {
            b'"' => {
                let mut s = String::new();
                self.string_into(&mut s, inside)?;
                Ok(if keep.is_some() {
                    Value::String(s)
                } else {
                    Value::Null
                })
            }
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.bump();
                let mut items = Vec::new();
                let mut fields = serde_json::Map::new();
                if !self.empty(close, inside)? {
                    loop {
                        let mut key = String::new();
                        if open == b'{' {
                            self.string_into(&mut key, inside)?;
                            self.expect(b':', inside)?;
                        }
                        let v = self.value_at(depth + 1, inside, keep)?;
                        if let Some(end) = keep {
                            if self.offset > end {
                                return Err(self.syntax(format!(
                                    "{inside} is larger than {MAX_VALUE_BYTES} bytes"
                                )));
                            }
                            if open == b'{' {
                                fields.insert(key, v);
                            } else {
                                items.push(v);
                            }
                        }
                        if !self.next_in(close, inside)? {
                            break;
                        }
                    }
                }
                Ok(if keep.is_none() {
                    Value::Null
                } else if open == b'{' {
                    Value::Object(fields)
                } else {
                    Value::Array(items)
                })
            }
            b if b == b'-' || b.is_ascii_alphanumeric() => {
                let mut text = String::new();
                while let Some(b) = self.peek_raw()? {
                    if !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')) {
                        break;
                    }
                    if text.len() > 64 {
                        return Err(self.syntax(format!("literal too long in {inside}")));
                    }
                    text.push(b as char);
                    self.bump();
                }
                if keep.is_none() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(&text)
                    .map_err(|_| self.syntax(format!("bad literal {text:?} in {inside}")))
            }
            b => Err(self.syntax(format!("unexpected '{}' in {inside}", printable(b)))),
        }
    }

    /// Bytes after the top-level value must be whitespace only.
    pub fn end(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek_raw()? {
                None => return Ok(()),
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.bump(),
                Some(b) => {
                    return Err(
                        self.syntax(format!("unexpected '{}' after the snapshot", printable(b)))
                    )
                }
            }
        }
    }
}

/// Room for `n` more bytes of a string (amortized growth), or [`ParseError::Memory`] instead of an
/// abort.
fn room(bytes: &mut Vec<u8>, n: usize, inside: &str) -> Result<(), ParseError> {
    bytes
        .try_reserve(n)
        .map_err(|e| ParseError::Memory(format!("a string in {inside}: {e}")))
}

fn printable(b: u8) -> String {
    if b.is_ascii_graphic() {
        (b as char).to_string()
    } else {
        format!("\\x{b:02x}")
    }
}

/// A number as DevTools stores it in its `Uint32Array`s (ECMAScript's ToUint32): modulo 2^32, so a
/// number wider than 32 bits (Julia's node ids) keeps its low 32 bits; too large for a double, 0.
fn to_uint32(value: f64) -> u32 {
    if value.is_finite() {
        (value % 4_294_967_296.0) as u32
    } else {
        0
    }
}

pub(crate) fn io_at(offset: u64, source: std::io::Error) -> ParseError {
    ParseError::Read { offset, source }
}

/// Bytes the fast path keeps away from the end of a buffer: a whole `u32` (10 digits) and the byte
/// after it always fit, so it never has to carry a number over to the next buffer.
const FAST_MARGIN: usize = 16;

enum Fast {
    /// Stopped within `FAST_MARGIN` of the end of the buffer.
    Margin,
    /// A byte the slow path must judge (`]`, an error, or an 11-digit number).
    Slow,
    Error(&'static str),
}

/// The common case of [`Json::u32_array_into`]: whole numbers, commas and whitespace, far from the
/// end of the buffer. Leaves `]` and anything unexpected to the byte-by-byte state machine.
#[inline(always)]
fn fast_u32s(
    buf: &[u8],
    i: &mut usize,
    want_value: &mut bool,
    first: &mut bool,
    out: &mut Vec<u32>,
) -> Fast {
    let mut at = *i;
    let result = loop {
        if at + FAST_MARGIN > buf.len() {
            break Fast::Margin;
        }
        let b = buf[at];
        if *want_value && b.is_ascii_digit() {
            let start = at;
            let mut value = u64::from(b - b'0');
            at += 1;
            while buf[at].is_ascii_digit() && at - start < 11 {
                value = value * 10 + u64::from(buf[at] - b'0');
                at += 1;
            }
            if at - start > 10 {
                at = start;
                break Fast::Slow;
            }
            if value > u64::from(u32::MAX) {
                // Kept modulo 2^32 as DevTools does: the slow path does it as DevTools would.
                at = start;
                break Fast::Slow;
            }
            if matches!(buf[at], b'.' | b'e' | b'E') {
                break Fast::Error("expected a whole number");
            }
            out.push(value as u32);
            *want_value = false;
            *first = false;
        } else if b == b',' && !*want_value {
            *want_value = true;
            at += 1;
        } else if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            at += 1;
        } else {
            break Fast::Slow;
        }
    };
    *i = at;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn arrays_read_the_same_whatever_the_buffer_size() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut text = b"".to_vec();
        let mut expected = Vec::new();
        for i in 0..20_000 {
            // 1 to 11 digits, some with leading zeros, some above u32::MAX (kept modulo 2^32).
            let digits = 1 + (rng.next() % 11) as usize;
            let n: String = (0..digits)
                .map(|_| char::from(b'0' + (rng.next() % 10) as u8))
                .collect();
            expected.push(to_uint32(n.parse::<f64>().unwrap()));
            if i > 0 {
                text.extend_from_slice(
                    [",", "\n,", " , ", ",\n", "\t,\r\n"][(rng.next() % 5) as usize].as_bytes(),
                );
            }
            text.extend_from_slice(n.as_bytes());
        }
        text.extend_from_slice(b"]");
        for capacity in [1, 7, 16, 17, 64, 1000, 1 << 20] {
            let mut j = Json::new(std::io::BufReader::with_capacity(capacity, &text[..]));
            let mut got = Vec::new();
            j.u32_array_into(&mut got, usize::MAX, "test").unwrap();
            assert_eq!(got, expected, "buffers of {capacity} bytes");
        }
    }
}
