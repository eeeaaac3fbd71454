//! Opening the configured directories behind the read and write traits: a snapshot file,
//! live AD over LDAP, or live Entra over Microsoft Graph.
//!
//! The traits use `async fn`, which cannot be called through `dyn`, so each side is an enum
//! that forwards to its implementation.

use std::path::PathBuf;
use std::sync::Arc;

use crate::desired::{AdConfig, DesiredState, EntraConfig};
use crate::directory::graph::GraphDirectory;
use crate::directory::ldap::LdapDirectory;
use crate::directory::snapshot::{AdPlanRead, AdSnapshot, EntraPlanRead, EntraSnapshot};
use crate::directory::tenant_docs::{self, TenantDocs};
use crate::directory::{
    AdContact, AdCreate, AdGroup, AdGroupCreate, AdGroupRead, AdGroupWrite, AdMod, AdQuery,
    AdTakenRead, AdUser, AdUserRead, AdUserWrite, CloudContact, CloudGroup, CloudUser,
    DirectoryError, Dn, EntraGroupRead, EntraGroupWrite, EntraOp, EntraUserRead, EntraUserWrite,
    Flush, Guid, ProgressSink, Taken, TakenQuery, Tenant, TenantRead,
};
use crate::engine::{AD_BASE_ATTRIBUTES, AD_REQUIRED_ATTRIBUTES, attribute_names_needed};
use crate::names::AttrName;
use crate::parallel::both;

/// Where each directory comes from, after command-line overrides.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub ad_snapshot: Option<PathBuf>,
    pub entra_snapshot: Option<PathBuf>,
}

/// Why a directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no AD directory: set directories.ad (url or snapshot) in the desired state, or pass --ad-snapshot"
    )]
    NoAd,
    #[error(
        "no Entra directory: set directories.entra (tenant or snapshot) in the desired state, or pass --entra-snapshot"
    )]
    NoEntra,
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// The AD side, whichever implementation.
#[allow(clippy::large_enum_variant)] // one per run; boxing would buy nothing
pub enum AdDirectory {
    Snapshot(AdSnapshot),
    /// An export opened by a command that only reads it (see [`open_to_read`]).
    Export(AdPlanRead),
    Ldap(LdapDirectory),
}

/// The Entra side, whichever implementation.
#[allow(clippy::large_enum_variant)] // one per run; boxing would buy nothing
pub enum EntraDirectory {
    Snapshot(EntraSnapshot),
    /// A snapshot read for a plan (`plan`, `drift`, `import`): reads only.
    Export(EntraPlanRead),
    Graph(GraphDirectory),
}

impl AdDirectory {
    /// A short description for messages (`snapshot examples/contoso/ad.ldif`).
    pub fn describe(&self) -> String {
        match self {
            AdDirectory::Snapshot(s) => format!("AD snapshot {}", s.path().display()),
            AdDirectory::Export(s) => format!("AD snapshot {}", s.path().display()),
            AdDirectory::Ldap(l) => format!("AD {}", l.url()),
        }
    }

    /// Of the attributes a read asks for, those this directory did not return at all, and
    /// why (for the note). A live read returns every attribute it asks for. An export that
    /// says (ldapsearch's `# requesting:` line) it left out an attribute matching needs is
    /// refused; without that line, only the attributes `attributes:` adds are judged by
    /// whether any user carries them (an empty `adminDescription` is normal in a fresh AD).
    pub fn unread(
        &self,
        wanted: &[AttrName],
    ) -> Result<(Vec<AttrName>, &'static str), DirectoryError> {
        let (mut unread, headers, why, path) = match self {
            AdDirectory::Snapshot(s) => (
                s.not_exported(wanted),
                s.has_requesting_headers(),
                s.not_exported_why(),
                s.path(),
            ),
            AdDirectory::Export(s) => (
                s.not_exported(wanted),
                s.has_requesting_headers(),
                s.not_exported_why(),
                s.path(),
            ),
            AdDirectory::Ldap(_) => return Ok((Vec::new(), "")),
        };
        let listed =
            |n: &AttrName, names: &[&str]| names.iter().any(|b| n.as_str().eq_ignore_ascii_case(b));
        if !headers {
            unread.retain(|n| !listed(n, AD_BASE_ATTRIBUTES));
        } else if let Some(n) = unread.iter().find(|n| listed(n, AD_REQUIRED_ATTRIBUTES)) {
            return Err(DirectoryError::Other(format!(
                "{}: the export did not request {n} (its `# requesting:` line), which idsync needs to match users; export again with it, or use `idsync snapshot --from ad`",
                path.display()
            )));
        }
        Ok((unread, why))
    }

