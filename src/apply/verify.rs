//! A saved plan is data, not a command (DESIGN.md "Apply, safety, drift"): each saved action
//! is compared with a fresh plan of the directories as they are now, and only those the fresh
//! plan also contains, identically, are carried out — as the fresh plan's actions, so what is
//! written and reported is what a plan shows. Any other saved action is refused, whatever its
//! checksum; one whose object changed since the plan is stale. So an edited plan file cannot
//! write outside scope, touch a protected or ignored object, or exceed `max_deletes`: the fresh
//! plan never holds such an action.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::executor::{Status, taken_names};
use crate::directory::{AdRead, CloudUser, DirectoryError};
use crate::names::fold;
use crate::plan::{Action, ActionId, ActionKind, ObjectKind, Plan, Precondition, Side};

/// A saved plan checked against a fresh one: what to run and what is already decided.
#[derive(Debug, Clone)]
pub struct Checked {
    /// One action per saved action, in its order and numbering: the fresh plan's twin when it
    /// has one and may run, else the saved action as it was (for the report; not run).
    pub plan: Plan,
    /// Per action: `None` to run it, else the outcome it already has (refused or stale).
    pub verdicts: Vec<Option<(Status, String)>>,
    /// How many actions of the fresh plan no saved action stands for (not run: plan again).
    pub fresh_only: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("the saved plan holds the action id {0} more than once; nothing applied")]
    DuplicateId(ActionId),
    #[error("could not check that the names of the saved plan's new accounts are free: {0}")]
    Directory(#[source] DirectoryError),
}

/// What identifies the object an action is about, for finding its twin: the directory, the
/// object's kind, the kind of action and the object's GUID / Graph id, or for creates (and actions on an object
/// created in the same run) the target DN / UPN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    side: Side,
    object_kind: ObjectKind,
    kind: ActionKind,
    object: String,
}

fn key(a: &Action) -> Key {
    let object = match &a.object {
        Some(id) => id
            .guid()
            .map_or_else(|| fold(&id.to_string()), |g| g.to_string()),
        None => format!("target {}", fold(&a.target)),
    };
    Key {
        side: a.directory,
        object_kind: a.kind,
        kind: a.action,
        object,
    }
}

