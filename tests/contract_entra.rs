//! Contract tests for the Entra side: every test body is written once, generic over the
//! directory, and runs twice — against `EntraSnapshot` (a Graph users export in a temporary
//! folder) and against the Graph connector on the emulator (one emulator per test). A fake
//! that drifts from the real thing fails here.
//!
//! Both start from the same users, written as a Graph export holds them: every property any
//! user has, `null` where a user has none (`GET /users?$select=…` answers that way).

mod graph_support;

use std::collections::BTreeSet;

use graph_emulator::{Config, RunningEmulator};
use idsync::directory::graph::{GraphDirectory, GraphOptions};
use idsync::directory::snapshot::EntraSnapshot;
use idsync::directory::tenant_docs::{self, Source};
use idsync::directory::{
    CloudUser, DirectoryError, EntraOp, EntraRead, EntraUserRead, EntraUserWrite, EntraWrite,
    Flush, Guid, TenantRead,
};
use idsync::names::AttrName;
use serde_json::{Map, Value, json};

use graph_support::{new_user, object, strings};

// --- the two directories ----------------------------------------------------------------------

trait World: Sized {
    type Dir: EntraRead + EntraWrite + TenantRead;
    async fn open(users: Vec<Value>) -> Self;
    /// With tenant data: each of `answers` as Graph answers its request (the snapshot folder's
    /// file, the emulator's seed), but the parts in `unreadable`, which the directory cannot
    /// give (the folder lacks the file; the app lacks the permission).
    async fn open_tenant(
        users: Vec<Value>,
        answers: &[(Source, Value)],
        unreadable: &[Source],
    ) -> Self;
    /// What the `Unknown` text of a part this directory could not read names.
    fn unreadable_because(source: Source) -> &'static str;
    fn dir(&mut self) -> &mut Self::Dir;
    /// The users as stored (writes so far included), without going through idsync.
    async fn raw(&mut self) -> Vec<Map<String, Value>>;
}

/// The users as a Graph export holds them: each with every property any of them has.
fn export(users: Vec<Value>) -> Value {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for u in &users {
        names.extend(u.as_object().expect("a user object").keys().cloned());
    }
    let users: Vec<Value> = users
        .into_iter()
        .map(|u| {
            let mut u = object(u);
            for name in &names {
                u.entry(name.clone()).or_insert(Value::Null);
            }
            Value::Object(u)
        })
        .collect();
    json!({ "value": users })
}

struct Snapshot {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    entra: EntraSnapshot,
}

impl World for Snapshot {
    type Dir = EntraSnapshot;

    async fn open(users: Vec<Value>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("users.json");
        let text = serde_json::to_string_pretty(&export(users)).expect("JSON");
        std::fs::write(&path, text).expect("write the export");
        let entra = EntraSnapshot::open(&path).unwrap_or_else(|e| panic!("{e}"));
        Snapshot {
            _dir: dir,
            path,
            entra,
        }
    }

    async fn open_tenant(
        users: Vec<Value>,
        answers: &[(Source, Value)],
        unreadable: &[Source],
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("users.json");
        let text = serde_json::to_string_pretty(&export(users)).expect("JSON");
        std::fs::write(&path, text).expect("write the export");
        for (source, answer) in answers {
            if !unreadable.contains(source) {
                let text = serde_json::to_string_pretty(answer).expect("JSON");
                std::fs::write(dir.path().join(source.file), text).expect("write a tenant file");
            }
        }
        let entra = EntraSnapshot::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        Snapshot {
            _dir: dir,
            path,
            entra,
        }
    }

    fn unreadable_because(source: Source) -> &'static str {
        source.file
    }

    fn dir(&mut self) -> &mut EntraSnapshot {
        &mut self.entra
    }

    async fn raw(&mut self) -> Vec<Map<String, Value>> {
        self.entra.flush().await.expect("flush");
        let text = std::fs::read_to_string(&self.path).expect("read the export");
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        let users = doc["value"].as_array().expect("value array").clone();
        users.into_iter().map(object).collect()
    }
}

struct Graph {
    emulator: RunningEmulator,
    graph: GraphDirectory,
    _secret: graph_support::SecretFile,
}

impl World for Graph {
    type Dir = GraphDirectory;

