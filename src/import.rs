//! Bootstrap: `identities:` YAML for what is joined today, so a team can start a desired state
//! from its current directories. Keys are the stable ones (sAMAccountName, or objectGUID; the
//! cloud object id), so later renames do not break the pairs; the readable names ride along as
//! comments. Objects that are not joined are listed in comments, not as identities.

use std::fmt::Write as _;

use crate::desired::DesiredState;
use crate::directory::{AdUser, CloudUser};
use crate::engine::join::{self, MatchKind};
use crate::names::cmp_ci;
use crate::plan::Side;

/// The YAML text of an `identities:` file. `from` decides the order and which key comes first.
pub fn identities_yaml(
    desired: &DesiredState,
    ad: &[AdUser],
    cloud: &[CloudUser],
    from: Side,
) -> String {
    // Bootstrap pairs what is joined today; the tenant's refusals are the plan's business.
    let tenant = crate::directory::Tenant::default();
    let joined = join::join(
        desired,
        ad,
        cloud,
        join::JoinContext {
            tenant: &tenant,
            ad_unread: &[],
        },
    );
    let mut pairs: Vec<(&AdUser, &CloudUser, MatchKind)> = Vec::new();
    let mut ad_only: Vec<&AdUser> = Vec::new();
    let mut cloud_only: Vec<&CloudUser> = Vec::new();
    for j in &joined.joints {
        match (j.ad(), j.cloud(), j.how) {
            // Identities the desired state already names stay where they are.
            _ if j.spec().is_some() => {}
            (Some(a), Some(c), Some(how)) => pairs.push((&ad[a], &cloud[c], how)),
            (Some(a), None, _) => ad_only.push(&ad[a]),
            (None, Some(c), _) => cloud_only.push(&cloud[c]),
            _ => {}
        }
    }
    match from {
        Side::Ad => pairs.sort_by(|x, y| x.0.dn.cmp(&y.0.dn)),
        Side::Entra => pairs.sort_by(|x, y| cmp_ci(x.1.upn(), y.1.upn())),
    }
    ad_only.sort_by(|x, y| x.dn.cmp(&y.dn));
    cloud_only.sort_by(|x, y| cmp_ci(x.upn(), y.upn()));

    let mut out = String::new();
    out.push_str("# yaml-language-server: $schema=../schema/idsync.schema.json\n");
    let _ = writeln!(
        out,
        "#\n# Written by `idsync import --from {}`: the pairs joined today, with stable keys.",
        from.as_str()
    );
    out.push_str("# Review it, then keep it in the desired-state folder; planning with it changes nothing.\n");
    if pairs.is_empty() {
        out.push_str("identities: []\n");
    } else {
        out.push_str("identities:\n");
    }
    for (a, c, how) in &pairs {
        let ad_key = match a.sam_account_name() {
            Some(sam) => format!("{{ sam_account_name: {} }}", quote(sam)),
            None => format!("{{ object_guid: {} }}", quote(&a.object_guid.to_string())),
        };
        let entra_key = format!("{{ id: {} }}", quote(c.id()));
        let lines = [
            format!("    ad: {ad_key}    # {}", a.dn),
            format!("    entra: {entra_key}    # {}", c.upn()),
        ];
        let _ = writeln!(
            out,
            "  # {} ({})",
            c.upn(),
            match how {
                MatchKind::Explicit => "explicit",
                MatchKind::Marker => "created by idsync",
                MatchKind::Hard => "hard match",
                MatchKind::Soft(crate::desired::SoftMatchKey::Smtp) => "soft match on SMTP",
                MatchKind::Soft(crate::desired::SoftMatchKey::Upn) => "soft match on UPN",
            }
        );
        let (first, second) = match from {
            Side::Ad => (&lines[0], &lines[1]),
            Side::Entra => (&lines[1], &lines[0]),
        };
        let _ = writeln!(out, "  - {}\n{second}", first.trim_start());
    }
    if !ad_only.is_empty() {
        out.push_str("\n# In-scope AD users with no cloud twin (not listed as identities):\n");
        for a in ad_only {
            let key = a
                .sam_account_name()
                .map_or(a.object_guid.to_string(), str::to_owned);
            let _ = writeln!(out, "#   {key}    {}", a.dn);
        }
    }
    if !cloud_only.is_empty() {
        out.push_str("\n# Cloud users with no AD twin (not listed as identities):\n");
        for c in cloud_only {
            let _ = writeln!(out, "#   {}    id {}", c.upn(), c.id());
        }
    }
    if !joined.conflicts.is_empty() {
        out.push_str("\n# Not joined because of a conflict (see `idsync plan`):\n");
        for k in &joined.conflicts {
            let _ = writeln!(out, "#   {}: {}", k.identity, k.message.replace('\n', " "));
        }
    }
    out
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(s: &str) -> String {
    // Cannot fail: a `str` always serializes to JSON.
    serde_json::to_string(s).expect("strings serialize")
}
