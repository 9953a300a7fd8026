//! Exact polynomial algebra over the rationals.
//!
//! [`Poly`] is a sparse multivariate Laurent polynomial with [`Rational`] coefficients over
//! named variables ([`Var`]). Exponents are `i32`, so `n^-1` is a monomial like any other.
//! The terms sit in a `BTreeMap` from [`Monomial`] to coefficient with no zero coefficients,
//! so every polynomial has exactly one representation and `==` decides whether two
//! expressions are identical as polynomials. [`roots`] finds the sign changes of univariate
//! polynomials given as dense coefficient vectors, which [`Poly::to_dense_univariate`]
//! produces.
//!
//! The algebra exists to rederive the learning-rule coefficients of TaylorGLO losses from
//! their definitions and to check printed formulas against them exactly (see
//! [`crate::symbolic`]).

pub mod roots;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

use num_traits::{One, Signed, Zero};
use thiserror::Error;

use crate::exact::{Rational, format_rational, ratio, to_f64};

/// A named variable, such as `h`, `y`, `n` or `lambda_3`.
///
/// Variables compare by name, which fixes the order of factors inside a monomial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Var(pub &'static str);

impl Var {
    /// Returns the variable's name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A product of variables raised to nonzero integer powers; the empty product is 1.
///
/// Factors are kept sorted by variable with no zero exponents, so equal monomials have equal
/// representations.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Monomial {
    factors: Vec<(Var, i32)>,
}

impl Monomial {
    /// Returns the empty monomial, 1.
    pub fn one() -> Monomial {
        Monomial::default()
    }

    /// Builds `var^exponent` (1 when `exponent` is zero).
    pub fn power(var: Var, exponent: i32) -> Monomial {
        Monomial::from_factors(&[(var, exponent)])
    }

    /// Builds the product of `var^exponent` over the given factors; a variable may repeat,
    /// and its exponents then add up.
    pub fn from_factors(factors: &[(Var, i32)]) -> Monomial {
        let mut exponents: BTreeMap<Var, i32> = BTreeMap::new();
        for &(var, exponent) in factors {
            *exponents.entry(var).or_insert(0) += exponent;
        }
        let factors = exponents.into_iter().filter(|&(_, e)| e != 0).collect();
        Monomial { factors }
    }

    /// Returns the factors `(variable, exponent)`, sorted by variable, exponents nonzero.
    pub fn factors(&self) -> &[(Var, i32)] {
        &self.factors
    }

    /// Returns the exponent of `var` (0 when it does not occur).
    pub fn exponent(&self, var: Var) -> i32 {
        self.factors
            .iter()
            .find(|(v, _)| *v == var)
            .map_or(0, |&(_, e)| e)
    }

    /// Returns the sum of the exponents.
    pub fn total_degree(&self) -> i32 {
        self.factors.iter().map(|&(_, e)| e).sum()
    }

    /// Returns whether this is the empty monomial 1.
    pub fn is_one(&self) -> bool {
        self.factors.is_empty()
    }

    /// Returns the monomial with `var` removed.
    pub fn without(&self, var: Var) -> Monomial {
        let factors = self
            .factors
            .iter()
            .filter(|(v, _)| *v != var)
            .copied()
            .collect();
        Monomial { factors }
    }

    /// Returns the monomial with every exponent negated, its multiplicative inverse.
    pub fn inverse(&self) -> Monomial {
        let factors = self.factors.iter().map(|&(v, e)| (v, -e)).collect();
        Monomial { factors }
    }

    /// Multiplies two monomials by merging their sorted factor lists.
    pub fn multiply(&self, other: &Monomial) -> Monomial {
        let mut factors = Vec::with_capacity(self.factors.len() + other.factors.len());
        let (mut left, mut right) = (
            self.factors.iter().peekable(),
            other.factors.iter().peekable(),
        );
        loop {
            let next = match (left.peek(), right.peek()) {
                (None, None) => break,
                (Some(_), None) => *left.next().expect("peeked"),
                (None, Some(_)) => *right.next().expect("peeked"),
                (Some(&&(a, ea)), Some(&&(b, eb))) => {
                    if a < b {
                        left.next();
                        (a, ea)
                    } else if b < a {
                        right.next();
                        (b, eb)
                    } else {
                        left.next();
                        right.next();
                        (a, ea + eb)
                    }
                }
            };
            if next.1 != 0 {
                factors.push(next);
            }
        }
        Monomial { factors }
    }
}

