//! The plan's read ([`EntraPlanRead`]) answers as the snapshot ([`EntraSnapshot`]) does, for
//! every Graph export the repository holds and the files the snapshot refuses.

use std::path::{Path, PathBuf};

use super::*;
use crate::directory::{EntraGroupRead, EntraUserRead, TenantRead};

/// What a reader answers for one export, as text (errors included).
async fn answers(path: &Path, planning: bool) -> Vec<String> {
    let show = |r: &dyn std::fmt::Debug| format!("{r:?}");
    if planning {
        let mut s = match EntraPlanRead::open(path) {
            Ok(s) => s,
            Err(e) => return vec![e.to_string()],
        };
        vec![
            show(&s.users()),
            show(&s.read_tenant().await),
            show(&s.groups()),
            show(&s.contacts()),
            show(&s.groups_unread()),
            show(&s.contacts_unread()),
        ]
    } else {
        let mut s = match EntraSnapshot::open(path) {
            Ok(s) => s,
            Err(e) => return vec![e.to_string()],
        };
        vec![
            show(&s.read_users(&[]).await),
            show(&s.read_tenant().await),
            show(&s.read_groups().await),
            show(&s.read_contacts().await),
            show(&EntraGroupRead::groups_unread(&mut s)),
            show(&EntraGroupRead::contacts_unread(&mut s)),
        ]
    }
}

async fn same_answers(path: &Path) {
    let (snapshot, planning) = (answers(path, false).await, answers(path, true).await);
    assert_eq!(snapshot, planning, "{}", path.display());
}

fn repository(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

#[tokio::test]
async fn every_export_of_the_repository_reads_alike() {
    let mut paths = vec![
        repository("examples/contoso/entra"),
        repository("examples/contoso/entra/users.json"),
        repository("tests/fixtures/converged/entra"),
        repository("fuzz/corpus/graph_json/seed-contoso.json"),
    ];
    let mut files: Vec<PathBuf> = std::fs::read_dir(repository("tests/fixtures/exports/graph"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 10, "the graph export fixtures moved");
    paths.extend(files);
    for path in &paths {
        same_answers(path).await;
    }
}

#[tokio::test]
async fn refused_exports_are_refused_alike() {
    let users = r#"{"value": [{"id": "1", "userPrincipalName": "a@x.com"}]}"#;
    let folders: &[&[(&str, &str)]] = &[
        &[("users.json", "{\"value\": [{\"id\": 1,}]}")],
        &[("users.json", "[{\"id\": \"1\"}]")],
        &[(
            "users.json",
            "[{\"id\": \"a\", \"userPrincipalName\": \"a@x.com\"}, {\"id\": \"A\", \"userPrincipalName\": \"b@x.com\"}]",
        )],
        &[
            ("users.json", users),
            ("groups.json", "{\"value\": [{\"id\": 3}]}"),
        ],
        &[("users.json", users), ("contacts.json", "[1]")],
        &[("users.json", users), ("domains.json", "{\"value\": 7}")],
        &[("users.json", users), ("groups.json", "{\"value\": []}")],
        &[
            ("users.json", users),
            (
                "groups.json",
                r#"{"value": [{"id": "g1", "members": [{"id": "1"}, {"id": "2", "@odata.type": "x"}]}, {"id": "g2", "members": null}, {"id": "g3"}]}"#,
            ),
        ],
        &[
            ("users.json", users),
            ("groups.json", r#"[{"id": "g1", "members": [{"id": 1}]}]"#),
        ],
        &[
            ("users.json", users),
            ("groups.json", r#"[{"id": "g1"}, {"id": "G1"}]"#),
        ],
        &[
            ("users.json", users),
            ("groups.json", r#"[{"id": "g1"}]"#),
            ("contacts.json", r#"[{"id": "c1"}, {"id": "c1"}]"#),
        ],
        &[
            ("users.json", users),
            ("groups.json", r#"[{"id": "g1"}]"#),
            ("subscribedSkus.json", r#"[{"skuId": 3}]"#),
        ],
        // Microsoft Graph PowerShell's shape: converted on read, then decoded from the map.
        &[
            ("users.json", users),
            (
                "groups.json",
                r#"[{"Id": "g1", "DisplayName": "G", "SecurityEnabled": true, "MailEnabled": false, "GroupTypes": []}]"#,
            ),
        ],
        &[
            ("users.json", users),
            ("groups.json", r#"{"Id": "g1", "DisplayName": "G"}"#),
        ],
        &[
            ("users.json", users),
            ("groups.json", "[{\"id\": \"g1\", \"members\": 5}]"),
            ("contacts.json", "[{\"id\": 2}]"),
        ],
    ];
    for files in folders {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in *files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        same_answers(dir.path()).await;
        same_answers(&dir.path().join("users.json")).await;
    }
}

#[tokio::test]
async fn users_are_answered_once_and_writes_refused() {
    let mut s = EntraPlanRead::open(repository("examples/contoso/entra")).unwrap();
    assert!(!s.users().unwrap().is_empty());
    assert!(s.users().unwrap_err().to_string().contains("read twice"));
    assert!(s.not_for_apply().to_string().contains("reads only"));
    // The file was read without the digest writes compare against: a write would be refused.
    assert!(s.snapshot.file.unchanged().is_err());
}
