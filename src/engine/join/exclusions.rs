//! Entra Connect's out-of-box exclusions: AD users its default rules never synchronize, so
//! idsync never pairs, provisions, counts as duplicates or deprovisions them (DESIGN.md,
//! "Matching" 4). The rules are the "User out-of-box rules" of
//! `concept-azure-ad-connect-sync-default-configuration` (MicrosoftDocs/entra-docs).

use crate::directory::AdUser;
use crate::names::AttrName;

/// The `msExchRecipientTypeDetails` bits of recipients that would not work in Exchange Online
/// (public folders, system and discovery mailboxes, mailbox plans, legacy group types).
pub const EXCHANGE_SYSTEM_MASK: u64 = 0x21C0_7000;

/// The attribute names the rules read, interned once per join (interning takes a lock).
pub(crate) struct ExclusionNames {
    critical: AttrName,
    recipient_type: AttrName,
}

impl ExclusionNames {
    pub(crate) fn new() -> Self {
        use crate::directory::schema::SYNC_EXCLUSION;
        ExclusionNames {
            critical: AttrName::new(SYNC_EXCLUSION[0]),
            recipient_type: AttrName::new(SYNC_EXCLUSION[1]),
        }
    }

    /// Why Entra Connect's default rules never sync `u`, or `None` when they do. `sam_read`:
    /// whether the read carried `sAMAccountName` at all (absent is not null: an export without
    /// the attribute says nothing about whether a user has one).
    pub(crate) fn excluded(&self, u: &AdUser, sam_read: bool) -> Option<&'static str> {
        // `IsPresent([isCriticalSystemObject])`: the built-in Administrator, krbtgt, Guest.
        if u.attributes.contains(self.critical) {
            return Some("isCriticalSystemObject: a built-in object of the domain");
        }
        // `CBool(InStr(DNComponent(CRef([dn]),1),"\\0ACNF:")>0)`: replication victims. The
        // readers drop them already; a DN built elsewhere is still caught here.
        if crate::directory::dn::rdn_mark(u.dn.as_str(), "CNF:") {
            return Some("a replication conflict object (\\0ACNF: in its name)");
        }
        let sam = u.sam_account_name();
        match sam {
            None if sam_read => return Some("no sAMAccountName"),
            None => {}
            Some(s) => {
                let upper = s.to_ascii_uppercase();
                if upper.starts_with("AAD_") || upper.starts_with("MSOL_") {
                    return Some("Entra Connect's own service account (AAD_/MSOL_)");
                }
                if upper == "SUPPORT_388945A0" {
                    return Some("the Exchange support account SUPPORT_388945a0");
                }
                if upper.starts_with("CAS_") && s.contains('}') {
                    return Some("an Exchange system mailbox (CAS_…})");
                }
            }
        }
        if let Some(nick) = u.attr(AttrName::MAIL_NICKNAME) {
            let upper = nick.to_ascii_uppercase();
            if upper.starts_with("SYSTEMMAILBOX{") {
                return Some("an Exchange system mailbox (SystemMailbox{…})");
            }
            if upper.starts_with("CAS_") && nick.contains('}') {
                return Some("an Exchange system mailbox (CAS_…})");
            }
        }
        let details = u
            .attr(self.recipient_type)
            .and_then(|v| v.trim().parse::<i64>().ok());
        if details.is_some_and(|d| (d as u64) & EXCHANGE_SYSTEM_MASK != 0) {
            return Some(
                "an Exchange recipient that does not work in Exchange Online (msExchRecipientTypeDetails)",
            );
        }
        None
    }
}
