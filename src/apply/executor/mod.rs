//! The executor: runs a plan's actions in DESIGN.md's order (AD creates, Entra creates, links,
//! updates, moves, disables and deletes), re-checking each object's precondition first, and
//! reports every action's outcome. It never does more than the plan shows.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::password::random_password;
use super::verify::Checked;
use crate::desired::SourceAnchor;
use crate::directory::model::{ObjectKind, UAC_ACCOUNTDISABLE};
use crate::directory::{
    AdCreate, AdGroup, AdMod, AdRead, AdUser, AdValue, AdWrite, CloudUser, DirectoryError, Dn,
    EntraOp, EntraRead, EntraWrite, Guid, Secret, TakenQuery,
};
use crate::engine::anchor::immutable_id;
use crate::names::AttrName;
use crate::plan::{
    Action, ActionId, ActionKind, KNOWN_AFTER_APPLY, ObjectId, Plan, Precondition, Side, Text,
    Value as PlanValue,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Applied,
    Failed,
    /// The object changed since the plan: skipped.
    Stale,
    /// Not tried: a dependency did not apply, or the directory became unreachable.
    NotAttempted,
    /// A saved action that a fresh plan does not contain identically: never tried.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutcome {
    pub id: ActionId,
    pub action: ActionKind,
    pub directory: Side,
    pub identity: Text,
    pub target: Text,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What apply did, action by action, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub outcomes: Vec<ActionOutcome>,
}

impl ApplyReport {
    pub fn count(&self, status: Status) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }
    /// Every action applied.
    pub fn succeeded(&self) -> bool {
        self.outcomes.iter().all(|o| o.status == Status::Applied)
    }
}

/// The order of DESIGN.md: AD creates, then what reads their anchors back; groups after the
/// users they may name as members, and before the users they may lose are deleted.
fn phase(a: &Action) -> u8 {
    match (a.kind, a.action, a.directory) {
        (ObjectKind::User, ActionKind::Create, Side::Ad) => 0,
        (ObjectKind::User, ActionKind::Create, Side::Entra) => 1,
        (ObjectKind::User, ActionKind::Link, _) => 2,
        (ObjectKind::User, ActionKind::Update, _) => 3,
        (ObjectKind::User, ActionKind::Move, _) => 4,
        (_, ActionKind::Create, Side::Ad) => 5,
        (_, ActionKind::Create, Side::Entra) => 6,
        (_, ActionKind::Link | ActionKind::Update | ActionKind::Move, _) => 7,
        (ObjectKind::User, ActionKind::Disable | ActionKind::Delete, _) => 8,
        (_, ActionKind::Disable | ActionKind::Delete, _) => 9,
    }
}

/// The last phase.
const PHASES: u8 = 9;

type Result<T> = std::result::Result<T, String>;

struct Executor<'p, A, E> {
    plan: &'p Plan,
    anchor: SourceAnchor,
    ad: &'p mut A,
    entra: &'p mut E,
    status: Vec<Option<(Status, Option<String>)>>,
    index: HashMap<ActionId, usize>,
    /// AD users created by create actions, by action id.
    created_ad: HashMap<ActionId, AdUser>,
    /// AD groups created by create actions, by action id.
    created_ad_groups: HashMap<ActionId, AdGroup>,
    /// Object ids of the cloud users and groups created by create actions, by action id.
    created_cloud: HashMap<ActionId, String>,
    /// Fingerprints of cloud groups after our own writes.
    own_group_fingerprint: HashMap<String, String>,
    /// uSNChanged seen after our own writes, so a second action on one object is not stale.
    own_usn: HashMap<Guid, Option<u64>>,
    /// Fingerprints after our own writes to cloud users.
    own_fingerprint: HashMap<String, String>,
    ad_down: Option<String>,
    entra_down: Option<String>,
}

