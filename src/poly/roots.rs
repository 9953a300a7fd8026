//! Exact real roots of univariate polynomials with rational coefficients.
//!
//! A polynomial is given as its coefficients in ascending order, `[a_0, a_1, .., a_d]` for
//! `a_0 + a_1 x + .. + a_d x^d`; trailing zeros are allowed and ignored. An empty slice or
//! all-zero coefficients give the zero polynomial.
//!
//! # Method
//!
//! [`sign_change_roots`] isolates the distinct roots of the square-free part `p / gcd(p, p')`
//! with a Sturm sequence and bisects each isolating interval in exact rationals. It keeps a
//! root only where `p` itself changes sign across it, which happens exactly at roots of odd
//! multiplicity. Sturm's theorem: for a square-free `q` with Sturm sequence
//! `q_0 = q, q_1 = q', q_{i+1} = -rem(q_{i-1}, q_i)`, the number of distinct real roots in the
//! half-open interval `(a, b]` is `V(a) - V(b)`, where `V(x)` counts the sign changes of
//! `q_0(x), q_1(x), ..` with zeros skipped.

use std::cmp::Ordering;

use num_traits::{Signed, Zero};

use crate::exact::{Rational, ratio};

/// An interval that contains exactly one root of odd multiplicity.
///
/// Either `lower < upper` and the polynomial has opposite nonzero signs at the two ends, or
/// `lower == upper` and the root is this rational number exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootBracket {
    pub lower: Rational,
    pub upper: Rational,
}

impl RootBracket {
    /// Returns whether the bracket pins the root exactly (`lower == upper`).
    pub fn is_exact(&self) -> bool {
        self.lower == self.upper
    }

    /// Returns the midpoint, the best single estimate of the root.
    pub fn midpoint(&self) -> Rational {
        (&self.lower + &self.upper) / ratio(2, 1)
    }
}

/// Evaluates the polynomial at `x` exactly (Horner's scheme).
pub fn evaluate(coefficients: &[Rational], x: &Rational) -> Rational {
    let mut value = Rational::zero();
    for coefficient in coefficients.iter().rev() {
        value = value * x + coefficient;
    }
    value
}

/// Returns the sign of the polynomial at `x`: `Less`, `Equal` (a root, or the zero
/// polynomial) or `Greater`.
pub fn sign_at(coefficients: &[Rational], x: &Rational) -> Ordering {
    evaluate(coefficients, x).cmp(&Rational::zero())
}

/// Brackets every root of odd multiplicity strictly inside `(lower, upper)`, in increasing
/// order.
///
/// These roots are exactly the points where the polynomial changes sign. Roots of even
/// multiplicity, where it only touches zero, are not reported, nor are roots at `lower` or
/// `upper` themselves. Each bracket is at most `width` wide, or has `lower == upper` when
/// bisection hit a rational root exactly. The zero polynomial and nonzero constants have no
/// sign change, so they give an empty list, as does `lower >= upper`. Consecutive brackets
/// may share an end, which is then not a root.
///
/// # Panics
///
/// Panics if `width` is not positive, because no interval of positive length can be that
/// narrow around an irrational root.
pub fn sign_change_roots(
    coefficients: &[Rational],
    lower: &Rational,
    upper: &Rational,
    width: &Rational,
) -> Vec<RootBracket> {
    assert!(
        width.is_positive(),
        "root bracket width must be positive, got {width}"
    );
    let polynomial = trimmed(coefficients);
    if polynomial.len() < 2 || lower >= upper {
        return Vec::new();
    }
    let square_free = divide(&polynomial, &gcd(&polynomial, &derivative(&polynomial))).0;
    let sturm = SturmSequence::new(&square_free);

    let mut isolated = Vec::new();
    sturm.isolate(lower.clone(), upper.clone(), &mut isolated);

    let mut brackets = Vec::new();
    for interval in isolated {
        let bracket = match interval {
            Isolated::Exact(root) => {
                if multiplicity(&polynomial, &root).is_multiple_of(2) {
                    continue;
                }
                RootBracket {
                    lower: root.clone(),
                    upper: root,
                }
            }
            Isolated::Interval(a, b) => match sturm.refine(a, b, width) {
                Isolated::Exact(root) => {
                    if multiplicity(&polynomial, &root).is_multiple_of(2) {
                        continue;
                    }
                    RootBracket {
                        lower: root.clone(),
                        upper: root,
                    }
                }
                Isolated::Interval(a, b) => {
                    // The ends are not roots of the square-free part, so not of `polynomial`
                    // either, and the only root between them is the bracketed one: the sign
                    // changes across it exactly when its multiplicity is odd.
                    if sign_at(&polynomial, &a) == sign_at(&polynomial, &b) {
                        continue;
                    }
                    RootBracket { lower: a, upper: b }
                }
            },
        };
        brackets.push(bracket);
    }
    brackets
}

