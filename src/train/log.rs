//! Writing the JSON-lines training log (schema in [`crate::runlog`]) on its own thread.
//!
//! The training thread hands each batch's logged softmax outputs to a writer thread over a
//! bounded channel, so formatting and writing overlap the next training steps. At the end of
//! each epoch the trainer sends the summary and waits until the writer has flushed it to the
//! operating system. A crash therefore loses at most the epoch in progress.
//!
//! The log is written in place rather than through a temporary file: it is a stream that must
//! be readable while training runs and that `--resume` extends. A resumed run first cuts the
//! file back to the last epoch of its checkpoint with [`truncate_to_epoch`].

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use serde::Serialize;

use super::TrainError;
use crate::runlog::{EpochSummary, HeaderLine, LineKind, SummaryLine, line_kind};

/// Softmax outputs of the logged samples of one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleBatch {
    pub epoch: u32,
    /// Indices of the samples in the original training set.
    pub indices: Vec<u64>,
    pub labels: Vec<u32>,
    /// Row-major `(indices.len(), classes)` probabilities.
    pub probs: Vec<f32>,
    pub classes: usize,
}

/// A sample record as written. Field names and order are those of
/// [`crate::runlog::SampleRecord`]; the probabilities are written as the shortest decimals
/// that round-trip to the f32 values the training forward pass computed.
#[derive(Serialize)]
struct SampleLine<'a> {
    epoch: u32,
    index: u64,
    label: u32,
    probs: &'a [f32],
}

enum Message {
    Samples(SampleBatch),
    Summary(Box<EpochSummary>),
    Flush(SyncSender<std::io::Result<()>>),
}

/// Batches buffered between the training thread and the writer before the trainer waits.
const CHANNEL_CAPACITY: usize = 256;

/// The sending side of the writer thread.
pub struct LogWriter {
    path: PathBuf,
    sender: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl LogWriter {
    /// Creates (or replaces) the log at `path` and writes the header line.
    pub fn create(path: &Path, header: &HeaderLine) -> Result<LogWriter, TrainError> {
        let file = File::create(path).map_err(|source| io_error("create", path, source))?;
        let mut writer = BufWriter::new(file);
        serde_json::to_writer(&mut writer, header)
            .map_err(std::io::Error::from)
            .and_then(|()| writer.write_all(b"\n"))
            .and_then(|()| writer.flush())
            .map_err(|source| io_error("write", path, source))?;
        Ok(LogWriter::spawn(path, writer))
    }

    /// Opens an existing log for appending.
    pub fn append(path: &Path) -> Result<LogWriter, TrainError> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| io_error("open", path, source))?;
        Ok(LogWriter::spawn(path, BufWriter::new(file)))
    }

    fn spawn(path: &Path, writer: BufWriter<File>) -> LogWriter {
        let (sender, receiver) = sync_channel(CHANNEL_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("training-log".to_string())
            .spawn(move || write_messages(receiver, writer))
            .expect("the operating system can start a thread");
        LogWriter {
            path: path.to_path_buf(),
            sender: Some(sender),
            thread: Some(thread),
        }
    }

    /// Returns the log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues sample records; blocks only when the writer is `CHANNEL_CAPACITY` batches
    /// behind.
    pub fn send_samples(&mut self, batch: SampleBatch) -> Result<(), TrainError> {
        self.send(Message::Samples(batch))
    }

    /// Queues the epoch summary and waits until it and everything before it is flushed.
    pub fn finish_epoch(&mut self, summary: &EpochSummary) -> Result<(), TrainError> {
        self.send(Message::Summary(Box::new(summary.clone())))?;
        let (reply, acknowledgement) = sync_channel(1);
        self.send(Message::Flush(reply))?;
        match acknowledgement.recv() {
            Ok(result) => result.map_err(|source| io_error("write", &self.path, source)),
            Err(_) => Err(self.writer_failure()),
        }
    }

    /// Stops the writer thread after it has written everything queued.
    pub fn close(mut self) -> Result<(), TrainError> {
        self.sender.take();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(()))) | None => Ok(()),
            Some(Ok(Err(source))) => Err(io_error("write", &self.path, source)),
            Some(Err(_)) => Err(TrainError::Log {
                path: self.path.clone(),
                reason: "the writer thread panicked".to_string(),
            }),
        }
    }

    fn send(&mut self, message: Message) -> Result<(), TrainError> {
        let sender = self.sender.as_ref().expect("sender is kept until close");
        match sender.send(message) {
            Ok(()) => Ok(()),
            Err(_) => Err(self.writer_failure()),
        }
    }

    /// Joins the writer thread, which stops only on a write error, and returns that error.
    fn writer_failure(&mut self) -> TrainError {
        self.sender.take();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(source))) => io_error("write", &self.path, source),
            _ => TrainError::Log {
                path: self.path.clone(),
                reason: "the writer thread stopped unexpectedly".to_string(),
            },
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_messages(receiver: Receiver<Message>, mut writer: BufWriter<File>) -> std::io::Result<()> {
    // Formatting a batch into memory first and writing it in one call costs less than
    // serde_json's many small writes into the BufWriter.
    let mut lines = Vec::new();
    for message in receiver {
        match message {
            Message::Samples(batch) => {
                lines.clear();
                write_samples(&mut lines, &batch)?;
                writer.write_all(&lines)?;
            }
            Message::Summary(summary) => {
                let line = SummaryLine { summary: *summary };
                serde_json::to_writer(&mut writer, &line)?;
                writer.write_all(b"\n")?;
            }
            Message::Flush(reply) => {
                if let Err(error) = writer.flush() {
                    let copy = std::io::Error::new(error.kind(), error.to_string());
                    let _ = reply.send(Err(error));
                    return Err(copy);
                }
                let _ = reply.send(Ok(()));
            }
        }
    }
    writer.flush()
}

