//! One identity's contribution to the plan, and how actions on existing objects are built.

use std::cell::OnceCell;
use std::sync::Arc;

use crate::directory::{AdUser, CloudUser};
use crate::plan::{
    Action, ActionId, ActionKind, Change, Conflict, Diagnostic, Note, NoteKind, ObjectKind,
    Precondition, Severity, Side, Text, Value,
};

/// What one identity contributes; dropped whole when one of its objects has an error.
#[derive(Default)]
pub(super) struct Batch {
    /// Ids are placeholders and `depends_on` indexes this list until the planner takes it.
    pub(super) actions: Vec<Action>,
    identity: OnceCell<Arc<str>>,
    pub(super) notes: Vec<Note>,
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) conflicts: Vec<Conflict>,
    pub(super) deprovision_ad: usize,
    pub(super) deprovision_entra: usize,
}

impl Batch {
    pub(super) fn note(&mut self, kind: NoteKind, identity: &str, message: String) {
        self.notes.push(Note {
            kind,
            identity: identity.to_owned(),
            message,
        });
    }
    /// The identity's name, allocated once for all its actions.
    pub(super) fn identity(&self, name: &str) -> Arc<str> {
        self.identity.get_or_init(|| Arc::from(name)).clone()
    }

    /// An action on an AD object that exists, guarded by its `uSNChanged`.
    pub(super) fn on_ad(
        &self,
        kind: ActionKind,
        name: &str,
        ad: &AdUser,
        changes: impl Into<Box<[Change]>>,
    ) -> Action {
        Action {
            id: ActionId(0),
            action: kind,
            directory: Side::Ad,
            kind: ObjectKind::User,
            identity: self.identity(name),
            target: ad.dn.as_str().into(),
            object: Some(ad.object_guid.into()),
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: ad_precondition(ad),
            matched: None,
        }
    }

    /// An action on a cloud user that exists, guarded by a hash of what was read.
    pub(super) fn on_entra(
        &self,
        kind: ActionKind,
        name: &str,
        cloud: &CloudUser,
        changes: impl Into<Box<[Change]>>,
    ) -> Action {
        Action {
            id: ActionId(0),
            action: kind,
            directory: Side::Entra,
            kind: ObjectKind::User,
            identity: self.identity(name),
            target: cloud.upn().into(),
            object: Some(cloud.id().into()),
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: Some(entra_precondition(cloud)),
            matched: None,
        }
    }

    /// The hard-match preparation on a cloud user: `link entra` setting its
    /// onPremisesImmutableId to `anchor` (the AD anchor, or known only after a create).
    pub(super) fn link_entra(&self, name: &str, cloud: &CloudUser, anchor: Value) -> Action {
        self.on_entra(
            ActionKind::Link,
            name,
            cloud,
            [Change::set(
                "onPremisesImmutableId",
                Value::opt(cloud.immutable_id()),
                anchor,
            )],
        )
    }

    /// The id the next action pushed gets within this batch (what `depends_on` refers to).
    pub(super) fn next_id(&self) -> ActionId {
        // Cannot fail: at most a few actions per object, and 2^32 objects do not fit in memory.
        ActionId(u32::try_from(self.actions.len()).expect("fewer than 2^32 actions"))
    }
    pub(super) fn blocked(&self) -> bool {
        !self.conflicts.is_empty()
            || self
                .diagnostics
                .iter()
                .any(|d| d.severity == Severity::Error)
    }
}

pub(super) fn cloud_label(c: &CloudUser) -> String {
    format!("{} (entra {})", c.upn(), c.id())
}

pub(super) fn ad_precondition(ad: &AdUser) -> Option<Precondition> {
    ad.usn_changed.map(Precondition::UsnChanged)
}

pub(super) fn entra_precondition(c: &CloudUser) -> Precondition {
    // From a `&str`, so the 24-digit hash is kept inline.
    Precondition::Fingerprint(Text::from(c.fingerprint().as_str()))
}
