//! Entra exports as admins really make them (DESIGN.md, "Exports as admins really make
//! them"): every shape reads with absent and null kept apart, incomplete or misspelt exports
//! are refused at FILE:LINE:COL, and `apply` rewrites a Graph JSON snapshot losslessly.
//!
//! Fixtures (tests/fixtures/exports/graph/) are written by us from the documented formats,
//! with invented people:
//! - Graph: https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0 (the
//!   default property set, `$select`, `@odata.nextLink` paging at 100 by default)
//! - delta: https://learn.microsoft.com/en-us/graph/api/user-delta?view=graph-rest-1.0
//!   (`@odata.deltaLink` ends a round, `@removed` entries)
//! - PowerShell: https://learn.microsoft.com/en-us/powershell/module/microsoft.graph.users/get-mguser
//!   piped to `ConvertTo-Json -Depth 5`: PascalCase names, unselected properties null,
//!   `AdditionalProperties` for what the SDK model lacks
//! - az: https://learn.microsoft.com/en-us/cli/azure/ad/user#az-ad-user-list (a bare array)

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use idsync::directory::EntraOp;
use idsync::directory::snapshot::{EntraSnapshot, ExportShape, SnapshotError, TextEncoding};
use serde_json::{Map, Value, json};
use support::fixtures::{b64, guid};
use support::situations::{s1_cloud_first, s3_hard_match};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exports/graph")
        .join(name)
}

fn open(name: &str) -> EntraSnapshot {
    EntraSnapshot::open(fixture(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// The user object with this id.
fn user<'a>(snap: &'a EntraSnapshot, id: &str) -> &'a Map<String, Value> {
    snap.user_objects()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap_or_else(|| panic!("no user {id}"))
}

fn keys(user: &Map<String, Value>) -> Vec<&str> {
    user.keys().map(String::as_str).collect()
}

fn open_error(name: &str) -> String {
    let err = EntraSnapshot::open(fixture(name)).unwrap_err().to_string();
    let prefix = format!("{}:", fixture(name).display());
    err.strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{err}: does not start with the file"))
        .to_owned()
}

#[test]
fn graph_value_with_odata_context_reads_the_default_property_set() {
    let snap = open("graph-value.json");
    assert_eq!(snap.shape(), ExportShape::Graph);
    assert_eq!(snap.encoding(), TextEncoding::Utf8);
    assert_eq!(snap.user_objects().len(), 2);
    let ines = user(&snap, "3d5c1a7e-52b1-4c0e-9f7a-6b8e2d4c1a01");
    assert_eq!(ines["mail"], "ines.lindqvist@example.com");
    assert_eq!(ines["mobilePhone"], Value::Null, "present and null");
    // Graph's default GET /users leaves these out: unknown, not null.
    for absent in [
        "accountEnabled",
        "usageLocation",
        "proxyAddresses",
        "onPremisesImmutableId",
    ] {
        assert!(!ines.contains_key(absent), "{absent}");
    }
    let users = snap.users().unwrap();
    assert_eq!(users[1].upn(), "tomas.berg@example.com");
    assert_eq!(users[1].account_enabled, None);
}

#[test]
fn selected_properties_keep_their_nulls() {
    let snap = open("select-with-nulls.json");
    assert_eq!(snap.shape(), ExportShape::Graph);
    let otto = user(&snap, "7a0e4f3b-9d21-4e55-8c1b-2f6a9e0d3b02");
    assert_eq!(
        keys(otto),
        [
            "id",
            "userPrincipalName",
            "mail",
            "proxyAddresses",
            "accountEnabled",
            "usageLocation",
            "onPremisesImmutableId",
            "onPremisesSyncEnabled"
        ]
    );
    assert_eq!(otto["usageLocation"], Value::Null);
    assert_eq!(otto["onPremisesImmutableId"], Value::Null);
    assert_eq!(otto["proxyAddresses"], json!([]));
    assert_eq!(otto["accountEnabled"], false);
    let users = snap.users().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].immutable_id(), Some("q83XkWb5T0yB2xLm4Ns9Eg=="));
    assert!(users[0].sync_enabled);
}

