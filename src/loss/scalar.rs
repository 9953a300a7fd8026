//! The arithmetic a loss definition needs, so one definition serves every evaluator.
//!
//! The per-class loss of each [`Loss`](super::Loss) is written once, generic over
//! [`LossScalar`]. It then runs on `f64` for the analysis, on `num-dual` dual numbers for the
//! autodiff checks, and on candle tensors (through a newtype in the training module) for
//! training.

use std::convert::Infallible;

use num_dual::DualNum;

/// Elementwise arithmetic with fallible operations (tensor operations can fail on shapes).
pub trait LossScalar: Sized {
    /// The failure type of an operation; `Infallible` for plain numbers.
    type Error;

    /// Returns `self + rhs`.
    fn add(&self, rhs: &Self) -> Result<Self, Self::Error>;

    /// Returns `self - rhs`.
    fn sub(&self, rhs: &Self) -> Result<Self, Self::Error>;

    /// Returns `self * rhs`.
    fn mul(&self, rhs: &Self) -> Result<Self, Self::Error>;

    /// Returns `self * scale + offset`.
    fn affine(&self, scale: f64, offset: f64) -> Result<Self, Self::Error>;

    /// Returns the natural logarithm.
    fn ln(&self) -> Result<Self, Self::Error>;

    /// Returns `1 / self`.
    fn recip(&self) -> Result<Self, Self::Error>;
}

impl<T> LossScalar for T
where
    T: DualNum<Primitive = f64>,
{
    type Error = Infallible;

    fn add(&self, rhs: &Self) -> Result<Self, Infallible> {
        Ok(self.clone() + rhs.clone())
    }

    fn sub(&self, rhs: &Self) -> Result<Self, Infallible> {
        Ok(self.clone() - rhs.clone())
    }

    fn mul(&self, rhs: &Self) -> Result<Self, Infallible> {
        Ok(self.clone() * rhs.clone())
    }

    fn affine(&self, scale: f64, offset: f64) -> Result<Self, Infallible> {
        Ok(self.clone() * scale + offset)
    }

    fn ln(&self) -> Result<Self, Infallible> {
        Ok(DualNum::ln(self))
    }

    fn recip(&self) -> Result<Self, Infallible> {
        Ok(DualNum::recip(self))
    }
}

/// Unwraps a result whose error type is uninhabited.
pub fn infallible<T>(result: Result<T, Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}
