//! Behaviour at the null epoch and the trainability invariant (Theorem 3).
//!
//! # Definition
//!
//! At initialization the softmax output is, in expectation, uniform: `h_k = 1/n`. The two
//! gammas that occur are
//!
//! ```text
//! G_T  = gamma(1/n, 1)    (target)
//! G_-T = gamma(1/n, 0)    (non-target)
//! ```
//!
//! One unit step of the decomposed rule on the logits gives `df_j = h_j (gamma_j - sum_k
//! gamma_k h_k)`, so at the uniform point `df_T - df_-T = (G_T - G_-T) / n`. The target
//! probability grows, and training moves toward the labels, exactly when
//!
//! ```text
//! G_T > G_-T,   for a polynomial loss:  c_y + c_yy + c_hy / n > 0.
//! ```
//!
//! This is the exact null-epoch trainability condition that [`NullEpoch::trainable`]
//! evaluates. Adding the same constant to every gamma changes nothing, because the softmax
//! Jacobian's columns sum to zero; only the gap between the two gammas matters.
//!
//! # Reference
//!
//! Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function Metalearning",
//! Appendix C (Eqs. 24-30), Theorem 3 (Eqs. 18-19) and Appendix D.4 (Eqs. 66-70). The
//! printed Theorem 3 calls a loss untrainable when `G_T < (n - 1) G_-T` (Eq. 18) and
//! `c_y + c_yy + c_hy/n < (n - 2) G_-T` (Eq. 19). Eq. 19 is Eq. 18 with `G_-T` subtracted from
//! both sides, so the two are one condition, and it differs from `G_T <= G_-T` whenever
//! `G_-T != 0`. [`printed_invariant`] evaluates the printed form; `analyze check` reports the
//! inputs where the two disagree.

use num_traits::Zero;

use crate::exact::{Rational, ratio};
use crate::loss::{Coefficients, Loss};

/// Gammas of a loss at the uniform softmax output `h_k = 1/n`, exact.
#[derive(Debug, Clone, PartialEq)]
pub struct NullEpoch {
    /// Number of classes, at least 2.
    pub n: usize,
    /// `G_T = gamma(1/n, 1)`.
    pub gamma_target: Rational,
    /// `G_-T = gamma(1/n, 0)`.
    pub gamma_non_target: Rational,
}

impl NullEpoch {
    /// Evaluates the null-epoch gammas of `loss` for `n >= 2` classes.
    pub fn new(loss: &Loss, n: usize) -> Result<NullEpoch, crate::attraction::DomainError> {
        crate::attraction::check_classes(n)?;
        let h = ratio(1, n as i64);
        let gamma = |y: i64| {
            loss.gamma_exact(&h, &ratio(y, 1))
                .expect("h = 1/n is positive")
        };
        Ok(NullEpoch {
            n,
            gamma_target: gamma(1),
            gamma_non_target: gamma(0),
        })
    }

    /// Returns the gap `df_T - df_-T = (G_T - G_-T) / n` of one unit step at the uniform point.
    pub fn logit_gap(&self) -> Rational {
        (&self.gamma_target - &self.gamma_non_target) / ratio(self.n as i64, 1)
    }

    /// Returns whether one step raises the target probability (`G_T > G_-T`), the exact
    /// trainability condition.
    pub fn trainable(&self) -> bool {
        self.gamma_target > self.gamma_non_target
    }

    /// Eq. 18 as printed, in terms of the null-epoch gammas: `G_T < (n - 1) G_-T`.
    pub fn printed_eq18(&self) -> bool {
        self.gamma_target < ratio(self.n as i64 - 1, 1) * &self.gamma_non_target
    }

    /// Eq. 19 as printed, in terms of the null-epoch gammas: `G_T - G_-T < (n - 2) G_-T`.
    pub fn printed_eq19(&self) -> bool {
        &self.gamma_target - &self.gamma_non_target
            < ratio(self.n as i64 - 2, 1) * &self.gamma_non_target
    }

    /// Theorem 3 as printed: untrainable when both Eq. 18 and Eq. 19 hold.
    pub fn printed_untrainable(&self) -> bool {
        self.printed_eq18() && self.printed_eq19()
    }
}

/// The two sides of each printed inequality of Theorem 3, from the coefficients of gamma.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintedInvariant {
    /// Left and right side of Eq. 18.
    pub eq18: (Rational, Rational),
    /// Left and right side of Eq. 19.
    pub eq19: (Rational, Rational),
}

impl PrintedInvariant {
    /// True when both printed inequalities hold, which Theorem 3 calls untrainable.
    pub fn untrainable(&self) -> bool {
        self.eq18.0 < self.eq18.1 && self.eq19.0 < self.eq19.1
    }
}

/// Evaluates Eqs. 18-19 literally from the coefficients, exactly, for `n` classes.
pub fn printed_invariant(c: &Coefficients<Rational>, n: usize) -> PrintedInvariant {
    let n_r = ratio(n as i64, 1);
    let n2 = &n_r * &n_r;
    let non_target = &c.c_1 + &c.c_h / &n_r + &c.c_hh / &n2;
    let eq18_left = &c.c_1 + &c.c_y + &c.c_yy + (&c.c_h + &c.c_hy) / &n_r + &c.c_hh / &n2;
    let eq19_left = &c.c_y + &c.c_yy + &c.c_hy / &n_r;
    PrintedInvariant {
        eq18: (eq18_left, ratio(n as i64 - 1, 1) * &non_target),
        eq19: (eq19_left, ratio(n as i64 - 2, 1) * &non_target),
    }
}

/// Returns the exact trainability margin of a polynomial loss, `c_y + c_yy + c_hy / n`. The
/// loss is trainable at the null epoch exactly when the margin is positive.
pub fn trainability_margin(c: &Coefficients<Rational>, n: usize) -> Rational {
    &c.c_y + &c.c_yy + &c.c_hy / ratio(n as i64, 1)
}

/// True when the margin is exactly zero: one step leaves the output unchanged.
pub fn is_on_boundary(c: &Coefficients<Rational>, n: usize) -> bool {
    trainability_margin(c, n).is_zero()
}
