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

/// A value before or after a change, as it shows in the JSON plan: `null`, a boolean, a
/// string, or a list of strings (multi-valued attributes). Nothing else occurs in a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Text(Text),
    List(Box<[Text]>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Text]> {
        match self {
            Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// The value's strings: none for null, one for a string, each for a list.
    pub fn texts(&self) -> &[Text] {
        match self {
            Value::Text(s) => std::slice::from_ref(s),
            Value::List(v) => v,
            Value::Null | Value::Bool(_) => &[],
        }
    }

    /// The same value as JSON (for Graph request bodies).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Text(s) => serde_json::Value::String(s.to_string()),
            Value::List(v) => v
                .iter()
                .map(|s| serde_json::Value::from(s.as_str()))
                .collect(),
        }
    }

    pub fn list<S: Into<Text>>(values: impl IntoIterator<Item = S>) -> Value {
        Value::List(values.into_iter().map(Into::into).collect())
    }

    pub fn opt(v: Option<&str>) -> Value {
        v.map_or(Value::Null, Value::from)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s.into())
    }
}

impl From<Text> for Value {
    fn from(s: Text) -> Value {
        Value::Text(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// Compares with the JSON the value serializes to.
impl PartialEq<serde_json::Value> for Value {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.to_json() == *other
    }
}

/// As JSON text: `null`, `true`, `"x"`, `["a","b"]`.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(std::fmt::Error),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Text(t) => s.serialize_str(t),
            Value::List(v) => s.collect_seq(v.iter().map(Text::as_str)),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("null, a boolean, a string or a list of strings")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                Ok(Value::Bool(b))
            }
            fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                Ok(Value::from(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Value, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<Text>()? {
                    v.push(s);
                }
                Ok(Value::List(v.into()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// An attribute name in a plan, spelled as the target directory spells it: one of the names
/// idsync plans, kept as its number in a fixed table (a first plan of a million identities
/// holds some three million names).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attribute(u16);

/// Names a plan holds besides those of the mapping table and the AD schema's typed
/// attributes it writes (`schema::TYPED` less the system-owned ones).
const PLANNED_NAMES: &[&str] = &[
    "mailNickname",
    "onPremisesImmutableId",
    "accountEnabled",
    "distinguishedName",
];

/// Every name a plan can hold, in table order (repeats included).
fn planned_names() -> impl Iterator<Item = &'static str> {
    use crate::directory::schema;
    let typed = schema::TYPED
        .iter()
        .copied()
        .filter(|n| !schema::is_system_owned(n));
    let mapped = crate::directory::attributes::TABLE
        .iter()
        .flat_map(|m| [m.graph, m.ad]);
    typed.chain(PLANNED_NAMES.iter().copied()).chain(mapped)
}

struct AttributeTable {
    names: Vec<&'static str>,
    numbers: std::collections::HashMap<&'static str, u16>,
}

fn attribute_table() -> &'static AttributeTable {
    static TABLE: std::sync::OnceLock<AttributeTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = AttributeTable {
            names: Vec::new(),
            numbers: std::collections::HashMap::new(),
        };
        for name in planned_names() {
            if !t.numbers.contains_key(name) {
                // Cannot fail: the table holds the planner's and the mapping table's constant names, far fewer than 65,536.
                let n = u16::try_from(t.names.len()).expect("a short table");
                t.numbers.insert(name, n);
                t.names.push(name);
            }
        }
        t
    })
}

impl Attribute {
    /// The name, if a plan can hold it (spelled exactly).
    pub fn new(name: &str) -> Option<Attribute> {
        attribute_table().numbers.get(name).copied().map(Attribute)
    }

    pub fn as_str(self) -> &'static str {
        attribute_table().names[usize::from(self.0)]
    }
}

/// For the planner's own names, which are all in the table (a test checks each).
impl From<&str> for Attribute {
    fn from(name: &str) -> Attribute {
        // Cannot fail: only the planner's own constant names come here (a test checks each); names from a plan file go through `Attribute::new`.
        Attribute::new(name)
            .unwrap_or_else(|| panic!("`{name}` is missing from the plan's attribute table"))
    }
}

impl PartialEq<str> for Attribute {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Attribute {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::fmt::Debug for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Attribute {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Attribute {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Attribute::new(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("`{s}` is not an attribute idsync plans"))
        })
    }
}

