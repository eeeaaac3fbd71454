//! LDAP failures as [`DirectoryError`]s: the LDAP result name as `code` (the names the
//! snapshot directory uses), the object's DN, the attribute where it can be told, and AD's
//! diagnostic text with its well-known codes put into words. Passwords never appear: no
//! message here is built from a password attribute's values.

use ldap3::{LdapError, LdapResult};

use super::conn::{Resolved, Trouble, classify};
use crate::directory::DirectoryError;

/// RFC 4511's name for a result code.
pub(super) fn result_name(rc: u32) -> &'static str {
    match rc {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        16 => "noSuchAttribute",
        17 => "undefinedAttributeType",
        18 => "inappropriateMatching",
        19 => "constraintViolation",
        20 => "attributeOrValueExists",
        21 => "invalidAttributeSyntax",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        _ => "unknown",
    }
}

/// AD's diagnostic text, tidied: no trailing NULs, whitespace runs collapsed.
pub(super) fn diagnostic(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\0')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words for the Win32 error AD puts first in its diagnostic text (`0000052D: ...`).
fn ad_reason(text: &str) -> Option<&'static str> {
    let code = text.get(..8)?;
    Some(match code.to_ascii_uppercase().as_str() {
        "0000052D" => {
            "the password does not meet the domain's password policy (length, complexity, history or minimum age)"
        }
        "0000001F" => "AD does this only over an encrypted connection (ldaps:// or start_tls)",
        "00000005" => "access denied",
        "0000208F" | "00002030" => "the object does not exist",
        _ => return None,
    })
}

/// Words for the `data NNN` sub-code of an invalidCredentials bind answer.
fn bind_reason(text: &str) -> &'static str {
    let lower = text.to_ascii_lowercase();
    let data = lower
        .split("data ")
        .nth(1)
        .map(|rest| rest.split([',', ' ']).next().unwrap_or(""))
        .unwrap_or("");
    match data {
        "525" => "no such user",
        "52e" => "wrong user name or password",
        "530" => "the account may not sign in at this time",
        "531" => "the account may not sign in from this computer",
        "532" => "the account's password has expired",
        "533" => "the account is disabled",
        "701" => "the account has expired",
        "773" => "the account must change its password first",
        "775" => "the account is locked out",
        _ => "wrong user name or password",
    }
}

/// The rustls error inside an I/O error, if the failure was the TLS handshake.
pub(super) fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

