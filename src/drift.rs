//! Drift: the plan phrased for a scheduled job. Every action, standing conflict and error
//! diagnostic is drift; with a baseline (the desired state last applied) each is attributed to
//! the side that moved: a directory changed outside idsync, or git changed and is not applied.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::plan::{Action, NoteKind, Plan, Severity, Side};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The last-applied desired state would make the same change: the directory moved.
    DirectoryChanged,
    /// Only the current desired state asks for it: git changed and is not applied yet.
    DesiredStateChanged,
    /// No baseline to tell.
    Unknown,
}

impl Cause {
    pub const ALL: [Cause; 3] = [
        Cause::DirectoryChanged,
        Cause::DesiredStateChanged,
        Cause::Unknown,
    ];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::DirectoryChanged => "directory_changed",
            Cause::DesiredStateChanged => "desired_state_changed",
            Cause::Unknown => "unknown",
        }
    }

    pub fn explain(self) -> &'static str {
        match self {
            Cause::DirectoryChanged => {
                "the directory drifted away from git (changed outside idsync)"
            }
            Cause::DesiredStateChanged => "git changed and is not applied yet",
            Cause::Unknown => "the directory or git changed (give --baseline REF to tell which)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Action,
    Conflict,
    Diagnostic,
}

impl ItemKind {
    pub const ALL: [ItemKind; 3] = [ItemKind::Action, ItemKind::Conflict, ItemKind::Diagnostic];

    /// The serde name (a test in `render` holds them equal).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Action => "action",
            ItemKind::Conflict => "conflict",
            ItemKind::Diagnostic => "diagnostic",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftItem {
    pub kind: ItemKind,
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<Side>,
    /// One line: what differs.
    pub summary: String,
    pub cause: Cause,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub drifted: bool,
    /// The git ref of the last-applied desired state, when given.
    pub baseline: Option<String>,
    pub items: Vec<DriftItem>,
    pub plan: Plan,
}

impl DriftReport {
    pub fn count(&self, cause: Cause) -> usize {
        self.items.iter().filter(|i| i.cause == cause).count()
    }
}

/// What an action does, independent of its id: the same change planned from two desired
/// states has the same keys. Updates are keyed per attribute, so one action can hold a change
/// from each side.
fn change_keys(a: &Action) -> Vec<(String, Option<usize>)> {
    let head = format!("{:?}|{:?}|{}", a.action, a.directory, a.target);
    if a.action != crate::plan::ActionKind::Update {
        let all: Vec<String> = a
            .changes
            .iter()
            .map(|c| format!("{}={}", c.attribute, c.after))
            .collect();
        return vec![(format!("{head}|{}", all.join(";")), None)];
    }
    a.changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                format!(
                    "{head}|{}={}|{:?}|{:?}",
                    c.attribute,
                    c.after,
                    c.added(),
                    c.removed()
                ),
                Some(i),
            )
        })
        .collect()
}

/// One line describing an action, or only its change number `only`.
pub fn action_summary(a: &Action, only: Option<usize>) -> String {
    let changes: Vec<String> = a
        .changes
        .iter()
        .enumerate()
        .filter(|(i, _)| only.is_none_or(|o| o == *i))
        .map(|(_, c)| {
            if c.is_edit() {
                let mut parts: Vec<String> = c.removed().iter().map(|v| format!("-{v}")).collect();
                parts.extend(c.added().iter().map(|v| format!("+{v}")));
                format!("{} {}", c.attribute, parts.join(" "))
            } else {
                format!("{} {} -> {}", c.attribute, c.before, c.after)
            }
        })
        .collect();
    let mut s = format!(
        "{} {} {}",
        a.action.as_str(),
        a.directory.as_str(),
        a.target
    );
    if a.action == crate::plan::ActionKind::Create {
        // The attribute list of a new object is long and adds little here.
        return format!("{s} ({} attributes)", a.changes.len());
    }
    if !changes.is_empty() {
        s.push_str(": ");
        s.push_str(&changes.join(", "));
    }
    s
}

