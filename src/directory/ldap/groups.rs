//! Groups and contacts over LDAP: paged reads per scope base (as users are read), every range
//! of a ranged `member` followed ([`super::ranges`]), and the group writes (create, per-value
//! `member` add and delete, move, delete), with the same result names as the snapshot.

use std::collections::HashSet;

use ldap3::Scope;

use super::LdapDirectory;
use super::conn::Session;
use super::entry::RawEntry;
use super::error::OpContext;
use super::ranges::{Ranged, ranged_name};
use super::read::{self, escape_bytes, outermost, search_each, unreadable};
use super::write;
use crate::directory::model::{AttributeSource, DecodeError, ObjectKind};
use crate::directory::schema::{CONTACT_READ, GROUP_READ};
use crate::directory::{
    AdContact, AdGroup, AdGroupCreate, AdGroupRead, AdGroupWrite, AdMod, AdQuery, DirectoryError,
    Dn, Guid, ProgressEvent, ProgressSink,
};

fn decode_error(dn: &str, e: DecodeError) -> DirectoryError {
    unreadable(match e {
        DecodeError::NoGuid => format!("{dn}: no objectGUID (the bind account may not read it)"),
        e => format!("{dn}: {e}"),
    })
}

fn guid_of(raw: &RawEntry) -> Option<Guid> {
    raw.first("objectGUID").and_then(Guid::from_slice)
}

fn search_ctx<'a>(session: &Session, op: &'a str, object: &'a str) -> OpContext<'a> {
    OpContext {
        op,
        object,
        attributes: Vec::new(),
        repeatable: true,
        timeout_seconds: session.timeout().as_secs(),
    }
}

/// Whether the entry holds a ranged attribute (AD's answer for a large `member`).
fn is_ranged(raw: &RawEntry) -> bool {
    raw.attrs.iter().any(|(n, _)| ranged_name(n).is_some())
}

/// Replaces every ranged attribute of the entry by all its values, asking the DC for each
/// next range (base-scope searches of the entry) until one ends in `*`.
async fn follow_ranges(session: &mut Session, raw: &mut RawEntry) -> Result<(), DirectoryError> {
    let dn = raw.dn.clone();
    let bad = |m: String| unreadable(format!("{dn}: {m}"));
    let mut ranged: Vec<Ranged> = Vec::new();
    let mut kept = Vec::with_capacity(raw.attrs.len());
    for (name, values) in std::mem::take(&mut raw.attrs) {
        let Some(parsed) = ranged_name(&name) else {
            kept.push((name, values));
            continue;
        };
        let (base, first, last) = parsed.map_err(bad)?;
        let slot = match ranged
            .iter()
            .position(|r| r.base.eq_ignore_ascii_case(&base))
        {
            Some(i) => i,
            None => {
                ranged.push(Ranged::new(&base));
                ranged.len() - 1
            }
        };
        ranged[slot].take(first, last, values).map_err(bad)?;
    }
    raw.attrs = kept;
    for mut r in ranged {
        while let Some(request) = r.request() {
            let ctx = search_ctx(session, "read of ranged values", &dn);
            // A retried search answers again: keep the last answer only.
            let mut answer: Option<(u64, Option<u64>, Vec<Vec<u8>>)> = None;
            let mut refused: Option<String> = None;
            search_each(
                session,
                &ctx,
                Scope::Base,
                "(objectClass=*)",
                std::slice::from_ref(&request),
                false,
                |entry| {
                    for (name, values) in entry.attrs {
                        match ranged_name(&name) {
                            Some(Ok((base, first, last))) if base.eq_ignore_ascii_case(&r.base) => {
                                answer = Some((first, last, values));
                            }
                            Some(Err(e)) => refused = Some(e),
                            _ => {}
                        }
                    }
                    Ok(())
                },
            )
            .await?;
            if let Some(e) = refused {
                return Err(bad(e));
            }
            let (first, last, values) = answer
                .ok_or_else(|| bad(format!("AD's answer to {request} holds no range of it")))?;
            r.take(first, last, values).map_err(bad)?;
        }
        raw.attrs.push((r.base, r.values));
    }
    Ok(())
}

