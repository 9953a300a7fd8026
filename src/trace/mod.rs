//! Attraction toward zero training error, per sample and per epoch, from training logs.
//!
//! [`trace_file`] streams a JSON-lines log in the schema of [`crate::runlog`] and computes,
//! for every sample record, `epsilon = 1 - p_target`, the two gammas of the run's loss and
//! the attraction in three forms ([`record`]). It returns per-epoch statistics (fractions
//! attracted and repelled, percentiles, mean epsilon), the per-epoch summary lines of the log
//! and a random sample of at most `sample_size` records per epoch for the figure.
//!
//! # Streaming and parallelism
//!
//! One reader thread cuts the file into chunks of whole lines (about 1 MiB each) and hands
//! them over through a bounded queue. Each chunk is parsed and evaluated as one task on the
//! rayon thread pool, and the results are merged in file order as they complete. Memory is
//! bounded by the queue and the chunks in flight (four per thread), plus the quantile
//! sketches and the sample of each epoch. It does not grow with the number of lines. Results do not depend on the number of
//! threads: counts and sketches are integers, floating-point sums are merged in file order,
//! and each record's sampling key depends only on the seed and its position in the file.
//!
//! # Reference
//!
//! Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function Metalearning",
//! Figure 1 and Theorem 2 (Eq. 17).

mod chunk;
mod error;
pub mod parse;
mod reader;
pub mod record;
pub mod sketch;
pub mod summary;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::Serialize;

use crate::attraction::check_classes;
use crate::loss::{Loss, parse_loss};
use crate::runlog::{EpochSummary, Header, HeaderLine, LineKind, SCHEMA_VERSION};

pub use chunk::validate_sample;
pub use error::{LineError, LineErrorKind, SAMPLE_SHAPE, TraceError};
pub use reader::{CHUNK_BYTES, MAX_LINE_BYTES};
pub use record::{AttractionForm, GammaEvaluator, RecordAttraction, record_attraction};
pub use sketch::RELATIVE_ACCURACY;
pub use summary::{EpochStats, FormStats, SamplePoint};

use chunk::{Chunk, ChunkContext, ChunkResult, process_chunk};
use reader::{ReadFailure, read_chunks};
use summary::{EpochMap, merge_epochs};

/// Sampled points per epoch when not set otherwise, as in Figure 1 of Gonzalez and
/// Miikkulainen, "Effective Regularization through Loss-Function Metalearning".
pub const DEFAULT_SAMPLE_SIZE: usize = 500;

/// Largest accepted `|sum_k p_k - 1|` of a record. Softmax outputs computed in f32 and
/// written with 9 significant digits deviate by about `n * 6e-8`, well inside this for up to
/// a thousand classes.
pub const PROBABILITY_SUM_TOLERANCE: f64 = 1e-4;

/// How to read a log.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// Loss to evaluate instead of the one named in the header.
    pub loss: Option<Loss>,
    /// Maximum number of sampled points per epoch.
    pub sample_size: usize,
    /// Seed of the sampling keys.
    pub seed: u64,
    /// Skip invalid lines (and count them) instead of stopping at the first one.
    pub skip_invalid: bool,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            loss: None,
            sample_size: DEFAULT_SAMPLE_SIZE,
            seed: 0,
            skip_invalid: false,
        }
    }
}

/// A last line cut short, as by a crash during a write: reported and skipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruncatedLine {
    pub line: u64,
    /// Length of the partial line in bytes.
    pub bytes: usize,
    /// The parse error.
    pub message: String,
}

/// Everything computed from one log.
#[derive(Debug, Clone, Serialize)]
pub struct RunTrace {
    pub path: PathBuf,
    pub header: Header,
    /// Spec of the loss evaluated: the header's, or the override.
    pub loss: String,
    /// Lines in the file, the header included.
    pub lines: u64,
    /// Valid sample records.
    pub records: u64,
    /// Per-epoch statistics in epoch order.
    pub epochs: Vec<EpochStats>,
    /// The log's own per-epoch summary lines, in file order.
    pub summaries: Vec<EpochSummary>,
    /// Sampled records, by epoch and then line.
    pub samples: Vec<SamplePoint>,
    /// Number of invalid lines skipped (only with `skip_invalid`).
    pub skipped: u64,
    /// The first skipped line's error.
    pub first_skipped: Option<String>,
    pub truncated: Option<TruncatedLine>,
}

/// Reads the log at `path`. `progress` receives the number of bytes processed so far, after
/// each chunk.
pub fn trace_file(
    path: &Path,
    options: &TraceOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<RunTrace, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    trace_reader(path, file, options, progress)
}

