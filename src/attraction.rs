//! Attraction toward zero training error (Theorem 2 and its first-principles counterpart).
//!
//! # Definition
//!
//! Freeze a network at a sample whose softmax output is `h = softmax(f)`, treat the logits
//! `f` as free parameters and apply one unit step of the decomposed rule:
//!
//! ```text
//! df_j = sum_k gamma_k dh_k/df_j = h_j (gamma_j - sum_k gamma_k h_k)
//! ```
//!
//! using the softmax Jacobian `dh_k/df_j = h_k (delta_kj - h_j)`. The attraction is the
//! change of the target probability, `softmax(f + df)_T - h_T`. It is positive when the step
//! pulls the sample toward its label (lower entropy, toward zero training error) and
//! negative when it pushes the sample away.
//!
//! With the target at `1 - epsilon` and each of the `n - 1` non-targets at
//! `epsilon / (n - 1)`, only two gammas occur, `gamma_T` and `gamma_-T`, and
//!
//! ```text
//! df_T  = epsilon (1 - epsilon) (gamma_T - gamma_-T)
//! df_-T = epsilon (1 - epsilon) (gamma_-T - gamma_T) / (n - 1)
//! attraction = epsilon (1 - epsilon) (1 - e^d) / ((1 - epsilon) + epsilon e^d),
//!              d = df_-T - df_T
//! ```
//!
//! so its sign is the sign of `gamma_T - gamma_-T`.
//!
//! # Reference
//!
//! Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function Metalearning",
//! Theorem 2 (Eq. 17) and Appendix D.3. The printed Eq. 17 has the same outer form but
//! its non-target exponent is `(epsilon (epsilon - 1) gamma_T (n - 1) + epsilon gamma_-T
//! (epsilon (n - 3) + n - 1)) / (n - 1)^2`, which is `df_-T` with the sign of the
//! `(n - 2) gamma_-T h_-T^2` term flipped (Eq. 54 has the minus sign, Eq. 56 drops it).
//! [`attraction_printed`] evaluates the printed form; [`attraction_exact`] the derivation
//! above. `analyze check` reports where the two disagree.

use thiserror::Error;

/// An input outside the domain of the attraction formulas.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DomainError {
    #[error(
        "invalid epsilon {0}: epsilon is 1 minus the target probability and must lie in the \
         open interval (0, 1)"
    )]
    Epsilon(f64),

    #[error(
        "invalid number of classes {0}: n must lie in 2..={MAX_CLASSES} (classification needs \
         n >= 2)"
    )]
    Classes(usize),
}

/// Largest number of classes accepted. The exact modules form `n`, `n - 1` and `n^2` as
/// 64-bit integers, so a bound far below 2^31 keeps them exact; it is far above any
/// classification task in use.
pub const MAX_CLASSES: usize = 1_000_000;

/// Checks that `epsilon` lies in (0, 1).
pub fn check_epsilon(epsilon: f64) -> Result<(), DomainError> {
    if epsilon > 0.0 && epsilon < 1.0 {
        Ok(())
    } else {
        Err(DomainError::Epsilon(epsilon))
    }
}

/// Checks that the number of classes lies in `2..=MAX_CLASSES`.
pub fn check_classes(n: usize) -> Result<(), DomainError> {
    if (2..=MAX_CLASSES).contains(&n) {
        Ok(())
    } else {
        Err(DomainError::Classes(n))
    }
}

/// The expression of the attraction to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// The first-principles derivation (see the module documentation).
    Exact,
    /// Eq. 17 as Gonzalez and Miikkulainen print it.
    Printed,
}

impl Form {
    /// Returns a short lowercase name for tables and file names.
    pub fn name(self) -> &'static str {
        match self {
            Form::Exact => "exact",
            Form::Printed => "printed",
        }
    }
}

