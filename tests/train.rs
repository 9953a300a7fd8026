//! Training: one step against the decomposed rule of Eq. 3, reproducibility, resume,
//! checkpoints, logs, the optimizer and the command line.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use lossdyn::data::{self, Dataset, DatasetKind, LoadedData, ValidationSize};
use lossdyn::loss::{Loss, parse_loss};
use lossdyn::runlog::{HeaderLine, SampleRecord, SummaryLine};
use lossdyn::train::{
    self, Mode, Model, ModelKind, NoObserver, Sgd, SgdParams, Stream, TrainConfig, checkpoint,
    stream_rng,
};
use proptest::prelude::*;
use rand::RngExt;

/// Returns the first `train` training and `test` test samples of the bundled subset.
fn small_data(train: usize, test: usize) -> LoadedData {
    let full = data::load(DatasetKind::FashionMnistSubset, None).unwrap();
    let take = |set: &Dataset, count: usize| Dataset {
        images: set.images[..count * set.shape.len()].to_vec(),
        labels: set.labels[..count].to_vec(),
        shape: set.shape,
    };
    LoadedData {
        train: take(&full.train, train),
        test: take(&full.test, test),
        ..full
    }
}

fn images_f64(dataset: &Dataset, indices: &[usize]) -> Tensor {
    let shape = dataset.shape;
    let dims = (indices.len(), shape.channels, shape.height, shape.width);
    Tensor::from_vec(dataset.gather_pixels(indices), dims, &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
}

fn parameter_values(model: &Model) -> Vec<Vec<f64>> {
    model
        .parameters()
        .iter()
        .map(|(_, var)| {
            let values = var.as_tensor().to_dtype(DType::F64).unwrap();
            values.flatten_all().unwrap().to_vec1().unwrap()
        })
        .collect()
}

/// Returns the update of Eq. 3 averaged over the batch,
/// `eta (1/B) sum_b (1/n) sum_k gamma_k(h_bk, y_bk) D h_bk`, per parameter.
///
/// `gamma_k` comes from the analysis core (`Loss::gamma`) and `dh_k/dz_m = h_k (delta_km -
/// h_m)` is the softmax Jacobian, so `D h_bk = sum_m h_bk (delta_km - h_bm) D z_bm`. The
/// model Jacobian `D z_bm` enters through one backward pass of the linear functional
/// `sum_bm c_bm z_bm`, whose coefficients `c_bm` are computed here in f64.
fn decomposed_update(
    model: &Model,
    loss: &Loss,
    images: &Tensor,
    targets: &[Vec<f64>],
    learning_rate: f64,
) -> Vec<Vec<f64>> {
    let logits = model.forward(images, Mode::Eval).unwrap();
    let z: Vec<Vec<f64>> = logits.to_vec2().unwrap();
    let (batch, n) = (z.len(), z[0].len());
    let mut coefficients = vec![0.0; batch * n];
    for (b, logits_b) in z.iter().enumerate() {
        let h = lossdyn::learning_rule::softmax(logits_b);
        let gamma: Vec<f64> = (0..n).map(|k| loss.gamma(h[k], targets[b][k])).collect();
        for m in 0..n {
            let coupling: f64 = (0..n)
                .map(|k| gamma[k] * h[k] * (f64::from(u8::from(k == m)) - h[m]))
                .sum();
            coefficients[b * n + m] = coupling / (batch * n) as f64;
        }
    }
    let weights = Tensor::from_vec(coefficients, (batch, n), &Device::Cpu).unwrap();
    let functional = (logits * weights).unwrap().sum_all().unwrap();
    let gradients = functional.backward().unwrap();
    model
        .parameters()
        .iter()
        .map(|(_, var)| {
            let gradient = gradients.get(var.as_tensor()).unwrap();
            let values: Vec<f64> = gradient.flatten_all().unwrap().to_vec1().unwrap();
            values.iter().map(|g| learning_rate * g).collect()
        })
        .collect()
}

fn random_taylorglo(seed: u64) -> String {
    let mut rng = stream_rng(seed, Stream::Init, 99);
    let lambda: Vec<String> = (0..8)
        .map(|_| format!("{:.6}", rng.random_range(-2.0..2.0)))
        .collect();
    format!("taylorglo:{}", lambda.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// One plain SGD step of the training code moves every parameter of the MLP and the
    /// small CNN by the decomposed rule, in f64, for every loss and with or without label
    /// smoothing. Tolerance: 1e-9 of the largest update entry of that parameter tensor.
    /// The step runs in a pool of 1 to 3 threads, so the batch of 4 is split into one, two
    /// or three parts (the third one empty).
    #[test]
    fn training_step_is_decomposed_rule(
        loss_choice in 0usize..5,
        kind in prop_oneof![Just(ModelKind::Mlp), Just(ModelKind::Cnn)],
        smoothing in prop_oneof![Just(0.0), Just(0.1)],
        threads in 1usize..4,
        seed in any::<u64>(),
    ) {
        let spec = match loss_choice {
            0 => "ce".to_string(),
            1 => "mse".to_string(),
            2 => "baikal".to_string(),
            3 => random_taylorglo(seed),
            _ => "taylorglo-cifar10".to_string(),
        };
        let loss = parse_loss(&spec).unwrap();
        let data = small_data(8, 1);
        let model = Model::new(
            kind, data.train.shape, 10, DType::F64, &Device::Cpu,
            &mut stream_rng(seed, Stream::Init, 0),
        ).unwrap();
        let indices = [0, 3, 5, 6];
        let images = images_f64(&data.train, &indices);
        let labels = data.train.gather_labels(&indices);
        let targets = train::targets(&labels, 10, smoothing, DType::F64, &Device::Cpu).unwrap();
        let target_rows: Vec<Vec<f64>> = targets.to_vec2().unwrap();
        let learning_rate = 0.5;
        let expected = decomposed_update(&model, &loss, &images, &target_rows, learning_rate);
        let params = SgdParams { learning_rate, momentum: 0.0, nesterov: false, weight_decay: 0.0 };
        let mut optimizer = Sgd::new(model.parameters(), params).unwrap();
        let before = parameter_values(&model);
        let logits = model.forward(&images, Mode::Eval).unwrap();
        let expected_probs: Vec<Vec<f64>> =
            candle_nn::ops::softmax(&logits, 1).unwrap().to_vec2().unwrap();
        let mut rng = stream_rng(seed, Stream::Dropout, 1);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let step = pool.install(|| {
            train::training_step(&model, &mut optimizer, &loss, &images, &targets, Mode::Train(&mut rng))
        }).unwrap();
        // The softmax outputs come back in batch order, whatever the split.
        let probs: Vec<Vec<f64>> = step.probs.to_vec2().unwrap();
        for (row, (actual, expected)) in probs.iter().zip(&expected_probs).enumerate() {
            for (a, e) in actual.iter().zip(expected) {
                prop_assert!((a - e).abs() <= 1e-12, "probs row {row}: {a} vs {e}");
            }
        }
        prop_assert_eq!(probs.len(), 4);
        let after = parameter_values(&model);
        for (p, (name, _)) in model.parameters().iter().enumerate() {
            let scale = expected[p].iter().fold(1e-300f64, |m, u| m.max(u.abs()));
            for (i, update) in expected[p].iter().enumerate() {
                let actual = after[p][i] - before[p][i];
                prop_assert!(
                    (actual - update).abs() <= 1e-9 * scale,
                    "{spec} {kind}: {name}[{i}] moved {actual}, rule gives {update} (scale {scale})"
                );
            }
        }
    }
}

/// Applies PyTorch's SGD update to plain numbers: `d = g + wd theta`, `v = mu v + d`,
/// step `d + mu v` (Nesterov) or `v`.
fn reference_sgd(theta: &mut [f64], velocity: &mut [f64], gradient: &[f64], p: SgdParams) {
    for i in 0..theta.len() {
        let d = gradient[i] + p.weight_decay * theta[i];
        velocity[i] = p.momentum * velocity[i] + d;
        let step = if p.nesterov {
            d + p.momentum * velocity[i]
        } else {
            velocity[i]
        };
        theta[i] -= p.learning_rate * step;
    }
}

#[test]
fn sgd_matches_reference_update() {
    let settings = [(0.0, false), (0.9, false), (0.9, true)];
    for ((momentum, nesterov), weight_decay) in
        settings.into_iter().flat_map(|s| [(s, 0.0), (s, 0.01)])
    {
        for dtype in [DType::F64, DType::F32] {
            let params = SgdParams {
                learning_rate: 0.1,
                momentum,
                nesterov,
                weight_decay,
            };
            let case = format!("{params:?} {dtype:?}");
            // Rounding to f32 at every step bounds the agreement there.
            let tolerance = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
            let initial = vec![0.5, -1.0, 2.0];
            let start = Tensor::new(initial.as_slice(), &Device::Cpu).unwrap();
            let var = candle_core::Var::from_tensor(&start.to_dtype(dtype).unwrap()).unwrap();
            let mut optimizer = Sgd::new(&[("w".to_string(), var.clone())], params).unwrap();
            let mut theta = initial;
            let mut velocity = vec![0.0; 3];
            for _ in 0..4 {
                // L = sum(w^3) / 3, so the gradient is w^2, evaluated at the current weights.
                let value = (var.as_tensor().powf(3.0).unwrap().sum_all().unwrap() / 3.0).unwrap();
                optimizer.step(&value.backward().unwrap()).unwrap();
                let gradient: Vec<f64> = theta.iter().map(|t| t * t).collect();
                reference_sgd(&mut theta, &mut velocity, &gradient, params);
                let actual: Vec<f64> = var
                    .as_tensor()
                    .to_dtype(DType::F64)
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                for (a, e) in actual.iter().zip(&theta) {
                    assert!((a - e).abs() <= tolerance, "{case}: {a} vs {e}");
                }
            }
        }
    }
}

#[test]
fn targets_smooth_labels() {
    let targets = train::targets(&[2, 0], 4, 0.2, DType::F64, &Device::Cpu).unwrap();
    let rows: Vec<Vec<f64>> = targets.to_vec2().unwrap();
    let (on, off) = (0.85, 0.05);
    for (row, expected) in rows.iter().zip([[off, off, on, off], [on, off, off, off]]) {
        for (value, wanted) in row.iter().zip(expected) {
            assert!((value - wanted).abs() < 1e-15, "{rows:?}");
        }
    }
}

#[test]
fn parameter_counts_follow_architecture() {
    let shape = data::ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };
    let count = |kind, shape| {
        let mut rng = stream_rng(0, Stream::Init, 0);
        Model::new(kind, shape, 10, DType::F32, &Device::Cpu, &mut rng)
            .unwrap()
            .parameter_count()
    };
    assert_eq!(
        count(ModelKind::Mlp, shape),
        784 * 256 + 256 + 256 * 256 + 256 + 2570
    );
    assert_eq!(
        count(ModelKind::Cnn, shape),
        (9 * 32 + 32) + (288 * 64 + 64) + (640 + 10)
    );
    let colour = data::ImageShape {
        channels: 3,
        height: 32,
        width: 32,
    };
    let all_cnn_c = (27 * 96 + 96)
        + 2 * (864 * 96 + 96)
        + (864 * 192 + 192)
        + 3 * (1728 * 192 + 192)
        + (192 * 192 + 192)
        + (192 * 10 + 10);
    assert_eq!(count(ModelKind::AllCnnC, colour), all_cnn_c);
}

#[test]
fn all_cnn_c_forward_shapes_and_dropout() {
    for (channels, side) in [(1, 28), (3, 32), (1, 9)] {
        let shape = data::ImageShape {
            channels,
            height: side,
            width: side,
        };
        let mut rng = stream_rng(3, Stream::Init, 0);
        let model = Model::new(
            ModelKind::AllCnnC,
            shape,
            10,
            DType::F32,
            &Device::Cpu,
            &mut rng,
        )
        .unwrap();
        let images = Tensor::ones((2, channels, side, side), DType::F32, &Device::Cpu).unwrap();
        let eval = model.forward(&images, Mode::Eval).unwrap();
        assert_eq!(eval.dims(), &[2, 10], "input {shape}");
        let train_once = |seed| {
            let mut dropout = stream_rng(seed, Stream::Dropout, 1);
            let logits = model.forward(&images, Mode::Train(&mut dropout)).unwrap();
            logits.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        assert_eq!(train_once(1), train_once(1), "same dropout seed");
        assert_ne!(train_once(1), train_once(2), "different dropout seeds");
    }
}

#[test]
fn all_cnn_c_rejects_tiny_images() {
    let shape = data::ImageShape {
        channels: 1,
        height: 6,
        width: 6,
    };
    let mut rng = stream_rng(0, Stream::Init, 0);
    let error = Model::new(
        ModelKind::AllCnnC,
        shape,
        10,
        DType::F32,
        &Device::Cpu,
        &mut rng,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("does not fit images of 1x6x6"), "{error}");
    assert!(
        error.contains("activations of 192x2x2, smaller than its 3x3 kernel"),
        "{error}"
    );
}

fn config(loss: &str, kind: ModelKind, epochs: u32, dir: &Path, name: &str) -> TrainConfig {
    let mut config = TrainConfig::new(parse_loss(loss).unwrap());
    config.hyperparameters.model = kind;
    config.hyperparameters.epochs = epochs;
    config.hyperparameters.batch_size = 64;
    config.hyperparameters.validation = ValidationSize::Count(100);
    config.log = Some(dir.join(format!("{name}.jsonl")));
    config
}

/// Splits a log into its lines, with the `seconds` field of summaries set to 0 (wall time
/// is the only field that may differ between identical runs).
fn comparable_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|line| match serde_json::from_str::<SummaryLine>(line) {
            Ok(mut summary) if line.starts_with("{\"summary\"") => {
                summary.summary.seconds = 0.0;
                serde_json::to_string(&summary).unwrap()
            }
            _ => line.to_string(),
        })
        .collect()
}