fn write_samples(writer: &mut impl Write, batch: &SampleBatch) -> std::io::Result<()> {
    let rows = batch.probs.chunks_exact(batch.classes);
    for ((&index, &label), probs) in batch.indices.iter().zip(&batch.labels).zip(rows) {
        let line = SampleLine {
            epoch: batch.epoch,
            index,
            label,
            probs,
        };
        serde_json::to_writer(&mut *writer, &line)?;
        writer.write_all(b"\n")?;
    }
    Ok(())
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> TrainError {
    TrainError::Io {
        action,
        path: path.to_path_buf(),
        error: source,
    }
}

/// Reads the header of an existing log.
pub fn read_header(path: &Path) -> Result<HeaderLine, TrainError> {
    let file = File::open(path).map_err(|source| io_error("open", path, source))?;
    let mut first = String::new();
    BufReader::new(file)
        .read_line(&mut first)
        .map_err(|source| io_error("read", path, source))?;
    serde_json::from_str(first.trim_end()).map_err(|error| TrainError::Log {
        path: path.to_path_buf(),
        reason: format!("line 1 is not a log header: {error}"),
    })
}

/// Rewrites the log with `header` as its first line and every other line unchanged. A
/// resumed run that extends `epochs` uses it, so that its log reads like that of an
/// uninterrupted run. The copy is written beside the log and renamed over it.
pub fn replace_header(path: &Path, header: &HeaderLine) -> Result<(), TrainError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let source = File::open(path).map_err(|source| io_error("open", path, source))?;
    let permissions = source
        .metadata()
        .map_err(|source| io_error("read", path, source))?
        .permissions();

    let mut reader = BufReader::new(source);
    let mut old_header = Vec::new();
    reader
        .read_until(b'\n', &mut old_header)
        .map_err(|source| io_error("read", path, source))?;
    let temporary = tempfile::NamedTempFile::new_in(dir)
        .map_err(|source| io_error("create a file in", dir, source))?;
    let mut writer = BufWriter::new(temporary.as_file());
    serde_json::to_writer(&mut writer, header)
        .map_err(std::io::Error::from)
        .and_then(|()| writer.write_all(b"\n"))
        .and_then(|()| std::io::copy(&mut reader, &mut writer).map(drop))
        .and_then(|()| writer.flush())
        .map_err(|source| io_error("write", temporary.path(), source))?;
    drop(writer);

    std::fs::set_permissions(temporary.path(), permissions)
        .map_err(|source| io_error("write", temporary.path(), source))?;
    temporary
        .persist(path)
        .map_err(|error| io_error("replace", path, error.error))?;
    Ok(())
}

/// Cuts the log right after the summary line of `epoch` and returns the number of bytes
/// removed. This drops the records of a later, unfinished epoch and any torn last line. Fails
/// when the log has no complete summary for `epoch`.
pub fn truncate_to_epoch(path: &Path, epoch: u32) -> Result<u64, TrainError> {
    let file = File::open(path).map_err(|source| io_error("open", path, source))?;
    let total = file
        .metadata()
        .map_err(|source| io_error("read", path, source))?
        .len();

    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut offset = 0u64;
    let mut line_number = 0usize;
    let mut cut = None;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| io_error("read", path, source))?;
        if read == 0 || line.last() != Some(&b'\n') {
            break;
        }

        offset += read as u64;
        line_number += 1;
        let text = String::from_utf8_lossy(&line);
        if line_kind(&text) != LineKind::Summary {
            continue;
        }
        let summary: SummaryLine =
            serde_json::from_str(text.trim_end()).map_err(|error| TrainError::Log {
                path: path.to_path_buf(),
                reason: format!("line {line_number} is not a valid summary: {error}"),
            })?;
        if summary.summary.epoch == epoch {
            cut = Some(offset);
            break;
        }
    }

    let Some(cut) = cut else {
        return Err(TrainError::Log {
            path: path.to_path_buf(),
            reason: format!(
                "it has no complete summary line for epoch {epoch}, the checkpoint's epoch; \
                 resume with the log written by the same run, or start a new run without --resume"
            ),
        });
    };

    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|source| io_error("open", path, source))?;
    file.set_len(cut)
        .map_err(|source| io_error("truncate", path, source))?;
    Ok(total - cut)
}
