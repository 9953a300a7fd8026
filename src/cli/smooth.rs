//! `analyze smooth`: label smoothing folded into the coefficients of a loss.

use std::io::Write;

use serde_json::{Value, json};

use crate::exact::{format_rational, parse_rational, to_f64};
use crate::label_smoothing::{smooth_loss, unsmoothing_map};
use crate::loss::{COEFFICIENT_NAMES, Coefficients, Loss, parse_loss, taylorglo_from_coefficients};

/// Print the coefficients that reproduce, with hard labels, training a loss with label
/// smoothing alpha over n classes (targets 1 - alpha (n-1)/n, non-targets alpha/n).
///
/// The map is exact: with the printed coefficients, gamma for every h equals gamma of the
/// original loss on smoothed labels. It exists for every polynomial loss (mse, taylorglo:,
/// coeffs:, taylorglo-cifar10) and alpha in (0, 1), and can be inverted for alpha < 1.
/// Cross-entropy and Baikal have no coefficient form, so no map exists for them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Loss spec of the loss trained with smoothed labels (a polynomial loss).
    #[arg(long, value_name = "SPEC")]
    loss: String,

    /// Smoothing strength alpha, a decimal or fraction in the open interval (0, 1).
    #[arg(long, value_name = "A", allow_hyphen_values = true)]
    alpha: String,

    /// Number of classes n (at least 2).
    #[arg(long, value_name = "N")]
    n: usize,

    /// Print one JSON object with keys c_1, c_h, c_hh, c_hy, c_y, c_yy (the mapped
    /// coefficients).
    #[arg(long)]
    json: bool,
}

/// Runs `analyze smooth`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let loss = parse_loss(&args.loss)?;
    let alpha = parse_rational(&args.alpha)?;
    let mapped = smooth_loss(&loss, &alpha, args.n)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let object: serde_json::Map<String, Value> = COEFFICIENT_NAMES
            .iter()
            .zip(mapped.to_array())
            .map(|(name, value)| (name.to_string(), json!(to_f64(&value))))
            .collect();
        serde_json::to_writer_pretty(&mut out, &Value::Object(object))?;
        writeln!(out)?;
        return Ok(());
    }
    let original = loss
        .coefficients()
        .expect("smooth_loss accepted a polynomial loss");
    writeln!(
        out,
        "loss {} with label smoothing alpha = {}, n = {}",
        loss.spec(),
        format_rational(&alpha),
        args.n
    )?;
    writeln!(
        out,
        "{:<6} {:>24} {:>24}",
        "", "with smoothed labels", "equivalent, hard labels"
    )?;
    for ((name, before), after) in COEFFICIENT_NAMES
        .iter()
        .zip(original.to_array())
        .zip(mapped.to_array())
    {
        writeln!(
            out,
            "{name:<6} {:>24} {:>24}",
            format_rational(&before),
            format_rational(&after)
        )?;
    }
    let mapped_loss = Loss::CoefficientForm {
        coefficients: mapped.clone(),
        name: None,
    };
    writeln!(
        out,
        "train with hard labels and: --loss {}",
        mapped_loss.spec()
    )?;
    let lambda = taylorglo_from_coefficients(&mapped);
    let lambda_text: Vec<String> = lambda.iter().map(format_rational).collect();
    writeln!(
        out,
        "as TaylorGLO parameters: taylorglo:{}",
        lambda_text.join(",")
    )?;
    let back: Coefficients<_> = unsmoothing_map(&mapped, &alpha, args.n)?;
    let round_trip = if back == original {
        "recovers the original exactly"
    } else {
        "does NOT recover the original"
    };
    writeln!(out, "reverse map (alpha < 1): {round_trip}")?;
    Ok(())
}
