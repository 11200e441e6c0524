//! Hostile and malformed artifacts: each must fail with the right typed error, never
//! panic, and never need unbounded memory.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Craft, Member, file, gzip, header_info, sha256_hex, tar_of};
use mender_artifact::{Error, ParseLimits, parse, parse_with_limits};

fn err(bytes: &[u8]) -> Error {
    match parse(bytes) {
        Ok(meta) => panic!("expected an error, got {meta:?}"),
        Err(e) => e,
    }
}

#[test]
fn crafted_baseline_parses() {
    let meta = parse(Craft::new().build().as_slice()).unwrap();
    assert_eq!(meta.name, "crafted");
    assert_eq!(meta.updates[0].files[0].name, "run.sh");
    assert_eq!(
        meta.updates[0].files[0].checksum,
        sha256_hex(b"#!/bin/sh\necho hi\n")
    );
}

#[test]
fn truncated_anywhere_is_an_error() {
    let bytes = Craft::new().build();
    // The last 1024 bytes are the end-of-archive marker; cutting inside it is benign.
    let cut_points: Vec<usize> = (0..bytes.len() - 1024).step_by(37).collect();
    for cut in cut_points {
        let e = err(&bytes[..cut]);
        assert!(
            matches!(
                e,
                Error::Truncated
                    | Error::Missing(_)
                    | Error::Compression { .. }
                    | Error::MissingFiles(_)
            ),
            "cut at {cut}: {e}"
        );
    }
    assert!(matches!(err(&bytes[..700]), Error::Truncated));
}

#[test]
fn corrupted_bytes_never_panic() {
    let bytes = Craft::new().build();
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let _ = parse(b.as_slice());
    }
}

#[test]
fn not_a_tar() {
    assert!(matches!(err(&[0x41u8; 4096]), Error::Tar { .. }));
    assert!(matches!(err(b""), Error::Missing(m) if m == "version"));
}

#[test]
fn wrong_checksums() {
    let mut c = Craft::new();
    c.manifest_extra
        .insert("data/0000/run.sh".into(), "0".repeat(64));
    assert!(
        matches!(err(&c.build()), Error::ChecksumMismatch { file, .. } if file == "data/0000/run.sh")
    );

    let mut c = Craft::new();
    c.manifest_extra
        .insert("header.tar.gz".into(), "a".repeat(64));
    assert!(
        matches!(err(&c.build()), Error::ChecksumMismatch { file, .. } if file == "header.tar.gz")
    );

    let mut c = Craft::new();
    c.manifest_extra.insert("version".into(), "b".repeat(64));
    assert!(matches!(err(&c.build()), Error::ChecksumMismatch { file, .. } if file == "version"));

    let mut c = Craft::new();
    c.manifest_extra.insert("version".into(), "xyz".into());
    assert!(matches!(err(&c.build()), Error::Manifest(_)));
}

#[test]
fn missing_members() {
    let mut c = Craft::new();
    c.omit_version = true;
    assert!(matches!(err(&c.build()), Error::Missing(m) if m.starts_with("version")));

    let mut c = Craft::new();
    c.omit_manifest = true;
    assert!(matches!(err(&c.build()), Error::Missing(m) if m.starts_with("manifest")));

    let mut c = Craft::new();
    c.omit_header = true;
    assert!(matches!(err(&c.build()), Error::Missing(m) if m.starts_with("header.tar")));

    let mut c = Craft::new();
    c.header_members.remove(0);
    assert!(matches!(err(&c.build()), Error::Missing(m) if m.starts_with("header-info")));
}

