//! The plan: what idsync would change, and what it found but will not touch.
//!
//! This is the JSON contract of `idsync plan --format json` (DESIGN.md); renderers and the
//! executor read it, the engine writes it.

use serde::{Deserialize, Serialize};

use crate::directory::model::Guid;
pub use crate::directory::model::ObjectKind;

/// The value shown for something only known once an earlier action has run.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// Version of the JSON layout.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub summary: Summary,
    pub actions: Vec<Action>,
    pub conflicts: Vec<Conflict>,
    pub diagnostics: Vec<Diagnostic>,
    pub notes: Vec<Note>,
    /// What Entra Connect's next sync will do once this plan is applied (DESIGN.md, "What
    /// Entra Connect will do next"): informational, never an exit code, never applied.
    /// Plans saved before it was added read as none.
    #[serde(default)]
    pub forecast: Vec<Forecast>,
    /// How many users each directory returned and how many are in scope (plans saved before
    /// it was added read as zeros).
    #[serde(default)]
    pub inventory: Inventory,
}

/// The user objects each directory returned, and those in scope (DESIGN.md, "Plan").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub ad: Count,
    pub entra: Count,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub read: usize,
    pub in_scope: usize,
}

impl Plan {
    /// Builds a plan, numbering actions `a1…` in the given order and counting the summary.
    pub fn new(
        actions: Vec<Action>,
        conflicts: Vec<Conflict>,
        diagnostics: Vec<Diagnostic>,
        notes: Vec<Note>,
    ) -> Self {
        let mut plan = Plan {
            format_version: FORMAT_VERSION,
            summary: Summary::default(),
            actions,
            conflicts,
            diagnostics,
            notes,
            forecast: Vec::new(),
            inventory: Inventory::default(),
        };
        plan.summary = Summary::count(&plan);
        plan
    }

    /// True when applying would change something (what `--detailed-exitcode` reports as 2).
    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }

    pub fn action(&self, id: ActionId) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub link: usize,
    #[serde(rename = "move")]
    pub move_: usize,
    pub disable: usize,
    pub delete: usize,
    pub conflict: usize,
}

impl Summary {
    pub fn count(plan: &Plan) -> Summary {
        let mut s = Summary {
            conflict: plan.conflicts.len(),
            ..Summary::default()
        };
        for a in &plan.actions {
            *match a.action {
                ActionKind::Create => &mut s.create,
                ActionKind::Update => &mut s.update,
                ActionKind::Link => &mut s.link,
                ActionKind::Move => &mut s.move_,
                ActionKind::Disable => &mut s.disable,
                ActionKind::Delete => &mut s.delete,
            } += 1;
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Create,
    Link,
    Update,
    Move,
    Disable,
    Delete,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Link => "link",
            ActionKind::Move => "move",
            ActionKind::Disable => "disable",
            ActionKind::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Ad,
    Entra,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Ad => "ad",
            Side::Entra => "entra",
        }
    }
}

/// A plan's short text: inline when it fits in 24 bytes (attribute names, UPNs, most values),
/// so a plan of a million actions is not a few million small allocations.
pub type Text = compact_str::CompactString;

/// An action's id, `a1`, `a2`, … in plan order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(pub u32);

impl std::fmt::Display for ActionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a{}", self.0)
    }
}

impl std::str::FromStr for ActionId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.strip_prefix('a')
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .map(ActionId)
            .ok_or_else(|| format!("`{s}` is not an action id (a1, a2, …)"))
    }
}

impl Serialize for ActionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ActionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One change to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: ActionId,
    pub action: ActionKind,
    pub directory: Side,
    /// The kind of object acted on; absent in a saved plan means `user` (plans saved before
    /// groups still read).
    #[serde(default)]
    pub kind: ObjectKind,
    /// Shared by the identity's actions (a create, its links and write-back name it alike).
    pub identity: std::sync::Arc<str>,
    /// AD: the DN; Entra: the userPrincipalName.
    pub target: Text,
    /// The object's key for re-reading: AD objectGUID, Entra object id. Absent for creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectId>,
    pub changes: Box<[Change]>,
    pub depends_on: Box<[ActionId]>,
    pub precondition: Option<Precondition>,
    /// On `link` actions: how the pair was found (`match` in plan JSON).
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<Match>,
}

