//! The decomposed learning rule from first principles.
//!
//! # Definition
//!
//! For `L = (1/n) sum_k l(h_k, y_k)` applied to a softmax output `h = softmax(f)`, SGD on a
//! weight `theta_j` is
//!
//! ```text
//! theta_j <- theta_j - eta dL/dtheta_j = theta_j + eta (1/n) sum_k gamma_k D_j h_k,
//! gamma_k = -dl/dh (h_k, y_k)
//! ```
//!
//! (Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function
//! Metalearning", Eq. 3). The functions here obtain gamma and the softmax Jacobian by forward-
//! mode automatic differentiation of the loss definition in [`crate::loss`], independent of
//! the closed forms in [`Loss::gamma`], so each can check the other.

use num_dual::{Dual64, DualNum, first_derivative};

use crate::loss::{Loss, infallible};

/// Returns `gamma = -dl/dh` at `(h, y)` by forward-mode automatic differentiation.
pub fn gamma_autodiff(loss: &Loss, h: f64, y: f64) -> f64 {
    let label = Dual64::from_re(y);
    let (_, slope) = first_derivative(|h: Dual64| infallible(loss.per_class(&h, &label)), h);
    -slope
}

/// Returns the softmax Jacobian `J[k][j] = dh_k / df_j` at logits `f` by automatic
/// differentiation (one forward pass per column).
pub fn softmax_jacobian_autodiff(logits: &[f64]) -> Vec<Vec<f64>> {
    let n = logits.len();
    let mut jacobian = vec![vec![0.0; n]; n];
    for j in 0..n {
        let duals: Vec<Dual64> = logits
            .iter()
            .enumerate()
            .map(|(i, &f)| {
                if i == j {
                    Dual64::from_re(f).derivative()
                } else {
                    Dual64::from_re(f)
                }
            })
            .collect();
        let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<Dual64> = duals.iter().map(|f| (*f - top).exp()).collect();
        let total: Dual64 = exps.iter().copied().sum();
        for (row, exp) in jacobian.iter_mut().zip(&exps) {
            row[j] = (*exp / total).eps;
        }
    }
    jacobian
}

/// Returns the softmax of `logits`, shifted by the maximum so no exponential overflows.
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|f| (f - top).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// Returns the unit-step logit update `df_j = sum_k gamma_k dh_k/df_j` computed with the
/// autodiff Jacobian, for softmax output `softmax(logits)` and labels `labels`.
pub fn logit_step_autodiff(loss: &Loss, logits: &[f64], labels: &[f64]) -> Vec<f64> {
    let probs = softmax(logits);
    let gammas: Vec<f64> = probs
        .iter()
        .zip(labels)
        .map(|(&h, &y)| gamma_autodiff(loss, h, y))
        .collect();
    let jacobian = softmax_jacobian_autodiff(logits);
    (0..logits.len())
        .map(|j| (0..logits.len()).map(|k| gammas[k] * jacobian[k][j]).sum())
        .collect()
}
