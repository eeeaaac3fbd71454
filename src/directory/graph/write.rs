//! Writes: each [`EntraOp`] becomes one `$batch` sub-request on its kind's collection
//! (create → `POST /{collection}`, update → `PATCH /{collection}/{id}`, delete →
//! `DELETE /{collection}/{id}`), and each answer one result, in order.
//! Errors match the snapshot directory's: 404 is [`DirectoryError::NotFound`], any other
//! refusal [`DirectoryError::Refused`] with Graph's code, message and request-id.

use serde_json::Value;

use super::batch::{self, Done, Item, Request};
use super::http::{GraphErrorBody, Http};
use super::object_path;
use super::read::convert;
use crate::directory::model::ObjectKind;
use crate::directory::{CloudUser, DirectoryError, EntraOp, ProgressEvent, ProgressSink};

/// Writes users; a create's read-back (after a lost answer) looks the user up by UPN.
pub(crate) async fn users(
    http: &Http,
    ops: Vec<EntraOp>,
    select: &str,
    progress: &dyn ProgressSink,
) -> Vec<Result<Option<CloudUser>, DirectoryError>> {
    let kind = ObjectKind::User;
    let items: Vec<Item> = ops
        .iter()
        .map(|op| {
            let upn = match op {
                EntraOp::Create(body) => body.get("userPrincipalName").and_then(Value::as_str),
                _ => None,
            };
            let check = upn.map(|u| format!("{}?$select={select}", object_path(kind, u)));
            item(kind, op, upn, check)
        })
        .collect();
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

/// The op as a sub-request on the kind's collection. A create is labelled by `name` and, with
/// a `check`, read back there when its answer was lost.
fn item(kind: ObjectKind, op: &EntraOp, name: Option<&str>, check: Option<String>) -> Item {
    match op {
        EntraOp::Create(body) => Item {
            request: Request::Post {
                url: format!("/{}", kind.graph_collection()),
                body: Value::Object(body.clone()),
                check,
            },
            label: name.map_or_else(|| format!("(new {kind})"), str::to_owned),
        },
        EntraOp::Update { id, patch } => Item {
            request: Request::Patch(object_path(kind, id), Value::Object(patch.clone())),
            label: id.clone(),
        },
        EntraOp::Delete { id } => Item {
            request: Request::Delete(object_path(kind, id)),
            label: id.clone(),
        },
        EntraOp::AddMember { id, member } => Item {
            request: Request::Post {
                url: format!("{}/members/$ref", object_path(kind, id)),
                body: serde_json::json!({
                    "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")
                }),
                check: None,
            },
            label: format!("{id} member {member}"),
        },
        EntraOp::RemoveMember { id, member } => Item {
            request: Request::Delete(format!(
                "{}/members/{}/$ref",
                object_path(kind, id),
                super::path_segment(member)
            )),
            label: format!("{id} member {member}"),
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
        (
            EntraOp::Update { .. }
            | EntraOp::Delete { .. }
            | EntraOp::AddMember { .. }
            | EntraOp::RemoveMember { .. },
            200..=299,
        ) => Ok(None),
        // An earlier attempt whose answer was lost did the delete.
        (EntraOp::Delete { .. }, 404) if done.uncertain => Ok(None),
        (EntraOp::Update { .. } | EntraOp::Delete { .. }, 404) => Err(DirectoryError::NotFound {
            object: label.to_owned(),
        }),
        _ => Err(refused(&done)),
    }
}
