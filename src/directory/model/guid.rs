//! Binary values: objectGUIDs, and short byte strings such as the consistency GUID.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// An AD objectGUID: the 16 raw bytes as AD stores them (first three fields little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Guid)
    }

    /// Parses the registry form `3ab39606-c642-489b-84b6-58c038d3ef39` (braces optional).
    pub fn parse(s: &str) -> Option<Self> {
        let hex: String = s
            .trim_matches(|c| c == '{' || c == '}')
            .chars()
            .filter(|&c| c != '-')
            .collect();
        if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut be = [0u8; 16];
        for (i, b) in be.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        let mut raw = be;
        raw[0..4].reverse();
        raw[4..6].reverse();
        raw[6..8].reverse();
        Some(Guid(raw))
    }

    /// base64 of the raw bytes: the value Entra stores as `onPremisesImmutableId`.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// A random version-4 GUID, for objects created in snapshot files.
    pub fn new_random() -> Self {
        let mut bytes: [u8; 16] = rand::random();
        bytes[7] = (bytes[7] & 0x0f) | 0x40; // version 4 (byte 7 is the high byte of field 3, LE)
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Guid(bytes)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[3],
            b[2],
            b[1],
            b[0],
            b[5],
            b[4],
            b[7],
            b[6],
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}
impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

/// A binary attribute value, inline up to 16 bytes (the size of a GUID, what
/// `mS-DS-ConsistencyGuid` holds in practice) and on the heap beyond: no allocation per
/// object for the usual case.
#[derive(Clone)]
pub struct SmallBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; 16] },
    Heap(Box<[u8]>),
}

impl SmallBytes {
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= 16 {
            let mut inline = [0; 16];
            inline[..bytes.len()].copy_from_slice(bytes);
            SmallBytes(Repr::Inline {
                len: bytes.len() as u8,
                bytes: inline,
            })
        } else {
            SmallBytes(Repr::Heap(bytes.into()))
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(bytes) => bytes,
        }
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for SmallBytes {}

impl std::ops::Deref for SmallBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}
impl From<&[u8]> for SmallBytes {
    fn from(bytes: &[u8]) -> Self {
        SmallBytes::new(bytes)
    }
}
impl From<Vec<u8>> for SmallBytes {
    fn from(bytes: Vec<u8>) -> Self {
        SmallBytes::new(&bytes)
    }
}
impl<const N: usize> From<[u8; N]> for SmallBytes {
    fn from(bytes: [u8; N]) -> Self {
        SmallBytes::new(&bytes)
    }
}
impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}
impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_to_immutable_id_matches_the_design_example() {
        let guid = Guid::parse("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap();
        assert_eq!(guid.to_base64(), "BpazOkLGm0iEtljAONPvOQ==");
        assert_eq!(guid.to_string(), "3ab39606-c642-489b-84b6-58c038d3ef39");
        assert_eq!(
            Guid::parse("{3AB39606-C642-489B-84B6-58C038D3EF39}"),
            Some(guid)
        );
        assert_eq!(Guid::parse("nope"), None);
    }

    #[test]
    fn random_guids_are_version_4() {
        let g = Guid::new_random();
        assert_eq!(g.to_string().as_bytes()[14], b'4');
        assert_ne!(g, Guid::new_random());
    }

    #[test]
    fn small_bytes_hold_any_length() {
        for len in [0, 1, 15, 16, 17, 40] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let small = SmallBytes::from(bytes.clone());
            assert_eq!(small.as_slice(), bytes.as_slice());
            assert_eq!(matches!(small.0, Repr::Inline { .. }), len <= 16);
        }
        assert_eq!(std::mem::size_of::<Option<SmallBytes>>(), 24);
    }
}
