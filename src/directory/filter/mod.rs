//! RFC 4515 LDAP search filters: parse, print, escape, and evaluate against an entry with
//! Active Directory's matching semantics.
//!
//! Choices, where the RFC or AD leave room:
//! - [`Filter::parse`] accepts a bare item or composite without the outer parentheses
//!   (`objectClass=user`, `&(a=1)(b=2)`), as AD tools do, and whitespace between the filters
//!   of a list and around the whole filter. Values are taken verbatim: spaces in them count.
//! - Values use RFC 4515 escapes only (`\2a`, `\28`, `\29`, `\5c`, `\00`); RFC 2254's
//!   `\*`-style escapes and unescaped `(`, `)` and (outside substrings) `*` are errors.
//! - Empty `(&)` and `(|)` (RFC 4526) are refused: AD does not support them.
//! - Evaluation is two-valued: a test on an absent attribute is false, so `(!(attr=x))` is true
//!   for an entry without `attr`, as AD answers it.
//! - Nesting is bounded ([`MAX_DEPTH`]): the filter comes from untrusted YAML, and a parser that
//!   recursed without a bound would overflow the stack. Printing and evaluation use explicit
//!   stacks, so a filter built in code (scope and query combined) never recurses either.

mod eval;
mod parse;
mod print;

pub use eval::AttributeLookup;
pub use print::escape_value;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use crate::names::{eq_ci, fold};

use super::dn::Dn;
use super::ldif::Entry;
use super::model::AdUser;

/// AD's bitwise-AND matching rule (`LDAP_MATCHING_RULE_BIT_AND`).
pub const RULE_BIT_AND: &str = "1.2.840.113556.1.4.803";
/// AD's bitwise-OR matching rule (`LDAP_MATCHING_RULE_BIT_OR`).
pub const RULE_BIT_OR: &str = "1.2.840.113556.1.4.804";
/// AD's transitive membership rule (`LDAP_MATCHING_RULE_IN_CHAIN`).
pub const RULE_IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

/// The deepest nesting of parenthesised filters [`Filter::parse`] accepts. Real filters stay
/// under ten; a hundred leaves room for generated ones.
pub const MAX_DEPTH: usize = 100;

/// A search filter. Attribute names keep their spelling; values are raw bytes (unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equality {
        attr: String,
        value: Vec<u8>,
    },
    /// `attr=initial*any*…*final`; at least one of the parts is present.
    Substrings {
        attr: String,
        initial: Option<Vec<u8>>,
        any: Vec<Vec<u8>>,
        final_: Option<Vec<u8>>,
    },
    GreaterOrEqual {
        attr: String,
        value: Vec<u8>,
    },
    LessOrEqual {
        attr: String,
        value: Vec<u8>,
    },
    Present {
        attr: String,
    },
    Approx {
        attr: String,
        value: Vec<u8>,
    },
    /// `attr:dn:rule:=value`; `attr` or `rule` may be absent (not both).
    Extensible {
        attr: Option<String>,
        rule: Option<String>,
        dn_attributes: bool,
        value: Vec<u8>,
    },
}

/// Why a string is not a filter: 1-based character position and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LDAP filter at character {position}: {message}")]
pub struct FilterError {
    pub position: usize,
    pub message: String,
}

impl Filter {
    /// `(attr=value)`, whatever the value holds: it is escaped when printed, never a pattern.
    pub fn equals(attr: impl Into<String>, value: impl Into<Vec<u8>>) -> Filter {
        Filter::Equality {
            attr: attr.into(),
            value: value.into(),
        }
    }

    pub fn present(attr: impl Into<String>) -> Filter {
        Filter::Present { attr: attr.into() }
    }

    /// `(attr=prefix*)`.
    pub fn starts_with(attr: impl Into<String>, prefix: impl Into<Vec<u8>>) -> Filter {
        Filter::Substrings {
            attr: attr.into(),
            initial: Some(prefix.into()),
            any: Vec::new(),
            final_: None,
        }
    }

