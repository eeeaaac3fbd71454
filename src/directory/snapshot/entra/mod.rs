//! The Entra snapshot: a users export, read in every shape admins make one (Graph's
//! `{"value":[…]}`, a bare array as `az ad user list` writes, a complete delta round,
//! Microsoft Graph PowerShell's `ConvertTo-Json`; UTF-8 or UTF-16, see [`export`]), and
//! written back losslessly (only the users written change, see [`layout`]).
//!
//! Writes answer as Graph answers the same request (see [`write`]).

mod collection;
mod export;
mod groups;
mod layout;
mod licenses;
mod properties;
mod read;
mod tenant;
mod write;

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

// foldhash: the keys are short and read from a file the admin chose; SipHash's DoS resistance
// buys nothing here.
use foldhash::HashMap;

use serde_json::{Map, Value};

pub use export::{ExportShape, TextEncoding};
pub use graph_rules::SYNCED_OBJECT_MESSAGE;
pub use read::EntraPlanRead;

use super::{SnapshotError, SnapshotFile};
use crate::directory::model::{CloudUser, Prop};
use crate::directory::{DirectoryError, EntraOp, EntraUserRead, EntraUserWrite, Flush};
use crate::names::{AttrName, fold};
use collection::Origin;
use layout::ArrayLayout;

/// A users export standing in for an Entra ID tenant.
#[derive(Debug)]
pub struct EntraSnapshot {
    file: SnapshotFile,
    /// The snapshot folder the users file sits in, when it was opened as one (its tenant
    /// files are read from there); `None` for a plain users file.
    folder: Option<std::path::PathBuf>,
    shape: ExportShape,
    encoding: TextEncoding,
    /// The text as read (or last written): the rewrite copies what it does not change.
    text: String,
    /// Where the users array sits in `text` (for the shapes that are written back).
    array: Option<ArrayLayout>,
    /// Each user, as its text or as a map (see [`EntraSnapshot::object`]).
    users: Vec<Slot>,
    /// Where each user came from, parallel to `users`.
    origins: Vec<Origin>,
    /// Built at the first lookup or write (see [`EntraSnapshot::index`]): a plan only reads.
    index: std::cell::OnceCell<Index>,
    /// The users as [`EntraSnapshot::open`] checked them, handed out by the first
    /// [`EntraSnapshot::users`] (`None` after that, or after a write).
    decoded: Mutex<Option<Vec<CloudUser>>>,
    /// Every user's map, built by [`EntraSnapshot::user_objects`] (until the next write).
    objects: std::cell::OnceCell<Vec<Map<String, Value>>>,
    /// Every property the export's users carry (its `$select`), found at the first create.
    columns: std::cell::OnceCell<Vec<String>>,
    dirty: bool,
    /// `groups.json` and `contacts.json`, read at the first read or write of either.
    groups: Option<groups::Kinds>,
}

/// One user: the text of its element of the array, as read (or last written), or a map
/// (written since, or converted on read: a PowerShell export, a delta round).
#[derive(Debug)]
enum Slot {
    /// Element `n` of [`EntraSnapshot::array`]; `licensed` unless it surely holds no license
    /// (see [`holds_licenses`]).
    Text {
        n: usize,
        licensed: bool,
    },
    Owned(Map<String, Value>),
}

/// Whether a user may hold licenses: it carries `assignedLicenses`, and it or
/// `licenseAssignmentStates` is a non-empty array (else `grants_of` finds none).
fn holds_licenses(user: &Map<String, Value>) -> bool {
    licenses_held(|key| user.get(key).map(|v| v.as_array().map_or(0, Vec::len)))
}

/// [`holds_licenses`] of a user read from its text by [`CloudUser::from_graph_text`], which
/// takes only keys spelled exactly as their names' first spelling: where that is the key
/// asked for, the property is what the map's exact lookup finds; else the map has no such key.
fn decoded_holds_licenses(user: &CloudUser) -> bool {
    licenses_held(|key| {
        let name = AttrName::new(key);
        let held = (name.as_str() == key).then(|| user.properties.get(name));
        held.flatten().map(|p| match p {
            Prop::List(items) => items.iter().count(),
            Prop::Json(v) => v.as_array().map_or(0, Vec::len),
            Prop::Text(_) => 0,
        })
    })
}

/// The rule of [`holds_licenses`], over a lookup giving a present key's array length (0 for
/// anything but an array).
fn licenses_held(len: impl Fn(&str) -> Option<usize>) -> bool {
    let some = |key| len(key).is_some_and(|n| n > 0);
    len("assignedLicenses").is_some()
        && (some("assignedLicenses") || some("licenseAssignmentStates"))
}

/// Folded unique keys to user positions.
#[derive(Debug, Default)]
struct Index {
    by_id: HashMap<String, usize>,
    by_upn: HashMap<String, usize>,
    by_immutable_id: HashMap<String, usize>,
    /// Every SMTP address (`mail` and `smtp:` proxy addresses).
    by_address: HashMap<String, usize>,
    /// Whether two users were found holding one value (an export Graph would not give): each
    /// map keeps the first, and a delete then builds the index again to find the next.
    shared: bool,
}

