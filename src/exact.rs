//! Exact rational numbers for the polynomial parts of the analysis.
//!
//! Loss parameters arrive as decimal strings such as `-0.336` or `1.5e-3`. They are parsed
//! into [`Rational`] without passing through `f64`, so that a comparison at a boundary (for
//! example the null-epoch invariant evaluating to exactly zero) is decided exactly.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use thiserror::Error;

/// An arbitrary-precision rational number.
pub type Rational = BigRational;

/// A decimal string that could not be read as an exact, finite number.
#[derive(Debug, Error, Clone, PartialEq)]
#[error(
    "invalid number {text:?}: expected a finite decimal such as 2, -0.336, 1.5e-3 or a \
     fraction such as 1/3 (NaN and infinity are rejected)"
)]
pub struct ParseRationalError {
    /// The text as given.
    pub text: String,
}

/// Parses a finite decimal (`-12.5`, `3e-4`, `.5`) or a fraction (`1/3`) exactly.
pub fn parse_rational(text: &str) -> Result<Rational, ParseRationalError> {
    let error = || ParseRationalError {
        text: text.to_string(),
    };
    let trimmed = text.trim();
    if let Some((numerator, denominator)) = trimmed.split_once('/') {
        let numerator = parse_decimal(numerator.trim()).ok_or_else(error)?;
        let denominator = parse_decimal(denominator.trim()).ok_or_else(error)?;
        if denominator.is_zero() {
            return Err(error());
        }
        return Ok(numerator / denominator);
    }
    parse_decimal(trimmed).ok_or_else(error)
}

fn parse_decimal(text: &str) -> Option<Rational> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // A bound on the exponent keeps `10^exponent` from exhausting memory on hostile input;
    // f64 itself spans only about 1e-324..1e308.
    if exponent.unsigned_abs() > 100_000 {
        return None;
    }
    let all_digits = format!("{whole}{fraction}");
    let mut value = Rational::from_integer(all_digits.parse::<BigInt>().ok()?);
    let scale = exponent - fraction.len() as i32;
    let ten = Rational::from_integer(BigInt::from(10));
    let power = num_traits::pow(ten, scale.unsigned_abs() as usize);
    if scale >= 0 {
        value *= power;
    } else {
        value /= power;
    }
    Some(if negative { -value } else { value })
}

/// Converts to the nearest `f64`; magnitudes beyond its range become infinite.
pub fn to_f64(value: &Rational) -> f64 {
    if let Some(x) = value.to_f64()
        && x.is_finite()
    {
        return x;
    }
    // `BigRational::to_f64` returns `None` when numerator or denominator overflow f64 even
    // where the quotient does not, so fall back to a ratio of scaled integers.
    let numerator = value.numer();
    let denominator = value.denom();
    let shift = numerator.bits() as i64 - denominator.bits() as i64;
    let scaled = if shift > 0 {
        Rational::new(numerator.clone(), denominator << (shift as usize))
    } else {
        Rational::new(numerator << ((-shift) as usize), denominator.clone())
    };
    scaled.to_f64().unwrap_or(f64::NAN) * 2f64.powi(shift.clamp(-2000, 2000) as i32)
}

/// Converts a finite `f64` to the rational with exactly the same value.
pub fn from_f64(value: f64) -> Option<Rational> {
    Rational::from_float(value)
}

/// Formats a rational as a short decimal when it has one, otherwise as `p/q`.
pub fn format_rational(value: &Rational) -> String {
    if value.is_integer() {
        return value.numer().to_string();
    }
    let mut denominator = value.denom().clone();
    let two = BigInt::from(2);
    let five = BigInt::from(5);
    let mut places = 0usize;
    for factor in [&two, &five] {
        while (&denominator % factor).is_zero() {
            denominator /= factor;
        }
    }
    if !denominator.is_one() {
        return format!("{}/{}", value.numer(), value.denom());
    }
    let mut scaled = value.abs();
    while !scaled.is_integer() {
        scaled *= Rational::from_integer(BigInt::from(10));
        places += 1;
    }
    let digits = format!("{:0>width$}", scaled.numer(), width = places + 1);
    let (whole, fraction) = digits.split_at(digits.len() - places);
    let sign = if value.is_negative() { "-" } else { "" };
    format!("{sign}{whole}.{fraction}")
}

/// Builds the rational `numerator / denominator` from small integers.
pub fn ratio(numerator: i64, denominator: i64) -> Rational {
    Rational::new(BigInt::from(numerator), BigInt::from(denominator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimals_exactly() {
        assert_eq!(parse_rational("-0.336").unwrap(), ratio(-336, 1000));
        assert_eq!(parse_rational("1.5e-3").unwrap(), ratio(15, 10_000));
        assert_eq!(parse_rational("2E2").unwrap(), ratio(200, 1));
        assert_eq!(parse_rational(".5").unwrap(), ratio(1, 2));
        assert_eq!(parse_rational("1/3").unwrap(), ratio(1, 3));
    }

    #[test]
    fn rejects_non_finite_and_garbage() {
        for text in [
            "nan", "NaN", "inf", "-inf", "", "-", "1..2", "1/0", "0x10", "1e",
        ] {
            assert!(parse_rational(text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn formats_terminating_and_repeating() {
        assert_eq!(format_rational(&ratio(-336, 1000)), "-0.336");
        assert_eq!(format_rational(&ratio(1, 3)), "1/3");
        assert_eq!(format_rational(&ratio(7, 1)), "7");
        assert_eq!(format_rational(&ratio(1, 40)), "0.025");
    }

    #[test]
    fn converts_huge_ratios_to_f64() {
        let big = parse_rational("1e400").unwrap() / parse_rational("1e390").unwrap();
        assert!((to_f64(&big) - 1e10).abs() < 1e-3);
        let tiny = parse_rational("1e-300").unwrap();
        assert!((to_f64(&tiny) / 1e-300 - 1.0).abs() < 1e-12);
    }
}
