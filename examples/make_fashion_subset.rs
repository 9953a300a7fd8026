//! Rebuilds `data/fashion-mnist-subset/` from the full Fashion-MNIST IDX files.
//!
//! ```text
//! cargo run --example make_fashion_subset -- [SOURCE_DIR [OUTPUT_DIR]]
//! ```
//!
//! SOURCE_DIR defaults to the Debian package's directory (`apt-get install
//! dataset-fashion-mnist`), OUTPUT_DIR to `data/fashion-mnist-subset`. The subset keeps the
//! first 600 training and the first 100 test images of each class, in file order, and writes
//! them as gzipped IDX files. The procedure uses no randomness and gzip output carries no
//! timestamp, so running it again reproduces the committed files byte for byte.

use std::path::{Path, PathBuf};

use anyhow::Context;
use lossdyn::data::{self, bundled, idx};

fn main() -> anyhow::Result<()> {
    let mut arguments = std::env::args().skip(1);
    let source = PathBuf::from(
        arguments
            .next()
            .unwrap_or_else(|| data::DEBIAN_FASHION_MNIST_DIR.to_string()),
    );
    let output = PathBuf::from(
        arguments
            .next()
            .unwrap_or_else(|| "data/fashion-mnist-subset".to_string()),
    );
    let (train, test) = data::load_idx_dir(&source, data::DatasetKind::FashionMnist)?;
    std::fs::create_dir_all(&output)
        .with_context(|| format!("failed to create {}", output.display()))?;
    write_subset(&train, bundled::TRAIN_PER_CLASS, &output, "train")?;
    write_subset(&test, bundled::TEST_PER_CLASS, &output, "t10k")?;
    Ok(())
}

/// Writes the first `per_class` samples of each class as `{prefix}-images-idx3-ubyte.gz` and
/// `{prefix}-labels-idx1-ubyte.gz` in `output`.
fn write_subset(
    dataset: &data::Dataset,
    per_class: usize,
    output: &Path,
    prefix: &str,
) -> anyhow::Result<()> {
    let chosen = bundled::select_per_class(&dataset.labels, data::MNIST_CLASSES, per_class)
        .map_err(anyhow::Error::msg)?;
    let mut pixels = Vec::with_capacity(chosen.len() * dataset.shape.len());
    for &index in &chosen {
        pixels.extend_from_slice(dataset.image(index));
    }
    let images = idx::IdxImages {
        count: chosen.len(),
        rows: dataset.shape.height,
        columns: dataset.shape.width,
        pixels,
    };
    let labels = dataset.gather_labels(&chosen);
    let image_path = output.join(format!("{prefix}-images-idx3-ubyte.gz"));
    let label_path = output.join(format!("{prefix}-labels-idx1-ubyte.gz"));
    std::fs::write(&image_path, idx::gzip(&idx::encode_images(&images))?)
        .with_context(|| format!("failed to write {}", image_path.display()))?;
    std::fs::write(&label_path, idx::gzip(&idx::encode_labels(&labels))?)
        .with_context(|| format!("failed to write {}", label_path.display()))?;
    println!(
        "{}: {} images, {} per class",
        image_path.display(),
        images.count,
        per_class
    );
    Ok(())
}