/// Reads a log from `source`; `path` names it in results and messages.
pub fn trace_reader(
    path: &Path,
    source: impl Read + Send,
    options: &TraceOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<RunTrace, TraceError> {
    let threads = rayon::current_num_threads();
    let in_flight_limit = 4 * threads;
    let (chunk_sender, chunk_receiver) = mpsc::sync_channel(in_flight_limit);
    let (recycle_sender, recycle_receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || read_chunks(source, chunk_sender, recycle_receiver));
        let mut driver = Driver {
            path,
            options,
            chunks: chunk_receiver,
            recycle: recycle_sender,
            in_flight_limit,
        };
        driver.run(progress)
    })
}

struct Driver<'a> {
    path: &'a Path,
    options: &'a TraceOptions,
    chunks: mpsc::Receiver<Result<Chunk, ReadFailure>>,
    recycle: mpsc::Sender<Vec<u8>>,
    /// Most chunks spawned but not yet merged.
    in_flight_limit: usize,
}

/// Running totals while chunks are merged in file order.
struct Totals {
    lines: u64,
    records: u64,
    bytes: u64,
    epochs: EpochMap,
    summaries: Vec<EpochSummary>,
    skipped: u64,
    first_skipped: Option<String>,
    truncated: Option<TruncatedLine>,
}

