//! The groups and contacts of a snapshot folder: every shape reads, a missing file is "none
//! known", writes answer as Graph does and flush rewrites only what changed, atomically.

use super::*;
use crate::directory::Flush;
use serde_json::json;
use std::fs;
use std::path::Path;

const ADAM: &str = "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01";
const ALVA: &str = "9f1d2e3c-0000-4a5b-8c7d-112233445566";
const SALES: &str = "0f8e6a3c-5d1b-4c2e-9a7f-3b2c1d0e9f01";
const SYNCED: &str = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c02";
const DLIST: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e803";
const CONTACT: &str = "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928104";

const USERS: &str = r#"{
  "value": [
    {"id": "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01", "userPrincipalName": "adam@example.com"},
    {"id": "9f1d2e3c-0000-4a5b-8c7d-112233445566", "userPrincipalName": "alva@example.com"}
  ]
}
"#;

/// `GET /v1.0/groups?$select=…&$expand=members($select=id)` as Graph answers it, with a
/// property idsync does not model (`visibility`) and one group exported without members.
const GROUPS: &str = r##"{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups(id,displayName,members(id))",
  "value": [
    {
      "id": "0f8e6a3c-5d1b-4c2e-9a7f-3b2c1d0e9f01",
      "displayName": "Sales",
      "mailEnabled": false,
      "mailNickname": "sales",
      "securityEnabled": true,
      "groupTypes": [],
      "visibility": null,
      "members": [
        {"@odata.type": "#microsoft.graph.user", "id": "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01"}
      ]
    },
    {
      "id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c02",
      "displayName": "Synced",
      "mailEnabled": false,
      "securityEnabled": true,
      "onPremisesSyncEnabled": true,
      "onPremisesSecurityIdentifier": "S-1-5-21-1004336348-1177238915-682003330-1105",
      "members": []
    },
    {
      "id": "1b2c3d4e-5f60-4718-8293-a4b5c6d7e803",
      "displayName": "Everyone (list)",
      "mail": "everyone@example.com",
      "mailEnabled": true,
      "securityEnabled": false,
      "proxyAddresses": ["SMTP:everyone@example.com"]
    }
  ]
}
"##;

const CONTACTS: &str = r#"{"value": [
  {"id": "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928104", "displayName": "Partner", "mail": "p@partner.example", "proxyAddresses": ["SMTP:p@partner.example"]}
]}
"#;

fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("users.json"), USERS).unwrap();
    for (name, bytes) in files {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn full() -> (tempfile::TempDir, EntraSnapshot) {
    let dir = folder(&[
        ("groups.json", GROUPS.as_bytes()),
        ("contacts.json", CONTACTS.as_bytes()),
    ]);
    let snap = EntraSnapshot::open(dir.path()).unwrap();
    (dir, snap)
}

fn error_of(dir: &Path) -> String {
    let mut snap = EntraSnapshot::open(dir).unwrap();
    snap.groups().unwrap_err().to_string()
}

fn refusal(r: Result<Option<CloudGroup>, DirectoryError>) -> (String, String) {
    match r {
        Err(DirectoryError::Refused { message, code, .. }) => (code.unwrap_or_default(), message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn groups_and_contacts_read_from_graph_answers() {
    let (_d, mut snap) = full();
    let groups = snap.read_groups().await.unwrap();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups[0].id, SALES);
    assert_eq!(groups[0].members.as_deref(), Some(&[ADAM.to_owned()][..]));
    assert!(groups[1].sync_enabled);
    assert_eq!(
        groups[1].on_premises_sid.as_deref(),
        Some("S-1-5-21-1004336348-1177238915-682003330-1105")
    );
    assert_eq!(groups[1].members.as_deref(), Some(&[][..]), "empty, known");
    assert_eq!(groups[2].members, None, "not exported: unknown, not empty");
    assert_eq!(
        groups[2].primary_smtp().unwrap().as_str(),
        "everyone@example.com"
    );
    assert_eq!(EntraGroupRead::groups_unread(&mut snap), None);
    let contacts = snap.read_contacts().await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].mail.as_deref(), Some("p@partner.example"));
    assert_eq!(EntraGroupRead::contacts_unread(&mut snap), None);
    assert_eq!(
        snap.read_group(SALES).await.unwrap(),
        Some(groups[0].clone())
    );
    assert_eq!(snap.read_group("nope").await.unwrap(), None);
}

#[tokio::test]
async fn bare_arrays_powershell_and_utf16_read_too() {
    // `az rest`/a saved `value`: a bare array.
    let dir = folder(&[(
        "groups.json",
        br#"[{"id": "g1", "displayName": "A", "members": [{"id": "u1"}]}]"#,
    )]);
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    assert_eq!(
        snap.groups().unwrap()[0].members.as_deref(),
        Some(&["u1".to_owned()][..])
    );

    // `Get-MgGroup -All -ExpandProperty Members | ConvertTo-Json -Depth 5` from Windows
    // PowerShell's `>`: PascalCase, members' type in AdditionalProperties, nulls for what was
    // not selected (unknown), UTF-16LE with a byte-order mark.
    let ps = r##"[
  {
    "Id": "g1",
    "DisplayName": "Sales",
    "MailEnabled": false,
    "SecurityEnabled": true,
    "GroupTypes": [],
    "Mail": null,
    "Members": [
      {"Id": "u1", "DeletedDateTime": null, "AdditionalProperties": {"@odata.type": "#microsoft.graph.user"}}
    ],
    "AdditionalProperties": {}
  }
]"##;
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(ps.encode_utf16().flat_map(u16::to_le_bytes));
    let dir = folder(&[("groups.json", &bytes)]);
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    let g = &snap.groups().unwrap()[0];
    assert_eq!(g.display_name, "Sales");
    assert!(g.security_enabled && !g.mail_enabled);
    assert_eq!(g.members.as_deref(), Some(&["u1".to_owned()][..]));
    // Read, never written back (PowerShell's JSON is not Graph's).
    let (code, _) = match snap.apply_group(EntraOp::Delete { id: "g1".into() }) {
        Err(DirectoryError::Snapshot(SnapshotError::WriteRefused { message, .. })) => {
            ("refused".to_owned(), message)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(code, "refused");

    // One group from PowerShell is a lone object.
    let dir = folder(&[(
        "contacts.json",
        br#"{"Id": "c1", "DisplayName": "Partner", "Mail": "p@x.example"}"#,
    )]);
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    assert_eq!(
        snap.contacts().unwrap()[0].mail.as_deref(),
        Some("p@x.example")
    );
}

#[tokio::test]
async fn a_missing_file_is_none_known_and_says_so() {
    let dir = folder(&[]);
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    assert!(snap.read_groups().await.unwrap().is_empty());
    assert!(snap.read_contacts().await.unwrap().is_empty());
    let why = EntraGroupRead::groups_unread(&mut snap).unwrap();
    assert!(why.contains("has no groups.json"), "{why}");
    let why = EntraGroupRead::contacts_unread(&mut snap).unwrap();
    assert!(why.contains("has no contacts.json"), "{why}");

    let mut plain = EntraSnapshot::open(dir.path().join("users.json")).unwrap();
    assert!(plain.read_groups().await.unwrap().is_empty());
    let why = plain.groups_unread().unwrap();
    assert!(
        why.contains("is a users file, not a snapshot folder"),
        "{why}"
    );
    let r = plain.apply_group(EntraOp::Create(security_group("X")));
    assert!(
        matches!(&r, Err(DirectoryError::Snapshot(SnapshotError::WriteRefused { message, .. })) if message.contains("snapshot folder only")),
        "{r:?}"
    );
}

#[test]
fn files_that_cannot_be_read_are_located() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "groups.json",
            "{\"value\": [\n  {\"id\": \"g1\"}\n], \"@odata.nextLink\": \"https://graph.microsoft.com/v1.0/groups?$skiptoken=x\"}",
            ":3:4: the export is incomplete: it is only the first page of Graph's answer (@odata.nextLink is set; Graph pages at 100 groups by default). Follow the pages (`Get-MgGroup -All`)",
        ),
        (
            "groups.json",
            "[\n  {\"id\": \"g1\"},\n  {\"displayName\": \"B\"}\n]",
            ":3:3: group #2: no id",
        ),
        (
            "groups.json",
            "[\n  {\"id\": \"g1\"},\n  {\"id\": \"G1\"}\n]",
            ":3:3: group #2: duplicate id G1 (also group #1)",
        ),
        (
            "groups.json",
            "[\n  {\"id\": \"g1\",\n   \"securityenabled\": true}\n]",
            ":3:4: group #1: unknown property securityenabled: did you mean securityEnabled?",
        ),
        (
            "groups.json",
            "[{\"id\": \"g1\", \"members\": [{\"id\": 7}]}]",
            ":1:2: group #1: members must be objects with an id",
        ),
        (
            "contacts.json",
            "{\"value\": 3}",
            ":1:1: expected a Graph contacts answer (GET /v1.0/contacts)",
        ),
    ];
    for (file, text, expected) in cases {
        let dir = folder(&[(file, text.as_bytes())]);
        let err = error_of(dir.path());
        let path = dir.path().join(file).display().to_string();
        assert!(
            err.starts_with(&format!("{path}{expected}")),
            "{file}: {err}\nexpected {expected}"
        );
    }
}