    async fn open(users: Vec<Value>) -> Self {
        let emulator = graph_support::start(Config::default(), export(users)).await;
        // Small pages, so that reads of a few hundred users follow nextLink.
        let options = GraphOptions {
            page_size: 40,
            ..graph_support::fast()
        };
        let (graph, secret) = graph_support::connect(&emulator, options).await;
        Graph {
            emulator,
            graph,
            _secret: secret,
        }
    }

    async fn open_tenant(
        users: Vec<Value>,
        answers: &[(Source, Value)],
        unreadable: &[Source],
    ) -> Self {
        let mut config = Config::default();
        let collection = |source: Source| {
            answers
                .iter()
                .find(|(s, _)| *s == source)
                .map(|(_, v)| graph_emulator::directory::collection(v.clone()).expect("answer"))
        };
        config.directory.on_premises_sync = collection(tenant_docs::SYNC);
        config.directory.domains = collection(tenant_docs::DOMAINS);
        config.directory.role_definitions = collection(tenant_docs::ROLE_DEFINITIONS);
        config.directory.role_assignments =
            collection(tenant_docs::ROLE_ASSIGNMENTS).unwrap_or_default();
        // The app holds what reads users and each readable part, nothing else.
        let mut roles = vec!["User.ReadWrite.All".to_owned()];
        for source in tenant_docs::SOURCES {
            if !unreadable.contains(&source) && !roles.iter().any(|r| r == source.permission) {
                roles.push(source.permission.to_owned());
            }
        }
        config.app_roles = Some(roles);
        let emulator = graph_support::start(config, export(users)).await;
        let (graph, secret) = graph_support::connect(&emulator, graph_support::fast()).await;
        Graph {
            emulator,
            graph,
            _secret: secret,
        }
    }

    fn unreadable_because(source: Source) -> &'static str {
        source.permission
    }

    fn dir(&mut self) -> &mut GraphDirectory {
        &mut self.graph
    }

    async fn raw(&mut self) -> Vec<Map<String, Value>> {
        self.emulator
            .users_snapshot()
            .into_iter()
            .map(object)
            .collect()
    }
}

/// Each body runs once per directory: `snapshot::NAME` and `graph::NAME`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod snapshot {
            $(#[tokio::test]
            async fn $name() {
                super::$name::<super::Snapshot>().await
            })*
        }
        mod graph {
            $(#[tokio::test]
            async fn $name() {
                super::$name::<super::Graph>().await
            })*
        }
    };
}

contract!(
    select_carries_every_selected_property_null_when_unset,
    paging_reads_every_user_once,
    read_by_id_and_by_upn,
    read_users_by_id_keeps_order_and_marks_missing_ids,
    create_mints_an_id_and_reads_back,
    patch_applies_and_refuses_read_only_properties,
    synced_users_refuse_mastered_properties_with_graphs_400,
    duplicate_upn_and_immutable_id_are_refused_without_case,
    delete_removes,
    read_tenant_reads_every_part,
    read_tenant_parts_that_cannot_be_read_are_unknown_with_why,
    provisioning_errors_are_read_with_the_users,
);

// --- seeds and helpers ------------------------------------------------------------------------

const ANN: &str = "11111111-0000-4000-8000-00000000000a";
const BOB: &str = "11111111-0000-4000-8000-00000000000b";
const SYN: &str = "11111111-0000-4000-8000-00000000000c";
const SYNCED_IMMUTABLE_ID: &str = "AbCdEfGhIjKlMnOpQrStUw==";

/// A cloud user with a job, a cloud user without one, and a user Entra Connect syncs.
fn three_users() -> Vec<Value> {
    vec![
        json!({
            "id": ANN,
            "userPrincipalName": "ann.ct@example.com",
            "displayName": "Ann Contract",
            "mailNickname": "ann.ct",
            "mail": "ann.ct@example.com",
            "proxyAddresses": ["SMTP:ann.ct@example.com", "smtp:ann.alias.ct@example.com"],
            "jobTitle": "Engineer",
            "department": "R&D",
            "accountEnabled": true,
            "userType": "Member"
        }),
        json!({
            "id": BOB,
            "userPrincipalName": "bob.ct@example.com",
            "displayName": "Bob Contract",
            "mailNickname": "bob.ct",
            "accountEnabled": true,
            "userType": "Member"
        }),
        json!({
            "id": SYN,
            "userPrincipalName": "synced.ct@example.com",
            "displayName": "Synced Contract",
            "mailNickname": "synced.ct",
            "accountEnabled": true,
            "onPremisesSyncEnabled": true,
            "onPremisesImmutableId": SYNCED_IMMUTABLE_ID,
            "jobTitle": "Operator",
            "userType": "Member"
        }),
    ]
}

