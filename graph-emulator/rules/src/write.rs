//! Graph's write rules for users: which properties a create needs, which a request may not
//! set, what each value must look like, how `mail` moves the primary SMTP address, and which
//! values must be unique (without case). Uniqueness needs the directory, so callers hold the
//! index and ask [`unique_values`] what to look up.

use serde_json::{Map, Value};

use crate::error::GraphError;
use crate::user;

/// The body with Graph's spelling of every property name (requests are read without case),
/// `@odata.*` annotations dropped; a name the `user` resource does not have is refused.
pub fn canonical_body(body: Map<String, Value>) -> Result<Map<String, Value>, GraphError> {
    let mut out = Map::new();
    for (k, v) in body {
        if k.starts_with("@odata.") {
            continue;
        }
        let name = match user::property(&k) {
            Some(p) => p.name.to_owned(),
            None if user::is_extension(&k) => k,
            None => return Err(GraphError::invalid_property(&k)),
        };
        out.insert(name, v);
    }
    Ok(out)
}

/// `POST /users` (<https://learn.microsoft.com/graph/api/user-post-users>) on a
/// [`canonical_body`]: the required properties (an empty string counts as missing), then no
/// read-only one, then each value. Uniqueness is the caller's (see [`unique_values`]).
pub fn check_create(body: &Map<String, Value>) -> Result<(), GraphError> {
    for &name in user::REQUIRED_ON_CREATE {
        let present = match body.get(name) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if !present {
            return Err(GraphError::required(name));
        }
    }
    reject_read_only(body)?;
    body.iter().try_for_each(|(k, v)| check_value(k, v))
}

/// `PATCH /users/{id}` (<https://learn.microsoft.com/graph/api/user-update>) on a
/// [`canonical_body`]: no read-only property, none that Entra Connect masters when the user is
/// `synced` (`onPremisesSyncEnabled: true`), then each value.
pub fn check_update(patch: &Map<String, Value>, synced: bool) -> Result<(), GraphError> {
    reject_read_only(patch)?;
    if synced && patch.keys().any(|k| user::is_synced(k)) {
        return Err(GraphError::synced_object());
    }
    patch.iter().try_for_each(|(k, v)| check_value(k, v))
}

fn reject_read_only(body: &Map<String, Value>) -> Result<(), GraphError> {
    match body.keys().find(|k| user::is_read_only(k)) {
        Some(name) => Err(GraphError::read_only(name)),
        None => Ok(()),
    }
}

/// The type and value rules of one property (Graph's spelling), from the property's
/// description on <https://learn.microsoft.com/graph/api/resources/user>.
pub fn check_value(name: &str, v: &Value) -> Result<(), GraphError> {
    let ok = match name {
        "accountEnabled" | "showInAddressList" => v.is_boolean(),
        // "required when a user is created and it cannot be cleared during updates. Maximum
        // length is 256 characters."
        "displayName" => v
            .as_str()
            .is_some_and(|s| !s.trim().is_empty() && s.chars().count() <= 256),
        "userPrincipalName" => v.as_str().is_some_and(valid_upn),
        "mailNickname" => v.as_str().is_some_and(valid_mail_nickname),
        "mail" => match v {
            Value::Null => true,
            Value::String(s) => s.contains('@') && !s.chars().any(char::is_whitespace),
            _ => false,
        },
        // "The $ and _ characters can't be used when specifying this property."
        "onPremisesImmutableId" => match v {
            Value::Null => true,
            Value::String(s) => !s.is_empty() && !s.contains(['$', '_']),
            _ => false,
        },
        // "A two-letter country code (ISO standard 3166)."
        "usageLocation" => match v {
            Value::Null => true,
            Value::String(s) => s.len() == 2 && s.chars().all(|c| c.is_ascii_alphabetic()),
            _ => false,
        },
        "userType" => v.is_string() || v.is_null(),
        // businessPhones: "only one number can be set for this property".
        "businessPhones" | "otherMails" => match v {
            Value::Array(a) => {
                a.iter().all(Value::is_string) && (name != "businessPhones" || a.len() <= 1)
            }
            _ => false,
        },
        "passwordProfile" => {
            let ok = v
                .get("password")
                .and_then(Value::as_str)
                .is_some_and(|p| !p.is_empty());
            if !ok {
                return Err(GraphError::password_required());
            }
            true
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(GraphError::invalid_value(name))
    }
}

/// `alias@domain` as Graph accepts it: "can't contain accent characters. Only the following
/// characters are allowed A - Z, a - z, 0 - 9, ' . - _ ! # ^ ~"
/// (<https://learn.microsoft.com/graph/api/resources/user>, userPrincipalName); no period
/// first or right before the `@`, at most 64 characters before the `@` and 113 in all
/// (<https://learn.microsoft.com/entra/identity/authentication/concept-password-policies>,
/// username policies).
pub fn valid_upn(upn: &str) -> bool {
    let Some((alias, domain)) = upn.split_once('@') else {
        return false;
    };
    let alias_ok = !alias.is_empty()
        && alias.len() <= 64
        && !alias.starts_with('.')
        && !alias.ends_with('.')
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c));
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    alias_ok && domain_ok && upn.len() <= 113
}

