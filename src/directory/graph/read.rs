//! Reads: every user (`GET /users?$select=…&$top=999`, following `@odata.nextLink`), one
//! user, and users by id through `$batch`.
//!
//! Pages are decoded as they are parsed: each user object becomes a [`CloudUser`] before the
//! next is read, so no page is ever held as a JSON tree (a million users stay a million
//! `CloudUser`s, not a million JSON objects on top). At most two raw pages are held: the one
//! being decoded and the one being fetched.

use std::fmt;

use reqwest::{Method, Url};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::batch::{self, Item, Request};
use super::http::{Http, HttpError, Retry, reply_error, same_origin};
use super::object_path;
use crate::directory::model::ObjectKind;
use crate::directory::{CloudUser, DirectoryError, ProgressEvent, ProgressSink};

const USERS: ObjectKind = ObjectKind::User;

/// Every user, with the `select`ed properties.
pub(crate) async fn all_users(
    http: &Http,
    select: &str,
    progress: &dyn ProgressSink,
) -> Result<Vec<CloudUser>, DirectoryError> {
    progress.event(ProgressEvent::Start {
        what: "Reading Entra users",
        total: None,
    });
    let users = pages(http, select, progress).await;
    progress.event(ProgressEvent::Finish);
    users
}

/// Pages in a pipeline: while one page is decoded (on a blocking thread: decoding is CPU
/// work), the next is already being fetched; its link is found by a quick scan first.
async fn pages(
    http: &Http,
    select: &str,
    progress: &dyn ProgressSink,
) -> Result<Vec<CloudUser>, DirectoryError> {
    let what = format!("GET /{}", USERS.graph_collection());
    let what = what.as_str();
    let mut next = Some(http.url(&format!(
        "/{}?$select={select}&$top={}",
        USERS.graph_collection(),
        http.options.page_size
    ))?);
    let mut users = Vec::new();
    let mut decoding: Option<Decoding> = None;
    while let Some(url) = next.take() {
        let reply = http
            .send(0, Method::GET, &url, None, Retry::Transient)
            .await
            .map_err(|e| into_directory(what, e));
        if let Some(page) = decoding.take() {
            collect(what, page, &mut users, progress).await?;
        }
        let reply = reply?;
        if !reply.status.is_success() {
            return Err(reply_error(&reply).refused(what));
        }
        next = next_link(&reply.body)
            .map_err(|e| DirectoryError::Other(format!("{what}: unexpected answer: {e}")))?
            .map(|link| checked_link(http, what, &link))
            .transpose()?;
        let body = reply.body;
        decoding = Some(tokio::task::spawn_blocking(move || decode_page(&body)));
    }
    if let Some(page) = decoding {
        collect(what, page, &mut users, progress).await?;
    }
    Ok(users)
}

type Decoding = tokio::task::JoinHandle<Result<Vec<CloudUser>, serde_json::Error>>;

async fn collect(
    what: &str,
    page: Decoding,
    users: &mut Vec<CloudUser>,
    progress: &dyn ProgressSink,
) -> Result<(), DirectoryError> {
    let mut page = page
        .await
        .map_err(|e| DirectoryError::Other(format!("{what}: decoding a page failed: {e}")))?
        .map_err(|e| DirectoryError::Other(format!("{what}: unexpected answer: {e}")))?;
    progress.event(ProgressEvent::Advance(page.len() as u64));
    users.append(&mut page);
    Ok(())
}

/// The next page's URL, if it stays on the Graph endpoint (the token goes nowhere else).
pub(crate) fn checked_link(http: &Http, what: &str, link: &str) -> Result<Url, DirectoryError> {
    let link = Url::parse(link)
        .map_err(|e| DirectoryError::Other(format!("{what}: invalid @odata.nextLink: {e}")))?;
    if !same_origin(&http.graph_url, &link) {
        return Err(DirectoryError::Other(format!(
            "{what}: @odata.nextLink leaves {} ({}): not followed",
            http.graph_url,
            link.origin().ascii_serialization()
        )));
    }
    Ok(link)
}

/// One user by id (or userPrincipalName); `None` when Graph says 404.
pub(crate) async fn one_user(
    http: &Http,
    id: &str,
    select: &str,
) -> Result<Option<CloudUser>, DirectoryError> {
    let what = format!("GET /{}/{id}", USERS.graph_collection());
    let url = http.url(&format!("{}?$select={select}", object_path(USERS, id)))?;
    let reply = http
        .send(0, Method::GET, &url, None, Retry::Transient)
        .await
        .map_err(|e| into_directory(&what, e))?;
    match reply.status.as_u16() {
        404 => Ok(None),
        200 => {
            let body = reply
                .json()
                .and_then(|v| v.as_object().cloned())
                .ok_or_else(|| DirectoryError::Other(format!("{what}: answer is not a user")))?;
            convert(&what, &body).map(Some)
        }
        _ => Err(reply_error(&reply).refused(id)),
    }
}

