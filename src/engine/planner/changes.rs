//! Mapped attribute values on each side, and the changes that set them.

use std::borrow::Cow;

use compact_str::ToCompactString;

use crate::directory::attributes::{Mapping, ValueKind};
use crate::directory::model::{Prop, UAC_ACCOUNTDISABLE, UAC_NORMAL_ACCOUNT};
use crate::directory::{AdUser, CloudUser};
use crate::plan::{Change, Value};

pub(super) fn opt_bool(v: Option<bool>) -> Value {
    v.map_or(Value::Null, Value::Bool)
}

/// The AD side of a mapped attribute, as text.
pub(super) fn ad_value<'u>(ad: &'u AdUser, m: &Mapping) -> Option<Cow<'u, str>> {
    match m.kind {
        ValueKind::AccountEnabled => Some(Cow::Borrowed(if ad.is_disabled() {
            "false"
        } else {
            "true"
        })),
        _ => ad.attr(m.ad_name).map(Cow::Borrowed),
    }
}

/// The cloud side of a mapped attribute, as text.
pub(super) fn cloud_value<'u>(c: &'u CloudUser, m: &Mapping) -> Option<Cow<'u, str>> {
    match m.kind {
        ValueKind::AccountEnabled => c
            .account_enabled
            .map(|b| Cow::Borrowed(if b { "true" } else { "false" })),
        ValueKind::GraphList => c
            .properties
            .get(m.graph_name)
            .and_then(Prop::first_item)
            .map(Cow::Borrowed),
        // The mapping names no property `CloudUser::text` hides: look it up by id.
        ValueKind::Text => c.properties.text(m.graph_name).map(Cow::Borrowed),
    }
}

pub(super) fn ad_change(
    ad: &AdUser,
    m: &Mapping,
    before: Option<&str>,
    after: Option<&str>,
) -> Change {
    match m.kind {
        ValueKind::AccountEnabled => {
            let uac = ad.user_account_control.unwrap_or(UAC_NORMAL_ACCOUNT);
            let new = if after == Some("false") {
                uac | UAC_ACCOUNTDISABLE
            } else {
                uac & !UAC_ACCOUNTDISABLE
            };
            Change::set(
                "userAccountControl",
                Value::from(uac.to_compact_string()),
                Value::from(new.to_compact_string()),
            )
        }
        _ => Change::set(m.ad, Value::opt(before), Value::opt(after)),
    }
}

pub(super) fn entra_values(
    m: &Mapping,
    before: Option<&str>,
    after: Option<&str>,
) -> (Value, Value) {
    match m.kind {
        ValueKind::AccountEnabled => (
            before.map_or(Value::Null, |b| Value::from(b == "true")),
            after.map_or(Value::Null, |a| Value::from(a == "true")),
        ),
        ValueKind::GraphList => (Value::list(before), Value::list(after)),
        ValueKind::Text => (Value::opt(before), Value::opt(after)),
    }
}
