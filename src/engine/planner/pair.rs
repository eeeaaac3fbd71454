//! Linked pairs: hard-match preparation, identifiers, converged attributes and the OU move.

use std::borrow::Cow;

use super::*;

/// What a pair's steps collect before they become its actions.
#[derive(Default)]
struct PairChanges {
    ad: Vec<Change>,
    entra: Vec<Change>,
    /// What Entra Connect's next sync makes of a synced user's differing attributes (Graph
    /// refuses writes to them): the phrases of the `pending_sync` note.
    pending: Vec<String>,
    /// Accounts turned off: `disable` actions, counted against max_deletes.
    disables: Vec<Action>,
    /// What idsync leaves to Entra Connect on a cloud-managed pair: `pending_sync` notes.
    notes: Vec<String>,
}

impl PairChanges {
    /// An Entra change, or a pending one when Entra Connect masters the user.
    fn entra(&mut self, cloud: &CloudUser, attribute: &str, before: Value, after: Value) {
        if cloud.sync_enabled {
            self.pending
                .push(format!("{attribute} will become {}", shown(&after)));
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

/// A value as a note shows it: text bare, nothing as `(empty)`.
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "(empty)".into(),
        Value::Text(t) => t.to_string(),
        other => other.to_string(),
    }
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
        let smtp = ad_primary.is_some_and(|p| join::cloud_proxy_smtp(cloud).any(|c| eq_ci(c, p)));
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
        if self.resiliency_twin(name, ad, cloud, batch) {
            return;
        }

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
        for c in &changes.entra {
            if let ("userPrincipalName" | "mail", Some(v)) =
                (c.attribute.as_str(), c.after.as_str())
                && let Some(d) =
                    unverified_domain(self.tenant, &cloud_label(cloud), c.attribute.as_str(), v)
            {
                batch.diagnostics.push(d);
            }
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
        batch
            .actions
            .push(batch.link_entra(name, cloud, Value::from(anchor)));
        true
    }

    /// A cloud user whose `onPremisesProvisioningErrors` holds a `PropertyConflict` on its
    /// UPN or proxyAddresses is a duplicate-attribute-resiliency twin: Entra quarantined the
    /// duplicate and gave it a placeholder (`<prefix>+NNNN@<initial>.onmicrosoft.com`), so its
    /// UPN and addresses are not the ones to prepare AD with. A conflict: the real holder of
    /// the value must be resolved first (Entra then restores the value by itself).
    fn resiliency_twin(
        &self,
        name: &str,
        ad: &AdUser,
        cloud: &CloudUser,
        batch: &mut Batch,
    ) -> bool {
        let quarantined: Vec<_> = cloud
            .provisioning_errors()
            .into_iter()
            .filter(|e| {
                eq_ci(&e.category, "PropertyConflict")
                    && (eq_ci(&e.property_causing_error, "UserPrincipalName")
                        || eq_ci(&e.property_causing_error, "ProxyAddresses"))
            })
            .collect();
        if quarantined.is_empty() {
            return false;
        }
        let mut objects = vec![ad.dn.to_string(), cloud_label(cloud)];
        let mut what = Vec::new();
        for e in &quarantined {
            // The holder, when it is a user idsync read (by UPN; an address may be a group's).
            let holder = crate::names::Upn::new(e.value.as_str());
            let holder = self
                .cloud_index
                .find(&crate::desired::EntraSelector::Upn(holder))
                .into_iter()
                .map(|i| &self.cloud[i])
                .find(|h| h.id() != cloud.id());
            let held_by = match holder {
                Some(h) => {
                    objects.push(cloud_label(h));
                    format!("held by {}", cloud_label(h))
                }
                None => "held by another object of the tenant".to_owned(),
            };
            what.push(format!(
                "{} {} ({held_by})",
                e.property_causing_error, e.value
            ));
        }
        let placeholder = if is_placeholder_upn(cloud.upn()) {
            format!(
                ", and its UPN {} is the placeholder Entra assigned",
                cloud.upn()
            )
        } else {
            String::new()
        };
        batch.conflicts.push(Conflict {
            kind: ConflictKind::QuarantinedDuplicate,
            identity: name.to_owned(),
            objects,
            message: format!(
                "cloud user {} is a duplicate attribute resiliency twin: Entra Connect quarantined its {}{placeholder}; idsync copies none of its identifiers into AD. Resolve the real holder of the value (remove or change the duplicate), and Entra restores the quarantined value within the hour",
                cloud.upn(),
                what.join(", ")
            ),
        });
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
        if cloud.sync_enabled {
            return self.synced_upn(override_upn.map(String::as_str), ad, cloud, out);
        }
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

    /// The UPN of a synced pair. Entra Connect masters it from AD, so the cloud's is never
    /// copied into AD (that would revert an on-premises rename Entra Connect carries to the
    /// cloud); an identity's override is the admin's word and is written where the user is
    /// mastered, in AD. The difference is a `pending_sync` phrase saying what the cloud will
    /// become.
    fn synced_upn(
        &self,
        override_upn: Option<&'a str>,
        ad: &'a AdUser,
        cloud: &'a CloudUser,
        out: &mut PairChanges,
    ) -> Option<Cow<'a, str>> {
        let mut projected = ad.upn().map(Cow::Borrowed);
        if let Some(v) = override_upn
            && !ad.upn().is_some_and(|u| eq_ci(u, v))
        {
            out.ad.push(Change::set(
                "userPrincipalName",
                Value::opt(ad.upn()),
                Value::from(v),
            ));
            projected = Some(Cow::Borrowed(v));
        }
        if let Some(upn) = &projected {
            let want = self.d.routable_upn(upn);
            if !eq_ci(cloud.upn(), &want)
                && let Some(phrase) = self.synced_upn_outcome(cloud, &want)
            {
                out.pending.push(phrase);
            }
        }
        projected
    }

    /// What Entra Connect makes of a synced user's cloud UPN when AD's (routable) is `want`;
    /// `None` when the cloud already holds what it will get.
    fn synced_upn_outcome(&self, cloud: &CloudUser, want: &str) -> Option<String> {
        let suffix = crate::names::upn_suffix(want).unwrap_or("");
        if !self.tenant.is_verified(suffix) {
            // plan-connect-userprincipalname: a suffix the tenant has not verified gives the
            // cloud user <MailNickName>@<initial domain> (MOERA) instead.
            let moera = match (cloud.mail_nickname(), self.tenant.initial_domain()) {
                (Some(nick), Some(initial)) => format!("{nick}@{initial}"),
                _ => "<mailNickname>@<initial domain>".to_owned(),
            };
            if eq_ci(cloud.upn(), &moera) {
                return None;
            }
            return Some(format!(
                "userPrincipalName will become {moera}, not {want}: {suffix} is not a verified domain of the tenant, so Entra gives the user <mailNickname>@<initial domain>"
            ));
        }
        if !self.tenant.features().synchronize_upn_for_managed_users {
            // how-to-connect-syncservice-features ("Synchronize userPrincipalName updates"):
            // without the feature, an on-premises UPN change reaches the cloud only for a
            // federated or an unlicensed managed user.
            let state = if self.tenant.sync.known().is_some() {
                "is off"
            } else {
                "is assumed off (the tenant's sync features were not read)"
            };
            return Some(format!(
                "userPrincipalName stays {} rather than becoming {want} if the user is managed (password hash sync or pass-through authentication) and licensed: Entra Connect does not carry an on-premises UPN change to such users while synchronizeUpnForManagedUsersEnabled {state} (a federated or unlicensed user's UPN does follow); turn the feature on to carry it",
                cloud.upn()
            ));
        }
        Some(format!("userPrincipalName will become {want}"))
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
        if cloud.sync_enabled {
            return self.synced_mail(override_mail, ad, cloud, out);
        }
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
        let primary = match self.proxy_authority() {
            Authority::Entra => override_mail.or(cloud_primary),
            Authority::Ad => {
                self.addresses_from_ad(ad, cloud, out);
                None
            }
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

    /// Mail and the primary SMTP address of a synced pair: mastered in AD like the UPN
    /// (`synced_upn`), so only an identity's override is written, in AD; the cloud's list is
    /// never copied (a synced user's addresses come from AD, plus those Exchange Online adds).
    fn synced_mail(
        &self,
        override_mail: Option<&'a str>,
        ad: &'a AdUser,
        cloud: &'a CloudUser,
        out: &mut PairChanges,
    ) -> (Option<&'a str>, Option<Vec<String>>) {
        let ad_mail_read = self.ad_reads(AttrName::MAIL);
        let mut projected = ad.mail();
        if let Some(v) = override_mail
            && ad_mail_read
            && !ad.mail().is_some_and(|m| eq_ci(m, v))
        {
            out.ad
                .push(Change::set("mail", Value::opt(ad.mail()), Value::from(v)));
            projected = Some(v);
        }
        if ad_mail_read
            && cloud.carries(AttrName::MAIL)
            && let Some(m) = projected
            && !cloud.mail().is_some_and(|c| eq_ci(c, m))
        {
            out.pending.push(format!("mail will become {m}"));
        }
        if !self.ad_reads(AttrName::PROXY_ADDRESSES) {
            return (projected, None);
        }
        let mut changed: Option<Vec<String>> = None;
        if let Some(v) = override_mail
            && self.proxy_authority() == Authority::Entra
            && let Some(change) = proxy_change(ad.proxy_addresses(), v, std::iter::empty())
        {
            changed = change
                .after
                .as_list()
                .map(|l| l.iter().map(Text::to_string).collect());
            out.ad.push(change);
        }
        let ad_primary = match &changed {
            Some(list) => primary_smtp_of(list.iter().map(String::as_str)).map(str::to_owned),
            None => primary_smtp_of(ad.proxy_addresses()).map(str::to_owned),
        };
        if let Some(p) = ad_primary
            && cloud.carries(AttrName::PROXY_ADDRESSES)
            && !primary_smtp_of(cloud.proxy_addresses()).is_some_and(|c| eq_ci(c, &p))
        {
            out.pending
                .push(format!("the primary SMTP address will become {p}"));
        }
        (projected, changed)
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
            notes,
        } = changes;
        for message in notes {
            batch.note(NoteKind::PendingSync, name, message);
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
                    "{} is synced by Entra Connect (onPremisesSyncEnabled), so idsync does not write it in the cloud; at the next sync after this plan, {}",
                    cloud.upn(),
                    pending.join("; ")
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

    /// Who masters proxyAddresses: `attributes: { proxyAddresses: … }`, else whoever
    /// masters mail (the primary SMTP address follows mail).
    fn proxy_authority(&self) -> Authority {
        match self.d.attributes.get("proxyAddresses") {
            Some(&a) => a,
            None => self.authority("mail"),
        }
    }

    /// `proxyAddresses: ad` on a cloud-managed pair: idsync edits them in neither directory;
    /// a note names the cloud's SMTP addresses AD lacks, which the first sync replaces with
    /// AD's (Exchange Online takes them from AD once the user is synced).
    fn addresses_from_ad(&self, ad: &AdUser, cloud: &CloudUser, out: &mut PairChanges) {
        if !self.ad_reads(AttrName::PROXY_ADDRESSES) || !cloud.carries(AttrName::PROXY_ADDRESSES) {
            return;
        }
        let missing: Vec<SmtpAddress> = smtp_addresses(cloud.proxy_addresses())
            .filter(|c| {
                !smtp_addresses(ad.proxy_addresses()).any(|a| eq_ci(a.as_str(), c.as_str()))
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        let missing: Vec<&str> = missing.iter().map(SmtpAddress::as_str).collect();
        out.notes.push(format!(
            "proxyAddresses: ad, so idsync edits them in neither directory; once Entra Connect syncs the user, Exchange Online takes its addresses from AD, and the cloud's {} (not in AD) go unless added there",
            missing.join(", ")
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

/// `<prefix>+NNNN@<initial>.onmicrosoft.com`, the placeholder UPN duplicate attribute
/// resiliency assigns.
fn is_placeholder_upn(upn: &str) -> bool {
    let Some((local, domain)) = upn.rsplit_once('@') else {
        return false;
    };
    let digits = local.rsplit_once('+').map(|(_, d)| d);
    digits.is_some_and(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()))
        && domain.to_ascii_lowercase().ends_with(".onmicrosoft.com")
}
