//! Dataset readers: IDX (gzipped and plain), CIFAR-10 binary batches written by the tests,
//! the embedded Fashion-MNIST subset, and the validation split.

use std::path::Path;

use lossdyn::data::{
    self, DataError, DatasetKind, ValidationSize, bundled, cifar, idx, split_validation,
};
use proptest::prelude::*;

/// Writes an IDX image file and label file for `count` 3x2 images into `dir`.
fn write_idx_pair(dir: &Path, prefix: &str, count: usize, gzipped: bool) -> Vec<u8> {
    let images = idx::IdxImages {
        count,
        rows: 3,
        columns: 2,
        pixels: (0..count * 6).map(|i| (i % 256) as u8).collect(),
    };
    let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
    let (image_bytes, label_bytes) = (idx::encode_images(&images), idx::encode_labels(&labels));
    let suffix = if gzipped { ".gz" } else { "" };
    let write = |name: String, bytes: Vec<u8>| {
        let bytes = if gzipped {
            idx::gzip(&bytes).unwrap()
        } else {
            bytes
        };
        std::fs::write(dir.join(name + suffix), bytes).unwrap();
    };
    write(format!("{prefix}-images-idx3-ubyte"), image_bytes);
    write(format!("{prefix}-labels-idx1-ubyte"), label_bytes);
    labels
}

fn error_text(result: Result<impl std::fmt::Debug, DataError>) -> String {
    result.expect_err("expected an error").to_string()
}

#[test]
fn idx_directory_gzipped_and_plain() {
    for gzipped in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let train_labels = write_idx_pair(dir.path(), "train", 12, gzipped);
        write_idx_pair(dir.path(), "t10k", 4, gzipped);
        let loaded = data::load(DatasetKind::Mnist, Some(dir.path())).unwrap();
        assert_eq!(loaded.train.len(), 12);
        assert_eq!(loaded.test.len(), 4);
        assert_eq!(loaded.train.labels, train_labels);
        assert_eq!(loaded.train.shape.to_string(), "1x3x2");
        assert_eq!(loaded.train.image(1), &[6, 7, 8, 9, 10, 11]);
        assert_eq!(loaded.classes, 10);
    }
}

#[test]
fn idx_pixels_scale_to_unit_interval() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_pair(dir.path(), "train", 50, false);
    write_idx_pair(dir.path(), "t10k", 1, false);
    let loaded = data::load(DatasetKind::FashionMnist, Some(dir.path())).unwrap();
    let pixels = loaded.train.gather_pixels(&[42]);
    let expected: Vec<f32> = (252..258).map(|i| (i % 256) as f32 / 255.0).collect();
    assert_eq!(pixels, expected);
}

#[test]
fn idx_bad_magic_names_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels");
    std::fs::write(
        &path,
        idx::encode_images(&idx::IdxImages {
            count: 1,
            rows: 1,
            columns: 1,
            pixels: vec![0],
        }),
    )
    .unwrap();
    let text = error_text(idx::read_labels(&path));
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("not an IDX label file"), "{text}");
    assert!(
        text.contains("0x00000803") && text.contains("0x00000801"),
        "{text}"
    );
}

#[test]
fn idx_truncated_images_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("images.gz");
    let mut bytes = idx::encode_images(&idx::IdxImages {
        count: 2,
        rows: 2,
        columns: 2,
        pixels: vec![1; 8],
    });
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, idx::gzip(&bytes).unwrap()).unwrap();
    let text = error_text(idx::read_images(&path));
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("truncated"), "{text}");
    assert!(text.contains("expected 8 bytes of images"), "{text}");
    assert!(text.contains("found 5 bytes"), "{text}");
}

#[test]
fn idx_truncated_header_rejected() {
    let text = error_text(idx::parse_labels(&[0, 0, 8, 1, 0], Path::new("short")));
    assert!(text.contains("short is truncated"), "{text}");
}

#[test]
fn idx_trailing_bytes_rejected() {
    let mut bytes = idx::encode_labels(&[1, 2, 3]);
    bytes.push(4);
    let text = error_text(idx::parse_labels(&bytes, Path::new("labels")));
    assert!(text.contains("4 data bytes"), "{text}");
    assert!(text.contains("give 3"), "{text}");
}

#[test]
fn idx_corrupt_gzip_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.gz");
    std::fs::write(&path, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let text = error_text(idx::read_labels(&path));
    assert!(text.contains("not valid gzip"), "{text}");
}

