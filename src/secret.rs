//! Secrets in configuration files (passwords, tokens, signing keys): given inline, or better by
//! the name of an environment variable or a file that holds them, so that the configuration
//! itself can be readable by more people than the secrets. A [`Secret`] never prints its value.

use serde::Deserialize;
use std::path::PathBuf;

/// Where a secret comes from, as written in TOML: `"inline"`, `{ value = "…" }`,
/// `{ env = "NAME" }` or `{ file = "/run/secrets/x" }` (the file's first line).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Secret {
    /// The value itself.
    Inline(String),
    /// One of the table forms.
    Table(SecretTable),
}

/// The table form of a [`Secret`]: exactly one key.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretTable {
    /// The value itself.
    pub value: Option<String>,
    /// Name of an environment variable holding it.
    pub env: Option<String>,
    /// A file whose first line holds it.
    pub file: Option<PathBuf>,
}

impl Default for Secret {
    fn default() -> Self {
        Secret::Table(SecretTable::default())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Table(SecretTable {
                env: Some(name), ..
            }) => write!(f, "Secret(env {name})"),
            Secret::Table(SecretTable {
                file: Some(path), ..
            }) => write!(f, "Secret(file {})", path.display()),
            Secret::Table(SecretTable {
                value: None,
                env: None,
                file: None,
            }) => f.write_str("Secret(none)"),
            _ => f.write_str("Secret(…)"),
        }
    }
}

impl Secret {
    /// The value, `Ok(None)` if none is configured. Errors name the variable or file, never the
    /// value.
    pub fn resolve(&self) -> Result<Option<String>, String> {
        match self {
            Secret::Inline(v) => Ok(Some(v.clone())),
            Secret::Table(t) => match (&t.value, &t.env, &t.file) {
                (None, None, None) => Ok(None),
                (Some(v), None, None) => Ok(Some(v.clone())),
                (None, Some(name), None) => std::env::var(name)
                    .map(Some)
                    .map_err(|_| format!("environment variable {name} is not set")),
                (None, None, Some(path)) => std::fs::read_to_string(path)
                    .map(|s| Some(s.lines().next().unwrap_or("").to_string()))
                    .map_err(|e| format!("secret file {}: {e}", path.display())),
                _ => Err("give one of value, env or file".into()),
            },
        }
    }

    /// Whether a value is configured at all (without resolving it).
    pub fn is_set(&self) -> bool {
        !matches!(
            self,
            Secret::Table(SecretTable {
                value: None,
                env: None,
                file: None
            })
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        s: Secret,
    }

    #[test]
    fn forms_resolve_and_never_print() {
        let t: T = toml::from_str("s = \"hunter2\"").unwrap();
        assert_eq!(t.s.resolve().unwrap().as_deref(), Some("hunter2"));
        assert!(!format!("{:?}", t.s).contains("hunter2"));
        let t: T = toml::from_str("s = { value = \"hunter2\" }").unwrap();
        assert_eq!(t.s.resolve().unwrap().as_deref(), Some("hunter2"));
        assert!(!format!("{:?}", t.s).contains("hunter2"));
        let t: T = toml::from_str("s = { env = \"BANWATCH_TEST_NO_SUCH_VAR\" }").unwrap();
        assert!(t
            .s
            .resolve()
            .unwrap_err()
            .contains("BANWATCH_TEST_NO_SUCH_VAR"));
        assert!(toml::from_str::<T>("s = { valeu = \"x\" }").is_err());
        let t: T = toml::from_str("s = { value = \"a\", env = \"B\" }").unwrap();
        assert!(t.s.resolve().is_err());
    }
}
