//! A mergeable quantile sketch with a relative-error guarantee.
//!
//! # Definition
//!
//! Values are counted in logarithmic buckets, one set for positive and one for negative
//! values, as in DDSketch (Masson, Rim and Lee, "DDSketch: A Fast and Fully-Mergeable
//! Quantile Sketch with Relative-Error Guarantees", VLDB 2019). With
//! `gamma = (1 + alpha) / (1 - alpha)`, a value `v != 0` falls in bucket
//! `i = ceil(ln |v| / ln gamma)`, which covers `(gamma^(i-1), gamma^i]`, and the bucket is
//! reported as `2 gamma^i / (gamma + 1)`. Every value of a bucket is then within a relative
//! distance `alpha` of that representative.
//!
//! The `p`-quantile is the value of rank `r = max(1, ceil(p N))` among the `N` values sorted
//! in ascending order (the nearest-rank definition). [`QuantileSketch::quantile`] returns a
//! value `q` with `|q - x_r| <= alpha |x_r|`, where `x_r` is that exact order statistic. Values
//! with `|v| < MIN_INDEXABLE` are counted as zero, so for them the error is absolute and below
//! `MIN_INDEXABLE`.
//!
//! Bucket counts are integers, so merging sketches gives the same result in any order: the
//! percentiles do not depend on how the input was split between threads.
//!
//! # Memory
//!
//! Each sign keeps a dense run of counters from its smallest to its largest occupied bucket.
//! Attraction values lie in [-1, 1], so a run spans at most
//! `ln(1 / MIN_INDEXABLE) / ln gamma + 1`, about 69,000 buckets (550 KB) at
//! [`RELATIVE_ACCURACY`], whatever the number of values. Real runs occupy far fewer.

/// The relative accuracy `alpha` of every reported quantile.
pub const RELATIVE_ACCURACY: f64 = 0.005;

/// Magnitudes below this are counted in the zero bucket.
pub const MIN_INDEXABLE: f64 = 1e-300;

/// A quantile sketch over f64 values (see the module documentation).
#[derive(Debug, Clone)]
pub struct QuantileSketch {
    positive: BucketRun,
    negative: BucketRun,
    zeros: u64,
    ln_gamma: f64,
}

impl Default for QuantileSketch {
    fn default() -> Self {
        Self::new()
    }
}

impl QuantileSketch {
    /// Creates an empty sketch with accuracy [`RELATIVE_ACCURACY`].
    pub fn new() -> Self {
        let gamma = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
        QuantileSketch {
            positive: BucketRun::default(),
            negative: BucketRun::default(),
            zeros: 0,
            ln_gamma: gamma.ln(),
        }
    }

    /// Counts one finite value. Non-finite values must be filtered out by the caller.
    pub fn insert(&mut self, value: f64) {
        debug_assert!(value.is_finite());
        let magnitude = value.abs();
        if magnitude < MIN_INDEXABLE {
            self.zeros += 1;
        } else if value > 0.0 {
            self.positive.increment(self.bucket_index(magnitude));
        } else {
            self.negative.increment(self.bucket_index(magnitude));
        }
    }

    /// Adds every count of `other` to this sketch.
    pub fn merge(&mut self, other: &QuantileSketch) {
        self.positive.merge(&other.positive);
        self.negative.merge(&other.negative);
        self.zeros += other.zeros;
    }

    /// Returns the number of values counted.
    pub fn count(&self) -> u64 {
        self.positive.total() + self.negative.total() + self.zeros
    }

    /// Returns the `p`-quantile within relative accuracy [`RELATIVE_ACCURACY`], or `None` when
    /// the sketch is empty or `p` lies outside [0, 1].
    pub fn quantile(&self, p: f64) -> Option<f64> {
        let count = self.count();
        if count == 0 || !(0.0..=1.0).contains(&p) {
            return None;
        }
        let rank = ((p * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        // Ascending order: negatives from the largest magnitude down, then zeros, then
        // positives from the smallest magnitude up.
        for (index, bucket_count) in self.negative.iter().rev() {
            seen += bucket_count;
            if seen >= rank {
                return Some(-self.representative(index));
            }
        }
        seen += self.zeros;
        if seen >= rank {
            return Some(0.0);
        }
        for (index, bucket_count) in self.positive.iter() {
            seen += bucket_count;
            if seen >= rank {
                return Some(self.representative(index));
            }
        }
        None
    }

    fn bucket_index(&self, magnitude: f64) -> i32 {
        (magnitude.ln() / self.ln_gamma).ceil() as i32
    }

    fn representative(&self, index: i32) -> f64 {
        let gamma = self.ln_gamma.exp();
        2.0 * (index as f64 * self.ln_gamma).exp() / (gamma + 1.0)
    }
}

/// Counters for a contiguous range of bucket indices, `counts[k]` for index `offset + k`.
#[derive(Debug, Clone, Default)]
struct BucketRun {
    offset: i32,
    counts: Vec<u64>,
}

impl BucketRun {
    fn increment(&mut self, index: i32) {
        self.add(index, 1);
    }

    fn add(&mut self, index: i32, amount: u64) {
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(amount);
            return;
        }
        if index < self.offset {
            // Grow downward with some slack, so a slowly widening range is not copied on
            // every new minimum.
            let needed = (self.offset - index) as usize;
            let grow = needed.max(self.counts.len() / 4).max(16);
            let mut counts = vec![0; grow + self.counts.len()];
            counts[grow..].copy_from_slice(&self.counts);
            self.counts = counts;
            self.offset -= grow as i32;
        }
        let position = (index - self.offset) as usize;
        if position >= self.counts.len() {
            self.counts.resize(position + 1, 0);
        }
        self.counts[position] += amount;
    }

    fn merge(&mut self, other: &BucketRun) {
        for (index, count) in other.iter() {
            self.add(index, count);
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Occupied buckets as `(index, count)` in ascending index order.
    fn iter(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(|(k, &count)| (self.offset + k as i32, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sketch_has_no_quantile() {
        assert_eq!(QuantileSketch::new().quantile(0.5), None);
    }

    #[test]
    fn single_value_is_every_quantile() {
        let mut sketch = QuantileSketch::new();
        sketch.insert(-0.25);
        for p in [0.0, 0.05, 0.5, 1.0] {
            let q = sketch.quantile(p).unwrap();
            assert!((q + 0.25).abs() <= RELATIVE_ACCURACY * 0.25, "p {p}: {q}");
        }
    }

    #[test]
    fn zero_bucket_sits_between_signs() {
        let mut sketch = QuantileSketch::new();
        for value in [-1e-3, 0.0, 1e-320, 2e-3] {
            sketch.insert(value);
        }
        assert!(sketch.quantile(0.25).unwrap() < 0.0);
        assert_eq!(sketch.quantile(0.5), Some(0.0));
        assert_eq!(sketch.quantile(0.75), Some(0.0));
        assert!(sketch.quantile(1.0).unwrap() > 0.0);
    }
}
