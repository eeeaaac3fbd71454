//! Group actions: AD groups created, their `member` values edited, moved and deleted; cloud
//! groups created and their `members` edited through `$ref` writes, batched.

use super::*;
use crate::directory::AdGroupCreate;

impl<'p, A, E> Executor<'p, A, E>
where
    A: AdRead + AdWrite,
    E: EntraRead + EntraWrite,
{
    // ----- AD -----

    pub(super) async fn run_ad_group(&mut self, i: usize) {
        let a = &self.plan.actions[i];
        if let Some(why) = self.ad_not_attempted(a) {
            return self.set(i, Status::NotAttempted, Some(why));
        }
        let outcome = self.ad_group_action(a).await;
        self.record_ad(i, outcome);
    }

    async fn ad_group_action(
        &mut self,
        a: &Action,
    ) -> std::result::Result<Result<()>, DirectoryError> {
        let dn = Dn::parse(&a.target).map_err(|e| DirectoryError::Other(e.to_string()))?;
        if a.action == ActionKind::Create {
            let mut attributes = Vec::new();
            for c in &a.changes {
                let values = ldap_values(&c.after);
                if !values.is_empty() {
                    attributes.push((
                        AttrName::from(c.attribute.as_str()),
                        values.into_iter().map(AdValue::Text).collect(),
                    ));
                }
            }
            let group = self
                .ad
                .create_group(&AdGroupCreate { dn, attributes })
                .await?;
            self.own_usn.insert(group.object_guid, group.usn_changed);
            self.created_ad_groups.insert(a.id, group);
            return Ok(Ok(()));
        }
        let guid = match a.object.as_ref().and_then(ObjectId::guid) {
            Some(g) => g,
            None => match a
                .depends_on
                .iter()
                .find_map(|d| self.created_ad_groups.get(d))
            {
                Some(g) => g.object_guid,
                None => {
                    return Err(DirectoryError::Other(format!(
                        "{}: the plan names no group to change",
                        a.target
                    )));
                }
            },
        };
        let Some(current) = self.ad.read_group(&guid).await? else {
            return Ok(Err(format!("stale: {} no longer exists", a.target)));
        };
        if let Some(Precondition::UsnChanged(expected)) = a.precondition {
            let expected = self.own_usn.get(&guid).copied().unwrap_or(Some(expected));
            if current.usn_changed != expected {
                return Ok(Err(format!(
                    "stale: {} changed since the plan (uSNChanged {} is now {})",
                    a.target,
                    expected.map_or("?".into(), |v| v.to_string()),
                    current.usn_changed.map_or("?".into(), |v| v.to_string())
                )));
            }
        }
        match a.action {
            ActionKind::Delete => {
                self.ad.delete_group(&current.dn).await?;
                return Ok(Ok(()));
            }
            ActionKind::Move => {
                let new_dn = change_text(a, "distinguishedName").ok_or_else(|| {
                    DirectoryError::Other(format!("{}: move without a new DN", a.target))
                })?;
                let new_dn =
                    Dn::parse(&new_dn).map_err(|e| DirectoryError::Other(e.to_string()))?;
                self.ad.move_group(&current.dn, &new_dn).await?;
            }
            _ => {
                let mods = ad_mods(a, None)?;
                self.ad.modify_group(&current.dn, &mods).await?;
            }
        }
        let after = self.ad.read_group(&guid).await?;
        self.own_usn.insert(guid, after.and_then(|g| g.usn_changed));
        Ok(Ok(()))
    }

    // ----- Entra -----

    /// The actions of one phase, their writes sent together (the connector batches them).
    pub(super) async fn run_entra_groups(&mut self, ids: &[usize]) {
        let mut ops: Vec<EntraOp> = Vec::new();
        // Per op, the action it belongs to.
        let mut op_actions: Vec<usize> = Vec::new();
        for &i in ids {
            let a = &self.plan.actions[i];
            if let Some(why) = self.blocked_by(a) {
                self.set(i, Status::NotAttempted, Some(why));
                continue;
            }
            if let Some(down) = &self.entra_down {
                let msg = format!("not attempted: {down}");
                self.set(i, Status::NotAttempted, Some(msg));
                continue;
            }
            match self.group_ops(a).await {
                Ok(Ok(mine)) if mine.is_empty() => self.set(i, Status::Applied, None),
                Ok(Ok(mine)) => {
                    op_actions.extend(std::iter::repeat_n(i, mine.len()));
                    ops.extend(mine);
                }
                Ok(Err(stale)) => self.set(i, Status::Stale, Some(stale)),
                Err(e) => {
                    if let DirectoryError::Unavailable { .. } = &e {
                        self.entra_down = Some(e.to_string());
                    }
                    self.set(i, Status::Failed, Some(e.to_string()));
                }
            }
        }
        if ops.is_empty() {
            return;
        }
        let results = self.entra.write_groups(ops).await;
        // An action applied when every one of its writes did; the first failure is its message.
        let mut failed: HashMap<usize, String> = HashMap::new();
        let mut touched: Vec<usize> = Vec::new();
        for (&i, result) in op_actions.iter().zip(results) {
            match result {
                Ok(created) => {
                    if let Some(g) = created
                        && self.plan.actions[i].action == ActionKind::Create
                    {
                        self.created_cloud.insert(self.plan.actions[i].id, g.id);
                    }
                }
                Err(e) => {
                    if let DirectoryError::Unavailable { .. } = &e {
                        self.entra_down = Some(e.to_string());
                    }
                    failed.entry(i).or_insert_with(|| e.to_string());
                }
            }
            if touched.last() != Some(&i) {
                touched.push(i);
            }
        }
        for i in touched {
            match failed.remove(&i) {
                Some(why) => self.set(i, Status::Failed, Some(why)),
                None => {
                    self.set(i, Status::Applied, None);
                    // The fingerprint after our own write, for a later action on the group.
                    if let Some(id) = self.cloud_group_id(&self.plan.actions[i])
                        && let Ok(Some(g)) = self.entra.read_group(&id).await
                    {
                        self.own_group_fingerprint.insert(id, g.fingerprint());
                    }
                }
            }
        }
    }

    /// The group an action is on: its object id, or the group a create of this run made.
    fn cloud_group_id(&self, a: &Action) -> Option<String> {
        if a.action == ActionKind::Create {
            return self.created_cloud.get(&a.id).cloned();
        }
        a.object.as_ref().map(ObjectId::to_string).or_else(|| {
            a.depends_on
                .iter()
                .filter(|d| self.is_group_create(d))
                .find_map(|d| self.created_cloud.get(d).cloned())
        })
    }

    fn is_group_create(&self, id: &ActionId) -> bool {
        self.index.get(id).is_some_and(|&j| {
            let d = &self.plan.actions[j];
            d.kind == ObjectKind::Group && d.action == ActionKind::Create
        })
    }

    /// The Graph writes for one action, or why it is stale.
    async fn group_ops(
        &mut self,
        a: &Action,
    ) -> std::result::Result<Result<Vec<EntraOp>>, DirectoryError> {
        if a.action == ActionKind::Create {
            let mut body = Map::new();
            for c in &a.changes {
                body.insert(c.attribute.to_string(), c.after.to_json());
            }
            return Ok(Ok(vec![EntraOp::Create(body)]));
        }
        let Some(id) = self.cloud_group_id(a) else {
            return Err(DirectoryError::Other(format!(
                "{}: the plan names no group to change",
                a.target
            )));
        };
        if let Some(Precondition::Fingerprint(expected)) = &a.precondition {
            let Some(current) = self.entra.read_group(&id).await? else {
                return Ok(Err(format!("stale: {} no longer exists", a.target)));
            };
            let expected = self
                .own_group_fingerprint
                .get(&id)
                .map_or(expected.as_str(), String::as_str);
            if current.fingerprint() != expected {
                return Ok(Err(format!("stale: {} changed since the plan", a.target)));
            }
        }
        if a.action == ActionKind::Delete {
            return Ok(Ok(vec![EntraOp::Delete { id }]));
        }
        if is_license_change(a) {
            return license_op(a, id)
                .map(|op| Ok(vec![op]))
                .map_err(DirectoryError::Other);
        }
        let mut ops = Vec::new();
        for c in &a.changes {
            if c.attribute != "members" {
                return Err(DirectoryError::Other(format!(
                    "{}: idsync writes only the members of cloud groups, not {}",
                    a.target, c.attribute
                )));
            }
            for v in c.removed() {
                ops.push(EntraOp::RemoveMember {
                    id: id.clone(),
                    member: v.to_string(),
                });
            }
            for v in c.added() {
                let member = self.member_id(a, v).ok_or_else(|| {
                    DirectoryError::Other(format!(
                        "{}: member {v} is known only after a create that did not run",
                        a.target
                    ))
                })?;
                ops.push(EntraOp::AddMember {
                    id: id.clone(),
                    member,
                });
            }
        }
        Ok(Ok(ops))
    }

    /// A member value as an object id: the id itself, or — for an object this plan creates,
    /// named by its create's target — the id that create got.
    fn member_id(&self, a: &Action, value: &str) -> Option<String> {
        for dep in &a.depends_on {
            let Some(&j) = self.index.get(dep) else {
                continue;
            };
            let d = &self.plan.actions[j];
            if d.action == ActionKind::Create
                && d.directory == Side::Entra
                && d.target.eq_ignore_ascii_case(value)
            {
                return self.created_cloud.get(dep).cloned();
            }
        }
        // Not a planned create's name: an existing object's id (a UPN would be an error in
        // the plan, and Graph says so).
        Some(value.to_owned())
    }
}