impl Driver<'_> {
    fn run(&mut self, progress: &mut dyn FnMut(u64)) -> Result<RunTrace, TraceError> {
        let Some(mut first) = self.next_chunk()? else {
            return Err(TraceError::Empty {
                path: self.path.to_path_buf(),
            });
        };
        let header_end = memchr::memchr(b'\n', &first.data).map_or(first.data.len(), |k| k + 1);
        let header = self.parse_header(&first.data[..header_end])?;
        first.start = header_end;

        let loss = match &self.options.loss {
            Some(loss) => loss.clone(),
            None => parse_loss(&header.loss).map_err(|source| TraceError::HeaderLoss {
                path: self.path.to_path_buf(),
                spec: header.loss.clone(),
                source: Box::new(source),
            })?,
        };
        let evaluator = GammaEvaluator::new(loss);
        let context = ChunkContext {
            classes: header.classes,
            evaluator: &evaluator,
            sample_size: self.options.sample_size,
            seed: self.options.seed,
            skip_invalid: self.options.skip_invalid,
            sum_tolerance: PROBABILITY_SUM_TOLERANCE,
        };

        let mut totals = Totals {
            lines: 1,
            records: 0,
            bytes: 0,
            epochs: EpochMap::new(),
            summaries: Vec::new(),
            skipped: 0,
            first_skipped: None,
            truncated: None,
        };
        self.process_all(first, &context, &mut totals, progress)?;

        let (epochs, samples) = finish_epochs(totals.epochs);
        Ok(RunTrace {
            path: self.path.to_path_buf(),
            loss: evaluator.loss().spec(),
            header,
            lines: totals.lines,
            records: totals.records,
            epochs,
            summaries: totals.summaries,
            samples,
            skipped: totals.skipped,
            first_skipped: totals.first_skipped,
            truncated: totals.truncated,
        })
    }

    /// Processes `first` and every later chunk on the rayon pool, at most `in_flight_limit`
    /// at a time, and merges the results in file order as they complete.
    fn process_all(
        &self,
        first: Chunk,
        context: &ChunkContext,
        totals: &mut Totals,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), TraceError> {
        let (result_sender, result_receiver) = mpsc::channel::<(usize, Chunk, TaskOutcome)>();
        // The closure runs on this thread. When this thread is a pool worker, it runs pending
        // chunk tasks itself while it waits (see `receive_helping`).
        rayon::in_place_scope(|scope| {
            let mut pending = Some(first);
            let mut reader_done = false;
            let mut spawned = 0;
            let mut merged = 0;
            let mut waiting: BTreeMap<usize, (Chunk, ChunkResult)> = BTreeMap::new();
            loop {
                while !reader_done && spawned - merged < self.in_flight_limit {
                    let chunk = match pending.take() {
                        Some(chunk) => chunk,
                        None => match self.next_chunk_at(totals.lines)? {
                            Some(chunk) => chunk,
                            None => {
                                reader_done = true;
                                break;
                            }
                        },
                    };
                    let sender = result_sender.clone();
                    let index = spawned;
                    scope.spawn(move |_| {
                        // A panic is sent back and resumed on this thread, which would
                        // otherwise wait for the result forever.
                        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                            process_chunk(&chunk, context)
                        }));
                        let _ = sender.send((index, chunk, outcome));
                    });
                    spawned += 1;
                }
                if merged == spawned {
                    return Ok(());
                }
                // This function owns a sender, so the channel cannot be disconnected.
                let (index, chunk, outcome) =
                    receive_helping(&result_receiver).expect("the result channel stays open");
                let result = outcome.unwrap_or_else(|payload| std::panic::resume_unwind(payload));
                waiting.insert(index, (chunk, result));
                while let Some((chunk, result)) = waiting.remove(&merged) {
                    totals.bytes += chunk.data.len() as u64;
                    let _ = self.recycle.send(chunk.data);
                    self.merge(totals, result)?;
                    merged += 1;
                }
                progress(totals.bytes);
            }
        })
    }

    fn next_chunk(&self) -> Result<Option<Chunk>, TraceError> {
        self.next_chunk_at(0)
    }

    /// Receives the next chunk; `lines_before` locates a line that is too long.
    fn next_chunk_at(&self, lines_before: u64) -> Result<Option<Chunk>, TraceError> {
        match self.chunks.recv() {
            Ok(Ok(chunk)) => Ok(Some(chunk)),
            Ok(Err(ReadFailure::Io(source))) => Err(TraceError::Io {
                path: self.path.to_path_buf(),
                source,
            }),
            Ok(Err(ReadFailure::LineTooLong)) => Err(TraceError::LineTooLong {
                path: self.path.to_path_buf(),
                line: lines_before + 1,
                limit: MAX_LINE_BYTES,
            }),
            Err(mpsc::RecvError) => Ok(None),
        }
    }

    fn parse_header(&self, line: &[u8]) -> Result<Header, TraceError> {
        let path = self.path.to_path_buf();
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match chunk::kind_of(line) {
            LineKind::Header => {}
            LineKind::Summary => {
                return Err(TraceError::MissingHeader {
                    path,
                    found: "summary",
                });
            }
            LineKind::Sample => {
                return Err(TraceError::MissingHeader {
                    path,
                    found: "sample",
                });
            }
        }
        let invalid = |message: String| TraceError::InvalidHeader {
            path: self.path.to_path_buf(),
            message,
        };
        let value: serde_json::Value = serde_json::from_slice(line)
            .map_err(|error| invalid(parse::describe_json_error(&error)))?;
        let schema = &value["header"]["schema"];
        if schema.as_u64() != Some(u64::from(SCHEMA_VERSION)) {
            return Err(TraceError::UnsupportedSchema {
                path,
                found: schema.to_string(),
                supported: SCHEMA_VERSION,
            });
        }
        let header_line: HeaderLine =
            serde_json::from_value(value).map_err(|error| invalid(error.to_string()))?;
        let header = header_line.header;
        check_classes(header.classes).map_err(|source| TraceError::Classes { path, source })?;
        Ok(header)
    }

    /// Adds a chunk's result, whose lines follow `totals.lines`.
    fn merge(&self, totals: &mut Totals, result: ChunkResult) -> Result<(), TraceError> {
        let base = totals.lines;
        let line_error = |(relative, kind): (u64, LineErrorKind)| LineError {
            path: self.path.to_path_buf(),
            line: base + relative,
            kind,
        };
        if let Some(error) = result.error {
            return Err(TraceError::Line(line_error(error)));
        }

        totals.lines += result.lines;
        totals.records += result.records;
        totals.skipped += result.skipped;
        if totals.first_skipped.is_none() {
            totals.first_skipped = result
                .first_skipped
                .map(|error| line_error(error).to_string());
        }

        if let Some((relative, bytes, kind)) = result.truncated {
            totals.truncated = Some(TruncatedLine {
                line: base + relative,
                bytes,
                message: kind.to_string(),
            });
        }
        totals.summaries.extend(result.summaries);

        let mut epochs = result.epochs;
        for accumulator in epochs.values_mut() {
            accumulator.shift_lines(base);
        }
        merge_epochs(&mut totals.epochs, epochs);
        Ok(())
    }
}

/// Receives the next message. On a rayon worker thread, pending pool tasks are run while the
/// channel is empty, so a caller inside the pool (even a one-thread pool) cannot deadlock
/// waiting for tasks that only its own thread could run.
fn receive_helping<T>(receiver: &mpsc::Receiver<T>) -> Option<T> {
    loop {
        match receiver.try_recv() {
            Ok(value) => return Some(value),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => match rayon::yield_now() {
                Some(rayon::Yield::Executed) => {}
                // Outside a pool, or no pending task: the awaited tasks run on other threads.
                Some(rayon::Yield::Idle) | None => return receiver.recv().ok(),
            },
        }
    }
}

/// The result of one chunk task, or the payload of its panic.
type TaskOutcome = std::thread::Result<ChunkResult>;

fn finish_epochs(epochs: EpochMap) -> (Vec<EpochStats>, Vec<SamplePoint>) {
    let mut stats = Vec::with_capacity(epochs.len());
    let mut samples = Vec::new();
    for (epoch, accumulator) in epochs {
        let (epoch_stats, points) = accumulator.finish(epoch);
        stats.push(epoch_stats);
        samples.extend(points);
    }
    (stats, samples)
}
