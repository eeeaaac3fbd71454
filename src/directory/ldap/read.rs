//! Reads: the scope (paged, streamed entry by entry), one user by objectGUID, and the
//! domain-wide check that a new account's names are free.
//!
//! Every filter is built from [`Filter`] values, whose printed form escapes each value
//! (RFC 4515), or from bytes escaped as `\XX`: nothing from the desired state or the directory
//! is spliced into a filter as text.

use std::collections::HashSet;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapError, Scope};

use super::conn::{Failure, Session};
use super::entry::{RawEntry, to_user};
use super::error::{OpContext, op_error};
use crate::directory::model::{AdUser, Guid, ObjectKind};
use crate::directory::{
    AdQuery, DirectoryError, Dn, Filter, ProgressEvent, ProgressSink, Taken, TakenMatcher,
    TakenQuery,
};

// What every read asks for: what an `AdUser` needs to be identified and joined.
use crate::directory::schema::IDENTIFYING;

/// Entries per page (AD's default MaxPageSize is 1000).
pub(super) const PAGE_SIZE: i32 = 1000;

/// Values per OR-filter in [`taken`]: keeps each filter well below AD's request size limits.
const TAKEN_CHUNK: usize = 100;

/// `\XX` for every byte: binary values (GUIDs) in a filter.
pub(super) fn escape_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// The attributes a read selects: the identifying ones plus the query's, each once (any case).
/// Public so a baseline (the `ad_read` benchmark's `ldapsearch`) can select the same.
pub fn attribute_list(extra: &[crate::names::AttrName]) -> Vec<String> {
    let mut list: Vec<String> = IDENTIFYING.iter().map(|s| (*s).to_owned()).collect();
    for a in extra {
        if !list.iter().any(|l| l.eq_ignore_ascii_case(a.as_str())) {
            list.push(a.as_str().to_owned());
        }
    }
    list
}

/// The bases to search: nested ones are covered by their ancestor.
pub(super) fn outermost(bases: &[Dn]) -> Vec<&Dn> {
    let mut out: Vec<&Dn> = Vec::new();
    for (i, b) in bases.iter().enumerate() {
        let covered = bases
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && b.is_within(other) && (b != other || j < i));
        if !covered {
            out.push(b);
        }
    }
    out
}

/// Every user in the query's scope.
pub(super) async fn users(
    session: &mut Session,
    base_dn: &Dn,
    query: &AdQuery,
    progress: &dyn ProgressSink,
) -> Result<Vec<AdUser>, DirectoryError> {
    let bases = if query.bases.is_empty() {
        vec![base_dn]
    } else {
        outermost(&query.bases)
    };
    let filter = ObjectKind::User
        .ad_filter(query.filter.as_ref())
        .to_string();
    let attrs = attribute_list(&query.attributes);
    progress.event(ProgressEvent::Start {
        what: "reading AD users",
        total: None,
    });
    let mut users: Vec<AdUser> = Vec::new();
    // A retried search delivers entries again; overlapping bases are pruned above.
    let mut seen: HashSet<Guid> = HashSet::new();
    let mut reported = 0usize;
    for base in bases {
        let ctx = OpContext {
            op: "read of scope OU",
            object: base.as_str(),
            attributes: Vec::new(),
            repeatable: true,
            timeout_seconds: session.timeout().as_secs(),
        };
        search_each(
            session,
            &ctx,
            Scope::Subtree,
            &filter,
            &attrs,
            true,
            |raw| {
                let user = to_user(raw).map_err(unreadable)?;
                if query.exclude.iter().any(|x| user.dn.is_within(x))
                    || !seen.insert(user.object_guid)
                {
                    return Ok(());
                }
                users.push(user);
                if users.len() - reported >= PAGE_SIZE as usize {
                    progress.event(ProgressEvent::Advance((users.len() - reported) as u64));
                    reported = users.len();
                }
                Ok(())
            },
        )
        .await?;
    }
    if users.len() > reported {
        progress.event(ProgressEvent::Advance((users.len() - reported) as u64));
    }
    progress.event(ProgressEvent::Finish);
    Ok(users)
}