/// Runs the plan. Every action gets an outcome; nothing outside the plan is written.
pub async fn execute<A, E>(
    plan: &Plan,
    anchor: SourceAnchor,
    ad: &mut A,
    entra: &mut E,
) -> ApplyReport
where
    A: AdRead + AdWrite,
    E: EntraRead + EntraWrite,
{
    run(plan, vec![None; plan.actions.len()], anchor, ad, entra).await
}

/// Runs a saved plan checked against a fresh one ([`super::check`]): the actions without a
/// verdict, as the fresh plan has them; the others are reported with their verdict.
pub async fn execute_checked<A, E>(
    checked: &Checked,
    anchor: SourceAnchor,
    ad: &mut A,
    entra: &mut E,
) -> ApplyReport
where
    A: AdRead + AdWrite,
    E: EntraRead + EntraWrite,
{
    let preset = checked
        .verdicts
        .iter()
        .map(|v| v.clone().map(|(status, why)| (status, Some(why))))
        .collect();
    run(&checked.plan, preset, anchor, ad, entra).await
}

async fn run<A, E>(
    plan: &Plan,
    status: Vec<Option<(Status, Option<String>)>>,
    anchor: SourceAnchor,
    ad: &mut A,
    entra: &mut E,
) -> ApplyReport
where
    A: AdRead + AdWrite,
    E: EntraRead + EntraWrite,
{
    let mut x = Executor {
        plan,
        anchor,
        ad,
        entra,
        status,
        index: plan
            .actions
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id, i))
            .collect(),
        created_ad: HashMap::new(),
        created_ad_groups: HashMap::new(),
        created_cloud: HashMap::new(),
        own_group_fingerprint: HashMap::new(),
        own_usn: HashMap::new(),
        own_fingerprint: HashMap::new(),
        ad_down: None,
        entra_down: None,
    };
    // Users and groups have write capabilities; an action of any other kind (a plan from a
    // later idsync) fails here rather than being sent as something else.
    for (i, a) in plan.actions.iter().enumerate() {
        if a.kind == ObjectKind::Contact && x.status[i].is_none() {
            let msg = format!("this idsync cannot write {} objects", a.kind);
            x.set(i, Status::Failed, Some(msg));
        }
    }
    for p in 0..=PHASES {
        let ids: Vec<usize> = (0..plan.actions.len())
            .filter(|&i| phase(&plan.actions[i]) == p)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let (ad_ids, entra_ids): (Vec<usize>, Vec<usize>) = ids
            .into_iter()
            .partition(|&i| plan.actions[i].directory == Side::Ad);
        // Actions decided before the run (refused, stale) are not run.
        let entra_ids: Vec<usize> = entra_ids
            .into_iter()
            .filter(|&i| x.status[i].is_none())
            .collect();
        if p == 0 || p == 5 {
            x.check_ad_names_free(&ad_ids).await;
        }
        let groups = p >= 5 && p != 8;
        for i in ad_ids.iter().copied() {
            if x.status[i].is_none() {
                if groups {
                    x.run_ad_group(i).await;
                } else {
                    x.run_ad(i).await;
                }
            }
        }
        if groups {
            x.run_entra_groups(&entra_ids).await;
        } else {
            x.run_entra(&entra_ids).await;
        }
        x.flush(&ad_ids, &entra_ids).await;
    }
    ApplyReport {
        outcomes: plan
            .actions
            .iter()
            .zip(x.status)
            .map(|(a, s)| {
                let (status, message) =
                    s.unwrap_or((Status::NotAttempted, Some("not reached".into())));
                ActionOutcome {
                    id: a.id,
                    action: a.action,
                    directory: a.directory,
                    identity: Text::from(&*a.identity),
                    target: a.target.clone(),
                    status,
                    message,
                }
            })
            .collect(),
    }
}

