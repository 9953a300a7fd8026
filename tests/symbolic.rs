//! Tests of the symbolic derivations: the derived coefficients against the hand-written maps
//! and the printed equations, the derived gamma against autodiff of the per-class loss, and
//! the label-smoothing identity as an exact polynomial identity.

use std::collections::BTreeMap;

use approx::assert_relative_eq;
use lossdyn::exact::{Rational, from_f64, parse_rational, ratio, to_f64};
use lossdyn::label_smoothing;
use lossdyn::loss::{COEFFICIENT_NAMES, Coefficients, Loss, infallible, taylorglo_coefficients};
use lossdyn::null_epoch::NullEpoch;
use lossdyn::poly::{Monomial, Poly, Var};
use lossdyn::symbolic::{
    ALPHA, C_1, C_H, C_HH, C_HY, C_Y, C_YY, COEFFICIENT_VARS, H, LAMBDA, N, Y,
    coefficient_form_per_class, coefficient_values, gamma, gamma_coefficients,
    gamma_from_coefficients, lambda_values, mse_per_class, smoothed_labels, smoothing_map,
    symbolic_report, taylorglo_per_class, zero_error_coefficients,
};
use lossdyn::zero_error;
use num_dual::{Dual64, first_derivative};
use proptest::prelude::*;

/// Relative tolerance of the f64 gamma against num-dual's derivative of the per-class loss.
/// Both round every operation once or twice on terms of magnitude up to about 1e4 here, so
/// agreement to 1e-9 of the largest term is loose (an estimate, not a proven bound).
const GAMMA_TOLERANCE: f64 = 1e-9;

/// Rationals `m/d * 10^e` with magnitudes from about 1e-33 to 1e36, and zero.
fn wide_rational() -> impl Strategy<Value = Rational> {
    prop_oneof![
        Just(ratio(0, 1)),
        (-1000i64..=1000, 1i64..=999, -30i32..=30)
            .prop_map(|(m, d, e)| { ratio(m, d) * Rational::from_integer(10.into()).pow(e) }),
    ]
}

/// Finite f64 parameters in [-10, 10], converted to the rationals with the same value.
fn moderate_rational() -> impl Strategy<Value = Rational> {
    (-10.0f64..10.0).prop_map(|x| from_f64(x).expect("finite"))
}

fn var(var: Var) -> Poly {
    Poly::var(var)
}

fn constant(numerator: i64, denominator: i64) -> Poly {
    Poly::ratio(numerator, denominator)
}

fn substitute(poly: &Poly, values: &BTreeMap<Var, Rational>) -> Poly {
    poly.substitute_values(values).expect("no negative powers")
}

fn taylorglo_gamma_coefficients() -> Coefficients<Poly> {
    gamma_coefficients(&gamma(&taylorglo_per_class())).expect("TaylorGLO gamma is quadratic")
}

/// Returns `-dl/dh (h, y)` of a loss by forward-mode differentiation of `Loss::per_class`.
fn autodiff_gamma(loss: &Loss, h: f64, y: f64) -> f64 {
    let (_, slope) = first_derivative(
        |h: Dual64| infallible(loss.per_class(&h, &Dual64::from(y))),
        h,
    );
    -slope
}

fn at_h_y(h: f64, y: f64) -> BTreeMap<Var, f64> {
    BTreeMap::from([(H, h), (Y, y)])
}

