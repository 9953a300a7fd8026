//! Rows for the gamma decompositions (Eqs. 5-13), the zero-error coefficients (Eqs. 15-23),
//! Section 4.1's numbers and the label-smoothing map (Eqs. 43-48).

use num_traits::Zero;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::json;

use super::{CheckRow, Tally, relative};
use crate::exact::{Rational, format_rational, from_f64, ratio, to_f64};
use crate::label_smoothing::{smoothed_labels, smoothing_map};
use crate::learning_rule::gamma_autodiff;
use crate::loss::{Coefficients, Loss};

const CASES: usize = 2000;

pub(super) fn rows(rng: &mut ChaCha8Rng) -> Vec<CheckRow> {
    vec![
        printed_gamma(
            rng,
            "eq5",
            "MSE: gamma = 2y - 2h",
            Loss::MeanSquaredError,
            |h, y| 2.0 * y - 2.0 * h,
        ),
        printed_gamma(
            rng,
            "eq7",
            "cross-entropy: gamma = y / h",
            Loss::CrossEntropy,
            |h, y| y / h,
        ),
        printed_gamma(
            rng,
            "eq9",
            "Baikal: gamma = 1/h + y/h^2",
            Loss::Baikal,
            |h, y| 1.0 / h + y / (h * h),
        ),
        eq11(rng),
        mse_as_taylorglo(rng),
        eq13(rng),
        eq15(),
        zero_error_formula(
            rng,
            "eq21",
            "a = l2 - 2 l1 l3 - l5 l0 + 2 l1 l6 l0 + l7 l0^2 + 3 l4 l1^2",
            0,
        ),
        zero_error_formula(
            rng,
            "eq22",
            "b = 2 l3 - 2 l6 l0 - 2 l1 l6 + l5 - 2 l7 l0 - 6 l4 l1",
            1,
        ),
        zero_error_formula(rng, "eq23", "c = 2 l6 + l7 + 3 l4", 2),
        a_zero_family(rng),
        cifar10_abc(),
        label_smoothing(rng),
    ]
}

fn random_lambda(rng: &mut ChaCha8Rng) -> [f64; 8] {
    std::array::from_fn(|_| rng.random_range(-10.0..10.0))
}

fn random_point(rng: &mut ChaCha8Rng) -> (f64, f64) {
    let h = rng.random_range(1e-3..1.0);
    let y = if rng.random_bool(0.5) {
        f64::from(rng.random_bool(0.5) as u8)
    } else {
        rng.random_range(0.0..1.0)
    };
    (h, y)
}

fn taylorglo(lambda: [f64; 8]) -> Loss {
    Loss::TaylorGlo {
        lambda: lambda.map(|l| from_f64(l).expect("finite")),
    }
}

/// Compares a printed gamma with `-dl/dh` of the loss definition by autodiff.
fn printed_gamma(
    rng: &mut ChaCha8Rng,
    id: &'static str,
    claim: &str,
    loss: Loss,
    printed: impl Fn(f64, f64) -> f64,
) -> CheckRow {
    let mut tally = Tally::new(id, claim, 1e-9, "relative, vs autodiff of the loss");
    for _ in 0..CASES {
        let (h, y) = random_point(rng);
        let (left, right) = (printed(h, y), gamma_autodiff(&loss, h, y));
        tally.record(
            relative(left, right),
            || json!({"h": h, "y": y, "printed": left, "autodiff": right}),
        );
    }
    tally.finish()
}

/// Eq. 11 transcribed term by term.
fn eq11_printed(l: &[f64; 8], h: f64, y: f64) -> f64 {
    2.0 * l[3] * h - 2.0 * l[1] * l[3] + 2.0 * l[6] * h * y
        - 2.0 * l[6] * l[0] * h
        - 2.0 * l[1] * l[6] * y
        + 2.0 * l[1] * l[6] * l[0]
        + l[2]
        + l[5] * y
        - l[5] * l[0]
        + l[7] * y * y
        - 2.0 * l[7] * l[0] * y
        + l[7] * l[0] * l[0]
        + 3.0 * l[4] * h * h
        - 6.0 * l[1] * l[4] * h
        + 3.0 * l[4] * l[1] * l[1]
}

