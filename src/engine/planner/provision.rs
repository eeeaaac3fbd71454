//! Identities with one side only: create the other side where provisioning is on.

use std::borrow::Cow;
use std::collections::BTreeSet;

use compact_str::{ToCompactString, format_compact};

use super::*;

impl<'a> Planner<'a> {
    pub(super) fn cloud_only(&mut self, joint: &Joint, name: &str, c: usize, batch: &mut Batch) {
        let cloud = &self.cloud[c];
        // Whether it is synced, and from which anchor, decides everything below; unread, it
        // is unknown, and the `assumption` note says so.
        if !MATCH_KEYS.iter().all(|&k| cloud.carries(k)) {
            return;
        }
        if cloud.sync_enabled {
            batch.note(
                NoteKind::Orphan,
                name,
                format!(
                    "{} is synced by Entra Connect from an AD object that is not in scope (onPremisesImmutableId {}); if that object left Entra Connect's scope too, the next sync deletes it",
                    cloud.upn(),
                    cloud.immutable_id().unwrap_or("(none)")
                ),
            );
            return;
        }
        if self.d.provision_ad.is_some() {
            // Without adminDescription, the accounts idsync made cannot be told apart: a twin
            // it made before would be made again.
            if self.ad_reads(AttrName::ADMIN_DESCRIPTION) {
                self.provision_ad(joint, name, cloud, batch);
            }
            return;
        }
        let dangling = cloud.immutable_id().filter(|s| !s.is_empty());
        match dangling {
            Some(id) if self.d.provision_entra => {
                let why = format!(
                    "its onPremisesImmutableId {id} names no in-scope AD object, and AD is the source of existence (provision.entra)"
                );
                self.deprovision_entra(name, cloud, why, batch);
            }
            Some(id) => batch.note(
                NoteKind::Orphan,
                name,
                format!(
                    "{}: onPremisesImmutableId {id} names no in-scope AD object; left alone",
                    cloud.upn()
                ),
            ),
            None => batch.note(
                NoteKind::Unmatched,
                name,
                format!(
                    "{} exists in the cloud only; no AD provisioning is configured",
                    cloud.upn()
                ),
            ),
        }
    }

