//! The loss functions the analysis studies, each defined once.
//!
//! # Definition
//!
//! Every loss acts on the softmax output `h` ("scaled logits" in Gonzalez and Miikkulainen, `h_k` in (0, 1))
//! and a label vector `y` over `n` classes, and averages a per-class term over the classes:
//!
//! ```text
//! L(h, y) = (1/n) * sum_k l(h_k, y_k)
//! gamma_k = -dl/dh (h_k, y_k)
//! ```
//!
//! With this sign and reduction, plain SGD `theta <- theta - eta * dL/dtheta` becomes the
//! paper's decomposed rule `theta_j <- theta_j + eta * (1/n) * sum_k gamma_k * D_j h_k`
//! (Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function
//! Metalearning", Eq. 3). The per-class terms are
//!
//! ```text
//! mean squared error   l = (h - y)^2                       gamma = 2y - 2h
//! cross-entropy        l = -y ln h                         gamma = y / h
//! Baikal               l = -ln h + y / h                   gamma = 1/h + y/h^2
//! TaylorGLO            l = -[ l2 u + l3 u^2 + l4 u^3 + l5 v u + l6 v u^2 + l7 v^2 u ]
//!                      with u = h - l1, v = y - l0 (li is lambda_i, no Taylor factorials)
//! coefficient form     l = -[ c1 h + ch h^2/2 + chh h^3/3 + chy y h^2/2 + cy y h + cyy y^2 h ]
//!                      gamma = c1 + ch h + chh h^2 + chy h y + cy y + cyy y^2
//! ```
//!
//! Cross-entropy here is the usual `-sum_k y_k ln h_k` divided by `n`, which the paper's
//! Eq. 6-7 (`gamma = y/h` under the `1/n` of Eq. 3) require. TaylorGLO with
//! `lambda = [0, 0, 0, -1, 0, 2, 0, 0]` gives `l = h^2 - 2yh = (h - y)^2 - y^2`, which is the
//! mean squared error up to a term free of `h`, so both have the same gradient everywhere.

mod scalar;
mod spec;
mod tensor;

pub use scalar::{LossScalar, infallible};
pub use spec::{CIFAR10_COEFFICIENTS, LossSpecError, parse_loss};
pub use tensor::{PROBABILITY_FLOOR, TensorScalar};

use crate::exact::{Rational, to_f64};

/// The six coefficients of gamma as a polynomial in `h` and `y` (Gonzalez and Miikkulainen,
/// Eq. 12).
///
/// `gamma(h, y) = c_1 + c_h h + c_hh h^2 + c_hy h y + c_y y + c_yy y^2`.
#[derive(Debug, Clone, PartialEq)]
pub struct Coefficients<T> {
    pub c_1: T,
    pub c_h: T,
    pub c_hh: T,
    pub c_hy: T,
    pub c_y: T,
    pub c_yy: T,
}

/// Coefficient names in the order of Eq. 12 and of the `coeffs:` spec.
pub const COEFFICIENT_NAMES: [&str; 6] = ["c_1", "c_h", "c_hh", "c_hy", "c_y", "c_yy"];

impl<T: Clone> Coefficients<T> {
    /// Builds the coefficients from an array in [`COEFFICIENT_NAMES`] order.
    pub fn from_array(values: [T; 6]) -> Self {
        let [c_1, c_h, c_hh, c_hy, c_y, c_yy] = values;
        Coefficients {
            c_1,
            c_h,
            c_hh,
            c_hy,
            c_y,
            c_yy,
        }
    }

    /// Returns the coefficients in [`COEFFICIENT_NAMES`] order.
    pub fn to_array(&self) -> [T; 6] {
        [
            self.c_1.clone(),
            self.c_h.clone(),
            self.c_hh.clone(),
            self.c_hy.clone(),
            self.c_y.clone(),
            self.c_yy.clone(),
        ]
    }

    /// Applies `f` to every coefficient.
    pub fn map<U: Clone>(&self, f: impl Fn(&T) -> U) -> Coefficients<U> {
        Coefficients::from_array(self.to_array().map(|c| f(&c)))
    }
}

impl Coefficients<f64> {
    /// Evaluates `gamma(h, y)` (Eq. 12).
    pub fn gamma(&self, h: f64, y: f64) -> f64 {
        self.c_1
            + self.c_h * h
            + self.c_hh * h * h
            + self.c_hy * h * y
            + self.c_y * y
            + self.c_yy * y * y
    }
}

impl Coefficients<Rational> {
    /// Evaluates `gamma(h, y)` (Eq. 12) exactly.
    pub fn gamma(&self, h: &Rational, y: &Rational) -> Rational {
        &self.c_1
            + &self.c_h * h
            + &self.c_hh * h * h
            + &self.c_hy * h * y
            + &self.c_y * y
            + &self.c_yy * y * y
    }

