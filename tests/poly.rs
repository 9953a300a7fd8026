//! Property tests of the exact polynomial algebra: ring identities, evaluation,
//! differentiation against forward-mode autodiff, substitution, coefficient extraction, and
//! sign-change roots of univariate polynomials.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use approx::assert_relative_eq;
use lossdyn::exact::{Rational, ratio, to_f64};
use lossdyn::poly::roots::{RootBracket, evaluate, sign_at, sign_change_roots};
use lossdyn::poly::{Monomial, Poly, Var};
use num_dual::{Dual64, DualNum, first_derivative};
use num_traits::{One, Zero};
use proptest::prelude::*;

const X: Var = Var("x");
const Y: Var = Var("y");
const Z: Var = Var("z");

/// Relative tolerance of f64 evaluation against exact values. Products here have at most 36
/// terms of total degree up to 18 at points of magnitude 1/2 to 2, so rounding should stay
/// far below this (an estimate, not a proven bound). Cancellation can make a result much
/// smaller than its terms, so `TERM_TOLERANCE` times the sum of the term magnitudes serves as
/// an absolute floor.
const RELATIVE_TOLERANCE: f64 = 1e-10;
const TERM_TOLERANCE: f64 = 1e-12;

/// Small rational coefficients, zero included so that cancellation is exercised.
fn coefficient() -> impl Strategy<Value = Rational> {
    (-20i64..=20, 1i64..=6).prop_map(|(p, q)| ratio(p, q))
}

/// Laurent polynomials in x, y, z with up to 6 terms and exponents in [min_exponent, 3].
fn laurent(min_exponent: i32) -> impl Strategy<Value = Poly> {
    let exponents = (min_exponent..=3, min_exponent..=3, min_exponent..=3);
    prop::collection::vec((coefficient(), exponents), 0..6).prop_map(|terms| {
        let mut poly = Poly::zero();
        for (c, (ex, ey, ez)) in terms {
            poly.add_term(Monomial::from_factors(&[(X, ex), (Y, ey), (Z, ez)]), c);
        }
        poly
    })
}

/// A point with coordinates `+-p/q` of magnitude 1/2 to 2, so negative powers are defined.
fn point() -> impl Strategy<Value = BTreeMap<Var, Rational>> {
    let coordinate = (prop::bool::ANY, 4i64..=16)
        .prop_map(|(negative, p)| ratio(if negative { -p } else { p }, 8));
    (coordinate.clone(), coordinate.clone(), coordinate)
        .prop_map(|(x, y, z)| BTreeMap::from([(X, x), (Y, y), (Z, z)]))
}

fn to_f64_point(point: &BTreeMap<Var, Rational>) -> BTreeMap<Var, f64> {
    point
        .iter()
        .map(|(&var, value)| (var, to_f64(value)))
        .collect()
}

fn exact(poly: &Poly, point: &BTreeMap<Var, Rational>) -> Rational {
    poly.evaluate(point)
        .expect("every variable has a nonzero value")
}

/// Returns the sum of the absolute values of the terms at `point`, the scale of rounding.
fn term_scale(poly: &Poly, point: &BTreeMap<Var, f64>) -> f64 {
    poly.terms()
        .map(|(monomial, c)| {
            let single = Poly::term(c.clone(), monomial.clone());
            single.evaluate_f64(point).expect("defined").abs()
        })
        .sum()
}

/// Evaluates `poly` on dual numbers with `var` as the independent variable.
fn evaluate_dual(poly: &Poly, var: Var, x: Dual64, point: &BTreeMap<Var, f64>) -> Dual64 {
    let mut total = Dual64::from_re(0.0);
    for (monomial, c) in poly.terms() {
        let mut term = Dual64::from_re(to_f64(c));
        for &(v, exponent) in monomial.factors() {
            let value = if v == var {
                x
            } else {
                Dual64::from_re(point[&v])
            };
            term *= value.powi(exponent);
        }
        total += term;
    }
    total
}

