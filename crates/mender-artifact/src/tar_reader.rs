//! A minimal streaming tar reader for untrusted input.
//!
//! The `tar` crate reads GNU long-name and PAX extension members into memory without
//! a size cap, so a hostile artifact could make it allocate gigabytes. This reader
//! bounds those members, understands what Go's `archive/tar` writes (ustar, PAX
//! `path`/`size`/`mtime`, GNU long names, base-256 numbers) and never touches the disk.

use std::io::{self, Read};

use crate::error::Error;

const BLOCK: u64 = 512;
/// PAX and GNU long-name members larger than this are refused.
const MAX_EXTENSION: u64 = 64 * 1024;

/// What kind of member a header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Directory,
    /// Links, devices, FIFOs, sparse files and anything unknown.
    Other(u8),
}

/// One member's metadata.
#[derive(Debug, Clone)]
pub(crate) struct EntryHeader {
    pub(crate) name: String,
    pub(crate) kind: EntryKind,
    /// Modification time, unix seconds.
    pub(crate) mtime: i64,
}

/// Reads members one after another; `Read` yields the current member's data.
pub(crate) struct TarReader<R> {
    inner: R,
    /// Data bytes of the current member not read yet.
    remaining: u64,
    /// Padding after the current member's data.
    padding: u64,
    done: bool,
    context: String,
}

impl<R: Read> TarReader<R> {
    /// `context` names the stream in error messages.
    pub(crate) fn new(inner: R, context: impl Into<String>) -> Self {
        Self {
            inner,
            remaining: 0,
            padding: 0,
            done: false,
            context: context.into(),
        }
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    fn malformed(&self, message: impl Into<String>) -> Error {
        Error::Tar {
            context: self.context.clone(),
            message: message.into(),
        }
    }

    /// Skip what is left of the current member and return the next one's header, or
    /// `None` at the end of the archive.
    pub(crate) fn next_entry(&mut self) -> Result<Option<EntryHeader>, Error> {
        if self.done {
            return Ok(None);
        }
        self.skip_rest()?;
        let mut long_name: Option<String> = None;
        let mut pax = PaxOverrides::default();
        loop {
            let mut block = [0u8; BLOCK as usize];
            if !self.read_block(&mut block)? {
                // A clean end at a block boundary without the two zero blocks is
                // accepted, as Go's reader does.
                if long_name.is_some() || pax.any() {
                    return Err(self.malformed("extension header without a following member"));
                }
                self.done = true;
                return Ok(None);
            }
            if block.iter().all(|b| *b == 0) {
                if long_name.is_some() || pax.any() {
                    return Err(self.malformed("extension header without a following member"));
                }
                self.done = true;
                return Ok(None);
            }
            self.check_checksum(&block)?;
            let typeflag = block[156];
            let size = parse_number(&block[124..136])
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| self.malformed("invalid size field"))?;
            match typeflag {
                b'x' | b'g' | b'L' | b'K' => {
                    if size > MAX_EXTENSION {
                        return Err(Error::TooLarge {
                            file: format!("{}: tar extension header", self.context),
                            limit: MAX_EXTENSION,
                        });
                    }
                    self.begin_data(size);
                    let mut data = Vec::with_capacity(size as usize);
                    self.read_to_end(&mut data)
                        .map_err(|e| Error::from_io(e, &self.context))?;
                    self.skip_rest()?;
                    match typeflag {
                        b'x' => pax = self.parse_pax(&data)?,
                        b'L' => {
                            let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
                            data.truncate(end);
                            long_name = Some(
                                String::from_utf8(data)
                                    .map_err(|_| self.malformed("member name is not UTF-8"))?,
                            );
                        }
                        // Global PAX headers and long link names carry nothing we use.
                        _ => {}
                    }
                    continue;
                }
                _ => {}
            }
            let name = match (pax.path.take(), long_name.take()) {
                (Some(p), _) => p,
                (None, Some(l)) => l,
                (None, None) => self.header_name(&block)?,
            };
            let size = pax.size.take().unwrap_or(size);
            let mtime = match pax.mtime.take() {
                Some(m) => m,
                None => parse_number(&block[136..148])
                    .and_then(|n| i64::try_from(n).ok())
                    .ok_or_else(|| self.malformed("invalid mtime field"))?,
            };
            let kind = match typeflag {
                b'0' | 0 | b'7' => EntryKind::File,
                b'5' => EntryKind::Directory,
                other => EntryKind::Other(other),
            };
            // Only regular files carry data we read; everything else is refused by
            // the caller, but its size must still be skipped correctly.
            self.begin_data(if kind == EntryKind::Directory {
                0
            } else {
                size
            });
            return Ok(Some(EntryHeader { name, kind, mtime }));
        }
    }