fn patch(id: &str, body: Value) -> EntraOp {
    EntraOp::Update {
        id: id.to_owned(),
        patch: object(body),
    }
}

/// The one result of one write.
async fn write_one<W: World>(w: &mut W, op: EntraOp) -> Result<Option<CloudUser>, DirectoryError> {
    let mut results = w.dir().write_users(vec![op]).await;
    assert_eq!(results.len(), 1, "one result per write");
    results.remove(0)
}

/// A refusal as Graph's 400 answers it (`Request_BadRequest`), its message.
fn bad_request(result: Result<Option<CloudUser>, DirectoryError>) -> String {
    match result {
        Err(DirectoryError::Refused {
            code: Some(code),
            message,
            ..
        }) if code == "Request_BadRequest" => message,
        other => panic!("expected Graph's 400 Request_BadRequest, got {other:?}"),
    }
}

/// What a plan selects; the live connector keeps it for later reads and write answers.
async fn read_all<W: World>(w: &mut W) -> Vec<CloudUser> {
    let select = strings(&[
        "displayName",
        "mail",
        "proxyAddresses",
        "jobTitle",
        "onPremisesImmutableId",
        "userType",
    ]);
    w.dir().read_users(&select).await.expect("read_users")
}

async fn user<W: World>(w: &mut W, key: &str) -> CloudUser {
    w.dir()
        .read_user(key)
        .await
        .expect("read_user")
        .unwrap_or_else(|| panic!("{key} exists"))
}

fn raw_user<'a>(users: &'a [Map<String, Value>], id: &str) -> Option<&'a Map<String, Value>> {
    users
        .iter()
        .find(|u| u.get("id").and_then(Value::as_str) == Some(id))
}

// --- the bodies -------------------------------------------------------------------------------

/// Every selected property comes back — with its value, or `null` for a user that has none
/// (never left out: absent means "not read" to the planner).
async fn select_carries_every_selected_property_null_when_unset<W: World>() {
    let mut w = W::open(three_users()).await;
    let select = strings(&[
        "displayName",
        "mail",
        "proxyAddresses",
        "jobTitle",
        "department",
        "onPremisesImmutableId",
        "onPremisesSyncEnabled",
        "accountEnabled",
    ]);
    let users = w.dir().read_users(&select).await.unwrap();
    assert_eq!(users.len(), 3);
    for u in &users {
        for name in &select {
            assert!(
                u.carries(AttrName::new(name)),
                "{}: {name} not carried",
                u.upn()
            );
        }
    }
    let by_id = |id: &str| users.iter().find(|u| u.id() == id).expect("user");
    let ann = by_id(ANN);
    assert_eq!(ann.text("jobTitle"), Some("Engineer"));
    assert_eq!(
        ann.proxy_addresses().collect::<Vec<_>>(),
        ["SMTP:ann.ct@example.com", "smtp:ann.alias.ct@example.com"]
    );
    let bob = by_id(BOB);
    assert_eq!(bob.text("jobTitle"), None);
    assert_eq!(bob.mail(), None);
    assert_eq!(bob.immutable_id(), None);
    assert!(!bob.sync_enabled);
    let synced = by_id(SYN);
    assert!(synced.sync_enabled);
    assert_eq!(synced.immutable_id(), Some(SYNCED_IMMUTABLE_ID));
    assert_eq!(synced.account_enabled, Some(true));
}

/// A read of more users than a page holds returns each exactly once.
async fn paging_reads_every_user_once<W: World>() {
    let seed = graph_support::users(137);
    let seeded: BTreeSet<String> = seed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let mut w = W::open(seed["value"].as_array().unwrap().clone()).await;
    let users = w.dir().read_users(&strings(&["jobTitle"])).await.unwrap();
    assert_eq!(users.len(), 137);
    let ids: BTreeSet<String> = users.iter().map(|u| u.id().to_owned()).collect();
    assert_eq!(ids, seeded);
}