impl fmt::Display for Monomial {
    /// Writes `lambda_1*lambda_4^2*n^-1`, or `1` for the empty monomial.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.factors.is_empty() {
            return f.write_str("1");
        }
        for (index, &(var, exponent)) in self.factors.iter().enumerate() {
            if index > 0 {
                f.write_str("*")?;
            }
            if exponent == 1 {
                write!(f, "{var}")?;
            } else {
                write!(f, "{var}^{exponent}")?;
            }
        }
        Ok(())
    }
}

/// A substitution that has no polynomial result.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PolyError {
    #[error(
        "cannot substitute {replacement} for {var}: the term with {var}^{exponent} needs the \
         inverse of the replacement, which is a polynomial only for a single nonzero term; \
         substitute a single term or clear the negative powers of {var} first"
    )]
    NoInverse {
        var: Var,
        exponent: i32,
        replacement: String,
    },
}

/// A sparse multivariate Laurent polynomial with exact rational coefficients.
///
/// The representation is canonical (no zero coefficients), so `==` is an exact identity test
/// of the expanded polynomials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Poly {
    terms: BTreeMap<Monomial, Rational>,
}

impl Poly {
    /// Returns the zero polynomial.
    pub fn zero() -> Poly {
        Poly::default()
    }

    /// Returns the constant polynomial 1.
    pub fn one() -> Poly {
        Poly::constant(Rational::one())
    }

    /// Returns a constant polynomial.
    pub fn constant(value: Rational) -> Poly {
        Poly::term(value, Monomial::one())
    }

    /// Returns the constant `numerator / denominator`.
    pub fn ratio(numerator: i64, denominator: i64) -> Poly {
        Poly::constant(ratio(numerator, denominator))
    }

    /// Returns the polynomial `var`.
    pub fn var(var: Var) -> Poly {
        Poly::term(Rational::one(), Monomial::power(var, 1))
    }

    /// Returns the single term `coefficient * monomial` (zero when the coefficient is zero).
    pub fn term(coefficient: Rational, monomial: Monomial) -> Poly {
        let mut poly = Poly::zero();
        poly.add_term(monomial, coefficient);
        poly
    }

    /// Builds `sum_k coefficients[k] var^k` from ascending coefficients.
    pub fn from_dense_univariate(var: Var, coefficients: &[Rational]) -> Poly {
        let mut poly = Poly::zero();
        for (power, coefficient) in coefficients.iter().enumerate() {
            let exponent = i32::try_from(power).expect("degree fits in i32");
            poly.add_term(Monomial::power(var, exponent), coefficient.clone());
        }
        poly
    }

    /// Returns whether this is the zero polynomial.
    pub fn is_zero(&self) -> bool {
        self.terms.is_empty()
    }

    /// Returns the value if the polynomial is a constant (zero included).
    pub fn as_constant(&self) -> Option<Rational> {
        match self.terms.len() {
            0 => Some(Rational::zero()),
            1 => self.terms.get(&Monomial::one()).cloned(),
            _ => None,
        }
    }

    /// Returns the number of nonzero terms.
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Returns the terms `(monomial, coefficient)` in monomial order.
    pub fn terms(&self) -> impl Iterator<Item = (&Monomial, &Rational)> {
        self.terms.iter()
    }

    /// Returns the set of variables that occur with a nonzero exponent.
    pub fn variables(&self) -> BTreeSet<Var> {
        self.terms
            .keys()
            .flat_map(|monomial| monomial.factors.iter().map(|&(var, _)| var))
            .collect()
    }

