//! Linked pairs: hard-match preparation, identifiers, converged attributes and the OU move.

use std::borrow::Cow;

use super::*;

impl<'a> Planner<'a> {
    pub(super) fn pair(
        &mut self,
        joint: &Joint,
        name: &str,
        a: usize,
        c: usize,
        batch: &mut Batch,
    ) {
        let (ad, cloud) = (&self.ad[a], &self.cloud[c]);
        // Whether the cloud user is synced, and from which anchor, decides what may be written
        // and whether the pair is valid at all; unread, nothing is planned (the `assumption`
        // note says so).
        if !PAIR_KEYS.iter().all(|&k| cloud.carries(k)) {
            return;
        }
        let spec = self.spec(joint);
        let anchor = immutable_id(ad, self.d.source_anchor);
        let mut ad_changes: Vec<Change> = Vec::new();
        let mut entra_changes: Vec<Change> = Vec::new();
        let mut pending: Vec<String> = Vec::new();

        // Hard-match preparation: the cloud user carries the AD anchor.
        if cloud.immutable_id() != Some(anchor.as_str()) {
            if cloud.sync_enabled {
                batch.conflicts.push(Conflict {
                    kind: ConflictKind::InvalidSoftMatch,
                    identity: name.to_owned(),
                    objects: vec![ad.dn.to_string(), cloud_label(cloud)],
                    message: format!(
                        "cloud user {} is synced from another AD object (onPremisesImmutableId {}), not from {} (anchor {anchor})",
                        cloud.upn(),
                        cloud.immutable_id().unwrap_or("(none)"),
                        ad.dn
                    ),
                });
                return;
            }
            if let Some(holder) = self.anchor_holder(&anchor, c) {
                batch.conflicts.push(Conflict {
                    kind: ConflictKind::DuplicateAnchor,
                    identity: name.to_owned(),
                    objects: vec![ad.dn.to_string(), cloud_label(cloud), holder.clone()],
                    message: format!(
                        "the anchor {anchor} of {} is already held by {holder} (onPremisesImmutableId is unique in the tenant, without regard to case), so Graph would refuse the link",
                        ad.dn
                    ),
                });
                return;
            }
            batch.actions.push(batch.on_entra(
                ActionKind::Link,
                name,
                cloud,
                [Change::set(
                    "onPremisesImmutableId",
                    Value::opt(cloud.immutable_id()),
                    Value::from(anchor),
                )],
            ));
        }
        self.write_back_consistency_guid(name, ad, batch);

        // Identifiers: make AD carry the cloud's UPN, mail and primary SMTP address (or the
        // reverse where `attributes:` makes AD authoritative), so Entra Connect matches.
        // Everything is borrowed until a change is recorded: a converged pair allocates nothing.
        let upn_auth = self.authority("userPrincipalName");
        let override_upn = spec.and_then(|s| s.attributes.get("userPrincipalName"));
        let routable = ad.upn().map(|u| self.d.routable_upn(u));
        let want_upn: Option<&str> = match (override_upn, upn_auth) {
            (Some(v), _) => Some(v),
            (None, Authority::Entra) => Some(cloud.upn()),
            (None, Authority::Ad) => routable.as_deref(),
        };
        let mut projected_upn = ad.upn();
        if let Some(want) = want_upn {
            if !ad.upn().is_some_and(|u| eq_ci(u, want)) {
                ad_changes.push(Change::set(
                    "userPrincipalName",
                    Value::opt(ad.upn()),
                    Value::from(want),
                ));
                projected_upn = Some(want);
            }
            if !eq_ci(cloud.upn(), want) {
                self.entra_or_pending(
                    cloud,
                    &mut entra_changes,
                    &mut pending,
                    "userPrincipalName",
                    Value::from(cloud.upn()),
                    Value::from(want),
                );
            }
        }

        let mail_auth = self.authority("mail");
        let override_mail = spec
            .and_then(|s| s.attributes.get("mail"))
            .map(String::as_str);
        let cloud_primary: Option<&str> = primary_smtp_of(cloud.proxy_addresses()).or(cloud.mail());
        let (ad_mail_read, cloud_mail_read) =
            (self.ad_reads(AttrName::MAIL), cloud.carries(AttrName::MAIL));
        let want_mail: Option<&str> = override_mail.or(match mail_auth {
            Authority::Entra => cloud.mail().or(cloud_primary),
            Authority::Ad if ad_mail_read => ad.mail(),
            Authority::Ad => None,
        });
        let mut projected_mail = ad.mail();
        if let Some(want) = want_mail {
            if ad_mail_read && !ad.mail().is_some_and(|m| eq_ci(m, want)) {
                ad_changes.push(Change::set(
                    "mail",
                    Value::opt(ad.mail()),
                    Value::from(want),
                ));
                projected_mail = Some(want);
            }
            if cloud_mail_read
                && !cloud.mail().is_some_and(|m| eq_ci(m, want))
                && mail_auth == Authority::Ad
            {
                self.entra_or_pending(
                    cloud,
                    &mut entra_changes,
                    &mut pending,
                    "mail",
                    Value::opt(cloud.mail()),
                    Value::from(want),
                );
            }
        }

        let mut changed_proxies: Option<Vec<String>> = None;
        let primary = match mail_auth {
            Authority::Entra => override_mail.or(cloud_primary),
            Authority::Ad => None,
        };
        if let Some(primary) = primary
            && self.ad_reads(AttrName::PROXY_ADDRESSES)
            && let Some(change) =
                proxy_change(ad.proxy_addresses(), primary, cloud.proxy_addresses())
        {
            changed_proxies = change
                .after
                .as_list()
                .map(|v| v.iter().map(Text::to_string).collect());
            ad_changes.push(change);
        }

        // Attributes under `attributes:` and per-identity overrides.
        let mut projected_display: Option<Cow<'_, str>> =
            ad.attr(AttrName::DISPLAY_NAME).map(Cow::Borrowed);
        let mut disables: Vec<Action> = Vec::new();
        let overrides = spec.map(|s| &s.attributes).filter(|a| !a.is_empty());
        let converged: Cow<'_, [Converged]> = match overrides {
            None => Cow::Borrowed(&self.converged),
            Some(_) => Cow::Owned(converged_attributes(self.d, spec)),
        };
        for &(m, auth) in converged.iter() {
            // A side whose read did not carry the attribute holds an unknown value: nothing is
            // taken from it, and it is only written with a value (an unknown reads as None,
            // so a clear never differs from it). Accounts are turned on and off only with
            // both sides read.
            let (ad_known, cloud_known) = (self.ad_reads(m.ad_name), cloud.carries(m.graph_name));
            if m.kind == ValueKind::AccountEnabled && !(ad_known && cloud_known) {
                continue;
            }
            let over: Option<&str> = overrides.and_then(|o| o.get(m.graph)).map(String::as_str);
            let ad_val = ad_value(ad, m);
            let cloud_val = cloud_value(cloud, m);
            let want: Option<Cow<'_, str>> = match (over, auth) {
                (Some(v), _) => Some(Cow::Borrowed(v)),
                (None, Some(Authority::Ad)) if ad_known => ad_val.clone(),
                (None, Some(Authority::Entra)) if cloud_known => cloud_val.clone(),
                _ => continue,
            };
            let disabling = m.kind == ValueKind::AccountEnabled && want.as_deref() == Some("false");
            if ad_val != want && (over.is_some() || auth == Some(Authority::Entra)) {
                let change = ad_change(ad, m, ad_val.as_deref(), want.as_deref());
                if disabling {
                    // Turning an account off is a `disable`, counted against max_deletes.
                    disables.push(batch.on_ad(ActionKind::Disable, name, ad, [change]));
                    continue;
                }
                ad_changes.push(change);
                if m.graph == "displayName" {
                    projected_display = want.clone();
                }
            }
            if cloud_val != want && (over.is_some() || auth == Some(Authority::Ad)) {
                let (before, after) = entra_values(m, cloud_val.as_deref(), want.as_deref());
                if disabling && !cloud.sync_enabled {
                    disables.push(batch.on_entra(
                        ActionKind::Disable,
                        name,
                        cloud,
                        [Change::set(m.graph, before, after)],
                    ));
                    continue;
                }
                self.entra_or_pending(
                    cloud,
                    &mut entra_changes,
                    &mut pending,
                    m.graph,
                    before,
                    after,
                );
            }
        }
        batch.actions.append(&mut disables);

        if !ad_changes.is_empty() {
            batch
                .actions
                .push(batch.on_ad(ActionKind::Update, name, ad, ad_changes));
        }
        if !entra_changes.is_empty() {
            batch
                .actions
                .push(batch.on_entra(ActionKind::Update, name, cloud, entra_changes));
        }
        if !pending.is_empty() {
            batch.note(
                NoteKind::PendingSync,
                name,
                format!(
                    "{} is synced by Entra Connect (onPremisesSyncEnabled), so idsync does not write it; {} will converge from AD at the next sync",
                    cloud.upn(),
                    pending.join(", ")
                ),
            );
        }

        // Accounts idsync created live in the provisioning OU; follow it when it moves.
        if let Some(prov) = &self.d.provision_ad
            && ad.owner_marker().is_some()
            && !ad.dn.is_within(&prov.ou)
        {
            self.plan_move(name, ad, &prov.ou, batch);
        }

        let projected = Projected {
            object: ad.dn.as_str(),
            upn: projected_upn,
            sam_account_name: ad.sam_account_name(),
            mail: projected_mail,
            proxy_addresses: match &changed_proxies {
                Some(planned) => ProxyValues::Planned(planned),
                None => ProxyValues::Read(ad.proxy_addresses()),
            },
            display_name: projected_display.as_deref(),
            mail_nickname: ad.attr(AttrName::MAIL_NICKNAME),
        };
        diagnostics::check(&projected, self.d, &mut batch.diagnostics);
    }

    pub(super) fn plan_move(&mut self, name: &str, ad: &AdUser, ou: &Dn, batch: &mut Batch) {
        let rdn = ad
            .dn
            .rdns()
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next());
        let Some(rdn) = rdn else { return };
        let new_dn = Dn::child(&rdn.attr, &rdn.value, ou);
        if self.dn_taken(&new_dn) {
            batch.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: name.to_owned(),
                objects: vec![ad.dn.to_string(), new_dn.to_string()],
                message: format!("cannot move {} into {ou}: {new_dn} already exists", ad.dn),
            });
            return;
        }
        self.planned_dns.insert(new_dn.clone());
        batch.actions.push(batch.on_ad(
            ActionKind::Move,
            name,
            ad,
            [Change::set(
                "distinguishedName",
                Value::from(ad.dn.as_str()),
                Value::from(new_dn.as_str()),
            )],
        ));
    }

    pub(super) fn authority(&self, graph: &str) -> Authority {
        self.d
            .attributes
            .get(graph)
            .copied()
            .unwrap_or(Authority::Entra)
    }

    pub(super) fn entra_or_pending(
        &self,
        cloud: &CloudUser,
        changes: &mut Vec<Change>,
        pending: &mut Vec<String>,
        attribute: &str,
        before: Value,
        after: Value,
    ) {
        if cloud.sync_enabled {
            pending.push(attribute.to_owned());
        } else {
            changes.push(Change::set(attribute, before, after));
        }
    }

    /// The anchor write-back on an existing AD user (ConsistencyGuid = objectGUID), when the
    /// source anchor is ConsistencyGuid and the user does not carry it yet.
    pub(super) fn write_back_consistency_guid(&self, name: &str, ad: &AdUser, batch: &mut Batch) {
        if !needs_consistency_guid(ad, self.d.source_anchor) {
            return;
        }
        batch.actions.push(batch.on_ad(
            ActionKind::Link,
            name,
            ad,
            [Change::set(
                "mS-DS-ConsistencyGuid",
                Value::Null,
                Value::from(ad.object_guid.to_base64()),
            )],
        ));
    }
}
