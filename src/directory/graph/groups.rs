//! Groups and contacts: every group (`GET /groups?$select=…&$top=…`, every page), then every
//! group's member ids (`GET /groups/{id}/members?$select=id&$top=999`, 20 groups to a
//! `$batch`, each group's `@odata.nextLink` followed in further batches), every contact
//! (`GET /contacts`), and group writes through the users' `$batch` machinery
//! ([`super::write`]).
//!
//! `$expand=members` is not used: Graph returns at most 20 expanded members with no next link
//! (<https://learn.microsoft.com/graph/known-issues>, "`$expand`") and at most 100 groups a
//! page with it, so every group past 20 members would need the members endpoint anyway.

use std::ops::ControlFlow;

use reqwest::Method;
use serde_json::{Map, Value};

use super::batch::{self, Done, Item, Request};
use super::http::{GraphErrorBody, Http, Retry, reply_error};
use super::read::{checked_link, into_directory};
use super::{GraphDirectory, object_path, write};
use crate::directory::model::{CONTACT_PROPERTIES, GROUP_PROPERTIES, ObjectKind};
use crate::directory::{
    CloudContact, CloudGroup, DirectoryError, EntraGroupRead, EntraGroupWrite, EntraOp, NoProgress,
    ProgressEvent, ProgressSink,
};

const GROUPS: ObjectKind = ObjectKind::Group;
const CONTACTS: ObjectKind = ObjectKind::Contact;

