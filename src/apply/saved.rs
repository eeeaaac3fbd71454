//! Saved plans: `plan --out FILE` writes one, `apply FILE` reads it back.
//!
//! The file is JSON: the plan, the digest of the desired state it was made from, which
//! directories it was made against, a SHA-256 checksum over all of it and, when
//! `IDSYNC_PLAN_KEY` is set, an HMAC-SHA256 signature over the same bytes (so a pipeline can
//! prove the file came from its own plan job). It holds no secrets: passwords are generated at
//! apply time.
//!
//! Both are computed over a canonical serialisation of the file as parsed (the typed record,
//! serialised compactly in its own field order), and a file holding anything that record does
//! not (an unknown member, a value idsync would not write) is refused: so whitespace and member
//! order do not matter, and every value that is read is covered. A valid checksum proves only
//! that the file is intact; apply still carries out nothing a fresh plan does not also contain
//! (`apply::check`).

use std::path::Path;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::connect::Overrides;
use crate::desired::{AdConfig, DesiredState, EntraConfig};
use crate::plan::Plan;

/// The `format` value of a saved plan.
pub const FORMAT: &str = "idsync-plan";
/// The layout version this build writes and reads. 2: the checksum covers a canonical form,
/// unknown members are refused, and a signature is kept apart from the checksum.
pub const VERSION: u32 = 2;
/// Environment variable holding an HMAC key for saved plans.
pub const KEY_ENV: &str = "IDSYNC_PLAN_KEY";

const SHA256: &str = "sha256:";
const HMAC_SHA256: &str = "hmac-sha256:";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format: String,
    pub version: u32,
    /// The idsync that wrote it, for messages.
    pub idsync: String,
    pub desired_digest: String,
    /// What the AD and Entra directories the plan was made against resolve to
    /// ([`ad_identity`], [`entra_identity`]).
    pub ad: String,
    pub entra: String,
    pub plan: Plan,
}

