//! Forward plus backward of one 3x3 convolution layer, candle's `conv2d` against the im2col
//! operation in `lossdyn::fastconv`, on the layer shapes of the small CNN at batch 128.
//! Run with `cargo bench --bench conv`; the two variants of each shape run side by side.

use candle_core::{Device, Tensor, Var};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// (input channels, output channels, side, stride) of the small CNN's 3x3 layers.
const LAYERS: [(usize, usize, usize, usize); 4] = [
    (1, 32, 28, 1),
    (32, 32, 28, 2),
    (32, 64, 14, 1),
    (64, 64, 14, 2),
];

fn step(input: &Var, kernel: &Var, stride: usize, fast: bool) {
    let output = if fast {
        lossdyn::fastconv::conv2d(input.as_tensor(), kernel.as_tensor(), stride, 1).unwrap()
    } else {
        input
            .as_tensor()
            .conv2d(kernel.as_tensor(), 1, stride, 1, 1)
            .unwrap()
    };
    let gradients = output.sum_all().unwrap().backward().unwrap();
    assert!(gradients.get(input.as_tensor()).is_some());
}

fn convolution(c: &mut Criterion) {
    let device = Device::Cpu;
    let mut group = c.benchmark_group("conv3x3_forward_backward_batch128");
    group.sample_size(10);
    for (channels, out_channels, side, stride) in LAYERS {
        let input = Var::from_tensor(
            &Tensor::randn(0f32, 1.0, (128, channels, side, side), &device).unwrap(),
        )
        .unwrap();
        let kernel = Var::from_tensor(
            &Tensor::randn(0f32, 0.1, (out_channels, channels, 3, 3), &device).unwrap(),
        )
        .unwrap();
        let label = format!("{channels}to{out_channels}_{side}px_stride{stride}");
        for (name, fast) in [("candle", false), ("im2col", true)] {
            group.bench_with_input(BenchmarkId::new(name, &label), &fast, |b, &fast| {
                b.iter(|| step(&input, &kernel, stride, fast))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, convolution);
criterion_main!(benches);
