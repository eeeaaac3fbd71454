//! One collection file of the snapshot (`users.json`, `groups.json`, `contacts.json`) as objects
//! in memory that remember where in the text they came from, and its lossless rewrite: objects
//! not written keep their bytes, written ones keep every member whose value stayed (see
//! [`layout`]).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::export::{self, ExportShape, Kind, TextEncoding};
use super::layout::{self, ArrayLayout, Item};
use crate::directory::snapshot::{SnapshotError, SnapshotFile};
use crate::names::fold;

/// Where an object in memory came from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Origin {
    /// Element `element` of the array, `changed` by a write since.
    Read { element: usize, changed: bool },
    /// Created by a write.
    Created,
}

/// The text of an export with its array holding its objects as they are now: one for each of
/// `origins`, object `i` being `object(i)` (asked for only when it was written).
pub(super) fn render<'o>(
    text: &str,
    array: Option<&ArrayLayout>,
    object: &dyn Fn(usize) -> Cow<'o, Map<String, Value>>,
    origins: &[Origin],
) -> String {
    let Some(array) = array else {
        return text.to_owned();
    };
    let items: Vec<Item> = (origins.iter().enumerate())
        .map(|(i, origin)| match *origin {
            Origin::Read {
                element,
                changed: false,
            } => Item::Keep(element),
            Origin::Read {
                element,
                changed: true,
            } => Item::Edit(element, edited(text, array, element, &object(i))),
            Origin::Created => Item::Add(layout::new_element(
                text,
                array,
                &Value::Object(object(i).into_owned()),
            )),
        })
        .collect();
    layout::rewrite_array(text, array, &items)
}

/// The text of array element `element` changed to hold `object`.
fn edited(text: &str, array: &ArrayLayout, element: usize, object: &Map<String, Value>) -> String {
    let parts = array.elements.get(element).and_then(|span| {
        let layout = layout::object(text, span.start)?;
        let before = serde_json::from_str::<Map<String, Value>>(text.get(span.clone())?);
        Some((layout, before.ok()?))
    });
    match parts {
        Some((layout, before)) => layout::edit_object(text, &layout, &before, object),
        // Cannot happen (the text was read as JSON); render the object whole rather than lose it.
        None => layout::new_element(text, array, &Value::Object(object.clone())),
    }
}

/// After a write, where the array of the new `text` is (it starts where it did: everything
/// before it was copied) and every object's new origin; `None` when it cannot be found
/// again, and then further writes are refused rather than guessed.
pub(super) fn reread(
    text: &str,
    array: Option<&ArrayLayout>,
    count: usize,
) -> Option<(ArrayLayout, Vec<Origin>)> {
    let array = layout::array(text, array?.open)?;
    if array.elements.len() != count {
        return None;
    }
    let origins = (0..count)
        .map(|element| Origin::Read {
            element,
            changed: false,
        })
        .collect();
    Some((array, origins))
}

/// Decodes one object as read, or says what is wrong with it.
pub(super) type FromMap<T> = dyn Fn(&Map<String, Value>) -> Result<T, String>;

/// Decodes one object from its JSON text, or says what is wrong with it.
pub(super) type FromText<T> = dyn Fn(&str) -> Result<T, String>;

/// Checks one object as read: its id, or what is wrong with it.
pub(super) type Check = dyn Fn(&Map<String, Value>) -> Result<String, String>;

/// `groups.json` or `contacts.json` of a snapshot folder.
#[derive(Debug)]
pub(super) struct Collection {
    pub kind: Kind,
    /// The file (for a plain users file: that file, beside which nothing is written).
    path: PathBuf,
    /// `None` for a plain users file (no folder: nothing can be written beside it).
    file: Option<SnapshotFile>,
    /// Why the collection is unknown (no such file, or no folder); `None` when it was read.
    pub unknown: Option<String>,
    shape: ExportShape,
    encoding: TextEncoding,
    text: String,
    array: Option<ArrayLayout>,
    pub objects: Vec<Map<String, Value>>,
    origins: Vec<Origin>,
    dirty: bool,
}

/// A collection file as found: no folder to hold it, no such file, or the file read.
enum Read {
    NoFolder(String),
    NoFile(PathBuf, String),
    File(PathBuf, SnapshotFile, export::Export),
}

