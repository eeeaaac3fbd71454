//! Where the users sit in the export's text, and the lossless rewrite built on it.
//!
//! `serde_json` reads the values; this scanner finds their byte spans in the same text, so
//! errors can point at a key and a rewrite can copy every byte it has no reason to change:
//! users that were not written, and within a written user every member whose value stayed the
//! same (so `123456789012345678901234567890` keeps its digits, odd whitespace and key order
//! stay). Only changed values, added members and added users are rendered, in the layout the
//! file already uses (its indentation, one line or many).

use std::borrow::Cow;
use std::ops::Range;

use serde_json::{Map, Value};

/// A member of an object: its key (unescaped; borrowed from the text unless it has escapes)
/// and where the key and the value sit.
#[derive(Debug, Clone)]
pub(super) struct Member<'t> {
    pub key: Cow<'t, str>,
    pub key_span: Range<usize>,
    pub value: Range<usize>,
}

/// An object's braces and members.
#[derive(Debug, Clone)]
pub(super) struct ObjectLayout<'t> {
    pub open: usize,
    pub close: usize,
    pub members: Vec<Member<'t>>,
}

/// An array's brackets and elements.
#[derive(Debug, Clone)]
pub(super) struct ArrayLayout {
    pub open: usize,
    pub close: usize,
    pub elements: Vec<Range<usize>>,
}

/// Offset of the first value in the document (after leading whitespace).
pub(super) fn root(text: &str) -> usize {
    text.len() - text.trim_start_matches(is_ws).len()
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The object at `at`. The text is JSON `serde_json` accepted (so nesting is bounded by its
/// recursion limit); anything unexpected gives `None`, never a panic.
pub(super) fn object(text: &str, at: usize) -> Option<ObjectLayout<'_>> {
    let mut s = Scan {
        b: text.as_bytes(),
        i: at,
    };
    if s.peek()? != b'{' {
        return None;
    }
    s.i += 1;
    let mut members = Vec::new();
    loop {
        s.ws();
        match s.peek()? {
            b'}' => {
                return Some(ObjectLayout {
                    open: at,
                    close: s.i,
                    members,
                });
            }
            b',' => s.i += 1,
            b'"' => {
                let key_span = s.string()?;
                let raw = text.get(key_span.clone())?;
                let key: Cow<'_, str> =
                    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                        Some(plain) if !plain.contains('\\') => Cow::Borrowed(plain),
                        _ => Cow::Owned(serde_json::from_str(raw).ok()?),
                    };
                s.ws();
                if s.peek()? != b':' {
                    return None;
                }
                s.i += 1;
                s.ws();
                let value = s.value()?;
                members.push(Member {
                    key,
                    key_span,
                    value,
                });
            }
            _ => return None,
        }
    }
}

/// The array at `at`.
pub(super) fn array(text: &str, at: usize) -> Option<ArrayLayout> {
    let mut s = Scan {
        b: text.as_bytes(),
        i: at,
    };
    if s.peek()? != b'[' {
        return None;
    }
    s.i += 1;
    let mut elements = Vec::new();
    loop {
        s.ws();
        match s.peek()? {
            b']' => {
                return Some(ArrayLayout {
                    open: at,
                    close: s.i,
                    elements,
                });
            }
            b',' => s.i += 1,
            _ => elements.push(s.value()?),
        }
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self
            .peek()
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    /// At `"`: the string's span, quotes included.
    fn string(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        self.i += 1;
        loop {
            // A jump to the next quote or escape: most of an export's bytes are in strings.
            let rest = self.b.get(self.i..)?;
            let k = memchr::memchr2(b'"', b'\\', rest)?;
            self.i += k;
            if rest[k] == b'"' {
                self.i += 1;
                return Some(start..self.i);
            }
            self.i += 2;
        }
    }

    /// Skips one value, returning its span.
    fn value(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'[' | b'{' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'[' | b'{' => depth += 1,
                        b']' | b'}' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while self.peek().is_some_and(|c| {
                    !matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                }) {
                    self.i += 1;
                }
            }
        }
        Some(start..self.i)
    }
}

/// One element (or member) of a rewritten container.
#[derive(Debug)]
pub(super) enum Item {
    /// Original item `i`, byte for byte.
    Keep(usize),
    /// Original item `i`, with new text (it keeps its place among the separators).
    Edit(usize, String),
    /// A new item.
    Add(String),
}