#[test]
fn idx_count_mismatch_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_pair(dir.path(), "train", 5, false);
    write_idx_pair(dir.path(), "t10k", 2, false);
    std::fs::write(
        dir.path().join("t10k-labels-idx1-ubyte"),
        idx::encode_labels(&[1, 2, 3]),
    )
    .unwrap();
    let text = error_text(data::load(DatasetKind::Mnist, Some(dir.path())));
    assert!(
        text.contains("t10k-images-idx3-ubyte holds 2 images"),
        "{text}"
    );
    assert!(
        text.contains("t10k-labels-idx1-ubyte holds 3 labels"),
        "{text}"
    );
}

#[test]
fn idx_label_out_of_range_rejected() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_pair(dir.path(), "train", 3, false);
    write_idx_pair(dir.path(), "t10k", 3, false);
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte"),
        idx::encode_labels(&[1, 12, 3]),
    )
    .unwrap();
    let text = error_text(data::load(DatasetKind::Mnist, Some(dir.path())));
    assert!(
        text.contains("label 12 of sample 1 is outside 0..10"),
        "{text}"
    );
}

#[test]
fn idx_missing_files_give_install_hint() {
    let dir = tempfile::tempdir().unwrap();
    let text = error_text(data::load(DatasetKind::FashionMnist, Some(dir.path())));
    assert!(text.contains("train-images-idx3-ubyte not found"), "{text}");
    assert!(
        text.contains("apt-get install dataset-fashion-mnist"),
        "{text}"
    );
    let text = error_text(data::load(DatasetKind::Mnist, None));
    assert!(
        text.contains("no data directory given for mnist: pass --data DIR"),
        "{text}"
    );
}

/// Writes `count` CIFAR-10 records with labels `offset + i` mod 10 and pixel bytes that
/// encode the record number.
fn cifar_records(count: usize, offset: usize) -> (Vec<u8>, Vec<u8>) {
    let labels: Vec<u8> = (0..count).map(|i| ((offset + i) % 10) as u8).collect();
    let images: Vec<u8> = (0..count)
        .flat_map(|i| std::iter::repeat_n((offset + i) as u8, 3072))
        .collect();
    (images, labels)
}

fn write_cifar(dir: &Path, per_file: usize) {
    for (file, name) in cifar::TRAIN_FILES.iter().enumerate() {
        let (images, labels) = cifar_records(per_file, file * per_file);
        std::fs::write(dir.join(name), cifar::encode_batch(&images, &labels)).unwrap();
    }
    let (images, labels) = cifar_records(2, 200);
    std::fs::write(
        dir.join(cifar::TEST_FILE),
        cifar::encode_batch(&images, &labels),
    )
    .unwrap();
}

#[test]
fn cifar_batches_concatenate_in_order() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 3);
    let loaded = data::load(DatasetKind::Cifar10, Some(dir.path())).unwrap();
    assert_eq!(loaded.train.len(), 15);
    assert_eq!(loaded.test.len(), 2);
    assert_eq!(loaded.train.shape.to_string(), "3x32x32");
    assert_eq!(loaded.train.labels[7], 7);
    assert_eq!(loaded.train.image(7), &[7u8; 3072][..]);
    assert_eq!(loaded.test.labels, vec![0, 1]);
}

#[test]
fn cifar_archive_folder_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join(cifar::ARCHIVE_FOLDER);
    std::fs::create_dir(&inner).unwrap();
    write_cifar(&inner, 1);
    let loaded = data::load(DatasetKind::Cifar10, Some(dir.path())).unwrap();
    assert_eq!(loaded.train.len(), 5);
}

#[test]
fn cifar_wrong_size_names_file() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 2);
    let path = dir.path().join("data_batch_3.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.pop();
    std::fs::write(&path, bytes).unwrap();
    let text = error_text(data::load(DatasetKind::Cifar10, Some(dir.path())));
    assert!(text.contains("data_batch_3.bin has 6145 bytes"), "{text}");
    assert!(text.contains("3073-byte CIFAR-10 record"), "{text}");
}

#[test]
fn cifar_bad_label_names_record() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 2);
    let path = dir.path().join(cifar::TEST_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[cifar::RECORD_BYTES] = 10;
    std::fs::write(&path, bytes).unwrap();
    let text = error_text(data::load(DatasetKind::Cifar10, Some(dir.path())));
    assert!(
        text.contains("label 10 of sample 1 is outside 0..10"),
        "{text}"
    );
}