fn eq11(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "TaylorGLO: gamma expanded in lambda, h, y as printed";
    let mut tally = Tally::new("eq11", claim, 1e-9, "relative, vs autodiff of the loss");
    for _ in 0..CASES {
        let lambda = random_lambda(rng);
        let (h, y) = random_point(rng);
        let (left, right) = (
            eq11_printed(&lambda, h, y),
            gamma_autodiff(&taylorglo(lambda), h, y),
        );
        let scale = lambda.iter().fold(1.0f64, |m, l| m.max(l.abs())).powi(3);
        tally.record(
            (left - right).abs() / scale,
            || json!({"lambda": lambda, "h": h, "y": y, "printed": left, "autodiff": right}),
        );
    }
    tally.finish()
}

fn mse_as_taylorglo(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "MSE is TaylorGLO with lambda = [0, 0, 0, -1, 0, 2, 0, 0] (same gamma)";
    let mut tally = Tally::new("sec4.1-mse", claim, 1e-12, "absolute gamma difference");
    let as_taylorglo = taylorglo([0.0, 0.0, 0.0, -1.0, 0.0, 2.0, 0.0, 0.0]);
    for _ in 0..CASES {
        let (h, y) = random_point(rng);
        let left = gamma_autodiff(&as_taylorglo, h, y);
        let right = gamma_autodiff(&Loss::MeanSquaredError, h, y);
        tally.record(
            (left - right).abs(),
            || json!({"h": h, "y": y, "taylorglo": left, "mse": right}),
        );
    }
    tally.finish()
}

fn eq13(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "MSE at zero training error (h = y): gamma = 0";
    let mut tally = Tally::new("eq13", claim, 1e-12, "absolute gamma");
    for _ in 0..CASES {
        let y = rng.random_range(0.0..1.0);
        let gamma = gamma_autodiff(&Loss::MeanSquaredError, y, y);
        tally.record(gamma.abs(), || json!({"h": y, "y": y, "gamma": gamma}));
    }
    tally.finish()
}

fn eq15() -> CheckRow {
    let claim = "cross-entropy near zero error (non-targets eps, target 1 - (n-1) eps, eps -> 0): \
                 gamma -> 0 for non-targets and 1 for the target";
    let mut tally = Tally::new("eq15", claim, 1e-6, "absolute, at eps = 1e-12");
    let epsilon = 1e-12;
    for n in 2..=1000usize {
        let non_target = gamma_autodiff(&Loss::CrossEntropy, epsilon, 0.0);
        let target = gamma_autodiff(&Loss::CrossEntropy, 1.0 - (n as f64 - 1.0) * epsilon, 1.0);
        let deviation = non_target.abs().max((target - 1.0).abs());
        tally.record(deviation, || json!({"n": n, "epsilon": epsilon, "gamma_non_target": non_target, "gamma_target": target}));
    }
    tally.finish()
}

/// Printed a, b, c as functions of lambda (Eqs. 21-23).
fn printed_abc(l: &[Rational; 8]) -> [Rational; 3] {
    let k = |v: i64| ratio(v, 1);
    let [l0, l1, l2, l3, l4, l5, l6, l7] = l;
    let a =
        l2 - k(2) * l1 * l3 - l5 * l0 + k(2) * l1 * l6 * l0 + l7 * l0 * l0 + k(3) * l4 * l1 * l1;
    let b = k(2) * l3 - k(2) * l6 * l0 - k(2) * l1 * l6 + l5 - k(2) * l7 * l0 - k(6) * l4 * l1;
    let c = k(2) * l6 + l7 + k(3) * l4;
    [a, b, c]
}

/// First-principles a, b, c: gamma along h = y = t is `a + b t + c t^2`; sample it at t = 0,
/// 1/2, 1 exactly (gamma of a TaylorGLO loss is exact in rationals) and solve.
fn derived_abc(loss: &Loss) -> [Rational; 3] {
    let at = |t: Rational| loss.gamma_exact(&t, &t).expect("polynomial loss");
    let g0 = at(ratio(0, 1));
    let g_half = at(ratio(1, 2));
    let g1 = at(ratio(1, 1));
    // g(1/2) = a + b/2 + c/4 and g(1) = a + b + c give c = 2 (g1 - 2 g_half + g0).
    let c = ratio(2, 1) * (&g1 - ratio(2, 1) * &g_half + &g0);
    let b = &g1 - &g0 - &c;
    [g0, b, c]
}

fn random_rational_lambda(rng: &mut ChaCha8Rng) -> [Rational; 8] {
    std::array::from_fn(|_| ratio(rng.random_range(-2000..2000), rng.random_range(1..200)))
}

