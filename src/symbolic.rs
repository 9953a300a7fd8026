//! Symbolic derivations of the learning-rule quantities from the loss definitions.
//!
//! # Definition
//!
//! Each polynomial loss has a per-class term `l(h, y)` (see [`crate::loss`]) and
//! `gamma(h, y) = -dl/dh`. For TaylorGLO and the coefficient form, gamma is a quadratic in
//! `h` and `y`,
//!
//! ```text
//! gamma(h, y) = c_1 + c_h h + c_hh h^2 + c_hy h y + c_y y + c_yy y^2,
//! ```
//!
//! and the functions below derive from it, as exact [`Poly`] values: the six coefficients,
//! the zero-error coefficients `a, b, c` (gamma at `h = y`), the null-epoch gammas (at
//! `h = 1/n`), and the label-smoothing map. Symbols map to variables as follows: `h` is
//! [`H`], `y` is [`Y`], `n` is [`N`], `alpha` is [`ALPHA`], `lambda_i` is `LAMBDA[i]` and
//! the coefficient symbols `c_1 .. c_yy` are [`C_1`] .. [`C_YY`].
//!
//! Nothing here is copied from a printed formula: every result comes from differentiation,
//! substitution and coefficient extraction, so the tests can compare it with both the
//! printed equations and the hand-written maps in [`crate::loss`] and
//! [`crate::label_smoothing`].
//!
//! # Reference
//!
//! Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function
//! Metalearning": gamma of TaylorGLO (Eqs. 10-11) and its coefficient form (Eq. 12), the
//! zero-error coefficients (Eqs. 21-23), the null-epoch gammas (Eqs. 25-29) and the
//! label-smoothing map (derived in Eqs. 35-42, stated in Eqs. 43-48).

use std::collections::BTreeMap;

use crate::exact::{Rational, ratio};
use crate::loss::{COEFFICIENT_NAMES, Coefficients, Loss};
use crate::poly::{Monomial, Poly, PolyError, Var};
use crate::zero_error::ZeroErrorCoefficients;

/// The softmax output of one class, `h_k`.
pub const H: Var = Var("h");
/// The label of one class, `y_k`.
pub const Y: Var = Var("y");
/// The number of classes.
pub const N: Var = Var("n");
/// The label-smoothing strength.
pub const ALPHA: Var = Var("alpha");
/// The TaylorGLO parameters `lambda_0 .. lambda_7`.
pub const LAMBDA: [Var; 8] = [
    Var("lambda_0"),
    Var("lambda_1"),
    Var("lambda_2"),
    Var("lambda_3"),
    Var("lambda_4"),
    Var("lambda_5"),
    Var("lambda_6"),
    Var("lambda_7"),
];
/// The constant coefficient of gamma.
pub const C_1: Var = Var("c_1");
/// The coefficient of `h` in gamma.
pub const C_H: Var = Var("c_h");
/// The coefficient of `h^2` in gamma.
pub const C_HH: Var = Var("c_hh");
/// The coefficient of `h y` in gamma.
pub const C_HY: Var = Var("c_hy");
/// The coefficient of `y` in gamma.
pub const C_Y: Var = Var("c_y");
/// The coefficient of `y^2` in gamma.
pub const C_YY: Var = Var("c_yy");
/// The coefficient symbols in [`COEFFICIENT_NAMES`] order.
pub const COEFFICIENT_VARS: [Var; 6] = [C_1, C_H, C_HH, C_HY, C_Y, C_YY];

/// The exponents `(of h, of y)` of the monomial each coefficient multiplies, in
/// [`COEFFICIENT_NAMES`] order.
const COEFFICIENT_POWERS: [(i32, i32); 6] = [(0, 0), (1, 0), (2, 0), (1, 1), (0, 1), (0, 2)];

fn var(var: Var) -> Poly {
    Poly::var(var)
}

fn constant(numerator: i64, denominator: i64) -> Poly {
    Poly::ratio(numerator, denominator)
}

/// Returns the mean squared error per-class term `l = (h - y)^2`.
pub fn mse_per_class() -> Poly {
    (var(H) - var(Y)).pow(2)
}

