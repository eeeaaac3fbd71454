//! The Graph `user` resource's property table: every property and relationship, and what
//! Graph says about each (read-only, mastered on-premises for synced users, a collection,
//! returned only for a single user). Source:
//! <https://learn.microsoft.com/graph/api/resources/user?view=graph-rest-1.0>.

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    /// Graph's spelling (camelCase).
    pub name: &'static str,
    /// A relationship (`manager`, `memberOf`): `$expand` puts it in an export, but it is never
    /// selected or written as a property.
    pub relationship: bool,
    /// Computed or owned by the service: a create or update that sets it is refused.
    pub read_only: bool,
    /// Mastered in on-premises AD for `onPremisesSyncEnabled: true` users: Entra Connect
    /// exports it, and Graph refuses to update it on such a user.
    pub synced: bool,
    /// Not nullable collection: a missing one reads as `[]`.
    pub collection: bool,
    /// Returned only when reading one user; `$select` of it on the collection is a 501.
    pub single_user_only: bool,
}

const fn p(name: &'static str) -> Property {
    Property {
        name,
        relationship: false,
        read_only: false,
        synced: false,
        collection: false,
        single_user_only: false,
    }
}

const fn r(name: &'static str) -> Property {
    Property {
        relationship: true,
        ..p(name)
    }
}

impl Property {
    const fn read_only(self) -> Self {
        Property {
            read_only: true,
            ..self
        }
    }
    const fn synced(self) -> Self {
        Property {
            synced: true,
            ..self
        }
    }
    const fn collection(self) -> Self {
        Property {
            collection: true,
            ..self
        }
    }
    const fn single_user_only(self) -> Self {
        Property {
            single_user_only: true,
            ..self
        }
    }
}