    /// Where progress of long reads goes. Snapshots read at once and report none.
    pub fn set_progress(&mut self, sink: Arc<dyn ProgressSink>) {
        match self {
            AdDirectory::Snapshot(_) | AdDirectory::Export(_) => {}
            AdDirectory::Ldap(l) => l.set_progress(sink),
        }
    }
}

impl EntraDirectory {
    pub fn describe(&self) -> String {
        match self {
            EntraDirectory::Snapshot(s) => format!("Entra snapshot {}", s.path().display()),
            EntraDirectory::Export(s) => format!("Entra snapshot {}", s.path().display()),
            EntraDirectory::Graph(g) => format!("Entra {}", g.graph_url()),
        }
    }

    /// Whether writes can be carried out at all: a snapshot in a shape idsync reads but does
    /// not write back (PowerShell, delta) says so before anything is applied, so an apply
    /// changes nothing rather than half.
    pub fn writable(&self) -> Result<(), DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => Ok(s.writable()?),
            EntraDirectory::Export(s) => Err(s.not_for_apply()),
            EntraDirectory::Graph(_) => Ok(()),
        }
    }

    /// Where progress of long reads and writes goes; snapshots are read at once and report
    /// none.
    pub fn set_progress(&mut self, progress: Arc<dyn ProgressSink>) {
        match self {
            EntraDirectory::Snapshot(_) | EntraDirectory::Export(_) => {}
            EntraDirectory::Graph(g) => g.set_progress(progress),
        }
    }
}

/// Opens both directories. Two snapshot files are read and parsed at once on two threads
/// (reading them is most of an offline plan's time); live directories connect in turn.
pub async fn open(
    desired: &DesiredState,
    o: &Overrides,
) -> Result<(AdDirectory, EntraDirectory), ConnectError> {
    match (ad_config(desired, o)?, entra_config(desired, o)?) {
        (AdConfig::Snapshot(a), EntraConfig::Snapshot(e)) => {
            let (ad, entra) = both(|| AdSnapshot::open(&a), || EntraSnapshot::open(&e));
            // The AD side's error first, as when they open in turn.
            let ad = ad.map_err(DirectoryError::from)?;
            let entra = entra.map_err(DirectoryError::from)?;
            Ok((AdDirectory::Snapshot(ad), EntraDirectory::Snapshot(entra)))
        }
        _ => Ok((open_ad(desired, o).await?, open_entra(desired, o).await?)),
    }
}

/// Opens both directories for a command that only reads them (`plan`, `drift`, `import`):
/// as [`open`], but an AD export is read for the desired state's query and decoded as it is
/// parsed, without the lossless copy of the file that only `apply` needs (a 1M-user export
/// would hold several times its size).
pub async fn open_to_read(
    desired: &DesiredState,
    o: &Overrides,
) -> Result<(AdDirectory, EntraDirectory), ConnectError> {
    match (ad_config(desired, o)?, entra_config(desired, o)?) {
        (AdConfig::Snapshot(a), EntraConfig::Snapshot(e)) => {
            let query = ad_query(desired);
            let (ad, entra) = both(|| AdPlanRead::open(&a, &query), || EntraPlanRead::open(&e));
            // The AD side's error first, as when they open in turn.
            let ad = ad.map_err(DirectoryError::from)?;
            let entra = entra.map_err(DirectoryError::from)?;
            Ok((AdDirectory::Export(ad), EntraDirectory::Export(entra)))
        }
        (AdConfig::Snapshot(a), _) => Ok((
            AdDirectory::Export(
                AdPlanRead::open(&a, &ad_query(desired)).map_err(DirectoryError::from)?,
            ),
            open_entra(desired, o).await?,
        )),
        _ => open(desired, o).await,
    }
}