/// Returns the TaylorGLO per-class term in the symbols `lambda_0 .. lambda_7`.
///
/// # Definition
///
/// ```text
/// l = -[ l2 u + l3 u^2 + l4 u^3 + l5 v u + l6 v u^2 + l7 v^2 u ],  u = h - l1, v = y - l0
/// ```
///
/// with `li` for `lambda_i` and no Taylor factorials, as [`Loss::per_class`] evaluates it.
pub fn taylorglo_per_class() -> Poly {
    let lambda = LAMBDA.map(var);
    let u = var(H) - &lambda[1];
    let v = var(Y) - &lambda[0];
    let terms = [
        &lambda[2] * &u,
        &lambda[3] * u.pow(2),
        &lambda[4] * u.pow(3),
        &lambda[5] * &v * &u,
        &lambda[6] * &v * u.pow(2),
        &lambda[7] * v.pow(2) * &u,
    ];
    -sum(&terms)
}

/// Returns the coefficient-form per-class term in the symbols `c_1 .. c_yy`.
///
/// # Definition
///
/// ```text
/// l = -[ c_1 h + c_h h^2/2 + c_hh h^3/3 + c_hy y h^2/2 + c_y y h + c_yy y^2 h ]
/// ```
///
/// Its gamma is the quadratic of Eq. 12 with exactly these coefficients.
pub fn coefficient_form_per_class() -> Poly {
    let h = var(H);
    let y = var(Y);
    let terms = [
        var(C_1) * &h,
        var(C_H) * h.pow(2) * constant(1, 2),
        var(C_HH) * h.pow(3) * constant(1, 3),
        var(C_HY) * &y * h.pow(2) * constant(1, 2),
        var(C_Y) * &y * &h,
        var(C_YY) * y.pow(2) * &h,
    ];
    -sum(&terms)
}

fn sum(terms: &[Poly]) -> Poly {
    let mut total = Poly::zero();
    for term in terms {
        total += term;
    }
    total
}

/// Returns `gamma = -dl/dh` of a per-class term.
pub fn gamma(per_class: &Poly) -> Poly {
    -per_class.derivative(H)
}

/// Builds `gamma(h, y) = c_1 + c_h h + c_hh h^2 + c_hy h y + c_y y + c_yy y^2` (Eq. 12) from
/// coefficients that may themselves be polynomials.
pub fn gamma_from_coefficients(coefficients: &Coefficients<Poly>) -> Poly {
    let mut gamma = Poly::zero();
    for (coefficient, (h_power, y_power)) in coefficients.to_array().iter().zip(COEFFICIENT_POWERS)
    {
        let monomial = Monomial::from_factors(&[(H, h_power), (Y, y_power)]);
        gamma += &(coefficient * Poly::term(ratio(1, 1), monomial));
    }
    gamma
}

/// Extracts the six coefficients of `gamma` as a polynomial in `h` and `y` (Eq. 12).
///
/// Returns `None` if `gamma` has a term outside the six monomials `1, h, h^2, h y, y, y^2`,
/// for example `h^3`, `h^2 y` or a negative power of `h`.
pub fn gamma_coefficients(gamma: &Poly) -> Option<Coefficients<Poly>> {
    let coefficients = Coefficients::from_array(
        COEFFICIENT_POWERS
            .map(|(h_power, y_power)| gamma.coefficient_of(H, h_power).coefficient_of(Y, y_power)),
    );
    // Extraction drops any other monomial silently, so rebuild gamma to detect one.
    if gamma_from_coefficients(&coefficients) != *gamma {
        return None;
    }
    Some(coefficients)
}

/// Derives `a, b, c` of the zero-error regime: `gamma(y, y) = a + b y + c y^2` (Eqs. 20-23).
///
/// Returns `None` if `gamma(y, y)` is not a quadratic in `y`.
pub fn zero_error_coefficients(gamma: &Poly) -> Option<ZeroErrorCoefficients<Poly>> {
    let on_labels = gamma.substitute(H, &var(Y)).ok()?;
    let coefficients = ZeroErrorCoefficients {
        a: on_labels.coefficient_of(Y, 0),
        b: on_labels.coefficient_of(Y, 1),
        c: on_labels.coefficient_of(Y, 2),
    };
    let rebuilt = &coefficients.a + &coefficients.b * var(Y) + &coefficients.c * var(Y).pow(2);
    (rebuilt == on_labels).then_some(coefficients)
}

