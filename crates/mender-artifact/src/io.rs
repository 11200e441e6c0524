//! Reader adapters: counting and teeing the raw upload, hashing members, capping sizes.

use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::budget::Budget;
use crate::error::Error;

/// Counts the bytes read through it.
///
/// `parse` already reports the total in `ArtifactMeta::size`; this is for callers who
/// need the running count themselves (e.g. to enforce an upload limit while parsing).
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R> CountingReader<R> {
    /// Wrap `inner`, starting the count at zero.
    pub fn new(inner: R) -> Self {
        Self { inner, count: 0 }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Give back the wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Copies every byte read from `inner` into `sink` before handing it on, so a caller can
/// store (or hash) the raw artifact while the parser reads it. Because the parser
/// always reads its input to the end, the sink receives the complete artifact.
#[derive(Debug)]
pub struct TeeReader<R, W> {
    inner: R,
    sink: W,
}

impl<R, W> TeeReader<R, W> {
    /// Tee `inner` into `sink`.
    pub fn new(inner: R, sink: W) -> Self {
        Self { inner, sink }
    }

    /// Give back the reader and the sink (e.g. to flush or finish the upload).
    pub fn into_parts(self) -> (R, W) {
        (self.inner, self.sink)
    }
}

impl<R: Read, W: Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// The outermost layer over the caller's input: counts bytes, tells the parse budget how
/// many arrived and how long they took, and marks the caller's I/O errors so they are
/// reported as [`Error::Io`] rather than as corrupt data.
pub(crate) struct SourceReader<R> {
    inner: R,
    budget: Rc<Budget>,
    pub(crate) count: u64,
}

impl<R> SourceReader<R> {
    pub(crate) fn new(inner: R, budget: Rc<Budget>) -> Self {
        Self {
            inner,
            budget,
            count: 0,
        }
    }
}

impl<R: Read> Read for SourceReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let asked = Instant::now();
        let res = self.inner.read(buf);
        self.budget
            .input(*res.as_ref().unwrap_or(&0), asked.elapsed());
        match res {
            Ok(n) => {
                self.count += n as u64;
                Ok(n)
            }
            // Interrupted must stay recognisable so std's copy loops retry it.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(Error::Io(e).into_io()),
        }
    }
}

/// SHA-256 over everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    pub(crate) count: u64,
}

impl<R> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Lower-case hex digest of the bytes read so far.
    pub(crate) fn hex_digest(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Fails with [`Error::TooLarge`] once more than `limit` bytes come through; bounds
/// what hostile (e.g. decompression-bomb) input can make us process.
pub(crate) struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    limit: u64,
    what: String,
}

impl<R> LimitedReader<R> {
    pub(crate) fn new(inner: R, limit: u64, what: impl Into<String>) -> Self {
        Self {
            inner,
            remaining: limit,
            limit,
            what: what.into(),
        }
    }
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Ask for one byte more than allowed so exceeding the limit is detected rather
        // than silently truncated.
        let want = buf
            .len()
            .min(usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.remaining {
            return Err(Error::TooLarge {
                file: self.what.clone(),
                limit: self.limit,
            }
            .into_io());
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// A writer that only counts; used to learn a compressed size before writing it.
#[derive(Default)]
pub(crate) struct CountingSink {
    pub(crate) count: u64,
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.count += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Counts what is written through it.
pub(crate) struct CountingWriter<W> {
    pub(crate) inner: W,
    pub(crate) count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Read everything into a buffer, failing with `TooLarge` beyond `limit` bytes.
pub(crate) fn read_capped(r: impl Read, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    LimitedReader::new(r, limit, what)
        .read_to_end(&mut buf)
        .map_err(|e| Error::from_io(e, what))?;
    Ok(buf)
}

/// Lower-case hex encoding.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}
