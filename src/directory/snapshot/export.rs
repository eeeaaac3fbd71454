//! Writing snapshots (`idsync snapshot`): what a directory read returned, in exactly the shapes
//! the snapshot readers take, and nothing a plan does not read (but the attributes the scope
//! filter tests: the snapshot applies the filter again).
//!
//! - AD: one LDIF file as `ldapsearch` writes it (`dn`, `attr:: base64` for binary and
//!   non-ASCII values, folded at 76 columns), opened by a `# requesting:` comment naming the
//!   attributes the read selected, so a reader knows what an absent attribute means.
//! - Entra: a snapshot folder whose files each hold what Graph answers one request:
//!   `users.json` (`GET /v1.0/users?$select=…`: `{"value":[…]}`, every selected property present,
//!   `null` where it has no value), `groups.json` (`GET /v1.0/groups`, each group with every
//!   member as `$expand=members($select=id)` writes them) and `contacts.json`
//!   (`GET /v1.0/contacts`) when they were read, and the tenant data answers that were read
//!   (`onPremisesSynchronization.json`, `domains.json`, `roleAssignments.json`,
//!   `roleDefinitions.json`, see [`crate::directory::tenant_docs`]).
//!
//! Atomic: a file is written to a temporary file beside its target and renamed over it; a
//! folder is built as a temporary folder beside its target and swapped in whole (Linux
//! `renameat2(RENAME_EXCHANGE)`; elsewhere two renames), so a failed or killed export leaves the
//! previous snapshot as it was, and a re-run replaces a folder whole (no stale files). Leftovers
//! of a killed run are removed by the next one.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use crate::directory::ldap::attribute_list;
use crate::directory::ldif::encode_line;
use crate::directory::model::{
    CONTACT_PROPERTIES, GROUP_PROPERTIES, ObjectKind, Part, sid_from_string,
};
use crate::directory::schema;
use crate::directory::tenant_docs::{Source, TenantDocs};
use crate::directory::{
    AdContact, AdGroup, AdQuery, AdUser, CloudContact, CloudGroup, CloudUser, Filter,
};
use crate::names::AttrName;

/// The users of an Entra snapshot folder.
pub const USERS_FILE: &str = "users.json";
/// The groups of an Entra snapshot folder, each with its `members`.
pub const GROUPS_FILE: &str = "groups.json";
/// The organizational contacts of an Entra snapshot folder.
pub const CONTACTS_FILE: &str = "contacts.json";

/// Graph's public endpoint, for `@odata.context` when the users did not come from Graph.
pub const GRAPH_URL: &str = "https://graph.microsoft.com";

/// The users file of an Entra snapshot path: `users.json` in a snapshot folder, else the path
/// itself (a bare Graph users export).
pub fn entra_users_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(USERS_FILE)
    } else {
        path.to_owned()
    }
}

/// Why an export could not be written. The previous snapshot, if any, is untouched.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Write(#[from] crate::files::write::WriteError),
    /// The target exists and is not what the export replaces.
    #[error("{}: {message}", path.display())]
    Target { path: PathBuf, message: String },
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
}

/// What an export writes: one file, or a folder of files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    File,
    Folder,
}

/// Refuses a target an export of `shape` would not replace: a folder where a file goes, a file
/// where a folder goes, a device or FIFO. Checked before a long read, and again when writing.
pub fn check_target(path: &Path, shape: Shape) -> Result<(), ExportError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path, "inspect it")(e)),
    };
    let refuse = |message: &str| {
        Err(ExportError::Target {
            path: path.to_owned(),
            message: message.to_owned(),
        })
    };
    match shape {
        Shape::File if meta.is_dir() => {
            refuse("is a folder; an AD snapshot is one LDIF file (name a file)")
        }
        Shape::File if !meta.is_file() => {
            refuse("is not a regular file (a device or FIFO); a snapshot is never written there")
        }
        Shape::Folder if !meta.is_dir() => refuse(
            "exists and is not a folder; an Entra snapshot is a folder holding users.json (name a new path or a snapshot folder)",
        ),
        _ => Ok(()),
    }
}

fn io_error<'p>(
    path: &'p Path,
    action: &'static str,
) -> impl FnOnce(io::Error) -> ExportError + 'p {
    move |source| ExportError::Io {
        path: path.to_owned(),
        action,
        source,
    }
}

// --- AD -------------------------------------------------------------------------------------

/// The read an AD export makes: `plan`'s, plus the attributes its scope filter names. A snapshot
/// evaluates the filter again when it is read, and needs those values to select the same users.
pub fn ad_export_query(plan: &AdQuery) -> AdQuery {
    let mut query = plan.clone();
    if let Some(filter) = &plan.filter {
        filter_attributes(filter, &mut |name| {
            if !query
                .attributes
                .iter()
                .any(|a| a.as_str().eq_ignore_ascii_case(name))
            {
                query.attributes.push(AttrName::from(name));
            }
        });
    }
    query
}