/// Returns the null-epoch gammas `(gamma(1/n, 1), gamma(1/n, 0))` for the target and the
/// non-target classes, as polynomials in `n^-1` and the loss's symbols (Eqs. 24-29).
pub fn null_epoch_gammas(gamma: &Poly) -> Result<(Poly, Poly), PolyError> {
    let uniform = Poly::term(ratio(1, 1), Monomial::power(N, -1));
    let at_uniform = gamma.substitute(H, &uniform)?;
    let target = at_uniform.substitute(Y, &Poly::one())?;
    let non_target = at_uniform.substitute(Y, &Poly::zero())?;
    Ok((target, non_target))
}

/// Returns the smoothed label values `(1 - alpha (n-1)/n, alpha/n)` for target and
/// non-target classes, as polynomials in `alpha` and `n^-1`.
pub fn smoothed_labels() -> (Poly, Poly) {
    let alpha_over_n = Poly::term(ratio(1, 1), Monomial::from_factors(&[(ALPHA, 1), (N, -1)]));
    let target = Poly::one() - var(ALPHA) + &alpha_over_n;
    (target, alpha_over_n)
}

/// Derives the hard-label coefficients `c-hat` that reproduce, for every `h`, the gamma of
/// the coefficient form trained with smoothed labels (Eqs. 35-48).
///
/// # Definition
///
/// With smoothed labels `y_T = 1 - alpha (n-1)/n` and `y_-T = alpha/n`, the rule uses
/// `gamma(h, y_T)` for the target and `gamma(h, y_-T)` for the others. With hard labels,
/// `c-hat` gives `c-hat_1 + c-hat_h h + c-hat_hh h^2` at `y = 0` and adds
/// `c-hat_hy h + c-hat_y + c-hat_yy` at `y = 1`. Matching the coefficients of `1, h, h^2`
/// in the `y = 0` case fixes `c-hat_1, c-hat_h, c-hat_hh`. The `y = 1` case then fixes
/// `c-hat_hy` and only the sum `c-hat_y + c-hat_yy`, because hard labels make `y = y^2`.
/// This function splits the sum as the source prints it:
///
/// ```text
/// c-hat_y  = c_y (1 - alpha)
/// c-hat_yy = c_yy ((1 - alpha (n-1)/n)^2 - alpha^2/n^2)
/// ```
///
/// The result is in the symbols `c_1 .. c_yy`, `alpha` and `n`.
pub fn smoothing_map() -> Coefficients<Poly> {
    let gamma = gamma(&coefficient_form_per_class());
    let (target_label, non_target_label) = smoothed_labels();
    let non_target = gamma
        .substitute(Y, &non_target_label)
        .expect("y has no negative power");
    let target = gamma
        .substitute(Y, &target_label)
        .expect("y has no negative power");

    let c_1 = non_target.coefficient_of(H, 0);
    let c_h = non_target.coefficient_of(H, 1);
    let c_hh = non_target.coefficient_of(H, 2);
    let c_hy = target.coefficient_of(H, 1) - &c_h;
    let label_sum = target.coefficient_of(H, 0) - &c_1;
    let c_y = var(C_Y) * (Poly::one() - var(ALPHA));
    let c_yy = &label_sum - &c_y;
    Coefficients {
        c_1,
        c_h,
        c_hh,
        c_hy,
        c_y,
        c_yy,
    }
}

