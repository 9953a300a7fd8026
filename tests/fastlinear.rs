//! The fused linear layer against candle's matmul, broadcast addition and ReLU, and the strided
//! matrix multiply behind it against a plain triple loop.
//!
//! Each comparison runs in a three-thread pool, so the multiply splits the rows of its result
//! into blocks of unequal size whatever the machine's core count.

mod common;

use approx::relative_eq;
use candle_core::{DType, Device, Tensor};
use common::{assert_close, flat, in_pool, probe_gradients, random_values, random_var};
use lossdyn::fastlinear::linear;
use lossdyn::matmul::{MatMut, MatRef, matmul};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

/// Candle's own operations for the layer.
fn reference_linear(input: &Tensor, weight: &Tensor, bias: &Tensor, relu: bool) -> Tensor {
    let output = input
        .matmul(&weight.t().unwrap())
        .unwrap()
        .broadcast_add(bias)
        .unwrap();
    if relu { output.relu().unwrap() } else { output }
}

/// Compares the fused layer with candle's operations in value and in every gradient.
fn check_linear(
    batch: usize,
    inputs: usize,
    outputs: usize,
    relu: bool,
    dtype: DType,
    tolerance: f64,
    seed: u64,
) -> Result<(), TestCaseError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let input = random_var(&mut rng, &[batch, inputs], dtype);
    let weight = random_var(&mut rng, &[outputs, inputs], dtype);
    let bias = random_var(&mut rng, &[outputs], dtype);
    let probe = random_var(&mut rng, &[batch, outputs], dtype);
    let (x, w, b) = (input.as_tensor(), weight.as_tensor(), bias.as_tensor());

    let ours = in_pool(|| linear(x, w, b, relu).unwrap());
    let reference = reference_linear(x, w, b, relu);
    prop_assert_eq!(ours.dims(), reference.dims());
    assert_close(&flat(&ours), &flat(&reference), tolerance, "output")?;

    // A random linear functional of the output gives a non-trivial gradient everywhere.
    let ours_grads = in_pool(|| probe_gradients(&ours, probe.as_tensor()));
    let reference_grads = probe_gradients(&reference, probe.as_tensor());
    for (var, name) in [(&input, "input"), (&weight, "weight"), (&bias, "bias")] {
        let left = flat(ours_grads.get(var.as_tensor()).unwrap());
        let right = flat(reference_grads.get(var.as_tensor()).unwrap());
        assert_close(&left, &right, tolerance, name)?;
    }

    // Without a tracked input the layer skips the input gradient but keeps the others.
    let constant = x.detach();
    let output = in_pool(|| linear(&constant, w, b, relu).unwrap());
    let grads = probe_gradients(&output, probe.as_tensor());
    prop_assert!(grads.get(&constant).is_none());
    for (var, name) in [(&weight, "weight"), (&bias, "bias")] {
        let left = flat(grads.get(var.as_tensor()).unwrap());
        let right = flat(reference_grads.get(var.as_tensor()).unwrap());
        assert_close(&left, &right, tolerance, name)?;
    }

    // A weight that needs no gradient gets none; the input and bias gradients stay.
    let constant_weight = w.detach();
    let output = in_pool(|| linear(x, &constant_weight, b, relu).unwrap());
    let grads = probe_gradients(&output, probe.as_tensor());
    prop_assert!(grads.get(&constant_weight).is_none());
    for (var, name) in [(&input, "input"), (&bias, "bias")] {
        let left = flat(grads.get(var.as_tensor()).unwrap());
        let right = flat(reference_grads.get(var.as_tensor()).unwrap());
        assert_close(&left, &right, tolerance, name)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// In f64 the layer agrees with candle's operations to 1e-10. Shapes reach past the
    /// multiply's threshold for splitting rows between threads.
    #[test]
    fn linear_matches_candle_f64(
        batch in 1usize..80,
        inputs in 1usize..50,
        outputs in 1usize..40,
        relu in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_linear(batch, inputs, outputs, relu, DType::F64, 1e-10, seed)?;
    }

    /// In f32, the precision of training, the layer agrees with candle to 1e-4: sums of up to
    /// 80 products of numbers below 1 in magnitude lose at most a few units in the last place
    /// each.
    #[test]
    fn linear_matches_candle_f32(
        batch in 1usize..80,
        inputs in 1usize..50,
        outputs in 1usize..40,
        relu in any::<bool>(),
        seed in any::<u64>(),
    ) {
        check_linear(batch, inputs, outputs, relu, DType::F32, 1e-4, seed)?;
    }
}

#[test]
fn linear_rejects_mismatched_shapes() {
    let input = Tensor::zeros((4, 3), DType::F32, &Device::Cpu).unwrap();
    let weight = Tensor::zeros((2, 5), DType::F32, &Device::Cpu).unwrap();
    let bias = Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap();
    let error = linear(&input, &weight, &bias, true)
        .unwrap_err()
        .to_string();
    assert!(error.contains("does not fit input"), "{error}");

    let weight = Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap();
    let bias = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    let error = linear(&input, &weight, &bias, false)
        .unwrap_err()
        .to_string();
    assert!(error.contains("bias"), "{error}");
}