/// Returns the target-probability change for a two-level softmax output after the target
/// logit moves by `df_target` and every non-target logit by `df_non_target`.
///
/// Written as `epsilon (1 - epsilon) (1 - e^d) / ((1 - epsilon) + epsilon e^d)` with
/// `d = df_non_target - df_target`, and rescaled by `e^-d` when `d > 0`, so it neither
/// overflows nor cancels for `|d|` up to the f64 range.
pub fn target_change(epsilon: f64, df_target: f64, df_non_target: f64) -> f64 {
    let d = df_non_target - df_target;
    let keep = 1.0 - epsilon;
    if d > 0.0 {
        let shrink = (-d).exp();
        epsilon * keep * (-d).exp_m1() / (keep * shrink + epsilon)
    } else {
        -epsilon * keep * d.exp_m1() / (keep + epsilon * d.exp())
    }
}

/// Logit changes `(df_T, df_-T)` from first principles (module documentation).
pub fn logit_steps_exact(
    gamma_target: f64,
    gamma_non_target: f64,
    epsilon: f64,
    n: usize,
) -> (f64, f64) {
    let spread = epsilon * (1.0 - epsilon);
    let gap = gamma_target - gamma_non_target;
    (spread * gap, -spread * gap / (n as f64 - 1.0))
}

/// Logit changes `(df_T, df_-T)` as the exponents of the printed Eq. 17.
pub fn logit_steps_printed(
    gamma_target: f64,
    gamma_non_target: f64,
    epsilon: f64,
    n: usize,
) -> (f64, f64) {
    let m = n as f64 - 1.0;
    let target = epsilon * (epsilon - 1.0) * (gamma_non_target - gamma_target);
    let non_target = (epsilon * (epsilon - 1.0) * gamma_target * m
        + epsilon * gamma_non_target * (epsilon * (n as f64 - 3.0) + m))
        / (m * m);
    (target, non_target)
}

/// Attraction toward zero training error from first principles, for `epsilon` in (0, 1) and
/// `n >= 2`, under the equal-non-target assumption.
pub fn attraction_exact(gamma_target: f64, gamma_non_target: f64, epsilon: f64, n: usize) -> f64 {
    let (target, non_target) = logit_steps_exact(gamma_target, gamma_non_target, epsilon, n);
    target_change(epsilon, target, non_target)
}

/// Attraction toward zero training error as printed in Eq. 17, evaluated in a form that is
/// algebraically identical to the printed one and free of overflow.
pub fn attraction_printed(gamma_target: f64, gamma_non_target: f64, epsilon: f64, n: usize) -> f64 {
    let (target, non_target) = logit_steps_printed(gamma_target, gamma_non_target, epsilon, n);
    target_change(epsilon, target, non_target)
}

/// Eq. 17 transcribed literally, with no rearrangement. It overflows for large gammas and
/// serves only to confirm that [`attraction_printed`] is the printed expression.
pub fn attraction_printed_literal(
    gamma_target: f64,
    gamma_non_target: f64,
    epsilon: f64,
    n: usize,
) -> f64 {
    let (g_t, g_nt, e, nf) = (gamma_target, gamma_non_target, epsilon, n as f64);
    let first = (e * (e - 1.0) * (g_nt - g_t)).exp();
    let second = ((e * (e - 1.0) * g_t * (nf - 1.0) + e * g_nt * (e * (nf - 3.0) + nf - 1.0))
        / ((nf - 1.0) * (nf - 1.0)))
        .exp();
    e * (e - 1.0) * (first - second) / ((e - 1.0) * first - e * second)
}

/// Evaluates the attraction in the requested form.
pub fn attraction(
    form: Form,
    gamma_target: f64,
    gamma_non_target: f64,
    epsilon: f64,
    n: usize,
) -> f64 {
    match form {
        Form::Exact => attraction_exact(gamma_target, gamma_non_target, epsilon, n),
        Form::Printed => attraction_printed(gamma_target, gamma_non_target, epsilon, n),
    }
}