/// Lists the symbolic formulas of a polynomial loss, general and with its parameters.
///
/// For TaylorGLO the general formulas are in `lambda_0 .. lambda_7`, and for the coefficient
/// form in `c_1 .. c_yy`; each general entry is labelled `... in lambda` or `... in c`. The
/// entries are the per-class term `l(h, y)`, `gamma(h, y)`, the six coefficients `c_1 ..
/// c_yy`, the zero-error `a, b, c`, and the null-epoch gammas `gamma_T` and `gamma_nonT` as
/// polynomials in `n^-1`. The same entries follow, unlabelled by symbol set, with the loss's
/// exact parameter values substituted. Mean squared error has no parameters, so it gets only
/// the second group.
///
/// Cross-entropy (`gamma = y/h`) and Baikal (`gamma = 1/h + y/h^2`) come from a logarithm in
/// `l`, which a [`Poly`] cannot hold, so they return an empty list.
pub fn symbolic_report(loss: &Loss) -> Vec<(String, Poly)> {
    let (per_class, symbols, values) = match loss {
        Loss::CrossEntropy | Loss::Baikal => return Vec::new(),
        Loss::MeanSquaredError => (mse_per_class(), None, BTreeMap::new()),
        Loss::TaylorGlo { lambda } => {
            (taylorglo_per_class(), Some("lambda"), lambda_values(lambda))
        }
        Loss::CoefficientForm { coefficients, .. } => (
            coefficient_form_per_class(),
            Some("c"),
            coefficient_values(coefficients),
        ),
    };
    let general = derived_entries(&per_class);

    let mut report = Vec::new();
    if let Some(symbols) = symbols {
        for (label, poly) in &general {
            report.push((format!("{label} in {symbols}"), poly.clone()));
        }
    }
    for (label, poly) in general {
        let substituted = poly
            .substitute_values(&values)
            .expect("parameters occur with non-negative powers only");
        report.push((label, substituted));
    }
    report
}

/// Derives the report entries from a per-class term whose gamma has the coefficient form.
fn derived_entries(per_class: &Poly) -> Vec<(String, Poly)> {
    let gamma = gamma(per_class);
    let coefficients = gamma_coefficients(&gamma).expect("polynomial losses have Eq. 12 form");
    let zero_error = zero_error_coefficients(&gamma).expect("gamma is quadratic");
    let (target, non_target) = null_epoch_gammas(&gamma).expect("h, y have no negative power");

    let mut entries = vec![
        ("l(h, y)".to_string(), per_class.clone()),
        ("gamma(h, y)".to_string(), gamma),
    ];
    for (name, coefficient) in COEFFICIENT_NAMES.iter().zip(coefficients.to_array()) {
        entries.push((name.to_string(), coefficient));
    }
    entries.push(("a".to_string(), zero_error.a));
    entries.push(("b".to_string(), zero_error.b));
    entries.push(("c".to_string(), zero_error.c));
    entries.push(("gamma_T at h = 1/n".to_string(), target));
    entries.push(("gamma_nonT at h = 1/n".to_string(), non_target));
    entries
}

/// Maps each symbol `lambda_i` to its value, for [`Poly::substitute_values`].
pub fn lambda_values(lambda: &[Rational; 8]) -> BTreeMap<Var, Rational> {
    LAMBDA.into_iter().zip(lambda.iter().cloned()).collect()
}

/// Maps each symbol `c_1 .. c_yy` to its value, for [`Poly::substitute_values`].
pub fn coefficient_values(coefficients: &Coefficients<Rational>) -> BTreeMap<Var, Rational> {
    COEFFICIENT_VARS
        .into_iter()
        .zip(coefficients.to_array())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_gamma_is_linear() {
        assert_eq!(gamma(&mse_per_class()).to_string(), "-2*h + 2*y");
    }

    #[test]
    fn coefficient_form_round_trips() {
        let gamma = gamma(&coefficient_form_per_class());
        let coefficients = gamma_coefficients(&gamma).expect("quadratic");
        assert_eq!(coefficients.to_array(), COEFFICIENT_VARS.map(Poly::var));
    }

    #[test]
    fn cubic_gamma_has_no_coefficients() {
        let cubic = Poly::var(H).pow(3);
        assert!(gamma_coefficients(&cubic).is_none());
    }

    #[test]
    fn mse_null_epoch_negates_printed() {
        // Eq. 25 prints 2/n - 2 for the target and 2/n for the others, which is -gamma:
        // it keeps the sign of the bracket 2 (h - y) in Eq. 4 instead of Eq. 5's 2y - 2h.
        let (target, non_target) = null_epoch_gammas(&gamma(&mse_per_class())).unwrap();
        assert_eq!(target.to_string(), "-2*n^-1 + 2");
        assert_eq!(non_target.to_string(), "-2*n^-1");
    }

    #[test]
    fn report_is_empty_for_logarithmic_losses() {
        assert!(symbolic_report(&Loss::CrossEntropy).is_empty());
        assert!(symbolic_report(&Loss::Baikal).is_empty());
    }
}
