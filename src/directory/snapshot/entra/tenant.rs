//! The tenant files of a snapshot folder (`domains.json`, `onPremisesSynchronization.json`,
//! `roleAssignments.json`, `roleDefinitions.json`, `subscribedSkus.json`), each as Graph answers its request:
//! `{"value":[…]}`, a bare array, or one lone object (PowerShell's `ConvertTo-Json` of a single
//! result); UTF-8 or UTF-16 as the users file. A missing file makes its part unknown; a file
//! that cannot be read is a `FILE:LINE:COL` error, as `users.json` gets.

use std::ops::Range;
use std::path::Path;

use serde_json::{Map, Value};

use super::{EntraSnapshot, export, layout};
use crate::directory::model::Part;
use crate::directory::snapshot::{SnapshotError, line_col};
use crate::directory::tenant_docs::{self, Source, TenantDocs};
use crate::directory::{DirectoryError, Tenant, TenantRead};
use crate::files::read::{SNAPSHOT_FILE_LIMIT, read_regular_file};

impl EntraSnapshot {
    /// The tenant files of the snapshot folder, each read or unknown and why (no such file, or
    /// no folder at all: a plain users file).
    pub fn read_tenant_docs(&self) -> Result<TenantDocs, SnapshotError> {
        let part = |source: Source| match &self.folder {
            Some(folder) => read_part(folder, source),
            None => Ok(Part::Unknown(source.users_file(self.path()))),
        };
        Ok(TenantDocs {
            sync: part(tenant_docs::SYNC)?,
            domains: part(tenant_docs::DOMAINS)?,
            role_assignments: part(tenant_docs::ROLE_ASSIGNMENTS)?,
            role_definitions: part(tenant_docs::ROLE_DEFINITIONS)?,
            subscribed_skus: part(tenant_docs::SUBSCRIBED_SKUS)?,
        })
    }
}

impl TenantRead for EntraSnapshot {
    async fn read_tenant(&mut self) -> Result<Tenant, DirectoryError> {
        let docs = self.read_tenant_docs()?;
        // Every file was checked as it was read, with its location.
        docs.tenant().map_err(|(source, e)| {
            DirectoryError::Other(format!(
                "{}: object #{}: {}",
                source.file,
                e.index + 1,
                e.message
            ))
        })
    }
}

