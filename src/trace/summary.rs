//! Per-epoch accumulation of attraction values and the sample of points for the figure.
//!
//! Accumulators are built per chunk of lines and merged in file order, so every result,
//! including the floating-point sum behind the mean epsilon, is the same for any number of
//! threads.

use std::collections::{BTreeMap, BinaryHeap};

use serde::Serialize;

use super::record::{AttractionForm, RecordAttraction};
use super::sketch::QuantileSketch;

/// One sampled record, a point of the figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SamplePoint {
    pub epoch: u32,
    /// Line number in the log, starting at 1 for the header.
    pub line: u64,
    /// Index of the sample in the training set.
    pub index: u64,
    pub label: u64,
    #[serde(flatten)]
    pub attraction: RecordAttraction,
}

/// Counts and percentiles of one attraction form over one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormStats {
    pub form: AttractionForm,
    /// Fraction of the epoch's records with attraction > 0 (pulled toward the label).
    pub attracted: f64,
    /// Fraction with attraction < 0 (pushed away from the label).
    pub repelled: f64,
    /// Records whose attraction is not a finite number (overflow in gamma); they are left out
    /// of the fractions' numerators and of the percentiles.
    pub undefined: u64,
    /// 5th, 50th and 95th percentiles, each within the sketch's relative accuracy.
    pub p05: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// The per-epoch result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochStats {
    pub epoch: u32,
    pub records: u64,
    pub mean_epsilon: f64,
    /// One entry per form, in [`AttractionForm::ALL`] order.
    pub forms: Vec<FormStats>,
}

impl EpochStats {
    /// Returns the statistics of one form.
    pub fn form(&self, form: AttractionForm) -> &FormStats {
        &self.forms[form.position()]
    }
}

#[derive(Debug, Clone, Default)]
struct FormAccumulator {
    attracted: u64,
    repelled: u64,
    undefined: u64,
    sketch: QuantileSketch,
}

impl FormAccumulator {
    fn add(&mut self, value: f64) {
        if !value.is_finite() {
            self.undefined += 1;
            return;
        }
        if value > 0.0 {
            self.attracted += 1;
        } else if value < 0.0 {
            self.repelled += 1;
        }
        self.sketch.insert(value);
    }

    fn merge(&mut self, other: &FormAccumulator) {
        self.attracted += other.attracted;
        self.repelled += other.repelled;
        self.undefined += other.undefined;
        self.sketch.merge(&other.sketch);
    }

    fn stats(&self, form: AttractionForm, records: u64) -> FormStats {
        let fraction = |count: u64| count as f64 / records as f64;
        FormStats {
            form,
            attracted: fraction(self.attracted),
            repelled: fraction(self.repelled),
            undefined: self.undefined,
            p05: self.sketch.quantile(0.05),
            p50: self.sketch.quantile(0.50),
            p95: self.sketch.quantile(0.95),
        }
    }
}

/// Everything accumulated for one epoch.
#[derive(Debug, Clone)]
pub struct EpochAccumulator {
    records: u64,
    epsilon_sum: f64,
    forms: [FormAccumulator; 3],
    reservoir: Reservoir,
}

impl EpochAccumulator {
    /// Creates an empty accumulator that samples at most `sample_size` points.
    pub fn new(sample_size: usize) -> Self {
        EpochAccumulator {
            records: 0,
            epsilon_sum: 0.0,
            forms: Default::default(),
            reservoir: Reservoir::new(sample_size),
        }
    }

    /// Adds one record; `key` is its random sampling key and `point` builds its sample point
    /// only when the reservoir keeps it.
    pub fn add(
        &mut self,
        values: &RecordAttraction,
        key: u64,
        point: impl FnOnce() -> SamplePoint,
    ) {
        self.records += 1;
        self.epsilon_sum += values.epsilon;
        for (accumulator, value) in self.forms.iter_mut().zip(values.values()) {
            accumulator.add(value);
        }
        self.reservoir.offer(key, point);
    }

    /// Adds `other`, which must cover lines after those already added.
    pub fn merge(&mut self, other: EpochAccumulator) {
        self.records += other.records;
        self.epsilon_sum += other.epsilon_sum;
        for (mine, theirs) in self.forms.iter_mut().zip(&other.forms) {
            mine.merge(theirs);
        }
        self.reservoir.merge(other.reservoir);
    }

    /// Shifts the line numbers of sampled points by `offset`.
    pub fn shift_lines(&mut self, offset: u64) {
        self.reservoir.shift_lines(offset);
    }

    /// Returns the epoch's statistics and its sampled points in line order.
    pub fn finish(self, epoch: u32) -> (EpochStats, Vec<SamplePoint>) {
        let forms = AttractionForm::ALL
            .into_iter()
            .zip(&self.forms)
            .map(|(form, accumulator)| accumulator.stats(form, self.records))
            .collect();
        let stats = EpochStats {
            epoch,
            records: self.records,
            mean_epsilon: self.epsilon_sum / self.records as f64,
            forms,
        };
        (stats, self.reservoir.into_points())
    }
}

/// Accumulators keyed by epoch.
pub type EpochMap = BTreeMap<u32, EpochAccumulator>;

/// Merges `later` into `earlier` in file order.
pub fn merge_epochs(earlier: &mut EpochMap, later: EpochMap) {
    for (epoch, accumulator) in later {
        match earlier.get_mut(&epoch) {
            Some(existing) => existing.merge(accumulator),
            None => {
                earlier.insert(epoch, accumulator);
            }
        }
    }
}

/// Uniform sampling without replacement by random keys: each record gets a key from a keyed
/// hash of its position in the file, and the `capacity` records with the smallest keys are
/// kept. This is reservoir sampling with random sort keys. The kept set depends only on the
/// seed and the file, not on the order in which chunks are processed.
#[derive(Debug, Clone)]
struct Reservoir {
    capacity: usize,
    heap: BinaryHeap<Keyed>,
}

#[derive(Debug, Clone)]
struct Keyed {
    key: u64,
    point: SamplePoint,
}

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Keyed {}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl Reservoir {
    fn new(capacity: usize) -> Self {
        Reservoir {
            capacity,
            heap: BinaryHeap::new(),
        }
    }

    fn offer(&mut self, key: u64, point: impl FnOnce() -> SamplePoint) {
        if self.heap.len() < self.capacity {
            self.heap.push(Keyed {
                key,
                point: point(),
            });
        } else if let Some(mut largest) = self.heap.peek_mut()
            && key < largest.key
        {
            *largest = Keyed {
                key,
                point: point(),
            };
        }
    }

    fn merge(&mut self, other: Reservoir) {
        for keyed in other.heap {
            let Keyed { key, point } = keyed;
            self.offer(key, || point);
        }
    }

    fn shift_lines(&mut self, offset: u64) {
        let entries: Vec<Keyed> = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .map(|mut keyed| {
                keyed.point.line += offset;
                keyed
            })
            .collect();
    }

    fn into_points(self) -> Vec<SamplePoint> {
        let mut points: Vec<SamplePoint> = self.heap.into_iter().map(|keyed| keyed.point).collect();
        points.sort_by_key(|point| point.line);
        points
    }
}

/// Returns the sampling key of record number `record` (any identifier of the record): output
/// number `record + 1` of SplitMix64 seeded with `seed` (Steele, Lea and Flood, "Fast
/// Splittable Pseudorandom Number Generators", OOPSLA 2014), which any record can compute on
/// its own.
pub fn sampling_key(seed: u64, record: u64) -> u64 {
    const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut z = seed.wrapping_add(record.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