#[test]
fn same_seed_gives_identical_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(500, 50);
    for (kind, loss) in [
        (ModelKind::Mlp, "baikal"),
        (ModelKind::Cnn, "taylorglo-cifar10"),
    ] {
        let mut paths = Vec::new();
        for (run, seed) in [("a", 7), ("b", 7), ("c", 8)] {
            let mut config = config(loss, kind, 2, dir.path(), &format!("{kind}-{run}"));
            config.seed = seed;
            // Baikal's gamma grows as 1/h^2, so it needs a smaller rate than the default.
            config.hyperparameters.learning_rate = 0.1;
            train::train_on(&config, &data, &mut NoObserver).unwrap();
            paths.push(config.log.unwrap());
        }
        let (a, b, c) = (
            comparable_lines(&paths[0]),
            comparable_lines(&paths[1]),
            comparable_lines(&paths[2]),
        );
        assert_eq!(
            a.len(),
            1 + 2 * (400 + 1),
            "{kind}: header, 400 samples and a summary per epoch"
        );
        assert!(a == b, "{kind}: same seed, different logs");
        assert!(a[1..] != c[1..], "{kind}: different seeds, same records");
    }
}

#[test]
fn log_records_follow_schema() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(300, 40);
    let mut config = config("mse", ModelKind::Mlp, 2, dir.path(), "schema");
    config.hyperparameters.log_samples = Some(25);
    config.hyperparameters.label_smoothing = 0.1;
    let outcome = train::train_on(&config, &data, &mut NoObserver).unwrap();
    let text = std::fs::read_to_string(config.log.unwrap()).unwrap();
    let mut lines = text.lines();
    let header: HeaderLine = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header.header.loss, "mse");
    assert_eq!(header.header.classes, 10);
    assert_eq!(header.header.model, "mlp");
    assert_eq!(header.header.hyperparameters["logged_samples"], 25);
    assert_eq!(header.header.hyperparameters["label_smoothing"], 0.1);
    assert_eq!(header.header.dataset["train"], 200);
    let mut per_epoch = vec![Vec::new(); 3];
    let mut summaries = Vec::new();
    for line in lines {
        if line.starts_with("{\"summary\"") {
            summaries.push(serde_json::from_str::<SummaryLine>(line).unwrap().summary);
            continue;
        }
        let record: SampleRecord = serde_json::from_str(line).unwrap();
        let total: f64 = record.probs.iter().sum();
        assert_eq!(record.probs.len(), 10);
        assert!((total - 1.0).abs() < 1e-5, "probabilities sum to {total}");
        assert_eq!(
            record.label,
            u32::from(data.train.labels[record.index as usize])
        );
        per_epoch[record.epoch as usize].push(record.index);
    }
    assert_eq!(summaries, outcome.summaries);
    assert_eq!(per_epoch[1].len(), 25);
    per_epoch[1].sort_unstable();
    per_epoch[2].sort_unstable();
    assert_eq!(per_epoch[1], per_epoch[2], "the logged subset is fixed");
    per_epoch[1].dedup();
    assert_eq!(
        per_epoch[1].len(),
        25,
        "no sample is logged twice in an epoch"
    );
}

