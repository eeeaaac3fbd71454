//! Deprovisioning: the twin is gone, so disable, delete or report (`deprovision.action`).

use compact_str::ToCompactString;

use super::*;

impl<'a> Planner<'a> {
    pub(super) fn deprovision_entra(
        &mut self,
        name: &str,
        cloud: &CloudUser,
        why: String,
        batch: &mut Batch,
    ) {
        let (kind, changes) = match self.d.deprovision_action {
            DeprovisionAction::Report => {
                batch.note(
                    NoteKind::Deprovision,
                    name,
                    format!(
                        "would deprovision cloud user {}: {why}; deprovision.action is report",
                        cloud.upn()
                    ),
                );
                return;
            }
            // Already off, or unknown (unread): nothing to plan.
            DeprovisionAction::Disable
                if cloud.account_enabled == Some(false)
                    || !cloud.carries(AttrName::ACCOUNT_ENABLED) =>
            {
                return;
            }
            DeprovisionAction::Disable => (
                ActionKind::Disable,
                vec![Change::set(
                    "accountEnabled",
                    opt_bool(cloud.account_enabled),
                    Value::from(false),
                )],
            ),
            DeprovisionAction::Delete => (ActionKind::Delete, vec![]),
        };
        batch.deprovision_entra += 1;
        batch
            .actions
            .push(batch.on_entra(kind, name, cloud, changes));
    }

    pub(super) fn deprovision_ad(
        &mut self,
        name: &str,
        ad: &AdUser,
        why: String,
        batch: &mut Batch,
    ) {
        let (kind, changes) = match self.d.deprovision_action {
            DeprovisionAction::Report => {
                batch.note(
                    NoteKind::Deprovision,
                    name,
                    format!(
                        "would deprovision {}: {why}; deprovision.action is report",
                        ad.dn
                    ),
                );
                return;
            }
            DeprovisionAction::Disable
                if ad.is_disabled() || !self.ad_reads(AttrName::USER_ACCOUNT_CONTROL) =>
            {
                return;
            }
            DeprovisionAction::Disable => {
                let uac = ad.user_account_control.unwrap_or(UAC_NORMAL_ACCOUNT);
                (
                    ActionKind::Disable,
                    vec![Change::set(
                        "userAccountControl",
                        Value::from(uac.to_compact_string()),
                        Value::from((uac | UAC_ACCOUNTDISABLE).to_compact_string()),
                    )],
                )
            }
            DeprovisionAction::Delete => (ActionKind::Delete, vec![]),
        };
        batch.deprovision_ad += 1;
        batch.actions.push(batch.on_ad(kind, name, ad, changes));
    }
}
