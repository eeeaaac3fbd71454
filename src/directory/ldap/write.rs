//! Writes: create, per-value modify, move, delete.
//!
//! Real AD refuses to enable an account that has no password. A create with a password is
//! one LDAP add (over the encrypted connection) that carries `unicodePwd` and the final
//! userAccountControl together, so the account never exists enabled without a password, and a
//! password the policy refuses leaves nothing behind. A create without one (a disabled account)
//! adds the entry without userAccountControl (AD makes it disabled) and then sets the final
//! value; if that step fails, the half-made account is deleted again so a re-run can create it.
//! (The add, then a password modify, then a userAccountControl modify, cost a create on Samba
//! 1.21–1.25× an `ldapadd` of the same entry: two more write transactions per account.)

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ldap3::Mod;

use super::conn::{Failure, Session};
use super::error::{OpContext, op_error};
use super::read;
use crate::directory::dn::escape_value;
use crate::directory::model::{AdUser, ObjectKind};
use crate::directory::{AdCreate, AdMod, AdValue, DirectoryError, Dn, Secret};
use crate::names::AttrName;

const PASSWORDS: &[&str] = &["unicodePwd", "userPassword"];

fn is_password(name: &str) -> bool {
    PASSWORDS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

pub(super) fn bytes(value: &AdValue) -> Vec<u8> {
    match value {
        AdValue::Text(s) => s.as_bytes().to_vec(),
        AdValue::Binary(b) => b.clone(),
    }
}

/// Values as messages show them; never a password's.
pub(super) fn shown(name: &str, values: &[AdValue]) -> Vec<String> {
    if is_password(name) {
        return Vec::new();
    }
    values
        .iter()
        .map(|v| match v {
            AdValue::Text(s) => s.clone(),
            AdValue::Binary(b) => format!("(base64) {}", B64.encode(b)),
        })
        .collect()
}

/// `unicodePwd`'s value: the password in double quotes, UTF-16LE.
fn unicode_pwd(password: &Secret) -> Vec<u8> {
    format!("\"{}\"", password.expose())
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// The leaf RDN of a DN, escaped again (RFC 4514) from its parsed values.
pub(super) fn leaf_rdn(dn: &Dn) -> Option<String> {
    let rdn = dn.rdns().into_iter().next()?;
    Some(
        rdn.iter()
            .map(|ava| format!("{}={}", ava.attr, escape_value(&ava.value)))
            .collect::<Vec<_>>()
            .join("+"),
    )
}

pub(super) fn ctx<'a>(
    session: &Session,
    op: &'a str,
    object: &'a str,
    attributes: Vec<(&'a str, Vec<String>)>,
    repeatable: bool,
) -> OpContext<'a> {
    OpContext {
        op,
        object,
        attributes,
        repeatable,
        timeout_seconds: session.timeout().as_secs(),
    }
}

pub(super) fn fail(session: &Session, ctx: &OpContext<'_>, failure: Failure) -> DirectoryError {
    match failure {
        Failure::Connect(e) => session.connect_error(e),
        Failure::Op(e) => op_error(ctx, e),
    }
}

pub(super) fn rc_of(failure: &Failure) -> Option<u32> {
    match failure {
        Failure::Op(ldap3::LdapError::LdapResult { result }) => Some(result.rc),
        _ => None,
    }
}

/// Replaces one attribute's values (idempotent, so retried after a lost connection).
async fn replace(
    session: &mut Session,
    dn: &str,
    name: &str,
    value: Vec<u8>,
) -> Result<(), Failure> {
    let mods = vec![Mod::Replace(
        name.as_bytes().to_vec(),
        HashSet::from([value]),
    )];
    session
        .call(true, |mut ldap| {
            let mods = mods.clone();
            async move { ldap.modify(dn, mods).await?.success().map(drop) }
        })
        .await
}

/// The LDAP add of a new object of `kind`: its class chain and the given attributes, less
/// those `set_apart` names (set in steps of their own); objectClass is ours and the RDN
/// attribute comes from the DN.
pub(super) async fn add_object(
    session: &mut Session,
    kind: ObjectKind,
    new: &Dn,
    attributes: &[(AttrName, Vec<AdValue>)],
    set_apart: impl Fn(&str) -> bool,
) -> Result<(), DirectoryError> {
    let dn = new.as_str();
    let rdn_attr = new
        .rdns()
        .into_iter()
        .next()
        .and_then(|rdn| rdn.into_iter().next())
        .map(|ava| ava.attr);
    let mut attrs: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = vec![(
        b"objectClass".to_vec(),
        kind.ad_create_classes()
            .iter()
            .map(|c| c.as_bytes().to_vec())
            .collect(),
    )];
    let mut shown_attrs = Vec::new();
    for (name, values) in attributes {
        let name = name.as_str();
        let skip = values.is_empty()
            || name.eq_ignore_ascii_case("objectClass")
            || set_apart(name)
            || rdn_attr
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(name));
        if skip {
            continue;
        }
        attrs.push((name.as_bytes().to_vec(), values.iter().map(bytes).collect()));
        shown_attrs.push((name, shown(name, values)));
    }
    let add_ctx = ctx(session, "add", dn, shown_attrs, false);
    session
        .call(false, |mut ldap| {
            let attrs = attrs.clone();
            async move { ldap.add(dn, attrs).await?.success().map(drop) }
        })
        .await
        .map_err(|f| fail(session, &add_ctx, f))
}