/// Drift of `current` (the plan of the desired state in git now), attributed against
/// `baseline` (the plan the last-applied desired state makes against the same reads).
pub fn assess(current: Plan, baseline: Option<(&str, &Plan)>) -> DriftReport {
    let cause_of = |in_baseline: bool| match baseline {
        None => Cause::Unknown,
        Some(_) if in_baseline => Cause::DirectoryChanged,
        Some(_) => Cause::DesiredStateChanged,
    };
    let base_actions: HashSet<String> = baseline
        .map(|(_, p)| {
            p.actions
                .iter()
                .flat_map(change_keys)
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default();
    let base_conflicts: HashSet<(String, String)> = baseline
        .map(|(_, p)| {
            p.conflicts
                .iter()
                .map(|c| (c.identity.clone(), c.message.clone()))
                .collect()
        })
        .unwrap_or_default();
    let base_diags: HashSet<(String, String)> = baseline
        .map(|(_, p)| {
            p.diagnostics
                .iter()
                .map(|d| (d.object.clone(), d.message.clone()))
                .collect()
        })
        .unwrap_or_default();

    let mut items = Vec::new();
    for a in &current.actions {
        for (key, only) in change_keys(a) {
            items.push(DriftItem {
                kind: ItemKind::Action,
                identity: a.identity.to_string(),
                directory: Some(a.directory),
                summary: action_summary(a, only),
                cause: cause_of(base_actions.contains(&key)),
            });
        }
    }
    for c in &current.conflicts {
        let kind = c.kind.as_str();
        items.push(DriftItem {
            kind: ItemKind::Conflict,
            identity: c.identity.clone(),
            directory: None,
            summary: format!("{kind}: {}", c.message),
            cause: cause_of(base_conflicts.contains(&(c.identity.clone(), c.message.clone()))),
        });
    }
    for d in current
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
    {
        items.push(DriftItem {
            kind: ItemKind::Diagnostic,
            identity: d.object.clone(),
            directory: Some(Side::Ad),
            summary: format!("{} {}: {}", d.rule, d.attribute, d.message),
            cause: cause_of(base_diags.contains(&(d.object.clone(), d.message.clone()))),
        });
    }
    // A scope that caught nothing compared nothing: never "no drift".
    for n in current
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::EmptyScope)
    {
        items.push(DriftItem {
            kind: ItemKind::Diagnostic,
            identity: n.identity.clone(),
            directory: Some(if n.identity == crate::engine::AD_NOTE {
                Side::Ad
            } else {
                Side::Entra
            }),
            summary: format!("empty_scope: {}", n.message),
            cause: Cause::Unknown,
        });
    }
    DriftReport {
        drifted: !items.is_empty(),
        baseline: baseline.map(|(name, _)| name.to_owned()),
        items,
        plan: current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ActionKind, Change, ObjectKind};

    fn action(target: &str, after: &str) -> Action {
        Action {
            id: crate::plan::ActionId(1),
            action: ActionKind::Update,
            directory: Side::Entra,
            kind: ObjectKind::User,
            identity: target.into(),
            target: target.into(),
            object: None,
            changes: Box::new([Change::set("jobTitle", "x".into(), after.into())]),
            depends_on: Box::default(),
            precondition: None,
            matched: None,
        }
    }

    #[test]
    fn attributes_each_difference_to_the_side_that_moved() {
        let current = Plan::new(
            vec![action("a@x", "Boss"), action("b@x", "Chief")],
            vec![],
            vec![],
            vec![],
        );
        let baseline = Plan::new(vec![action("a@x", "Boss")], vec![], vec![], vec![]);
        let r = assess(current.clone(), Some(("idsync-applied", &baseline)));
        assert!(r.drifted);
        assert_eq!(r.items[0].cause, Cause::DirectoryChanged);
        assert_eq!(r.items[1].cause, Cause::DesiredStateChanged);
        let r = assess(current, None);
        assert!(r.items.iter().all(|i| i.cause == Cause::Unknown));
    }

    #[test]
    fn no_actions_no_conflicts_is_no_drift() {
        let r = assess(Plan::new(vec![], vec![], vec![], vec![]), None);
        assert!(!r.drifted);
    }
}