impl<'p, A, E> Executor<'p, A, E>
where
    A: AdRead + AdWrite,
    E: EntraRead + EntraWrite,
{
    fn set(&mut self, i: usize, status: Status, message: Option<String>) {
        self.status[i] = Some((status, message));
    }

    /// `Some(reason)` when a dependency did not apply.
    fn blocked_by(&self, a: &Action) -> Option<String> {
        for dep in &a.depends_on {
            let status = self
                .index
                .get(dep)
                .and_then(|&j| self.status[j].as_ref())
                .map(|(s, _)| *s);
            match status {
                Some(Status::Applied) => {}
                Some(Status::Refused) => {
                    return Some(format!("depends on {dep}, which was refused"));
                }
                _ => return Some(format!("depends on {dep}, which did not apply")),
            }
        }
        None
    }

    fn created_by_dependency(&self, a: &Action) -> Option<&AdUser> {
        a.depends_on.iter().find_map(|d| self.created_ad.get(d))
    }

    // ----- AD -----

    async fn run_ad(&mut self, i: usize) {
        let a = &self.plan.actions[i];
        if let Some(why) = self.ad_not_attempted(a) {
            return self.set(i, Status::NotAttempted, Some(why));
        }
        let outcome = self.ad_action(a).await;
        self.record_ad(i, outcome);
    }

    /// An AD action's outcome as its status; an unreachable directory stops the AD side.
    fn record_ad(&mut self, i: usize, outcome: std::result::Result<Result<()>, DirectoryError>) {
        match outcome {
            Ok(Ok(())) => self.set(i, Status::Applied, None),
            Ok(Err(stale)) => self.set(i, Status::Stale, Some(stale)),
            Err(e) => {
                if let DirectoryError::Unavailable { .. } = &e {
                    self.ad_down = Some(e.to_string());
                }
                self.set(i, Status::Failed, Some(e.to_string()));
            }
        }
    }

    /// Why an AD action is not attempted: a dependency did not apply, or AD is down.
    fn ad_not_attempted(&self, a: &Action) -> Option<String> {
        self.blocked_by(a).or_else(|| {
            self.ad_down
                .as_ref()
                .map(|down| format!("not attempted: {down}"))
        })
    }

    /// `Ok(Err(why))`: stale, skipped.
    async fn ad_action(&mut self, a: &Action) -> std::result::Result<Result<()>, DirectoryError> {
        let dn = Dn::parse(&a.target).map_err(|e| DirectoryError::Other(e.to_string()))?;
        if a.action == ActionKind::Create {
            return self.ad_create(a, dn).await;
        }
        // The object: from the plan, or the account created earlier in this run.
        let guid = match a.object.as_ref().and_then(ObjectId::guid) {
            Some(g) => g,
            None => match self.created_by_dependency(a) {
                Some(u) => u.object_guid,
                None => {
                    return Err(DirectoryError::Other(format!(
                        "{}: the plan names no object to change",
                        a.target
                    )));
                }
            },
        };
        let current = match self.ad.read_user(&guid).await? {
            Some(u) => u,
            None => return Ok(Err(format!("stale: {} no longer exists", a.target))),
        };
        if let Some(Precondition::UsnChanged(expected)) = a.precondition {
            let expected: Option<u64> = match self.own_usn.get(&guid) {
                Some(own) => *own,
                None => Some(expected),
            };
            if current.usn_changed != expected {
                return Ok(Err(format!(
                    "stale: {} changed since the plan (uSNChanged {} is now {})",
                    a.target,
                    expected.map_or("?".into(), |v| v.to_string()),
                    current.usn_changed.map_or("?".into(), |v| v.to_string())
                )));
            }
        }
        let dn = current.dn.clone();
        match a.action {
            ActionKind::Move => {
                let new_dn = a
                    .changes
                    .iter()
                    .find(|c| c.attribute == "distinguishedName")
                    .and_then(|c| c.after.as_str())
                    .ok_or_else(|| {
                        DirectoryError::Other(format!("{}: move without a new DN", a.target))
                    })?;
                let new_dn = Dn::parse(new_dn).map_err(|e| DirectoryError::Other(e.to_string()))?;
                self.ad.move_user(&dn, &new_dn).await?;
            }
            ActionKind::Delete => {
                self.ad.delete_user(&dn).await?;
                return Ok(Ok(()));
            }
            _ => {
                let created = self.created_by_dependency(a).cloned();
                let mods = ad_mods(a, created.as_ref())?;
                self.ad.modify_user(&dn, &mods).await?;
            }
        }
        let after = self.ad.read_user(&guid).await?;
        self.own_usn.insert(guid, after.and_then(|u| u.usn_changed));
        Ok(Ok(()))
    }

    /// The `absent` precondition of every AD create, checked in one domain-wide query: a create
    /// whose UPN or sAMAccountName someone took since the plan is stale.
    async fn check_ad_names_free(&mut self, ids: &[usize]) {
        let ids: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&i| self.status[i].is_none())
            .collect();
        let creates: Vec<&Action> = ids.iter().map(|&i| &self.plan.actions[i]).collect();
        match taken_names(self.ad, &creates).await {
            Ok(taken) => {
                for (&i, why) in ids.iter().zip(taken) {
                    if let Some(why) = why {
                        self.set(i, Status::Stale, Some(format!("stale: {why}")));
                    }
                }
            }
            Err(e) => {
                let msg = format!("could not check that the new names are free: {e}");
                if let DirectoryError::Unavailable { .. } = e {
                    self.ad_down = Some(msg.clone());
                }
                for &i in &ids {
                    self.set(i, Status::Failed, Some(msg.clone()));
                }
            }
        }
    }

    async fn ad_create(
        &mut self,
        a: &Action,
        dn: Dn,
    ) -> std::result::Result<Result<()>, DirectoryError> {
        let text = |name: &str| change_text(a, name);
        let uac: u32 = text("userAccountControl")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x200);
        let mut attributes = Vec::new();
        for c in &a.changes {
            if c.attribute == "userAccountControl" {
                continue;
            }
            let values = ldap_values(&c.after);
            if !values.is_empty() {
                attributes.push((
                    AttrName::from(c.attribute.as_str()),
                    values.into_iter().map(AdValue::Text).collect(),
                ));
            }
        }
        let create = AdCreate {
            dn,
            attributes,
            password: (uac & UAC_ACCOUNTDISABLE == 0).then(|| Secret::new(random_password())),
            user_account_control: uac,
        };
        let user = self.ad.create_user(&create).await?;
        self.own_usn.insert(user.object_guid, user.usn_changed);
        self.created_ad.insert(a.id, user);
        Ok(Ok(()))
    }

    // ----- Entra -----

    async fn run_entra(&mut self, ids: &[usize]) {
        let mut ready: Vec<usize> = Vec::new();
        for &i in ids {
            let a = &self.plan.actions[i];
            if let Some(why) = self.blocked_by(a) {
                self.set(i, Status::NotAttempted, Some(why));
            } else if let Some(down) = &self.entra_down {
                let msg = format!("not attempted: {down}");
                self.set(i, Status::NotAttempted, Some(msg));
            } else {
                ready.push(i);
            }
        }
        if ready.is_empty() {
            return;
        }

        // Preconditions, read in one go.
        let object_ids: Vec<String> = ready
            .iter()
            .filter_map(|&i| {
                self.plan.actions[i]
                    .object
                    .as_ref()
                    .map(ObjectId::to_string)
            })
            .collect();
        let current: HashMap<String, Option<CloudUser>> =
            match self.entra.read_users_by_id(&object_ids).await {
                Ok(users) => object_ids.iter().cloned().zip(users).collect(),
                Err(e) => {
                    let msg = e.to_string();
                    if let DirectoryError::Unavailable { .. } = e {
                        self.entra_down = Some(msg.clone());
                    }
                    for i in ready {
                        self.set(
                            i,
                            Status::Failed,
                            Some(format!("could not re-read the object: {msg}")),
                        );
                    }
                    return;
                }
            };
        let mut ops: Vec<EntraOp> = Vec::new();
        let mut op_actions: Vec<usize> = Vec::new();
        for i in ready {
            let a = &self.plan.actions[i];
            match self.entra_op(a, &current).await {
                Ok(Ok(op)) => {
                    ops.push(op);
                    op_actions.push(i);
                }
                Ok(Err(stale)) => self.set(i, Status::Stale, Some(stale)),
                Err(e) => self.set(i, Status::Failed, Some(e)),
            }
        }
        if ops.is_empty() {
            return;
        }
        let results = self.entra.write_users(ops).await;
        let mut touched: Vec<String> = Vec::new();
        for (i, result) in op_actions.into_iter().zip(results) {
            match result {
                Ok(created) => {
                    if let Some(u) = created
                        && self.plan.actions[i].action == ActionKind::Create
                    {
                        self.created_cloud
                            .insert(self.plan.actions[i].id, u.id().to_owned());
                    }
                    if let Some(id) = &self.plan.actions[i].object {
                        touched.push(id.to_string());
                    }
                    self.set(i, Status::Applied, None);
                }
                Err(e) => {
                    if let DirectoryError::Unavailable { .. } = &e {
                        self.entra_down = Some(e.to_string());
                    }
                    self.set(i, Status::Failed, Some(e.to_string()));
                }
            }
        }
        // Fingerprints after our own writes, for later actions on the same users.
        if !touched.is_empty()
            && let Ok(users) = self.entra.read_users_by_id(&touched).await
        {
            for (id, u) in touched.into_iter().zip(users) {
                if let Some(u) = u {
                    self.own_fingerprint.insert(id, u.fingerprint());
                }
            }
        }
    }

    /// Builds the Graph write for one action, or says why it is stale.
    async fn entra_op(
        &mut self,
        a: &Action,
        current: &HashMap<String, Option<CloudUser>>,
    ) -> Result<Result<EntraOp>> {
        if a.action == ActionKind::Create {
            if let Ok(Some(existing)) = self.entra.read_user(&a.target).await {
                return Ok(Err(format!(
                    "stale: {} now exists (entra {})",
                    a.target,
                    existing.id()
                )));
            }
            let mut body = Map::new();
            for c in &a.changes {
                body.insert(c.attribute.to_string(), c.after.to_json());
            }
            body.insert(
                "passwordProfile".into(),
                serde_json::json!({ "forceChangePasswordNextSignIn": true, "password": random_password() }),
            );
            return Ok(Ok(EntraOp::Create(body)));
        }
        // A license for a user this plan created: its id is the create's answer.
        if a.object.is_none() && is_license_change(a) {
            let id = a
                .depends_on
                .iter()
                .find_map(|d| self.created_cloud.get(d).cloned())
                .ok_or_else(|| format!("{}: the user's create did not run", a.target))?;
            return license_op(a, id).map(Ok);
        }
        let id = a
            .object
            .as_ref()
            .map(ObjectId::to_string)
            .ok_or_else(|| format!("{}: the plan names no object id", a.target))?;
        let user = match current.get(&id) {
            Some(Some(u)) => u,
            _ => return Ok(Err(format!("stale: {} no longer exists", a.target))),
        };
        if let Some(Precondition::Fingerprint(expected)) = &a.precondition {
            let expected = self
                .own_fingerprint
                .get(&id)
                .map_or(expected.as_str(), String::as_str);
            if user.fingerprint() != expected {
                return Ok(Err(format!("stale: {} changed since the plan", a.target)));
            }
        }
        if a.action == ActionKind::Delete {
            return Ok(Ok(EntraOp::Delete { id }));
        }
        if is_license_change(a) {
            return license_op(a, id).map(Ok);
        }
        let mut patch = Map::new();
        for c in &a.changes {
            let value = if c.after.as_str() == Some(KNOWN_AFTER_APPLY) {
                let created = self.created_by_dependency(a).ok_or_else(|| {
                    format!(
                        "{}: {} is known only after a create that did not run",
                        a.target, c.attribute
                    )
                })?;
                Value::String(immutable_id(created, self.anchor))
            } else {
                c.after.to_json()
            };
            patch.insert(c.attribute.to_string(), value);
        }
        Ok(Ok(EntraOp::Update { id, patch }))
    }

    /// Makes a phase's writes durable; if that fails, they did not happen.
    async fn flush(&mut self, ad_ids: &[usize], entra_ids: &[usize]) {
        let applied = |s: &Vec<Option<(Status, Option<String>)>>, ids: &[usize]| {
            ids.iter()
                .any(|&i| matches!(s[i], Some((Status::Applied, _))))
        };
        if applied(&self.status, ad_ids)
            && let Err(e) = self.ad.flush().await
        {
            self.unsave(ad_ids, &e);
        }
        if applied(&self.status, entra_ids)
            && let Err(e) = self.entra.flush().await
        {
            self.unsave(entra_ids, &e);
        }
    }

    fn unsave(&mut self, ids: &[usize], e: &DirectoryError) {
        for &i in ids {
            if matches!(self.status[i], Some((Status::Applied, _))) {
                self.set(i, Status::Failed, Some(format!("could not be saved: {e}")));
            }
        }
    }
}

