//! Writes: each [`EntraOp`] becomes one `$batch` sub-request (create → `POST /users`, update →
//! `PATCH /users/{id}`, delete → `DELETE /users/{id}`), and each answer one result, in order.
//! Errors match the snapshot directory's: 404 is [`DirectoryError::NotFound`], any other
//! refusal [`DirectoryError::Refused`] with Graph's code, message and request-id.

use serde_json::Value;

use super::batch::{self, Done, Item, Request};
use super::http::{GraphErrorBody, Http};
use super::path_segment;
use super::read::convert;
use crate::directory::{CloudUser, DirectoryError, EntraOp, ProgressEvent, ProgressSink};

pub(crate) async fn write(
    http: &Http,
    ops: Vec<EntraOp>,
    select: &str,
    progress: &dyn ProgressSink,
) -> Vec<Result<Option<CloudUser>, DirectoryError>> {
    let items: Vec<Item> = ops.iter().map(|op| item(op, select)).collect();
    progress.event(ProgressEvent::Start {
        what: "Writing to Entra",
        total: Some(ops.len() as u64),
    });
    let answers = batch::run(http, &items, progress).await;
    progress.event(ProgressEvent::Finish);
    answers
        .into_iter()
        .zip(&ops)
        .zip(&items)
        .map(|((answer, op), item)| result(op, &item.label, answer?))
        .collect()
}

fn item(op: &EntraOp, select: &str) -> Item {
    match op {
        EntraOp::Create(body) => {
            let upn = body.get("userPrincipalName").and_then(Value::as_str);
            Item {
                request: Request::Post {
                    url: "/users".into(),
                    body: Value::Object(body.clone()),
                    check: upn.map(|u| format!("/users/{}?$select={select}", path_segment(u))),
                },
                label: upn.unwrap_or("(new user)").to_owned(),
            }
        }
        EntraOp::Update { id, patch } => Item {
            request: Request::Patch(
                format!("/users/{}", path_segment(id)),
                Value::Object(patch.clone()),
            ),
            label: id.clone(),
        },
        EntraOp::Delete { id } => Item {
            request: Request::Delete(format!("/users/{}", path_segment(id))),
            label: id.clone(),
        },
    }
}

fn result(op: &EntraOp, label: &str, done: Done) -> Result<Option<CloudUser>, DirectoryError> {
    let refused = |done: &Done| {
        GraphErrorBody::parse(done.body.as_ref(), done.headers.as_ref(), done.status).refused(label)
    };
    match (op, done.status) {
        (EntraOp::Create(_), 200..=299) => {
            let user = done
                .body
                .as_ref()
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    DirectoryError::Other(format!("{label}: created, but Graph sent no user"))
                })?;
            convert(label, user).map(Some)
        }
        (EntraOp::Update { .. } | EntraOp::Delete { .. }, 200..=299) => Ok(None),
        // An earlier attempt whose answer was lost did the delete.
        (EntraOp::Delete { .. }, 404) if done.uncertain => Ok(None),
        (EntraOp::Update { .. } | EntraOp::Delete { .. }, 404) => Err(DirectoryError::NotFound {
            object: label.to_owned(),
        }),
        _ => Err(refused(&done)),
    }
}