/// Every attribute a filter tests.
fn filter_attributes(filter: &Filter, each: &mut dyn FnMut(&str)) {
    match filter {
        Filter::And(parts) | Filter::Or(parts) => {
            for part in parts {
                filter_attributes(part, each);
            }
        }
        Filter::Not(inner) => filter_attributes(inner, each),
        Filter::Equality { attr, .. }
        | Filter::Substrings { attr, .. }
        | Filter::GreaterOrEqual { attr, .. }
        | Filter::LessOrEqual { attr, .. }
        | Filter::Present { attr }
        | Filter::Approx { attr, .. } => each(attr),
        Filter::Extensible { attr, .. } => {
            if let Some(attr) = attr {
                each(attr);
            }
        }
    }
}

/// An AD export: the users, groups and contacts a read returned and the read that returned
/// them. Each kind is written as the search that read it (`ldapsearch` output of several
/// searches concatenated): its own header (`# filter:`, `# requesting:`), then its entries.
pub struct AdExport<'a> {
    /// Where the users came from, for the header (`AD ldaps://dc01.corp.example.com`).
    pub source: &'a str,
    pub query: &'a AdQuery,
    pub users: &'a [AdUser],
    /// Groups and contacts in the query's scope (none: no section).
    pub groups: &'a [AdGroup],
    pub contacts: &'a [AdContact],
}

impl AdExport<'_> {
    /// The attributes the read selected (the LDAP reader's own list), in the order written.
    pub fn requested(&self) -> Vec<String> {
        attribute_list(&self.query.attributes)
    }

    /// The LDIF text, written to `out` entry by entry.
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        let requested = self.requested();
        self.header(out, &requested)?;
        for user in self.users {
            write_entry(out, user, &requested)?;
        }
        if !self.groups.is_empty() {
            // A group whose members were not read must not read back as empty.
            let members_known = self.groups.iter().all(|g| g.members.is_some());
            let requested: Vec<&str> = schema::GROUP_READ
                .iter()
                .copied()
                .filter(|a| members_known || *a != "member")
                .collect();
            self.section(out, ObjectKind::Group, &requested, self.groups.len())?;
            for group in self.groups {
                write_group(out, group, &requested)?;
            }
        }
        if !self.contacts.is_empty() {
            self.section(
                out,
                ObjectKind::Contact,
                schema::CONTACT_READ,
                self.contacts.len(),
            )?;
            for contact in self.contacts {
                write_contact(out, contact)?;
            }
        }
        Ok(())
    }

    /// The header of a second (third) search's entries, as ldapsearch writes each search's.
    fn section(
        &self,
        out: &mut dyn Write,
        kind: ObjectKind,
        requested: &[&str],
        count: usize,
    ) -> io::Result<()> {
        writeln!(out, "# {}s, in the same scope", kind.as_str())?;
        writeln!(out, "# filter: {}", kind.ad_filter(None))?;
        writeln!(out, "# requesting: {}", requested.join(" "))?;
        writeln!(out, "# {}s: {count}", kind.as_str())?;
        writeln!(out, "#")?;
        writeln!(out)
    }

    /// Writes the LDIF file atomically.
    pub fn write(&self, path: &Path) -> Result<(), ExportError> {
        write_file(path, |out| self.write_to(out))
    }

    /// `ldapsearch`'s comment header: what was searched and which attributes were requested.
    /// Comment lines are never folded (a reader skips them whole).
    fn header(&self, out: &mut dyn Write, requested: &[String]) -> io::Result<()> {
        writeln!(out, "# idsync snapshot of {}", one_line(self.source))?;
        if self.query.bases.is_empty() {
            writeln!(out, "# base: the whole directory, scope subtree")?;
        }
        for base in &self.query.bases {
            writeln!(
                out,
                "# base <{}> with scope subtree",
                one_line(base.as_str())
            )?;
        }
        for excluded in &self.query.exclude {
            writeln!(out, "# excluding <{}>", one_line(excluded.as_str()))?;
        }
        let filter = ObjectKind::User
            .ad_filter(self.query.filter.as_ref())
            .to_string();
        writeln!(out, "# filter: {}", one_line(&filter))?;
        writeln!(out, "# requesting: {}", requested.join(" "))?;
        writeln!(out, "# users: {}", self.users.len())?;
        writeln!(out, "#")?;
        writeln!(out)
    }
}

/// A value on one comment line: line breaks would end the comment.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// A binary value as `name:: base64` always (as `ldapsearch` writes octet strings), even when
/// its bytes happen to be printable, folded at 76 columns.
fn binary_line(out: &mut dyn Write, name: &str, value: &[u8]) -> io::Result<()> {
    let text = format!("{name}:: {}", B64.encode(value));
    let mut rest = text.as_bytes();
    let mut width = 76;
    while rest.len() > width {
        let (now, later) = rest.split_at(width);
        out.write_all(now)?;
        out.write_all(b"\n ")?;
        rest = later;
        width = 75;
    }
    out.write_all(rest)?;
    out.write_all(b"\n")
}

