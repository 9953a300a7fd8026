//! Attraction toward zero training error as a curve over epsilon, and where it changes sign.
//!
//! # Definition
//!
//! For a loss, a number of classes `n >= 2` and `epsilon` in (0, 1), a sample sits at the
//! two-level softmax output with the target at `1 - epsilon` and each non-target at
//! `epsilon / (n - 1)`. Its attraction is [`crate::attraction::attraction`] applied to
//! [`Loss::gamma_pair`], in the first-principles form ([`Form::Exact`]) and in the form of
//! Eq. 17 as printed ([`Form::Printed`]). Every value on a curve goes through those two
//! functions, so the curve and the rest of the analysis cannot disagree.
//!
//! # Sign conditions
//!
//! Both forms share the factor `target_change(epsilon, df_T, df_-T)`, whose sign is the sign
//! of `df_T - df_-T` because `epsilon (1 - epsilon) > 0`. Hence
//!
//! ```text
//! sign(attraction_exact)   = sign(P_exact(epsilon)),   P_exact   = gamma_T - gamma_-T
//! sign(attraction_printed) = sign(P_printed(epsilon)), P_printed = df_T - df_-T (printed)
//! gamma_T  = gamma(1 - epsilon, 1),  gamma_-T = gamma(epsilon / (n - 1), 0)
//! df_T     = epsilon (epsilon - 1) (gamma_-T - gamma_T)
//! df_-T    = (epsilon (epsilon - 1) gamma_T (n - 1)
//!             + epsilon gamma_-T (epsilon (n - 3) + n - 1)) / (n - 1)^2
//! ```
//!
//! (the exact `df_T - df_-T` is `epsilon (1 - epsilon) n/(n - 1) (gamma_T - gamma_-T)`, whose
//! sign is that of `P_exact`). For a loss in coefficient form (MSE, TaylorGLO), gamma is a
//! quadratic in `h` with `y` fixed, so `P_exact` has degree at most 2 in epsilon and
//! `P_printed` at most 4, both with rational coefficients for a fixed `n`.
//! [`sign_polynomial`] evaluates them exactly in rational arithmetic at `epsilon = 0, 1, 2,
//! 3, 4` and interpolates, which recovers every polynomial of degree at most 4 exactly. The
//! roots then come from `crate::poly::roots::sign_change_roots`. For cross-entropy and
//! Baikal, gamma has `1/h` terms, and [`analyze_signs`] brackets sign changes of the f64
//! attraction on a fine grid and bisects them to [`NUMERIC_TOLERANCE`].
//!
//! # Reference
//!
//! Gonzalez and Miikkulainen, "Effective Regularization through Loss-Function Metalearning",
//! Theorem 2 (Eq. 17) and Appendix E (Figure 3).

use std::io::Write;

use num_traits::{Signed, Zero};
use serde::Serialize;
use thiserror::Error;

use crate::attraction::{self, DomainError, Form, check_classes, check_epsilon};
use crate::exact::{Rational, ratio, to_f64};
use crate::loss::Loss;
use crate::poly::roots;

/// Largest accepted number of grid points of a curve.
pub const MAX_POINTS: usize = 1_000_000;

/// Width in epsilon to which sign changes of cross-entropy and Baikal are bisected.
pub const NUMERIC_TOLERANCE: f64 = 1e-12;

/// Width of the rational brackets around exact polynomial roots (`10^-18`), far below the
/// spacing of f64 values near any root in (0, 1).
pub const EXACT_ROOT_WIDTH: i64 = 1_000_000_000_000_000_000;

/// Header of the CSV written by [`write_csv`].
pub const CSV_HEADER: &str = "n,epsilon,attraction_printed,attraction_exact";

/// Degree bound of [`sign_polynomial`]: `P_printed` is `epsilon (epsilon - 1)` times a
/// quadratic in epsilon.
const SIGN_POLYNOMIAL_DEGREE: i64 = 4;

/// An invalid curve request.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CurveError {
    #[error(transparent)]
    Domain(#[from] DomainError),

    #[error(
        "invalid number of points {0}: a curve needs between 2 and {MAX_POINTS} points in \
         (0, 1)"
    )]
    Points(usize),
}