/// One page of `/members?$select=id`, decoded straight into ids (`@odata.type` and anything
/// else skipped): no JSON tree for a million memberships.
#[derive(serde::Deserialize)]
struct IdPage {
    value: Vec<IdOnly>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(serde::Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

/// Graph's largest page of `/members`.
const MEMBERS_PAGE: u32 = 999;

/// Every object of a collection, page after page, each handed to `each` as it is read.
async fn objects(
    http: &Http,
    what: &str,
    path: &str,
    progress: &dyn ProgressSink,
    mut each: impl FnMut(&Map<String, Value>) -> Result<(), DirectoryError>,
) -> Result<(), DirectoryError> {
    let unexpected = |m: &str| DirectoryError::Other(format!("{what}: unexpected answer: {m}"));
    let mut next = Some(http.url(path)?);
    while let Some(url) = next.take() {
        let reply = http
            .send(0, Method::GET, &url, None, Retry::Transient)
            .await
            .map_err(|e| into_directory(what, e))?;
        if !reply.status.is_success() {
            return Err(reply_error(&reply).refused(what));
        }
        let Some(Value::Object(page)) = reply.json() else {
            return Err(unexpected("not a JSON object"));
        };
        next = match page.get("@odata.nextLink") {
            Some(Value::String(link)) => Some(checked_link(http, what, link)?),
            None | Some(Value::Null) => None,
            Some(_) => return Err(unexpected("@odata.nextLink is not a string")),
        };
        let Some(Value::Array(items)) = page.get("value") else {
            return Err(unexpected("no value array"));
        };
        for (i, item) in items.iter().enumerate() {
            let Value::Object(item) = item else {
                return Err(unexpected(&format!("value #{} is not an object", i + 1)));
            };
            each(item)?;
        }
        progress.event(ProgressEvent::Advance(items.len() as u64));
    }
    Ok(())
}

/// The object without OData annotations (`@odata.context`, `@odata.type`): they describe the
/// answer, not the object.
fn clean(object: &Map<String, Value>) -> Map<String, Value> {
    object
        .iter()
        .filter(|(k, _)| !k.starts_with("@odata."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn group_from(what: &str, group: &Map<String, Value>) -> Result<CloudGroup, DirectoryError> {
    let mut clean = clean(group);
    // Members are read from `/members`, never from what a create or a lookup answered.
    clean.remove("members");
    CloudGroup::from_graph(&clean).map_err(|m| {
        let id = group.get("id").and_then(Value::as_str).unwrap_or("?");
        DirectoryError::Other(format!(
            "{what}: Graph returned a group idsync cannot read ({id}): {m}"
        ))
    })
}

fn contact_from(what: &str, contact: &Map<String, Value>) -> Result<CloudContact, DirectoryError> {
    CloudContact::from_graph(&clean(contact)).map_err(|m| {
        let id = contact.get("id").and_then(Value::as_str).unwrap_or("?");
        DirectoryError::Other(format!(
            "{what}: Graph returned a contact idsync cannot read ({id}): {m}"
        ))
    })
}

/// `{graph}/v1.0/groups?…` → `/groups?…`: a next link as a `$batch` request's relative URL
/// (after the same-origin check every link gets).
fn relative(http: &Http, what: &str, link: &str) -> Result<String, DirectoryError> {
    let url = checked_link(http, what, link)?;
    let prefix = format!("{}/v1.0", http.graph_url.path().trim_end_matches('/'));
    let path = url.path().strip_prefix(&prefix).ok_or_else(|| {
        DirectoryError::Other(format!(
            "{what}: @odata.nextLink is outside {prefix}: not followed"
        ))
    })?;
    Ok(match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    })
}

/// The member ids of each group, in order; `None` for a group that is gone (404: deleted
/// since it was listed).
async fn members(
    http: &Http,
    ids: &[String],
    progress: &dyn ProgressSink,
) -> Result<Vec<Option<Vec<String>>>, DirectoryError> {
    let mut out: Vec<Option<Vec<String>>> = ids.iter().map(|_| Some(Vec::new())).collect();
    let label = |i: usize| format!("GET /groups/{}/members", ids[i]);
    // Every group's first page is queued at once; a next page goes out ahead of groups not
    // yet begun, so a group of 100,000 members pages on beside the others instead of after
    // them all, and no lane waits for another's batch.
    let items: Vec<Item> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Item {
            request: Request::GetRaw(format!(
                "{}/members?$select=id&$top={MEMBERS_PAGE}",
                object_path(GROUPS, id)
            )),
            label: label(i),
        })
        .collect();
    // Item → group: the first pages are the groups' own order, next pages are appended.
    let mut owner: Vec<usize> = (0..ids.len()).collect();
    let mut failed: Option<DirectoryError> = None;
    progress.event(ProgressEvent::Start {
        what: "Reading Entra group members",
        total: Some(ids.len() as u64),
    });
    let mut on_done = |item: usize, answer: Result<Done, DirectoryError>| {
        let group = owner[item];
        match page_of(http, &label(group), answer) {
            Ok(Page::Gone) => {
                out[group] = None;
                progress.event(ProgressEvent::Advance(1));
                ControlFlow::Continue(Vec::new())
            }
            Ok(Page::Members(list, next)) => {
                out[group].get_or_insert_with(Vec::new).extend(list);
                match next {
                    Some(url) => {
                        owner.push(group);
                        ControlFlow::Continue(vec![Item {
                            request: Request::GetRaw(url),
                            label: label(group),
                        }])
                    }
                    None => {
                        progress.event(ProgressEvent::Advance(1));
                        ControlFlow::Continue(Vec::new())
                    }
                }
            }
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    };
    batch::follow(http, items, &mut on_done).await;
    if let Some(e) = failed {
        return Err(e);
    }
    progress.event(ProgressEvent::Finish);
    Ok(out)
}

/// One page of a group's members, read.
enum Page {
    /// The group is gone (404).
    Gone,
    /// Its member ids, and the relative URL of the next page.
    Members(Vec<String>, Option<String>),
}

fn page_of(
    http: &Http,
    what: &str,
    answer: Result<Done, DirectoryError>,
) -> Result<Page, DirectoryError> {
    let done = answer?;
    match done.status {
        200 => {}
        404 => return Ok(Page::Gone),
        status => {
            return Err(
                GraphErrorBody::parse(done.body.as_ref(), done.headers.as_ref(), status)
                    .refused(what),
            );
        }
    }
    let unexpected = |m: &str| DirectoryError::Other(format!("{what}: unexpected answer: {m}"));
    let page: IdPage = done
        .raw
        .as_ref()
        .ok_or_else(|| unexpected("no body"))
        .and_then(|raw| serde_json::from_str(raw.get()).map_err(|e| unexpected(&e.to_string())))?;
    let list = page
        .value
        .into_iter()
        .enumerate()
        .map(|(k, m)| {
            m.id.filter(|id| !id.is_empty())
                .ok_or_else(|| unexpected(&format!("member #{} has no id", k + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next = page
        .next_link
        .map(|link| relative(http, what, &link))
        .transpose()?;
    Ok(Page::Members(list, next))
}

/// Every group with its members.
async fn all_groups(
    http: &Http,
    progress: &dyn ProgressSink,
) -> Result<Vec<CloudGroup>, DirectoryError> {
    let what = format!("GET /{}", GROUPS.graph_collection());
    let path = format!(
        "/{}?$select={}&$top={}",
        GROUPS.graph_collection(),
        GROUP_PROPERTIES.join(","),
        http.options.page_size
    );
    progress.event(ProgressEvent::Start {
        what: "Reading Entra groups",
        total: None,
    });
    let mut groups = Vec::new();
    objects(http, &what, &path, progress, |g| {
        groups.push(group_from(&what, g)?);
        Ok(())
    })
    .await?;
    progress.event(ProgressEvent::Finish);
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let lists = members(http, &ids, progress).await?;
    Ok(groups
        .into_iter()
        .zip(lists)
        .filter_map(|(mut g, m)| {
            // A group deleted between the list and its members is gone: not read.
            g.members = Some(m?);
            Some(g)
        })
        .collect())
}

async fn all_contacts(
    http: &Http,
    progress: &dyn ProgressSink,
) -> Result<Vec<CloudContact>, DirectoryError> {
    let what = format!("GET /{}", CONTACTS.graph_collection());
    let path = format!(
        "/{}?$select={}&$top={}",
        CONTACTS.graph_collection(),
        CONTACT_PROPERTIES.join(","),
        http.options.page_size
    );
    progress.event(ProgressEvent::Start {
        what: "Reading Entra contacts",
        total: None,
    });
    let mut contacts = Vec::new();
    objects(http, &what, &path, progress, |c| {
        contacts.push(contact_from(&what, c)?);
        Ok(())
    })
    .await?;
    progress.event(ProgressEvent::Finish);
    Ok(contacts)
}

/// One group with its members; `None` when Graph says 404.
async fn one_group(http: &Http, id: &str) -> Result<Option<CloudGroup>, DirectoryError> {
    let what = format!("GET /{}/{id}", GROUPS.graph_collection());
    let url = http.url(&format!(
        "{}?$select={}",
        object_path(GROUPS, id),
        GROUP_PROPERTIES.join(",")
    ))?;
    let reply = http
        .send(0, Method::GET, &url, None, Retry::Transient)
        .await
        .map_err(|e| into_directory(&what, e))?;
    let mut group = match reply.status.as_u16() {
        404 => return Ok(None),
        200 => {
            let body = reply
                .json()
                .and_then(|v| v.as_object().cloned())
                .ok_or_else(|| DirectoryError::Other(format!("{what}: answer is not a group")))?;
            group_from(&what, &body)?
        }
        _ => return Err(reply_error(&reply).refused(id)),
    };
    let mut lists = members(http, std::slice::from_ref(&group.id), &NoProgress).await?;
    match lists.pop().flatten() {
        Some(m) => {
            group.members = Some(m);
            Ok(Some(group))
        }
        None => Ok(None),
    }
}

/// `$filter` string literal: single quotes doubled, then percent-encoded for the URL.
fn filter_literal(s: &str) -> String {
    const VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'@');
    let quoted = format!("'{}'", s.replace('\'', "''"));
    percent_encoding::utf8_percent_encode(&quoted, VALUE).collect()
}

/// Writes groups and memberships. A create whose answer was lost is looked up by its
/// `mailNickname` and `displayName` (a group has no unique name to GET it by).
async fn write_groups(
    http: &Http,
    ops: Vec<EntraOp>,
    progress: &dyn ProgressSink,
) -> Vec<Result<Option<CloudGroup>, DirectoryError>> {
    let items: Vec<Item> = ops
        .iter()
        .map(|op| {
            let (name, check) = match op {
                EntraOp::Create(body) => {
                    let text = |k: &str| body.get(k).and_then(Value::as_str);
                    let name = text("displayName");
                    let check = match (text("mailNickname"), name) {
                        (Some(nick), Some(name)) => Some(format!(
                            "/{}?$filter=mailNickname%20eq%20{}%20and%20displayName%20eq%20{}&$select={}",
                            GROUPS.graph_collection(),
                            filter_literal(nick),
                            filter_literal(name),
                            GROUP_PROPERTIES.join(",")
                        )),
                        _ => None,
                    };
                    (name, check)
                }
                _ => (None, None),
            };
            write::item(GROUPS, op, name, check)
        })
        .collect();
    write::run(
        http,
        &ops,
        &items,
        progress,
        "Writing groups to Entra",
        group_from,
    )
    .await
}

impl EntraGroupRead for GraphDirectory {
    async fn read_groups(&mut self) -> Result<Vec<CloudGroup>, DirectoryError> {
        all_groups(&self.http, &*self.progress).await
    }

    async fn read_contacts(&mut self) -> Result<Vec<CloudContact>, DirectoryError> {
        all_contacts(&self.http, &*self.progress).await
    }
}

impl EntraGroupWrite for GraphDirectory {
    async fn write_groups(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudGroup>, DirectoryError>> {
        write_groups(&self.http, writes, &*self.progress).await
    }

    async fn read_group(&mut self, id: &str) -> Result<Option<CloudGroup>, DirectoryError> {
        one_group(&self.http, id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_literals_double_quotes_and_encode() {
        assert_eq!(filter_literal("sales"), "%27sales%27");
        assert_eq!(filter_literal("O'Neil Team"), "%27O%27%27Neil%20Team%27");
    }
}
