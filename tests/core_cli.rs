//! The analysis commands run as a user runs them: the real binary, its output and exit code.

use std::process::{Command, Output};

fn analyze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyze"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn stdout_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

#[test]
fn coeffs_json_of_mse_lambda() {
    let value = stdout_json(&analyze(&[
        "coeffs",
        "--loss",
        "taylorglo:0,0,0,-1,0,2,0,0",
        "--n",
        "10",
        "--json",
    ]));
    let object = value.as_object().unwrap();
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = vec![
        "a",
        "b",
        "c",
        "c_1",
        "c_h",
        "c_hh",
        "c_hy",
        "c_y",
        "c_yy",
        "gamma_nontarget",
        "gamma_target",
        "null_epoch_trainable",
        "theorem3_untrainable",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    // MSE: gamma = 2y - 2h, so c_h = -2, c_y = 2 and the rest vanish; at h = 1/10 the target
    // gamma is 2 - 0.2 and the non-target gamma -0.2.
    assert_eq!(object["c_h"], -2.0);
    assert_eq!(object["c_y"], 2.0);
    for key in ["c_1", "c_hh", "c_hy", "c_yy", "a", "b", "c"] {
        assert_eq!(object[key], 0.0, "{key}");
    }
    assert_eq!(object["gamma_target"], 1.8);
    assert_eq!(object["gamma_nontarget"], -0.2);
    assert_eq!(object["null_epoch_trainable"], true);
    assert_eq!(object["theorem3_untrainable"], false);
}

#[test]
fn coeffs_json_of_cross_entropy_has_nulls() {
    let value = stdout_json(&analyze(&["coeffs", "--loss", "ce", "--n", "4", "--json"]));
    assert!(value["c_1"].is_null());
    assert!(value["a"].is_null());
    assert_eq!(value["gamma_target"], 4.0);
    assert_eq!(value["gamma_nontarget"], 0.0);
}

#[test]
fn coeffs_reports_disagreeing_verdicts() {
    // G_T = 34/21 > G_-T = 13/21: trainable, yet Eq. 18 (34/21 < 6 * 13/21) calls it untrainable.
    let value = stdout_json(&analyze(&[
        "coeffs",
        "--loss",
        "coeffs:1/3,2,0,0,1,0",
        "--n",
        "7",
        "--json",
    ]));
    assert_eq!(value["null_epoch_trainable"], true);
    assert_eq!(value["theorem3_untrainable"], true);
}

#[test]
fn smooth_json_keys_and_values() {
    let value = stdout_json(&analyze(&[
        "smooth",
        "--loss",
        "coeffs:1,2,3,4,5,6",
        "--alpha",
        "0.5",
        "--n",
        "2",
        "--json",
    ]));
    // alpha/n = 1/4, 1 - alpha (n-1)/n = 3/4.
    assert_eq!(value["c_1"], 1.0 + 5.0 / 4.0 + 6.0 / 16.0);
    assert_eq!(value["c_h"], 2.0 + 4.0 / 4.0);
    assert_eq!(value["c_hh"], 3.0);
    assert_eq!(value["c_hy"], 4.0 * 0.5);
    assert_eq!(value["c_y"], 5.0 * 0.5);
    assert_eq!(value["c_yy"], 6.0 * (9.0 / 16.0 - 1.0 / 16.0));
    assert_eq!(value.as_object().unwrap().len(), 6);
}

#[test]
fn check_table_computes_known_slips() {
    let value = stdout_json(&analyze(&["check", "--json"]));
    let rows = value.as_array().unwrap();
    let verdict = |id: &str| {
        let row = rows
            .iter()
            .find(|row| row["id"] == id)
            .unwrap_or_else(|| panic!("row {id}"));
        for key in ["claim", "verdict", "max_deviation", "witness"] {
            assert!(row.get(key).is_some(), "{id} lacks {key}");
        }
        row["verdict"].as_str().unwrap().to_string()
    };
    assert_eq!(verdict("eq11"), "holds");
    assert_eq!(verdict("eq25"), "differs");
    assert_eq!(verdict("eq30"), "differs");
    assert_eq!(verdict("eq17"), "differs");
    assert_eq!(verdict("theorem1"), "holds");
    assert_eq!(verdict("theorem3"), "differs");
    for row in rows {
        let has_witness = !row["witness"].is_null();
        assert_eq!(has_witness, row["verdict"] == "differs", "{}", row["id"]);
    }
}

fn assert_rejected(args: &[&str], expected: &[&str]) {
    let output = analyze(args);
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for fragment in expected {
        assert!(stderr.contains(fragment), "{args:?}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_exits_two_with_reason() {
    assert_rejected(
        &["coeffs", "--loss", "ce", "--n", "18446744073709551615"],
        &["n must lie in 2..=1000000"],
    );
    assert_rejected(
        &[
            "smooth",
            "--loss",
            "mse",
            "--alpha",
            "0.1",
            "--n",
            "9223372036854775808",
        ],
        &["n must lie in 2..=1000000"],
    );
    assert_rejected(
        &["coeffs", "--loss", "coeffs:1e400,0,0,0,0,0", "--json"],
        &["value 1 (c_1) is beyond the f64 range"],
    );
    assert_rejected(
        &["smooth", "--loss", "mse", "--alpha", "-0.5", "--n", "3"],
        &["invalid alpha -0.5"],
    );
    assert_rejected(
        &["coeffs", "--loss", "hinge"],
        &["unknown loss \"hinge\"", "taylorglo:L0"],
    );
    assert_rejected(
        &["coeffs", "--loss", "taylorglo:1,2,3"],
        &["has 3 values", "exactly 8"],
    );
    assert_rejected(
        &["coeffs", "--loss", "coeffs:1,2,NaN,4,5,6"],
        &["value 3 (c_hh)", "\"NaN\""],
    );
    assert_rejected(
        &["coeffs", "--loss", "taylorglo:inf,0,0,0,0,0,0,0"],
        &["value 1 (lambda_0)"],
    );
    assert_rejected(&["coeffs", "--loss", "mse", "--n", "1"], &["n >= 2"]);
    assert_rejected(
        &["smooth", "--loss", "mse", "--alpha", "1", "--n", "10"],
        &["alpha 1", "(0, 1)"],
    );
    assert_rejected(
        &["smooth", "--loss", "mse", "--alpha", "-0.1", "--n", "10"],
        &["alpha -0.1"],
    );
    assert_rejected(
        &["smooth", "--loss", "ce", "--alpha", "0.1", "--n", "10"],
        &["no coefficient form"],
    );
    assert_rejected(
        &["smooth", "--loss", "mse", "--alpha", "nan", "--n", "10"],
        &["\"nan\""],
    );
}
