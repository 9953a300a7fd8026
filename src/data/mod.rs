//! Image classification datasets for training: Fashion-MNIST and MNIST (IDX files), CIFAR-10
//! (binary batches) and the Fashion-MNIST subset embedded in the binary.
//!
//! Images stay as bytes, one `(channels, height, width)` block per sample, and become `f32`
//! pixels `byte / 255` in `[0, 1]` only when a batch is assembled. No mean or deviation is
//! subtracted.

pub mod bundled;
pub mod cifar;
pub mod idx;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

/// Directory where the Debian package `dataset-fashion-mnist` installs Fashion-MNIST.
pub const DEBIAN_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Number of classes of MNIST and Fashion-MNIST.
pub const MNIST_CLASSES: usize = 10;

/// A failure to read or split a dataset. Each variant names the file or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("failed to read {}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("no data directory given for {dataset}: pass --data DIR, a directory with {files}")]
    NoDirectory {
        dataset: &'static str,
        files: &'static str,
    },
    #[error("{what} not found in {}: tried {tried}. {hint}", dir.display())]
    Missing {
        what: String,
        dir: PathBuf,
        tried: String,
        hint: String,
    },
    #[error("{} is not valid gzip data: {error}", path.display())]
    Gzip {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{} is not an IDX {} file: magic number {found:#010x}, expected {expected:#010x}",
        path.display(),
        idx_kind(*expected)
    )]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error(
        "{} is truncated: expected {what}, found {actual} bytes; download the file again",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        what: String,
        expected: usize,
        actual: usize,
    },
    #[error(
        "{} has {actual} data bytes after the header, but the sizes in its header give {expected}",
        path.display()
    )]
    TrailingBytes {
        path: PathBuf,
        expected: usize,
        actual: usize,
    },
    #[error(
        "{} has {actual} bytes, which is not a positive multiple of the {record}-byte CIFAR-10 \
         record (1 label byte and 3072 pixel bytes); use the binary version of CIFAR-10",
        path.display()
    )]
    RecordSize {
        path: PathBuf,
        actual: usize,
        record: usize,
    },
    #[error(
        "{}: label {label} of sample {position} is outside 0..{classes}",
        path.display()
    )]
    LabelOutOfRange {
        path: PathBuf,
        position: usize,
        label: u8,
        classes: usize,
    },
    #[error(
        "{} holds {images} images but {} holds {labels} labels; both files must come from the \
         same split",
        image_path.display(),
        label_path.display()
    )]
    CountMismatch {
        image_path: PathBuf,
        label_path: PathBuf,
        images: usize,
        labels: usize,
    },
    #[error("{} has images of shape {found}, but the training set has {expected}", path.display())]
    ShapeMismatch {
        path: PathBuf,
        found: ImageShape,
        expected: ImageShape,
    },
    #[error("invalid validation size {value}: {reason}")]
    InvalidValidation { value: String, reason: String },
}

fn idx_kind(magic: u32) -> &'static str {
    if magic == idx::IMAGE_MAGIC {
        "image"
    } else {
        "label"
    }
}

/// Shape of one image, `(channels, height, width)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl ImageShape {
    /// Number of values in one image.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Returns whether an image has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// Labelled images, stored as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// `len() * shape.len()` bytes, one `(channels, height, width)` block per sample.
    pub images: Vec<u8>,
    /// One class index per sample.
    pub labels: Vec<u8>,
    pub shape: ImageShape,
}

