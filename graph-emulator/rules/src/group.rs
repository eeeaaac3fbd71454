//! Microsoft Graph's rules for `group` and `orgContact` objects and their memberships, written
//! once: the property tables, the create and update rules, and Graph's error bodies for the
//! refusals — so the emulator's answers and idsync's reading of them cannot drift apart.
//!
//! Sources:
//! - <https://learn.microsoft.com/graph/api/resources/group> (properties, read-only ones),
//! - <https://learn.microsoft.com/graph/api/group-post-groups> (required properties; "you can
//!   only create Microsoft 365 groups and security groups" through Graph),
//! - <https://learn.microsoft.com/graph/api/group-post-members> and
//!   <https://learn.microsoft.com/graph/api/group-delete-members> (`$ref` add and remove),
//! - <https://learn.microsoft.com/graph/api/resources/orgcontact> (read-only through Graph),
//! - <https://learn.microsoft.com/graph/known-issues> ("`$expand`: For directory objects,
//!   returns a maximum of 20 objects. No support for `@odata.nextLink`").

use serde_json::{Map, Value};

use crate::error::{GraphError, SYNCED_OBJECT_MESSAGE};
use crate::write::valid_mail_nickname;

/// One property of a group or contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    /// Graph's spelling.
    pub name: &'static str,
    /// Set by the service (or by Exchange / Entra Connect): a write that sets it is refused.
    pub read_only: bool,
    /// A collection: a missing one reads as `[]`.
    pub collection: bool,
    /// Returned without `$select` (Graph's default set for the collection).
    pub default: bool,
}

const fn p(name: &'static str) -> Property {
    Property {
        name,
        read_only: false,
        collection: false,
        default: true,
    }
}

impl Property {
    const fn read_only(self) -> Self {
        Property {
            read_only: true,
            ..self
        }
    }
    const fn collection(self) -> Self {
        Property {
            collection: true,
            ..self
        }
    }
    /// Returned only when `$select`ed.
    const fn on_select(self) -> Self {
        Property {
            default: false,
            ..self
        }
    }
}

/// The `group` resource's properties (relationships such as `members` are not properties).
pub const GROUP_PROPERTIES: &[Property] = &[
    p("allowExternalSenders").on_select(),
    p("assignedLabels").collection().on_select(),
    p("assignedLicenses").read_only().collection().on_select(),
    p("autoSubscribeNewMembers").on_select(),
    p("classification"),
    p("createdDateTime").read_only(),
    p("creationOptions").collection(),
    p("deletedDateTime").read_only(),
    p("description"),
    p("displayName"),
    p("expirationDateTime").read_only(),
    p("groupTypes").collection(),
    p("hasMembersWithLicenseErrors").read_only().on_select(),
    p("hideFromAddressLists").on_select(),
    p("hideFromOutlookClients").on_select(),
    p("id").read_only(),
    p("isAssignableToRole"),
    p("licenseProcessingState").read_only().on_select(),
    p("mail").read_only(),
    p("mailEnabled"),
    p("mailNickname"),
    p("membershipRule"),
    p("membershipRuleProcessingState"),
    p("onPremisesDomainName").read_only(),
    p("onPremisesLastSyncDateTime").read_only(),
    p("onPremisesNetBiosName").read_only(),
    p("onPremisesProvisioningErrors").read_only().collection(),
    p("onPremisesSamAccountName").read_only(),
    p("onPremisesSecurityIdentifier").read_only(),
    p("onPremisesSyncEnabled").read_only(),
    p("preferredDataLocation"),
    p("preferredLanguage"),
    p("proxyAddresses").read_only().collection(),
    p("renewedDateTime").read_only(),
    p("resourceBehaviorOptions").collection(),
    p("resourceProvisioningOptions").collection(),
    p("securityEnabled"),
    p("securityIdentifier").read_only(),
    p("serviceProvisioningErrors").read_only().collection(),
    p("theme"),
    p("uniqueName"),
    p("visibility"),
];

/// The `orgContact` resource's properties: all read-only through Graph (contacts are synced
/// from AD or made in Exchange Online).
pub const CONTACT_PROPERTIES: &[Property] = &[
    p("addresses").read_only().collection(),
    p("companyName").read_only(),
    p("deletedDateTime").read_only(),
    p("department").read_only(),
    p("displayName").read_only(),
    p("givenName").read_only(),
    p("id").read_only(),
    p("jobTitle").read_only(),
    p("mail").read_only(),
    p("mailNickname").read_only(),
    p("onPremisesLastSyncDateTime").read_only(),
    p("onPremisesProvisioningErrors").read_only().collection(),
    p("onPremisesSyncEnabled").read_only(),
    p("phones").read_only().collection(),
    p("proxyAddresses").read_only().collection(),
    p("serviceProvisioningErrors").read_only().collection(),
    p("surname").read_only(),
];