    /// Converts every coefficient to the nearest `f64`.
    pub fn to_f64(&self) -> Coefficients<f64> {
        self.map(to_f64)
    }
}

/// A loss function under study. Parameters are kept exact, as parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// Mean squared error on the softmax output.
    MeanSquaredError,
    /// Cross-entropy, averaged over classes.
    CrossEntropy,
    /// Baikal, the loss found by GLO (Gonzalez and Miikkulainen, CEC 2020).
    Baikal,
    /// Third-order TaylorGLO with parameters `lambda_0 .. lambda_7`.
    TaylorGlo { lambda: [Rational; 8] },
    /// A loss given by the coefficients of its gamma; `name` is set for a named preset.
    CoefficientForm {
        coefficients: Coefficients<Rational>,
        name: Option<&'static str>,
    },
}

impl Loss {
    /// Builds the CIFAR-10 AllCNN-C TaylorGLO loss of Gonzalez and Miikkulainen, reconstructed
    /// in coefficient form from the numbers they print (see [`CIFAR10_COEFFICIENTS`]).
    pub fn taylorglo_cifar10() -> Loss {
        let coefficients = Coefficients::from_array(
            CIFAR10_COEFFICIENTS.map(|text| crate::exact::parse_rational(text).expect("valid")),
        );
        Loss::CoefficientForm {
            coefficients,
            name: Some("taylorglo-cifar10"),
        }
    }

    /// Returns the exact coefficients of gamma, or `None` where gamma is not a polynomial
    /// (cross-entropy and Baikal).
    pub fn coefficients(&self) -> Option<Coefficients<Rational>> {
        match self {
            Loss::MeanSquaredError => Some(Coefficients::from_array(
                [0, -2, 0, 0, 2, 0].map(|c| crate::exact::ratio(c, 1)),
            )),
            Loss::CrossEntropy | Loss::Baikal => None,
            Loss::TaylorGlo { lambda } => Some(taylorglo_coefficients(lambda)),
            Loss::CoefficientForm { coefficients, .. } => Some(coefficients.clone()),
        }
    }

    /// Returns `gamma_k(h, y)` in closed form (Eqs. 5, 7, 9, 11-12).
    pub fn gamma(&self, h: f64, y: f64) -> f64 {
        match self {
            Loss::MeanSquaredError => 2.0 * y - 2.0 * h,
            Loss::CrossEntropy => y / h,
            Loss::Baikal => 1.0 / h + y / (h * h),
            Loss::TaylorGlo { .. } | Loss::CoefficientForm { .. } => {
                let coefficients = self.coefficients().expect("polynomial loss").to_f64();
                coefficients.gamma(h, y)
            }
        }
    }

    /// Returns `gamma_k(h, y)` exactly, or `None` where it is undefined (`h = 0` for
    /// cross-entropy and Baikal).
    pub fn gamma_exact(&self, h: &Rational, y: &Rational) -> Option<Rational> {
        use num_traits::Zero;
        match self {
            Loss::CrossEntropy | Loss::Baikal if h.is_zero() => None,
            Loss::CrossEntropy => Some(y / h),
            Loss::Baikal => Some(h.recip() + y / (h * h)),
            _ => Some(self.coefficients().expect("polynomial loss").gamma(h, y)),
        }
    }

    /// Returns gamma for target and non-target classes at a softmax output where the target
    /// has probability `1 - epsilon` and each of the `n - 1` others `epsilon / (n - 1)`.
    pub fn gamma_pair(&self, epsilon: f64, n: usize) -> (f64, f64) {
        let target = self.gamma(1.0 - epsilon, 1.0);
        let non_target = self.gamma(epsilon / (n as f64 - 1.0), 0.0);
        (target, non_target)
    }