    pub(super) fn provision_ad(
        &mut self,
        joint: &Joint,
        name: &str,
        cloud: &CloudUser,
        batch: &mut Batch,
    ) {
        // Cannot fail: the caller plans provisioning only when `provision_ad` is set.
        let prov = self.d.provision_ad.as_ref().expect("checked by caller");
        let spec = self.spec(joint);
        let sam = match prov.sam_account_name.render(|p| cloud.text(p)) {
            Ok(s) => s,
            Err(missing) => {
                batch.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    rule: "blank".into(),
                    object: cloud.upn().to_owned(),
                    attribute: "sAMAccountName".into(),
                    message: format!("cannot fill provision.ad.sam_account_name {:?}: the cloud user has no {missing}", prov.sam_account_name.to_string()),
                });
                return;
            }
        };
        let display = cloud
            .text("displayName")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(upn_local_part(cloud.upn()))
            .to_owned();
        let Some(dn) = self.new_account_dn(name, &display, &sam, &prov.ou, cloud, batch) else {
            return;
        };
        let (mail, proxies) = new_addresses(cloud);
        let uac = match prov.initial_state {
            InitialState::EnabledRandomPassword => UAC_NORMAL_ACCOUNT,
            InitialState::Disabled => UAC_NORMAL_ACCOUNT | UAC_ACCOUNTDISABLE,
        };
        let mut changes = vec![
            Change::set("sAMAccountName", Value::Null, Value::from(sam.as_str())),
            Change::set("userPrincipalName", Value::Null, Value::from(cloud.upn())),
            Change::set("mail", Value::Null, Value::from(mail.as_str())),
            Change::set(
                "proxyAddresses",
                Value::Null,
                Value::list(proxies.iter().map(String::as_str)),
            ),
            Change::set("displayName", Value::Null, Value::from(display.as_str())),
        ];
        // Name attributes always, plus everything `attributes:` maps, from the cloud user.
        for m in self.copied_mappings(spec, &["displayName"]) {
            let value = spec
                .and_then(|s| s.attributes.get(m.graph).cloned())
                .or_else(|| cloud_value(cloud, m).map(Cow::into_owned));
            if let Some(v) = value {
                changes.push(Change::set(m.ad, Value::Null, Value::from(v)));
            }
        }
        changes.push(Change::set(
            "adminDescription",
            Value::Null,
            Value::from(format_compact!("{OWNER_MARKER_PREFIX}{}", cloud.id())),
        ));
        changes.push(Change::set(
            "userAccountControl",
            Value::Null,
            Value::from(uac.to_compact_string()),
        ));

        if prov.initial_state == InitialState::Disabled {
            batch.diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                rule: "initial_state".into(),
                object: dn.to_string(),
                attribute: "userAccountControl".into(),
                message: format!("created disabled (provision.ad.initial_state: disabled): once Entra Connect syncs it, {} is disabled in the cloud too", cloud.upn()),
            });
        }
        self.check_new_names_free(name, &dn, cloud, &sam, &mail, &proxies, batch);

        let projected = Projected {
            object: dn.as_str(),
            upn: Some(cloud.upn()),
            sam_account_name: Some(&sam),
            mail: Some(&mail),
            proxy_addresses: ProxyValues::Planned(&proxies),
            display_name: Some(&display),
            mail_nickname: None,
        };
        diagnostics::check(&projected, self.d, &mut batch.diagnostics);

        self.planned_dns.insert(dn.clone());
        self.planned_sams.insert(fold(&sam));
        let features = self.tenant.features();
        if features.block_cloud_object_takeover_through_hard_match && features.block_soft_match {
            // The account would sync as a second cloud user: neither match can pair them.
            batch.conflicts.push(Conflict {
                kind: ConflictKind::MatchBlocked,
                identity: name.to_owned(),
                objects: vec![cloud_label(cloud)],
                message: format!(
                    "provision.ad would create an AD account for {}, but the tenant blocks both hard-match takeover (blockCloudObjectTakeoverThroughHardMatchEnabled) and soft match (blockSoftMatchEnabled): Entra Connect could not pair them and would create a second cloud user. Lift one of the blocks for the migration",
                    cloud.upn()
                ),
            });
            return;
        }
        self.push_ad_create(name, &dn, cloud, changes, batch);
    }

    /// A free DN for a new account in the provisioning OU: `CN=display`, else
    /// `CN=display (sam)`; a conflict when both are taken.
    fn new_account_dn(
        &self,
        name: &str,
        display: &str,
        sam: &str,
        ou: &Dn,
        cloud: &CloudUser,
        batch: &mut Batch,
    ) -> Option<Dn> {
        let mut dn = Dn::child("CN", display, ou);
        if self.dn_taken(&dn) {
            dn = Dn::child("CN", &format!("{display} ({sam})"), ou);
        }
        if self.dn_taken(&dn) {
            batch.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: name.to_owned(),
                objects: vec![dn.to_string(), cloud_label(cloud)],
                message: format!("no free name for a new account: {dn} exists"),
            });
            return None;
        }
        Some(dn)
    }

    /// The mapped attributes a create copies from the other side: the name attributes, plus
    /// everything `attributes:` and the identity's overrides name; identifiers, the account
    /// state and `set_apart` (set by the create itself) aside.
    fn copied_mappings(
        &self,
        spec: Option<&'a IdentitySpec>,
        set_apart: &'static [&'static str],
    ) -> impl Iterator<Item = &'static mapping::Mapping> + use<'a> {
        let mut copied: BTreeSet<&'a str> = ["givenName", "surname"].into();
        copied.extend(self.d.attributes.keys().map(String::as_str));
        if let Some(s) = spec {
            copied.extend(s.attributes.keys().map(String::as_str));
        }
        copied
            .into_iter()
            .filter_map(mapping::by_graph)
            .filter(move |m| {
                !IDENTIFIERS.contains(&m.graph)
                    && !set_apart.contains(&m.graph)
                    && m.kind != ValueKind::AccountEnabled
            })
    }

    /// The new account's names must be free, in scope and domain-wide.
    #[allow(clippy::too_many_arguments)]
    fn check_new_names_free(
        &self,
        name: &str,
        dn: &Dn,
        cloud: &CloudUser,
        sam: &str,
        mail: &str,
        proxies: &[String],
        batch: &mut Batch,
    ) {
        let mut wanted: Vec<(&str, String)> = vec![
            ("userPrincipalName", cloud.upn().to_owned()),
            ("mail", mail.to_owned()),
            ("sAMAccountName", sam.to_owned()),
        ];
        wanted.extend(
            proxies
                .iter()
                .filter_map(|p| ProxyAddress::parse(p))
                .map(|p| ("proxyAddresses", p.address.to_owned())),
        );
        for (attr, value) in &wanted {
            let key = fold(value);
            if let Some(holder) = self
                .value_holder(value)
                .filter(|_| *attr != "sAMAccountName")
            {
                batch.diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    rule: "duplicate".into(),
                    object: dn.to_string(),
                    attribute: (*attr).into(),
                    message: format!("{value} is already held by {holder}"),
                });
            } else if let Some((taken_attr, holder)) = self.taken.get(&key) {
                if *attr == "sAMAccountName" && *taken_attr != "sAMAccountName" {
                    continue;
                }
                batch.conflicts.push(Conflict {
                    kind: ConflictKind::ProvisionCollision,
                    identity: name.to_owned(),
                    objects: vec![holder.clone(), cloud_label(cloud)],
                    message: format!("cannot create {dn}: its {attr} {value} is already the {taken_attr} of {holder}"),
                });
            }
        }
        if let Some(existing) = self
            .ad_index
            .find(&crate::desired::AdSelector::SamAccountName(sam.into()))
            .first()
        {
            batch.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: name.to_owned(),
                objects: vec![self.ad[*existing].dn.to_string(), cloud_label(cloud)],
                message: format!(
                    "cannot create {dn}: sAMAccountName {sam} is already used by {}",
                    self.ad[*existing].dn
                ),
            });
        }
    }

    /// The create, the cloud user's link to it and, with ConsistencyGuid as the anchor, its
    /// write-back; both links wait for the create.
    fn push_ad_create(
        &self,
        name: &str,
        dn: &Dn,
        cloud: &CloudUser,
        changes: Vec<Change>,
        batch: &mut Batch,
    ) {
        let create = batch.next_id();
        batch.actions.push(Action {
            id: ActionId(0),
            action: ActionKind::Create,
            directory: Side::Ad,
            kind: ObjectKind::User,
            identity: batch.identity(name),
            target: dn.as_str().into(),
            object: None,
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: Some(Precondition::Absent),
            matched: None,
        });
        // With hard-match takeover blocked, Entra Connect would refuse the anchor on this
        // cloud-managed user (InvalidHardMatch); the new account carries the cloud's UPN and
        // SMTP addresses, so the soft match pairs them instead
        // (how-to-connect-install-existing-tenant, "Hard-match vs Soft-match").
        if !self
            .tenant
            .features()
            .block_cloud_object_takeover_through_hard_match
        {
            batch.actions.push(Action {
                depends_on: Box::new([create]),
                ..batch.link_entra(name, cloud, Value::from(KNOWN_AFTER_APPLY))
            });
        }
        if self.d.source_anchor == crate::desired::SourceAnchor::ConsistencyGuid {
            batch.actions.push(Action {
                id: ActionId(0),
                action: ActionKind::Link,
                directory: Side::Ad,
                kind: ObjectKind::User,
                identity: batch.identity(name),
                target: dn.as_str().into(),
                object: None,
                changes: Box::new([Change::set(
                    "mS-DS-ConsistencyGuid",
                    Value::Null,
                    Value::from(KNOWN_AFTER_APPLY),
                )]),
                depends_on: Box::new([create]),
                precondition: None,
                matched: None,
            });
        }
    }

    pub(super) fn ad_only(&mut self, joint: &Joint, name: &str, a: usize, batch: &mut Batch) {
        let ad = &self.ad[a];
        diagnostics::check(&Projected::of(ad), self.d, &mut batch.diagnostics);
        if let (Some(id), Some(_)) = (ad.owner_marker(), &self.d.provision_ad) {
            if !self
                .cloud_index
                .find(&crate::desired::EntraSelector::Id(id.to_owned()))
                .is_empty()
            {
                // The twin exists but is ignored or in a conflict: not gone.
                return;
            }
            let why = format!("idsync created it for cloud user {id}, which no longer exists");
            self.deprovision_ad(name, ad, why, batch);
            return;
        }
        if self.d.provision_entra {
            // A twin the join could not see (match keys unread) must not be created twice.
            if !self.cloud_keys_unread {
                self.provision_entra(joint, name, ad, batch);
            }
            return;
        }
        batch.note(NoteKind::Unmatched, name, format!("{} exists in AD only; no cloud provisioning is configured (Entra Connect creates its cloud twin when it syncs)", ad.dn));
    }

    pub(super) fn provision_entra(
        &mut self,
        joint: &Joint,
        name: &str,
        ad: &AdUser,
        batch: &mut Batch,
    ) {
        let spec = self.spec(joint);
        let Some(upn) = ad.upn().map(|u| Upn::new(self.d.routable_upn(u))) else {
            return; // diagnosed as blank already
        };
        if let Some(&holder) = self
            .cloud_index
            .find(&crate::desired::EntraSelector::Upn(upn.clone()))
            .first()
        {
            batch.conflicts.push(Conflict {
                kind: ConflictKind::ProvisionCollision,
                identity: name.to_owned(),
                objects: vec![ad.dn.to_string(), cloud_label(&self.cloud[holder])],
                message: format!(
                    "cannot create cloud user {upn}: the UPN is taken by {}",
                    cloud_label(&self.cloud[holder])
                ),
            });
            return;
        }
        // Graph would refuse the create: the identity gets nothing (the error blocks it).
        let domains = [
            ("userPrincipalName", Some(upn.as_str())),
            ("mail", ad.mail()),
        ];
        for (attribute, value) in domains {
            if let Some(d) =
                value.and_then(|v| unverified_domain(self.tenant, ad.dn.as_str(), attribute, v))
            {
                batch.diagnostics.push(d);
            }
        }
        let anchor = immutable_id(ad, self.d.source_anchor);
        let display = ad
            .attr(AttrName::DISPLAY_NAME)
            .map(str::to_owned)
            .or_else(|| ad.dn.leaf_value())
            .unwrap_or_else(|| upn.local_part().to_owned());
        let nickname = entra_mail_nickname(ad).unwrap_or_else(|| upn.local_part().to_owned());
        let mut changes = vec![
            Change::set("userPrincipalName", Value::Null, Value::from(upn.as_str())),
            Change::set("displayName", Value::Null, Value::from(display)),
            Change::set("mailNickname", Value::Null, Value::from(nickname)),
            Change::set(
                "accountEnabled",
                Value::Null,
                Value::from(!ad.is_disabled()),
            ),
            Change::set("onPremisesImmutableId", Value::Null, Value::from(anchor)),
        ];
        if let Some(mail) = ad.mail() {
            changes.push(Change::set("mail", Value::Null, Value::from(mail)));
        }
        for m in self.copied_mappings(spec, &["displayName", "mailNickname"]) {
            let value = spec
                .and_then(|s| s.attributes.get(m.graph).cloned())
                .or_else(|| ad_value(ad, m).map(Cow::into_owned));
            if let Some(v) = value {
                let (_, after) = entra_values(m, None, Some(&v));
                changes.push(Change::set(m.graph, Value::Null, after));
            }
        }
        batch.actions.push(Action {
            id: ActionId(0),
            action: ActionKind::Create,
            directory: Side::Entra,
            kind: ObjectKind::User,
            identity: batch.identity(name),
            target: upn.as_str().into(),
            object: None,
            changes: changes.into(),
            depends_on: Box::default(),
            precondition: Some(Precondition::Absent),
            matched: None,
        });
        self.write_back_consistency_guid(name, ad, batch);
    }
}