fn security_group(name: &str) -> Map<String, Value> {
    json!({"displayName": name, "mailEnabled": false, "mailNickname": name.to_lowercase(),
        "securityEnabled": true})
    .as_object()
    .unwrap()
    .clone()
}

#[tokio::test]
async fn creates_mint_ids_and_refuse_what_graph_refuses() {
    let (_d, mut snap) = full();
    let mut list = security_group("List");
    list.insert("mailEnabled".into(), json!(true));
    list.insert("securityEnabled".into(), json!(false));
    let mut missing = security_group("Missing");
    missing.remove("mailNickname");
    let mut read_only = security_group("RO");
    read_only.insert("mail".into(), json!("ro@example.com"));
    let mut unknown = security_group("U");
    unknown.insert("members".into(), json!([]));
    let results = snap
        .write_groups(vec![
            EntraOp::Create(security_group("Engineers")),
            EntraOp::Create(list),
            EntraOp::Create(missing),
            EntraOp::Create(read_only),
            EntraOp::Create(unknown),
        ])
        .await;
    let mut results = results.into_iter();
    let created = results.next().unwrap().unwrap().unwrap();
    assert!(Guid::parse(&created.id).is_some(), "{}", created.id);
    assert_eq!(created.display_name, "Engineers");
    assert_eq!(
        created.members.as_deref(),
        Some(&[][..]),
        "new: no members, known"
    );
    assert!(created.mail.is_none() && created.proxy_addresses.is_empty());
    let mut next = || refusal(results.next().unwrap());
    assert_eq!(next().1, graph_rules::group::MAIL_ENABLED_WRITE_MESSAGE);
    assert_eq!(
        next().1,
        "Property mailNickname value is required but is empty or missing."
    );
    assert_eq!(next().1, "Property 'mail' is read-only and cannot be set.");
    assert_eq!(next().1, "Invalid property 'members'.");
    assert_eq!(
        snap.groups().unwrap().len(),
        4,
        "only the valid create landed"
    );
}

