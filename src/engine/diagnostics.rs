//! IdFix-class checks of the values an AD object would sync with: `character`, `format`,
//! `topleveldomain`, `duplicate`, `length`, `blank`. Errors block only the identity they
//! concern.

use super::index::{ci_hash, shared_keys};

use crate::desired::DesiredState;
use crate::directory::AdUser;
use crate::directory::model::Values;
use crate::names::{AttrName, ProxyAddress, eq_ci, fold};
use crate::plan::{Diagnostic, Severity};

/// Characters IdFix rejects in a userPrincipalName (besides whitespace).
pub(crate) fn upn_bad(c: char) -> bool {
    matches!(
        c,
        '\\' | '%'
            | '&'
            | '*'
            | '+'
            | '/'
            | '='
            | '?'
            | '\''
            | '{'
            | '}'
            | '|'
            | '<'
            | '>'
            | '('
            | ')'
            | ';'
            | ':'
            | ','
            | '['
            | ']'
            | '"'
    )
}

/// Characters AD rejects in a sAMAccountName.
fn sam_bad(c: char) -> bool {
    matches!(
        c,
        '\\' | '"' | '|' | ',' | '/' | '[' | ']' | ':' | '<' | '>' | '+' | '=' | ';' | '?' | '*'
    )
}
/// Suffixes no public DNS resolves: a UPN on one syncs as `…@tenant.onmicrosoft.com`.
const NON_ROUTABLE_TLDS: &[&str] = &[
    "local",
    "lan",
    "internal",
    "intranet",
    "localdomain",
    "corp",
    "home",
    "private",
    "localhost",
];

pub const MAX_UPN: usize = 113;
pub const MAX_SAM: usize = 20;
pub const MAX_MAIL_NICKNAME: usize = 64;
pub const MAX_DISPLAY_NAME: usize = 255;

/// The values of one AD object as they would be after the plan.
#[derive(Debug, Clone, Default)]
pub struct Projected<'a> {
    /// The object's label in diagnostics (its DN).
    pub object: &'a str,
    pub upn: Option<&'a str>,
    pub sam_account_name: Option<&'a str>,
    pub mail: Option<&'a str>,
    pub proxy_addresses: ProxyValues<'a>,
    pub display_name: Option<&'a str>,
    pub mail_nickname: Option<&'a str>,
}

/// `proxyAddresses` values: as read, or as the plan would leave them.
#[derive(Debug, Clone)]
pub enum ProxyValues<'a> {
    Read(Values<'a>),
    Planned(&'a [String]),
}

impl Default for ProxyValues<'_> {
    fn default() -> Self {
        ProxyValues::Planned(&[])
    }
}

impl<'a> ProxyValues<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let (read, planned) = match self {
            ProxyValues::Read(values) => (Some(values.clone()), None),
            ProxyValues::Planned(values) => (None, Some(values.iter().map(String::as_str))),
        };
        read.into_iter()
            .flatten()
            .chain(planned.into_iter().flatten())
    }
}

impl<'a> Projected<'a> {
    pub fn of(u: &'a AdUser) -> Self {
        Projected {
            object: u.dn.as_str(),
            upn: u.upn(),
            sam_account_name: u.sam_account_name(),
            mail: u.mail(),
            proxy_addresses: ProxyValues::Read(u.proxy_addresses()),
            display_name: u.attr(AttrName::DISPLAY_NAME),
            mail_nickname: u.attr(AttrName::MAIL_NICKNAME),
        }
    }
}

fn diag(
    severity: Severity,
    rule: &str,
    object: &str,
    attribute: &str,
    message: String,
) -> Diagnostic {
    Diagnostic {
        severity,
        rule: rule.to_owned(),
        object: object.to_owned(),
        attribute: attribute.to_owned(),
        message,
    }
}

