//! Reading a users export as admins really make one: which tool wrote it (its shape), in
//! which encoding, whether it is complete, and each user as a Graph camelCase object that
//! holds a key exactly when the export carried the property.

use std::ops::Range;
use std::path::Path;

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

// Keys are looked up once per property of every object: foldhash, seeded per process
// (colliding keys in a crafted export could only slow its own read).
use foldhash::HashMap;

use super::layout::{self, ArrayLayout};
use super::properties::{self, Spelling};
use crate::directory::snapshot::{SnapshotError, line_col};
use crate::names::fold;

/// Which tool wrote an Entra export (so notes and errors can name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportShape {
    /// Graph's own answer to `GET /users`: `{"@odata.context": …, "value": [ … ]}`.
    Graph,
    /// A complete Graph delta round (`GET /users/delta`, ending in `@odata.deltaLink`),
    /// applied in order: `@removed` entries take their object out, a later entry for an
    /// object updates the earlier one. Delta answers leave out properties that are null, so
    /// an absent property there may be a null one: it stays unknown.
    GraphDelta,
    /// Microsoft Graph PowerShell: `Get-MgUser … | ConvertTo-Json` (PascalCase names, `Id`,
    /// `AdditionalProperties`). Read as camelCase with `AdditionalProperties` merged in; the
    /// SDK writes every property it models, unselected ones as null, so its nulls are dropped
    /// (unknown, not null).
    PowerShell,
    /// A bare array of Graph objects: what `az ad user list` writes (it follows the pages
    /// and prints the `value` items), or a Graph `value` saved on its own.
    AzCli,
}

impl ExportShape {
    /// A short description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            ExportShape::Graph => "a Microsoft Graph answer ({\"value\": […]})",
            ExportShape::GraphDelta => "a Microsoft Graph delta round",
            ExportShape::PowerShell => {
                "a Microsoft Graph PowerShell export (Get-MgUser | ConvertTo-Json)"
            }
            ExportShape::AzCli => "a bare JSON array of users (as `az ad user list` writes)",
        }
    }

    /// Whether `apply` can write this shape back losslessly. PowerShell exports are not
    /// Graph's JSON (names, nulls and nesting differ) and a delta round's links describe a
    /// state the write would change, so neither is rewritten.
    pub fn writable(self) -> bool {
        matches!(self, ExportShape::Graph | ExportShape::AzCli)
    }
}

/// The text encoding an export came in (and is written back in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// UTF-8 after a byte-order mark (Windows PowerShell's `Out-File -Encoding utf8`).
    Utf8Bom,
    /// UTF-16 little-endian with a byte-order mark (Windows PowerShell's `>`).
    Utf16Le,
    Utf16Be,
}

impl TextEncoding {
    pub(super) fn encode(self, text: &str) -> Vec<u8> {
        match self {
            TextEncoding::Utf8 => text.as_bytes().to_vec(),
            TextEncoding::Utf8Bom => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
            TextEncoding::Utf16Le => std::iter::once(0xFEFF)
                .chain(text.encode_utf16())
                .flat_map(u16::to_le_bytes)
                .collect(),
            TextEncoding::Utf16Be => std::iter::once(0xFEFF)
                .chain(text.encode_utf16())
                .flat_map(u16::to_be_bytes)
                .collect(),
        }
    }
}

/// An export, read.
#[derive(Debug)]
pub(super) struct Export {
    pub shape: ExportShape,
    pub encoding: TextEncoding,
    /// The decoded text (no byte-order mark).
    pub text: String,
    /// The users array, when the users sit in one (not for a single PowerShell object).
    pub array: Option<ArrayLayout>,
    /// Each user, with the index of the array element it came from; empty when
    /// [`Export::verbatim`].
    pub users: Vec<(usize, Map<String, Value>)>,
    /// The users are the array's elements as they stand (Graph's answer, a bare array: no
    /// conversion), one for each element of `spans`, each read from its text when needed.
    pub verbatim: bool,
    /// The span of every element of the users array (for locations).
    pub spans: Vec<Range<usize>>,
}

