//! Tests of `lossdyn::curve` and of `analyze curve` / `analyze figure` run as a binary.

use std::path::Path;
use std::process::{Command, Output};

use approx::assert_relative_eq;
use lossdyn::attraction::{self, Form};
use lossdyn::curve::{
    self, CSV_HEADER, Effect, RootMethod, SignAnalysis, sign_condition, sign_polynomial,
};
use lossdyn::exact::{Rational, ratio, to_f64};
use lossdyn::loss::{Loss, parse_loss};
use lossdyn::poly::roots::evaluate as evaluate_polynomial;
use num_traits::{Signed, Zero};
use proptest::prelude::*;

/// Generates TaylorGLO losses with small decimal parameters, so their sign polynomials have
/// a mix of roots inside and outside (0, 1).
fn taylorglo_strategy() -> impl Strategy<Value = Loss> {
    proptest::collection::vec(-40i64..=40, 8).prop_map(|tenths| {
        let values: Vec<String> = tenths
            .iter()
            .map(|t| format!("{}", *t as f64 / 10.0))
            .collect();
        parse_loss(&format!("taylorglo:{}", values.join(","))).expect("valid spec")
    })
}

fn any_loss() -> impl Strategy<Value = Loss> {
    prop_oneof![
        Just(Loss::CrossEntropy),
        Just(Loss::MeanSquaredError),
        Just(Loss::Baikal),
        Just(Loss::taylorglo_cifar10()),
        taylorglo_strategy(),
    ]
}

