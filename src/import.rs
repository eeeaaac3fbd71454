//! Bootstrap: `identities:` YAML for what is joined today, so a team can start a desired state
//! from its current directories. Keys are the stable ones (sAMAccountName, or objectGUID; the
//! cloud object id), so later renames do not break the pairs; the readable names ride along as
//! comments. Objects that are not joined are listed in comments, not as identities.
//!
//! Groups follow as a `groups:` section ([`groups_yaml`]), so a tenant's groups are adopted in
//! one step.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::desired::{AdGroupSelector, DesiredState, EntraGroupSelector};
use crate::directory::{AdContact, AdGroup, AdUser, CloudContact, CloudGroup, CloudUser};
use crate::engine::join::{self, MatchKind};
use crate::names::{cmp_ci, eq_ci, fold};
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

// --- groups ---------------------------------------------------------------------------------

/// The groups read from both directories, for [`groups_yaml`].
pub struct GroupsInput<'a> {
    pub ad: &'a [AdGroup],
    pub cloud: &'a [CloudGroup],
    pub ad_contacts: &'a [AdContact],
    pub cloud_contacts: &'a [CloudContact],
}

/// The YAML text of a `groups:` section (empty when no group is read that `groups[]` does not
/// name already): one entry per group, paired when the two sides are obviously the same group
/// (a synced cloud group whose `onPremisesSecurityIdentifier` is the AD group's `objectSid`, or
/// two mail-enabled groups with the same primary SMTP address, each pair unique), one-sided
/// otherwise. Members are named as the desired state names them: an identity's `name`, else
/// the UPN (how a plan names an identity that has none), nested groups as `group:NAME`. A group
/// with a member that cannot be named (a contact, a device, an object out of scope, a nesting
/// that would make a cycle) keeps its list commented out: as an exact set it would remove them.
pub fn groups_yaml(
    desired: &DesiredState,
    ad: &[AdUser],
    cloud: &[CloudUser],
    groups: &GroupsInput<'_>,
    from: Side,
) -> String {
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
    // How members are named: per AD DN and per cloud object id.
    let mut by_dn: HashMap<&crate::directory::Dn, String> = HashMap::new();
    let mut by_id: HashMap<String, String> = HashMap::new();
    for j in &joined.joints {
        let spec_name = j.spec().and_then(|s| desired.identities[s].name.as_deref());
        let (a, c) = (j.ad().map(|i| &ad[i]), j.cloud().map(|i| &cloud[i]));
        let name = spec_name
            .map(str::to_owned)
            .or_else(|| c.map(|c| c.upn().to_owned()))
            .or_else(|| a.and_then(|a| a.upn()).map(str::to_owned));
        let Some(name) = name else { continue };
        if let Some(a) = a {
            by_dn.insert(&a.dn, name.clone());
        }
        if let Some(c) = c {
            by_id.insert(fold(c.id()), name);
        }
    }

    // Pairs, then one-sided entries, skipping groups `groups[]` already names.
    let named_ad = |g: &AdGroup| {
        desired
            .groups
            .iter()
            .any(|s| s.ad.as_ref().is_some_and(|sel| ad_group_matches(sel, g)))
    };
    let named_cloud = |g: &CloudGroup| {
        desired.groups.iter().any(|s| {
            s.entra
                .as_ref()
                .is_some_and(|sel| cloud_group_matches(sel, g))
        })
    };
    let mut by_sid: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_smtp: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in groups.cloud.iter().enumerate() {
        if let Some(sid) = c.on_premises_sid.as_deref().filter(|_| c.sync_enabled) {
            by_sid.entry(fold(sid)).or_default().push(i);
        }
        if let Some(smtp) = c.primary_smtp() {
            by_smtp.entry(fold(smtp.as_str())).or_default().push(i);
        }
    }
    let mut ad_smtp_count: HashMap<String, usize> = HashMap::new();
    for a in groups.ad {
        if let Some(smtp) = a.primary_smtp() {
            *ad_smtp_count.entry(fold(smtp.as_str())).or_default() += 1;
        }
    }
    let mut cloud_taken = vec![false; groups.cloud.len()];
    let mut entries: Vec<Entry> = Vec::new();
    for (i, a) in groups.ad.iter().enumerate() {
        let sid = a
            .object_sid
            .as_deref()
            .and_then(|s| by_sid.get(&fold(s)))
            .filter(|c| c.len() == 1)
            .map(|c| {
                (
                    c[0],
                    "synced: its onPremisesSecurityIdentifier is this group's objectSid",
                )
            });
        let smtp = || {
            let key = fold(a.primary_smtp()?.as_str());
            let c = by_smtp.get(&key).filter(|c| c.len() == 1)?;
            (ad_smtp_count.get(&key) == Some(&1)).then_some((
                c[0],
                "mail-enabled on both sides with the same primary SMTP address",
            ))
        };
        let pair = sid.or_else(smtp).filter(|(c, _)| !cloud_taken[*c]);
        if let Some((c, _)) = pair {
            cloud_taken[c] = true;
        }
        let cloud_group = pair.map(|(c, _)| &groups.cloud[c]);
        if named_ad(a) || cloud_group.is_some_and(named_cloud) {
            continue;
        }
        entries.push(Entry {
            ad: Some(i),
            cloud: pair.map(|(c, _)| c),
            why: pair.map(|(_, why)| why),
            name: String::new(),
        });
    }
    for (c, g) in groups.cloud.iter().enumerate() {
        if !cloud_taken[c] && !named_cloud(g) {
            entries.push(Entry {
                ad: None,
                cloud: Some(c),
                why: None,
                name: String::new(),
            });
        }
    }
    if entries.is_empty() {
        return String::new();
    }

    // Names, unique without case among themselves and the desired state's groups.
    let mut used: HashMap<String, ()> =
        desired.groups.iter().map(|g| (fold(&g.name), ())).collect();
    for e in &mut entries {
        let a = e.ad.map(|i| &groups.ad[i]);
        let c = e.cloud.map(|i| &groups.cloud[i]);
        let base = a
            .and_then(AdGroup::sam_account_name)
            .or_else(|| {
                c.map(|c| c.display_name.as_str())
                    .filter(|n| !n.trim().is_empty())
            })
            .or_else(|| a.and_then(AdGroup::display_name))
            .or_else(|| c.and_then(|c| c.mail_nickname.as_deref()))
            .map(str::to_owned)
            .unwrap_or_else(|| {
                c.map_or_else(
                    || a.map_or(String::new(), |a| a.object_guid.to_string()),
                    |c| c.id.clone(),
                )
            });
        let mut name = base.trim().to_owned();
        let mut n = 2;
        while used.contains_key(&fold(&name)) {
            name = format!("{} ({n})", base.trim());
            n += 1;
        }
        used.insert(fold(&name), ());
        e.name = name;
    }
    let mut group_by_dn: HashMap<&crate::directory::Dn, &str> = HashMap::new();
    let mut group_by_id: HashMap<String, &str> = HashMap::new();
    for s in &desired.groups {
        for g in groups.ad {
            if s.ad.as_ref().is_some_and(|sel| ad_group_matches(sel, g)) {
                group_by_dn.insert(&g.dn, &s.name);
            }
        }
        for g in groups.cloud {
            if s.entra
                .as_ref()
                .is_some_and(|sel| cloud_group_matches(sel, g))
            {
                group_by_id.insert(fold(&g.id), &s.name);
            }
        }
    }
    for e in &entries {
        if let Some(a) = e.ad {
            group_by_dn.insert(&groups.ad[a].dn, &e.name);
        }
        if let Some(c) = e.cloud {
            group_by_id.insert(fold(&groups.cloud[c].id), &e.name);
        }
    }
    let contact_dns: HashMap<&crate::directory::Dn, ()> =
        groups.ad_contacts.iter().map(|c| (&c.dn, ())).collect();
    let contact_ids: HashMap<String, ()> = groups
        .cloud_contacts
        .iter()
        .map(|c| (fold(&c.id), ()))
        .collect();

    // Each entry's members: (name or why not), from the leading side when it has the group.
    let side_of = |e: &Entry| match (from, e.ad, e.cloud) {
        (Side::Ad, Some(_), _) | (_, Some(_), None) => Side::Ad,
        _ => Side::Entra,
    };
    let mut members: Vec<Option<Vec<Result<String, String>>>> = Vec::with_capacity(entries.len());
    for e in &entries {
        let list = match side_of(e) {
            Side::Ad => groups.ad[e.ad.unwrap_or_default()].members.as_ref().map(|m| {
                m.iter()
                    .map(|dn| {
                        if let Some(name) = by_dn.get(dn) {
                            Ok(name.clone())
                        } else if let Some(g) = group_by_dn.get(dn) {
                            Ok(format!("group:{g}"))
                        } else if contact_dns.contains_key(dn) {
                            Err(format!("{dn} (a contact)"))
                        } else {
                            Err(format!("{dn} (not an in-scope user or group read)"))
                        }
                    })
                    .collect()
            }),
            Side::Entra => groups.cloud[e.cloud.unwrap_or_default()].members.as_ref().map(|m| {
                m.iter()
                    .map(|id| {
                        let key = fold(id);
                        if let Some(name) = by_id.get(&key) {
                            Ok(name.clone())
                        } else if let Some(g) = group_by_id.get(&key) {
                            Ok(format!("group:{g}"))
                        } else if contact_ids.contains_key(&key) {
                            Err(format!("{id} (a contact)"))
                        } else {
                            Err(format!("{id} (not a user or group read: a device or service principal?)"))
                        }
                    })
                    .collect()
            }),
        };
        members.push(list);
    }
    break_cycles(&entries, &mut members);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n# Groups read today and not yet in groups[]; members as the {} side has them.",
        from.as_str()
    );
    out.push_str("groups:\n");
    for (e, list) in entries.iter().zip(&members) {
        let a = e.ad.map(|i| &groups.ad[i]);
        let c = e.cloud.map(|i| &groups.cloud[i]);
        match (e.why, a, c) {
            (Some(why), _, _) => {
                let _ = writeln!(out, "  # paired ({why})");
            }
            (None, Some(_), None) => out.push_str("  # AD only\n"),
            _ => out.push_str("  # cloud only\n"),
        }
        let _ = writeln!(out, "  - name: {}", quote(&e.name));
        let ad_line = a.map(|a| {
            let key = match a.sam_account_name() {
                Some(sam) => format!("{{ sam_account_name: {} }}", quote(sam)),
                None => format!("{{ object_guid: {} }}", quote(&a.object_guid.to_string())),
            };
            format!("    ad: {key}    # {}", one_line(a.dn.as_str()))
        });
        let entra_line = c.map(|c| {
            format!(
                "    entra: {{ id: {} }}    # {}",
                quote(&c.id),
                one_line(&c.display_name)
            )
        });
        let lines: Vec<String> = match from {
            Side::Ad => [ad_line, entra_line],
            Side::Entra => [entra_line, ad_line],
        }
        .into_iter()
        .flatten()
        .collect();
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
        let security = match (a.and_then(AdGroup::is_security), c) {
            (Some(s), _) => s,
            (None, Some(c)) => c.security_enabled,
            (None, None) => true,
        };
        let _ = writeln!(
            out,
            "    type: {}",
            if security { "security" } else { "distribution" }
        );
        let Some(list) = list else {
            let _ = writeln!(
                out,
                "    # members: not read (the {} export does not carry them); memberships stay unmanaged",
                side_of(e).as_str()
            );
            continue;
        };
        let mut seen: HashMap<String, ()> = HashMap::new();
        let named: Vec<&String> = list
            .iter()
            .filter_map(|m| m.as_ref().ok())
            .filter(|n| seen.insert(fold(n), ()).is_none())
            .collect();
        let unnamed: Vec<&String> = list.iter().filter_map(|m| m.as_ref().err()).collect();
        if unnamed.is_empty() {
            if named.is_empty() {
                out.push_str("    members: []\n");
            } else {
                out.push_str("    members:\n");
                for n in named {
                    let _ = writeln!(out, "      - {}", quote(n));
                }
            }
            continue;
        }
        let _ = writeln!(
            out,
            "    # members: left commented out: {} member(s) below have no name here, and as the exact set the list would remove them",
            unnamed.len()
        );
        for u in unnamed {
            let _ = writeln!(out, "    #   not named: {}", one_line(u));
        }
        out.push_str("    # members:\n");
        for n in named {
            let _ = writeln!(out, "    #   - {}", quote(n));
        }
    }
    out
}