/// Compares `saved` with `fresh`, a plan made just now by the same code path as `plan`, from
/// `cloud` (the cloud users read). `ad` answers whether the names of a saved AD create that
/// has no twin have been taken since (then it is stale rather than refused).
pub async fn check<A: AdRead>(
    saved: &Plan,
    fresh: &Plan,
    cloud: &[CloudUser],
    ad: &mut A,
) -> Result<Checked, CheckError> {
    let mut position: HashMap<ActionId, usize> = HashMap::new();
    for (i, a) in saved.actions.iter().enumerate() {
        if position.insert(a.id, i).is_some() {
            return Err(CheckError::DuplicateId(a.id));
        }
    }
    let mut by_key: HashMap<Key, Vec<usize>> = HashMap::new();
    // For messages only: what the fresh plan does of this kind for the identity named.
    let mut by_identity: HashMap<(Side, ObjectKind, ActionKind, String), usize> = HashMap::new();
    for (j, f) in fresh.actions.iter().enumerate() {
        by_key.entry(key(f)).or_default().push(j);
        by_identity
            .entry((f.directory, f.kind, f.action, fold(&f.identity)))
            .or_insert(j);
    }

    let n = saved.actions.len();
    let mut twin: Vec<Option<usize>> = vec![None; n];
    let mut verdicts: Vec<Option<(Status, String)>> = vec![None; n];
    // The saved action that claimed each fresh one.
    let mut claimed: HashMap<usize, ActionId> = HashMap::new();
    let mut without_twin: Vec<usize> = Vec::new();

    // Pass 1: the twin of each action, by everything but numbering.
    for (i, s) in saved.actions.iter().enumerate() {
        let candidates = by_key.get(&key(s)).map_or(&[][..], Vec::as_slice);
        let Some(&first) = candidates.first() else {
            without_twin.push(i);
            continue;
        };
        let same: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&j| difference(s, &fresh.actions[j]).is_none())
            .collect();
        match same.iter().find(|j| !claimed.contains_key(j)) {
            Some(&j) => {
                claimed.insert(j, s.id);
                twin[i] = Some(j);
                if s.precondition != fresh.actions[j].precondition {
                    verdicts[i] = Some(stale_changed(s, &fresh.actions[j]));
                }
            }
            None => {
                let f = &fresh.actions[first];
                verdicts[i] = Some(if s.precondition != f.precondition {
                    stale_changed(s, f)
                } else if let Some(&j) = same.first() {
                    refused(format!(
                        "repeats {}: the fresh plan holds this action once",
                        claimed[&j]
                    ))
                } else {
                    let why = difference(s, f).unwrap_or_default();
                    refused(format!("differs from the fresh plan: {why}"))
                });
            }
        }
    }

    // Actions without a twin: refused, unless they are creates whose names were taken since.
    let creates: Vec<&Action> = without_twin
        .iter()
        .map(|&i| &saved.actions[i])
        .filter(|a| a.action == ActionKind::Create && a.directory == Side::Ad)
        .collect();
    let mut taken: HashMap<ActionId, String> = HashMap::new();
    if !creates.is_empty() {
        let why = taken_names(ad, &creates)
            .await
            .map_err(CheckError::Directory)?;
        for (a, why) in creates.iter().zip(why) {
            if let Some(why) = why {
                taken.insert(a.id, why);
            }
        }
    }
    for &i in &without_twin {
        let s = &saved.actions[i];
        verdicts[i] = Some(match taken.remove(&s.id) {
            Some(why) => (Status::Stale, format!("stale: {why}")),
            None => now_exists(s, cloud).unwrap_or_else(|| {
                let similar = by_identity.get(&(s.directory, s.kind, s.action, fold(&s.identity)));
                refused(match similar {
                    Some(&j) => format!(
                        "not in a fresh plan, which has the {} of `{}` on {} instead",
                        s.action.as_str(),
                        s.identity,
                        fresh.actions[j].target
                    ),
                    None => "not in a fresh plan of the directories as they are now".into(),
                })
            }),
        });
    }

    // Pass 2: dependencies, modulo renumbering. One on an action that will not run makes this
    // one not attempted (the executor says so); otherwise they must be the twin's.
    let back: HashMap<ActionId, ActionId> = twin
        .iter()
        .enumerate()
        .filter_map(|(k, t)| t.map(|t| (fresh.actions[t].id, saved.actions[k].id)))
        .collect();
    for i in 0..n {
        let Some(j) = twin[i] else { continue };
        if verdicts[i].is_some() {
            continue;
        }
        let s = &saved.actions[i];
        let mut mapped = BTreeSet::new();
        let mut blocked = false;
        for d in &s.depends_on {
            match position.get(d) {
                None => {
                    verdicts[i] = Some(refused(format!(
                        "depends on {d}, which the saved plan does not hold"
                    )));
                    break;
                }
                Some(&k) => match twin[k] {
                    Some(jk) if verdicts[k].is_none() => {
                        mapped.insert(fresh.actions[jk].id);
                    }
                    _ => blocked = true,
                },
            }
        }
        if verdicts[i].is_some() || blocked {
            continue;
        }
        let wanted: BTreeSet<ActionId> = fresh.actions[j].depends_on.iter().copied().collect();
        if mapped != wanted {
            let saved_ids = |ids: &BTreeSet<ActionId>| -> String {
                let names: Vec<String> = ids
                    .iter()
                    .map(|f| {
                        back.get(f).map_or_else(
                            || format!("an action it does not hold ({f} of the fresh plan)"),
                            ToString::to_string,
                        )
                    })
                    .collect();
                if names.is_empty() {
                    "nothing".into()
                } else {
                    names.join(", ")
                }
            };
            verdicts[i] = Some(refused(format!(
                "differs from the fresh plan: it depends on {}; the fresh plan's on {}",
                saved_ids(&mapped),
                saved_ids(&wanted)
            )));
        }
    }

    let actions = saved
        .actions
        .iter()
        .enumerate()
        .map(|(i, s)| match (twin[i], &verdicts[i]) {
            (Some(j), None) => Action {
                id: s.id,
                depends_on: s.depends_on.clone(),
                ..fresh.actions[j].clone()
            },
            _ => s.clone(),
        })
        .collect();
    Ok(Checked {
        plan: Plan::new(actions, vec![], vec![], vec![]),
        verdicts,
        fresh_only: fresh.actions.len() - claimed.len(),
    })
}