/// "Maximum length is 64 characters", and none of `@ () \ [] " ; : <> ,` or white space
/// (<https://learn.microsoft.com/graph/api/resources/user>, mailNickname).
pub fn valid_mail_nickname(nickname: &str) -> bool {
    !nickname.is_empty()
        && nickname.chars().count() <= 64
        && !nickname
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "@()\\[]\";:<>,".contains(c))
}

/// `proxyAddresses` after `mail` is set: "Changes to the mail property update this collection
/// to include the value as an SMTP address" (<https://learn.microsoft.com/graph/api/resources/user>,
/// proxyAddresses). The mail becomes the primary `SMTP:` address, first as in Graph's example
/// (`["SMTP: bob@contoso.com", "smtp: bob@sales.contoso.com"]`), in the mail's spelling; the
/// previous primary stays as a secondary `smtp:` one.
pub fn primary_smtp<'a>(proxies: impl IntoIterator<Item = &'a str>, mail: &str) -> Vec<String> {
    let want = fold(mail);
    let mut out = vec![format!("SMTP:{mail}")];
    for p in proxies {
        match p.split_once(':') {
            Some((kind, addr)) if kind.eq_ignore_ascii_case("smtp") => {
                if fold(addr) != want {
                    out.push(format!("smtp:{addr}"));
                }
            }
            _ => out.push(p.to_owned()),
        }
    }
    out
}

/// A property whose value no two users may share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unique {
    UserPrincipalName,
    OnPremisesImmutableId,
    /// An SMTP address belongs to one recipient, as `mail` or as an `smtp:` proxy address;
    /// Graph names `proxyAddresses` in the conflict.
    ProxyAddresses,
}

impl Unique {
    /// The property Graph names in its ObjectConflict answer.
    pub fn as_str(self) -> &'static str {
        match self {
            Unique::UserPrincipalName => "userPrincipalName",
            Unique::OnPremisesImmutableId => "onPremisesImmutableId",
            Unique::ProxyAddresses => "proxyAddresses",
        }
    }
}

/// The unique values a user (or a write body) holds, in the order Graph reports a conflict:
/// userPrincipalName, onPremisesImmutableId, then the SMTP addresses (`mail`, then every
/// `smtp:` proxy address, without its prefix). Compare them with [`fold`].
pub fn unique_values(user: &Map<String, Value>) -> Vec<(Unique, &str)> {
    let text = |k: &str| user.get(k).and_then(Value::as_str);
    let mut out = Vec::new();
    if let Some(v) = text("userPrincipalName") {
        out.push((Unique::UserPrincipalName, v));
    }
    if let Some(v) = text("onPremisesImmutableId") {
        out.push((Unique::OnPremisesImmutableId, v));
    }
    if let Some(v) = text("mail") {
        out.push((Unique::ProxyAddresses, v));
    }
    if let Some(Value::Array(proxies)) = user.get("proxyAddresses") {
        for p in proxies.iter().filter_map(Value::as_str) {
            if let Some((kind, addr)) = p.split_once(':')
                && kind.eq_ignore_ascii_case("smtp")
            {
                out.push((Unique::ProxyAddresses, addr));
            }
        }
    }
    out
}