/// The table, in case-insensitive alphabetical order (properties, then relationships).
///
/// Decisions where the two fakes disagreed before this table (the Graph page above says):
/// - `id`, `signInActivity`, `legalAgeGroupClassification`, `serviceProvisioningErrors`,
///   `onPremisesSipInfo`: read-only ("Read-only" on each).
/// - `employeeLeaveDateTime`: not mastered on-premises. Entra Connect does not export it by
///   default, and Graph documents setting it with a PATCH
///   (<https://learn.microsoft.com/graph/tutorial-lifecycle-workflows-set-employeeleavedatetime>).
/// - `proxyAddresses`: read-only for everyone, and synced (Entra Connect exports it); the
///   read-only refusal comes first.
///
/// `synced` follows the attributes Entra Connect Sync exports for users
/// (<https://learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-sync-attributes-synchronized>),
/// by their Graph names; `usageLocation`, `ageGroup`, `consentProvidedForMinor` and
/// `preferredDataLocation` stay writable in the cloud. Without password writeback
/// `passwordProfile` is mastered too.
pub const PROPERTIES: &[Property] = &[
    p("aboutMe").single_user_only(),
    p("accountEnabled").synced(),
    p("ageGroup"),
    p("assignedLicenses").read_only().collection(),
    p("assignedPlans").read_only().collection(),
    p("authorizationInfo"),
    p("birthday").single_user_only(),
    p("businessPhones").synced().collection(),
    p("city").synced(),
    p("companyName").synced(),
    p("consentProvidedForMinor"),
    p("country").synced(),
    p("createdDateTime").read_only(),
    p("creationType").read_only(),
    p("customSecurityAttributes"),
    p("deletedDateTime").read_only(),
    p("department").synced(),
    p("displayName").synced(),
    p("employeeHireDate").synced(),
    p("employeeId").synced(),
    p("employeeLeaveDateTime"),
    p("employeeOrgData").synced(),
    p("employeeType").synced(),
    p("externalUserState").read_only(),
    p("externalUserStateChangeDateTime").read_only(),
    p("faxNumber").synced(),
    p("givenName").synced(),
    p("hireDate").single_user_only(),
    p("id").read_only(),
    p("identities").collection(),
    p("imAddresses").read_only().collection(),
    p("interests").collection().single_user_only(),
    p("isManagementRestricted"),
    p("isResourceAccount"),
    p("jobTitle").synced(),
    p("lastPasswordChangeDateTime").read_only(),
    p("legalAgeGroupClassification").read_only(),
    p("licenseAssignmentStates").read_only().collection(),
    p("mail").synced(),
    p("mailboxSettings").single_user_only(),
    p("mailNickname").synced(),
    p("mobilePhone").synced(),
    p("mySite").single_user_only(),
    p("officeLocation").synced(),
    p("onPremisesDistinguishedName").read_only(),
    p("onPremisesDomainName").read_only(),
    p("onPremisesExtensionAttributes").synced(),
    p("onPremisesImmutableId").synced(),
    p("onPremisesLastSyncDateTime").read_only(),
    p("onPremisesProvisioningErrors").read_only().collection(),
    p("onPremisesSamAccountName").read_only(),
    p("onPremisesSecurityIdentifier").read_only(),
    p("onPremisesSipInfo").read_only(),
    p("onPremisesSyncEnabled").read_only(),
    p("onPremisesUserPrincipalName").read_only(),
    p("otherMails").collection(),
    p("passwordPolicies"),
    p("passwordProfile").synced(),
    p("pastProjects").collection().single_user_only(),
    p("postalCode").synced(),
    p("preferredDataLocation"),
    p("preferredLanguage").synced(),
    p("preferredName").single_user_only(),
    // A relationship among the properties, where the table has always listed it.
    r("print"),
    p("provisionedPlans").read_only().collection(),
    p("proxyAddresses").read_only().synced().collection(),
    p("refreshTokensValidFromDateTime"),
    p("responsibilities").collection().single_user_only(),
    p("schools").collection().single_user_only(),
    p("securityIdentifier").read_only(),
    p("serviceProvisioningErrors").read_only().collection(),
    p("showInAddressList").synced(),
    p("signInActivity").read_only(),
    p("signInSessionsValidFromDateTime").read_only(),
    p("skills").collection().single_user_only(),
    p("state").synced(),
    p("streetAddress").synced(),
    p("surname").synced(),
    p("usageLocation"),
    p("userPrincipalName").synced(),
    p("userType"),
    // Relationships: `$expand` puts them in an export; they are never selected or written.
    r("activities"),
    r("agreementAcceptances"),
    r("appRoleAssignments"),
    r("authentication"),
    r("calendar"),
    r("calendarGroups"),
    r("calendarView"),
    r("calendars"),
    r("chats"),
    r("cloudClipboard"),
    r("contactFolders"),
    r("contacts"),
    r("createdObjects"),
    r("directReports"),
    r("drive"),
    r("drives"),
    r("employeeExperience"),
    r("events"),
    r("extensions"),
    r("followedSites"),
    r("inferenceClassification"),
    r("insights"),
    r("joinedTeams"),
    r("licenseDetails"),
    r("mailFolders"),
    r("managedAppRegistrations"),
    r("managedDevices"),
    r("manager"),
    r("memberOf"),
    r("messages"),
    r("oauth2PermissionGrants"),
    r("onenote"),
    r("onlineMeetings"),
    r("outlook"),
    r("ownedDevices"),
    r("ownedObjects"),
    r("people"),
    r("permissionGrants"),
    r("photo"),
    r("photos"),
    r("planner"),
    r("presence"),
    r("registeredDevices"),
    r("scopedRoleMemberOf"),
    r("settings"),
    r("solutions"),
    r("sponsors"),
    r("teamwork"),
    r("todo"),
    r("transitiveMemberOf"),
];

/// Returned without `$select` ("By default, only a limited set of properties are returned"),
/// in the order Graph's examples show.
pub const DEFAULT_SELECT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Required on create (<https://learn.microsoft.com/graph/api/user-post-users>), in the order
/// the first one missing is reported.
pub const REQUIRED_ON_CREATE: &[&str] = &[
    "accountEnabled",
    "displayName",
    "mailNickname",
    "passwordProfile",
    "userPrincipalName",
];

/// The row spelled exactly `name`.
pub fn exact(name: &str) -> Option<&'static Property> {
    PROPERTIES.iter().find(|p| p.name == name)
}