    pub fn and(filters: Vec<Filter>) -> Filter {
        Filter::And(filters)
    }

    pub fn or(filters: Vec<Filter>) -> Filter {
        Filter::Or(filters)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(filter: Filter) -> Filter {
        Filter::Not(Box::new(filter))
    }

    /// `(attr:1.2.840.113556.1.4.803:=bits)`: every bit of `bits` is set.
    pub fn bits_all(attr: impl Into<String>, bits: u64) -> Filter {
        Filter::Extensible {
            attr: Some(attr.into()),
            rule: Some(RULE_BIT_AND.to_owned()),
            dn_attributes: false,
            value: bits.to_string().into_bytes(),
        }
    }

    /// `(attr:1.2.840.113556.1.4.804:=bits)`: any bit of `bits` is set.
    pub fn bits_any(attr: impl Into<String>, bits: u64) -> Filter {
        Filter::Extensible {
            attr: Some(attr.into()),
            rule: Some(RULE_BIT_OR.to_owned()),
            dn_attributes: false,
            value: bits.to_string().into_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::ldif::LdifFile;

    fn parse(s: &str) -> Filter {
        Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn entry() -> Entry {
        let text = "\
dn: CN=Adam Anderson,OU=Sales,OU=Office365,DC=corp,DC=example,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
objectCategory: CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=com
cn: Adam Anderson
sAMAccountName: aanderson
userPrincipalName: aanderson@corp.local
displayName:: w4RkYW0gQW5kZXJzb24=
proxyAddresses: SMTP:adam.anderson@example.com
proxyAddresses: smtp:aa@corp.example.com
userAccountControl: 66050
uSNChanged: 3921
department: Sales
objectGUID:: BpazOkLGm0iEtljAONPvOQ==
";
        LdifFile::parse(text.as_bytes()).unwrap().entries()[0].clone()
    }

    fn check(filter: &str, expected: bool) {
        assert_eq!(parse(filter).matches(&entry()), expected, "{filter}");
    }

    #[test]
    fn parses_every_filter_type() {
        assert_eq!(parse("(cn=a)"), Filter::equals("cn", "a"));
        assert_eq!(parse("(cn=*)"), Filter::present("cn"));
        assert_eq!(
            parse("(cn~=a)"),
            Filter::Approx {
                attr: "cn".into(),
                value: b"a".to_vec()
            }
        );
        assert_eq!(
            parse("(uSNChanged>=10)"),
            Filter::GreaterOrEqual {
                attr: "uSNChanged".into(),
                value: b"10".to_vec()
            }
        );
        assert_eq!(
            parse("(uSNChanged<=10)"),
            Filter::LessOrEqual {
                attr: "uSNChanged".into(),
                value: b"10".to_vec()
            }
        );
        assert_eq!(
            parse("(cn=a*b*c*d)"),
            Filter::Substrings {
                attr: "cn".into(),
                initial: Some(b"a".to_vec()),
                any: vec![b"b".to_vec(), b"c".to_vec()],
                final_: Some(b"d".to_vec())
            }
        );
        assert_eq!(
            parse("(cn=*x)"),
            Filter::Substrings {
                attr: "cn".into(),
                initial: None,
                any: vec![],
                final_: Some(b"x".to_vec())
            }
        );
        assert_eq!(parse("(cn=x*)"), Filter::starts_with("cn", "x"));
        assert_eq!(
            parse("(cn=*x*)"),
            Filter::Substrings {
                attr: "cn".into(),
                initial: None,
                any: vec![b"x".to_vec()],
                final_: None
            }
        );
        assert_eq!(
            parse("(userAccountControl:1.2.840.113556.1.4.803:=2)"),
            Filter::bits_all("userAccountControl", 2)
        );
        assert_eq!(
            parse("(ou:dn:=Sales)"),
            Filter::Extensible {
                attr: Some("ou".into()),
                rule: None,
                dn_attributes: true,
                value: b"Sales".to_vec()
            }
        );
        assert_eq!(
            parse("(:dn:2.5.13.5:=Sales)"),
            Filter::Extensible {
                attr: None,
                rule: Some("2.5.13.5".into()),
                dn_attributes: true,
                value: b"Sales".to_vec()
            }
        );
        assert_eq!(
            parse("(&(a=1)(|(b=2)(!(c=3))))"),
            Filter::and(vec![
                Filter::equals("a", "1"),
                Filter::or(vec![
                    Filter::equals("b", "2"),
                    Filter::not(Filter::equals("c", "3"))
                ]),
            ])
        );
        assert_eq!(
            parse("(userCertificate;binary=\\00\\ff)"),
            Filter::equals("userCertificate;binary", vec![0u8, 0xff])
        );
    }

    #[test]
    fn bare_items_whitespace_and_utf8() {
        assert_eq!(
            parse("objectClass=user"),
            Filter::equals("objectClass", "user")
        );
        assert_eq!(
            parse("  &(a=1) (b=2)  "),
            Filter::and(vec![Filter::equals("a", "1"), Filter::equals("b", "2")])
        );
        assert_eq!(parse("( & (a=1)\n (b=2) )").to_string(), "(&(a=1)(b=2))");
        assert_eq!(
            parse("(cn=John Smith )"),
            Filter::equals("cn", "John Smith ")
        );
        assert_eq!(parse("(sn=Ærø)"), Filter::equals("sn", "Ærø"));
        assert_eq!(parse("(sn=\\c3\\86r\\C3\\B8)"), Filter::equals("sn", "Ærø"));
    }

    #[test]
    fn errors_give_the_character_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty"),
            ("(cn=a", 6, "expected ')'"),
            ("(cn=a(b)", 6, "unescaped '('"),
            ("cn=a)b", 5, "unescaped ')'"),
            ("(cn>=a*)", 7, "unescaped '*'"),
            ("(cn=\\2)", 5, "bad escape"),
            ("(cn=\\*)", 5, "bad escape"),
            ("(cn=a\\", 6, "bad escape"),
            ("(=a)", 2, "missing attribute"),
            ("(&)", 3, "at least one filter"),
            ("(|(a=1)x)", 8, "expected ')'"),
            ("(c n=a)", 3, "invalid character"),
            ("(cn=a))", 7, "after the end"),
            ("(cn~a)", 5, "'=' after '~'"),
            ("(:=a)", 2, "needs a matching rule"),
            ("(cn:x:y:=a)", 7, "more than one"),
            ("(sn=Ærø\\zz)", 8, "bad escape"),
            ("(!cn=a)", 3, "expected '('"),
        ];
        for &(input, position, message) in cases {
            let e = Filter::parse(input).expect_err(input);
            assert_eq!(e.position, position, "{input}: {e}");
            assert!(e.message.contains(message), "{input}: {e}");
        }
    }

    #[test]
    fn display_is_canonical_and_escaped() {
        for (input, canonical) in [
            ("(cn=a)", "(cn=a)"),
            ("objectClass=user", "(objectClass=user)"),
            ("(cn=\\2a\\28\\29\\5c\\00)", "(cn=\\2a\\28\\29\\5c\\00)"),
            ("(cn=\\2A)", "(cn=\\2a)"),
            ("(cn=a*\\2a*b)", "(cn=a*\\2a*b)"),
            ("(sn=Ærø)", "(sn=Ærø)"),
            ("(x=\\ff\\0a)", "(x=\\ff\\0a)"),
            (
                "(userAccountControl:1.2.840.113556.1.4.803:=2)",
                "(userAccountControl:1.2.840.113556.1.4.803:=2)",
            ),
            ("(ou:DN:=Sales)", "(ou:dn:=Sales)"),
            ("(&(a=1)(!(b=*)))", "(&(a=1)(!(b=*)))"),
        ] {
            let f = parse(input);
            assert_eq!(f.to_string(), canonical);
            assert_eq!(parse(&f.to_string()), f, "re-parse of {canonical}");
        }
    }

    #[test]
    fn escaping_untrusted_values_never_widens_a_filter() {
        assert_eq!(
            escape_value("*)(objectClass=*"),
            "\\2a\\29\\28objectClass=\\2a"
        );
        assert_eq!(escape_value(b"a\\b\0\x7f\xff"), "a\\5cb\\00\\7f\\ff");
        assert_eq!(escape_value("Zoë"), "Zoë");

        let hostile = "*)(|(objectClass=*";
        let f = Filter::and(vec![
            Filter::equals("objectClass", "user"),
            Filter::equals("sAMAccountName", hostile),
        ]);
        let text = f.to_string();
        let reparsed = parse(&text);
        assert_eq!(reparsed, f);
        assert!(!reparsed.matches(&entry()));
        // The same value spliced in unescaped would have matched everything (or failed).
        let spliced = format!("(&(objectClass=user)(sAMAccountName={hostile}))");
        assert!(Filter::parse(&spliced).is_err());
        let mut e = entry();
        e.set_values("sAMAccountName", [hostile]);
        assert!(reparsed.matches(&e));
    }

    #[test]
    fn evaluates_with_ad_semantics() {
        check("(objectClass=user)", true);
        check("(objectClass=USER)", true);
        check("(objectclass=computer)", false);
        check("(OBJECTCLASS=*)", true);
        check("(mail=*)", false);
        check("(!(mail=x))", true);
        check("(!(mail=*))", true);
        check("(sAMAccountName=AANDERSON)", true);
        check("(sAMAccountName=aand*)", true);
        check("(sAMAccountName=*SON)", true);
        check("(sAMAccountName=a*de*so*)", true);
        check("(sAMAccountName=a*son*son)", false);
        check("(sAMAccountName=*x*)", false);
        check("(displayName=ädam*)", true);
        check("(proxyAddresses=smtp:adam.anderson@example.com)", true);
        check("(proxyAddresses=SMTP:aa@*)", true);
        check("(uSNChanged>=3921)", true);
        check("(uSNChanged>=10000)", false);
        check("(uSNChanged<=999)", false); // numeric, not "3921" <= "999" as text
        check("(department>=sales)", true);
        check("(department<=Sa)", false);
        check("(cn~=adam   anderson)", true);
        check("(userAccountControl:1.2.840.113556.1.4.803:=2)", true);
        check("(userAccountControl:1.2.840.113556.1.4.803:=65538)", true);
        check("(userAccountControl:1.2.840.113556.1.4.803:=16)", false);
        check("(userAccountControl:1.2.840.113556.1.4.804:=18)", true);
        check("(userAccountControl:1.2.840.113556.1.4.804:=16)", false);
        check("(!(userAccountControl:1.2.840.113556.1.4.803:=2))", false);
        check("(mail:1.2.840.113556.1.4.803:=2)", false);
        check("(cn:9.9.9:=x)", false);
        check("(cn:2.5.13.5:=adam anderson)", false);
        check("(cn:2.5.13.5:=Adam Anderson)", true);
        check("(ou:dn:=sales)", true);
        check("(ou:=sales)", false);
        check("(objectCategory=person)", true);
        check("(objectCategory=user)", true);
        check("(objectCategory=computer)", false);
        check(
            "(objectCategory=CN=Person,CN=Schema,CN=Configuration,DC=corp,DC=example,DC=com)",
            true,
        );
        check(
            "(&(objectCategory=person)(objectClass=user)(!(sAMAccountName=svc-*)))",
            true,
        );
        check(
            "(|(sAMAccountName=x)(userPrincipalName=AANDERSON@corp.local))",
            true,
        );
        check(
            "(objectGUID=\\06\\96\\b3\\3a\\42\\c6\\9b\\48\\84\\b6\\58\\c0\\38\\d3\\ef\\39)",
            true,
        );
        check("(objectGUID=\\06\\96)", false);
    }

    #[test]
    fn evaluates_against_ad_users() {
        use crate::directory::model::{AdUser, Guid};
        use crate::names::AttrName;
        let dn = Dn::parse("CN=a,OU=Sales,DC=x").unwrap();
        let mut user = AdUser::new(dn, Guid([1; 16]));
        user.set_sam_account_name("svc-backup");
        user.user_account_control = Some(514);
        user.attributes
            .insert(AttrName::from("objectClass"), ["top", "user"]);
        assert!(parse("(&(objectClass=user)(sAMAccountName=svc-*))").matches(&user));
        assert!(parse("(userAccountControl:1.2.840.113556.1.4.803:=2)").matches(&user));
        assert!(parse("(OU:dn:=sales)").matches(&user));
        assert!(!parse("(mail=*)").matches(&user));
        assert!(
            parse("(objectGUID=\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01\\01)")
                .matches(&user)
        );
    }

    /// Runs `f` on a thread with a small stack, as a stand-in for the main thread's: unbounded
    /// recursion over deep input aborts the process there.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn deep_nesting_is_refused_with_a_position() {
        fn deep(n: usize) -> String {
            format!("{}(cn=a){}", "(!".repeat(n), ")".repeat(n))
        }
        // MAX_DEPTH parenthesised filters in all: MAX_DEPTH - 1 `(!` around one item.
        assert!(Filter::parse(&deep(MAX_DEPTH - 1)).is_ok());
        let e = Filter::parse(&deep(MAX_DEPTH)).unwrap_err();
        assert_eq!(e.position, 2 * MAX_DEPTH + 1, "{e}");
        assert!(e.message.contains("nested more than 100"), "{e}");
        let e = on_small_stack(|| Filter::parse(&deep(10_000)).unwrap_err());
        assert!(e.message.contains("nested"), "{e}");
        let e = on_small_stack(|| Filter::parse(&"(&".repeat(10_000)).unwrap_err());
        assert!(e.message.contains("nested"), "{e}");
    }

    #[test]
    fn deep_filters_built_in_code_print_and_evaluate_without_recursion() {
        let (text, matched, unmatched) = on_small_stack(|| {
            let mut f = Filter::equals("sAMAccountName", "aanderson");
            // An even number of `!`: the same truth value as the item.
            for i in 0..100_000 {
                f = if i % 3 == 0 {
                    Filter::and(vec![Filter::present("cn"), f])
                } else {
                    Filter::not(f)
                };
            }
            let text = f.to_string();
            let matched = f.matches(&entry());
            let f = Filter::or(vec![Filter::equals("cn", "x"), Filter::not(f)]);
            let unmatched = f.matches(&entry());
            // Dropping is recursive too: unwind by hand so the test itself stays on its stack.
            let mut rest = Some(f);
            while let Some(next) = rest.take() {
                rest = match next {
                    Filter::Not(inner) => Some(*inner),
                    Filter::And(mut list) | Filter::Or(mut list) => list.pop(),
                    _ => None,
                };
            }
            (text, matched, unmatched)
        });
        assert!(text.starts_with("(&(cn=*)(!(!(&(cn=*)(!(!("), "{text:.40}");
        let innermost = "(!(!(&(cn=*)(sAMAccountName=aanderson))))";
        assert!(text.contains(innermost));
        let tail = text.len() - text.find(innermost).unwrap() - innermost.len();
        assert_eq!(
            tail,
            100_000 - 3,
            "one ')' per level outside the innermost three"
        );
        let nots = (0..100_000).filter(|i| i % 3 != 0).count();
        assert_eq!(nots % 2, 0);
        assert!(matched);
        assert!(!unmatched);
    }
}
