//! Splitting a byte stream into chunks of whole lines on one reader thread.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender};

use super::chunk::Chunk;

/// Bytes read per chunk before it is cut at its last newline.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Maximum length of a line in bytes. A longer run of bytes without a newline is an error, which
/// bounds the memory a chunk can take.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// A read failure, or a line longer than [`MAX_LINE_BYTES`].
#[derive(Debug)]
pub enum ReadFailure {
    Io(io::Error),
    LineTooLong,
}

/// Reads `source` to the end and sends its chunks in file order. Buffers that come back on
/// `recycled` are reused. Stops early when the receiving side hangs up.
pub fn read_chunks(
    mut source: impl Read,
    chunks: SyncSender<Result<Chunk, ReadFailure>>,
    recycled: Receiver<Vec<u8>>,
) {
    let mut carry: Vec<u8> = Vec::new();
    let mut offset: u64 = 0;
    loop {
        let buffer = recycled.try_recv().unwrap_or_default();
        let outcome = next_chunk(&mut source, buffer, &mut carry, offset);
        let chunk = match outcome {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return,
            Err(failure) => {
                let _ = chunks.send(Err(failure));
                return;
            }
        };
        offset += chunk.data.len() as u64;
        let last = chunk.ends_without_newline;
        if chunks.send(Ok(chunk)).is_err() || last {
            return;
        }
    }
}

/// Fills `buffer` with the bytes left over from the previous chunk and at least
/// [`CHUNK_BYTES`] more (or up to the end of the file), then cuts it after its last newline
/// and keeps the rest in `carry`. Returns `None` at the end of the file.
fn next_chunk(
    source: &mut impl Read,
    mut buffer: Vec<u8>,
    carry: &mut Vec<u8>,
    offset: u64,
) -> Result<Option<Chunk>, ReadFailure> {
    buffer.clear();
    buffer.append(carry);
    let mut searched = 0;
    loop {
        let wanted = CHUNK_BYTES.max(buffer.len());
        buffer.reserve(wanted);
        let read = source
            .by_ref()
            .take(wanted as u64)
            .read_to_end(&mut buffer)
            .map_err(ReadFailure::Io)?;
        let at_end = read == 0;
        if let Some(last_newline) = memchr::memrchr(b'\n', &buffer[searched..]) {
            let cut = searched + last_newline + 1;
            carry.extend_from_slice(&buffer[cut..]);
            buffer.truncate(cut);
            return Ok(Some(Chunk {
                offset,
                data: buffer,
                start: 0,
                ends_without_newline: false,
            }));
        }
        if at_end {
            if buffer.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Chunk {
                offset,
                data: buffer,
                start: 0,
                ends_without_newline: true,
            }));
        }
        if buffer.len() > MAX_LINE_BYTES {
            return Err(ReadFailure::LineTooLong);
        }
        searched = buffer.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &[u8]) -> Vec<(u64, Vec<u8>, bool)> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1024);
        let (_keep, recycled) = std::sync::mpsc::channel();
        read_chunks(text, sender, recycled);
        receiver
            .into_iter()
            .map(|chunk| {
                let chunk = chunk.unwrap();
                (chunk.offset, chunk.data, chunk.ends_without_newline)
            })
            .collect()
    }

    #[test]
    fn chunks_end_at_newlines() {
        let text = b"a\nbb\nccc";
        let chunks = collect(text);
        assert_eq!(
            chunks,
            vec![(0, b"a\nbb\n".to_vec(), false), (5, b"ccc".to_vec(), true)]
        );
    }

    #[test]
    fn long_input_splits_into_whole_lines() {
        let line = format!("{}\n", "x".repeat(999));
        let text = line.repeat(3000);
        let chunks = collect(text.as_bytes());
        assert!(chunks.len() >= 2);
        let mut expected_offset = 0;
        for (offset, data, ends_without_newline) in &chunks {
            assert_eq!(*offset, expected_offset);
            assert_eq!(data.last(), Some(&b'\n'));
            assert!(!ends_without_newline);
            expected_offset += data.len() as u64;
        }
        assert_eq!(expected_offset, text.len() as u64);
    }
}