fn refused(why: String) -> (Status, String) {
    (Status::Refused, format!("refused: {why}"))
}

/// A twin whose precondition moved on: the object changed since the plan.
fn stale_changed(s: &Action, f: &Action) -> (Status, String) {
    let msg = match (&s.precondition, &f.precondition) {
        (Some(Precondition::UsnChanged(was)), Some(Precondition::UsnChanged(now))) => format!(
            "stale: {} changed since the plan (uSNChanged {was} is now {now})",
            s.target
        ),
        _ => format!("stale: {} changed since the plan", s.target),
    };
    (Status::Stale, msg)
}

/// For a create without a twin: stale when its UPN now exists in the tenant (the AD side's
/// names are checked domain-wide by the caller). Any other action without a twin is refused,
/// whatever its precondition says: an edited file must not pass for a changed directory.
fn now_exists(s: &Action, cloud: &[CloudUser]) -> Option<(Status, String)> {
    if (s.directory, s.action) != (Side::Entra, ActionKind::Create) {
        return None;
    }
    let u = cloud.iter().find(|u| fold(u.upn()) == fold(&s.target))?;
    let msg = format!("stale: {} now exists (entra {})", s.target, u.id());
    Some((Status::Stale, msg))
}

/// How `s` differs from `f`, ignoring ids, dependencies (compared once twins are known) and
/// preconditions (a difference there means stale, not refused).
fn difference(s: &Action, f: &Action) -> Option<String> {
    if s.target != f.target {
        return Some(format!(
            "the fresh plan's action is on {}, not {}",
            f.target, s.target
        ));
    }
    if s.object != f.object {
        let show = |o: &Option<crate::plan::ObjectId>| {
            o.as_ref().map_or("none".into(), ToString::to_string)
        };
        return Some(format!(
            "object {}, not {}",
            show(&f.object),
            show(&s.object)
        ));
    }
    if s.identity != f.identity {
        return Some(format!("identity `{}`, not `{}`", f.identity, s.identity));
    }
    let show = |c: &crate::plan::Change| serde_json::to_string(c).unwrap_or_default();
    for (k, sc) in s.changes.iter().enumerate() {
        match f.changes.get(k) {
            Some(fc) if fc == sc => {}
            Some(fc) if fc.attribute == sc.attribute => {
                return Some(format!(
                    "{}: the fresh plan has {}, not {}",
                    sc.attribute,
                    show(fc),
                    show(sc)
                ));
            }
            _ => {
                let twin = f.changes.iter().find(|fc| fc.attribute == sc.attribute);
                return Some(match twin {
                    Some(fc) if fc == sc => "its changes are in another order".to_owned(),
                    Some(fc) => format!(
                        "{}: the fresh plan has {}, not {}",
                        sc.attribute,
                        show(fc),
                        show(sc)
                    ),
                    None => format!(
                        "the fresh plan does not change {} ({})",
                        sc.attribute,
                        show(sc)
                    ),
                });
            }
        }
    }
    let extra: HashSet<&str> = f.changes[s.changes.len().min(f.changes.len())..]
        .iter()
        .map(|c| c.attribute.as_str())
        .collect();
    if !extra.is_empty() {
        let mut extra: Vec<&str> = extra.into_iter().collect();
        extra.sort_unstable();
        return Some(format!("the fresh plan also changes {}", extra.join(", ")));
    }
    None
}
