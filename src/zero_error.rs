//! The zero-training-error regime of polynomial losses.
//!
//! # Definition
//!
//! At zero training error `h_k = y_k`, so gamma from the coefficient form becomes
//!
//! ```text
//! gamma_k = c_1 + (c_h + c_y) y + (c_hh + c_hy + c_yy) y^2 = a + b y + c y^2
//! ```
//!
//! With one-hot labels the learning rule then uses `a` for non-targets and `a + b + c` for the
//! target.
//!
//! # Reference
//!
//! Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function Metalearning",
//! Eqs. 16 and 20-23. The printed Eqs. 21-23 give `a`, `b`, `c` in terms of `lambda`;
//! `analyze check` compares them with these coefficients composed with
//! [`taylorglo_coefficients`](crate::loss::taylorglo_coefficients).

use crate::exact::Rational;
use crate::loss::Coefficients;

/// The coefficients `a`, `b`, `c` of gamma at zero training error.
#[derive(Debug, Clone, PartialEq)]
pub struct ZeroErrorCoefficients<T> {
    pub a: T,
    pub b: T,
    pub c: T,
}

/// Returns `a`, `b`, `c` of the zero-error regime from the coefficients of gamma.
pub fn zero_error_coefficients(
    coefficients: &Coefficients<Rational>,
) -> ZeroErrorCoefficients<Rational> {
    ZeroErrorCoefficients {
        a: coefficients.c_1.clone(),
        b: &coefficients.c_h + &coefficients.c_y,
        c: &coefficients.c_hh + &coefficients.c_hy + &coefficients.c_yy,
    }
}
