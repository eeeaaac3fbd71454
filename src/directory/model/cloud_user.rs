//! A user object read from Entra ID.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::packed::Values;
use super::properties::{Prop, Properties};
use crate::names::{AttrName, NameKey, SmtpAddress, primary_smtp};

#[path = "cloud_user_text.rs"]
mod text;

/// A user object read from Entra ID (Microsoft Graph property names).
///
/// The properties idsync reasons about (id, userPrincipalName, mail, mailNickname,
/// proxyAddresses, onPremisesImmutableId, userType) live in `properties` with all the others,
/// one buffer per object; read them with the accessors (`id()`, `upn()`, …) and change them
/// with the setters.
#[derive(Clone, Debug)]
pub struct CloudUser {
    /// Every property read but the two flags below, by Graph name.
    pub properties: Properties,
    /// `onPremisesSyncEnabled: true`: mastered by Entra Connect, synced attributes are read-only.
    pub sync_enabled: bool,
    pub account_enabled: Option<bool>,
    /// Presence bits ([`AttrName::presence_bit`]) of the names the source did not carry at
    /// all: such a property is unknown, not null (DESIGN.md, "absent is not null"). Users
    /// built in code carry everything.
    unread: u64,
}

/// Graph properties `CloudUser` does not keep in `properties`: the flags have fields.
const FLAGS: &[&str] = &["onPremisesSyncEnabled", "accountEnabled"];
const FLAG_NAMES: &[AttrName] = &[
    AttrName::ON_PREMISES_SYNC_ENABLED,
    AttrName::ACCOUNT_ENABLED,
];

/// Equal when their values are; what each source carried is not part of it.
impl PartialEq for CloudUser {
    fn eq(&self, other: &Self) -> bool {
        self.properties == other.properties
            && self.sync_enabled == other.sync_enabled
            && self.account_enabled == other.account_enabled
    }
}

impl CloudUser {
    /// The properties with accessors of their own.
    pub const WITH_ACCESSORS: &[AttrName] = &[
        AttrName::ID,
        AttrName::USER_PRINCIPAL_NAME,
        AttrName::MAIL,
        AttrName::MAIL_NICKNAME,
        AttrName::PROXY_ADDRESSES,
        AttrName::ON_PREMISES_IMMUTABLE_ID,
        AttrName::USER_TYPE,
    ];

    pub fn new(id: impl AsRef<str>, upn: impl AsRef<str>) -> Self {
        let mut properties = Properties::default();
        properties.set_text(AttrName::ID, Some(id.as_ref()));
        properties.set_text(AttrName::USER_PRINCIPAL_NAME, Some(upn.as_ref()));
        Self {
            properties,
            sync_enabled: false,
            account_enabled: None,
            unread: 0,
        }
    }

    /// Whether the source carried `name` at all (with a value or as `null`). A property it did
    /// not carry is unknown: nothing may be planned from it.
    pub fn carries(&self, name: AttrName) -> bool {
        match name.presence_bit() {
            0 => self.properties.contains_key(name),
            bit => self.unread & bit == 0,
        }
    }

    /// The properties among `names` that the source did not carry.
    pub fn unread<'s>(&'s self, names: &'s [AttrName]) -> impl Iterator<Item = AttrName> + 's {
        names.iter().copied().filter(|&n| !self.carries(n))
    }

    /// Marks `name` as read (a setter gave it a value, or `null`).
    fn mark_read(&mut self, name: AttrName) {
        self.unread &= !name.presence_bit();
    }

