//! 2-D convolution on the CPU as im2col plus matrix multiplies, forward and backward.
//!
//! candle 0.11 computes the input gradient of `conv2d` with `conv_transpose2d`, which on the
//! CPU is a direct loop over every output, kernel and channel position, and that dominates
//! the training step of small convolutional networks. Here a convolution of one sample is
//!
//! ```text
//! cols = im2col(x)            (channels * k * k, out_h * out_w)
//! y    = W . cols + b         (out_channels, out_h * out_w), W as (out_channels, channels * k * k)
//! ```
//!
//! and the whole layer, ReLU included when asked for, is one candle custom operation
//! ([`conv2d_layer`]). Its backward pass returns the kernel gradient `dY . cols^T`, the bias
//! gradient and, when the input needs one, the input gradient `col2im(W^T . dY)`. It reuses
//! the forward pass's columns when the caller asked to keep them, the kernel needs a gradient
//! and they fit in 2^24 elements, and recomputes them otherwise. One node per layer matters because candle's autograd allocates, zeroes
//! and adds a gradient buffer for every node. Only CPU storage is implemented: on other
//! devices the functions here fall back to candle's own `conv2d`, so the CUDA path is
//! unchanged.

use candle_core::{
    CpuStorage, CustomOp3, DType, Layout, Module, Result, Shape, Storage, Tensor, bail,
};
use rayon::prelude::*;
use std::any::Any;
use std::sync::Mutex;

use crate::fastlinear::{add_bias, mask_gradient, slice};
use crate::matmul::{Element, MatMut, MatRef, matmul_serial, return_buffer, take_buffer};

/// Output columns of one matrix multiply: small output planes are batched until they fill
/// about this many columns, so the multiply is not dominated by its fixed costs.
const GROUP_COLUMNS: usize = 512;

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

    /// Height and width of the input with its zero padding.
    fn padded(&self) -> (usize, usize) {
        (
            self.height + 2 * self.padding,
            self.width + 2 * self.padding,
        )
    }

    /// Offset in the padded input of the entry that column-matrix row `(c, ky, kx)` reads
    /// for the output position whose window starts at offset 0.
    fn row_base(&self, c: usize, ky: usize, kx: usize) -> usize {
        let (padded_h, padded_w) = self.padded();
        (c * padded_h + ky) * padded_w + kx
    }
}

/// im2col and col2im for one geometry, through a zero-padded copy of each sample, so every
/// column-matrix row is read from the input without bounds tests: output line `oy` of row
/// `(c, ky, kx)` takes `out_width` entries `stride` apart from one start offset.
struct Patches {
    geometry: Geometry,
}

impl Patches {
    fn new(geometry: Geometry) -> Self {
        Patches { geometry }
    }

    /// Calls `f(line, start)` for each output line of the column-matrix row that starts at
    /// `row_base` in the padded input, where `line` is the line's range in the row. With a 1x1
    /// kernel, stride 1 and no padding, the whole row is one line.
    fn for_each_line(&self, row_base: usize, mut f: impl FnMut(std::ops::Range<usize>, usize)) {
        let g = self.geometry;
        let (_, padded_w) = g.padded();
        let out_w = g.out_width();
        if g.stride == 1 && out_w == padded_w {
            f(0..g.positions(), row_base);
            return;
        }
        for oy in 0..g.out_height() {
            f(
                oy * out_w..(oy + 1) * out_w,
                row_base + oy * g.stride * padded_w,
            );
        }
    }

    /// Allocates a zeroed buffer for one padded sample (empty without padding).
    fn padded_buffer<T: Element>(&self) -> Vec<T> {
        let g = self.geometry;
        let (padded_h, padded_w) = g.padded();
        if g.padding == 0 {
            Vec::new()
        } else {
            vec![T::zero(); g.channels * padded_h * padded_w]
        }
    }

