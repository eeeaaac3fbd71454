//! `idsync explain WHO`: one identity traced through scope, matching and the plan — what Cloud
//! Sync's on-demand provisioning shows live for one user, here for anyone, offline too. Pure:
//! it takes the planner's input, the plan made from it, and (for objects the scoped read did
//! not return) the AD objects found elsewhere in the domain.

use serde::Serialize;

use super::PlanInput;
use super::join::{self, JoinContext, MatchKind};
use crate::desired::{AdSelector, EntraSelector, SoftMatchKey};
use crate::directory::{AdUser, CloudUser};
use crate::names::eq_ci;
use crate::plan::{Action, Conflict, Diagnostic, Forecast, Note, Plan};

/// Everything idsync can say about the objects `query` names.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub query: String,
    pub objects: Vec<Traced>,
    pub actions: Vec<Action>,
    pub conflicts: Vec<Conflict>,
    pub diagnostics: Vec<Diagnostic>,
    pub notes: Vec<Note>,
    /// What Entra Connect's next sync will do to it once the plan is applied.
    pub forecast: Vec<Forecast>,
}

/// One object and the rules it went through.
#[derive(Debug, Clone, Serialize)]
pub struct Traced {
    /// `ad` or `entra`.
    pub directory: &'static str,
    /// AD: the DN; Entra: the userPrincipalName.
    pub object: String,
    /// AD: objectGUID; Entra: object id.
    pub id: String,
    pub in_scope: bool,
    pub scope: Vec<Step>,
    pub matching: Vec<Step>,
    /// The object on the other side it is paired with, and how (`explicit`, `hard`, …).
    pub paired_with: Option<String>,
    #[serde(rename = "match")]
    pub matched: Option<&'static str>,
}

/// One rule applied: its name, what was compared, and the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub rule: &'static str,
    pub outcome: &'static str,
    pub detail: String,
}

fn step(rule: &'static str, outcome: &'static str, detail: impl Into<String>) -> Step {
    Step {
        rule,
        outcome,
        detail: detail.into(),
    }
}

/// Whether `u` is what `query` names: DN, objectGUID, sAMAccountName or UPN, without case.
pub fn names_ad(u: &AdUser, query: &str) -> bool {
    eq_ci(u.dn.as_str(), query)
        || eq_ci(&u.object_guid.to_string(), query)
        || u.sam_account_name().is_some_and(|s| eq_ci(s, query))
        || u.upn().is_some_and(|s| eq_ci(s, query))
}

pub fn names_cloud(u: &CloudUser, query: &str) -> bool {
    eq_ci(u.id(), query) || eq_ci(u.upn(), query)
}

/// The objects `query` names: an `identities[]` name resolves through its selectors.
fn wanted(input: &PlanInput<'_>, query: &str) -> (Vec<AdSelector>, Vec<EntraSelector>) {
    let mut ad = Vec::new();
    let mut cloud = Vec::new();
    for spec in &input.desired.identities {
        if spec.name.as_deref().is_some_and(|n| eq_ci(n, query)) {
            ad.extend(spec.ad.clone());
            cloud.extend(spec.entra.clone());
        }
    }
    (ad, cloud)
}

