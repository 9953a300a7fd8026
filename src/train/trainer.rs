//! The epoch loop: shuffling, steps, logging, evaluation and checkpoints.

use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::{D, DType, Device, Tensor};
use rand::seq::SliceRandom;
use serde_json::json;

use super::checkpoint::{self, CheckpointConfig};
use super::log::{self, LogWriter, SampleBatch};
use super::observer::{BatchProgress, EpochReport, RunInfo, TrainObserver};
use super::{
    Hyperparameters, Mode, Model, Sgd, SgdParams, StepSchedule, Stream, TrainConfig, TrainError,
    stream_rng, targets, tool_name, training_step,
};
use crate::data::{self, Dataset, LoadedData};
use crate::runlog::{EpochSummary, Header, HeaderLine, SCHEMA_VERSION};

/// Samples per forward pass when computing validation and test accuracy.
const EVAL_BATCH: usize = 1000;

/// The result of a finished run.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The trained model.
    pub model: Model,
    /// Summaries of the epochs trained by this call (not those before a resume).
    pub summaries: Vec<EpochSummary>,
    /// Reports of the epochs trained by this call, with timings.
    pub reports: Vec<EpochReport>,
}

/// Loads the configured dataset and trains on it.
pub fn train(
    config: &TrainConfig,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, TrainError> {
    config.validate()?;
    let data = data::load(config.dataset, config.data_dir.as_deref())?;
    train_on(config, &data, observer)
}

/// Tells glibc's allocator to reuse freed tensor buffers instead of returning them to the
/// kernel. candle allocates fresh buffers for every operation, and by default glibc serves
/// large ones with `mmap` and trims the heap, so each training step page-faults them in again
/// (a fifth of the small CNN's perf samples were page faults). The limits are 32 MiB, the
/// largest mmap threshold glibc accepts on 64-bit Linux, and 1 GiB of free heap kept for reuse.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters and is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// Sets `CANDLE_NUM_THREADS=1` unless the user set it, which makes candle run elementwise
/// operations on the calling thread. candle 0.11 splits elementwise operations of 64K or more
/// elements between the caller and a pool whose threads spin at a barrier. On 2 cores, where
/// rayon and gemm already use both, the spinning took 57 % of the MLP's perf samples, and a
/// 4-epoch MLP run under a load average of 2.5 used 3.2 s of CPU with the pool and 0.8 s
/// without it. candle reads the variable once, when the pool is first used.
///
/// NOTE: if candle used an elementwise operation of that size before training starts (none
/// does in `analyze train`), the pool keeps its threads and this has no effect.
fn serial_elementwise_ops() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: no other thread of this process reads or writes the environment while the
        // training run is being set up.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}

/// Trains on data already loaded, so that several runs can share one load. `config.dataset`
/// and `config.data_dir` are ignored; the header records `data`'s kind and source.
pub fn train_on(
    config: &TrainConfig,
    data: &LoadedData,
    observer: &mut dyn TrainObserver,
) -> Result<TrainOutcome, TrainError> {
    config.validate()?;
    keep_freed_memory();
    serial_elementwise_ops();
    let mut run = Run::new(config, data)?;
    let logged_samples = run.logged.iter().filter(|&&l| l).count();
    let header = run.header(logged_samples);

    let (start_epoch, log_bytes_truncated) = if config.resume {
        run.resume(&header)?
    } else {
        if let Some(path) = &config.log {
            run.log = Some(LogWriter::create(path, &header)?);
        }
        (0, 0)
    };
    observer.on_start(&run.info(logged_samples, start_epoch, log_bytes_truncated));

    let mut reports = Vec::new();
    for epoch in start_epoch + 1..=config.hyperparameters.epochs {
        let report = run.epoch(epoch, observer)?;
        observer.on_epoch(&report);
        reports.push(report);
    }
    if let Some(log) = run.log.take() {
        log.close()?;
    }
    Ok(TrainOutcome {
        model: run.model,
        summaries: reports.iter().map(|r| r.summary.clone()).collect(),
        reports,
    })
}

/// Marks, per original training index, whether the sample is logged.
fn logged_mask(
    config: &TrainConfig,
    train_len: usize,
    train_indices: &[usize],
) -> Result<Vec<bool>, TrainError> {
    let mut mask = vec![false; train_len];
    if config.log.is_none() {
        return Ok(mask);
    }
    match config.hyperparameters.log_samples {
        None => train_indices.iter().for_each(|&i| mask[i] = true),
        Some(count) if count > train_indices.len() => {
            return Err(TrainError::InvalidOption {
                option: "--log-samples",
                value: count.to_string(),
                expected: format!(
                    "at most the {} training samples, or no --log-samples to log all",
                    train_indices.len()
                ),
            });
        }
        Some(count) => {
            let mut rng = stream_rng(config.seed, Stream::LogSubset, 0);
            for position in rand::seq::index::sample(&mut rng, train_indices.len(), count) {
                mask[train_indices[position]] = true;
            }
        }
    }
    Ok(mask)
}

struct Run<'a> {
    config: &'a TrainConfig,
    data: &'a LoadedData,
    device: Device,
    model: Model,
    optimizer: Sgd,
    train_indices: Vec<usize>,
    validation_indices: Vec<usize>,
    logged: Vec<bool>,
    log: Option<LogWriter>,
    /// Threads that run each training step and evaluation batch. Inside the pool the caller
    /// is one of its workers, so a parallel loop wakes only the other threads instead of
    /// handing all the work over and putting the caller to sleep until it is done.
    pool: rayon::ThreadPool,
}

