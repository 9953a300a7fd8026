//! Processing of one chunk of complete lines, independent of every other chunk.
//!
//! Line numbers inside a chunk are relative (1 for its first line). The caller knows how
//! many lines came before and shifts them when it merges the chunk's result.

use crate::runlog::{EpochSummary, LineKind, SummaryLine, line_kind};

use super::error::LineErrorKind;
use super::parse::{RawSample, describe_json_error, parse_sample};
use super::record::{GammaEvaluator, RecordAttraction, record_attraction};
use super::summary::{EpochAccumulator, EpochMap, SamplePoint, sampling_key};

/// A run of complete lines read from a log.
#[derive(Debug)]
pub struct Chunk {
    /// Byte offset of `data[0]` in the file. Only the reader's tests read it, to check that
    /// the chunks tile the file.
    #[cfg_attr(not(test), allow(dead_code))]
    pub offset: u64,
    /// Whole lines, each ending in `\n`, except the last line of the file when the file does
    /// not end in a newline.
    pub data: Vec<u8>,
    /// Position in `data` where processing starts (after the header in the first chunk).
    pub start: usize,
    /// Whether this is the end of the file and its last line has no newline.
    pub ends_without_newline: bool,
}

/// Settings shared by every chunk of one log.
pub struct ChunkContext<'a> {
    pub classes: usize,
    pub evaluator: &'a GammaEvaluator,
    pub sample_size: usize,
    pub seed: u64,
    pub skip_invalid: bool,
    pub sum_tolerance: f64,
}

/// The contribution of one chunk.
#[derive(Debug, Default)]
pub struct ChunkResult {
    /// Lines in the processed part of the chunk.
    pub lines: u64,
    pub records: u64,
    pub epochs: EpochMap,
    /// The log's own summary lines, in order.
    pub summaries: Vec<EpochSummary>,
    pub skipped: u64,
    pub first_skipped: Option<(u64, LineErrorKind)>,
    /// The error that stopped the chunk, when invalid lines are not skipped.
    pub error: Option<(u64, LineErrorKind)>,
    /// A last line without newline that failed to parse: relative line, length, error.
    pub truncated: Option<(u64, usize, LineErrorKind)>,
}

/// Processes the lines of `chunk` from `chunk.start` on.
pub fn process_chunk(chunk: &Chunk, context: &ChunkContext) -> ChunkResult {
    let mut result = ChunkResult::default();
    let mut sample = RawSample::default();
    let mut gammas = Vec::with_capacity(context.classes);
    let data = &chunk.data[..];
    let mut position = chunk.start;

    while position < data.len() {
        let end = memchr::memchr(b'\n', &data[position..]).map_or(data.len(), |k| position + k);
        let line_start = position;
        position = end + 1;
        result.lines += 1;
        let line = strip_carriage_return(&data[line_start..end]);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }

        let outcome = match kind_of(line) {
            LineKind::Header => Err(LineErrorKind::UnexpectedHeader),
            LineKind::Summary => parse_summary(line).map(|summary| {
                result.summaries.push(summary.summary);
            }),
            LineKind::Sample => {
                read_sample(line, context, &mut sample, &mut gammas).map(|values| {
                    result.records += 1;
                    let accumulator = result
                        .epochs
                        .entry(sample.epoch)
                        .or_insert_with(|| EpochAccumulator::new(context.sample_size));
                    // Keyed by the record's epoch and sample index, not its position in
                    // the file, so that the `seconds` of the summary lines, whose length
                    // varies between otherwise identical runs, do not change the sample.
                    let record = (u64::from(sample.epoch) << 40) ^ sample.index;
                    let key = sampling_key(context.seed, record);
                    accumulator.add(&values, key, || SamplePoint {
                        epoch: sample.epoch,
                        line: result.lines,
                        index: sample.index,
                        label: sample.label,
                        attraction: values,
                    });
                })
            }
        };

        let Err(kind) = outcome else {
            continue;
        };
        let last_line = end >= data.len();
        if last_line && chunk.ends_without_newline && kind.is_malformed() {
            result.truncated = Some((result.lines, line.len(), kind));
        } else if context.skip_invalid {
            result.skipped += 1;
            result.first_skipped.get_or_insert((result.lines, kind));
        } else {
            result.error = Some((result.lines, kind));
            break;
        }
    }
    result
}

/// Parses and validates a sample line into `sample` and computes its attraction.
fn read_sample(
    line: &[u8],
    context: &ChunkContext,
    sample: &mut RawSample,
    gammas: &mut Vec<f64>,
) -> Result<RecordAttraction, LineErrorKind> {
    parse_sample(line, sample).map_err(|message| LineErrorKind::MalformedSample { message })?;
    validate_sample(sample, context.classes, context.sum_tolerance)?;
    let label = sample.label as usize;
    Ok(record_attraction(
        context.evaluator,
        &sample.probs,
        label,
        gammas,
    ))
}

/// Checks the record against the header: label range, vector length, and that `probs` is a
/// probability vector within `tolerance`.
pub fn validate_sample(
    sample: &RawSample,
    classes: usize,
    tolerance: f64,
) -> Result<(), LineErrorKind> {
    if sample.probs.len() != classes {
        return Err(LineErrorKind::ProbabilityCount {
            found: sample.probs.len(),
            classes,
        });
    }
    if sample.label >= classes as u64 {
        return Err(LineErrorKind::LabelOutOfRange {
            label: sample.label,
            classes,
        });
    }
    if let Some((class, &value)) = sample.probs.iter().enumerate().find(|(_, p)| **p < 0.0) {
        return Err(LineErrorKind::NegativeProbability { class, value });
    }
    let sum: f64 = sample.probs.iter().sum();
    if (sum - 1.0).abs() > tolerance {
        return Err(LineErrorKind::ProbabilitySum { sum, tolerance });
    }
    Ok(())
}

fn parse_summary(line: &[u8]) -> Result<SummaryLine, LineErrorKind> {
    serde_json::from_slice(line).map_err(|error| LineErrorKind::MalformedSummary {
        message: describe_json_error(&error),
    })
}

/// Classifies a line with [`line_kind`], which only looks at its first key.
pub fn kind_of(line: &[u8]) -> LineKind {
    // Shortcut for the common case: a first key that starts with neither `h` (header) nor `s`
    // (summary) makes the line a sample record under the rule of `line_kind`.
    if let [b'{', b'"', first, ..] = line
        && *first != b'h'
        && *first != b's'
    {
        return LineKind::Sample;
    }
    let prefix = &line[..line.len().min(64)];
    let text = match std::str::from_utf8(prefix) {
        Ok(text) => text,
        Err(error) => std::str::from_utf8(&prefix[..error.valid_up_to()]).unwrap_or_default(),
    };
    line_kind(text)
}

fn strip_carriage_return(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_of_agrees_with_line_kind() {
        for line in [
            r#"{"epoch":1,"index":0,"label":0,"probs":[1]}"#,
            r#"{"header":{}}"#,
            r#"{"summary":{}}"#,
            r#"{"seed":1}"#,
            r#"{"hyper":1}"#,
            r#" {"header":{}}"#,
            r#"{ "summary":{}}"#,
            "",
            "{",
        ] {
            assert_eq!(kind_of(line.as_bytes()), line_kind(line), "{line}");
        }
    }
}
