//! Rows for Table 1: the one-tailed Welch's t-test p-values recomputed from the printed means
//! and standard deviations (ten models per arm).

use serde_json::json;
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::{CheckRow, Tally};

/// Models trained per arm in Table 1.
const MODELS: f64 = 10.0;

/// Rounding of the printed means and standard deviations (four decimals).
const ROUNDING: f64 = 0.00005;

/// Table 1 rows: (id, task, baseline mean, baseline sd, invariant mean, invariant sd, p).
const TABLE: [(&str, &str, f64, f64, f64, f64, f64); 4] = [
    (
        "table1-alexnet",
        "CIFAR-10 on AlexNet",
        0.7901,
        0.0026,
        0.7933,
        0.0026,
        0.0092,
    ),
    (
        "table1-preresnet20",
        "CIFAR-10 on PreResNet-20",
        0.9169,
        0.0014,
        0.9164,
        0.0019,
        0.2827,
    ),
    (
        "table1-allcnnc",
        "CIFAR-10 on AllCNN-C",
        0.9271,
        0.0013,
        0.9290,
        0.0014,
        0.0004,
    ),
    (
        "table1-allcnnc-cutout",
        "CIFAR-10 on AllCNN-C + Cutout",
        0.9329,
        0.0022,
        0.9350,
        0.0014,
        0.0124,
    ),
];

/// One-tailed p-value of Welch's t-test for `H1: mean_b > mean_a`.
///
/// `t = (mean_b - mean_a) / sqrt(sd_a^2/n + sd_b^2/n)` with the Welch-Satterthwaite degrees of
/// freedom; `p = P(T > t)`. Agrees with scipy's `ttest_ind_from_stats(..., equal_var=False,
/// alternative='greater')` on the same inputs.
pub fn welch_p_greater(mean_a: f64, sd_a: f64, mean_b: f64, sd_b: f64, count: f64) -> f64 {
    let var_a = sd_a * sd_a / count;
    let var_b = sd_b * sd_b / count;
    let t = (mean_b - mean_a) / (var_a + var_b).sqrt();
    let freedom =
        (var_a + var_b).powi(2) / (var_a.powi(2) / (count - 1.0) + var_b.powi(2) / (count - 1.0));
    StudentsT::new(0.0, 1.0, freedom)
        .expect("positive degrees of freedom")
        .sf(t)
}

pub(super) fn rows() -> Vec<CheckRow> {
    TABLE.iter().map(|row| table_row(*row)).collect()
}

fn table_row(
    (id, task, mean_a, sd_a, mean_b, sd_b, printed): (&'static str, &str, f64, f64, f64, f64, f64),
) -> CheckRow {
    let claim = format!(
        "Table 1, {task}: one-tailed Welch's t-test of {mean_b:.4} ({sd_b:.4}) against {mean_a:.4} \
         ({sd_a:.4}), ten models each, gives p = {printed}"
    );
    // The printed inputs are rounded, so take the range of p over every corner of the box of
    // unrounded inputs (p is monotone in each input over this small box).
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for corner in 0..16u32 {
        let shift = |bit: u32| {
            if corner & (1 << bit) == 0 {
                -ROUNDING
            } else {
                ROUNDING
            }
        };
        let p = welch_p_greater(
            mean_a + shift(0),
            sd_a + shift(1),
            mean_b + shift(2),
            sd_b + shift(3),
            MODELS,
        );
        low = low.min(p);
        high = high.max(p);
    }
    let central = welch_p_greater(mean_a, sd_a, mean_b, sd_b, MODELS);
    let outside = if printed < low {
        low - printed
    } else if printed > high {
        printed - high
    } else {
        0.0
    };
    let mut tally = Tally::new(
        id,
        claim,
        0.0,
        "distance from the printed p to the range of p over the rounding of the inputs",
    );
    tally.record(outside, || {
        json!({
            "p_recomputed": central,
            "p_range_over_rounding": [low, high],
            "p_other_tail": 1.0 - central,
            "printed": printed,
        })
    });
    tally.finish()
}