impl<'a> Run<'a> {
    /// Splits the data, builds the model and the optimizer and chooses the logged samples.
    fn new(config: &'a TrainConfig, data: &'a LoadedData) -> Result<Run<'a>, TrainError> {
        let hyper = &config.hyperparameters;
        let device = config.device.open()?;
        let split =
            data::split_validation(data.train.len(), hyper.validation, hyper.validation_seed)?;
        let mut train_indices = split.train;
        if let Some(limit) = hyper.train_limit {
            train_indices.truncate(limit);
        }

        let model = Model::new(
            hyper.model,
            data.train.shape,
            data.classes,
            hyper.precision.dtype(),
            &device,
            &mut stream_rng(config.seed, Stream::Init, 0),
        )?;
        let params = SgdParams {
            learning_rate: hyper.learning_rate,
            momentum: hyper.momentum,
            nesterov: hyper.nesterov,
            weight_decay: hyper.weight_decay,
        };
        let optimizer = Sgd::new(model.parameters(), params)?;
        let logged = logged_mask(config, data.train.len(), &train_indices)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(training_threads()?)
            .thread_name(|index| format!("train-{index}"))
            .build()
            .map_err(|error| TrainError::Threads(error.to_string()))?;

        Ok(Run {
            config,
            data,
            device,
            model,
            optimizer,
            train_indices,
            validation_indices: split.validation,
            logged,
            log: None,
            pool,
        })
    }

    fn info(&self, logged_samples: usize, start_epoch: u32, log_bytes_truncated: u64) -> RunInfo {
        let hyper = self.hyper();
        RunInfo {
            model: hyper.model,
            parameter_count: self.model.parameter_count(),
            dataset: self.data.kind.name().to_string(),
            source: self.data.source.clone(),
            train_samples: self.train_indices.len(),
            validation_samples: self.validation_indices.len(),
            test_samples: self.data.test.len(),
            classes: self.data.classes,
            logged_samples: if self.log.is_some() {
                logged_samples
            } else {
                0
            },
            start_epoch,
            epochs: hyper.epochs,
            batches_per_epoch: self.train_indices.len().div_ceil(hyper.batch_size),
            log_bytes_truncated,
        }
    }

    fn hyper(&self) -> &Hyperparameters {
        &self.config.hyperparameters
    }

    fn header(&self, logged_samples: usize) -> HeaderLine {
        let shape = self.data.train.shape;
        let mut hyperparameters =
            serde_json::to_value(self.hyper()).expect("hyperparameters serialize");
        hyperparameters["logged_samples"] = json!(logged_samples);
        hyperparameters["parameter_count"] = json!(self.model.parameter_count());
        hyperparameters["threads"] = json!(self.pool.current_num_threads());
        HeaderLine {
            header: Header {
                schema: SCHEMA_VERSION,
                tool: tool_name(),
                loss: self.config.loss.spec(),
                classes: self.data.classes,
                dataset: json!({
                    "name": self.data.kind.name(),
                    "source": self.data.source,
                    "train": self.train_indices.len(),
                    "validation": self.validation_indices.len(),
                    "test": self.data.test.len(),
                    "shape": [shape.channels, shape.height, shape.width],
                }),
                model: self.hyper().model.name().to_string(),
                seed: self.config.seed,
                hyperparameters,
            },
        }
    }

    /// Trains one epoch, evaluates, finishes its log lines and writes the checkpoint.
    fn epoch(
        &mut self,
        epoch: u32,
        observer: &mut dyn TrainObserver,
    ) -> Result<EpochReport, TrainError> {
        let started = Instant::now();
        let hyper = self.hyper();
        let learning_rate = StepSchedule {
            base: hyper.learning_rate,
            milestones: hyper.milestones.clone(),
            factor: hyper.lr_factor,
        }
        .learning_rate(epoch);
        self.optimizer.set_learning_rate(learning_rate);
        let mut totals = self.train_batches(epoch, observer)?;
        let train_seconds = started.elapsed().as_secs_f64();

        let eval_started = Instant::now();
        let validation_accuracy = if self.validation_indices.is_empty() {
            None
        } else {
            Some(self.accuracy(&self.data.train, &self.validation_indices)?)
        };
        let test_indices: Vec<usize> = (0..self.data.test.len()).collect();
        let test_accuracy = self.accuracy(&self.data.test, &test_indices)?;
        let eval_seconds = eval_started.elapsed().as_secs_f64();

        let summary = EpochSummary {
            epoch,
            train_loss: totals.loss / totals.batches as f64,
            train_accuracy: totals.correct as f64 / self.train_indices.len() as f64,
            validation_accuracy,
            test_accuracy,
            learning_rate,
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(log) = &mut self.log {
            let flush_started = Instant::now();
            log.finish_epoch(&summary)?;
            totals.log_time += flush_started.elapsed();
        }
        let checkpoint_started = Instant::now();
        self.save_checkpoint(epoch)?;
        Ok(EpochReport {
            summary,
            train_seconds,
            eval_seconds,
            log_seconds: totals.log_time.as_secs_f64(),
            checkpoint_seconds: checkpoint_started.elapsed().as_secs_f64(),
            samples_logged: totals.logged,
        })
    }

    /// Runs the optimizer steps of one epoch over a fresh shuffle of the training split and
    /// hands the logged samples' softmax outputs to the log writer.
    fn train_batches(
        &mut self,
        epoch: u32,
        observer: &mut dyn TrainObserver,
    ) -> Result<EpochTotals, TrainError> {
        let hyper = self.hyper().clone();
        let mut order = self.train_indices.clone();
        order.shuffle(&mut stream_rng(self.config.seed, Stream::Shuffle, epoch));
        let mut dropout_rng = stream_rng(self.config.seed, Stream::Dropout, epoch);
        let mut totals = EpochTotals {
            batches: order.len().div_ceil(hyper.batch_size),
            ..EpochTotals::default()
        };
        for (batch, indices) in order.chunks(hyper.batch_size).enumerate() {
            let labels = self.data.train.gather_labels(indices);
            let images = self.images(&self.data.train, indices)?;
            let dtype = hyper.precision.dtype();
            let targets = targets(
                &labels,
                self.data.classes,
                hyper.label_smoothing,
                dtype,
                &self.device,
            )?;
            let (model, optimizer, loss) = (&self.model, &mut self.optimizer, &self.config.loss);
            let step = self.pool.install(|| {
                training_step(
                    model,
                    optimizer,
                    loss,
                    &images,
                    &targets,
                    Mode::Train(&mut dropout_rng),
                )
            })?;
            if !step.loss.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    batch: batch + 1,
                    loss: step.loss,
                });
            }

            let probs: Vec<f32> = step.probs.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            totals.loss += step.loss;
            totals.correct += count_correct(&probs, &labels, self.data.classes);
            let log_started = Instant::now();
            totals.logged += self.log_batch(epoch, indices, &labels, &probs)?;
            totals.log_time += log_started.elapsed();
            observer.on_batch(&BatchProgress {
                epoch,
                batch: batch + 1,
                batches: totals.batches,
                loss: step.loss,
            });
        }
        Ok(totals)
    }

    /// Returns the images at `indices` as a `(batch, channels, height, width)` tensor.
    fn images(&self, dataset: &Dataset, indices: &[usize]) -> Result<Tensor, TrainError> {
        let shape = dataset.shape;
        let pixels = dataset.gather_pixels(indices);
        let dims = (indices.len(), shape.channels, shape.height, shape.width);
        let images = Tensor::from_vec(pixels, dims, &self.device)?;
        Ok(images.to_dtype(self.hyper().precision.dtype())?)
    }

    /// Sends the logged samples of a batch to the writer; returns how many.
    fn log_batch(
        &mut self,
        epoch: u32,
        indices: &[usize],
        labels: &[u8],
        probs: &[f32],
    ) -> Result<usize, TrainError> {
        let Some(log) = &mut self.log else {
            return Ok(0);
        };
        let classes = self.data.classes;
        let mut batch = SampleBatch {
            epoch,
            indices: Vec::new(),
            labels: Vec::new(),
            probs: Vec::new(),
            classes,
        };
        for (row, &index) in indices.iter().enumerate() {
            if self.logged[index] {
                batch.indices.push(index as u64);
                batch.labels.push(u32::from(labels[row]));
                batch
                    .probs
                    .extend_from_slice(&probs[row * classes..(row + 1) * classes]);
            }
        }
        let count = batch.indices.len();
        if count > 0 {
            log.send_samples(batch)?;
        }
        Ok(count)
    }

    /// Returns the fraction of `indices` in `dataset` whose largest logit is the label.
    fn accuracy(&self, dataset: &Dataset, indices: &[usize]) -> Result<f64, TrainError> {
        let mut correct = 0usize;
        for chunk in indices.chunks(EVAL_BATCH) {
            let images = self.images(dataset, chunk)?;
            let logits = self
                .pool
                .install(|| self.model.forward(&images, Mode::Eval))?
                .detach();
            let predicted: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
            let labels = dataset.gather_labels(chunk);
            correct += predicted
                .iter()
                .zip(&labels)
                .filter(|(p, l)| **p == u32::from(**l))
                .count();
        }
        Ok(correct as f64 / indices.len() as f64)
    }

    fn checkpoint_config(&self, epoch: u32) -> CheckpointConfig {
        CheckpointConfig {
            tool: tool_name(),
            model: self.hyper().model,
            classes: self.data.classes,
            input_shape: self.data.train.shape,
            epoch,
            parameter_count: self.model.parameter_count(),
            loss: self.config.loss.spec(),
            dataset: self.data.kind.name().to_string(),
            seed: self.config.seed,
            hyperparameters: self.hyper().clone(),
            weights: checkpoint::WEIGHTS_FILE.to_string(),
            log: Some(self.config.log.clone()),
            threads: Some(self.pool.current_num_threads()),
        }
    }

    fn save_checkpoint(&self, epoch: u32) -> Result<(), TrainError> {
        let Some(dir) = &self.config.checkpoint_dir else {
            return Ok(());
        };
        checkpoint::save(
            dir,
            &self.model,
            &self.optimizer,
            &self.checkpoint_config(epoch),
        )
    }

    /// Restores the checkpoint, cuts the log back to the checkpoint's epoch and reopens it;
    /// returns that epoch and the bytes cut.
    fn resume(&mut self, header: &HeaderLine) -> Result<(u32, u64), TrainError> {
        let dir = self
            .config
            .checkpoint_dir
            .clone()
            .expect("validate() requires a checkpoint directory with --resume");
        if !dir.join(checkpoint::CONFIG_FILE).exists() {
            return Err(TrainError::Resume {
                reason: format!(
                    "there is no checkpoint in {} ({} not found); run without --resume to \
                     start a new run",
                    dir.display(),
                    checkpoint::CONFIG_FILE
                ),
            });
        }

        let saved = checkpoint::read_config(&dir)?;
        check_resumable(&saved, &self.checkpoint_config(0), &dir)?;
        let (tensors, epoch) = checkpoint::read_tensors(&dir, &saved, &self.device)?;
        if epoch > self.hyper().epochs {
            return Err(TrainError::Resume {
                reason: format!(
                    "the checkpoint in {} is at epoch {epoch}, past --epochs {}; pass \
                     --epochs {epoch} or more",
                    dir.display(),
                    self.hyper().epochs
                ),
            });
        }
        self.model.load_parameters(&tensors)?;
        self.optimizer.load_state(&tensors)?;

        let Some(path) = self.config.log.clone() else {
            return Ok((epoch, 0));
        };
        let found = check_log_header(&path, header)?;
        let truncated = log::truncate_to_epoch(&path, epoch)?;
        if found != *header {
            log::replace_header(&path, header)?;
        }
        self.log = Some(LogWriter::append(&path)?);
        Ok((epoch, truncated))
    }
}