    /// Writes one sample's column matrix `(channels * k * k, positions)` into `cols`, whose
    /// rows are `ld` apart, starting at column `col0`. `padded` comes from
    /// [`Patches::padded_buffer`]; only its interior is written, its border stays zero.
    fn im2col<T: Element>(
        &self,
        x: &[T],
        padded: &mut [T],
        cols: &mut [T],
        ld: usize,
        col0: usize,
    ) {
        let g = self.geometry;
        let source: &[T] = if g.padding == 0 {
            x
        } else {
            let (padded_h, padded_w) = g.padded();
            for (c, plane) in x.chunks(g.height * g.width).enumerate() {
                for (y, line) in plane.chunks(g.width).enumerate() {
                    let at = (c * padded_h + y + g.padding) * padded_w + g.padding;
                    padded[at..][..g.width].copy_from_slice(line);
                }
            }
            padded
        };
        let positions = g.positions();
        let k = g.kernel;
        for c in 0..g.channels {
            for ky in 0..k {
                for kx in 0..k {
                    let row = (c * k + ky) * k + kx;
                    let dst = &mut cols[row * ld + col0..][..positions];
                    self.for_each_line(g.row_base(c, ky, kx), |line, start| {
                        let dst = &mut dst[line];
                        let src = &source[start..];
                        if g.stride == 1 {
                            dst.copy_from_slice(&src[..dst.len()]);
                        } else {
                            for (value, &x) in dst.iter_mut().zip(src.iter().step_by(g.stride)) {
                                *value = x;
                            }
                        }
                    });
                }
            }
        }
    }

    /// Writes into `dx` (one sample) the sum of the column entries that read each input
    /// position, the adjoint of [`Patches::im2col`]. `padded` is scratch space from
    /// [`Patches::padded_buffer`]. This fills its border too, so it must not be the buffer that
    /// later [`Patches::im2col`] calls use.
    fn col2im<T: Element>(
        &self,
        cols: &[T],
        ld: usize,
        col0: usize,
        padded: &mut [T],
        dx: &mut [T],
    ) {
        let g = self.geometry;
        let target: &mut [T] = if g.padding == 0 { dx } else { padded };
        target.fill(T::zero());
        let positions = g.positions();
        let k = g.kernel;
        for c in 0..g.channels {
            for ky in 0..k {
                for kx in 0..k {
                    let row = (c * k + ky) * k + kx;
                    let src = &cols[row * ld + col0..][..positions];
                    self.for_each_line(g.row_base(c, ky, kx), |line, start| {
                        let src = &src[line];
                        if g.stride == 1 {
                            // Plain slices, so that the loop vectorizes.
                            let window = &mut target[start..][..src.len()];
                            for (total, &value) in window.iter_mut().zip(src) {
                                *total += value;
                            }
                        } else {
                            let window = target[start..].iter_mut().step_by(g.stride);
                            for (total, &value) in window.zip(src) {
                                *total += value;
                            }
                        }
                    });
                }
            }
        }
        if g.padding != 0 {
            let (padded_h, padded_w) = g.padded();
            for (c, plane) in dx.chunks_mut(g.height * g.width).enumerate() {
                for (y, line) in plane.chunks_mut(g.width).enumerate() {
                    let at = (c * padded_h + y + g.padding) * padded_w + g.padding;
                    line.copy_from_slice(&padded[at..][..g.width]);
                }
            }
        }
    }
}

impl Geometry {
    /// Samples per matrix multiply.
    fn group(&self) -> usize {
        GROUP_COLUMNS.div_ceil(self.positions()).max(1)
    }
}

/// Splits `0..batch` into one contiguous block of samples per rayon thread.
fn samples_per_thread(batch: usize) -> usize {
    batch.div_ceil(crate::matmul::threads()).max(1)
}

/// A whole convolution layer `y = conv(x, W) + b`, optionally followed by ReLU, as one
/// autograd node.
///
/// Each thread takes a block of samples. Per group of samples it writes their column
/// matrices side by side, `(channels * k * k, group * positions)`, multiplies `W` by them, and
/// writes `(batch, out_channels, out_h, out_w)` with the bias and ReLU in one pass. Backward
/// masks `dY` where the output was clipped and accumulates `db` and, with the kept or
/// recomputed columns, `dW += dY . cols^T`. When the input needs a gradient it also writes
/// `col2im(W^T . dY)` into `dx`. The threads' `dW` and `db` are summed at the end. One node
/// instead of eight (im2col, reshapes, matmul, permute, copy, bias broadcast, ReLU) saves
/// candle's per-node gradient buffer (zeros plus add) and its strided bias reduction.
struct FusedConv {
    geometry: Geometry,
    patches: Patches,
    out_channels: usize,
    relu: bool,
    /// Whether the forward pass keeps its column matrices for the backward pass.
    keep_columns: bool,
    kept: Mutex<Option<KeptColumns>>,
}

