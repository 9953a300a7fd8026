//! Property tests of the exact polynomial algebra: sign-change roots of univariate
//! polynomials.

use std::cmp::Ordering;

use lossdyn::exact::{Rational, ratio};
use lossdyn::poly::roots::{RootBracket, evaluate, sign_at, sign_change_roots};
use num_traits::{One, Zero};
use proptest::prelude::*;

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
