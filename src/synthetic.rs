//! Synthetic hybrid directories of any size, for benchmarks, load tests and demos: hard-matched
//! pairs (some with attribute drift), pairs that need soft-match preparation, cloud-only and
//! AD-only users, out-of-scope users, and a few conflicts and diagnostics — deterministic for a
//! given size and seed.

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::directory::ldif::encode_line;
use crate::directory::{AdUser, CloudUser, Dn, Guid};
use crate::names::AttrName;

pub const BASE_DN: &str = "DC=corp,DC=example,DC=com";
pub const SCOPE_OU: &str = "OU=Staff,DC=corp,DC=example,DC=com";
pub const OTHER_OU: &str = "OU=Legacy,DC=corp,DC=example,DC=com";
pub const PROVISION_OU: &str = "OU=Cloud,OU=Staff,DC=corp,DC=example,DC=com";

/// What identity `i` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Hard-matched and converged.
    Matched,
    /// Hard-matched, with a jobTitle that differs.
    Drifted,
    /// AD on `corp.local`, no mail: soft match by UPN, needs preparation.
    SoftMatch,
    /// Cloud only: provisioned in AD.
    CloudOnly,
    /// AD only: reported.
    AdOnly,
    /// AD, outside the scope OU.
    OutOfScope,
    /// Two AD users with one primary SMTP address (a conflict, two identities).
    DuplicateSmtp,
    /// A UPN with a space (an IdFix `character` error).
    BadUpn,
}

/// How the identities are spread over the kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// A directory idsync already manages: most pairs converged, a little drift and churn
    /// (84% matched, 5% drifted, 3% each soft-match, cloud-only, AD-only, 1% out of scope,
    /// 0.5% each duplicate and bad UPN).
    SteadyState,
    /// The first plan of an unmanaged directory: much to prepare (40% matched, 10% drifted,
    /// 15% each soft-match, cloud-only, AD-only, 4% out of scope, 0.5% each duplicate and bad
    /// UPN).
    FirstRun,
}

impl std::str::FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "steady" | "steady-state" => Ok(Mix::SteadyState),
            "first-run" => Ok(Mix::FirstRun),
            other => Err(format!("unknown mix {other:?}: steady or first-run")),
        }
    }
}

/// What identity `i` is, per 200 identities.
pub fn kind_of(i: usize, mix: Mix) -> Kind {
    match (mix, i % 200) {
        (_, 0) => Kind::DuplicateSmtp,
        (_, 1) => Kind::BadUpn,
        (Mix::SteadyState, 2..=169) => Kind::Matched,
        (Mix::SteadyState, 170..=179) => Kind::Drifted,
        (Mix::SteadyState, 180..=185) => Kind::SoftMatch,
        (Mix::SteadyState, 186..=191) => Kind::CloudOnly,
        (Mix::SteadyState, 192..=197) => Kind::AdOnly,
        (Mix::FirstRun, 2..=81) => Kind::Matched,
        (Mix::FirstRun, 82..=101) => Kind::Drifted,
        (Mix::FirstRun, 102..=131) => Kind::SoftMatch,
        (Mix::FirstRun, 132..=161) => Kind::CloudOnly,
        (Mix::FirstRun, 162..=189) => Kind::AdOnly,
        _ => Kind::OutOfScope,
    }
}

/// A deterministic, random-looking GUID for identity `i` (`salt` tells AD and cloud ids
/// apart). Random-looking matters: base64 anchors that differ only in letter case collide in
/// Entra's uniqueness check, and real GUIDs never come that close.
pub fn guid(i: usize, salt: u8) -> Guid {
    // SplitMix64 over (i, salt): fast, deterministic, well spread.
    let mut x = (i as u64) ^ (u64::from(salt) << 56);
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&next().to_le_bytes());
    b[8..].copy_from_slice(&next().to_le_bytes());
    b[7] = (b[7] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Guid(b)
}

fn cloud_id(i: usize) -> String {
    guid(i, 0xc1).to_string()
}

