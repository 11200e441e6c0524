//! Input rules with upstream's limits and messages: email format (ASCII only), password
//! length (8 characters minimum, 4096 maximum, and bcrypt's 72 bytes which we refuse rather
//! than truncate), settings size, personal access token requests.

use serde_json::Value;

use crate::error::Error;

/// Shortest password upstream accepts.
pub const MIN_PASSWORD_LENGTH: usize = 8;
/// Longest password bcrypt uses without truncating.
pub const MAX_PASSWORD_BYTES: usize = 72;
const MAX_LENGTH: usize = 4096;
const MAX_SETTINGS: usize = 1024;
const MAX_SETTINGS_KEY: usize = 128;

/// Field errors joined the way upstream's validator renders them: `a: msg; b: msg.`
#[derive(Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// Records a field error.
    pub fn add(&mut self, field: &'static str, msg: impl Into<String>) {
        self.0.push((field, msg.into()));
    }

    /// `Ok` when nothing was recorded, else a 400 with every field error.
    pub fn finish(mut self) -> Result<(), Error> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_by(|a, b| a.0.cmp(b.0));
        let parts: Vec<String> = self.0.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        Err(Error::BadRequest(format!("{}.", parts.join("; "))))
    }
}

/// Lower-cases an email as upstream does (Unicode-aware, so the ASCII check still sees
/// non-ASCII input).
pub fn normalize_email(email: &str) -> String {
    email.to_lowercase()
}

/// The problem with an email, if any.
pub fn email_problem(email: &str) -> Option<&'static str> {
    if email.is_empty() {
        Some("cannot be blank")
    } else if email.chars().count() > MAX_LENGTH {
        Some("the length must be no more than 4096")
    } else if !email.is_ascii() {
        Some("must contain ASCII characters only")
    } else if !is_email(email) {
        Some("must be a valid email address")
    } else {
        None
    }
}

/// An ASCII email address: a dot-atom local part and a dotted host name.
fn is_email(email: &str) -> bool {
    let Some((local, host)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let labels: Vec<&str> = host.split('.').collect();
    let host_ok = host.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.as_bytes()[0].is_ascii_alphabetic());
    local_ok && host_ok
}

/// Checks a new password's length rules after the field checks passed: too short or
/// longer than bcrypt can hash is a 422.
pub fn password_rules(password: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(Error::Unprocessable(format!(
            "password: must be minimum {MIN_PASSWORD_LENGTH} characters long"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::Unprocessable(format!(
            "password: must be at most {MAX_PASSWORD_BYTES} bytes long"
        )));
    }
    Ok(())
}

/// Longest password of the next release's rules (`PUT /api/management/v2/useradm/users/me`).
pub const MAX_PASSWORD_LENGTH_V2: usize = 256;

/// The next release's password field rules: at most 256 bytes, ASCII only (a 400), checked
/// before [`password_rules`] (the 422s).
pub fn password_field_v2(password: &str) -> Result<(), Error> {
    let problem = if password.len() > MAX_PASSWORD_LENGTH_V2 {
        format!("the length must be no more than {MAX_PASSWORD_LENGTH_V2}")
    } else if !password.is_ascii() {
        "must contain ASCII characters only".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::BadRequest(format!("password: {problem}.")))
}

/// Records the field problems of a password (blank when `required`, longer than 4096).
pub fn password_field(errs: &mut FieldErrors, password: &str, required: bool) {
    if password.is_empty() {
        if required {
            errs.add("password", "cannot be blank");
        }
    } else if password.chars().count() > MAX_LENGTH {
        errs.add("password", "the length must be no more than 4096");
    }
}

/// Whether the password is contained in the email (case-insensitive), which upstream refuses.
pub fn too_similar(email: &str, password: &str) -> bool {
    !email.is_empty()
        && !password.is_empty()
        && email.to_lowercase().contains(&password.to_lowercase())
}

/// Checks a settings document: an object of at most 1024 keys of at most 128 characters,
/// string values of at most 4096 characters. `null` means no settings.
pub fn settings(value: Value) -> Result<Value, Error> {
    let map = match value {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m,
        _ => {
            return Err(Error::BadRequest(
                "cannot parse request body as json".into(),
            ));
        }
    };
    if map.len() > MAX_SETTINGS {
        return Err(Error::BadRequest(format!(
            "the length must be no more than {MAX_SETTINGS}."
        )));
    }
    for (k, v) in &map {
        if k.chars().count() > MAX_SETTINGS_KEY {
            return Err(Error::BadRequest(format!(
                "the length must be no more than {MAX_SETTINGS_KEY}."
            )));
        }
        if let Value::String(s) = v
            && s.chars().count() > MAX_LENGTH
        {
            return Err(Error::BadRequest(format!(
                "{k}: the length must be no more than 4096."
            )));
        }
    }
    Ok(Value::Object(map))
}

/// Checks a personal access token request: a name of 1..=4096 characters and
/// 0 <= `expires_in` <= `max`.
pub fn token_request(name: Option<&str>, expires_in: i64, max: u64) -> Result<(), Error> {
    let mut errs = FieldErrors::default();
    match name {
        None | Some("") => errs.add("name", "cannot be blank"),
        Some(n) if n.chars().count() > MAX_LENGTH => {
            errs.add("name", "the length must be no more than 4096");
        }
        Some(_) => {}
    }
    let max = if max == 0 { 31_536_000 } else { max };
    if expires_in < 0 {
        errs.add("expires_in", "must be no less than 0");
    } else if expires_in as u64 > max {
        errs.add("expires_in", format!("must be no greater than {max}"));
    }
    errs.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email_problem("user@acme.com"), None);
        assert_eq!(email_problem("first.last+tag@mail.example.io"), None);
        assert_eq!(email_problem(""), Some("cannot be blank"));
        assert_eq!(
            email_problem("usér@acme.com"),
            Some("must contain ASCII characters only")
        );
        for bad in [
            "user",
            "user@",
            "@acme.com",
            "user@acme",
            "a..b@acme.com",
            "user@-acme.com",
            "user@acme.1",
        ] {
            assert_eq!(
                email_problem(bad),
                Some("must be a valid email address"),
                "{bad}"
            );
        }
        assert_eq!(normalize_email("USER@Acme.COM"), "user@acme.com");
    }

    #[test]
    fn passwords() {
        assert!(password_rules("12345678").is_ok());
        assert!(matches!(
            password_rules("1234567"),
            Err(Error::Unprocessable(_))
        ));
        assert!(matches!(
            password_rules(&"x".repeat(73)),
            Err(Error::Unprocessable(_))
        ));
        assert!(password_rules(&"x".repeat(72)).is_ok());
        assert!(too_similar("john.doe@acme.com", "JOHN.DOE"));
        assert!(!too_similar("john.doe@acme.com", "secret123"));
    }

    #[test]
    fn field_errors_render_like_upstream() {
        let mut e = FieldErrors::default();
        e.add("password", "cannot be blank");
        e.add("email", "must be a valid email address");
        let Err(Error::BadRequest(msg)) = e.finish() else {
            panic!()
        };
        assert_eq!(
            msg,
            "email: must be a valid email address; password: cannot be blank."
        );
    }
}