/// How a linked pair was found (DESIGN.md, "Matching" 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// An `identities[]` entry names both sides.
    Explicit,
    /// The AD account carries idsync's ownership marker naming the cloud user.
    Marker,
    /// The cloud user's onPremisesImmutableId is the AD anchor.
    Hard,
    SoftSmtp,
    SoftUpn,
}

impl Match {
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Explicit => "explicit",
            Match::Marker => "marker",
            Match::Hard => "hard",
            Match::SoftSmtp => "soft_smtp",
            Match::SoftUpn => "soft_upn",
        }
    }
}

impl Action {
    /// The kind as renderers name it after the directory (`create ad group "sales"`): none
    /// for users, so user actions read as they did before kinds.
    pub fn kind_label(&self) -> &'static str {
        match self.kind {
            ObjectKind::User => "",
            ObjectKind::Group => " group",
            ObjectKind::Contact => " contact",
        }
    }
}

/// An object's key for re-reading: an AD objectGUID or an Entra object id. Both are GUIDs in
/// practice and are kept as their 16 bytes (a large plan holds a million of them); any other
/// text is kept as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectId {
    Guid(Guid),
    Text(Text),
}

impl ObjectId {
    /// The GUID, whichever way it was written.
    pub fn guid(&self) -> Option<Guid> {
        match self {
            ObjectId::Guid(g) => Some(*g),
            ObjectId::Text(t) => Guid::parse(t),
        }
    }
}

impl From<Guid> for ObjectId {
    fn from(g: Guid) -> Self {
        ObjectId::Guid(g)
    }
}

impl From<&str> for ObjectId {
    /// A GUID only in the form `Guid` prints (lowercase, hyphenated), so the text comes back
    /// exactly as it was given.
    fn from(s: &str) -> Self {
        let b = s.as_bytes();
        let canonical = b.len() == 36
            && b.iter().enumerate().all(|(i, &c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
            });
        match Guid::parse(s).filter(|_| canonical) {
            Some(g) => ObjectId::Guid(g),
            None => ObjectId::Text(s.into()),
        }
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectId::Guid(g) => g.fmt(f),
            ObjectId::Text(t) => f.write_str(t),
        }
    }
}

impl Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ObjectId::from(
            <std::borrow::Cow<'de, str>>::deserialize(d)?.as_ref(),
        ))
    }
}

/// What must still hold when an action runs, checked on a fresh read of its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `absent`: nothing holds the new object's names yet (creates).
    Absent,
    /// `uSNChanged=N`: the AD object has not changed since it was read.
    UsnChanged(u64),
    /// `sha256:…`: a hash of the Graph properties read is unchanged (the hex after the prefix).
    Fingerprint(Text),
}

impl std::fmt::Display for Precondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Precondition::Absent => f.write_str("absent"),
            Precondition::UsnChanged(n) => write!(f, "uSNChanged={n}"),
            Precondition::Fingerprint(h) => write!(f, "sha256:{h}"),
        }
    }
}

impl std::str::FromStr for Precondition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "absent" {
            return Ok(Precondition::Absent);
        }
        if let Some(n) = s.strip_prefix("uSNChanged=").and_then(|n| n.parse().ok()) {
            return Ok(Precondition::UsnChanged(n));
        }
        match s.strip_prefix("sha256:") {
            Some(h) if !h.is_empty() => Ok(Precondition::Fingerprint(h.into())),
            _ => Err(format!(
                "`{s}` is not a precondition (absent, uSNChanged=N or sha256:HEX)"
            )),
        }
    }
}

