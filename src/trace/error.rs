//! Errors of reading a training log.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::attraction::DomainError;
use crate::loss::LossSpecError;

/// The shape of a valid sample line, quoted in error messages.
pub const SAMPLE_SHAPE: &str =
    r#"{"epoch": E, "index": I, "label": L, "probs": [p_0, ..., p_(n-1)]}"#;

/// A failure that stops the reading of a log.
#[derive(Debug, Error)]
pub enum TraceError {
    #[error("failed to read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "{} is empty: a training log starts with a header line {{\"header\": {{...}}}} as \
         written by analyze train",
        path.display()
    )]
    Empty { path: PathBuf },

    #[error(
        "{}:1: missing header: the first line is a {found} line, but a training log starts \
         with {{\"header\": {{...}}}} as written by analyze train",
        path.display()
    )]
    MissingHeader { path: PathBuf, found: &'static str },

    #[error(
        "{}:1: invalid header: {message}; expected {{\"header\": {{\"schema\": 1, \"tool\": ..., \
         \"loss\": SPEC, \"classes\": N, \"dataset\": ..., \"model\": ..., \"seed\": S, \
         \"hyperparameters\": ...}}}}",
        path.display()
    )]
    InvalidHeader { path: PathBuf, message: String },

    #[error(
        "{}:1: unsupported schema version {found}: this build of lossdyn reads version \
         {supported} only; read the log with the lossdyn version that wrote it",
        path.display()
    )]
    UnsupportedSchema {
        path: PathBuf,
        found: String,
        supported: u32,
    },

    #[error(
        "{}:1: invalid loss spec {spec:?} in the header ({source}); pass --loss SPEC to \
         override it",
        path.display()
    )]
    HeaderLoss {
        path: PathBuf,
        spec: String,
        source: Box<LossSpecError>,
    },

    #[error("{}:1: {source} (the header's classes field)", path.display())]
    Classes { path: PathBuf, source: DomainError },

    #[error(
        "{}:{line}: line is longer than {limit} bytes without a newline; a sample line with n \
         classes takes about 20 n bytes, so the file is probably not a training log",
        path.display()
    )]
    LineTooLong {
        path: PathBuf,
        line: u64,
        limit: usize,
    },

    #[error("{0}")]
    Line(LineError),
}

/// A problem with one line of a log, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub path: PathBuf,
    /// Line number, starting at 1 for the header.
    pub line: u64,
    pub kind: LineErrorKind,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.kind)
    }
}

impl std::error::Error for LineError {}

/// The problem found in one line.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LineErrorKind {
    #[error("invalid sample record: {message}; expected {SAMPLE_SHAPE}")]
    MalformedSample { message: String },

    #[error(
        "invalid summary line: {message}; expected {{\"summary\": {{\"epoch\": E, \
         \"train_loss\": ..., \"train_accuracy\": ..., \"validation_accuracy\": ..., \
         \"test_accuracy\": ..., \"learning_rate\": ..., \"seconds\": ...}}}}"
    )]
    MalformedSummary { message: String },

    #[error(
        "unexpected second header: a log has one header, on line 1; split concatenated logs \
         into one file per run"
    )]
    UnexpectedHeader,

    #[error(
        "label {label} is outside the class range 0..{classes} declared in the header; check \
         that the records and the header come from the same run"
    )]
    LabelOutOfRange { label: u64, classes: usize },

    #[error(
        "probs has {found} entries but the header declares {classes} classes; each record \
         holds one probability per class"
    )]
    ProbabilityCount { found: usize, classes: usize },

    #[error(
        "probability {value} of class {class} is negative; probs must be a softmax output, \
         with every entry in [0, 1]"
    )]
    NegativeProbability { class: usize, value: f64 },

    #[error(
        "probabilities sum to {sum}, which differs from 1 by more than {tolerance}; probs must \
         be a softmax output"
    )]
    ProbabilitySum { sum: f64, tolerance: f64 },
}

impl LineErrorKind {
    /// Returns whether the line could not be parsed at all, as with a line cut short by a
    /// crash.
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            LineErrorKind::MalformedSample { .. } | LineErrorKind::MalformedSummary { .. }
        )
    }
}
