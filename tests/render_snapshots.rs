//! The embedded example's plan as each renderer prints it, pinned with insta. Object ids,
//! GUIDs and anchors are redacted so the snapshots show structure, not random bytes.

use std::path::Path;

use idsync::connect::{Overrides, open_ad, open_entra, read_and_plan};
use idsync::plan::Plan;
use idsync::render::{self, Styler};

async fn example_plan() -> Plan {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let desired = idsync::desired::load(&root.join("desired-state")).unwrap();
    let o = Overrides::default();
    let mut ad = open_ad(&desired, &o).await.unwrap();
    let mut entra = open_entra(&desired, &o).await.unwrap();
    read_and_plan(&desired, &mut ad, &mut entra)
        .await
        .unwrap()
        .plan
}

fn redacted(f: impl FnOnce()) {
    insta::with_settings!({filters => vec![
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[GUID]"),
        (r"[A-Za-z0-9+/]{22}==", "[ANCHOR]"),
        (r"sha256:[0-9a-f]+", "sha256:[HASH]"),
        // The desired-state path is absolute and depends on where the repository was cloned.
        (r#"[^\s"'`|(]*desired-state[/\\]identities\.yaml"#, "[REPO]/desired-state/identities.yaml"),
    ]}, {
        f()
    });
}

#[tokio::test]
async fn text() {
    let plan = example_plan().await;
    redacted(|| insta::assert_snapshot!(render::text(&plan, Styler::new(false))));
}

#[tokio::test]
async fn markdown() {
    let plan = example_plan().await;
    redacted(|| insta::assert_snapshot!(render::markdown(&plan)));
}

#[tokio::test]
async fn json() {
    let plan = example_plan().await;
    redacted(|| insta::assert_snapshot!(render::json(&plan)));
}

/// Kinds other than users are named after the directory (DESIGN.md "Plan"); user actions read
/// as they did before kinds (the snapshots above pin that).
#[tokio::test]
async fn group_actions_name_their_kind() {
    let mut plan = example_plan().await;
    let a = &mut plan.actions[0];
    a.kind = idsync::plan::ObjectKind::Group;
    let header = format!("+ create ad group \"{}\" [a1]", a.identity);
    let summary = format!("<b>create</b> ad group <code>{}</code>", a.identity);
    assert!(render::text(&plan, Styler::new(false)).contains(&header));
    assert!(render::markdown(&plan).contains(&summary));
    assert!(render::json(&plan).contains(r#""kind": "group""#));
}