/// The desired state that goes with the data (snapshot paths relative to a `desired/` folder
/// beside `ad.ldif` and `entra.json`).
pub fn desired_yaml(max_deletes: usize) -> String {
    format!(
        "version: 1\ndirectories:\n  ad: {{ snapshot: ../ad.ldif }}\n  entra: {{ snapshot: ../entra.json }}\nscope:\n  ous: [ \"{SCOPE_OU}\" ]\nupn_suffixes:\n  corp.local: example.com\nattributes:\n  displayName: ad\n  givenName: ad\n  surname: ad\n  jobTitle: ad\n  department: ad\nprovision:\n  ad:\n    enabled: true\n    ou: {PROVISION_OU}\n    sam_account_name: \"{{mailNickname}}\"\ndeprovision:\n  action: report\n  max_deletes: {max_deletes}\n"
    )
}

struct Person {
    given: String,
    sur: String,
    sam: String,
    upn: String,
}

fn person(i: usize) -> Person {
    const GIVEN: &[&str] = &[
        "Ada", "Ben", "Cleo", "Dev", "Emil", "Fay", "Gus", "Hana", "Ivo", "Jun",
    ];
    const SUR: &[&str] = &[
        "Berg", "Costa", "Dahl", "Endo", "Fox", "Gray", "Holm", "Ivers", "Jain", "Kuhn",
    ];
    let given = GIVEN[i % GIVEN.len()].to_owned();
    let sur = format!("{}{}", SUR[(i / GIVEN.len()) % SUR.len()], i);
    let sam = format!("u{i:07}");
    let upn = format!(
        "{}.{}@example.com",
        given.to_lowercase(),
        sur.to_lowercase()
    );
    Person {
        given,
        sur,
        sam,
        upn,
    }
}

fn ad_user(i: usize, p: &Person, kind: Kind) -> AdUser {
    let ou = if kind == Kind::OutOfScope {
        OTHER_OU
    } else {
        SCOPE_OU
    };
    let cn = format!("{} {}", p.given, p.sur);
    // Cannot fail: `ou` is one of two constant DNs.
    let dn = Dn::child("CN", &cn, &Dn::parse(ou).expect("constant DN"));
    let mut u = AdUser::new(dn, guid(i, 0xad));
    u.set_sam_account_name(p.sam.as_str());
    u.user_account_control = Some(512);
    u.usn_changed = Some(10_000 + i as u64);
    let mut set = |name: &str, value: String| {
        u.attributes.push(AttrName::from(name), value);
    };
    set("objectClass", "user".into());
    set("displayName", cn.clone());
    set("givenName", p.given.clone());
    set("sn", p.sur.clone());
    set("title", "Engineer".into());
    set("department", format!("Dept {}", i % 40));
    match kind {
        Kind::SoftMatch => {
            u.set_upn(p.upn.replace("@example.com", "@corp.local").as_str());
        }
        Kind::BadUpn => {
            u.set_upn(p.upn.replace('.', " ").replacen(' ', ".", 1).as_str());
        }
        Kind::DuplicateSmtp => {
            u.set_upn(p.upn.as_str());
            u.set_proxy_addresses([format!("SMTP:shared{}@example.com", i / 200)]);
        }
        _ => {
            u.set_upn(p.upn.as_str());
            u.set_mail(p.upn.as_str());
            u.set_proxy_addresses([format!("SMTP:{}", p.upn)]);
        }
    }
    if matches!(kind, Kind::Matched | Kind::Drifted) {
        u.consistency_guid = Some(u.object_guid.0.into());
    }
    u.attributes.shrink_to_fit();
    u
}

fn cloud_user(i: usize, p: &Person, kind: Kind, anchor: Option<&AdUser>) -> CloudUser {
    let mut c = CloudUser::new(cloud_id(i), &p.upn);
    c.set_mail(p.upn.as_str());
    c.set_mail_nickname(p.upn.split('@').next());
    c.set_proxy_addresses([format!("SMTP:{}", p.upn)]);
    c.account_enabled = Some(true);
    c.set_user_type("Member");
    c.set_immutable_id(anchor.map(|a| a.object_guid.to_base64()).as_deref());
    let title = if kind == Kind::Drifted {
        "Senior Engineer"
    } else {
        "Engineer"
    };
    for (k, v) in [
        ("displayName", format!("{} {}", p.given, p.sur)),
        ("givenName", p.given.clone()),
        ("surname", p.sur.clone()),
        ("jobTitle", title.to_owned()),
        ("department", format!("Dept {}", i % 40)),
        ("usageLocation", "US".to_owned()),
    ] {
        c.properties.insert(k, Value::String(v));
    }
    c.properties.shrink_to_fit();
    c
}