#[derive(Default)]
struct EpochTotals {
    batches: usize,
    loss: f64,
    correct: usize,
    logged: usize,
    log_time: Duration,
}

/// Counts rows of `probs` `(batch, classes)` whose largest entry is at the label.
fn count_correct(probs: &[f32], labels: &[u8], classes: usize) -> usize {
    probs
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(row, label)| argmax(row) == usize::from(**label))
        .count()
}

fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, value) in values.iter().enumerate() {
        if *value > values[best] {
            best = i;
        }
    }
    best
}

/// Checks that a checkpoint was written by a run with the same settings, apart from the
/// epoch count.
fn check_resumable(
    saved: &CheckpointConfig,
    requested: &CheckpointConfig,
    dir: &Path,
) -> Result<(), TrainError> {
    let mismatch = |field: &str, old: String, new: String| {
        Err(TrainError::Resume {
            reason: format!(
                "the checkpoint in {} was trained with {field} = {old}, but this run has \
                 {field} = {new}; rerun with the original options (only --epochs may change)",
                dir.display()
            ),
        })
    };
    let pairs = [
        ("loss", saved.loss.clone(), requested.loss.clone()),
        ("dataset", saved.dataset.clone(), requested.dataset.clone()),
        ("seed", saved.seed.to_string(), requested.seed.to_string()),
        (
            "classes",
            saved.classes.to_string(),
            requested.classes.to_string(),
        ),
        (
            "input shape",
            saved.input_shape.to_string(),
            requested.input_shape.to_string(),
        ),
    ];
    for (field, old, new) in pairs {
        if old != new {
            return mismatch(field, old, new);
        }
    }
    if let (Some(old), Some(new)) = (saved.threads, requested.threads)
        && old != new
    {
        return Err(TrainError::Resume {
            reason: format!(
                "the checkpoint in {} was trained with {old} threads, but this run has {new}; \
                 the batch split depends on the count, so set RAYON_NUM_THREADS={old} to resume \
                 it exactly",
                dir.display()
            ),
        });
    }
    if let (Some(old), Some(new)) = (&saved.log, &requested.log)
        && !same_log(old.as_deref(), new.as_deref())
    {
        let describe = |log: Option<&Path>| match log {
            Some(path) => path.display().to_string(),
            None => "none".to_string(),
        };
        return mismatch("--log", describe(old.as_deref()), describe(new.as_deref()));
    }
    let old = serde_json::to_value(&saved.hyperparameters).expect("serializes");
    let new = serde_json::to_value(&requested.hyperparameters).expect("serializes");
    for (key, old_value) in old.as_object().expect("a struct serializes to an object") {
        let new_value = &new[key.as_str()];
        if key != "epochs" && old_value != new_value {
            return mismatch(key, old_value.to_string(), new_value.to_string());
        }
    }
    Ok(())
}

