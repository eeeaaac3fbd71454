//! Writes: each [`EntraOp`] becomes one `$batch` sub-request on its kind's collection
//! (create → `POST /{collection}`, update → `PATCH /{collection}/{id}`, delete →
//! `DELETE /{collection}/{id}`), and each answer one result, in order.
//! Errors match the snapshot directory's: 404 is [`DirectoryError::NotFound`], any other
//! refusal [`DirectoryError::Refused`] with Graph's code, message and request-id.

use serde_json::{Map, Value};

use super::batch::{self, Done, Item, Request};
use super::http::{GraphErrorBody, Http};
use super::object_path;
use super::read::convert;
use crate::directory::model::ObjectKind;
use crate::directory::{CloudUser, DirectoryError, EntraOp, ProgressEvent, ProgressSink};

/// Turns the object a create was answered with into the kind's model.
type Convert<T> = fn(&str, &Map<String, Value>) -> Result<T, DirectoryError>;

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
    run(http, &ops, &items, progress, "Writing to Entra", convert).await
}

/// Runs the items of `ops` through `$batch`; one result per op, in order.
pub(crate) async fn run<T>(
    http: &Http,
    ops: &[EntraOp],
    items: &[Item],
    progress: &dyn ProgressSink,
    what: &'static str,
    convert: Convert<T>,
) -> Vec<Result<Option<T>, DirectoryError>> {
    progress.event(ProgressEvent::Start {
        what,
        total: Some(ops.len() as u64),
    });
    let answers = batch::run(http, items, progress).await;
    progress.event(ProgressEvent::Finish);
    answers
        .into_iter()
        .zip(ops)
        .zip(items)
        .map(|((answer, op), item)| result(op, &item.label, answer?, convert))
        .collect()
}

/// The op as a sub-request on the kind's collection. A create is labelled by `name` and, with
/// a `check`, read back there when its answer was lost.
pub(crate) fn item(
    kind: ObjectKind,
    op: &EntraOp,
    name: Option<&str>,
    check: Option<String>,
) -> Item {
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

/// One op's final answer as its result. A retried op whose first answer was lost may find
/// its own earlier attempt: a delete or a member removal then answers 404, a member add
/// "already exist" — both mean the first attempt did it.
fn result<T>(
    op: &EntraOp,
    label: &str,
    done: Done,
    convert: Convert<T>,
) -> Result<Option<T>, DirectoryError> {
    let refused = |done: &Done| {
        GraphErrorBody::parse(done.body.as_ref(), done.headers.as_ref(), done.status).refused(label)
    };
    match (op, done.status) {
        (EntraOp::Create(_), 200..=299) => {
            let object = done
                .body
                .as_ref()
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    DirectoryError::Other(format!("{label}: created, but Graph sent no object"))
                })?;
            match object.get("value") {
                // The answer of a create's lookup by a filter (groups): one object is ours.
                Some(Value::Array(found)) if done.uncertain => match found.as_slice() {
                    [Value::Object(one)] => convert(label, one).map(Some),
                    _ => Err(DirectoryError::Other(format!(
                        "{label}: the create's answer was lost, and {} objects now match it: check which is idsync's",
                        found.len()
                    ))),
                },
                _ => convert(label, object).map(Some),
            }
        }
        (
            EntraOp::Update { .. }
            | EntraOp::Delete { .. }
            | EntraOp::AddMember { .. }
            | EntraOp::RemoveMember { .. },
            200..=299,
        ) => Ok(None),
        // An earlier attempt whose answer was lost did the delete, or the removal.
        (EntraOp::Delete { .. } | EntraOp::RemoveMember { .. }, 404) if done.uncertain => Ok(None),
        // An earlier attempt whose answer was lost added the member.
        (EntraOp::AddMember { .. }, 400)
            if done.uncertain && graph_rules::group::is_member_exists(done.body.as_ref()) =>
        {
            Ok(None)
        }
        (
            EntraOp::Update { .. }
            | EntraOp::Delete { .. }
            | EntraOp::AddMember { .. }
            | EntraOp::RemoveMember { .. },
            404,
        ) => Err(DirectoryError::NotFound {
            object: label.to_owned(),
        }),
        _ => Err(refused(&done)),
    }
}