impl Index {
    fn build<'u>(users: impl IntoIterator<Item = Cow<'u, Map<String, Value>>>) -> Index {
        let mut index = Index::default();
        for (i, user) in users.into_iter().enumerate() {
            index.add(&user, i);
        }
        index
    }

    /// The id and the values Graph keeps unique ([`graph_rules::write::unique_values`]).
    fn keys(user: &Map<String, Value>, mut each: impl FnMut(Key, String)) {
        if let Some(id) = user.get("id").and_then(Value::as_str) {
            each(Key::Id, fold(id));
        }
        for (which, v) in graph_rules::write::unique_values(user) {
            each(Key::of(which), fold(v));
        }
    }

    fn map(&mut self, key: Key) -> &mut HashMap<String, usize> {
        match key {
            Key::Id => &mut self.by_id,
            Key::Upn => &mut self.by_upn,
            Key::ImmutableId => &mut self.by_immutable_id,
            Key::Address => &mut self.by_address,
        }
    }

    fn add(&mut self, user: &Map<String, Value>, i: usize) {
        Self::keys(user, |key, value| {
            let holder = *self.map(key).entry(value).or_insert(i);
            self.shared |= holder != i;
        });
    }

    fn remove(&mut self, user: &Map<String, Value>, i: usize) {
        Self::keys(user, |key, value| {
            let map = self.map(key);
            if map.get(&value) == Some(&i) {
                map.remove(&value);
            }
        });
    }

    /// User `i` (`user`) was deleted and the users after it moved up one. `false` when the
    /// index is to be built again instead (a value had two holders: the next one takes it).
    fn delete(&mut self, user: &Map<String, Value>, i: usize) -> bool {
        if self.shared {
            return false;
        }
        self.remove(user, i);
        for map in [
            &mut self.by_id,
            &mut self.by_upn,
            &mut self.by_immutable_id,
            &mut self.by_address,
        ] {
            for at in map.values_mut().filter(|at| **at > i) {
                *at -= 1;
            }
        }
        true
    }

    /// Another user than `me` holding the value.
    fn holder(&self, key: Key, value: &str, me: Option<usize>) -> Option<usize> {
        let map = match key {
            Key::Id => &self.by_id,
            Key::Upn => &self.by_upn,
            Key::ImmutableId => &self.by_immutable_id,
            Key::Address => &self.by_address,
        };
        map.get(&fold(value)).copied().filter(|&i| Some(i) != me)
    }
}

/// The properties [`Index::keys`] reads.
const INDEX_KEYS: &[&str] = &[
    "id",
    "userPrincipalName",
    "onPremisesImmutableId",
    "mail",
    "proxyAddresses",
];

#[derive(Debug, Clone, Copy)]
enum Key {
    Id,
    Upn,
    ImmutableId,
    Address,
}

