//! [`LossScalar`] for candle tensors, so training evaluates the same loss definitions.

use candle_core::Tensor;

use super::LossScalar;

/// Smallest probability passed to `ln` and `1/h`. An f32 softmax can round a probability to
/// exactly 0; `0 * ln 0` would then be NaN for a non-target class of cross-entropy. Clamping at
/// 1e-30 changes no probability that f32 can tell from zero at the 1e-7 level of its rounding.
pub const PROBABILITY_FLOOR: f64 = 1e-30;

/// A tensor evaluated elementwise by a loss definition.
#[derive(Debug, Clone)]
pub struct TensorScalar(pub Tensor);

impl LossScalar for TensorScalar {
    type Error = candle_core::Error;

    fn add(&self, rhs: &Self) -> candle_core::Result<Self> {
        Ok(TensorScalar(self.0.broadcast_add(&rhs.0)?))
    }

    fn sub(&self, rhs: &Self) -> candle_core::Result<Self> {
        Ok(TensorScalar(self.0.broadcast_sub(&rhs.0)?))
    }

    fn mul(&self, rhs: &Self) -> candle_core::Result<Self> {
        Ok(TensorScalar(self.0.broadcast_mul(&rhs.0)?))
    }

    fn affine(&self, scale: f64, offset: f64) -> candle_core::Result<Self> {
        Ok(TensorScalar(self.0.affine(scale, offset)?))
    }

    fn ln(&self) -> candle_core::Result<Self> {
        Ok(TensorScalar(
            self.0.clamp(PROBABILITY_FLOOR, f64::INFINITY)?.log()?,
        ))
    }

    fn recip(&self) -> candle_core::Result<Self> {
        Ok(TensorScalar(
            self.0.clamp(PROBABILITY_FLOOR, f64::INFINITY)?.recip()?,
        ))
    }
}