/// Users by id, in order, 20 to a `$batch`.
pub(crate) async fn users_by_id(
    http: &Http,
    ids: &[String],
    select: &str,
    progress: &dyn ProgressSink,
) -> Result<Vec<Option<CloudUser>>, DirectoryError> {
    let items: Vec<Item> = ids
        .iter()
        .map(|id| Item {
            request: Request::Get(format!("{}?$select={select}", object_path(USERS, id))),
            label: id.clone(),
        })
        .collect();
    progress.event(ProgressEvent::Start {
        what: "Reading Entra users by id",
        total: Some(ids.len() as u64),
    });
    let answers = batch::run(http, &items, progress).await;
    progress.event(ProgressEvent::Finish);
    answers
        .into_iter()
        .zip(ids)
        .map(|(answer, id)| {
            let done = answer?;
            let what = format!("GET /{}/{id}", USERS.graph_collection());
            match done.status {
                404 => Ok(None),
                200 => {
                    let body = done
                        .body
                        .as_ref()
                        .and_then(Value::as_object)
                        .ok_or_else(|| {
                            DirectoryError::Other(format!("{what}: answer is not a user"))
                        })?;
                    convert(&what, body).map(Some)
                }
                status => Err(super::http::GraphErrorBody::parse(
                    done.body.as_ref(),
                    done.headers.as_ref(),
                    status,
                )
                .refused(id.as_str())),
            }
        })
        .collect()
}

/// A Graph user object as a `CloudUser`, without OData annotations (`@odata.context`, …):
/// they describe the answer, not the user, and must not change its fingerprint.
pub(crate) fn convert(what: &str, user: &Map<String, Value>) -> Result<CloudUser, DirectoryError> {
    from_graph(user).map_err(|m| {
        DirectoryError::Other(format!(
            "{what}: Graph returned a user idsync cannot read: {m}"
        ))
    })
}

fn from_graph(user: &Map<String, Value>) -> Result<CloudUser, String> {
    if user.keys().any(|k| k.starts_with("@odata.")) {
        let clean: Map<String, Value> = user
            .iter()
            .filter(|(k, _)| !k.starts_with("@odata."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        CloudUser::from_graph(&clean)
    } else {
        CloudUser::from_graph(user)
    }
}

pub(crate) fn into_directory(what: &str, e: HttpError) -> DirectoryError {
    match e {
        HttpError::Directory(e) => e,
        HttpError::Transport(m, _) => DirectoryError::Other(format!("{what}: {m}")),
    }
}

/// Decodes one `GET /users` page, user by user.
fn decode_page(body: &[u8]) -> Result<Vec<CloudUser>, serde_json::Error> {
    let mut users = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    Page { users: &mut users }.deserialize(&mut de)?;
    de.end()?;
    Ok(users)
}

/// A page's `@odata.nextLink`, found without building anything: the scan stops at the link
/// (Graph sends it before `value`) and otherwise skips over the users.
fn next_link(body: &[u8]) -> Result<Option<String>, serde_json::Error> {
    let mut link = None;
    let mut de = serde_json::Deserializer::from_slice(body);
    match (LinkScan { link: &mut link }).deserialize(&mut de) {
        Ok(()) => Ok(link),
        Err(_) if link.is_some() => Ok(link),
        Err(e) => Err(e),
    }
}

struct LinkScan<'a> {
    link: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for LinkScan<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LinkScan<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph users page")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "@odata.nextLink" {
                *self.link = map.next_value::<Option<String>>()?;
                // Found: stop here rather than skip the users (the caller keeps the link).
                return Err(de::Error::custom("stop"));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

struct Page<'a> {
    users: &'a mut Vec<CloudUser>,
}

impl<'de> DeserializeSeed<'de> for Page<'_> {
    type Value = Option<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Page<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph users page {\"value\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut next = None;
        let mut seen_value = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "@odata.nextLink" => next = map.next_value::<Option<String>>()?,
                "value" => {
                    map.next_value_seed(Users {
                        users: &mut *self.users,
                    })?;
                    seen_value = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !seen_value {
            return Err(de::Error::missing_field("value"));
        }
        Ok(next)
    }
}

struct Users<'a> {
    users: &'a mut Vec<CloudUser>,
}

impl<'de> DeserializeSeed<'de> for Users<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Users<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of users")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(user) = seq.next_element::<Map<String, Value>>()? {
            let cloud = from_graph(&user).map_err(|m| {
                let id = user.get("id").and_then(Value::as_str).unwrap_or("?");
                de::Error::custom(format!("user {id}: {m}"))
            })?;
            self.users.push(cloud);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_decode_users_and_the_next_link() {
        let link = "https://graph.microsoft.com/v1.0/users?$skiptoken=abc";
        let users = r#"[{"id":"1","userPrincipalName":"a@x.com","jobTitle":"Boss"},{"id":"2","userPrincipalName":"b@x.com"}]"#;
        // The link before or after the users: Graph promises no order.
        for page in [
            format!(r#"{{"@odata.context":"x","@odata.nextLink":"{link}","value":{users}}}"#),
            format!(r#"{{"@odata.context":"x","value":{users},"@odata.nextLink":"{link}"}}"#),
        ] {
            assert_eq!(next_link(page.as_bytes()).unwrap().as_deref(), Some(link));
            let read = decode_page(page.as_bytes()).unwrap();
            assert_eq!(read.len(), 2);
            assert_eq!(read[0].text("jobTitle"), Some("Boss"));
        }
        let last = br#"{"value":[]}"#;
        assert_eq!(next_link(last).unwrap(), None);
        assert!(decode_page(last).unwrap().is_empty());
        let err = decode_page(br#"{"value":[{"id":"3"}]}"#).unwrap_err();
        assert!(
            err.to_string().contains("user 3: no userPrincipalName"),
            "{err}"
        );
        assert!(decode_page(br#"{"error":{}}"#).is_err());
        assert!(next_link(b"<html>").is_err());
    }
}