/// One row of a curve: the attraction in both forms at one `(n, epsilon)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    pub n: usize,
    pub epsilon: f64,
    pub attraction_printed: f64,
    pub attraction_exact: f64,
}

impl CurvePoint {
    /// Returns the attraction in the given form.
    pub fn attraction(&self, form: Form) -> f64 {
        match form {
            Form::Exact => self.attraction_exact,
            Form::Printed => self.attraction_printed,
        }
    }
}

/// Returns `points` evenly spaced values `i / (points + 1)`, `i = 1..=points`, inside (0, 1).
pub fn grid(points: usize) -> Result<Vec<f64>, CurveError> {
    if !(2..=MAX_POINTS).contains(&points) {
        return Err(CurveError::Points(points));
    }
    let step = 1.0 / (points as f64 + 1.0);
    Ok((1..=points).map(|i| i as f64 * step).collect())
}

/// Evaluates the attraction of `loss` in both forms at `epsilon` for `n` classes.
pub fn evaluate(loss: &Loss, n: usize, epsilon: f64) -> Result<CurvePoint, DomainError> {
    check_classes(n)?;
    check_epsilon(epsilon)?;
    let (gamma_target, gamma_non_target) = loss.gamma_pair(epsilon, n);
    let value = |form| attraction::attraction(form, gamma_target, gamma_non_target, epsilon, n);
    Ok(CurvePoint {
        n,
        epsilon,
        attraction_printed: value(Form::Printed),
        attraction_exact: value(Form::Exact),
    })
}

/// Evaluates every `(n, epsilon)` pair, `n` in the outer loop.
pub fn evaluate_all(
    loss: &Loss,
    class_counts: &[usize],
    epsilons: &[f64],
) -> Result<Vec<CurvePoint>, DomainError> {
    let mut rows = Vec::with_capacity(class_counts.len() * epsilons.len());
    for &n in class_counts {
        for &epsilon in epsilons {
            rows.push(evaluate(loss, n, epsilon)?);
        }
    }
    Ok(rows)
}

/// Writes `rows` as CSV with the columns of [`CSV_HEADER`]. Floats are written in Rust's
/// shortest form that reads back to the same f64.
pub fn write_csv<W: Write>(rows: &[CurvePoint], mut writer: W) -> std::io::Result<()> {
    writeln!(writer, "{CSV_HEADER}")?;
    for row in rows {
        writeln!(
            writer,
            "{},{},{},{}",
            row.n,
            format_number(row.epsilon),
            format_number(row.attraction_printed),
            format_number(row.attraction_exact)
        )?;
    }
    writer.flush()
}

/// Returns a file-name-safe name for a loss: its spec where that is made of lowercase
/// letters, digits and hyphens (`baikal`, `taylorglo-cifar10`), otherwise the family
/// followed by a hash of the canonical spec (`taylorglo-3f2a9c1e`, `coeffs-0b7d44a2`).
///
/// The hash is 32-bit FNV-1a, chosen because its value is fixed by its definition and so
/// stays the same across Rust releases, unlike `std`'s `DefaultHasher`.
pub fn loss_slug(loss: &Loss) -> String {
    let spec = loss.spec();
    let safe = spec
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if safe {
        return spec;
    }
    let family = match loss {
        Loss::TaylorGlo { .. } => "taylorglo",
        _ => "coeffs",
    };
    let mut hash: u32 = 0x811c_9dc5;
    for byte in spec.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{family}-{hash:08x}")
}

/// Returns the default figure file name `curve-<loss>-n<N>[-<N>...].png`.
pub fn default_file_name(loss: &Loss, class_counts: &[usize]) -> String {
    let counts: Vec<String> = class_counts.iter().map(usize::to_string).collect();
    format!("curve-{}-n{}.png", loss_slug(loss), counts.join("-"))
}

/// The effect of the loss on samples on one side of a sign change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Positive attraction: the step pulls the sample toward its label.
    Pull,
    /// Negative attraction: the step pushes the sample away from its label.
    Push,
    /// Zero attraction: the step leaves the target probability unchanged.
    Neutral,
}

impl Effect {
    fn of_sign(sign: f64) -> Effect {
        if sign > 0.0 {
            Effect::Pull
        } else if sign < 0.0 {
            Effect::Push
        } else {
            Effect::Neutral
        }
    }
}