/// Identity `i` as its AD and cloud objects (either may be absent; a duplicate pair has two
/// AD objects).
pub fn identity(i: usize, mix: Mix) -> (Vec<AdUser>, Option<CloudUser>) {
    let p = person(i);
    let kind = kind_of(i, mix);
    match kind {
        Kind::Matched | Kind::Drifted => {
            let a = ad_user(i, &p, kind);
            let c = cloud_user(i, &p, kind, Some(&a));
            (vec![a], Some(c))
        }
        Kind::SoftMatch | Kind::BadUpn => {
            let a = ad_user(i, &p, kind);
            (vec![a], Some(cloud_user(i, &p, kind, None)))
        }
        Kind::CloudOnly => (vec![], Some(cloud_user(i, &p, kind, None))),
        Kind::AdOnly | Kind::OutOfScope => (vec![ad_user(i, &p, kind)], None),
        Kind::DuplicateSmtp => {
            let a = ad_user(i, &p, kind);
            let mut twin_person = person(i);
            twin_person.sam = format!("{}b", p.sam);
            twin_person.upn = p.upn.replace('@', ".b@");
            twin_person.sur = format!("{}b", p.sur);
            let mut b = ad_user(i, &twin_person, kind);
            b.object_guid = guid(i, 0xae);
            (vec![a, b], None)
        }
    }
}

/// The whole directory of `n` identities, in memory.
pub fn generate(n: usize, mix: Mix) -> (Vec<AdUser>, Vec<CloudUser>) {
    let mut ad = Vec::with_capacity(n);
    let mut cloud = Vec::with_capacity(n);
    for i in 0..n {
        let (a, c) = identity(i, mix);
        ad.extend(a);
        cloud.extend(c);
    }
    (ad, cloud)
}

/// Writes an AD user as an LDIF entry. `with_guid: false` leaves objectGUID out (a DC assigns
/// it on `ldapadd`).
pub fn write_ldif_entry(out: &mut impl Write, u: &AdUser, with_guid: bool) -> io::Result<()> {
    let eol = b"\n";
    out.write_all(&encode_line("dn", u.dn.as_str().as_bytes(), eol))?;
    for class in ["top", "person", "organizationalPerson", "user"] {
        out.write_all(&encode_line("objectClass", class.as_bytes(), eol))?;
    }
    if with_guid {
        out.write_all(&encode_line("objectGUID", &u.object_guid.0, eol))?;
        if let Some(usn) = u.usn_changed {
            out.write_all(&encode_line("uSNChanged", usn.to_string().as_bytes(), eol))?;
        }
    }
    if let Some(cg) = u.consistency_guid() {
        out.write_all(&encode_line("mS-DS-ConsistencyGuid", cg, eol))?;
    }
    if let Some(s) = u.sam_account_name() {
        out.write_all(&encode_line("sAMAccountName", s.as_bytes(), eol))?;
    }
    if let Some(s) = u.upn() {
        out.write_all(&encode_line("userPrincipalName", s.as_bytes(), eol))?;
    }
    if let Some(s) = u.mail() {
        out.write_all(&encode_line("mail", s.as_bytes(), eol))?;
    }
    for p in u.proxy_addresses() {
        out.write_all(&encode_line("proxyAddresses", p.as_bytes(), eol))?;
    }
    if let Some(uac) = u.user_account_control.filter(|_| with_guid) {
        out.write_all(&encode_line(
            "userAccountControl",
            uac.to_string().as_bytes(),
            eol,
        ))?;
    }
    // The attributes with accessors were written above.
    let others = u
        .attributes
        .iter()
        .filter(|(name, _)| !AdUser::WITH_ACCESSORS.contains(name));
    for (name, value) in others {
        if name != AttrName::OBJECT_CLASS {
            out.write_all(&encode_line(name.as_str(), value.as_bytes(), eol))?;
        }
    }
    out.write_all(eol)
}

