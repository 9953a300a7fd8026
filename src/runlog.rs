//! The JSON-lines schema of training logs, shared by `analyze train` (writer) and
//! `analyze trace` (reader).
//!
//! A log is a sequence of lines, each one JSON object:
//!
//! ```text
//! {"header": {"schema": 1, "tool": "lossdyn 0.1.0", "loss": "ce", "classes": 10, ...}}
//! {"epoch": 1, "index": 517, "label": 3, "probs": [0.01, ..., 0.02]}
//! {"summary": {"epoch": 1, "train_loss": 0.05, "train_accuracy": 0.81, ...}}
//! ```
//!
//! The first line is the header. Then, for each epoch, one sample record per logged training
//! sample and one summary record. The outer key distinguishes the kinds with a prefix test, so a reader skips
//! the summary and header lines without parsing them as samples.

use serde::{Deserialize, Serialize};

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The first line of a log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeaderLine {
    pub header: Header,
}

/// Everything needed to interpret and reproduce a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Schema version, [`SCHEMA_VERSION`] when written by this build.
    pub schema: u32,
    /// Name and version of the tool that wrote the log, such as `lossdyn 0.1.0`.
    pub tool: String,
    /// The loss spec, readable by [`crate::loss::parse_loss`].
    pub loss: String,
    /// Number of classes `n`.
    pub classes: usize,
    /// Dataset description: name, directory or `bundled`, and split sizes.
    pub dataset: serde_json::Value,
    /// Model name, such as `mlp`, `cnn` or `allcnn-c`.
    pub model: String,
    /// Seed of every random choice in the run.
    pub seed: u64,
    /// Every training hyperparameter, by name.
    pub hyperparameters: serde_json::Value,
}

/// The softmax output of one training sample in one epoch, taken from the forward pass whose
/// gradient updated the weights, so that it is the output the loss acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// Epoch number, starting at 1.
    pub epoch: u32,
    /// Index of the sample in the training set.
    pub index: u64,
    /// The sample's class, in `0..classes`.
    pub label: u32,
    /// The softmax output, one probability per class.
    pub probs: Vec<f64>,
}

/// The per-epoch summary line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryLine {
    pub summary: EpochSummary,
}

/// Per-epoch training statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochSummary {
    pub epoch: u32,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Fraction of training samples classified correctly during the epoch.
    pub train_accuracy: f64,
    /// Accuracy on the held-out validation split, if there is one.
    pub validation_accuracy: Option<f64>,
    /// Accuracy on the test set.
    pub test_accuracy: f64,
    /// Learning rate used during the epoch.
    pub learning_rate: f64,
    /// Wall-clock seconds the epoch took, logging included.
    pub seconds: f64,
}

/// The kind of a log line, given by its first key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Header,
    Summary,
    Sample,
}

/// Classifies a line by its leading key without parsing it.
pub fn line_kind(line: &str) -> LineKind {
    let rest = line.trim_start().trim_start_matches('{').trim_start();
    if rest.starts_with("\"header\"") {
        LineKind::Header
    } else if rest.starts_with("\"summary\"") {
        LineKind::Summary
    } else {
        LineKind::Sample
    }
}
