//! Property tests of the learning-rule algebra against forward-mode automatic
//! differentiation, exact rational arithmetic and direct softmax recomputation.

use approx::assert_relative_eq;
use lossdyn::attraction::{attraction_exact, attraction_full, two_level_probs};
use lossdyn::exact::{Rational, from_f64, parse_rational, ratio};
use lossdyn::label_smoothing::{smoothed_gamma, smoothed_labels, smoothing_map, unsmoothing_map};
use lossdyn::learning_rule::{gamma_autodiff, softmax, softmax_jacobian_autodiff};
use lossdyn::loss::{Coefficients, Loss, parse_loss};
use lossdyn::null_epoch::{NullEpoch, printed_invariant};
use num_dual::{Dual64, DualNum, first_derivative};
use proptest::prelude::*;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Generates finite f64 values with magnitude between 1e-30 and 1e30, or zero.
fn wide_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        (-1.0f64..1.0, -30i32..=30).prop_map(|(m, e)| m * 10f64.powi(e)),
        -10.0f64..10.0,
    ]
}

fn taylorglo(lambda: [f64; 8]) -> Loss {
    Loss::TaylorGlo {
        lambda: lambda.map(|l| from_f64(l).expect("finite")),
    }
}

/// Sum of the magnitudes of the TaylorGLO gamma terms: the scale that rounding errors are
/// relative to, since the terms can cancel.
fn taylorglo_scale(l: &[f64; 8], h: f64, y: f64) -> f64 {
    let u = (h - l[1]).abs().max(h.abs() + l[1].abs());
    let v = (y - l[0]).abs().max(y.abs() + l[0].abs());
    l[2].abs()
        + 2.0 * l[3].abs() * u
        + 3.0 * l[4].abs() * u * u
        + l[5].abs() * v
        + 2.0 * l[6].abs() * v * u
        + l[7].abs() * v * v
}