/// A group of [`groups_yaml`]: its sides (indexes into the groups read) and its name.
struct Entry {
    ad: Option<usize>,
    cloud: Option<usize>,
    why: Option<&'static str>,
    name: String,
}

/// Turns every `group:` member that closes a nesting cycle into a member that cannot be named
/// (AD allows cycles; the desired state does not), iteratively.
fn break_cycles(entries: &[Entry], members: &mut [Option<Vec<Result<String, String>>>]) {
    let index: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (fold(&e.name), i))
        .collect();
    let target = |m: &Result<String, String>| {
        m.as_ref()
            .ok()
            .and_then(|n| n.strip_prefix("group:"))
            .and_then(|g| index.get(&fold(g)).copied())
    };
    // 0 unvisited, 1 on the path, 2 done.
    let mut state = vec![0u8; entries.len()];
    for start in 0..entries.len() {
        if state[start] != 0 {
            continue;
        }
        state[start] = 1;
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(top) = stack.last_mut() {
            let (node, k) = (top.0, top.1);
            let Some(m) = members[node].as_ref().and_then(|l| l.get(k)) else {
                state[node] = 2;
                stack.pop();
                continue;
            };
            top.1 += 1;
            let Some(to) = target(m) else { continue };
            match state[to] {
                0 => {
                    state[to] = 1;
                    stack.push((to, 0));
                }
                1 => {
                    let name = entries[to].name.clone();
                    if let Some(l) = members[node].as_mut() {
                        l[k] = Err(format!(
                            "group:{name} (nesting it here would make the group contain itself)"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
}

fn ad_group_matches(sel: &AdGroupSelector, g: &AdGroup) -> bool {
    match sel {
        AdGroupSelector::SamAccountName(s) => {
            g.sam_account_name().is_some_and(|n| eq_ci(n, s.as_str()))
        }
        AdGroupSelector::Dn(dn) => &g.dn == dn,
        AdGroupSelector::ObjectGuid(guid) => &g.object_guid == guid,
    }
}

fn cloud_group_matches(sel: &EntraGroupSelector, g: &CloudGroup) -> bool {
    match sel {
        EntraGroupSelector::Id(id) => eq_ci(id, &g.id),
        EntraGroupSelector::Mail(m) => {
            g.mail
                .as_deref()
                .is_some_and(|mail| eq_ci(mail, m.as_str()))
                || g.primary_smtp().is_some_and(|s| s == *m)
        }
        EntraGroupSelector::DisplayName(n) => eq_ci(n, &g.display_name),
    }
}

/// A value for a YAML comment: on one line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{GroupSpec, MemberRef, Membership};
    use crate::directory::Dn;
    use crate::directory::model::{AdContact, Guid};
    use crate::names::AttrName;
    use serde_json::json;

    const BASE: &str = "version: 1\nscope:\n  ous: [\"OU=Staff,DC=x\"]\nidentities:\n  - name: adam\n    entra: { upn: adam@x.com }\n";

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    fn guid(n: u8) -> Guid {
        Guid::parse(&format!("00000000-0000-0000-0000-0000000000{n:02x}")).unwrap()
    }

    fn ad_user(n: u8, cn: &str, sam: &str, upn: &str) -> AdUser {
        let mut u = AdUser::new(dn(&format!("CN={cn},OU=Staff,DC=x")), guid(n));
        u.attributes.push(AttrName::SAM_ACCOUNT_NAME, sam);
        u.attributes.push(AttrName::USER_PRINCIPAL_NAME, upn);
        u
    }

    fn cloud_user(id: &str, upn: &str) -> CloudUser {
        CloudUser::from_graph(
            json!({"id": id, "userPrincipalName": upn})
                .as_object()
                .unwrap(),
        )
        .unwrap()
    }

    fn ad_group(n: u8, cn: &str, members: &[&str]) -> AdGroup {
        let mut g = AdGroup::new(dn(&format!("CN={cn},OU=Staff,DC=x")), guid(n));
        g.attributes.push(AttrName::SAM_ACCOUNT_NAME, cn);
        g.group_type = Some(crate::directory::model::GROUP_TYPE_SECURITY | 2);
        g.members = Some(members.iter().map(|m| dn(m)).collect());
        g
    }

    fn cloud_group(v: serde_json::Value) -> CloudGroup {
        CloudGroup::from_graph(v.as_object().unwrap()).unwrap()
    }

    fn load(files: &[(&str, &str)]) -> Result<DesiredState, crate::desired::LoadError> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        crate::desired::load(dir.path())
    }

    #[test]
    fn groups_are_written_paired_named_and_load_back() {
        let desired = load(&[("a.yaml", BASE)]).unwrap();
        let ad = [
            ad_user(1, "Adam", "aanderson", "adam@x.com"),
            ad_user(2, "Bob", "bob", "bob@x.com"),
        ];
        let cloud = [
            cloud_user("u-adam", "adam@x.com"),
            cloud_user("u-bob", "bob@x.com"),
            cloud_user("u-carol", "carol@x.com"),
        ];
        let mut sales = ad_group(
            10,
            "Sales",
            &[
                "CN=Adam,OU=Staff,DC=x",
                "CN=Bob,OU=Staff,DC=x",
                "CN=Nested,OU=Staff,DC=x",
            ],
        );
        sales.object_sid = Some("S-1-5-21-1-2-3-1001".into());
        let nested = ad_group(11, "Nested", &["CN=Sales,OU=Staff,DC=x"]);
        let mut mailers = ad_group(12, "Mailers", &["CN=Partner,OU=Staff,DC=x"]);
        mailers.group_type = Some(crate::directory::model::GROUP_TYPE_UNIVERSAL);
        mailers
            .attributes
            .push(AttrName::PROXY_ADDRESSES, "SMTP:mailers@x.com");
        let unread = AdGroup {
            members: None,
            ..ad_group(13, "Unread", &[])
        };
        let ad_groups = [sales, nested, mailers, unread];
        let cloud_groups = [
            cloud_group(
                json!({"id": "g-sales", "displayName": "Sales", "securityEnabled": true,
                "onPremisesSyncEnabled": true, "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1001",
                "members": [{"id": "u-adam"}]}),
            ),
            cloud_group(
                json!({"id": "g-mailers", "displayName": "Mailers", "mailEnabled": true,
                "mail": "mailers@x.com", "proxyAddresses": ["SMTP:mailers@x.com"], "members": []}),
            ),
            cloud_group(
                json!({"id": "g-team", "displayName": "Team", "securityEnabled": true,
                "members": [{"id": "u-carol"}, {"id": "u-adam"}, {"id": "g-sales"}]}),
            ),
            cloud_group(
                json!({"id": "g-devices", "displayName": "Devices", "securityEnabled": true,
                "members": [{"id": "u-carol"}, {"id": "device-1"}]}),
            ),
        ];
        let contacts = [AdContact::new(dn("CN=Partner,OU=Staff,DC=x"), guid(20))];
        let input = GroupsInput {
            ad: &ad_groups,
            cloud: &cloud_groups,
            ad_contacts: &contacts,
            cloud_contacts: &[],
        };
        let yaml = groups_yaml(&desired, &ad, &cloud, &input, Side::Ad);
        for expected in [
            "  # paired (synced: its onPremisesSecurityIdentifier is this group's objectSid)\n  - name: \"Sales\"\n    ad: { sam_account_name: \"Sales\" }    # CN=Sales,OU=Staff,DC=x\n    entra: { id: \"g-sales\" }    # Sales\n    type: security\n    members:\n      - \"adam\"\n      - \"bob@x.com\"\n      - \"group:Nested\"\n",
            "  # AD only\n  - name: \"Nested\"",
            "    #   not named: group:Sales (nesting it here would make the group contain itself)\n",
            "  # paired (mail-enabled on both sides with the same primary SMTP address)\n  - name: \"Mailers\"",
            "    type: distribution\n    # members: left commented out: 1 member(s) below have no name here",
            "    #   not named: CN=Partner,OU=Staff,DC=x (a contact)\n",
            "    # members: not read (the ad export does not carry them)",
            "  # cloud only\n  - name: \"Team\"\n    entra: { id: \"g-team\" }    # Team\n    type: security\n    members:\n      - \"carol@x.com\"\n      - \"adam\"\n      - \"group:Sales\"\n",
            "    #   not named: device-1 (not a user or group read: a device or service principal?)\n",
        ] {
            assert!(yaml.contains(expected), "{expected}\n---\n{yaml}");
        }

        // The written file loads back, next to the desired state it was made from.
        let state =
            load(&[("a.yaml", BASE), ("b.yaml", &yaml)]).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let by_name =
            |n: &str| -> &GroupSpec { state.groups.iter().find(|g| g.name == n).unwrap() };
        assert_eq!(
            by_name("Sales").members,
            Membership::Exact(vec![
                MemberRef::Identity("adam".into()),
                MemberRef::Upn(crate::names::Upn::new("bob@x.com")),
                MemberRef::Group("Nested".into()),
            ])
        );
        assert_eq!(by_name("Nested").members, Membership::Unmanaged);
        assert_eq!(by_name("Devices").members, Membership::Unmanaged);
        assert_eq!(state.groups.len(), 6);

        // Imported again with them in the desired state: nothing left to write.
        assert_eq!(groups_yaml(&state, &ad, &cloud, &input, Side::Ad), "");
    }

    #[test]
    fn names_stay_unique_and_the_leading_side_gives_the_members() {
        let desired = load(&[(
            "a.yaml",
            &format!("{BASE}groups:\n  - name: team\n    entra: {{ display_name: Other }}\n"),
        )])
        .unwrap();
        let cloud = [cloud_user("u-adam", "adam@x.com")];
        let groups = [
            cloud_group(
                json!({"id": "g1", "displayName": "Team", "securityEnabled": true, "members": [{"id": "u-adam"}]}),
            ),
            cloud_group(
                json!({"id": "g2", "displayName": "team", "securityEnabled": false, "members": []}),
            ),
        ];
        let input = GroupsInput {
            ad: &[],
            cloud: &groups,
            ad_contacts: &[],
            cloud_contacts: &[],
        };
        let yaml = groups_yaml(&desired, &[], &cloud, &input, Side::Entra);
        assert!(yaml.contains("  - name: \"Team (2)\"\n"), "{yaml}");
        assert!(yaml.contains("  - name: \"team (3)\"\n"), "{yaml}");
        assert!(
            yaml.contains("    type: distribution\n    members: []\n"),
            "{yaml}"
        );
        let a = format!("{BASE}groups:\n  - name: team\n    entra: {{ display_name: Other }}\n");
        load(&[("a.yaml", &a), ("b.yaml", &yaml)]).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    }
}
