//! candle's backpropagation through a softmax linear model against the decomposed learning
//! rule `theta_j <- theta_j + eta (1/n) sum_k gamma_k D_j h_k` (Gonzalez and Miikkulainen,
//! Eq. 3), with gamma from the analysis core.

use candle_core::{DType, Device, Tensor, Var};
use lossdyn::loss::{Loss, parse_loss};
use proptest::prelude::*;

/// Returns `dL/dW` from candle's backward pass for `logits = x W^T + b`, `h = softmax`.
fn candle_gradient(
    loss: &Loss,
    weights: &[f64],
    bias: &[f64],
    inputs: &[f64],
    labels: &[usize],
    n: usize,
    d: usize,
) -> Vec<f64> {
    let device = Device::Cpu;
    let batch = labels.len();
    let w = Var::from_vec(weights.to_vec(), (n, d), &device).unwrap();
    let b = Tensor::from_vec(bias.to_vec(), n, &device).unwrap();
    let x = Tensor::from_vec(inputs.to_vec(), (batch, d), &device).unwrap();
    let logits = x
        .matmul(&w.as_tensor().t().unwrap())
        .unwrap()
        .broadcast_add(&b)
        .unwrap();
    let probs = candle_nn::ops::softmax(&logits, candle_core::D::Minus1).unwrap();
    let mut one_hot = vec![0.0; batch * n];
    for (i, &label) in labels.iter().enumerate() {
        one_hot[i * n + label] = 1.0;
    }
    let y = Tensor::from_vec(one_hot, (batch, n), &device)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let value = loss.batch_loss(&probs, &y).unwrap();
    let gradients = value.backward().unwrap();
    gradients
        .get(w.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

/// Returns `sum over the batch of (1/B)(1/n) sum_k gamma_k dh_k/dW[j][e]`, the update
/// direction of Eq. 3 averaged over the batch, with `dh_k/dW[j][e] = h_k (delta_kj - h_j) x_e`.
fn decomposed_update(
    loss: &Loss,
    weights: &[f64],
    bias: &[f64],
    inputs: &[f64],
    labels: &[usize],
    n: usize,
    d: usize,
) -> Vec<f64> {
    let batch = labels.len();
    let mut update = vec![0.0; n * d];
    for (i, &label) in labels.iter().enumerate() {
        let x = &inputs[i * d..(i + 1) * d];
        let logits: Vec<f64> = (0..n)
            .map(|j| bias[j] + (0..d).map(|e| weights[j * d + e] * x[e]).sum::<f64>())
            .collect();
        let h = lossdyn::learning_rule::softmax(&logits);
        let gammas: Vec<f64> = (0..n)
            .map(|k| loss.gamma(h[k], f64::from(u8::from(k == label))))
            .collect();
        for j in 0..n {
            let coupling: f64 = (0..n)
                .map(|k| gammas[k] * h[k] * (f64::from(u8::from(k == j)) - h[j]))
                .sum();
            for e in 0..d {
                update[j * d + e] += coupling * x[e] / (n * batch) as f64;
            }
        }
    }
    update
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// One SGD step, `W <- W - eta dL/dW`, equals `W + eta * decomposed_update` for every loss:
    /// the candle gradient is the negated update to 1e-9 relative.
    #[test]
    fn sgd_step_is_decomposed_rule(
        spec in prop_oneof![Just("ce"), Just("mse"), Just("baikal"), Just("taylorglo-cifar10"), Just("taylorglo:0.2,-0.7,1.5,-2,3,0.8,-1.1,0.6")],
        n in 2usize..12,
        d in 1usize..8,
        batch in 1usize..6,
        seed in any::<u64>(),
    ) {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
        let loss = parse_loss(spec).unwrap();
        let weights: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let bias: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let inputs: Vec<f64> = (0..batch * d).map(|_| rng.random_range(-2.0..2.0)).collect();
        let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..n)).collect();
        let gradient = candle_gradient(&loss, &weights, &bias, &inputs, &labels, n, d);
        let update = decomposed_update(&loss, &weights, &bias, &inputs, &labels, n, d);
        let scale = update.iter().fold(1e-12f64, |m, u| m.max(u.abs()));
        for (g, u) in gradient.iter().zip(&update) {
            prop_assert!((g + u).abs() <= 1e-9 * scale, "gradient {g}, update {u}");
        }
    }
}