/// One user by objectGUID, anywhere below the base DN.
pub(super) async fn user_by_guid(
    session: &mut Session,
    base_dn: &Dn,
    guid: &Guid,
) -> Result<Option<AdUser>, DirectoryError> {
    let filter = format!(
        "(&{}(objectGUID={}))",
        ObjectKind::User.ad_filter(None),
        escape_bytes(&guid.0)
    );
    let ctx = OpContext {
        op: "read by objectGUID",
        object: base_dn.as_str(),
        attributes: Vec::new(),
        repeatable: true,
        timeout_seconds: session.timeout().as_secs(),
    };
    let mut attrs: Vec<String> = vec!["*".into()];
    attrs.extend(IDENTIFYING.iter().map(|s| (*s).to_owned()));
    let mut found = None;
    search_each(
        session,
        &ctx,
        Scope::Subtree,
        &filter,
        &attrs,
        false,
        |raw| {
            let user = to_user(raw).map_err(unreadable)?;
            // Equality on objectGUID is exact, but never hand back another object.
            if user.object_guid == *guid {
                found = Some(user);
            }
            Ok(())
        },
    )
    .await?;
    Ok(found)
}

/// One object by DN (base search), with every attribute; `None` when it does not exist.
pub(super) async fn user_by_dn(
    session: &mut Session,
    dn: &Dn,
) -> Result<Option<AdUser>, DirectoryError> {
    let ctx = OpContext {
        op: "read",
        object: dn.as_str(),
        attributes: Vec::new(),
        repeatable: true,
        timeout_seconds: session.timeout().as_secs(),
    };
    let mut attrs: Vec<String> = vec!["*".into()];
    attrs.extend(IDENTIFYING.iter().map(|s| (*s).to_owned()));
    let mut found = None;
    let result = search_each(
        session,
        &ctx,
        Scope::Base,
        "(objectClass=*)",
        &attrs,
        false,
        |raw| {
            found = Some(to_user(raw).map_err(unreadable)?);
            Ok(())
        },
    )
    .await;
    match result {
        Ok(()) => Ok(found),
        Err(e) if is_no_such_object(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether an object exists at `dn`.
pub(super) async fn exists(session: &mut Session, dn: &Dn) -> Result<bool, DirectoryError> {
    let ctx = OpContext {
        op: "read",
        object: dn.as_str(),
        attributes: Vec::new(),
        repeatable: true,
        timeout_seconds: session.timeout().as_secs(),
    };
    let mut any = false;
    let no_attributes = vec!["1.1".to_owned()];
    let result = search_each(
        session,
        &ctx,
        Scope::Base,
        "(objectClass=*)",
        &no_attributes,
        false,
        |_| {
            any = true;
            Ok(())
        },
    )
    .await;
    match result {
        Ok(()) => Ok(any),
        Err(e) if is_no_such_object(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub(super) fn is_no_such_object(e: &DirectoryError) -> bool {
    matches!(e, DirectoryError::Refused { code: Some(c), .. } if c == "noSuchObject")
}

/// Objects anywhere below the base DN (users, contacts, groups: any of them blocks a new
/// account's name) holding one of the values. `Taken::value` is spelled as the query had it.
pub(super) async fn taken(
    session: &mut Session,
    base_dn: &Dn,
    query: &TakenQuery,
) -> Result<Vec<Taken>, DirectoryError> {
    let matcher = TakenMatcher::new(query);

    let mut clauses: Vec<Filter> = Vec::new();
    for v in &query.upns {
        clauses.push(Filter::equals("userPrincipalName", v.as_str()));
    }
    for v in &query.sam_account_names {
        clauses.push(Filter::equals("sAMAccountName", v.as_str()));
    }
    for v in &query.smtp_addresses {
        clauses.push(Filter::equals("mail", v.as_str()));
        // AD compares proxyAddresses without case, prefix included: this finds SMTP: too.
        clauses.push(Filter::equals("proxyAddresses", format!("smtp:{v}")));
    }
    let attrs: Vec<String> = TakenMatcher::ATTRIBUTES.map(str::to_owned).to_vec();
    let mut found: Vec<Taken> = Vec::new();
    let mut seen_dns: HashSet<Dn> = HashSet::new();
    for chunk in clauses.chunks(TAKEN_CHUNK) {
        let filter = Filter::or(chunk.to_vec()).to_string();
        let ctx = OpContext {
            op: "domain-wide name check",
            object: base_dn.as_str(),
            attributes: Vec::new(),
            repeatable: true,
            timeout_seconds: session.timeout().as_secs(),
        };
        search_each(
            session,
            &ctx,
            Scope::Subtree,
            &filter,
            &attrs,
            true,
            |raw| {
                let dn = Dn::parse(&raw.dn).map_err(|e| unreadable(format!("{}: {e}", raw.dn)))?;
                if !seen_dns.insert(dn.clone()) {
                    return Ok(());
                }
                found.extend(matcher.taken(&dn, |attribute| raw.texts(attribute)));
                Ok(())
            },
        )
        .await?;
    }
    Ok(found)
}

/// An entry that cannot be a user; `message` starts with its DN.
pub(super) fn unreadable(message: String) -> DirectoryError {
    DirectoryError::Other(format!("unreadable entry from AD: {message}"))
}

/// Why one search attempt stopped.
enum Stop {
    Failure(Failure),
    /// The entry handler refused an entry: final.
    Handler(DirectoryError),
}

/// Runs a search, handing each entry (search references skipped) to `each`, with the retry
/// policy for reads: a retried search starts over, so `each` must tolerate entries it has
/// already seen.
pub(super) async fn search_each(
    session: &mut Session,
    ctx: &OpContext<'_>,
    scope: Scope,
    filter: &str,
    attrs: &[String],
    paged: bool,
    mut each: impl FnMut(RawEntry) -> Result<(), DirectoryError>,
) -> Result<(), DirectoryError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let error =
            match search_once(session, ctx.object, scope, filter, attrs, paged, &mut each).await {
                Ok(()) => return Ok(()),
                Err(Stop::Handler(e)) => return Err(e),
                Err(Stop::Failure(Failure::Connect(e))) => {
                    if session.again(&e, attempt, true).await {
                        continue;
                    }
                    return Err(session.connect_error(e));
                }
                Err(Stop::Failure(Failure::Op(e))) => e,
            };
        if !session.again(&error, attempt, true).await {
            return Err(op_error(ctx, error));
        }
    }
}

async fn search_once(
    session: &mut Session,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[String],
    paged: bool,
    each: &mut impl FnMut(RawEntry) -> Result<(), DirectoryError>,
) -> Result<(), Stop> {
    let mut ldap = session
        .handle()
        .await
        .map_err(|e| Stop::Failure(Failure::Connect(e)))?;
    let op = |e: LdapError| Stop::Failure(Failure::Op(e));
    let mut adapters: Vec<Box<dyn Adapter<'static, String, Vec<String>>>> =
        vec![Box::new(EntriesOnly::new())];
    if paged {
        adapters.push(Box::new(PagedResults::new(PAGE_SIZE)));
    }
    let mut stream = ldap
        .streaming_search_with(adapters, base, scope, filter, attrs.to_vec())
        .await
        .map_err(op)?;
    loop {
        match stream.next().await {
            Ok(Some(entry)) => {
                let handled = match RawEntry::parse(entry) {
                    Some(raw) => each(raw),
                    None => Err(DirectoryError::Other(format!(
                        "{base}: AD sent a search result that is not an entry"
                    ))),
                };
                if let Err(e) = handled {
                    // Stop listening; the rest of this search is dropped.
                    let _ = stream.finish().await;
                    return Err(Stop::Handler(e));
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = stream.finish().await;
                return Err(op(e));
            }
        }
    }
    stream.finish().await.success().map_err(op)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    #[test]
    fn the_user_filter_keeps_computers_out_and_ands_the_scope_filter() {
        let extra = Filter::parse("(!(sAMAccountName=svc-*))").unwrap();
        assert_eq!(
            ObjectKind::User.ad_filter(Some(&extra)).to_string(),
            "(&(objectClass=user)(!(objectClass=computer))(!(sAMAccountName=svc-*)))"
        );
        assert_eq!(
            ObjectKind::User.ad_filter(None).to_string(),
            "(&(objectClass=user)(!(objectClass=computer)))"
        );
    }

    #[test]
    fn binary_values_are_escaped_byte_by_byte() {
        assert_eq!(escape_bytes(&[0x06, 0x2a, 0x28, 0xff]), "\\06\\2a\\28\\ff");
    }

    #[test]
    fn hostile_values_stay_values() {
        let f = Filter::or(vec![Filter::equals("sAMAccountName", "*)(objectClass=*")]);
        assert_eq!(
            f.to_string(),
            "(|(sAMAccountName=\\2a\\29\\28objectClass=\\2a))"
        );
        assert!(ldap3::parse_filter(f.to_string()).is_ok());
    }

    #[test]
    fn nested_and_repeated_bases_are_searched_once() {
        let a = dn("OU=A,DC=x");
        let a_sub = dn("OU=Sub,OU=A,DC=x");
        let b = dn("OU=B,DC=x");
        let a_again = dn("ou=a,dc=X");
        let bases = [a_sub.clone(), a.clone(), b.clone(), a_again];
        assert_eq!(outermost(&bases), vec![&a, &b]);
    }

    #[test]
    fn attributes_are_requested_once() {
        let list = attribute_list(&["displayName".into(), "MAIL".into()]);
        assert_eq!(list.len(), IDENTIFYING.len() + 1);
        assert_eq!(list.last().map(String::as_str), Some("displayName"));
    }
}