/// For each AD create, why its UPN or sAMAccountName is taken now (`None`: both free), from
/// one domain-wide query.
pub(super) async fn taken_names<A: AdRead>(
    ad: &mut A,
    creates: &[&Action],
) -> std::result::Result<Vec<Option<String>>, DirectoryError> {
    let mut query = TakenQuery::default();
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, a) in creates.iter().enumerate() {
        if let Some(v) = change_text(a, "userPrincipalName") {
            owner.insert(crate::names::fold(&v), i);
            query.upns.push(v);
        }
        if let Some(v) = change_text(a, "sAMAccountName") {
            owner.insert(crate::names::fold(&v), i);
            query.sam_account_names.push(v);
        }
    }
    let mut found: Vec<Vec<String>> = vec![Vec::new(); creates.len()];
    if !owner.is_empty() {
        for t in ad.find_taken(&query).await? {
            if let Some(&i) = owner.get(&crate::names::fold(&t.value)) {
                found[i].push(format!(
                    "{} {} is now taken by {}",
                    t.attribute, t.value, t.dn
                ));
            }
        }
    }
    Ok(found
        .into_iter()
        .map(|why| (!why.is_empty()).then(|| why.join("; ")))
        .collect())
}

/// An update of `assignedLicenses` (written with `assignLicense`, never a PATCH).
pub(super) fn is_license_change(a: &Action) -> bool {
    a.changes.iter().any(|c| c.attribute == "assignedLicenses")
}