/// Column matrices saved by the forward pass: one `Vec<T>` per thread block of `block`
/// samples, type-erased because the op is not generic over the element type.
struct KeptColumns {
    block: usize,
    blocks: Box<dyn Any + Send>,
}

/// Largest column matrix, in elements, that a layer keeps between its forward and backward
/// passes (64 MiB in f32). Larger ones are recomputed in the backward pass.
const KEPT_COLUMNS_LIMIT: usize = 1 << 24;

/// Sums `values` in eight independent partial sums, so that the loop vectorizes.
fn sum<T: Element>(values: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(T::zero(), |acc, &v| acc + v);
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().fold(tail, |acc, &v| acc + v)
}

impl FusedConv {
    /// Computes the layer's output. When the layer keeps its columns, it also stores each
    /// thread block's column matrices for [`FusedConv::backward`].
    fn forward<T: Element>(&self, input: &[T], weight: &[T], bias: &[T], batch: usize) -> Vec<T> {
        let g = self.geometry;
        let (positions, patch, oc) = (g.positions(), g.patch(), self.out_channels);
        let sample_in = g.channels * g.height * g.width;
        let block = samples_per_thread(batch);
        let keep = self.keep_columns && patch * positions * batch <= KEPT_COLUMNS_LIMIT;
        let mut output = vec![T::zero(); batch * oc * positions];
        let kept: Vec<Vec<T>> = output
            .par_chunks_mut(block * oc * positions)
            .zip(input.par_chunks(block * sample_in))
            .map(|(out, x)| {
                let samples = x.len() / sample_in;
                let group = g.group().min(samples);
                // Kept columns hold every group's matrix in turn; otherwise one buffer is
                // reused for each group.
                // Every group's part of `cols` and `rows` is written before it is read.
                let mut cols = take_buffer(patch * positions * if keep { samples } else { group });
                let mut rows = take_buffer(oc * group * positions);
                let mut padded = self.patches.padded_buffer::<T>();
                for first in (0..samples).step_by(group) {
                    let count = group.min(samples - first);
                    let width = count * positions;
                    let offset = if keep { first * positions * patch } else { 0 };
                    let cols = &mut cols[offset..][..patch * width];
                    for j in 0..count {
                        let sample = &x[(first + j) * sample_in..][..sample_in];
                        self.patches
                            .im2col(sample, &mut padded, cols, width, j * positions);
                    }
                    matmul_serial(
                        MatMut::row_major(&mut rows[..oc * width], oc, width),
                        MatRef::row_major(weight, oc, patch),
                        MatRef::row_major(cols, patch, width),
                        false,
                    );
                    for j in 0..count {
                        let sample = &mut out[(first + j) * oc * positions..][..oc * positions];
                        for (channel, plane) in sample.chunks_mut(positions).enumerate() {
                            let row = &rows[channel * width + j * positions..][..positions];
                            add_bias(plane, row, bias[channel], self.relu);
                        }
                    }
                }
                return_buffer(rows);
                if keep {
                    cols
                } else {
                    return_buffer(cols);
                    Vec::new()
                }
            })
            .collect();
        if keep {
            let columns = KeptColumns {
                block,
                blocks: Box::new(kept),
            };
            *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(columns);
        }
        output
    }