/// `POST /groups` needs these ("Required" in the request body table).
pub const REQUIRED_ON_CREATE: &[&str] = &[
    "displayName",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
];

/// Expanded directory-object relationships carry at most this many objects and no next link
/// (Graph's known issues, `$expand`).
pub const EXPAND_CAP: usize = 20;

/// A property of `table` by name, without regard to case (Graph reads names so).
pub fn property(table: &'static [Property], name: &str) -> Option<&'static Property> {
    table.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Graph's message when a `$ref` add names an object that is already a member.
pub const MEMBER_EXISTS_MESSAGE: &str = "One or more added object references already exist for the following modified properties: 'members'.";

/// Graph's message for a create of a mail-enabled group that is not a Microsoft 365 group
/// (a mail-enabled security group or a distribution list: Exchange Online owns those).
/// Reported in microsoftgraph/microsoft-graph-docs#372.
pub const MAIL_ENABLED_WRITE_MESSAGE: &str = "The service does not currently support writes of mail-enabled groups. Please ensure that the mail-enablement property is unset and the security-enablement property is set.";

/// Graph's message for member writes on a mail-enabled security group or distribution list
/// (reported in microsoftgraph/microsoft-graph-docs#14827).
pub const MAIL_ENABLED_MEMBERS_MESSAGE: &str =
    "Cannot Update a mail-enabled security groups and or distribution list.";

/// Member writes on a group whose members come from a rule. Graph's documentation gives no
/// text for this refusal; the status and code are those of its other member refusals.
pub const DYNAMIC_MEMBERS_MESSAGE: &str =
    "Cannot add or remove members of a group with dynamic membership.";

/// A Microsoft 365 group's members are users only ("Only users can be members of Microsoft
/// 365 groups", <https://learn.microsoft.com/graph/api/resources/groups-overview>). The text of
/// Graph's refusal is not documented; status and code as its other member refusals.
pub const UNIFIED_MEMBER_KIND_MESSAGE: &str = "Only users can be members of a Microsoft 365 group.";

pub fn member_exists() -> GraphError {
    GraphError::bad_request(MEMBER_EXISTS_MESSAGE)
}

pub fn mail_enabled_write() -> GraphError {
    GraphError::bad_request(MAIL_ENABLED_WRITE_MESSAGE)
}

pub fn mail_enabled_members() -> GraphError {
    GraphError::bad_request(MAIL_ENABLED_MEMBERS_MESSAGE)
}

pub fn dynamic_members() -> GraphError {
    GraphError::bad_request(DYNAMIC_MEMBERS_MESSAGE)
}

pub fn unified_member_kind() -> GraphError {
    GraphError::bad_request(UNIFIED_MEMBER_KIND_MESSAGE)
}

/// A write naming a property the resource does not have.
pub fn invalid_property(name: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid property '{name}'."))
}

/// A write of an `orgContact`: Graph serves only reads of contacts.
pub fn contacts_read_only() -> GraphError {
    GraphError::new(
        405,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

/// Whether an error body is Graph's "already a member" refusal (a retried `$ref` add whose
/// first attempt landed gets it).
pub fn is_member_exists(body: Option<&Value>) -> bool {
    error_message(body).is_some_and(|m| m == MEMBER_EXISTS_MESSAGE)
}

/// Whether an error body is Graph's refusal of a write to a synced (on-premises mastered)
/// object.
pub fn is_synced_refusal(body: Option<&Value>) -> bool {
    error_message(body).is_some_and(|m| m == SYNCED_OBJECT_MESSAGE)
}

fn error_message(body: Option<&Value>) -> Option<&str> {
    body?.get("error")?.get("message")?.as_str()
}

fn has(obj: &Map<String, Value>, name: &str) -> bool {
    match obj.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

fn flag(obj: &Map<String, Value>, name: &str) -> bool {
    obj.get(name) == Some(&Value::Bool(true))
}

fn group_types(obj: &Map<String, Value>) -> impl Iterator<Item = &str> {
    obj.get("groupTypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// A Microsoft 365 group (`groupTypes` holds `Unified`).
pub fn is_unified(obj: &Map<String, Value>) -> bool {
    group_types(obj).any(|t| t.eq_ignore_ascii_case("Unified"))
}

/// Members come from `membershipRule`.
pub fn is_dynamic(obj: &Map<String, Value>) -> bool {
    group_types(obj).any(|t| t.eq_ignore_ascii_case("DynamicMembership"))
}

/// Mastered in on-premises AD (`onPremisesSyncEnabled: true`).
pub fn is_synced(obj: &Map<String, Value>) -> bool {
    flag(obj, "onPremisesSyncEnabled")
}

/// A mail-enabled security group or a distribution list: mail-enabled, not Microsoft 365.
pub fn is_exchange_mastered(obj: &Map<String, Value>) -> bool {
    flag(obj, "mailEnabled") && !is_unified(obj)
}

/// The body with Graph's spelling of every property, `@odata.*` annotations dropped (a
/// `members@odata.bind` is not modelled, and refused); a name the resource lacks is refused.
pub fn canonical_body(body: Map<String, Value>) -> Result<Map<String, Value>, GraphError> {
    let mut out = Map::new();
    for (k, v) in body {
        if k.starts_with("@odata.") {
            continue;
        }
        let Some(prop) = property(GROUP_PROPERTIES, &k) else {
            return Err(invalid_property(&k));
        };
        out.insert(prop.name.to_owned(), v);
    }
    Ok(out)
}

fn reject_read_only(body: &Map<String, Value>) -> Result<(), GraphError> {
    match body
        .keys()
        .find(|k| property(GROUP_PROPERTIES, k).is_some_and(|p| p.read_only))
    {
        Some(name) => Err(GraphError::read_only(name)),
        None => Ok(()),
    }
}

/// The type rules of the properties idsync writes; others are taken as given.
fn check_value(name: &str, v: &Value) -> Result<(), GraphError> {
    let ok = match name {
        "mailEnabled" | "securityEnabled" | "isAssignableToRole" => v.is_boolean(),
        // "Maximum length is 256 characters."
        "displayName" => v
            .as_str()
            .is_some_and(|s| !s.trim().is_empty() && s.chars().count() <= 256),
        "mailNickname" => v.as_str().is_some_and(valid_mail_nickname),
        "description" => v.is_null() || v.is_string(),
        "groupTypes" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(GraphError::bad_request(format!(
            "Invalid value specified for property '{name}' of resource 'Group'."
        )))
    }
}

/// `POST /groups` on a [`canonical_body`]: the required properties, no read-only one, the
/// values, then the kinds Graph creates: Microsoft 365 groups (`Unified`, mail-enabled) and
/// security groups (not mail-enabled). A mail-enabled security group or a distribution list
/// is refused: Exchange Online creates those.
pub fn check_create(body: &Map<String, Value>) -> Result<(), GraphError> {
    for &name in REQUIRED_ON_CREATE {
        if !has(body, name) {
            return Err(GraphError::required(name));
        }
    }
    reject_read_only(body)?;
    body.iter().try_for_each(|(k, v)| check_value(k, v))?;
    if is_unified(body) {
        return Ok(());
    }
    if flag(body, "mailEnabled") || !flag(body, "securityEnabled") {
        return Err(mail_enabled_write());
    }
    Ok(())
}

/// `PATCH /groups/{id}` on a [`canonical_body`] against the stored group.
pub fn check_update(
    patch: &Map<String, Value>,
    group: &Map<String, Value>,
) -> Result<(), GraphError> {
    if is_synced(group) {
        return Err(GraphError::synced_object());
    }
    reject_read_only(patch)?;
    patch.iter().try_for_each(|(k, v)| check_value(k, v))?;
    let mail_enabled = patch
        .get("mailEnabled")
        .map_or(flag(group, "mailEnabled"), |v| v == &Value::Bool(true));
    if mail_enabled && !is_unified(group) {
        return Err(mail_enabled_write());
    }
    Ok(())
}

/// What kind of directory object a member is (its `@odata.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Group,
    OrgContact,
    /// Devices, service principals… (not modelled beyond their id).
    Other,
}

impl MemberKind {
    pub fn odata_type(self) -> &'static str {
        match self {
            MemberKind::User => "#microsoft.graph.user",
            MemberKind::Group => "#microsoft.graph.group",
            MemberKind::OrgContact => "#microsoft.graph.orgContact",
            MemberKind::Other => "#microsoft.graph.directoryObject",
        }
    }
}

/// Whether Graph takes a member write on this group at all (before looking at the member):
/// synced groups are mastered on-premises, mail-enabled security groups and distribution
/// lists in Exchange Online, and dynamic groups' members come from their rule.
pub fn check_member_write(group: &Map<String, Value>) -> Result<(), GraphError> {
    if is_synced(group) {
        return Err(GraphError::synced_object());
    }
    if is_exchange_mastered(group) {
        return Err(mail_enabled_members());
    }
    if is_dynamic(group) {
        return Err(dynamic_members());
    }
    Ok(())
}

/// Whether a member of this kind may be added to the group.
pub fn check_member_kind(group: &Map<String, Value>, kind: MemberKind) -> Result<(), GraphError> {
    if is_unified(group) && kind != MemberKind::User {
        return Err(unified_member_kind());
    }
    Ok(())
}

/// The object id a `$ref` body points at: `{"@odata.id": ".../directoryObjects/{id}"}` (or
/// `/users/{id}`, `/groups/{id}`, `/contacts/{id}`, as Graph also takes).
pub fn ref_target(body: &Map<String, Value>) -> Result<String, GraphError> {
    let bad = || {
        GraphError::new(
            400,
            "BadRequest",
            "Invalid request body: expected {\"@odata.id\": \"https://graph.microsoft.com/v1.0/directoryObjects/{id}\"}.",
        )
    };
    let link = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("@odata.id"))
        .and_then(|(_, v)| v.as_str())
        .ok_or_else(bad)?;
    let mut parts = link.trim_end_matches('/').rsplit('/');
    let id = parts.next().filter(|s| !s.is_empty()).ok_or_else(bad)?;
    let collection = parts.next().ok_or_else(bad)?;
    if ![
        "directoryObjects",
        "users",
        "groups",
        "contacts",
        "devices",
        "servicePrincipals",
    ]
    .iter()
    .any(|c| c.eq_ignore_ascii_case(collection))
    {
        return Err(bad());
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn graph_creates_security_and_microsoft_365_groups_only() {
        let security = obj(json!({"displayName": "S", "mailEnabled": false,
            "mailNickname": "s", "securityEnabled": true}));
        check_create(&security).unwrap();
        let unified = obj(json!({"displayName": "U", "mailEnabled": true,
            "mailNickname": "u", "securityEnabled": false, "groupTypes": ["Unified"]}));
        check_create(&unified).unwrap();
        let mail_security = obj(json!({"displayName": "M", "mailEnabled": true,
            "mailNickname": "m", "securityEnabled": true}));
        assert_eq!(
            check_create(&mail_security).unwrap_err(),
            mail_enabled_write()
        );
        let list = obj(json!({"displayName": "L", "mailEnabled": true,
            "mailNickname": "l", "securityEnabled": false}));
        assert_eq!(check_create(&list).unwrap_err(), mail_enabled_write());
        let missing =
            obj(json!({"displayName": "S", "mailEnabled": false, "securityEnabled": true}));
        assert_eq!(
            check_create(&missing).unwrap_err(),
            GraphError::required("mailNickname")
        );
        let mut with_mail = security.clone();
        with_mail.insert("mail".into(), json!("s@example.com"));
        assert_eq!(
            check_create(&with_mail).unwrap_err(),
            GraphError::read_only("mail")
        );
    }

    #[test]
    fn member_writes_are_refused_where_graph_refuses_them() {
        let synced = obj(json!({"onPremisesSyncEnabled": true, "securityEnabled": true}));
        assert_eq!(
            check_member_write(&synced).unwrap_err(),
            GraphError::synced_object()
        );
        let list = obj(json!({"mailEnabled": true, "securityEnabled": false}));
        assert_eq!(
            check_member_write(&list).unwrap_err(),
            mail_enabled_members()
        );
        let dynamic = obj(json!({"securityEnabled": true, "groupTypes": ["DynamicMembership"]}));
        assert_eq!(check_member_write(&dynamic).unwrap_err(), dynamic_members());
        let unified = obj(json!({"mailEnabled": true, "groupTypes": ["Unified"]}));
        check_member_write(&unified).unwrap();
        assert!(check_member_kind(&unified, MemberKind::Group).is_err());
        check_member_kind(&unified, MemberKind::User).unwrap();
    }

    #[test]
    fn ref_bodies_name_their_object() {
        let b = obj(json!({"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/abc"}));
        assert_eq!(ref_target(&b).unwrap(), "abc");
        assert!(ref_target(&obj(json!({"@odata.id": "abc"}))).is_err());
        assert!(ref_target(&obj(json!({}))).is_err());
    }

    #[test]
    fn refusals_are_recognised_by_their_bodies() {
        let body = member_exists().body("r", "c", "d");
        assert!(is_member_exists(Some(&body)));
        assert!(!is_synced_refusal(Some(&body)));
        assert!(is_synced_refusal(Some(
            &GraphError::synced_object().body("r", "c", "d")
        )));
        assert!(!is_member_exists(None));
    }
}
