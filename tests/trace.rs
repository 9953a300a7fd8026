//! `lossdyn::trace` on small logs written to a temporary directory: valid runs, every kind of
//! bad input, determinism across thread counts, and the parser and sketch against references.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use approx::assert_relative_eq;
use lossdyn::attraction::two_level_probs;
use lossdyn::loss::{Loss, parse_loss};
use lossdyn::runlog::SampleRecord;
use lossdyn::trace::parse::{RawSample, parse_sample};
use lossdyn::trace::sketch::QuantileSketch;
use lossdyn::trace::{
    AttractionForm, GammaEvaluator, RELATIVE_ACCURACY, RunTrace, TraceError, TraceOptions,
    record_attraction, trace_file,
};
use proptest::prelude::*;
use tempfile::TempDir;

fn header(loss: &str, classes: usize) -> String {
    format!(
        r#"{{"header":{{"schema":1,"tool":"test","loss":"{loss}","classes":{classes},"dataset":"synthetic","model":"none","seed":0,"hyperparameters":{{}}}}}}"#
    )
}

fn record(epoch: u32, index: u64, label: u32, probs: &[f64]) -> String {
    serde_json::to_string(&SampleRecord {
        epoch,
        index,
        label,
        probs: probs.to_vec(),
    })
    .unwrap()
}

fn summary(epoch: u32, train_accuracy: f64) -> String {
    format!(
        r#"{{"summary":{{"epoch":{epoch},"train_loss":0.5,"train_accuracy":{train_accuracy},"validation_accuracy":null,"test_accuracy":0.7,"learning_rate":0.01,"seconds":1.0}}}}"#
    )
}