/// The method that found the sign changes of a curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootMethod {
    /// Rational polynomial roots, bracketed to [`EXACT_ROOT_WIDTH`].
    ExactPolynomial,
    /// Grid bracketing and f64 bisection to [`NUMERIC_TOLERANCE`].
    Numeric,
}

/// One sign change of the attraction at `epsilon`, inside `[lower, upper]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignChange {
    pub epsilon: f64,
    pub lower: f64,
    pub upper: f64,
    /// The exact rational bracket `(lower, upper)` for [`RootMethod::ExactPolynomial`];
    /// `lower == upper` when the root is that rational number exactly.
    pub bracket: Option<(Rational, Rational)>,
}

/// A stretch of epsilon between sign changes where the attraction keeps one sign.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SignInterval {
    pub lower: f64,
    pub upper: f64,
    pub effect: Effect,
}

/// The sign changes over (0, 1) of the attraction of one loss, form and `n`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignAnalysis {
    pub n: usize,
    pub form: Form,
    pub method: RootMethod,
    /// Sign changes in increasing epsilon.
    pub roots: Vec<SignChange>,
    /// The stretches between the sign changes, covering (0, 1) in order.
    pub intervals: Vec<SignInterval>,
    /// Ascending coefficients of the sign polynomial, for [`RootMethod::ExactPolynomial`].
    pub polynomial: Option<Vec<Rational>>,
}

impl SignAnalysis {
    /// Returns the epsilon of every sign change, in increasing order.
    pub fn root_values(&self) -> Vec<f64> {
        self.roots.iter().map(|root| root.epsilon).collect()
    }

    /// Describes in words which samples the loss pulls toward their labels and which it
    /// pushes away, e.g. `n=10, exact: pushes samples with eps < 0.684 (confidently
    /// learned) away from their labels; pulls samples with eps > 0.684 (weakly learned)
    /// toward their labels`.
    pub fn describe(&self) -> String {
        let prefix = format!("n={}, {}", self.n, self.form.name());
        let single = self.intervals.len() == 1;
        let mut clauses = Vec::new();
        for (index, interval) in self.intervals.iter().enumerate() {
            let range = describe_range(interval, single);
            let note = if single {
                ""
            } else if index == 0 {
                " (confidently learned)"
            } else if index + 1 == self.intervals.len() {
                " (weakly learned)"
            } else {
                ""
            };
            clauses.push(match interval.effect {
                Effect::Pull => format!("pulls samples with {range}{note} toward their labels"),
                Effect::Push => format!("pushes samples with {range}{note} away from their labels"),
                Effect::Neutral => format!("leaves samples with {range}{note} in place"),
            });
        }
        format!("{prefix}: {}", clauses.join("; "))
    }
}

fn describe_range(interval: &SignInterval, single: bool) -> String {
    let at_start = interval.lower <= 0.0;
    let at_end = interval.upper >= 1.0;
    match (at_start, at_end) {
        (true, true) if single => "every eps in (0, 1)".to_string(),
        (true, true) => "eps in (0, 1)".to_string(),
        (true, false) => format!("eps < {}", format_epsilon(interval.upper)),
        (false, true) => format!("eps > {}", format_epsilon(interval.lower)),
        (false, false) => format!(
            "{} < eps < {}",
            format_epsilon(interval.lower),
            format_epsilon(interval.upper)
        ),
    }
}