#[test]
fn a_bare_array_reads() {
    let snap = open("bare-array.json");
    assert_eq!(snap.shape(), ExportShape::AzCli);
    assert_eq!(snap.user_objects().len(), 2);
    let nils = user(&snap, "b1f0c2d3-0000-4aaa-8bbb-000000000002");
    assert_eq!(nils["accountEnabled"], Value::Null);
    assert_eq!(nils["department"], Value::Null);
    assert!(!nils.contains_key("mail"));
}

#[test]
fn az_ad_user_list_reads() {
    let snap = open("az-user-list.json");
    assert_eq!(snap.shape(), ExportShape::AzCli);
    let users = snap.users().unwrap();
    assert_eq!(users.len(), 3);
    assert!(users[1].upn().contains("#EXT#"));
    let rut = user(&snap, "c7d8e9f0-1111-4222-8333-444455556603");
    assert_eq!(rut["businessPhones"], json!(["+46 31 555 0199"]));
    assert_eq!(rut["mail"], Value::Null);
    assert!(!rut.contains_key("accountEnabled") && !rut.contains_key("userType"));
}

#[test]
fn powershell_pascal_case_becomes_graph_camel_case_without_its_nulls() {
    let snap = open("powershell.json");
    assert_eq!(snap.shape(), ExportShape::PowerShell);
    assert_eq!(snap.user_objects().len(), 2);
    let hugo = user(&snap, "5e6f7a8b-2222-4c3d-9e4f-aaaabbbb0001");
    assert_eq!(
        keys(hugo),
        [
            "accountEnabled",
            "id",
            "mail",
            "onPremisesExtensionAttributes",
            "onPremisesImmutableId",
            "userPrincipalName",
            // Merged from AdditionalProperties, as Graph sent them (their nulls are Graph's).
            "extension_0a1b2c3d4e5f60718293a4b5c6d7e8f9_employeeNumber",
            "extension_0a1b2c3d4e5f60718293a4b5c6d7e8f9_badge",
        ]
    );
    assert_eq!(hugo["onPremisesImmutableId"], "Vb1T2nq0Rk6eYc3pW8xZ1A==");
    assert_eq!(
        hugo["onPremisesExtensionAttributes"],
        json!({"extensionAttribute1": "cost-center-42"})
    );
    assert_eq!(
        hugo["extension_0a1b2c3d4e5f60718293a4b5c6d7e8f9_badge"],
        Value::Null
    );
    // The SDK writes unselected properties as null: they are unknown, so absent.
    let alma = user(&snap, "5e6f7a8b-2222-4c3d-9e4f-aaaabbbb0002");
    assert_eq!(
        keys(alma),
        ["accountEnabled", "id", "userPrincipalName"],
        "{alma:?}"
    );
    let users = snap.users().unwrap();
    assert_eq!(users[1].account_enabled, Some(false));
    assert_eq!(users[0].immutable_id(), Some("Vb1T2nq0Rk6eYc3pW8xZ1A=="));
}

#[test]
fn utf8_with_a_byte_order_mark_reads() {
    let snap = open("utf8-bom.json");
    assert_eq!(snap.encoding(), TextEncoding::Utf8Bom);
    assert_eq!(snap.shape(), ExportShape::Graph);
    let users = snap.users().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].text("displayName"), Some("Åsa Östlund"));
}

#[test]
fn windows_powershell_utf16le_with_a_byte_order_mark_reads() {
    let snap = open("utf16le-bom.json");
    assert_eq!(snap.encoding(), TextEncoding::Utf16Le);
    assert_eq!(snap.shape(), ExportShape::PowerShell);
    assert_eq!(snap.user_objects().len(), 2);
    let karin = user(&snap, "e1f2a3b4-4444-4c5d-8e6f-000000000002");
    assert_eq!(karin["displayName"], "Karin Öberg");
    assert_eq!(karin["onPremisesImmutableId"], "Xq7bN2kP0UeC5vR8tY3wLg==");
    assert_eq!(karin["accountEnabled"], false);
    assert!(!karin.contains_key("mail") && !karin.contains_key("usageLocation"));
}