proptest! {
    #[test]
    fn taylorglo_coefficients_match_map(lambda in prop::array::uniform8(wide_rational())) {
        let derived = taylorglo_gamma_coefficients();
        let values = lambda_values(&lambda);
        let expected = taylorglo_coefficients(&lambda);
        for ((name, symbolic), expected) in
            COEFFICIENT_NAMES.iter().zip(derived.to_array()).zip(expected.to_array())
        {
            let substituted = substitute(&symbolic, &values);
            prop_assert_eq!(substituted.as_constant(), Some(expected), "coefficient {}", name);
        }
    }

    #[test]
    fn zero_error_matches_module(lambda in prop::array::uniform8(wide_rational())) {
        let derived = zero_error_coefficients(&gamma(&taylorglo_per_class())).expect("quadratic");
        let values = lambda_values(&lambda);
        let expected = zero_error::zero_error_coefficients(&taylorglo_coefficients(&lambda));
        prop_assert_eq!(substitute(&derived.a, &values).as_constant(), Some(expected.a));
        prop_assert_eq!(substitute(&derived.b, &values).as_constant(), Some(expected.b));
        prop_assert_eq!(substitute(&derived.c, &values).as_constant(), Some(expected.c));
    }

    #[test]
    fn taylorglo_gamma_matches_autodiff(
        lambda in prop::array::uniform8(moderate_rational()),
        h in 0.001f64..1.0,
        y in prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0],
    ) {
        let symbolic = substitute(&gamma(&taylorglo_per_class()), &lambda_values(&lambda));
        let value = symbolic.evaluate_f64(&at_h_y(h, y)).expect("h and y given");
        let expected = autodiff_gamma(&Loss::TaylorGlo { lambda }, h, y);
        assert_relative_eq!(value, expected, epsilon = GAMMA_TOLERANCE * 1e4,
            max_relative = GAMMA_TOLERANCE);
    }

    #[test]
    fn coefficient_form_gamma_matches_autodiff(
        c in prop::array::uniform6(moderate_rational()),
        h in 0.001f64..1.0,
        y in prop_oneof![Just(0.0), Just(1.0), 0.0f64..1.0],
    ) {
        let coefficients = Coefficients::from_array(c);
        let symbolic = substitute(
            &gamma(&coefficient_form_per_class()),
            &coefficient_values(&coefficients),
        );
        let value = symbolic.evaluate_f64(&at_h_y(h, y)).expect("h and y given");
        let loss = Loss::CoefficientForm { coefficients, name: None };
        let expected = autodiff_gamma(&loss, h, y);
        assert_relative_eq!(value, expected, epsilon = GAMMA_TOLERANCE * 1e2,
            max_relative = GAMMA_TOLERANCE);
    }

    #[test]
    fn mse_gamma_matches_autodiff(h in 0.0f64..1.0, y in 0.0f64..1.0) {
        let value = gamma(&mse_per_class()).evaluate_f64(&at_h_y(h, y)).expect("h and y given");
        let expected = autodiff_gamma(&Loss::MeanSquaredError, h, y);
        assert_relative_eq!(value, expected, epsilon = 1e-15, max_relative = GAMMA_TOLERANCE);
    }

    #[test]
    fn smoothing_map_matches_module(
        c in prop::array::uniform6(wide_rational()),
        alpha in (1i64..1000).prop_map(|k| ratio(k, 1000)),
        n in 2usize..=1000,
    ) {
        let coefficients = Coefficients::from_array(c);
        let mut values = coefficient_values(&coefficients);
        values.insert(ALPHA, alpha.clone());
        values.insert(N, ratio(n as i64, 1));
        let expected = label_smoothing::smoothing_map(&coefficients, &alpha, n).expect("valid");
        let derived = smoothing_map();
        for ((name, symbolic), expected) in
            COEFFICIENT_NAMES.iter().zip(derived.to_array()).zip(expected.to_array())
        {
            prop_assert_eq!(substitute(&symbolic, &values).as_constant(), Some(expected),
                "coefficient {}", name);
        }
    }

    #[test]
    fn report_null_epoch_matches_module(
        lambda in prop::array::uniform8(wide_rational()),
        n in 2i64..=1000,
    ) {
        let loss = Loss::TaylorGlo { lambda };
        let report: BTreeMap<String, Poly> = symbolic_report(&loss).into_iter().collect();
        let at_n = BTreeMap::from([(N, ratio(n, 1))]);
        let expected = NullEpoch::new(&loss, n as usize).expect("n >= 2");
        prop_assert_eq!(report["gamma_T at h = 1/n"].evaluate(&at_n), Some(expected.gamma_target));
        prop_assert_eq!(
            report["gamma_nonT at h = 1/n"].evaluate(&at_n),
            Some(expected.gamma_non_target)
        );
    }
}

#[test]
fn smoothing_identity_holds_exactly() {
    let gamma = gamma(&coefficient_form_per_class());
    let (target_label, non_target_label) = smoothed_labels();
    let smoothed_target = gamma.substitute(Y, &target_label).unwrap();
    let smoothed_non_target = gamma.substitute(Y, &non_target_label).unwrap();

    let hard = gamma_from_coefficients(&smoothing_map());
    let hard_target = hard.substitute(Y, &Poly::one()).unwrap();
    let hard_non_target = hard.substitute(Y, &Poly::zero()).unwrap();

    assert_eq!(hard_target, smoothed_target);
    assert_eq!(hard_non_target, smoothed_non_target);
}