/// A distinct root located by isolation: exactly, or inside an open interval whose ends are
/// not roots and which contains no other root.
enum Isolated {
    Exact(Rational),
    Interval(Rational, Rational),
}

struct SturmSequence {
    polynomials: Vec<Vec<Rational>>,
}

impl SturmSequence {
    /// Builds the Sturm sequence of a square-free polynomial of degree at least 1.
    fn new(square_free: &[Rational]) -> SturmSequence {
        let mut polynomials = vec![
            monic_scaled(square_free),
            monic_scaled(&derivative(square_free)),
        ];
        loop {
            let count = polynomials.len();
            let remainder = divide(&polynomials[count - 2], &polynomials[count - 1]).1;
            if remainder.is_empty() {
                break;
            }
            let negated: Vec<Rational> = remainder.iter().map(|c| -c).collect();
            polynomials.push(monic_scaled(&negated));
        }
        SturmSequence { polynomials }
    }

    fn square_free(&self) -> &[Rational] {
        &self.polynomials[0]
    }

    /// Counts the sign changes of the sequence at `x`, skipping zeros.
    fn variations(&self, x: &Rational) -> usize {
        let mut count = 0;
        let mut previous = Ordering::Equal;
        for polynomial in &self.polynomials {
            let sign = sign_at(polynomial, x);
            if sign == Ordering::Equal {
                continue;
            }
            if previous != Ordering::Equal && sign != previous {
                count += 1;
            }
            previous = sign;
        }
        count
    }

    /// Counts the distinct roots strictly inside `(a, b)`.
    fn count_open(&self, a: &Rational, b: &Rational) -> usize {
        let half_open = self.variations(a) - self.variations(b);
        if sign_at(self.square_free(), b) == Ordering::Equal {
            half_open - 1
        } else {
            half_open
        }
    }

    /// Appends, in increasing order, one entry per distinct root strictly inside `(a, b)`.
    fn isolate(&self, a: Rational, b: Rational, out: &mut Vec<Isolated>) {
        let count = self.count_open(&a, &b);
        if count == 0 {
            return;
        }
        if count == 1 {
            out.push(self.separate_ends(a, b));
            return;
        }
        let middle = (&a + &b) / ratio(2, 1);
        self.isolate(a, middle.clone(), out);
        if sign_at(self.square_free(), &middle) == Ordering::Equal {
            out.push(Isolated::Exact(middle.clone()));
        }
        self.isolate(middle, b, out);
    }

    /// Shrinks `(a, b)`, which contains exactly one root, until neither end is a root.
    fn separate_ends(&self, mut a: Rational, mut b: Rational) -> Isolated {
        let is_root = |x: &Rational| sign_at(self.square_free(), x) == Ordering::Equal;
        // The root lies strictly inside, so halving reaches ends that are not roots after
        // finitely many steps.
        while is_root(&a) || is_root(&b) {
            let middle = (&a + &b) / ratio(2, 1);
            if is_root(&middle) {
                return Isolated::Exact(middle);
            }
            if self.count_open(&a, &middle) == 1 {
                b = middle;
            } else {
                a = middle;
            }
        }
        Isolated::Interval(a, b)
    }

