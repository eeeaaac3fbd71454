//! Linked pairs: hard-match preparation, identifiers, converged attributes and the OU move.

use std::borrow::Cow;

use super::*;

/// What a pair's steps collect before they become its actions.
#[derive(Default)]
struct PairChanges {
    ad: Vec<Change>,
    entra: Vec<Change>,
    /// Attributes Graph refuses to write on a synced user: a `pending_sync` note instead.
    pending: Vec<String>,
    /// Accounts turned off: `disable` actions, counted against max_deletes.
    disables: Vec<Action>,
}

impl PairChanges {
    /// An Entra change, or a pending one when Entra Connect masters the user.
    fn entra(&mut self, cloud: &CloudUser, attribute: &str, before: Value, after: Value) {
        if cloud.sync_enabled {
            self.pending.push(attribute.to_owned());
        } else {
            self.entra.push(Change::set(attribute, before, after));
        }
    }
}

/// How Entra Connect will pair a linked pair, given the tenant's blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// By anchor: the cloud user carries it already, or idsync's `link entra` sets it.
    HardMatch,
    /// The tenant blocks cloud object takeover through hard match: by the soft-match keys
    /// idsync prepares, with no `link entra`.
    SoftMatch,
}

impl<'a> Planner<'a> {
    /// The route Entra Connect can take to pair them; `None` (with a `match_blocked` conflict)
    /// when the tenant blocks the only one there is. With
    /// `blockCloudObjectTakeoverThroughHardMatchEnabled` on, Entra Connect refuses to take
    /// over a cloud-managed user by its anchor (InvalidHardMatch), so setting
    /// onPremisesImmutableId would turn a soft match that works into a failure
    /// (how-to-connect-install-existing-tenant, "Hard-match vs Soft-match"). Synced users are
    /// matched already.
    fn match_route(
        &self,
        name: &str,
        ad: &AdUser,
        cloud: &CloudUser,
        batch: &mut Batch,
    ) -> Option<Route> {
        let features = self.tenant.features();
        if cloud.sync_enabled || !features.block_cloud_object_takeover_through_hard_match {
            return Some(Route::HardMatch);
        }
        let anchor = immutable_id(ad, self.d.source_anchor);
        let Some(existing) = cloud.immutable_id().filter(|s| !s.is_empty()) else {
            return Some(Route::SoftMatch);
        };
        let why = if existing == anchor {
            format!(
                "{} already carries the anchor of {} as onPremisesImmutableId, so Entra Connect will try a hard match, and the tenant blocks cloud object takeover through hard match (blockCloudObjectTakeoverThroughHardMatchEnabled): it fails with InvalidHardMatch. Lift the block for the migration, or clear onPremisesImmutableId so the soft match can pair them",
                cloud.upn(),
                ad.dn
            )
        } else {
            format!(
                "{} carries another anchor ({existing}) as onPremisesImmutableId, and the tenant blocks cloud object takeover through hard match (blockCloudObjectTakeoverThroughHardMatchEnabled), so idsync cannot set this object's anchor {anchor} and a soft match would be InvalidSoftMatch",
                cloud.upn()
            )
        };
        batch.conflicts.push(Conflict {
            kind: ConflictKind::MatchBlocked,
            identity: name.to_owned(),
            objects: vec![ad.dn.to_string(), cloud_label(cloud)],
            message: why,
        });
        None
    }

