//! Secret references of the desired state: which variables and files it may name. The desired
//! state is untrusted, so these checks decide what a pull request can make idsync send.

use super::*;

impl Checker {
    pub(super) fn secret_source(
        &mut self,
        file: &Path,
        base: &Path,
        s: &Loc<model::SecretRef>,
        what: &str,
    ) -> Option<SecretSource> {
        match &s.value {
            model::SecretRef::Env(name) => match env_refusal(name) {
                Some(why) => {
                    self.issue(file, s, format!("{what}: {why}"));
                    None
                }
                None => Some(SecretSource::Env(name.clone())),
            },
            model::SecretRef::File(p) => self
                .secret_file(file, s, &base.join(p), what)
                .map(SecretSource::File),
        }
    }

    pub(super) fn secret_file<T>(
        &mut self,
        file: &Path,
        at: &Loc<T>,
        path: &Path,
        what: &str,
    ) -> Option<PathBuf> {
        match secret_file_refusal(path) {
            Some(why) => {
                self.issue(file, at, format!("{what}: {why}"));
                None
            }
            None => Some(path.to_owned()),
        }
    }
}

/// Why a variable may not hold an idsync secret, if it may not. The desired state is untrusted
/// (a pull request edits it while the pipeline holds credentials), so it may only name the
/// variables set for idsync, and never the key that signs saved plans.
pub(super) fn env_refusal(name: &str) -> Option<&'static str> {
    let valid = name
        .strip_prefix(crate::secret::SECRET_ENV_PREFIX)
        .is_some_and(|rest| !rest.is_empty())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if name == crate::apply::saved::KEY_ENV {
        Some("IDSYNC_PLAN_KEY signs saved plans and is never sent to a directory")
    } else if !valid {
        // The name is not repeated: a secret pasted here by mistake must not reach a log.
        Some(
            "`{ env: NAME }` must name a variable starting with IDSYNC_ (letters, digits, `_`): the desired state may not choose which of the pipeline's variables is sent to a directory",
        )
    } else {
        None
    }
}

/// Why a path is obviously not a secret file, if it is: kernel and device files
/// (`/proc/self/environ` holds every variable of the pipeline), git's own files (a checkout's
/// `.git/config` can hold the token it was cloned with), anything that is not a regular file.
/// The read itself is bounded and checked again when the secret is read.
pub(super) fn secret_file_refusal(path: &Path) -> Option<String> {
    fn lexical(path: &Path) -> Option<String> {
        use std::path::Component;
        let mut components = path.components();
        if let (Some(Component::RootDir), Some(Component::Normal(top))) =
            (components.next(), components.next())
            && ["proc", "sys", "dev"].iter().any(|t| top == *t)
            // /dev/shm holds ordinary files (a job may put a secret there), not devices.
            && !(top == "dev" && components.next().is_some_and(|c| c.as_os_str() == "shm"))
        {
            return Some(format!(
                "a file under /{} is not a secret file",
                top.to_string_lossy()
            ));
        }
        if path.components().any(|c| c.as_os_str() == ".git") {
            return Some("a file inside a .git folder is not a secret file".into());
        }
        None
    }
    if let Some(why) = lexical(path) {
        return Some(why);
    }
    // A symlink committed to the repository can point anywhere: check where it leads.
    if let Ok(real) = std::fs::canonicalize(path)
        && let Some(why) = lexical(&real)
    {
        return Some(format!("it leads to {}: {why}", real.display()));
    }
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Some("it is not a regular file".into()),
        _ => None,
    }
}
