//! What the group stage needs of the user stage: each user's twin across the join, and the
//! creates this plan makes for users (a member created by the plan depends on its create).

use super::*;

const NONE: u32 = u32::MAX;

/// The user join, seen from its objects. Built only when some group manages members.
#[derive(Default)]
pub(in crate::engine::planner) struct Twins {
    joint_of_ad: Vec<u32>,
    joint_of_cloud: Vec<u32>,
    joint_of_spec: Vec<u32>,
    /// Per joint: the AD user, the cloud user and the `identities[]` entry (`NONE` for
    /// none).
    sides: Vec<(u32, u32, u32)>,
    /// Per joint with creates: the AD create (position, DN) and the Entra create
    /// (position, UPN).
    creates: HashMap<u32, Creates>,
    /// AD users this plan moves: their DN now -> (their DN after, the move's position). AD
    /// rewrites `member` values when an object moves, so group edits use the DN after.
    moves: HashMap<Dn, (Dn, u32)>,
}

#[derive(Default, Clone)]
struct Creates {
    ad: Option<(u32, Text)>,
    entra: Option<(u32, Text)>,
}

fn idx(i: Option<usize>) -> u32 {
    // Cannot fail: inputs hold fewer than 2^32 objects (they would not fit in memory).
    i.map_or(NONE, |i| u32::try_from(i).expect("fewer than 2^32 objects"))
}

fn opt(i: u32) -> Option<usize> {
    (i != NONE).then_some(i as usize)
}

impl Twins {
    pub(in crate::engine::planner) fn new(ad: usize, cloud: usize, specs: usize) -> Self {
        Twins {
            joint_of_ad: vec![NONE; ad],
            joint_of_cloud: vec![NONE; cloud],
            joint_of_spec: vec![NONE; specs],
            sides: Vec::new(),
            creates: HashMap::default(),
            moves: HashMap::default(),
        }
    }

    /// Records one joint, and the user creates among the actions the planner just took for
    /// it (`first` is the position of the first).
    pub(in crate::engine::planner) fn record(
        &mut self,
        joint: &Joint,
        actions: &[Action],
        first: usize,
    ) {
        let j = idx(Some(self.sides.len()));
        self.sides
            .push((idx(joint.ad()), idx(joint.cloud()), idx(joint.spec())));
        if let Some(a) = joint.ad() {
            self.joint_of_ad[a] = j;
        }
        if let Some(c) = joint.cloud() {
            self.joint_of_cloud[c] = j;
        }
        if let Some(s) = joint.spec() {
            self.joint_of_spec[s] = j;
        }
        for (pos, a) in actions.iter().enumerate().skip(first) {
            if a.action == ActionKind::Move
                && a.kind == ObjectKind::User
                && let Some(to) = a
                    .changes
                    .iter()
                    .find(|c| c.attribute == "distinguishedName")
                    .and_then(|c| c.after.as_str())
                && let (Ok(from), Ok(to)) = (Dn::parse(&a.target), Dn::parse(to))
            {
                self.moves.insert(from, (to, idx(Some(pos))));
            }
            if a.action != ActionKind::Create || a.kind != ObjectKind::User {
                continue;
            }
            let entry = self.creates.entry(j).or_default();
            let at = (idx(Some(pos)), a.target.clone());
            match a.directory {
                Side::Ad => entry.ad = Some(at),
                Side::Entra => entry.entra = Some(at),
            }
        }
    }

    /// How many joints were recorded.
    pub(in crate::engine::planner) fn len(&self) -> usize {
        self.sides.len()
    }

    /// The `identities[]` entry of a joint.
    pub(in crate::engine::planner) fn spec_of(&self, j: usize) -> Option<usize> {
        self.sides.get(j).and_then(|s| opt(s.2))
    }

    pub(super) fn joint_of_ad(&self, a: usize) -> Option<usize> {
        self.joint_of_ad.get(a).copied().and_then(opt)
    }
    pub(super) fn joint_of_cloud(&self, c: usize) -> Option<usize> {
        self.joint_of_cloud.get(c).copied().and_then(opt)
    }
    pub(super) fn joint_of_spec(&self, s: usize) -> Option<usize> {
        self.joint_of_spec.get(s).copied().and_then(opt)
    }

    /// The AD user of a joint, and the AD create this plan makes for it.
    pub(super) fn ad_side(&self, j: usize) -> (Option<usize>, Option<(u32, &Text)>) {
        let existing = self.sides.get(j).and_then(|s| opt(s.0));
        let created = self
            .creates
            .get(&idx(Some(j)))
            .and_then(|c| c.ad.as_ref())
            .map(|(p, t)| (*p, t));
        (existing, created)
    }

    /// The cloud user of a joint, and the Entra create this plan makes for it.
    pub(in crate::engine::planner) fn cloud_side(
        &self,
        j: usize,
    ) -> (Option<usize>, Option<(u32, &Text)>) {
        let existing = self.sides.get(j).and_then(|s| opt(s.1));
        let created = self
            .creates
            .get(&idx(Some(j)))
            .and_then(|c| c.entra.as_ref())
            .map(|(p, t)| (*p, t));
        (existing, created)
    }
}

impl Twins {
    /// Where a member DN will be once this plan's moves ran, and the move to wait for.
    pub(super) fn after_moves<'d>(&'d self, dn: &'d Dn) -> (&'d Dn, Option<u32>) {
        match self.moves.get(dn) {
            Some((to, pos)) => (to, Some(*pos)),
            None => (dn, None),
        }
    }
}
