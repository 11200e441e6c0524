//! Start-up checks shared by the services' configuration sections, so that every service
//! words the same mistake the same way.

/// Fails on the first of `keys` (name, value) of section `section` that is zero, with a
/// sentence that says which key to fix.
pub fn require_positive(section: &str, keys: &[(&str, u64)]) -> Result<(), String> {
    match keys.iter().find(|(_, v)| *v == 0) {
        Some((key, _)) => Err(format!(
            "{section}.{key} must be at least 1; remove it to use the default"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_key() {
        assert!(require_positive("s", &[("a", 1), ("b", 2)]).is_ok());
        assert_eq!(
            require_positive("s", &[("a", 1), ("b", 0)]).unwrap_err(),
            "s.b must be at least 1; remove it to use the default"
        );
    }
}