/// Reads `name` of the snapshot folder (`for_writes`: with the digest later writes check).
fn read_file(
    folder: Option<&Path>,
    users_file: &Path,
    name: &str,
    kind: Kind,
    for_writes: bool,
) -> Result<Read, SnapshotError> {
    let Some(folder) = folder else {
        return Ok(Read::NoFolder(format!(
            "{} is a users file, not a snapshot folder (a folder holding users.json and {name})",
            users_file.display()
        )));
    };
    let path: PathBuf = folder.join(name);
    let (file, bytes) = match SnapshotFile::read_with(&path, for_writes) {
        Ok(read) => read,
        Err(SnapshotError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            let why = format!("the snapshot folder {} has no {name}", folder.display());
            return Ok(Read::NoFile(path, why));
        }
        Err(e) => return Err(e),
    };
    let read = export::read_kind(&path, &bytes, kind)?;
    Ok(Read::File(path, file, read))
}

/// What is wrong with element `element` of the export, located at its start.
pub(super) fn element_error(
    path: &Path,
    (spans, text): (&[std::ops::Range<usize>], &str),
    kind: Kind,
    element: usize,
    message: String,
) -> SnapshotError {
    let offset = spans.get(element).map_or(0, |s| s.start);
    export::object_error(path, text, kind, element, offset, message)
}

/// The ids read so far (Graph compares them without case), for the duplicate check.
#[derive(Default)]
pub(super) struct Ids(foldhash::HashMap<String, usize>);

impl Ids {
    /// Room for `n` ids: a map grown a million times over is rehashed twenty times.
    pub(super) fn with_capacity(n: usize) -> Ids {
        Ids(foldhash::HashMap::with_capacity_and_hasher(
            n,
            Default::default(),
        ))
    }

    /// The message when an earlier element holds `id`.
    pub(super) fn add(&mut self, id: &str, element: usize, kind: Kind) -> Result<(), String> {
        match self.0.insert(fold(id), element) {
            Some(first) => Err(format!(
                "duplicate id {id} (also {} #{})",
                kind.noun,
                first + 1
            )),
            None => Ok(()),
        }
    }
}

impl Collection {
    /// Reads `name` in `folder` (`None`: the snapshot is a plain users file). A missing file is
    /// an empty, unknown collection; a file that cannot be read is a located error, as
    /// `users.json` gets; each object is checked by `check` (its message located at it).
    pub fn open(
        folder: Option<&Path>,
        users_file: &Path,
        name: &str,
        kind: Kind,
        check: &Check,
    ) -> Result<Collection, SnapshotError> {
        let empty = |file: Option<SnapshotFile>, why: String| Collection {
            kind,
            path: users_file.to_owned(),
            file,
            unknown: Some(why),
            shape: ExportShape::Graph,
            encoding: TextEncoding::Utf8,
            text: format!(
                "{{\n  \"@odata.context\": \"{}/v1.0/$metadata#{}\",\n  \"value\": []\n}}\n",
                crate::directory::snapshot::export::GRAPH_URL,
                kind.collection
            ),
            array: None,
            objects: Vec::new(),
            origins: Vec::new(),
            dirty: false,
        };
        let (path, file, mut read) = match read_file(folder, users_file, name, kind, true)? {
            Read::NoFolder(why) => return Ok(empty(None, why)),
            Read::NoFile(path, why) => {
                let mut c = empty(Some(SnapshotFile::absent(&path)), why);
                c.array = layout::array(&c.text, c.text.find('[').unwrap_or(0));
                c.path = path;
                return Ok(c);
            }
            Read::File(path, file, read) => (path, file, read),
        };
        let read_objects = read.objects();
        let mut ids = Ids::with_capacity(read_objects.len());
        let mut objects = Vec::with_capacity(read_objects.len());
        let mut origins = Vec::with_capacity(read_objects.len());
        for (element, object) in read_objects {
            let error = |m| element_error(&path, (&read.spans, &read.text), kind, element, m);
            let id = check(&object).map_err(error)?;
            ids.add(&id, element, kind).map_err(error)?;
            objects.push(object);
            origins.push(Origin::Read {
                element,
                changed: false,
            });
        }
        Ok(Collection {
            kind,
            path,
            file: Some(file),
            unknown: None,
            shape: read.shape,
            encoding: read.encoding,
            text: read.text,
            array: read.array,
            objects,
            origins,
            dirty: false,
        })
    }

