//! The Fashion-MNIST subset kept in the repository and embedded in the binary, so training
//! runs from any directory with nothing installed.
//!
//! 600 training images per class (6,000) and 100 test images per class (1,000): the first
//! images of each class in the order of the original files. `data/fashion-mnist-subset/README.md`
//! describes the procedure and the `make_fashion_subset` example rebuilds the files.

use std::path::Path;

use super::{DataError, Dataset, idx};

/// Training images of the subset, gzipped IDX.
pub const TRAIN_IMAGES: &[u8] =
    include_bytes!("../../data/fashion-mnist-subset/train-images-idx3-ubyte.gz");

/// Training labels of the subset, gzipped IDX.
pub const TRAIN_LABELS: &[u8] =
    include_bytes!("../../data/fashion-mnist-subset/train-labels-idx1-ubyte.gz");

/// Test images of the subset, gzipped IDX.
pub const TEST_IMAGES: &[u8] =
    include_bytes!("../../data/fashion-mnist-subset/t10k-images-idx3-ubyte.gz");

/// Test labels of the subset, gzipped IDX.
pub const TEST_LABELS: &[u8] =
    include_bytes!("../../data/fashion-mnist-subset/t10k-labels-idx1-ubyte.gz");

/// Training images per class in the subset.
pub const TRAIN_PER_CLASS: usize = 600;

/// Test images per class in the subset.
pub const TEST_PER_CLASS: usize = 100;

/// Decodes the embedded subset into training and test sets.
pub fn load() -> Result<(Dataset, Dataset), DataError> {
    let train = decode_pair(TRAIN_IMAGES, TRAIN_LABELS, "train")?;
    let test = decode_pair(TEST_IMAGES, TEST_LABELS, "t10k")?;
    Ok((train, test))
}

fn decode_pair(images: &[u8], labels: &[u8], prefix: &str) -> Result<Dataset, DataError> {
    let image_name = format!("bundled:{prefix}-images-idx3-ubyte.gz");
    let label_name = format!("bundled:{prefix}-labels-idx1-ubyte.gz");
    let image_bytes = idx::decode(images.to_vec(), Path::new(&image_name))?;
    let label_bytes = idx::decode(labels.to_vec(), Path::new(&label_name))?;
    let images = idx::parse_images(&image_bytes, Path::new(&image_name))?;
    let labels = idx::parse_labels(&label_bytes, Path::new(&label_name))?;
    Dataset::from_idx(
        images,
        labels,
        Path::new(&image_name),
        Path::new(&label_name),
    )
}

/// Selects the first `per_class` samples of each class, keeping file order; returns their
/// indices. Fails when a class has fewer than `per_class` samples.
pub fn select_per_class(
    labels: &[u8],
    classes: usize,
    per_class: usize,
) -> Result<Vec<usize>, String> {
    let mut taken = vec![0usize; classes];
    let mut chosen = Vec::with_capacity(classes * per_class);
    for (index, &label) in labels.iter().enumerate() {
        let class = usize::from(label);
        if class < classes && taken[class] < per_class {
            taken[class] += 1;
            chosen.push(index);
        }
    }
    if let Some(class) = taken.iter().position(|&count| count < per_class) {
        return Err(format!(
            "class {class} has {} samples, fewer than the {per_class} requested",
            taken[class]
        ));
    }
    Ok(chosen)
}
