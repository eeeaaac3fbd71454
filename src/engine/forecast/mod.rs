//! What Entra Connect's next sync will do once the plan is applied (DESIGN.md, "What Entra
//! Connect will do next (forecast)"). Pure: from the planner's input, the join's pairs and the
//! finished plan, so it reasons on the state *after* this plan.
//!
//! Each rule is one Microsoft documents (MicrosoftDocs/entra-docs,
//! `docs/identity/hybrid/connect/<page>.md`); the tests name the pages. The common path
//! (synced pairs, nothing to foresee) allocates nothing per identity: the join's pairs are
//! filtered to the few a rule can apply to, and plan lookups are built only when needed.

mod after;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use after::After;

use super::anchor::immutable_id;
use super::index::{HashIndex, ci_hash};
use super::join::{CloudIndex, Joint, cloud_proxy_smtp};
use crate::desired::{DesiredState, SoftMatchKey};
use crate::directory::attributes::{self as mapping, ValueKind};
use crate::directory::model::{Prop, UAC_ACCOUNTDISABLE};
use crate::directory::{AdUser, CloudUser, Tenant};
use crate::names::{AttrName, eq_ci};
use crate::plan::{
    ActionKind, Forecast, ForecastKind, ForecastSeverity, KNOWN_AFTER_APPLY, Plan, Side, Value,
};

/// Shown for the initial domain when the tenant's domains were not read.
const UNKNOWN_INITIAL: &str = "<initial>.onmicrosoft.com";

/// What the forecast takes from the join, kept while the planner works: the pairs a rule can
/// apply to, and the in-scope AD users idsync pairs with nobody.
#[derive(Default)]
pub(crate) struct Seen {
    /// (AD, cloud) pairs whose cloud user is cloud-managed, whose AD account is disabled, or
    /// whose UPNs differ: the rest converge without surprises.
    pairs: Vec<(u32, u32)>,
    /// In-scope AD users (default exclusions and `ignore`d ones aside) without a cloud partner.
    ad_alone: Vec<u32>,
    /// Cloud users in a pair (built only when `ad_alone` is not empty).
    cloud_paired: Vec<bool>,
    /// Cloud users by each SMTP proxy address, for `ad_alone` (built only when it is not
    /// empty); their UPNs are the join's [`CloudIndex::upns`].
    by_smtp: Option<HashIndex>,
}

/// Cloud users by each SMTP proxy address: who holds the addresses an AD user that Entra
/// Connect syncs alone would bring. From the reads only, so built alongside the plan.
fn smtp_index(cloud: &[CloudUser]) -> HashIndex {
    let mut ix = HashIndex::with_capacity(cloud.len());
    for (i, c) in cloud.iter().enumerate() {
        for a in cloud_proxy_smtp(c) {
            ix.insert(ci_hash(&[a]), i);
        }
    }
    ix
}

impl Seen {
    pub(crate) fn collect(
        joints: &[Joint],
        desired: &DesiredState,
        ad: &[AdUser],
        cloud_index: &CloudIndex<'_>,
        ad_blocked: &[bool],
    ) -> Seen {
        let cloud = cloud_index.users();
        let mut seen = Seen::default();
        for j in joints {
            match (j.ad(), j.cloud()) {
                (Some(a), Some(c)) => {
                    let (u, cu) = (&ad[a], &cloud[c]);
                    let upn_differs = u
                        .upn()
                        .is_some_and(|upn| !eq_ci(&desired.routable_upn(upn), cu.upn()));
                    if !cu.sync_enabled || u.is_disabled() || upn_differs {
                        seen.pairs.push((small(a), small(c)));
                    }
                }
                (Some(a), None) => seen.ad_alone.push(small(a)),
                _ => {}
            }
        }
        // Conflicted AD users are in no joint, yet Entra Connect syncs them all the same.
        seen.ad_alone.extend(
            ad_blocked
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b)
                .map(|(a, _)| small(a)),
        );
        if !seen.ad_alone.is_empty() {
            seen.cloud_paired = vec![false; cloud.len()];
            for c in joints
                .iter()
                .filter(|j| j.ad().is_some())
                .filter_map(Joint::cloud)
            {
                seen.cloud_paired[c] = true;
            }
            seen.by_smtp = Some(smtp_index(cloud));
            cloud_index.upns();
        }
        seen
    }
}

