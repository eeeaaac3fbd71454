//! A saved plan is data, not a command: `idsync apply PLAN` plans again and carries out only the
//! saved actions a fresh plan also holds, identically. The forged plans here are real saved plans
//! edited as an attacker would, with the checksum recomputed the way the file computes it.

mod support;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::fixtures::*;

const USERS_CN: &str = "CN=Users,DC=corp,DC=example,DC=com";

/// John and Jane get their UPN suffix fixed and are linked; Alva (cloud only) gets an AD
/// account; Old Contractor (ours, twin gone) is deleted; Break Glass is protected, Room is
/// ignored, Administrator is out of scope. At most one delete.
fn fixture() -> Fixture {
    let desired = format!(
        "{DESIRED}provision:\n  ad:\n    enabled: true\n    ou: {CLOUD_OU}\n    sam_account_name: \"{{mailNickname}}\"\ndeprovision:\n  action: delete\n  max_deletes: 1\nprotect:\n  - upn: breakglass@example.com\nidentities:\n  - entra: {{ upn: room@example.com }}\n    ignore: true\n"
    );
    Fixture::new(
        &desired,
        &[
            AdUser::new(1, "John Doe", "jdoe").upn("jdoe@corp.local"),
            AdUser::new(2, "Jane Roe", "jroe").upn("jroe@corp.local"),
            AdUser::new(3, "Administrator", "Administrator")
                .ou(USERS_CN)
                .upn("administrator@corp.local")
                .with("mail", "administrator@example.com"),
            AdUser::new(4, "Old Contractor", "ocontractor")
                .ou(CLOUD_OU)
                .upn("ocontractor@example.com")
                .with("adminDescription", "idsync:gone-4"),
            AdUser::new(5, "Break Glass", "breakglass").upn("breakglass@corp.local"),
        ],
        &[
            cloud(1, "jdoe@example.com", json!({"mail": "jdoe@example.com"})),
            cloud(2, "jroe@example.com", json!({})),
            cloud(5, "breakglass@example.com", json!({})),
            cloud(
                6,
                "alva.wood@example.com",
                json!({"displayName": "Alva Wood", "mail": "alva.wood@example.com"}),
            ),
            cloud(7, "room@example.com", json!({})),
        ],
    )
}