fn ad_config(desired: &DesiredState, o: &Overrides) -> Result<AdConfig, ConnectError> {
    match &o.ad_snapshot {
        Some(path) => Ok(AdConfig::Snapshot(path.clone())),
        None => desired.ad.clone().ok_or(ConnectError::NoAd),
    }
}

fn entra_config(desired: &DesiredState, o: &Overrides) -> Result<EntraConfig, ConnectError> {
    match &o.entra_snapshot {
        Some(path) => Ok(EntraConfig::Snapshot(path.clone())),
        None => desired.entra.clone().ok_or(ConnectError::NoEntra),
    }
}

pub async fn open_ad(desired: &DesiredState, o: &Overrides) -> Result<AdDirectory, ConnectError> {
    match ad_config(desired, o)? {
        AdConfig::Snapshot(path) => Ok(AdDirectory::Snapshot(
            AdSnapshot::open(&path).map_err(DirectoryError::from)?,
        )),
        AdConfig::Ldap(l) => Ok(AdDirectory::Ldap(
            LdapDirectory::connect(&(&l).into()).await?,
        )),
    }
}

pub async fn open_entra(
    desired: &DesiredState,
    o: &Overrides,
) -> Result<EntraDirectory, ConnectError> {
    match entra_config(desired, o)? {
        EntraConfig::Snapshot(path) => Ok(EntraDirectory::Snapshot(
            EntraSnapshot::open(&path).map_err(DirectoryError::from)?,
        )),
        EntraConfig::Graph(g) => {
            let mut graph = GraphDirectory::connect(&(&g).into()).await?;
            // Re-reads (saved-plan preconditions) must see the same properties the plan hashed.
            graph.set_select(&graph_select(desired))?;
            Ok(EntraDirectory::Graph(graph))
        }
    }
}

/// The AD query a desired state asks for.
pub fn ad_query(desired: &DesiredState) -> AdQuery {
    let (attributes, _) = attribute_names_needed(desired);
    AdQuery {
        bases: desired.scope.ous.clone(),
        exclude: desired.scope.exclude_ous.clone(),
        filter: desired.scope.ldap_filter.clone(),
        attributes,
    }
}

/// The Graph properties a desired state needs, and the user properties of the tenant data
/// (quarantined duplicates), which every plan reads.
pub fn graph_select(desired: &DesiredState) -> Vec<String> {
    let mut select = attribute_names_needed(desired).1;
    // Licenses: every plan lists the unlicensed; a plan that assigns licenses checks the
    // usage location Graph requires first.
    let licenses = crate::engine::licenses_managed(desired);
    let license_properties = LICENSE_PROPERTIES
        .iter()
        .copied()
        .chain(licenses.then_some("usageLocation"));
    for p in tenant_docs::USER_PROPERTIES
        .iter()
        .copied()
        .chain(license_properties)
    {
        if !select.iter().any(|s| s.eq_ignore_ascii_case(p)) {
            select.push(p.to_owned());
        }
    }
    select
}

/// The user properties that say which licenses a user holds, and how.
pub const LICENSE_PROPERTIES: &[&str] = &["assignedLicenses", "licenseAssignmentStates"];

/// Reads both directories at once.
pub async fn read_both(
    desired: &DesiredState,
    ad: &mut AdDirectory,
    entra: &mut EntraDirectory,
) -> Result<(Vec<AdUser>, Vec<CloudUser>), DirectoryError> {
    let query = ad_query(desired);
    let select = graph_select(desired);
    let (a, e) = tokio::join!(ad.read_users(&query), entra.read_users(&select));
    Ok((a?, e?))
}