/// `/users/{id | userPrincipalName}`: by id, by UPN in any case; nothing for an unknown id.
async fn read_by_id_and_by_upn<W: World>() {
    let mut w = W::open(three_users()).await;
    read_all(&mut w).await;
    let by_id = user(&mut w, ANN).await;
    assert_eq!(by_id.upn(), "ann.ct@example.com");
    assert_eq!(by_id.text("jobTitle"), Some("Engineer"));
    let by_upn = user(&mut w, "Ann.CT@example.com").await;
    assert_eq!(by_upn.id(), ANN);
    let unknown = Guid::new_random().to_string();
    assert!(w.dir().read_user(&unknown).await.unwrap().is_none());
}

/// One answer per id, in the order asked, `None` where a user is gone.
async fn read_users_by_id_keeps_order_and_marks_missing_ids<W: World>() {
    let mut w = W::open(three_users()).await;
    let gone = Guid::new_random().to_string();
    let ids = strings(&[SYN, &gone, ANN, BOB]);
    let users = w.dir().read_users_by_id(&ids).await.unwrap();
    let got: Vec<Option<&str>> = users
        .iter()
        .map(|u| u.as_ref().map(CloudUser::id))
        .collect();
    assert_eq!(got, [Some(SYN), None, Some(ANN), Some(BOB)]);
}

/// `POST /users` mints an id (a GUID), defaults userType to Member, makes `mail` the primary
/// SMTP address, keeps no password; the user reads back by that id.
async fn create_mints_an_id_and_reads_back<W: World>() {
    let mut w = W::open(three_users()).await;
    read_all(&mut w).await;
    let mut body = new_user("new.ct@example.com");
    body.insert("mail".into(), json!("new.ct@example.com"));
    body.insert("jobTitle".into(), json!("Analyst"));
    let created = write_one(&mut w, EntraOp::Create(body)).await.unwrap();
    let created = created.expect("a create answers with the user");
    assert!(Guid::parse(created.id()).is_some(), "{}", created.id());
    assert_eq!(created.upn(), "new.ct@example.com");
    // Graph's answer to a POST holds the default properties only: what idsync relies on is
    // read back.
    let read = user(&mut w, created.id()).await;
    assert_eq!(read.upn(), "new.ct@example.com");
    assert_eq!(read.text("jobTitle"), Some("Analyst"));
    assert_eq!(read.user_type(), Some("Member"));
    assert_eq!(
        read.proxy_addresses().collect::<Vec<_>>(),
        ["SMTP:new.ct@example.com"]
    );
    let raw = w.raw().await;
    let stored = raw_user(&raw, created.id()).expect("stored");
    assert!(!stored.contains_key("passwordProfile"), "{stored:?}");

    let second = write_one(&mut w, EntraOp::Create(new_user("second.ct@example.com")))
        .await
        .unwrap()
        .expect("user");
    assert_ne!(second.id(), created.id());
    let all = read_all(&mut w).await;
    assert_eq!(all.len(), 5);
    // Created users read like the others: every selected property carried, null when unset.
    for u in &all {
        for name in ["jobTitle", "onPremisesImmutableId", "displayName", "mail"] {
            assert!(
                u.carries(AttrName::new(name)),
                "{}: {name} not carried",
                u.upn()
            );
        }
    }
    let second = all.iter().find(|u| u.id() == second.id()).expect("second");
    assert_eq!(second.text("jobTitle"), None);

    // What a create must carry (https://learn.microsoft.com/graph/api/user-post-users).
    let mut incomplete = new_user("incomplete.ct@example.com");
    incomplete.remove("mailNickname");
    let message = bad_request(write_one(&mut w, EntraOp::Create(incomplete)).await);
    assert!(message.contains("mailNickname"), "{message}");
}