proptest! {
    #[test]
    fn addition_is_associative(p in laurent(-2), q in laurent(-2), r in laurent(-2)) {
        prop_assert_eq!(&(&p + &q) + &r, &p + &(&q + &r));
        prop_assert_eq!(&p + &q, &q + &p);
    }

    #[test]
    fn multiplication_is_associative(p in laurent(-2), q in laurent(-2), r in laurent(-2)) {
        prop_assert_eq!(&(&p * &q) * &r, &p * &(&q * &r));
        prop_assert_eq!(&p * &q, &q * &p);
    }

    #[test]
    fn multiplication_distributes(p in laurent(-2), q in laurent(-2), r in laurent(-2)) {
        prop_assert_eq!(&p * &(&q + &r), &(&p * &q) + &(&p * &r));
    }

    #[test]
    fn subtraction_cancels(p in laurent(-2), q in laurent(-2)) {
        prop_assert!((&p - &p).is_zero());
        prop_assert_eq!(&p - &q, &p + &(-&q));
        prop_assert_eq!(&(&p - &q) + &q, p);
    }

    #[test]
    fn operations_match_exact_evaluation(
        p in laurent(-2),
        q in laurent(-2),
        factor in coefficient(),
        exponent in 0u32..=3,
        point in point(),
    ) {
        let p_value = exact(&p, &point);
        let q_value = exact(&q, &point);
        prop_assert_eq!(exact(&(&p + &q), &point), &p_value + &q_value);
        prop_assert_eq!(exact(&(&p - &q), &point), &p_value - &q_value);
        prop_assert_eq!(exact(&(&p * &q), &point), &p_value * &q_value);
        prop_assert_eq!(exact(&(&p * &factor), &point), &p_value * &factor);
        prop_assert_eq!(exact(&-&p, &point), -&p_value);
        prop_assert_eq!(exact(&p.pow(exponent), &point), p_value.pow(exponent as i32));
    }

    #[test]
    fn operations_match_f64_evaluation(
        p in laurent(-2),
        q in laurent(-2),
        point in point(),
    ) {
        let at = to_f64_point(&point);
        let p_value = p.evaluate_f64(&at).expect("defined");
        let q_value = q.evaluate_f64(&at).expect("defined");
        let sum = (&p + &q).evaluate_f64(&at).expect("defined");
        let product = (&p * &q).evaluate_f64(&at).expect("defined");
        let scale = term_scale(&p, &at) + term_scale(&q, &at);
        assert_relative_eq!(sum, p_value + q_value,
            epsilon = TERM_TOLERANCE * scale, max_relative = RELATIVE_TOLERANCE);
        assert_relative_eq!(product, p_value * q_value,
            epsilon = TERM_TOLERANCE * scale * scale, max_relative = RELATIVE_TOLERANCE);
        let exact_p = to_f64(&exact(&p, &point));
        assert_relative_eq!(p_value, exact_p,
            epsilon = TERM_TOLERANCE * scale, max_relative = RELATIVE_TOLERANCE);
    }

    #[test]
    fn derivative_matches_autodiff(p in laurent(-2), var_index in 0usize..3, point in point()) {
        let var = [X, Y, Z][var_index];
        let at = to_f64_point(&point);
        let (_, slope) = first_derivative(|x: Dual64| evaluate_dual(&p, var, x, &at), at[&var]);
        let derivative = p.derivative(var);
        let symbolic = derivative.evaluate_f64(&at).expect("defined");
        let scale = term_scale(&derivative, &at);
        assert_relative_eq!(symbolic, slope,
            epsilon = TERM_TOLERANCE * scale, max_relative = RELATIVE_TOLERANCE);
    }

    #[test]
    fn derivative_is_linear_and_leibniz(p in laurent(-2), q in laurent(-2), var_index in 0usize..3) {
        let var = [X, Y, Z][var_index];
        prop_assert_eq!((&p + &q).derivative(var), &p.derivative(var) + &q.derivative(var));
        let product_rule = &(&p.derivative(var) * &q) + &(&p * &q.derivative(var));
        prop_assert_eq!((&p * &q).derivative(var), product_rule);
    }

    #[test]
    fn substitution_matches_evaluation(p in laurent(0), q in laurent(-2), point in point()) {
        // p has no negative power of x, so any q may replace x.
        let substituted = p.substitute(X, &q).expect("non-negative powers of x");
        let mut shifted = point.clone();
        shifted.insert(X, exact(&q, &point));
        prop_assert_eq!(substituted.evaluate(&point), p.evaluate(&shifted));
    }

    #[test]
    fn substitution_inverts_monomials(
        p in laurent(-2),
        c in coefficient(),
        ey in -2i32..=2,
        point in point(),
    ) {
        prop_assume!(!c.is_zero());
        let monomial = Poly::term(c, Monomial::from_factors(&[(Y, 1), (Z, ey)]));
        let substituted = p.substitute(X, &monomial).expect("nonzero monomial");
        let mut shifted = point.clone();
        shifted.insert(X, exact(&monomial, &point));
        prop_assert_eq!(substituted.evaluate(&point), p.evaluate(&shifted));
    }

    #[test]
    fn coefficients_rebuild_polynomial(p in laurent(-2), var_index in 0usize..3) {
        let var = [X, Y, Z][var_index];
        let mut rebuilt = Poly::zero();
        for power in -2..=3 {
            let part = p.coefficient_of(var, power);
            prop_assert!(!part.variables().contains(&var));
            rebuilt += &(&part * &Poly::term(Rational::one(), Monomial::power(var, power)));
        }
        prop_assert_eq!(rebuilt, p.clone());
        if let Some(degree) = p.degree_in(var) {
            prop_assert!(!p.coefficient_of(var, degree).is_zero());
            prop_assert!(p.coefficient_of(var, degree + 1).is_zero());
        }
    }

    #[test]
    fn dense_univariate_round_trips(coefficients in prop::collection::vec(coefficient(), 0..8)) {
        let poly = Poly::from_dense_univariate(X, &coefficients);
        let mut trimmed = coefficients.clone();
        while trimmed.last().is_some_and(|c| c.is_zero()) {
            trimmed.pop();
        }
        prop_assert_eq!(poly.to_dense_univariate(X), Some(trimmed.clone()));
        let x = ratio(3, 7);
        let at = BTreeMap::from([(X, x.clone())]);
        prop_assert_eq!(poly.evaluate(&at), Some(evaluate(&trimmed, &x)));
    }

    #[test]
    fn display_is_independent_of_order(p in laurent(-2), q in laurent(-2)) {
        prop_assert_eq!((&p + &q).to_string(), (&q + &p).to_string());
    }
}