    fn backward<T: Element>(
        &self,
        input: &Tensor,
        weight: &Tensor,
        output: &Tensor,
        grad: &Tensor,
        input_gradient: bool,
        kernel_gradient: bool,
    ) -> Result<(Option<Tensor>, Tensor, Tensor)> {
        let g = self.geometry;
        let (positions, patch, oc) = (g.positions(), g.patch(), self.out_channels);
        let sample_in = g.channels * g.height * g.width;
        let sample_out = oc * positions;
        let batch = input.dim(0)?;
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (block, kept) = match kept {
            Some(KeptColumns { block, blocks }) => match blocks.downcast::<Vec<Vec<T>>>() {
                Ok(blocks) => (block, Some(*blocks)),
                Err(_) => (samples_per_thread(batch), None),
            },
            None => (samples_per_thread(batch), None),
        };
        let x = input.contiguous()?;
        let (w, y, dy) = (
            weight.contiguous()?,
            output.contiguous()?,
            grad.contiguous()?,
        );
        let (x_guard, x_layout) = x.storage_and_layout();
        let (w_guard, w_layout) = w.storage_and_layout();
        let (y_guard, y_layout) = y.storage_and_layout();
        let (dy_guard, dy_layout) = dy.storage_and_layout();
        let (Storage::Cpu(xs), Storage::Cpu(ws), Storage::Cpu(ys), Storage::Cpu(dys)) =
            (&*x_guard, &*w_guard, &*y_guard, &*dy_guard)
        else {
            bail!("the fused convolution runs on CPU storage only");
        };
        let (x, w) = (slice::<T>(xs, x_layout)?, slice::<T>(ws, w_layout)?);
        let (y, dy) = (slice::<T>(ys, y_layout)?, slice::<T>(dys, dy_layout)?);
        let mut grad_input = if input_gradient {
            vec![T::zero(); batch * sample_in]
        } else {
            Vec::new()
        };
        let mut dx_blocks: Vec<Option<&mut [T]>> = if input_gradient {
            grad_input.chunks_mut(block * sample_in).map(Some).collect()
        } else {
            (0..batch.div_ceil(block)).map(|_| None).collect()
        };
        let mut kept_blocks: Vec<Option<Vec<T>>> = match kept {
            Some(blocks) => blocks.into_iter().map(Some).collect(),
            None => (0..dx_blocks.len()).map(|_| None).collect(),
        };
        let parts: Vec<(Vec<T>, Vec<T>)> = dx_blocks
            .par_iter_mut()
            .zip(kept_blocks.par_iter_mut())
            .enumerate()
            .map(|(index, (dx, kept))| {
                let first_sample = index * block;
                let samples = block.min(batch - first_sample);
                let group = g.group().min(samples);
                let mut grad_weight = vec![T::zero(); oc * patch];
                let mut grad_bias = vec![T::zero(); oc];
                let kept = kept.take();
                // Scratch for recomputed columns and for W^T . dY.
                let scratch = if kept.is_none() || dx.is_some() {
                    patch * group * positions
                } else {
                    0
                };
                // Every group's part of `cols` and `rows` is written before it is read.
                let mut cols = take_buffer(scratch);
                let mut rows = take_buffer(oc * group * positions);
                let mut padded = self.patches.padded_buffer::<T>();
                // col2im writes the padding border too, so it gets its own scratch buffer.
                let mut padded_grad = self.patches.padded_buffer::<T>();
                for first in (0..samples).step_by(group) {
                    let count = group.min(samples - first);
                    let width = count * positions;
                    // dY of the group as (out_channels, count * positions), masked by ReLU.
                    for j in 0..count {
                        let at = (first_sample + first + j) * sample_out;
                        let (dy, y) = (&dy[at..][..sample_out], &y[at..][..sample_out]);
                        for channel in 0..oc {
                            let row = &mut rows[channel * width + j * positions..][..positions];
                            let plane = channel * positions..(channel + 1) * positions;
                            mask_gradient(row, &dy[plane.clone()], &y[plane], self.relu);
                        }
                    }
                    for (total, row) in grad_bias.iter_mut().zip(rows.chunks(width)) {
                        *total += sum(row);
                    }
                    let grad_rows = MatRef::row_major(&rows[..oc * width], oc, width);
                    if kernel_gradient {
                        let columns: &[T] = match &kept {
                            Some(kept) => &kept[first * positions * patch..][..patch * width],
                            None => {
                                for j in 0..count {
                                    let at = (first_sample + first + j) * sample_in;
                                    let sample = &x[at..][..sample_in];
                                    let offset = j * positions;
                                    self.patches.im2col(
                                        sample,
                                        &mut padded,
                                        &mut cols,
                                        width,
                                        offset,
                                    );
                                }
                                &cols[..patch * width]
                            }
                        };
                        matmul_serial(
                            MatMut::row_major(&mut grad_weight, oc, patch),
                            grad_rows,
                            MatRef::row_major(columns, patch, width).t(),
                            true,
                        );
                    }
                    if let Some(dx) = dx.as_deref_mut() {
                        matmul_serial(
                            MatMut::row_major(&mut cols[..patch * width], patch, width),
                            MatRef::row_major(w, oc, patch).t(),
                            grad_rows,
                            false,
                        );
                        for j in 0..count {
                            let sample = &mut dx[(first + j) * sample_in..][..sample_in];
                            self.patches.col2im(
                                &cols,
                                width,
                                j * positions,
                                &mut padded_grad,
                                sample,
                            );
                        }
                    }
                }
                return_buffer(cols);
                return_buffer(rows);
                if let Some(kept) = kept {
                    return_buffer(kept);
                }
                (grad_weight, grad_bias)
            })
            .collect();
        drop(dx_blocks);
        drop(kept_blocks);
        let mut grad_weight = vec![T::zero(); oc * patch];
        let mut grad_bias = vec![T::zero(); oc];
        for (part_weight, part_bias) in parts {
            for (total, value) in grad_weight.iter_mut().zip(part_weight) {
                *total += value;
            }
            for (total, value) in grad_bias.iter_mut().zip(part_bias) {
                *total += value;
            }
        }
        let cpu = candle_core::Device::Cpu;
        let grad_input = if input_gradient {
            Some(Tensor::from_vec(grad_input, input.shape(), &cpu)?)
        } else {
            None
        };
        Ok((
            grad_input,
            Tensor::from_vec(grad_weight, weight.shape(), &cpu)?,
            Tensor::from_vec(grad_bias, oc, &cpu)?,
        ))
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
                slice::<f32>(s1, l1)?,
                slice::<f32>(s2, l2)?,
                slice::<f32>(s3, l3)?,
                batch,
            )),
            CpuStorage::F64(_) => CpuStorage::F64(self.forward(
                slice::<f64>(s1, l1)?,
                slice::<f64>(s2, l2)?,
                slice::<f64>(s3, l3)?,
                batch,
            )),
            _ => bail!("fused conv2d supports f32 and f64 storage only"),
        };
        let shape = Shape::from((batch, self.out_channels, g.out_height(), g.out_width()));
        Ok((output, shape))
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw) = (input.track_op(), weight.track_op());
        let (grad_input, grad_weight, grad_bias) = match input.dtype() {
            DType::F32 => self.backward::<f32>(input, weight, res, grad_res, dx, dw)?,
            DType::F64 => self.backward::<f64>(input, weight, res, grad_res, dx, dw)?,
            dtype => bail!("fused conv2d supports f32 and f64, got {dtype:?}"),
        };
        let grad_weight = dw.then_some(grad_weight);
        let grad_bias = bias.track_op().then_some(grad_bias);
        Ok((grad_input, grad_weight, grad_bias))
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

