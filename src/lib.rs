//! Analysis toolkit for loss-function metalearning.
//!
//! The crate computes, for mean squared error, cross-entropy, Baikal and third-order
//! TaylorGLO losses, the quantities of the learning-rule decomposition of Gonzalez and
//! Miikkulainen, "Effective Regularization through Loss-Function Metalearning": the
//! coefficients `gamma_k` of the update `theta_j <- theta_j + eta (1/n) sum_k gamma_k D_j h_k`,
//! the zero-error coefficients, null-epoch behaviour, the label-smoothing map, the
//! attraction toward zero training error and the null-epoch trainability invariant.

pub mod attraction;
pub mod check;
pub mod cli;
pub mod curve;
pub mod data;
pub mod exact;
pub mod fastconv;
pub mod fastlinear;
pub mod label_smoothing;
pub mod learning_rule;
pub mod loss;
pub mod matmul;
pub mod null_epoch;
pub mod plot;
pub mod poly;
pub mod runlog;
pub mod symbolic;
pub mod trace;
pub mod train;
pub mod zero_error;
