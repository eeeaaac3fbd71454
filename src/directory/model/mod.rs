//! The object model both directories are read into: AD users and cloud (Entra) users, and
//! the object kinds (user, group, contact) with their attribute tables.
//!
//! Compact on purpose: a plan holds a million of each at once. An object's text values (the
//! typed ones like the UPN included) share one buffer, names are 2-byte ids, so a user costs
//! a few allocations whatever it holds; accessors read the typed values out (see `packed`).

mod ad_user;
mod attributes;
mod cloud_user;
mod group;
mod guid;
mod kind;
mod license;
mod packed;
mod properties;
mod tenant;

pub use ad_user::{
    AdUser, AttributeSource, DecodeError, EachAttribute, OWNER_MARKER_PREFIX, UAC_ACCOUNTDISABLE,
    UAC_NORMAL_ACCOUNT, each_attribute_by_name,
};
pub use attributes::Attributes;
pub use cloud_user::CloudUser;
pub use group::{
    AdContact, AdGroup, CONTACT_PROPERTIES, CloudContact, CloudGroup, GROUP_PROPERTIES,
    GROUP_TYPE_DOMAIN_LOCAL, GROUP_TYPE_GLOBAL, GROUP_TYPE_SECURITY, GROUP_TYPE_UNIVERSAL,
    sid_from_string, sid_to_string,
};
pub use guid::{Guid, SmallBytes};
pub use kind::ObjectKind;
pub use license::{AssignedLicense, LicenseState, Sku, assigned_licenses, license_states};
pub use packed::Values;
pub use properties::{List, Prop, Properties};
pub use tenant::{Domain, Part, ProvisioningError, SyncFeatures, Tenant};