pub(super) async fn create(
    session: &mut Session,
    create: &AdCreate,
) -> Result<AdUser, DirectoryError> {
    let dn = create.dn.as_str();
    if create.password.is_some() && !session.settings().encrypted() {
        return Err(DirectoryError::Refused {
            object: dn.to_owned(),
            message: "setting a password needs an encrypted connection: use ldaps:// or start_tls"
                .into(),
            code: Some("confidentialityRequired".into()),
        });
    }
    let set_apart =
        |name: &str| name.eq_ignore_ascii_case("userAccountControl") || is_password(name);
    if let Some(password) = &create.password {
        // One add: the password and the final userAccountControl arrive together.
        let mut attributes: Vec<(AttrName, Vec<AdValue>)> = create
            .attributes
            .iter()
            .filter(|(name, _)| !set_apart(name.as_str()))
            .cloned()
            .collect();
        attributes.push((
            AttrName::from("unicodePwd"),
            vec![AdValue::Binary(unicode_pwd(password))],
        ));
        attributes.push((
            AttrName::from("userAccountControl"),
            vec![AdValue::Text(create.user_account_control.to_string())],
        ));
        add_object(session, ObjectKind::User, &create.dn, &attributes, |_| {
            false
        })
        .await?;
        return read_back(session, &create.dn).await;
    }
    // No password: added disabled, then given its final userAccountControl.
    add_object(
        session,
        ObjectKind::User,
        &create.dn,
        &create.attributes,
        set_apart,
    )
    .await?;
    let uac = create.user_account_control.to_string().into_bytes();
    if let Err(f) = replace(session, dn, "userAccountControl", uac).await {
        let uac_ctx = ctx(
            session,
            "set userAccountControl",
            dn,
            vec![(
                "userAccountControl",
                vec![create.user_account_control.to_string()],
            )],
            true,
        );
        let e = fail(session, &uac_ctx, f);
        return Err(roll_back(session, &create.dn, e).await);
    }
    read_back(session, &create.dn).await
}

/// The account just created, as the DC holds it (objectGUID, uSNChanged).
async fn read_back(session: &mut Session, dn: &Dn) -> Result<AdUser, DirectoryError> {
    read::user_by_dn(session, dn)
        .await?
        .ok_or_else(|| DirectoryError::NotFound {
            object: format!("{dn} (just created)"),
        })
}

/// Deletes a half-made account; the error says whether that worked.
async fn roll_back(session: &mut Session, dn: &Dn, error: DirectoryError) -> DirectoryError {
    let undo = delete(session, dn).await;
    let note = match undo {
        Ok(()) => "the new account was deleted again".to_owned(),
        Err(e) => format!("the new account could not be deleted again ({e}); delete it by hand"),
    };
    match error {
        DirectoryError::Refused {
            object,
            message,
            code,
        } => DirectoryError::Refused {
            object,
            message: format!("{message}; {note}"),
            code,
        },
        other => DirectoryError::Other(format!("{other}; {note}")),
    }
}

pub(super) async fn modify(
    session: &mut Session,
    dn: &Dn,
    mods: &[AdMod],
) -> Result<(), DirectoryError> {
    let rdn_attr = dn
        .rdns()
        .into_iter()
        .next()
        .and_then(|rdn| rdn.into_iter().next())
        .map(|ava| ava.attr);
    let mut ldap_mods: Vec<Mod<Vec<u8>>> = Vec::with_capacity(mods.len());
    let mut shown_attrs = Vec::new();
    for m in mods {
        let (AdMod::Add(name, _) | AdMod::Delete(name, _) | AdMod::Replace(name, _)) = m;
        // AD refuses this (notAllowedOnRDN); Samba renames the object instead. Say it here,
        // the same way on both, as the snapshot does.
        let names_the_object = name.as_str().eq_ignore_ascii_case("name")
            || rdn_attr
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(name.as_str()));
        if names_the_object {
            return Err(DirectoryError::Refused {
                object: dn.to_string(),
                message: format!(
                    "modify refused: attribute {name} names the object: change it with a move (rename)"
                ),
                code: Some("notAllowedOnRDN".into()),
            });
        }
        match m {
            // Adding nothing is nothing to do (ldap3 and AD refuse an empty add).
            AdMod::Add(_, values) if values.is_empty() => continue,
            AdMod::Add(name, values) => ldap_mods.push(Mod::Add(
                name.as_str().as_bytes().to_vec(),
                values.iter().map(bytes).collect(),
            )),
            AdMod::Delete(name, values) => ldap_mods.push(Mod::Delete(
                name.as_str().as_bytes().to_vec(),
                values.iter().map(bytes).collect(),
            )),
            AdMod::Replace(name, values) => ldap_mods.push(Mod::Replace(
                name.as_str().as_bytes().to_vec(),
                values.iter().map(bytes).collect(),
            )),
        }
        let (AdMod::Add(name, values) | AdMod::Delete(name, values) | AdMod::Replace(name, values)) =
            m;
        shown_attrs.push((name.as_str(), shown(name.as_str(), values)));
    }
    if ldap_mods.is_empty() {
        // As the snapshot does: a write to a missing object is reported even when empty.
        return if read::exists(session, dn).await? {
            Ok(())
        } else {
            Err(DirectoryError::NotFound {
                object: dn.to_string(),
            })
        };
    }
    // Only replacing is harmless to repeat after a lost connection.
    let repeatable = ldap_mods.iter().all(|m| matches!(m, Mod::Replace(..)));
    let object = dn.as_str();
    let modify_ctx = ctx(session, "modify", object, shown_attrs, repeatable);
    let result = session
        .call(repeatable, |mut ldap| {
            let mods = ldap_mods.clone();
            async move { ldap.modify(object, mods).await?.success().map(drop) }
        })
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(f) if rc_of(&f) == Some(32) => Err(DirectoryError::NotFound {
            object: dn.to_string(),
        }),
        Err(f) => Err(fail(session, &modify_ctx, f)),
    }
}

