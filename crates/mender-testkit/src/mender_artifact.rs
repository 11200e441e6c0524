//! The real `mender-artifact` tool (Debian package `mender-artifact`) for tests that build or
//! check artifacts with it, and the programs those tests run beside it: openssl for signing
//! keys, mkfs.ext4 for root filesystem images. Every helper panics (failing the test) with the
//! program's output when it fails: these are test fixtures, not library code.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the Debian package installs the tool.
pub const TOOL: &str = "/usr/bin/mender-artifact";

/// The real tool (in the C locale, so its listings read the same everywhere); fails loudly
/// when it is not installed.
pub fn tool() -> Command {
    assert!(
        Path::new(TOOL).exists(),
        "{TOOL} is missing: install the Debian package `mender-artifact` (the test command in \
         README.md does)"
    );
    let mut c = Command::new(TOOL);
    c.env("LC_ALL", "C");
    c
}

/// `mender-artifact write module-image -T <module_type> -t <device_type> -n <name>`; the caller
/// adds the payload files (`-f`), the output (`-o`) and any other option.
pub fn write_module_image(module_type: &str, device_type: &str, name: &str) -> Command {
    let mut c = tool();
    c.args([
        "write",
        "module-image",
        "-T",
        module_type,
        "-t",
        device_type,
        "-n",
        name,
    ]);
    c
}

/// `mender-artifact write rootfs-image -t <device_type> -n <name> --no-progress`; the caller
/// adds the image (`-f`), the output (`-o`) and any other option.
pub fn write_rootfs_image(device_type: &str, name: &str) -> Command {
    let mut c = tool();
    c.args([
        "write",
        "rootfs-image",
        "-t",
        device_type,
        "-n",
        name,
        "--no-progress",
    ]);
    c
}

/// What the `single-file` update module installs, given to the tool as
/// `single-file-artifact-gen` (and our writer) give it: `dest_dir`, `filename` and
/// `permissions` files holding one line each, then the file itself.
#[derive(Debug, Clone, Copy)]
pub struct SingleFile<'a> {
    /// The directory the file is installed into.
    pub dest_dir: &'a str,
    /// The installed file's name, also the payload file's name.
    pub filename: &'a str,
    /// Its mode, in octal (`644`).
    pub permissions: &'a str,
    /// Its content.
    pub content: &'a [u8],
}

impl SingleFile<'_> {
    /// Writes the module's four payload files into `dir` and returns
    /// `write module-image -T single-file` run in `dir` with them as payload; the caller adds
    /// `-o` and any other option.
    pub fn write_command(&self, dir: &Path, device_type: &str, name: &str) -> Command {
        for (file, content) in [
            ("dest_dir", format!("{}\n", self.dest_dir).into_bytes()),
            ("filename", format!("{}\n", self.filename).into_bytes()),
            (
                "permissions",
                format!("{}\n", self.permissions).into_bytes(),
            ),
            (self.filename, self.content.to_vec()),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, content)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        let mut c = write_module_image("single-file", device_type, name);
        c.current_dir(dir).args([
            "-f",
            "dest_dir",
            "-f",
            "filename",
            "-f",
            "permissions",
            "-f",
            self.filename,
        ]);
        c
    }
}

/// Runs `cmd` (the tool or any other program), panicking with its output unless it succeeds;
/// returns its standard output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An RSA key pair made with openssl in `dir`: the private key in PKCS#1 PEM (what the tool's
/// `-k` wants) and the public key in PEM (what `validate -k` and mender-client want).
pub fn rsa_key(dir: &Path, bits: u32) -> (PathBuf, PathBuf) {
    let private = dir.join("key.pem");
    let public = dir.join("key.pub");
    run(Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&private)
        .arg(bits.to_string()));
    run(Command::new("openssl")
        .args(["rsa", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public));
    (private, public)
}

/// An 8 MiB ext4 image `dir/rootfs.ext4` holding `/etc/hostname`, for rootfs-image artifacts.
pub fn ext4_image(dir: &Path) -> PathBuf {
    let content = dir.join("rootfs-content");
    std::fs::create_dir_all(content.join("etc")).expect("rootfs content directory");
    std::fs::write(content.join("etc/hostname"), "device\n").expect("rootfs content");
    let img = dir.join("rootfs.ext4");
    run(Command::new("/usr/sbin/mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&content)
        .arg(&img)
        .arg("8M"));
    img
}