#[test]
fn smoothing_map_matches_printed() {
    // Eqs. 43-48 with y_T = 1 - alpha (n-1)/n and y_-T = alpha/n.
    let (y_target, y_non_target) = smoothed_labels();
    let derived = smoothing_map();
    let c_1 = var(C_1) + var(C_Y) * &y_non_target + var(C_YY) * y_non_target.pow(2);
    let c_h = var(C_H) + var(C_HY) * &y_non_target;
    let c_hy = var(C_HY) * &y_target - var(C_HY) * &y_non_target;
    let c_y = var(C_Y) * &y_target - var(C_Y) * &y_non_target;
    let c_yy = var(C_YY) * (y_target.pow(2) - y_non_target.pow(2));
    assert_eq!(derived.c_1, c_1);
    assert_eq!(derived.c_h, c_h);
    assert_eq!(derived.c_hh, var(C_HH));
    assert_eq!(derived.c_hy, c_hy);
    assert_eq!(derived.c_y, c_y);
    assert_eq!(derived.c_yy, c_yy);
    // Eqs. 46-47 simplify to a factor 1 - alpha.
    let one_minus_alpha = Poly::one() - var(ALPHA);
    assert_eq!(derived.c_hy, var(C_HY) * &one_minus_alpha);
    assert_eq!(derived.c_y, var(C_Y) * &one_minus_alpha);
}

#[test]
fn taylorglo_gamma_matches_printed_eq11() {
    let l = LAMBDA.map(var);
    let h = var(H);
    let y = var(Y);
    let two = constant(2, 1);
    let three = constant(3, 1);
    let six = constant(6, 1);
    let printed = [
        &two * &l[3] * &h,
        -(&two * &l[1] * &l[3]),
        &two * &l[6] * &h * &y,
        -(&two * &l[6] * &l[0] * &h),
        -(&two * &l[1] * &l[6] * &y),
        &two * &l[1] * &l[6] * &l[0],
        l[2].clone(),
        &l[5] * &y,
        -(&l[5] * &l[0]),
        &l[7] * y.pow(2),
        -(&two * &l[7] * &l[0] * &y),
        &l[7] * l[0].pow(2),
        &three * &l[4] * h.pow(2),
        -(&six * &l[1] * &l[4] * &h),
        &three * &l[4] * l[1].pow(2),
    ];
    let mut expected = Poly::zero();
    for term in &printed {
        expected += term;
    }
    assert_eq!(gamma(&taylorglo_per_class()), expected);
}

#[test]
fn zero_error_matches_printed_eqs_21_to_23() {
    let l = LAMBDA.map(var);
    let two = constant(2, 1);
    let three = constant(3, 1);
    let six = constant(6, 1);
    let a = &l[2] - &two * &l[1] * &l[3] - &l[5] * &l[0]
        + &two * &l[1] * &l[6] * &l[0]
        + &l[7] * l[0].pow(2)
        + &three * &l[4] * l[1].pow(2);
    let b = &two * &l[3] - &two * &l[6] * &l[0] - &two * &l[1] * &l[6] + &l[5]
        - &two * &l[7] * &l[0]
        - &six * &l[4] * &l[1];
    let c = &two * &l[6] + &l[7] + &three * &l[4];
    let derived = zero_error_coefficients(&gamma(&taylorglo_per_class())).unwrap();
    assert_eq!(derived.a, a);
    assert_eq!(derived.b, b);
    assert_eq!(derived.c, c);
}

#[test]
fn mse_equals_taylorglo_special_case() {
    // lambda = [0, 0, 0, -1, 0, 2, 0, 0] gives l = h^2 - 2yh, which differs from (h - y)^2
    // only by y^2, so both have the same gamma.
    let lambda = [0, 0, 0, -1, 0, 2, 0, 0].map(|l| ratio(l, 1));
    let taylorglo = substitute(&gamma(&taylorglo_per_class()), &lambda_values(&lambda));
    assert_eq!(taylorglo, gamma(&mse_per_class()));
    let per_class = substitute(&taylorglo_per_class(), &lambda_values(&lambda));
    assert_eq!(&mse_per_class() - &per_class, var(Y).pow(2));
}

