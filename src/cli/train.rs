//! `analyze train`: train a network with any loss and log every sample's softmax output.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::data::{DEBIAN_FASHION_MNIST_DIR, DatasetKind, ValidationSize};
use crate::loss::parse_loss;
use crate::train::{
    BatchProgress, DEFAULT_LEARNING_RATE, DeviceSpec, EpochReport, Hyperparameters, ModelKind,
    Precision, RunInfo, TrainConfig, TrainObserver,
};

/// Train a network on real data with any loss applied to its softmax output, and log the
/// softmax output of every training sample in every epoch.
///
/// The default run trains the MLP for 10 epochs on the Fashion-MNIST subset embedded in the
/// binary, so it needs no files. The full Fashion-MNIST comes from the Debian package
/// `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`), which installs it in
/// /usr/share/datasets/fashion-mnist. Losses average over the classes (cross-entropy is the
/// usual one divided by n), so learning rates are n times the usual ones.
///
/// Prints the parameter count, then one line per epoch (a progress bar on a terminal). The
/// same seed and thread count (RAYON_NUM_THREADS, default one per core) give an identical run
/// on the CPU.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Loss spec: ce, mse, baikal, taylorglo:L0,...,L7, coeffs:C1,CH,CHH,CHY,CY,CYY or
    /// taylorglo-cifar10.
    #[arg(long, value_name = "SPEC", default_value = "ce")]
    loss: String,

    /// Dataset. fashion-mnist-subset (6,000 training and 1,000 test images) is embedded;
    /// fashion-mnist and mnist read IDX files (gzipped or not) from --data; cifar10 reads the
    /// binary batches data_batch_1.bin .. data_batch_5.bin and test_batch.bin from --data.
    #[arg(long, value_enum, default_value = "fashion-mnist-subset")]
    dataset: DatasetKind,

    /// Data directory. Default for fashion-mnist: /usr/share/datasets/fashion-mnist (Debian
    /// package dataset-fashion-mnist); required for mnist and cifar10.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,

    /// Network: mlp (784-256-256-10), cnn (two stride-2 3x3 convolutions with 32 and 64
    /// channels, 1x1 class convolution, global average pooling) or allcnn-c.
    #[arg(long, value_enum, default_value = "mlp")]
    model: ModelKind,

    /// Number of epochs (passes over the training split). With --resume, the last epoch to
    /// reach.
    #[arg(long, default_value_t = 10, value_name = "N")]
    epochs: u32,

    /// Samples per optimizer step.
    #[arg(long, default_value_t = 128, value_name = "N")]
    batch_size: usize,

    /// Learning rate before any milestone. The default suits losses averaged over classes.
    #[arg(long, default_value_t = DEFAULT_LEARNING_RATE, value_name = "RATE")]
    learning_rate: f64,

    /// SGD momentum in [0, 1); 0 gives plain SGD.
    #[arg(long, default_value_t = 0.9, value_name = "MU")]
    momentum: f64,

    /// Use Nesterov momentum (needs --momentum > 0).
    #[arg(long)]
    nesterov: bool,

    /// L2 weight decay added to the gradient (lambda * theta), per step.
    #[arg(long, default_value_t = 0.0, value_name = "LAMBDA")]
    weight_decay: f64,

    /// Epochs after which the learning rate is multiplied by --lr-factor, comma-separated
    /// and increasing, such as 30,60 (epoch 31 uses the first reduced rate).
    #[arg(long, value_delimiter = ',', value_name = "EPOCHS")]
    milestones: Vec<u32>,

    /// Factor applied to the learning rate at each milestone.
    #[arg(long, default_value_t = 0.1, value_name = "FACTOR")]
    lr_factor: f64,

    /// Label smoothing alpha in [0, 1): targets 1 - alpha + alpha/n, others alpha/n.
    #[arg(long, default_value_t = 0.0, value_name = "ALPHA")]
    label_smoothing: f64,

    /// Seed of initialisation, shuffling, dropout and the logged subset.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Validation split held out of the training set: a number of samples (5000) or a
    /// fraction in [0, 1) (0.1); 0 disables it.
    #[arg(long, default_value = "0.1", value_name = "N|FRACTION", value_parser = parse_validation)]
    validation: ValidationSize,

    /// Seed of the validation split; the default keeps the split fixed across --seed values.
    #[arg(long, default_value_t = 0)]
    validation_seed: u64,

    /// Train on only the first N samples of the training split (for quick runs).
    #[arg(long, value_name = "N")]
    train_limit: Option<usize>,

    /// JSON-lines log: a header line, one record per logged sample per epoch, one summary
    /// per epoch. Flushed after every epoch.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,

    /// Log only K training samples, chosen at random with --seed (default: all).
    #[arg(long, value_name = "K")]
    log_samples: Option<usize>,

    /// Directory for the checkpoint (checkpoint.safetensors and checkpoint.json), replaced
    /// after every epoch.
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,

    /// Continue from the checkpoint in --checkpoint-dir and append to --log, which is first
    /// cut back to the checkpoint's epoch. Give the original options, --log included; only
    /// --epochs may change (raised to train further, or lowered to stop earlier, but not
    /// below the checkpoint's epoch).
    #[arg(long)]
    resume: bool,

    /// Device: cpu, cuda or cuda:N. CUDA needs a build with `--features cuda`.
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: DeviceSpec,

    /// Floating-point precision of the network.
    #[arg(long, value_enum, default_value = "f32")]
    precision: Precision,

    /// Print JSON lines on stdout instead of text: one `start` object, one `epoch` object
    /// per epoch (summary and timings in seconds) and one `done` object.
    #[arg(long)]
    json: bool,
}