fn write_log(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Builds a valid 3-class log: `epochs` epochs of `per_epoch` records whose target
/// probability grows with the epoch, each epoch followed by a summary line.
fn valid_log(loss: &str, epochs: u32, per_epoch: u64) -> String {
    let mut text = header(loss, 3) + "\n";
    for epoch in 1..=epochs {
        for index in 0..per_epoch {
            let label = (index % 3) as u32;
            let epsilon = 0.9 / (1.0 + epoch as f64 + (index % 7) as f64);
            let probs = two_level_probs(epsilon, 3, label as usize);
            writeln!(text, "{}", record(epoch, index, label, &probs)).unwrap();
        }
        writeln!(text, "{}", summary(epoch, 0.5 + 0.1 * epoch as f64)).unwrap();
    }
    text
}

fn trace(path: &Path) -> Result<RunTrace, TraceError> {
    trace_file(path, &TraceOptions::default(), &mut |_| {})
}

fn trace_error(dir: &TempDir, text: &str) -> String {
    let path = write_log(dir, "bad.jsonl", text);
    trace(&path).unwrap_err().to_string()
}

// Valid input.

#[test]
fn valid_log_counts_every_record() {
    let dir = TempDir::new().unwrap();
    let path = write_log(&dir, "run.jsonl", &valid_log("ce", 3, 40));
    let run = trace(&path).unwrap();
    assert_eq!(run.records, 120);
    assert_eq!(run.lines, 1 + 3 * 41);
    assert_eq!(run.epochs.len(), 3);
    assert_eq!(run.summaries.len(), 3);
    assert_eq!(run.loss, "ce");
    for stats in &run.epochs {
        assert_eq!(stats.records, 40);
    }
    assert_eq!(run.skipped, 0);
    assert!(run.truncated.is_none());
}

#[test]
fn cross_entropy_attracts_every_sample() {
    let dir = TempDir::new().unwrap();
    let path = write_log(&dir, "run.jsonl", &valid_log("ce", 2, 50));
    let run = trace(&path).unwrap();
    for stats in &run.epochs {
        for form in AttractionForm::ALL {
            assert_eq!(stats.form(form).attracted, 1.0, "{form:?}");
            assert_eq!(stats.form(form).repelled, 0.0, "{form:?}");
        }
    }
}

#[test]
fn statistics_match_direct_computation() {
    let dir = TempDir::new().unwrap();
    let text = valid_log("taylorglo-cifar10", 1, 200);
    let path = write_log(&dir, "run.jsonl", &text);
    let run = trace(&path).unwrap();
    let evaluator = GammaEvaluator::new(Loss::taylorglo_cifar10());
    let mut exact = Vec::new();
    let mut epsilon_sum = 0.0;
    for line in text.lines().filter(|line| line.starts_with(r#"{"epoch""#)) {
        let sample: SampleRecord = serde_json::from_str(line).unwrap();
        let values = record_attraction(
            &evaluator,
            &sample.probs,
            sample.label as usize,
            &mut Vec::new(),
        );
        exact.push(values.exact);
        epsilon_sum += values.epsilon;
    }

    exact.sort_by(f64::total_cmp);
    let stats = &run.epochs[0];
    let repelled = exact.iter().filter(|&&v| v < 0.0).count() as f64 / exact.len() as f64;
    assert_eq!(stats.form(AttractionForm::Exact).repelled, repelled);
    assert_relative_eq!(
        stats.mean_epsilon,
        epsilon_sum / 200.0,
        max_relative = 1e-12
    );
    // Nearest rank of p = 0.5 among 200 values is the 100th.
    let median = stats.form(AttractionForm::Exact).p50.unwrap();
    assert_relative_eq!(
        median,
        exact[99],
        max_relative = RELATIVE_ACCURACY * (1.0 + 1e-9)
    );
}

#[test]
fn sample_is_bounded_and_reproducible() {
    let dir = TempDir::new().unwrap();
    let path = write_log(&dir, "run.jsonl", &valid_log("baikal", 2, 300));
    let options = TraceOptions {
        sample_size: 25,
        seed: 7,
        ..TraceOptions::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| trace_file(&path, &options, &mut |_| {}).unwrap())
    };
    let one = run(1);
    let four = run(4);

    for epoch in [1, 2] {
        let count = one
            .samples
            .iter()
            .filter(|point| point.epoch == epoch)
            .count();
        assert_eq!(count, 25, "epoch {epoch}");
    }
    assert_eq!(one.samples, four.samples);
    assert_eq!(one.epochs, four.epochs);
    let other_seed = trace_file(
        &path,
        &TraceOptions {
            seed: 8,
            ..options.clone()
        },
        &mut |_| {},
    )
    .unwrap();
    assert_ne!(one.samples, other_seed.samples);
}

#[test]
fn sample_ignores_summary_line_lengths() {
    // Two runs that differ only in the digits of their epochs' wall time, as identical
    // training runs do, must sample the same records.
    let dir = TempDir::new().unwrap();
    let text = valid_log("ce", 3, 40);
    let longer = text.replace("\"seconds\":1.0", "\"seconds\":1.234567891");
    assert_ne!(text.len(), longer.len());
    let options = TraceOptions {
        sample_size: 5,
        ..TraceOptions::default()
    };
    let sampled = |name: &str, text: &str| {
        let path = write_log(&dir, name, text);
        let run = trace_file(&path, &options, &mut |_| {}).unwrap();
        run.samples
            .iter()
            .map(|point| (point.epoch, point.index))
            .collect::<Vec<_>>()
    };
    let short = sampled("short.jsonl", &text);
    assert_eq!(short.len(), 15);
    assert_eq!(short, sampled("long.jsonl", &longer));
}

#[test]
fn sample_lines_point_at_records() {
    let dir = TempDir::new().unwrap();
    let text = valid_log("ce", 2, 30);
    let path = write_log(&dir, "run.jsonl", &text);
    let run = trace_file(
        &path,
        &TraceOptions {
            sample_size: 5,
            ..TraceOptions::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for point in &run.samples {
        let sample: SampleRecord = serde_json::from_str(lines[point.line as usize - 1]).unwrap();
        assert_eq!(sample.index, point.index);
        assert_eq!(sample.epoch, point.epoch);
    }
}

#[test]
fn loss_option_overrides_header() {
    let dir = TempDir::new().unwrap();
    let path = write_log(&dir, "run.jsonl", &valid_log("not-a-loss", 1, 10));
    let error = trace(&path).unwrap_err().to_string();
    assert!(
        error.contains("invalid loss spec \"not-a-loss\""),
        "{error}"
    );
    assert!(error.contains("--loss"), "{error}");
    let options = TraceOptions {
        loss: Some(parse_loss("mse").unwrap()),
        ..TraceOptions::default()
    };
    let run = trace_file(&path, &options, &mut |_| {}).unwrap();
    assert_eq!(run.loss, "mse");
}

#[test]
fn blank_lines_and_crlf_are_accepted() {
    let dir = TempDir::new().unwrap();
    let text = valid_log("ce", 1, 3).replace('\n', "\r\n") + "\r\n\n";
    let run = trace(&write_log(&dir, "run.jsonl", &text)).unwrap();
    assert_eq!(run.records, 3);
}

// Bad input, one test per case.

#[test]
fn malformed_line_names_file_line_and_shape() {
    let dir = TempDir::new().unwrap();
    let mut lines: Vec<String> = valid_log("ce", 1, 5).lines().map(String::from).collect();
    lines[3] = r#"{"epoch":1,"index":2,"label":0,"probs":[0.5,0.5"#.to_string();
    let error = trace_error(&dir, &(lines.join("\n") + "\n"));
    assert!(error.contains("bad.jsonl:4:"), "{error}");
    assert!(error.contains("invalid sample record"), "{error}");
    assert!(error.contains(r#""probs": [p_0, ..., p_(n-1)]"#), "{error}");
}

#[test]
fn skip_invalid_counts_skipped_lines() {
    let dir = TempDir::new().unwrap();
    let mut lines: Vec<String> = valid_log("ce", 1, 5).lines().map(String::from).collect();
    lines[2] = "not json".to_string();
    lines[4] = record(1, 9, 7, &[0.2, 0.3, 0.5]);
    let path = write_log(&dir, "run.jsonl", &(lines.join("\n") + "\n"));
    let options = TraceOptions {
        skip_invalid: true,
        ..TraceOptions::default()
    };
    let run = trace_file(&path, &options, &mut |_| {}).unwrap();
    assert_eq!(run.skipped, 2);
    assert_eq!(run.records, 3);
    let first = run.first_skipped.unwrap();
    assert!(first.contains("run.jsonl:3:"), "{first}");
}

#[test]
fn truncated_last_line_is_reported_and_skipped() {
    let dir = TempDir::new().unwrap();
    let partial = r#"{"epoch":2,"index":0,"label":1,"probs":[0.1,0."#;
    let text = valid_log("ce", 1, 4) + partial;
    let run = trace(&write_log(&dir, "run.jsonl", &text)).unwrap();
    assert_eq!(run.records, 4);
    let truncated = run.truncated.unwrap();
    assert_eq!(truncated.line, 7);
    assert_eq!(truncated.bytes, partial.len());
    assert_eq!(run.skipped, 0);
}

#[test]
fn truncated_line_before_the_end_is_an_error() {
    let dir = TempDir::new().unwrap();
    let partial = r#"{"epoch":2,"index":0,"label":1,"probs":[0.1,0."#;
    let text = valid_log("ce", 1, 4)
        + partial
        + "
";
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("bad.jsonl:7: invalid sample record"),
        "{error}"
    );
}

#[test]
fn complete_last_line_without_newline_is_read() {
    let dir = TempDir::new().unwrap();
    let text = valid_log("ce", 1, 4) + &record(2, 0, 1, &[0.25, 0.5, 0.25]);
    let run = trace(&write_log(&dir, "run.jsonl", &text)).unwrap();
    assert_eq!(run.records, 5);
    assert!(run.truncated.is_none());
}

#[test]
fn unknown_schema_version_is_rejected() {
    let dir = TempDir::new().unwrap();
    let text = valid_log("ce", 1, 2).replacen(r#""schema":1"#, r#""schema":7"#, 1);
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("bad.jsonl:1: unsupported schema version 7"),
        "{error}"
    );
    assert!(error.contains("reads version 1"), "{error}");
}

#[test]
fn missing_header_is_rejected() {
    let dir = TempDir::new().unwrap();
    let text = valid_log("ce", 1, 2);
    let without_header: String = text
        .lines()
        .skip(1)
        .map(|line| format!("{line}\n"))
        .collect();
    let error = trace_error(&dir, &without_header);
    assert!(error.contains("bad.jsonl:1: missing header"), "{error}");
    assert!(error.contains("sample line"), "{error}");
}

#[test]
fn empty_file_is_rejected() {
    let dir = TempDir::new().unwrap();
    let error = trace_error(&dir, "");
    assert!(error.contains("bad.jsonl is empty"), "{error}");
}

#[test]
fn invalid_header_fields_are_rejected() {
    let dir = TempDir::new().unwrap();
    let text = r#"{"header":{"schema":1,"loss":"ce"}}"#.to_string() + "\n";
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("bad.jsonl:1: invalid header: missing field"),
        "{error}"
    );
}

#[test]
fn one_class_header_is_rejected() {
    let dir = TempDir::new().unwrap();
    let error = trace_error(&dir, &(header("ce", 1) + "\n"));
    assert!(error.contains("invalid number of classes 1"), "{error}");
}

#[test]
fn label_outside_class_range_is_rejected() {
    let dir = TempDir::new().unwrap();
    let text = header("ce", 3) + "\n" + &record(1, 0, 3, &[0.2, 0.3, 0.5]) + "\n";
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("bad.jsonl:2: label 3 is outside the class range 0..3"),
        "{error}"
    );
}

#[test]
fn negative_probability_is_rejected() {
    let dir = TempDir::new().unwrap();
    let text = header("ce", 3) + "\n" + &record(1, 0, 0, &[1.1, -0.1, 0.0]) + "\n";
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("bad.jsonl:2: probability -0.1 of class 1 is negative"),
        "{error}"
    );
}

#[test]
fn probabilities_not_summing_to_one_are_rejected() {
    let dir = TempDir::new().unwrap();
    let text = header("ce", 3) + "\n" + &record(1, 0, 0, &[0.2, 0.3, 0.4]) + "\n";
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("bad.jsonl:2: probabilities sum to 0.9"),
        "{error}"
    );
    assert!(error.contains("by more than 0.0001"), "{error}");
}