/// Groups and contacts as read from both directories.
#[derive(Debug, Clone, Default)]
pub struct GroupsRead {
    pub ad: Vec<AdGroup>,
    pub ad_contacts: Vec<AdContact>,
    pub cloud: Vec<CloudGroup>,
    pub cloud_contacts: Vec<CloudContact>,
    /// Why `cloud` is not known to be all of the tenant's groups (a snapshot folder without
    /// `groups.json`, a plain users file): "none known", not "none". `None` after a complete
    /// read. A plan must not remove or delete on the strength of an unread side.
    pub cloud_unread: Option<String>,
    /// As `cloud_unread`, for `cloud_contacts`.
    pub cloud_contacts_unread: Option<String>,
}

impl GroupsRead {
    pub fn input(&self) -> crate::engine::Groups<'_> {
        crate::engine::Groups {
            ad: &self.ad,
            ad_contacts: &self.ad_contacts,
            cloud: &self.cloud,
            cloud_contacts: &self.cloud_contacts,
            cloud_unread: self.cloud_unread.as_deref(),
        }
    }
}

/// Everything a plan reads.
pub struct Read {
    pub ad: Vec<AdUser>,
    pub cloud: Vec<CloudUser>,
    pub tenant: Tenant,
    pub groups: GroupsRead,
}

/// Reads both directories at once: users, groups and contacts, and the Entra tenant data
/// after the users.
pub async fn read_with_tenant(
    desired: &DesiredState,
    ad: &mut AdDirectory,
    entra: &mut EntraDirectory,
) -> Result<Read, DirectoryError> {
    let query = ad_query(desired);
    let select = graph_select(desired);
    let files = matches!(
        (&*ad, &*entra),
        (
            AdDirectory::Snapshot(_) | AdDirectory::Export(_),
            EntraDirectory::Snapshot(_) | EntraDirectory::Export(_)
        )
    );
    let cloud = async {
        let users = entra.read_users(&select).await?;
        let tenant = entra.read_tenant().await?;
        let groups = entra.read_groups().await?;
        let contacts = entra.read_contacts().await?;
        let unread = (entra.groups_unread(), entra.contacts_unread());
        Ok::<_, DirectoryError>((users, tenant, groups, contacts, unread))
    };
    let onprem = async {
        let users = ad.read_users(&query).await?;
        let groups = ad.read_groups(&query).await?;
        let contacts = ad.read_contacts(&query).await?;
        Ok::<_, DirectoryError>((users, groups, contacts))
    };
    let (a, e) = if files {
        // Files: nothing to wait for, everything to compute (users decoded, indexes built),
        // so each side gets a core of its own.
        both(|| ready(onprem), || ready(cloud))
    } else {
        tokio::join!(onprem, cloud)
    };
    let (cloud, tenant, cloud_groups, cloud_contacts, (cloud_unread, cloud_contacts_unread)) = e?;
    let (ad_users, ad_groups, ad_contacts) = a?;
    Ok(Read {
        ad: ad_users,
        cloud,
        tenant,
        groups: GroupsRead {
            ad: ad_groups,
            ad_contacts,
            cloud: cloud_groups,
            cloud_contacts,
            cloud_unread,
            cloud_contacts_unread,
        },
    })
}

/// The output of a future that never waits: a snapshot's reads answer from memory.
fn ready<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // Not reached by snapshots; were it ever, this spins politely instead of hanging.
        std::thread::yield_now();
    }
}

impl AdUserRead for AdDirectory {
    async fn read_users(&mut self, query: &AdQuery) -> Result<Vec<AdUser>, DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.read_users(query).await,
            AdDirectory::Export(s) => s.users(query),
            AdDirectory::Ldap(l) => l.read_users(query).await,
        }
    }
    async fn read_user(&mut self, guid: &Guid) -> Result<Option<AdUser>, DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.read_user(guid).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.read_user(guid).await,
        }
    }
}