/// On disk: the saved plan, its checksum and, when signed, its signature.
#[derive(Serialize, Deserialize)]
struct File {
    #[serde(flatten)]
    body: SavedPlan,
    /// `sha256:HEX` of the canonical body: tells a damaged file from a foreign signature.
    checksum: String,
    /// `hmac-sha256:HEX` of the same bytes, keyed with `IDSYNC_PLAN_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
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
        "{path} is damaged: it was modified since `idsync plan` wrote it (its checksum does not match: edited or truncated); plan again"
    )]
    Damaged { path: String },
    #[error(
        "{path} is unsigned, but IDSYNC_PLAN_KEY is set here, so this apply job expects a plan signed by its plan job; plan again with the key set"
    )]
    Unsigned { path: String },
    #[error(
        "{path} is signed with another key: its signature does not verify with the IDSYNC_PLAN_KEY set here; plan again with this job's key"
    )]
    WrongKey { path: String },
    #[error("{path} is signed with IDSYNC_PLAN_KEY, which is not set here")]
    KeyMissing { path: String },
    #[error("cannot save the plan: {0}")]
    Write(#[from] crate::files::write::WriteError),
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

    /// Writes the file with [`crate::files::write`]: atomically beside the real target,
    /// through a device or FIFO, never over a read-only file; signed when `IDSYNC_PLAN_KEY`
    /// is set.
    pub fn save(&self, path: &Path) -> Result<(), SavedPlanError> {
        let key = plan_key();
        let text = self.to_file_text(key.as_deref());
        crate::files::write::write(
            path,
            text.as_bytes(),
            crate::files::write::Existing::Replace,
        )?;
        Ok(())
    }

    /// The file's text, signed with `key` if given.
    pub fn to_file_text(&self, key: Option<&str>) -> String {
        let bytes = canonical(self);
        let file = File {
            body: self.clone(),
            checksum: format!("{SHA256}{:x}", Sha256::digest(&bytes)),
            signature: key.map(|k| format!("{HMAC_SHA256}{}", hmac_hex(k, &bytes))),
        };
        // Cannot fail: a plan is strings, numbers and lists with string keys, which JSON always holds.
        let mut text = serde_json::to_string_pretty(&file).expect("plans serialize");
        text.push('\n');
        text
    }

    /// Reads and checks a saved plan with the `IDSYNC_PLAN_KEY` of the environment.
    pub fn load(path: &Path) -> Result<Self, SavedPlanError> {
        let name = path.display().to_string();
        let bytes =
            crate::files::read::read_regular_file(path, crate::files::read::SAVED_PLAN_FILE_LIMIT)
                .map_err(|e| SavedPlanError::Io {
                    path: name.clone(),
                    source: e.into_io_error(),
                })?;
        Self::from_bytes(&name, &bytes, plan_key().as_deref())
    }

    /// Checks layout, version, members, checksum and signature; `name` is for messages.
    pub fn from_bytes(name: &str, bytes: &[u8], key: Option<&str>) -> Result<Self, SavedPlanError> {
        let malformed = |message: String| SavedPlanError::Malformed {
            path: name.to_owned(),
            message,
        };
        // Look at the header first, so a foreign version is named as such.
        let parsed: Value = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        if parsed.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(malformed(format!("no \"format\": \"{FORMAT}\"")));
        }
        match parsed.get("version").and_then(Value::as_u64) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(SavedPlanError::Version {
                    path: name.to_owned(),
                    found: u32::try_from(v).unwrap_or(u32::MAX),
                });
            }
            None => return Err(malformed("no \"version\"".into())),
        }
        // Typed from the bytes, so errors carry line and column and a repeated member is refused.
        let file: File = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        // Whatever the typed record does not hold would sit outside the checksum: refuse it.
        // Cannot fail: a plan is strings, numbers and lists with string keys, which JSON always holds.
        let typed = serde_json::to_value(&file).expect("plans serialize");
        if let Some(why) = first_difference(&parsed, &typed, &mut String::new()) {
            return Err(malformed(why));
        }
        let bytes = canonical(&file.body);
        let sum = format!("{SHA256}{:x}", Sha256::digest(&bytes));
        if !file.checksum.starts_with(SHA256) {
            return Err(malformed(format!(
                "\"checksum\" must be {SHA256}HEX, not `{}`",
                file.checksum
            )));
        }
        if file.checksum != sum {
            return Err(SavedPlanError::Damaged {
                path: name.to_owned(),
            });
        }
        let path = name.to_owned();
        match (&file.signature, key) {
            (None, None) => {}
            (None, Some(_)) => return Err(SavedPlanError::Unsigned { path }),
            (Some(_), None) => return Err(SavedPlanError::KeyMissing { path }),
            (Some(sig), Some(key)) => {
                let hex = sig.strip_prefix(HMAC_SHA256).ok_or_else(|| {
                    malformed(format!(
                        "\"signature\" must be {HMAC_SHA256}HEX, not `{sig}`"
                    ))
                })?;
                if !hmac_verifies(key, &bytes, hex) {
                    return Err(SavedPlanError::WrongKey { path });
                }
            }
        }
        Ok(file.body)
    }
}

/// The key from the environment; an empty value counts as unset.
fn plan_key() -> Option<String> {
    std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty())
}

/// The bytes checksum and signature cover: the record's compact JSON, members in its own order,
/// without the `kind` of user actions and without an empty `forecast`, so plans saved before
/// either existed verify. A non-empty forecast is covered like everything else read.
fn canonical(body: &SavedPlan) -> Vec<u8> {
    // Cannot fail: a plan is strings, numbers and lists with string keys, which JSON always holds.
    without_empty_forecast(without_user_kind(
        serde_json::to_vec(body).expect("plans serialize"),
    ))
}

/// Drops the plan's `,"forecast":[]`. Compact JSON escapes every quote inside a string, and
/// only the plan has a `forecast` member, so the pattern matches that member alone.
fn without_empty_forecast(mut json: Vec<u8>) -> Vec<u8> {
    const EMPTY: &[u8] = br#","forecast":[]"#;
    if let Some(at) = json.windows(EMPTY.len()).position(|w| w == EMPTY) {
        json.drain(at..at + EMPTY.len());
    }
    json
}

