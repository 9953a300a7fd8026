//! CIFAR-10 in its binary version (`cifar-10-batches-bin`).
//!
//! Each file is a sequence of 3073-byte records: one label byte in `0..10`, then a 32x32
//! colour image as 1024 red, 1024 green and 1024 blue bytes, each plane row-major. The
//! training set is `data_batch_1.bin` .. `data_batch_5.bin` and the test set `test_batch.bin`,
//! 10,000 records per file in the official release; any whole number of records is read.

use std::path::{Path, PathBuf};

use super::{DataError, Dataset, ImageShape};

/// Side length of a CIFAR-10 image.
pub const SIDE: usize = 32;

/// Colour channels of a CIFAR-10 image.
pub const CHANNELS: usize = 3;

/// Bytes of one record: the label byte and the image.
pub const RECORD_BYTES: usize = 1 + CHANNELS * SIDE * SIDE;

/// Number of CIFAR-10 classes.
pub const CLASSES: usize = 10;

/// File names of the training batches, in the order they are concatenated.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];

/// File name of the test batch.
pub const TEST_FILE: &str = "test_batch.bin";

/// Name of the folder the official archive unpacks to; accepted inside `--data DIR`.
pub const ARCHIVE_FOLDER: &str = "cifar-10-batches-bin";

/// Reads the training and test sets from `dir`, or from `dir/cifar-10-batches-bin` when the
/// batches are not directly in `dir`.
pub fn load(dir: &Path) -> Result<(Dataset, Dataset), DataError> {
    let root = if dir.join(TEST_FILE).exists() || !dir.join(ARCHIVE_FOLDER).exists() {
        dir.to_path_buf()
    } else {
        dir.join(ARCHIVE_FOLDER)
    };
    if !root.join(TRAIN_FILES[0]).exists() {
        return Err(DataError::Missing {
            what: format!("CIFAR-10 batch file {}", TRAIN_FILES[0]),
            dir: dir.to_path_buf(),
            tried: format!("{0} and {ARCHIVE_FOLDER}/{0}", TRAIN_FILES[0]),
            hint: format!(
                "Download and unpack cifar-10-binary.tar.gz from \
                 https://www.cs.toronto.edu/~kriz/cifar.html, then pass --data with the \
                 directory that contains {ARCHIVE_FOLDER} or the .bin files themselves"
            ),
        });
    }
    let train_paths: Vec<PathBuf> = TRAIN_FILES.iter().map(|name| root.join(name)).collect();
    let train = read_batches(&train_paths)?;
    let test = read_batches(&[root.join(TEST_FILE)])?;
    Ok((train, test))
}

/// Reads and concatenates batch files.
pub fn read_batches(paths: &[PathBuf]) -> Result<Dataset, DataError> {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.clone(),
            error: source,
        })?;
        parse_batch(&bytes, path, &mut images, &mut labels)?;
    }
    Ok(Dataset {
        images,
        labels,
        shape: ImageShape {
            channels: CHANNELS,
            height: SIDE,
            width: SIDE,
        },
    })
}

/// Appends the records of one batch file to `images` and `labels`.
pub fn parse_batch(
    bytes: &[u8],
    path: &Path,
    images: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(DataError::RecordSize {
            path: path.to_path_buf(),
            actual: bytes.len(),
            record: RECORD_BYTES,
        });
    }
    for (position, record) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let label = record[0];
        if usize::from(label) >= CLASSES {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                position,
                label,
                classes: CLASSES,
            });
        }
        labels.push(label);
        images.extend_from_slice(&record[1..]);
    }
    Ok(())
}

/// Encodes labelled images `(channels, 32, 32)` as one CIFAR-10 batch file.
pub fn encode_batch(images: &[u8], labels: &[u8]) -> Vec<u8> {
    let image_bytes = RECORD_BYTES - 1;
    assert_eq!(
        images.len(),
        labels.len() * image_bytes,
        "one image per label"
    );
    let mut bytes = Vec::with_capacity(labels.len() * RECORD_BYTES);
    for (label, image) in labels.iter().zip(images.chunks_exact(image_bytes)) {
        bytes.push(*label);
        bytes.extend_from_slice(image);
    }
    bytes
}
