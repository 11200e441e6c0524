//! Writing secrets (signing keys) to disk: a new file, readable only by its owner.

use std::io::Write;
use std::path::Path;

/// Creates `path` (and its parent directories) with mode 0600 and writes `bytes`, synced.
/// Fails with `AlreadyExists` if the file is there, so a concurrent writer is never overwritten.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_private_file_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/key.pem");
        write_new(&p, b"one").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let e = write_new(&p, b"two").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
    }
}