    /// Evaluates the per-class loss term `l(h, y)` (see the module documentation).
    pub fn per_class<S: LossScalar>(&self, h: &S, y: &S) -> Result<S, S::Error> {
        match self {
            Loss::MeanSquaredError => {
                let difference = h.sub(y)?;
                difference.mul(&difference)
            }
            Loss::CrossEntropy => y.mul(&h.ln()?)?.affine(-1.0, 0.0),
            Loss::Baikal => h.ln()?.affine(-1.0, 0.0)?.add(&y.mul(&h.recip()?)?),
            Loss::TaylorGlo { lambda } => {
                let l = lambda.each_ref().map(to_f64);
                let u = h.affine(1.0, -l[1])?;
                let v = y.affine(1.0, -l[0])?;
                let u2 = u.mul(&u)?;
                let u3 = u2.mul(&u)?;
                let vu = v.mul(&u)?;
                let terms = [
                    u.affine(l[2], 0.0)?,
                    u2.affine(l[3], 0.0)?,
                    u3.affine(l[4], 0.0)?,
                    vu.affine(l[5], 0.0)?,
                    vu.mul(&u)?.affine(l[6], 0.0)?,
                    vu.mul(&v)?.affine(l[7], 0.0)?,
                ];
                sum(terms)?.affine(-1.0, 0.0)
            }
            Loss::CoefficientForm { coefficients, .. } => {
                let c = coefficients.to_f64();
                let h2 = h.mul(h)?;
                let yh = y.mul(h)?;
                let terms = [
                    h.affine(c.c_1, 0.0)?,
                    h2.affine(c.c_h / 2.0, 0.0)?,
                    h2.mul(h)?.affine(c.c_hh / 3.0, 0.0)?,
                    yh.mul(h)?.affine(c.c_hy / 2.0, 0.0)?,
                    yh.affine(c.c_y, 0.0)?,
                    yh.mul(y)?.affine(c.c_yy, 0.0)?,
                ];
                sum(terms)?.affine(-1.0, 0.0)
            }
        }
    }

    /// Evaluates `L(h, y) = (1/n) sum_k l(h_k, y_k)` for one sample on plain numbers.
    pub fn sample_loss(&self, h: &[f64], y: &[f64]) -> f64 {
        let total: f64 = h
            .iter()
            .zip(y)
            .map(|(h_k, y_k)| infallible(self.per_class(h_k, y_k)))
            .sum();
        total / h.len() as f64
    }

    /// Evaluates the mean loss of a batch: `probs` contains softmax outputs and `labels` label
    /// vectors (one-hot or smoothed), both of shape `(batch, n)`; returns a scalar tensor.
    pub fn batch_loss(
        &self,
        probs: &candle_core::Tensor,
        labels: &candle_core::Tensor,
    ) -> candle_core::Result<candle_core::Tensor> {
        let terms = self.per_class(&TensorScalar(probs.clone()), &TensorScalar(labels.clone()))?;
        terms.0.mean_all()
    }

    /// Returns the canonical spec text, which [`parse_loss`] reads back to the same loss.
    pub fn spec(&self) -> String {
        spec::format_loss(self)
    }
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spec())
    }
}

impl std::str::FromStr for Loss {
    type Err = LossSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_loss(text)
    }
}

fn sum<S: LossScalar, const N: usize>(terms: [S; N]) -> Result<S, S::Error> {
    let mut iter = terms.into_iter();
    let mut total = iter.next().expect("at least one term");
    for term in iter {
        total = total.add(&term)?;
    }
    Ok(total)
}

/// Maps TaylorGLO parameters to the coefficients of gamma (Eq. 12).
///
/// # Definition
///
/// ```text
/// c_1  = l2 - 2 l1 l3 - l5 l0 + 2 l1 l6 l0 + l7 l0^2 + 3 l4 l1^2
/// c_h  = 2 l3 - 2 l6 l0 - 6 l1 l4
/// c_hh = 3 l4
/// c_hy = 2 l6
/// c_y  = l5 - 2 l1 l6 - 2 l7 l0
/// c_yy = l7
/// ```
///
/// These follow from differentiating the TaylorGLO per-class term; the symbolic derivation
/// in [`crate::symbolic`] recomputes them from the loss definition and the tests compare.
pub fn taylorglo_coefficients(lambda: &[Rational; 8]) -> Coefficients<Rational> {
    let [l0, l1, l2, l3, l4, l5, l6, l7] = lambda;
    let two = crate::exact::ratio(2, 1);
    let three = crate::exact::ratio(3, 1);
    let six = crate::exact::ratio(6, 1);
    Coefficients {
        c_1: l2 - &two * l1 * l3 - l5 * l0
            + &two * l1 * l6 * l0
            + l7 * l0 * l0
            + &three * l4 * l1 * l1,
        c_h: &two * l3 - &two * l6 * l0 - &six * l1 * l4,
        c_hh: &three * l4,
        c_hy: &two * l6,
        c_y: l5 - &two * l1 * l6 - &two * l7 * l0,
        c_yy: l7.clone(),
    }
}

/// Returns TaylorGLO parameters with `lambda_0 = lambda_1 = 0` that have the given
/// coefficients, showing that every coefficient form is reachable from some `lambda`.
pub fn taylorglo_from_coefficients(coefficients: &Coefficients<Rational>) -> [Rational; 8] {
    let zero = crate::exact::ratio(0, 1);
    [
        zero.clone(),
        zero,
        coefficients.c_1.clone(),
        &coefficients.c_h / crate::exact::ratio(2, 1),
        &coefficients.c_hh / crate::exact::ratio(3, 1),
        coefficients.c_y.clone(),
        &coefficients.c_hy / crate::exact::ratio(2, 1),
        coefficients.c_yy.clone(),
    ]
}