impl Export {
    /// Every object with the index of its element, as a map (a verbatim export's read from
    /// each element's text).
    pub fn objects(&mut self) -> Vec<(usize, Map<String, Value>)> {
        if !self.verbatim {
            return std::mem::take(&mut self.users);
        }
        let text = &self.text;
        (self.spans.iter().enumerate())
            // Cannot fail: every element was read as an object.
            .map(|(i, span)| (i, exact(object_at(text, span.clone()).unwrap_or_default())))
            .collect()
    }
}

/// What an export holds: users (`users.json`, or a plain users file), groups (`groups.json`)
/// or contacts (`contacts.json`). They read alike; each kind has its own property table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Kind {
    /// `user`, for messages (`user #3: …`).
    pub noun: &'static str,
    /// `users`: Graph's collection.
    pub collection: &'static str,
    /// The PowerShell cmdlet that lists them (for messages).
    pub cmdlet: &'static str,
    /// The property a lone PowerShell object has besides `Id`.
    lone_key: &'static str,
    table: properties::Table,
}

pub(super) const USERS: Kind = Kind {
    noun: "user",
    collection: "users",
    cmdlet: "Get-MgUser",
    lone_key: "UserPrincipalName",
    table: properties::Table::User,
};

pub(super) const GROUPS: Kind = Kind {
    noun: "group",
    collection: "groups",
    cmdlet: "Get-MgGroup",
    lone_key: "DisplayName",
    table: properties::Table::Group,
};

pub(super) const SKUS: Kind = Kind {
    noun: "subscribed SKU",
    collection: "subscribedSkus",
    cmdlet: "Get-MgSubscribedSku",
    lone_key: "SkuPartNumber",
    table: properties::Table::Sku,
};

pub(super) const CONTACTS: Kind = Kind {
    noun: "contact",
    collection: "contacts",
    cmdlet: "Get-MgContact",
    lone_key: "DisplayName",
    table: properties::Table::Contact,
};

impl Kind {
    fn shape_help(self) -> String {
        if self.collection == "users" {
            return "expected a Graph users answer: {\"value\": [ … ]} or a bare array of users (Graph JSON, `Get-MgUser | ConvertTo-Json`, or `az ad user list`)".into();
        }
        format!(
            "expected a Graph {c} answer (GET /v1.0/{c}): {{\"value\": [ … ]}} or a bare array of {c} (Graph JSON, or `{} | ConvertTo-Json`)",
            self.cmdlet,
            c = self.collection
        )
    }
}

/// Reads a users export's bytes (the snapshot itself uses [`read_owned`]).
#[cfg(test)]
pub(super) fn read(path: &Path, bytes: &[u8]) -> Result<Export, SnapshotError> {
    read_kind(path, bytes, USERS)
}

/// Reads an export of `kind` (the objects land in [`Export::users`] whatever their kind).
///
/// The document is checked whole as `serde_json` reads a `Value` (the same errors at the same
/// places) without building one; each object is then read from its own span of the text, and
/// in the shapes read as they are (Graph's answer, a bare array) not kept at all: see
/// [`Export::verbatim`].
pub(super) fn read_kind(path: &Path, bytes: &[u8], kind: Kind) -> Result<Export, SnapshotError> {
    read_decoded(path, decode(path, bytes)?, kind)
}

/// As [`read`], taking the bytes: a UTF-8 file without a BOM becomes the kept text without a
/// copy (a 450 MB export is otherwise held twice while it is read).
pub(super) fn read_owned(path: &Path, bytes: Vec<u8>) -> Result<Export, SnapshotError> {
    let marked = [&[0xEF, 0xBB, 0xBF][..], &[0xFF, 0xFE], &[0xFE, 0xFF]]
        .iter()
        .any(|bom| bytes.starts_with(bom))
        || bytes.iter().take(4).any(|&b| b == 0);
    let decoded = if marked {
        decode(path, &bytes)?
    } else {
        match String::from_utf8(bytes) {
            Ok(text) => (text, TextEncoding::Utf8),
            // The same located error as `decode` gives.
            Err(e) => decode(path, e.as_bytes())?,
        }
    };
    read_decoded(path, decoded, USERS)
}