/// A PATCH of writable properties lands; one that sets a property Graph computes is refused
/// whole with a 400 naming it. Setting `mail` makes it the primary SMTP address.
async fn patch_applies_and_refuses_read_only_properties<W: World>() {
    let mut w = W::open(three_users()).await;
    read_all(&mut w).await;
    write_one(
        &mut w,
        patch(
            BOB,
            json!({"jobTitle": "Lead", "mail": "bob.ct@example.com"}),
        ),
    )
    .await
    .unwrap();
    let bob = user(&mut w, BOB).await;
    let raw = w.raw().await;
    let stored = raw_user(&raw, BOB).expect("Bob");
    assert_eq!(stored["jobTitle"], "Lead");
    assert_eq!(stored["mail"], "bob.ct@example.com");
    assert_eq!(stored["proxyAddresses"], json!(["SMTP:bob.ct@example.com"]));
    assert_eq!(bob.upn(), "bob.ct@example.com");

    // Read-only on the user resource (https://learn.microsoft.com/graph/api/resources/user).
    for (name, value) in [
        ("proxyAddresses", json!(["SMTP:x.ct@example.com"])),
        ("createdDateTime", json!("2020-01-01T00:00:00Z")),
        ("onPremisesSyncEnabled", json!(true)),
        ("onPremisesSamAccountName", json!("x")),
        ("securityIdentifier", json!("S-1-12-1-1-2-3-4")),
        ("signInActivity", json!({})),
        ("legalAgeGroupClassification", json!("Adult")),
        ("id", json!(Guid::new_random().to_string())),
    ] {
        let message = bad_request(
            write_one(
                &mut w,
                patch(BOB, json!({"jobTitle": "Changed", name: value})),
            )
            .await,
        );
        assert!(message.contains(name), "{name}: {message}");
    }
    assert_eq!(
        raw_user(&w.raw().await, BOB).unwrap()["jobTitle"],
        "Lead",
        "a refused PATCH changes nothing"
    );

    let unknown = Guid::new_random().to_string();
    let e = write_one(&mut w, patch(&unknown, json!({"jobTitle": "x"}))).await;
    assert!(matches!(e, Err(DirectoryError::NotFound { .. })), "{e:?}");
}

/// On a user Entra Connect syncs, the properties it masters are refused with Graph's 400;
/// cloud-mastered ones (usageLocation) still write.
async fn synced_users_refuse_mastered_properties_with_graphs_400<W: World>() {
    let mut w = W::open(three_users()).await;
    for (name, value) in [
        ("jobTitle", json!("Boss")),
        ("displayName", json!("Renamed")),
        ("accountEnabled", json!(false)),
        ("onPremisesImmutableId", json!("Zm9vYmFyYmF6cXV4cXV1eA==")),
        ("userPrincipalName", json!("renamed.ct@example.com")),
    ] {
        let message = bad_request(write_one(&mut w, patch(SYN, json!({ name: value }))).await);
        // The live connector adds Graph's code and request-id around Graph's message.
        assert!(
            message.contains(idsync::directory::snapshot::SYNCED_OBJECT_MESSAGE),
            "{name}: {message}"
        );
    }
    let raw = w.raw().await;
    let stored = raw_user(&raw, SYN).expect("synced user");
    assert_eq!(stored["jobTitle"], "Operator");
    assert_eq!(stored["accountEnabled"], true);

    write_one(&mut w, patch(SYN, json!({"usageLocation": "NL"})))
        .await
        .unwrap();
    assert_eq!(
        raw_user(&w.raw().await, SYN).unwrap()["usageLocation"],
        "NL"
    );
}

