//! Rows for the softmax-coupling derivations: Theorem 1 (Appendix D.1, Eq. 34), Theorem 2
//! (Appendix D.3, Eqs. 17, 50-62) and Figure 3.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde_json::json;

use super::{CheckRow, Tally, relative};
use crate::attraction::{Form, attraction, attraction_exact, attraction_printed, two_level_probs};
use crate::exact::{ratio, to_f64};
use crate::learning_rule::{softmax, softmax_jacobian_autodiff};
use crate::loss::Loss;

const CASES: usize = 2000;

pub(super) fn rows(rng: &mut ChaCha8Rng) -> Vec<CheckRow> {
    vec![
        eq34(),
        theorem1(),
        eq50(rng),
        eq52(rng),
        eq56(rng, true),
        eq56(rng, false),
        eq62(rng),
        eq17(rng),
        eq17_sign(rng),
        fig3(Form::Exact),
        fig3(Form::Printed),
    ]
}

fn eq34() -> CheckRow {
    let claim = "1/(1 - eps) + 1/(1 - eps)^2 = (2 - eps)/(eps^2 - 2 eps + 1), eps = 0.001..0.999";
    let mut tally = Tally::new("eq34", claim, 0.0, "exact rational difference");
    for i in 1..1000 {
        let e = ratio(i, 1000);
        let one = ratio(1, 1);
        let keep = &one - &e;
        let derived = keep.recip() + (&keep * &keep).recip();
        let printed = (ratio(2, 1) - &e) / (&e * &e - ratio(2, 1) * &e + &one);
        let difference = to_f64(&(&printed - &derived)).abs();
        tally.record(difference, || json!({"epsilon": to_f64(&e), "printed": to_f64(&printed), "derived": to_f64(&derived)}));
    }
    tally.finish()
}

fn theorem1() -> CheckRow {
    let claim = "Theorem 1: zero training error is not an attractor of Baikal (one step lowers the \
                 target probability near eps = 0), n = 2..1000";
    let mut tally = Tally::new(
        "theorem1",
        claim,
        0.0,
        "largest attraction found (must be negative)",
    );
    for n in 2..=1000usize {
        for e in [1e-12, 1e-9, 1e-6, 1e-3] {
            let (target, non_target) = Loss::Baikal.gamma_pair(e, n);
            let value = attraction_exact(target, non_target, e, n);
            tally.record(
                value.max(0.0),
                || json!({"n": n, "epsilon": e, "attraction": value}),
            );
        }
    }
    tally.finish()
}

fn random_logits(rng: &mut ChaCha8Rng) -> Vec<f64> {
    let n = rng.random_range(2..20usize);
    (0..n).map(|_| rng.random_range(-3.0..3.0)).collect()
}

fn eq50(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "softmax Jacobian: dh_k/df_j = h_j (1 - h_k) f_k (k = j), -h_j h_k f_k (k != j)";
    let mut tally = Tally::new("eq50", claim, 1e-9, "absolute, vs autodiff of the softmax");
    for _ in 0..CASES / 4 {
        let logits = random_logits(rng);
        let h = softmax(&logits);
        let jacobian = softmax_jacobian_autodiff(&logits);
        for k in 0..logits.len() {
            for j in 0..logits.len() {
                let printed = if k == j {
                    h[j] * (1.0 - h[k]) * logits[k]
                } else {
                    -h[j] * h[k] * logits[k]
                };
                let derived = jacobian[k][j];
                tally.record((printed - derived).abs(), || json!({"logits": logits, "k": k, "j": j, "printed": printed, "autodiff": derived}));
            }
        }
    }
    tally.finish()
}

/// First-principles unit step `df_j = sum_k gamma_k dh_k/df_j` with the autodiff Jacobian.
fn direct_step(logits: &[f64], gammas: &[f64]) -> Vec<f64> {
    let jacobian = softmax_jacobian_autodiff(logits);
    (0..logits.len())
        .map(|j| (0..logits.len()).map(|k| gammas[k] * jacobian[k][j]).sum())
        .collect()
}