/// The row whose name equals `name` without ASCII case (Graph reads property names in
/// requests that way).
pub fn ignore_case(name: &str) -> Option<&'static Property> {
    PROPERTIES
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// A property (not a relationship) by name without case, for `$select` and write bodies.
pub fn property(name: &str) -> Option<&'static Property> {
    ignore_case(name).filter(|p| !p.relationship)
}

/// A directory extension (`extension_<appId>_<name>`): not in the table, yet a property.
pub fn is_extension(name: &str) -> bool {
    name.starts_with("extension_")
}

/// Whether `name` (Graph's spelling) is read-only.
pub fn is_read_only(name: &str) -> bool {
    exact(name).is_some_and(|p| p.read_only)
}

/// Whether `name` (Graph's spelling) is mastered on-premises for synced users.
pub fn is_synced(name: &str) -> bool {
    exact(name).is_some_and(|p| p.synced)
}

/// Whether `name` (Graph's spelling) is a collection that reads as `[]` when missing.
pub fn is_collection(name: &str) -> bool {
    exact(name).is_some_and(|p| p.collection)
}

/// Whether `name` (Graph's spelling) is returned only for a single user.
pub fn is_single_user_only(name: &str) -> bool {
    exact(name).is_some_and(|p| p.single_user_only)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_has_no_duplicates() {
        let props: Vec<&str> = PROPERTIES
            .iter()
            .filter(|p| !p.relationship || p.name == "print")
            .map(|p| p.name)
            .collect();
        for pair in props.windows(2) {
            assert!(
                pair[0].to_ascii_lowercase() < pair[1].to_ascii_lowercase(),
                "{pair:?}"
            );
        }
        for (i, a) in PROPERTIES.iter().enumerate() {
            assert!(
                PROPERTIES[i + 1..]
                    .iter()
                    .all(|b| !a.name.eq_ignore_ascii_case(b.name)),
                "{} twice",
                a.name
            );
        }
    }

    #[test]
    fn the_lists_name_properties_of_the_table() {
        for name in DEFAULT_SELECT.iter().chain(REQUIRED_ON_CREATE) {
            assert!(property(name).is_some(), "{name}");
        }
        for p in PROPERTIES.iter().filter(|p| p.relationship) {
            assert!(!(p.read_only || p.synced || p.collection), "{}", p.name);
            assert!(property(p.name).is_none(), "{}", p.name);
        }
    }

    /// Where the emulator and the snapshot disagreed (see [`PROPERTIES`]), per
    /// <https://learn.microsoft.com/graph/api/resources/user?view=graph-rest-1.0>.
    #[test]
    fn documented_read_only_and_synced_properties() {
        for name in [
            "id",
            "proxyAddresses",
            "signInActivity",
            "serviceProvisioningErrors",
            "legalAgeGroupClassification",
            "createdDateTime",
            "onPremisesSyncEnabled",
        ] {
            assert!(is_read_only(name), "{name}");
        }
        for name in ["usageLocation", "jobTitle", "employeeLeaveDateTime", "mail"] {
            assert!(!is_read_only(name), "{name}");
        }
        for name in [
            "jobTitle",
            "mail",
            "onPremisesImmutableId",
            "employeeHireDate",
        ] {
            assert!(is_synced(name), "{name}");
        }
        for name in ["usageLocation", "employeeLeaveDateTime", "ageGroup"] {
            assert!(!is_synced(name), "{name}");
        }
        assert!(is_collection("proxyAddresses") && !is_collection("mail"));
        assert!(is_single_user_only("mailboxSettings") && !is_single_user_only("mail"));
        assert_eq!(
            property("USERPRINCIPALNAME").unwrap().name,
            "userPrincipalName"
        );
        assert!(property("manager").is_none() && ignore_case("Manager").is_some());
    }
}