    /// Adds `coefficient * monomial` in place, dropping the term if it cancels.
    pub fn add_term(&mut self, monomial: Monomial, coefficient: Rational) {
        if coefficient.is_zero() {
            return;
        }
        match self.terms.entry(monomial) {
            Entry::Vacant(entry) => {
                entry.insert(coefficient);
            }
            Entry::Occupied(mut entry) => {
                *entry.get_mut() += coefficient;
                if entry.get().is_zero() {
                    entry.remove();
                }
            }
        }
    }

    /// Multiplies every coefficient by `factor`.
    pub fn scale(&self, factor: &Rational) -> Poly {
        if factor.is_zero() {
            return Poly::zero();
        }
        let terms = self
            .terms
            .iter()
            .map(|(monomial, c)| (monomial.clone(), c * factor))
            .collect();
        Poly { terms }
    }

    /// Raises the polynomial to a non-negative integer power (`p^0 = 1`, also for `p = 0`).
    pub fn pow(&self, exponent: u32) -> Poly {
        let mut result = Poly::one();
        let mut base = self.clone();
        let mut remaining = exponent;
        while remaining > 0 {
            if remaining & 1 == 1 {
                result = &result * &base;
            }
            remaining >>= 1;
            if remaining > 0 {
                base = &base * &base;
            }
        }
        result
    }

    /// Returns the partial derivative with respect to `var`.
    ///
    /// The power rule `d/dv v^e = e v^(e-1)` holds for negative `e` too.
    pub fn derivative(&self, var: Var) -> Poly {
        let mut result = Poly::zero();
        for (monomial, coefficient) in &self.terms {
            let exponent = monomial.exponent(var);
            if exponent == 0 {
                continue;
            }
            let lowered = monomial.multiply(&Monomial::power(var, -1));
            result.add_term(lowered, coefficient * ratio(i64::from(exponent), 1));
        }
        result
    }