fn one_hot(n: usize, target: usize) -> Vec<f64> {
    (0..n).map(|k| f64::from(u8::from(k == target))).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// gamma of TaylorGLO in closed form (through the coefficient form) equals -dl/dh of the
    /// loss by autodiff, relative to the scale of its terms (1e-9).
    #[test]
    fn taylorglo_gamma_matches_autodiff(
        lambda in prop::array::uniform8(wide_value()),
        h in 1e-6f64..1.0,
        y in prop_oneof![Just(0.0), Just(1.0)],
    ) {
        let loss = taylorglo(lambda);
        let closed = loss.gamma(h, y);
        let autodiff = gamma_autodiff(&loss, h, y);
        let scale = taylorglo_scale(&lambda, h, y).max(f64::MIN_POSITIVE);
        prop_assert!((closed - autodiff).abs() <= 1e-9 * scale, "closed {closed}, autodiff {autodiff}, scale {scale}");
    }

    /// gamma of the coefficient form equals -dl/dh by autodiff (relative 1e-9 of the terms).
    #[test]
    fn coefficient_gamma_matches_autodiff(
        c in prop::array::uniform6(wide_value()),
        h in 1e-6f64..1.0,
        y in prop_oneof![Just(0.0), Just(1.0)],
    ) {
        let coefficients = Coefficients::from_array(c.map(|v| from_f64(v).expect("finite")));
        let loss = Loss::CoefficientForm { coefficients, name: None };
        let closed = loss.gamma(h, y);
        let autodiff = gamma_autodiff(&loss, h, y);
        let scale: f64 = c.iter().map(|v| v.abs()).sum::<f64>().max(f64::MIN_POSITIVE);
        prop_assert!((closed - autodiff).abs() <= 1e-9 * scale, "closed {closed}, autodiff {autodiff}");
    }

    /// For every loss, n in 2..=1000, random logits and a one-hot label: the derivative of the
    /// sample loss L = (1/n) sum_k l(h_k, y_k) with respect to each h_k is -gamma_k / n.
    #[test]
    fn sample_loss_derivative_is_gamma_over_n(
        spec in prop_oneof![Just("ce"), Just("mse"), Just("baikal"), Just("taylorglo-cifar10"), Just("taylorglo:0.3,-1.2,2,0.5,-4,1.5,0.25,-2")],
        n in 2usize..=1000,
        seed in any::<u64>(),
    ) {
        let loss = parse_loss(spec).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let logits: Vec<f64> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
        let target = (seed % n as u64) as usize;
        let h = softmax(&logits);
        let y = one_hot(n, target);
        for k in [0, target, n - 1] {
            let (_, slope) = first_derivative(
                |hk: Dual64| {
                    let total: Dual64 = (0..n)
                        .map(|i| {
                            let hi = if i == k { hk } else { Dual64::from_re(h[i]) };
                            lossdyn::loss::infallible(loss.per_class(&hi, &Dual64::from_re(y[i])))
                        })
                        .sum();
                    total / n as f64
                },
                h[k],
            );
            let expected = -loss.gamma(h[k], y[k]) / n as f64;
            prop_assert!((slope - expected).abs() <= 1e-9 * expected.abs().max(1.0), "k {k}: {slope} vs {expected}");
        }
    }

    /// Through the softmax: dL/df_j by autodiff equals -(1/n) sum_k gamma_k dh_k/df_j, the
    /// decomposed rule (Eq. 3) with the logits as parameters.
    #[test]
    fn logit_gradient_is_decomposed_rule(
        spec in prop_oneof![Just("ce"), Just("mse"), Just("baikal"), Just("taylorglo-cifar10")],
        logits in prop::collection::vec(-4.0f64..4.0, 2..40),
        target_seed in any::<usize>(),
    ) {
        let loss = parse_loss(spec).unwrap();
        let n = logits.len();
        let target = target_seed % n;
        let y = one_hot(n, target);
        let h = softmax(&logits);
        let jacobian = softmax_jacobian_autodiff(&logits);
        for j in 0..n {
            let (_, slope) = first_derivative(
                |fj: Dual64| {
                    let shifted: Vec<Dual64> = (0..n).map(|i| if i == j { fj } else { Dual64::from_re(logits[i]) }).collect();
                    let exps: Vec<Dual64> = shifted.iter().map(|f| f.exp()).collect();
                    let total: Dual64 = exps.iter().copied().sum();
                    let loss_sum: Dual64 = (0..n)
                        .map(|i| lossdyn::loss::infallible(loss.per_class(&(exps[i] / total), &Dual64::from_re(y[i]))))
                        .sum();
                    loss_sum / n as f64
                },
                logits[j],
            );
            let rule: f64 = -(0..n).map(|k| loss.gamma(h[k], y[k]) * jacobian[k][j]).sum::<f64>() / n as f64;
            prop_assert!((slope - rule).abs() <= 1e-9 * rule.abs().max(1.0), "j {j}: autodiff {slope}, rule {rule}");
        }
    }

    /// Label smoothing: gamma with smoothed labels under c equals gamma with hard labels under
    /// the mapped coefficients, exactly, for every h; and the reverse map recovers c.
    #[test]
    fn smoothing_map_reproduces_gamma(
        c in prop::array::uniform6((-10_000i64..10_000, 1i64..1000)),
        alpha in (1i64..1000).prop_map(|a| ratio(a, 1000)),
        n in 2usize..=1000,
        h in (0i64..=1000).prop_map(|h| ratio(h, 1000)),
    ) {
        let c = Coefficients::from_array(c.map(|(p, q)| ratio(p, q)));
        let mapped = smoothing_map(&c, &alpha, n).unwrap();
        let (target, non_target) = smoothed_labels(&alpha, n);
        prop_assert_eq!(c.gamma(&h, &non_target), mapped.gamma(&h, &ratio(0, 1)));
        prop_assert_eq!(c.gamma(&h, &target), mapped.gamma(&h, &ratio(1, 1)));
        prop_assert_eq!(unsmoothing_map(&mapped, &alpha, n).unwrap(), c);
    }

    /// The f64 smoothed gamma of any loss agrees with the exact map for polynomial losses.
    #[test]
    fn smoothed_gamma_matches_map(alpha in 0.001f64..0.999, n in 2usize..100, h in 1e-3f64..1.0) {
        let loss = Loss::taylorglo_cifar10();
        let mapped = smoothing_map(&loss.coefficients().unwrap(), &from_f64(alpha).unwrap(), n).unwrap().to_f64();
        for y in [0.0, 1.0] {
            assert_relative_eq!(smoothed_gamma(&loss, h, y, alpha, n), mapped.gamma(h, y), max_relative = 1e-9);
        }
    }

    /// Theorem 2 from first principles equals the softmax recomputed after one unit step of
    /// the logits, to 1e-10 absolute.
    #[test]
    fn attraction_matches_softmax_recomputation(
        epsilon in 1e-4f64..0.9999,
        n in 2usize..200,
        gamma_target in -30.0f64..30.0,
        gamma_non_target in -30.0f64..30.0,
    ) {
        let probs = two_level_probs(epsilon, n, 0);
        let logits: Vec<f64> = probs.iter().map(|p| p.ln()).collect();
        let mut gammas = vec![gamma_non_target; n];
        gammas[0] = gamma_target;
        let jacobian = softmax_jacobian_autodiff(&logits);
        let moved: Vec<f64> = (0..n)
            .map(|j| logits[j] + (0..n).map(|k| gammas[k] * jacobian[k][j]).sum::<f64>())
            .collect();
        let direct = softmax(&moved)[0] - probs[0];
        let closed = attraction_exact(gamma_target, gamma_non_target, epsilon, n);
        prop_assert!((closed - direct).abs() < 1e-10, "closed {closed}, direct {direct}");
        let full = attraction_full(&probs, &gammas, 0);
        prop_assert!((full - direct).abs() < 1e-10, "full {full}, direct {direct}");
    }

    /// The full-vector form needs no equal non-targets: it matches recomputation for any
    /// softmax output.
    #[test]
    fn full_attraction_matches_recomputation(
        logits in prop::collection::vec(-5.0f64..5.0, 2..30),
        gamma_values in prop::collection::vec(-20.0f64..20.0, 30),
        target_seed in any::<usize>(),
    ) {
        let n = logits.len();
        let target = target_seed % n;
        let probs = softmax(&logits);
        let gammas = &gamma_values[..n];
        let jacobian = softmax_jacobian_autodiff(&logits);
        let moved: Vec<f64> = (0..n)
            .map(|j| logits[j] + (0..n).map(|k| gammas[k] * jacobian[k][j]).sum::<f64>())
            .collect();
        let direct = softmax(&moved)[target] - probs[target];
        let full = attraction_full(&probs, gammas, target);
        prop_assert!((full - direct).abs() < 1e-10, "full {full}, direct {direct}");
    }

    /// No NaN, infinity or lost sign for epsilon in [1e-12, 1 - 1e-12] and |gamma| <= 1e6;
    /// the two-level and the full-vector evaluations agree to 1e-9 relative.
    #[test]
    fn attraction_is_stable(
        epsilon_exponent in -12.0f64..-1e-3,
        mirror in any::<bool>(),
        n in 2usize..1000,
        gamma_target in -1e6f64..1e6,
        gamma_non_target in -1e6f64..1e6,
    ) {
        let small = 10f64.powf(epsilon_exponent);
        let epsilon = if mirror { 1.0 - small } else { small };
        let value = attraction_exact(gamma_target, gamma_non_target, epsilon, n);
        prop_assert!(value.is_finite());
        prop_assert!(value.abs() <= 1.0);
        let gap = gamma_target - gamma_non_target;
        if gap != 0.0 && value != 0.0 {
            prop_assert_eq!(value.signum(), gap.signum());
        }
        let full = attraction_full(&two_level_probs(epsilon, n, 0), &{
            let mut g = vec![gamma_non_target; n];
            g[0] = gamma_target;
            g
        }, 0);
        prop_assert!((full - value).abs() <= 1e-9 * value.abs().max(1e-300) + 1e-300, "two-level {value}, full {full}");
    }
}

