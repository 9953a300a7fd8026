//! Attraction toward zero training error of one logged softmax output.
//!
//! # Definition
//!
//! For a record with softmax output `h` over `n` classes and label `T`:
//!
//! ```text
//! epsilon   = 1 - h_T
//! gamma_T   = gamma(1 - epsilon, 1),   gamma_-T = gamma(epsilon / (n - 1), 0)
//! printed   = Eq. 17 as printed,            at (gamma_T, gamma_-T, epsilon, n)
//! exact     = first-principles Eq. 17,      at (gamma_T, gamma_-T, epsilon, n)
//! full      = first-principles attraction for the whole vector h, with gamma_k = gamma(h_k, y_k)
//! ```
//!
//! The two-level forms assume that all non-targets share `epsilon` equally; `full` assumes
//! nothing (see [`crate::attraction`]).
//!
//! # Edge cases
//!
//! A class with `h_k = 0` has a zero row in the softmax Jacobian, so its gamma (undefined for
//! cross-entropy and Baikal at `h = 0`) does not enter the logit step. It is set to 0. When
//! `epsilon` is 0 or 1 the two-level output has a zero Jacobian entry on the target and a
//! factor `epsilon (1 - epsilon) = 0` in both logit steps, so both two-level forms are 0 there,
//! whatever gamma is.
//!
//! # Reference
//!
//! Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function Metalearning",
//! Theorem 2 (Eq. 17) and Figure 1.

use crate::attraction::{Form, attraction, attraction_full};
use crate::loss::{Coefficients, Loss};

/// The three attraction forms computed for each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttractionForm {
    /// Eq. 17 as printed, under equal non-target probabilities.
    Printed,
    /// First principles, under equal non-target probabilities.
    Exact,
    /// First principles, on the record's whole softmax vector.
    Full,
}

impl AttractionForm {
    /// All forms, in the order of [`RecordAttraction::values`].
    pub const ALL: [AttractionForm; 3] = [
        AttractionForm::Printed,
        AttractionForm::Exact,
        AttractionForm::Full,
    ];

    /// Returns a short lowercase name for tables, column names and options.
    pub fn name(self) -> &'static str {
        match self {
            AttractionForm::Printed => "printed",
            AttractionForm::Exact => "exact",
            AttractionForm::Full => "full",
        }
    }

    /// Position in [`AttractionForm::ALL`].
    pub fn position(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for AttractionForm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AttractionForm::ALL
            .into_iter()
            .find(|form| form.name() == text)
            .ok_or_else(|| {
                format!("invalid attraction form '{text}': expected printed, exact or full")
            })
    }
}

/// Evaluates `gamma(h, y)` of a loss with the same arithmetic as [`Loss::gamma`], but with the
/// coefficients of polynomial losses converted to f64 once instead of on every call.
#[derive(Debug, Clone)]
pub struct GammaEvaluator {
    loss: Loss,
    polynomial: Option<Coefficients<f64>>,
}

impl GammaEvaluator {
    /// Prepares the evaluator for `loss`.
    pub fn new(loss: Loss) -> Self {
        // Loss::gamma goes through the exact coefficients for exactly these two variants. The
        // others keep their closed forms, so that results agree bit for bit.
        let polynomial = match &loss {
            Loss::TaylorGlo { .. } | Loss::CoefficientForm { .. } => loss
                .coefficients()
                .map(|coefficients| coefficients.to_f64()),
            _ => None,
        };
        GammaEvaluator { loss, polynomial }
    }

    /// Returns the loss being evaluated.
    pub fn loss(&self) -> &Loss {
        &self.loss
    }

    /// Returns `gamma(h, y)`, equal to `Loss::gamma(h, y)`.
    pub fn gamma(&self, h: f64, y: f64) -> f64 {
        match &self.polynomial {
            Some(coefficients) => coefficients.gamma(h, y),
            None => self.loss.gamma(h, y),
        }
    }

    /// Returns `(gamma_T, gamma_-T)`, equal to `Loss::gamma_pair(epsilon, n)`.
    pub fn gamma_pair(&self, epsilon: f64, n: usize) -> (f64, f64) {
        let target = self.gamma(1.0 - epsilon, 1.0);
        let non_target = self.gamma(epsilon / (n as f64 - 1.0), 0.0);
        (target, non_target)
    }
}

/// The quantities computed for one record (module documentation).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RecordAttraction {
    pub epsilon: f64,
    pub gamma_target: f64,
    pub gamma_non_target: f64,
    pub printed: f64,
    pub exact: f64,
    pub full: f64,
}

impl RecordAttraction {
    /// Returns the attraction values in [`AttractionForm::ALL`] order.
    pub fn values(&self) -> [f64; 3] {
        [self.printed, self.exact, self.full]
    }

    /// Returns the attraction in one form.
    pub fn value(&self, form: AttractionForm) -> f64 {
        self.values()[form.position()]
    }
}

/// Computes the attraction of a record. `probs` must be a validated probability vector with
/// at least two entries and `label < probs.len()`. `gammas` is scratch space.
pub fn record_attraction(
    evaluator: &GammaEvaluator,
    probs: &[f64],
    label: usize,
    gammas: &mut Vec<f64>,
) -> RecordAttraction {
    let n = probs.len();
    let epsilon = 1.0 - probs[label];
    let (gamma_target, gamma_non_target) = evaluator.gamma_pair(epsilon, n);
    let (printed, exact) = if epsilon > 0.0 && epsilon < 1.0 {
        (
            attraction(Form::Printed, gamma_target, gamma_non_target, epsilon, n),
            attraction(Form::Exact, gamma_target, gamma_non_target, epsilon, n),
        )
    } else {
        (0.0, 0.0)
    };

    gammas.clear();
    gammas.extend(probs.iter().enumerate().map(|(k, &h)| {
        if h == 0.0 {
            0.0
        } else {
            evaluator.gamma(h, if k == label { 1.0 } else { 0.0 })
        }
    }));
    let full = attraction_full(probs, gammas, label);

    RecordAttraction {
        epsilon,
        gamma_target,
        gamma_non_target,
        printed,
        exact,
        full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attraction::two_level_probs;

    #[test]
    fn full_matches_exact_on_two_level_output() {
        let evaluator = GammaEvaluator::new(Loss::taylorglo_cifar10());
        let probs = two_level_probs(0.3, 10, 4);
        let record = record_attraction(&evaluator, &probs, 4, &mut Vec::new());
        assert!((record.full - record.exact).abs() < 1e-12, "{record:?}");
    }

    #[test]
    fn one_hot_output_has_zero_attraction() {
        let evaluator = GammaEvaluator::new(Loss::CrossEntropy);
        let probs = [0.0, 1.0, 0.0];
        let record = record_attraction(&evaluator, &probs, 1, &mut Vec::new());
        assert_eq!(record.values(), [0.0, 0.0, 0.0]);
    }

    #[test]
    fn form_names_round_trip() {
        for form in AttractionForm::ALL {
            assert_eq!(form.name().parse::<AttractionForm>(), Ok(form));
        }
        assert!("eq17".parse::<AttractionForm>().is_err());
    }
}