fn eq52(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "logit update: df_j = sum_k gamma_j (h_j (1 - h_k) if k = j, -h_j h_k otherwise)";
    let mut tally = Tally::new(
        "eq52",
        claim,
        1e-9,
        "absolute, vs sum_k gamma_k dh_k/df_j by autodiff",
    );
    for _ in 0..CASES / 4 {
        let logits = random_logits(rng);
        let h = softmax(&logits);
        let gammas: Vec<f64> = logits
            .iter()
            .map(|_| rng.random_range(-10.0..10.0))
            .collect();
        let direct = direct_step(&logits, &gammas);
        for j in 0..logits.len() {
            let printed: f64 = (0..logits.len())
                .map(|k| {
                    gammas[j]
                        * if k == j {
                            h[j] * (1.0 - h[k])
                        } else {
                            -h[j] * h[k]
                        }
                })
                .sum();
            tally.record((printed - direct[j]).abs(), || json!({"logits": logits, "gammas": gammas, "j": j, "printed": printed, "direct": direct[j]}));
        }
    }
    tally.finish()
}

fn random_two_level(rng: &mut ChaCha8Rng) -> (f64, usize, f64, f64) {
    let e = rng.random_range(1e-3..0.999);
    let n = rng.random_range(2..50usize);
    (
        e,
        n,
        rng.random_range(-50.0..50.0),
        rng.random_range(-50.0..50.0),
    )
}

fn eq56(rng: &mut ChaCha8Rng, target_case: bool) -> CheckRow {
    let (id, claim) = if target_case {
        (
            "eq56-target",
            "target logit update: gamma_T eps - gamma_T eps^2 + gamma_-T (n-1)(eps-1) eps/(n-1)",
        )
    } else {
        (
            "eq56-non-target",
            "non-target logit update: gamma_-T eps/(n-1) (1 - eps/(n-1)) + gamma_-T (n-2) eps^2/(n-1)^2 + gamma_T (eps-1) eps/(n-1)",
        )
    };
    let mut tally = Tally::new(
        id,
        claim,
        1e-9,
        "relative, vs sum_k gamma_k dh_k/df_j by autodiff",
    );
    for _ in 0..CASES {
        let (e, n, g_t, g_nt) = random_two_level(rng);
        let logits: Vec<f64> = two_level_probs(e, n, 0).iter().map(|p| p.ln()).collect();
        let mut gammas = vec![g_nt; n];
        gammas[0] = g_t;
        let direct = direct_step(&logits, &gammas);
        let m = n as f64 - 1.0;
        let (printed, derived) = if target_case {
            (
                g_t * e - g_t * e * e + g_nt * m * (e - 1.0) * e / m,
                direct[0],
            )
        } else {
            let h = e / m;
            (
                g_nt * h * (1.0 - h)
                    + g_nt * (n as f64 - 2.0) * e * e / (m * m)
                    + g_t * (e - 1.0) * h,
                direct[1],
            )
        };
        tally.record(relative(printed, derived), || json!({"epsilon": e, "n": n, "gamma_target": g_t, "gamma_non_target": g_nt, "printed": printed, "direct": derived}));
    }
    tally.finish()
}

fn eq62(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "with the target at 1 - eps: e^f_T = ((n-1)/eps - n + 1) e^f_-T";
    let mut tally = Tally::new("eq62", claim, 1e-9, "relative");
    for _ in 0..CASES {
        let (e, n, _, _) = random_two_level(rng);
        let probs = two_level_probs(e, n, 0);
        let ratio_direct = probs[0] / probs[1];
        let printed = (n as f64 - 1.0) / e - n as f64 + 1.0;
        tally.record(
            relative(printed, ratio_direct),
            || json!({"epsilon": e, "n": n, "printed": printed, "direct": ratio_direct}),
        );
    }
    tally.finish()
}