#[tokio::test]
async fn a_microsoft_365_group_gets_its_address_in_the_initial_domain() {
    let dir = folder(&[(
        "domains.json",
        br#"{"value": [{"id": "contoso.onmicrosoft.com", "isInitial": true, "isVerified": true}, {"id": "contoso.com", "isInitial": false, "isVerified": true}]}"#,
    )]);
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    let mut body = security_group("Team");
    body.insert("mailEnabled".into(), json!(true));
    body.insert("groupTypes".into(), json!(["Unified"]));
    let g = snap.apply_group(EntraOp::Create(body)).unwrap().unwrap();
    assert_eq!(g.mail.as_deref(), Some("team@contoso.onmicrosoft.com"));
    assert_eq!(g.proxy_addresses, ["SMTP:team@contoso.onmicrosoft.com"]);
}

/// microsoft-graph-docs-contrib api-reference/v1.0/api/group-post-members.md (`$ref` add: "a
/// member already there" is a 400) and group-delete-members.md (`DELETE …/members/{id}/$ref`;
/// the page gives no body for a non-member, so the 404 is the one the emulator answers, from
/// graph-rules, as for any object that is not there).
#[tokio::test]
async fn member_writes_follow_graph() {
    let (_d, mut snap) = full();
    let add = |id: &str, member: &str| EntraOp::AddMember {
        id: id.into(),
        member: member.into(),
    };
    let remove = |id: &str, member: &str| EntraOp::RemoveMember {
        id: id.into(),
        member: member.into(),
    };
    let results = snap
        .write_groups(vec![
            add(SALES, ALVA),
            add(SALES, CONTACT),
            add(SALES, SYNCED),
            // Graph: 400 for a member already there, 404 for an object that does not exist.
            add(SALES, &ADAM.to_uppercase()),
            add(SALES, "00000000-0000-0000-0000-000000000000"),
            remove(SALES, ADAM),
            remove(SALES, ADAM),
            // Synced groups are mastered on-premises; distribution lists in Exchange Online.
            add(SYNCED, ADAM),
            add(DLIST, ADAM),
            add("no-such-group", ADAM),
        ])
        .await;
    let mut results = results.into_iter();
    let mut next = || results.next().unwrap();
    next().unwrap();
    next().unwrap();
    let after = next().unwrap().unwrap();
    assert_eq!(
        after.members.unwrap(),
        [ADAM, ALVA, CONTACT, SYNCED].map(str::to_owned)
    );
    assert_eq!(
        refusal(next()),
        (
            "Request_BadRequest".into(),
            graph_rules::group::MEMBER_EXISTS_MESSAGE.into()
        )
    );
    let (code, message) = refusal(next());
    assert_eq!(code, "Request_ResourceNotFound");
    assert!(message.starts_with("Resource '00000000-0000-0000-0000-000000000000' does not exist"));
    assert_eq!(
        next().unwrap().unwrap().members.unwrap(),
        [ALVA, CONTACT, SYNCED].map(str::to_owned)
    );
    assert_eq!(
        refusal(next()).0,
        "Request_ResourceNotFound",
        "not a member"
    );
    assert_eq!(refusal(next()).1, graph_rules::SYNCED_OBJECT_MESSAGE);
    assert_eq!(
        refusal(next()).1,
        graph_rules::group::MAIL_ENABLED_MEMBERS_MESSAGE
    );
    assert!(matches!(next(), Err(DirectoryError::NotFound { .. })));
}

#[tokio::test]
async fn members_not_exported_are_never_written() {
    let dir = folder(&[(
        "groups.json",
        br#"{"value": [{"id": "g1", "displayName": "A", "mailEnabled": false, "securityEnabled": true}]}"#,
    )]);
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    let r = snap.apply_group(EntraOp::AddMember {
        id: "g1".into(),
        member: ADAM.into(),
    });
    assert!(
        matches!(&r, Err(DirectoryError::Other(m)) if m.contains("does not carry this group's members")),
        "{r:?}"
    );
}