/// A new account's mail and proxyAddresses: the cloud's mail (else its primary SMTP address,
/// else its UPN), one `SMTP:` primary and the cloud's other SMTP addresses as aliases.
fn new_addresses(cloud: &CloudUser) -> (String, Vec<String>) {
    let mail = cloud
        .mail()
        .map(str::to_owned)
        .or_else(|| cloud.primary_smtp().map(SmtpAddress::into_string))
        .unwrap_or_else(|| cloud.upn().to_owned());
    let mut proxies: Vec<String> = Vec::new();
    let primary = cloud
        .primary_smtp()
        .map(SmtpAddress::into_string)
        .unwrap_or_else(|| mail.clone());
    proxies.push(format!("SMTP:{primary}"));
    for a in smtp_addresses(cloud.proxy_addresses()) {
        if !eq_ci(a.as_str(), &primary) {
            proxies.push(format!("smtp:{a}"));
        }
    }
    (mail, proxies)
}

/// The cloud mailNickname Entra gives a user synced for the first time, in its order
/// (plan-connect-userprincipalname, "MailNickName attribute value calculation"): AD
/// mailNickname, else the prefix of the primary SMTP address, of AD mail, of the UPN, of a
/// secondary smtp address. A user idsync creates gets the same, so the MOERA and the soft
/// match come out as Entra Connect's would.
fn entra_mail_nickname(ad: &AdUser) -> Option<String> {
    let prefix = |v: &str| Some(upn_local_part(v).to_owned()).filter(|p| !p.is_empty());
    let secondary = || {
        ad.proxy_addresses()
            .filter_map(ProxyAddress::parse)
            .find(|p| p.is_smtp() && !p.is_primary_smtp())
            .and_then(|p| prefix(p.address))
    };
    ad.attr(AttrName::MAIL_NICKNAME)
        .filter(|n| !n.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| primary_smtp_of(ad.proxy_addresses()).and_then(prefix))
        .or_else(|| ad.mail().and_then(prefix))
        .or_else(|| ad.upn().and_then(prefix))
        .or_else(secondary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Guid;

    #[test]
    fn mail_nickname_falls_back_to_a_secondary_smtp_address_last() {
        // plan-connect-userprincipalname, "MailNickName attribute value calculation": the
        // secondary smtp address comes after the UPN, so only a user without one gets it.
        let mut u = AdUser::new(Dn::parse("CN=x,DC=example,DC=com").unwrap(), Guid([1; 16]));
        u.set_proxy_addresses(["smtp:second@example.com", "X500:/o=x"]);
        assert_eq!(entra_mail_nickname(&u).as_deref(), Some("second"));
        u.set_upn("upn.prefix@example.com");
        assert_eq!(entra_mail_nickname(&u).as_deref(), Some("upn.prefix"));
    }
}