    /// With hard match blocked, the pair stands only if Entra Connect will soft-match them
    /// once the plan is applied: soft match not blocked, and AD's primary SMTP address among
    /// the cloud's, or (while `softMatchOnUpnEnabled`) the UPNs equal.
    fn soft_match_blocked(
        &self,
        name: &str,
        ad: &AdUser,
        cloud: &CloudUser,
        ad_upn: Option<&str>,
        planned_proxies: &Option<Vec<String>>,
        changes: &PairChanges,
    ) -> Option<Conflict> {
        let features = self.tenant.features();
        let cloud_upn = changes
            .entra
            .iter()
            .find(|c| c.attribute == "userPrincipalName")
            .and_then(|c| c.after.as_str())
            .unwrap_or(cloud.upn());
        let ad_primary = match planned_proxies {
            Some(planned) => primary_smtp_of(planned.iter().map(String::as_str)),
            None => primary_smtp_of(ad.proxy_addresses()),
        };
        let smtp = ad_primary.is_some_and(|p| {
            cloud
                .proxy_addresses()
                .filter_map(ProxyAddress::parse)
                .any(|c| c.is_smtp() && eq_ci(c.address, p))
        });
        let upn = features.soft_match_on_upn
            && ad_upn.is_some_and(|u| eq_ci(&self.d.routable_upn(u), cloud_upn));
        let message = if features.block_soft_match {
            format!(
                "the tenant blocks both hard-match takeover (blockCloudObjectTakeoverThroughHardMatchEnabled) and soft match (blockSoftMatchEnabled), so Entra Connect cannot pair {} with {}; lift one of the blocks for the migration",
                ad.dn,
                cloud.upn()
            )
        } else if smtp || upn {
            return None;
        } else {
            format!(
                "only a hard match could pair {} with {}, and the tenant blocks cloud object takeover through hard match (blockCloudObjectTakeoverThroughHardMatchEnabled): after this plan neither the primary SMTP address nor{} the UPN would match. Lift the block for the migration, or make the soft-match keys agree",
                ad.dn,
                cloud.upn(),
                if features.soft_match_on_upn {
                    ""
                } else {
                    " (softMatchOnUpnEnabled is off)"
                }
            )
        };
        Some(Conflict {
            kind: ConflictKind::MatchBlocked,
            identity: name.to_owned(),
            objects: vec![ad.dn.to_string(), cloud_label(cloud)],
            message,
        })
    }

    pub(super) fn pair(
        &mut self,
        joint: &Joint,
        name: &str,
        a: usize,
        c: usize,
        batch: &mut Batch,
    ) {
        let (ads, clouds) = (self.ad, self.cloud);
        let (ad, cloud) = (&ads[a], &clouds[c]);
        // Whether the cloud user is synced, and from which anchor, decides what may be written
        // and whether the pair is valid at all; unread, nothing is planned (the `assumption`
        // note says so).
        if !PAIR_KEYS.iter().all(|&k| cloud.carries(k)) {
            return;
        }
        let Some(route) = self.match_route(name, ad, cloud, batch) else {
            return;
        };
        if route == Route::HardMatch && !self.hard_match(name, ad, cloud, c, batch) {
            return;
        }
        self.write_back_consistency_guid(name, ad, batch);

        // Everything is borrowed until a change is recorded: a converged pair allocates nothing.
        let spec = self.spec(joint);
        let mut changes = PairChanges::default();
        let upn = self.converge_upn(spec, ad, cloud, &mut changes);
        let (mail, proxies) = self.converge_mail(spec, ad, cloud, &mut changes);
        let display = self.converge_attributes(spec, name, ad, cloud, &mut changes, batch);
        if route == Route::SoftMatch
            && let Some(blocked) =
                self.soft_match_blocked(name, ad, cloud, upn.as_deref(), &proxies, &changes)
        {
            batch.conflicts.push(blocked);
            return;
        }
        Self::push_pair_changes(name, ad, cloud, changes, batch);
        self.follow_provisioning_ou(name, ad, batch);

        let projected = Projected {
            object: ad.dn.as_str(),
            upn: upn.as_deref(),
            sam_account_name: ad.sam_account_name(),
            mail,
            proxy_addresses: match &proxies {
                Some(planned) => ProxyValues::Planned(planned),
                None => ProxyValues::Read(ad.proxy_addresses()),
            },
            display_name: display.as_deref(),
            mail_nickname: ad.attr(AttrName::MAIL_NICKNAME),
        };
        diagnostics::check(&projected, self.d, &mut batch.diagnostics);
    }

    /// Hard-match preparation: the cloud user carries the AD anchor. False when the pair is
    /// a conflict (synced from another object, or the anchor is taken).
    fn hard_match(
        &self,
        name: &str,
        ad: &AdUser,
        cloud: &CloudUser,
        c: usize,
        batch: &mut Batch,
    ) -> bool {
        let anchor = immutable_id(ad, self.d.source_anchor);
        if cloud.immutable_id() == Some(anchor.as_str()) {
            return true;
        }
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
            return false;
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
            return false;
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
        true
    }

