//! Progress reports of a training run. The library never prints. The caller implements
//! [`TrainObserver`] and turns the reports into progress bars, lines or JSON.

use serde::Serialize;

use super::ModelKind;
use crate::runlog::EpochSummary;

/// Facts about a run, reported once before the first epoch.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub model: ModelKind,
    /// Number of scalar parameters of the model.
    pub parameter_count: usize,
    pub dataset: String,
    /// The data directory, or `bundled`.
    pub source: String,
    pub train_samples: usize,
    pub validation_samples: usize,
    pub test_samples: usize,
    pub classes: usize,
    /// Training samples whose softmax outputs are logged each epoch (0 without a log).
    pub logged_samples: usize,
    /// Last epoch already trained: 0 for a new run, the checkpoint's epoch when resuming.
    pub start_epoch: u32,
    pub epochs: u32,
    pub batches_per_epoch: usize,
    /// Bytes cut from the end of the log when resuming: records of an unfinished epoch and
    /// any torn last line.
    pub log_bytes_truncated: u64,
}

/// Progress within an epoch, reported after every optimizer step.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BatchProgress {
    pub epoch: u32,
    /// Batches done in this epoch, from 1.
    pub batch: usize,
    pub batches: usize,
    /// Loss of the batch just trained.
    pub loss: f64,
}

/// The result of one epoch: the summary written to the log and where the time went.
#[derive(Debug, Clone, Serialize)]
pub struct EpochReport {
    pub summary: EpochSummary,
    /// Seconds spent in training steps, including logging work on the training thread.
    pub train_seconds: f64,
    /// Seconds spent computing validation and test accuracy.
    pub eval_seconds: f64,
    /// Seconds the training thread spent on the log: copying softmax outputs into records,
    /// handing them to the writer thread and waiting for the end-of-epoch flush.
    pub log_seconds: f64,
    /// Seconds spent writing the checkpoint.
    pub checkpoint_seconds: f64,
    /// Sample records written this epoch.
    pub samples_logged: usize,
}

/// Receives progress reports from [`super::train`]. Every method defaults to doing nothing.
pub trait TrainObserver {
    /// Called once, after the model is built and before the first epoch.
    fn on_start(&mut self, _info: &RunInfo) {}

    /// Called after every optimizer step.
    fn on_batch(&mut self, _progress: &BatchProgress) {}

    /// Called after each epoch, once its log lines are flushed and its checkpoint written.
    fn on_epoch(&mut self, _report: &EpochReport) {}
}

/// An observer that ignores every report.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl TrainObserver for NoObserver {}
