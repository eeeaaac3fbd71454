//! The desired-state YAML model: one `DesiredFile` per file, merged into a `DesiredState`.
//!
//! Every struct denies unknown keys. Values that later messages must point at are wrapped in
//! [`Loc`], which records where in which file they were written.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A value with the line and column where it was written (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Loc<T> {
    pub value: T,
    pub line: u64,
    pub column: u64,
}

impl<T> Loc<T> {
    pub fn new(value: T) -> Self {
        Loc {
            value,
            line: 0,
            column: 0,
        }
    }
}

impl<T> std::ops::Deref for Loc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loc<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Loc {
            value: s.value,
            line: s.referenced.line(),
            column: s.referenced.column(),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Loc<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

/// One desired-state file. Every key is optional here: files are merged, and what must be set
/// somewhere is checked after merging.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "idsync desired state")]
pub struct DesiredFile {
    /// Format version of this file. Always `1`.
    pub version: Option<Loc<u32>>,
    /// How to reach each directory, or which snapshot files to read instead.
    pub directories: Option<Loc<Directories>>,
    /// Which AD objects are in scope.
    pub scope: Option<Loc<Scope>>,
    /// How AD users are joined to cloud users.
    pub matching: Option<Loc<Matching>>,
    /// On-premises UPN suffix -> routable suffix used in the cloud (`corp.local: example.com`).
    pub upn_suffixes: Option<Loc<BTreeMap<String, Loc<String>>>>,
    /// Which directory is authoritative for each attribute (Graph property names), and for
    /// proxyAddresses (entra: AD takes the cloud's SMTP addresses; ad: idsync never edits them).
    pub attributes: Option<Loc<BTreeMap<String, Loc<Authority>>>>,
    /// Creating accounts that exist on one side only.
    pub provision: Option<Loc<Provision>>,
    /// What happens to accounts whose source is gone.
    pub deprovision: Option<Loc<Deprovision>>,
    /// Objects idsync never modifies, disables or deletes.
    pub protect: Option<Loc<Vec<Loc<ObjectRef>>>>,
    /// Explicit pairs and per-identity overrides. Lists from several files are concatenated.
    pub identities: Option<Loc<Vec<Loc<Identity>>>>,
    /// Groups idsync keeps converged, memberships included. Lists from several files are
    /// concatenated.
    pub groups: Option<Loc<Vec<Loc<Group>>>>,
    /// Licenses every in-scope cloud user gets (`default`).
    pub licenses: Option<Loc<Licenses>>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Directories {
    pub ad: Option<Loc<AdDirectory>>,
    pub entra: Option<Loc<EntraDirectory>>,
}

/// Live AD over LDAP (`url` …) or an LDIF export (`snapshot`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdDirectory {
    /// `ldaps://host`, or `ldap://host` with `start_tls: true`.
    pub url: Option<Loc<String>>,
    /// Upgrade an `ldap://` connection with StartTLS before binding.
    #[serde(default)]
    pub start_tls: bool,
    /// The domain's naming context, e.g. `DC=corp,DC=example,DC=com`.
    pub base_dn: Option<Loc<String>>,
    /// The account idsync binds as: a UPN or a DN.
    pub bind_dn: Option<Loc<String>>,
    /// The bind password, from the environment or a file; never literal.
    pub password: Option<Loc<SecretRef>>,
    /// PEM file with the CA that issued the DC's certificate (relative to this file). TLS is
    /// always verified; without this, the system roots are used.
    pub ca_file: Option<Loc<PathBuf>>,
    /// Seconds to wait for a connection or an operation.
    pub timeout_seconds: Option<Loc<u64>>,
    /// An LDIF export to read (and, on apply, rewrite) instead of a live DC.
    pub snapshot: Option<Loc<PathBuf>>,
}

/// Live Entra ID over Microsoft Graph, or a Graph `/users` JSON export (`snapshot`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntraDirectory {
    pub tenant_id: Option<Loc<String>>,
    pub client_id: Option<Loc<String>>,
    /// The app registration's client secret, from the environment or a file; never literal.
    pub client_secret: Option<Loc<SecretRef>>,
    /// Workload identity federation: a file holding the client assertion (re-read on refresh).
    pub federated_token_file: Option<Loc<PathBuf>>,
    /// Default `https://login.microsoftonline.com`; override for national clouds.
    pub login_url: Option<Loc<String>>,
    /// Default `https://graph.microsoft.com`.
    pub graph_url: Option<Loc<String>>,
    /// A Graph `/users` JSON export to read (and, on apply, rewrite) instead of a live tenant.
    pub snapshot: Option<Loc<PathBuf>>,
}