/// userPrincipalName and onPremisesImmutableId are unique in the tenant, compared without
/// case, on create and on PATCH; a user may keep (or re-set) its own.
async fn duplicate_upn_and_immutable_id_are_refused_without_case<W: World>() {
    let mut w = W::open(three_users()).await;
    read_all(&mut w).await;
    let message =
        bad_request(write_one(&mut w, EntraOp::Create(new_user("ANN.ct@Example.com"))).await);
    assert!(message.contains("userPrincipalName"), "{message}");
    let message = bad_request(
        write_one(
            &mut w,
            patch(BOB, json!({"userPrincipalName": "Ann.Ct@example.com"})),
        )
        .await,
    );
    assert!(message.contains("userPrincipalName"), "{message}");

    let other_case = SYNCED_IMMUTABLE_ID.to_lowercase();
    let message = bad_request(
        write_one(
            &mut w,
            patch(BOB, json!({"onPremisesImmutableId": other_case})),
        )
        .await,
    );
    assert!(message.contains("onPremisesImmutableId"), "{message}");
    let mut body = new_user("fresh.ct@example.com");
    body.insert("onPremisesImmutableId".into(), json!(SYNCED_IMMUTABLE_ID));
    let message = bad_request(write_one(&mut w, EntraOp::Create(body)).await);
    assert!(message.contains("onPremisesImmutableId"), "{message}");

    // Its own values are no conflict.
    write_one(
        &mut w,
        patch(ANN, json!({"userPrincipalName": "ann.ct@example.com"})),
    )
    .await
    .unwrap();
    write_one(
        &mut w,
        patch(
            BOB,
            json!({"onPremisesImmutableId": "Ym9iYm9iYm9iYm9iYm9iYg=="}),
        ),
    )
    .await
    .unwrap();
    write_one(
        &mut w,
        patch(
            BOB,
            json!({"onPremisesImmutableId": "Ym9iYm9iYm9iYm9iYm9iYg=="}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        user(&mut w, BOB).await.immutable_id(),
        Some("Ym9iYm9iYm9iYm9iYm9iYg==")
    );
    let users = w.raw().await;
    assert_eq!(users.len(), 3, "nothing created");
}

/// `DELETE /users/{id}` removes the user; a second delete is a 404.
async fn delete_removes<W: World>() {
    let mut w = W::open(three_users()).await;
    let answer = write_one(&mut w, EntraOp::Delete { id: BOB.into() }).await;
    assert!(matches!(answer, Ok(None)), "{answer:?}");
    assert!(w.dir().read_user(BOB).await.unwrap().is_none());
    assert!(raw_user(&w.raw().await, BOB).is_none());
    let users = w.dir().read_users(&[]).await.unwrap();
    let ids: BTreeSet<&str> = users.iter().map(CloudUser::id).collect();
    assert_eq!(ids, [ANN, SYN].into());
    let again = write_one(&mut w, EntraOp::Delete { id: BOB.into() }).await;
    assert!(
        matches!(again, Err(DirectoryError::NotFound { .. })),
        "{again:?}"
    );
}

// --- tenant data ------------------------------------------------------------------------------

const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const USER_ADMIN: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";

/// Each answer as Graph gives it. Shapes:
/// https://learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get (a collection,
/// `features` with the `…Enabled` flags), https://learn.microsoft.com/graph/api/domain-list,
/// https://learn.microsoft.com/graph/api/rbacapplication-list-roleassignments and
/// https://learn.microsoft.com/graph/api/rbacapplication-list-roledefinitions.
fn tenant_answers() -> Vec<(Source, Value)> {
    // More assignments than a page of the emulator holds (100): the connector follows
    // @odata.nextLink.
    let mut assignments: Vec<Value> = (0..120)
        .map(|i| {
            json!({"id": format!("a{i}"), "principalId": format!("sp-{i:03}"),
                "roleDefinitionId": USER_ADMIN, "directoryScopeId": "/"})
        })
        .collect();
    assignments.push(json!({"id": "ann-ga", "principalId": ANN,
        "roleDefinitionId": GLOBAL_ADMIN, "directoryScopeId": "/"}));
    assignments.push(json!({"id": "ann-ua", "principalId": ANN,
        "roleDefinitionId": USER_ADMIN, "directoryScopeId": "/"}));
    vec![
        (
            tenant_docs::SYNC,
            json!({"value": [{"id": "11111111-1111-4111-8111-111111111111", "features": {
                "blockSoftMatchEnabled": false,
                "blockCloudObjectTakeoverThroughHardMatchEnabled": true,
                "softMatchOnUpnEnabled": true,
                "synchronizeUpnForManagedUsersEnabled": false,
                "passwordSyncEnabled": true
            }}]}),
        ),
        (
            tenant_docs::DOMAINS,
            json!({"value": [
                {"id": "contoso-ct.onmicrosoft.com", "isVerified": true, "isInitial": true, "isDefault": false},
                {"id": "example.com", "isVerified": true, "isInitial": false, "isDefault": true},
                {"id": "corp.example.com", "isVerified": false, "isInitial": false, "isDefault": false}
            ]}),
        ),
        (
            tenant_docs::ROLE_ASSIGNMENTS,
            json!({ "value": assignments }),
        ),
        (
            tenant_docs::ROLE_DEFINITIONS,
            json!({"value": [
                {"id": GLOBAL_ADMIN, "displayName": "Global Administrator", "isBuiltIn": true, "templateId": GLOBAL_ADMIN},
                {"id": USER_ADMIN, "displayName": "User Administrator", "isBuiltIn": true, "templateId": USER_ADMIN}
            ]}),
        ),
    ]
}

/// Every part read: the features, the domains, and who holds which role (by name).
async fn read_tenant_reads_every_part<W: World>() {
    let mut w = W::open_tenant(three_users(), &tenant_answers(), &[]).await;
    let t = w.dir().read_tenant().await.expect("read_tenant");
    let f = *t.sync.known().expect("features read");
    assert!(f.block_cloud_object_takeover_through_hard_match);
    assert!(!f.block_soft_match);
    assert!(f.soft_match_on_upn && f.password_sync);
    assert!(!f.synchronize_upn_for_managed_users);
    assert_eq!(t.initial_domain(), Some("contoso-ct.onmicrosoft.com"));
    assert!(t.is_verified("EXAMPLE.com"));
    assert!(!t.is_verified("corp.example.com"));
    assert_eq!(t.domains.known().unwrap().len(), 3);
    assert_eq!(
        t.roles_of(ANN),
        ["Global Administrator", "User Administrator"]
    );
    assert_eq!(t.roles_of(BOB), [] as [&str; 0]);
    assert_eq!(t.roles_of("sp-119"), ["User Administrator"]);
    assert_eq!(
        t.role_holders.known().unwrap().len(),
        121,
        "every page read"
    );
}

/// A part the directory cannot give is unknown, and says which file or permission would settle
/// it; the others are read all the same.
async fn read_tenant_parts_that_cannot_be_read_are_unknown_with_why<W: World>() {
    let unreadable = [
        tenant_docs::SYNC,
        tenant_docs::ROLE_ASSIGNMENTS,
        tenant_docs::ROLE_DEFINITIONS,
    ];
    let mut w = W::open_tenant(three_users(), &tenant_answers(), &unreadable).await;
    let t = w
        .dir()
        .read_tenant()
        .await
        .expect("an unreadable part is no error");
    assert!(t.domains.known().is_some());
    let why = t.sync.why_unknown().expect("sync unknown");
    assert!(
        why.contains(W::unreadable_because(tenant_docs::SYNC)),
        "{why}"
    );
    assert!(why.contains("onPremisesSynchronization"), "{why}");
    let why = t.role_holders.why_unknown().expect("role holders unknown");
    assert!(
        why.contains(W::unreadable_because(tenant_docs::ROLE_ASSIGNMENTS)),
        "{why}"
    );
    assert!(why.contains("roleAssignments"), "{why}");
    // The planner's stated assumptions stand in for what was not read.
    assert_eq!(
        t.features(),
        idsync::directory::model::SyncFeatures::ASSUMED
    );
    assert!(t.roles_of(ANN).is_empty());
}

/// `onPremisesProvisioningErrors` (read-only; Entra writes it when it quarantines a duplicate)
/// comes back with the users: https://learn.microsoft.com/graph/api/resources/onpremisesprovisioningerror
async fn provisioning_errors_are_read_with_the_users<W: World>() {
    let mut users = three_users();
    users[1]["onPremisesProvisioningErrors"] = json!([{
        "category": "PropertyConflict",
        "occurredDateTime": "2026-11-30T10:00:00Z",
        "propertyCausingError": "UserPrincipalName",
        "value": "bob.ct@example.com"
    }]);
    let mut w = W::open(users).await;
    let select = strings(&["displayName", "onPremisesProvisioningErrors"]);
    let read = w.dir().read_users(&select).await.expect("read_users");
    let bob = read.iter().find(|u| u.id() == BOB).expect("bob");
    let errors = bob.provisioning_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].category, "PropertyConflict");
    assert_eq!(errors[0].property_causing_error, "UserPrincipalName");
    assert_eq!(errors[0].value, "bob.ct@example.com");
    let ann = read.iter().find(|u| u.id() == ANN).expect("ann");
    assert!(ann.provisioning_errors().is_empty());
}
