//! Parsing of sample lines: a fast path for well-formed lines and serde_json for the rest.
//!
//! The fast path accepts exactly the JSON objects with the four keys `epoch`, `index`,
//! `label` and `probs` (each once, in any order, with optional whitespace), unsigned integers
//! for the first three and an array of JSON numbers for `probs`. Anything else (escapes in
//! keys, unknown keys, duplicates, signs on integers, numbers out of range) makes it give up,
//! and the line is parsed again by serde_json into [`SampleRecord`], which either accepts it
//! or produces the error message. So the fast path never decides whether a line is valid; it
//! only has to agree with serde_json on the lines it accepts.
//!
//! Numbers are converted with Clinger's exact fast path when the decimal significand has at
//! most 19 digits, fits in 53 bits and the decimal exponent lies in [-22, 22]. Both factors
//! are then exact doubles, so one IEEE multiplication or division rounds correctly. Other
//! numbers go to `str::parse::<f64>`, which is also correctly rounded, as is serde_json with
//! its `float_roundtrip` feature. Every path yields the nearest double.

use crate::runlog::SampleRecord;

/// The fields of one sample line, reused between lines to avoid allocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawSample {
    pub epoch: u32,
    pub index: u64,
    pub label: u64,
    pub probs: Vec<f64>,
}

/// Parses one sample line (without its newline) into `out`.
///
/// # Errors
///
/// Returns serde_json's message, with the column, when the line is not a sample record.
pub fn parse_sample(line: &[u8], out: &mut RawSample) -> Result<(), String> {
    if parse_sample_fast(line, out) {
        return Ok(());
    }
    match serde_json::from_slice::<SampleRecord>(line) {
        Ok(record) => {
            out.epoch = record.epoch;
            out.index = record.index;
            out.label = u64::from(record.label);
            out.probs = record.probs;
            Ok(())
        }
        Err(error) => Err(describe_json_error(&error)),
    }
}

/// Formats a serde_json error as "MESSAGE at column C", dropping its line number, which is
/// always 1 for a single line.
pub fn describe_json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let text = match message.rfind(" at line ") {
        Some(position) => &message[..position],
        None => &message,
    };
    if error.column() > 0 {
        format!("{text} at column {}", error.column())
    } else {
        text.to_string()
    }
}

/// Tries the fast path; returns `false` without a diagnosis when the line needs serde_json.
pub fn parse_sample_fast(line: &[u8], out: &mut RawSample) -> bool {
    let mut cursor = Cursor {
        bytes: line,
        pos: 0,
    };
    out.probs.clear();
    cursor.skip_whitespace();
    if !cursor.eat(b'{') {
        return false;
    }
    let mut seen = 0u8;
    loop {
        cursor.skip_whitespace();
        let Some(key) = cursor.key() else {
            return false;
        };
        cursor.skip_whitespace();
        if !cursor.eat(b':') {
            return false;
        }
        cursor.skip_whitespace();
        let (bit, ok) = match key {
            b"epoch" => (
                1,
                cursor
                    .unsigned()
                    .and_then(|v| u32::try_from(v).ok())
                    .map(|v| out.epoch = v)
                    .is_some(),
            ),
            b"index" => (2, cursor.unsigned().map(|v| out.index = v).is_some()),
            b"label" => (4, cursor.unsigned().map(|v| out.label = v).is_some()),
            b"probs" => (8, cursor.number_array(&mut out.probs)),
            _ => return false,
        };
        if !ok || seen & bit != 0 {
            return false;
        }
        seen |= bit;
        cursor.skip_whitespace();
        if cursor.eat(b',') {
            continue;
        }
        if !cursor.eat(b'}') {
            return false;
        }
        cursor.skip_whitespace();
        return seen == 15 && cursor.pos == line.len();
    }
}