#[test]
fn cifar10_gamma_matches_printed_eq28() {
    let loss = Loss::taylorglo_cifar10();
    let report: BTreeMap<String, Poly> = symbolic_report(&loss).into_iter().collect();
    let gamma = &report["gamma(h, y)"];
    let h = var(H);
    let decimal = |text: &str| Poly::constant(parse_rational(text).unwrap());
    let non_target =
        decimal("-373.917") + decimal("-130.264") * &h + decimal("-11.2188") * h.pow(2);
    let target = decimal("-372.470735") + decimal("-131.47") * &h + decimal("-11.2188") * h.pow(2);
    assert_eq!(gamma.substitute(Y, &Poly::zero()).unwrap(), non_target);
    assert_eq!(gamma.substitute(Y, &Poly::one()).unwrap(), target);
}

#[test]
fn cifar10_null_epoch_matches_printed_eq29() {
    let loss = Loss::taylorglo_cifar10();
    let report: BTreeMap<String, Poly> = symbolic_report(&loss).into_iter().collect();
    let decimal = |text: &str| Poly::constant(parse_rational(text).unwrap());
    let n_inverse = |power: i32, text: &str| {
        Poly::term(parse_rational(text).unwrap(), Monomial::power(N, -power))
    };
    let non_target = decimal("-373.917") + n_inverse(1, "-130.264") + n_inverse(2, "-11.2188");
    let target = decimal("-372.470735") + n_inverse(1, "-131.47") + n_inverse(2, "-11.2188");
    assert_eq!(report["gamma_nonT at h = 1/n"], non_target);
    assert_eq!(report["gamma_T at h = 1/n"], target);
}

#[test]
fn report_lists_general_and_substituted() {
    let lambda =
        ["0.5", "-1", "2", "0.25", "-3", "1.5", "0", "7"].map(|t| parse_rational(t).unwrap());
    let report = symbolic_report(&Loss::TaylorGlo {
        lambda: lambda.clone(),
    });
    let labels: Vec<&str> = report.iter().map(|(label, _)| label.as_str()).collect();
    let names = [
        "l(h, y)",
        "gamma(h, y)",
        "c_1",
        "c_h",
        "c_hh",
        "c_hy",
        "c_y",
        "c_yy",
        "a",
        "b",
        "c",
        "gamma_T at h = 1/n",
        "gamma_nonT at h = 1/n",
    ];
    let mut expected: Vec<String> = names
        .iter()
        .map(|name| format!("{name} in lambda"))
        .collect();
    expected.extend(names.iter().map(|name| name.to_string()));
    assert_eq!(labels, expected);

    let values = lambda_values(&lambda);
    for index in 0..names.len() {
        let general = &report[index].1;
        let specific = &report[index + names.len()].1;
        assert_eq!(
            &substitute(general, &values),
            specific,
            "entry {}",
            names[index]
        );
        assert!(
            specific.variables().iter().all(|v| !LAMBDA.contains(v)),
            "entry {}",
            names[index]
        );
    }
    let coefficients = taylorglo_coefficients(&lambda);
    for (offset, expected) in coefficients.to_array().into_iter().enumerate() {
        assert_eq!(
            report[names.len() + 2 + offset].1.as_constant(),
            Some(expected)
        );
    }
}

#[test]
fn report_for_mse_has_no_general_part() {
    let report = symbolic_report(&Loss::MeanSquaredError);
    assert_eq!(report.len(), 13);
    assert_eq!(report[1].0, "gamma(h, y)");
    assert_eq!(report[1].1.to_string(), "-2*h + 2*y");
}

#[test]
fn report_for_coefficient_form_uses_c_symbols() {
    let c = ["1", "-2", "0.5", "3", "-0.25", "4"].map(|t| parse_rational(t).unwrap());
    let coefficients = Coefficients::from_array(c);
    let loss = Loss::CoefficientForm {
        coefficients: coefficients.clone(),
        name: None,
    };
    let report: BTreeMap<String, Poly> = symbolic_report(&loss).into_iter().collect();
    let symbolic_gamma = &report["gamma(h, y) in c"];
    let expected = gamma_from_coefficients(&Coefficients::from_array(COEFFICIENT_VARS.map(var)));
    assert_eq!(symbolic_gamma, &expected);
    let at = BTreeMap::from([(H, ratio(1, 3)), (Y, ratio(1, 1))]);
    assert_eq!(
        report["gamma(h, y)"].evaluate(&at),
        Some(coefficients.gamma(&ratio(1, 3), &ratio(1, 1)))
    );
    assert_eq!(to_f64(&report["c_yy"].as_constant().unwrap()), 4.0);
}
