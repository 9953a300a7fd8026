//! A fully connected layer `y = x . W^T + b`, optionally followed by ReLU, as one autograd node
//! on the CPU.
//!
//! Written with candle's own operations the layer is four nodes: a matrix multiply, a
//! transpose, a broadcast addition and a ReLU. For each of them candle's backward pass
//! allocates, zeroes and adds a gradient buffer, and the bias gradient needs a strided
//! reduction. [`linear`] computes the same values in one custom operation. Its forward pass is
//! one matrix multiply and one pass that adds the bias and applies ReLU. Its backward pass
//! masks the incoming gradient where the output was clipped, sums it for the bias gradient and
//! returns `dW = dY^T . x` and, only when the input needs one, `dx = dY . W`. On other devices
//! [`linear`] uses candle's operations, so the CUDA path is unchanged.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor, bail};

use crate::matmul::{Element, MatMut, MatRef, matmul};

/// `relu(x . W^T + b)` when `relu` is set, else `x . W^T + b`, for `x` `(batch, inputs)`,
/// `weight` `(outputs, inputs)` and `bias` `(outputs)`.
pub fn linear(input: &Tensor, weight: &Tensor, bias: &Tensor, relu: bool) -> Result<Tensor> {
    let (outputs, inputs) = weight.dims2()?;
    let (_, features) = input.dims2()?;
    if features != inputs || bias.dims() != [outputs] {
        bail!(
            "linear layer with weight {:?} and bias {:?} does not fit input {:?}",
            weight.shape(),
            bias.shape(),
            input.shape()
        );
    }
    if !input.device().is_cpu() || !matches!(input.dtype(), DType::F32 | DType::F64) {
        let output = input.matmul(&weight.t()?)?.broadcast_add(bias)?;
        return if relu { output.relu() } else { Ok(output) };
    }
    input.contiguous()?.apply_op3(
        &weight.contiguous()?,
        &bias.contiguous()?,
        FusedLinear { relu },
    )
}

/// The custom operation behind [`linear`].
struct FusedLinear {
    relu: bool,
}

/// Returns the contiguous elements of a CPU tensor's storage.
pub(crate) fn slice<'a, T: Element>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [T]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!(
            "expected a contiguous tensor, got strides {:?}",
            layout.stride()
        );
    };
    Ok(&storage.as_slice::<T>()?[start..end])
}

/// Runs `f` on the contiguous CPU data of `tensor` (made contiguous first if needed).
pub(crate) fn with_slice<T: Element, R>(tensor: &Tensor, f: impl FnOnce(&[T]) -> R) -> Result<R> {
    let tensor = tensor.contiguous()?;
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        bail!("the fused CPU layers run on CPU storage only");
    };
    Ok(f(slice::<T>(cpu, layout)?))
}

/// `value`, or `max(value, 0)` when `relu` is set.
#[inline]
fn activate<T: Element>(value: T, relu: bool) -> T {
    if relu && value <= T::zero() {
        T::zero()
    } else {
        value
    }
}

/// `dst = activate(src + bias)` element by element.
pub(crate) fn add_bias<T: Element>(dst: &mut [T], src: &[T], bias: T, relu: bool) {
    if relu {
        for (value, &s) in dst.iter_mut().zip(src) {
            let sum = s + bias;
            *value = if sum > T::zero() { sum } else { T::zero() };
        }
    } else {
        for (value, &s) in dst.iter_mut().zip(src) {
            *value = s + bias;
        }
    }
}

/// `dst = grad` where the layer's output is positive, 0 elsewhere, when `relu` is set;
/// `dst = grad` otherwise.
pub(crate) fn mask_gradient<T: Element>(dst: &mut [T], grad: &[T], output: &[T], relu: bool) {
    if relu {
        for ((value, &g), &y) in dst.iter_mut().zip(grad).zip(output) {
            *value = if y > T::zero() { g } else { T::zero() };
        }
    } else {
        dst.copy_from_slice(&grad[..dst.len()]);
    }
}

