//! Where a connector's secret comes from (a variable or a file), and the rules the desired
//! state must follow naming one. Neutral ground: the desired state names a source, the
//! connectors read it, and neither imports the other for it.

use std::path::PathBuf;

use crate::directory::Secret;

/// A secret's source, with relative paths already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// The prefix of every variable a desired state may name as a secret.
pub const SECRET_ENV_PREFIX: &str = "IDSYNC_";

/// Variables no desired state may name, whatever their prefix: the plan-signing key must
/// never be sent to a directory a pull request points at.
pub const FORBIDDEN_SECRET_ENV: &[&str] = &["IDSYNC_PLAN_KEY"];

impl SecretSource {
    /// Reads the secret now. Errors name the variable or file, never the value.
    ///
    /// The desired state is untrusted (DESIGN.md), so it must not choose which secret goes
    /// where: a variable must start with [`SECRET_ENV_PREFIX`] and not be one of
    /// [`FORBIDDEN_SECRET_ENV`]; a file must be a regular file of at most
    /// [`SECRET_FILE_LIMIT`](crate::files::read::SECRET_FILE_LIMIT) bytes.
    pub fn read(&self) -> Result<Secret, String> {
        match self {
            SecretSource::Env(name) => {
                check_secret_env(name)?;
                std::env::var(name)
                    .map(Secret::new)
                    .map_err(|_| format!("environment variable {name} is not set"))
            }
            SecretSource::File(path) => {
                crate::files::read::read_regular_text(path, crate::files::read::SECRET_FILE_LIMIT)
                    .map(|s| Secret::new(s.trim()))
                    .map_err(|e| format!("cannot read secret file: {e}"))
            }
        }
    }
}

/// Whether a desired state may name `name` as a secret's variable; the error names it.
pub fn check_secret_env(name: &str) -> Result<(), String> {
    // Compared without case: on Windows `idsync_plan_key` is the same variable.
    if FORBIDDEN_SECRET_ENV
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
    {
        return Err(format!(
            "environment variable {name} cannot hold a directory secret: it is idsync's own key"
        ));
    }
    let prefixed = name
        .get(..SECRET_ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(SECRET_ENV_PREFIX));
    if !prefixed {
        return Err(format!(
            "environment variable {name} cannot hold a directory secret: its name must start with {SECRET_ENV_PREFIX}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_variables_must_be_idsyncs_and_never_the_plan_key() {
        // DESIGN.md "The desired state is untrusted input": `{ env: NAME }` names a variable
        // starting with IDSYNC_, never IDSYNC_PLAN_KEY. Checked before the variable is read,
        // so these fail whether or not the variable is set (PATH and HOME always are).
        for (name, why) in [
            ("IDSYNC_PLAN_KEY", "idsync's own key"),
            ("idsync_plan_key", "idsync's own key"),
            ("PATH", "must start with IDSYNC_"),
            ("HOME", "must start with IDSYNC_"),
            ("IDSYNC", "must start with IDSYNC_"),
            ("", "must start with IDSYNC_"),
            ("AWS_SECRET_ACCESS_KEY", "must start with IDSYNC_"),
        ] {
            let e = SecretSource::Env(name.to_owned()).read().unwrap_err();
            assert!(e.contains(why), "{name}: {e}");
            assert!(e.contains(&format!("variable {name} ")), "{name}: {e}");
        }
        let path = std::env::var("PATH").unwrap_or_default();
        let e = SecretSource::Env("PATH".to_owned()).read().unwrap_err();
        assert!(
            path.is_empty() || !e.contains(&path),
            "never the value: {e}"
        );
        let e = SecretSource::Env("IDSYNC_TEST_SURELY_UNSET_7F3A".to_owned())
            .read()
            .unwrap_err();
        assert_eq!(
            e,
            "environment variable IDSYNC_TEST_SURELY_UNSET_7F3A is not set"
        );
    }

    #[test]
    fn secret_files_are_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").unwrap();
        let secret = SecretSource::File(file.clone()).read().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        std::fs::write(&file, vec![b'x'; 64 * 1024 + 1]).unwrap();
        let e = SecretSource::File(file).read().unwrap_err();
        assert!(e.contains("larger than the 65536 bytes"), "{e}");
        // /dev/zero grew to gigabytes before failing; a directory is no secret either.
        #[cfg(target_os = "linux")]
        {
            let e = SecretSource::File("/dev/zero".into()).read().unwrap_err();
            assert_eq!(
                e,
                "cannot read secret file: /dev/zero is a character device, not a regular file"
            );
        }
        let e = SecretSource::File(dir.path().to_owned())
            .read()
            .unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
    }
}