/// Traces `query` through the join and the plan. `elsewhere`: AD objects outside the scoped
/// read (the whole domain, when the CLI looked), to say why they are out of scope.
pub fn explain(
    input: PlanInput<'_>,
    plan: &Plan,
    elsewhere: &[AdUser],
    query: &str,
) -> Explanation {
    let d = input.desired;
    let joined = join::join(
        d,
        input.ad,
        input.cloud,
        JoinContext {
            tenant: input.tenant,
            ad_unread: input.reads.ad_unread,
        },
    );
    let (ad_sels, cloud_sels) = wanted(&input, query);
    let in_scope: Vec<bool> = {
        let mut v = vec![false; input.ad.len()];
        for &i in &joined.ad_in_scope {
            v[i] = true;
        }
        v
    };
    let mut ad_hits: Vec<usize> = (0..input.ad.len())
        .filter(|&i| {
            names_ad(&input.ad[i], query)
                || ad_sels.iter().any(|s| join::ad_matches(s, &input.ad[i]))
        })
        .collect();
    let mut cloud_hits: Vec<usize> = (0..input.cloud.len())
        .filter(|&i| {
            names_cloud(&input.cloud[i], query)
                || cloud_sels
                    .iter()
                    .any(|s| join::cloud_matches(s, &input.cloud[i]))
        })
        .collect();
    // The objects in a conflict with a hit are part of the story too.
    let labels = |a: &[usize], c: &[usize]| -> Vec<String> {
        a.iter()
            .map(|&i| input.ad[i].dn.to_string())
            .chain(c.iter().map(|&i| input.cloud[i].upn().to_owned()))
            .collect()
    };
    let hit_labels = labels(&ad_hits, &cloud_hits);
    for conflict in &plan.conflicts {
        if !conflict.objects.iter().any(|o| {
            hit_labels
                .iter()
                .any(|l| o == l || o.starts_with(&format!("{l} (")))
        }) {
            continue;
        }
        for o in &conflict.objects {
            if let Some(i) = (0..input.ad.len()).find(|&i| input.ad[i].dn.as_str() == o) {
                if !ad_hits.contains(&i) {
                    ad_hits.push(i);
                }
            } else if let Some(i) = (0..input.cloud.len())
                .find(|&i| o.starts_with(&format!("{} (", input.cloud[i].upn())))
                && !cloud_hits.contains(&i)
            {
                cloud_hits.push(i);
            }
        }
    }
    // The partner of each AD hit is part of the identity too.
    for j in &joined.joints {
        if let (Some(a), Some(c)) = (j.ad(), j.cloud()) {
            if ad_hits.contains(&a) && !cloud_hits.contains(&c) {
                cloud_hits.push(c);
            } else if cloud_hits.contains(&c) && !ad_hits.contains(&a) {
                ad_hits.push(a);
            }
        }
    }

    let mut objects = Vec::new();
    for &a in &ad_hits {
        let u = &input.ad[a];
        let mut t = Traced {
            directory: "ad",
            object: u.dn.to_string(),
            id: u.object_guid.to_string(),
            in_scope: in_scope[a],
            scope: ad_scope(
                &input,
                u,
                joined.excluded.iter().find(|e| e.0 as usize == a),
            ),
            matching: Vec::new(),
            paired_with: None,
            matched: None,
        };
        if t.in_scope {
            t.matching = ad_matching(&input, u);
            if let Some(j) = joined.joints.iter().find(|j| j.ad() == Some(a)) {
                if let Some(c) = j.cloud() {
                    t.paired_with = Some(input.cloud[c].upn().to_owned());
                    t.matched = j.how.map(how_name);
                }
            } else if joined.ad_blocked[a] {
                t.matching.push(step(
                    "result",
                    "conflict",
                    "in a conflict (below): no actions",
                ));
            }
        }
        objects.push(t);
    }
    for u in elsewhere.iter().filter(|u| names_ad(u, query)) {
        if objects.iter().any(|t| t.id == u.object_guid.to_string()) {
            continue;
        }
        objects.push(Traced {
            directory: "ad",
            object: u.dn.to_string(),
            id: u.object_guid.to_string(),
            in_scope: false,
            scope: ad_scope(&input, u, None),
            matching: Vec::new(),
            paired_with: None,
            matched: None,
        });
    }
    for &c in &cloud_hits {
        let u = &input.cloud[c];
        let guest = u.is_guest();
        let mut t = Traced {
            directory: "entra",
            object: u.upn().to_owned(),
            id: u.id().to_owned(),
            in_scope: !guest,
            scope: vec![if guest {
                step("guest", "out", "userType Guest: guests are never in scope")
            } else {
                step("guest", "in", "a member, not a guest")
            }],
            matching: Vec::new(),
            paired_with: None,
            matched: None,
        };
        if let Some(j) = joined.joints.iter().find(|j| j.cloud() == Some(c)) {
            match j.ad() {
                Some(a) => {
                    t.paired_with = Some(input.ad[a].dn.to_string());
                    t.matched = j.how.map(how_name);
                }
                None => t.matching.push(step(
                    "result",
                    "unpaired",
                    "no in-scope AD object matches it by anchor or soft-match key (planned actions, if any, below)",
                )),
            }
        } else if joined.cloud_blocked[c] {
            t.matching.push(step(
                "result",
                "conflict",
                "in a conflict (below): no actions",
            ));
        }
        let roles = input.tenant.roles_of(u.id());
        if !roles.is_empty() {
            t.matching.push(step(
                "admin_role",
                "blocks",
                format!("holds {}: Entra never matches it", roles.join(", ")),
            ));
        }
        objects.push(t);
    }

    let dns: Vec<&str> = objects.iter().map(|t| t.object.as_str()).collect();
    let ids: Vec<&str> = objects.iter().map(|t| t.id.as_str()).collect();
    let about = |s: &str| {
        dns.iter()
            .chain(&ids)
            .any(|x| eq_ci(x, s) || s.contains(*x))
    };
    // An identity's actions share its name: a create (no object yet) comes with its links.
    let identities: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| {
            about(a.target.as_str())
                || a.object.as_ref().is_some_and(|o| about(&o.to_string()))
                || eq_ci(&a.identity, query)
        })
        .map(|a| &*a.identity)
        .collect();
    let actions: Vec<Action> = plan
        .actions
        .iter()
        .filter(|a| identities.contains(&&*a.identity))
        .cloned()
        .collect();
    let named = |identity: &str| eq_ci(identity, query) || identities.contains(&identity);
    Explanation {
        query: query.to_owned(),
        conflicts: plan
            .conflicts
            .iter()
            .filter(|c| named(&c.identity) || c.objects.iter().any(|o| about(o)))
            .cloned()
            .collect(),
        diagnostics: plan
            .diagnostics
            .iter()
            .filter(|x| about(&x.object))
            .cloned()
            .collect(),
        notes: plan
            .notes
            .iter()
            .filter(|n| named(&n.identity) || dns.iter().any(|dn| n.message.contains(dn)))
            .cloned()
            .collect(),
        forecast: plan
            .forecast
            .iter()
            .filter(|f| named(&f.identity) || f.object.as_deref().is_some_and(about))
            .cloned()
            .collect(),
        actions,
        objects,
    }
}