/// Gammas of every class at the two-level output, from `Loss::gamma` per class.
fn class_gammas(loss: &Loss, probs: &[f64], target: usize) -> Vec<f64> {
    probs
        .iter()
        .enumerate()
        .map(|(k, &h)| loss.gamma(h, if k == target { 1.0 } else { 0.0 }))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Curve values are the core's values, bit for bit, and the exact form also agrees with
    /// the full-vector attraction, which takes a different path through the softmax step.
    #[test]
    fn curve_values_equal_core(loss in any_loss(), n in 2usize..200, epsilon in 0.001f64..0.999) {
        let point = curve::evaluate(&loss, n, epsilon).unwrap();
        let (gamma_target, gamma_non_target) = loss.gamma_pair(epsilon, n);
        let exact = attraction::attraction(Form::Exact, gamma_target, gamma_non_target, epsilon, n);
        let printed =
            attraction::attraction(Form::Printed, gamma_target, gamma_non_target, epsilon, n);
        prop_assert_eq!(point.attraction_exact.to_bits(), exact.to_bits());
        prop_assert_eq!(point.attraction_printed.to_bits(), printed.to_bits());
        prop_assert_eq!(point.n, n);
        prop_assert_eq!(point.epsilon, epsilon);

        // Tolerance: relative 1e-9 plus absolute 1e-12, for rounding in two different
        // evaluation orders of the same step.
        let probs = attraction::two_level_probs(epsilon, n, 0);
        let full = attraction::attraction_full(&probs, &class_gammas(&loss, &probs, 0), 0);
        assert_relative_eq!(point.attraction_exact, full, max_relative = 1e-9, epsilon = 1e-12);
    }

    /// The rational printed exponents match the f64 ones of the core to 1e-12 relative.
    #[test]
    fn printed_steps_match_core(
        gamma_target in -1000i64..1000,
        gamma_non_target in -1000i64..1000,
        numerator in 1i64..1000,
        n in 2usize..500,
    ) {
        let epsilon = ratio(numerator, 1000);
        let (g_t, g_nt) = (ratio(gamma_target, 7), ratio(gamma_non_target, 3));
        let (target, non_target) = curve::logit_steps_printed_exact(&g_t, &g_nt, &epsilon, n);
        let (target_f64, non_target_f64) =
            attraction::logit_steps_printed(to_f64(&g_t), to_f64(&g_nt), to_f64(&epsilon), n);
        assert_relative_eq!(to_f64(&target), target_f64, max_relative = 1e-12, epsilon = 1e-12);
        assert_relative_eq!(
            to_f64(&non_target),
            non_target_f64,
            max_relative = 1e-12,
            epsilon = 1e-12
        );
    }

    /// The interpolated sign polynomial equals the sign condition at other rational points,
    /// so the degree bound of 4 is met and the interpolation is exact.
    #[test]
    fn sign_polynomial_matches_condition(
        loss in taylorglo_strategy(),
        n in 2usize..100,
        numerator in 1i64..997,
        exact_form in any::<bool>(),
    ) {
        let form = if exact_form { Form::Exact } else { Form::Printed };
        let polynomial = sign_polynomial(&loss, form, n).unwrap().expect("polynomial loss");
        let epsilon = ratio(numerator, 997);
        let expected = sign_condition(&loss, form, &epsilon, n).unwrap();
        prop_assert_eq!(evaluate_polynomial(&polynomial, &epsilon), expected);
        let degree_bound = if exact_form { 3 } else { 5 };
        prop_assert!(polynomial.len() <= degree_bound, "{} coefficients", polynomial.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Every exact root is a sign change of the exact sign condition and of the f64
    /// attraction, and the numeric search finds the same roots.
    #[test]
    fn exact_roots_are_sign_changes(loss in taylorglo_strategy(), n in 2usize..100) {
        for form in [Form::Exact, Form::Printed] {
            let analysis = curve::analyze_signs(&loss, form, n).unwrap();
            prop_assert_eq!(analysis.method, RootMethod::ExactPolynomial);
            check_exact_roots(&loss, &analysis)?;
            check_numeric_agreement(&loss, &analysis)?;
        }
    }
}

fn check_exact_roots(loss: &Loss, analysis: &SignAnalysis) -> Result<(), TestCaseError> {
    let polynomial = analysis.polynomial.as_ref().expect("exact analysis");
    for root in &analysis.roots {
        let (mut lower, mut upper) = root.bracket.clone().expect("exact bracket");
        prop_assert!(lower <= upper);
        prop_assert!(lower > Rational::zero() && upper < ratio(1, 1));
        if lower == upper {
            // A rational root found exactly: the condition vanishes there, and it changes
            // sign across a much narrower interval around it.
            prop_assert!(
                sign_condition(loss, analysis.form, &lower, analysis.n)
                    .unwrap()
                    .is_zero()
            );
            let nudge = ratio(1, 1_000_000_000_000_000_000);
            lower -= &nudge;
            upper += &nudge;
        }

        // The exact sign condition changes sign across the bracket.
        let at_lower = sign_condition(loss, analysis.form, &lower, analysis.n).unwrap();
        let at_upper = sign_condition(loss, analysis.form, &upper, analysis.n).unwrap();
        prop_assert_eq!(&at_lower, &evaluate_polynomial(polynomial, &lower));
        prop_assert!(
            at_lower.is_positive() && at_upper.is_negative()
                || at_lower.is_negative() && at_upper.is_positive(),
            "no sign change in [{lower}, {upper}]"
        );

        // The f64 attraction changes sign across the root too, where the root is simple
        // and isolated enough for f64 rounding not to decide the sign.
        let step = 1e-6;
        let isolated = analysis
            .roots
            .iter()
            .all(|other| other == root || (other.epsilon - root.epsilon).abs() > 4.0 * step);
        let inside = root.epsilon > 2.0 * step && root.epsilon < 1.0 - 2.0 * step;
        let slope = derivative_at(polynomial, root.epsilon).abs();
        let scale: f64 = polynomial.iter().map(|c| to_f64(c).abs()).sum();
        if isolated && inside && slope * step > 1e-6 * scale {
            let before = attraction_at(loss, analysis, root.epsilon - step);
            let after = attraction_at(loss, analysis, root.epsilon + step);
            prop_assert!(
                before * after < 0.0,
                "{before} and {after} at {}",
                root.epsilon
            );
            prop_assert_eq!(before > 0.0, at_lower.is_positive());
        }
    }
    Ok(())
}

fn check_numeric_agreement(loss: &Loss, analysis: &SignAnalysis) -> Result<(), TestCaseError> {
    let numeric = curve::analyze_signs_numerically(loss, analysis.form, analysis.n).unwrap();
    prop_assert_eq!(numeric.method, RootMethod::Numeric);
    let roots = analysis.root_values();
    let separated = roots.windows(2).all(|pair| pair[1] - pair[0] > 1e-3)
        && roots.iter().all(|&root| root > 1e-3 && root < 1.0 - 1e-3);
    let polynomial = analysis.polynomial.as_ref().expect("exact analysis");
    let simple = roots
        .iter()
        .all(|&root| derivative_at(polynomial, root).abs() > 1e-6);
    if separated && simple {
        let found = numeric.root_values();
        prop_assert_eq!(
            found.len(),
            roots.len(),
            "numeric {:?}, exact {:?}",
            found,
            roots
        );
        for (numeric_root, exact_root) in found.iter().zip(&roots) {
            prop_assert!((numeric_root - exact_root).abs() < 1e-9);
        }
    }
    Ok(())
}

fn attraction_at(loss: &Loss, analysis: &SignAnalysis, epsilon: f64) -> f64 {
    curve::evaluate(loss, analysis.n, epsilon)
        .unwrap()
        .attraction(analysis.form)
}

fn derivative_at(polynomial: &[Rational], x: f64) -> f64 {
    polynomial
        .iter()
        .enumerate()
        .skip(1)
        .map(|(power, c)| power as f64 * to_f64(c) * x.powi(power as i32 - 1))
        .sum()
}

#[test]
fn baikal_root_is_one_minus_inverse_sqrt_n() {
    // gamma_T = 1/h + 1/h^2 at h = 1 - eps and gamma_-T = (n - 1)/eps are equal exactly at
    // 1 - eps = 1/sqrt(n): both sides are then n + sqrt(n).
    for n in [2usize, 3, 10, 100, 1000] {
        let analysis = curve::analyze_signs(&Loss::Baikal, Form::Exact, n).unwrap();
        assert_eq!(analysis.method, RootMethod::Numeric);
        assert_eq!(analysis.roots.len(), 1, "n = {n}");
        let expected = 1.0 - 1.0 / (n as f64).sqrt();
        let found = analysis.roots[0].epsilon;
        assert!(
            (found - expected).abs() <= 1e-12,
            "n = {n}: {found} vs {expected}"
        );
        assert_eq!(analysis.intervals[0].effect, Effect::Push);
        assert_eq!(analysis.intervals[1].effect, Effect::Pull);
    }
}

#[test]
fn baikal_findings_in_words() {
    let analysis = curve::analyze_signs(&Loss::Baikal, Form::Exact, 10).unwrap();
    assert_eq!(
        analysis.describe(),
        "n=10, exact: pushes samples with eps < 0.684 (confidently learned) away from their \
         labels; pulls samples with eps > 0.684 (weakly learned) toward their labels"
    );
}

#[test]
fn cross_entropy_and_mse_always_pull() {
    for loss in [Loss::CrossEntropy, Loss::MeanSquaredError] {
        for n in [2usize, 10, 100] {
            for form in [Form::Exact, Form::Printed] {
                let analysis = curve::analyze_signs(&loss, form, n).unwrap();
                assert!(analysis.roots.is_empty(), "{loss} n = {n} {form:?}");
                assert_eq!(analysis.intervals.len(), 1);
                assert_eq!(analysis.intervals[0].effect, Effect::Pull);
            }
        }
    }
}

#[test]
fn forms_agree_for_two_classes() {
    // The printed Eq. 17 flips a term with the factor n - 2. At n = 2 its exponents give
    // df_T - df_-T = 2 eps (1 - eps) (gamma_T - gamma_-T), a positive multiple of P_exact.
    let loss = Loss::taylorglo_cifar10();
    let exact = sign_polynomial(&loss, Form::Exact, 2).unwrap().unwrap();
    let printed = sign_polynomial(&loss, Form::Printed, 2).unwrap().unwrap();
    for numerator in 1..20 {
        let epsilon = ratio(numerator, 20);
        let factor = ratio(2, 1) * &epsilon * (ratio(1, 1) - &epsilon);
        assert_eq!(
            evaluate_polynomial(&printed, &epsilon),
            factor * evaluate_polynomial(&exact, &epsilon),
            "eps = {epsilon}"
        );
    }
    let exact_roots = curve::analyze_signs(&loss, Form::Exact, 2).unwrap();
    let printed_roots = curve::analyze_signs(&loss, Form::Printed, 2).unwrap();
    assert_eq!(exact_roots.root_values(), printed_roots.root_values());
}

#[test]
fn cifar10_forms_part_at_ten_classes() {
    let loss = Loss::taylorglo_cifar10();
    let exact = curve::analyze_signs(&loss, Form::Exact, 10).unwrap();
    let printed = curve::analyze_signs(&loss, Form::Printed, 10).unwrap();
    assert_eq!(exact.roots.len(), 1);
    assert_eq!(printed.roots.len(), 1);
    assert!((exact.roots[0].epsilon - 0.8911).abs() < 1e-4);
    assert!((printed.roots[0].epsilon - 0.4811).abs() < 1e-4);
}

#[test]
fn identically_zero_attraction_is_neutral() {
    let loss = parse_loss("coeffs:0,0,0,0,0,0").unwrap();
    let analysis = curve::analyze_signs(&loss, Form::Exact, 10).unwrap();
    assert!(analysis.polynomial.as_ref().unwrap().is_empty());
    assert!(analysis.roots.is_empty());
    assert_eq!(analysis.intervals[0].effect, Effect::Neutral);
    assert!(analysis.describe().contains("leaves samples"));
}

#[test]
fn csv_has_exact_columns_and_rows() {
    let loss = Loss::Baikal;
    let rows = curve::evaluate_all(&loss, &[2, 10], &[0.25, 0.5, 0.75]).unwrap();
    let mut buffer = Vec::new();
    curve::write_csv(&rows, &mut buffer).unwrap();
    let text = String::from_utf8(buffer).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "n,epsilon,attraction_printed,attraction_exact");
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(lines.len(), 1 + 2 * 3);
    let fields: Vec<&str> = lines[4].split(',').collect();
    assert_eq!(fields[0], "10");
    assert_eq!(fields[1], "0.25");
    let printed: f64 = fields[2].parse().unwrap();
    let exact: f64 = fields[3].parse().unwrap();
    assert_eq!(printed, rows[3].attraction_printed);
    assert_eq!(exact, rows[3].attraction_exact);
}

#[test]
fn evaluate_rejects_bad_domain() {
    let error = curve::evaluate(&Loss::Baikal, 1, 0.5).unwrap_err();
    assert!(error.to_string().contains("n >= 2"), "{error}");
    for epsilon in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        let error = curve::evaluate(&Loss::Baikal, 10, epsilon).unwrap_err();
        assert!(error.to_string().contains("(0, 1)"), "{error}");
    }
}

