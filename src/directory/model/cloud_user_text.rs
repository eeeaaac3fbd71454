//! A Graph user read straight from its JSON text, without a `serde_json::Map` first: at a
//! million users the map (an allocation per key and per value) and `from_graph`'s walk over
//! it were a third of reading the export (BENCHMARKS.md, issue 18).
//!
//! This is a fast path, not a second reader: it takes only the plain shape (every key spelled
//! as the name's first spelling and given once, the typed properties of the right JSON type)
//! and answers `None` for anything else, which the caller reads through
//! [`CloudUser::from_graph`]: so the errors, and every odd case, have one source. Tests check
//! that both give the same user on every shape they take.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{CloudUser, FLAG_NAMES};
use crate::names::AttrName;

/// One property's value as read.
enum Val<'a> {
    Null,
    Bool(bool),
    Text(Cow<'a, str>),
    /// A non-empty array of strings.
    List(Vec<Cow<'a, str>>),
    /// Anything else, as `serde_json` reads it into a `Value`.
    Json(Value),
}

impl Val<'_> {
    /// The value as `serde_json` reads it.
    fn into_value(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::Text(s) => Value::String(s.into_owned()),
            Val::List(items) => items.into_iter().map(|s| s.into_owned()).collect(),
            Val::Json(v) => v,
        }
    }
}

impl CloudUser {
    /// The user whose Graph JSON object is `text`, as [`CloudUser::from_graph`] reads its
    /// map; `None` when `text` is not in the plain shape (see the module), so the caller reads
    /// it through `from_graph`, which also says what is wrong.
    pub fn from_graph_text(text: &str) -> Option<CloudUser> {
        let mut de = serde_json::Deserializer::from_str(text);
        let user = de.deserialize_map(UserVisitor).ok()??;
        de.end().ok()?;
        user.into_user()
    }
}

/// The members of a user object, by name, in the order read.
#[derive(Default)]
struct Members<'a> {
    read: Vec<(AttrName, Val<'a>)>,
}

impl<'a> Members<'a> {
    fn get(&self, name: AttrName) -> Option<&Val<'a>> {
        self.read.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// `from_graph`'s reading of the members, or `None` where it would refuse them (or
    /// might read them differently).
    fn into_user(self) -> Option<CloudUser> {
        let text = |name| match self.get(name) {
            None | Some(Val::Null) => Some(None),
            Some(Val::Text(s)) => Some(Some(s.as_ref())),
            Some(_) => None,
        };
        let required = |name| text(name).flatten().filter(|s| !s.is_empty());
        let flag = |name| match self.get(name) {
            None | Some(Val::Null) => Some(None),
            Some(Val::Bool(b)) => Some(Some(*b)),
            Some(_) => None,
        };
        let mut cloud = CloudUser::new(
            required(AttrName::ID)?,
            required(AttrName::USER_PRINCIPAL_NAME)?,
        );
        // Room for everything at once: a buffer grown value by value is copied each time.
        let (entries, bytes) = self.read.iter().fold((0, 0), |(n, b), (_, v)| match v {
            Val::Text(s) => (n + 1, b + s.len()),
            Val::List(items) => (
                n + items.len(),
                b + items.iter().map(|s| s.len()).sum::<usize>(),
            ),
            _ => (n + 1, b),
        });
        cloud.properties.reserve(entries, bytes);
        cloud.set_mail(text(AttrName::MAIL)?);
        cloud.set_mail_nickname(text(AttrName::MAIL_NICKNAME)?);
        cloud.set_immutable_id(text(AttrName::ON_PREMISES_IMMUTABLE_ID)?);
        cloud.set_user_type(text(AttrName::USER_TYPE)?);
        cloud.sync_enabled = flag(AttrName::ON_PREMISES_SYNC_ENABLED)?.unwrap_or(false);
        cloud.account_enabled = flag(AttrName::ACCOUNT_ENABLED)?;
        match self.get(AttrName::PROXY_ADDRESSES) {
            None | Some(Val::Null) => {}
            Some(Val::List(items)) => cloud.set_proxy_addresses(items),
            Some(Val::Json(Value::Array(items))) if items.is_empty() => {
                cloud.set_proxy_addresses(std::iter::empty::<&str>());
            }
            Some(_) => return None,
        }
        let mut carried = 0;
        for (name, value) in &self.read {
            if CloudUser::WITH_ACCESSORS.contains(name) || FLAG_NAMES.contains(name) {
                carried |= name.presence_bit();
                continue;
            }
            match value {
                Val::Text(s) => cloud.properties.set_text(*name, Some(s)),
                Val::List(items) => cloud.properties.set_list(*name, items),
                Val::Null => cloud.properties.insert(*name, Value::Null),
                Val::Bool(b) => cloud.properties.insert(*name, Value::Bool(*b)),
                Val::Json(v) => cloud.properties.insert_ref(*name, v),
            }
        }
        cloud.properties.shrink_to_fit();
        cloud.unread = !(cloud.properties.presence_mask() | carried);
        Some(cloud)
    }
}

/// Reads a user object's members; `Ok(None)` for a key that is not in the plain shape.
struct UserVisitor;

impl<'de> Visitor<'de> for UserVisitor {
    type Value = Option<Members<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Members::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            // Another spelling (`Mail` for `mail`) or a key twice: `from_graph` decides.
            let Ok(name) = AttrName::try_new(&key) else {
                return Ok(None);
            };
            if name.as_str() != key || members.get(name).is_some() {
                return Ok(None);
            }
            let value = map.next_value::<Val<'de>>()?;
            members.read.push((name, value));
        }
        Ok(Some(members))
    }
}

/// A key, borrowed from the text unless it has escapes (serde's own `Cow` always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }
}