fn how_name(how: MatchKind) -> &'static str {
    match how {
        MatchKind::Explicit => "explicit",
        MatchKind::Marker => "marker",
        MatchKind::Hard => "hard",
        MatchKind::Soft(SoftMatchKey::Smtp) => "soft_smtp",
        MatchKind::Soft(SoftMatchKey::Upn) => "soft_upn",
    }
}

/// Each scope rule for an AD object: OU, `exclude_ous`, `ldap_filter`, not a user, Entra
/// Connect's default exclusions, `ignore`.
fn ad_scope(
    input: &PlanInput<'_>,
    u: &AdUser,
    excluded: Option<&(u32, &'static str)>,
) -> Vec<Step> {
    let d = input.desired;
    let mut steps = Vec::new();
    let ous: Vec<String> = d.scope.ous.iter().map(|o| o.to_string()).collect();
    match d.scope.ous.iter().find(|ou| u.dn.is_within(ou)) {
        Some(ou) => steps.push(step("ous", "in", format!("under {ou}"))),
        None => {
            steps.push(step(
                "ous",
                "out",
                format!("not under any of [{}]", ous.join("; ")),
            ));
            return steps;
        }
    }
    match d.scope.exclude_ous.iter().find(|ou| u.dn.is_within(ou)) {
        Some(ou) => {
            steps.push(step("exclude_ous", "out", format!("under excluded {ou}")));
            return steps;
        }
        None => steps.push(step("exclude_ous", "in", "under none of them")),
    }
    if let Some(f) = &d.scope.ldap_filter {
        if f.matches(u) {
            steps.push(step("ldap_filter", "in", format!("matches {f}")));
        } else {
            steps.push(step("ldap_filter", "out", format!("does not match {f}")));
            return steps;
        }
    }
    if let Some((_, why)) = excluded {
        steps.push(step(
            "default_exclusion",
            "out",
            format!("Entra Connect's default rules never synchronize it: {why}"),
        ));
        return steps;
    }
    steps.push(step(
        "default_exclusion",
        "in",
        "none of Entra Connect's default exclusions applies",
    ));
    if d.identities
        .iter()
        .filter(|s| s.ignore)
        .any(|s| s.ad.as_ref().is_some_and(|sel| join::ad_matches(sel, u)))
    {
        steps.push(step(
            "ignore",
            "out",
            "an identities[] entry says ignore: true",
        ));
    }
    steps
}

/// Every match rule in Entra's order for an in-scope AD object, with the values compared.
fn ad_matching(input: &PlanInput<'_>, u: &AdUser) -> Vec<Step> {
    let d = input.desired;
    let features = input.tenant.features();
    let mut steps = Vec::new();
    let explicit: Vec<&str> = d
        .identities
        .iter()
        .filter(|s| !s.ignore && s.ad.as_ref().is_some_and(|sel| join::ad_matches(sel, u)))
        .map(|s| s.origin.as_str())
        .collect();
    steps.push(match explicit.as_slice() {
        [] => step("explicit", "no", "no identities[] entry names it"),
        origins => step(
            "explicit",
            "yes",
            format!("named at {}", origins.join(", ")),
        ),
    });
    steps.push(match u.owner_marker() {
        Some(id) => step(
            "marker",
            "yes",
            format!("adminDescription names cloud user {id}"),
        ),
        None => step("marker", "no", "no idsync ownership marker"),
    });
    let anchor = super::anchor::immutable_id(u, d.source_anchor);
    let hard: Vec<&str> = input
        .cloud
        .iter()
        .filter(|c| c.immutable_id() == Some(anchor.as_str()))
        .map(|c| c.upn())
        .collect();
    steps.push(match hard.as_slice() {
        [] => step(
            "hard",
            "no",
            format!("no cloud user has onPremisesImmutableId {anchor}"),
        ),
        found => step(
            "hard",
            "yes",
            format!("onPremisesImmutableId {anchor} on {}", found.join(", ")),
        ),
    });
    let primary = join::primary_smtp(u);
    let smtp_on = d.soft_match.contains(&SoftMatchKey::Smtp);
    steps.push(match primary {
        None => step("soft_smtp", "no", "no primary SMTP address (SMTP: proxy address)"),
        Some(p) => {
            let found: Vec<&str> = input
                .cloud
                .iter()
                .filter(|c| join::cloud_proxy_smtp(c).any(|x| eq_ci(x, p)))
                .map(|c| c.upn())
                .collect();
            let config = if smtp_on {
                ""
            } else {
                " (matching.soft_match leaves it out, but Entra Connect soft-matches by SMTP anyway)"
            };
            match found.as_slice() {
                [] => step("soft_smtp", "no", format!("no cloud user has the SMTP address {p}")),
                f => step(
                    "soft_smtp",
                    if smtp_on { "yes" } else { "skipped" },
                    format!("{p} is an SMTP address of {}{config}", f.join(", ")),
                ),
            }
        }
    });
    let upn_on = d.soft_match.contains(&SoftMatchKey::Upn) && features.soft_match_on_upn;
    steps.push(match u.upn() {
        None => step("soft_upn", "no", "no userPrincipalName"),
        Some(upn) => {
            let routable = d.routable_upn(upn);
            let found: Vec<&str> = input
                .cloud
                .iter()
                .filter(|c| eq_ci(c.upn(), &routable))
                .map(|c| c.upn())
                .collect();
            let why_off = if !features.soft_match_on_upn {
                " (the tenant's softMatchOnUpnEnabled is off)"
            } else if !upn_on {
                " (matching.soft_match leaves it out)"
            } else {
                ""
            };
            match found.as_slice() {
                [] => step(
                    "soft_upn",
                    "no",
                    format!("no cloud user has the UPN {routable}{why_off}"),
                ),
                f => step(
                    "soft_upn",
                    if upn_on { "yes" } else { "skipped" },
                    format!("{routable} is the UPN of {}{why_off}", f.join(", ")),
                ),
            }
        }
    });
    steps
}

/// Names close to `query` (identity names, sAMAccountNames, UPNs), nearest first, for "did you
/// mean". Edit distance without case, at most a third of the query's length.
pub fn closest(input: PlanInput<'_>, elsewhere: &[AdUser], query: &str) -> Vec<String> {
    use crate::names::upn_local_part;
    let q = crate::names::fold(query);
    let limit = (q.chars().count() / 3).max(2);
    // (what is compared, what is suggested): a UPN is also found by its local part.
    let mut names: Vec<(&str, &str)> = Vec::new();
    for n in input
        .desired
        .identities
        .iter()
        .filter_map(|s| s.name.as_deref())
    {
        names.push((n, n));
    }
    for u in input.ad.iter().chain(elsewhere) {
        names.extend(u.sam_account_name().map(|s| (s, s)));
        if let Some(upn) = u.upn() {
            names.extend([(upn, upn), (upn_local_part(upn), upn)]);
        }
    }
    for c in input.cloud {
        names.extend([(c.upn(), c.upn()), (upn_local_part(c.upn()), c.upn())]);
    }
    let mut scored: Vec<(usize, &str)> = names
        .into_iter()
        .filter_map(|(compared, suggested)| {
            let d = distance(&q, &crate::names::fold(compared));
            (d <= limit).then_some((d, suggested))
        })
        .collect();
    scored.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, n) in scored {
        if !out.iter().any(|o| eq_ci(o, n)) && out.len() < 5 {
            out.push(n.to_owned());
        }
    }
    out
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