/// `plan --out plan.json`, parsed.
fn saved(f: &Fixture) -> Value {
    let out = f.idsync(&["plan", "--out", "plan.json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&f.read("plan.json")).unwrap()
}

/// Writes an edited plan with its checksum recomputed as the file computes it: SHA-256 of the
/// compact JSON of every member but the checksum, in the file's order, without the `kind` of
/// user actions (so plans saved before kinds verify).
fn forge(f: &Fixture, plan: &Value) {
    forge_at(&f.path("plan.json"), plan);
}

fn forge_at(path: &std::path::Path, plan: &Value) {
    let mut body = plan.clone();
    body.as_object_mut().unwrap().remove("checksum");
    let canonical = serde_json::to_string(&body)
        .unwrap()
        .replace(r#""directory":"ad","kind":"user""#, r#""directory":"ad""#)
        .replace(
            r#""directory":"entra","kind":"user""#,
            r#""directory":"entra""#,
        );
    let sum = format!("sha256:{:x}", Sha256::digest(canonical));
    let mut file = body;
    file["checksum"] = json!(sum);
    std::fs::write(path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
}

/// The saved action with this id.
fn action<'a>(plan: &'a mut Value, id: &str) -> &'a mut Value {
    plan["plan"]["actions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no action {id}"))
}

/// The id of the saved action of this kind on this identity.
fn id_of(plan: &Value, kind: &str, directory: &str, identity: &str) -> String {
    plan["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == kind && a["directory"] == directory && a["identity"] == identity)
        .unwrap_or_else(|| panic!("no {kind} {directory} of {identity}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Keeps only the actions with these ids.
fn keep_only(plan: &mut Value, ids: &[&str]) {
    plan["plan"]["actions"]
        .as_array_mut()
        .unwrap()
        .retain(|a| ids.iter().any(|id| a["id"] == *id));
}

/// `apply plan.json`: exit code and stdout + stderr.
fn apply(f: &Fixture) -> (i32, String) {
    let out = f.idsync(&["apply", "plan.json"]).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn snapshots(f: &Fixture) -> (String, String) {
    (f.read("ad.ldif"), f.read("entra.json"))
}

/// Applies a forged plan and checks it wrote nothing and was refused.
fn refused_and_nothing_written(f: &Fixture, plan: &Value) -> String {
    let before = snapshots(f);
    forge(f, plan);
    let (code, out) = apply(f);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REFUSED"), "{out}");
    assert!(!out.contains("applied       a"), "{out}");
    assert_eq!(snapshots(f), before, "{out}");
    out
}

#[test]
fn the_fixture_plans_what_the_forgeries_start_from() {
    let f = fixture();
    let plan = saved(&f);
    for (kind, dir, who) in [
        ("create", "ad", "alva.wood@example.com"),
        ("update", "ad", "jdoe@example.com"),
        ("update", "ad", "jroe@example.com"),
        ("delete", "ad", "ocontractor@example.com"),
    ] {
        id_of(&plan, kind, dir, who);
    }
    // The unedited plan applies in full.
    let (code, out) = apply(&f);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Apply complete"), "{out}");
    assert!(f.ad_entry("Old Contractor").is_none());
}

#[test]
fn a_delete_re_aimed_at_an_out_of_scope_or_protected_object_is_refused() {
    for (cn, dn, n) in [
        ("Administrator", format!("CN=Administrator,{USERS_CN}"), 3u8),
        ("Break Glass", format!("CN=Break Glass,{OU}"), 5),
    ] {
        let f = fixture();
        let mut plan = saved(&f);
        let id = id_of(&plan, "delete", "ad", "ocontractor@example.com");
        // The report would still say "ocontractor": only the target and its keys change, with the
        // object's real uSNChanged so no staleness hides the forgery.
        let a = action(&mut plan, &id);
        a["target"] = json!(dn);
        a["object"] = json!(format!("5a5a5a{n:02x}-5a5a-5a5a-5a5a-5a5a5a5a5a5a"));
        a["precondition"] = json!(format!("uSNChanged={}", 1000 + u32::from(n)));
        keep_only(&mut plan, &[&id]);
        let out = refused_and_nothing_written(&f, &plan);
        assert!(
            out.contains(&format!(
                "REFUSED       {id} delete ad \"ocontractor@example.com\" {dn}"
            )),
            "{out}"
        );
        assert!(out.contains("refused: not in a fresh plan"), "{out}");
        assert!(
            out.contains("A fresh plan has 10 actions that plan.json does not"),
            "{out}"
        );
        assert!(f.ad_entry(cn).is_some());
    }
}

#[test]
fn a_create_moved_to_another_ou_with_other_flags_is_refused() {
    let f = fixture();
    let mut plan = saved(&f);
    let id = id_of(&plan, "create", "ad", "alva.wood@example.com");
    let a = action(&mut plan, &id);
    a["target"] = json!(format!("CN=Alva Wood,{USERS_CN}"));
    for c in a["changes"].as_array_mut().unwrap() {
        if c["attribute"] == "userAccountControl" {
            c["after"] = json!("4260352");
        }
    }
    // Its links depend on it: they are not attempted.
    plan["plan"]["actions"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["id"] == id.as_str() || a["depends_on"][0] == id.as_str());
    assert_eq!(plan["plan"]["actions"].as_array().unwrap().len(), 3);
    let out = refused_and_nothing_written(&f, &plan);
    assert!(
        out.contains(&format!(
            "REFUSED       {id} create ad \"alva.wood@example.com\" CN=Alva Wood,{USERS_CN}"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "not in a fresh plan, which has the create of `alva.wood@example.com` on CN=Alva Wood,{CLOUD_OU} instead"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("depends on {id}, which was refused")),
        "{out}"
    );

    // The same DN, other flags: the difference is named.
    let f = fixture();
    let mut plan = saved(&f);
    let a = action(&mut plan, &id);
    for c in a["changes"].as_array_mut().unwrap() {
        if c["attribute"] == "userAccountControl" {
            c["after"] = json!("4260352");
        }
    }
    keep_only(&mut plan, &[&id]);
    let out = refused_and_nothing_written(&f, &plan);
    assert!(
        out.contains(
            "differs from the fresh plan: userAccountControl: the fresh plan has {\"attribute\":\"userAccountControl\",\"before\":null,\"after\":\"512\"}, not {\"attribute\":\"userAccountControl\",\"before\":null,\"after\":\"4260352\"}"
        ),
        "{out}"
    );
}

#[test]
fn an_update_aimed_at_another_user_is_refused() {
    // At Administrator (out of scope), the report naming John Doe.
    let f = fixture();
    let mut plan = saved(&f);
    let id = id_of(&plan, "update", "ad", "jdoe@example.com");
    let a = action(&mut plan, &id);
    a["object"] = json!("5a5a5a03-5a5a-5a5a-5a5a-5a5a5a5a5a5a");
    a["precondition"] = json!("uSNChanged=1003");
    keep_only(&mut plan, &[&id]);
    let out = refused_and_nothing_written(&f, &plan);
    assert!(
        out.contains(&format!(
            "REFUSED       {id} update ad \"jdoe@example.com\" CN=John Doe,{OU}"
        )),
        "{out}"
    );
    assert!(out.contains("refused: not in a fresh plan"), "{out}");

    // At Jane, who has an update of her own: the object differs.
    let f = fixture();
    let mut plan = saved(&f);
    let a = action(&mut plan, &id);
    a["object"] = json!("5a5a5a02-5a5a-5a5a-5a5a-5a5a5a5a5a5a");
    a["precondition"] = json!("uSNChanged=1002");
    keep_only(&mut plan, &[&id]);
    let out = refused_and_nothing_written(&f, &plan);
    assert!(
        out.contains(&format!(
            "differs from the fresh plan: the fresh plan's action is on CN=Jane Roe,{OU}, not CN=John Doe,{OU}"
        )),
        "{out}"
    );
}

#[test]
fn a_link_aimed_at_an_ignored_cloud_user_is_refused() {
    let f = fixture();
    let mut plan = saved(&f);
    let id = id_of(&plan, "link", "entra", "jdoe@example.com");
    let a = action(&mut plan, &id);
    a["target"] = json!("room@example.com");
    a["object"] = json!("00000000-0000-4000-8000-000000000007");
    keep_only(&mut plan, &[&id]);
    let out = refused_and_nothing_written(&f, &plan);
    assert!(
        out.contains(&format!(
            "REFUSED       {id} link entra \"jdoe@example.com\" room@example.com"
        )),
        "{out}"
    );
    assert!(f.cloud_user("room@example.com")["onPremisesImmutableId"].is_null());
}

/// DESIGN.md "Plan": `kind` absent means `user`, so plans saved before kinds still apply; a
/// kind edited to another is a different object and is refused.
#[test]
fn a_saved_action_without_kind_is_a_user_and_another_kind_is_refused() {
    let f = fixture();
    let mut plan = saved(&f);
    let id = id_of(&plan, "update", "ad", "jdoe@example.com");
    let a = action(&mut plan, &id);
    assert_eq!(a["kind"], "user");
    a.as_object_mut().unwrap().shift_remove("kind");
    keep_only(&mut plan, &[&id]);
    forge(&f, &plan);
    let (code, out) = apply(&f);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("applied       {id}")), "{out}");

    let f = fixture();
    let mut plan = saved(&f);
    action(&mut plan, &id)["kind"] = json!("group");
    keep_only(&mut plan, &[&id]);
    let out = refused_and_nothing_written(&f, &plan);
    assert!(out.contains("refused: not in a fresh plan"), "{out}");
}

#[test]
fn edited_changes_are_refused() {
    let f = fixture();
    let mut plan = saved(&f);
    let id = id_of(&plan, "update", "ad", "jdoe@example.com");
    let a = action(&mut plan, &id);
    for c in a["changes"].as_array_mut().unwrap() {
        if c["attribute"] == "mail" {
            c["after"] = json!("evil@example.net");
        }
        if c["attribute"] == "proxyAddresses" {
            c["add"] = json!(["SMTP:jdoe@example.com", "smtp:evil@example.net"]);
        }
    }
    keep_only(&mut plan, &[&id]);
    let out = refused_and_nothing_written(&f, &plan);
    assert!(out.contains("differs from the fresh plan: mail:"), "{out}");
    assert!(out.contains("evil@example.net"), "{out}");

    // A before value edited alone is a difference too.
    let f = fixture();
    let mut plan = saved(&f);
    let a = action(&mut plan, &id);
    a["changes"][0]["before"] = json!("someone@corp.local");
    keep_only(&mut plan, &[&id]);
    let out = refused_and_nothing_written(&f, &plan);
    assert!(
        out.contains("differs from the fresh plan: userPrincipalName:"),
        "{out}"
    );
}

#[test]
fn appended_actions_are_refused_and_max_deletes_holds() {
    let f = fixture();
    let mut plan = saved(&f);
    let delete = id_of(&plan, "delete", "ad", "ocontractor@example.com");
    let update = id_of(&plan, "update", "ad", "jroe@example.com");
    let actions = plan["plan"]["actions"].as_array().unwrap().clone();
    let n = actions.len();
    let mut extra = Vec::new();
    // Deletes of John and Jane: over max_deletes (1), and not something a plan would do.
    for (k, (cn, g)) in [("John Doe", 1u8), ("Jane Roe", 2)].into_iter().enumerate() {
        let mut d = actions
            .iter()
            .find(|a| a["id"] == delete.as_str())
            .unwrap()
            .clone();
        d["id"] = json!(format!("a{}", n + 1 + k));
        d["identity"] = json!("ocontractor@example.com");
        d["target"] = json!(format!("CN={cn},{OU}"));
        d["object"] = json!(format!("5a5a5a{g:02x}-5a5a-5a5a-5a5a-5a5a5a5a5a5a"));
        d["precondition"] = json!(format!("uSNChanged={}", 1000 + u32::from(g)));
        extra.push(d);
    }
    // And a second copy of a genuine update.
    let mut again = actions
        .iter()
        .find(|a| a["id"] == update.as_str())
        .unwrap()
        .clone();
    again["id"] = json!(format!("a{}", n + 3));
    extra.push(again);
    plan["plan"]["actions"]
        .as_array_mut()
        .unwrap()
        .extend(extra);
    plan["plan"]["summary"]["delete"] = json!(3);
    forge(&f, &plan);

    let (code, out) = apply(&f);
    assert_eq!(code, 1, "{out}");
    for (k, cn) in [(1, "John Doe"), (2, "Jane Roe")] {
        assert!(
            out.contains(&format!(
                "REFUSED       a{} delete ad \"ocontractor@example.com\" CN={cn},{OU}",
                n + k
            )),
            "{out}"
        );
        assert!(f.ad_entry(cn).is_some(), "{cn} deleted:\n{out}");
    }
    assert!(
        out.contains(&format!(
            "repeats {update}: the fresh plan holds this action once"
        )),
        "{out}"
    );
    // The genuine actions ran, as the fresh plan has them.
    assert!(
        out.contains(&format!("applied       {delete} delete ad")),
        "{out}"
    );
    assert!(f.ad_entry("Old Contractor").is_none());
    assert!(out.contains("3 refused"), "{out}");
}

#[test]
fn a_reordered_or_reindented_plan_applies_and_unknown_members_are_refused() {
    let f = fixture();
    let plan = saved(&f);
    // Members reversed and compact, checksum untouched: the same plan.
    let mut reversed = serde_json::Map::new();
    for (k, v) in plan.as_object().unwrap().iter().rev() {
        reversed.insert(k.clone(), v.clone());
    }
    std::fs::write(
        f.path("plan.json"),
        serde_json::to_string(&Value::Object(reversed)).unwrap(),
    )
    .unwrap();
    let (code, out) = apply(&f);
    assert_eq!(code, 0, "{out}");

    for path in ["note", "plan.actions.0.note"] {
        let f = fixture();
        let mut plan = saved(&f);
        let target = match path {
            "note" => &mut plan,
            _ => &mut plan["plan"]["actions"][0],
        };
        target["note"] = json!("looks harmless");
        let before = snapshots(&f);
        forge(&f, &plan);
        let (code, out) = apply(&f);
        assert_eq!(code, 1, "{out}");
        let shown = path.replace(".0.", "[0].");
        assert!(out.contains(&format!("unknown member `{shown}`")), "{out}");
        assert_eq!(snapshots(&f), before);
    }

    // A value changed without recomputing the checksum: damaged.
    let f = fixture();
    let text = f
        .idsync(&["plan", "--out", "plan.json"])
        .output()
        .map(|_| f.read("plan.json"))
        .unwrap();
    std::fs::write(
        f.path("plan.json"),
        text.replace("uSNChanged=1001", "uSNChanged=1009"),
    )
    .unwrap();
    let (code, out) = apply(&f);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("plan.json is damaged"), "{out}");
}

#[test]
fn unsigned_foreign_key_and_damaged_plans_are_told_apart() {
    let f = fixture();
    let before = snapshots(&f);
    let out = f.idsync(&["plan", "--out", "plan.json"]).output().unwrap();
    assert!(out.status.success());
    let with_key = |key: &str| {
        let out = f
            .idsync(&["apply", "plan.json"])
            .env("IDSYNC_PLAN_KEY", key)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = with_key("k3y");
    assert_eq!(code, Some(1));
    assert!(err.contains("plan.json is unsigned"), "{err}");

    let out = f
        .idsync(&["plan", "--out", "plan.json"])
        .env("IDSYNC_PLAN_KEY", "other")
        .output()
        .unwrap();
    assert!(out.status.success());
    let (code, err) = with_key("k3y");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("plan.json is signed with another key"),
        "{err}"
    );

    // Edited and re-summed by someone without the key: not this key's signature either.
    let mut plan: Value = serde_json::from_str(&f.read("plan.json")).unwrap();
    let signature = plan.as_object_mut().unwrap().remove("signature").unwrap();
    plan["desired_digest"] = json!("sha256:0");
    forge(&f, &plan);
    let mut forged: Value = serde_json::from_str(&f.read("plan.json")).unwrap();
    forged["signature"] = signature;
    std::fs::write(f.path("plan.json"), forged.to_string()).unwrap();
    let (code, err) = with_key("other");
    assert_eq!(code, Some(1));
    assert!(err.contains("signed with another key"), "{err}");

    // Damaged: the checksum does not match, with or without a key.
    forged["checksum"] = json!("sha256:00");
    std::fs::write(f.path("plan.json"), forged.to_string()).unwrap();
    let (code, err) = with_key("other");
    assert_eq!(code, Some(1));
    assert!(err.contains("plan.json is damaged"), "{err}");
    assert_eq!(snapshots(&f), before);
}

#[test]
fn the_same_folders_spelled_differently_are_the_same_directories() {
    let f = fixture();
    let root = f.dir.path();
    std::os::unix::fs::symlink(root.join("desired"), root.join("linked")).unwrap();
    let original = snapshots(&f);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_idsync"))
            .current_dir(root)
            .env_remove("IDSYNC_PLAN_KEY")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let absolute = root.join("desired").display().to_string();
    for dir in [
        "./desired/",
        absolute.as_str(),
        "linked",
        "desired/../desired",
    ] {
        std::fs::write(f.path("ad.ldif"), &original.0).unwrap();
        std::fs::write(f.path("entra.json"), &original.1).unwrap();
        let (code, out) = run(&["plan", "--dir", "desired", "--out", "plan.json"]);
        assert_eq!(code, Some(0), "{out}");
        let (code, out) = run(&["apply", "plan.json", "--dir", dir]);
        assert_eq!(code, Some(0), "--dir {dir}:\n{out}");
        assert!(out.contains("Apply complete"), "{out}");
    }

    // A copy elsewhere is another directory, even with the same content.
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir(copy.path().join("desired")).unwrap();
    std::fs::copy(
        root.join("desired/idsync.yaml"),
        copy.path().join("desired/idsync.yaml"),
    )
    .unwrap();
    std::fs::write(copy.path().join("ad.ldif"), &original.0).unwrap();
    std::fs::write(copy.path().join("entra.json"), &original.1).unwrap();
    std::fs::write(f.path("ad.ldif"), &original.0).unwrap();
    std::fs::write(f.path("entra.json"), &original.1).unwrap();
    let (code, out) = run(&["plan", "--dir", "desired", "--out", "plan.json"]);
    assert_eq!(code, Some(0), "{out}");
    let copied = copy.path().join("desired").display().to_string();
    let (code, out) = run(&["apply", "plan.json", "--dir", &copied]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("was planned against AD snapshot"), "{out}");
}

#[test]
fn dependencies_compare_modulo_renumbering() {
    // Every id renumbered consistently: the same plan.
    let f = fixture();
    let mut plan = saved(&f);
    let renumber = |v: &Value| {
        let n: u32 = v.as_str().unwrap()[1..].parse().unwrap();
        json!(format!("a{}", 100 - n))
    };
    for a in plan["plan"]["actions"].as_array_mut().unwrap() {
        a["id"] = renumber(&a["id"]);
        for d in a["depends_on"].as_array_mut().unwrap() {
            *d = renumber(d);
        }
    }
    forge(&f, &plan);
    let (code, out) = apply(&f);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("applied       a99 create ad"), "{out}");

    // A link that no longer waits for the create of its account: refused.
    let f = fixture();
    let mut plan = saved(&f);
    let create = id_of(&plan, "create", "ad", "alva.wood@example.com");
    let link = id_of(&plan, "link", "entra", "alva.wood@example.com");
    action(&mut plan, &link)["depends_on"] = json!([]);
    keep_only(&mut plan, &[&create, &link]);
    forge(&f, &plan);
    let (code, out) = apply(&f);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "refused: differs from the fresh plan: it depends on nothing; the fresh plan's on {create}"
        )),
        "{out}"
    );
    assert!(
        f.cloud_user("alva.wood@example.com")["onPremisesImmutableId"].is_null(),
        "{out}"
    );
}

