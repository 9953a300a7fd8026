//! `analyze pipeline` end to end on the bundled data, shortened to one epoch per run.

use std::process::Command;

use tempfile::TempDir;

#[test]
fn pipeline_writes_figures_logs_and_headlines() {
    let dir = TempDir::new().unwrap();
    let figures = dir.path().join("figures");
    let runs = dir.path().join("runs");
    let output = Command::new(env!("CARGO_BIN_EXE_analyze"))
        .args(["pipeline", "--epochs", "1", "--json", "--out-dir"])
        .arg(&figures)
        .arg("--runs-dir")
        .arg(&runs)
        .output()
        .expect("binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    for name in ["figure1.png", "figure1.svg", "figure3.png", "figure3.svg"] {
        assert!(figures.join(name).exists(), "{name} missing");
    }
    for name in ["ce.jsonl", "taylorglo-cifar10.jsonl", "trace-summary.csv"] {
        assert!(runs.join(name).exists(), "{name} missing");
    }

    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let headlines = value["runs"].as_array().unwrap();
    assert_eq!(headlines.len(), 2);
    assert_eq!(headlines[0]["loss"], "ce");
    assert_eq!(headlines[1]["loss"], "taylorglo-cifar10");
    for headline in headlines {
        let accuracy = headline["test_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{headline}");
        for form in ["printed", "exact", "full"] {
            let repelled = headline["repelled_last_epoch"][form].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&repelled), "{headline}");
        }
    }
    // Cross-entropy has gamma_T > 0 = gamma_-T at every output, so no sample is repelled.
    assert_eq!(headlines[0]["repelled_last_epoch"]["full"], 0.0);
    assert_eq!(value["traces"][0]["epochs"].as_array().unwrap().len(), 1);
}

#[test]
fn pipeline_rejects_zero_epochs() {
    let output = Command::new(env!("CARGO_BIN_EXE_analyze"))
        .args(["pipeline", "--epochs", "0"])
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid --epochs 0"), "{stderr}");
}
