//! The identifiers Entra Connect soft-matches on (UPN, mail, primary SMTP address), prepared on
//! every pair.

use compact_str::format_compact;

use crate::directory::Tenant;
use crate::names::{ProxyAddress, eq_ci, upn_suffix};
use crate::plan::{Change, Diagnostic, Severity, Text, Value};

/// `unverified_domain`: Graph refuses a cloud userPrincipalName or mail on a domain the tenant
/// has not verified. `None` when verified, or when the domains were not read (then every
/// suffix is assumed verified, and the `assumption` note says so).
pub(super) fn unverified_domain(
    tenant: &Tenant,
    object: &str,
    attribute: &str,
    value: &str,
) -> Option<Diagnostic> {
    let domains = tenant.domains.known()?;
    let suffix = upn_suffix(value).unwrap_or("");
    if tenant.is_verified(suffix) {
        return None;
    }
    let verified: Vec<&str> = domains
        .iter()
        .filter(|d| d.is_verified)
        .map(|d| d.name.as_str())
        .collect();
    Some(Diagnostic {
        severity: Severity::Error,
        rule: "unverified_domain".into(),
        object: object.to_owned(),
        attribute: attribute.to_owned(),
        message: format!(
            "{attribute} {value}: {suffix:?} is not a verified domain of the tenant, so Graph refuses it; verified: {}",
            if verified.is_empty() {
                "(none)".to_owned()
            } else {
                verified.join(", ")
            }
        ),
    })
}

/// The `SMTP:` address among proxy address values, borrowed.
pub(super) fn primary_smtp_of<'a>(mut values: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    values.find_map(|v| {
        ProxyAddress::parse(v)
            .filter(ProxyAddress::is_primary_smtp)
            .map(|p| p.address)
    })
}

/// The per-value edit of AD `proxyAddresses` that makes `primary` the one `SMTP:` address and
/// adds the cloud's other SMTP addresses; `None` when nothing changes.
pub(super) fn proxy_change<'a>(
    current: impl Iterator<Item = &'a str> + Clone,
    primary: &str,
    cloud_proxies: impl Iterator<Item = &'a str>,
) -> Option<Change> {
    let mut add: Vec<Text> = Vec::new();
    let mut remove: Vec<Text> = Vec::new();
    let mut has_primary = false;
    for v in current.clone() {
        let Some(p) = ProxyAddress::parse(v).filter(ProxyAddress::is_smtp) else {
            continue;
        };
        let same = eq_ci(p.address, primary);
        match (p.is_primary_smtp(), same) {
            (true, true) => has_primary = true,
            // Another primary is demoted to a secondary address.
            (true, false) => {
                remove.push(v.into());
                add.push(format_compact!("smtp:{}", p.address));
            }
            // The new primary was a secondary: it is promoted.
            (false, true) => remove.push(v.into()),
            (false, false) => {}
        }
    }
    if !has_primary {
        add.push(format_compact!("SMTP:{primary}"));
    }
    let holds = |v: &str, address: &str| {
        ProxyAddress::parse(v).is_some_and(|p| p.is_smtp() && eq_ci(p.address, address))
    };
    let removed = |v: &str| remove.iter().any(|r| r == v);
    let aliases = cloud_proxies
        .filter_map(ProxyAddress::parse)
        .filter(ProxyAddress::is_smtp)
        .map(|p| p.address);
    for alias in aliases {
        if eq_ci(alias, primary) {
            continue;
        }
        let kept = current
            .clone()
            .filter(|v| !removed(v))
            .any(|v| holds(v, alias));
        if !kept && !add.iter().any(|v| holds(v, alias)) {
            add.push(format_compact!("smtp:{alias}"));
        }
    }
    if add.is_empty() && remove.is_empty() {
        return None;
    }
    let before: Vec<&str> = current.clone().collect();
    let mut after: Vec<Text> = current.filter(|v| !removed(v)).map(Text::from).collect();
    after.extend(add.iter().cloned());
    Some(Change::edit(
        "proxyAddresses",
        Value::list(before),
        Value::list(after),
        add,
        remove,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<Text> {
        v.iter().map(|&x| Text::from(x)).collect()
    }

    fn v<'a>(values: &'a [&'a str]) -> impl Iterator<Item = &'a str> + Clone {
        values.iter().copied()
    }

    #[test]
    fn proxy_change_adds_primary_to_empty() {
        let c = proxy_change(
            v(&[]),
            "a@example.com",
            v(&["SMTP:a@example.com", "smtp:alias@example.com"]),
        )
        .unwrap();
        assert_eq!(
            c.added(),
            s(&["SMTP:a@example.com", "smtp:alias@example.com"])
        );
        assert!(c.removed().is_empty());
    }

    #[test]
    fn proxy_change_demotes_old_primary_and_promotes_secondary() {
        let c = proxy_change(
            v(&["SMTP:old@example.com", "smtp:new@example.com", "X500:/o=x"]),
            "new@example.com",
            v(&[]),
        )
        .unwrap();
        assert_eq!(
            c.removed(),
            s(&["SMTP:old@example.com", "smtp:new@example.com"])
        );
        assert_eq!(
            c.added(),
            s(&["smtp:old@example.com", "SMTP:new@example.com"])
        );
        let after = c.after.texts();
        assert_eq!(after.iter().filter(|v| v.starts_with("SMTP:")).count(), 1);
        assert!(after.iter().any(|v| v == "X500:/o=x"));
    }

    #[test]
    fn proxy_change_is_none_when_converged() {
        assert!(
            proxy_change(
                v(&["SMTP:A@Example.com", "smtp:b@example.com"]),
                "a@example.com",
                v(&["smtp:b@example.com"])
            )
            .is_none()
        );
    }
}