impl EntraSnapshot {
    /// Reads and checks a Graph users export (a snapshot folder: its `users.json`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SnapshotError> {
        Self::open_with(path.as_ref(), true)
    }

    /// As [`EntraSnapshot::open`]; `for_writes: false` for [`EntraPlanRead`], which refuses
    /// writes.
    fn open_with(path: &Path, for_writes: bool) -> Result<Self, SnapshotError> {
        let folder = path.is_dir().then(|| path.to_owned());
        let path = &super::export::entra_users_file(path);
        let (file, bytes) = SnapshotFile::read_with(path, for_writes)?;
        let read = export::read_owned(path, bytes)?;
        let user_error = |element: usize, message: String| {
            collection::element_error(
                path,
                (&read.spans, &read.text),
                export::USERS,
                element,
                message,
            )
        };
        // Each user is read from its text (or was converted on read), checked and indexed;
        // only what the snapshot keeps stays: the text, and the user as a `CloudUser`.
        let count = if read.verbatim {
            read.spans.len()
        } else {
            read.users.len()
        };
        let mut users = Vec::with_capacity(count);
        let mut origins = Vec::with_capacity(count);
        let mut decoded = Vec::with_capacity(count);
        let mut ids = collection::Ids::with_capacity(count);
        let mut owned = read.users.into_iter();
        for _ in 0..count {
            let (element, mut slot) = match owned.next() {
                Some((element, user)) => (element, Slot::Owned(user)),
                None => (
                    users.len(),
                    Slot::Text {
                        n: users.len(),
                        licensed: true,
                    },
                ),
            };
            let fast = match &slot {
                Slot::Text { n, .. } => read
                    .text
                    .get(read.spans[*n].clone())
                    .and_then(CloudUser::from_graph_text),
                Slot::Owned(_) => None,
            };
            let (cloud, licenses) = if let Some(cloud) = fast {
                (ids.add(cloud.id(), element, export::USERS))
                    .map_err(|m| user_error(element, m))?;
                let licenses = decoded_holds_licenses(&cloud);
                (cloud, licenses)
            } else {
                let user = match &slot {
                    Slot::Owned(user) => Cow::Borrowed(user),
                    Slot::Text { n, .. } => Cow::Owned(
                        export::object_at(&read.text, read.spans[*n].clone()).ok_or_else(
                            // Cannot happen: export::read read it as an object.
                            || user_error(element, "expected a JSON object".into()),
                        )?,
                    ),
                };
                let cloud = CloudUser::from_graph(&user).map_err(|mut m| {
                    if read.shape == ExportShape::PowerShell && m.starts_with("no ") {
                        // The SDK writes what `-Property` did not select as null (then dropped).
                        m.push_str(" (a PowerShell export holds only what -Property selected: include Id and UserPrincipalName)");
                    }
                    user_error(element, m)
                })?;
                (ids.add(cloud.id(), element, export::USERS))
                    .map_err(|m| user_error(element, m))?;
                (cloud, holds_licenses(&user))
            };
            if let Slot::Text { licensed, .. } = &mut slot {
                *licensed = licenses;
            }
            users.push(slot);
            origins.push(Origin::Read {
                element,
                changed: false,
            });
            decoded.push(cloud);
        }
        Ok(EntraSnapshot {
            file,
            folder,
            shape: read.shape,
            encoding: read.encoding,
            text: read.text,
            array: read.array,
            index: Default::default(),
            users,
            origins,
            decoded: Mutex::new(Some(decoded)),
            objects: Default::default(),
            columns: Default::default(),
            dirty: false,
            groups: None,
        })
    }

    /// Which tool wrote the export (for notes and messages).
    pub fn shape(&self) -> ExportShape {
        self.shape
    }

    /// The export's text encoding (it is written back in the same one).
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// Each user as the export carried it, in Graph's camelCase: a key is present exactly
    /// when the export carried the property, and `null` only when it said null (absent is
    /// unknown, not null; see [`ExportShape`] for the shapes where a null cannot be read).
    ///
    /// The maps are built at the first call and kept until the next write (the snapshot
    /// itself keeps users as their text: see [`EntraSnapshot::object`]).
    pub fn user_objects(&self) -> &[Map<String, Value>] {
        self.objects.get_or_init(|| {
            (0..self.users.len())
                .map(|i| self.object(i).into_owned())
                .collect()
        })
    }

    /// User `i` as a map: read from its text, or the one held.
    fn object(&self, i: usize) -> Cow<'_, Map<String, Value>> {
        match &self.users[i] {
            Slot::Owned(user) => Cow::Borrowed(user),
            // Cannot fail: the element was read as an object (`open`, or `reread` after the
            // text was written from the users).
            Slot::Text { n, .. } => Cow::Owned(self.span(*n).map_or_else(Map::new, |span| {
                export::object_at(&self.text, span).unwrap_or_default()
            })),
        }
    }

    /// The members `names` of user `i` (a user held as a map: all of them), for scans that
    /// look at a few properties of every user without reading the rest.
    fn members(&self, i: usize, names: &[&str]) -> Cow<'_, Map<String, Value>> {
        let Slot::Text { n, .. } = self.users[i] else {
            return self.object(i);
        };
        let layout = self
            .span(n)
            .and_then(|s| layout::object(&self.text, s.start));
        let mut out = Map::new();
        for m in layout.map(|l| l.members).unwrap_or_default() {
            if names.contains(&m.key.as_ref())
                && let Some(value) = export::value_at(&self.text, m.value)
            {
                out.insert(m.key.into_owned(), value);
            }
        }
        Cow::Owned(out)
    }

    /// Where element `n` of the users array sits in the text.
    fn span(&self, n: usize) -> Option<std::ops::Range<usize>> {
        self.array.as_ref()?.elements.get(n).cloned()
    }

    /// A write changed the users: the file is to be written, and what was decoded is stale.
    fn touched(&mut self) {
        self.dirty = true;
        *self
            .decoded
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.objects.take();
    }

    /// Whether `apply` may write this export; the refusal says what to do instead.
    pub fn writable(&self) -> Result<(), SnapshotError> {
        if self.shape.writable() && self.array.is_some() {
            return Ok(());
        }
        Err(SnapshotError::WriteRefused {
            path: self.file.path.clone(),
            message: format!(
                "it is {}, which idsync reads but does not write back; make a snapshot with `idsync snapshot --from entra` and apply against that",
                self.shape.describe()
            ),
        })
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Whether there are writes not yet flushed.
    pub fn is_dirty(&self) -> bool {
        self.dirty || self.groups.as_ref().is_some_and(|k| k.is_dirty())
    }

    /// Every user (a snapshot holds what it holds, whatever `$select` asked).
    pub fn users(&self) -> Result<Vec<CloudUser>, DirectoryError> {
        let decoded = self
            .decoded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match decoded {
            Some(users) => Ok(users),
            None => (0..self.users.len())
                .map(|i| self.convert(&self.object(i)))
                .collect(),
        }
    }

    /// One user by object id (or userPrincipalName, as Graph's `/users/{id}` accepts).
    pub fn user(&self, key: &str) -> Result<Option<CloudUser>, DirectoryError> {
        self.find(key)
            .map(|i| self.convert(&self.object(i)))
            .transpose()
    }

    fn convert(&self, user: &Map<String, Value>) -> Result<CloudUser, DirectoryError> {
        CloudUser::from_graph(user).map_err(|message| {
            DirectoryError::Other(format!("{}: {message}", self.file.path.display()))
        })
    }

    fn find(&self, key: &str) -> Option<usize> {
        let index = self.index();
        index
            .holder(Key::Id, key, None)
            .or_else(|| index.holder(Key::Upn, key, None))
    }

    /// The users' unique values, built from the users as they are at the first call (each
    /// write keeps it up to date from then on).
    fn index(&self) -> &Index {
        self.index.get_or_init(|| {
            Index::build((0..self.users.len()).map(|i| self.members(i, INDEX_KEYS)))
        })
    }

    fn index_mut(&mut self) -> &mut Index {
        self.index();
        self.index.get_mut().expect("built by index()")
    }

    /// Applies one write as Graph would.
    pub fn apply(&mut self, op: EntraOp) -> Result<Option<CloudUser>, DirectoryError> {
        self.writable()?;
        // Built from the users before this write changes them.
        self.index();
        match op {
            EntraOp::Create(body) => self.create(body).map(Some),
            EntraOp::Update { id, patch } => self.update(&id, patch).map(Some),
            EntraOp::Delete { id } => self.delete(&id).map(|()| None),
            EntraOp::AssignLicense { id, add, remove } => {
                self.assign_user_license(&id, add, remove).map(Some)
            }
            EntraOp::AddMember { id, .. } | EntraOp::RemoveMember { id, .. } => {
                Err(DirectoryError::Refused {
                    object: id,
                    message: "a user has no members".into(),
                    code: Some("Request_BadRequest".into()),
                })
            }
        }
    }

    /// Rewrites the file atomically if anything changed, otherwise writes nothing. Only the
    /// users written change: every other byte stays, in the file's own encoding.
    ///
    /// Each file of the folder is replaced by one rename; every file to be written is checked
    /// first, so a folder someone changed meanwhile is not written at all.
    pub fn save(&mut self) -> Result<(), SnapshotError> {
        if self.dirty {
            self.writable()?;
            self.file.unchanged()?;
        }
        if let Some(kinds) = self.groups.as_ref().filter(|k| k.is_dirty()) {
            kinds.check_writable_unchanged()?;
        }
        if self.dirty {
            let text = self.render();
            self.file.replace(&self.encoding.encode(&text))?;
            self.reread(text);
            self.dirty = false;
        }
        if let Some(kinds) = &mut self.groups {
            kinds.save()?;
        }
        Ok(())
    }

    /// The export's text with the users as they are now.
    fn render(&self) -> String {
        collection::render(
            &self.text,
            self.array.as_ref(),
            &|i| self.object(i),
            &self.origins,
        )
    }

    /// After a write, `text` is what the file holds: later writes splice into it.
    fn reread(&mut self, text: String) {
        match collection::reread(&text, self.array.as_ref(), self.users.len()) {
            Some((array, origins)) => {
                self.array = Some(array);
                self.origins = origins;
                // Each user is element `i` of the new text, unchanged users as they were.
                for (i, slot) in self.users.iter_mut().enumerate() {
                    if let Slot::Text { n, .. } = slot {
                        *n = i;
                    }
                }
            }
            // Cannot happen; then further writes are refused rather than guessed (and the
            // users read from the text are kept as maps).
            None => {
                for i in 0..self.users.len() {
                    if let Slot::Text { .. } = self.users[i] {
                        self.users[i] = Slot::Owned(self.object(i).into_owned());
                    }
                }
                self.array = None;
            }
        }
        self.text = text;
    }
}