/// A matrix stored with a row stride larger than its width, row by row or transposed.
struct Stored {
    data: Vec<f64>,
    rows: usize,
    cols: usize,
    padding: usize,
    transposed: bool,
}

impl Stored {
    fn random(
        rng: &mut ChaCha8Rng,
        rows: usize,
        cols: usize,
        padding: usize,
        transposed: bool,
    ) -> Self {
        let (outer, inner) = if transposed {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let data = random_values(rng, outer * (inner + padding));
        Stored {
            data,
            rows,
            cols,
            padding,
            transposed,
        }
    }

    fn entry(&self, i: usize, j: usize) -> f64 {
        if self.transposed {
            self.data[j * (self.rows + self.padding) + i]
        } else {
            self.data[i * (self.cols + self.padding) + j]
        }
    }

    fn view(&self) -> MatRef<'_, f64> {
        if self.transposed {
            MatRef::strided(
                &self.data,
                self.cols,
                self.rows,
                self.rows + self.padding,
                1,
            )
            .t()
        } else {
            MatRef::strided(
                &self.data,
                self.rows,
                self.cols,
                self.cols + self.padding,
                1,
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The multiply of strided and transposed views agrees with a triple loop to 1e-12, both
    /// when it overwrites the result and when it adds to it.
    #[test]
    fn matmul_matches_triple_loop(
        rows in 0usize..70,
        cols in 0usize..40,
        depth in 0usize..40,
        lhs_padding in 0usize..3,
        rhs_padding in 0usize..3,
        lhs_transposed in any::<bool>(),
        rhs_transposed in any::<bool>(),
        accumulate in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let lhs = Stored::random(&mut rng, rows, depth, lhs_padding, lhs_transposed);
        let rhs = Stored::random(&mut rng, depth, cols, rhs_padding, rhs_transposed);
        let initial = random_values(&mut rng, rows * cols);
        let mut result = initial.clone();
        in_pool(|| {
            matmul(MatMut::row_major(&mut result, rows, cols), lhs.view(), rhs.view(), accumulate)
        });
        for i in 0..rows {
            for j in 0..cols {
                let product: f64 = (0..depth).map(|k| lhs.entry(i, k) * rhs.entry(k, j)).sum();
                let expected = if accumulate { initial[i * cols + j] + product } else { product };
                let actual = result[i * cols + j];
                prop_assert!(
                    relative_eq!(actual, expected, epsilon = 1e-12, max_relative = 1e-12),
                    "({}, {}): {} vs {}", i, j, actual, expected
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "cannot multiply 2x3 by 4x2")]
fn matmul_rejects_mismatched_shapes() {
    let lhs = vec![0.0; 6];
    let rhs = vec![0.0; 8];
    let mut result = vec![0.0; 4];
    matmul(
        MatMut::row_major(&mut result, 2, 2),
        MatRef::row_major(&lhs, 2, 3),
        MatRef::row_major(&rhs, 4, 2),
        false,
    );
}

#[test]
fn buffers_are_reused_by_size() {
    use lossdyn::matmul::{return_buffer, take_buffer};
    // A thread of its own, so the pool starts empty.
    std::thread::spawn(|| {
        let fresh: Vec<f32> = take_buffer(1000);
        assert_eq!(fresh.len(), 1000);
        assert!(
            fresh.iter().all(|&value| value == 0.0),
            "a new buffer is zeroed"
        );
        let address = fresh.as_ptr();
        return_buffer(fresh);

        // A smaller request reuses the buffer, cut to the requested length.
        let reused: Vec<f32> = take_buffer(600);
        assert_eq!(reused.len(), 600);
        assert_eq!(reused.as_ptr(), address);
        return_buffer(reused);

        // A larger one cannot, and gets a new buffer of its own.
        let larger: Vec<f32> = take_buffer(5000);
        assert_eq!(larger.len(), 5000);
        assert_ne!(larger.as_ptr(), address);

        // f64 buffers come from a separate pool.
        let other: Vec<f64> = take_buffer(10);
        assert_eq!(other.len(), 10);
    })
    .join()
    .unwrap();
}

#[test]
fn buffer_pool_keeps_the_largest_four() {
    use lossdyn::matmul::{return_buffer, take_buffer};
    std::thread::spawn(|| {
        for size in [10, 20, 30, 40, 50] {
            return_buffer(vec![0.0f64; size]);
        }
        // The 10-element buffer was dropped, so a request for 5 gets the next smallest.
        let buffer: Vec<f64> = take_buffer(5);
        assert_eq!(buffer.capacity(), 20);
    })
    .join()
    .unwrap();
}