/// A secret is never written in the YAML: it is read from the environment or from a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// Name of an environment variable holding the secret: it starts with `IDSYNC_` and is not
    /// `IDSYNC_PLAN_KEY` (a desired state may not pick which of the pipeline's variables is
    /// sent to a directory).
    Env(#[schemars(pattern(r"^(?!IDSYNC_PLAN_KEY$)IDSYNC_[A-Za-z0-9_]+$"))] String),
    /// Path of a file holding the secret (relative to this file); surrounding whitespace is
    /// trimmed.
    File(PathBuf),
}

/// Refusal of a literal where a secret belongs. It never repeats the value: a secret pasted by
/// mistake must not reach a pipeline log through the error that refuses it.
const LITERAL_SECRET: &str = "secrets are never written in the YAML: use { env: NAME } or { file: PATH } (the value is not shown)";

/// Implements every `visit_*` of a visitor except `visit_str` and `visit_map` as a refusal
/// that does not echo the value (serde's default messages quote scalars).
macro_rules! refuse_other_types {
    ($message:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_i128<E: de::Error>(self, _: i128) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_u128<E: de::Error>(self, _: u128) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($message))
        }
        fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
            Err(de::Error::custom($message))
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
            Err(de::Error::custom($message))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($message))
        }
        fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($message))
        }
    };
}