/// One user as an LDIF entry: `dn`, then the requested attributes in request order, each with
/// every value it has (none: no line, as `ldapsearch` writes it).
fn write_entry(out: &mut dyn Write, user: &AdUser, requested: &[String]) -> io::Result<()> {
    const EOL: &[u8] = b"\n";
    let line = |out: &mut dyn Write, name: &str, value: &[u8]| {
        out.write_all(&encode_line(name, value, EOL))
    };
    line(out, "dn", user.dn.as_str().as_bytes())?;
    for name in requested {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("objectGUID") {
            binary_line(out, name, &user.object_guid.0)?;
        } else if is("mS-DS-ConsistencyGuid") {
            if let Some(guid) = user.consistency_guid() {
                binary_line(out, name, guid)?;
            }
        } else if is("userAccountControl") {
            // AD's Integer syntax is signed 32-bit; the readers take its bit pattern back.
            if let Some(uac) = user.user_account_control {
                line(out, name, (uac as i32).to_string().as_bytes())?;
            }
        } else if is("uSNChanged") {
            if let Some(usn) = user.usn_changed {
                line(out, name, usn.to_string().as_bytes())?;
            }
        } else {
            for value in user.attributes.values(name.as_str()) {
                line(out, name, value.as_bytes())?;
            }
        }
    }
    out.write_all(EOL)
}

/// One group as an LDIF entry: `dn`, then the requested attributes in request order (every
/// `member` value whole, never ranged).
fn write_group(out: &mut dyn Write, group: &AdGroup, requested: &[&str]) -> io::Result<()> {
    const EOL: &[u8] = b"\n";
    let line = |out: &mut dyn Write, name: &str, value: &[u8]| {
        out.write_all(&encode_line(name, value, EOL))
    };
    line(out, "dn", group.dn.as_str().as_bytes())?;
    for &name in requested {
        match name {
            "objectGUID" => binary_line(out, name, &group.object_guid.0)?,
            "objectSid" => {
                if let Some(sid) = group.object_sid.as_deref().and_then(sid_from_string) {
                    binary_line(out, name, &sid)?;
                }
            }
            "groupType" => {
                if let Some(t) = group.group_type {
                    line(out, name, t.to_string().as_bytes())?;
                }
            }
            "uSNChanged" => {
                if let Some(usn) = group.usn_changed {
                    line(out, name, usn.to_string().as_bytes())?;
                }
            }
            "member" => {
                for member in group.members.iter().flatten() {
                    line(out, name, member.as_str().as_bytes())?;
                }
            }
            _ => {
                for value in group.attributes.values(name) {
                    line(out, name, value.as_bytes())?;
                }
            }
        }
    }
    out.write_all(EOL)
}

fn write_contact(out: &mut dyn Write, contact: &AdContact) -> io::Result<()> {
    const EOL: &[u8] = b"\n";
    let line = |out: &mut dyn Write, name: &str, value: &[u8]| {
        out.write_all(&encode_line(name, value, EOL))
    };
    line(out, "dn", contact.dn.as_str().as_bytes())?;
    for &name in schema::CONTACT_READ {
        match name {
            "objectGUID" => binary_line(out, name, &contact.object_guid.0)?,
            "uSNChanged" => {
                if let Some(usn) = contact.usn_changed {
                    line(out, name, usn.to_string().as_bytes())?;
                }
            }
            _ => {
                for value in contact.attributes.values(name) {
                    line(out, name, value.as_bytes())?;
                }
            }
        }
    }
    out.write_all(EOL)
}

// --- Entra ----------------------------------------------------------------------------------

/// An Entra export: the users a read returned and the `$select` it used.
pub struct EntraExport<'a> {
    /// Graph's base URL, for `@odata.context` as Graph writes it ([`GRAPH_URL`] when the users
    /// came from a snapshot).
    pub graph_url: &'a str,
    pub select: &'a [String],
    pub users: &'a [CloudUser],
    /// The tenant data answers; each part that was read becomes its file, an unknown one
    /// (403, or not in the source snapshot) is left out.
    pub tenant: &'a TenantDocs,
    /// The groups read, members included; `None` when the source did not know them (a source
    /// snapshot without `groups.json`): the file is left out, never written empty.
    pub groups: Option<&'a [CloudGroup]>,
    /// The contacts read; `None` as for `groups`.
    pub contacts: Option<&'a [CloudContact]>,
}

/// Writes one file of a snapshot folder.
type Render<'a> = Box<dyn Fn(&mut dyn Write) -> io::Result<()> + 'a>;