pub(super) async fn rename(
    session: &mut Session,
    dn: &Dn,
    new_dn: &Dn,
) -> Result<(), DirectoryError> {
    if dn.as_str() == new_dn.as_str() {
        return if read::exists(session, dn).await? {
            Ok(())
        } else {
            Err(DirectoryError::NotFound {
                object: dn.to_string(),
            })
        };
    }
    let invalid = || DirectoryError::Refused {
        object: new_dn.to_string(),
        message: "move refused: the new DN needs a relative name and a parent".into(),
        code: Some("invalidDNSyntax".into()),
    };
    let rdn = leaf_rdn(new_dn).ok_or_else(invalid)?;
    let parent = new_dn
        .parent()
        .filter(|p| !p.is_root())
        .ok_or_else(invalid)?;
    let (object, superior) = (dn.as_str(), parent.as_str());
    let move_ctx = ctx(session, "move", object, Vec::new(), false);
    let result = session
        .call(false, |mut ldap| {
            let rdn = rdn.clone();
            async move {
                ldap.modifydn(object, &rdn, true, Some(superior))
                    .await?
                    .success()
                    .map(drop)
            }
        })
        .await;
    match result {
        Ok(()) => Ok(()),
        // AD answers noSuchObject for a missing object or container; Samba answers `other`
        // (00002095) for a missing container. Look, and say which.
        Err(f) if matches!(rc_of(&f), Some(32 | 80)) => {
            if !read::exists(session, dn).await? {
                Err(DirectoryError::NotFound {
                    object: dn.to_string(),
                })
            } else if !read::exists(session, &parent).await? {
                Err(DirectoryError::Refused {
                    object: new_dn.to_string(),
                    message: format!("move refused: the target container {parent} does not exist"),
                    code: Some("noSuchObject".into()),
                })
            } else {
                Err(fail(session, &move_ctx, f))
            }
        }
        Err(f) if rc_of(&f) == Some(68) => Err(DirectoryError::Refused {
            object: new_dn.to_string(),
            message: "move refused: an object with this name already exists".into(),
            code: Some("entryAlreadyExists".into()),
        }),
        Err(f) => Err(fail(session, &move_ctx, f)),
    }
}

pub(super) async fn delete(session: &mut Session, dn: &Dn) -> Result<(), DirectoryError> {
    let object = dn.as_str();
    let delete_ctx = ctx(session, "delete", object, Vec::new(), false);
    let result = session
        .call(false, |mut ldap| async move {
            ldap.delete(object).await?.success().map(drop)
        })
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(f) if rc_of(&f) == Some(32) => Err(DirectoryError::NotFound {
            object: dn.to_string(),
        }),
        Err(f) => Err(fail(session, &delete_ctx, f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        // Matches the harness's unicode_pwd("ab") = base64 "IgBhAGIAIgA=".
        assert_eq!(B64.encode(unicode_pwd(&Secret::new("ab"))), "IgBhAGIAIgA=");
    }

    #[test]
    fn leaf_rdn_is_escaped_again() {
        let dn = Dn::child(
            "CN",
            "#Smith, \"J\" <x>;+",
            &Dn::parse("OU=A,DC=x").unwrap(),
        );
        assert_eq!(
            leaf_rdn(&dn).as_deref(),
            Some("CN=\\#Smith\\, \\\"J\\\" \\<x\\>\\;\\+")
        );
    }

    #[test]
    fn passwords_are_never_shown() {
        assert!(shown("unicodePwd", &[AdValue::Text("secret".into())]).is_empty());
        assert_eq!(
            shown("mS-DS-ConsistencyGuid", &[AdValue::Binary(vec![7; 3])]),
            ["(base64) BwcH"]
        );
    }
}
