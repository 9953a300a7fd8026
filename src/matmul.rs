//! Matrix views over slices and the matrix multiply of the CPU layers ([`crate::fastconv`],
//! [`crate::fastlinear`]).
//!
//! The layers call the `gemm` crate (the kernel candle itself uses) on their own buffers, so a
//! transposed operand is a view with swapped strides instead of a copy, and a product can be
//! added into an existing buffer. [`matmul`] splits the rows of the result between rayon's
//! threads, each running a single-threaded multiply on its block: on two cores this scales
//! better than `gemm`'s own threading for the layer sizes of these models.

use std::cell::{Cell, RefCell};
use std::thread::LocalKey;

use rayon::prelude::*;

thread_local! {
    /// Set while [`on_this_thread`] runs a closure on this thread.
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the CPU layers' multiplies and convolutions confined to the calling thread,
/// for callers that already split the work between threads themselves.
pub fn on_this_thread<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the previous setting, also when `f` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.set(self.0);
        }
    }
    let _restore = Restore(SERIAL.replace(true));
    f()
}

/// Returns the number of threads the CPU layers may use: rayon's, or 1 inside
/// [`on_this_thread`].
pub fn threads() -> usize {
    if SERIAL.get() {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// Element types the multiply supports.
pub trait Element: candle_core::WithDType + Send + Sync {
    /// This thread's pool of reusable buffers of this type (see [`take_buffer`]).
    fn buffers() -> &'static LocalKey<RefCell<Vec<Vec<Self>>>>;
}

thread_local! {
    static F32_BUFFERS: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
    static F64_BUFFERS: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

impl Element for f32 {
    fn buffers() -> &'static LocalKey<RefCell<Vec<Vec<f32>>>> {
        &F32_BUFFERS
    }
}

impl Element for f64 {
    fn buffers() -> &'static LocalKey<RefCell<Vec<Vec<f64>>>> {
        &F64_BUFFERS
    }
}

/// Buffers a thread keeps for reuse, per element type.
const POOLED_BUFFERS: usize = 4;

/// Returns a buffer of `len` elements, reusing the smallest large enough one that this thread
/// returned with [`return_buffer`], or allocating one. Its contents are unspecified (zeros or
/// values left from earlier use), so the caller must write every element before reading it.
/// Reuse spares the allocator's page faults and zeroing for the large scratch matrices that
/// every training step needs again.
pub fn take_buffer<T: Element>(len: usize) -> Vec<T> {
    T::buffers().with(|pool| {
        let mut pool = pool.borrow_mut();
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, buffer)| buffer.capacity() >= len)
            .min_by_key(|(_, buffer)| buffer.capacity())
            .map(|(index, _)| index);
        match best {
            Some(index) => {
                let mut buffer = pool.swap_remove(index);
                buffer.resize(len, T::zero());
                buffer
            }
            None => vec![T::zero(); len],
        }
    })
}

/// Gives `buffer` back to this thread's pool for [`take_buffer`]; when the pool is full, the
/// smallest buffer is freed.
pub fn return_buffer<T: Element>(buffer: Vec<T>) {
    if buffer.capacity() == 0 {
        return;
    }
    T::buffers().with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.push(buffer);
        if pool.len() > POOLED_BUFFERS {
            let smallest = (0..pool.len())
                .min_by_key(|&index| pool[index].capacity())
                .unwrap_or(0);
            pool.swap_remove(smallest);
        }
    })
}

/// A read-only matrix: entry `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Element> MatRef<'a, T> {
    /// Views `data` as a `rows x cols` matrix stored row by row. Panics when `data` is too
    /// short.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// Views `data` as a matrix with the given strides. Panics when an entry would lie outside
    /// `data`.
    pub fn strided(
        data: &'a [T],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        assert!(
            span(rows, cols, row_stride, col_stride) <= data.len(),
            "a {rows}x{cols} matrix with strides ({row_stride}, {col_stride}) does not fit in {} \
             elements",
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    /// Returns the transpose, as a view.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Rows `start..start + count`.
    fn rows(self, start: usize, count: usize) -> Self {
        let offset = (start * self.row_stride).min(self.data.len());
        Self::strided(
            &self.data[offset..],
            count,
            self.cols,
            self.row_stride,
            self.col_stride,
        )
    }
}

/// A writable matrix stored row by row: entry `(i, j)` is `data[i * cols + j]`.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
}

impl<'a, T: Element> MatMut<'a, T> {
    /// Views `data` as a `rows x cols` matrix stored row by row. Panics when `data` is not
    /// `rows * cols` long.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "a {rows}x{cols} matrix needs {} elements",
            rows * cols
        );
        MatMut { data, rows, cols }
    }
}

/// Returns one past the largest index of a matrix with these dimensions and strides (0 when
/// empty).
fn span(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * row_stride + (cols - 1) * col_stride + 1
    }
}

/// Panics unless `dst = lhs . rhs` is defined for these shapes.
fn assert_shapes<T: Element>(dst: &MatMut<'_, T>, lhs: &MatRef<'_, T>, rhs: &MatRef<'_, T>) {
    assert!(
        dst.rows == lhs.rows && dst.cols == rhs.cols && lhs.cols == rhs.rows,
        "cannot multiply {}x{} by {}x{} into {}x{}",
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols,
        dst.rows,
        dst.cols
    );
}

/// Products below this many multiply-adds run on the calling thread.
const PARALLEL_WORK: usize = 1 << 16;

/// `dst = lhs . rhs`, or `dst += lhs . rhs` when `accumulate` is set, with the rows of `dst`
/// split between rayon's threads. Panics when the shapes do not match.
pub fn matmul<T: Element>(
    dst: MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
) {
    assert_shapes(&dst, &lhs, &rhs);
    let threads = threads();
    let work = dst.rows * dst.cols * lhs.cols;
    if threads < 2 || dst.rows < 2 * threads || work < PARALLEL_WORK {
        matmul_serial(dst, lhs, rhs, accumulate);
        return;
    }
    let block = dst.rows.div_ceil(threads);
    let cols = dst.cols;
    dst.data
        .par_chunks_mut(block * cols)
        .enumerate()
        .for_each(|(index, part)| {
            let rows = part.len() / cols;
            let part = MatMut::row_major(part, rows, cols);
            matmul_serial(part, lhs.rows(index * block, rows), rhs, accumulate);
        });
}

/// [`matmul`] on the calling thread only.
pub fn matmul_serial<T: Element>(
    dst: MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
) {
    assert_shapes(&dst, &lhs, &rhs);
    if dst.rows == 0 || dst.cols == 0 {
        return;
    }
    if lhs.cols == 0 {
        if !accumulate {
            dst.data.fill(T::zero());
        }
        return;
    }
    let stride = |s: usize| isize::try_from(s).expect("matrix stride fits in isize");
    // SAFETY: the constructors checked that every entry of `lhs` and `rhs` lies inside its
    // slice and that `dst` covers exactly `rows * cols` elements. The shapes were checked above.
    // `dst` is a unique borrow, so it cannot overlap the operands.
    unsafe {
        gemm::gemm(
            dst.rows,
            dst.cols,
            lhs.cols,
            dst.data.as_mut_ptr(),
            1,
            stride(dst.cols),
            accumulate,
            lhs.data.as_ptr(),
            stride(lhs.col_stride),
            stride(lhs.row_stride),
            rhs.data.as_ptr(),
            stride(rhs.col_stride),
            stride(rhs.row_stride),
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