#[test]
fn probability_count_must_match_classes() {
    let dir = TempDir::new().unwrap();
    let text = header("ce", 3) + "\n" + &record(1, 0, 0, &[0.5, 0.5]) + "\n";
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("probs has 2 entries but the header declares 3"),
        "{error}"
    );
}

#[test]
fn second_header_is_rejected() {
    let dir = TempDir::new().unwrap();
    let text = valid_log("ce", 1, 2) + &header("ce", 3) + "\n";
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("bad.jsonl:5: unexpected second header"),
        "{error}"
    );
}

#[test]
fn malformed_summary_is_rejected() {
    let dir = TempDir::new().unwrap();
    let text = header("ce", 3) + "\n" + r#"{"summary":{"epoch":1}}"# + "\n";
    let error = trace_error(&dir, &text);
    assert!(
        error.contains("bad.jsonl:2: invalid summary line: missing field"),
        "{error}"
    );
}

#[test]
fn missing_file_is_reported() {
    let dir = TempDir::new().unwrap();
    let error = trace(&dir.path().join("absent.jsonl"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("failed to read"), "{error}");
    assert!(error.contains("absent.jsonl"), "{error}");
}

// Command line.

fn analyze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyze"))
        .args(args)
        .output()
        .expect("binary runs")
}

