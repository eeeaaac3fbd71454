//! Reads: every user (`GET /users?$select=…&$top=999`, following `@odata.nextLink`), one
//! user, and users by id through `$batch`.
//!
//! Pages are decoded as they are parsed: each user object becomes a [`CloudUser`] before the
//! next is read, so no page is ever held as a JSON tree (a million users stay a million
//! `CloudUser`s, not a million JSON objects on top).

use std::fmt;

use reqwest::{Method, Url};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::batch::{self, Item, Request};
use super::http::{Http, HttpError, Retry, reply_error, same_origin};
use super::path_segment;
use crate::directory::{CloudUser, DirectoryError, ProgressEvent, ProgressSink};

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

async fn pages(
    http: &Http,
    select: &str,
    progress: &dyn ProgressSink,
) -> Result<Vec<CloudUser>, DirectoryError> {
    let what = "GET /users";
    let mut url = http.url(&format!(
        "/users?$select={select}&$top={}",
        http.options.page_size
    ))?;
    let mut users = Vec::new();
    loop {
        let reply = http
            .send(0, Method::GET, &url, None, Retry::Transient)
            .await
            .map_err(|e| into_directory(what, e))?;
        if !reply.status.is_success() {
            return Err(reply_error(&reply).refused(what));
        }
        let before = users.len();
        let next = decode_page(&reply.body, &mut users)
            .map_err(|e| DirectoryError::Other(format!("{what}: unexpected answer: {e}")))?;
        progress.event(ProgressEvent::Advance((users.len() - before) as u64));
        let Some(next) = next else { break };
        let link = Url::parse(&next)
            .map_err(|e| DirectoryError::Other(format!("{what}: invalid @odata.nextLink: {e}")))?;
        if !same_origin(&http.graph_url, &link) {
            return Err(DirectoryError::Other(format!(
                "{what}: @odata.nextLink leaves {} ({}): not followed",
                http.graph_url,
                link.origin().ascii_serialization()
            )));
        }
        url = link;
    }
    Ok(users)
}

/// One user by id (or userPrincipalName); `None` when Graph says 404.
pub(crate) async fn one_user(
    http: &Http,
    id: &str,
    select: &str,
) -> Result<Option<CloudUser>, DirectoryError> {
    let what = format!("GET /users/{id}");
    let url = http.url(&format!("/users/{}?$select={select}", path_segment(id)))?;
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
            request: Request::Get(format!("/users/{}?$select={select}", path_segment(id))),
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
            match done.status {
                404 => Ok(None),
                200 => {
                    let body = done
                        .body
                        .as_ref()
                        .and_then(Value::as_object)
                        .ok_or_else(|| {
                            DirectoryError::Other(format!("GET /users/{id}: answer is not a user"))
                        })?;
                    convert(&format!("GET /users/{id}"), body).map(Some)
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
        HttpError::Transport(m) => DirectoryError::Other(format!("{what}: {m}")),
    }
}

/// Decodes one `GET /users` page into `users`; returns its `@odata.nextLink`.
fn decode_page(
    body: &[u8],
    users: &mut Vec<CloudUser>,
) -> Result<Option<String>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let next = Page { users }.deserialize(&mut de)?;
    de.end()?;
    Ok(next)
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
        let page = br#"{"@odata.context":"x","value":[{"id":"1","userPrincipalName":"a@x.com","jobTitle":"Boss"},{"id":"2","userPrincipalName":"b@x.com"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=abc"}"#;
        let mut users = Vec::new();
        let next = decode_page(page, &mut users).unwrap();
        assert_eq!(
            next.as_deref(),
            Some("https://graph.microsoft.com/v1.0/users?$skiptoken=abc")
        );
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].text("jobTitle"), Some("Boss"));
        let last = br#"{"value":[]}"#;
        assert_eq!(decode_page(last, &mut users).unwrap(), None);
        let err = decode_page(br#"{"value":[{"id":"3"}]}"#, &mut users).unwrap_err();
        assert!(
            err.to_string().contains("user 3: no userPrincipalName"),
            "{err}"
        );
        assert!(decode_page(br#"{"error":{}}"#, &mut users).is_err());
    }
}