fn read_decoded(
    path: &Path,
    (text, encoding): (String, TextEncoding),
    kind: Kind,
) -> Result<Export, SnapshotError> {
    located::<Skip>(path, &text)?;
    let at = |offset: usize, message: String| {
        let (line, column) = line_col(text.as_bytes(), offset);
        SnapshotError::Json {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let root = layout::root(&text);
    // Cannot happen: the scanner reads all JSON, and the text is JSON.
    let unscanned = || at(root, "the export's layout could not be read".into());
    let (mut shape, array, spans, mut lone) = match text.as_bytes().get(root) {
        Some(b'[') => {
            let array = layout::array(&text, root).ok_or_else(unscanned)?;
            let spans = array.elements.clone();
            (ExportShape::AzCli, Some(array), spans, None)
        }
        Some(b'{') => {
            let top_layout = layout::object(&text, root).ok_or_else(unscanned)?;
            let member = |name: &str| top_layout.members.iter().rev().find(|m| m.key == name);
            // The answer's own members (context, links) as values; `value` is read by element.
            let mut top = Map::new();
            for m in top_layout.members.iter().filter(|m| m.key != "value") {
                let value = value_at(&text, m.value.clone()).ok_or_else(unscanned)?;
                top.insert(m.key.clone().into_owned(), value);
            }
            match member("value") {
                Some(value) if text.as_bytes().get(value.value.start) == Some(&b'[') => {
                    let delta = link(&top, "deltalink").is_some();
                    if let Some((key, next)) = link(&top, "nextlink") {
                        let offset = member(key).map_or(root, |m| m.key_span.start);
                        return Err(at(offset, incomplete(next, &top, kind)));
                    }
                    let array = layout::array(&text, value.value.start).ok_or_else(unscanned)?;
                    let spans = array.elements.clone();
                    let shape = if delta {
                        ExportShape::GraphDelta
                    } else {
                        ExportShape::Graph
                    };
                    (shape, Some(array), spans, None)
                }
                Some(_) => return Err(at(root, kind.shape_help())),
                None if top.contains_key("Id") && top.contains_key(kind.lone_key) => {
                    // `ConvertTo-Json` writes a lone object, not an array, for one user.
                    let end = text
                        .trim_end_matches(|c: char| c.is_ascii_whitespace())
                        .len();
                    (
                        ExportShape::PowerShell,
                        None,
                        std::iter::once(root..end).collect(),
                        Some(top),
                    )
                }
                None => return Err(at(root, kind.shape_help())),
            }
        }
        _ => return Err(at(root, kind.shape_help())),
    };

    let user_error = |index: usize, offset: Option<usize>, message: String| {
        let offset = offset.unwrap_or_else(|| spans.get(index).map_or(root, |s| s.start));
        object_error(path, &text, kind, index, offset, message)
    };
    // An object's map, read from its span (a lone object was read above).
    let object = |i: usize, lone: &mut Option<Map<String, Value>>| match lone.take() {
        Some(object) => Ok(object),
        None => object_at(&text, spans[i].clone()).ok_or_else(unscanned),
    };
    let mut users: Vec<Option<Pending<'_>>> = Vec::with_capacity(spans.len());
    // The case style of the first user with a known property: every other must match it.
    let mut style: Option<(Case, usize)> = None;
    // Keys repeat from user to user: each distinct one is measured against the table once.
    let mut spellings: HashMap<String, Spelling> = HashMap::default();
    let mut delta_ids: HashMap<String, usize> = HashMap::default();
    for (i, span) in spans.iter().enumerate() {
        if text.as_bytes().get(span.start) != Some(&b'{') {
            return Err(user_error(i, None, "expected a JSON object".into()));
        }
        let members = layout::object(&text, span.start)
            .map(|l| l.members)
            .unwrap_or_default();
        let key_at = |key: &str| {
            members
                .iter()
                .find(|m| m.key == key)
                .map(|m| m.key_span.start)
        };
        let removed = key_at("@removed").is_some();
        if removed && shape != ExportShape::GraphDelta {
            return Err(user_error(
                i,
                key_at("@removed"),
                "an @removed entry belongs to a Graph delta round, and this export has no @odata.deltaLink, so it is not a complete round; export the whole round (or `idsync snapshot --from entra`)".into(),
            ));
        }
        let case = check_keys(&members, &mut spellings, kind.table)
            .map_err(|(offset, m)| user_error(i, Some(offset), m))?;
        if let Some(case) = case {
            match style {
                None => style = Some((case, i)),
                Some((first, n)) if first != case => {
                    let offset = members.first().map(|m| m.key_span.start);
                    return Err(user_error(
                        i,
                        offset,
                        format!(
                            "its property names are {} but {} #{}'s are {}: one export, one tool",
                            case.describe(),
                            kind.noun,
                            n + 1,
                            first.describe()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        // A delta round is applied in order: a later entry for an object carries what
        // changed since the earlier one, and `@removed` takes the object out.
        let mut user = None;
        if shape == ExportShape::GraphDelta {
            let entry = object(i, &mut lone)?;
            let id = entry.get("id").and_then(Value::as_str).map(fold);
            if removed {
                if let Some(pos) = id.and_then(|id| delta_ids.remove(&id)) {
                    users[pos] = None;
                }
                continue;
            }
            if let Some(id) = id {
                if let Some(&pos) = delta_ids.get(&id) {
                    if let Some((_, Some(earlier), _)) = &mut users[pos] {
                        earlier.extend(entry);
                    }
                    continue;
                }
                delta_ids.insert(id, users.len());
            }
            user = Some(entry);
        }
        // Locations inside a user are needed again only to convert a PowerShell object.
        let members = if case == Some(Case::Camel) {
            Vec::new()
        } else {
            members
        };
        users.push(Some((i, user, members)));
    }
    if matches!(style, Some((Case::Pascal, _))) {
        shape = ExportShape::PowerShell;
    }
    // Graph's own objects are kept as their text: every element is one, in order.
    let verbatim = matches!(shape, ExportShape::Graph | ExportShape::AzCli);
    let users = if verbatim {
        Vec::new()
    } else {
        users
            .into_iter()
            .flatten()
            .map(|(i, user, members)| {
                let user = match user {
                    Some(user) => user,
                    None => object(i, &mut lone)?,
                };
                if shape == ExportShape::PowerShell {
                    from_powershell(user, &members, kind.table)
                        .map(|u| (i, u))
                        .map_err(|(offset, m)| user_error(i, offset, m))
                } else {
                    Ok((i, exact(user)))
                }
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(Export {
        shape,
        encoding,
        text,
        array,
        users,
        verbatim,
        spans,
    })
}

/// The object whose text is `span` of `text` (`None` if it is not one: cannot happen for an
/// element of an export that was read).
pub(super) fn object_at(text: &str, span: Range<usize>) -> Option<Map<String, Value>> {
    serde_json::from_str(text.get(span)?).ok()
}

/// What is wrong with object `index` of an export, located at byte `offset` of its text.
pub(super) fn object_error(
    path: &Path,
    text: &str,
    kind: Kind,
    index: usize,
    offset: usize,
    message: String,
) -> SnapshotError {
    let (line, column) = line_col(text.as_bytes(), offset);
    SnapshotError::User {
        path: path.to_owned(),
        line,
        column,
        message: format!("{} #{}: {message}", kind.noun, index + 1),
    }
}

/// The value whose text is `span` of `text`.
pub(super) fn value_at(text: &str, span: Range<usize>) -> Option<Value> {
    serde_json::from_str(text.get(span)?).ok()
}

/// Any JSON value, read as a `serde_json::Value` is (`deserialize_any`: the same checks, so
/// the same errors at the same places) and kept nowhere. `IgnoredAny` is not that: serde_json
/// skips it by a laxer path (it takes `1e999`, which a `Value` refuses).
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = Skip;

    /// A map key, read as `Value` reads one (a string).
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Skip, D::Error> {
        d.deserialize_str(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

/// The object without the spare room its map grew while parsing (up to half of it: a
/// snapshot keeps every user for the whole run).
fn exact(user: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(user.len());
    out.extend(user);
    out
}

/// The JSON of an export's text; a syntax error is located (`FILE:LINE:COL`).
pub(super) fn parse(path: &Path, text: &str) -> Result<Value, SnapshotError> {
    located(path, text)
}

/// `text` read as a `T`; a syntax error is located (`FILE:LINE:COL`).
fn located<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, SnapshotError> {
    serde_json::from_str(text).map_err(|e| SnapshotError::Json {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned(),
    })
}

/// A user read but not yet converted: its element index, object (when read already), and key
/// locations.
type Pending<'t> = (usize, Option<Map<String, Value>>, Vec<layout::Member<'t>>);

/// A paging link of the answer (`nextlink`, `deltalink`): Graph's `@odata.nextLink`, and the
/// spellings other OData writers use (`@nextLink` in OData 4.01, `odata.nextLink` in the
/// Azure AD Graph's), in any case: a link missed would let a partial export through.
pub(super) fn link<'m>(top: &'m Map<String, Value>, name: &str) -> Option<(&'m str, &'m str)> {
    top.iter().find_map(|(key, value)| {
        let lower = key.to_ascii_lowercase();
        let bare = lower
            .strip_prefix("@odata.")
            .or_else(|| lower.strip_prefix("odata."))
            .or_else(|| lower.strip_prefix('@'))?;
        match value {
            Value::String(link) if bare == name => Some((key.as_str(), link.as_str())),
            _ => None,
        }
    })
}

/// The message for an answer that has more pages.
fn incomplete(next: &str, top: &Map<String, Value>, kind: Kind) -> String {
    let delta = next.to_ascii_lowercase().contains("/delta")
        || top
            .get("@odata.context")
            .and_then(Value::as_str)
            .is_some_and(|c| c.to_ascii_lowercase().contains("delta"));
    let c = kind.collection;
    if delta {
        format!(
            "the export is incomplete: it is one page of a Graph delta round (@odata.nextLink, no @odata.deltaLink); a round is complete only on the page that carries @odata.deltaLink. Follow the pages, or use `idsync snapshot --from entra`; idsync never plans from part of a tenant (the missing {c} would look deleted)"
        )
    } else {
        format!(
            "the export is incomplete: it is only the first page of Graph's answer (@odata.nextLink is set; Graph pages at 100 {c} by default). Follow the pages (`{} -All`), or use `idsync snapshot --from entra`; idsync never plans from part of a tenant (the missing {c} would look deleted)",
            kind.cmdlet
        )
    }
}

/// How an object spells the Graph properties it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Camel,
    Pascal,
}

impl Case {
    fn describe(self) -> &'static str {
        match self {
            Case::Camel => "Graph's camelCase",
            Case::Pascal => "PowerShell's PascalCase",
        }
    }
}

/// Checks one user's keys: no key twice (in any case), no near miss of a known property, one
/// case style. Returns the style (`None` when no key is a known property), or the offset of
/// the offending key and why.
fn check_keys(
    members: &[layout::Member],
    spellings: &mut HashMap<String, Spelling>,
    table: properties::Table,
) -> Result<Option<Case>, (usize, String)> {
    let mut case: Option<(Case, &str)> = None;
    for (n, m) in members.iter().enumerate() {
        if let Some(first) = members[..n]
            .iter()
            .find(|o| o.key.eq_ignore_ascii_case(&m.key))
        {
            let message = if first.key == m.key {
                format!("property {} appears twice", m.key)
            } else {
                format!(
                    "{} and {} are the same property in two spellings: an export spells each property once",
                    first.key, m.key
                )
            };
            return Err((m.key_span.start, message));
        }
        let spelling = match spellings.get(m.key.as_ref()) {
            Some(&s) => s,
            None => {
                let s = properties::spelling_in(table, &m.key);
                spellings.insert(m.key.clone().into_owned(), s);
                s
            }
        };
        let this = match spelling {
            Spelling::Camel(_) => Case::Camel,
            Spelling::Pascal(_) => Case::Pascal,
            Spelling::NearMiss(known) => {
                return Err((
                    m.key_span.start,
                    format!(
                        "unknown property {}: did you mean {known}? (Graph's names are case-sensitive; a misspelt property would be read as absent)",
                        m.key
                    ),
                ));
            }
            Spelling::Unknown => continue,
        };
        match case {
            None => case = Some((this, &m.key)),
            Some((first, first_key)) if first != this => {
                return Err((
                    m.key_span.start,
                    format!(
                        "{} is {} but {first_key} is {}: this object mixes two tools' spellings",
                        m.key,
                        this.describe(),
                        first.describe()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(case.map(|(c, _)| c))
}

/// A PowerShell SDK user as Graph would have sent it: names in camelCase, the members of
/// `AdditionalProperties` (what Graph sent that the SDK model lacks) merged in, and null
/// members dropped. The SDK model writes every property it has, and one that was not
/// selected (`-Property`) comes out null, so a null there cannot be told from "not
/// selected": it is unknown, not null. Members of `AdditionalProperties` came from Graph's
/// own answer, so their nulls stay.
fn from_powershell(
    user: Map<String, Value>,
    members: &[layout::Member],
    table: properties::Table,
) -> Result<Map<String, Value>, (Option<usize>, String)> {
    let key_at = |key: &str| {
        members
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.key_span.start)
    };
    let mut out = Map::new();
    let mut additional = None;
    for (key, value) in user {
        if key == "AdditionalProperties" {
            additional = Some(value);
            continue;
        }
        if let Some(truncated) = truncated(&value) {
            return Err((key_at(&key), depth_message(&key, truncated)));
        }
        if let Some(value) = sdk_value(value, table) {
            out.insert(properties::camel_in(table, &key), value);
        }
    }
    match additional {
        None | Some(Value::Null) => {}
        Some(Value::Object(extra)) => {
            for (key, value) in extra {
                if out.contains_key(&key) {
                    return Err((
                        key_at("AdditionalProperties"),
                        format!("{key} is both a property and a member of AdditionalProperties"),
                    ));
                }
                out.insert(key, value);
            }
        }
        Some(Value::String(s)) => {
            return Err((
                key_at("AdditionalProperties"),
                depth_message("AdditionalProperties", &s),
            ));
        }
        Some(_) => {
            return Err((
                key_at("AdditionalProperties"),
                "AdditionalProperties must be an object".into(),
            ));
        }
    }
    Ok(out)
}

/// A nested SDK value in Graph's form; `None` for null, and for an object with nothing but
/// nulls (the SDK creates nested objects on demand, so an empty one says nothing).
fn sdk_value(value: Value, table: properties::Table) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, value) in object {
                if key == "AdditionalProperties" {
                    if let Value::Object(extra) = value {
                        for (k, v) in extra {
                            out.entry(k).or_insert(v);
                        }
                    }
                    continue;
                }
                if let Some(value) = sdk_value(value, table) {
                    out.insert(properties::camel_in(table, &key), value);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .map(|v| sdk_value(v, table).unwrap_or(Value::Null))
                .collect(),
        )),
        other => Some(other),
    }
}

/// A value `ConvertTo-Json` cut off at its `-Depth`: it writes the .NET type name instead.
fn truncated(value: &Value) -> Option<&str> {
    match value {
        Value::String(s)
            if s.starts_with("Microsoft.Graph.PowerShell.Models.")
                || s.starts_with("System.Collections.") =>
        {
            Some(s)
        }
        Value::Array(items) => items.iter().find_map(truncated),
        Value::Object(object) => object.values().find_map(truncated),
        _ => None,
    }
}

fn depth_message(key: &str, type_name: &str) -> String {
    format!(
        "{key} holds the type name {type_name} instead of its value: ConvertTo-Json stopped at its -Depth (2 by default). Export again with `ConvertTo-Json -Depth 5`"
    )
}

/// The text of an export, and its encoding: UTF-8 with or without a byte-order mark, or
/// UTF-16 with one.
pub(super) fn decode(path: &Path, bytes: &[u8]) -> Result<(String, TextEncoding), SnapshotError> {
    let error = |text: &str, message: String| {
        let (line, column) = line_col(text.as_bytes(), text.len());
        SnapshotError::Json {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let utf16 = |rest: &[u8], le: bool, encoding: TextEncoding| {
        let units = rest.chunks(2).map(|pair| match (pair, le) {
            ([a, b], true) => Ok(u16::from_le_bytes([*a, *b])),
            ([a, b], false) => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(()),
        });
        let mut text = String::with_capacity(rest.len() / 2);
        for unit in char::decode_utf16(units.map_while(Result::ok)) {
            match unit {
                Ok(c) => text.push(c),
                Err(e) => {
                    return Err(error(
                        &text,
                        format!(
                            "not valid UTF-16 (unpaired surrogate 0x{:04X}); the file says it is UTF-16 (byte-order mark)",
                            e.unpaired_surrogate()
                        ),
                    ));
                }
            }
        }
        if rest.len() % 2 == 1 {
            return Err(error(
                &text,
                "not valid UTF-16: the file ends in half a character".into(),
            ));
        }
        Ok((text, encoding))
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(path, rest).map(|t| (t, TextEncoding::Utf8Bom)),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true, TextEncoding::Utf16Le),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false, TextEncoding::Utf16Be),
        // JSON text never holds a raw NUL: one among the first bytes is UTF-16 or UTF-32.
        _ if bytes.iter().take(4).any(|&b| b == 0) => Err(error(
            "",
            "the file looks like UTF-16 without a byte-order mark; save it as UTF-8, or as UTF-16 with a byte-order mark (Windows PowerShell's `>` writes one)".into(),
        )),
        _ => utf8(path, bytes).map(|t| (t, TextEncoding::Utf8)),
    }
}

fn utf8(path: &Path, bytes: &[u8]) -> Result<String, SnapshotError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let (line, column) = line_col(bytes, valid);
        SnapshotError::Json {
            path: path.to_owned(),
            line,
            column,
            message: format!(
                "not valid UTF-8 (byte 0x{:02X}); save the export as UTF-8, or as UTF-16 with a byte-order mark",
                bytes.get(valid).copied().unwrap_or_default()
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<Export, SnapshotError> {
        read(Path::new("users.json"), text.as_bytes())
    }

    fn error(bytes: &[u8]) -> String {
        let message = read(Path::new("users.json"), bytes)
            .unwrap_err()
            .to_string();
        // The snapshot's own path (bytes taken, not copied) says exactly the same.
        let owned = read_owned(Path::new("users.json"), bytes.to_vec()).unwrap_err();
        assert_eq!(owned.to_string(), message);
        message
    }

    #[test]
    fn one_user_from_powershell_is_a_lone_object() {
        // `ConvertTo-Json` unwraps a pipeline of one.
        let e =
            read_str(r#"{"Id": "1", "UserPrincipalName": "a@example.com", "City": null}"#).unwrap();
        assert_eq!(e.shape, ExportShape::PowerShell);
        assert_eq!(e.users.len(), 1);
        assert_eq!(
            Value::Object(e.users[0].1.clone()),
            serde_json::json!({"id": "1", "userPrincipalName": "a@example.com"})
        );
    }

    #[test]
    fn windows_powershell_value_and_count_wrapper_reads() {
        // Windows PowerShell 5.1 can wrap an array as {"value": […], "Count": n}.
        let e = read_str(
            r#"{"value": [{"Id": "1", "UserPrincipalName": "a@example.com"}], "Count": 1}"#,
        )
        .unwrap();
        assert_eq!(e.shape, ExportShape::PowerShell);
        assert_eq!(e.users[0].1["id"], "1");
    }

    #[test]
    fn a_value_cut_off_by_convertto_json_depth_is_refused() {
        let err = read_str(
            "[{\"Id\": \"1\",\n  \"OnPremisesExtensionAttributes\": \"Microsoft.Graph.PowerShell.Models.MicrosoftGraphOnPremisesExtensionAttributes\"}]",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "users.json:2:3: user #1: OnPremisesExtensionAttributes holds the type name"
            ) && err.contains("-Depth 5"),
            "{err}"
        );
    }

    #[test]
    fn encodings_that_cannot_be_read_are_named() {
        let utf16_no_bom: Vec<u8> = "[]".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(
            error(&utf16_no_bom).starts_with(
                "users.json:1:1: the file looks like UTF-16 without a byte-order mark"
            ),
            "{}",
            error(&utf16_no_bom)
        );
        let latin1 = b"[\n {\"id\": \"1\", \"displayName\": \"\xc5sa\"}]";
        assert!(
            error(latin1).starts_with("users.json:2:30: not valid UTF-8 (byte 0xC5)"),
            "{}",
            error(latin1)
        );
        let odd = [0xFF, 0xFE, b'[', 0, b']'];
        assert!(
            error(&odd).contains("ends in half a character"),
            "{}",
            error(&odd)
        );
        let unpaired = [0xFF, 0xFE, 0x00, 0xD8, b'[', 0];
        assert!(
            error(&unpaired).contains("unpaired surrogate 0xD800"),
            "{}",
            error(&unpaired)
        );
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("[]".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let e = read(Path::new("users.json"), &be).unwrap();
        assert_eq!(e.encoding, TextEncoding::Utf16Be);
        assert_eq!(TextEncoding::Utf16Be.encode(&e.text), be);
    }

    #[test]
    fn removed_entries_outside_a_delta_round_are_refused() {
        let err =
            read_str("{\"value\": [\n  {\"id\": \"1\", \"@removed\": {\"reason\": \"deleted\"}}]}")
                .unwrap_err()
                .to_string();
        assert!(
            err.starts_with(
                "users.json:2:15: user #1: an @removed entry belongs to a Graph delta round"
            ),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_are_the_ones_a_value_parse_reports() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let texts = [
            "[1e999]",
            "{\"value\": [{\"id\": \"\\u12\"}]}",
            "[{\"id\": 1,}]",
            "[\"\u{1}\"]",
            "[{\"id\": 01}]",
            "[] x",
            "{\"value\": [], \"@odata.nextLink\": tru}",
            "{\"value\": [{\"id\": \"1\"} {\"id\": \"2\"}]}",
            deep.as_str(),
            "",
        ];
        for text in texts {
            let expected = parse(Path::new("users.json"), text)
                .unwrap_err()
                .to_string();
            assert_eq!(error(text.as_bytes()), expected, "{text}");
        }
        assert!(serde_json::from_str::<serde::de::IgnoredAny>("[1e999]").is_ok());
    }

    #[test]
    fn paging_links_are_found_in_any_odata_spelling() {
        for key in [
            "@odata.nextLink",
            "@odata.nextlink",
            "@nextLink",
            "odata.nextLink",
        ] {
            let text = format!(
                r#"{{"value": [], "{key}": "https://graph.microsoft.com/v1.0/users?$skiptoken=x"}}"#
            );
            let err = read_str(&text).unwrap_err().to_string();
            assert!(
                err.starts_with("users.json:1:15: the export is incomplete"),
                "{key}: {err}"
            );
        }
        let done = r#"{"value": [], "@odata.nextLink": null, "@odata.deltaLink": "https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x"}"#;
        assert_eq!(read_str(done).unwrap().shape, ExportShape::GraphDelta);
    }

    #[test]
    fn no_prefix_of_an_export_panics() {
        let fixtures = [
            include_str!("../../../../tests/fixtures/exports/graph/lossless.json"),
            include_str!("../../../../tests/fixtures/exports/graph/powershell.json"),
            include_str!("../../../../tests/fixtures/exports/graph/delta.json"),
        ];
        for text in fixtures {
            for end in 0..=text.len() {
                let Some(prefix) = text.get(..end) else {
                    continue;
                };
                let _ = read_str(prefix);
                let utf16 = TextEncoding::Utf16Le.encode(prefix);
                let _ = read(
                    Path::new("users.json"),
                    &utf16[..utf16.len().saturating_sub(1)],
                );
            }
        }
    }
}