/// One attribute's change. Names are the target directory's (LDAP names on AD, Graph names on
/// Entra). Multi-valued attributes list the values added and removed; they are edited per
/// value, never replaced.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "ChangeFields")]
pub struct Change {
    pub attribute: Attribute,
    pub before: Value,
    pub after: Value,
    /// Per-value edits of a multi-valued attribute; boxed, as few changes have them.
    pub edits: Option<Box<Edits>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    pub add: Vec<Text>,
    pub remove: Vec<Text>,
}

impl Change {
    pub fn set(attribute: impl Into<Attribute>, before: Value, after: Value) -> Self {
        Change {
            attribute: attribute.into(),
            before,
            after,
            edits: None,
        }
    }

    /// A per-value edit of a multi-valued attribute.
    pub fn edit(
        attribute: impl Into<Attribute>,
        before: Value,
        after: Value,
        add: Vec<Text>,
        remove: Vec<Text>,
    ) -> Self {
        let edits =
            (!add.is_empty() || !remove.is_empty()).then(|| Box::new(Edits { add, remove }));
        Change {
            attribute: attribute.into(),
            before,
            after,
            edits,
        }
    }

    /// True when the change edits values one by one rather than setting the attribute.
    pub fn is_edit(&self) -> bool {
        self.edits.is_some()
    }

    pub fn added(&self) -> &[Text] {
        self.edits.as_deref().map_or(&[], |e| &e.add)
    }

    pub fn removed(&self) -> &[Text] {
        self.edits.as_deref().map_or(&[], |e| &e.remove)
    }
}

impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (add, remove) = (self.added(), self.removed());
        let len = 3 + usize::from(!add.is_empty()) + usize::from(!remove.is_empty());
        let mut st = s.serialize_struct("Change", len)?;
        st.serialize_field("attribute", &self.attribute)?;
        st.serialize_field("before", &self.before)?;
        st.serialize_field("after", &self.after)?;
        if !add.is_empty() {
            st.serialize_field("add", add)?;
        }
        if !remove.is_empty() {
            st.serialize_field("remove", remove)?;
        }
        st.end()
    }
}

/// `Change` as its JSON keys.
#[derive(Deserialize)]
struct ChangeFields {
    attribute: Attribute,
    before: Value,
    after: Value,
    #[serde(default)]
    add: Vec<Text>,
    #[serde(default)]
    remove: Vec<Text>,
}