#[tokio::test]
async fn flush_rewrites_only_what_changed_atomically() {
    let (dir, mut snap) = full();
    let users_before = fs::read(dir.path().join("users.json")).unwrap();
    let results = snap
        .write_groups(vec![
            EntraOp::AddMember {
                id: SALES.into(),
                member: ALVA.into(),
            },
            EntraOp::Update {
                id: SALES.into(),
                patch: json!({"Description": "Sales team"})
                    .as_object()
                    .unwrap()
                    .clone(),
            },
            EntraOp::Create(security_group("New")),
            EntraOp::Delete { id: SYNCED.into() },
        ])
        .await;
    let created = match &results[2] {
        Ok(Some(g)) => g.id.clone(),
        other => panic!("{other:?}"),
    };
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    snap.flush().await.unwrap();
    assert_eq!(
        names(dir.path()),
        ["contacts.json", "groups.json", "users.json"],
        "no temporary file left behind"
    );
    assert_eq!(
        fs::read(dir.path().join("users.json")).unwrap(),
        users_before,
        "users.json not rewritten"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("contacts.json")).unwrap(),
        CONTACTS
    );
    let text = fs::read_to_string(dir.path().join("groups.json")).unwrap();
    // The group not written keeps its bytes; the written one keeps its untouched members.
    let start = GROUPS.find("    {\n      \"id\": \"1b2c3d4e").unwrap();
    let list = &GROUPS[start..GROUPS.rfind("\n  ]").unwrap()];
    assert!(text.contains(list), "{text}");
    assert!(text.contains("      \"visibility\": null,\n"), "{text}");
    assert!(text.contains("\"description\": \"Sales team\""), "{text}");
    assert!(!text.contains(SYNCED), "{text}");
    // A deleted user leaves its groups, as in Entra ID.
    snap.apply(EntraOp::Delete { id: ADAM.into() }).unwrap();
    let sales = snap.group(SALES).unwrap().unwrap();
    assert_eq!(sales.members.unwrap(), [ALVA.to_owned()]);
    snap.flush().await.unwrap();
    let text = fs::read_to_string(dir.path().join("groups.json")).unwrap();

    let mut again = EntraSnapshot::open(dir.path()).unwrap();
    assert_eq!(again.groups().unwrap(), snap.groups().unwrap());
    let new = again.group(&created).unwrap().unwrap();
    assert_eq!(new.members.as_deref(), Some(&[][..]));
    // Nothing changed since: a second flush writes nothing.
    snap.flush().await.unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("groups.json")).unwrap(),
        text
    );
}

#[tokio::test]
async fn a_folder_without_groups_json_gets_one_on_the_first_write() {
    let dir = folder(&[]);
    let mut snap = EntraSnapshot::open(dir.path()).unwrap();
    let g = snap
        .apply_group(EntraOp::Create(security_group("First")))
        .unwrap()
        .unwrap();
    snap.flush().await.unwrap();
    assert_eq!(names(dir.path()), ["groups.json", "users.json"]);
    let mut again = EntraSnapshot::open(dir.path()).unwrap();
    assert_eq!(again.groups().unwrap(), [g]);
    assert_eq!(again.groups_unread(), None);
}

#[tokio::test]
async fn a_changed_file_stops_the_whole_flush() {
    let (dir, mut snap) = full();
    // A user write and a group write, then someone edits groups.json.
    snap.apply(EntraOp::Delete { id: ALVA.into() }).unwrap();
    snap.apply_group(EntraOp::Delete { id: SALES.into() })
        .unwrap();
    let edited = GROUPS.replace("Sales", "Sales (edited)");
    fs::write(dir.path().join("groups.json"), &edited).unwrap();
    let err = snap.flush().await.unwrap_err().to_string();
    assert!(err.contains("groups.json: refusing to write"), "{err}");
    assert_eq!(
        fs::read_to_string(dir.path().join("users.json")).unwrap(),
        USERS,
        "users.json is not written either"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("groups.json")).unwrap(),
        edited
    );
}
