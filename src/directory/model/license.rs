//! Licenses: the tenant's subscriptions (`GET /subscribedSkus`) and what users and groups
//! hold (`assignedLicenses`, `licenseAssignmentStates`).

use serde_json::{Map, Value};

/// One subscription of the tenant (Graph `subscribedSku`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sku {
    pub sku_id: String,
    /// `ENTERPRISEPACK`, `SPE_E3`, … — what the desired state names.
    pub sku_part_number: String,
    /// `prepaidUnits.enabled`.
    pub enabled_units: u64,
    pub consumed_units: u64,
    /// `(servicePlanId, servicePlanName)`.
    pub service_plans: Vec<(String, String)>,
}

impl Sku {
    /// Units still free: enabled less consumed (never below zero).
    pub fn free(&self) -> u64 {
        self.enabled_units.saturating_sub(self.consumed_units)
    }

    /// The id of a service plan by name (any case).
    pub fn plan_id(&self, name: &str) -> Option<&str> {
        self.service_plans
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(id, _)| id.as_str())
    }

    pub fn from_graph(sku: &Map<String, Value>) -> Result<Sku, String> {
        let text = |k: &str| match sku.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(format!("no {k}")),
        };
        let units = |v: Option<&Value>, k: &str| match v {
            None | Some(Value::Null) => Ok(0),
            Some(v) => v.as_u64().ok_or_else(|| format!("{k} must be a count")),
        };
        let prepaid = sku.get("prepaidUnits");
        let enabled_units = units(
            prepaid.and_then(|p| p.get("enabled")),
            "prepaidUnits.enabled",
        )?;
        let service_plans = match sku.get("servicePlans") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|p| {
                    let f = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_owned);
                    f("servicePlanId")
                        .zip(f("servicePlanName"))
                        .ok_or("servicePlans entries need servicePlanId and servicePlanName")
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("servicePlans must be an array".into()),
        };
        Ok(Sku {
            sku_id: text("skuId")?.to_ascii_lowercase(),
            sku_part_number: text("skuPartNumber")?,
            enabled_units,
            consumed_units: units(sku.get("consumedUnits"), "consumedUnits")?,
            service_plans,
        })
    }
}

/// A license as a user or group holds it (`assignedLicenses` entry), or as a plan assigns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct AssignedLicense {
    /// Lower-case.
    pub sku_id: String,
    /// Lower-case service plan ids, sorted.
    pub disabled_plans: Vec<String>,
}

/// How a user came to hold a license (`licenseAssignmentStates` entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseState {
    pub sku_id: String,
    pub disabled_plans: Vec<String>,
    /// The group it is inherited from; `None` for a direct assignment.
    pub assigned_by_group: Option<String>,
}

fn ids(v: Option<&Value>, what: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut out: Vec<String> = items
                .iter()
                .map(|i| i.as_str().map(str::to_ascii_lowercase))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("{what} must be an array of ids"))?;
            out.sort_unstable();
            out.dedup();
            Ok(out)
        }
        Some(_) => Err(format!("{what} must be an array of ids")),
    }
}

fn sku_id(v: &Value, what: &str) -> Result<String, String> {
    v.get("skuId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| format!("{what} entries need a skuId"))
}

/// `assignedLicenses` as Graph gives it.
pub fn assigned_licenses(v: &Value) -> Result<Vec<AssignedLicense>, String> {
    let Value::Array(items) = v else {
        return if v.is_null() {
            Ok(Vec::new())
        } else {
            Err("assignedLicenses must be an array".into())
        };
    };
    let mut out: Vec<AssignedLicense> = items
        .iter()
        .map(|i| {
            Ok(AssignedLicense {
                sku_id: sku_id(i, "assignedLicenses")?,
                disabled_plans: ids(i.get("disabledPlans"), "disabledPlans")?,
            })
        })
        .collect::<Result<_, String>>()?;
    out.sort();
    Ok(out)
}

/// `licenseAssignmentStates` as Graph gives it.
pub fn license_states(v: &Value) -> Result<Vec<LicenseState>, String> {
    let Value::Array(items) = v else {
        return if v.is_null() {
            Ok(Vec::new())
        } else {
            Err("licenseAssignmentStates must be an array".into())
        };
    };
    items
        .iter()
        .map(|i| {
            Ok(LicenseState {
                sku_id: sku_id(i, "licenseAssignmentStates")?,
                disabled_plans: ids(i.get("disabledPlans"), "disabledPlans")?,
                assigned_by_group: i
                    .get("assignedByGroup")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_ascii_lowercase),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_subscribed_sku_reads_its_units_and_plans() {
        let j = json!({"skuId": "6FD2C87F-B296-42F0-B197-1E91E994B900", "skuPartNumber": "ENTERPRISEPACK",
            "prepaidUnits": {"enabled": 25, "suspended": 0, "warning": 0}, "consumedUnits": 23,
            "servicePlans": [{"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "servicePlanName": "EXCHANGE_S_ENTERPRISE"}]});
        let s = Sku::from_graph(j.as_object().unwrap()).unwrap();
        assert_eq!(s.sku_id, "6fd2c87f-b296-42f0-b197-1e91e994b900");
        assert_eq!(s.free(), 2);
        assert_eq!(
            s.plan_id("exchange_s_enterprise"),
            Some("efb87545-963c-4e0d-99df-69c6916d9eb0")
        );
        let over = Sku {
            consumed_units: 30,
            ..s
        };
        assert_eq!(
            over.free(),
            0,
            "over-consumed is none free, not a wrap-around"
        );
    }

    #[test]
    fn assignment_states_tell_inherited_from_direct() {
        let states = license_states(&json!([
            {"skuId": "A", "disabledPlans": [], "assignedByGroup": null, "state": "Active"},
            {"skuId": "B", "disabledPlans": ["P2", "p1"], "assignedByGroup": "G1", "state": "Active"}
        ]))
        .unwrap();
        assert_eq!(states[0].assigned_by_group, None);
        assert_eq!(states[1].assigned_by_group.as_deref(), Some("g1"));
        assert_eq!(states[1].disabled_plans, ["p1", "p2"]);
        assert!(assigned_licenses(&json!([{"disabledPlans": []}])).is_err());
    }
}
