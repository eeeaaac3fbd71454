//! Attribute values and changes in a plan: how before/after read and serialize.

use serde::{Deserialize, Serialize};

use super::*;

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
    // Group memberships: AD `member` DNs, Entra `members` object ids (edited per value).
    "member",
    "members",
    "groupType",
    "mailEnabled",
    "securityEnabled",
    "description",
    // Licenses: SKUs added and removed (`assignLicense`).
    "assignedLicenses",
];

/// Every name a plan can hold, in table order (repeats included).
pub(super) fn planned_names() -> impl Iterator<Item = &'static str> {
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