/// Attraction from first principles for any softmax output `probs` (summing to 1, entries
/// in (0, 1]) with gammas `gammas[k]` and target class `target`. No assumption about the
/// non-target probabilities is made.
///
/// The logit step comes from [`logit_steps_full`]. The change of the target probability is
/// `sum_{k != T} h_k (e^{df_T} - e^{df_k}) h_T / sum_k h_k e^{df_k}`, with every exponential
/// shifted by `max_k df_k`, so nothing overflows and the difference is formed without
/// cancellation.
pub fn attraction_full(probs: &[f64], gammas: &[f64], target: usize) -> f64 {
    let steps = logit_steps_full(probs, gammas);
    let top = steps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let target_step = steps[target];
    let mut numerator = 0.0;
    let mut denominator = 0.0;
    for (k, (&h, &step)) in probs.iter().zip(&steps).enumerate() {
        denominator += h * (step - top).exp();
        if k == target {
            continue;
        }
        let gap = target_step - step;
        // h_k e^{df_k - top} (e^{gap} - 1), arranged so that no factor overflows.
        numerator += if gap > 0.0 {
            h * (target_step - top).exp() * -(-gap).exp_m1()
        } else {
            h * (step - top).exp() * gap.exp_m1()
        };
    }
    probs[target] * numerator / denominator
}

/// Returns the unit logit step `df_j = h_j (gamma_j - sum_k h_k gamma_k)` for every class.
///
/// With `r` the most probable class and `sum_k h_k = 1`, it is evaluated as
/// `df_j = h_j ((gamma_j - gamma_r) - sum_{k != r} h_k (gamma_k - gamma_r))`. The dominant
/// class then drops out of the sum instead of being subtracted from it, so a step stays
/// accurate to rounding when one probability is within 1e-12 of 1. Cost O(n).
pub fn logit_steps_full(probs: &[f64], gammas: &[f64]) -> Vec<f64> {
    let reference = probs
        .iter()
        .enumerate()
        .fold(0, |best, (k, &h)| if h > probs[best] { k } else { best });
    let gamma_reference = gammas[reference];
    let offset: f64 = probs
        .iter()
        .zip(gammas)
        .enumerate()
        .filter(|&(k, _)| k != reference)
        .map(|(_, (h, g))| h * (g - gamma_reference))
        .sum();
    probs
        .iter()
        .zip(gammas)
        .map(|(h, g)| h * ((g - gamma_reference) - offset))
        .collect()
}

/// Softmax output with the target at `1 - epsilon` and the other `n - 1` classes sharing
/// `epsilon` equally.
pub fn two_level_probs(epsilon: f64, n: usize, target: usize) -> Vec<f64> {
    let mut probs = vec![epsilon / (n as f64 - 1.0); n];
    probs[target] = 1.0 - epsilon;
    probs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_matches_literal_for_moderate_gammas() {
        for &(g_t, g_nt, e, n) in &[
            (2.0, -1.0, 0.3, 10),
            (-5.0, 3.0, 0.7, 3),
            (0.5, 0.1, 0.01, 100),
        ] {
            let stable = attraction_printed(g_t, g_nt, e, n);
            let literal = attraction_printed_literal(g_t, g_nt, e, n);
            assert!((stable - literal).abs() < 1e-12, "{stable} vs {literal}");
        }
    }

    #[test]
    fn full_equals_two_level_on_equal_non_targets() {
        let probs = two_level_probs(0.25, 5, 2);
        let gammas = [1.5, 1.5, -0.5, 1.5, 1.5];
        let full = attraction_full(&probs, &gammas, 2);
        let two_level = attraction_exact(-0.5, 1.5, 0.25, 5);
        assert!((full - two_level).abs() < 1e-15, "{full} vs {two_level}");
    }

    #[test]
    fn huge_gammas_stay_finite() {
        for &e in &[1e-12, 0.5, 1.0 - 1e-12] {
            for &(g_t, g_nt) in &[(1e6, -1e6), (-1e6, 1e6)] {
                assert!(attraction_exact(g_t, g_nt, e, 10).is_finite());
                assert!(attraction_printed(g_t, g_nt, e, 10).is_finite());
            }
        }
    }
}