impl EntraExport<'_> {
    /// The files of the snapshot folder, each as Graph answers its request.
    pub fn files(&self) -> Vec<(&'static str, Render<'_>)> {
        let mut files: Vec<(&'static str, Render<'_>)> =
            vec![(USERS_FILE, Box::new(|out| self.write_users(out)))];
        if let Some(groups) = self.groups {
            files.push((
                GROUPS_FILE,
                Box::new(move |out| {
                    let context = format!("groups({},members(id))", GROUP_PROPERTIES.join(","));
                    self.write_objects(out, &context, groups, CloudGroup::to_graph)
                }),
            ));
        }
        if let Some(contacts) = self.contacts {
            files.push((
                CONTACTS_FILE,
                Box::new(move |out| {
                    let context = format!("contacts({})", CONTACT_PROPERTIES.join(","));
                    self.write_objects(out, &context, contacts, CloudContact::to_graph)
                }),
            ));
        }
        for (source, part) in self.tenant.parts() {
            if let Part::Read(items) = part {
                files.push((
                    source.file,
                    Box::new(move |out| self.write_collection(out, source, items)),
                ));
            }
        }
        files
    }

    /// A tenant file: `{"@odata.context": …, "value": [ … ]}` as Graph answers the request
    /// (all pages in one), pretty-printed.
    fn write_collection(
        &self,
        out: &mut dyn Write,
        source: Source,
        items: &[serde_json::Map<String, Value>],
    ) -> io::Result<()> {
        let doc = serde_json::json!({
            "@odata.context": format!(
                "{}/v1.0/$metadata#{}",
                self.graph_url.trim_end_matches('/'),
                source.context
            ),
            "value": items,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")
    }

    /// `{"@odata.context": …, "value": [ … ]}` of objects as Graph gives them, pretty-printed
    /// as the snapshot rewrites them, one object at a time (a group of 100,000 members is one
    /// object, not a copy of the file).
    fn write_objects<T>(
        &self,
        out: &mut dyn Write,
        context: &str,
        items: &[T],
        graph: fn(&T) -> serde_json::Map<String, Value>,
    ) -> io::Result<()> {
        struct Items<'i, T>(&'i [T], fn(&T) -> serde_json::Map<String, Value>);
        impl<T> Serialize for Items<'_, T> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(self.0.len()))?;
                for item in self.0 {
                    seq.serialize_element(&(self.1)(item))?;
                }
                seq.end()
            }
        }
        struct Doc<'i, T> {
            context: String,
            items: Items<'i, T>,
        }
        impl<T> Serialize for Doc<'_, T> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("@odata.context", &self.context)?;
                map.serialize_entry("value", &self.items)?;
                map.end()
            }
        }
        let doc = Doc {
            context: format!(
                "{}/v1.0/$metadata#{context}",
                self.graph_url.trim_end_matches('/')
            ),
            items: Items(items, graph),
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")
    }

    /// Builds the folder beside `path` and swaps it in whole.
    pub fn write(&self, path: &Path) -> Result<(), ExportError> {
        write_folder(path, &self.files())
    }

    /// The properties written for each user: the `$select`, `id` and `userPrincipalName`
    /// first when it lacks them (the reader needs both), each once.
    fn properties(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for name in ["id", "userPrincipalName"]
            .into_iter()
            .chain(self.select.iter().map(String::as_str))
        {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name);
            }
        }
        names
    }

    /// `users.json`: `{"@odata.context": …, "value": [ … ]}`, pretty-printed as the Entra
    /// snapshot rewrites it (so an `apply` against the snapshot changes only what it changes),
    /// one user at a time.
    pub fn write_users(&self, out: &mut dyn Write) -> io::Result<()> {
        let names = self.properties();
        let doc = UsersDoc {
            context: format!(
                "{}/v1.0/$metadata#users({})",
                self.graph_url.trim_end_matches('/'),
                names.join(",")
            ),
            names: &names,
            users: self.users,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")
    }
}

struct UsersDoc<'a> {
    context: String,
    names: &'a [&'a str],
    users: &'a [CloudUser],
}

impl Serialize for UsersDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("@odata.context", &self.context)?;
        map.serialize_entry(
            "value",
            &Users {
                names: self.names,
                users: self.users,
            },
        )?;
        map.end()
    }
}

struct Users<'a> {
    names: &'a [&'a str],
    users: &'a [CloudUser],
}

impl Serialize for Users<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.users.len()))?;
        for user in self.users {
            seq.serialize_element(&User {
                names: self.names,
                user,
            })?;
        }
        seq.end()
    }
}

struct User<'a> {
    names: &'a [&'a str],
    user: &'a CloudUser,
}

impl Serialize for User<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.names.len()))?;
        for name in self.names {
            map.serialize_entry(name, &graph_value(self.user, name))?;
        }
        map.end()
    }
}

/// A property as Graph answers it under `$select`: its value, `null` when it has none, and `[]`
/// for an empty `proxyAddresses` (a collection, which Graph never answers `null`).
fn graph_value(user: &CloudUser, name: &str) -> Value {
    let text = |v: Option<&str>| v.map_or(Value::Null, Value::from);
    match name {
        "id" => Value::from(user.id()),
        "userPrincipalName" => Value::from(user.upn()),
        "mail" => text(user.mail()),
        "mailNickname" => text(user.mail_nickname()),
        "onPremisesImmutableId" => text(user.immutable_id()),
        "userType" => text(user.user_type()),
        "proxyAddresses" => Value::from(user.proxy_addresses().collect::<Vec<_>>()),
        "accountEnabled" => user.account_enabled.map_or(Value::Null, Value::from),
        // `CloudUser` keeps only whether a user is synced; Graph says `null` for one that never
        // was, the common case of a cloud-managed user.
        "onPremisesSyncEnabled" => {
            if user.sync_enabled {
                Value::Bool(true)
            } else {
                Value::Null
            }
        }
        other => user
            .properties
            .get(other)
            .map_or(Value::Null, |p| p.to_value()),
    }
}