/// Every object of `kind` in the query's scope, as `decode` makes it, ranged values followed.
async fn read_kind<T>(
    session: &mut Session,
    base_dn: &Dn,
    query: &AdQuery,
    kind: ObjectKind,
    attributes: &[&str],
    progress: &dyn ProgressSink,
    decode: impl Fn(Dn, &RawEntry) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DirectoryError> {
    let bases = if query.bases.is_empty() {
        vec![base_dn]
    } else {
        outermost(&query.bases)
    };
    let filter = kind.ad_filter(None).to_string();
    let attrs: Vec<String> = attributes.iter().map(|a| (*a).to_owned()).collect();
    let what = match kind {
        ObjectKind::Group => "reading AD groups",
        _ => "reading AD contacts",
    };
    progress.event(ProgressEvent::Start { what, total: None });
    // Decoded in place; entries with ranged values wait for their ranges (after the search:
    // one search at a time on the connection).
    let mut found: Vec<Option<T>> = Vec::new();
    let mut pending: Vec<(usize, Dn, RawEntry)> = Vec::new();
    let mut seen: HashSet<Guid> = HashSet::new();
    for base in bases {
        let ctx = search_ctx(session, "read of scope OU", base.as_str());
        search_each(
            session,
            &ctx,
            Scope::Subtree,
            &filter,
            &attrs,
            true,
            |raw| {
                let dn = Dn::parse(&raw.dn)
                    .map_err(|e| unreadable(format!("{}: {}", raw.dn, e.reason)))?;
                if query.exclude.iter().any(|x| dn.is_within(x)) {
                    return Ok(());
                }
                // A retried search delivers entries again; an entry without a GUID fails below.
                if let Some(guid) = guid_of(&raw)
                    && !seen.insert(guid)
                {
                    return Ok(());
                }
                if is_ranged(&raw) {
                    pending.push((found.len(), dn, raw));
                    found.push(None);
                } else {
                    found.push(Some(
                        decode(dn, &raw).map_err(|e| decode_error(&raw.dn, e))?,
                    ));
                }
                Ok(())
            },
        )
        .await?;
    }
    for (i, dn, mut raw) in pending {
        follow_ranges(session, &mut raw).await?;
        found[i] = Some(decode(dn, &raw).map_err(|e| decode_error(&raw.dn, e))?);
    }
    let out: Vec<T> = found.into_iter().flatten().collect();
    progress.event(ProgressEvent::Advance(out.len() as u64));
    progress.event(ProgressEvent::Finish);
    Ok(out)
}

/// One group by `filter` below the base DN (`None` when there is none), every range of
/// `member` read.
async fn group_where(
    session: &mut Session,
    base: &Dn,
    scope: Scope,
    filter: &str,
) -> Result<Option<AdGroup>, DirectoryError> {
    // What a scope read selects, so a group read by GUID equals the same group read in scope.
    let attrs: Vec<String> = GROUP_READ.iter().map(|a| (*a).to_owned()).collect();
    let ctx = search_ctx(session, "read of a group", base.as_str());
    let mut found: Option<RawEntry> = None;
    let result = search_each(session, &ctx, scope, filter, &attrs, false, |raw| {
        found = Some(raw);
        Ok(())
    })
    .await;
    match result {
        Ok(()) => {}
        Err(e) if read::is_no_such_object(&e) => return Ok(None),
        Err(e) => return Err(e),
    }
    let Some(mut raw) = found else {
        return Ok(None);
    };
    if is_ranged(&raw) {
        follow_ranges(session, &mut raw).await?;
    }
    let dn = Dn::parse(&raw.dn).map_err(|e| unreadable(format!("{}: {}", raw.dn, e.reason)))?;
    AdGroup::decode(dn, &raw)
        .map(Some)
        .map_err(|e| decode_error(&raw.dn, e))
}

async fn group_by_guid(
    session: &mut Session,
    base_dn: &Dn,
    guid: &Guid,
) -> Result<Option<AdGroup>, DirectoryError> {
    let filter = format!(
        "(&{}(objectGUID={}))",
        ObjectKind::Group.ad_filter(None),
        escape_bytes(&guid.0)
    );
    let group = group_where(session, base_dn, Scope::Subtree, &filter).await?;
    // Equality on objectGUID is exact, but never hand back another object.
    Ok(group.filter(|g| g.object_guid == *guid))
}

async fn create_group(
    session: &mut Session,
    create: &AdGroupCreate,
) -> Result<AdGroup, DirectoryError> {
    let dn = create.dn.as_str();
    write::add_object(
        session,
        ObjectKind::Group,
        &create.dn,
        &create.attributes,
        |_| false,
    )
    .await?;
    group_where(session, &create.dn, Scope::Base, "(objectClass=*)")
        .await?
        .ok_or_else(|| DirectoryError::NotFound {
            object: format!("{dn} (just created)"),
        })
}

/// A per-value modify of a group, its refusals named as the snapshot names them. `member`
/// values name objects: a missing group is `NotFound`, an added value naming no object is
/// `noSuchObject` (AD answers both with noSuchObject). Samba differs in two answers, told
/// apart here (measured on Samba 4): a value already there is entryAlreadyExists (AD:
/// attributeOrValueExists), and a deleted value that is not there is unwillingToPerform,
/// `Attribute member doesn't exist for target GUID …` or, when it names no object,
/// `00002035: Unable to find GUID for DN …` (AD: noSuchAttribute); an added value naming no
/// object is the latter too (AD: noSuchObject).
async fn modify_group(
    session: &mut Session,
    dn: &Dn,
    mods: &[AdMod],
) -> Result<(), DirectoryError> {
    let per_value = mods
        .iter()
        .all(|m| matches!(m, AdMod::Add(..) | AdMod::Delete(..)));
    let deletes_only = mods.iter().all(|m| matches!(m, AdMod::Delete(..)));
    let renamed = |object: String, message: String, code: &str| DirectoryError::Refused {
        object,
        message,
        code: Some(code.to_owned()),
    };
    match write::modify(session, dn, mods).await {
        Err(DirectoryError::NotFound { .. }) if read::exists(session, dn).await? => Err(renamed(
            dn.to_string(),
            "modify refused: a member value names no object".into(),
            "noSuchObject",
        )),
        Err(DirectoryError::Refused {
            object,
            message,
            code: Some(code),
        }) if per_value && code == "entryAlreadyExists" => {
            Err(renamed(object, message, "attributeOrValueExists"))
        }
        Err(DirectoryError::Refused {
            object,
            message,
            code: Some(code),
        }) if per_value
            && code == "unwillingToPerform"
            && (message.contains("00002035")
                || message.contains("doesn't exist for target GUID")) =>
        {
            let code = if deletes_only {
                "noSuchAttribute"
            } else {
                "noSuchObject"
            };
            Err(renamed(object, message, code))
        }
        other => other,
    }
}

impl AdGroupRead for LdapDirectory {
    async fn read_groups(&mut self, query: &AdQuery) -> Result<Vec<AdGroup>, DirectoryError> {
        read_kind(
            &mut self.session,
            &self.base_dn,
            query,
            ObjectKind::Group,
            GROUP_READ,
            self.progress.as_ref(),
            AdGroup::decode,
        )
        .await
    }

    async fn read_contacts(&mut self, query: &AdQuery) -> Result<Vec<AdContact>, DirectoryError> {
        read_kind(
            &mut self.session,
            &self.base_dn,
            query,
            ObjectKind::Contact,
            CONTACT_READ,
            self.progress.as_ref(),
            AdContact::decode,
        )
        .await
    }
}

impl AdGroupWrite for LdapDirectory {
    async fn create_group(&mut self, create: &AdGroupCreate) -> Result<AdGroup, DirectoryError> {
        create_group(&mut self.session, create).await
    }

    async fn modify_group(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError> {
        modify_group(&mut self.session, dn, mods).await
    }

    async fn move_group(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError> {
        write::rename(&mut self.session, dn, new_dn).await
    }

    async fn delete_group(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        write::delete(&mut self.session, dn).await
    }

    async fn read_group(&mut self, guid: &Guid) -> Result<Option<AdGroup>, DirectoryError> {
        group_by_guid(&mut self.session, &self.base_dn, guid).await
    }
}