/// The OUs the data lives in, as LDIF (for a DC's bulk load).
pub fn write_ous_ldif(out: &mut impl Write) -> io::Result<()> {
    for (dn, ou) in [
        (SCOPE_OU, "Staff"),
        (PROVISION_OU, "Cloud"),
        (OTHER_OU, "Legacy"),
    ] {
        writeln!(
            out,
            "dn: {dn}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {ou}\n"
        )?;
    }
    Ok(())
}

/// A cloud user as Graph returns it.
pub fn cloud_json(c: &CloudUser) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id()));
    m.insert("userPrincipalName".into(), json!(c.upn()));
    m.insert("mail".into(), json!(c.mail()));
    m.insert("mailNickname".into(), json!(c.mail_nickname()));
    let proxies: Vec<&str> = c.proxy_addresses().collect();
    m.insert("proxyAddresses".into(), json!(proxies));
    m.insert("onPremisesImmutableId".into(), json!(c.immutable_id()));
    m.insert(
        "onPremisesSyncEnabled".into(),
        json!(c.sync_enabled.then_some(true)),
    );
    m.insert("accountEnabled".into(), json!(c.account_enabled));
    m.insert("userType".into(), json!(c.user_type()));
    for (k, v) in c.other_properties() {
        m.insert(k.to_owned(), v.to_value());
    }
    Value::Object(m)
}

/// Writes `{"value": [...]}` one user at a time (no whole-document buffer).
pub fn write_cloud_json(
    out: &mut impl Write,
    users: impl IntoIterator<Item = CloudUser>,
) -> io::Result<()> {
    out.write_all(b"{\"value\": [\n")?;
    for (n, c) in users.into_iter().enumerate() {
        if n > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *out, &cloud_json(&c))?;
    }
    out.write_all(b"\n]}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::load;
    use crate::engine::{PlanInput, plan};

    #[test]
    fn the_mix_plans_every_kind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("d.yaml"), desired_yaml(100)).unwrap();
        let desired = load(dir.path()).unwrap();
        let (ad, cloud) = generate(400, Mix::FirstRun);
        let p = plan(PlanInput {
            desired: &desired,
            ad: &ad,
            cloud: &cloud,
            taken: &[],
            reads: Default::default(),
            tenant: &Default::default(),
            groups: Default::default(),
        })
        .unwrap();
        assert!(p.summary.create > 0 && p.summary.update > 0 && p.summary.link > 0);
        assert!(
            p.summary.conflict > 0 && p.error_count() > 0,
            "{:?}",
            p.summary
        );
        assert!(
            p.notes
                .iter()
                .any(|n| n.kind == crate::plan::NoteKind::Unmatched)
        );
    }

    #[test]
    fn files_round_trip_through_the_snapshot_readers() {
        let (ad, cloud) = generate(250, Mix::FirstRun);
        let mut ldif = Vec::new();
        for u in &ad {
            write_ldif_entry(&mut ldif, u, true).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ad.ldif"), &ldif).unwrap();
        let mut json = Vec::new();
        write_cloud_json(&mut json, cloud.clone()).unwrap();
        std::fs::write(dir.path().join("entra.json"), &json).unwrap();
        let ad_snap =
            crate::directory::snapshot::AdSnapshot::open(dir.path().join("ad.ldif")).unwrap();
        let read = ad_snap
            .users(&crate::directory::AdQuery::default())
            .unwrap();
        assert_eq!(read.len(), ad.len());
        assert_eq!(read[3].object_guid, ad[3].object_guid);
        let entra =
            crate::directory::snapshot::EntraSnapshot::open(dir.path().join("entra.json")).unwrap();
        assert_eq!(entra.users().unwrap(), cloud);
    }
}
