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

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use super::TrainError;

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
            let theta = var.as_tensor().detach();
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
            *velocity = saved.to_device(var.device())?.to_dtype(var.dtype())?;
        }
        Ok(())
    }
}