impl AdTakenRead for AdDirectory {
    async fn find_taken(&mut self, values: &TakenQuery) -> Result<Vec<Taken>, DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.find_taken(values).await,
            AdDirectory::Export(s) => Ok(s.taken(values)),
            AdDirectory::Ldap(l) => l.find_taken(values).await,
        }
    }
}

impl AdUserWrite for AdDirectory {
    async fn create_user(&mut self, create: &AdCreate) -> Result<AdUser, DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.create_user(create).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.create_user(create).await,
        }
    }
    async fn modify_user(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.modify_user(dn, mods).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.modify_user(dn, mods).await,
        }
    }
    async fn move_user(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.move_user(dn, new_dn).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.move_user(dn, new_dn).await,
        }
    }
    async fn delete_user(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.delete_user(dn).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.delete_user(dn).await,
        }
    }
}

impl AdGroupRead for AdDirectory {
    async fn read_groups(&mut self, query: &AdQuery) -> Result<Vec<AdGroup>, DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.read_groups(query).await,
            AdDirectory::Export(s) => s.groups(query),
            AdDirectory::Ldap(l) => l.read_groups(query).await,
        }
    }
    async fn read_contacts(&mut self, query: &AdQuery) -> Result<Vec<AdContact>, DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.read_contacts(query).await,
            AdDirectory::Export(s) => s.contacts(query),
            AdDirectory::Ldap(l) => l.read_contacts(query).await,
        }
    }
}

impl AdGroupWrite for AdDirectory {
    async fn create_group(&mut self, create: &AdGroupCreate) -> Result<AdGroup, DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.create_group(create).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.create_group(create).await,
        }
    }
    async fn modify_group(&mut self, dn: &Dn, mods: &[AdMod]) -> Result<(), DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.modify_group(dn, mods).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.modify_group(dn, mods).await,
        }
    }
    async fn move_group(&mut self, dn: &Dn, new_dn: &Dn) -> Result<(), DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.move_group(dn, new_dn).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.move_group(dn, new_dn).await,
        }
    }
    async fn delete_group(&mut self, dn: &Dn) -> Result<(), DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.delete_group(dn).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.delete_group(dn).await,
        }
    }
    async fn read_group(&mut self, guid: &Guid) -> Result<Option<AdGroup>, DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.read_group(guid).await,
            AdDirectory::Export(s) => Err(s.not_for_apply()),
            AdDirectory::Ldap(l) => l.read_group(guid).await,
        }
    }
}

impl Flush for AdDirectory {
    async fn flush(&mut self) -> Result<(), DirectoryError> {
        match self {
            AdDirectory::Snapshot(s) => s.flush().await,
            AdDirectory::Export(_) => Ok(()),
            AdDirectory::Ldap(l) => l.flush().await,
        }
    }
}

impl EntraUserRead for EntraDirectory {
    async fn read_users(&mut self, select: &[String]) -> Result<Vec<CloudUser>, DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => s.read_users(select).await,
            EntraDirectory::Export(s) => s.users(),
            EntraDirectory::Graph(g) => g.read_users(select).await,
        }
    }
    async fn read_user(&mut self, id: &str) -> Result<Option<CloudUser>, DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => s.read_user(id).await,
            EntraDirectory::Export(s) => Err(s.not_for_apply()),
            EntraDirectory::Graph(g) => g.read_user(id).await,
        }
    }
    async fn read_users_by_id(
        &mut self,
        ids: &[String],
    ) -> Result<Vec<Option<CloudUser>>, DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => s.read_users_by_id(ids).await,
            EntraDirectory::Export(s) => Err(s.not_for_apply()),
            EntraDirectory::Graph(g) => g.read_users_by_id(ids).await,
        }
    }
}