#[test]
fn mse_lambda_gives_mse_coefficients() {
    let as_taylorglo = parse_loss("taylorglo:0,0,0,-1,0,2,0,0").unwrap();
    assert_eq!(
        as_taylorglo.coefficients(),
        Loss::MeanSquaredError.coefficients()
    );
}

/// On the boundary c_y + c_yy + c_hy/n = 0 one step leaves the output unchanged: exact
/// arithmetic calls it untrainable, where f64 (0.1 + 0.2 - 0.3 > 0) would not.
#[test]
fn boundary_is_decided_exactly() {
    let loss = parse_loss("coeffs:0,0,0,-3,0.1,0.2").unwrap();
    let null = NullEpoch::new(&loss, 10).unwrap();
    assert_eq!(null.gamma_target, null.gamma_non_target);
    assert!(!null.trainable());
    let in_floats = [0.1f64, 0.2, -3.0 / 10.0];
    assert!(
        in_floats.iter().sum::<f64>() > 0.0,
        "f64 would put this on the trainable side"
    );

    let nudged = parse_loss("coeffs:0,0,0,-3,0.1,0.2000000000000000000000000000001").unwrap();
    assert!(NullEpoch::new(&nudged, 10).unwrap().trainable());
}

/// Eq. 19 is Eq. 18 minus G_-T on both sides, so the two printed inequalities always agree.
#[test]
fn printed_inequalities_are_one_condition() {
    let values = ["-3", "-1/7", "0", "0.5", "2", "11/3"];
    for c_1 in values {
        for c_y in values {
            for c_hy in values {
                for n in [2usize, 3, 10, 57] {
                    let spec = format!("coeffs:{c_1},1/2,-1,{c_hy},{c_y},1/3");
                    let coefficients = parse_loss(&spec).unwrap().coefficients().unwrap();
                    let printed = printed_invariant(&coefficients, n);
                    let eq18 = printed.eq18.0 < printed.eq18.1;
                    let eq19 = printed.eq19.0 < printed.eq19.1;
                    assert_eq!(eq18, eq19, "{spec}, n = {n}");
                }
            }
        }
    }
}