#[test]
fn cifar_missing_batch_names_file() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), 1);
    std::fs::remove_file(dir.path().join("data_batch_5.bin")).unwrap();
    let text = error_text(data::load(DatasetKind::Cifar10, Some(dir.path())));
    assert!(text.contains("data_batch_5.bin"), "{text}");
}

#[test]
fn bundled_subset_is_class_balanced() {
    let loaded = data::load(DatasetKind::FashionMnistSubset, None).unwrap();
    assert_eq!(loaded.source, "bundled");
    assert_eq!(loaded.train.len(), 6000);
    assert_eq!(loaded.test.len(), 1000);
    assert_eq!(loaded.train.shape.to_string(), "1x28x28");
    for class in 0..10u8 {
        let train = loaded.train.labels.iter().filter(|&&l| l == class).count();
        let test = loaded.test.labels.iter().filter(|&&l| l == class).count();
        assert_eq!(train, bundled::TRAIN_PER_CLASS, "training class {class}");
        assert_eq!(test, bundled::TEST_PER_CLASS, "test class {class}");
    }
}

/// The subset is the first images of each class of the full files, when they are installed.
#[test]
fn bundled_subset_matches_debian_files() {
    let dir = Path::new(data::DEBIAN_FASHION_MNIST_DIR);
    if !dir.exists() {
        eprintln!("skipped: {} is not installed", dir.display());
        return;
    }
    let full = data::load(DatasetKind::FashionMnist, None).unwrap();
    assert_eq!(full.train.len(), 60000);
    assert_eq!(full.test.len(), 10000);
    let subset = data::load(DatasetKind::FashionMnistSubset, None).unwrap();
    let chosen = bundled::select_per_class(&full.train.labels, 10, 600).unwrap();
    assert_eq!(full.train.gather_labels(&chosen), subset.train.labels);
    for (position, &index) in chosen.iter().enumerate().step_by(97) {
        assert_eq!(full.train.image(index), subset.train.image(position));
    }
}

#[test]
fn select_per_class_keeps_file_order() {
    let labels = [2, 0, 2, 1, 0, 2, 1, 0];
    assert_eq!(
        bundled::select_per_class(&labels, 3, 2).unwrap(),
        vec![0, 1, 2, 3, 4, 6]
    );
    let error = bundled::select_per_class(&labels, 4, 1).unwrap_err();
    assert!(error.contains("class 3 has 0 samples"), "{error}");
}

#[test]
fn validation_size_parses_counts_and_fractions() {
    assert_eq!(
        "500".parse::<ValidationSize>().unwrap(),
        ValidationSize::Count(500)
    );
    assert_eq!(
        "0.25".parse::<ValidationSize>().unwrap(),
        ValidationSize::Fraction(0.25)
    );
    let text = "1.5".parse::<ValidationSize>().unwrap_err().to_string();
    assert!(text.contains("invalid validation size 1.5"), "{text}");
    assert!(text.contains("[0, 1)"), "{text}");
    assert!("-3".parse::<ValidationSize>().is_err());
}

#[test]
fn validation_leaving_no_training_rejected() {
    let text = split_validation(10, ValidationSize::Count(10), 0)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("leaves no training sample out of 10"),
        "{text}"
    );
}

#[test]
fn validation_split_depends_on_seed() {
    let a = split_validation(1000, ValidationSize::Fraction(0.1), 1).unwrap();
    let b = split_validation(1000, ValidationSize::Fraction(0.1), 2).unwrap();
    assert_eq!(a.validation.len(), 100);
    assert_ne!(a.validation, b.validation);
}

proptest! {
    /// The split partitions `0..len`, has the requested size and is the same for the same
    /// seed.
    #[test]
    fn validation_split_partitions(len in 2usize..3000, share in 0.0f64..0.95, seed in any::<u64>()) {
        let size = ValidationSize::Fraction(share);
        let split = split_validation(len, size, seed).unwrap();
        let again = split_validation(len, size, seed).unwrap();
        prop_assert_eq!(&split, &again);
        prop_assert_eq!(split.validation.len(), (share * len as f64).round() as usize);
        let mut all: Vec<usize> = split.train.iter().chain(&split.validation).copied().collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..len).collect::<Vec<_>>());
    }
}