/// How a container lays out its items: what comes before the first and after the last, what
/// separates two, and how new items are indented.
struct Style<'t> {
    lead: Cow<'t, str>,
    trail: Cow<'t, str>,
    separator: String,
    /// Indentation of an item's line, when items sit on lines of their own.
    indent: Option<String>,
    /// One level of indentation, as the file uses it.
    unit: String,
}

fn style<'t>(text: &'t str, open: usize, close: usize, items: &[Range<usize>]) -> Style<'t> {
    let outer = line_indent(text, open);
    match (items.first(), items.last()) {
        (Some(first), Some(last)) => {
            let lead = &text[open + 1..first.start];
            let indent = lead.rfind('\n').map(|nl| lead[nl + 1..].to_owned());
            let unit = indent
                .as_deref()
                .and_then(|i| i.strip_prefix(outer))
                .filter(|u| !u.is_empty())
                .unwrap_or("  ")
                .to_owned();
            let separator = match items.get(1) {
                Some(second) => text[first.end..second.start].to_owned(),
                None => format!(",{lead}"),
            };
            Style {
                lead: lead.into(),
                trail: text[last.end..close].into(),
                separator,
                indent,
                unit,
            }
        }
        _ => {
            // An empty container: new items go on lines of their own, one level in.
            let indent = format!("{outer}  ");
            Style {
                lead: format!("\n{indent}").into(),
                trail: format!("\n{outer}").into(),
                separator: format!(",\n{indent}"),
                indent: Some(indent),
                unit: "  ".into(),
            }
        }
    }
}

/// The whitespace that starts the line holding `at`.
fn line_indent(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |nl| nl + 1);
    let line = &text[start..at];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// `open..=close` rewritten to hold `items`, keeping the original separators where an item
/// still follows the one it followed.
fn join(text: &str, open: usize, close: usize, spans: &[Range<usize>], items: &[Item]) -> String {
    let mut out = String::new();
    out.push_str(&text[open..open + 1]);
    if items.is_empty() {
        out.push_str(&text[close..close + 1]);
        return out;
    }
    let style = style(text, open, close, spans);
    out.push_str(&style.lead);
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            let separator = match items[k - 1] {
                Item::Keep(i) | Item::Edit(i, _) if i + 1 < spans.len() => {
                    &text[spans[i].end..spans[i + 1].start]
                }
                _ => style.separator.as_str(),
            };
            out.push_str(separator);
        }
        match item {
            Item::Keep(i) => out.push_str(&text[spans[*i].clone()]),
            Item::Edit(_, s) | Item::Add(s) => out.push_str(s),
        }
    }
    out.push_str(&style.trail);
    out.push_str(&text[close..close + 1]);
    out
}

/// `value` as JSON laid out like its neighbours: on many lines at `indent` (one `unit` per
/// level), or on one line.
fn render(value: &Value, indent: Option<&str>, unit: &str) -> String {
    let Some(indent) = indent else {
        return value.to_string();
    };
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    // Serialising a `Value` into memory cannot fail; a failure would leave it compact.
    if serde::Serialize::serialize(value, &mut ser).is_err() {
        return value.to_string();
    }
    let pretty = String::from_utf8(buf).unwrap_or_else(|_| value.to_string());
    // JSON strings escape their newlines, so every raw newline is layout.
    pretty.replace('\n', &format!("\n{indent}"))
}