/// Multiplies an ascending coefficient vector by `x - root`.
fn times_linear(polynomial: &[Rational], root: &Rational) -> Vec<Rational> {
    let mut product = vec![Rational::zero(); polynomial.len() + 1];
    for (power, c) in polynomial.iter().enumerate() {
        product[power + 1] += c;
        product[power] -= c * root;
    }
    product
}

/// Builds `scale * prod (x - root)^multiplicity` in ascending coefficients.
fn product_of_factors(scale: &Rational, factors: &[(Rational, u32)]) -> Vec<Rational> {
    let mut polynomial = vec![scale.clone()];
    for (root, multiplicity) in factors {
        for _ in 0..*multiplicity {
            polynomial = times_linear(&polynomial, root);
        }
    }
    polynomial
}

/// Distinct rational roots `p/q` in [-30, 30] with multiplicities 1 to 4, and a nonzero scale.
fn factored_polynomial() -> impl Strategy<Value = (Rational, Vec<(Rational, u32)>)> {
    let root = (-30i64..=30, 1i64..=7).prop_map(|(p, q)| ratio(p, q));
    let scale = prop_oneof![(-9i64..=-1), (1i64..=9)].prop_map(|s| ratio(s, 1));
    let factors = prop::collection::vec((root, 1u32..=4), 0..6).prop_map(|mut factors| {
        factors.sort_by(|a, b| a.0.cmp(&b.0));
        factors.dedup_by(|a, b| a.0 == b.0);
        factors
    });
    (scale, factors)
}

fn check_bracket(polynomial: &[Rational], bracket: &RootBracket, width: &Rational) {
    if bracket.is_exact() {
        assert_eq!(sign_at(polynomial, &bracket.lower), Ordering::Equal);
        return;
    }
    assert!(bracket.lower < bracket.upper, "{bracket:?}");
    assert!(&bracket.upper - &bracket.lower <= *width, "{bracket:?}");
    let sign_lower = sign_at(polynomial, &bracket.lower);
    let sign_upper = sign_at(polynomial, &bracket.upper);
    assert_ne!(sign_lower, Ordering::Equal, "{bracket:?}");
    assert_ne!(sign_upper, Ordering::Equal, "{bracket:?}");
    assert_ne!(sign_lower, sign_upper, "{bracket:?}");
}