fn zero_error_formula(
    rng: &mut ChaCha8Rng,
    id: &'static str,
    claim: &str,
    which: usize,
) -> CheckRow {
    let claim = format!("zero-error coefficient {claim}");
    let mut tally = Tally::new(id, claim, 0.0, "exact rational difference");
    for _ in 0..CASES / 4 {
        let lambda = random_rational_lambda(rng);
        let derived = derived_abc(&Loss::TaylorGlo {
            lambda: lambda.clone(),
        });
        let printed = printed_abc(&lambda);
        let difference = &printed[which] - &derived[which];
        tally.record(to_f64(&difference).abs(), || {
            json!({
                "lambda": lambda.iter().map(format_rational).collect::<Vec<_>>(),
                "printed": format_rational(&printed[which]),
                "derived": format_rational(&derived[which]),
            })
        });
    }
    tally.finish()
}

fn a_zero_family(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "lambda_2 = 2 l1 l3 + l5 l0 - 2 l1 l6 l0 - l7 l0^2 - 3 l4 l1^2 gives a = 0";
    let mut tally = Tally::new("sec4.1-a-zero", claim, 0.0, "exact |a|");
    for _ in 0..CASES / 4 {
        let mut lambda = random_rational_lambda(rng);
        let [l0, l1, _, l3, l4, l5, l6, l7] = lambda.clone();
        let k = |v: i64| ratio(v, 1);
        lambda[2] = k(2) * &l1 * &l3 + &l5 * &l0
            - k(2) * &l1 * &l6 * &l0
            - &l7 * &l0 * &l0
            - k(3) * &l4 * &l1 * &l1;
        let [a, _, _] = derived_abc(&Loss::TaylorGlo {
            lambda: lambda.clone(),
        });
        tally.record(to_f64(&a).abs(), || json!({"lambda": lambda.iter().map(format_rational).collect::<Vec<_>>(), "a": format_rational(&a)}));
    }
    tally.finish()
}

/// Half a unit in the last printed digit of a decimal string.
pub(super) fn half_unit(printed: &str) -> f64 {
    let places = printed
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len());
    0.5 * 10f64.powi(-(places as i32))
}

fn cifar10_abc() -> CheckRow {
    let claim = "the CIFAR-10 AllCNN-C TaylorGLO loss has a = -373.917, b = -129.928, c = -11.3145 \
                 (reconstructed loss, to printed precision)";
    let mut tally = Tally::new(
        "sec4.1-cifar10",
        claim,
        1.0,
        "deviation in units of half the last printed digit",
    );
    let derived = derived_abc(&Loss::taylorglo_cifar10());
    for (name, printed, value) in [
        ("a", "-373.917", &derived[0]),
        ("b", "-129.928", &derived[1]),
        ("c", "-11.3145", &derived[2]),
    ] {
        let printed_value: f64 = printed.parse().expect("literal");
        let deviation = (to_f64(value) - printed_value).abs() / half_unit(printed);
        tally.record(
            deviation,
            || json!({"coefficient": name, "printed": printed_value, "derived": to_f64(value)}),
        );
    }
    tally.finish()
}

fn random_coefficients(rng: &mut ChaCha8Rng) -> Coefficients<Rational> {
    Coefficients::from_array(std::array::from_fn(|_| {
        ratio(rng.random_range(-5000..5000), rng.random_range(1..100))
    }))
}

fn label_smoothing(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "Eqs. 43-48: hard-label coefficients c-hat reproduce gamma under label smoothing \
                 for every h (y = 0 and y = 1)";
    let mut tally = Tally::new("eq43-48", claim, 0.0, "exact rational difference of gamma");
    for _ in 0..CASES / 4 {
        let c = random_coefficients(rng);
        let alpha = ratio(rng.random_range(1..1000), 1000);
        let n = rng.random_range(2..1000usize);
        let h = ratio(rng.random_range(0..10_000), 10_000);
        let c_hat = smoothing_map(&c, &alpha, n).expect("alpha in (0, 1), n >= 2");
        let (target, non_target) = smoothed_labels(&alpha, n);
        for (hard, smoothed) in [(ratio(0, 1), non_target), (ratio(1, 1), target)] {
            let difference = c.gamma(&h, &smoothed) - c_hat.gamma(&h, &hard);
            let deviation = if difference.is_zero() {
                0.0
            } else {
                to_f64(&difference).abs().max(f64::MIN_POSITIVE)
            };
            tally.record(deviation, || {
                json!({"alpha": format_rational(&alpha), "n": n, "h": format_rational(&h), "y": format_rational(&hard)})
            });
        }
    }
    tally.finish()
}