/// Checks one object's own values.
pub fn check(p: &Projected<'_>, desired: &DesiredState, out: &mut Vec<Diagnostic>) {
    let obj = p.object;
    let err = Severity::Error;

    match p.upn.filter(|s| !s.trim().is_empty()) {
        None => out.push(diag(
            err,
            "blank",
            obj,
            "userPrincipalName",
            "userPrincipalName is blank; Entra Connect cannot sync a predictable UPN".into(),
        )),
        Some(upn) => {
            if let Some(c) = upn.chars().find(|c| c.is_whitespace() || upn_bad(*c)) {
                out.push(diag(
                    err,
                    "character",
                    obj,
                    "userPrincipalName",
                    format!("userPrincipalName {upn:?} contains the invalid character {c:?}"),
                ));
            }
            match address_format(upn) {
                Err(why) => out.push(diag(
                    err,
                    "format",
                    obj,
                    "userPrincipalName",
                    format!("userPrincipalName {upn:?} {why}"),
                )),
                Ok(domain) => {
                    // The suffix after upn_suffixes, without building the rewritten UPN.
                    let routable = desired
                        .upn_suffixes
                        .iter()
                        .find(|(from, _)| eq_ci(from, domain))
                        .map_or(domain, |(_, to)| to.as_str());
                    let tld = routable.rsplit('.').next().unwrap_or("");
                    if NON_ROUTABLE_TLDS
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(tld))
                    {
                        out.push(diag(err, "topleveldomain", obj, "userPrincipalName", format!("userPrincipalName {upn:?} ends in the non-routable suffix {domain:?} and no upn_suffixes entry rewrites it")));
                    }
                }
            }
            if upn.len() > MAX_UPN && upn.chars().count() > MAX_UPN {
                out.push(diag(
                    err,
                    "length",
                    obj,
                    "userPrincipalName",
                    format!(
                        "userPrincipalName is {} characters; at most {MAX_UPN}",
                        upn.chars().count()
                    ),
                ));
            }
        }
    }

    match p.sam_account_name.filter(|s| !s.trim().is_empty()) {
        None => out.push(diag(
            err,
            "blank",
            obj,
            "sAMAccountName",
            "sAMAccountName is blank".into(),
        )),
        Some(sam) => {
            if let Some(c) = sam.chars().find(|c| sam_bad(*c) || c.is_control()) {
                out.push(diag(
                    err,
                    "character",
                    obj,
                    "sAMAccountName",
                    format!("sAMAccountName {sam:?} contains the invalid character {c:?}"),
                ));
            }
            if sam.ends_with('.') {
                out.push(diag(
                    err,
                    "format",
                    obj,
                    "sAMAccountName",
                    format!("sAMAccountName {sam:?} ends with a period"),
                ));
            }
            if sam.len() > MAX_SAM && sam.chars().count() > MAX_SAM {
                out.push(diag(
                    err,
                    "length",
                    obj,
                    "sAMAccountName",
                    format!(
                        "sAMAccountName {sam:?} is {} characters; at most {MAX_SAM}",
                        sam.chars().count()
                    ),
                ));
            }
        }
    }

    if let Some(mail) = p.mail {
        if mail.trim().is_empty() {
            out.push(diag(
                err,
                "blank",
                obj,
                "mail",
                "mail is set but blank".into(),
            ));
        } else if let Err(why) = address_format(mail) {
            out.push(diag(
                err,
                "format",
                obj,
                "mail",
                format!("mail {mail:?} {why}"),
            ));
        }
    }

    let mut primaries = 0;
    for value in p.proxy_addresses.iter() {
        match ProxyAddress::parse(value) {
            None => out.push(diag(
                err,
                "format",
                obj,
                "proxyAddresses",
                format!("proxyAddresses value {value:?} has no TYPE: prefix"),
            )),
            Some(pa) if pa.is_smtp() => {
                if pa.is_primary_smtp() {
                    primaries += 1;
                }
                if let Err(why) = address_format(pa.address) {
                    out.push(diag(
                        err,
                        "format",
                        obj,
                        "proxyAddresses",
                        format!("proxyAddresses value {value:?}: the address {why}"),
                    ));
                }
                if let Some(c) = pa.address.chars().find(|c| c.is_whitespace()) {
                    out.push(diag(
                        err,
                        "character",
                        obj,
                        "proxyAddresses",
                        format!(
                            "proxyAddresses value {value:?} contains the invalid character {c:?}"
                        ),
                    ));
                }
            }
            Some(_) => {}
        }
    }
    if primaries > 1 {
        out.push(diag(err, "format", obj, "proxyAddresses", format!("proxyAddresses has {primaries} primary SMTP: values; exactly one may be upper-case SMTP:")));
    }

    match p.display_name {
        Some(d) if d.len() > MAX_DISPLAY_NAME && d.chars().count() > MAX_DISPLAY_NAME => {
            out.push(diag(
                err,
                "length",
                obj,
                "displayName",
                format!(
                    "displayName is {} characters; at most {MAX_DISPLAY_NAME}",
                    d.chars().count()
                ),
            ))
        }
        Some(d) if d.trim().is_empty() => out.push(diag(
            Severity::Warning,
            "blank",
            obj,
            "displayName",
            "displayName is blank; the cloud shows the UPN instead".into(),
        )),
        None => out.push(diag(
            Severity::Warning,
            "blank",
            obj,
            "displayName",
            "displayName is not set; the cloud shows the UPN instead".into(),
        )),
        Some(_) => {}
    }
    if let Some(n) = p.mail_nickname {
        if n.len() > MAX_MAIL_NICKNAME && n.chars().count() > MAX_MAIL_NICKNAME {
            out.push(diag(
                err,
                "length",
                obj,
                "mailNickname",
                format!(
                    "mailNickname is {} characters; at most {MAX_MAIL_NICKNAME}",
                    n.chars().count()
                ),
            ));
        }
        if n.trim().is_empty() {
            out.push(diag(
                err,
                "blank",
                obj,
                "mailNickname",
                "mailNickname is set but blank".into(),
            ));
        }
    }
}

