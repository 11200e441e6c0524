//! Compression of the header and payload tarballs: names, decoders and encoders.

use std::io::{self, Read, Write};

/// zstd frames may ask for windows up to 2^this bytes; bounds decoder memory.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;
/// xz decoder memory limit; `xz -9` needs about 65 MiB.
const XZ_MEMLIMIT: u64 = 128 * 1024 * 1024;

/// How the `header.tar` and `data/NNNN.tar` members are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (`.gz`), the `mender-artifact` default.
    #[default]
    Gzip,
    /// xz / lzma (`.xz`).
    Xz,
    /// Zstandard (`.zst`).
    Zstd,
}

impl Compression {
    /// File name suffix after `.tar`, including the dot (empty for none).
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
        }
    }

    /// Split `<stem>.tar[.gz|.xz|.zst]` into the stem and the compression.
    pub(crate) fn split_name(name: &str) -> Option<(&str, Compression)> {
        for c in [
            Compression::Gzip,
            Compression::Xz,
            Compression::Zstd,
            Compression::None,
        ] {
            let suffix = format!(".tar{}", c.extension());
            if let Some(stem) = name.strip_suffix(suffix.as_str()) {
                return Some((stem, c));
            }
        }
        None
    }

    /// A decoder over `r`.
    pub(crate) fn decoder<'a, R: Read + 'a>(self, r: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(r),
            // Go's gzip reader accepts concatenated members, so do we.
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
            Compression::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(
                    XZ_MEMLIMIT,
                    liblzma::stream::CONCATENATED,
                )
                .map_err(io::Error::other)?;
                Box::new(liblzma::read::XzDecoder::new_stream(r, stream))
            }
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::new(r)?;
                d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
                Box::new(d)
            }
        })
    }

    /// An encoder writing into `w`; call [`Encoder::finish`] to get `w` back.
    pub(crate) fn encoder<W: Write>(self, w: W) -> io::Result<Encoder<W>> {
        Ok(match self {
            Compression::None => Encoder::None(w),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::default(),
            )),
            Compression::Xz => Encoder::Xz(liblzma::write::XzEncoder::new(w, 6)),
            Compression::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(w, 3)?),
        })
    }
}

/// A streaming compressor (or pass-through).
pub(crate) enum Encoder<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// Flush the compressed trailer and return the inner writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}