impl EntraUserWrite for EntraDirectory {
    async fn write_users(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudUser>, DirectoryError>> {
        match self {
            EntraDirectory::Snapshot(s) => s.write_users(writes).await,
            EntraDirectory::Export(s) => writes.iter().map(|_| Err(s.not_for_apply())).collect(),
            EntraDirectory::Graph(g) => g.write_users(writes).await,
        }
    }
}

impl EntraGroupRead for EntraDirectory {
    async fn read_groups(&mut self) -> Result<Vec<CloudGroup>, DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => s.read_groups().await,
            EntraDirectory::Export(s) => s.groups(),
            EntraDirectory::Graph(g) => g.read_groups().await,
        }
    }
    async fn read_contacts(&mut self) -> Result<Vec<CloudContact>, DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => s.read_contacts().await,
            EntraDirectory::Export(s) => s.contacts(),
            EntraDirectory::Graph(g) => g.read_contacts().await,
        }
    }
    fn groups_unread(&mut self) -> Option<String> {
        match self {
            EntraDirectory::Snapshot(s) => EntraGroupRead::groups_unread(s),
            EntraDirectory::Export(s) => s.groups_unread(),
            EntraDirectory::Graph(g) => g.groups_unread(),
        }
    }
    fn contacts_unread(&mut self) -> Option<String> {
        match self {
            EntraDirectory::Snapshot(s) => EntraGroupRead::contacts_unread(s),
            EntraDirectory::Export(s) => s.contacts_unread(),
            EntraDirectory::Graph(g) => g.contacts_unread(),
        }
    }
}

impl EntraGroupWrite for EntraDirectory {
    async fn write_groups(
        &mut self,
        writes: Vec<EntraOp>,
    ) -> Vec<Result<Option<CloudGroup>, DirectoryError>> {
        match self {
            EntraDirectory::Snapshot(s) => s.write_groups(writes).await,
            EntraDirectory::Export(s) => writes.iter().map(|_| Err(s.not_for_apply())).collect(),
            EntraDirectory::Graph(g) => g.write_groups(writes).await,
        }
    }
    async fn read_group(&mut self, id: &str) -> Result<Option<CloudGroup>, DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => s.read_group(id).await,
            EntraDirectory::Export(s) => Err(s.not_for_apply()),
            EntraDirectory::Graph(g) => g.read_group(id).await,
        }
    }
}

impl Flush for EntraDirectory {
    async fn flush(&mut self) -> Result<(), DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => s.flush().await,
            // Nothing was written: every write was refused.
            EntraDirectory::Export(_) => Ok(()),
            EntraDirectory::Graph(g) => g.flush().await,
        }
    }
}

impl EntraDirectory {
    /// The tenant's answers to the tenant data requests as read (for `idsync snapshot`).
    pub async fn read_tenant_docs(&mut self) -> Result<TenantDocs, DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => Ok(s.read_tenant_docs()?),
            EntraDirectory::Export(s) => Ok(s.read_tenant_docs()?),
            EntraDirectory::Graph(g) => g.read_tenant_docs().await,
        }
    }
}

impl TenantRead for EntraDirectory {
    async fn read_tenant(&mut self) -> Result<Tenant, DirectoryError> {
        match self {
            EntraDirectory::Snapshot(s) => s.read_tenant().await,
            EntraDirectory::Export(s) => s.read_tenant().await,
            EntraDirectory::Graph(g) => g.read_tenant().await,
        }
    }
}

/// Why reading and planning failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Plan(#[from] crate::engine::PlanError),
}

/// A plan with the objects and tenant data it was made from.
pub struct Planned {
    pub plan: crate::plan::Plan,
    pub ad: Vec<AdUser>,
    pub cloud: Vec<CloudUser>,
    /// The tenant data the plan was made with (a baseline plan uses it too).
    pub tenant: Tenant,
    pub groups: GroupsRead,
}