    /// A Graph user object as a `CloudUser`; the error says which property is wrong.
    pub fn from_graph(user: &Map<String, Value>) -> Result<CloudUser, String> {
        let required = |name: &str| match user.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
            Some(Value::String(_)) | None | Some(Value::Null) => Err(format!("no {name}")),
            Some(_) => Err(format!("{name} must be a string")),
        };
        let optional = |name: &str| match user.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("{name} must be a string or null")),
        };
        let flag = |name: &str| match user.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{name} must be true, false or null")),
        };
        let mut cloud = CloudUser::new(required("id")?, required("userPrincipalName")?);
        cloud.set_mail(optional("mail")?);
        cloud.set_mail_nickname(optional("mailNickname")?);
        cloud.set_immutable_id(optional("onPremisesImmutableId")?);
        cloud.set_user_type(optional("userType")?);
        cloud.sync_enabled = flag("onPremisesSyncEnabled")?.unwrap_or(false);
        cloud.account_enabled = flag("accountEnabled")?;
        match user.get("proxyAddresses") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                let items: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                cloud.set_proxy_addresses(
                    items.ok_or("proxyAddresses must be an array of strings")?,
                );
            }
            Some(_) => return Err("proxyAddresses must be an array of strings".into()),
        }
        // Property names are stored without case: `Id` next to `id` would overwrite it.
        let typed = FLAGS
            .iter()
            .copied()
            .chain(Self::WITH_ACCESSORS.iter().map(|n| n.as_str()));
        for name in typed {
            if let Some(k) = user
                .keys()
                .find(|k| k.as_str() != name && k.eq_ignore_ascii_case(name))
            {
                return Err(format!("{k} repeats {name} in another case"));
            }
        }
        let others = user.iter().filter(|(k, _)| {
            !FLAGS.contains(&k.as_str())
                && !Self::WITH_ACCESSORS
                    .iter()
                    .any(|n| n.as_str() == k.as_str())
        });
        for (k, v) in others {
            let name = AttrName::try_new(k).map_err(|e| e.to_string())?;
            cloud.properties.insert_ref(name, v);
        }
        cloud.properties.shrink_to_fit();
        // What the source carried: every property held (nulls of other properties are kept as
        // JSON null), and the typed ones whose key was there, even as null.
        let mut carried = cloud.properties.presence_mask();
        for name in Self::WITH_ACCESSORS.iter().chain(FLAG_NAMES) {
            if user.contains_key(name.as_str()) {
                carried |= name.presence_bit();
            }
        }
        cloud.unread = !carried;
        Ok(cloud)
    }

    pub fn id(&self) -> &str {
        self.properties.text(AttrName::ID).unwrap_or_default()
    }

    pub fn upn(&self) -> &str {
        self.properties
            .text(AttrName::USER_PRINCIPAL_NAME)
            .unwrap_or_default()
    }

    pub fn mail(&self) -> Option<&str> {
        self.properties.text(AttrName::MAIL)
    }

    pub fn mail_nickname(&self) -> Option<&str> {
        self.properties.text(AttrName::MAIL_NICKNAME)
    }

    /// The `proxyAddresses` values (`SMTP:a@example.com`, `smtp:…`), in order.
    pub fn proxy_addresses(&self) -> Values<'_> {
        self.properties.values(AttrName::PROXY_ADDRESSES)
    }

    pub fn immutable_id(&self) -> Option<&str> {
        self.properties.text(AttrName::ON_PREMISES_IMMUTABLE_ID)
    }

    pub fn user_type(&self) -> Option<&str> {
        self.properties.text(AttrName::USER_TYPE)
    }

    /// The values Entra Connect quarantined on this user (`onPremisesProvisioningErrors`:
    /// duplicate attribute resiliency). Entries that are not objects with string members are
    /// skipped: the property is read-only in Graph and only Entra writes it.
    pub fn provisioning_errors(&self) -> Vec<super::ProvisioningError> {
        let Some(Prop::Json(serde_json::Value::Array(items))) = self
            .properties
            .get(AttrName::ON_PREMISES_PROVISIONING_ERRORS)
        else {
            return Vec::new();
        };
        let text = |v: &serde_json::Value, k: &str| v.get(k)?.as_str().map(str::to_owned);
        items
            .iter()
            .filter_map(|v| {
                Some(super::ProvisioningError {
                    category: text(v, "category")?,
                    property_causing_error: text(v, "propertyCausingError")?,
                    value: text(v, "value")?,
                })
            })
            .collect()
    }

    pub fn set_upn(&mut self, value: &str) {
        self.mark_read(AttrName::USER_PRINCIPAL_NAME);
        self.properties
            .set_text(AttrName::USER_PRINCIPAL_NAME, Some(value));
    }

    pub fn set_mail<'v>(&mut self, value: impl Into<Option<&'v str>>) {
        self.mark_read(AttrName::MAIL);
        self.properties.set_text(AttrName::MAIL, value.into());
    }

    pub fn set_mail_nickname<'v>(&mut self, value: impl Into<Option<&'v str>>) {
        self.mark_read(AttrName::MAIL_NICKNAME);
        self.properties
            .set_text(AttrName::MAIL_NICKNAME, value.into());
    }

    pub fn set_proxy_addresses<S: AsRef<str>>(&mut self, values: impl IntoIterator<Item = S>) {
        self.mark_read(AttrName::PROXY_ADDRESSES);
        self.properties.set_list(AttrName::PROXY_ADDRESSES, values);
    }

    pub fn set_immutable_id<'v>(&mut self, value: impl Into<Option<&'v str>>) {
        self.mark_read(AttrName::ON_PREMISES_IMMUTABLE_ID);
        self.properties
            .set_text(AttrName::ON_PREMISES_IMMUTABLE_ID, value.into());
    }

    pub fn set_user_type<'v>(&mut self, value: impl Into<Option<&'v str>>) {
        self.mark_read(AttrName::USER_TYPE);
        self.properties.set_text(AttrName::USER_TYPE, value.into());
    }

    /// The properties without accessors of their own, sorted by name.
    pub fn other_properties(&self) -> impl Iterator<Item = (&'static str, Prop<'_>)> {
        self.properties
            .iter_names()
            .filter(|(k, _)| !Self::WITH_ACCESSORS.contains(k))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// A string property by Graph name, as name templates see it: the five identifying ones
    /// by their exact names, any other text property without case.
    pub fn text(&self, name: &str) -> Option<&str> {
        match name {
            "userPrincipalName" | "mail" | "mailNickname" | "onPremisesImmutableId" | "id" => {
                self.properties.text(name)
            }
            // proxyAddresses, userType and other spellings of the above were never text by
            // name; keep it so.
            _ if Self::WITH_ACCESSORS.iter().any(|&n| name.same_name(n)) => None,
            _ => self.properties.text(name),
        }
    }

    pub fn primary_smtp(&self) -> Option<SmtpAddress> {
        primary_smtp(self.proxy_addresses())
    }

    /// Guests are invited, not provisioned; idsync leaves them alone.
    pub fn is_guest(&self) -> bool {
        self.user_type()
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
            || self.upn().contains("#EXT#")
    }

    /// A hash of everything read, used as the saved-plan precondition for Graph objects.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |name: &str, value: &str| {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
            h.update([0]);
        };
        let absent = "\u{1}";
        field("id", self.id());
        field("userPrincipalName", self.upn());
        field("mail", self.mail().unwrap_or(absent));
        field("mailNickname", self.mail_nickname().unwrap_or(absent));
        let proxies: Vec<&str> = self.proxy_addresses().collect();
        field("proxyAddresses", &proxies.join("\u{2}"));
        field(
            "onPremisesImmutableId",
            self.immutable_id().unwrap_or(absent),
        );
        field(
            "onPremisesSyncEnabled",
            if self.sync_enabled { "1" } else { "0" },
        );
        field(
            "accountEnabled",
            match self.account_enabled {
                Some(true) => "1",
                Some(false) => "0",
                None => absent,
            },
        );
        for (k, v) in self.other_properties() {
            match v {
                Prop::Text(t) => field(k, t),
                // Other JSON (lists, objects) by its text; tagged so it never equals a string.
                Prop::List(_) | Prop::Json(_) => field(k, &format!("\u{3}{}", v.to_value())),
            }
        }
        let digest = h.finalize();
        digest[..12].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprint_changes_with_any_property() {
        let mut u = CloudUser::new("1", "a@example.com");
        let before = u.fingerprint();
        u.properties.insert("jobTitle", Value::from("Boss"));
        assert_ne!(before, u.fingerprint());
    }

    #[test]
    fn fingerprint_is_stable() {
        // Saved plans carry fingerprints: the value must not change between versions.
        let user = json!({
            "id": "1", "userPrincipalName": "a@example.com", "mail": "a@example.com",
            "proxyAddresses": ["SMTP:a@example.com", "smtp:b@example.com"],
            "accountEnabled": true, "jobTitle": "Boss", "businessPhones": ["+1 555"],
            "onPremisesExtensionAttributes": {"extensionAttribute1": "x"}
        });
        let u = CloudUser::from_graph(user.as_object().unwrap()).unwrap();
        assert_eq!(u.fingerprint(), "3597ca3c951e5dc78832e6eb");
    }

    #[test]
    fn from_graph_reads_every_property() {
        let user = json!({
            "id": "1", "userPrincipalName": "a@example.com", "mailNickname": "a",
            "proxyAddresses": ["SMTP:a@example.com"], "onPremisesImmutableId": "AAA=",
            "onPremisesSyncEnabled": true, "userType": "Guest", "displayName": "A",
            "businessPhones": []
        });
        let u = CloudUser::from_graph(user.as_object().unwrap()).unwrap();
        assert_eq!((u.id(), u.upn()), ("1", "a@example.com"));
        assert_eq!(u.mail(), None);
        assert_eq!(u.mail_nickname(), Some("a"));
        assert_eq!(u.primary_smtp(), Some(SmtpAddress::new("a@example.com")));
        assert_eq!(u.immutable_id(), Some("AAA="));
        assert!(u.sync_enabled && u.is_guest());
        assert_eq!(
            u.other_properties().map(|(k, _)| k).collect::<Vec<_>>(),
            ["businessPhones", "displayName"]
        );
        assert_eq!(u.text("displayName"), Some("A"));
        assert_eq!(u.text("userType"), None);
        assert_eq!(u.text("mail"), None);
        assert_eq!(u.text("mailNickname"), Some("a"));
        let bad = json!({"id": "1", "userPrincipalName": "a@b.c", "proxyAddresses": [1]});
        assert!(CloudUser::from_graph(bad.as_object().unwrap()).is_err());
    }
}