#[test]
fn resume_equals_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(400, 50);
    let setup = |name: &str, epochs| {
        let mut config = config("ce", ModelKind::Mlp, epochs, dir.path(), name);
        config.hyperparameters.nesterov = true;
        config.hyperparameters.weight_decay = 1e-3;
        config.hyperparameters.milestones = vec![2];
        config.checkpoint_dir = Some(dir.path().join(name));
        config
    };
    let whole = setup("whole", 3);
    let whole_outcome = train::train_on(&whole, &data, &mut NoObserver).unwrap();

    let first = setup("parts", 2);
    train::train_on(&first, &data, &mut NoObserver).unwrap();
    // A crash during epoch 3: some of its records and a torn line are already written.
    let log_path = first.log.clone().unwrap();
    let unfinished = "{\"epoch\":3,\"index\":0,\"label\":9,\"probs\":[0.1]}\n{\"epoch\":3,\"ind";
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .unwrap();
    std::io::Write::write_all(&mut log, unfinished.as_bytes()).unwrap();
    drop(log);
    let mut second = setup("parts", 3);
    second.resume = true;
    let mut observer = StartRecorder::default();
    let resumed = train::train_on(&second, &data, &mut observer).unwrap();
    assert_eq!(observer.start_epoch, Some(2));
    assert_eq!(observer.truncated, unfinished.len() as u64);
    assert_eq!(resumed.summaries.len(), 1);

    assert!(
        comparable_lines(&whole.log.unwrap()) == comparable_lines(&log_path),
        "resumed log differs from the uninterrupted one"
    );
    assert_eq!(
        parameter_values(&whole_outcome.model),
        parameter_values(&resumed.model)
    );
}

