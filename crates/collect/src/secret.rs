//! Secrets (client secrets, certificate passwords, assertions): read from the environment or
//! a file named in the configuration, held in a type whose `Debug` and `Display` print
//! `[redacted]`, and handed to `azure_identity` as its own `Secret`. Nothing here logs.

use std::fmt;
use std::path::Path;

use crate::CollectError;

/// A secret value. Its text is reachable only through [`SecretText::expose`].
#[derive(Clone)]
pub struct SecretText(String);

impl SecretText {
    /// The secret itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Reads a secret from the environment variable `name`. The error names the variable,
/// never a value.
pub fn from_env(source: &str, name: &str) -> Result<SecretText, CollectError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(SecretText(v.trim().to_string())),
        Ok(_) => Err(CollectError::Auth {
            source_name: source.to_string(),
            message: format!("environment variable {name} is empty"),
        }),
        Err(_) => Err(CollectError::Auth {
            source_name: source.to_string(),
            message: format!("environment variable {name} is not set"),
        }),
    }
}

/// Reads a secret from a file (trailing whitespace trimmed). The error names the file and
/// the reason, never its content.
pub fn from_file(source: &str, path: &Path) -> Result<SecretText, CollectError> {
    let text = std::fs::read_to_string(path).map_err(|e| CollectError::Auth {
        source_name: source.to_string(),
        message: format!("cannot read secret file {}: {e}", path.display()),
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(CollectError::Auth {
            source_name: source.to_string(),
            message: format!("secret file {} is empty", path.display()),
        });
    }
    Ok(SecretText(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = SecretText("hunter2".into());
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn missing_sources_are_named_not_shown() {
        let e = from_env("contoso", "SKEIN_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(e
            .to_string()
            .contains("SKEIN_TEST_SURELY_UNSET_VARIABLE is not set"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        std::fs::write(&p, "  s3cr3t-value\n").unwrap();
        assert_eq!(from_file("x", &p).unwrap().expose(), "s3cr3t-value");
        let e = from_file("x", &dir.path().join("nope")).unwrap_err();
        assert!(e.to_string().contains("cannot read secret file"));
    }
}
