//! 2-D convolution on the CPU as im2col plus one matrix multiply, forward and backward.
//!
//! candle 0.11 computes the input gradient of `conv2d` with `conv_transpose2d`, which on the
//! CPU is a direct loop over every output, kernel and channel position, and that dominates
//! the training step of small convolutional networks. Here a convolution is
//!
//! ```text
//! cols = im2col(x)                       (batch * out_h * out_w, channels * k_h * k_w)
//! y    = cols . W^T                      (batch * out_h * out_w, out_channels)
//! ```
//!
//! followed by one pass that writes `(batch, out_channels, out_h, out_w)` and adds the bias.
//! The whole layer is one candle custom operation ([`conv2d_bias`]) whose backward pass
//! recomputes the columns and returns the kernel gradient `dY_rows^T . cols`, the bias
//! gradient and, when the input needs one, the input gradient `col2im(dY_rows . W)`, with
//! candle's fast matrix multiply doing the arithmetic in both directions. One node per layer
//! matters because candle's autograd allocates, zeroes and adds a gradient buffer for every
//! node. Only CPU storage is implemented: on other devices [`conv2d`] and [`conv2d_bias`] fall
//! back to candle's own `conv2d`, so the CUDA path is unchanged.

use candle_core::{
    CpuStorage, CustomOp3, DType, Layout, Module, Result, Shape, Storage, Tensor, WithDType, bail,
};
use rayon::prelude::*;

/// Geometry of a square-kernel convolution with equal stride and padding on both axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Geometry {
    /// Output height `(height + 2 padding - kernel) / stride + 1`.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output width `(width + 2 padding - kernel) / stride + 1`.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    fn patch(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    fn positions(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Calls `visit(row, column, source)` for every in-bounds entry of one sample's column
    /// matrix, where `source` indexes the sample's `(channels, height, width)` block.
    fn for_each_entry(&self, mut visit: impl FnMut(usize, usize, usize)) {
        let (out_w, k, s, p) = (self.out_width(), self.kernel, self.stride, self.padding);
        for oy in 0..self.out_height() {
            for ox in 0..out_w {
                let row = oy * out_w + ox;
                for c in 0..self.channels {
                    for ky in 0..k {
                        let y = (oy * s + ky) as isize - p as isize;
                        if y < 0 || y >= self.height as isize {
                            continue;
                        }
                        for kx in 0..k {
                            let x = (ox * s + kx) as isize - p as isize;
                            if x < 0 || x >= self.width as isize {
                                continue;
                            }
                            let column = (c * k + ky) * k + kx;
                            let source = (c * self.height + y as usize) * self.width + x as usize;
                            visit(row, column, source);
                        }
                    }
                }
            }
        }
    }
}

fn contiguous<'a, T: WithDType>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [T]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!(
            "im2col/col2im need a contiguous input, got strides {:?}",
            layout.stride()
        );
    };
    Ok(&storage.as_slice::<T>()?[start..end])
}

/// `(batch, channels, height, width)` to `(batch, positions, channels * k * k)`.
struct Im2Col(Geometry);

/// The adjoint of [`Im2Col`]: sums each column entry back into its input position.
struct Col2Im(Geometry);

impl Im2Col {
    fn run<T: WithDType>(&self, input: &[T], batch: usize) -> Vec<T> {
        let g = self.0;
        let sample_in = g.channels * g.height * g.width;
        let sample_out = g.positions() * g.patch();
        let mut output = vec![T::zero(); batch * sample_out];
        output
            .par_chunks_mut(sample_out)
            .zip(input.par_chunks(sample_in))
            .for_each(|(out, x)| {
                g.for_each_entry(|row, column, source| out[row * g.patch() + column] = x[source]);
            });
        output
    }
}

impl Col2Im {
    fn run<T: WithDType>(&self, cols: &[T], batch: usize) -> Vec<T> {
        let g = self.0;
        let sample_in = g.positions() * g.patch();
        let sample_out = g.channels * g.height * g.width;
        let mut output = vec![T::zero(); batch * sample_out];
        output
            .par_chunks_mut(sample_out)
            .zip(cols.par_chunks(sample_in))
            .for_each(|(out, c)| {
                g.for_each_entry(|row, column, source| out[source] += c[row * g.patch() + column]);
            });
        output
    }
}