#[derive(Default)]
struct StartRecorder {
    start_epoch: Option<u32>,
    truncated: u64,
}

impl train::TrainObserver for StartRecorder {
    fn on_start(&mut self, info: &train::RunInfo) {
        self.start_epoch = Some(info.start_epoch);
        self.truncated = info.log_bytes_truncated;
    }
}

#[test]
fn resume_with_other_loss_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(200, 20);
    let mut first = config("ce", ModelKind::Mlp, 1, dir.path(), "run");
    first.checkpoint_dir = Some(dir.path().join("run"));
    train::train_on(&first, &data, &mut NoObserver).unwrap();
    let mut second = config("mse", ModelKind::Mlp, 2, dir.path(), "run");
    second.checkpoint_dir = first.checkpoint_dir.clone();
    second.resume = true;
    let error = train::train_on(&second, &data, &mut NoObserver)
        .unwrap_err()
        .to_string();
    assert!(error.contains("trained with loss = ce"), "{error}");
    assert!(error.contains("only --epochs may change"), "{error}");

    let mut third = config("ce", ModelKind::Mlp, 2, dir.path(), "run");
    third.checkpoint_dir = first.checkpoint_dir.clone();
    third.hyperparameters.batch_size = 32;
    third.resume = true;
    let error = train::train_on(&third, &data, &mut NoObserver)
        .unwrap_err()
        .to_string();
    assert!(error.contains("batch_size = 64"), "{error}");
}

