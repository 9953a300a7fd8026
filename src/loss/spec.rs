//! The loss spec language shared by every command: `ce`, `mse`, `baikal`,
//! `taylorglo:L0,...,L7`, `coeffs:C1,CH,CHH,CHY,CY,CYY` and `taylorglo-cifar10`.

use thiserror::Error;

use super::{COEFFICIENT_NAMES, Coefficients, Loss};
use crate::exact::{ParseRationalError, Rational, format_rational, parse_rational};

/// The accepted spec forms, quoted in every error.
pub const ACCEPTED_SPECS: &str = "ce, mse, baikal, taylorglo:L0,L1,L2,L3,L4,L5,L6,L7, \
     coeffs:C1,CH,CHH,CHY,CY,CYY or taylorglo-cifar10";

/// Coefficients of the CIFAR-10 AllCNN-C TaylorGLO loss, in `c_1, c_h, c_hh, c_hy, c_y,
/// c_yy` order, reconstructed from the numbers the paper prints.
///
/// The null-epoch rows (Appendix C, Eq. 28) print gamma for non-targets as
/// `-373.917 - 130.264 h - 11.2188 h^2` and for targets as
/// `-372.470735 - 131.47 h - 11.2188 h^2`, and Section 4.1 prints `a = -373.917`,
/// `b = -129.928`, `c = -11.3145`. With `gamma = c_1 + c_h h + c_hh h^2 + c_hy h y + c_y y +
/// c_yy y^2`:
///
/// - `c_1 = -373.917`, `c_h = -130.264`, `c_hh = -11.2188`: the non-target row (`y = 0`).
/// - `c_hy = -131.47 - (-130.264) = -1.206`: the difference of the `h` terms of the two rows.
/// - `c_y = b - c_h = -129.928 + 130.264 = 0.336`, since `b = c_h + c_y`.
/// - `c_yy = -372.470735 - c_1 - c_y = 1.110265`: the target row's constant is
///   `c_1 + c_y + c_yy`, and it is the printed number with the most digits.
///
/// Then `c = c_hh + c_hy + c_yy = -11.314535`, which rounds to the printed `-11.3145`, and
/// `a = c_1` as printed, so every printed number is reproduced to its printed precision.
pub const CIFAR10_COEFFICIENTS: [&str; 6] = [
    "-373.917", "-130.264", "-11.2188", "-1.206", "0.336", "1.110265",
];

/// A loss spec that could not be parsed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LossSpecError {
    #[error("unknown loss {spec:?}: expected one of {ACCEPTED_SPECS}")]
    Unknown { spec: String },

    #[error(
        "loss {spec:?} has {found} values, but {family} takes exactly {expected} \
         ({names}), separated by commas"
    )]
    WrongCount {
        spec: String,
        family: &'static str,
        expected: usize,
        found: usize,
        names: String,
    },

    #[error(
        "loss {spec:?}: value {position} ({name}) is beyond the f64 range (magnitude up to \
         about 1.8e308) that training and the figures evaluate in; scale the loss down"
    )]
    OutOfRange {
        spec: String,
        position: usize,
        name: String,
    },

    #[error("loss {spec:?}: value {position} ({name}) is invalid")]
    InvalidValue {
        spec: String,
        position: usize,
        name: String,
        #[source]
        source: ParseRationalError,
    },
}