/// Formats a number as the shortest decimal that reads back to the same `f64`, in
/// scientific notation (`1e-320`, `2.5e20`) outside [1e-4, 1e15) so that no value prints as
/// hundreds of digits.
pub fn format_number(value: f64) -> String {
    let magnitude = value.abs();
    if value == 0.0 || !value.is_finite() || (1e-4..1e15).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// Formats an epsilon in (0, 1) to three significant digits of its distance to the nearer
/// end, so `0.684`, `0.99995` and `0.000123` all stay readable.
pub fn format_epsilon(epsilon: f64) -> String {
    let distance = epsilon.min(1.0 - epsilon).max(f64::MIN_POSITIVE);
    let decimals = (2 - distance.log10().floor() as i32).clamp(3, 17) as usize;
    let text = format!("{epsilon:.decimals$}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Finds where the attraction of `loss` in `form` changes sign over (0, 1), exactly for
/// losses in coefficient form and numerically for cross-entropy and Baikal.
pub fn analyze_signs(loss: &Loss, form: Form, n: usize) -> Result<SignAnalysis, DomainError> {
    check_classes(n)?;
    match sign_polynomial(loss, form, n)? {
        Some(polynomial) => Ok(analyze_polynomial(polynomial, form, n)),
        None => Ok(analyze_numerically(loss, form, n)),
    }
}

/// Returns the ascending coefficients in epsilon of the polynomial whose sign is the sign of
/// the attraction in `form` (module documentation), or `None` for a loss without a
/// coefficient form. Trailing zero coefficients are removed; an identically zero
/// polynomial is returned as an empty vector.
pub fn sign_polynomial(
    loss: &Loss,
    form: Form,
    n: usize,
) -> Result<Option<Vec<Rational>>, DomainError> {
    check_classes(n)?;
    if loss.coefficients().is_none() {
        return Ok(None);
    }
    let nodes: Vec<Rational> = (0..=SIGN_POLYNOMIAL_DEGREE).map(|k| ratio(k, 1)).collect();
    let mut values = Vec::with_capacity(nodes.len());
    for epsilon in &nodes {
        match sign_condition(loss, form, epsilon, n) {
            Some(value) => values.push(value),
            None => return Ok(None),
        }
    }
    let mut coefficients = interpolate(&nodes, &values);
    while coefficients.last().is_some_and(Zero::is_zero) {
        coefficients.pop();
    }
    Ok(Some(coefficients))
}

/// Evaluates `P_exact` or `P_printed` (module documentation) exactly at a rational
/// `epsilon`, or returns `None` where gamma is undefined there.
pub fn sign_condition(loss: &Loss, form: Form, epsilon: &Rational, n: usize) -> Option<Rational> {
    let one = ratio(1, 1);
    let gamma_target = loss.gamma_exact(&(&one - epsilon), &one)?;
    let non_target_probability = epsilon / ratio(n as i64 - 1, 1);
    let gamma_non_target = loss.gamma_exact(&non_target_probability, &Rational::zero())?;
    Some(match form {
        Form::Exact => gamma_target - gamma_non_target,
        Form::Printed => {
            let (target, non_target) =
                logit_steps_printed_exact(&gamma_target, &gamma_non_target, epsilon, n);
            target - non_target
        }
    })
}

/// Rational counterpart of [`attraction::logit_steps_printed`]: the exponents
/// `(df_T, df_-T)` of Eq. 17 as printed. A test in `tests/curve.rs` checks that the two agree.
pub fn logit_steps_printed_exact(
    gamma_target: &Rational,
    gamma_non_target: &Rational,
    epsilon: &Rational,
    n: usize,
) -> (Rational, Rational) {
    let m = ratio(n as i64 - 1, 1);
    let spread = epsilon * (epsilon - ratio(1, 1));
    let target = &spread * (gamma_non_target - gamma_target);
    let non_target = (&spread * gamma_target * &m
        + epsilon * gamma_non_target * (epsilon * ratio(n as i64 - 3, 1) + &m))
        / (&m * &m);
    (target, non_target)
}

/// Returns the ascending coefficients of the polynomial of degree below `nodes.len()` that
/// takes `values[i]` at `nodes[i]`, by Lagrange interpolation. The nodes must be distinct.
fn interpolate(nodes: &[Rational], values: &[Rational]) -> Vec<Rational> {
    let mut result = vec![Rational::zero(); nodes.len()];
    for (i, (node, value)) in nodes.iter().zip(values).enumerate() {
        // basis = prod_{j != i} (x - x_j) / (x_i - x_j), built one factor at a time.
        let mut basis = vec![ratio(1, 1)];
        let mut denominator = ratio(1, 1);
        for (j, other) in nodes.iter().enumerate() {
            if j == i {
                continue;
            }
            let mut next = vec![Rational::zero(); basis.len() + 1];
            for (power, coefficient) in basis.iter().enumerate() {
                next[power + 1] += coefficient;
                next[power] -= coefficient * other;
            }
            basis = next;
            denominator *= node - other;
        }
        let scale = value / denominator;
        for (total, coefficient) in result.iter_mut().zip(&basis) {
            *total += coefficient * &scale;
        }
    }
    result
}

fn analyze_polynomial(polynomial: Vec<Rational>, form: Form, n: usize) -> SignAnalysis {
    let zero = Rational::zero();
    let one = ratio(1, 1);
    let brackets = if polynomial.is_empty() {
        Vec::new()
    } else {
        roots::sign_change_roots(&polynomial, &zero, &one, &ratio(1, EXACT_ROOT_WIDTH))
    };
    let roots: Vec<SignChange> = brackets
        .into_iter()
        .map(|bracket| {
            let middle = (&bracket.lower + &bracket.upper) / ratio(2, 1);
            SignChange {
                epsilon: to_f64(&middle),
                lower: to_f64(&bracket.lower),
                upper: to_f64(&bracket.upper),
                bracket: Some((bracket.lower, bracket.upper)),
            }
        })
        .collect();

    // Between consecutive brackets the polynomial has no sign change, so its sign at any
    // inner point is the sign of the whole stretch. It may still touch zero at a root of
    // even multiplicity, where the attraction vanishes at a single epsilon.
    let mut edges = vec![zero];
    for root in &roots {
        let (lower, upper) = root.bracket.clone().expect("set above");
        edges.push(lower);
        edges.push(upper);
    }
    edges.push(one);
    let mut intervals = Vec::new();
    for pair in edges.chunks(2) {
        let (lower, upper) = (&pair[0], &pair[1]);
        if lower >= upper {
            continue;
        }
        let middle = (lower + upper) / ratio(2, 1);
        let value = roots::evaluate(&polynomial, &middle);
        let sign = if value.is_zero() {
            0.0
        } else if value.is_positive() {
            1.0
        } else {
            -1.0
        };
        intervals.push(SignInterval {
            lower: to_f64(lower),
            upper: to_f64(upper),
            effect: Effect::of_sign(sign),
        });
    }
    join_intervals(&mut intervals, &roots);
    SignAnalysis {
        n,
        form,
        method: RootMethod::ExactPolynomial,
        roots,
        intervals,
        polynomial: Some(polynomial),
    }
}

/// Makes consecutive intervals meet at the sign change between them.
fn join_intervals(intervals: &mut [SignInterval], roots: &[SignChange]) {
    if intervals.len() != roots.len() + 1 {
        return;
    }
    for (index, root) in roots.iter().enumerate() {
        intervals[index].upper = root.epsilon;
        intervals[index + 1].lower = root.epsilon;
    }
    if let Some(first) = intervals.first_mut() {
        first.lower = 0.0;
    }
    if let Some(last) = intervals.last_mut() {
        last.upper = 1.0;
    }
}

/// Points per decade of the logarithmic parts of the numeric search grid.
const SEARCH_POINTS_PER_DECADE: usize = 40;

/// Evenly spaced points of the numeric search grid.
const SEARCH_UNIFORM_POINTS: usize = 4_000;

/// Decades of the numeric search grid next to 0 and next to 1 (down to `10^-12`).
const SEARCH_DECADES: i32 = 12;

/// Returns the numeric search grid: evenly spaced points plus points spaced evenly in
/// `log10` toward both ends, so that a sign change within `10^-12` of 0 or 1 is bracketed.
fn search_grid() -> Vec<f64> {
    let mut points: Vec<f64> = (1..SEARCH_UNIFORM_POINTS)
        .map(|i| i as f64 / SEARCH_UNIFORM_POINTS as f64)
        .collect();
    let steps = SEARCH_DECADES as usize * SEARCH_POINTS_PER_DECADE;
    for step in 0..=steps {
        let exponent = -(SEARCH_DECADES as f64) + step as f64 / SEARCH_POINTS_PER_DECADE as f64;
        let small = 10f64.powf(exponent);
        if small < 0.5 {
            points.push(small);
            points.push(1.0 - small);
        }
    }
    points.sort_by(f64::total_cmp);
    points.dedup();
    points
}

/// Finds sign changes of the f64 attraction by bracketing on a fixed grid and bisecting to
/// [`NUMERIC_TOLERANCE`]. [`analyze_signs`] uses it for losses without a coefficient form.
/// It works for every loss, so tests compare it with the exact roots.
///
/// NOTE: the grid brackets a sign change only where the sign differs between neighbouring
/// grid points. Two sign changes closer than the grid spacing (1/4000 in the middle, 6% of
/// epsilon near the ends), or a double root where the curve touches zero without crossing,
/// can be missed.
pub fn analyze_signs_numerically(
    loss: &Loss,
    form: Form,
    n: usize,
) -> Result<SignAnalysis, DomainError> {
    check_classes(n)?;
    Ok(analyze_numerically(loss, form, n))
}

fn analyze_numerically(loss: &Loss, form: Form, n: usize) -> SignAnalysis {
    let sign = |epsilon: f64| {
        let (gamma_target, gamma_non_target) = loss.gamma_pair(epsilon, n);
        let value = attraction::attraction(form, gamma_target, gamma_non_target, epsilon, n);
        if value > 0.0 {
            1.0
        } else if value < 0.0 {
            -1.0
        } else {
            0.0
        }
    };
    let signed: Vec<(f64, f64)> = search_grid()
        .into_iter()
        .map(|epsilon| (epsilon, sign(epsilon)))
        .filter(|&(_, sign)| sign != 0.0)
        .collect();

    let mut roots = Vec::new();
    for pair in signed.windows(2) {
        let ((lower, lower_sign), (upper, upper_sign)) = (pair[0], pair[1]);
        if lower_sign != upper_sign {
            roots.push(bisect(&sign, lower, upper, lower_sign));
        }
    }

    let mut intervals: Vec<SignInterval> = Vec::new();
    let mut edges = vec![0.0];
    edges.extend(roots.iter().map(|root| root.epsilon));
    edges.push(1.0);
    for pair in edges.windows(2) {
        let middle = 0.5 * (pair[0] + pair[1]);
        intervals.push(SignInterval {
            lower: pair[0],
            upper: pair[1],
            effect: Effect::of_sign(sign(middle)),
        });
    }
    if signed.is_empty() {
        intervals = vec![SignInterval {
            lower: 0.0,
            upper: 1.0,
            effect: Effect::Neutral,
        }];
    }
    SignAnalysis {
        n,
        form,
        method: RootMethod::Numeric,
        roots,
        intervals,
        polynomial: None,
    }
}

/// Bisects a sign change of `sign` in `[lower, upper]` down to [`NUMERIC_TOLERANCE`].
fn bisect(
    sign: &impl Fn(f64) -> f64,
    mut lower: f64,
    mut upper: f64,
    lower_sign: f64,
) -> SignChange {
    while upper - lower > NUMERIC_TOLERANCE {
        let middle = 0.5 * (lower + upper);
        if middle <= lower || middle >= upper {
            break;
        }
        let middle_sign = sign(middle);
        if middle_sign == 0.0 {
            return SignChange {
                epsilon: middle,
                lower: middle,
                upper: middle,
                bracket: None,
            };
        }
        if middle_sign == lower_sign {
            lower = middle;
        } else {
            upper = middle;
        }
    }
    SignChange {
        epsilon: 0.5 * (lower + upper),
        lower,
        upper,
        bracket: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_recovers_a_quartic() {
        let expected = [
            ratio(3, 7),
            ratio(-2, 1),
            ratio(0, 1),
            ratio(5, 3),
            ratio(-1, 9),
        ];
        let nodes: Vec<Rational> = (0..5).map(|k| ratio(k, 1)).collect();
        let values: Vec<Rational> = nodes
            .iter()
            .map(|x| roots::evaluate(&expected, x))
            .collect();
        assert_eq!(interpolate(&nodes, &values), expected.to_vec());
    }

    #[test]
    fn epsilon_format_keeps_digits_near_ends() {
        assert_eq!(format_epsilon(0.68412), "0.684");
        assert_eq!(format_epsilon(0.99995), "0.99995");
        assert_eq!(format_epsilon(0.0001234), "0.000123");
    }

    #[test]
    fn grid_rejects_too_few_points() {
        assert_eq!(grid(1), Err(CurveError::Points(1)));
        assert_eq!(grid(3).unwrap(), vec![0.25, 0.5, 0.75]);
    }
}
