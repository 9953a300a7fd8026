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
//! followed by a permutation to `(batch, out_channels, out_h, out_w)`. The im2col step is a
//! candle custom operation whose backward pass is col2im (and the reverse), so candle's
//! autograd differentiates the whole expression and its fast matrix multiply does the
//! arithmetic in both directions. Only CPU storage is implemented: [`conv2d`] falls back to
//! candle's own `conv2d` on other devices, so the CUDA path is unchanged.

use candle_core::{
    CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor, WithDType, bail,
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

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let (batch, channels, height, width) = layout.shape().dims4()?;
        if (channels, height, width) != (g.channels, g.height, g.width) {
            bail!("im2col built for {:?} got input {:?}", g, layout.shape());
        }
        let output = match storage {
            CpuStorage::F32(_) => {
                CpuStorage::F32(self.run(contiguous::<f32>(storage, layout)?, batch))
            }
            CpuStorage::F64(_) => {
                CpuStorage::F64(self.run(contiguous::<f64>(storage, layout)?, batch))
            }
            _ => bail!("im2col supports f32 and f64 storage only"),
        };
        Ok((output, Shape::from((batch, g.positions(), g.patch()))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.contiguous()?.apply_op1(Col2Im(self.0))?))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let (batch, positions, patch) = layout.shape().dims3()?;
        if (positions, patch) != (g.positions(), g.patch()) {
            bail!("col2im built for {:?} got columns {:?}", g, layout.shape());
        }
        let output = match storage {
            CpuStorage::F32(_) => {
                CpuStorage::F32(self.run(contiguous::<f32>(storage, layout)?, batch))
            }
            CpuStorage::F64(_) => {
                CpuStorage::F64(self.run(contiguous::<f64>(storage, layout)?, batch))
            }
            _ => bail!("col2im supports f32 and f64 storage only"),
        };
        Ok((output, Shape::from((batch, g.channels, g.height, g.width))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.contiguous()?.apply_op1(Im2Col(self.0))?))
    }
}

/// Convolves `input` `(batch, channels, height, width)` with `kernel`
/// `(out_channels, channels, k, k)`; same result as candle's `conv2d` with dilation 1 and one
/// group. Uses im2col on the CPU and candle's `conv2d` elsewhere.
pub fn conv2d(input: &Tensor, kernel: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    if !input.device().is_cpu() || !matches!(input.dtype(), DType::F32 | DType::F64) {
        return input.conv2d(kernel, padding, stride, 1, 1);
    }
    let (batch, channels, height, width) = input.dims4()?;
    let (out_channels, kernel_channels, k, k_w) = kernel.dims4()?;
    if kernel_channels != channels || k != k_w {
        bail!(
            "conv2d kernel {:?} does not fit input {:?}",
            kernel.shape(),
            input.shape()
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
    let cols = input.contiguous()?.apply_op1(Im2Col(geometry))?;
    let rows = cols.reshape((batch * geometry.positions(), geometry.patch()))?;
    let weights = kernel.reshape((out_channels, geometry.patch()))?;
    let output = rows.matmul(&weights.t()?)?;
    output
        .reshape((
            batch,
            geometry.out_height(),
            geometry.out_width(),
            out_channels,
        ))?
        .permute((0, 3, 1, 2))?
        .contiguous()
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
        let output = conv2d(input, &self.weight, self.stride, self.padding)?;
        match &self.bias {
            Some(bias) => output.broadcast_add(&bias.reshape((1, bias.dim(0)?, 1, 1))?),
            None => Ok(output),
        }
    }
}