impl Dataset {
    /// Pairs IDX images with IDX labels, checking that the counts agree and that every label
    /// is a class of MNIST and Fashion-MNIST.
    pub fn from_idx(
        images: idx::IdxImages,
        labels: Vec<u8>,
        image_path: &Path,
        label_path: &Path,
    ) -> Result<Dataset, DataError> {
        if images.count != labels.len() {
            return Err(DataError::CountMismatch {
                image_path: image_path.to_path_buf(),
                label_path: label_path.to_path_buf(),
                images: images.count,
                labels: labels.len(),
            });
        }
        check_labels(&labels, MNIST_CLASSES, label_path)?;
        Ok(Dataset {
            images: images.pixels,
            labels,
            shape: ImageShape {
                channels: 1,
                height: images.rows,
                width: images.columns,
            },
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Returns whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Returns the bytes of sample `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.shape.len();
        &self.images[index * size..(index + 1) * size]
    }

    /// Returns the pixels of the samples at `indices` as `byte / 255`, concatenated.
    pub fn gather_pixels(&self, indices: &[usize]) -> Vec<f32> {
        let mut pixels = Vec::with_capacity(indices.len() * self.shape.len());
        for &index in indices {
            pixels.extend(self.image(index).iter().map(|&b| f32::from(b) / 255.0));
        }
        pixels
    }

    /// Returns the labels of the samples at `indices`.
    pub fn gather_labels(&self, indices: &[usize]) -> Vec<u8> {
        indices.iter().map(|&index| self.labels[index]).collect()
    }
}

fn check_labels(labels: &[u8], classes: usize, path: &Path) -> Result<(), DataError> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        Some(position) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            position,
            label: labels[position],
            classes,
        }),
        None => Ok(()),
    }
}

/// The datasets `analyze train` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetKind {
    /// The Fashion-MNIST subset in the repository: 6,000 training and 1,000 test images.
    FashionMnistSubset,
    /// Fashion-MNIST, IDX files.
    FashionMnist,
    /// MNIST, IDX files.
    Mnist,
    /// CIFAR-10, binary batches.
    Cifar10,
}

impl DatasetKind {
    /// Returns the name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::FashionMnistSubset => "fashion-mnist-subset",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Mnist => "mnist",
            DatasetKind::Cifar10 => "cifar10",
        }
    }

    /// Looks a dataset up by [`DatasetKind::name`].
    pub fn from_name(name: &str) -> Option<DatasetKind> {
        [
            DatasetKind::FashionMnistSubset,
            DatasetKind::FashionMnist,
            DatasetKind::Mnist,
            DatasetKind::Cifar10,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }
}

/// A dataset's training and test sets, with where they came from.
#[derive(Debug, Clone)]
pub struct LoadedData {
    pub kind: DatasetKind,
    /// The directory read, or `bundled` for the embedded subset.
    pub source: String,
    pub classes: usize,
    pub train: Dataset,
    pub test: Dataset,
}

/// Loads a dataset. `dir` is required for MNIST and CIFAR-10; for Fashion-MNIST it defaults
/// to [`DEBIAN_FASHION_MNIST_DIR`]; the bundled subset ignores it.
pub fn load(kind: DatasetKind, dir: Option<&Path>) -> Result<LoadedData, DataError> {
    let (source, classes, train, test) = match kind {
        DatasetKind::FashionMnistSubset => {
            let (train, test) = bundled::load()?;
            ("bundled".to_string(), MNIST_CLASSES, train, test)
        }
        DatasetKind::FashionMnist | DatasetKind::Mnist => {
            let dir = match (kind, dir) {
                (_, Some(dir)) => dir.to_path_buf(),
                (DatasetKind::FashionMnist, None) => PathBuf::from(DEBIAN_FASHION_MNIST_DIR),
                _ => return Err(missing_dir(kind)),
            };
            let (train, test) = load_idx_dir(&dir, kind)?;
            (dir.display().to_string(), MNIST_CLASSES, train, test)
        }
        DatasetKind::Cifar10 => {
            let dir = dir.ok_or_else(|| missing_dir(kind))?;
            let (train, test) = cifar::load(dir)?;
            (dir.display().to_string(), cifar::CLASSES, train, test)
        }
    };
    Ok(LoadedData {
        kind,
        source,
        classes,
        train,
        test,
    })
}

fn missing_dir(kind: DatasetKind) -> DataError {
    let files = match kind {
        DatasetKind::Cifar10 => "data_batch_1.bin .. data_batch_5.bin and test_batch.bin",
        _ => "train-images-idx3-ubyte.gz and the three sibling IDX files",
    };
    DataError::NoDirectory {
        dataset: kind.name(),
        files,
    }
}

/// Reads the four IDX files of MNIST or Fashion-MNIST from `dir`.
pub fn load_idx_dir(dir: &Path, kind: DatasetKind) -> Result<(Dataset, Dataset), DataError> {
    let train = load_idx_pair(dir, kind, "train")?;
    let test = load_idx_pair(dir, kind, "t10k")?;
    if test.shape != train.shape {
        return Err(DataError::ShapeMismatch {
            path: find_idx_file(dir, kind, "t10k-images-idx3-ubyte")?,
            found: test.shape,
            expected: train.shape,
        });
    }
    Ok((train, test))
}

fn load_idx_pair(dir: &Path, kind: DatasetKind, prefix: &str) -> Result<Dataset, DataError> {
    let image_path = find_idx_file(dir, kind, &format!("{prefix}-images-idx3-ubyte"))?;
    let label_path = find_idx_file(dir, kind, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = idx::read_images(&image_path)?;
    let labels = idx::read_labels(&label_path)?;
    Dataset::from_idx(images, labels, &image_path, &label_path)
}

/// Returns `dir/stem.gz` or `dir/stem`, whichever exists first.
fn find_idx_file(dir: &Path, kind: DatasetKind, stem: &str) -> Result<PathBuf, DataError> {
    let gzipped = dir.join(format!("{stem}.gz"));
    let plain = dir.join(stem);
    for path in [&gzipped, &plain] {
        if path.exists() {
            return Ok(path.clone());
        }
    }
    let hint = if kind == DatasetKind::FashionMnist {
        "Install the Debian package with `apt-get install dataset-fashion-mnist`, or pass \
         --data DIR, a directory with the four IDX files"
    } else {
        "Pass --data DIR, a directory with the four IDX files"
    };
    Err(DataError::Missing {
        what: stem.to_string(),
        dir: dir.to_path_buf(),
        tried: format!("{stem}.gz and {stem}"),
        hint: hint.to_string(),
    })
}

/// The size of the validation split: a number of samples or a fraction of the training set.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum ValidationSize {
    Count(usize),
    Fraction(f64),
}

impl ValidationSize {
    /// Returns the number of validation samples for a training set of `train_len` samples,
    /// checking that at least one training sample remains.
    pub fn resolve(self, train_len: usize) -> Result<usize, DataError> {
        let count = match self {
            ValidationSize::Count(count) => count,
            ValidationSize::Fraction(fraction) => (fraction * train_len as f64).round() as usize,
        };
        if count >= train_len {
            return Err(DataError::InvalidValidation {
                value: self.to_string(),
                reason: format!(
                    "it leaves no training sample out of {train_len}; give fewer than \
                     {train_len} samples or a fraction below 1"
                ),
            });
        }
        Ok(count)
    }
}

impl fmt::Display for ValidationSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationSize::Count(count) => write!(f, "{count}"),
            ValidationSize::Fraction(fraction) => write!(f, "{fraction}"),
        }
    }
}

impl FromStr for ValidationSize {
    type Err = DataError;

    /// Reads a whole number as a sample count and a decimal in `[0, 1)` as a fraction.
    fn from_str(text: &str) -> Result<Self, DataError> {
        if let Ok(count) = text.parse::<usize>() {
            return Ok(ValidationSize::Count(count));
        }
        match text.parse::<f64>() {
            Ok(fraction) if (0.0..1.0).contains(&fraction) => {
                Ok(ValidationSize::Fraction(fraction))
            }
            _ => Err(DataError::InvalidValidation {
                value: text.to_string(),
                reason: "expected a whole number of samples (such as 5000) or a fraction in \
                         [0, 1) (such as 0.1)"
                    .to_string(),
            }),
        }
    }
}

/// Indices into the original training set: those trained on and those held out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training indices, ascending.
    pub train: Vec<usize>,
    /// Validation indices, ascending.
    pub validation: Vec<usize>,
}

/// Holds out `size` samples of a training set of `train_len`, chosen uniformly at random by a
/// ChaCha8 generator seeded with `seed`, so the same seed always gives the same split.
pub fn split_validation(
    train_len: usize,
    size: ValidationSize,
    seed: u64,
) -> Result<Split, DataError> {
    let count = size.resolve(train_len)?;
    let mut order: Vec<usize> = (0..train_len).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut validation = order[..count].to_vec();
    let mut train = order[count..].to_vec();
    validation.sort_unstable();
    train.sort_unstable();
    Ok(Split { train, validation })
}