/// Convolves as [`conv2d`] and adds `bias` `(out_channels)` to every output position.
pub fn conv2d_bias(
    input: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    conv2d_layer(input, kernel, bias, stride, padding, false, true)
}

/// Convolves as [`conv2d_bias`], then applies ReLU when `relu` is set. On the CPU the whole
/// layer is one autograd node ([`FusedConv`]); elsewhere it is candle's `conv2d`, a broadcast
/// addition and a ReLU.
///
/// With `keep_columns` set, the CPU forward pass keeps its im2col columns for the backward
/// pass when the kernel needs a gradient and they fit in 2^24 elements. Pass `false` where no
/// backward pass follows, as in evaluation, to save writing them to fresh memory.
pub fn conv2d_layer(
    input: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    stride: usize,
    padding: usize,
    relu: bool,
    keep_columns: bool,
) -> Result<Tensor> {
    let (out_channels, kernel_channels, k, k_w) = kernel.dims4()?;
    if !input.device().is_cpu() || !matches!(input.dtype(), DType::F32 | DType::F64) {
        let output = input
            .conv2d(kernel, padding, stride, 1, 1)?
            .broadcast_add(&bias.reshape((1, out_channels, 1, 1))?)?;
        return if relu { output.relu() } else { Ok(output) };
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
    if stride == 0 || height + 2 * padding < k || width + 2 * padding < k {
        bail!(
            "conv2d with a {k}x{k} kernel, stride {stride} and padding {padding} does not fit \
             input {:?}",
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
    input.contiguous()?.apply_op3(
        &kernel.contiguous()?,
        &bias.contiguous()?,
        FusedConv {
            geometry,
            patches: Patches::new(geometry),
            out_channels,
            relu,
            // Only the kernel gradient reads the columns.
            keep_columns: keep_columns && kernel.track_op(),
            kept: Mutex::new(None),
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
