//! Name templates such as `{mailNickname}` or `{givenName:1}{surname}`, filled from a cloud
//! user's properties.

use std::fmt;

use crate::directory::attributes::{self, ValueKind};

/// Cloud properties a template may name besides the text rows of the attribute table: the
/// identifiers every read selects.
const IDENTIFIER_PLACEHOLDERS: &[&str] = &["id", "onPremisesImmutableId"];

/// The property names a template may use, in Graph's exact spelling: the identifiers and every
/// single-valued text property of the attribute table.
pub fn placeholders() -> impl Iterator<Item = &'static str> {
    IDENTIFIER_PLACEHOLDERS.iter().copied().chain(
        attributes::TABLE
            .iter()
            .filter(|m| m.kind == ValueKind::Text)
            .map(|m| m.graph),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A Graph property, optionally cut to its first `n` characters.
    Property {
        name: String,
        take: Option<usize>,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; the error says what is wrong and at which character (1-based).
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' => {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    let mut inner = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err((i + 1, "unclosed `{`".into()));
                    }
                    let (name, take) = match inner.split_once(':') {
                        Some((name, n)) => {
                            let n = n.trim().parse::<usize>().ok().filter(|&n| n > 0).ok_or((
                                i + 1,
                                format!(
                                    "`{{{inner}}}`: the number after `:` must be a positive integer"
                                ),
                            ))?;
                            (name.trim(), Some(n))
                        }
                        None => (inner.trim(), None),
                    };
                    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err((i + 1, format!("`{{{inner}}}` is not a property name")));
                    }
                    if !placeholders().any(|p| p == name) {
                        return Err((
                            i + 1,
                            format!(
                                "unknown placeholder `{{{name}}}`; known: {}",
                                placeholders().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                    parts.push(Part::Property {
                        name: name.to_owned(),
                        take,
                    });
                }
                '}' => return Err((i + 1, "unmatched `}`".into())),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if !parts.iter().any(|p| matches!(p, Part::Property { .. })) {
            return Err((
                1,
                "the template names no property, so every account would get the same value".into(),
            ));
        }
        Ok(Template {
            source: text.to_owned(),
            parts,
        })
    }

    /// The properties it names (for the reads to select them).
    pub fn properties(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Property { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Fills the template. `Err(name)` names a property the object does not have.
    pub fn render<'a>(&self, property: impl Fn(&str) -> Option<&'a str>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Property { name, take } => {
                    let value = property(name)
                        .filter(|v| !v.trim().is_empty())
                        .ok_or_else(|| name.clone())?;
                    match take {
                        Some(n) => out.extend(value.chars().take(*n)),
                        None => out.push_str(value),
                    }
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(name: &str) -> Option<&'static str> {
        match name {
            "mailNickname" => Some("alva.wood"),
            "givenName" => Some("Alva"),
            "surname" => Some("Wood"),
            _ => None,
        }
    }

    #[test]
    fn fills_properties_and_prefixes() {
        let t = Template::parse("{mailNickname}").unwrap();
        assert_eq!(t.render(props).unwrap(), "alva.wood");
        let t = Template::parse("{givenName:1}{surname}-x").unwrap();
        assert_eq!(t.render(props).unwrap(), "AWood-x");
        let t = Template::parse("{department}").unwrap();
        assert_eq!(t.render(props).unwrap_err(), "department");
        assert_eq!(t.properties().collect::<Vec<_>>(), ["department"]);
    }

    #[test]
    fn rejects_malformed_templates() {
        assert_eq!(Template::parse("{abc").unwrap_err().0, 1);
        assert!(Template::parse("x}").is_err());
        assert!(Template::parse("{a:0}").is_err());
        assert!(Template::parse("{a b}").is_err());
        assert!(Template::parse("fixed").is_err());
    }

    #[test]
    fn unknown_and_miscased_placeholders_are_refused_naming_the_known_ones() {
        let (pos, msg) = Template::parse("x-{mailNick}").unwrap_err();
        assert_eq!(pos, 3);
        assert!(msg.contains("unknown placeholder `{mailNick}`"), "{msg}");
        assert!(
            msg.contains("mailNickname") && msg.contains("employeeId"),
            "{msg}"
        );
        assert!(Template::parse("{MailNickname}").is_err());
        // Lists and booleans have no single text value.
        assert!(Template::parse("{businessPhones}").is_err());
        assert!(Template::parse("{accountEnabled}").is_err());
        for ok in ["{id}", "{onPremisesImmutableId}", "{givenName:1}{surname}"] {
            assert!(Template::parse(ok).is_ok(), "{ok}");
        }
    }
}