// --- atomic writes --------------------------------------------------------------------------

/// The folder and file name of a target, symlinks followed (the link stays, its target is
/// replaced).
fn resolve(path: &Path) -> (PathBuf, String) {
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    (dir, name)
}

/// Temporary names beside a target: `.NAME.XXXXXX.tmp` (being built, or an old folder swapped
/// out) and `.NAME.XXXXXX.old` (an old folder moved aside where no swap exists).
fn temp_prefix(name: &str) -> String {
    format!(".{name}.")
}

/// Removes what a killed export left beside its target. An `.old` folder is the previous
/// snapshot itself when a run died between its two renames: it goes back in place if the
/// target is missing.
fn clean_leftovers(dir: &Path, name: &str, target: &Path) {
    let prefix = temp_prefix(name);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if !file_name.starts_with(&prefix) {
            continue;
        }
        let path = entry.path();
        if file_name.ends_with(".old") && !target.exists() {
            let _ = fs::rename(&path, target);
        } else if file_name.ends_with(".tmp") || file_name.ends_with(".old") {
            let _ = remove_any(&path);
        }
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    }
}

/// Writes `path` with [`crate::files::write`], the writer of every file idsync writes
/// (atomic beside the real target, symlinks followed, devices written through, read-only
/// targets refused).
fn write_file(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), ExportError> {
    check_target(path, Shape::File)?;
    let mut bytes = Vec::new();
    render(&mut bytes).map_err(io_error(path, "render the export"))?;
    crate::files::write::write(path, &bytes, crate::files::write::Existing::Replace)?;
    Ok(())
}

/// Builds the folder's files in a temporary folder beside `path`, then swaps it in whole.
fn write_folder(path: &Path, files: &[(&'static str, Render<'_>)]) -> Result<(), ExportError> {
    check_target(path, Shape::Folder)?;
    let (dir, name) = resolve(path);
    let target = dir.join(&name);
    clean_leftovers(&dir, &name, &target);
    let tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(&name))
        .suffix(".tmp")
        .tempdir_in(&dir)
        .map_err(io_error(path, "create a temporary folder beside it"))?;
    for (file, render) in files {
        let file_path = tmp.path().join(file);
        let f = fs::File::create(&file_path).map_err(io_error(path, "create a file"))?;
        let mut out = BufWriter::new(&f);
        render(&mut out).map_err(io_error(path, "write a file"))?;
        out.flush().map_err(io_error(path, "write a file"))?;
        drop(out);
        f.sync_all().map_err(io_error(path, "sync a file"))?;
    }
    crate::files::write::sync_dir(tmp.path())
        .map_err(io_error(path, "sync the temporary folder"))?;
    match fs::metadata(&target) {
        Ok(old) => {
            fs::set_permissions(tmp.path(), old.permissions())
                .map_err(io_error(path, "set permissions on the temporary folder"))?;
            // After the swap the temporary path holds the old folder, removed with it.
            swap(tmp.path(), &target, &name).map_err(io_error(path, "swap the new folder in"))?;
        }
        Err(_) => {
            let built = tmp.keep();
            fs::rename(&built, &target).map_err(|e| {
                let _ = fs::remove_dir_all(&built);
                io_error(path, "rename the temporary folder to it")(e)
            })?;
        }
    }
    crate::files::write::sync_dir(&dir).map_err(io_error(path, "sync its folder"))
}

/// Exchanges the folders `new` and `target` in one step where the system can.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn swap(new: &Path, target: &Path, name: &str) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, new, CWD, target, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        // A filesystem without RENAME_EXCHANGE (some network and FUSE filesystems).
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            swap_by_renames(new, target, name)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn swap(new: &Path, target: &Path, name: &str) -> io::Result<()> {
    swap_by_renames(new, target, name)
}

