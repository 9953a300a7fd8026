//! The configuration of a training run, checked before any work starts.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::model::ModelKind;
use crate::data::{DatasetKind, ValidationSize};
use crate::loss::Loss;

/// Default learning rate. The losses average over the `n` classes, so cross-entropy here is
/// the usual one divided by `n` and its gradients are `n` times smaller. The rate is
/// therefore `n` times the usual 0.01-0.1 for SGD with momentum 0.9. The MLP and the small CNN train well with it on Fashion-MNIST with `ce`,
/// `mse` and `taylorglo-cifar10` (`analysis/training.md`).
pub const DEFAULT_LEARNING_RATE: f64 = 0.5;

/// Floating-point precision of parameters and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats, for training.
    #[default]
    F32,
    /// 64-bit floats, for checks against exact arithmetic.
    F64,
}

impl Precision {
    /// Returns the candle data type.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }
}

/// The device to train on: `cpu`, `cuda` (GPU 0) or `cuda:i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    #[default]
    Cpu,
    Cuda(usize),
}

impl DeviceSpec {
    /// Opens the device. Fails with a clear message for CUDA in a build without the `cuda`
    /// feature, or when the GPU cannot be opened.
    ///
    /// NOTE: training on CUDA has not been built or run yet, because no GPU or CUDA toolkit
    /// was available during development. Every test runs on the CPU.
    pub fn open(self) -> Result<Device, TrainError> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(ordinal) => {
                if !cfg!(feature = "cuda") {
                    return Err(TrainError::Device {
                        spec: self.to_string(),
                        reason: "this build has no CUDA support; rebuild with \
                                 `cargo build --release --features cuda` (needs the CUDA \
                                 toolkit) or use --device cpu"
                            .to_string(),
                    });
                }
                Device::new_cuda(ordinal).map_err(|error| TrainError::Device {
                    spec: self.to_string(),
                    reason: error.to_string(),
                })
            }
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(ordinal) => write!(f, "cuda:{ordinal}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = TrainError;

    fn from_str(text: &str) -> Result<Self, TrainError> {
        let invalid = || TrainError::InvalidOption {
            option: "--device",
            value: text.to_string(),
            expected: "cpu, cuda or cuda:N with N a GPU index such as 0".to_string(),
        };
        match text {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            _ => {
                let ordinal = text.strip_prefix("cuda:").ok_or_else(invalid)?;
                ordinal.parse().map(DeviceSpec::Cuda).map_err(|_| invalid())
            }
        }
    }
}

/// Every setting that shapes the trained network, recorded in the log header and the
/// checkpoint. A resumed run must match all of them except `epochs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    pub model: ModelKind,
    /// Last epoch to train, counted from 1.
    pub epochs: u32,
    pub batch_size: usize,
    /// Learning rate before any milestone.
    pub learning_rate: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    /// Epochs after which the learning rate is multiplied by `lr_factor`.
    pub milestones: Vec<u32>,
    pub lr_factor: f64,
    /// Label smoothing `alpha`: targets `1 - alpha + alpha/n`, non-targets `alpha/n`.
    pub label_smoothing: f64,
    /// Samples held out of the training set for validation.
    pub validation: ValidationSize,
    /// Seed of the validation split, separate from the run's seed so that runs with
    /// different seeds validate on the same samples.
    pub validation_seed: u64,
    /// Train on only the first this many samples of the training split.
    pub train_limit: Option<usize>,
    /// Log this many training samples, chosen at random with the run's seed; `None` logs all.
    pub log_samples: Option<usize>,
    pub precision: Precision,
}

impl Default for Hyperparameters {
    fn default() -> Self {
        Hyperparameters {
            model: ModelKind::Mlp,
            epochs: 10,
            batch_size: 128,
            learning_rate: DEFAULT_LEARNING_RATE,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
            milestones: Vec::new(),
            lr_factor: 0.1,
            label_smoothing: 0.0,
            validation: ValidationSize::Fraction(0.1),
            validation_seed: 0,
            train_limit: None,
            log_samples: None,
            precision: Precision::F32,
        }
    }
}