    /// Identifiers, first the UPN: AD carries the cloud's (or the reverse where `attributes:`
    /// makes AD authoritative), so Entra Connect matches. Returns AD's UPN after the plan.
    fn converge_upn(
        &self,
        spec: Option<&'a IdentitySpec>,
        ad: &'a AdUser,
        cloud: &'a CloudUser,
        out: &mut PairChanges,
    ) -> Option<Cow<'a, str>> {
        let override_upn = spec.and_then(|s| s.attributes.get("userPrincipalName"));
        let want: Option<Cow<'a, str>> = match (override_upn, self.authority("userPrincipalName")) {
            (Some(v), _) => Some(Cow::Borrowed(v.as_str())),
            (None, Authority::Entra) => Some(Cow::Borrowed(cloud.upn())),
            (None, Authority::Ad) => ad.upn().map(|u| self.d.routable_upn(u)),
        };
        let Some(want) = want else {
            return ad.upn().map(Cow::Borrowed);
        };
        let ad_differs = !ad.upn().is_some_and(|u| eq_ci(u, &want));
        if ad_differs {
            out.ad.push(Change::set(
                "userPrincipalName",
                Value::opt(ad.upn()),
                Value::from(&*want),
            ));
        }
        if !eq_ci(cloud.upn(), &want) {
            out.entra(
                cloud,
                "userPrincipalName",
                Value::from(cloud.upn()),
                Value::from(&*want),
            );
        }
        if ad_differs {
            Some(want)
        } else {
            ad.upn().map(Cow::Borrowed)
        }
    }

    /// Identifiers, then mail and the primary SMTP address. Returns AD's mail after the plan
    /// and its proxyAddresses when the plan changes them.
    fn converge_mail(
        &self,
        spec: Option<&'a IdentitySpec>,
        ad: &'a AdUser,
        cloud: &'a CloudUser,
        out: &mut PairChanges,
    ) -> (Option<&'a str>, Option<Vec<String>>) {
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
                out.ad.push(Change::set(
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
                out.entra(cloud, "mail", Value::opt(cloud.mail()), Value::from(want));
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
            out.ad.push(change);
        }
        (projected_mail, changed_proxies)
    }

    /// Attributes under `attributes:` and per-identity overrides. Returns AD's displayName
    /// after the plan.
    fn converge_attributes(
        &self,
        spec: Option<&'a IdentitySpec>,
        name: &str,
        ad: &'a AdUser,
        cloud: &'a CloudUser,
        out: &mut PairChanges,
        batch: &Batch,
    ) -> Option<Cow<'a, str>> {
        let mut projected_display: Option<Cow<'a, str>> =
            ad.attr(AttrName::DISPLAY_NAME).map(Cow::Borrowed);
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
                    out.disables
                        .push(batch.on_ad(ActionKind::Disable, name, ad, [change]));
                    continue;
                }
                out.ad.push(change);
                if m.graph == "displayName" {
                    projected_display = want.clone();
                }
            }
            if cloud_val != want && (over.is_some() || auth == Some(Authority::Ad)) {
                let (before, after) = entra_values(m, cloud_val.as_deref(), want.as_deref());
                if disabling && !cloud.sync_enabled {
                    out.disables.push(batch.on_entra(
                        ActionKind::Disable,
                        name,
                        cloud,
                        [Change::set(m.graph, before, after)],
                    ));
                    continue;
                }
                out.entra(cloud, m.graph, before, after);
            }
        }
        projected_display
    }

    /// The pair's disables, its updates on each side and the `pending_sync` note.
    fn push_pair_changes(
        name: &str,
        ad: &AdUser,
        cloud: &CloudUser,
        changes: PairChanges,
        batch: &mut Batch,
    ) {
        let PairChanges {
            ad: ad_changes,
            entra: entra_changes,
            pending,
            mut disables,
        } = changes;
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
    }

    /// Accounts idsync created live in the provisioning OU; follow it when it moves.
    fn follow_provisioning_ou(&mut self, name: &str, ad: &AdUser, batch: &mut Batch) {
        if let Some(prov) = &self.d.provision_ad
            && ad.owner_marker().is_some()
            && !ad.dn.is_within(&prov.ou)
        {
            self.plan_move(name, ad, &prov.ou, batch);
        }
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