/// Exact powers of ten as doubles, `10^0` to `10^22`.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Largest significand that a double represents exactly.
const MAX_EXACT_SIGNIFICAND: u64 = 1 << 53;

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.pos += 1;
        }
    }

    fn digits(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        &self.bytes[start..self.pos]
    }

    /// Reads a key without escapes and returns it without its quotes.
    fn key(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => return None,
                _ => self.pos += 1,
            }
        }
        let key = &self.bytes[start..self.pos];
        self.pos += 1;
        Some(key)
    }

    /// Reads a JSON integer without sign, fraction or exponent that fits in u64.
    fn unsigned(&mut self) -> Option<u64> {
        let digits = self.digits();
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        digits.iter().try_fold(0u64, |value, &d| {
            value.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }

    fn number_array(&mut self, out: &mut Vec<f64>) -> bool {
        if !self.eat(b'[') {
            return false;
        }
        self.skip_whitespace();
        if self.eat(b']') {
            return true;
        }
        loop {
            match self.number() {
                Some(value) => out.push(value),
                None => return false,
            }
            self.skip_whitespace();
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
            self.skip_whitespace();
        }
    }

    /// Reads a JSON number and converts it to the nearest double.
    ///
    /// One pass reads the digits into a significand. With at most 19 digits the significand
    /// cannot overflow. When it also fits in 53 bits and the decimal scale lies in
    /// [-22, 22], the value is `significand * 10^scale` in one exact operation (Clinger's
    /// fast path). Otherwise `str::parse` reads the digits again.
    fn number(&mut self) -> Option<f64> {
        let bytes = self.bytes;
        let start = self.pos;
        let mut i = start;
        let negative = bytes.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let integer_start = i;
        let mut significand: u64 = 0;
        while let Some(&d) = bytes.get(i).filter(|d| d.is_ascii_digit()) {
            significand = significand
                .wrapping_mul(10)
                .wrapping_add(u64::from(d - b'0'));
            i += 1;
        }
        let integer_digits = i - integer_start;
        if integer_digits == 0 || (integer_digits > 1 && bytes[integer_start] == b'0') {
            return None;
        }
        let mut fraction_digits = 0;
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let fraction_start = i;
            while let Some(eight) = eight_digits(bytes, i) {
                significand = significand.wrapping_mul(100_000_000).wrapping_add(eight);
                i += 8;
            }
            while let Some(&d) = bytes.get(i).filter(|d| d.is_ascii_digit()) {
                significand = significand
                    .wrapping_mul(10)
                    .wrapping_add(u64::from(d - b'0'));
                i += 1;
            }
            fraction_digits = i - fraction_start;
            if fraction_digits == 0 {
                return None;
            }
        }
        let mut exponent: i64 = 0;
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            let exponent_negative = bytes.get(i) == Some(&b'-');
            if exponent_negative || bytes.get(i) == Some(&b'+') {
                i += 1;
            }
            let exponent_start = i;
            while let Some(&d) = bytes.get(i).filter(|d| d.is_ascii_digit()) {
                // Saturates far beyond any double's range, where the slow path takes over.
                exponent = (exponent * 10 + i64::from(d - b'0')).min(1 << 32);
                i += 1;
            }
            if i == exponent_start {
                return None;
            }
            if exponent_negative {
                exponent = -exponent;
            }
        }
        self.pos = i;

        let scale = exponent - fraction_digits as i64;
        let fits = integer_digits + fraction_digits <= 19 && significand <= MAX_EXACT_SIGNIFICAND;
        let power = POWERS_OF_TEN.get(scale.unsigned_abs() as usize);
        let magnitude = match power {
            _ if significand == 0 && integer_digits + fraction_digits <= 19 => 0.0,
            Some(&power) if fits && scale >= 0 => significand as f64 * power,
            Some(&power) if fits => significand as f64 / power,
            _ => return self.slow_number(start),
        };
        Some(if negative { -magnitude } else { magnitude })
    }

    fn slow_number(&self, start: usize) -> Option<f64> {
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).ok()?;
        let value: f64 = text.parse().ok()?;
        // serde_json rejects numbers beyond the double range; leave those to it.
        value.is_finite().then_some(value)
    }
}