fn parse_validation(text: &str) -> Result<ValidationSize, String> {
    text.parse()
        .map_err(|error: crate::data::DataError| error.to_string())
}

fn parse_device(text: &str) -> Result<DeviceSpec, String> {
    text.parse()
        .map_err(|error: crate::train::TrainError| error.to_string())
}

impl Args {
    fn config(&self) -> anyhow::Result<TrainConfig> {
        let loss = parse_loss(&self.loss)?;
        let hyperparameters = Hyperparameters {
            model: self.model,
            epochs: self.epochs,
            batch_size: self.batch_size,
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            nesterov: self.nesterov,
            weight_decay: self.weight_decay,
            milestones: self.milestones.clone(),
            lr_factor: self.lr_factor,
            label_smoothing: self.label_smoothing,
            validation: self.validation,
            validation_seed: self.validation_seed,
            train_limit: self.train_limit,
            log_samples: self.log_samples,
            precision: self.precision,
        };
        let config = TrainConfig {
            loss,
            dataset: self.dataset,
            data_dir: self.data.clone(),
            seed: self.seed,
            hyperparameters,
            log: self.log.clone(),
            checkpoint_dir: self.checkpoint_dir.clone(),
            resume: self.resume,
            device: self.device,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Runs `analyze train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    let mut observer = CliObserver::new(args.json);
    let outcome = crate::train::train(&config, &mut observer).with_context(|| {
        match (config.dataset, &config.data_dir) {
            (DatasetKind::FashionMnist, None) => {
                format!("training on fashion-mnist from {DEBIAN_FASHION_MNIST_DIR} failed")
            }
            _ => format!("training on {} failed", config.dataset.name()),
        }
    })?;
    observer.finish();
    if let Some(error) = observer.write_error.take() {
        return Err(anyhow::Error::new(error).context("failed to write to standard output"));
    }
    let mut out = std::io::stdout().lock();
    let last = outcome.summaries.last();
    if args.json {
        let done = json!({
            "event": "done",
            "epochs_trained": outcome.summaries.len(),
            "final": last,
            "log": config.log,
            "checkpoint_dir": config.checkpoint_dir,
        });
        writeln!(out, "{done}")?;
    } else if let Some(summary) = last {
        writeln!(
            out,
            "final test accuracy {:.4} after epoch {}",
            summary.test_accuracy, summary.epoch
        )?;
    } else {
        writeln!(
            out,
            "nothing to train: the checkpoint already reached --epochs"
        )?;
    }
    // Flushing here makes a failed write to standard output an error, not a silent loss.
    out.flush().context("failed to write to standard output")?;
    Ok(())
}

/// Turns training reports into a progress bar on a terminal and lines or JSON on stdout.
struct CliObserver {
    json: bool,
    bar: Option<ProgressBar>,
    epochs: u32,
    /// The first failed write to standard output, reported once training ends.
    write_error: Option<std::io::Error>,
}

impl CliObserver {
    fn new(json: bool) -> CliObserver {
        CliObserver {
            json,
            bar: None,
            epochs: 0,
            write_error: None,
        }
    }

    /// Prints a line above the progress bar, or on standard output, where `println!` would
    /// panic on a failed write.
    fn print(&mut self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let mut out = std::io::stdout().lock();
                let written = writeln!(out, "{line}").and_then(|()| out.flush());
                if let Err(error) = written
                    && self.write_error.is_none()
                {
                    self.write_error = Some(error);
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl TrainObserver for CliObserver {
    fn on_start(&mut self, info: &RunInfo) {
        self.epochs = info.epochs;
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(info.batches_per_epoch as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:40}] {pos}/{len} batches, {per_sec}, loss {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            self.bar = Some(bar);
        }
        if self.json {
            let mut event = serde_json::to_value(info).expect("run info serializes");
            event["event"] = json!("start");
            self.print(&event.to_string());
            return;
        }
        let mut line = format!(
            "{} model: {} parameters; {} ({}): {} training, {} validation, {} test samples",
            info.model,
            grouped(info.parameter_count),
            info.dataset,
            info.source,
            grouped(info.train_samples),
            grouped(info.validation_samples),
            grouped(info.test_samples),
        );
        if info.logged_samples > 0 {
            line += &format!("; logging {} samples", grouped(info.logged_samples));
        }
        if info.start_epoch > 0 {
            line += &format!(
                "; resuming after epoch {} (cut {} bytes from the log)",
                info.start_epoch, info.log_bytes_truncated
            );
        }
        self.print(&line);
    }

    fn on_batch(&mut self, progress: &BatchProgress) {
        if let Some(bar) = &self.bar {
            if progress.batch == 1 {
                bar.reset();
                bar.set_prefix(format!("epoch {}/{}", progress.epoch, self.epochs));
            }
            bar.set_position(progress.batch as u64);
            bar.set_message(format!("{:.5}", progress.loss));
        }
    }

    fn on_epoch(&mut self, report: &EpochReport) {
        if self.json {
            let mut event = serde_json::to_value(report).expect("report serializes");
            event["event"] = json!("epoch");
            self.print(&event.to_string());
            return;
        }
        let s = &report.summary;
        let validation = s
            .validation_accuracy
            .map_or("-".to_string(), |a| format!("{a:.4}"));
        self.print(&format!(
            "epoch {}/{}: loss {:.5}, train {:.4}, validation {validation}, test {:.4}, \
             lr {}, {:.1} s",
            s.epoch,
            self.epochs,
            s.train_loss,
            s.train_accuracy,
            s.test_accuracy,
            s.learning_rate,
            s.seconds
        ));
    }
}

/// Formats a count with thousands separators: 269322 as `269,322`.
fn grouped(value: usize) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