    /// Replaces every occurrence of `var` by `replacement` and expands.
    ///
    /// A negative power of `var` needs the inverse of `replacement`, which is a polynomial
    /// only when `replacement` is a single nonzero term. Any other replacement of a negative
    /// power returns [`PolyError::NoInverse`].
    pub fn substitute(&self, var: Var, replacement: &Poly) -> Result<Poly, PolyError> {
        let mut powers: BTreeMap<i32, Poly> = BTreeMap::new();
        let mut result = Poly::zero();
        for (monomial, coefficient) in &self.terms {
            let exponent = monomial.exponent(var);
            let rest = Poly::term(coefficient.clone(), monomial.without(var));
            if exponent == 0 {
                result += &rest;
                continue;
            }
            let power = match powers.entry(exponent) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    entry.insert(replacement_power(var, replacement, exponent)?)
                }
            };
            result += &(&rest * &*power);
        }
        Ok(result)
    }

    /// Substitutes a constant for every variable in `values`, leaving the others symbolic.
    ///
    /// Fails only where a variable with a negative exponent is given the value zero.
    pub fn substitute_values(&self, values: &BTreeMap<Var, Rational>) -> Result<Poly, PolyError> {
        let mut result = self.clone();
        for (&var, value) in values {
            result = result.substitute(var, &Poly::constant(value.clone()))?;
        }
        Ok(result)
    }

    /// Evaluates the polynomial exactly.
    ///
    /// Returns `None` when a variable of the polynomial has no value in `values`, or when a
    /// variable with a negative exponent has the value zero.
    pub fn evaluate(&self, values: &BTreeMap<Var, Rational>) -> Option<Rational> {
        let mut total = Rational::zero();
        for (monomial, coefficient) in &self.terms {
            let mut term = coefficient.clone();
            for &(var, exponent) in monomial.factors() {
                let value = values.get(&var)?;
                if exponent < 0 && value.is_zero() {
                    return None;
                }
                term *= value.pow(exponent);
            }
            total += term;
        }
        Some(total)
    }

    /// Evaluates the polynomial in `f64`, with coefficients rounded to the nearest `f64`.
    ///
    /// Returns `None` under the same conditions as [`Poly::evaluate`].
    pub fn evaluate_f64(&self, values: &BTreeMap<Var, f64>) -> Option<f64> {
        let mut total = 0.0;
        for (monomial, coefficient) in &self.terms {
            let mut term = to_f64(coefficient);
            for &(var, exponent) in monomial.factors() {
                let value = *values.get(&var)?;
                if exponent < 0 && value == 0.0 {
                    return None;
                }
                term *= value.powi(exponent);
            }
            total += term;
        }
        Some(total)
    }

    /// Collects the terms in which `var` has exactly exponent `power`, with `var` removed.
    ///
    /// For `p = sum_e q_e var^e` this returns `q_power`.
    pub fn coefficient_of(&self, var: Var, power: i32) -> Poly {
        let mut result = Poly::zero();
        for (monomial, coefficient) in &self.terms {
            if monomial.exponent(var) == power {
                result.add_term(monomial.without(var), coefficient.clone());
            }
        }
        result
    }

    /// Returns the highest exponent of `var` (0 if it does not occur), or `None` for the
    /// zero polynomial.
    pub fn degree_in(&self, var: Var) -> Option<i32> {
        self.terms
            .keys()
            .map(|monomial| monomial.exponent(var))
            .max()
    }

    /// Returns ascending coefficients `[a_0, .., a_d]` if the polynomial is an ordinary
    /// polynomial in `var` alone.
    ///
    /// Returns `None` if another variable or a negative power of `var` occurs. The zero
    /// polynomial gives an empty vector; otherwise the last entry is nonzero.
    pub fn to_dense_univariate(&self, var: Var) -> Option<Vec<Rational>> {
        let mut coefficients: Vec<Rational> = Vec::new();
        for (monomial, coefficient) in &self.terms {
            let exponent = monomial.exponent(var);
            if exponent < 0 || !monomial.without(var).is_one() {
                return None;
            }
            let index = exponent as usize;
            if coefficients.len() <= index {
                coefficients.resize(index + 1, Rational::zero());
            }
            coefficients[index] = coefficient.clone();
        }
        Some(coefficients)
    }
}

/// Returns `replacement^exponent`, inverting a single-term replacement for negative powers.
fn replacement_power(var: Var, replacement: &Poly, exponent: i32) -> Result<Poly, PolyError> {
    if exponent >= 0 {
        return Ok(replacement.pow(exponent.unsigned_abs()));
    }
    let no_inverse = || PolyError::NoInverse {
        var,
        exponent,
        replacement: replacement.to_string(),
    };
    if replacement.term_count() != 1 {
        return Err(no_inverse());
    }
    let (monomial, coefficient) = replacement.terms().next().ok_or_else(no_inverse)?;
    let inverse = Poly::term(coefficient.recip(), monomial.inverse());
    Ok(inverse.pow(exponent.unsigned_abs()))
}

impl From<Rational> for Poly {
    fn from(value: Rational) -> Poly {
        Poly::constant(value)
    }
}

impl From<Var> for Poly {
    fn from(var: Var) -> Poly {
        Poly::var(var)
    }
}

impl fmt::Display for Poly {
    /// Writes the terms by increasing total degree, then in monomial order, for example
    /// `2*n^-1 - 2` or `lambda_2 - 2*lambda_1*lambda_3`. Coefficients appear as short
    /// decimals when they terminate and as `p/q` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.terms.is_empty() {
            return f.write_str("0");
        }
        let mut ordered: Vec<(&Monomial, &Rational)> = self.terms.iter().collect();
        ordered.sort_by(|a, b| (a.0.total_degree(), a.0).cmp(&(b.0.total_degree(), b.0)));
        for (index, (monomial, coefficient)) in ordered.into_iter().enumerate() {
            let sign = match (index, coefficient.is_negative()) {
                (0, true) => "-",
                (0, false) => "",
                (_, true) => " - ",
                (_, false) => " + ",
            };
            let magnitude = coefficient.abs();
            if monomial.is_one() {
                write!(f, "{sign}{}", format_rational(&magnitude))?;
            } else if magnitude.is_one() {
                write!(f, "{sign}{monomial}")?;
            } else {
                write!(f, "{sign}{}*{monomial}", format_rational(&magnitude))?;
            }
        }
        Ok(())
    }
}