/// Checks `local@domain`; returns the domain.
fn address_format(address: &str) -> Result<&str, &'static str> {
    let Some(at) = address.find('@') else {
        return Err("must contain exactly one @");
    };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    if domain.contains('@') {
        return Err("must contain exactly one @");
    }
    if local.is_empty() {
        return Err("has nothing before the @");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("has a misplaced period before the @");
    }
    if domain.is_empty() || !domain.contains('.') {
        return Err("needs a domain with a dot after the @");
    }
    if domain
        .split('.')
        .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
    {
        return Err("has a malformed domain");
    }
    Ok(domain)
}

/// The values of an AD object that must be unique among in-scope objects: UPN, mail and
/// every SMTP proxy address, with the attribute holding each.
pub(crate) fn unique_values(u: &AdUser) -> impl Iterator<Item = (&'static str, &str)> {
    let upn = u.upn().map(|v| ("userPrincipalName", v));
    let mail = u.mail().map(|v| ("mail", v));
    let proxies = u
        .proxy_addresses()
        .filter_map(|v| ProxyAddress::parse(v).filter(ProxyAddress::is_smtp))
        .map(|pa| ("proxyAddresses", pa.address));
    upn.into_iter().chain(mail).chain(proxies)
}

/// IdFix `duplicate`: a value several in-scope objects hold, reported on every holder.
/// Sorts value hashes instead of building a map, so a million objects stay cheap.
pub(crate) fn duplicates(ad: &[AdUser], in_scope: &[usize], out: &mut Vec<Diagnostic>) {
    let value = |i: u32, k: u16| {
        unique_values(&ad[i as usize])
            .nth(usize::from(k))
            .unwrap_or(("", ""))
    };
    // Hashing every value is most of the work: on every core, the parts joined in order.
    let entries: Vec<(u64, u32, u16)> = crate::parallel::ranges(in_scope.len(), |range| {
        let mut part = Vec::with_capacity(range.len() * 3);
        for &i in &in_scope[range] {
            for (k, (_, v)) in unique_values(&ad[i]).enumerate() {
                part.push((ci_hash(&[v]), i as u32, k as u16));
            }
        }
        part
    })
    .concat();
    let groups = shared_keys(entries, |x, y| eq_ci(value(x.1, x.2).1, value(y.1, y.2).1));
    let mut found: Vec<Diagnostic> = Vec::new();
    for group in groups {
        // One holder per object (an object may hold a value as mail, UPN and primary SMTP).
        let mut holders: Vec<(u32, &'static str)> = Vec::new();
        for &(i, k) in &group {
            if holders.last().is_none_or(|(o, _)| *o != i) {
                holders.push((i, value(i, k).0));
            }
        }
        let shared = fold(value(group[0].0, group[0].1).1);
        for &(i, attr) in &holders {
            let others: Vec<&str> = holders
                .iter()
                .filter(|(o, _)| *o != i)
                .map(|(o, _)| ad[*o as usize].dn.as_str())
                .collect();
            found.push(diag(
                Severity::Error,
                "duplicate",
                ad[i as usize].dn.as_str(),
                attr,
                format!("{shared} is also held by {}", others.join("; ")),
            ));
        }
    }
    found.sort_by(|a, b| {
        (&a.object, &a.attribute, &a.message).cmp(&(&b.object, &b.attribute, &b.message))
    });
    out.extend(found);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> DesiredState {
        let mut d = DesiredState::with_scope(&["DC=x"]);
        d.upn_suffixes
            .insert("corp.local".into(), "example.com".into());
        d
    }

    fn run(p: Projected<'_>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        check(&p, &desired(), &mut out);
        out.into_iter().map(|d| (d.rule, d.attribute)).collect()
    }

    fn good() -> Projected<'static> {
        Projected {
            object: "CN=a",
            upn: Some("a@example.com"),
            sam_account_name: Some("a"),
            mail: Some("a@example.com"),
            proxy_addresses: ProxyValues::Planned(&[]),
            display_name: Some("A"),
            mail_nickname: None,
        }
    }

    #[test]
    fn a_clean_object_has_no_diagnostics() {
        assert!(run(good()).is_empty());
    }

    #[test]
    fn each_rule() {
        let r = |p| run(p);
        assert!(
            r(Projected {
                upn: Some("a b@example.com"),
                ..good()
            })
            .contains(&("character".into(), "userPrincipalName".into()))
        );
        assert!(
            r(Projected {
                sam_account_name: Some("a*b"),
                ..good()
            })
            .contains(&("character".into(), "sAMAccountName".into()))
        );
        assert!(
            r(Projected {
                upn: Some("a@@example.com"),
                ..good()
            })
            .contains(&("format".into(), "userPrincipalName".into()))
        );
        assert!(
            r(Projected {
                mail: Some("nope"),
                ..good()
            })
            .contains(&("format".into(), "mail".into()))
        );
        assert!(
            r(Projected {
                upn: Some("a@corp.lan"),
                ..good()
            })
            .contains(&("topleveldomain".into(), "userPrincipalName".into()))
        );
        // A rewritten suffix is fine.
        assert!(
            r(Projected {
                upn: Some("a@corp.local"),
                ..good()
            })
            .is_empty()
        );
        let long = "x".repeat(21);
        assert!(
            r(Projected {
                sam_account_name: Some(&long),
                ..good()
            })
            .contains(&("length".into(), "sAMAccountName".into()))
        );
        let long_upn = format!("{}@example.com", "y".repeat(110));
        assert!(
            r(Projected {
                upn: Some(&long_upn),
                ..good()
            })
            .contains(&("length".into(), "userPrincipalName".into()))
        );
        assert!(
            r(Projected {
                upn: None,
                ..good()
            })
            .contains(&("blank".into(), "userPrincipalName".into()))
        );
        assert!(
            r(Projected {
                display_name: Some(" "),
                ..good()
            })
            .contains(&("blank".into(), "displayName".into()))
        );
        let two = [
            "SMTP:a@example.com".to_owned(),
            "SMTP:b@example.com".to_owned(),
        ];
        assert!(
            r(Projected {
                proxy_addresses: ProxyValues::Planned(&two),
                ..good()
            })
            .contains(&("format".into(), "proxyAddresses".into()))
        );
    }

    #[test]
    fn duplicates_are_reported_on_every_holder() {
        use crate::directory::{Dn, Guid};
        let user = |cn: &str, n: u8| {
            AdUser::new(Dn::parse(&format!("CN={cn},DC=x")).unwrap(), Guid([n; 16]))
        };
        let mut a = user("a", 1);
        a.set_upn("a@example.com");
        a.set_mail("shared@example.com");
        a.set_proxy_addresses(["SMTP:shared@example.com"]);
        let mut b = user("b", 2);
        b.set_upn("b@example.com");
        b.set_proxy_addresses(["smtp:Shared@Example.com"]);
        let c = user("c", 3);
        let mut out = Vec::new();
        duplicates(&[a, b, c], &[0, 1, 2], &mut out);
        let objects: Vec<_> = out
            .iter()
            .map(|d| (d.object.as_str(), d.attribute.as_str()))
            .collect();
        // Each holder once, with the first attribute holding the value.
        assert_eq!(
            objects,
            vec![("CN=a,DC=x", "mail"), ("CN=b,DC=x", "proxyAddresses")]
        );
        assert!(
            out[0]
                .message
                .contains("shared@example.com is also held by CN=b,DC=x")
        );
    }
}