    /// Bisects an isolating interval with non-root ends until it is at most `width` wide.
    fn refine(&self, mut a: Rational, mut b: Rational, width: &Rational) -> Isolated {
        let sign_a = sign_at(self.square_free(), &a);
        while &b - &a > *width {
            let middle = (&a + &b) / ratio(2, 1);
            let sign_middle = sign_at(self.square_free(), &middle);
            if sign_middle == Ordering::Equal {
                return Isolated::Exact(middle);
            }
            if sign_middle == sign_a {
                a = middle;
            } else {
                b = middle;
            }
        }
        Isolated::Interval(a, b)
    }
}

/// Returns how many times `x - root` divides the nonzero polynomial.
fn multiplicity(polynomial: &[Rational], root: &Rational) -> usize {
    let mut current = polynomial.to_vec();
    let mut count = 0;
    while current.len() > 1 && evaluate(&current, root).is_zero() {
        current = divide_by_linear(&current, root);
        count += 1;
    }
    count
}

/// Divides by `x - root` where `root` is a root (synthetic division; the remainder is zero).
fn divide_by_linear(polynomial: &[Rational], root: &Rational) -> Vec<Rational> {
    let degree = polynomial.len() - 1;
    let mut quotient = vec![Rational::zero(); degree];
    let mut carry = Rational::zero();
    for index in (1..=degree).rev() {
        carry = carry * root + &polynomial[index];
        quotient[index - 1] = carry.clone();
    }
    quotient
}

/// Drops trailing zero coefficients, so the last entry (if any) is the leading coefficient.
fn trimmed(coefficients: &[Rational]) -> Vec<Rational> {
    let length = coefficients
        .iter()
        .rposition(|c| !c.is_zero())
        .map_or(0, |index| index + 1);
    coefficients[..length].to_vec()
}

fn derivative(polynomial: &[Rational]) -> Vec<Rational> {
    let derived: Vec<Rational> = polynomial
        .iter()
        .enumerate()
        .skip(1)
        .map(|(power, c)| c * ratio(power as i64, 1))
        .collect();
    trimmed(&derived)
}

/// Scales a nonzero polynomial by a positive constant so that its leading coefficient is
/// 1 or -1. Signs, and so Sturm counts, are unchanged, and coefficients stay smaller.
fn monic_scaled(polynomial: &[Rational]) -> Vec<Rational> {
    let leading = polynomial.last().expect("nonzero polynomial").abs();
    polynomial.iter().map(|c| c / &leading).collect()
}

/// Long division: returns `(quotient, remainder)` with `deg remainder < deg divisor`.
fn divide(dividend: &[Rational], divisor: &[Rational]) -> (Vec<Rational>, Vec<Rational>) {
    let divisor = trimmed(divisor);
    let leading = divisor.last().expect("division by the zero polynomial");
    let mut remainder = trimmed(dividend);
    if remainder.len() < divisor.len() {
        return (Vec::new(), remainder);
    }
    let mut quotient = vec![Rational::zero(); remainder.len() - divisor.len() + 1];
    while remainder.len() >= divisor.len() {
        let shift = remainder.len() - divisor.len();
        let factor = remainder.last().expect("nonempty") / leading;
        for (index, c) in divisor.iter().enumerate() {
            remainder[shift + index] -= &factor * c;
        }
        quotient[shift] = factor;
        remainder = trimmed(&remainder);
    }
    (quotient, remainder)
}