#[test]
fn a_complete_delta_round_reads_applied_in_order_without_its_removed_entries() {
    let snap = open("delta.json");
    assert_eq!(snap.shape(), ExportShape::GraphDelta);
    let users = snap.users().unwrap();
    let upns: Vec<&str> = users.iter().map(|u| u.upn()).collect();
    assert_eq!(upns, ["eja.norling@example.com", "ville.rask@example.com"]);
    // Applied in order: Ville's second entry carries what changed; Ola was removed later.
    let ville = user(&snap, "f2a3b4c5-5555-4d6e-8f70-000000000003");
    assert_eq!(ville["accountEnabled"], false);
    assert_eq!(users[1].account_enabled, Some(false));
    let eja = user(&snap, "f2a3b4c5-5555-4d6e-8f70-000000000001");
    assert_eq!(keys(eja), ["id", "userPrincipalName", "accountEnabled"]);
}

#[test]
fn a_first_page_is_refused_as_incomplete() {
    let err = open_error("next-link.json");
    assert!(
        err.starts_with("3:3: the export is incomplete: it is only the first page"),
        "{err}"
    );
    assert!(
        err.contains("Get-MgUser -All") && err.contains("idsync snapshot --from entra"),
        "{err}"
    );
}

#[test]
fn a_delta_page_without_its_delta_link_is_refused() {
    let err = open_error("delta-next-link.json");
    assert!(
        err.starts_with("6:3: the export is incomplete: it is one page of a Graph delta round"),
        "{err}"
    );
}

#[test]
fn mixed_case_keys_are_refused_at_the_key() {
    let err = open_error("mixed-case.json");
    assert!(
        err.starts_with("5:5: user #1: Id and id are the same property in two spellings"),
        "{err}"
    );
    let err = open_error("mixed-style.json");
    assert!(
        err.starts_with(
            "3:4: user #1: AccountEnabled is PowerShell's PascalCase but id is Graph's camelCase"
        ),
        "{err}"
    );
}

#[test]
fn near_misses_of_graph_properties_are_refused_at_the_key() {
    let err = open_error("near-miss.json");
    assert!(
        err.starts_with(
            "5:7: user #2: unknown property userPrincipalname: did you mean userPrincipalName?"
        ),
        "{err}"
    );
    let err = open_error("near-miss-anchor.json");
    assert!(
        err.starts_with(
            "2:93: user #1: unknown property onPremiseImmutableId: did you mean onPremisesImmutableId?"
        ),
        "{err}"
    );
}

/// A copy of a fixture in a temporary folder (apply rewrites it).
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::copy(fixture(name), &path).unwrap();
    (dir, path)
}

fn update(snap: &mut EntraSnapshot, id: &str, patch: Value) {
    let Value::Object(patch) = patch else {
        panic!("not an object")
    };
    snap.apply(EntraOp::Update {
        id: id.into(),
        patch,
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

const ADA: &str = "77777777-aaaa-4bbb-8ccc-000000000001";
const BO: &str = "77777777-aaaa-4bbb-8ccc-000000000002";

/// `text` with `from` (which occurs once) replaced.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "{from}");
    text.replacen(from, to, 1)
}

#[test]
fn apply_changes_only_the_users_it_writes() {
    let (_dir, path) = copy("lossless.json");
    let before = fs::read_to_string(&path).unwrap();
    let mut snap = EntraSnapshot::open(&path).unwrap();
    update(&mut snap, BO, json!({"jobTitle": "Lead"}));
    snap.save().unwrap();
    // Every other byte stays: the huge numbers keep their digits (also the changed user's
    // own `ratio`), key order, unknown keys, escapes, tabs and the CRLF stay.
    let expected = replaced(
        &before,
        r#""jobTitle":"Clerk","note""#,
        r#""jobTitle":"Lead","note""#,
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), expected);

    // A second write splices into the file as now written; a new property goes at the end of
    // the user, laid out like its neighbours.
    update(
        &mut snap,
        ADA,
        json!({"jobTitle": "Chief", "usageLocation": "SE"}),
    );
    snap.save().unwrap();
    let expected = replaced(
        &expected,
        r#""jobTitle":   "Clerk"  }"#,
        r#""jobTitle":   "Chief" , "usageLocation" :"SE"  }"#,
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), expected);
    let again = EntraSnapshot::open(&path).unwrap();
    assert_eq!(again.users().unwrap(), snap.users().unwrap());
}