/// Returns the training thread count: `RAYON_NUM_THREADS` when it is set to a positive
/// integer, otherwise one thread per core. 0 and an empty value also mean one per core, as in
/// rayon. Any other value is rejected rather than ignored, because the count changes the
/// results.
fn training_threads() -> Result<usize, TrainError> {
    let per_core = std::thread::available_parallelism().map_or(1, |n| n.get());
    match std::env::var("RAYON_NUM_THREADS") {
        Err(std::env::VarError::NotPresent) => Ok(per_core),
        Err(std::env::VarError::NotUnicode(value)) => Err(TrainError::InvalidThreads {
            value: value.to_string_lossy().into_owned(),
        }),
        Ok(value) if value.trim().is_empty() => Ok(per_core),
        Ok(value) => match value.trim().parse::<usize>() {
            Ok(0) => Ok(per_core),
            Ok(count) => Ok(count),
            Err(_) => Err(TrainError::InvalidThreads { value }),
        },
    }
}

/// Returns whether two `--log` values name the same file: equal as given, or the same file
/// after resolving links and relative paths, so that a resume from another directory works.
fn same_log(old: Option<&Path>, new: Option<&Path>) -> bool {
    match (old, new) {
        (None, None) => true,
        (Some(old), Some(new)) => {
            old == new
                || matches!(
                    (old.canonicalize(), new.canonicalize()),
                    (Ok(old), Ok(new)) if old == new
                )
        }
        _ => false,
    }
}

/// Checks that the log to extend was written by a run with the same loss, model and seed;
/// returns its header.
fn check_log_header(path: &Path, expected: &HeaderLine) -> Result<HeaderLine, TrainError> {
    let found_line = log::read_header(path)?;
    let found = &found_line.header;
    let expected = &expected.header;
    let same = found.loss == expected.loss
        && found.model == expected.model
        && found.seed == expected.seed
        && found.classes == expected.classes;
    if same {
        return Ok(found_line);
    }
    Err(TrainError::Log {
        path: path.to_path_buf(),
        reason: format!(
            "its header is for loss {}, model {}, seed {}, but this run has loss {}, model {}, \
             seed {}; pass the log of the run being resumed",
            found.loss, found.model, found.seed, expected.loss, expected.model, expected.seed
        ),
    })
}