/// Returns the monic greatest common divisor of two polynomials, not both zero.
fn gcd(first: &[Rational], second: &[Rational]) -> Vec<Rational> {
    let mut a = trimmed(first);
    let mut b = trimmed(second);
    while !b.is_empty() {
        let remainder = divide(&a, &b).1;
        a = b;
        b = remainder;
    }
    let leading = a.last().expect("not both zero").clone();
    a.iter().map(|c| c / &leading).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poly(coefficients: &[i64]) -> Vec<Rational> {
        coefficients.iter().map(|&c| ratio(c, 1)).collect()
    }

    #[test]
    fn gcd_finds_repeated_factor() {
        // (x - 1)^2 (x + 2) = x^3 - 3x + 2, derivative 3x^2 - 3 = 3 (x - 1)(x + 1).
        let p = poly(&[2, -3, 0, 1]);
        assert_eq!(gcd(&p, &derivative(&p)), poly(&[-1, 1]));
    }

    #[test]
    fn divide_returns_quotient_and_remainder() {
        // x^2 + 1 = (x - 1)(x + 1) + 2.
        let (quotient, remainder) = divide(&poly(&[1, 0, 1]), &poly(&[-1, 1]));
        assert_eq!(quotient, poly(&[1, 1]));
        assert_eq!(remainder, poly(&[2]));
    }

    #[test]
    fn multiplicity_counts_factors() {
        // (x - 1)^3 = x^3 - 3x^2 + 3x - 1.
        let p = poly(&[-1, 3, -3, 1]);
        assert_eq!(multiplicity(&p, &ratio(1, 1)), 3);
        assert_eq!(multiplicity(&p, &ratio(2, 1)), 0);
    }

    #[test]
    fn irrational_root_is_bracketed() {
        // x^2 - 2 on (0, 2): one root, sqrt(2).
        let brackets = sign_change_roots(
            &poly(&[-2, 0, 1]),
            &ratio(0, 1),
            &ratio(2, 1),
            &ratio(1, 1_000_000),
        );
        assert_eq!(brackets.len(), 1);
        let bracket = &brackets[0];
        assert!(&bracket.upper - &bracket.lower <= ratio(1, 1_000_000));
        assert!(&bracket.lower * &bracket.lower < ratio(2, 1));
        assert!(&bracket.upper * &bracket.upper > ratio(2, 1));
    }

    #[test]
    fn midpoint_root_is_exact() {
        // x - 1 on (0, 2): the first bisection point is the root.
        let brackets =
            sign_change_roots(&poly(&[-1, 1]), &ratio(0, 1), &ratio(2, 1), &ratio(1, 100));
        assert_eq!(
            brackets,
            vec![RootBracket {
                lower: ratio(1, 1),
                upper: ratio(1, 1)
            }]
        );
    }

    #[test]
    fn roots_at_interval_ends_are_excluded() {
        // x (x - 1) on (0, 1): both roots are ends, none is strictly inside.
        let brackets = sign_change_roots(
            &poly(&[0, -1, 1]),
            &ratio(0, 1),
            &ratio(1, 1),
            &ratio(1, 100),
        );
        assert!(brackets.is_empty(), "{brackets:?}");
    }

    #[test]
    fn zero_and_constant_have_no_roots() {
        let width = ratio(1, 100);
        for coefficients in [poly(&[]), poly(&[0, 0]), poly(&[5]), poly(&[-3, 0, 0])] {
            let brackets = sign_change_roots(&coefficients, &ratio(-10, 1), &ratio(10, 1), &width);
            assert!(brackets.is_empty(), "{coefficients:?} gave {brackets:?}");
        }
    }

    #[test]
    fn empty_interval_has_no_roots() {
        let brackets =
            sign_change_roots(&poly(&[-1, 1]), &ratio(2, 1), &ratio(0, 1), &ratio(1, 100));
        assert!(brackets.is_empty());
    }

    #[test]
    fn sign_at_reports_root_and_signs() {
        let p = poly(&[-1, 1]);
        assert_eq!(sign_at(&p, &ratio(0, 1)), Ordering::Less);
        assert_eq!(sign_at(&p, &ratio(1, 1)), Ordering::Equal);
        assert_eq!(sign_at(&p, &ratio(3, 1)), Ordering::Greater);
        assert_eq!(evaluate(&poly(&[1, 0, 0, 1]), &ratio(2, 1)), ratio(9, 1));
    }
}