#[test]
fn deletes_and_creates_leave_the_other_users_alone() {
    let (_dir, path) = copy("lossless.json");
    let before = fs::read_to_string(&path).unwrap();
    let mut snap = EntraSnapshot::open(&path).unwrap();
    snap.apply(EntraOp::Delete { id: ADA.into() }).unwrap();
    snap.save().unwrap();
    let after = fs::read_to_string(&path).unwrap();
    let bo_start = before
        .find("{\"id\":\"77777777-aaaa-4bbb-8ccc-000000000002\"")
        .unwrap();
    let ada_start = before.find("{   \"userPrincipalName\"").unwrap();
    assert_eq!(
        after,
        format!("{}{}", &before[..ada_start], &before[bo_start..])
    );

    let Value::Object(body) = json!({
        "accountEnabled": true,
        "displayName": "Cy Quist",
        "mailNickname": "cy.quist",
        "userPrincipalName": "cy.quist@example.com",
        "passwordProfile": {"password": "never-written-1!"}
    }) else {
        unreachable!()
    };
    snap.apply(EntraOp::Create(body)).unwrap();
    snap.save().unwrap();
    let created = fs::read_to_string(&path).unwrap();
    assert!(
        created.starts_with(after.split("\r\n").next().unwrap()),
        "{created}"
    );
    assert!(created.contains("cy.quist@example.com") && !created.contains("never-written"));
    assert!(
        created.ends_with(&after[after.find("\r\n").unwrap()..]),
        "{created}"
    );
    assert_eq!(
        EntraSnapshot::open(&path).unwrap().users().unwrap().len(),
        2
    );
}

#[test]
fn utf8_bom_and_utf16_snapshots_are_written_back_in_their_encoding() {
    // UTF-8 with a BOM.
    let (_dir, path) = copy("utf8-bom.json");
    let before = fs::read(&path).unwrap();
    let mut snap = EntraSnapshot::open(&path).unwrap();
    update(
        &mut snap,
        "d0e1f2a3-3333-4b4c-8d5e-000000000001",
        json!({"jobTitle": "Baker"}),
    );
    snap.save().unwrap();
    let after = fs::read(&path).unwrap();
    let text = String::from_utf8(before).unwrap();
    let expected = replaced(
        &text,
        "\"displayName\": \"Åsa Östlund\"}",
        "\"displayName\": \"Åsa Östlund\", \"jobTitle\": \"Baker\"}",
    );
    assert_eq!(after, expected.as_bytes());

    // Graph JSON saved as UTF-16LE with a BOM (Windows PowerShell's `>` of Invoke-RestMethod
    // output) is written back as UTF-16LE.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("utf16.json");
    let text = fs::read_to_string(fixture("lossless.json")).unwrap();
    let utf16 = |s: &str| -> Vec<u8> {
        std::iter::once(0xFEFF_u16)
            .chain(s.encode_utf16())
            .flat_map(u16::to_le_bytes)
            .collect()
    };
    fs::write(&path, utf16(&text)).unwrap();
    let mut snap = EntraSnapshot::open(&path).unwrap();
    assert_eq!(snap.encoding(), TextEncoding::Utf16Le);
    update(&mut snap, BO, json!({"jobTitle": "Lead"}));
    snap.save().unwrap();
    let expected = replaced(
        &text,
        r#""jobTitle":"Clerk","note""#,
        r#""jobTitle":"Lead","note""#,
    );
    assert_eq!(fs::read(&path).unwrap(), utf16(&expected));
}

#[test]
fn powershell_and_delta_exports_are_read_but_never_written() {
    for (name, id) in [
        ("powershell.json", "5e6f7a8b-2222-4c3d-9e4f-aaaabbbb0002"),
        ("delta.json", "f2a3b4c5-5555-4d6e-8f70-000000000001"),
    ] {
        let (_dir, path) = copy(name);
        let before = fs::read(&path).unwrap();
        let mut snap = EntraSnapshot::open(&path).unwrap();
        let Value::Object(patch) = json!({"jobTitle": "x"}) else {
            unreachable!()
        };
        let err = snap
            .apply(EntraOp::Update {
                id: id.into(),
                patch,
            })
            .unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(
                err,
                idsync::directory::DirectoryError::Snapshot(SnapshotError::WriteRefused { .. })
            ) && message.contains("idsync snapshot --from entra"),
            "{message}"
        );
        assert!(!snap.is_dirty());
        snap.save().unwrap();
        assert_eq!(fs::read(&path).unwrap(), before, "{name}");
        assert!(snap.writable().is_err());
    }
}

