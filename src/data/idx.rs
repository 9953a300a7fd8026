//! IDX files, the format of MNIST and Fashion-MNIST, gzipped or not.
//!
//! An IDX file is a 4-byte magic number, one big-endian `u32` per dimension, then the data
//! bytes in row-major order. Label files have magic `0x00000801` and one dimension (the
//! count); image files have magic `0x00000803` and three (count, rows, columns). A file that
//! starts with the gzip signature `1f 8b` is decompressed first.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::DataError;

/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABEL_MAGIC: u32 = 0x0000_0801;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGE_MAGIC: u32 = 0x0000_0803;

/// Images of an IDX image file: `count` images of `rows x columns` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub columns: usize,
    pub pixels: Vec<u8>,
}

/// Reads an IDX image file (gzipped or not).
pub fn read_images(path: &Path) -> Result<IdxImages, DataError> {
    let bytes = read_decoded(path)?;
    parse_images(&bytes, path)
}

/// Reads an IDX label file (gzipped or not).
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_decoded(path)?;
    parse_labels(&bytes, path)
}

/// Returns the file's bytes, decompressed when they start with the gzip signature.
pub fn read_decoded(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        error: source,
    })?;
    decode(raw, path)
}

/// Decompresses `bytes` if they start with the gzip signature; `path` names them in errors.
pub fn decode(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut decoded = Vec::new();
    GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut decoded)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            error: source,
        })?;
    Ok(decoded)
}

/// Parses decoded IDX image bytes; `path` names the source in errors.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<IdxImages, DataError> {
    let dims = parse_header(bytes, path, IMAGE_MAGIC, 3)?;
    let (count, rows, columns) = (dims[0], dims[1], dims[2]);
    let data = &bytes[16..];
    check_length(path, data.len(), count * rows * columns, "images")?;
    Ok(IdxImages {
        count,
        rows,
        columns,
        pixels: data.to_vec(),
    })
}

/// Parses decoded IDX label bytes; `path` names the source in errors.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let dims = parse_header(bytes, path, LABEL_MAGIC, 1)?;
    let data = &bytes[8..];
    check_length(path, data.len(), dims[0], "labels")?;
    Ok(data.to_vec())
}

/// Checks the magic number and returns the dimension sizes.
fn parse_header(
    bytes: &[u8],
    path: &Path,
    magic: u32,
    dimensions: usize,
) -> Result<Vec<usize>, DataError> {
    let header_len = 4 + 4 * dimensions;
    if bytes.len() < header_len {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            what: format!("an IDX header of {header_len} bytes"),
            expected: header_len,
            actual: bytes.len(),
        });
    }
    let read_u32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let found = read_u32(0);
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found,
            expected: magic,
        });
    }
    Ok((0..dimensions)
        .map(|d| read_u32(4 + 4 * d) as usize)
        .collect())
}

fn check_length(path: &Path, actual: usize, expected: usize, what: &str) -> Result<(), DataError> {
    if actual < expected {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            what: format!("{expected} bytes of {what} after the header"),
            expected,
            actual,
        });
    }
    if actual > expected {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// Encodes images as an uncompressed IDX image file.
pub fn encode_images(images: &IdxImages) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + images.pixels.len());
    for value in [
        IMAGE_MAGIC,
        images.count as u32,
        images.rows as u32,
        images.columns as u32,
    ] {
        bytes.extend_from_slice(&value.to_be_bytes());
    }
    bytes.extend_from_slice(&images.pixels);
    bytes
}

/// Encodes labels as an uncompressed IDX label file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + labels.len());
    bytes.extend_from_slice(&LABEL_MAGIC.to_be_bytes());
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

/// Gzips `bytes` at the best compression. The gzip header carries no file name and a zero
/// modification time, so equal input gives equal output.
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}