/// A training run: what to train, on what, and where to write.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub loss: Loss,
    pub dataset: DatasetKind,
    /// Data directory; `None` uses the dataset's default (see [`crate::data::load`]).
    pub data_dir: Option<PathBuf>,
    /// Seed of initialisation, shuffling, dropout and the logged subset.
    pub seed: u64,
    pub hyperparameters: Hyperparameters,
    /// JSON-lines log of per-sample softmax outputs and epoch summaries.
    pub log: Option<PathBuf>,
    /// Directory for the checkpoint written after every epoch.
    pub checkpoint_dir: Option<PathBuf>,
    /// Continue from the checkpoint in `checkpoint_dir`, appending to `log`.
    pub resume: bool,
    pub device: DeviceSpec,
}

impl TrainConfig {
    /// Returns a configuration with default hyperparameters on the bundled subset, on the
    /// CPU, without log or checkpoint.
    pub fn new(loss: Loss) -> TrainConfig {
        TrainConfig {
            loss,
            dataset: DatasetKind::FashionMnistSubset,
            data_dir: None,
            seed: 0,
            hyperparameters: Hyperparameters::default(),
            log: None,
            checkpoint_dir: None,
            resume: false,
            device: DeviceSpec::Cpu,
        }
    }

    /// Checks every setting, naming the first invalid one with its accepted range.
    pub fn validate(&self) -> Result<(), TrainError> {
        let h = &self.hyperparameters;
        let invalid = |option: &'static str, value: String, expected: &str| {
            Err(TrainError::InvalidOption {
                option,
                value,
                expected: expected.to_string(),
            })
        };
        if h.epochs == 0 {
            return invalid("--epochs", "0".into(), "a whole number >= 1");
        }

        if h.batch_size == 0 {
            return invalid("--batch-size", "0".into(), "a whole number >= 1");
        }

        if !(h.learning_rate.is_finite() && h.learning_rate > 0.0) {
            return invalid(
                "--learning-rate",
                h.learning_rate.to_string(),
                "a finite number > 0",
            );
        }

        if !(0.0..1.0).contains(&h.momentum) {
            return invalid("--momentum", h.momentum.to_string(), "a number in [0, 1)");
        }

        if h.nesterov && h.momentum == 0.0 {
            return invalid(
                "--momentum",
                "0 with --nesterov".into(),
                "a momentum > 0, which Nesterov momentum needs",
            );
        }

        if !(h.weight_decay.is_finite() && h.weight_decay >= 0.0) {
            return invalid(
                "--weight-decay",
                h.weight_decay.to_string(),
                "a finite number >= 0",
            );
        }

        if h.milestones.first() == Some(&0) || h.milestones.windows(2).any(|w| w[0] >= w[1]) {
            return invalid(
                "--milestones",
                format!("{:?}", h.milestones),
                "strictly increasing epochs >= 1, such as 30,60",
            );
        }

        if !(h.lr_factor.is_finite() && h.lr_factor > 0.0) {
            return invalid(
                "--lr-factor",
                h.lr_factor.to_string(),
                "a finite number > 0",
            );
        }

        if !(0.0..1.0).contains(&h.label_smoothing) {
            return invalid(
                "--label-smoothing",
                h.label_smoothing.to_string(),
                "a number in [0, 1)",
            );
        }

        if h.train_limit == Some(0) {
            return invalid("--train-limit", "0".into(), "a whole number >= 1");
        }

        if h.log_samples == Some(0) {
            return invalid("--log-samples", "0".into(), "a whole number >= 1");
        }

        if self.resume && self.checkpoint_dir.is_none() {
            return invalid(
                "--resume",
                "without --checkpoint-dir".into(),
                "--checkpoint-dir DIR naming the checkpoint to continue from",
            );
        }
        Ok(())
    }
}