/// Runs `f` on the contiguous CPU data of `tensor` (made contiguous first if needed).
fn with_cpu_slice<T: WithDType, R>(tensor: &Tensor, f: impl FnOnce(&[T]) -> R) -> Result<R> {
    let tensor = tensor.contiguous()?;
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        bail!("the fused convolution runs on CPU storage only");
    };
    Ok(f(contiguous::<T>(cpu, layout)?))
}

/// A whole convolution layer `y = conv(x, W) + b` as one autograd node.
///
/// Forward: im2col, one matrix multiply `cols . W^T` with candle's gemm, then one pass that
/// writes `(batch, out_channels, out_h, out_w)` and adds the bias. Backward recomputes the
/// columns and returns `dW = dY_rows^T . cols`, `db = sum dY` and, when the input needs a
/// gradient, `dx = col2im(dY_rows . W)`. One node instead of eight (im2col, reshapes, matmul,
/// permute, copy, bias broadcast) saves candle's per-node gradient buffer (zeros plus add)
/// and its strided bias reduction.
struct FusedConv {
    geometry: Geometry,
    out_channels: usize,
}

impl FusedConv {
    fn forward<T: WithDType>(
        &self,
        input: &[T],
        weight: &[T],
        bias: &[T],
        batch: usize,
    ) -> Result<Vec<T>> {
        let g = self.geometry;
        let (positions, patch, oc) = (g.positions(), g.patch(), self.out_channels);
        let cols = Tensor::from_vec(
            Im2Col(g).run(input, batch),
            (batch * positions, patch),
            &candle_core::Device::Cpu,
        )?;
        let weight = Tensor::from_slice(weight, (oc, patch), &candle_core::Device::Cpu)?;
        let rows = cols.matmul(&weight.t()?)?;
        let mut output = vec![T::zero(); batch * oc * positions];
        with_cpu_slice::<T, _>(&rows, |rows| {
            output
                .par_chunks_mut(oc * positions)
                .zip(rows.par_chunks(positions * oc))
                .for_each(|(out, rows)| {
                    for (channel, plane) in out.chunks_mut(positions).enumerate() {
                        let b = bias[channel];
                        for (p, value) in plane.iter_mut().enumerate() {
                            *value = rows[p * oc + channel] + b;
                        }
                    }
                });
        })?;
        Ok(output)
    }

    fn backward<T: WithDType>(
        &self,
        input: &Tensor,
        weight: &Tensor,
        grad: &Tensor,
        input_gradient: bool,
    ) -> Result<(Option<Tensor>, Tensor, Tensor)> {
        let g = self.geometry;
        let (positions, patch, oc) = (g.positions(), g.patch(), self.out_channels);
        let batch = input.dim(0)?;
        let cpu = candle_core::Device::Cpu;
        // Transposes dY from (batch, oc, positions) to rows (batch * positions, oc) and sums the
        // bias gradient.
        let (grad_rows, grad_bias) = with_cpu_slice::<T, _>(grad, |grad| {
            let mut rows = vec![T::zero(); batch * positions * oc];
            rows.par_chunks_mut(positions * oc)
                .zip(grad.par_chunks(oc * positions))
                .for_each(|(rows, grad)| {
                    for (channel, plane) in grad.chunks(positions).enumerate() {
                        for (p, &value) in plane.iter().enumerate() {
                            rows[p * oc + channel] = value;
                        }
                    }
                });
            let mut bias = vec![T::zero(); oc];
            for sample in grad.chunks(oc * positions) {
                for (channel, plane) in sample.chunks(positions).enumerate() {
                    let mut total = T::zero();
                    for &value in plane {
                        total += value;
                    }
                    bias[channel] += total;
                }
            }
            (rows, bias)
        })?;
        let grad_rows = Tensor::from_vec(grad_rows, (batch * positions, oc), &cpu)?;
        let grad_bias = Tensor::from_vec(grad_bias, oc, &cpu)?;
        let cols = with_cpu_slice::<T, _>(input, |x| Im2Col(g).run(x, batch))?;
        let cols = Tensor::from_vec(cols, (batch * positions, patch), &cpu)?;
        let grad_weight = grad_rows.t()?.matmul(&cols)?.reshape(weight.shape())?;
        let grad_input = if input_gradient {
            let weight = weight.detach().reshape((oc, patch))?;
            let grad_cols = grad_rows.matmul(&weight)?;
            let grad_input = with_cpu_slice::<T, _>(&grad_cols, |c| Col2Im(g).run(c, batch))?;
            Some(Tensor::from_vec(grad_input, input.shape(), &cpu)?)
        } else {
            None
        };
        Ok((grad_input, grad_weight, grad_bias))
    }
}

