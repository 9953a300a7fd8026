//! Helpers shared by the tests of the CPU layers: random tensors, comparison with a tolerance
//! and a thread pool of fixed size.

// Each test crate compiles this module and uses only some of the helpers.
#![allow(dead_code)]

use approx::relative_eq;
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use proptest::prelude::*;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

/// Runs `f` in a three-thread pool, so that work split between threads falls into blocks of
/// unequal size whatever the machine's core count.
pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(f)
}

pub fn random_values(rng: &mut ChaCha8Rng, count: usize) -> Vec<f64> {
    (0..count).map(|_| rng.random_range(-1.0..1.0)).collect()
}

pub fn random_var(rng: &mut ChaCha8Rng, dims: &[usize], dtype: DType) -> Var {
    let count = dims.iter().product();
    let tensor = Tensor::from_vec(random_values(rng, count), dims, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    Var::from_tensor(&tensor).unwrap()
}

pub fn flat(tensor: &Tensor) -> Vec<f64> {
    tensor
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

/// Checks that `left` and `right` agree to `tolerance`, relative to the larger magnitude or
/// absolute below 1.
pub fn assert_close(
    left: &[f64],
    right: &[f64],
    tolerance: f64,
    quantity: &str,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(left.len(), right.len(), "{} length", quantity);
    for (i, (a, b)) in left.iter().zip(right).enumerate() {
        prop_assert!(
            relative_eq!(a, b, epsilon = tolerance, max_relative = tolerance),
            "{} [{}]: {} vs {}",
            quantity,
            i,
            a,
            b
        );
    }
    Ok(())
}

/// Returns the gradients of `sum(output * probe)`. With a random `probe` this linear
/// functional of the output gives every gradient entry a non-trivial value.
pub fn probe_gradients(output: &Tensor, probe: &Tensor) -> GradStore {
    (output * probe)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
}