#[test]
fn cli_bad_input_exits_with_code_2() {
    let dir = TempDir::new().unwrap();
    let text = header("ce", 3) + "\n" + &record(1, 0, 5, &[0.2, 0.3, 0.5]) + "\n";
    let path = write_log(&dir, "bad.jsonl", &text);
    let output = analyze(&["trace", path.to_str().unwrap(), "--csv", "-"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("label 5 is outside the class range"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn cli_writes_csv_summary() {
    let dir = TempDir::new().unwrap();
    let path = write_log(&dir, "run.jsonl", &valid_log("ce", 2, 10));
    let csv = dir.path().join("summary.csv");
    let figure = dir.path().join("figure.svg");
    let output = analyze(&[
        "trace",
        path.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--out",
        figure.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("run,epoch,records,mean_epsilon,"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("run,1,10,"), "{}", lines[1]);
}

#[test]
fn cli_json_has_one_entry_per_run() {
    let dir = TempDir::new().unwrap();
    let first = write_log(&dir, "ce.jsonl", &valid_log("ce", 2, 10));
    let second = write_log(&dir, "baikal.jsonl", &valid_log("baikal", 3, 10));
    let figure = dir.path().join("figure.png");
    let output = analyze(&[
        "trace",
        first.to_str().unwrap(),
        second.to_str().unwrap(),
        "--json",
        "--out",
        figure.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let runs = value["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["loss"], "ce");
    assert_eq!(runs[1]["epochs"].as_array().unwrap().len(), 3);
    assert!(figure.exists());
}

#[test]
fn cli_rejects_zero_sample() {
    let dir = TempDir::new().unwrap();
    let path = write_log(&dir, "run.jsonl", &valid_log("ce", 1, 3));
    let output = analyze(&["trace", path.to_str().unwrap(), "--sample", "0"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--sample"), "{stderr}");
}

// References.

/// Formats `value` in one of the ways a JSON writer may: shortest round trip, fixed digits,
/// or scientific notation.
fn format_number(value: f64, style: u8) -> String {
    match style {
        0 => format!("{value:?}"),
        1 => format!("{value:.9}"),
        2 => format!("{value:.3e}"),
        _ => format!("{value:e}"),
    }
}

proptest! {
    /// The fast parser yields the same doubles as serde_json (exact equality: both are
    /// correctly rounded).
    #[test]
    fn parser_agrees_with_serde(
        values in proptest::collection::vec(0.0f64..1.0, 1..12),
        styles in proptest::collection::vec(0u8..4, 12),
        epoch in 0u32..100_000,
        index in 0u64..u64::MAX,
        label in 0u32..1000,
    ) {
        let numbers: Vec<String> = values
            .iter()
            .zip(&styles)
            .map(|(&v, &style)| format_number(v, style))
            .collect();
        let line = format!(
            r#"{{"epoch":{epoch},"index":{index},"label":{label},"probs":[{}]}}"#,
            numbers.join(",")
        );
        let mut sample = RawSample::default();
        parse_sample(line.as_bytes(), &mut sample).unwrap();
        let reference: SampleRecord = serde_json::from_str(&line).unwrap();
        prop_assert_eq!(sample.epoch, reference.epoch);
        prop_assert_eq!(sample.index, reference.index);
        prop_assert_eq!(sample.label, u64::from(reference.label));
        prop_assert_eq!(sample.probs, reference.probs);
    }

    /// Every quantile is within the relative accuracy of the exact nearest-rank order
    /// statistic (tolerance: alpha, plus 1e-9 relative for rounding at bucket edges).
    #[test]
    fn sketch_quantiles_within_relative_accuracy(
        values in proptest::collection::vec(
            prop_oneof![-1.0f64..1.0, -1e-9f64..1e-9, Just(0.0)], 1..400),
        p in 0.0f64..=1.0,
    ) {
        let mut sketch = QuantileSketch::new();
        for &value in &values {
            sketch.insert(value);
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        let exact = sorted[rank - 1];
        let estimate = sketch.quantile(p).unwrap();
        let tolerance = RELATIVE_ACCURACY * (1.0 + 1e-9) * exact.abs() + 1e-300;
        prop_assert!((estimate - exact).abs() <= tolerance, "{} vs {}", estimate, exact);
    }

    /// Merging sketches in any split gives the same quantiles as one sketch.
    #[test]
    fn sketch_merge_equals_single(
        values in proptest::collection::vec(-1.0f64..1.0, 2..200),
        split in 0usize..200,
    ) {
        let split = split % values.len();
        let mut whole = QuantileSketch::new();
        let mut left = QuantileSketch::new();
        let mut right = QuantileSketch::new();
        for (k, &value) in values.iter().enumerate() {
            whole.insert(value);
            if k < split { left.insert(value) } else { right.insert(value) }
        }
        right.merge(&left);
        for p in [0.05, 0.5, 0.95] {
            prop_assert_eq!(whole.quantile(p), right.quantile(p));
        }
    }

    /// The evaluator gives the same gamma as `Loss::gamma`, bit for bit.
    #[test]
    fn evaluator_matches_loss_gamma(h in 1e-6f64..1.0, target in any::<bool>(), which in 0usize..5) {
        let spec = ["ce", "mse", "baikal", "taylorglo-cifar10", "taylorglo:0.1,0.2,-1,2,0.5,1,-2,3"][which];
        let loss = parse_loss(spec).unwrap();
        let evaluator = GammaEvaluator::new(loss.clone());
        let y = if target { 1.0 } else { 0.0 };
        prop_assert_eq!(evaluator.gamma(h, y).to_bits(), loss.gamma(h, y).to_bits());
        let (t, nt) = loss.gamma_pair(h, 10);
        let (et, ent) = evaluator.gamma_pair(h, 10);
        prop_assert_eq!((t.to_bits(), nt.to_bits()), (et.to_bits(), ent.to_bits()));
    }
}

#[test]
fn cli_figure_1_writes_png_and_svg() {
    let dir = TempDir::new().unwrap();
    let first = write_log(&dir, "ce.jsonl", &valid_log("ce", 2, 10));
    let second = write_log(&dir, "tg.jsonl", &valid_log("taylorglo-cifar10", 2, 10));
    let out_dir = dir.path().join("figures");
    let output = analyze(&[
        "figure",
        "1",
        first.to_str().unwrap(),
        second.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out_dir.join("figure1.png").exists());
    assert!(out_dir.join("figure1.svg").exists());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ce: epoch 2, 0.0% of 10 records repelled"),
        "{stdout}"
    );
}

#[test]
fn cli_figure_1_needs_logs() {
    let output = analyze(&["figure", "1"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing training logs"), "{stderr}");
}