/// Graph compares these values without case.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(o) => o,
            _ => unreachable!("test bodies are objects"),
        }
    }

    fn new_user() -> Map<String, Value> {
        obj(json!({
            "accountEnabled": true,
            "displayName": "Nora Nilsen",
            "mailNickname": "nora.nilsen",
            "userPrincipalName": "nora.nilsen@example.com",
            "passwordProfile": {"password": "xWwvJ]6NMw+bWH-d"},
        }))
    }

    fn message(r: Result<(), GraphError>) -> String {
        let e = r.unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "Request_BadRequest"));
        e.message
    }

    /// <https://learn.microsoft.com/graph/api/resources/user>, userPrincipalName and
    /// mailNickname.
    #[test]
    fn upn_and_nickname_rules() {
        assert!(valid_upn("adam.anderson@example.com"));
        assert!(valid_upn("o'neil_x-y!#^~@sub.example.com"));
        assert!(!valid_upn("adam@localhost"));
        assert!(!valid_upn("ädam@example.com"), "no accents");
        assert!(!valid_upn("adam@@example.com"));
        assert!(!valid_upn("ad am@example.com"));
        assert!(!valid_upn(".adam@example.com"));
        assert!(!valid_upn("adam.@example.com"));
        assert!(!valid_upn(&format!("{}@example.com", "a".repeat(65))));
        assert!(valid_upn(&format!("{}@example.com", "a".repeat(64))));
        assert!(!valid_upn(&format!(
            "{}@{}.example.com",
            "a".repeat(60),
            "b".repeat(45)
        )));
        assert!(valid_mail_nickname("adam.anderson"));
        assert!(!valid_mail_nickname("adam anderson"));
        assert!(!valid_mail_nickname("a@b"));
        assert!(!valid_mail_nickname("naveen.mills,.jr."));
        assert!(!valid_mail_nickname(""));
        assert!(
            valid_mail_nickname(&"ü".repeat(64)),
            "64 characters, not bytes"
        );
    }

    #[test]
    fn create_needs_the_required_properties_first() {
        check_create(&new_user()).unwrap();
        for name in user::REQUIRED_ON_CREATE {
            let mut body = new_user();
            body.remove(*name);
            assert_eq!(
                message(check_create(&body)),
                format!("Property {name} value is required but is empty or missing.")
            );
        }
        let mut body = new_user();
        body.insert("displayName".into(), json!(""));
        assert_eq!(
            message(check_create(&body)),
            "Property displayName value is required but is empty or missing."
        );
        let mut body = new_user();
        body.insert("passwordProfile".into(), json!({"password": ""}));
        assert_eq!(
            message(check_create(&body)),
            "Property passwordProfile.password value is required but is empty or missing."
        );
    }

    #[test]
    fn read_only_properties_are_refused_on_create_and_update() {
        for name in ["id", "proxyAddresses", "signInActivity", "createdDateTime"] {
            let mut body = new_user();
            body.insert(name.into(), json!("x"));
            let expected = format!("Property '{name}' is read-only and cannot be set.");
            assert_eq!(message(check_create(&body)), expected);
            let patch = obj(json!({ name: "x" }));
            assert_eq!(message(check_update(&patch, false)), expected);
            assert_eq!(
                message(check_update(&patch, true)),
                expected,
                "read-only first"
            );
        }
    }

    #[test]
    fn synced_users_refuse_mastered_properties_only() {
        for patch in [
            json!({"jobTitle": "CTO"}),
            json!({"usageLocation": "NL", "mail": "x@example.com"}),
            json!({"onPremisesImmutableId": "x"}),
        ] {
            assert_eq!(
                message(check_update(&obj(patch.clone()), true)),
                crate::SYNCED_OBJECT_MESSAGE,
                "{patch}"
            );
            check_update(&obj(patch), false).unwrap();
        }
        check_update(&obj(json!({"usageLocation": "NL"})), true).unwrap();
        check_update(
            &obj(json!({"employeeLeaveDateTime": "2027-09-30T23:59:59Z"})),
            true,
        )
        .unwrap();
    }

    #[test]
    fn values_are_checked_by_type_and_rule() {
        let bad = [
            ("accountEnabled", json!("no")),
            ("displayName", json!(null)),
            ("displayName", json!("  ")),
            ("userPrincipalName", json!("no spaces@example.com")),
            ("mailNickname", json!(null)),
            ("mail", json!("not-an-address")),
            ("onPremisesImmutableId", json!("has_underscore")),
            ("onPremisesImmutableId", json!("")),
            ("usageLocation", json!("NOR")),
            ("userType", json!(1)),
            ("businessPhones", json!(["1", "2"])),
        ];
        for (name, value) in bad {
            assert_eq!(
                message(check_value(name, &value)),
                format!("Invalid value specified for property '{name}' of resource 'User'."),
                "{name}: {value}"
            );
        }
        for (name, value) in [
            ("mail", json!(null)),
            ("onPremisesImmutableId", json!(null)),
            ("usageLocation", json!("SE")),
            ("businessPhones", json!(["+46 8 123"])),
            ("jobTitle", json!(null)),
        ] {
            check_value(name, &value).unwrap();
        }
    }

    #[test]
    fn bodies_take_graphs_spelling_and_refuse_unknown_names() {
        let body = canonical_body(obj(json!({
            "JobTitle": "CTO",
            "@odata.type": "#microsoft.graph.user",
            "extension_0123_costCentre": "17",
        })))
        .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"jobTitle": "CTO", "extension_0123_costCentre": "17"})
        );
        for name in ["favouriteColour", "manager"] {
            let e = canonical_body(obj(json!({ name: 1 }))).unwrap_err();
            assert_eq!(e.message, format!("Invalid property '{name}'."));
        }
    }

    /// <https://learn.microsoft.com/graph/api/resources/user>, proxyAddresses: "Changes to
    /// the mail property update this collection to include the value as an SMTP address."
    #[test]
    fn mail_becomes_the_primary_smtp_address() {
        assert_eq!(
            primary_smtp(
                ["SMTP:alva.wood@example.com", "X500:/o=x"],
                "alva@example.com"
            ),
            [
                "SMTP:alva@example.com",
                "smtp:alva.wood@example.com",
                "X500:/o=x"
            ]
        );
        assert_eq!(
            primary_smtp(
                ["SMTP:alva@example.com", "smtp:alva.wood@example.com"],
                "Alva.Wood@example.com"
            ),
            ["SMTP:Alva.Wood@example.com", "smtp:alva@example.com"]
        );
        assert_eq!(
            primary_smtp([], "new@example.com"),
            ["SMTP:new@example.com"]
        );
    }

    #[test]
    fn unique_values_in_conflict_order() {
        let user = obj(json!({
            "userPrincipalName": "Adam@example.com",
            "onPremisesImmutableId": "BpazOkLGm0iEtljAONPvOQ==",
            "mail": "adam@example.com",
            "proxyAddresses": ["SMTP:adam@example.com", "smtp:a@example.net", "sip:adam@example.com"],
        }));
        assert_eq!(
            unique_values(&user),
            [
                (Unique::UserPrincipalName, "Adam@example.com"),
                (Unique::OnPremisesImmutableId, "BpazOkLGm0iEtljAONPvOQ=="),
                (Unique::ProxyAddresses, "adam@example.com"),
                (Unique::ProxyAddresses, "adam@example.com"),
                (Unique::ProxyAddresses, "a@example.net"),
            ]
        );
        assert_eq!(fold("ADAM@Example.com"), "adam@example.com");
        let e = GraphError::conflict(Unique::ProxyAddresses.as_str());
        assert_eq!(
            e.message,
            "Another object with the same value for property proxyAddresses already exists."
        );
    }

    #[test]
    fn error_bodies_are_graphs_shape() {
        let body =
            GraphError::conflict("userPrincipalName").body("r-1", "c-1", "2026-12-01T00:00:00");
        assert_eq!(body["error"]["code"], "Request_BadRequest");
        assert_eq!(body["error"]["details"][0]["code"], "ObjectConflict");
        assert_eq!(body["error"]["details"][0]["target"], "userPrincipalName");
        assert_eq!(body["error"]["innerError"]["request-id"], "r-1");
        assert_eq!(GraphError::not_found("x").code, "Request_ResourceNotFound");
    }
}
