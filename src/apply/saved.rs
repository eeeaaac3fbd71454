//! Saved plans: `plan --out FILE` writes one, `apply FILE` reads it back.
//!
//! The file is JSON: the plan, the digest of the desired state it was made from, which
//! directories it was made against, and a checksum over all of it (an HMAC when
//! `IDSYNC_PLAN_KEY` is set, so a pipeline can prove the file came from its own plan job).
//! It holds no secrets: passwords are generated at apply time.

use std::path::Path;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::Plan;

/// The `format` value of a saved plan.
pub const FORMAT: &str = "idsync-plan";
/// The layout version this build writes and reads.
pub const VERSION: u32 = 1;
/// Environment variable holding an HMAC key for saved plans.
pub const KEY_ENV: &str = "IDSYNC_PLAN_KEY";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    /// The idsync that wrote it, for messages.
    pub idsync: String,
    pub desired_digest: String,
    /// `describe()` of the AD and Entra directories the plan was made against.
    pub ad: String,
    pub entra: String,
    pub plan: Plan,
}

/// On disk: the saved plan and its checksum.
#[derive(Serialize, Deserialize)]
struct File {
    #[serde(flatten)]
    body: SavedPlan,
    checksum: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read the saved plan {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a saved idsync plan, or it is truncated: {message}")]
    Malformed { path: String, message: String },
    #[error(
        "{path} is a saved plan of layout version {found}; this idsync reads version {VERSION} — plan again with this idsync"
    )]
    Version { path: String, found: u32 },
    #[error(
        "{path} has been modified since `idsync plan` wrote it (checksum mismatch); plan again"
    )]
    Tampered { path: String },
    #[error("{path} is signed with IDSYNC_PLAN_KEY, which is not set here")]
    KeyMissing { path: String },
}

impl SavedPlan {
    pub fn new(plan: Plan, desired_digest: String, ad: String, entra: String) -> Self {
        SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            idsync: env!("CARGO_PKG_VERSION").into(),
            desired_digest,
            ad,
            entra,
            plan,
        }
    }

    /// Writes the file atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), SavedPlanError> {
        let io = |source| SavedPlanError::Io {
            path: path.display().to_string(),
            source,
        };
        let key = std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty());
        let file = File {
            body: self.clone(),
            checksum: checksum(self, key.as_deref()),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("plans serialize");
        text.push('\n');
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Reads and checks a saved plan: layout, version, checksum.
    pub fn load(path: &Path) -> Result<Self, SavedPlanError> {
        let name = path.display().to_string();
        let bytes =
            crate::files::read::read_regular_file(path, crate::files::read::SAVED_PLAN_FILE_LIMIT)
                .map_err(|e| SavedPlanError::Io {
                    path: name.clone(),
                    source: e.into_io_error(),
                })?;
        // Look at the header first, so a foreign version is named as such.
        let header: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| SavedPlanError::Malformed {
                path: name.clone(),
                message: e.to_string(),
            })?;
        if header.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(SavedPlanError::Malformed {
                path: name,
                message: format!("no \"format\": \"{FORMAT}\""),
            });
        }
        match header.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(SavedPlanError::Version {
                    path: name,
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                });
            }
            None => {
                return Err(SavedPlanError::Malformed {
                    path: name,
                    message: "no \"version\"".into(),
                });
            }
        }
        let file: File = serde_json::from_value(header).map_err(|e| SavedPlanError::Malformed {
            path: name.clone(),
            message: e.to_string(),
        })?;
        let key = std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty());
        if file.checksum.starts_with("hmac-sha256:") && key.is_none() {
            return Err(SavedPlanError::KeyMissing { path: name });
        }
        if file.checksum != checksum(&file.body, key.as_deref()) {
            return Err(SavedPlanError::Tampered { path: name });
        }
        Ok(file.body)
    }
}

/// SHA-256 (or HMAC-SHA256 with a key) over the compact JSON of the body.
fn checksum(body: &SavedPlan, key: Option<&str>) -> String {
    let bytes = serde_json::to_vec(body).expect("plans serialize");
    match key {
        Some(key) => {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
            mac.update(&bytes);
            format!("hmac-sha256:{:x}", mac.finalize().into_bytes())
        }
        None => format!("sha256:{:x}", Sha256::digest(&bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedPlan {
        SavedPlan::new(
            Plan::new(vec![], vec![], vec![], vec![]),
            "sha256:abc".into(),
            "AD snapshot a.ldif".into(),
            "Entra snapshot e.json".into(),
        )
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        sample().save(&path).unwrap();
        assert_eq!(SavedPlan::load(&path).unwrap(), sample());
    }

    #[test]
    fn truncated_tampered_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        sample().save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();

        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(matches!(
            SavedPlan::load(&path),
            Err(SavedPlanError::Malformed { .. })
        ));

        std::fs::write(&path, text.replace("sha256:abc", "sha256:abd")).unwrap();
        let err = SavedPlan::load(&path).unwrap_err();
        assert!(matches!(err, SavedPlanError::Tampered { .. }), "{err}");

        std::fs::write(&path, text.replace("\"version\": 1", "\"version\": 7")).unwrap();
        assert!(matches!(
            SavedPlan::load(&path),
            Err(SavedPlanError::Version { found: 7, .. })
        ));

        std::fs::write(&path, "{\"plan\": {}}").unwrap();
        assert!(matches!(
            SavedPlan::load(&path),
            Err(SavedPlanError::Malformed { .. })
        ));
    }
}