/// The text of the object `layout` (holding `before`) changed to hold `after`: members whose
/// value did not change keep their bytes, changed values are rendered in place, members
/// `after` lacks are dropped and new ones are appended.
pub(super) fn edit_object(
    text: &str,
    layout: &ObjectLayout,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> String {
    let spans: Vec<Range<usize>> = layout
        .members
        .iter()
        .map(|m| m.key_span.start..m.value.end)
        .collect();
    let style = style(text, layout.open, layout.close, &spans);
    let colon = layout
        .members
        .first()
        .map_or(": ", |m| &text[m.key_span.end..m.value.start]);
    let mut items = Vec::new();
    for (i, member) in layout.members.iter().enumerate() {
        let Some(value) = after.get(member.key.as_ref()) else {
            continue;
        };
        if before.get(member.key.as_ref()) == Some(value) {
            items.push(Item::Keep(i));
        } else {
            let indent = style
                .indent
                .as_ref()
                .map(|_| line_indent(text, member.key_span.start));
            let mut s = text[member.key_span.start..member.value.start].to_owned();
            s.push_str(&render(value, indent, &style.unit));
            items.push(Item::Edit(i, s));
        }
    }
    for (key, value) in after {
        if !before.contains_key(key) {
            let mut s = Value::String(key.clone()).to_string();
            s.push_str(colon);
            s.push_str(&render(value, style.indent.as_deref(), &style.unit));
            items.push(Item::Add(s));
        }
    }
    join(text, layout.open, layout.close, &spans, &items)
}

/// A new element for the array `layout`, laid out like the elements already there.
pub(super) fn new_element(text: &str, layout: &ArrayLayout, value: &Value) -> String {
    let style = style(text, layout.open, layout.close, &layout.elements);
    render(value, style.indent.as_deref(), &style.unit)
}

/// The whole document with the array `layout` rewritten to hold `items`.
pub(super) fn rewrite_array(text: &str, layout: &ArrayLayout, items: &[Item]) -> String {
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..layout.open]);
    out.push_str(&join(
        text,
        layout.open,
        layout.close,
        &layout.elements,
        items,
    ));
    out.push_str(&text[layout.close + 1..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn edit(text: &str, after: Value) -> String {
        let layout = object(text, root(text)).unwrap();
        let before = obj(serde_json::from_str(text).unwrap());
        edit_object(text, &layout, &before, &obj(after))
    }

    #[test]
    fn finds_members_and_elements() {
        let text = " {\"a\" : [1, {\"b\":\"}\"}] ,\"c\\\"\":null}";
        let o = object(text, root(text)).unwrap();
        let keys: Vec<&str> = o.members.iter().map(|m| m.key.as_ref()).collect();
        assert_eq!(keys, ["a", "c\""]);
        assert_eq!(&text[o.members[0].value.clone()], "[1, {\"b\":\"}\"}]");
        assert_eq!(&text[o.members[1].value.clone()], "null");
        let a = array(text, o.members[0].value.start).unwrap();
        let elements: Vec<&str> = a.elements.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(elements, ["1", "{\"b\":\"}\"}"]);
        // Escaped backslashes end strings where they seem not to; escaped quotes do not.
        let text = r#"{"e\\":"q\\","f":"\"}\\"}"#;
        let o = object(text, 0).unwrap();
        let keys: Vec<&str> = o.members.iter().map(|m| m.key.as_ref()).collect();
        assert_eq!(keys, ["e\\", "f"]);
        let values: Vec<&str> = o.members.iter().map(|m| &text[m.value.clone()]).collect();
        assert_eq!(values, [r#""q\\""#, r#""\"}\\""#]);
        assert!(object(r#"{"a":"\"#, 0).is_none());
        assert!(object("{\"a\" 1}", 0).is_none());
        assert!(array("[1,", 0).is_none());
    }

    #[test]
    fn an_edit_keeps_unchanged_members_byte_for_byte() {
        let text = "{\n    \"big\":123456789012345678901234567890,\n    \"job\" :  \"A\",\n    \"list\": [1]\n}";
        let big: Value = serde_json::from_str("123456789012345678901234567890").unwrap();
        let out = edit(
            text,
            json!({"big": big, "job": "B", "list": [1, 2], "new": {"x": 1}}),
        );
        assert_eq!(
            out,
            "{\n    \"big\":123456789012345678901234567890,\n    \"job\" :  \"B\",\n    \"list\": [\n        1,\n        2\n    ],\n    \"new\":{\n        \"x\": 1\n    }\n}"
        );
    }

    #[test]
    fn one_line_objects_stay_on_one_line() {
        let out = edit(r#"{"a":1, "b":2}"#, json!({"a": 1, "c": [3]}));
        assert_eq!(out, r#"{"a":1, "c":[3]}"#);
        let out = edit("{}", json!({"a": 1}));
        assert_eq!(out, "{\n  \"a\": 1\n}");
    }

    #[test]
    fn arrays_keep_their_separators() {
        let text = "[\n\t{\"n\":1},\n\t{\"n\":2} ,\n\t{\"n\":3}\n]";
        let a = array(text, 0).unwrap();
        let added = new_element(text, &a, &json!({"n": 4}));
        assert_eq!(added, "{\n\t\t\"n\": 4\n\t}");
        let out = rewrite_array(
            text,
            &a,
            &[Item::Keep(0), Item::Keep(2), Item::Add("{\"n\":4}".into())],
        );
        assert_eq!(out, "[\n\t{\"n\":1},\n\t{\"n\":3},\n\t{\"n\":4}\n]");
        assert_eq!(rewrite_array(text, &a, &[]), "[]");
        let empty = "{\"value\": []}";
        let a = array(empty, 10).unwrap();
        let out = rewrite_array(empty, &a, &[Item::Add("{}".into())]);
        assert_eq!(out, "{\"value\": [\n  {}\n]}");
    }
}
