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

/// A first run of a large directory: thousands of forecasts. Markdown groups them per kind
/// with counts and the first entries, so the comment stays under GitHub's 65,536 characters;
/// JSON keeps every entry.
fn large_forecast() -> Plan {
    use idsync::plan::{Forecast, ForecastKind, ForecastSeverity, Value};
    let mut plan = Plan::new(Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..3000 {
        plan.forecast.push(Forecast {
            kind: ForecastKind::Overwrite,
            severity: ForecastSeverity::Info,
            identity: format!("user{i:04}@example.com"),
            object: Some(format!("{i:08x}-0000-4000-8000-000000000000")),
            attribute: Some("jobTitle".into()),
            before: Some(Value::from("Senior Engineer")),
            after: Some(Value::from("Engineer")),
            message: format!("Entra Connect takes over user{i:04}@example.com by soft match on the UPN and overwrites jobTitle with AD's value: \"Senior Engineer\" -> \"Engineer\""),
        });
    }
    for i in 0..40 {
        plan.forecast.push(Forecast {
            kind: ForecastKind::Disable,
            severity: ForecastSeverity::Warning,
            identity: format!("left{i:02}@example.com"),
            object: None,
            attribute: Some("accountEnabled".into()),
            before: Some(Value::Bool(true)),
            after: Some(Value::Bool(false)),
            message: format!("CN=Left {i:02},OU=Staff,DC=corp,DC=example,DC=com is disabled in AD, so Entra Connect disables left{i:02}@example.com in the cloud at its next sync"),
        });
    }
    plan.forecast.push(Forecast {
        kind: ForecastKind::Password,
        severity: ForecastSeverity::Info,
        identity: "3000 linked pairs".into(),
        object: None,
        attribute: None,
        before: None,
        after: None,
        message: "password hash sync replaces the cloud password of 3000 users taken over by this plan with their AD password".into(),
    });
    plan
}

#[test]
fn markdown_groups_a_large_forecast() {
    let plan = large_forecast();
    let md = render::markdown(&plan);
    assert!(md.len() < 65_536, "{}", md.len());
    redacted(|| insta::assert_snapshot!(md));
    // The JSON keeps every entry; text lists every one too (it is the pipeline log).
    let json: serde_json::Value = serde_json::from_str(&render::json(&plan)).unwrap();
    assert_eq!(json["forecast"].as_array().unwrap().len(), 3041);
    assert_eq!(
        render::text(&plan, Styler::new(false))
            .lines()
            .filter(|l| l.starts_with("  info    overwrite"))
            .count(),
        3000
    );
}

/// A small forecast is listed entry by entry, in both text and Markdown.
#[test]
fn a_small_forecast_is_listed_whole() {
    let mut plan = large_forecast();
    plan.forecast.truncate(2);
    plan.forecast.push(large_forecast().forecast.pop().unwrap());
    redacted(|| insta::assert_snapshot!(render::text(&plan, Styler::new(false))));
    redacted(|| insta::assert_snapshot!(render::markdown(&plan)));
}
