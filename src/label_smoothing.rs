//! Label smoothing expressed inside the coefficient form.
//!
//! # Definition
//!
//! Label smoothing with `alpha` in (0, 1) over `n` classes replaces the one-hot target 1 by
//! `1 - alpha (n - 1) / n` and each 0 by `alpha / n`. For a loss with coefficients `c`, the
//! smoothed rule uses `gamma(h, y_smoothed)`. The coefficients `c-hat` below give, with hard
//! labels, the same gamma for every `h` (Eqs. 43-48):
//!
//! ```text
//! c-hat_1  = c_1 + c_y alpha/n + c_yy alpha^2/n^2
//! c-hat_h  = c_h + c_hy alpha/n
//! c-hat_hh = c_hh
//! c-hat_hy = c_hy (1 - alpha (n-1)/n) - c_hy alpha/n       = c_hy (1 - alpha)
//! c-hat_y  = c_y (1 - alpha (n-1)/n) - c_y alpha/n         = c_y (1 - alpha)
//! c-hat_yy = c_yy ((1 - alpha (n-1)/n)^2 - alpha^2/n^2)    = c_yy (1 - alpha)(1 - alpha + 2 alpha/n)
//! ```
//!
//! With hard labels only the sum `c-hat_y + c-hat_yy` is determined; this split is the one the
//! source prints.
//!
//! # Direction
//!
//! The forward map (smoothed training to hard-label coefficients) exists for every `alpha`.
//! The reverse map ([`unsmoothing_map`]: which smoothed loss reproduces given hard-label
//! coefficients) divides by `1 - alpha` and by `1 - alpha + 2 alpha / n`, so it exists for
//! `alpha` in (0, 1) and fails at `alpha = 1`, where smoothing erases the label. Cross-entropy
//! and Baikal have no coefficient form: their smoothed gammas (`(alpha/n + (1 - alpha) y) / h`
//! for cross-entropy) leave their own family, so neither map exists for them.
//!
//! # Reference
//!
//! Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function Metalearning",
//! Appendix D.2.

use thiserror::Error;

use crate::exact::{Rational, ratio};
use crate::loss::{Coefficients, Loss};

/// An invalid smoothing strength or class count.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SmoothingError {
    #[error("invalid alpha {0}: label smoothing needs alpha in the open interval (0, 1)")]
    Alpha(String),

    #[error(
        "invalid number of classes {0}: n must lie in 2..={max} (classification needs n >= 2)",
        max = crate::attraction::MAX_CLASSES
    )]
    Classes(usize),

    #[error(
        "loss {0} has no coefficient form, so label smoothing cannot be folded into its \
         parameters; use a taylorglo: or coeffs: spec"
    )]
    NotPolynomial(String),
}

fn check(alpha: &Rational, n: usize) -> Result<(), SmoothingError> {
    if crate::attraction::check_classes(n).is_err() {
        return Err(SmoothingError::Classes(n));
    }
    if *alpha <= ratio(0, 1) || *alpha >= ratio(1, 1) {
        return Err(SmoothingError::Alpha(crate::exact::format_rational(alpha)));
    }
    Ok(())
}

/// Returns the smoothed `(target, non_target)` label values `1 - alpha (n-1)/n` and `alpha/n`.
pub fn smoothed_labels(alpha: &Rational, n: usize) -> (Rational, Rational) {
    let n_r = ratio(n as i64, 1);
    let non_target = alpha / &n_r;
    let target = ratio(1, 1) - alpha * ratio(n as i64 - 1, 1) / &n_r;
    (target, non_target)
}

/// Maps coefficients trained with smoothed labels to hard-label coefficients with the same
/// gamma for every `h` (Eqs. 43-48). `alpha` must lie in (0, 1) and `n >= 2`.
pub fn smoothing_map(
    c: &Coefficients<Rational>,
    alpha: &Rational,
    n: usize,
) -> Result<Coefficients<Rational>, SmoothingError> {
    check(alpha, n)?;
    let (target, non_target) = smoothed_labels(alpha, n);
    Ok(Coefficients {
        c_1: &c.c_1 + &c.c_y * &non_target + &c.c_yy * &non_target * &non_target,
        c_h: &c.c_h + &c.c_hy * &non_target,
        c_hh: c.c_hh.clone(),
        c_hy: &c.c_hy * &target - &c.c_hy * &non_target,
        c_y: &c.c_y * &target - &c.c_y * &non_target,
        c_yy: &c.c_yy * (&target * &target - &non_target * &non_target),
    })
}

/// Inverts [`smoothing_map`]: returns coefficients that, trained with smoothed labels,
/// reproduce the hard-label coefficients `c_hat`. Exists for `alpha` in (0, 1).
pub fn unsmoothing_map(
    c_hat: &Coefficients<Rational>,
    alpha: &Rational,
    n: usize,
) -> Result<Coefficients<Rational>, SmoothingError> {
    check(alpha, n)?;
    let (target, non_target) = smoothed_labels(alpha, n);
    let gap = &target - &non_target;
    let square_gap = &target * &target - &non_target * &non_target;
    let c_hy = &c_hat.c_hy / &gap;
    let c_y = &c_hat.c_y / &gap;
    let c_yy = &c_hat.c_yy / &square_gap;
    Ok(Coefficients {
        c_1: &c_hat.c_1 - &c_y * &non_target - &c_yy * &non_target * &non_target,
        c_h: &c_hat.c_h - &c_hy * &non_target,
        c_hh: c_hat.c_hh.clone(),
        c_hy,
        c_y,
        c_yy,
    })
}

/// Applies [`smoothing_map`] to a loss, which must have a coefficient form.
pub fn smooth_loss(
    loss: &Loss,
    alpha: &Rational,
    n: usize,
) -> Result<Coefficients<Rational>, SmoothingError> {
    let c = loss
        .coefficients()
        .ok_or_else(|| SmoothingError::NotPolynomial(loss.spec()))?;
    smoothing_map(&c, alpha, n)
}

/// Gamma of any loss when trained with smoothed labels, for a hard label `y_hard` in {0, 1}.
pub fn smoothed_gamma(loss: &Loss, h: f64, y_hard: f64, alpha: f64, n: usize) -> f64 {
    let non_target = alpha / n as f64;
    let y = non_target + y_hard * (1.0 - alpha);
    loss.gamma(h, y)
}