/// The `assignLicense` write of a license change: the ids are in the plan's values
/// (`ENTERPRISEPACK (6fd2c87f-…)`, `EMS (…) without INTUNE_A (…)`).
pub(super) fn license_op(a: &Action, id: String) -> Result<EntraOp> {
    let mut add = Vec::new();
    let mut remove = Vec::new();
    for c in a
        .changes
        .iter()
        .filter(|c| c.attribute == "assignedLicenses")
    {
        for v in c.added() {
            add.push(
                crate::engine::parse_license_value(v)
                    .ok_or_else(|| format!("{}: `{v}` names no SKU id", a.target))?,
            );
        }
        for v in c.removed() {
            remove.push(
                crate::engine::parse_license_value(v)
                    .ok_or_else(|| format!("{}: `{v}` names no SKU id", a.target))?
                    .0,
            );
        }
    }
    Ok(EntraOp::AssignLicense { id, add, remove })
}

/// The `after` text of one attribute's change.
fn change_text(a: &Action, attribute: &str) -> Option<String> {
    a.changes
        .iter()
        .find(|c| c.attribute == attribute)
        .and_then(|c| c.after.as_str())
        .map(str::to_owned)
}

/// The `after` of a change as LDAP text values.
fn ldap_values(v: &PlanValue) -> Vec<String> {
    match v {
        PlanValue::Bool(b) => vec![b.to_string()],
        other => other.texts().iter().map(Text::to_string).collect(),
    }
}