impl AddAssign<&Poly> for Poly {
    fn add_assign(&mut self, rhs: &Poly) {
        for (monomial, coefficient) in &rhs.terms {
            self.add_term(monomial.clone(), coefficient.clone());
        }
    }
}

impl SubAssign<&Poly> for Poly {
    fn sub_assign(&mut self, rhs: &Poly) {
        for (monomial, coefficient) in &rhs.terms {
            self.add_term(monomial.clone(), -coefficient);
        }
    }
}

impl Add<&Poly> for &Poly {
    type Output = Poly;

    fn add(self, rhs: &Poly) -> Poly {
        let mut sum = self.clone();
        sum += rhs;
        sum
    }
}

impl Sub<&Poly> for &Poly {
    type Output = Poly;

    fn sub(self, rhs: &Poly) -> Poly {
        let mut difference = self.clone();
        difference -= rhs;
        difference
    }
}

impl Mul<&Poly> for &Poly {
    type Output = Poly;

    fn mul(self, rhs: &Poly) -> Poly {
        let mut product = Poly::zero();
        for (left_monomial, left) in &self.terms {
            for (right_monomial, right) in &rhs.terms {
                product.add_term(left_monomial.multiply(right_monomial), left * right);
            }
        }
        product
    }
}

impl Mul<&Rational> for &Poly {
    type Output = Poly;

    fn mul(self, rhs: &Rational) -> Poly {
        self.scale(rhs)
    }
}

impl Neg for &Poly {
    type Output = Poly;

    fn neg(self) -> Poly {
        self.scale(&-Rational::one())
    }
}

impl Neg for Poly {
    type Output = Poly;

    fn neg(self) -> Poly {
        -&self
    }
}

/// Forwards an operator on references to the owned and mixed operand forms.
macro_rules! forward_binary {
    ($trait:ident, $method:ident, $rhs:ty) => {
        impl $trait<$rhs> for Poly {
            type Output = Poly;

            fn $method(self, rhs: $rhs) -> Poly {
                (&self).$method(&rhs)
            }
        }

        impl $trait<&$rhs> for Poly {
            type Output = Poly;

            fn $method(self, rhs: &$rhs) -> Poly {
                (&self).$method(rhs)
            }
        }

        impl $trait<$rhs> for &Poly {
            type Output = Poly;

            fn $method(self, rhs: $rhs) -> Poly {
                self.$method(&rhs)
            }
        }
    };
}

forward_binary!(Add, add, Poly);
forward_binary!(Sub, sub, Poly);
forward_binary!(Mul, mul, Poly);
forward_binary!(Mul, mul, Rational);

#[cfg(test)]
mod tests {
    use super::*;

    const X: Var = Var("x");
    const Y: Var = Var("y");
    const N: Var = Var("n");

    #[test]
    fn cancelling_terms_leave_zero() {
        let x = Poly::var(X);
        let difference = &x - &x;
        assert!(difference.is_zero());
        assert_eq!(difference, Poly::zero());
        assert_eq!(difference.to_string(), "0");
    }

    #[test]
    fn display_orders_by_degree() {
        let x = Poly::var(X);
        let y = Poly::var(Y);
        let poly = &(&x * &y).scale(&ratio(-2, 1)) + &Poly::var(Y) + &Poly::ratio(3, 4);
        assert_eq!(poly.to_string(), "0.75 + y - 2*x*y");
    }