#[test]
fn a_repeated_action_id_refuses_the_whole_plan() {
    let f = fixture();
    let mut plan = saved(&f);
    let first = plan["plan"]["actions"][0]["id"].clone();
    plan["plan"]["actions"][1]["id"] = first;
    let before = snapshots(&f);
    forge(&f, &plan);
    let (code, out) = apply(&f);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("holds the action id a1 more than once; nothing applied"),
        "{out}"
    );
    assert_eq!(snapshots(&f), before);
}

/// Live AD (Samba): an update of John Doe re-aimed at an account outside the scope, with that
/// account's real objectGUID and uSNChanged, is refused; neither account changes.
#[test]
fn live_an_update_re_aimed_outside_the_scope_is_refused() {
    use support::live_fixture::{LiveFixture, cloud_user};
    let dc = support::samba::shared_dc();
    let f = LiveFixture::new(dc, "forged");
    let outside = dc.test_ou("forged-outside");
    f.seed("dn: CN=John Doe,{OU}\nobjectClass: user\nsAMAccountName: fg-jdoe\nuserPrincipalName: fg-jdoe@corp.local\n");
    outside.seed("dn: CN=Victim,{OU}\nobjectClass: user\nsAMAccountName: fg-victim\nuserPrincipalName: fg-victim@corp.local\nmail: fg-victim@example.com\n");
    let entra = f.snapshot_entra(&[cloud_user(
        1,
        "fg-jdoe@example.com",
        json!({"mail": "fg-jdoe@example.com"}),
    )]);
    f.desired(&entra, "");
    let (code, out) = f.run(&["plan", "--out", "plan.json"]);
    assert_eq!(code, 0, "{out}");
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("plan.json")).unwrap()).unwrap();
    let id = id_of(&plan, "update", "ad", "fg-jdoe@example.com");

    let victim = &outside.users()[0];
    let g = victim.bytes("objectGUID").unwrap();
    let guid = format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}",
        g[3],
        g[2],
        g[1],
        g[0],
        g[5],
        g[4],
        g[7],
        g[6],
        g[8],
        g[9],
        g[10..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let usn = dc
        .search(&victim.dn, "(objectClass=user)", &["uSNChanged"])
        .first()
        .and_then(|e| e.get("uSNChanged"))
        .unwrap();
    let a = action(&mut plan, &id);
    a["object"] = json!(guid);
    a["precondition"] = json!(format!("uSNChanged={usn}"));
    for c in a["changes"].as_array_mut().unwrap() {
        if c["attribute"] == "mail" {
            c["after"] = json!("evil@example.net");
        }
    }
    keep_only(&mut plan, &[&id]);
    forge_at(&f.path("plan.json"), &plan);

    let (ad, victim_before) = (f.ad_state(), outside.users());
    let (code, out) = f.run(&["apply", "plan.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "REFUSED       {id} update ad \"fg-jdoe@example.com\" CN=John Doe,"
        )),
        "{out}"
    );
    assert!(out.contains("refused: not in a fresh plan"), "{out}");
    assert_eq!(f.ad_state(), ad);
    assert_eq!(outside.users(), victim_before);
}
