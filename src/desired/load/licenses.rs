//! Checking `licenses:` lists (`licenses.default`, `identities[].licenses`,
//! `groups[].licenses`): what can be checked without the tenant — a SKU named, once per list.
//! Whether the tenant has the SKU and its plans is checked when planning, against
//! `GET /subscribedSkus`, at the same line and column.

use super::*;
use crate::desired::LicenseSpec;

impl Checker {
    pub(super) fn licenses(
        &mut self,
        file: &Path,
        items: &[Loc<model::LicenseRef>],
        key: &str,
    ) -> Vec<LicenseSpec> {
        let mut out: Vec<LicenseSpec> = Vec::new();
        for item in items {
            let (sku, plans) = match &item.value {
                model::LicenseRef::Sku(s) => (s.trim().to_owned(), Vec::new()),
                model::LicenseRef::WithPlans(w) => (
                    w.sku.trim().to_owned(),
                    w.disabled_plans
                        .iter()
                        .map(|p| p.trim().to_owned())
                        .collect(),
                ),
            };
            if sku.is_empty() {
                self.issue(
                    file,
                    item,
                    format!("{key}: a license needs a SKU part number"),
                );
                continue;
            }
            if out.iter().any(|l| l.sku.eq_ignore_ascii_case(&sku)) {
                self.issue(
                    file,
                    item,
                    format!("{key}: {sku} is listed twice (give its disabled_plans once)"),
                );
                continue;
            }
            if plans.iter().any(String::is_empty) {
                self.issue(file, item, format!("{key}: an empty service plan name"));
                continue;
            }
            out.push(LicenseSpec {
                sku,
                disabled_plans: plans,
                origin: format!("{}:{}:{}", file.display(), item.line, item.column),
            });
        }
        out
    }
}