/// Returns the value of the eight ASCII digits at `bytes[at..at + 8]`, or `None` when fewer
/// than eight bytes remain or one of them is not a digit.
///
/// The eight bytes are read as one little-endian word, so the first digit is the lowest
/// byte. Three multiply-and-shift steps combine neighbouring digits into pairs, pairs into
/// groups of four and the two groups into the result (the SWAR method of Lemire, "Number
/// Parsing at a Gigabyte per Second", Software: Practice and Experience, 2021).
fn eight_digits(bytes: &[u8], at: usize) -> Option<u64> {
    let word = u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?);
    // A byte is a digit when its high nibble is 3 and adding 6 leaves the high nibble at 3.
    let high_nibbles = word & 0xF0F0_F0F0_F0F0_F0F0;
    let carried = word.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
    if high_nibbles | (carried >> 4) != 0x3333_3333_3333_3333 {
        return None;
    }
    let digits = word - 0x3030_3030_3030_3030;
    // Every even byte k now contains 10 d_k + d_(k+1).
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8);
    let low = (pairs & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let high = ((pairs >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    Some(low.wrapping_add(high) >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(line: &str) -> Option<RawSample> {
        let mut out = RawSample::default();
        parse_sample_fast(line.as_bytes(), &mut out).then_some(out)
    }

    #[test]
    fn fast_path_reads_canonical_line() {
        let sample = fast(r#"{"epoch":3,"index":17,"label":2,"probs":[0.25,0.5,2.5e-1]}"#);
        let expected = RawSample {
            epoch: 3,
            index: 17,
            label: 2,
            probs: vec![0.25, 0.5, 0.25],
        };
        assert_eq!(sample, Some(expected));
    }

    #[test]
    fn fast_path_accepts_any_key_order_and_spaces() {
        let sample = fast(r#" { "probs" : [ 1 , 0 ] , "label" : 0, "index":0 ,"epoch":1 } "#);
        assert_eq!(sample.map(|s| s.probs), Some(vec![1.0, 0.0]));
    }

    #[test]
    fn fast_path_gives_up_on_unusual_lines() {
        for line in [
            r#"{"epoch":1,"index":0,"label":0}"#,
            r#"{"epoch":1,"epoch":1,"index":0,"label":0,"probs":[]}"#,
            r#"{"epoch":1,"index":0,"label":0,"probs":[],"extra":1}"#,
            r#"{"epoch":-1,"index":0,"label":0,"probs":[]}"#,
            r#"{"epoch":1.0,"index":0,"label":0,"probs":[]}"#,
            r#"{"epoch":01,"index":0,"label":0,"probs":[]}"#,
            r#"{"epoch":4294967296,"index":0,"label":0,"probs":[]}"#,
            r#"{"epoch":1,"index":0,"label":0,"probs":[1e999]}"#,
            r#"{"epoch":1,"index":0,"label":0,"probs":[.5]}"#,
            r#"{"epoch":1,"index":0,"label":0,"probs":[0.5,]}"#,
            r#"{"ep\och":1,"index":0,"label":0,"probs":[]}"#,
            r#"{"epoch":1,"index":0,"label":0,"probs":[]} x"#,
            r#"{"epoch":1,"index":0,"label":0,"probs":[0.1"#,
        ] {
            assert_eq!(fast(line), None, "{line}");
        }
    }

    #[test]
    fn slow_path_matches_serde_on_long_significands() {
        let line = r#"{"epoch":1,"index":0,"label":0,"probs":[0.10000000149011612,1e-320]}"#;
        let sample = fast(line).unwrap();
        let reference: SampleRecord = serde_json::from_str(line).unwrap();
        assert_eq!(sample.probs, reference.probs);
    }

    #[test]
    fn eight_digits_reads_every_position() {
        for text in ["00000000", "12345678", "99999999", "10000001", "09876543"] {
            let expected: u64 = text.parse().unwrap();
            assert_eq!(eight_digits(text.as_bytes(), 0), Some(expected), "{text}");
        }
        assert_eq!(eight_digits(b"x12345678", 1), Some(12_345_678));
        assert_eq!(eight_digits(b"1234567", 0), None);
        for bad in ["1234567/", "1234567:", "1234.678", "a2345678", "12345 78"] {
            assert_eq!(eight_digits(bad.as_bytes(), 0), None, "{bad}");
        }
    }

    #[test]
    fn error_names_column() {
        let mut out = RawSample::default();
        let error = parse_sample(
            br#"{"epoch":1,"index":0,"label":0,"probs":[0.1,}"#,
            &mut out,
        );
        let message = error.unwrap_err();
        assert!(message.contains("at column"), "{message}");
        assert!(!message.contains("at line"), "{message}");
    }
}