#[test]
fn files_and_manifest_must_agree() {
    // In the data but not in the manifest.
    let mut c = Craft::new();
    c.manifest_skip.push("data/0000/run.sh".into());
    c.data_members.push(file("other.sh", b"x".to_vec()));
    c.manifest_skip.push("data/0000/other.sh".into());
    c.manifest_extra.insert(
        "data/0000/run.sh".into(),
        sha256_hex(b"#!/bin/sh\necho hi\n"),
    );
    assert!(matches!(err(&c.build()), Error::NotInManifest(n) if n == "data/0000/other.sh"));

    // In the manifest but not in the data.
    let mut c = Craft::new();
    c.manifest_extra
        .insert("data/0000/ghost".into(), sha256_hex(b"boo"));
    assert!(matches!(err(&c.build()), Error::MissingFiles(f) if f == ["data/0000/ghost"]));

    // Header member not listed.
    let mut c = Craft::new();
    c.manifest_skip.push("header.tar.gz".into());
    assert!(matches!(err(&c.build()), Error::NotInManifest(n) if n == "header.tar.gz"));

    // Manifest entry for a payload that does not exist.
    let mut c = Craft::new();
    c.manifest_extra
        .insert("data/0001/x".into(), sha256_hex(b"x"));
    assert!(matches!(err(&c.build()), Error::Invalid(_)));
}

#[test]
fn unexpected_outer_member() {
    let mut c = Craft::new();
    c.trailing_members.push(file("evil", b"x".to_vec()));
    assert!(matches!(err(&c.build()), Error::UnexpectedFile(n) if n == "evil"));
}

fn unsafe_member(m: Member, in_data: bool) -> Error {
    let mut c = Craft::new();
    if in_data {
        // Keep the manifest clean so the data tar's own check is what trips.
        c.manifest_skip.push(format!("data/0000/{}", m.name));
        c.data_members.push(m);
    } else {
        c.header_members.push(m);
    }
    err(&c.build())
}

/// A member that is not a regular file: a link (to `link`) or a device.
fn special(name: &str, kind: tar::EntryType, link: Option<&str>) -> Member {
    let mut m = file(name, Vec::new());
    m.kind = kind;
    m.link = link.map(str::to_owned);
    m
}

#[test]
fn unsafe_entries_are_refused() {
    for in_data in [false, true] {
        let e = unsafe_member(file("../../etc/passwd", b"x".to_vec()), in_data);
        assert!(
            matches!(e, Error::UnsafeEntry { reason, .. } if reason.contains("..")),
            "{e}"
        );
        for (member, want) in [
            (file("/etc/passwd", b"x".to_vec()), "absolute path"),
            (
                special("link", tar::EntryType::Symlink, Some("/etc/shadow")),
                "symbolic link",
            ),
            (
                special("hard", tar::EntryType::Link, Some("run.sh")),
                "hard link",
            ),
            (special("dev", tar::EntryType::Char, None), "device file"),
        ] {
            let e = unsafe_member(member, in_data);
            assert!(
                matches!(e, Error::UnsafeEntry { reason, .. } if reason == want),
                "{e}"
            );
        }
    }
    // In the outer tar too.
    let mut c = Craft::new();
    c.trailing_members.push(file("../x", b"x".to_vec()));
    assert!(matches!(err(&c.build()), Error::UnsafeEntry { .. }));
    // Payload file names outside the client's allowed set.
    let e = unsafe_member(file("sp ace", b"x".to_vec()), true);
    assert!(matches!(e, Error::UnsafeEntry { .. }), "{e}");
}

#[test]
fn oversize_json_is_refused() {
    let mut c = Craft::new();
    let mut big = b"{\"payloads\":[{\"type\":\"script\"}],\"x\":\"".to_vec();
    big.resize(2 * 1024 * 1024, b'a');
    big.extend_from_slice(b"\"}");
    c.header_members[0] = file("header-info", big);
    assert!(matches!(err(&c.build()), Error::TooLarge { file, .. } if file == "header-info"));
}

#[test]
fn decompression_bomb_in_header_is_bounded() {
    let mut c = Craft::new();
    // 100 MiB of zeros compresses to ~100 KiB.
    c.header_members.push(file(
        "scripts/ArtifactInstall_Enter_00",
        vec![0u8; 100 * 1024 * 1024],
    ));
    assert!(matches!(err(&c.build()), Error::TooLarge { .. }));
}