    #[test]
    fn display_writes_negative_exponents() {
        let poly = Poly::term(ratio(1, 3), Monomial::power(N, -1));
        assert_eq!(poly.to_string(), "1/3*n^-1");
        let null_epoch = &Poly::term(ratio(2, 1), Monomial::power(N, -1)) - &Poly::ratio(2, 1);
        assert_eq!(null_epoch.to_string(), "2*n^-1 - 2");
    }

    #[test]
    fn monomials_cancel_to_one() {
        let product = Monomial::power(N, 2).multiply(&Monomial::power(N, -2));
        assert!(product.is_one());
        assert_eq!(
            Monomial::from_factors(&[(X, 1), (Y, 2), (X, -1)]),
            Monomial::power(Y, 2)
        );
    }

    #[test]
    fn derivative_of_inverse_power() {
        // d/dn n^-1 = -n^-2.
        let poly = Poly::term(Rational::one(), Monomial::power(N, -1));
        let expected = Poly::term(ratio(-1, 1), Monomial::power(N, -2));
        assert_eq!(poly.derivative(N), expected);
    }

    #[test]
    fn substitute_inverts_monomials() {
        // n^-1 with n = 2x gives 1/2 x^-1.
        let poly = Poly::term(Rational::one(), Monomial::power(N, -1));
        let replacement = Poly::var(X).scale(&ratio(2, 1));
        let expected = Poly::term(ratio(1, 2), Monomial::power(X, -1));
        assert_eq!(poly.substitute(N, &replacement), Ok(expected));
    }

    #[test]
    fn substitute_rejects_non_monomial_inverse() {
        let poly = Poly::term(Rational::one(), Monomial::power(N, -1));
        let replacement = &Poly::var(X) + &Poly::one();
        let error = poly.substitute(N, &replacement).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot substitute 1 + x for n: the term with n^-1 needs the inverse of the \
             replacement, which is a polynomial only for a single nonzero term; substitute a \
             single term or clear the negative powers of n first"
        );
        assert!(poly.substitute(N, &Poly::zero()).is_err());
    }

    #[test]
    fn evaluate_rejects_missing_and_division_by_zero() {
        let poly = &Poly::var(X) + &Poly::term(Rational::one(), Monomial::power(N, -1));
        let only_x = BTreeMap::from([(X, ratio(1, 1))]);
        assert_eq!(poly.evaluate(&only_x), None);
        let n_zero = BTreeMap::from([(X, ratio(1, 1)), (N, ratio(0, 1))]);
        assert_eq!(poly.evaluate(&n_zero), None);
        let n_four = BTreeMap::from([(X, ratio(1, 1)), (N, ratio(4, 1))]);
        assert_eq!(poly.evaluate(&n_four), Some(ratio(5, 4)));
    }

    #[test]
    fn dense_univariate_round_trip() {
        let coefficients = vec![ratio(1, 2), ratio(0, 1), ratio(-3, 1)];
        let poly = Poly::from_dense_univariate(X, &coefficients);
        assert_eq!(poly.to_dense_univariate(X), Some(coefficients));
        assert_eq!(poly.degree_in(X), Some(2));
        assert_eq!(Poly::zero().to_dense_univariate(X), Some(Vec::new()));
        assert_eq!(Poly::zero().degree_in(X), None);
        assert_eq!(Poly::var(Y).to_dense_univariate(X), None);
        let inverse = Poly::term(Rational::one(), Monomial::power(X, -1));
        assert_eq!(inverse.to_dense_univariate(X), None);
    }

    #[test]
    fn coefficient_of_collects_one_power() {
        // 3 x^2 y + x^2 - y: coefficient of x^2 is 3y + 1.
        let x2 = Poly::var(X).pow(2);
        let poly = &(&(&x2 * &Poly::var(Y)).scale(&ratio(3, 1)) + &x2) - &Poly::var(Y);
        let expected = &Poly::var(Y).scale(&ratio(3, 1)) + &Poly::one();
        assert_eq!(poly.coefficient_of(X, 2), expected);
        assert_eq!(poly.coefficient_of(X, 0), -Poly::var(Y));
        assert!(poly.coefficient_of(X, 1).is_zero());
    }
}