impl CustomOp3 for FusedConv {
    fn name(&self) -> &'static str {
        "fused-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.geometry;
        let (batch, channels, height, width) = l1.shape().dims4()?;
        if (channels, height, width) != (g.channels, g.height, g.width) {
            bail!("fused conv2d built for {:?} got input {:?}", g, l1.shape());
        }
        let output = match s1 {
            CpuStorage::F32(_) => CpuStorage::F32(self.forward(
                contiguous::<f32>(s1, l1)?,
                contiguous::<f32>(s2, l2)?,
                contiguous::<f32>(s3, l3)?,
                batch,
            )?),
            CpuStorage::F64(_) => CpuStorage::F64(self.forward(
                contiguous::<f64>(s1, l1)?,
                contiguous::<f64>(s2, l2)?,
                contiguous::<f64>(s3, l3)?,
                batch,
            )?),
            _ => bail!("fused conv2d supports f32 and f64 storage only"),
        };
        let shape = Shape::from((batch, self.out_channels, g.out_height(), g.out_width()));
        Ok((output, shape))
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let input_gradient = input.track_op();
        let (grad_input, grad_weight, grad_bias) = match input.dtype() {
            DType::F32 => self.backward::<f32>(input, weight, grad_res, input_gradient)?,
            DType::F64 => self.backward::<f64>(input, weight, grad_res, input_gradient)?,
            dtype => bail!("fused conv2d supports f32 and f64, got {dtype:?}"),
        };
        Ok((grad_input, Some(grad_weight), Some(grad_bias)))
    }
}

/// Convolves `input` `(batch, channels, height, width)` with `kernel`
/// `(out_channels, channels, k, k)`; same result as candle's `conv2d` with dilation 1 and one
/// group. Uses im2col on the CPU and candle's `conv2d` elsewhere.
pub fn conv2d(input: &Tensor, kernel: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    if !input.device().is_cpu() || !matches!(input.dtype(), DType::F32 | DType::F64) {
        return input.conv2d(kernel, padding, stride, 1, 1);
    }
    let bias = Tensor::zeros(kernel.dim(0)?, kernel.dtype(), kernel.device())?;
    conv2d_bias(input, kernel, &bias, stride, padding)
}

/// Convolves as [`conv2d`] and adds `bias` `(out_channels)` to every output position. On the
/// CPU the whole layer is one autograd node ([`FusedConv`]); elsewhere it is candle's `conv2d`
/// followed by a broadcast addition.
pub fn conv2d_bias(
    input: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let (out_channels, kernel_channels, k, k_w) = kernel.dims4()?;
    if !input.device().is_cpu() || !matches!(input.dtype(), DType::F32 | DType::F64) {
        let output = input.conv2d(kernel, padding, stride, 1, 1)?;
        return output.broadcast_add(&bias.reshape((1, out_channels, 1, 1))?);
    }
    let (_, channels, height, width) = input.dims4()?;
    if kernel_channels != channels || k != k_w {
        bail!(
            "conv2d kernel {:?} does not fit input {:?}",
            kernel.shape(),
            input.shape()
        );
    }
    if bias.dims() != [out_channels] {
        bail!(
            "conv2d bias {:?} does not fit {out_channels} output channels",
            bias.shape()
        );
    }
    let geometry = Geometry {
        channels,
        height,
        width,
        kernel: k,
        stride,
        padding,
    };
    input.apply_op3(
        kernel,
        bias,
        FusedConv {
            geometry,
            out_channels,
        },
    )
}

/// A convolution layer with bias using [`conv2d`], built from a `candle_nn::Conv2d`'s weights.
#[derive(Debug, Clone)]
pub struct FastConv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub stride: usize,
    pub padding: usize,
}

impl Module for FastConv2d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        match &self.bias {
            Some(bias) => conv2d_bias(input, &self.weight, bias, self.stride, self.padding),
            None => conv2d(input, &self.weight, self.stride, self.padding),
        }
    }
}