/// A payload of 64 MiB of zeros (about 64 KiB gzipped): within the default budget, refused
/// with a ratio of 100:1 and 1 MiB allowance, and refused when no parse time is allowed.
#[test]
fn decompression_bomb_in_payload_is_budgeted() {
    let mut c = Craft::new();
    c.data_members = vec![file("run.sh", vec![0u8; 64 * 1024 * 1024])];
    let bomb = c.build();
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
    assert!(parse(bomb.as_slice()).is_ok());
    let tight = ParseLimits {
        max_decompression_ratio: 100,
        decompression_allowance: 1024 * 1024,
        max_parse_time: None,
    };
    let e = parse_with_limits(bomb.as_slice(), tight).unwrap_err();
    assert!(
        matches!(&e, Error::DecompressionBudget { file, ratio: 100 } if file == "data/0000.tar.gz"),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "data/0000.tar.gz decompresses to more than 100 times the size of the artifact"
    );
    let no_time = ParseLimits {
        max_parse_time: Some(std::time::Duration::ZERO),
        ..ParseLimits::unlimited()
    };
    let e = parse_with_limits(bomb.as_slice(), no_time).unwrap_err();
    assert!(matches!(e, Error::ParseTime { .. }), "{e}");
    // A small artifact fits a tight ratio: its own bytes are the allowance it needs.
    let small = Craft::new().build();
    let ratio_only = ParseLimits {
        decompression_allowance: 0,
        ..tight
    };
    assert!(parse_with_limits(small.as_slice(), ratio_only).is_ok());
}

#[test]
fn corrupt_compression() {
    let mut c = Craft::new();
    let mut bad = gzip(&tar_of(&c.header_members));
    let mid = bad.len() / 2;
    for b in &mut bad[10..mid] {
        *b ^= 0xff;
    }
    c.header_override = Some(bad);
    assert!(matches!(err(&c.build()), Error::Compression { file, .. } if file == "header.tar.gz"));

    let mut c = Craft::new();
    c.header_override = Some(b"this is not gzip at all".to_vec());
    assert!(matches!(err(&c.build()), Error::Compression { .. }));
}

