//! The im2col convolution against candle's own `conv2d`: values and gradients for random
//! shapes, strides and paddings, in f64.

mod common;

use candle_core::DType;
use candle_core::{Device, Tensor, Var};
use common::{in_pool, probe_gradients, random_var};
use lossdyn::fastconv::{conv2d, conv2d_bias, conv2d_layer};
use proptest::prelude::*;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

fn random_tensor(rng: &mut ChaCha8Rng, shape: (usize, usize, usize, usize)) -> Var {
    let count = shape.0 * shape.1 * shape.2 * shape.3;
    let values: Vec<f64> = (0..count).map(|_| rng.random_range(-1.0..1.0)).collect();
    Var::from_vec(values, shape, &Device::Cpu).unwrap()
}

fn flat(tensor: &Tensor) -> Vec<f64> {
    tensor.flatten_all().unwrap().to_vec1::<f64>().unwrap()
}

fn assert_close(left: &[f64], right: &[f64], quantity: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(left.len(), right.len());
    for (i, (a, b)) in left.iter().zip(right).enumerate() {
        prop_assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "{} [{}]: {} vs {}",
            quantity,
            i,
            a,
            b
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Output, input gradient and kernel gradient agree with candle's conv2d and with exact
    /// finite differences to 1e-9 relative.
    #[test]
    fn matches_candle_conv2d(
        batch in 1usize..4,
        channels in 1usize..5,
        out_channels in 1usize..6,
        height in 3usize..12,
        width in 3usize..12,
        kernel in 1usize..4,
        stride in 1usize..3,
        padding in 0usize..2,
        seed in any::<u64>(),
    ) {
        prop_assume!(kernel <= height + 2 * padding && kernel <= width + 2 * padding);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let input = random_tensor(&mut rng, (batch, channels, height, width));
        let weights = random_tensor(&mut rng, (out_channels, channels, kernel, kernel));
        let ours = conv2d(input.as_tensor(), weights.as_tensor(), stride, padding).unwrap();
        let reference = input.as_tensor().conv2d(weights.as_tensor(), padding, stride, 1, 1).unwrap();
        prop_assert_eq!(ours.dims(), reference.dims());
        assert_close(&flat(&ours), &flat(&reference), "output")?;

        // A random linear functional of the output gives non-trivial gradients.
        let probe = random_tensor(&mut rng, reference.dims4().unwrap());
        let ours_grads = (&ours * probe.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        // NOTE: candle 0.11's conv2d backward takes the transposed convolution's output padding
        // from the height alone. It fails with a shape error when height and width leave
        // different remainders modulo the stride, so compare with it only where they agree.
        let remainder = |size: usize| (size + 2 * padding - kernel) % stride;
        if remainder(height) == remainder(width) {
            let reference_grads = (&reference * probe.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
            for (var, name) in [(&input, "input gradient"), (&weights, "kernel gradient")] {
                let left = flat(ours_grads.get(var.as_tensor()).unwrap());
                let right = flat(reference_grads.get(var.as_tensor()).unwrap());
                assert_close(&left, &right, name)?;
            }
        }
        // The functional is linear in the input and in the kernel, so a unit finite difference
        // is its exact partial derivative up to rounding. Every gradient entry is checked that way.
        let functional = |x: &Tensor, w: &Tensor| -> f64 {
            let output = conv2d(x, w, stride, padding).unwrap();
            (output * probe.as_tensor()).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
        };
        let base = functional(input.as_tensor(), weights.as_tensor());
        for (var, name, is_input) in [(&input, "input gradient", true), (&weights, "kernel gradient", false)] {
            let gradient = flat(ours_grads.get(var.as_tensor()).unwrap());
            let values = flat(var.as_tensor());
            let mut differences = Vec::with_capacity(values.len());
            for i in 0..values.len() {
                let mut bumped = values.clone();
                bumped[i] += 1.0;
                let bumped = Tensor::from_vec(bumped, var.as_tensor().shape(), &Device::Cpu).unwrap();
                let value = if is_input {
                    functional(&bumped, weights.as_tensor())
                } else {
                    functional(input.as_tensor(), &bumped)
                };
                differences.push(value - base);
            }
            assert_close(&gradient, &differences, name)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The fused layer with bias agrees with candle's conv2d plus a broadcast bias in value and
    /// in the input, kernel and bias gradients, to 1e-9 relative. When the input needs no
    /// gradient, the layer still gives the kernel and bias gradients and none for the input.
    #[test]
    fn bias_layer_matches_candle(
        batch in 1usize..4,
        channels in 1usize..4,
        out_channels in 1usize..5,
        size in 3usize..9,
        kernel in 1usize..4,
        stride in 1usize..3,
        padding in 0usize..2,
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let input = random_tensor(&mut rng, (batch, channels, size, size));
        let weights = random_tensor(&mut rng, (out_channels, channels, kernel, kernel));
        let bias = random_tensor(&mut rng, (1, 1, 1, out_channels));
        let bias = Var::from_tensor(&bias.as_tensor().flatten_all().unwrap()).unwrap();
        let ours = conv2d_bias(input.as_tensor(), weights.as_tensor(), bias.as_tensor(), stride, padding).unwrap();
        let reference = input
            .as_tensor()
            .conv2d(weights.as_tensor(), padding, stride, 1, 1)
            .unwrap()
            .broadcast_add(&bias.as_tensor().reshape((1, out_channels, 1, 1)).unwrap())
            .unwrap();
        assert_close(&flat(&ours), &flat(&reference), "output")?;
        let probe = random_tensor(&mut rng, reference.dims4().unwrap());
        let ours_grads = (&ours * probe.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        let reference_grads = (&reference * probe.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        for (var, name) in [(&input, "input"), (&weights, "kernel"), (&bias, "bias")] {
            let left = flat(ours_grads.get(var.as_tensor()).unwrap());
            let right = flat(reference_grads.get(var.as_tensor()).unwrap());
            assert_close(&left, &right, name)?;
        }

        let constant = input.as_tensor().detach();
        let output = conv2d_bias(&constant, weights.as_tensor(), bias.as_tensor(), stride, padding).unwrap();
        let grads = (&output * probe.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        prop_assert!(grads.get(&constant).is_none());
        for (var, name) in [(&weights, "kernel"), (&bias, "bias")] {
            let left = flat(grads.get(var.as_tensor()).unwrap());
            let right = flat(reference_grads.get(var.as_tensor()).unwrap());
            assert_close(&left, &right, name)?;
        }
    }
}

/// Compares the fused layer (bias, optional ReLU, columns kept or recomputed) with candle's
/// conv2d, broadcast addition and ReLU, in value and, where candle's backward pass handles the
/// shape, in every gradient.
#[allow(clippy::too_many_arguments)]
fn check_layer(
    batch: usize,
    channels: usize,
    out_channels: usize,
    (height, width): (usize, usize),
    kernel: usize,
    stride: usize,
    padding: usize,
    (relu, keep): (bool, bool),
    dtype: DType,
    tolerance: f64,
    seed: u64,
) -> Result<(), TestCaseError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input = random_var(&mut rng, &[batch, channels, height, width], dtype);
    let weights = random_var(&mut rng, &[out_channels, channels, kernel, kernel], dtype);
    let bias = random_var(&mut rng, &[out_channels], dtype);
    let (x, w, b) = (input.as_tensor(), weights.as_tensor(), bias.as_tensor());
    let ours = in_pool(|| conv2d_layer(x, w, b, stride, padding, relu, keep).unwrap());
    let mut reference = x
        .conv2d(w, padding, stride, 1, 1)
        .unwrap()
        .broadcast_add(&b.reshape((1, out_channels, 1, 1)).unwrap())
        .unwrap();
    if relu {
        reference = reference.relu().unwrap();
    }
    prop_assert_eq!(ours.dims(), reference.dims());
    common::assert_close(
        &common::flat(&ours),
        &common::flat(&reference),
        tolerance,
        "output",
    )?;

    // See the NOTE in `matches_candle_conv2d` on candle's backward pass.
    let remainder = |size: usize| (size + 2 * padding - kernel) % stride;
    if remainder(height) != remainder(width) {
        return Ok(());
    }
    let probe = random_var(&mut rng, reference.dims(), dtype);
    let ours_grads = in_pool(|| probe_gradients(&ours, probe.as_tensor()));
    let reference_grads = probe_gradients(&reference, probe.as_tensor());
    for (var, name) in [(&input, "input"), (&weights, "kernel"), (&bias, "bias")] {
        let left = common::flat(ours_grads.get(var.as_tensor()).unwrap());
        let right = common::flat(reference_grads.get(var.as_tensor()).unwrap());
        common::assert_close(&left, &right, tolerance, name)?;
    }

    // A kernel that needs no gradient makes the layer recompute its columns in the backward
    // pass instead of keeping them. The input gradient must not change.
    let constant_kernel = w.detach();
    let output =
        in_pool(|| conv2d_layer(x, &constant_kernel, b, stride, padding, relu, true).unwrap());
    let grads = in_pool(|| probe_gradients(&output, probe.as_tensor()));
    prop_assert!(grads.get(&constant_kernel).is_none());
    let left = common::flat(grads.get(x).unwrap());
    let right = common::flat(reference_grads.get(x).unwrap());
    common::assert_close(&left, &right, tolerance, "input, recomputed columns")?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The layer with ReLU agrees with candle in f64 to 1e-9 on non-square inputs, strides up to
    /// 3 and paddings up to 2. Batches of up to 40 samples span several sample groups and every
    /// thread's block.
    #[test]
    fn relu_layer_matches_candle_f64(
        batch in 1usize..40,
        channels in 1usize..4,
        out_channels in 1usize..6,
        height in 3usize..14,
        width in 3usize..14,
        kernel in 1usize..4,
        stride in 1usize..4,
        padding in 0usize..3,
        relu in any::<bool>(),
        keep in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_layer(batch, channels, out_channels, (height, width), kernel, stride, padding, (relu, keep),
            DType::F64, 1e-9, seed)?;
    }

    /// In f32, the training precision, the layer agrees with candle to 1e-4: each output sums at
    /// most 27 products of numbers below 1, and each kernel gradient at most a few thousand.
    #[test]
    fn relu_layer_matches_candle_f32(
        batch in 1usize..24,
        channels in 1usize..4,
        out_channels in 1usize..6,
        size in 3usize..12,
        kernel in 1usize..4,
        stride in 1usize..3,
        padding in 0usize..2,
        seed in any::<u64>(),
    ) {
        check_layer(batch, channels, out_channels, (size, size), kernel, stride, padding, (true, true),
            DType::F32, 1e-4, seed)?;
    }
}

#[test]
fn layer_rejects_invalid_geometry() {
    let zeros = |dims: &[usize]| Tensor::zeros(dims, DType::F32, &Device::Cpu).unwrap();
    let input = zeros(&[2, 3, 5, 5]);
    let kernel = zeros(&[4, 3, 3, 3]);
    let bias = zeros(&[4]);
    let cases = [
        (
            zeros(&[2, 2, 5, 5]),
            kernel.clone(),
            bias.clone(),
            1,
            0,
            "does not fit input",
        ),
        (input.clone(), kernel.clone(), zeros(&[3]), 1, 0, "bias"),
        (
            input.clone(),
            kernel.clone(),
            bias.clone(),
            0,
            0,
            "stride 0",
        ),
        (
            zeros(&[2, 3, 2, 2]),
            kernel.clone(),
            bias.clone(),
            1,
            0,
            "does not fit",
        ),
    ];
    for (input, kernel, bias, stride, padding, expected) in cases {
        let error = conv2d_layer(&input, &kernel, &bias, stride, padding, true, true)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(expected),
            "expected {expected:?} in {error:?}"
        );
    }
}
