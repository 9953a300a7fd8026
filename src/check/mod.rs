//! Checks of the paper's printed equations and claims against first principles.
//!
//! Each [`CheckRow`] is computed when [`run_all`] runs: the printed expression is transcribed
//! literally and compared with the quantity derived from the loss definitions (by automatic
//! differentiation, exact rational algebra or direct softmax recomputation) over
//! deterministic random inputs. No verdict is stored; a row says `differs` only when the
//! computation finds an input where the two disagree beyond the row's tolerance, and then it
//! carries that input as its witness.
//!
//! The source is Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function
//! Metalearning"; row ids name its equations (`eq17`), theorems (`theorem3`), figures
//! (`fig3`), table (`table1-...`) and section claims (`sec4.1-...`).

mod learning_rule;
mod null_epoch;
mod softmax;
mod table1;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::Serialize;

/// Whether a printed claim agrees with first principles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Holds,
    Differs,
}

/// One checked equation or claim.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    /// Short id such as `eq17`, `theorem3` or `fig3-exact`.
    pub id: &'static str,
    /// The claim as printed, in words and ASCII math.
    pub claim: String,
    pub verdict: Verdict,
    /// Largest deviation found between printed and first-principles values (absolute unless
    /// `measure` names another measure); 0 when they agree exactly.
    pub max_deviation: f64,
    /// Largest deviation still counted as agreement.
    pub tolerance: f64,
    /// Description of the measure behind `max_deviation`.
    pub measure: &'static str,
    /// Number of inputs evaluated.
    pub cases: usize,
    /// Number of inputs whose deviation exceeds the tolerance.
    pub failing_cases: usize,
    /// An input where the claim fails, with both values, when the verdict is `differs`.
    pub witness: Option<serde_json::Value>,
}

/// Accumulates deviations over many cases and keeps the worst one as the witness.
pub(crate) struct Tally {
    id: &'static str,
    claim: String,
    tolerance: f64,
    measure: &'static str,
    cases: usize,
    failing_cases: usize,
    worst: f64,
    witness: Option<serde_json::Value>,
}

impl Tally {
    pub(crate) fn new(
        id: &'static str,
        claim: impl Into<String>,
        tolerance: f64,
        measure: &'static str,
    ) -> Tally {
        Tally {
            id,
            claim: claim.into(),
            tolerance,
            measure,
            cases: 0,
            failing_cases: 0,
            worst: 0.0,
            witness: None,
        }
    }

    /// Records one case; `witness` is built only if this case is the worst so far.
    pub(crate) fn record(&mut self, deviation: f64, witness: impl FnOnce() -> serde_json::Value) {
        self.cases += 1;
        let deviation = if deviation.is_nan() {
            f64::INFINITY
        } else {
            deviation
        };
        if deviation > self.tolerance {
            self.failing_cases += 1;
        }
        if deviation > self.worst || (self.witness.is_none() && deviation > self.tolerance) {
            self.worst = deviation;
            self.witness = Some(witness());
        }
    }

    pub(crate) fn finish(self) -> CheckRow {
        let differs = self.worst > self.tolerance;
        CheckRow {
            id: self.id,
            claim: self.claim,
            verdict: if differs {
                Verdict::Differs
            } else {
                Verdict::Holds
            },
            max_deviation: self.worst,
            tolerance: self.tolerance,
            measure: self.measure,
            cases: self.cases,
            failing_cases: self.failing_cases,
            witness: if differs { self.witness } else { None },
        }
    }
}

/// Relative deviation `|a - b| / max(1, |b|)`, the measure for identities evaluated in f64.
pub(crate) fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1.0)
}

/// The seed of every random input the checks draw, so the table is reproducible.
pub const SEED: u64 = 2020;

/// Runs every check, in the order of the source's equations.
pub fn run_all() -> Vec<CheckRow> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut rows = Vec::new();
    rows.extend(learning_rule::rows(&mut rng));
    rows.extend(null_epoch::rows(&mut rng));
    rows.extend(softmax::rows(&mut rng));
    rows.extend(table1::rows());
    rows
}
