//! Rows for the null epoch (Appendix C, Eqs. 25-30) and the invariant (Theorem 3, Eqs. 18,
//! 19 and 68).

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::json;

use super::learning_rule::half_unit;
use super::{CheckRow, Tally};
use crate::exact::{Rational, format_rational, ratio, to_f64};
use crate::learning_rule::gamma_autodiff;
use crate::loss::{Coefficients, Loss};
use crate::null_epoch::{NullEpoch, printed_invariant};

pub(super) fn rows(rng: &mut ChaCha8Rng) -> Vec<CheckRow> {
    vec![
        printed_null_epoch(
            "eq25",
            "MSE at h = 1/n: gamma = 2/n (y = 0), 2/n - 2 (y = 1)",
            Loss::MeanSquaredError,
            |n| (2.0 / n, 2.0 / n - 2.0),
        ),
        printed_null_epoch(
            "eq26",
            "cross-entropy at h = 1/n: gamma = 0 (y = 0), n (y = 1)",
            Loss::CrossEntropy,
            |n| (0.0, n),
        ),
        printed_null_epoch(
            "eq27",
            "Baikal at h = 1/n: gamma = n (y = 0), n + n^2 (y = 1)",
            Loss::Baikal,
            |n| (n, n + n * n),
        ),
        eq28_versus_eq16(),
        eq30(),
        cifar10_null_epoch(),
        invariant(
            rng,
            "eq18",
            "Theorem 3, Eq. 18 alone: untrainable if c_1 + c_y + c_yy + (c_h + c_hy)/n + c_hh/n^2 < (n-1)(c_1 + c_h/n + c_hh/n^2)",
            |c, n| {
                let p = printed_invariant(c, n);
                p.eq18.0 < p.eq18.1
            },
        ),
        invariant(
            rng,
            "eq19",
            "Theorem 3, Eq. 19 alone: untrainable if c_y + c_yy + c_hy/n < (n-2)(c_1 + c_h/n + c_hh/n^2)",
            |c, n| {
                let p = printed_invariant(c, n);
                p.eq19.0 < p.eq19.1
            },
        ),
        invariant(
            rng,
            "theorem3",
            "Theorem 3: a TaylorGLO loss is not trainable if Eqs. 18 and 19 both hold",
            |c, n| printed_invariant(c, n).untrainable(),
        ),
        invariant(
            rng,
            "eq68",
            "Appendix D.4, Eq. 68: the degenerate (untrainable) case is c_1 + c_y + c_yy + (c_h + c_hy)/n + c_hh/n^2 < 0",
            |c, n| {
                let p = printed_invariant(c, n);
                p.eq18.0 < ratio(0, 1)
            },
        ),
    ]
}

fn printed_null_epoch(
    id: &'static str,
    claim: &str,
    loss: Loss,
    printed: impl Fn(f64) -> (f64, f64),
) -> CheckRow {
    let claim = format!("{claim}, for n = 2..1000");
    let mut tally = Tally::new(
        id,
        claim,
        1e-9,
        "relative, vs autodiff of the loss at h = 1/n",
    );
    for n in 2..=1000usize {
        let nf = n as f64;
        let (printed_non_target, printed_target) = printed(nf);
        let non_target = gamma_autodiff(&loss, 1.0 / nf, 0.0);
        let target = gamma_autodiff(&loss, 1.0 / nf, 1.0);
        let deviation = super::relative(printed_non_target, non_target)
            .max(super::relative(printed_target, target));
        tally.record(deviation, || {
            json!({
                "n": n,
                "printed": {"non_target": printed_non_target, "target": printed_target},
                "autodiff": {"non_target": non_target, "target": target},
            })
        });
    }
    tally.finish()
}

/// Eq. 28 at h = y must be Eq. 16 with the printed a, b, c (the source notes this itself).
fn eq28_versus_eq16() -> CheckRow {
    let claim = "Eq. 28's rows at h = y give Eq. 16 with the printed a = -373.917, \
                 b = -129.928, c = -11.3145";
    let rows = [
        ("-373.917", "-130.264", "-11.2188"),
        ("-372.470735", "-131.47", "-11.2188"),
    ];
    let (a, b, c) = ("-373.917", "-129.928", "-11.3145");
    let value = |s: &str| s.parse::<f64>().expect("literal");
    let rounding = |parts: &[&str]| parts.iter().map(|s| half_unit(s)).sum::<f64>();
    let mut tally = Tally::new(
        "eq28",
        claim,
        1.0,
        "deviation over the sum of the printed numbers' rounding",
    );
    let non_target = value(rows[0].0);
    tally.record(
        (non_target - value(a)).abs() / rounding(&[rows[0].0, a]),
        || json!({"y": 0, "eq28": non_target, "eq16": value(a)}),
    );
    let target = value(rows[1].0) + value(rows[1].1) + value(rows[1].2);
    let eq16 = value(a) + value(b) + value(c);
    let allowed = rounding(&[rows[1].0, rows[1].1, rows[1].2, a, b, c]);
    tally.record(
        (target - eq16).abs() / allowed,
        || json!({"y": 1, "eq28": target, "eq16": eq16}),
    );
    tally.finish()
}