/// What the forecast reads besides `Seen` and the plan.
pub(crate) struct Context<'a> {
    pub desired: &'a DesiredState,
    pub ad: &'a [AdUser],
    pub cloud: &'a [CloudUser],
    pub tenant: &'a Tenant,
    /// AD attributes the read did not carry: nothing is foreseen from them.
    pub ad_unread: &'a [AttrName],
    /// In-scope AD users `ignore: true` removed from idsync's view (Entra Connect still syncs
    /// them).
    pub ad_ignored: &'a [usize],
    /// The join's lookups of the cloud users.
    pub cloud_index: &'a CloudIndex<'a>,
}

/// In-scope AD users an `ignore: true` entry names, default exclusions aside (`excluded` is
/// sorted by index, as the join leaves it).
pub(crate) fn ignored_ad(
    desired: &DesiredState,
    ad: &[AdUser],
    index: &super::join::AdIndex<'_>,
    excluded: &[(u32, &'static str)],
) -> Vec<usize> {
    let mut found: Vec<usize> = desired
        .identities
        .iter()
        .filter(|s| s.ignore)
        .filter_map(|s| s.ad.as_ref())
        .flat_map(|sel| index.find(sel))
        .filter(|&i| desired.scope.contains(&ad[i].dn))
        .filter(|&i| {
            excluded
                .binary_search_by_key(&small(i), |&(j, _)| j)
                .is_err()
        })
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn small(i: usize) -> u32 {
    // Cannot fail: 2^32 objects do not fit in memory (the join checks the same).
    u32::try_from(i).expect("fewer than 4 billion objects")
}

pub(crate) fn forecast(cx: &Context<'_>, seen: &Seen, plan: &Plan) -> Vec<Forecast> {
    let mut out = Vec::new();
    let after = After::new(plan, !seen.pairs.is_empty() || !seen.ad_alone.is_empty());
    // The pairs are many (a first sync's takeovers) and each is judged on its own: on every
    // core, their entries and names then joined in pair order, as one thread leaves them.
    let mut synced_now = Vec::new();
    for (part, synced) in crate::parallel::ranges(seen.pairs.len(), |range| {
        let mut part = Vec::new();
        let mut f = Forecaster::new(cx, &after, &mut part, seen);
        for &(a, c) in &seen.pairs[range] {
            f.pair(a as usize, c as usize);
        }
        let synced = f.synced_now;
        (part, synced)
    }) {
        out.extend(part);
        synced_now.extend(synced);
    }
    let mut f = Forecaster::new(cx, &after, &mut out, seen);
    f.synced_now = synced_now;
    f.created_accounts(plan);
    f.password_summary();
    if !seen.ad_alone.is_empty() || !cx.ad_ignored.is_empty() {
        let ignored = cx.ad_ignored.iter().map(|&a| (a, true));
        let alone = seen.ad_alone.iter().map(|&a| (a as usize, false));
        for (a, ignored) in alone.chain(ignored) {
            f.alone(a, ignored, seen);
        }
    }
    f.quarantined();
    out.sort_by(|x, y| {
        (x.kind, &x.identity, &x.attribute, &x.message).cmp(&(
            y.kind,
            &y.identity,
            &y.attribute,
            &y.message,
        ))
    });
    out
}

/// The attribute table's rows Entra Connect synchronizes, the UPN aside (it has a rule of its
/// own, `upn`), listed once per process.
fn synced_rows() -> &'static [&'static mapping::Mapping] {
    static ROWS: std::sync::OnceLock<Vec<&'static mapping::Mapping>> = std::sync::OnceLock::new();
    ROWS.get_or_init(|| {
        mapping::TABLE
            .iter()
            .filter(|m| mapping::synced_by_entra_connect(m) && m.graph != "userPrincipalName")
            .collect()
    })
}

struct Forecaster<'a, 'p> {
    cx: &'a Context<'a>,
    after: &'p After<'p>,
    out: &'p mut Vec<Forecast>,
    /// Identities whose cloud user becomes synced: their passwords, one summary entry.
    synced_now: Vec<String>,
    /// `Seen`'s SMTP index; else (only `ignore`d AD users stand alone) built on first use.
    prebuilt: Option<&'p HashIndex>,
    built: Option<HashIndex>,
}

impl<'a, 'p> Forecaster<'a, 'p> {
    fn new(
        cx: &'a Context<'a>,
        after: &'p After<'p>,
        out: &'p mut Vec<Forecast>,
        seen: &'p Seen,
    ) -> Self {
        Forecaster {
            cx,
            after,
            out,
            synced_now: Vec::new(),
            prebuilt: seen.by_smtp.as_ref(),
            built: None,
        }
    }
}

/// How Entra Connect will pair an AD user with a cloud user after the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntraMatch {
    Hard,
    Soft(SoftMatchKey),
}

impl<'a> Forecaster<'a, '_> {
    fn push(
        &mut self,
        kind: ForecastKind,
        severity: ForecastSeverity,
        identity: &str,
        object: Option<String>,
        message: String,
    ) -> &mut Forecast {
        self.out.push(Forecast {
            kind,
            severity,
            identity: identity.to_owned(),
            object,
            attribute: None,
            before: None,
            after: None,
            message,
        });
        // Cannot fail: pushed just above.
        self.out.last_mut().expect("just pushed")
    }

    fn initial(&self) -> &'a str {
        self.cx.tenant.initial_domain().unwrap_or(UNKNOWN_INITIAL)
    }

    /// The identity's name as the plan has it: the cloud UPN for pairs.
    fn pair(&mut self, a: usize, c: usize) {
        let (ad, cloud) = (&self.cx.ad[a], &self.cx.cloud[c]);
        let name = cloud.upn();
        let Some(how) = self.entra_match(ad, cloud) else {
            return;
        };
        let becomes_synced = !cloud.sync_enabled;
        if becomes_synced {
            self.overwrites(name, ad, cloud, how);
            self.synced_now.push(name.to_owned());
        }
        self.disable(name, ad, cloud);
        self.managed_upn(name, ad, cloud);
    }

    /// How Entra Connect pairs them once the plan is applied, by its own rules: hard match on
    /// the anchor (unless the tenant blocks taking over a cloud-managed user that way), then
    /// soft match on the primary SMTP address, then the UPN (how-to-connect-install-existing-
    /// tenant; how-to-connect-syncservice-features). `None`: it will not pair them.
    fn entra_match(&self, ad: &AdUser, cloud: &CloudUser) -> Option<EntraMatch> {
        if cloud.sync_enabled {
            return Some(EntraMatch::Hard);
        }
        if !self.cx.tenant.roles_of(cloud.id()).is_empty() {
            return None;
        }
        let features = self.cx.tenant.features();
        let anchor = immutable_id(ad, self.cx.desired.source_anchor);
        let immutable = self.after.cloud_text(cloud, "onPremisesImmutableId");
        match immutable.as_deref().filter(|s| !s.is_empty()) {
            Some(id) if id == anchor || id == KNOWN_AFTER_APPLY => {
                return (!features.block_cloud_object_takeover_through_hard_match)
                    .then_some(EntraMatch::Hard);
            }
            Some(_) => return None,
            None => {}
        }
        if features.block_soft_match {
            return None;
        }
        if let Some(primary) = self.after.ad_primary_smtp(ad)
            && self
                .after
                .cloud_smtp(cloud)
                .iter()
                .any(|s| eq_ci(s, &primary))
        {
            return Some(EntraMatch::Soft(SoftMatchKey::Smtp));
        }
        let upn = self.ad_upn(ad)?;
        (features.soft_match_on_upn && eq_ci(&upn, &self.after.cloud_upn(cloud)))
            .then_some(EntraMatch::Soft(SoftMatchKey::Upn))
    }

    /// AD's UPN after the plan, as Entra sees it (after `upn_suffixes`).
    fn ad_upn(&self, ad: &AdUser) -> Option<String> {
        let upn = self
            .after
            .ad_text(ad, AttrName::USER_PRINCIPAL_NAME, "userPrincipalName")?;
        Some(self.cx.desired.routable_upn(&upn).into_owned())
    }

    fn ad_reads(&self, name: AttrName) -> bool {
        !self.cx.ad_unread.contains(&name)
    }

    /// how-to-connect-install-existing-tenant: "All attributes in Microsoft Entra ID with a
    /// value in on-premises AD are overwritten" once a cloud-managed user is matched.
    fn overwrites(&mut self, name: &str, ad: &AdUser, cloud: &CloudUser, how: EntraMatch) {
        let how = match how {
            EntraMatch::Hard => "hard match on the anchor",
            EntraMatch::Soft(SoftMatchKey::Smtp) => "soft match on the primary SMTP address",
            EntraMatch::Soft(SoftMatchKey::Upn) => "soft match on the UPN",
        };
        // The object's actions, looked up once for all its attributes.
        let (ad_pos, cloud_pos) = (self.after.ad_actions(ad), self.after.cloud_actions(cloud));
        for &m in synced_rows() {
            if !self.ad_reads(m.ad_name) || !cloud.carries(m.graph_name) {
                continue;
            }
            let (ad_after, cloud_after) = match m.kind {
                ValueKind::AccountEnabled => {
                    let enabled = !self.after.ad_disabled(ad);
                    // Disabling is the `disable` rule; enabling a blocked account is this one.
                    if !enabled || self.after.cloud_enabled(cloud) != Some(false) {
                        continue;
                    }
                    (Value::Bool(true), Value::Bool(false))
                }
                _ => {
                    let Some(ad_value) = self.after.ad_text_in(&ad_pos, ad, m.ad_name, m.ad) else {
                        continue;
                    };
                    let cloud_value = self.after.cloud_value_in(&cloud_pos, cloud, m);
                    if cloud_value.as_deref() == Some(&*ad_value) {
                        continue;
                    }
                    let shown = |v: Option<Cow<'_, str>>| match (m.kind, v) {
                        (_, None) => Value::Null,
                        (ValueKind::GraphList, Some(v)) => Value::list([v.as_ref()]),
                        (_, Some(v)) => Value::from(v.as_ref()),
                    };
                    (shown(Some(ad_value)), shown(cloud_value))
                }
            };
            let message = format!(
                "Entra Connect takes over {name} by {how} and overwrites {} with AD's value: {} -> {}",
                m.graph, cloud_after, ad_after
            );
            let f = self.push(
                ForecastKind::Overwrite,
                if m.kind == ValueKind::AccountEnabled {
                    ForecastSeverity::Warning
                } else {
                    ForecastSeverity::Info
                },
                name,
                Some(cloud.id().to_owned()),
                message,
            );
            f.attribute = Some(m.graph.to_owned());
            f.before = Some(cloud_after);
            f.after = Some(ad_after);
        }
    }

    /// accountEnabled flows from AD (reference-connect-sync-attributes-synchronized): a
    /// disabled AD account disables its enabled cloud twin.
    fn disable(&mut self, name: &str, ad: &AdUser, cloud: &CloudUser) {
        if !self.after.ad_disabled(ad) || self.after.cloud_enabled(cloud) != Some(true) {
            return;
        }
        let by_plan = !ad.is_disabled();
        let (severity, message) = if by_plan {
            (
                ForecastSeverity::Info,
                format!(
                    "this plan disables {}, so Entra Connect disables {name} in the cloud too (accountEnabled flows from AD)",
                    ad.dn
                ),
            )
        } else {
            (
                ForecastSeverity::Warning,
                format!(
                    "{} is disabled in AD, so Entra Connect disables {name} in the cloud at its next sync (accountEnabled flows from AD): its user is signed out and blocked. Enable the AD account first, or leave the pair out",
                    ad.dn
                ),
            )
        };
        let f = self.push(
            ForecastKind::Disable,
            severity,
            name,
            Some(cloud.id().to_owned()),
            message,
        );
        f.attribute = Some("accountEnabled".into());
        f.before = Some(Value::Bool(true));
        f.after = Some(Value::Bool(false));
    }

    /// how-to-connect-syncservice-features, "Synchronize userPrincipalName updates": with
    /// `synchronizeUpnForManagedUsersEnabled` off, the sync engine does not update the UPN of
    /// a licensed managed (non-federated) user.
    fn managed_upn(&mut self, name: &str, ad: &AdUser, cloud: &CloudUser) {
        if self.cx.tenant.features().synchronize_upn_for_managed_users {
            return;
        }
        let Some(ad_upn) =
            self.after
                .ad_text(ad, AttrName::USER_PRINCIPAL_NAME, "userPrincipalName")
        else {
            return;
        };
        let cloud_upn = self.after.cloud_upn(cloud);
        // The common case, UPNs that agree, allocates nothing.
        if eq_ci(&self.cx.desired.routable_upn(&ad_upn), &cloud_upn) {
            return;
        }
        let upn = self.cx.desired.routable_upn(&ad_upn).into_owned();
        let assumed = if self.cx.tenant.sync.known().is_some() {
            "is off"
        } else {
            "is assumed off (the tenant's sync features were not read)"
        };
        let message = format!(
            "Entra Connect will not change the cloud UPN {cloud_upn} to AD's {upn} if {name} is licensed and managed (password hash sync or pass-through): synchronizeUpnForManagedUsersEnabled {assumed}. Turn it on, or change the cloud UPN through Graph"
        );
        let f = self.push(
            ForecastKind::Upn,
            ForecastSeverity::Warning,
            name,
            Some(cloud.id().to_owned()),
            message,
        );
        f.attribute = Some("userPrincipalName".into());
        f.before = Some(Value::from(cloud_upn.as_ref()));
        f.after = Some(Value::from(cloud_upn.as_ref()));
    }

    fn password_sync(&self) -> Option<&'static str> {
        match self.cx.tenant.sync.known() {
            Some(f) if !f.password_sync => None,
            Some(_) => Some(""),
            None => Some(
                " (password hash sync is assumed on: the tenant's sync features were not read)",
            ),
        }
    }

    /// AD accounts this plan creates: with password hash sync on, the random password nobody
    /// knows replaces the cloud one (how-to-connect-install-existing-tenant; the password
    /// hash sync page), and a disabled one disables its twin.
    fn created_accounts(&mut self, plan: &Plan) {
        let phs = self.password_sync();
        for a in plan
            .actions
            .iter()
            .filter(|a| a.action == ActionKind::Create && a.directory == Side::Ad)
        {
            let uac = a
                .changes
                .iter()
                .find(|c| c.attribute == "userAccountControl")
                .and_then(|c| c.after.as_str())
                .and_then(|v| v.parse::<u32>().ok());
            let Some(uac) = uac else { continue };
            let upn = a
                .changes
                .iter()
                .find(|c| c.attribute == "userPrincipalName")
                .and_then(|c| c.after.as_str())
                .unwrap_or(&a.identity)
                .to_owned();
            if uac & UAC_ACCOUNTDISABLE != 0 {
                let f = self.push(
                    ForecastKind::Disable,
                    ForecastSeverity::Warning,
                    &a.identity,
                    Some(a.target.to_string()),
                    format!("this plan creates {} disabled, so Entra Connect disables {upn} in the cloud once it hard-matches them (accountEnabled flows from AD)", a.target),
                );
                f.attribute = Some("accountEnabled".into());
                f.before = Some(Value::Bool(true));
                f.after = Some(Value::Bool(false));
            } else if let Some(assumed) = phs {
                self.push(
                    ForecastKind::Password,
                    ForecastSeverity::Warning,
                    &a.identity,
                    Some(a.target.to_string()),
                    format!("this plan creates {} with a random password nobody knows, and password hash sync replaces {upn}'s cloud password with it at the first sync{assumed}: the user cannot sign in to the cloud until an admin resets the AD password and tells them", a.target),
                );
            }
        }
    }

    /// One entry for every pair whose cloud user becomes synced.
    fn password_summary(&mut self) {
        let Some(assumed) = self.password_sync() else {
            return;
        };
        let names = std::mem::take(&mut self.synced_now);
        if names.is_empty() {
            return;
        }
        let n = names.len();
        let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
        let more = if n > 3 {
            format!(" and {} more", n - 3)
        } else {
            String::new()
        };
        let message = format!(
            "password hash sync replaces the cloud password of {n} user{} taken over by this plan ({}{more}) with their AD password{assumed}: from the first sync they sign in with the AD password. Tell them before it runs",
            if n == 1 { "" } else { "s" },
            shown.join(", "),
        );
        let identity = if n == 1 {
            names[0].clone()
        } else {
            format!("{n} linked pairs")
        };
        self.push(
            ForecastKind::Password,
            ForecastSeverity::Info,
            &identity,
            None,
            message,
        );
    }

    fn smtp_index(&mut self) -> &HashIndex {
        match self.prebuilt {
            Some(h) => h,
            None => self.built.get_or_insert_with(|| smtp_index(self.cx.cloud)),
        }
    }

    /// Cloud users (not guests) holding `address` as an SMTP proxy address.
    fn smtp_holders(&mut self, address: &str) -> Vec<usize> {
        let cloud = self.cx.cloud;
        let ix = self.smtp_index();
        let mut v: Vec<usize> = ix
            .candidates(ci_hash(&[address]))
            .filter(|&c| !cloud[c].is_guest())
            .filter(|&c| cloud_proxy_smtp(&cloud[c]).any(|s| eq_ci(s, address)))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn upn_holders(&mut self, upn: &str) -> Vec<usize> {
        let cloud = self.cx.cloud;
        let ix = self.cx.cloud_index.upns();
        let mut v: Vec<usize> = ix
            .candidates(ci_hash(&[upn]))
            .filter(|&c| !cloud[c].is_guest() && eq_ci(cloud[c].upn(), upn))
            .collect();
        v.sort_unstable();
        v
    }

    /// Whether Entra Connect could soft-match an AD user with cloud user `c`: cloud-managed,
    /// no anchor, no directory role, and in no pair of this plan.
    fn soft_matchable(&self, c: usize, seen: &Seen) -> bool {
        let cloud = &self.cx.cloud[c];
        !cloud.sync_enabled
            && cloud.immutable_id().is_none_or(str::is_empty)
            && self.cx.tenant.roles_of(cloud.id()).is_empty()
            && !seen.cloud_paired.get(c).copied().unwrap_or(false)
            && !self.after.cloud_linked(cloud)
    }

    /// An in-scope AD user idsync pairs with nobody: Entra Connect still syncs it. It
    /// soft-matches a cloud user by its own keys; otherwise it creates a cloud user, whose UPN
    /// may be recalculated (MOERA) and whose duplicate values are quarantined.
    fn alone(&mut self, a: usize, ignored: bool, seen: &Seen) {
        let ad = &self.cx.ad[a];
        let name = ad
            .upn()
            .or(ad.sam_account_name())
            .unwrap_or(ad.dn.as_str())
            .to_owned();
        if self
            .after
            .creates_cloud_user(&immutable_id(ad, self.cx.desired.source_anchor))
        {
            // idsync creates its cloud user itself, carrying the anchor: a hard match.
            return;
        }
        let features = self.cx.tenant.features();
        let primary = self.after.ad_primary_smtp(ad);
        let upn = self.ad_upn(ad);
        if !features.block_soft_match {
            let by_smtp = match &primary {
                Some(p) => self
                    .smtp_holders(p)
                    .into_iter()
                    .find(|&c| self.soft_matchable(c, seen)),
                None => None,
            };
            let found = by_smtp.map(|c| (c, SoftMatchKey::Smtp)).or_else(|| {
                let upn = upn.as_deref().filter(|_| features.soft_match_on_upn)?;
                self.upn_holders(upn)
                    .into_iter()
                    .find(|&c| self.soft_matchable(c, seen))
                    .map(|c| (c, SoftMatchKey::Upn))
            });
            if let Some((c, key)) = found {
                self.soft_match(&name, ad, c, key, ignored);
                return;
            }
        }
        // A new cloud user: its UPN, then the values it would share with others.
        let moera = self.moera(&name, ad, upn.as_deref(), primary.as_deref());
        if !moera && let Some(upn) = upn.as_deref() {
            let holders = self.upn_holders(upn);
            if let Some(&c) = holders.first() {
                let holder = self.cx.cloud[c].upn().to_owned();
                let prefix = crate::names::upn_local_part(upn);
                let initial = self.initial();
                let f = self.push(
                    ForecastKind::Duplicate,
                    ForecastSeverity::Warning,
                    &name,
                    Some(ad.dn.to_string()),
                    format!("Entra Connect cannot match {} with {holder} (it is synced, carries another anchor or holds a directory role), so it creates a second cloud user with the duplicate UPN quarantined: {prefix}+NNNN@{initial} (duplicate attribute resiliency)", ad.dn),
                );
                f.attribute = Some("userPrincipalName".into());
                f.before = Some(Value::from(upn));
                f.after = Some(Value::from(format!("{prefix}+NNNN@{initial}")));
            }
        }
        if let Some(p) = primary.as_deref() {
            let holders = self.smtp_holders(p);
            if let Some(&c) = holders.first() {
                let holder = self.cx.cloud[c].upn().to_owned();
                let f = self.push(
                    ForecastKind::Duplicate,
                    ForecastSeverity::Warning,
                    &name,
                    Some(ad.dn.to_string()),
                    format!("cloud user {holder}, which Entra Connect will not match with it, already answers to {p}, so Entra Connect syncs {} with that proxy address quarantined (duplicate attribute resiliency): mail to it keeps reaching {holder}", ad.dn),
                );
                f.attribute = Some("proxyAddresses".into());
                f.before = Some(Value::from(format!("SMTP:{p}")));
                f.after = Some(Value::Null);
            }
        }
    }

    fn soft_match(&mut self, name: &str, ad: &AdUser, c: usize, key: SoftMatchKey, ignored: bool) {
        let cloud = &self.cx.cloud[c];
        let (key_name, keys, attribute) = match key {
            SoftMatchKey::Smtp => (
                "primary SMTP address",
                "primary SMTP addresses",
                "proxyAddresses",
            ),
            SoftMatchKey::Upn => ("UPN", "UPNs", "userPrincipalName"),
        };
        let cloud_ignored = self.cx.desired.identities.iter().any(|s| {
            s.ignore
                && s.entra
                    .as_ref()
                    .is_some_and(|sel| super::join::cloud_matches(sel, cloud))
        });
        let why = if ignored || cloud_ignored {
            "idsync leaves it alone (identities[] ignore: true), but Entra Connect does not know that".to_owned()
        } else if !self.cx.desired.soft_match.contains(&key) {
            format!(
                "idsync does not pair on {} (matching.soft_match), but Entra Connect always does",
                match key {
                    SoftMatchKey::Smtp => "smtp",
                    SoftMatchKey::Upn => "upn",
                }
            )
        } else {
            "idsync leaves them apart for a conflict or an error diagnostic about them (see the conflicts and diagnostics), but Entra Connect pairs them all the same (with several claimants, whichever it syncs first)".to_owned()
        };
        let message = format!(
            "Entra Connect soft-matches {} with cloud user {} by its {key_name}: {why}. The cloud user then becomes synced and its attributes are overwritten from AD; add an identities[] entry for the pair, or make the {keys} differ",
            ad.dn,
            cloud.upn()
        );
        let f = self.push(
            ForecastKind::SoftMatch,
            ForecastSeverity::Warning,
            name,
            Some(cloud.id().to_owned()),
            message,
        );
        f.attribute = Some(attribute.into());
    }

    /// plan-connect-userprincipalname, "Nonverified UPN suffix" and the warning on invalid
    /// characters: Entra calculates `<MailNickName>@<initial domain>` instead. True when so.
    fn moera(&mut self, name: &str, ad: &AdUser, upn: Option<&str>, primary: Option<&str>) -> bool {
        let Some(upn) = upn else { return false };
        let suffix = crate::names::upn_suffix(upn).unwrap_or("");
        let invalid = upn
            .chars()
            .find(|&c| c.is_whitespace() || super::diagnostics::upn_bad(c));
        let unverified = !self.cx.tenant.is_verified(suffix);
        if invalid.is_none() && !unverified {
            return false;
        }
        // plan-connect-userprincipalname, "MailNickName attribute value calculation": the
        // first of these an object has at its first sync.
        let local = |s: &str| s.split('@').next().unwrap_or(s).to_owned();
        let nickname = ad
            .attr(AttrName::MAIL_NICKNAME)
            .map(str::to_owned)
            .or_else(|| primary.map(local))
            .or_else(|| ad.mail().map(local))
            .unwrap_or_else(|| local(upn));
        let initial = self.initial();
        let moera = format!("{nickname}@{initial}");
        let why = match invalid {
            Some(c) => format!("contains the invalid character {c:?}"),
            None => {
                format!("has the suffix {suffix}, which is not a verified domain of the tenant")
            }
        };
        let f = self.push(
            ForecastKind::Upn,
            ForecastSeverity::Warning,
            name,
            Some(ad.dn.to_string()),
            format!("AD's UPN {upn} {why}, so Entra Connect gives the cloud user it creates the UPN {moera} (<mailNickname>@<initial domain>). Verify the domain or fix the UPN first"),
        );
        f.attribute = Some("userPrincipalName".into());
        f.before = Some(Value::from(upn));
        f.after = Some(Value::from(moera));
        true
    }

    /// how-to-connect-syncservice-duplicate-attribute-resiliency: a cloud user that already
    /// is such a twin carries what was quarantined in `onPremisesProvisioningErrors`.
    fn quarantined(&mut self) {
        let cloud = self.cx.cloud;
        for c in cloud {
            if c.is_guest()
                || !matches!(
                    c.properties.get(AttrName::ON_PREMISES_PROVISIONING_ERRORS),
                    Some(Prop::Json(serde_json::Value::Array(items))) if !items.is_empty()
                )
            {
                continue;
            }
            for e in c.provisioning_errors() {
                let f = self.push(
                    ForecastKind::Duplicate,
                    ForecastSeverity::Warning,
                    c.upn(),
                    Some(c.id().to_owned()),
                    format!("Entra Connect quarantined the duplicate {} {} on {} ({}, onPremisesProvisioningErrors): it stays so at every sync until the other holder gives the value up", e.property_causing_error, e.value, c.upn(), e.category),
                );
                f.attribute = Some(e.property_causing_error.clone());
                f.before = Some(Value::from(e.value.as_str()));
            }
        }
    }
}