/// Reads both directories and plans. When the plan creates AD accounts, their names are
/// checked domain-wide first, and a collision becomes a conflict instead of a failed apply.
pub async fn read_and_plan(
    desired: &DesiredState,
    ad: &mut AdDirectory,
    entra: &mut EntraDirectory,
) -> Result<Planned, RunError> {
    use crate::engine::{PlanInput, plan};
    let Read {
        ad: ad_users,
        cloud: cloud_users,
        tenant,
        groups,
    } = read_with_tenant(desired, ad, entra).await?;
    let (ad_unread, ad_unread_why) = ad.unread(&ad_query(desired).attributes)?;
    let (ad_source, entra_source) = (ad.describe(), entra.describe());
    let mut input = PlanInput {
        desired,
        ad: &ad_users,
        cloud: &cloud_users,
        taken: &[],
        reads: crate::engine::Reads {
            ad_unread: &ad_unread,
            ad_unread_why,
            ad_source: &ad_source,
            entra_source: &entra_source,
        },
        tenant: &tenant,
        groups: groups.input(),
    };
    let mut planned = plan(input)?;
    let query = taken_query(&planned);
    let taken;
    if !query.upns.is_empty() || !query.sam_account_names.is_empty() {
        taken = ad.find_taken(&query).await?;
        if !taken.is_empty() {
            input.taken = &taken;
            planned = plan(input)?;
        }
    }
    Ok(Planned {
        plan: planned,
        ad: ad_users,
        cloud: cloud_users,
        tenant,
        groups,
    })
}

/// The names the plan's AD creates need free.
fn taken_query(plan: &crate::plan::Plan) -> TakenQuery {
    use crate::plan::{ActionKind, Side};
    let mut q = TakenQuery::default();
    for a in plan
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::Create && a.directory == Side::Ad)
    {
        for c in &a.changes {
            let values: Vec<String> = c.after.texts().iter().map(|s| s.to_string()).collect();
            match c.attribute.as_str() {
                "userPrincipalName" => q.upns.extend(values),
                "sAMAccountName" => q.sam_account_names.extend(values),
                "mail" => q.smtp_addresses.extend(values),
                "proxyAddresses" => q.smtp_addresses.extend(
                    values
                        .iter()
                        .filter_map(|v| v.split_once(':').map(|(_, a)| a.to_owned())),
                ),
                _ => {}
            }
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every `.rs` file under `dir`, recursively.
    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// A snapshot folder without groups.json: the plan input says the cloud groups are none
    /// known, not none; with one, they are known.
    #[tokio::test]
    async fn unread_cloud_groups_are_said_so_in_what_a_plan_reads() {
        use super::*;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ad.ldif"), "").unwrap();
        let entra = dir.path().join("entra");
        std::fs::create_dir(&entra).unwrap();
        std::fs::write(entra.join("users.json"), r#"{"value": []}"#).unwrap();
        let desired = DesiredState::with_scope(&["OU=Staff,DC=x"]);
        let ldif = dir.path().join("ad.ldif");
        let read = async |entra: &Path| {
            let mut a = AdDirectory::Snapshot(AdSnapshot::open(&ldif).unwrap());
            let mut e = EntraDirectory::Snapshot(EntraSnapshot::open(entra).unwrap());
            read_with_tenant(&desired, &mut a, &mut e).await.unwrap()
        };
        let r = read(&entra).await;
        assert!(r.groups.cloud.is_empty());
        let why = r.groups.cloud_unread.unwrap();
        assert!(why.contains("has no groups.json"), "{why}");
        assert!(
            r.groups
                .cloud_contacts_unread
                .unwrap()
                .contains("has no contacts.json")
        );
        std::fs::write(entra.join("groups.json"), r#"{"value": []}"#).unwrap();
        let r = read(&entra).await;
        assert_eq!(r.groups.cloud_unread, None);
    }

    #[test]
    fn connectors_do_not_import_the_desired_state() {
        // DESIGN.md: data flows one way. The desired state builds connector settings
        // (`From<&LdapConfig> for ldap::Settings`); `directory` must never reach back.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/directory");
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        assert!(files.len() > 10, "found only {files:?}");
        let mut offenders = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                if code.contains("crate::desired") || code.contains("super::desired") {
                    offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(offenders.is_empty(), "{}", offenders.join("\n"));
    }
}
