//! `analyze coeffs`: the learning-rule coefficients of a loss.

use std::io::Write;

use anyhow::Context;
use serde_json::{Value, json};

use crate::exact::{Rational, format_rational, to_f64};
use crate::loss::{COEFFICIENT_NAMES, Loss, parse_loss};
use crate::null_epoch::{NullEpoch, printed_invariant};
use crate::zero_error::zero_error_coefficients;

/// Print the coefficients of gamma (c_1, c_h, c_hh, c_hy, c_y, c_yy, with gamma = c_1 + c_h h +
/// c_hh h^2 + c_hy h y + c_y y + c_yy y^2), the zero-training-error coefficients a, b, c, the
/// null-epoch gammas at h = 1/n, and both trainability verdicts: Theorem 3 as printed and the
/// exact condition gamma_target > gamma_nontarget.
///
/// Everything is computed in exact rational arithmetic from the decimals of the spec, so a
/// loss on the trainability boundary is decided exactly. Cross-entropy and Baikal have no
/// polynomial form: their c, a, b, c values are null.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Loss spec: ce, mse, baikal, taylorglo:L0,...,L7, coeffs:C1,CH,CHH,CHY,CY,CYY or
    /// taylorglo-cifar10.
    #[arg(long, value_name = "SPEC")]
    loss: String,

    /// Number of classes n (at least 2), used for the null-epoch values h = 1/n.
    #[arg(long, default_value_t = 10, value_name = "N")]
    n: usize,

    /// Print one JSON object with keys c_1, c_h, c_hh, c_hy, c_y, c_yy, a, b, c,
    /// gamma_target, gamma_nontarget, theorem3_untrainable, null_epoch_trainable.
    #[arg(long)]
    json: bool,

    /// Also print the symbolic derivation: gamma and each coefficient as exact polynomials in
    /// the loss parameters. Text only, so it cannot be combined with --json.
    #[arg(long, conflicts_with = "json")]
    symbolic: bool,
}

/// Everything `analyze coeffs` reports, exact.
struct Report {
    loss: Loss,
    n: usize,
    coefficients: Option<[Rational; 6]>,
    zero_error: Option<[Rational; 3]>,
    null: NullEpoch,
    theorem3_untrainable: bool,
}

fn report(loss: Loss, n: usize) -> anyhow::Result<Report> {
    let null = NullEpoch::new(&loss, n)?;
    let coefficients = loss.coefficients();
    let zero_error = coefficients.as_ref().map(|c| {
        let abc = zero_error_coefficients(c);
        [abc.a, abc.b, abc.c]
    });
    let theorem3_untrainable = match &coefficients {
        Some(c) => printed_invariant(c, n).untrainable(),
        None => null.printed_untrainable(),
    };
    Ok(Report {
        coefficients: coefficients.map(|c| c.to_array()),
        zero_error,
        null,
        theorem3_untrainable,
        loss,
        n,
    })
}

/// Runs `analyze coeffs`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let loss = parse_loss(&args.loss)?;
    let report = report(loss, args.n)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &to_json(&report))?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report)?;
    }
    if args.symbolic {
        super::symbolic::write_symbolic(&mut out, &report.loss)
            .context("failed to print the symbolic derivation")?;
    }
    Ok(())
}

fn number(value: &Rational) -> Value {
    json!(to_f64(value))
}

fn to_json(report: &Report) -> Value {
    let mut object = serde_json::Map::new();
    for (index, name) in COEFFICIENT_NAMES.iter().enumerate() {
        let value = report
            .coefficients
            .as_ref()
            .map_or(Value::Null, |c| number(&c[index]));
        object.insert(name.to_string(), value);
    }
    for (index, name) in ["a", "b", "c"].iter().enumerate() {
        let value = report
            .zero_error
            .as_ref()
            .map_or(Value::Null, |abc| number(&abc[index]));
        object.insert(name.to_string(), value);
    }
    object.insert("gamma_target".into(), number(&report.null.gamma_target));
    object.insert(
        "gamma_nontarget".into(),
        number(&report.null.gamma_non_target),
    );
    object.insert(
        "theorem3_untrainable".into(),
        json!(report.theorem3_untrainable),
    );
    object.insert(
        "null_epoch_trainable".into(),
        json!(report.null.trainable()),
    );
    Value::Object(object)
}

fn write_text(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "loss {}  (n = {})", report.loss.spec(), report.n)?;
    let row = |out: &mut dyn Write, name: &str, value: &Rational| {
        let exact = format_rational(value);
        if exact.contains('/') {
            writeln!(out, "  {name:<16} {exact:>20}  (~ {:.12})", to_f64(value))
        } else {
            writeln!(out, "  {name:<16} {exact:>20}")
        }
    };
    match &report.coefficients {
        Some(c) => {
            writeln!(
                out,
                "gamma = c_1 + c_h h + c_hh h^2 + c_hy h y + c_y y + c_yy y^2"
            )?;
            for (name, value) in COEFFICIENT_NAMES.iter().zip(c) {
                row(out, name, value)?;
            }
        }
        None => writeln!(
            out,
            "gamma is not a polynomial in h: no coefficient form, no a, b, c"
        )?,
    }
    if let Some(abc) = &report.zero_error {
        writeln!(out, "zero training error (h = y): gamma = a + b y + c y^2")?;
        for (name, value) in ["a", "b", "c"].iter().zip(abc) {
            row(out, name, value)?;
        }
    }
    writeln!(out, "null epoch (h = 1/{}):", report.n)?;
    row(out, "gamma_target", &report.null.gamma_target)?;
    row(out, "gamma_nontarget", &report.null.gamma_non_target)?;
    let verdict = |untrainable: bool| {
        if untrainable {
            "untrainable"
        } else {
            "trainable"
        }
    };
    writeln!(
        out,
        "  Theorem 3 as printed (Eqs. 18-19): {}",
        verdict(report.theorem3_untrainable)
    )?;
    writeln!(
        out,
        "  exact condition gamma_target > gamma_nontarget: {} (one step {} the target probability)",
        verdict(!report.null.trainable()),
        if report.null.trainable() {
            "raises"
        } else {
            "does not raise"
        },
    )
}