impl FusedLinear {
    fn forward<T: Element>(&self, x: &[T], weight: &[T], bias: &[T], batch: usize) -> Vec<T> {
        let (outputs, inputs) = (bias.len(), weight.len() / bias.len().max(1));
        let mut y = vec![T::zero(); batch * outputs];
        matmul(
            MatMut::row_major(&mut y, batch, outputs),
            MatRef::row_major(x, batch, inputs),
            MatRef::row_major(weight, outputs, inputs).t(),
            false,
        );
        for row in y.chunks_mut(outputs.max(1)) {
            for (value, &b) in row.iter_mut().zip(bias) {
                *value = activate(*value + b, self.relu);
            }
        }
        y
    }

    fn backward<T: Element>(
        &self,
        input: &Tensor,
        weight: &Tensor,
        output: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Tensor, Tensor)> {
        let (batch, inputs) = input.dims2()?;
        let outputs = weight.dim(0)?;
        let cpu = candle_core::Device::Cpu;

        // dY with the clipped outputs' entries set to zero.
        let mut grad_rows = vec![T::zero(); batch * outputs];
        with_slice::<T, _>(grad, |dy| {
            with_slice::<T, _>(output, |y| mask_gradient(&mut grad_rows, dy, y, self.relu))
        })??;

        let mut grad_bias = vec![T::zero(); outputs];
        for row in grad_rows.chunks(outputs.max(1)) {
            for (total, &g) in grad_bias.iter_mut().zip(row) {
                *total += g;
            }
        }

        let mut grad_weight = vec![T::zero(); outputs * inputs];
        with_slice::<T, _>(input, |x| {
            matmul(
                MatMut::row_major(&mut grad_weight, outputs, inputs),
                MatRef::row_major(&grad_rows, batch, outputs).t(),
                MatRef::row_major(x, batch, inputs),
                false,
            );
        })?;

        let grad_input = if input.track_op() {
            let mut dx = vec![T::zero(); batch * inputs];
            with_slice::<T, _>(weight, |w| {
                matmul(
                    MatMut::row_major(&mut dx, batch, inputs),
                    MatRef::row_major(&grad_rows, batch, outputs),
                    MatRef::row_major(w, outputs, inputs),
                    false,
                );
            })?;
            Some(Tensor::from_vec(dx, (batch, inputs), &cpu)?)
        } else {
            None
        };
        Ok((
            grad_input,
            Tensor::from_vec(grad_weight, (outputs, inputs), &cpu)?,
            Tensor::from_vec(grad_bias, outputs, &cpu)?,
        ))
    }
}

impl CustomOp3 for FusedLinear {
    fn name(&self) -> &'static str {
        "fused-linear"
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
        let (batch, _) = l1.shape().dims2()?;
        let outputs = l3.shape().elem_count();
        let output = match s1 {
            CpuStorage::F32(_) => {
                CpuStorage::F32(self.forward(slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?, batch))
            }
            CpuStorage::F64(_) => {
                CpuStorage::F64(self.forward(slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?, batch))
            }
            _ => bail!("the fused linear layer supports f32 and f64 only"),
        };
        Ok((output, Shape::from((batch, outputs))))
    }

    fn bwd(
        &self,
        input: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        output: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (grad_input, grad_weight, grad_bias) = match input.dtype() {
            DType::F32 => self.backward::<f32>(input, weight, output, grad)?,
            DType::F64 => self.backward::<f64>(input, weight, output, grad)?,
            dtype => bail!("the fused linear layer supports f32 and f64, got {dtype:?}"),
        };
        // candle stores whatever gradients are returned, so only those it tracks are returned.
        let grad_weight = weight.track_op().then_some(grad_weight);
        let grad_bias = bias.track_op().then_some(grad_bias);
        Ok((grad_input, grad_weight, grad_bias))
    }
}