proptest! {
    #[test]
    fn roots_bracket_odd_multiplicities(
        (scale, factors) in factored_polynomial(),
        lower in (-40i64..=0, 1i64..=5).prop_map(|(p, q)| ratio(p, q)),
        upper in (0i64..=40, 1i64..=5).prop_map(|(p, q)| ratio(p, q)),
        width_exponent in 1u32..=30,
    ) {
        let polynomial = product_of_factors(&scale, &factors);
        let width = Rational::one() / Rational::from_integer(2.into()).pow(width_exponent as i32);
        let brackets = sign_change_roots(&polynomial, &lower, &upper, &width);

        let expected: Vec<&Rational> = factors
            .iter()
            .filter(|(root, multiplicity)| multiplicity % 2 == 1 && lower < *root && *root < upper)
            .map(|(root, _)| root)
            .collect();
        prop_assert_eq!(brackets.len(), expected.len(), "brackets {:?}", brackets);

        for (bracket, root) in brackets.iter().zip(&expected) {
            check_bracket(&polynomial, bracket, &width);
            prop_assert!(bracket.lower <= **root && **root <= bracket.upper,
                "root {} outside {:?}", root, bracket);
        }
        for pair in brackets.windows(2) {
            prop_assert!(pair[0].upper <= pair[1].lower, "unordered {:?}", pair);
        }
    }

    #[test]
    fn roots_with_irrational_factor(
        (scale, factors) in factored_polynomial(),
        square in 2i64..=11,
    ) {
        // Multiplying by x^2 - square adds sign changes at the irrational roots
        // +-sqrt(square), both inside (-4, 4).
        prop_assume!(![4, 9].contains(&square));
        let base = product_of_factors(&scale, &factors);
        let mut polynomial = vec![Rational::zero(); base.len() + 2];
        for (power, c) in base.iter().enumerate() {
            polynomial[power + 2] += c;
            polynomial[power] -= c * ratio(square, 1);
        }
        let lower = ratio(-4, 1);
        let upper = ratio(4, 1);
        let width = ratio(1, 1_000_000_000);
        let brackets = sign_change_roots(&polynomial, &lower, &upper, &width);

        let odd_rational = factors.iter().filter(|(root, m)| m % 2 == 1 && lower < *root && *root < upper).count();
        prop_assert_eq!(brackets.len(), odd_rational + 2, "brackets {:?}", brackets);
        let square_r = ratio(square, 1);
        let irrational: Vec<&RootBracket> = brackets
            .iter()
            .filter(|b| !b.is_exact() && &b.lower * &b.upper > Rational::zero()
                && (&b.lower * &b.lower - &square_r) * (&b.upper * &b.upper - &square_r) < Rational::zero())
            .collect();
        prop_assert_eq!(irrational.len(), 2, "brackets {:?}", brackets);
        for bracket in &brackets {
            check_bracket(&polynomial, bracket, &width);
        }
    }
}

#[test]
fn evaluate_uses_ascending_order() {
    // 1 + 2x + 3x^2 at x = 2.
    let polynomial = [ratio(1, 1), ratio(2, 1), ratio(3, 1)];
    assert_eq!(evaluate(&polynomial, &ratio(2, 1)), ratio(17, 1));
}

#[test]
fn double_root_is_not_reported() {
    // (x - 1/3)^2 (x - 1/2): only 1/2 changes sign.
    let polynomial = product_of_factors(&ratio(1, 1), &[(ratio(1, 3), 2), (ratio(1, 2), 1)]);
    let brackets = sign_change_roots(&polynomial, &ratio(0, 1), &ratio(1, 1), &ratio(1, 1000));
    assert_eq!(
        brackets,
        vec![RootBracket {
            lower: ratio(1, 2),
            upper: ratio(1, 2)
        }]
    );
}

#[test]
fn close_roots_are_separated() {
    // Roots 1/2 and 1/2 + 1e-12 both change sign.
    let near = ratio(1, 2) + ratio(1, 1_000_000_000_000);
    let polynomial = product_of_factors(&ratio(1, 1), &[(ratio(1, 2), 1), (near.clone(), 3)]);
    let width = ratio(1, 1_000_000_000_000_000);
    let brackets = sign_change_roots(&polynomial, &ratio(0, 1), &ratio(1, 1), &width);
    assert_eq!(brackets.len(), 2, "{brackets:?}");
    assert!(brackets[0].lower <= ratio(1, 2), "{brackets:?}");
    assert!(ratio(1, 2) <= brackets[0].upper, "{brackets:?}");
    assert!(brackets[1].lower <= near, "{brackets:?}");
    assert!(near <= brackets[1].upper, "{brackets:?}");
}