    /// Read a whole block; `false` on a clean end of input before it.
    fn read_block(&mut self, block: &mut [u8]) -> Result<bool, Error> {
        let mut filled = 0;
        while filled < block.len() {
            match self.inner.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(Error::Truncated),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::from_io(e, &self.context)),
            }
        }
        Ok(true)
    }

    fn begin_data(&mut self, size: u64) {
        self.remaining = size;
        self.padding = (BLOCK - size % BLOCK) % BLOCK;
    }

    /// Discard the rest of the current member including its padding.
    fn skip_rest(&mut self) -> Result<(), Error> {
        let n = self.remaining.saturating_add(self.padding);
        self.remaining = 0;
        self.padding = 0;
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())
            .map_err(|e| Error::from_io(e, &self.context))?;
        if copied < n {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    fn check_checksum(&self, block: &[u8]) -> Result<(), Error> {
        let stored = parse_number(&block[148..156])
            .ok_or_else(|| self.malformed("invalid header checksum field"))?;
        let mut unsigned: i64 = 0;
        let mut signed: i64 = 0;
        for (i, b) in block.iter().enumerate() {
            let b = if (148..156).contains(&i) { b' ' } else { *b };
            unsigned += i64::from(b);
            signed += i64::from(b as i8);
        }
        // Go accepts both the unsigned and the historic signed sum.
        if i128::from(unsigned) != stored && i128::from(signed) != stored {
            return Err(self.malformed("header checksum mismatch"));
        }
        Ok(())
    }

    fn header_name(&self, block: &[u8]) -> Result<String, Error> {
        let name = cstr(&block[0..100]);
        // Only POSIX ustar ("ustar\0") has a name prefix; GNU uses that area for times.
        let prefix = if &block[257..263] == b"ustar\0" {
            cstr(&block[345..500])
        } else {
            &[]
        };
        let full = if prefix.is_empty() {
            name.to_vec()
        } else {
            [prefix, b"/", name].concat()
        };
        String::from_utf8(full).map_err(|_| self.malformed("member name is not UTF-8"))
    }

    fn parse_pax(&self, data: &[u8]) -> Result<PaxOverrides, Error> {
        let mut out = PaxOverrides::default();
        let mut rest = data;
        while !rest.is_empty() {
            let space = rest
                .iter()
                .position(|b| *b == b' ')
                .ok_or_else(|| self.malformed("malformed PAX record"))?;
            let len: usize = std::str::from_utf8(&rest[..space])
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|l| *l > space + 1 && *l <= rest.len())
                .ok_or_else(|| self.malformed("malformed PAX record length"))?;
            let record = &rest[space + 1..len];
            rest = &rest[len..];
            let record = record
                .strip_suffix(b"\n")
                .ok_or_else(|| self.malformed("PAX record without newline"))?;
            let eq = record
                .iter()
                .position(|b| *b == b'=')
                .ok_or_else(|| self.malformed("PAX record without '='"))?;
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            let text =
                || std::str::from_utf8(value).map_err(|_| self.malformed("PAX value is not UTF-8"));
            match key {
                b"path" => out.path = Some(text()?.to_string()),
                b"size" => {
                    out.size = Some(
                        text()?
                            .parse()
                            .map_err(|_| self.malformed("invalid PAX size"))?,
                    );
                }
                b"mtime" => {
                    let t = text()?;
                    let secs = t.split('.').next().unwrap_or_default();
                    out.mtime = Some(
                        secs.parse()
                            .map_err(|_| self.malformed("invalid PAX mtime"))?,
                    );
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

impl<R: Read> Read for TarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(Error::Truncated.into_io());
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[derive(Default)]
struct PaxOverrides {
    path: Option<String>,
    size: Option<u64>,
    mtime: Option<i64>,
}

impl PaxOverrides {
    fn any(&self) -> bool {
        self.path.is_some() || self.size.is_some() || self.mtime.is_some()
    }
}

/// The bytes up to the first NUL.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    &field[..end]
}

/// A numeric header field: octal text, or GNU base-256 when the top bit is set.
fn parse_number(field: &[u8]) -> Option<i128> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // Negative values (second-highest bit set) are meaningless for sizes and
        // times in an artifact; refuse them.
        if field[0] & 0x40 != 0 {
            return None;
        }
        let mut v: i128 = 0;
        for (i, b) in field.iter().enumerate() {
            let c = if i == 0 { b & 0x7f } else { *b };
            v = v.checked_mul(256)?.checked_add(i128::from(c))?;
        }
        return Some(v);
    }
    let text = std::str::from_utf8(cstr(field)).ok()?.trim_matches(' ');
    if text.is_empty() {
        return Some(0);
    }
    i128::from_str_radix(text, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"0000644\0"), Some(0o644));
        assert_eq!(parse_number(b"      \0\0"), Some(0));
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[11] = 5;
        big[10] = 1;
        assert_eq!(parse_number(&big), Some(261));
        assert_eq!(parse_number(b"12x4\0"), None);
    }
}