#[test]
fn resume_with_other_log_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(200, 20);
    let mut first = config("ce", ModelKind::Mlp, 1, dir.path(), "run");
    first.checkpoint_dir = Some(dir.path().join("run"));
    train::train_on(&first, &data, &mut NoObserver).unwrap();

    let mut without_log = first.clone();
    without_log.hyperparameters.epochs = 2;
    without_log.log = None;
    without_log.resume = true;
    let error = train::train_on(&without_log, &data, &mut NoObserver)
        .unwrap_err()
        .to_string();
    assert!(error.contains("--log = none"), "{error}");
    assert!(error.contains("run.jsonl"), "{error}");

    let mut other_log = without_log.clone();
    other_log.log = Some(dir.path().join("other.jsonl"));
    let error = train::train_on(&other_log, &data, &mut NoObserver)
        .unwrap_err()
        .to_string();
    assert!(error.contains("other.jsonl"), "{error}");
    assert!(!dir.path().join("other.jsonl").exists());

    let mut same_log = without_log.clone();
    same_log.log = first.log.clone();
    let outcome = train::train_on(&same_log, &data, &mut NoObserver).unwrap();
    assert_eq!(outcome.summaries.len(), 1);
}

#[test]
fn checkpoint_dir_that_is_file_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(200, 20);
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"").unwrap();
    let mut config = config("ce", ModelKind::Mlp, 1, dir.path(), "run");
    config.checkpoint_dir = Some(file);
    let error = train::train_on(&config, &data, &mut NoObserver)
        .unwrap_err()
        .to_string();
    assert!(error.contains("--checkpoint-dir"), "{error}");
    assert!(error.contains("is not a directory"), "{error}");
}

