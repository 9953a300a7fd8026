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

use candle_core::backprop::GradStore;
use candle_core::{D, DType, Device, Tensor};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

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
    #[error(
        "RAYON_NUM_THREADS={value:?} is not a thread count; set it to a positive integer, or \
         unset it for one thread per core"
    )]
    InvalidThreads { value: String },
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
/// On the CPU with more than one rayon thread, the batch is split into one contiguous part per
/// thread. Each thread runs the forward and backward pass of its part on its own, and the
/// parts' gradients, weighted by their share of the batch, are summed before the update. This
/// is the gradient of the whole batch's mean loss, up to rounding. It saves waking the threads
/// for every layer. Dropout masks then come from one generator per part, seeded from the
/// `Mode::Train` generator, so a run is reproducible for a fixed thread count.
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
    let batch = images.dim(0)?;
    let parts = crate::matmul::threads().min(batch);
    if parts < 2 || !images.device().is_cpu() {
        let (gradients, probs, loss_value) = scaled_part(model, loss, images, targets, mode, 1.0)?;
        optimizer.step(&gradients)?;
        return Ok(StepOutput {
            probs,
            loss: loss_value,
        });
    }

    let size = batch.div_ceil(parts);
    let mut generators: Vec<Option<ChaCha8Rng>> = match mode {
        Mode::Train(rng) => (0..parts)
            .map(|_| Some(ChaCha8Rng::seed_from_u64(rng.random())))
            .collect(),
        Mode::Eval => (0..parts).map(|_| None).collect(),
    };
    let results: Vec<candle_core::Result<_>> = generators
        .par_iter_mut()
        .enumerate()
        .map(|(part, rng)| {
            let start = part * size;
            let length = size.min(batch.saturating_sub(start));
            if length == 0 {
                return Ok(None);
            }
            let mode = match rng {
                Some(rng) => Mode::Train(rng),
                None => Mode::Eval,
            };
            let images = images.narrow(0, start, length)?;
            let targets = targets.narrow(0, start, length)?;
            let share = length as f64 / batch as f64;
            crate::matmul::on_this_thread(|| {
                scaled_part(model, loss, &images, &targets, mode, share).map(Some)
            })
        })
        .collect();

    let mut gradients: Option<GradStore> = None;
    let mut probs = Vec::with_capacity(parts);
    let mut loss_value = 0.0;
    for result in results {
        let Some((part, part_probs, part_loss)) = result? else {
            continue;
        };
        probs.push(part_probs);
        loss_value += part_loss;
        gradients = Some(match gradients {
            None => part,
            Some(mut total) => {
                for (_, var) in model.parameters() {
                    let tensor = var.as_tensor();
                    if let Some(grad) = part.get(tensor) {
                        match total.get(tensor) {
                            Some(previous) => add_in_place(previous, grad)?,
                            None => {
                                total.insert(tensor, grad.clone());
                            }
                        }
                    }
                }
                total
            }
        });
    }
    if let Some(gradients) = gradients {
        optimizer.step(&gradients)?;
    }
    Ok(StepOutput {
        probs: Tensor::cat(&probs, 0)?,
        loss: loss_value,
    })
}

/// Adds `addend` to `sum` in place. `sum` must be a gradient that nothing else shares, such
/// as one of a [`GradStore`] that backward passes return.
fn add_in_place(sum: &Tensor, addend: &Tensor) -> candle_core::Result<()> {
    sum.inplace_op2(&addend.contiguous()?, &AddInPlace)
}

/// The in-place addition behind [`add_in_place`], for contiguous f32 and f64 CPU tensors.
struct AddInPlace;

impl candle_core::InplaceOp2 for AddInPlace {
    fn name(&self) -> &'static str {
        "add-in-place"
    }

    fn cpu_fwd(
        &self,
        sum: &mut candle_core::CpuStorage,
        sum_layout: &candle_core::Layout,
        addend: &candle_core::CpuStorage,
        addend_layout: &candle_core::Layout,
    ) -> candle_core::Result<()> {
        use candle_core::CpuStorage;
        let (Some((start, end)), Some((a_start, a_end))) = (
            sum_layout.contiguous_offsets(),
            addend_layout.contiguous_offsets(),
        ) else {
            candle_core::bail!("add-in-place needs contiguous tensors");
        };
        if end - start != a_end - a_start {
            candle_core::bail!(
                "add-in-place got shapes {:?} and {:?}",
                sum_layout.shape(),
                addend_layout.shape()
            );
        }
        match (sum, addend) {
            (CpuStorage::F32(sum), CpuStorage::F32(addend)) => {
                for (total, &value) in sum[start..end].iter_mut().zip(&addend[a_start..a_end]) {
                    *total += value;
                }
            }
            (CpuStorage::F64(sum), CpuStorage::F64(addend)) => {
                for (total, &value) in sum[start..end].iter_mut().zip(&addend[a_start..a_end]) {
                    *total += value;
                }
            }
            _ => candle_core::bail!("add-in-place supports f32 and f64 tensors of one type"),
        }
        Ok(())
    }
}

/// Runs the forward and backward pass of (part of) a batch, with its mean loss multiplied by
/// `share`. Returns the gradients, the softmax outputs and the scaled loss value.
fn scaled_part(
    model: &Model,
    loss: &Loss,
    images: &Tensor,
    targets: &Tensor,
    mode: Mode<'_>,
    share: f64,
) -> candle_core::Result<(GradStore, Tensor, f64)> {
    let logits = model.forward(images, mode)?;
    let probs = candle_nn::ops::softmax(&logits, D::Minus1)?;
    let mut value = loss.batch_loss(&probs, targets)?;
    if share != 1.0 {
        value = value.affine(share, 0.0)?;
    }
    let loss_value = value.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    let gradients = value.backward()?;
    Ok((gradients, probs.detach(), loss_value))
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