#[test]
fn cifar10_reconstruction_matches_printed_rows() {
    let loss = Loss::taylorglo_cifar10();
    let c = loss.coefficients().unwrap();
    let parse = |s: &str| -> Rational { parse_rational(s).unwrap() };
    // Eq. 28: y = 0 row and y = 1 row.
    assert_eq!(c.c_1, parse("-373.917"));
    assert_eq!(&c.c_h + &c.c_hy, parse("-131.47"));
    assert_eq!(&c.c_1 + &c.c_y + &c.c_yy, parse("-372.470735"));
    // Section 4.1: b exactly, c to its four printed decimals.
    assert_eq!(&c.c_h + &c.c_y, parse("-129.928"));
    let c_zero = &c.c_hh + &c.c_hy + &c.c_yy;
    assert!((lossdyn::exact::to_f64(&c_zero) + 11.3145).abs() < 5e-5);
}

#[test]
fn baikal_repels_near_zero_error() {
    for n in [2usize, 10, 100, 1000] {
        for epsilon in [1e-12, 1e-6, 1e-2] {
            let (target, non_target) = Loss::Baikal.gamma_pair(epsilon, n);
            assert!(
                attraction_exact(target, non_target, epsilon, n) < 0.0,
                "n {n}, epsilon {epsilon}"
            );
        }
    }
}