#[test]
fn slugs_are_file_name_safe() {
    assert_eq!(curve::loss_slug(&Loss::Baikal), "baikal");
    assert_eq!(
        curve::loss_slug(&Loss::taylorglo_cifar10()),
        "taylorglo-cifar10"
    );
    let taylorglo = parse_loss("taylorglo:0,0,1,-0.5,0,2,0,0").unwrap();
    let slug = curve::loss_slug(&taylorglo);
    assert!(slug.starts_with("taylorglo-"), "{slug}");
    assert_eq!(slug.len(), "taylorglo-".len() + 8);
    assert!(
        slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{slug}"
    );
    let other = parse_loss("taylorglo:0,0,1,-0.5,0,2,0,1").unwrap();
    assert_ne!(curve::loss_slug(&other), slug);
    let coefficients = parse_loss("coeffs:1,2,3,4,5,6").unwrap();
    assert!(curve::loss_slug(&coefficients).starts_with("coeffs-"));
    assert_eq!(
        curve::default_file_name(&Loss::Baikal, &[2, 10]),
        "curve-baikal-n2-10.png"
    );
}

// Command-line tests: the real binary in a fresh temporary directory.

fn analyze(directory: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analyze"))
        .args(args)
        .current_dir(directory)
        .output()
        .expect("the analyze binary runs")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_usage_error(args: &[&str], expected: &[&str]) {
    let directory = tempfile::tempdir().unwrap();
    let output = analyze(directory.path(), args);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    for part in expected {
        assert!(
            stderr.contains(part),
            "{args:?}: expected {part:?} in {stderr}"
        );
    }
    let leftovers: Vec<_> = walk(directory.path());
    assert!(leftovers.is_empty(), "{args:?} left files: {leftovers:?}");
}

/// Lists the files under `directory`, recursively.
fn walk(directory: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn cli_default_figure_for_baikal() {
    let directory = tempfile::tempdir().unwrap();
    let output = analyze(
        directory.path(),
        &["curve", "--loss", "baikal", "--n", "10"],
    );
    assert!(output.status.success(), "{}", stderr_of(&output));
    let path = directory.path().join("figures/curve-baikal-n10.png");
    let image = image::open(&path).expect("a decodable PNG");
    assert_eq!((image.width(), image.height()), (1000, 700));
    let files = walk(directory.path());
    assert_eq!(files, vec![path], "only the figure is written");
}

#[test]
fn cli_svg_with_requested_size() {
    let directory = tempfile::tempdir().unwrap();
    let args = [
        "curve",
        "--loss",
        "taylorglo-cifar10",
        "--n",
        "2,10",
        "--out",
        "c.svg",
        "--width",
        "640",
        "--height",
        "480",
        "--points",
        "200",
    ];
    let output = analyze(directory.path(), &args);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let svg = std::fs::read_to_string(directory.path().join("c.svg")).unwrap();
    assert!(svg.contains(r#"width="640""#), "{}", &svg[..200]);
    assert!(svg.contains(r#"height="480""#));
    assert!(svg.contains("attraction toward zero training error"));
    assert!(svg.contains("deviation from perfect memorization"));
    assert!(svg.contains("TaylorGLO (CIFAR-10, AllCNN-C)"));
}

#[test]
fn cli_csv_at_given_epsilons() {
    let directory = tempfile::tempdir().unwrap();
    let args = [
        "curve",
        "--loss",
        "mse",
        "--n",
        "2",
        "--n",
        "10",
        "--eps",
        "0.1,0.5",
        "--csv",
        "values.csv",
        "--out",
        "m.png",
    ];
    let output = analyze(directory.path(), &args);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let text = std::fs::read_to_string(directory.path().join("values.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], CSV_HEADER);
    assert!(lines[1].starts_with("2,0.1,"), "{}", lines[1]);
    assert!(lines[4].starts_with("10,0.5,"), "{}", lines[4]);
    let expected = curve::evaluate(&Loss::MeanSquaredError, 10, 0.5).unwrap();
    let exact: f64 = lines[4].split(',').nth(3).unwrap().parse().unwrap();
    assert_eq!(exact, expected.attraction_exact);
}

#[test]
fn cli_csv_to_stdout_keeps_stdout_clean() {
    let directory = tempfile::tempdir().unwrap();
    let args = [
        "curve", "--loss", "ce", "--n", "3", "--points", "4", "--csv", "-", "--roots",
    ];
    let output = analyze(directory.path(), &args);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(stderr_of(&output).contains("pulls samples with every eps in (0, 1)"));
}

#[test]
fn cli_roots_as_json() {
    let directory = tempfile::tempdir().unwrap();
    let args = [
        "curve", "--loss", "baikal", "--n", "10,100", "--roots", "--json",
    ];
    let output = analyze(directory.path(), &args);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let curves = value["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 2);
    assert_eq!(curves[0]["n"], 10);
    let root = curves[0]["roots_exact"][0].as_f64().unwrap();
    assert!((root - (1.0 - 1.0 / 10f64.sqrt())).abs() < 1e-12, "{root}");
    let printed = curves[0]["roots_printed"][0].as_f64().unwrap();
    assert!((printed - 0.7373).abs() < 1e-4, "{printed}");
    assert_eq!(curves[1]["n"], 100);
    assert_eq!(value["loss"], "baikal");
    assert_eq!(value["figure"], "figures/curve-baikal-n10-100.png");
}

#[test]
fn cli_rejects_too_few_classes() {
    assert_usage_error(
        &["curve", "--loss", "baikal", "--n", "1"],
        &["invalid number of classes 1", "n >= 2", "--n"],
    );
}

#[test]
fn cli_rejects_epsilon_outside_interval() {
    for epsilon in ["0", "1", "1.5", "-0.2", "nan"] {
        assert_usage_error(
            &["curve", "--loss", "baikal", "--n", "10", "--eps", epsilon],
            &["invalid epsilon", "(0, 1)", "--eps"],
        );
    }
}

#[test]
fn cli_rejects_unknown_loss() {
    assert_usage_error(
        &["curve", "--loss", "hinge", "--n", "10"],
        &["unknown loss \"hinge\"", "baikal"],
    );
}

#[test]
fn cli_rejects_unwritable_output() {
    assert_usage_error(
        &[
            "curve",
            "--loss",
            "baikal",
            "--n",
            "10",
            "--out",
            "missing/dir/c.png",
        ],
        &["failed to write figure", "missing/dir/c.png", "writable"],
    );
    assert_usage_error(
        &["curve", "--loss", "baikal", "--n", "10", "--out", "c.gif"],
        &["unsupported figure format", ".png or .svg"],
    );
}

#[test]
fn cli_rejects_bad_points_and_size() {
    assert_usage_error(
        &["curve", "--loss", "ce", "--n", "10", "--points", "1"],
        &["invalid number of points 1", "--points"],
    );
    assert_usage_error(
        &["curve", "--loss", "ce", "--n", "10", "--width", "50"],
        &["invalid figure size 50x700", "200..=8000"],
    );
}

#[test]
fn cli_figure_3_writes_png_and_svg() {
    let directory = tempfile::tempdir().unwrap();
    let args = [
        "figure",
        "3",
        "--out-dir",
        "out",
        "--points",
        "100",
        "--json",
    ];
    let output = analyze(directory.path(), &args);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let png = image::open(directory.path().join("out/figure3.png")).expect("a decodable PNG");
    assert_eq!((png.width(), png.height()), (2000, 1450));
    let svg = std::fs::read_to_string(directory.path().join("out/figure3.svg")).unwrap();
    for title in [
        "(a) cross-entropy",
        "(b) TaylorGLO",
        "(c) mean squared error",
        "(d) Baikal",
    ] {
        assert!(svg.contains(title), "missing {title}");
    }
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["files"].as_array().unwrap().len(), 2);
}

#[test]
fn cli_rejects_unknown_figure() {
    assert_usage_error(&["figure", "2"], &["figure 2 is not available", "3 ("]);
}

#[test]
fn cli_eps_without_csv_rejected() {
    assert_usage_error(
        &["curve", "--loss", "baikal", "--n", "10", "--eps", "0.5"],
        &["--eps", "no --csv was given"],
    );
}

#[test]
fn cli_invalid_values_named_as_options() {
    assert_usage_error(
        &["curve", "--loss", "ce", "--n", "1"],
        &["invalid --n: ", "2..="],
    );
    assert_usage_error(
        &[
            "curve", "--loss", "ce", "--n", "3", "--eps", "2", "--csv", "-",
        ],
        &["invalid --eps: "],
    );
}

#[test]
fn cli_failed_csv_leaves_no_figure() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir(directory.path().join("taken")).unwrap();
    let cases: [&[&str]; 2] = [
        &["--csv", "taken", "--out", "c.png"],
        &["--csv", "missing/x.csv", "--out", "c.png"],
    ];
    for extra in cases {
        let mut args = vec!["curve", "--loss", "baikal", "--n", "10"];
        args.extend_from_slice(extra);
        let output = analyze(directory.path(), &args);
        let stderr = stderr_of(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--csv") || stderr.contains("CSV"),
            "{stderr}"
        );
        assert!(
            !directory.path().join("c.png").exists(),
            "{args:?} wrote c.png"
        );
    }
    let missing_directory = stderr_of(&analyze(
        directory.path(),
        &[
            "curve",
            "--loss",
            "baikal",
            "--n",
            "10",
            "--out",
            "missing/c.png",
        ],
    ));
    assert_eq!(
        missing_directory.matches("os error 2").count(),
        1,
        "{missing_directory}"
    );
    assert!(
        !missing_directory.contains(".output-"),
        "{missing_directory}"
    );
}

#[test]
fn cli_figure_ignored_inputs_rejected() {
    assert_usage_error(
        &["figure", "3", "run.jsonl"],
        &["figure 3 takes no training logs", "run.jsonl"],
    );
    assert_usage_error(
        &["figure", "1", "run.jsonl", "--points", "5"],
        &["--points applies to figure 3 only"],
    );
}

#[test]
fn cli_figure_out_dir_file_rejected() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("plain-file"), b"").unwrap();
    let output = analyze(
        directory.path(),
        &["figure", "3", "--out-dir", "plain-file", "--points", "10"],
    );
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid --out-dir plain-file"), "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");
}

proptest! {
    // Exact round trip (tolerance 0): the text must parse back to the same f64 bits.
    #[test]
    fn format_number_round_trips(bits in any::<u64>()) {
        let value = f64::from_bits(bits);
        prop_assume!(value.is_finite());
        let text = curve::format_number(value);
        prop_assert!(text.len() <= 24, "{value:?} printed as {text}");
        prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), value.to_bits());
    }
}

#[test]
fn cli_csv_prints_tiny_epsilon_short() {
    let directory = tempfile::tempdir().unwrap();
    let output = analyze(
        directory.path(),
        &[
            "curve",
            "--loss",
            "mse",
            "--n",
            "10",
            "--eps",
            "1e-320,0.5",
            "--csv",
            "-",
            "--out",
            "c.png",
        ],
    );
    assert!(output.status.success(), "{}", stderr_of(&output));
    let csv = String::from_utf8(output.stdout).unwrap();
    let epsilons: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(epsilons, ["1e-320", "0.5"]);
}
