//! Checkpoints: the parameters and momentum buffers in safetensors, with the model and run
//! configuration in JSON beside them.
//!
//! A checkpoint directory contains `checkpoint.safetensors` (tensors named as in
//! [`Model::parameters`], the momentum buffers as `momentum.<name>`, and `epoch`, a one-element
//! u32 tensor) and `checkpoint.json` ([`CheckpointConfig`]). Each file is written to a
//! temporary file in the same directory and renamed over the previous one, weights first.
//! The epoch stored in the weights file is the one a resumed run continues from, so a crash
//! between the two renames cannot make the configuration claim weights it does not have.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::config::Hyperparameters;
use super::model::{Model, ModelKind};
use super::optim::Sgd;
use crate::data::ImageShape;

/// File name of the tensors in a checkpoint directory.
pub const WEIGHTS_FILE: &str = "checkpoint.safetensors";

/// File name of the configuration in a checkpoint directory.
pub const CONFIG_FILE: &str = "checkpoint.json";

/// Name of the tensor that stores the epoch.
pub const EPOCH_TENSOR: &str = "epoch";

/// Everything needed to rebuild the model and to check that a resumed run matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    /// Name and version of the tool that wrote the checkpoint.
    pub tool: String,
    pub model: ModelKind,
    pub classes: usize,
    pub input_shape: ImageShape,
    /// Epochs trained when the checkpoint was written.
    pub epoch: u32,
    pub parameter_count: usize,
    /// Loss spec, readable by [`crate::loss::parse_loss`].
    pub loss: String,
    /// Dataset name, such as `fashion-mnist-subset`.
    pub dataset: String,
    pub seed: u64,
    pub hyperparameters: Hyperparameters,
    /// File name of the tensors, relative to this file's directory.
    pub weights: String,
    /// The `--log` path of the run as given, `null` for a run without a log. Missing
    /// (`None`) in checkpoints written before this field existed, which are not checked.
    #[serde(default, deserialize_with = "present_option")]
    pub log: Option<Option<PathBuf>>,
    /// Training threads, on which the batch split and so the rounding depend. Missing in
    /// checkpoints written before this field existed, which are not checked.
    #[serde(default)]
    pub threads: Option<usize>,
}

/// Reads a field that is present, possibly `null`, so that `#[serde(default)]` alone marks
/// it missing.
fn present_option<'de, D>(deserializer: D) -> Result<Option<Option<PathBuf>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<PathBuf>::deserialize(deserializer).map(Some)
}

/// Writes a checkpoint of `model` and `optimizer` into `dir`, creating it if needed.
pub fn save(
    dir: &Path,
    model: &Model,
    optimizer: &Sgd,
    config: &CheckpointConfig,
) -> Result<(), TrainError> {
    create_directory(dir)?;
    let cpu = Device::Cpu;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for (name, var) in model.parameters() {
        tensors.insert(name.clone(), var.as_tensor().to_device(&cpu)?);
    }
    for (name, velocity) in optimizer.state() {
        tensors.insert(name, velocity.to_device(&cpu)?);
    }
    tensors.insert(
        EPOCH_TENSOR.to_string(),
        Tensor::new(&[config.epoch], &cpu)?,
    );
    let weights_path = dir.join(WEIGHTS_FILE);
    // Serialized in memory and written here, not with `candle_core::safetensors::save`,
    // whose own temporary file gets mode 0600 and whose errors do not name the file.
    let bytes = safetensors::tensor::serialize(&tensors, None)
        .map_err(|error| TrainError::from(candle_core::Error::from(error)))?;
    let temporary = temporary_file(dir)?;
    let mut file = temporary.as_file();
    file.write_all(&bytes)
        .and_then(|()| file.flush())
        .map_err(|source| io_error("write", &weights_path, source))?;
    persist(temporary, &weights_path)?;

    let temporary = temporary_file(dir)?;
    let json = serde_json::to_string_pretty(config).expect("the configuration serializes");
    let mut file = temporary.as_file();
    file.write_all(json.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .map_err(|source| io_error("write", &dir.join(CONFIG_FILE), source))?;
    persist(temporary, &dir.join(CONFIG_FILE))
}

/// Reads `checkpoint.json` from `dir`.
pub fn read_config(dir: &Path) -> Result<CheckpointConfig, TrainError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| io_error("read", &path, source))?;
    serde_json::from_str(&text).map_err(|error| TrainError::Checkpoint {
        reason: format!(
            "{} is not a valid checkpoint configuration: {error}",
            path.display()
        ),
    })
}

/// Reads the tensors of the checkpoint in `dir` onto `device`, with the epoch they belong to.
pub fn read_tensors(
    dir: &Path,
    config: &CheckpointConfig,
    device: &Device,
) -> Result<(HashMap<String, Tensor>, u32), TrainError> {
    let path = dir.join(&config.weights);
    if !path.exists() {
        return Err(TrainError::Checkpoint {
            reason: format!("{} not found", path.display()),
        });
    }
    let tensors = candle_core::safetensors::load(&path, device)?;
    let epoch = match tensors.get(EPOCH_TENSOR) {
        Some(tensor) => tensor
            .to_dtype(DType::U32)?
            .flatten_all()?
            .to_vec1::<u32>()?,
        None => Vec::new(),
    };
    let [epoch] = epoch[..] else {
        return Err(TrainError::Checkpoint {
            reason: format!("{} has no one-element `epoch` tensor", path.display()),
        });
    };
    Ok((tensors, epoch))
}

/// Loads a trained model from a checkpoint directory, for commands that use trained networks.
pub fn load_model(dir: &Path, device: &Device) -> Result<(Model, CheckpointConfig), TrainError> {
    let config = read_config(dir)?;
    let (tensors, epoch) = read_tensors(dir, &config, device)?;
    let dtype = config.hyperparameters.precision.dtype();
    let mut rng = super::stream_rng(config.seed, super::Stream::Init, 0);
    let model = Model::new(
        config.model,
        config.input_shape,
        config.classes,
        dtype,
        device,
        &mut rng,
    )?;
    model.load_parameters(&tensors)?;
    Ok((model, CheckpointConfig { epoch, ..config }))
}

/// Creates the checkpoint directory, with a clear message when the path is a file.
fn create_directory(dir: &Path) -> Result<(), TrainError> {
    if dir.exists() && !dir.is_dir() {
        return Err(TrainError::InvalidOption {
            option: "--checkpoint-dir",
            value: dir.display().to_string(),
            expected: "a directory (created if missing), but it is not a directory".to_string(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| io_error("create", dir, source))
}

/// Creates a temporary file with the mode a plain `File::create` gives, not tempfile's 0600.
fn temporary_file(dir: &Path) -> Result<tempfile::NamedTempFile, TrainError> {
    crate::plot::style::temporary_output(dir, "")
        .map_err(|source| io_error("create a file in", dir, source))
}

fn persist(temporary: tempfile::NamedTempFile, path: &Path) -> Result<(), TrainError> {
    temporary
        .persist(path)
        .map(drop)
        .map_err(|error| io_error("replace", path, error.error))
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> TrainError {
    TrainError::Io {
        action,
        path: PathBuf::from(path),
        error: source,
    }
}
