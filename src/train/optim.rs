//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay.
//!
//! # Definition
//!
//! For each parameter `theta` with gradient `g`, learning rate `eta`, momentum `mu` and weight
//! decay `lambda`, one step is
//!
//! ```text
//! d     = g + lambda * theta
//! v     = mu * v + d                      (v starts at zero)
//! step  = d + mu * v   (Nesterov)   or   v   (classical momentum)
//! theta = theta - eta * step
//! ```
//!
//! This is the update of PyTorch's `torch.optim.SGD` with `dampening = 0`, so runs compare
//! with PyTorch ones. With `mu = 0` and `lambda = 0` it is plain SGD,
//! `theta <- theta - eta * g`.
//!
//! On the CPU each parameter's update is two passes over its storage in place, [`Velocity`]
//! then [`Descent`]. On other devices it is the same arithmetic as candle tensor operations.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, InplaceOp3, Layout, Tensor, Var, bail};

use super::TrainError;
use crate::fastlinear::slice;

/// Prefix of the momentum buffers' names in a checkpoint.
pub const VELOCITY_PREFIX: &str = "momentum.";

/// Hyperparameters of [`Sgd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdParams {
    pub learning_rate: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

/// The optimizer state: the parameters it updates and one momentum buffer each.
#[derive(Debug)]
pub struct Sgd {
    parameters: Vec<(String, Var)>,
    velocity: Vec<Tensor>,
    params: SgdParams,
}

impl Sgd {
    /// Creates the optimizer with zero momentum buffers.
    pub fn new(parameters: &[(String, Var)], params: SgdParams) -> Result<Sgd, TrainError> {
        let velocity = parameters
            .iter()
            .map(|(_, var)| var.as_tensor().zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Sgd {
            parameters: parameters.to_vec(),
            velocity,
            params,
        })
    }

    /// Returns the hyperparameters in use.
    pub fn params(&self) -> SgdParams {
        self.params
    }

    /// Sets the learning rate for the following steps.
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.params.learning_rate = learning_rate;
    }

    /// Updates every parameter from its gradient in `gradients`; a parameter without a
    /// gradient is left unchanged.
    pub fn step(&mut self, gradients: &GradStore) -> Result<(), TrainError> {
        let SgdParams {
            learning_rate,
            momentum,
            nesterov,
            weight_decay,
        } = self.params;
        for ((_, var), velocity) in self.parameters.iter().zip(&mut self.velocity) {
            let Some(gradient) = gradients.get(var.as_tensor()) else {
                continue;
            };
            let theta = var.as_tensor();
            if theta.device().is_cpu() && matches!(theta.dtype(), DType::F32 | DType::F64) {
                let gradient = gradient.contiguous()?;
                if momentum != 0.0 {
                    velocity.inplace_op3(
                        &gradient,
                        theta,
                        &Velocity {
                            momentum,
                            weight_decay,
                        },
                    )?;
                }
                theta.inplace_op3(&gradient, velocity, &Descent(self.params))?;
                continue;
            }
            let theta = theta.detach();
            let mut direction = gradient.detach();
            if weight_decay != 0.0 {
                direction = (direction + theta.affine(weight_decay, 0.0)?)?;
            }
            if momentum != 0.0 {
                // Detached so the buffer does not keep this step's graph alive.
                *velocity = (velocity.affine(momentum, 0.0)? + &direction)?.detach();
                direction = if nesterov {
                    (direction + velocity.affine(momentum, 0.0)?)?
                } else {
                    velocity.clone()
                };
            }
            let updated = (theta - direction.affine(learning_rate, 0.0)?)?;
            var.set(&updated)?;
        }
        Ok(())
    }

    /// Returns the momentum buffers keyed `momentum.<parameter name>`, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.parameters
            .iter()
            .zip(&self.velocity)
            .map(|((name, _), velocity)| (format!("{VELOCITY_PREFIX}{name}"), velocity.clone()))
            .collect()
    }

    /// Restores the momentum buffers saved by [`Sgd::state`].
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>) -> Result<(), TrainError> {
        for ((name, var), velocity) in self.parameters.iter().zip(&mut self.velocity) {
            let key = format!("{VELOCITY_PREFIX}{name}");
            let Some(saved) = tensors.get(&key) else {
                return Err(TrainError::Checkpoint {
                    reason: format!("the momentum buffer {key} is missing"),
                });
            };
            if saved.dims() != var.dims() {
                return Err(TrainError::Checkpoint {
                    reason: format!(
                        "the momentum buffer {key} has shape {:?}, expected {:?}",
                        saved.dims(),
                        var.dims()
                    ),
                });
            }
            // A copy: the buffer is updated in place and must not share the loaded storage.
            *velocity = saved
                .to_device(var.device())?
                .to_dtype(var.dtype())?
                .copy()?;
        }
        Ok(())
    }
}