#[cfg(unix)]
#[test]
fn checkpoint_files_get_umask_mode() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let data = small_data(200, 20);
    let mut config = config("ce", ModelKind::Mlp, 1, dir.path(), "run");
    config.checkpoint_dir = Some(dir.path().join("checkpoint"));
    train::train_on(&config, &data, &mut NoObserver).unwrap();
    // A plain File::create beside them shows the mode the umask gives.
    let reference = dir.path().join("reference");
    std::fs::File::create(&reference).unwrap();
    let expected = std::fs::metadata(&reference).unwrap().permissions().mode() & 0o777;
    for name in [checkpoint::WEIGHTS_FILE, checkpoint::CONFIG_FILE] {
        let path = dir.path().join("checkpoint").join(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, expected, "{name} has mode {mode:o}");
    }
}

#[test]
fn checkpoint_reloads_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(200, 20);
    let mut config = config("taylorglo-cifar10", ModelKind::Cnn, 1, dir.path(), "run");
    config.checkpoint_dir = Some(dir.path().join("checkpoint"));
    let outcome = train::train_on(&config, &data, &mut NoObserver).unwrap();
    let (loaded, saved) =
        checkpoint::load_model(&dir.path().join("checkpoint"), &Device::Cpu).unwrap();
    assert_eq!(saved.epoch, 1);
    assert_eq!(saved.model, ModelKind::Cnn);
    assert_eq!(saved.loss, "taylorglo-cifar10");
    assert_eq!(saved.input_shape, data.train.shape);
    assert_eq!(parameter_values(&loaded), parameter_values(&outcome.model));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("checkpoint"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with("checkpoint."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn invalid_options_name_value_and_range() {
    type Case = (fn(&mut TrainConfig), &'static str);
    let cases: [Case; 6] = [
        (
            |c| c.hyperparameters.learning_rate = 0.0,
            "invalid --learning-rate 0",
        ),
        (
            |c| c.hyperparameters.momentum = 1.0,
            "invalid --momentum 1: expected a number in [0, 1)",
        ),
        (
            |c| c.hyperparameters.label_smoothing = -0.1,
            "invalid --label-smoothing -0.1",
        ),
        (
            |c| c.hyperparameters.milestones = vec![5, 3],
            "strictly increasing",
        ),
        (|c| c.hyperparameters.epochs = 0, "invalid --epochs 0"),
        (|c| c.resume = true, "--checkpoint-dir DIR"),
    ];
    for (change, expected) in cases {
        let mut config = TrainConfig::new(Loss::CrossEntropy);
        change(&mut config);
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn log_samples_beyond_training_set_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_data(150, 10);
    let mut config = config("ce", ModelKind::Mlp, 1, dir.path(), "run");
    config.hyperparameters.log_samples = Some(51);
    let error = train::train_on(&config, &data, &mut NoObserver)
        .unwrap_err()
        .to_string();
    assert!(error.contains("invalid --log-samples 51"), "{error}");
    assert!(error.contains("at most the 50 training samples"), "{error}");
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_without_feature_rejected() {
    let device: train::DeviceSpec = "cuda:1".parse().unwrap();
    let error = device.open().unwrap_err().to_string();
    assert!(error.contains("device cuda:1 is not available"), "{error}");
    assert!(error.contains("--features cuda"), "{error}");
    let error = "gpu".parse::<train::DeviceSpec>().unwrap_err().to_string();
    assert!(error.contains("invalid --device gpu"), "{error}");
}

fn analyze(arguments: &[&str], dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_analyze"))
        .args(arguments)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Runs `analyze` in `dir` with `RAYON_NUM_THREADS` set to `threads`.
fn analyze_with_threads(arguments: &[&str], dir: &Path, threads: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_analyze"))
        .args(arguments)
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap()
}

#[test]
fn cli_records_and_checks_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let run = |epochs: &str, threads: &str, resume: bool| {
        let mut arguments = vec![
            "train",
            "--epochs",
            epochs,
            "--train-limit",
            "200",
            "--log",
            "run.jsonl",
            "--checkpoint-dir",
            "ckpt",
        ];
        if resume {
            arguments.push("--resume");
        }
        analyze_with_threads(&arguments, dir.path(), threads)
    };
    let first = run("1", "2", false);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let header = lossdyn::train::log::read_header(&dir.path().join("run.jsonl")).unwrap();
    assert_eq!(header.header.hyperparameters["threads"], 2);
    let saved = std::fs::read_to_string(dir.path().join("ckpt/checkpoint.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["threads"], 2);

    // Another thread count would split the batches differently, so resume rejects it.
    let other = run("2", "1", true);
    assert_eq!(other.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(
        stderr.contains("trained with 2 threads, but this run has 1"),
        "{stderr}"
    );
    assert!(stderr.contains("RAYON_NUM_THREADS=2"), "{stderr}");
    let same = run("2", "2", true);
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
}

#[test]
fn cli_rejects_invalid_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for value in ["abc", "-1", "2.5"] {
        let output = analyze_with_threads(&["train", "--epochs", "1"], dir.path(), value);
        assert_eq!(output.status.code(), Some(2), "RAYON_NUM_THREADS={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "RAYON_NUM_THREADS=\"{value}\" is not a thread count"
            )),
            "{stderr}"
        );
        assert!(stderr.contains("set it to a positive integer"), "{stderr}");
    }
}

#[test]
fn cli_trains_bundled_subset() {
    let dir = tempfile::tempdir().unwrap();
    let output = analyze(
        &[
            "train",
            "--epochs",
            "1",
            "--train-limit",
            "256",
            "--log",
            "run.jsonl",
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("mlp model: 269,322 parameters"), "{stdout}");
    assert!(
        stdout.contains("fashion-mnist-subset (bundled)"),
        "{stdout}"
    );
    assert!(stdout.contains("epoch 1/1: loss"), "{stdout}");
    let log = std::fs::read_to_string(dir.path().join("run.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1 + 256 + 1);
}

#[test]
fn cli_json_reports_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let output = analyze(
        &[
            "train",
            "--epochs",
            "2",
            "--train-limit",
            "128",
            "--model",
            "cnn",
            "--json",
        ],
        dir.path(),
    );
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["start", "epoch", "epoch", "done"]);
    assert_eq!(events[0]["parameter_count"], 19_466);
    assert_eq!(events[2]["summary"]["epoch"], 2);
    assert!(events[1]["train_seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn cli_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (vec!["train", "--device", "cuda"], "--features cuda"),
        (
            vec!["train", "--learning-rate=-1"],
            "invalid --learning-rate -1",
        ),
        (
            vec!["train", "--validation", "2.5"],
            "invalid validation size 2.5",
        ),
        (vec!["train", "--loss", "nope"], "nope"),
        (
            vec!["train", "--dataset", "mnist", "--data", "missing-dir"],
            "train-images-idx3-ubyte not found in missing-dir",
        ),
        (
            vec!["train", "--dataset", "cifar10"],
            "no data directory given for cifar10: pass --data DIR",
        ),
        (
            vec!["train", "--resume", "--checkpoint-dir", "nowhere"],
            "there is no checkpoint in nowhere",
        ),
    ];
    for (arguments, expected) in cases {
        if cfg!(feature = "cuda") && expected.contains("cuda") {
            continue;
        }
        let output = analyze(&arguments, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(stderr.contains(expected), "{arguments:?}: {stderr}");
    }
}

#[test]
fn missing_cifar10_names_layouts_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let error = data::cifar::load(dir.path()).unwrap_err().to_string();
    assert!(error.contains("tried data_batch_1.bin and"), "{error}");
    assert!(
        error.contains("cifar-10-batches-bin/data_batch_1.bin"),
        "{error}"
    );
    assert!(error.contains("pass --data"), "{error}");
}

/// Runs `analyze ARGS` in `dir` under a file size limit of `blocks` 512-byte blocks
/// (`ulimit -f`), with SIGXFSZ ignored so that a write past it fails with EFBIG. ARGS may
/// redirect standard output to a file.
#[cfg(unix)]
fn analyze_with_file_limit(dir: &Path, blocks: u32, args: &str) -> std::process::Output {
    let binary = env!("CARGO_BIN_EXE_analyze");
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {blocks}; exec '{binary}' {args}"
        ))
        .current_dir(dir)
        .output()
        .expect("sh runs")
}

#[cfg(unix)]
#[test]
fn failed_log_and_checkpoint_writes_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("--log run.jsonl", "failed to write run.jsonl"),
        (
            "--checkpoint-dir checkpoint",
            "failed to write checkpoint/checkpoint.safetensors",
        ),
    ];
    for (option, expected) in cases {
        let output = analyze_with_file_limit(
            dir.path(),
            16,
            &format!("train --epochs 1 --train-limit 300 {option}"),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option}: {stderr}");
        assert!(stderr.contains(expected), "{option}: {stderr}");
        assert!(!stderr.contains(".output-"), "{option}: {stderr}");
    }
}

#[cfg(unix)]
#[test]
fn failed_stdout_write_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = analyze_with_file_limit(
        dir.path(),
        0,
        "train --epochs 1 --train-limit 300 > out.txt",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("failed to write to standard output"),
        "{stderr}"
    );
}