/// Eq. 30 is Eq. 29 evaluated at n = 10: pure arithmetic on the printed numbers.
fn eq30() -> CheckRow {
    let claim = "Eq. 30: Eq. 29 at n = 10 gives -386.9546188 (y = 0) and -385.729923 (y = 1)";
    let mut tally = Tally::new(
        "eq30",
        claim,
        1.0,
        "deviation in units of half the last printed digit",
    );
    let n = ratio(10, 1);
    let parse = |s: &str| crate::exact::parse_rational(s).expect("literal");
    let cases = [
        (0, ["-373.917", "-130.264", "-11.2188"], "-386.9546188"),
        (1, ["-372.470735", "-131.47", "-11.2188"], "-385.729923"),
    ];
    for (y, [constant, linear, square], printed) in cases {
        let exact: Rational = parse(constant) + parse(linear) / &n + parse(square) / (&n * &n);
        let deviation = to_f64(&(exact.clone() - parse(printed))).abs() / half_unit(printed);
        tally.record(
            deviation,
            || json!({"n": 10, "y": y, "printed": printed, "computed": format_rational(&exact)}),
        );
    }
    tally.finish()
}

fn cifar10_null_epoch() -> CheckRow {
    let claim = "Appendix C: for the CIFAR-10 TaylorGLO loss at n = 10 both gammas are negative, \
                 the non-target one more so, and the target probability grows";
    let mut tally = Tally::new(
        "appC-taylorglo",
        claim,
        0.0,
        "1 if any part of the claim fails",
    );
    let null = NullEpoch::new(&Loss::taylorglo_cifar10(), 10).expect("n = 10");
    let both_negative = null.gamma_target < ratio(0, 1) && null.gamma_non_target < ratio(0, 1);
    let probs = vec![0.1; 10];
    let gammas: Vec<f64> = (0..10)
        .map(|k| Loss::taylorglo_cifar10().gamma(0.1, f64::from(k == 0)))
        .collect();
    let grows = crate::attraction::attraction_full(&probs, &gammas, 0) > 0.0;
    let holds = both_negative && null.trainable() && grows;
    tally.record(if holds { 0.0 } else { 1.0 }, || {
        json!({"gamma_target": to_f64(&null.gamma_target), "gamma_non_target": to_f64(&null.gamma_non_target), "target_grows": grows})
    });
    tally.finish()
}

fn random_coefficients(rng: &mut ChaCha8Rng) -> Coefficients<Rational> {
    Coefficients::from_array(std::array::from_fn(|_| {
        ratio(rng.random_range(-100..100), rng.random_range(1..10))
    }))
}

/// Compares a printed untrainability test with the exact one (`G_T <= G_-T`).
fn invariant(
    rng: &mut ChaCha8Rng,
    id: &'static str,
    claim: &str,
    printed_untrainable: impl Fn(&Coefficients<Rational>, usize) -> bool,
) -> CheckRow {
    let mut tally = Tally::new(
        id,
        claim,
        0.0,
        "1 if the printed verdict differs from the exact null-epoch condition G_T > G_-T",
    );
    for _ in 0..2000 {
        let c = random_coefficients(rng);
        let n = rng.random_range(2..100usize);
        let loss = Loss::CoefficientForm {
            coefficients: c.clone(),
            name: None,
        };
        let null = NullEpoch::new(&loss, n).expect("n >= 2");
        let printed = printed_untrainable(&c, n);
        let exact = !null.trainable();
        tally.record(if printed == exact { 0.0 } else { 1.0 }, || {
            json!({
                "loss": loss.spec(),
                "n": n,
                "gamma_target": format_rational(&null.gamma_target),
                "gamma_non_target": format_rational(&null.gamma_non_target),
                "printed_untrainable": printed,
                "exact_untrainable": exact,
            })
        });
    }
    tally.finish()
}