/// The modifications for an update, link or disable: per value for multi-valued attributes,
/// replace for single-valued ones, bytes for anchors.
fn ad_mods(
    a: &Action,
    created: Option<&AdUser>,
) -> std::result::Result<Vec<AdMod>, DirectoryError> {
    let mut mods = Vec::new();
    for c in &a.changes {
        let name = AttrName::from(c.attribute.as_str());
        if c.is_edit() {
            let values = |v: &[Text]| v.iter().map(|s| AdValue::Text(s.to_string())).collect();
            if !c.removed().is_empty() {
                mods.push(AdMod::Delete(name, values(c.removed())));
            }
            if !c.added().is_empty() {
                mods.push(AdMod::Add(name, values(c.added())));
            }
            continue;
        }
        if c.attribute
            .as_str()
            .eq_ignore_ascii_case("mS-DS-ConsistencyGuid")
        {
            let bytes = match (c.after.as_str(), created) {
                (Some(KNOWN_AFTER_APPLY), Some(u)) => u.object_guid.0.to_vec(),
                (Some(KNOWN_AFTER_APPLY), None) => {
                    return Err(DirectoryError::Other(format!(
                        "{}: the anchor is known only after a create that did not run",
                        a.target
                    )));
                }
                (Some(b64), _) => B64.decode(b64).map_err(|e| {
                    DirectoryError::Other(format!("{}: bad anchor in the plan: {e}", a.target))
                })?,
                (None, _) => Vec::new(),
            };
            mods.push(AdMod::Replace(
                name,
                if bytes.is_empty() {
                    vec![]
                } else {
                    vec![AdValue::Binary(bytes)]
                },
            ));
            continue;
        }
        mods.push(AdMod::Replace(
            name,
            ldap_values(&c.after)
                .into_iter()
                .map(AdValue::Text)
                .collect(),
        ));
    }
    Ok(mods)
}