impl From<ChangeFields> for Change {
    fn from(c: ChangeFields) -> Change {
        Change::edit(c.attribute, c.before, c.after, c.add, c.remove)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// A soft-match candidate already carries another object's anchor (Entra: InvalidSoftMatch).
    InvalidSoftMatch,
    /// Two in-scope objects of one directory share a UPN.
    DuplicateUpn,
    /// Two in-scope objects of one directory share an SMTP address.
    DuplicateSmtp,
    /// Two AD users claim one cloud user.
    AmbiguousMatch,
    /// An `identities[]` entry names an object that is not there (or not in scope).
    MissingObject,
    /// Two `identities[]` entries name the same object.
    DuplicateIdentity,
    /// A new account's UPN, sAMAccountName or SMTP address is already taken in the domain.
    ProvisionCollision,
    /// An anchor another cloud user (or another link of the plan) already holds.
    DuplicateAnchor,
    /// The cloud user holds an Entra directory role: Entra never matches it.
    AdminRole,
    /// The tenant blocks the only match that could pair them (InvalidHardMatch, or soft
    /// match blocked).
    MatchBlocked,
    /// A cloud user Entra created with a duplicate UPN or SMTP address quarantined (duplicate
    /// attribute resiliency): its placeholder values must not reach AD.
    QuarantinedDuplicate,
}

impl ConflictKind {
    pub const ALL: [ConflictKind; 11] = [
        ConflictKind::InvalidSoftMatch,
        ConflictKind::DuplicateUpn,
        ConflictKind::DuplicateSmtp,
        ConflictKind::AmbiguousMatch,
        ConflictKind::MissingObject,
        ConflictKind::DuplicateIdentity,
        ConflictKind::ProvisionCollision,
        ConflictKind::DuplicateAnchor,
        ConflictKind::AdminRole,
        ConflictKind::MatchBlocked,
        ConflictKind::QuarantinedDuplicate,
    ];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::InvalidSoftMatch => "invalid_soft_match",
            ConflictKind::DuplicateUpn => "duplicate_upn",
            ConflictKind::DuplicateSmtp => "duplicate_smtp",
            ConflictKind::AmbiguousMatch => "ambiguous_match",
            ConflictKind::MissingObject => "missing_object",
            ConflictKind::DuplicateIdentity => "duplicate_identity",
            ConflictKind::ProvisionCollision => "provision_collision",
            ConflictKind::DuplicateAnchor => "duplicate_anchor",
            ConflictKind::AdminRole => "admin_role",
            ConflictKind::MatchBlocked => "match_blocked",
            ConflictKind::QuarantinedDuplicate => "quarantined_duplicate",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub identity: String,
    pub objects: Vec<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub const ALL: [Severity; 2] = [Severity::Error, Severity::Warning];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// IdFix class: `character`, `format`, `topleveldomain`, `duplicate`, `length`, `blank`;
    /// the tenant's `unverified_domain`; and `initial_state` for the disabled-provisioning
    /// warning.
    pub rule: String,
    pub object: String,
    pub attribute: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// A difference on a synced cloud user; it converges through AD and Entra Connect.
    PendingSync,
    /// Changes not planned because the object is protected.
    Protected,
    /// An object whose twin is gone, reported and left alone.
    Orphan,
    /// An object on one side only, with no provisioning configured for it.
    Unmatched,
    /// A deprovisioning that `deprovision.action: report` only reports.
    Deprovision,
    /// What the plan assumed because a read did not carry it (absent is not null).
    Assumption,
    /// A directory with no users in scope.
    EmptyScope,
    /// AD objects Entra Connect's default rules never synchronize, left alone.
    SyncExcluded,
}

impl NoteKind {
    pub const ALL: [NoteKind; 8] = [
        NoteKind::PendingSync,
        NoteKind::Protected,
        NoteKind::Orphan,
        NoteKind::Unmatched,
        NoteKind::Deprovision,
        NoteKind::Assumption,
        NoteKind::EmptyScope,
        NoteKind::SyncExcluded,
    ];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::PendingSync => "pending_sync",
            NoteKind::Protected => "protected",
            NoteKind::Orphan => "orphan",
            NoteKind::Unmatched => "unmatched",
            NoteKind::Deprovision => "deprovision",
            NoteKind::Assumption => "assumption",
            NoteKind::EmptyScope => "empty_scope",
            NoteKind::SyncExcluded => "sync_excluded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub kind: NoteKind,
    pub identity: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastKind {
    /// A cloud-managed user that becomes synced gets AD's value of a synced attribute.
    Overwrite,
    /// A disabled AD account disables its enabled cloud twin.
    Disable,
    /// Password hash sync replaces the cloud password with the AD one.
    Password,
    /// The UPN Entra Connect gives the cloud object differs from AD's (MOERA), or a UPN change
    /// it will not carry.
    Upn,
    /// A soft match Entra Connect makes that idsync does not.
    SoftMatch,
    /// An object synced with a duplicate UPN or SMTP address quarantined.
    Duplicate,
    /// A cloud group Entra Connect cannot match and so duplicates. Not produced yet: groups
    /// are planned in a later issue; the kind is reserved so the JSON contract is stable.
    Group,
}

impl ForecastKind {
    pub const ALL: [ForecastKind; 7] = [
        ForecastKind::Overwrite,
        ForecastKind::Disable,
        ForecastKind::Password,
        ForecastKind::Upn,
        ForecastKind::SoftMatch,
        ForecastKind::Duplicate,
        ForecastKind::Group,
    ];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            ForecastKind::Overwrite => "overwrite",
            ForecastKind::Disable => "disable",
            ForecastKind::Password => "password",
            ForecastKind::Upn => "upn",
            ForecastKind::SoftMatch => "soft_match",
            ForecastKind::Duplicate => "duplicate",
            ForecastKind::Group => "group",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastSeverity {
    /// Warnings first when sorted.
    Warning,
    Info,
}

impl ForecastSeverity {
    pub const ALL: [ForecastSeverity; 2] = [ForecastSeverity::Warning, ForecastSeverity::Info];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            ForecastSeverity::Warning => "warning",
            ForecastSeverity::Info => "info",
        }
    }
}

/// One thing Entra Connect's next sync will do (DESIGN.md, "What Entra Connect will do next").
/// `object`, `attribute`, `before` and `after` are present where they apply; a present
/// `before` or `after` may be `null` (no value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    pub kind: ForecastKind,
    pub severity: ForecastSeverity,
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_value"
    )]
    pub before: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_value"
    )]
    pub after: Option<Value>,
    pub message: String,
}

/// A member that is there is `Some`, `null` included, so a saved plan reads back as written.
fn present_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

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
        for name in planned_names() {
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