fn read_part(
    folder: &Path,
    source: Source,
) -> Result<Part<Vec<Map<String, Value>>>, SnapshotError> {
    let path = folder.join(source.file);
    let bytes = match read_regular_file(&path, SNAPSHOT_FILE_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) => {
            let e = e.into_io_error();
            if e.kind() == std::io::ErrorKind::NotFound {
                return Ok(Part::Unknown(source.missing_file(folder)));
            }
            return Err(SnapshotError::io(&path, "read", e));
        }
    };
    let (text, _) = export::decode(&path, &bytes)?;
    drop(bytes);
    let doc = export::parse(&path, &text)?;
    let at = |offset: usize, message: String| {
        let (line, column) = line_col(text.as_bytes(), offset);
        SnapshotError::Json {
            path: path.clone(),
            line,
            column,
            message,
        }
    };
    let shape_help = || {
        format!(
            "expected the answer of {}: {{\"value\": [ … ]}}, a bare array, or one object",
            source.request()
        )
    };
    let root = layout::root(&text);
    let (items, spans): (Vec<Value>, Vec<Range<usize>>) = match doc {
        Value::Array(items) => {
            let spans = layout::array(&text, root).map(|a| a.elements);
            (items, spans.unwrap_or_default())
        }
        Value::Object(mut top) => {
            let top_layout = layout::object(&text, root);
            let member = |name: &str| {
                top_layout
                    .as_ref()
                    .and_then(|l| l.members.iter().rev().find(|m| m.key == name))
            };
            match top.get_mut("value").map(Value::take) {
                Some(Value::Array(items)) => {
                    if let Some((key, _)) = export::link(&top, "nextlink") {
                        let offset = member(key).map_or(root, |m| m.key_span.start);
                        return Err(at(
                            offset,
                            format!(
                                "the export is incomplete: it is only the first page of the answer of {} (@odata.nextLink is set). Follow the pages, or use `idsync snapshot --from entra`",
                                source.request()
                            ),
                        ));
                    }
                    let spans = member("value")
                        .and_then(|m| layout::array(&text, m.value.start))
                        .map(|a| a.elements);
                    (items, spans.unwrap_or_default())
                }
                None if top.keys().any(|k| k.eq_ignore_ascii_case("id")) => {
                    let end = text.trim_end().len();
                    (
                        vec![Value::Object(top)],
                        std::iter::once(root..end).collect(),
                    )
                }
                _ => return Err(at(root, shape_help())),
            }
        }
        _ => return Err(at(root, shape_help())),
    };
    let offset = |i: usize| spans.get(i).map_or(root, |s| s.start);
    let mut objects = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(object) = item else {
            return Err(at(
                offset(i),
                format!("object #{}: expected a JSON object", i + 1),
            ));
        };
        objects.push(object);
    }
    tenant_docs::check(source, &objects).map_err(|e| {
        at(
            offset(e.index),
            format!("object #{}: {}", e.index + 1, e.message),
        )
    })?;
    Ok(Part::Read(
        objects
            .iter()
            .map(|o| tenant_docs::project(source, o))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("users.json"), r#"{"value":[]}"#).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[tokio::test]
    async fn missing_files_make_their_parts_unknown() {
        let dir = folder(&[(
            "domains.json",
            r#"{"value":[{"id":"contoso.com","isVerified":true,"isInitial":false}]}"#,
        )]);
        let mut snap = EntraSnapshot::open(dir.path()).unwrap();
        let t = snap.read_tenant().await.unwrap();
        assert!(t.domains.known().is_some());
        let why = t.sync.why_unknown().unwrap();
        assert!(
            why.contains("has no onPremisesSynchronization.json"),
            "{why}"
        );
        assert!(why.contains(&dir.path().display().to_string()), "{why}");
        let why = t.role_holders.why_unknown().unwrap();
        assert!(why.contains("has no roleAssignments.json"), "{why}");

        // A plain users file: every part unknown, saying a folder would settle it.
        let mut snap = EntraSnapshot::open(dir.path().join("users.json")).unwrap();
        let t = snap.read_tenant().await.unwrap();
        for why in [
            t.sync.why_unknown(),
            t.domains.why_unknown(),
            t.role_holders.why_unknown(),
        ] {
            let why = why.unwrap();
            assert!(
                why.contains("is a users file, not a snapshot folder"),
                "{why}"
            );
        }
    }

    #[tokio::test]
    async fn files_that_cannot_be_read_are_located() {
        let cases = [
            (
                "domains.json",
                "{\"value\": [\n  {\"id\": \"a.com\", \"isVerified\": tru}\n]}",
                ":2:",
            ),
            (
                "domains.json",
                "{\"value\": [\n  {\"id\": \"a.com\", \"isVerified\": true, \"isInitial\": false},\n  {\"id\": \"b.com\", \"isVerified\": 1, \"isInitial\": false}\n]}",
                ":3:3: object #2: isVerified is not true or false",
            ),
            (
                "roleAssignments.json",
                "{\"@odata.nextLink\": \"https://graph.microsoft.com/v1.0/x\",\n \"value\": []}",
                ":1:2: the export is incomplete",
            ),
            (
                "onPremisesSynchronization.json",
                "\"nope\"",
                ":1:1: expected the answer of GET /v1.0/directory/onPremisesSynchronization",
            ),
            (
                "roleDefinitions.json",
                "[1]",
                ":1:2: object #1: expected a JSON object",
            ),
        ];
        for (file, text, expected) in cases {
            let dir = folder(&[(file, text)]);
            let mut snap = EntraSnapshot::open(dir.path()).unwrap();
            let err = snap.read_tenant().await.unwrap_err().to_string();
            let path = dir.path().join(file).display().to_string();
            assert!(err.starts_with(&path), "{err}");
            assert!(err.contains(expected), "{file}: {err}");
        }
    }

    #[tokio::test]
    async fn powershell_exports_read_too() {
        // `Get-MgDirectoryOnPremiseSynchronization | ConvertTo-Json -Depth 5`: one lone object
        // in PascalCase; Windows PowerShell's `>` writes it as UTF-16 with a byte-order mark.
        let text = r#"{"Id": "t1", "Features": {"BlockSoftMatchEnabled": true,
            "BlockCloudObjectTakeoverThroughHardMatchEnabled": false, "SoftMatchOnUpnEnabled": true,
            "SynchronizeUpnForManagedUsersEnabled": true, "PasswordSyncEnabled": false}}"#;
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let dir = folder(&[]);
        std::fs::write(dir.path().join("onPremisesSynchronization.json"), bytes).unwrap();
        let mut snap = EntraSnapshot::open(dir.path()).unwrap();
        let f = snap
            .read_tenant()
            .await
            .unwrap()
            .sync
            .known()
            .copied()
            .unwrap();
        assert!(f.block_soft_match && f.soft_match_on_upn && !f.password_sync);
    }
}