impl Serialize for Precondition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Precondition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod findings;
mod value;

pub use findings::*;
pub use value::*;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_forecast_keeps_null_and_absent_apart() {
        let f = Forecast {
            kind: ForecastKind::Overwrite,
            severity: ForecastSeverity::Info,
            identity: "alva.wood".into(),
            object: Some("alva.wood@example.com".into()),
            attribute: Some("jobTitle".into()),
            before: Some(Value::Null),
            after: Some("Engineer".into()),
            message: "m".into(),
        };
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!(j["before"], json!(null));
        assert_eq!(serde_json::from_value::<Forecast>(j).unwrap(), f);
        let bare = Forecast {
            object: None,
            attribute: None,
            before: None,
            after: None,
            ..f
        };
        let j = serde_json::to_value(&bare).unwrap();
        assert_eq!(
            j,
            json!({"kind": "overwrite", "severity": "info", "identity": "alva.wood", "message": "m"})
        );
        assert_eq!(serde_json::from_value::<Forecast>(j).unwrap(), bare);
    }

    #[test]
    fn forecasts_are_no_changes() {
        let mut plan = Plan::new(Vec::new(), Vec::new(), Vec::new(), Vec::new());
        plan.forecast.push(Forecast {
            kind: ForecastKind::Password,
            severity: ForecastSeverity::Warning,
            identity: "x".into(),
            object: None,
            attribute: None,
            before: None,
            after: None,
            message: "m".into(),
        });
        // `--detailed-exitcode` and drift read actions, never forecasts.
        assert!(!plan.has_changes());
        assert_eq!(
            serde_json::to_value(&plan).unwrap()["forecast"][0]["kind"],
            json!("password")
        );
        let empty = Plan::new(Vec::new(), Vec::new(), Vec::new(), Vec::new());
        assert_eq!(serde_json::to_value(&empty).unwrap()["forecast"], json!([]));
    }

    #[test]
    fn every_name_a_plan_holds_round_trips() {
        for name in value::planned_names() {
            let a = Attribute::new(name).unwrap();
            assert_eq!(a.as_str(), name);
            let back: Attribute = serde_json::from_value(json!(name)).unwrap();
            assert_eq!(back, a);
        }
        // LDAP and Graph spellings that differ only in case stay apart.
        assert_ne!(Attribute::new("employeeID"), Attribute::new("employeeId"));
        let err = serde_json::from_value::<Attribute>(json!("favouriteColour")).unwrap_err();
        assert!(
            err.to_string()
                .contains("`favouriteColour` is not an attribute")
        );
    }

    #[test]
    fn values_serialize_as_the_json_they_stand_for() {
        let cases = [
            (Value::Null, json!(null)),
            (Value::Bool(false), json!(false)),
            (Value::from("a"), json!("a")),
            (
                Value::list(["SMTP:a@x.com", "smtp:b@x.com"]),
                json!(["SMTP:a@x.com", "smtp:b@x.com"]),
            ),
            (Value::list(Vec::<&str>::new()), json!([])),
        ];
        for (v, j) in cases {
            assert_eq!(serde_json::to_value(&v).unwrap(), j);
            assert_eq!(serde_json::from_value::<Value>(j.clone()).unwrap(), v);
            assert_eq!(v.to_string(), j.to_string());
            assert_eq!(v, j);
        }
        let err = serde_json::from_value::<Value>(json!(7)).unwrap_err();
        assert!(
            err.to_string()
                .contains("null, a boolean, a string or a list of strings")
        );
    }

    #[test]
    fn a_change_lists_add_and_remove_only_when_it_edits_values() {
        let set = Change::set("mail", Value::Null, "a@x.com".into());
        assert_eq!(
            serde_json::to_value(&set).unwrap(),
            json!({"attribute": "mail", "before": null, "after": "a@x.com"})
        );
        let edit = Change::edit(
            "proxyAddresses",
            Value::list(["SMTP:a@x.com"]),
            Value::list(["smtp:a@x.com", "SMTP:b@x.com"]),
            vec!["smtp:a@x.com".into(), "SMTP:b@x.com".into()],
            vec!["SMTP:a@x.com".into()],
        );
        let j = serde_json::to_value(&edit).unwrap();
        assert_eq!(j["add"], json!(["smtp:a@x.com", "SMTP:b@x.com"]));
        assert_eq!(j["remove"], json!(["SMTP:a@x.com"]));
        assert_eq!(serde_json::from_value::<Change>(j).unwrap(), edit);
        assert_eq!(
            serde_json::from_value::<Change>(serde_json::to_value(&set).unwrap()).unwrap(),
            set
        );
    }

    #[test]
    fn ids_preconditions_and_object_ids_keep_their_text() {
        assert_eq!(serde_json::to_value(ActionId(12)).unwrap(), json!("a12"));
        assert_eq!(
            serde_json::from_value::<ActionId>(json!("a12")).unwrap(),
            ActionId(12)
        );
        assert!(serde_json::from_value::<ActionId>(json!("b1")).is_err());
        assert!(serde_json::from_value::<ActionId>(json!("a-1")).is_err());

        for text in [
            "absent",
            "uSNChanged=1007",
            "sha256:39cfdfc6384084a390b49bae",
        ] {
            let p: Precondition = serde_json::from_value(json!(text)).unwrap();
            assert_eq!(p.to_string(), text);
        }
        let err = serde_json::from_value::<Precondition>(json!("uSNChanged=x")).unwrap_err();
        assert!(err.to_string().contains("is not a precondition"));

        let guid = "3ab39606-c642-489b-84b6-58c038d3ef39";
        assert!(matches!(ObjectId::from(guid), ObjectId::Guid(_)));
        // Not in the form a GUID prints in: kept as text, so it comes back as written.
        for text in [
            "3AB39606-C642-489B-84B6-58C038D3EF39",
            "{3ab39606-c642-489b-84b6-58c038d3ef39}",
            "c-smtp",
        ] {
            assert!(matches!(ObjectId::from(text), ObjectId::Text(_)));
            assert_eq!(ObjectId::from(text).to_string(), text);
        }
        assert_eq!(ObjectId::from(guid).to_string(), guid);
        assert_eq!(
            ObjectId::from("3AB39606-C642-489B-84B6-58C038D3EF39").guid(),
            ObjectId::from(guid).guid()
        );
    }

    #[test]
    fn an_action_without_kind_is_a_user_and_kinds_round_trip() {
        let saved = json!({
            "id": "a1", "action": "update", "directory": "entra", "identity": "alva.wood",
            "target": "alva.wood@example.com", "changes": [], "depends_on": [],
            "precondition": "absent"
        });
        let a: Action = serde_json::from_value(saved.clone()).unwrap();
        assert_eq!(a.kind, ObjectKind::User);
        assert_eq!(serde_json::to_value(&a).unwrap()["kind"], json!("user"));

        let mut group = saved;
        group["kind"] = json!("group");
        let a: Action = serde_json::from_value(group).unwrap();
        assert_eq!(a.kind, ObjectKind::Group);
        assert_eq!(a.kind_label(), " group");
        assert_eq!(serde_json::to_value(&a).unwrap()["kind"], json!("group"));
    }

    /// A plan of a million actions holds millions of these; growing them costs hundreds of MiB.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn plan_records_stay_small() {
        assert!(std::mem::size_of::<Value>() <= 24);
        assert!(std::mem::size_of::<Change>() <= 64);
        assert!(std::mem::size_of::<Action>() <= 128);
        assert!(std::mem::size_of::<Option<Precondition>>() <= 24);
        assert!(std::mem::size_of::<Option<ObjectId>>() <= 24);
    }
}