// --- As the CLI runs it -----------------------------------------------------------------------

#[test]
fn plan_from_a_first_page_fails_naming_the_link() {
    let f = s1_cloud_first();
    let users = f.cloud_users();
    let page = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
        "@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$skiptoken=invented",
        "value": users,
    });
    fs::write(
        f.path("entra.json"),
        serde_json::to_string_pretty(&page).unwrap(),
    )
    .unwrap();
    let out = f.idsync(&["plan"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("entra.json:3:3: the export is incomplete"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no plan is shown");
}

#[test]
fn apply_against_a_powershell_export_refuses_its_writes_and_says_what_to_do() {
    // A hard-matched pair with writes on both sides: an AD and a cloud department.
    let f = s3_hard_match();
    let desired = f.read("desired/idsync.yaml")
        + "identities:\n  - ad: { sam_account_name: ssmith }\n    attributes: { department: Finance }\n";
    fs::write(f.path("desired/idsync.yaml"), desired).unwrap();
    // The same users as `Get-MgUser | ConvertTo-Json` writes them. (Its nulls are unknown, so
    // the cloud-managed users say so with `false`, as a hybrid tenant's do.)
    let users: Vec<Value> = f
        .cloud_users()
        .into_iter()
        .map(|u| {
            let Value::Object(mut u) = u else {
                unreachable!()
            };
            u.insert("onPremisesSyncEnabled".into(), Value::Bool(false));
            let pascal: Map<String, Value> = u
                .into_iter()
                .map(|(k, v)| (k[..1].to_uppercase() + &k[1..], v))
                .collect();
            Value::Object(pascal)
        })
        .collect();
    fs::write(
        f.path("entra.json"),
        serde_json::to_string_pretty(&users).unwrap(),
    )
    .unwrap();
    let (ad, entra) = (f.read("ad.ldif"), f.read("entra.json"));
    let (code, plan) = f.plan_code();
    assert_eq!(code, 2, "the export reads and plans:\n{plan}");
    assert!(
        plan.contains("update ad \"sara@example.com\"")
            && plan.contains("update entra \"sara@example.com\""),
        "{plan}"
    );
    let out = f.apply();
    // Refused before anything is written (AD included), with what to do instead.
    let stdout =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("refusing to write: it is a Microsoft Graph PowerShell export")
            && stdout.contains("idsync snapshot --from entra"),
        "{stdout}"
    );
    assert_eq!((f.read("ad.ldif"), f.read("entra.json")), (ad, entra));
}

#[test]
fn apply_rewrites_a_graph_snapshot_changing_only_the_users_it_writes() {
    let f = s3_hard_match();
    // The same users in a layout idsync would never write: one line each, tabs, CRLF, an
    // unknown top-level member and an unknown property holding a number no float can hold.
    let lines: Vec<String> = f
        .cloud_users()
        .iter()
        .enumerate()
        .map(|(n, u)| {
            let members: Vec<String> = u
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
                .collect();
            format!(
                "\t{{{}, \"x-big\":12345678901234567890123456789{n}}}",
                members.join(", ")
            )
        })
        .collect();
    let text = format!(
        "{{ \"@odata.context\" : \"https://graph.microsoft.com/v1.0/$metadata#users\",\r\n  \"x-exported-by\": \"invented\", \"value\" : [\r\n{}\r\n] }}",
        lines.join(",\r\n")
    );
    fs::write(f.path("entra.json"), &text).unwrap();
    let out = f.apply();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = f.read("entra.json");
    let mike = lines
        .iter()
        .position(|l| l.contains("mike@example.com"))
        .unwrap();
    let (before_lines, after_lines): (Vec<&str>, Vec<&str>) =
        (text.split("\r\n").collect(), after.split("\r\n").collect());
    assert_eq!(before_lines.len(), after_lines.len(), "{after}");
    for (i, (b, a)) in before_lines.iter().zip(&after_lines).enumerate() {
        if i == mike + 2 {
            // Mike's line: what was there stays, the anchor's null becomes the anchor.
            let anchor = format!("\"onPremisesImmutableId\":\"{}\"", b64(&guid(2)));
            assert_eq!(*a, b.replace("\"onPremisesImmutableId\":null", &anchor));
            assert_ne!(a, b);
        } else {
            assert_eq!(a, b, "line {i}");
        }
    }
}
