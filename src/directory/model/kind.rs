//! Object kinds: users, groups and contacts share the read/join/plan/render path, each with
//! its own attribute table (DESIGN.md "Groups, memberships and contacts"). Only users have
//! behaviour yet; the group and contact tables are what the next kinds start from.

use serde::{Deserialize, Serialize};

use crate::directory::Filter;
use crate::directory::attributes::{self, Mapping, ValueKind};
use crate::names::AttrName;

/// The kind of a directory object, and of a plan action (`kind` in plan JSON; a saved plan
/// without it means `user`, so plans saved before groups still read).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    #[default]
    User,
    Group,
    Contact,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 3] = [ObjectKind::User, ObjectKind::Group, ObjectKind::Contact];

    /// The name in plan JSON and in rendered plans.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::User => "user",
            ObjectKind::Group => "group",
            ObjectKind::Contact => "contact",
        }
    }

    /// The AD `objectClass` of the kind's objects.
    pub fn ad_class(self) -> &'static str {
        match self {
            ObjectKind::User => "user",
            ObjectKind::Group => "group",
            ObjectKind::Contact => "contact",
        }
    }

    /// AD classes that derive from [`Self::ad_class`] but are other things: computers are
    /// users to AD's schema.
    pub fn ad_excluded_classes(self) -> &'static [&'static str] {
        match self {
            ObjectKind::User => &["computer"],
            ObjectKind::Group | ObjectKind::Contact => &[],
        }
    }

    /// The `objectClass` values a create writes (the class chain AD itself records).
    pub fn ad_create_classes(self) -> &'static [&'static str] {
        match self {
            ObjectKind::User => &["top", "person", "organizationalPerson", "user"],
            ObjectKind::Group => &["top", "group"],
            ObjectKind::Contact => &["top", "person", "organizationalPerson", "contact"],
        }
    }

    /// The LDAP filter of the kind's objects, ANDed with `extra`: what a read of this kind
    /// searches, and what an export says it read.
    pub fn ad_filter(self, extra: Option<&Filter>) -> Filter {
        let mut parts = vec![Filter::equals("objectClass", self.ad_class())];
        parts.extend(
            self.ad_excluded_classes()
                .iter()
                .map(|c| Filter::not(Filter::equals("objectClass", *c))),
        );
        parts.extend(extra.cloned());
        Filter::and(parts)
    }

    /// The Graph collection the kind's objects live in: `/{collection}`, `/{collection}/{id}`.
    pub fn graph_collection(self) -> &'static str {
        match self {
            ObjectKind::User => "users",
            ObjectKind::Group => "groups",
            ObjectKind::Contact => "contacts",
        }
    }

    /// The Graph resource type (`orgContact` is read-only in Graph).
    pub fn graph_type(self) -> &'static str {
        match self {
            ObjectKind::User => "user",
            ObjectKind::Group => "group",
            ObjectKind::Contact => "orgContact",
        }
    }

    /// The Graph ↔ AD attributes idsync converges on objects of this kind.
    pub fn attributes(self) -> &'static [Mapping] {
        match self {
            ObjectKind::User => attributes::TABLE,
            ObjectKind::Group => GROUP_ATTRIBUTES,
            ObjectKind::Contact => CONTACT_ATTRIBUTES,
        }
    }

    /// The membership attribute (AD, Graph), edited per value (`member` DN values; Graph
    /// `members/$ref`); none for kinds without members.
    pub fn membership(self) -> Option<(&'static str, &'static str)> {
        match self {
            ObjectKind::Group => Some(("member", "members")),
            ObjectKind::User | ObjectKind::Contact => None,
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const fn text(graph: &'static str, ad: &'static str, max_len: Option<usize>) -> Mapping {
    Mapping {
        graph,
        ad,
        graph_name: AttrName::well_known(graph),
        ad_name: AttrName::well_known(ad),
        kind: ValueKind::Text,
        max_len,
    }
}

/// Groups pair by name or mail (DESIGN.md: `entra:` by `id`/`mail`/`display_name`).
const GROUP_ATTRIBUTES: &[Mapping] = &[
    text("displayName", "displayName", Some(256)),
    text("mail", "mail", Some(256)),
    text("mailNickname", "mailNickname", Some(64)),
];

/// Mail-enabled contacts: the names and addresses `orgContact` carries.
const CONTACT_ATTRIBUTES: &[Mapping] = &[
    text("displayName", "displayName", Some(256)),
    text("givenName", "givenName", Some(64)),
    text("surname", "sn", Some(64)),
    text("mail", "mail", Some(256)),
    text("mailNickname", "mailNickname", Some(64)),
    text("jobTitle", "title", Some(128)),
    text("department", "department", Some(64)),
    text("companyName", "company", Some(64)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_their_names() {
        for k in ObjectKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<ObjectKind>(&json).unwrap(), k);
        }
    }

    #[test]
    fn users_use_the_mapping_table_and_only_groups_have_members() {
        assert_eq!(ObjectKind::User.attributes(), attributes::TABLE);
        assert!(
            ObjectKind::Group
                .attributes()
                .iter()
                .all(|m| ObjectKind::User.attributes().contains(m))
        );
        assert_eq!(ObjectKind::Group.membership(), Some(("member", "members")));
        assert_eq!(ObjectKind::User.membership(), None);
        assert_eq!(ObjectKind::Contact.graph_type(), "orgContact");
    }

    #[test]
    fn the_user_filter_leaves_computers_out() {
        assert_eq!(
            ObjectKind::User.ad_filter(None).to_string(),
            "(&(objectClass=user)(!(objectClass=computer)))"
        );
        assert_eq!(
            ObjectKind::Group.ad_filter(None).to_string(),
            "(&(objectClass=group))"
        );
        assert_eq!(ObjectKind::Contact.graph_collection(), "contacts");
        for k in ObjectKind::ALL {
            assert_eq!(k.ad_create_classes().last(), Some(&k.ad_class()));
        }
    }
}