/// An elementwise update of one tensor from the gradient and one other operand.
trait Rule {
    fn apply<T: candle_core::WithDType>(&self, target: &mut [T], gradient: &[T], other: &[T]);
}

/// Applies `rule` to a contiguous f32 or f64 storage, with the other two operands read from
/// theirs.
fn update_in_place(
    rule: &impl Rule,
    target: (&mut CpuStorage, &Layout),
    gradient: (&CpuStorage, &Layout),
    other: (&CpuStorage, &Layout),
) -> candle_core::Result<()> {
    let (storage, layout) = target;
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!(
            "the SGD update needs contiguous tensors, got strides {:?}",
            layout.stride()
        );
    };
    if gradient.1.shape() != layout.shape() || other.1.shape() != layout.shape() {
        bail!(
            "the SGD update got shapes {:?}, {:?} and {:?}",
            layout.shape(),
            gradient.1.shape(),
            other.1.shape()
        );
    }
    match storage {
        CpuStorage::F32(values) => rule.apply(
            &mut values[start..end],
            slice::<f32>(gradient.0, gradient.1)?,
            slice::<f32>(other.0, other.1)?,
        ),
        CpuStorage::F64(values) => rule.apply(
            &mut values[start..end],
            slice::<f64>(gradient.0, gradient.1)?,
            slice::<f64>(other.0, other.1)?,
        ),
        _ => bail!("the SGD update supports f32 and f64 only"),
    }
    Ok(())
}

/// `v = mu v + g + lambda theta`, in place on the momentum buffer `v`; the operands are the
/// gradient and the parameter before this step.
struct Velocity {
    momentum: f64,
    weight_decay: f64,
}

impl InplaceOp3 for Velocity {
    fn name(&self) -> &'static str {
        "sgd-velocity"
    }

    fn cpu_fwd(
        &self,
        velocity: &mut CpuStorage,
        l1: &Layout,
        gradient: &CpuStorage,
        l2: &Layout,
        theta: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        update_in_place(self, (velocity, l1), (gradient, l2), (theta, l3))
    }
}

impl Rule for Velocity {
    fn apply<T: candle_core::WithDType>(&self, velocity: &mut [T], gradient: &[T], theta: &[T]) {
        let momentum = T::from_f64(self.momentum);
        let weight_decay = T::from_f64(self.weight_decay);
        for ((v, &g), &theta) in velocity.iter_mut().zip(gradient).zip(theta) {
            *v = momentum * *v + (g + weight_decay * theta);
        }
    }
}

/// `theta = theta - eta * step`, in place on the parameter, with `step` as in the module
/// documentation; the operands are the gradient and the momentum buffer after [`Velocity`].
struct Descent(SgdParams);

impl InplaceOp3 for Descent {
    fn name(&self) -> &'static str {
        "sgd-descent"
    }

    fn cpu_fwd(
        &self,
        theta: &mut CpuStorage,
        l1: &Layout,
        gradient: &CpuStorage,
        l2: &Layout,
        velocity: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        update_in_place(self, (theta, l1), (gradient, l2), (velocity, l3))
    }
}

impl Rule for Descent {
    fn apply<T: candle_core::WithDType>(&self, theta: &mut [T], gradient: &[T], velocity: &[T]) {
        let SgdParams {
            learning_rate,
            momentum,
            nesterov,
            weight_decay,
        } = self.0;
        let (eta, mu, lambda) = (
            T::from_f64(learning_rate),
            T::from_f64(momentum),
            T::from_f64(weight_decay),
        );
        let values = theta.iter_mut().zip(gradient).zip(velocity);
        if momentum == 0.0 {
            for ((theta, &g), _) in values {
                *theta -= eta * (g + lambda * *theta);
            }
        } else if nesterov {
            for ((theta, &g), &v) in values {
                *theta -= eta * (g + lambda * *theta + mu * v);
            }
        } else {
            for ((theta, _), &v) in values {
                *theta -= eta * v;
            }
        }
    }
}
