//! Training real networks on real data with any loss of [`crate::loss`], logging every
//! sample's softmax output.
//!
//! The training loss of a batch is the loss core's definition applied to the softmax output,
//! `L = (1/B) sum_b (1/n) sum_k l(h_bk, y_bk)` ([`Loss::batch_loss`]), so the plain SGD step
//! on it is the decomposed rule `theta_j <- theta_j + eta (1/n) sum_k gamma_k D_j h_k`
//! averaged over the batch (Gonzalez and Miikkulainen, "Effective Regularization through
//! Loss-Function Metalearning", Eq. 3); `tests/train.rs` checks this for every loss.
//!
//! [`train`] loads the data and runs; [`train_on`] runs on data already loaded. Both report
//! through a [`TrainObserver`] and never print.
//!
//! Randomness comes from ChaCha8 generators keyed by the run's seed, a purpose ([`Stream`])
//! and the epoch. An epoch's shuffle and dropout masks therefore do not depend on earlier
//! epochs, and a resumed run draws the same numbers as an uninterrupted one.

pub mod checkpoint;
pub mod config;
pub mod log;
pub mod model;
pub mod observer;
pub mod optim;
pub mod schedule;
mod trainer;

use std::path::PathBuf;

use candle_core::{D, DType, Device, Tensor};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

pub use config::{DEFAULT_LEARNING_RATE, DeviceSpec, Hyperparameters, Precision, TrainConfig};
pub use model::{Mode, Model, ModelKind};
pub use observer::{BatchProgress, EpochReport, NoObserver, RunInfo, TrainObserver};
pub use optim::{Sgd, SgdParams};
pub use schedule::StepSchedule;
pub use trainer::{TrainOutcome, train, train_on};

use crate::data::{DataError, ImageShape};
use crate::loss::Loss;

/// A failure of a training run. Each variant names the value or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("invalid {option} {value}: expected {expected}")]
    InvalidOption {
        option: &'static str,
        value: String,
        expected: String,
    },
    #[error("tensor operation failed: {0}")]
    Tensor(candle_core::Error),
    #[error("failed to {action} {}: {error}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid log {}: {reason}", path.display())]
    Log { path: PathBuf, reason: String },
    #[error("invalid checkpoint: {reason}")]
    Checkpoint { reason: String },
    #[error("cannot resume: {reason}")]
    Resume { reason: String },
    #[error(
        "training diverged: the loss is {loss} at epoch {epoch}, batch {batch}; lower \
         --learning-rate or check the loss spec"
    )]
    Diverged { epoch: u32, batch: usize, loss: f64 },
    #[error("device {spec} is not available: {reason}")]
    Device { spec: String, reason: String },
    #[error(
        "the {model} model does not fit images of {shape}: its layer {layer} gets \
         activations of {activation}, smaller than its {kernel}x{kernel} kernel; use larger \
         images or another --model"
    )]
    ImageTooSmall {
        model: ModelKind,
        shape: ImageShape,
        layer: usize,
        activation: ImageShape,
        kernel: usize,
    },
    #[error(
        "cannot start the training threads: {0}; set RAYON_NUM_THREADS to a positive thread \
         count"
    )]
    Threads(String),
}

// Written by hand rather than with `#[from]`, which would also make the candle error the
// `source()` and print its text twice in an error chain.
impl From<candle_core::Error> for TrainError {
    fn from(error: candle_core::Error) -> Self {
        TrainError::Tensor(error)
    }
}

/// The purposes random numbers are drawn for; each gets its own generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Parameter initialisation.
    Init = 1,
    /// The order of training samples in an epoch.
    Shuffle = 2,
    /// Dropout masks in an epoch.
    Dropout = 3,
    /// The training samples `--log-samples` logs.
    LogSubset = 4,
}

/// Returns the generator for `stream` in `epoch` of a run seeded with `seed`: a ChaCha8
/// generator whose 32-byte key is the seed, the stream number and the epoch, little-endian.
pub fn stream_rng(seed: u64, stream: Stream, epoch: u32) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(stream as u64).to_le_bytes());
    key[16..20].copy_from_slice(&epoch.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// The result of one optimizer step.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// Softmax outputs `(batch, classes)` of the forward pass the step differentiated,
    /// computed before the update.
    pub probs: Tensor,
    /// The batch loss before the update.
    pub loss: f64,
}

/// Runs one training step: forward pass, `h = softmax(logits)`, the batch loss of `loss`
/// against `targets` `(batch, classes)`, backward pass and one optimizer update.
///
/// The caller checks `loss` for finiteness; a non-finite loss has already been applied.
pub fn training_step(
    model: &Model,
    optimizer: &mut Sgd,
    loss: &Loss,
    images: &Tensor,
    targets: &Tensor,
    mode: Mode<'_>,
) -> Result<StepOutput, TrainError> {
    let logits = model.forward(images, mode)?;
    let probs = candle_nn::ops::softmax(&logits, D::Minus1)?;
    let value = loss.batch_loss(&probs, targets)?;
    let loss_value = value.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    let gradients = value.backward()?;
    optimizer.step(&gradients)?;
    Ok(StepOutput {
        probs: probs.detach(),
        loss: loss_value,
    })
}

/// Builds label vectors `(batch, classes)`: `1 - alpha + alpha/n` for the label and `alpha/n`
/// elsewhere, where `alpha` is the label smoothing (0 gives one-hot vectors).
pub fn targets(
    labels: &[u8],
    classes: usize,
    label_smoothing: f64,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let off = label_smoothing / classes as f64;
    let on = 1.0 - label_smoothing + off;
    let mut values = vec![off; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        values[row * classes + usize::from(label)] = on;
    }
    Tensor::from_vec(values, (labels.len(), classes), device)?.to_dtype(dtype)
}

/// Returns `lossdyn <version>`, the tool name written into logs and checkpoints.
pub fn tool_name() -> String {
    format!("lossdyn {}", env!("CARGO_PKG_VERSION"))
}