/// Recomputes the softmax after one unit step and returns the change of the target
/// probability.
fn direct_attraction(e: f64, n: usize, g_t: f64, g_nt: f64) -> f64 {
    let probs = two_level_probs(e, n, 0);
    let logits: Vec<f64> = probs.iter().map(|p| p.ln()).collect();
    let mut gammas = vec![g_nt; n];
    gammas[0] = g_t;
    let step = direct_step(&logits, &gammas);
    let moved: Vec<f64> = logits.iter().zip(&step).map(|(f, d)| f + d).collect();
    softmax(&moved)[0] - probs[0]
}

fn eq17(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "Theorem 2, Eq. 17: the change of the target probability after one step of the \
                 learning rule, with target 1 - eps and non-targets eps/(n-1)";
    let mut tally = Tally::new(
        "eq17",
        claim,
        1e-9,
        "absolute, vs softmax recomputed after the step",
    );
    for _ in 0..CASES {
        let (e, n, g_t, g_nt) = random_two_level(rng);
        let printed = attraction_printed(g_t, g_nt, e, n);
        let direct = direct_attraction(e, n, g_t, g_nt);
        tally.record((printed - direct).abs(), || json!({"epsilon": e, "n": n, "gamma_target": g_t, "gamma_non_target": g_nt, "printed": printed, "direct": direct}));
    }
    tally.finish()
}

fn eq17_sign(rng: &mut ChaCha8Rng) -> CheckRow {
    let claim = "Theorem 2: the sign of Eq. 17 tells attraction (> 0) from repulsion (< 0)";
    let mut tally = Tally::new(
        "eq17-sign",
        claim,
        0.0,
        "1 if the signs of Eq. 17 and the recomputed change differ",
    );
    for _ in 0..CASES {
        let (e, n, g_t, g_nt) = random_two_level(rng);
        let printed = attraction_printed(g_t, g_nt, e, n);
        let direct = direct_attraction(e, n, g_t, g_nt);
        let differs =
            printed.signum() != direct.signum() && direct.abs() > 1e-12 && printed.abs() > 1e-12;
        tally.record(f64::from(u8::from(differs)), || json!({"epsilon": e, "n": n, "gamma_target": g_t, "gamma_non_target": g_nt, "printed": printed, "direct": direct}));
    }
    tally.finish()
}

fn fig3(form: Form) -> CheckRow {
    let (id, label) = match form {
        Form::Exact => ("fig3-exact", "first-principles form"),
        Form::Printed => ("fig3-printed", "Eq. 17 as printed"),
    };
    let claim = format!(
        "Figure 3 at n = 10 ({label}): cross-entropy and MSE attract for every eps; the CIFAR-10 \
         TaylorGLO loss and Baikal repel confidently learned samples (small eps) and attract \
         weakly learned ones (large eps)"
    );
    let mut tally = Tally::new(
        id,
        claim,
        0.0,
        "number of contradicting grid points, eps = 0.001..0.999",
    );
    let n = 10;
    let cases = [
        (Loss::CrossEntropy, true),
        (Loss::MeanSquaredError, true),
        (Loss::taylorglo_cifar10(), false),
        (Loss::Baikal, false),
    ];
    for (loss, always_attracts) in cases {
        let value = |e: f64| {
            let (target, non_target) = loss.gamma_pair(e, n);
            attraction(form, target, non_target, e, n)
        };
        let contradictions: Vec<f64> = if always_attracts {
            (1..1000)
                .map(|i| f64::from(i) / 1000.0)
                .filter(|&e| value(e) <= 0.0)
                .collect()
        } else {
            [0.001, 0.999]
                .into_iter()
                .filter(|&e| (value(e) > 0.0) != (e > 0.5))
                .collect()
        };
        let count = contradictions.len() as f64;
        tally.record(count, || {
            let first = contradictions.first().copied();
            json!({"loss": loss.spec(), "epsilon": first, "attraction": first.map(value)})
        });
    }
    tally.finish()
}