/// Drops `,"kind":"user"` where it follows an action's `directory`. Compact JSON escapes every
/// quote inside a string, so the pattern only ever matches the member itself.
fn without_user_kind(json: Vec<u8>) -> Vec<u8> {
    const USER: &[u8] = br#","kind":"user""#;
    let follows_directory = |head: &[u8]| {
        head.ends_with(br#""directory":"ad""#) || head.ends_with(br#""directory":"entra""#)
    };
    let mut out = Vec::with_capacity(json.len());
    let mut rest = &json[..];
    while let Some(at) = rest.iter().position(|&b| b == b',') {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with(USER) && follows_directory(&out) {
            rest = &rest[USER.len()..];
        } else {
            out.push(b',');
            rest = &rest[1..];
        }
    }
    out.extend_from_slice(rest);
    out
}

fn mac(key: &str) -> Hmac<Sha256> {
    // Cannot fail: HMAC-SHA256 accepts a key of any length (RFC 2104 hashes long keys).
    Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length")
}

fn hmac_hex(key: &str, bytes: &[u8]) -> String {
    let mut m = mac(key);
    m.update(bytes);
    format!("{:x}", m.finalize().into_bytes())
}

/// Compares in constant time (the MAC's own check).
fn hmac_verifies(key: &str, bytes: &[u8], hex: &str) -> bool {
    let Some(tag) = decode_hex(hex) else {
        return false;
    };
    let mut m = mac(key);
    m.update(bytes);
    m.verify_slice(&tag).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// Members plans gained after they were first saved, at the value an older plan's absence
/// means: an action's `kind` (absent is `user`, DESIGN.md "Plan") and the plan's `forecast`
/// (absent is none).
fn added_later(member: &str, typed: &Value) -> bool {
    match member {
        "kind" => typed.as_str() == Some(crate::plan::ObjectKind::User.as_str()),
        "forecast" => typed.as_array().is_some_and(Vec::is_empty),
        _ => false,
    }
}

/// The first place where the file as parsed holds something its typed record does not, as
/// a JSON path (`plan.actions[0].note`).
fn first_difference(parsed: &Value, typed: &Value, path: &mut String) -> Option<String> {
    let here = |p: &str| {
        if p.is_empty() {
            "the top level".to_owned()
        } else {
            format!("`{p}`")
        }
    };
    match (parsed, typed) {
        (Value::Object(p), Value::Object(t)) => {
            for (k, v) in p {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let found = match t.get(k) {
                    Some(tv) => first_difference(v, tv, path),
                    None => Some(format!(
                        "unknown member `{path}`: a saved plan holds only what idsync writes"
                    )),
                };
                path.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
            t.iter()
                .find(|&(k, v)| !p.contains_key(k) && !added_later(k, v))
                .map(|(k, _)| format!("{} lacks the member `{k}`", here(path)))
        }
        (Value::Array(p), Value::Array(t)) if p.len() == t.len() => {
            p.iter().zip(t).enumerate().find_map(|(i, (pv, tv))| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = first_difference(pv, tv, path);
                path.truncate(len);
                found
            })
        }
        (p, t) if p == t => None,
        (p, t) => Some(format!(
            "{} is {p}, which idsync would write as {t}",
            here(path)
        )),
    }
}

/// What the AD side resolves to, however it was spelled: a snapshot by its canonical path,
/// live AD by URL and base DN (case-folded, as LDAP compares them). Plan and apply both
/// record it, so `--dir desired`, `--dir ./desired/` and a symlink to it compare equal.
pub fn ad_identity(desired: &DesiredState, overrides: &Overrides) -> String {
    match (&overrides.ad_snapshot, &desired.ad) {
        (Some(path), _) | (None, Some(AdConfig::Snapshot(path))) => {
            format!("AD snapshot {}", resolved(path))
        }
        (None, Some(AdConfig::Ldap(l))) => format!(
            "AD {} base {}",
            crate::names::fold(l.url.trim_end_matches('/')),
            crate::names::fold(&l.base_dn.to_string())
        ),
        (None, None) => "no AD directory".into(),
    }
}

/// What the Entra side resolves to: a snapshot by its canonical path, a tenant by its id and
/// Graph URL.
pub fn entra_identity(desired: &DesiredState, overrides: &Overrides) -> String {
    match (&overrides.entra_snapshot, &desired.entra) {
        (Some(path), _) | (None, Some(EntraConfig::Snapshot(path))) => {
            format!("Entra snapshot {}", resolved(path))
        }
        (None, Some(EntraConfig::Graph(g))) => format!(
            "Entra tenant {} at {}",
            crate::names::fold(&g.tenant_id),
            crate::names::fold(g.graph_url.trim_end_matches('/'))
        ),
        (None, None) => "no Entra directory".into(),
    }
}

/// The canonical path (symlinks, `.` and `..` resolved), or the path as given when it cannot
/// be resolved (opening it fails then, with its own message).
fn resolved(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_owned())
        .display()
        .to_string()
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

    fn load(text: &str, key: Option<&str>) -> Result<SavedPlan, SavedPlanError> {
        SavedPlan::from_bytes("plan.json", text.as_bytes(), key)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        sample().save(&path).unwrap();
        assert_eq!(SavedPlan::load(&path).unwrap(), sample());
        let signed = sample().to_file_text(Some("k"));
        assert_eq!(load(&signed, Some("k")).unwrap(), sample());
    }

    #[test]
    fn truncated_damaged_and_foreign_files_are_refused() {
        let text = sample().to_file_text(None);

        let err = load(&text[..text.len() / 2], None).unwrap_err();
        assert!(matches!(err, SavedPlanError::Malformed { .. }), "{err}");

        let err = load(&text.replace("sha256:abc", "sha256:abd"), None).unwrap_err();
        assert!(matches!(err, SavedPlanError::Damaged { .. }), "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");

        let err = load(&text.replace("\"version\": 2", "\"version\": 7"), None).unwrap_err();
        assert!(
            matches!(err, SavedPlanError::Version { found: 7, .. }),
            "{err}"
        );

        let err = load("{\"plan\": {}}", None).unwrap_err();
        assert!(matches!(err, SavedPlanError::Malformed { .. }), "{err}");
    }

    #[test]
    fn whitespace_and_member_order_are_outside_the_checksum() {
        let text = sample().to_file_text(None);
        let value: Value = serde_json::from_str(&text).unwrap();
        // Compact, and members in reverse order.
        let mut reversed = serde_json::Map::new();
        for (k, v) in value.as_object().unwrap().iter().rev() {
            reversed.insert(k.clone(), v.clone());
        }
        let compact = serde_json::to_string(&Value::Object(reversed)).unwrap();
        assert!(!compact.starts_with("{\"format\""), "{compact}");
        assert_eq!(load(&compact, None).unwrap(), sample());
    }

    #[test]
    fn the_checksum_of_a_plan_saved_before_kinds_still_verifies() {
        let user: crate::plan::Action = serde_json::from_value(serde_json::json!({
            "id": "a1", "action": "update", "directory": "ad",
            "identity": "x\\\",\"kind\":\"user\"", "target": "CN=X", "changes": [],
            "depends_on": [], "precondition": null
        }))
        .unwrap();
        let mut group = user.clone();
        group.kind = crate::plan::ObjectKind::Group;
        let with = |a: crate::plan::Action| {
            let mut p = sample();
            p.plan = Plan::new(vec![a], vec![], vec![], vec![]);
            p
        };
        // Written the way a build before kinds wrote it: no `kind` member at all.
        let text = with(user.clone()).to_file_text(None);
        assert!(text.contains("\"kind\": \"user\""), "{text}");
        let old = text.replacen(",\n        \"kind\": \"user\"", "", 1);
        assert!(!old.contains("\"kind\": \"user\""), "{old}");
        assert_eq!(load(&old, None).unwrap(), with(user.clone()));
        // The identity's look-alike text is covered; another kind is another checksum.
        let canon = String::from_utf8(canonical(&with(user))).unwrap();
        assert!(canon.contains(r#"\",\"kind\":\"user\""#), "{canon}");
        assert!(!canon.contains(r#""directory":"ad","kind""#), "{canon}");
        let group = String::from_utf8(canonical(&with(group))).unwrap();
        assert!(
            group.contains(r#""directory":"ad","kind":"group""#),
            "{group}"
        );
    }

    #[test]
    fn a_plan_saved_before_forecasts_verifies_and_a_forecast_is_covered() {
        // Written the way a build before forecasts wrote it: no `forecast` member at all.
        let text = sample().to_file_text(None);
        assert!(text.contains("\"forecast\": []"), "{text}");
        let old = text.replacen("\n    \"forecast\": [],", "", 1);
        assert!(!old.contains("forecast"), "{old}");
        assert_eq!(load(&old, None).unwrap(), sample());
        assert_eq!(load(&text, None).unwrap(), sample());

        let mut with = sample();
        with.plan.forecast.push(crate::plan::Forecast {
            kind: crate::plan::ForecastKind::Password,
            severity: crate::plan::ForecastSeverity::Warning,
            identity: "x".into(),
            object: None,
            attribute: None,
            before: Some(crate::plan::Value::Null),
            after: None,
            message: "m".into(),
        });
        let text = with.to_file_text(None);
        assert_eq!(load(&text, None).unwrap(), with);
        // Informational, yet read, so covered: an edited forecast is a damaged file.
        let edited = text.replacen("\"m\"", "\"n\"", 1);
        assert!(matches!(
            load(&edited, None),
            Err(SavedPlanError::Damaged { .. })
        ));
        let dropped = text.replacen("\"before\": null,", "", 1);
        assert_ne!(dropped, text);
        assert!(load(&dropped, None).is_err());
    }

    #[test]
    fn members_the_record_does_not_hold_are_refused() {
        let text = sample().to_file_text(None);
        for (edited, expected) in [
            (
                text.replacen("{", "{\n  \"comment\": \"hi\",", 1),
                "unknown member `comment`",
            ),
            (
                text.replace("\"actions\": []", "\"actions\": [], \"extra\": []"),
                "unknown member `plan.extra`",
            ),
            (
                text.replacen("\"format\"", "\"format\": \"idsync-plan\", \"format\"", 1),
                "duplicate field `format`",
            ),
        ] {
            assert_ne!(edited, text);
            let err = load(&edited, None).unwrap_err();
            assert!(matches!(err, SavedPlanError::Malformed { .. }), "{err}");
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    #[test]
    fn unsigned_wrong_key_and_missing_key_have_their_own_messages() {
        let unsigned = sample().to_file_text(None);
        let signed = sample().to_file_text(Some("k3y"));
        assert!(signed.contains("\"signature\": \"hmac-sha256:"), "{signed}");
        assert!(!signed.contains("k3y"));

        let err = load(&unsigned, Some("k3y")).unwrap_err();
        assert!(matches!(err, SavedPlanError::Unsigned { .. }), "{err}");
        assert!(err.to_string().contains("unsigned"), "{err}");

        let err = load(&signed, Some("other")).unwrap_err();
        assert!(matches!(err, SavedPlanError::WrongKey { .. }), "{err}");
        assert!(err.to_string().contains("signed with another key"), "{err}");

        let err = load(&signed, None).unwrap_err();
        assert!(matches!(err, SavedPlanError::KeyMissing { .. }), "{err}");

        // Edited and re-summed, but not re-signed: not this key's signature.
        let body: SavedPlan = load(&signed, Some("k3y")).unwrap();
        let mut forged = body.clone();
        forged.desired_digest = "sha256:forged".into();
        let resummed = forged.to_file_text(None).replace(
            "\n}\n",
            &format!(
                ",\n  \"signature\": \"{}\"\n}}\n",
                serde_json::from_str::<Value>(&signed).unwrap()["signature"]
                    .as_str()
                    .unwrap()
            ),
        );
        let err = load(&resummed, Some("k3y")).unwrap_err();
        assert!(matches!(err, SavedPlanError::WrongKey { .. }), "{err}");
    }
}