impl EntraUserRead for EntraSnapshot {
    async fn read_users(&mut self, _select: &[String]) -> Result<Vec<CloudUser>, DirectoryError> {
        self.users()
    }

    async fn read_user(&mut self, id: &str) -> Result<Option<CloudUser>, DirectoryError> {
        self.user(id)
    }
}

impl EntraUserWrite for EntraSnapshot {
    async fn write_users(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudUser>, DirectoryError>> {
        writes.into_iter().map(|op| self.apply(op)).collect()
    }
}

impl Flush for EntraSnapshot {
    async fn flush(&mut self) -> Result<(), DirectoryError> {
        Ok(self.save()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::model::Guid;
    use serde_json::json;
    use std::fs;
    use std::path::PathBuf;

    /// A user read from its text holds licenses exactly when its map says so.
    #[test]
    fn licenses_are_seen_alike_from_the_text_and_from_the_map() {
        let cases = [
            "",
            r#", "assignedLicenses": []"#,
            r#", "assignedLicenses": null"#,
            r#", "assignedLicenses": [{"skuId": "s"}]"#,
            r#", "assignedLicenses": ["s"]"#,
            r#", "assignedLicenses": "s""#,
            r#", "assignedLicenses": [], "licenseAssignmentStates": [{"skuId": "s"}]"#,
            r#", "assignedLicenses": [], "licenseAssignmentStates": []"#,
            r#", "licenseAssignmentStates": [{"skuId": "s"}]"#,
            r#", "assignedLicenses": {}, "licenseAssignmentStates": ["x"]"#,
        ];
        let mut held = 0;
        for case in cases {
            let text = format!(r#"{{"id": "1", "userPrincipalName": "a@x"{case}}}"#);
            let map: Map<String, Value> = serde_json::from_str(&text).unwrap();
            let user = CloudUser::from_graph_text(&text).expect("the plain shape");
            assert_eq!(
                decoded_holds_licenses(&user),
                holds_licenses(&map),
                "{text}"
            );
            held += usize::from(holds_licenses(&map));
        }
        assert_eq!(held, 4);
    }

    /// `GET /v1.0/users?$select=id,userPrincipalName,mail,…` as Graph returns it, pretty-printed
    /// the way idsync writes files, with properties idsync does not know.
    const EXPORT: &str = r#"{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,mail,mailNickname,proxyAddresses,onPremisesImmutableId,onPremisesSyncEnabled,accountEnabled,userType,displayName,usageLocation,onPremisesExtensionAttributes)",
  "value": [
    {
      "id": "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01",
      "userPrincipalName": "adam.anderson@example.com",
      "displayName": "Adam Anderson",
      "mail": "adam.anderson@example.com",
      "mailNickname": "adam.anderson",
      "proxyAddresses": [
        "SMTP:adam.anderson@example.com",
        "smtp:adam@example.onmicrosoft.com"
      ],
      "onPremisesImmutableId": "BpazOkLGm0iEtljAONPvOQ==",
      "onPremisesSyncEnabled": true,
      "accountEnabled": true,
      "userType": "Member",
      "usageLocation": "SE",
      "onPremisesExtensionAttributes": {
        "extensionAttribute1": "cost-center-17",
        "extensionAttribute2": null
      }
    },
    {
      "id": "9f1d2e3c-0000-4a5b-8c7d-112233445566",
      "userPrincipalName": "alva.wood@example.com",
      "displayName": "Alva Wood",
      "mail": "alva.wood@example.com",
      "mailNickname": "alva.wood",
      "proxyAddresses": [
        "SMTP:alva.wood@example.com"
      ],
      "onPremisesImmutableId": null,
      "onPremisesSyncEnabled": null,
      "accountEnabled": true,
      "userType": "Member",
      "usageLocation": null,
      "x-custom": [
        1,
        2.5,
        {
          "nested": "kept"
        }
      ]
    },
    {
      "id": "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff",
      "userPrincipalName": "guest_contoso.com#EXT#@example.onmicrosoft.com",
      "displayName": "Guest",
      "mail": "guest@contoso.com",
      "mailNickname": "guest_contoso.com#EXT#",
      "proxyAddresses": [],
      "accountEnabled": true,
      "userType": "Guest"
    }
  ],
  "@odata.nextLink": null
}
"#;

    const ADAM: &str = "4c2f9a52-3c43-4b6e-9a10-0d3b1a1e7c01";
    const ALVA: &str = "9f1d2e3c-0000-4a5b-8c7d-112233445566";

    fn write(content: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("entra.json");
        fs::write(&path, content).unwrap();
        (dir, path)
    }

    fn open(content: &str) -> (tempfile::TempDir, PathBuf, EntraSnapshot) {
        let (dir, path) = write(content);
        let snap = EntraSnapshot::open(&path).unwrap_or_else(|e| panic!("{e}"));
        (dir, path, snap)
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn new_user(upn: &str) -> Map<String, Value> {
        obj(json!({
            "accountEnabled": true,
            "displayName": "New User",
            "mailNickname": "new.user",
            "userPrincipalName": upn,
            "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"}
        }))
    }

    fn refusal(r: Result<Option<CloudUser>, DirectoryError>) -> String {
        match r {
            Err(DirectoryError::Refused { message, code, .. }) => {
                assert_eq!(code.as_deref(), Some("Request_BadRequest"));
                message
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn after_a_delete_the_users_after_it_keep_their_keys() {
        let (_d, _p, mut snap) = open(EXPORT);
        let before = snap.users().unwrap();
        snap.apply(EntraOp::Delete { id: ADAM.into() }).unwrap();
        assert_eq!(snap.users().unwrap(), before[1..]);
        let guest = "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff";
        for (key, id) in [
            (ALVA, ALVA),
            ("ALVA.WOOD@example.com", ALVA),
            (guest, guest),
            ("guest_contoso.com#EXT#@example.onmicrosoft.com", guest),
        ] {
            assert_eq!(
                snap.user(key).unwrap().map(|u| u.id().to_owned()),
                Some(id.into())
            );
        }
        let with_mail = |upn: &str, mail: &str| {
            let mut body = new_user(upn);
            body.insert("mail".into(), json!(mail));
            EntraOp::Create(body)
        };
        assert!(
            snap.apply(with_mail("a@example.com", "adam@example.onmicrosoft.com"))
                .is_ok()
        );
        assert_eq!(
            refusal(snap.apply(with_mail("b@example.com", "guest@contoso.com"))),
            "Another object with the same value for property proxyAddresses already exists."
        );
    }

    /// An export Graph would not give (two users with one address): the address stays held
    /// while either user is left.
    #[test]
    fn a_value_two_users_hold_stays_held_after_one_is_deleted() {
        let (_d, _p, mut snap) = open(
            r#"[{"id": "1", "userPrincipalName": "a@x.com", "mail": "same@x.com"},
                {"id": "2", "userPrincipalName": "b@x.com", "mail": "same@x.com"},
                {"id": "3", "userPrincipalName": "c@x.com"}]"#,
        );
        snap.apply(EntraOp::Delete { id: "1".into() }).unwrap();
        let mut body = new_user("d@x.com");
        body.insert("mail".into(), json!("same@x.com"));
        assert_eq!(
            refusal(snap.apply(EntraOp::Create(body))),
            "Another object with the same value for property proxyAddresses already exists."
        );
        assert_eq!(
            snap.user("c@x.com").unwrap().map(|u| u.id().to_owned()),
            Some("3".into())
        );
    }

    #[tokio::test]
    async fn reads_a_graph_export() {
        let (_d, _p, mut snap) = open(EXPORT);
        let users = snap.read_users(&[]).await.unwrap();
        assert_eq!(users.len(), 3);
        let adam = &users[0];
        assert_eq!(adam.id(), ADAM);
        assert_eq!(adam.upn(), "adam.anderson@example.com");
        assert_eq!(adam.mail(), Some("adam.anderson@example.com"));
        assert_eq!(adam.mail_nickname(), Some("adam.anderson"));
        assert_eq!(adam.proxy_addresses().count(), 2);
        assert_eq!(adam.immutable_id(), Some("BpazOkLGm0iEtljAONPvOQ=="));
        assert!(adam.sync_enabled);
        assert_eq!(adam.account_enabled, Some(true));
        assert_eq!(adam.user_type(), Some("Member"));
        assert_eq!(adam.text("displayName"), Some("Adam Anderson"));
        assert_eq!(
            adam.properties
                .value("onPremisesExtensionAttributes")
                .unwrap()["extensionAttribute1"],
            "cost-center-17"
        );
        assert!(!adam.properties.contains_key("onPremisesSyncEnabled"));
        assert!(adam.other_properties().all(|(k, _)| k != "mail"));
        assert!(!users[1].sync_enabled, "null means cloud-only");
        assert!(users[2].is_guest());
        // By id, by UPN (any case), missing.
        assert_eq!(
            snap.read_user(ALVA).await.unwrap().unwrap().upn(),
            "alva.wood@example.com"
        );
        assert_eq!(
            snap.read_user("ALVA.WOOD@example.com")
                .await
                .unwrap()
                .unwrap()
                .id(),
            ALVA
        );
        assert!(snap.read_user("nobody").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn bare_arrays_are_written_back_as_bare_arrays() {
        let bare = r#"[{"id":"1","userPrincipalName":"a@example.com","extra":{"b":2,"a":1}}]"#;
        let (_d, path, mut snap) = open(bare);
        assert_eq!(snap.read_users(&[]).await.unwrap().len(), 1);
        snap.flush().await.unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            bare,
            "nothing changed, nothing written"
        );
        let r = snap
            .write_users(vec![EntraOp::Update {
                id: "1".into(),
                patch: obj(json!({"jobTitle": "CTO"})),
            }])
            .await;
        assert!(r[0].is_ok());
        snap.flush().await.unwrap();
        // Written back as it was, one line, with the new member appended.
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            r#"[{"id":"1","userPrincipalName":"a@example.com","extra":{"b":2,"a":1},"jobTitle":"CTO"}]"#
        );
    }

    #[test]
    fn open_errors_carry_file_line_and_column() {
        let cases = [
            (
                "{\n  \"value\": [\n    {\"id\": 1,}\n  ]\n}",
                "3:14: trailing comma",
            ),
            ("{\"value\": 3}", "1:1: expected a Graph users answer"),
            ("\"text\"", "1:1: expected a Graph users answer"),
            (
                "{\n  \"@odata.context\": \"x\",\n  \"value\": [\n    {\"id\": \"1\", \"userPrincipalName\": \"a@x.com\"},\n    {\"id\": \"2\"}\n  ]\n}",
                "5:5: user #2: no userPrincipalName",
            ),
            (
                "[\n  {\"userPrincipalName\": \"a@x.com\"}\n]",
                "2:3: user #1: no id",
            ),
            (
                "[\n  {\"id\": \"1\", \"userPrincipalName\": \"a@x.com\", \"accountEnabled\": \"yes\"}\n]",
                "2:3: user #1: accountEnabled must be true, false or null",
            ),
            (
                "[{\"id\": \"1\", \"userPrincipalName\": \"a@x.com\"}, {\"id\": \"1\", \"userPrincipalName\": \"b@x.com\"}]",
                "1:47: user #2: duplicate id 1",
            ),
            // Ids compare without case; the duplicate is reported before a later user's error.
            (
                "[{\"id\": \"AB\", \"userPrincipalName\": \"a@x.com\"},\n {\"id\": \"ab\", \"userPrincipalName\": \"b@x.com\"},\n {\"id\": \"c\"}]",
                "2:2: user #2: duplicate id ab (also user #1)",
            ),
            (
                "[{\"id\": \"a\", \"userPrincipalName\": \"a@x.com\"},\n {\"id\": \"b\"},\n {\"id\": \"a\", \"userPrincipalName\": \"b@x.com\"}]",
                "2:2: user #2: no userPrincipalName",
            ),
            ("[1]", "1:2: user #1: expected a JSON object"),
            (
                "[{\"id\": \"1\", \"userPrincipalName\": \"a@x.com\", \"proxyAddresses\": [1]}]",
                "1:2: user #1: proxyAddresses must be an array of strings",
            ),
        ];
        for (content, expected) in cases {
            let (_d, path) = write(content);
            let err = EntraSnapshot::open(&path).unwrap_err();
            let expected = format!("{}:{expected}", path.display());
            assert!(
                err.to_string().starts_with(&expected),
                "{err}\nexpected {expected}"
            );
        }
    }

    #[tokio::test]
    async fn create_mints_an_id_and_never_stores_the_password() {
        let (_d, path, mut snap) = open(EXPORT);
        let mut body = new_user("new.user@example.com");
        body.insert("mail".into(), json!("new.user@example.com"));
        body.insert(
            "onPremisesImmutableId".into(),
            json!("AAECAwQFBgcICQoLDA0ODw=="),
        );
        let results = snap.write_users(vec![EntraOp::Create(body)]).await;
        let created = results.into_iter().next().unwrap().unwrap().unwrap();
        assert!(Guid::parse(created.id()).is_some(), "{}", created.id());
        assert_eq!(
            created.proxy_addresses().collect::<Vec<_>>(),
            ["SMTP:new.user@example.com"]
        );
        assert_eq!(created.user_type(), Some("Member"));
        assert_eq!(created.immutable_id(), Some("AAECAwQFBgcICQoLDA0ODw=="));
        snap.flush().await.unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("passwordProfile") && !text.contains("xWwvJ"),
            "{text}"
        );
        let mut again = EntraSnapshot::open(&path).unwrap();
        assert_eq!(again.read_user(created.id()).await.unwrap(), Some(created));

        let mut no_mail = new_user("plain@example.com");
        no_mail.insert("mailNickname".into(), json!("plain"));
        let plain = again.apply(EntraOp::Create(no_mail)).unwrap().unwrap();
        assert!(plain.proxy_addresses().next().is_none() && plain.mail().is_none());
    }

    #[tokio::test]
    async fn create_refusals_match_graph() {
        let (_d, _p, mut snap) = open(EXPORT);
        let mut missing = new_user("x@example.com");
        missing.remove("mailNickname");
        let mut empty_name = new_user("y@example.com");
        empty_name.insert("displayName".into(), json!(""));
        let mut no_password = new_user("z@example.com");
        no_password.remove("passwordProfile");
        let duplicate = new_user("ADAM.ANDERSON@example.com");
        let mut proxies = new_user("p@example.com");
        proxies.insert("proxyAddresses".into(), json!(["SMTP:p@example.com"]));
        let bad_upn = new_user("no spaces@example.com");
        let mut bad_nickname = new_user("n@example.com");
        bad_nickname.insert("mailNickname".into(), json!("naveen.mills,.jr."));
        let mut taken_mail = new_user("m@example.com");
        taken_mail.insert("mail".into(), json!("ADAM@example.onmicrosoft.com"));
        let mut taken_anchor = new_user("t@example.com");
        taken_anchor.insert(
            "onPremisesImmutableId".into(),
            json!("BpazOkLGm0iEtljAONPvOQ=="),
        );
        let fine = new_user("fine@example.com");
        let results = snap
            .write_users(vec![
                EntraOp::Create(missing),
                EntraOp::Create(empty_name),
                EntraOp::Create(no_password),
                EntraOp::Create(duplicate),
                EntraOp::Create(proxies),
                EntraOp::Create(bad_upn),
                EntraOp::Create(bad_nickname),
                EntraOp::Create(taken_mail),
                EntraOp::Create(taken_anchor),
                EntraOp::Create(fine),
            ])
            .await;
        let mut results = results.into_iter();
        let mut next = || refusal(results.next().unwrap());
        assert_eq!(
            next(),
            "Property mailNickname value is required but is empty or missing."
        );
        assert_eq!(
            next(),
            "Property displayName value is required but is empty or missing."
        );
        assert_eq!(
            next(),
            "Property passwordProfile value is required but is empty or missing."
        );
        assert_eq!(
            next(),
            "Another object with the same value for property userPrincipalName already exists."
        );
        assert_eq!(
            next(),
            "Property 'proxyAddresses' is read-only and cannot be set."
        );
        assert_eq!(
            next(),
            "Invalid value specified for property 'userPrincipalName' of resource 'User'."
        );
        assert_eq!(
            next(),
            "Invalid value specified for property 'mailNickname' of resource 'User'."
        );
        assert_eq!(
            next(),
            "Another object with the same value for property proxyAddresses already exists."
        );
        assert_eq!(
            next(),
            "Another object with the same value for property onPremisesImmutableId already exists."
        );
        // The refusals did not stop the last write.
        assert_eq!(snap.users().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn update_follows_graph_rules() {
        let (_d, path, mut snap) = open(EXPORT);
        let patch = |v: Value| obj(v);
        let results = snap
            .write_users(vec![
                // Synced user: mastered properties refused, cloud-owned ones allowed.
                EntraOp::Update { id: ADAM.into(), patch: patch(json!({"displayName": "Adam A."})) },
                EntraOp::Update { id: ADAM.into(), patch: patch(json!({"usageLocation": "NO", "jobTitle": "ignored"})) },
                EntraOp::Update { id: ADAM.into(), patch: patch(json!({"usageLocation": "NO"})) },
                EntraOp::Update { id: ADAM.into(), patch: patch(json!({"onPremisesImmutableId": "x"})) },
                // Read-only everywhere.
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"proxyAddresses": ["SMTP:a@b.c"]})) },
                // Cloud-only user: link (hard-match preparation) and attribute updates.
                EntraOp::Update {
                    id: "Alva.Wood@example.com".into(),
                    patch: patch(json!({"onPremisesImmutableId": "8H0wvuQv+ke4sD8GxtSboA==", "jobTitle": "Engineer", "passwordProfile": {"password": "p"}})),
                },
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"userPrincipalName": "adam.anderson@EXAMPLE.com"})) },
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"onPremisesImmutableId": "BpazOkLGm0iEtljAONPvOQ=="})) },
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"displayName": null})) },
                EntraOp::Update { id: ALVA.into(), patch: patch(json!({"accountEnabled": "no"})) },
                EntraOp::Update { id: "missing".into(), patch: patch(json!({"jobTitle": "x"})) },
            ])
            .await;
        let mut results = results.into_iter();
        let mut next = || results.next().unwrap();
        assert_eq!(refusal(next()), SYNCED_OBJECT_MESSAGE);
        assert_eq!(
            refusal(next()),
            SYNCED_OBJECT_MESSAGE,
            "jobTitle is mastered; the whole patch fails"
        );
        assert_eq!(
            next().unwrap().unwrap().properties.text("usageLocation"),
            Some("NO")
        );
        assert_eq!(refusal(next()), SYNCED_OBJECT_MESSAGE);
        assert_eq!(
            refusal(next()),
            "Property 'proxyAddresses' is read-only and cannot be set."
        );
        let alva = next().unwrap().unwrap();
        assert_eq!(alva.immutable_id(), Some("8H0wvuQv+ke4sD8GxtSboA=="));
        assert_eq!(alva.text("jobTitle"), Some("Engineer"));
        assert_eq!(
            refusal(next()),
            "Another object with the same value for property userPrincipalName already exists."
        );
        assert_eq!(
            refusal(next()),
            "Another object with the same value for property onPremisesImmutableId already exists."
        );
        assert_eq!(
            refusal(next()),
            "Invalid value specified for property 'displayName' of resource 'User'."
        );
        assert_eq!(
            refusal(next()),
            "Invalid value specified for property 'accountEnabled' of resource 'User'."
        );
        assert!(matches!(next(), Err(DirectoryError::NotFound { .. })));

        snap.flush().await.unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("\"password\""));
        let again = EntraSnapshot::open(&path).unwrap();
        assert_eq!(again.users().unwrap(), snap.users().unwrap());
    }

    /// The rules the Graph emulator applies too (`graph-rules`), where the snapshot used to
    /// be laxer: property names in Graph's spelling, unknown ones and the emulator's read-only
    /// ones refused, a blank displayName or an empty password refused.
    #[tokio::test]
    async fn writes_follow_the_rules_the_emulator_shares() {
        let (_d, _p, mut snap) = open(EXPORT);
        let update = |patch: Value| EntraOp::Update {
            id: ALVA.into(),
            patch: obj(patch),
        };
        let mut empty_password = new_user("e@example.com");
        empty_password.insert("passwordProfile".into(), json!({"password": ""}));
        let results = snap
            .write_users(vec![
                update(json!({"JobTitle": "Engineer"})),
                update(json!({"favouriteColour": "blue"})),
                update(json!({"signInActivity": {}})),
                update(json!({"id": ALVA})),
                update(json!({"displayName": " "})),
                EntraOp::Create(empty_password),
            ])
            .await;
        let mut results = results.into_iter();
        let mut next = || results.next().unwrap();
        let alva = next().unwrap().unwrap();
        assert_eq!(alva.text("jobTitle"), Some("Engineer"));
        assert!(alva.other_properties().all(|(k, _)| k != "JobTitle"));
        assert_eq!(refusal(next()), "Invalid property 'favouriteColour'.");
        assert_eq!(
            refusal(next()),
            "Property 'signInActivity' is read-only and cannot be set."
        );
        assert_eq!(
            refusal(next()),
            "Property 'id' is read-only and cannot be set."
        );
        assert_eq!(
            refusal(next()),
            "Invalid value specified for property 'displayName' of resource 'User'."
        );
        assert_eq!(
            refusal(next()),
            "Property passwordProfile.password value is required but is empty or missing."
        );
    }

    #[tokio::test]
    async fn setting_mail_makes_it_the_primary_smtp_address() {
        let (_d, _p, mut snap) = open(EXPORT);
        let alva = snap
            .apply(EntraOp::Update {
                id: ALVA.into(),
                patch: obj(json!({"mail": "alva@example.com"})),
            })
            .unwrap()
            .unwrap();
        assert_eq!(alva.mail(), Some("alva@example.com"));
        assert_eq!(
            alva.proxy_addresses().collect::<Vec<_>>(),
            ["SMTP:alva@example.com", "smtp:alva.wood@example.com"]
        );
        let back = snap
            .apply(EntraOp::Update {
                id: ALVA.into(),
                patch: obj(json!({"mail": "Alva.Wood@example.com"})),
            })
            .unwrap()
            .unwrap();
        assert_eq!(
            back.proxy_addresses().collect::<Vec<_>>(),
            ["SMTP:Alva.Wood@example.com", "smtp:alva@example.com"]
        );
        let e = snap.apply(EntraOp::Update {
            id: ALVA.into(),
            patch: obj(json!({"mail": "adam.anderson@example.com"})),
        });
        assert_eq!(
            refusal(e),
            "Another object with the same value for property proxyAddresses already exists."
        );
    }

    #[tokio::test]
    async fn delete_removes_and_flush_keeps_unknown_properties() {
        let (dir, path, mut snap) = open(EXPORT);
        let r = snap
            .write_users(vec![
                EntraOp::Delete {
                    id: "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff".into(),
                },
                EntraOp::Delete {
                    id: "0b8d7c6e-1111-4f2a-9e3d-aabbccddeeff".into(),
                },
            ])
            .await;
        assert!(matches!(r[0], Ok(None)));
        assert!(matches!(r[1], Err(DirectoryError::NotFound { .. })));
        snap.flush().await.unwrap();
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["entra.json"], "no temporary file left behind");
        // The written file is the export minus the deleted user, byte for byte: same member
        // order, unknown properties and annotations kept, two-space indentation, final newline.
        let start = EXPORT.find(",\n    {\n      \"id\": \"0b8d7c6e").unwrap();
        let end = EXPORT.find("\n  ],\n  \"@odata.nextLink\"").unwrap();
        let expected = format!("{}{}", &EXPORT[..start], &EXPORT[end..]);
        assert_eq!(fs::read_to_string(&path).unwrap(), expected);

        // A file changed by someone else since it was read is not overwritten.
        snap.apply(EntraOp::Delete { id: ALVA.into() }).unwrap();
        fs::write(&path, EXPORT).unwrap();
        assert!(matches!(
            snap.flush().await,
            Err(DirectoryError::Snapshot(SnapshotError::WriteRefused { .. }))
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), EXPORT);
    }
}