fn tls_message(s: &Resolved, e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let trust = match &s.ca_file {
        Some(path) => format!(
            "it was not issued by the CA in directories.ad.ca_file ({}): point ca_file at the PEM file of the CA that issued the DC's certificate",
            path.display()
        ),
        None => "its issuer is not in the system trust store: set directories.ad.ca_file to the PEM file of the CA that issued the DC's certificate (for example your AD CS root)".to_owned(),
    };
    match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            format!("the DC's TLS certificate was not trusted: {trust}")
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => format!(
            "the DC's TLS certificate does not name the host in {} (its subjectAltName lists other names): use a host name the certificate holds",
            s.url
        ),
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the DC's TLS certificate has expired".to_owned()
        }
        rustls::Error::InvalidCertificate(other) => {
            format!("the DC's TLS certificate was not trusted ({other:?}): {trust}")
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

/// A failed connect or bind, naming the URL and the bind account, never the password.
pub(super) fn connect_error(s: &Resolved, e: LdapError) -> DirectoryError {
    let object = format!("AD {}", s.url);
    let other = |message: String| DirectoryError::Refused {
        object: object.clone(),
        message,
        code: None,
    };
    match e {
        LdapError::LdapResult { result } if result.rc == 49 => DirectoryError::Refused {
            object,
            message: format!(
                "bind as {} refused: {} (AD said: {})",
                s.bind_dn,
                bind_reason(&result.text),
                diagnostic(&result.text)
            ),
            code: Some("invalidCredentials".into()),
        },
        LdapError::LdapResult { result } => DirectoryError::Refused {
            object,
            message: format!(
                "{} as {} refused: {} ({}){}",
                if s.start_tls {
                    "StartTLS or bind"
                } else {
                    "bind"
                },
                s.bind_dn,
                result_name(result.rc),
                result.rc,
                said(&result)
            ),
            code: Some(result_name(result.rc).into()),
        },
        LdapError::Rustls { source } => other(tls_message(s, &source)),
        LdapError::Io { source } => match tls_error(&source) {
            Some(tls) => other(tls_message(s, tls)),
            // Not a refusal: the DC cannot be reached (apply stops writing to AD then).
            None => DirectoryError::Unavailable {
                directory: "AD",
                message: format!("{}: cannot connect: {source}", s.url),
            },
        },
        LdapError::Timeout { .. } => DirectoryError::Unavailable {
            directory: "AD",
            message: format!(
                "{}: no answer within {} s (directories.ad.timeout_seconds)",
                s.url,
                s.timeout.as_secs()
            ),
        },
        LdapError::UrlParsing { source } => other(format!("invalid URL: {source}")),
        LdapError::DNSName { source } => other(format!("invalid host name: {source}")),
        other_error => other(format!("cannot connect: {other_error}")),
    }
}

fn said(result: &LdapResult) -> String {
    let text = diagnostic(&result.text);
    match (ad_reason(&text), text.is_empty()) {
        (_, true) => String::new(),
        (Some(reason), false) => format!(": {reason} (AD said: {text})"),
        (None, false) => format!(" (AD said: {text})"),
    }
}

/// What an operation was, for messages and for telling which attribute a refusal concerns.
pub(super) struct OpContext<'a> {
    /// `add`, `modify`, `move`, `delete`, `search`, `set password`.
    pub op: &'a str,
    /// The object's DN.
    pub object: &'a str,
    /// Attributes the operation wrote, with the values shown in messages (none for secrets).
    pub attributes: Vec<(&'a str, Vec<String>)>,
    /// Whether doing it twice would be harmless (then a lost connection was retried).
    pub repeatable: bool,
    pub timeout_seconds: u64,
}

/// A failed operation.
pub(super) fn op_error(ctx: &OpContext<'_>, e: LdapError) -> DirectoryError {
    let refused = |message: String, code: &str| DirectoryError::Refused {
        object: ctx.object.to_owned(),
        message,
        code: Some(code.to_owned()),
    };
    match e {
        LdapError::LdapResult { result } => {
            let code = result_name(result.rc);
            let text = diagnostic(&result.text);
            let attr = named_attribute(ctx, &text);
            let message = format!(
                "{} refused: {}{}",
                ctx.op,
                describe(ctx, &result, attr),
                said(&result)
            );
            refused(message, code)
        }
        LdapError::Timeout { .. } => refused(
            format!(
                "{}: no answer from AD within {} s (directories.ad.timeout_seconds)",
                ctx.op, ctx.timeout_seconds
            ),
            "timeLimitExceeded",
        ),
        e if classify(&e) == Trouble::Lost && !ctx.repeatable => refused(
            format!(
                "{}: the connection to AD was lost before it answered ({e}); the change may or may not have been made: run idsync plan again to see",
                ctx.op
            ),
            "unavailable",
        ),
        e if matches!(classify(&e), Trouble::Lost | Trouble::NotSent) => {
            DirectoryError::Unavailable {
                directory: "AD",
                message: format!(
                    "{} {}: the connection was lost and retries failed: {e}",
                    ctx.op, ctx.object
                ),
            }
        }
        e => DirectoryError::Other(format!("{}: {}: {e}", ctx.object, ctx.op)),
    }
}

/// The attribute a refusal concerns: one the diagnostic text names, or the only one written.
fn named_attribute<'a>(ctx: &'a OpContext<'_>, text: &str) -> Option<&'a (&'a str, Vec<String>)> {
    let lower = text.to_ascii_lowercase();
    ctx.attributes
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            // Whole-word match: `mail` must not be found inside `proxyAddresses`'s text.
            lower.match_indices(&name).any(|(i, _)| {
                let before = lower[..i].chars().next_back();
                let after = lower[i + name.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        })
        .max_by_key(|(name, _)| name.len())
        .or(match ctx.attributes.as_slice() {
            [only] => Some(only),
            _ => None,
        })
}

fn describe(
    ctx: &OpContext<'_>,
    result: &LdapResult,
    attr: Option<&(&str, Vec<String>)>,
) -> String {
    let name = attr.map(|(n, _)| *n);
    let values = attr
        .map(|(_, v)| v.as_slice())
        .filter(|v| !v.is_empty())
        .map(|v| format!(" ({})", v.join(", ")))
        .unwrap_or_default();
    let which = || match name {
        Some(n) => format!("attribute {n}"),
        None => {
            let all: Vec<&str> = ctx.attributes.iter().map(|(n, _)| *n).collect();
            if all.is_empty() {
                "an attribute".to_owned()
            } else {
                format!("one of the attributes {}", all.join(", "))
            }
        }
    };
    let lower = result.text.to_ascii_lowercase();
    match result.rc {
        // Samba answers noSuchAttribute for an attribute its schema lacks.
        16 | 17 if lower.contains("schema") => {
            format!("{} is not in AD's schema ({})", which(), result_name(result.rc))
        }
        16 => format!("{} does not hold the value to remove{values} (noSuchAttribute)", which()),
        17 => format!("{} is not in AD's schema (undefinedAttributeType)", which()),
        20 | 19 if lower.contains("single-value") || lower.contains("single value") => format!(
            "{} takes only one value{values}: replace it instead ({})",
            which(),
            result_name(result.rc)
        ),
        19 => format!(
            "a value of {} breaks a directory constraint (single-valued, too long, not unique, or password policy){values} (constraintViolation)",
            which()
        ),
        20 => format!("{} already has the value{values} (attributeOrValueExists)", which()),
        21 => format!("a value of {} has the wrong syntax{values} (invalidAttributeSyntax)", which()),
        32 => "the object, or the container it belongs in, does not exist (noSuchObject)".into(),
        34 => "the DN is not valid (invalidDNSyntax)".into(),
        50 => "the account idsync binds as may not do this: delegate the right to it on this OU (insufficientAccessRights)".into(),
        53 => format!("AD is unwilling to do this{} (unwillingToPerform)", name.map(|n| format!(" with attribute {n}")).unwrap_or_default()),
        64 => "the name is not allowed in this container (namingViolation)".into(),
        65 => format!("{} is not allowed for this object's classes, or a required one is missing (objectClassViolation)", which()),
        66 => "the object has objects below it (notAllowedOnNonLeaf)".into(),
        67 => format!("{} names the object: change it with a move (rename) (notAllowedOnRDN)", which()),
        // On an add or a move the name is taken; on a modify, a unique value (the
        // sAMAccountName, or the one a UPN implies) is.
        68 if name.is_some() && ctx.op == "modify" => {
            format!("{}{values} is already used by another object (entryAlreadyExists)", which())
        }
        68 => "an object with this name, or with one of its unique values (sAMAccountName, userPrincipalName), already exists (entryAlreadyExists)".into(),
        rc => format!("{} ({rc})", result_name(rc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rc: u32, text: &str) -> LdapError {
        LdapError::LdapResult {
            result: LdapResult {
                rc,
                matched: String::new(),
                text: text.into(),
                refs: vec![],
                ctrls: vec![],
            },
        }
    }

    fn ctx<'a>(attributes: Vec<(&'a str, Vec<String>)>) -> OpContext<'a> {
        OpContext {
            op: "modify",
            object: "CN=A,DC=x",
            attributes,
            repeatable: false,
            timeout_seconds: 30,
        }
    }

    fn code(e: &DirectoryError) -> &str {
        match e {
            DirectoryError::Refused { code: Some(c), .. } => c,
            _ => "",
        }
    }

    #[test]
    fn names_the_attribute_the_diagnostic_mentions() {
        let c = ctx(vec![
            ("mail", vec!["a@x".into()]),
            ("proxyAddresses", vec!["smtp:a@x".into()]),
        ]);
        let e = op_error(
            &c,
            result(
                20,
                "00002083: AtrErr: DSID-03151904, #1:\n\t0: 00002083: DSID-03151904, problem 1006 (ATT_OR_VALUE_EXISTS), data 0, Att 90303 (proxyAddresses)\n\0",
            ),
        );
        assert_eq!(code(&e), "attributeOrValueExists");
        let text = e.to_string();
        assert!(text.starts_with("CN=A,DC=x: modify refused: attribute proxyAddresses already has the value (smtp:a@x)"), "{text}");
        assert!(!text.contains('\0') && !text.contains('\n'), "{text}");
    }

    #[test]
    fn translates_ad_codes() {
        let c = ctx(vec![("unicodePwd", vec![])]);
        let e = op_error(
            &c,
            result(
                19,
                "0000052D: Constraint violation - check_password_restrictions: the password is too short.",
            ),
        );
        assert_eq!(code(&e), "constraintViolation");
        assert!(e.to_string().contains("password policy"), "{e}");
        assert_eq!(
            bind_reason(
                "80090308: LdapErr: DSID-0C09042F, comment: AcceptSecurityContext error, data 52e, v4563"
            ),
            "wrong user name or password"
        );
        assert_eq!(
            bind_reason("... data 775, v1db1"),
            "the account is locked out"
        );
    }

    #[test]
    fn a_lost_write_says_it_may_have_happened() {
        let e = op_error(&ctx(vec![]), LdapError::EndOfStream);
        assert_eq!(code(&e), "unavailable");
        assert!(e.to_string().contains("may or may not"), "{e}");
    }
}