mod groups;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::snapshot::{AdSnapshot, EntraSnapshot};

    #[tokio::test]
    async fn actions_of_kinds_without_write_capabilities_fail_unsent() {
        let dir = tempfile::tempdir().unwrap();
        let ldif = dir.path().join("ad.ldif");
        let json = dir.path().join("entra.json");
        std::fs::write(&ldif, "").unwrap();
        std::fs::write(&json, r#"{"value": []}"#).unwrap();
        let mut ad = AdSnapshot::open(&ldif).unwrap();
        let mut entra = EntraSnapshot::open(&json).unwrap();
        let group = |id: &str, directory, target: &str| Action {
            id: id.parse().unwrap(),
            action: ActionKind::Create,
            directory,
            kind: ObjectKind::Contact,
            identity: "sales".into(),
            target: Text::from(target),
            object: None,
            changes: Box::new([]),
            depends_on: Box::new([]),
            precondition: None,
            matched: None,
        };
        let plan = Plan {
            actions: vec![
                group("a1", Side::Ad, "CN=Sales,DC=example,DC=com"),
                group("a2", Side::Entra, "sales"),
            ],
            ..Plan::default()
        };
        let report = execute(&plan, SourceAnchor::default(), &mut ad, &mut entra).await;
        for o in &report.outcomes {
            assert_eq!(o.status, Status::Failed, "{o:?}");
            assert_eq!(
                o.message.as_deref(),
                Some("this idsync cannot write contact objects")
            );
        }
        assert_eq!(std::fs::read_to_string(&ldif).unwrap(), "");
        assert_eq!(std::fs::read_to_string(&json).unwrap(), r#"{"value": []}"#);
    }
}