#[test]
fn versions_and_formats() {
    for (v, want) in [(1u64, 1u64), (4, 4), (0, 0)] {
        let mut c = Craft::new();
        c.version = format!(r#"{{"format":"mender","version":{v}}}"#).into_bytes();
        assert!(matches!(err(&c.build()), Error::UnsupportedVersion(x) if x == want));
    }
    let mut c = Craft::new();
    c.version = br#"{"format":"other","version":3}"#.to_vec();
    assert!(matches!(err(&c.build()), Error::UnsupportedFormat(f) if f == "other"));
    let mut c = Craft::new();
    c.version = b"garbage".to_vec();
    assert!(matches!(err(&c.build()), Error::InvalidJson { file, .. } if file == "version"));
}

#[test]
fn header_values_are_validated() {
    let mut c = Craft::new();
    c.header_members[0] = file("header-info", header_info("", &["dev"]));
    assert!(matches!(err(&c.build()), Error::Invalid(m) if m.contains("name")));

    let mut c = Craft::new();
    c.header_members[0] = file("header-info", header_info("n", &[]));
    assert!(matches!(err(&c.build()), Error::Invalid(m) if m.contains("device types")));

    let long = "ä".repeat(200);
    let mut c = Craft::new();
    c.header_members[0] = file("header-info", header_info(&long, &["dev"]));
    assert!(matches!(err(&c.build()), Error::Invalid(_)));

    let mut c = Craft::new();
    c.header_members[0] = file("header-info", header_info("tab\there", &["dev"]));
    assert!(matches!(err(&c.build()), Error::Invalid(_)));

    // Type mismatch between header-info and type-info.
    let mut c = Craft::new();
    c.header_members[1] = file("headers/0000/type-info", br#"{"type":"other"}"#.to_vec());
    assert!(matches!(err(&c.build()), Error::Invalid(m) if m.contains("type")));

    // Provides key clash between header-info and type-info.
    let mut c = Craft::new();
    c.header_members[1] = file(
        "headers/0000/type-info",
        br#"{"type":"script","artifact_provides":{"artifact_name":"x"}}"#.to_vec(),
    );
    assert!(matches!(err(&c.build()), Error::Invalid(m) if m.contains("conflicting")));

    // Header member for a payload that does not exist.
    let mut c = Craft::new();
    c.header_members.push(file(
        "headers/0003/type-info",
        br#"{"type":"script"}"#.to_vec(),
    ));
    assert!(matches!(err(&c.build()), Error::Invalid(_)));

    // meta-data must be an object.
    let mut c = Craft::new();
    c.header_members
        .push(file("headers/0000/meta-data", b"[1,2]".to_vec()));
    assert!(matches!(err(&c.build()), Error::InvalidJson { .. }));

    // Unknown top-level header-info fields are refused, as upstream does.
    let mut c = Craft::new();
    c.header_members[0] = file(
        "header-info",
        br#"{"payloads":[{"type":"script"}],"artifact_provides":{"artifact_name":"n"},"artifact_depends":{"device_type":["d"]},"surprise":1}"#.to_vec(),
    );
    assert!(matches!(err(&c.build()), Error::InvalidJson { .. }));
}

#[test]
fn unicode_names_within_limits_are_fine() {
    let mut c = Craft::new();
    c.header_members[0] = file("header-info", header_info("версия-1 ✓", &["плата"]));
    let meta = parse(c.build().as_slice()).unwrap();
    assert_eq!(meta.name, "версия-1 ✓");
    assert_eq!(meta.device_types_compatible, ["плата"]);
}

#[test]
fn header_scripts_and_meta_data() {
    let mut c = Craft::new();
    c.header_members.insert(
        1,
        file("scripts/ArtifactInstall_Enter_00", b"#!/bin/sh\n".to_vec()),
    );
    c.header_members.push(file(
        "headers/0000/meta-data",
        br#"{"a":1,"nested":{"b":[1,2]}}"#.to_vec(),
    ));
    let meta = parse(c.build().as_slice()).unwrap();
    let md = meta.updates[0].meta_data.as_ref().unwrap();
    assert_eq!(md["a"], 1);
    assert_eq!(md["nested"]["b"][1], 2);
}

#[test]
fn long_names_via_gnu_and_pax_extensions() {
    // GNU long-name member (names over 100 bytes).
    let long = "f".repeat(150);
    let mut c = Craft::new();
    c.data_members = vec![file(&long, b"payload".to_vec())];
    let meta = parse(c.build().as_slice()).unwrap();
    assert_eq!(meta.updates[0].files[0].name, long);

    // PAX `path`, `mtime` and `size` records, as Go's archive/tar writes them.
    let pax_name = "p".repeat(120);
    let data = b"pax payload".to_vec();
    let mut b = tar::Builder::new(Vec::new());
    let size = data.len().to_string();
    b.append_pax_extensions([
        ("path", pax_name.as_bytes()),
        ("mtime", b"1700000123.5".as_slice()),
        ("size", size.as_bytes()),
    ])
    .unwrap();
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..5].copy_from_slice(b"short");
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, data.as_slice()).unwrap();
    let mut c = Craft::new();
    c.data_members = vec![file(&pax_name, data)];
    c.data_override = Some(gzip(&b.into_inner().unwrap()));
    let meta = parse(c.build().as_slice()).unwrap();
    let f = &meta.updates[0].files[0];
    assert_eq!(f.name, pax_name);
    assert_eq!(f.size, 11);
    assert_eq!(f.date.unix_timestamp(), 1_700_000_123);
}

#[test]
fn oversize_extension_header_is_refused() {
    let mut ext = file("././@LongLink", vec![b'a'; 100 * 1024]);
    ext.kind = tar::EntryType::GNULongName;
    let bytes = tar_of(&[ext, file("version", b"{}".to_vec())]);
    assert!(matches!(err(&bytes), Error::TooLarge { .. }));
}