/// Parses a loss spec (see [`ACCEPTED_SPECS`]); names are case-insensitive.
pub fn parse_loss(text: &str) -> Result<Loss, LossSpecError> {
    let trimmed = text.trim();
    let (name, values) = match trimmed.split_once(':') {
        Some((name, values)) => (name.trim().to_ascii_lowercase(), Some(values)),
        None => (trimmed.to_ascii_lowercase(), None),
    };
    let unknown = || LossSpecError::Unknown {
        spec: text.to_string(),
    };
    match (name.as_str(), values) {
        ("ce" | "cross-entropy" | "crossentropy", None) => Ok(Loss::CrossEntropy),
        ("mse", None) => Ok(Loss::MeanSquaredError),
        ("baikal", None) => Ok(Loss::Baikal),
        ("taylorglo-cifar10", None) => Ok(Loss::taylorglo_cifar10()),
        ("taylorglo", Some(values)) => {
            let names: Vec<String> = (0..8).map(|i| format!("lambda_{i}")).collect();
            let lambda = parse_values::<8>(text, "taylorglo", values, &names)?;
            Ok(Loss::TaylorGlo { lambda })
        }
        ("coeffs", Some(values)) => {
            let names = COEFFICIENT_NAMES.map(String::from);
            let values = parse_values::<6>(text, "coeffs", values, &names)?;
            Ok(Loss::CoefficientForm {
                coefficients: Coefficients::from_array(values),
                name: None,
            })
        }
        _ => Err(unknown()),
    }
}

fn parse_values<const N: usize>(
    spec: &str,
    family: &'static str,
    values: &str,
    names: &[String],
) -> Result<[Rational; N], LossSpecError> {
    let parts: Vec<&str> = values.split(',').collect();
    if parts.len() != N {
        return Err(LossSpecError::WrongCount {
            spec: spec.to_string(),
            family,
            expected: N,
            found: parts.len(),
            names: names.join(", "),
        });
    }
    let mut parsed = Vec::with_capacity(N);
    for (index, part) in parts.iter().enumerate() {
        let value = parse_rational(part).map_err(|source| LossSpecError::InvalidValue {
            spec: spec.to_string(),
            position: index + 1,
            name: names[index].clone(),
            source,
        })?;
        if !crate::exact::to_f64(&value).is_finite() {
            return Err(LossSpecError::OutOfRange {
                spec: spec.to_string(),
                position: index + 1,
                name: names[index].clone(),
            });
        }
        parsed.push(value);
    }
    Ok(parsed.try_into().expect("length checked above"))
}

/// Formats a loss as the spec that [`parse_loss`] reads back to it.
pub fn format_loss(loss: &Loss) -> String {
    let join = |values: &[Rational]| {
        values
            .iter()
            .map(format_rational)
            .collect::<Vec<_>>()
            .join(",")
    };
    match loss {
        Loss::MeanSquaredError => "mse".to_string(),
        Loss::CrossEntropy => "ce".to_string(),
        Loss::Baikal => "baikal".to_string(),
        Loss::TaylorGlo { lambda } => format!("taylorglo:{}", join(lambda)),
        Loss::CoefficientForm {
            name: Some(name), ..
        } => name.to_string(),
        Loss::CoefficientForm {
            coefficients,
            name: None,
        } => {
            format!("coeffs:{}", join(&coefficients.to_array()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips() {
        for spec in [
            "ce",
            "mse",
            "baikal",
            "taylorglo-cifar10",
            "taylorglo:0,0,0,-1,0,2,0,0",
        ] {
            let loss = parse_loss(spec).unwrap();
            assert_eq!(parse_loss(&loss.spec()).unwrap(), loss, "{spec}");
        }
        let loss = parse_loss("coeffs:1/3,0.5,-2,1e-3,0,7").unwrap();
        assert_eq!(parse_loss(&loss.spec()).unwrap(), loss);
    }

    #[test]
    fn wrong_count_names_expected() {
        let error = parse_loss("taylorglo:1,2,3").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("has 3 values"), "{message}");
        assert!(message.contains("exactly 8"), "{message}");
    }

    #[test]
    fn nan_value_names_position() {
        let error = parse_loss("coeffs:1,2,NaN,4,5,6").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("value 3 (c_hh)"), "{message}");
        let source = std::error::Error::source(&error)
            .expect("the number error")
            .to_string();
        assert!(source.contains("\"NaN\""), "{source}");
    }

    #[test]
    fn unknown_lists_accepted() {
        let message = parse_loss("hinge").unwrap_err().to_string();
        assert!(message.contains("\"hinge\""), "{message}");
        assert!(message.contains("taylorglo-cifar10"), "{message}");
    }
}