    /// A collection file read for a plan: each object checked as [`Collection::open`] checks
    /// it (the same errors, in the same order) and decoded by `from_map`, nothing else kept.
    /// `from_text`, when given, decodes a verbatim export's element from its text instead of
    /// its map. The objects, and why they are unknown (as [`Collection::unknown`]).
    pub fn decode<T>(
        folder: Option<&Path>,
        users_file: &Path,
        (name, kind): (&str, Kind),
        from_map: &FromMap<T>,
        from_text: Option<&FromText<T>>,
        id: &dyn Fn(&T) -> &str,
    ) -> Result<(Vec<T>, Option<String>), SnapshotError> {
        let (path, read) = match read_file(folder, users_file, name, kind, false)? {
            Read::NoFolder(why) | Read::NoFile(_, why) => return Ok((Vec::new(), Some(why))),
            Read::File(path, _, read) => (path, read),
        };
        let mut ids = Ids::default();
        let mut out = Vec::new();
        let mut take = |element: usize, object: Result<T, String>| {
            let error = |m| element_error(&path, (&read.spans, &read.text), kind, element, m);
            let object = object.map_err(error)?;
            ids.add(id(&object), element, kind).map_err(error)?;
            out.push(object);
            Ok::<_, SnapshotError>(())
        };
        if read.verbatim {
            for (element, span) in read.spans.iter().enumerate() {
                // Cannot fail: every element was read as an object.
                let text = read.text.get(span.clone()).unwrap_or("{}");
                take(
                    element,
                    match from_text {
                        Some(from_text) => from_text(text),
                        None => {
                            from_map(&export::object_at(text, 0..text.len()).unwrap_or_default())
                        }
                    },
                )?;
            }
        } else {
            for (element, object) in &read.users {
                take(*element, from_map(object))?;
            }
        }
        Ok((out, None))
    }

    /// Whether writes may change this file; the refusal says what to do instead.
    pub fn writable(&self) -> Result<(), SnapshotError> {
        let Some(file) = &self.file else {
            return Err(SnapshotError::WriteRefused {
                path: self.path.clone(),
                message: format!(
                    "it is a users file, and {} are written to a snapshot folder only; make one with `idsync snapshot --from entra`",
                    self.kind.collection
                ),
            });
        };
        if self.shape.writable() && self.array.is_some() {
            return Ok(());
        }
        Err(SnapshotError::WriteRefused {
            path: file.path.clone(),
            message: format!(
                "it is {}, which idsync reads but does not write back; make a snapshot with `idsync snapshot --from entra` and apply against that",
                self.shape.describe()
            ),
        })
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.objects.iter().position(|o| {
            o.get("id")
                .and_then(Value::as_str)
                .is_some_and(|v| crate::names::eq_ci(v, id))
        })
    }

    pub fn push(&mut self, object: Map<String, Value>) {
        self.objects.push(object);
        self.origins.push(Origin::Created);
        self.dirty = true;
    }

    pub fn replace(&mut self, i: usize, object: Map<String, Value>) {
        self.objects[i] = object;
        if let Origin::Read { changed, .. } = &mut self.origins[i] {
            *changed = true;
        }
        self.dirty = true;
    }

    pub fn remove(&mut self, i: usize) {
        self.objects.remove(i);
        self.origins.remove(i);
        self.dirty = true;
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Before any file of the folder is written: refuses when this one changed on disk.
    pub fn check_unchanged(&self) -> Result<(), SnapshotError> {
        match (&self.file, self.dirty) {
            (Some(file), true) => file.unchanged(),
            _ => Ok(()),
        }
    }

    /// Rewrites the file atomically (one rename) if anything changed.
    pub fn save(&mut self) -> Result<(), SnapshotError> {
        if !self.dirty {
            return Ok(());
        }
        self.writable()?;
        let objects = &self.objects;
        let text = render(
            &self.text,
            self.array.as_ref(),
            &|i| Cow::Borrowed(&objects[i]),
            &self.origins,
        );
        let Some(file) = self.file.as_mut() else {
            return Ok(()); // refused by `writable` above
        };
        file.replace(&self.encoding.encode(&text))?;
        match reread(&text, self.array.as_ref(), self.objects.len()) {
            Some((array, origins)) => {
                self.array = Some(array);
                self.origins = origins;
            }
            None => self.array = None,
        }
        self.text = text;
        self.unknown = None;
        self.dirty = false;
        Ok(())
    }
}