/// The old folder aside, the new one in, the old one to `new`'s place (removed by the caller).
/// A run killed between the first two renames leaves the old folder as `.NAME.….old`, which
/// the next run puts back.
fn swap_by_renames(new: &Path, target: &Path, name: &str) -> io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let aside = tempfile::Builder::new()
        .prefix(&temp_prefix(name))
        .suffix(".old")
        .tempdir_in(dir)?
        .keep();
    fs::remove_dir(&aside)?;
    fs::rename(target, &aside)?;
    if let Err(e) = fs::rename(new, target) {
        let _ = fs::rename(&aside, target);
        return Err(e);
    }
    fs::rename(&aside, new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::snapshot::{AdSnapshot, EntraSnapshot};
    use crate::directory::{Dn, Guid};
    use serde_json::json;

    fn ad_user() -> AdUser {
        let dn = Dn::parse("CN=Zoë Ærø,OU=Staff,DC=corp,DC=example,DC=com").unwrap();
        let mut u = AdUser::new(dn, Guid([0x2b; 16]));
        u.consistency_guid = Some([7u8; 16].into());
        u.user_account_control = Some(0x202);
        u.usn_changed = Some(4711);
        for class in ["top", "person", "organizationalPerson", "user"] {
            u.attributes.push(AttrName::from("objectClass"), class);
        }
        u.set_sam_account_name("zoe");
        u.set_upn("zoe@example.com");
        u.set_proxy_addresses(["SMTP:zoe@example.com", "smtp:z@example.com"]);
        u.attributes.push(AttrName::from("displayName"), "Zoë Ærø");
        u.attributes.push(AttrName::from("title"), "x".repeat(120));
        // Not requested: never exported.
        u.attributes.push(AttrName::from("info"), "secret note");
        u
    }

    fn query() -> AdQuery {
        AdQuery {
            bases: vec![Dn::parse("OU=Staff,DC=corp,DC=example,DC=com").unwrap()],
            exclude: vec![Dn::parse("OU=Svc,OU=Staff,DC=corp,DC=example,DC=com").unwrap()],
            filter: Some(Filter::parse("(!(sAMAccountName=svc-*))").unwrap()),
            attributes: vec!["displayName".into(), "title".into(), "department".into()],
        }
    }

    #[test]
    fn the_ldif_reads_back_as_the_users_it_was_written_from() {
        let users = [ad_user()];
        let q = query();
        let export = AdExport {
            source: "AD ldaps://dc01.corp.example.com",
            query: &q,
            users: &users,
            groups: &[],
            contacts: &[],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ad.ldif");
        export.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let requested = text.lines().find(|l| l.starts_with("# requesting: "));
        assert_eq!(
            requested,
            Some(
                "# requesting: objectGUID mS-DS-ConsistencyGuid sAMAccountName userPrincipalName mail proxyAddresses userAccountControl uSNChanged adminDescription objectClass displayName title department"
            )
        );
        assert!(text.contains(
            "# filter: (&(objectClass=user)(!(objectClass=computer))(!(sAMAccountName=svc-*)))"
        ));
        // Binary and non-ASCII values as base64, long lines folded at 76 columns.
        assert!(text.contains("\nobjectGUID:: KysrKysrKysrKysrKysrKw==\n"));
        assert!(text.contains("\ndn:: "));
        assert!(text.lines().all(|l| l.starts_with('#') || l.len() <= 76));
        assert!(text.contains("\ntitle: xxx"));
        assert!(!text.contains("secret note"));

        let snapshot = AdSnapshot::open(&path).unwrap();
        let back = snapshot.users(&q).unwrap();
        let mut expected = ad_user();
        expected.attributes.remove("info");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].dn, expected.dn);
        assert_eq!(back[0].object_guid, expected.object_guid);
        assert_eq!(back[0].consistency_guid, expected.consistency_guid);
        assert_eq!(back[0].user_account_control, Some(0x202));
        assert_eq!(back[0].usn_changed, Some(4711));
        assert_eq!(back[0].attributes, expected.attributes);
    }

    /// Users, groups and contacts in one file, each after its own search header: every kind
    /// reads back as it was written, a group of 2,000 members whole, and a group whose
    /// members were not read keeps them unknown.
    #[test]
    fn groups_and_contacts_read_back_after_their_own_headers() {
        use crate::directory::{AdContact, AdGroup};
        let users = [ad_user()];
        let q = query();
        let dn = |s: &str| Dn::parse(s).unwrap();
        let mut big = AdGroup::new(
            dn("CN=Big,OU=Staff,DC=corp,DC=example,DC=com"),
            Guid([3; 16]),
        );
        big.object_sid = Some("S-1-5-21-1-2-3-1105".into());
        big.group_type = Some(-2147483646);
        big.usn_changed = Some(99);
        for class in ["top", "group"] {
            big.attributes.push(AttrName::from("objectClass"), class);
        }
        big.attributes.push(AttrName::SAM_ACCOUNT_NAME, "big");
        big.attributes
            .push(AttrName::from("description"), "Zoë's team");
        big.members = Some(
            (0..2000)
                .map(|i| dn(&format!("CN=u{i},OU=Staff,DC=corp,DC=example,DC=com")))
                .collect(),
        );
        let mut contact = AdContact::new(
            dn("CN=Partner,OU=Staff,DC=corp,DC=example,DC=com"),
            Guid([4; 16]),
        );
        for class in ["top", "person", "organizationalPerson", "contact"] {
            contact
                .attributes
                .push(AttrName::from("objectClass"), class);
        }
        contact
            .attributes
            .push(AttrName::MAIL, "p@fabrikam.example");
        contact.usn_changed = Some(7);
        let groups = [big.clone()];
        let contacts = [contact.clone()];
        let export = AdExport {
            source: "AD ldaps://dc01",
            query: &q,
            users: &users,
            groups: &groups,
            contacts: &contacts,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ad.ldif");
        export.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# filter: (&(objectClass=group))\n"));
        assert!(!text.contains(";range="));
        let snapshot = AdSnapshot::open(&path).unwrap();
        assert_eq!(snapshot.users(&q).unwrap().len(), 1);
        // The groups' header does not make users' unread attributes "requested".
        assert_eq!(
            snapshot.not_exported(&["description".into()]),
            vec![AttrName::from("description")]
        );
        assert_eq!(snapshot.groups(&q).unwrap(), [big.clone()]);
        assert_eq!(snapshot.contacts(&q).unwrap(), [contact]);

        big.members = None;
        let groups = [big.clone()];
        let export = AdExport {
            groups: &groups,
            contacts: &[],
            ..export
        };
        export.write(&path).unwrap();
        let snapshot = AdSnapshot::open(&path).unwrap();
        assert_eq!(snapshot.groups(&q).unwrap(), [big]);
    }

    fn cloud_users() -> Vec<CloudUser> {
        let synced = json!({
            "id": "11111111-1111-1111-1111-111111111111", "userPrincipalName": "ann@example.com",
            "mail": "ann@example.com", "proxyAddresses": ["SMTP:ann@example.com"],
            "onPremisesSyncEnabled": true, "accountEnabled": true, "jobTitle": "Chef",
            "businessPhones": [], "onPremisesImmutableId": "KysrKysrKysrKysrKysrKw=="
        });
        let bare = json!({
            "id": "22222222-2222-2222-2222-222222222222", "userPrincipalName": "bo@example.com"
        });
        [synced, bare]
            .iter()
            .map(|u| CloudUser::from_graph(u.as_object().unwrap()).unwrap())
            .collect()
    }

    #[test]
    fn users_json_is_graphs_answer_with_every_selected_property() {
        let users = cloud_users();
        let select: Vec<String> = [
            "accountEnabled",
            "businessPhones",
            "jobTitle",
            "mail",
            "onPremisesImmutableId",
            "onPremisesSyncEnabled",
            "proxyAddresses",
            "userType",
        ]
        .map(String::from)
        .to_vec();
        let export = EntraExport {
            graph_url: "https://graph.microsoft.com/",
            select: &select,
            users: &users,
            tenant: &Default::default(),
            groups: None,
            contacts: None,
        };
        let mut bytes = Vec::new();
        export.write_users(&mut bytes).unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            doc["@odata.context"],
            "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,accountEnabled,businessPhones,jobTitle,mail,onPremisesImmutableId,onPremisesSyncEnabled,proxyAddresses,userType)"
        );
        let bo = doc["value"][1].as_object().unwrap();
        assert_eq!(bo.len(), 10, "{bo:?}");
        assert_eq!(bo["proxyAddresses"], json!([]));
        for absent in ["accountEnabled", "jobTitle", "mail", "userType"] {
            assert_eq!(bo[absent], Value::Null, "{absent}");
        }
        assert_eq!(doc["value"][0]["businessPhones"], json!([]));
        assert_eq!(doc["value"][0]["onPremisesSyncEnabled"], json!(true));

        // As the snapshot writes itself back: pretty, final newline.
        let pretty = serde_json::to_vec_pretty(&doc).unwrap();
        assert_eq!(bytes, [pretty, b"\n".to_vec()].concat());

        // A user read with every selected property (as Graph answers) reads back the same;
        // one read without them gains their nulls once, and is stable from then on.
        let dir = tempfile::tempdir().unwrap();
        export.write(&dir.path().join("tenant")).unwrap();
        let back = EntraSnapshot::open(dir.path().join("tenant").join(USERS_FILE)).unwrap();
        let back = back.users().unwrap();
        assert_eq!(back[0], users[0]);
        let again = EntraExport {
            users: &back,
            ..export
        };
        let mut rewritten = Vec::new();
        again.write_users(&mut rewritten).unwrap();
        assert_eq!(rewritten, bytes);
    }

    #[test]
    fn tenant_parts_read_are_written_as_graph_answers_and_read_back() {
        use crate::directory::tenant_docs::DOMAINS;
        let users = cloud_users();
        let obj = |v: Value| v.as_object().unwrap().clone();
        let tenant = TenantDocs {
            domains: Part::Read(vec![obj(json!(
                {"id": "contoso.com", "isVerified": true, "isInitial": false}
            ))]),
            role_assignments: Part::Read(vec![obj(json!(
                {"id": "a1", "principalId": "u1", "roleDefinitionId": "r1"}
            ))]),
            sync: Part::Unknown(DOMAINS.denied("Authorization_RequestDenied")),
            role_definitions: Part::Unknown("not read".into()),
            subscribed_skus: Part::Unknown("not read".into()),
        };
        let export = EntraExport {
            graph_url: "http://127.0.0.1:1/",
            select: &[],
            users: &users,
            tenant: &tenant,
            groups: None,
            contacts: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("tenant");
        export.write(&target).unwrap();
        let mut inside: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        inside.sort();
        // Unknown parts are not written: a reader then says why they are unknown.
        assert_eq!(inside, ["domains.json", "roleAssignments.json", USERS_FILE]);
        let doc: Value =
            serde_json::from_slice(&std::fs::read(target.join("domains.json")).unwrap()).unwrap();
        assert_eq!(
            doc,
            json!({"@odata.context": "http://127.0.0.1:1/v1.0/$metadata#domains",
                "value": [{"id": "contoso.com", "isVerified": true, "isInitial": false}]})
        );
        let back = EntraSnapshot::open(&target)
            .unwrap()
            .read_tenant_docs()
            .unwrap();
        assert_eq!(back.domains, tenant.domains);
        assert_eq!(back.role_assignments, tenant.role_assignments);
        assert!(
            back.sync
                .why_unknown()
                .unwrap()
                .contains("has no onPremisesSynchronization.json")
        );
    }

    #[tokio::test]
    async fn groups_and_contacts_are_written_as_graph_answers_and_read_back() {
        use crate::directory::EntraGroupRead;
        let users = cloud_users();
        let group = |v: Value| CloudGroup::from_graph(v.as_object().unwrap()).unwrap();
        let groups = vec![
            group(
                json!({"id": "g1", "displayName": "Sales", "mailEnabled": false,
                "securityEnabled": true, "members": [{"id": users[0].id()}, {"id": "g2"}]}),
            ),
            group(json!({"id": "g2", "displayName": "Nested", "members": []})),
            // Members not read stay unknown: no `members` key is written for it.
            group(json!({"id": "g3", "displayName": "Unread"})),
        ];
        let contacts = vec![
            CloudContact::from_graph(
                json!({"id": "c1", "displayName": "Partner", "mail": "p@partner.example"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("tenant");
        EntraExport {
            graph_url: GRAPH_URL,
            select: &[],
            users: &users,
            tenant: &Default::default(),
            groups: Some(&groups),
            contacts: Some(&contacts),
        }
        .write(&target)
        .unwrap();
        let doc: Value =
            serde_json::from_slice(&std::fs::read(target.join(GROUPS_FILE)).unwrap()).unwrap();
        assert_eq!(
            doc["@odata.context"],
            format!(
                "{GRAPH_URL}/v1.0/$metadata#groups({},members(id))",
                GROUP_PROPERTIES.join(",")
            )
        );
        assert_eq!(
            doc["value"][0]["members"],
            json!([{"id": users[0].id()}, {"id": "g2"}])
        );
        assert!(doc["value"][2].get("members").is_none());
        let mut snap = EntraSnapshot::open(&target).unwrap();
        assert_eq!(snap.read_groups().await.unwrap(), groups);
        assert_eq!(snap.read_contacts().await.unwrap(), contacts);
        assert_eq!(snap.groups_unread(), None);

        // Kinds the source did not know are left out, never written as "none".
        EntraExport {
            graph_url: GRAPH_URL,
            select: &[],
            users: &users,
            tenant: &Default::default(),
            groups: None,
            contacts: None,
        }
        .write(&target)
        .unwrap();
        assert!(!target.join(GROUPS_FILE).exists() && !target.join(CONTACTS_FILE).exists());
    }

    #[test]
    fn a_rewritten_folder_is_replaced_whole_and_leftovers_are_cleaned() {
        let users = cloud_users();
        let select = vec!["mail".to_owned()];
        let export = EntraExport {
            graph_url: GRAPH_URL,
            select: &select,
            users: &users,
            tenant: &Default::default(),
            groups: None,
            contacts: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("tenant");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("stale.json"), "{}").unwrap();
        // What a killed run leaves: a half-built folder.
        std::fs::create_dir(dir.path().join(".tenant.abc123.tmp")).unwrap();
        export.write(&target).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["tenant"]);
        let inside: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(inside, [USERS_FILE]);
    }

    #[test]
    fn an_old_folder_moved_aside_by_a_killed_run_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("tenant");
        let aside = dir.path().join(".tenant.abc123.old");
        std::fs::create_dir(&aside).unwrap();
        std::fs::write(aside.join(USERS_FILE), "[]").unwrap();
        clean_leftovers(dir.path(), "tenant", &target);
        assert_eq!(
            std::fs::read_to_string(target.join(USERS_FILE)).unwrap(),
            "[]"
        );
        assert!(!aside.exists());
    }

    #[test]
    fn targets_of_the_wrong_kind_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("entra.json");
        std::fs::write(&file, "[]").unwrap();
        let users = cloud_users();
        let export = EntraExport {
            graph_url: GRAPH_URL,
            select: &[],
            users: &users,
            tenant: &Default::default(),
            groups: None,
            contacts: None,
        };
        let err = export.write(&file).unwrap_err().to_string();
        assert!(err.contains("is not a folder"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "[]");
        let err = check_target(dir.path(), Shape::File)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a folder"), "{err}");
        assert!(check_target(&dir.path().join("new"), Shape::Folder).is_ok());
    }

    #[test]
    fn the_export_reads_what_the_scope_filter_tests() {
        let mut q = query();
        q.filter =
            Some(Filter::parse("(&(employeeType=staff)(!(|(info=x*)(DisplayName=a))))").unwrap());
        let names: Vec<String> = ad_export_query(&q)
            .attributes
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        assert_eq!(
            names,
            ["displayName", "title", "department", "employeeType", "info"]
        );
    }

    #[test]
    fn a_folder_path_opens_its_users_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(entra_users_file(dir.path()), dir.path().join(USERS_FILE));
        let file = dir.path().join("entra.json");
        assert_eq!(entra_users_file(&file), file);
    }
}