impl<'de> Deserialize<'de> for SecretRef {
    // Hand-written so a literal secret of any YAML type is refused without echoing it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("{ env: NAME } or { file: PATH }")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_SECRET))
            }
            refuse_other_types!(LITERAL_SECRET);
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let unknown = || {
                    de::Error::custom(
                        "a secret is { env: NAME } or { file: PATH }; this map has another key (not shown)",
                    )
                };
                let secret = match map.next_key::<SecretKey>()? {
                    None => {
                        return Err(de::Error::custom(
                            "expected { env: NAME } or { file: PATH }",
                        ));
                    }
                    Some(SecretKey::Other) => return Err(unknown()),
                    Some(SecretKey::Env) => SecretRef::Env(map.next_value::<PlainString>()?.0),
                    Some(SecretKey::File) => {
                        SecretRef::File(PathBuf::from(map.next_value::<PlainString>()?.0))
                    }
                };
                match map.next_key::<SecretKey>()? {
                    None => Ok(secret),
                    Some(SecretKey::Other) => Err(unknown()),
                    Some(_) => Err(de::Error::custom("give exactly one of `env` or `file`")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A key of a secret map, read without keeping (or echoing) anything but `env` and `file`.
enum SecretKey {
    Env,
    File,
    Other,
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`env` or `file`")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<SecretKey, E> {
                Ok(match key {
                    "env" => SecretKey::Env,
                    "file" => SecretKey::File,
                    _ => SecretKey::Other,
                })
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretKey, E> {
                Ok(SecretKey::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretKey, E> {
                Ok(SecretKey::Other)
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> Result<SecretKey, E> {
                Ok(SecretKey::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretKey, E> {
                Ok(SecretKey::Other)
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> Result<SecretKey, E> {
                Ok(SecretKey::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretKey, E> {
                Ok(SecretKey::Other)
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<SecretKey, E> {
                Ok(SecretKey::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<SecretKey, E> {
                Ok(SecretKey::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<SecretKey, A::Error> {
                Ok(SecretKey::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<SecretKey, A::Error> {
                Ok(SecretKey::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// The value of `env:` or `file:`: a string; anything else is refused without echoing it.
struct PlainString(String);

impl<'de> Deserialize<'de> for PlainString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const NOT_A_NAME: &str = "`env` takes a variable name and `file` a path, as a string";
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PlainString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PlainString, E> {
                Ok(PlainString(v.to_owned()))
            }
            refuse_other_types!(NOT_A_NAME);
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<PlainString, A::Error> {
                Err(de::Error::custom(NOT_A_NAME))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Subtrees whose users are in scope. Required, non-empty.
    #[serde(default)]
    pub ous: Vec<Loc<String>>,
    /// Subtrees inside `ous` that are out of scope.
    #[serde(default)]
    pub exclude_ous: Vec<Loc<String>>,
    /// An RFC 4515 filter ANDed with `(objectClass=user)`.
    pub ldap_filter: Option<Loc<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matching {
    /// The AD attribute whose bytes, base64-encoded, are the cloud `onPremisesImmutableId`.
    #[serde(default)]
    pub source_anchor: SourceAnchor,
    /// Soft-match keys tried in order after hard match; `[]` disables soft match.
    #[serde(default = "default_soft_match")]
    pub soft_match: Vec<SoftMatchKey>,
}

impl Default for Matching {
    fn default() -> Self {
        Matching {
            source_anchor: SourceAnchor::default(),
            soft_match: default_soft_match(),
        }
    }
}

fn default_soft_match() -> Vec<SoftMatchKey> {
    vec![SoftMatchKey::Smtp, SoftMatchKey::Upn]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum SourceAnchor {
    /// `mS-DS-ConsistencyGuid`, falling back to objectGUID while it is empty (Entra Connect's
    /// default); idsync writes it back.
    #[default]
    #[serde(rename = "ms-DS-ConsistencyGuid", alias = "mS-DS-ConsistencyGuid")]
    ConsistencyGuid,
    #[serde(rename = "objectGUID")]
    ObjectGuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SoftMatchKey {
    /// AD primary SMTP address equals a cloud SMTP proxy address or `mail`.
    Smtp,
    /// AD UPN, after `upn_suffixes`, equals the cloud UPN.
    Upn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    Ad,
    Entra,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    pub ad: Option<Loc<ProvisionAd>>,
    pub entra: Option<Loc<ProvisionEntra>>,
}

/// Create AD accounts for in-scope cloud users with no AD twin.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionAd {
    #[serde(default)]
    pub enabled: bool,
    /// The OU new accounts are created in; must lie inside `scope.ous`.
    pub ou: Option<Loc<String>>,
    /// Template over cloud properties: `{mailNickname}`, `{givenName:1}{surname}` (first N
    /// characters).
    pub sam_account_name: Option<Loc<String>>,
    #[serde(default)]
    pub initial_state: InitialState,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InitialState {
    /// Enabled, with a random password nobody knows. With password hash sync on, Entra Connect
    /// replaces the cloud password with this one at the first sync, so the user must have it
    /// reset (a `password` forecast warning each).
    #[default]
    EnabledRandomPassword,
    /// Disabled. Once synced, a disabled AD account disables its cloud twin.
    Disabled,
}

/// Create cloud users for AD-only users (usually Entra Connect's job).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionEntra {
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deprovision {
    #[serde(default)]
    pub action: DeprovisionAction,
    /// More disables and deletes than this in one plan: the plan fails and nothing is applied.
    #[serde(default = "default_max_deletes")]
    pub max_deletes: usize,
}

impl Default for Deprovision {
    fn default() -> Self {
        Deprovision {
            action: DeprovisionAction::default(),
            max_deletes: default_max_deletes(),
        }
    }
}

fn default_max_deletes() -> usize {
    500
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeprovisionAction {
    #[default]
    Report,
    Disable,
    Delete,
}

/// A reference to one object: give exactly one key.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    /// AD sAMAccountName.
    pub sam_account_name: Option<String>,
    /// AD distinguished name.
    pub dn: Option<String>,
    /// AD objectGUID (`3ab39606-c642-489b-84b6-58c038d3ef39`).
    pub object_guid: Option<String>,
    /// userPrincipalName (AD or cloud).
    pub upn: Option<String>,
    /// Entra object id.
    pub id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// A name for plans and reports; defaults to the cloud UPN or the sAMAccountName.
    pub name: Option<String>,
    /// The AD side: one of `sam_account_name`, `dn`, `object_guid`.
    pub ad: Option<Loc<ObjectRef>>,
    /// The cloud side: one of `upn`, `id`.
    pub entra: Option<Loc<ObjectRef>>,
    /// Never touched, never reported.
    #[serde(default)]
    pub ignore: bool,
    /// Values this identity must have on both sides (Graph property names).
    #[serde(default)]
    pub attributes: BTreeMap<String, Loc<String>>,
    /// The licenses this identity's cloud user holds directly, instead of `licenses.default`.
    pub licenses: Option<Loc<Vec<Loc<LicenseRef>>>>,
}

/// `licenses:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Licenses {
    /// SKU part numbers (`GET /subscribedSkus`) every in-scope cloud user gets, unless its
    /// `identities[]` entry names its own.
    #[serde(default)]
    pub default: Vec<Loc<LicenseRef>>,
}

/// A license: a SKU part number (`ENTERPRISEPACK`), or one with service plans turned off.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum LicenseRef {
    Sku(String),
    WithPlans(LicenseWithPlans),
}

/// `{ sku: EMS, disabled_plans: [ INTUNE_A ] }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenseWithPlans {
    /// The SKU part number.
    pub sku: String,
    /// servicePlanName values of the SKU to turn off.
    #[serde(default)]
    pub disabled_plans: Vec<String>,
}

/// One `groups[]` entry: an AD group, a cloud group, or the pair.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name in plans and reports, and in `group:NAME` members.
    pub name: Loc<String>,
    /// The AD side: one of `sam_account_name`, `dn`, `object_guid`. Without it the group is
    /// created in AD (when `provision.ad.enabled`).
    pub ad: Option<Loc<GroupAdRef>>,
    /// The cloud side: one of `id`, `mail`, `display_name`. Without it the group is created in
    /// Entra ID (when `provision.entra.enabled`).
    pub entra: Option<Loc<GroupEntraRef>>,
    /// `security` (default) or `distribution`.
    #[serde(rename = "type", default)]
    pub group_type: GroupKind,
    /// The exact member set: identity names, UPNs, and `group:NAME` for nested groups.
    pub members: Option<Loc<Vec<Loc<String>>>>,
    /// Instead of `members`: mirror this side's current members onto the other.
    pub members_from: Option<Loc<Authority>>,
    /// Never touched, never reported.
    #[serde(default)]
    pub ignore: bool,
    /// Group-based licensing: the licenses the cloud group assigns to its members.
    pub licenses: Option<Loc<Vec<Loc<LicenseRef>>>>,
}

/// An AD group: give exactly one key.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupAdRef {
    /// sAMAccountName.
    pub sam_account_name: Option<Loc<String>>,
    /// Distinguished name.
    pub dn: Option<Loc<String>>,
    /// objectGUID (`3ab39606-c642-489b-84b6-58c038d3ef39`).
    pub object_guid: Option<Loc<String>>,
}

/// A cloud group: give exactly one key.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupEntraRef {
    /// Entra object id.
    pub id: Option<Loc<String>>,
    /// The group's mail address (its primary SMTP address).
    pub mail: Option<Loc<String>>,
    /// displayName (not unique in Entra ID: prefer `id` or `mail`).
    pub display_name: Option<Loc<String>>,
}

/// `groups[].type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    #[default]
    Security,
    Distribution,
}