impl<'de> Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Val::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Val::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Val::Json(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Val::Json(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Val::Json(n.into()))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Val::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Val::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Val<'de>>()? {
            items.push(item);
        }
        if !items.is_empty() && items.iter().all(|i| matches!(i, Val::Text(_))) {
            let texts = items.into_iter().filter_map(|i| match i {
                Val::Text(s) => Some(s),
                _ => None,
            });
            return Ok(Val::List(texts.collect()));
        }
        Ok(Val::Json(items.into_iter().map(Val::into_value).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Val::Json)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::CloudUser;

    /// A user, and its members laid out as the fast path lays them (the same entries in the
    /// same order), as `from_graph` reads it from its map.
    fn both(text: &str) -> (Option<CloudUser>, Result<CloudUser, String>) {
        let slow = serde_json::from_str::<Map<String, Value>>(text)
            .map_err(|e| e.to_string())
            .and_then(|m| CloudUser::from_graph(&m));
        (CloudUser::from_graph_text(text), slow)
    }

    fn assert_same(fast: &CloudUser, slow: &CloudUser, text: &str) {
        assert_eq!(fast, slow, "{text}");
        assert_eq!(fast.unread, slow.unread, "{text}");
        assert_eq!(fast.properties.layout(), slow.properties.layout(), "{text}");
        assert_eq!(
            format!("{:?}", fast.properties),
            format!("{:?}", slow.properties),
            "{text}"
        );
    }

    const BASE: &str = r#""id": "e153d933", "userPrincipalName": "ben@example.com""#;

    /// The shapes real exports have: read by the fast path, as `from_graph` reads them.
    #[test]
    fn a_plain_user_reads_as_from_its_map() {
        let members = [
            "",
            r#""mail": "ben@example.com", "mailNickname": "ben", "proxyAddresses": ["SMTP:ben@example.com", "smtp:b@example.com"], "onPremisesImmutableId": null, "onPremisesSyncEnabled": null, "accountEnabled": true, "userType": "Member", "department": "Dept 1", "displayName": "Ben Berg1", "givenName": "Ben", "jobTitle": "Engineer", "surname": "Berg1", "usageLocation": "US""#,
            r#""mail": null, "mailNickname": null, "userType": null, "proxyAddresses": null"#,
            r#""proxyAddresses": [], "businessPhones": [], "otherMails": ["a@x", "b@x"]"#,
            r#""onPremisesSyncEnabled": true, "accountEnabled": false, "onPremisesImmutableId": "AAA=""#,
            r#""onPremisesSyncEnabled": false, "accountEnabled": null"#,
            r#""assignedLicenses": [{"skuId": "s1", "disabledPlans": []}], "licenseAssignmentStates": []"#,
            r#""onPremisesExtensionAttributes": {"extensionAttribute1": "x", "extensionAttribute2": null}"#,
            r#""identities": [{"signInType": "userPrincipalName", "issuer": "x"}], "mixed": ["a", 1, null, ["b"], {"c": true}]"#,
            r#""count": 12, "negative": -3, "big": 18446744073709551615, "real": 1.5, "flag": true, "gone": null"#,
            r#""display\u004eame": "esc\"aped \u00e9", "jobTitle": "Ing\u00e9nieur", "city": "Zürich""#,
            r#""nested": [[1, 2], []], "empty": {}, "emptyText": """#,
            r##""@odata.type": "#microsoft.graph.user", "extension_abc_attr": ["x"]"##,
        ];
        for m in members {
            let text = if m.is_empty() {
                format!("{{{BASE}}}")
            } else {
                format!("{{ {BASE}, {m} }}")
            };
            let (fast, slow) = both(&text);
            let fast = fast.unwrap_or_else(|| panic!("not read by the fast path: {text}"));
            assert_same(&fast, &slow.unwrap(), &text);
        }
    }

    /// Anything else goes to `from_graph` (`None`): never a different user, never a user
    /// where `from_graph` refuses one.
    #[test]
    fn any_other_user_is_left_to_from_graph() {
        let members = [
            r#""Mail": "a@x""#,
            r#""ID": "x""#,
            r#""mail": "a@x", "mail": "b@x""#,
            r#""jobTitle": "a", "JobTitle": "b""#,
            r#""jobTitle": "a", "jobTitle": "b""#,
            r#""id": """#,
            r#""id": 5"#,
            r#""id": null"#,
            r#""mail": 5"#,
            r#""mailNickname": ["a"]"#,
            r#""userType": true"#,
            r#""accountEnabled": "yes""#,
            r#""onPremisesSyncEnabled": 1"#,
            r#""proxyAddresses": [1]"#,
            r#""proxyAddresses": ["SMTP:a@x", null]"#,
            r#""proxyAddresses": "SMTP:a@x""#,
            r#""proxyAddresses": {}"#,
            r#""deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
        ];
        let mut texts: Vec<String> = members
            .iter()
            .flat_map(|m| [format!("{{ {BASE}, {m} }}"), format!("{{ {m}, {BASE} }}")])
            .collect();
        texts.extend(
            [
                r#"{"userPrincipalName": "a@x"}"#,
                r#"{"id": "1"}"#,
                "[]",
                "null",
                "{",
                r#"{"id": "1", "userPrincipalName": "a@x"} x"#,
            ]
            .map(String::from),
        );
        for text in &texts {
            match both(text) {
                (Some(fast), Ok(slow)) => assert_same(&fast, &slow, text),
                (Some(fast), Err(e)) => panic!("{text}: read as {fast:?}, from_graph says {e}"),
                (None, _) => {}
            }
        }
        // The shapes above that `from_graph` refuses.
        let refused = texts.iter().filter(|t| both(t).1.is_err()).count();
        assert!(refused >= 20, "{refused}");
    }
}
