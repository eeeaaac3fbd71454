//! Source anchors: the AD bytes whose base64 form is the cloud `onPremisesImmutableId`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::desired::SourceAnchor;
use crate::directory::AdUser;

/// The anchor bytes Entra Connect would use for this user: `mS-DS-ConsistencyGuid` when that
/// is the anchor and set, else the objectGUID.
pub fn anchor_bytes(ad: &AdUser, anchor: SourceAnchor) -> &[u8] {
    match (anchor, ad.consistency_guid()) {
        (SourceAnchor::ConsistencyGuid, Some(bytes)) if !bytes.is_empty() => bytes,
        _ => &ad.object_guid.0,
    }
}

/// base64 of the anchor bytes: the cloud `onPremisesImmutableId` that hard-matches this user.
pub fn immutable_id(ad: &AdUser, anchor: SourceAnchor) -> String {
    B64.encode(anchor_bytes(ad, anchor))
}

/// True when the anchor is ConsistencyGuid and AD has not stored it yet (idsync writes it).
pub fn needs_consistency_guid(ad: &AdUser, anchor: SourceAnchor) -> bool {
    anchor == SourceAnchor::ConsistencyGuid && ad.consistency_guid().is_none_or(|b| b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Dn, Guid};

    fn user() -> AdUser {
        AdUser::new(
            Dn::parse("CN=a,DC=x").unwrap(),
            Guid::parse("3ab39606-c642-489b-84b6-58c038d3ef39").unwrap(),
        )
    }

    #[test]
    fn object_guid_anchor_is_base64_of_raw_bytes() {
        let u = user();
        assert_eq!(
            immutable_id(&u, SourceAnchor::ObjectGuid),
            "BpazOkLGm0iEtljAONPvOQ=="
        );
    }

    #[test]
    fn consistency_guid_falls_back_to_object_guid_while_empty() {
        let mut u = user();
        assert_eq!(
            immutable_id(&u, SourceAnchor::ConsistencyGuid),
            "BpazOkLGm0iEtljAONPvOQ=="
        );
        assert!(needs_consistency_guid(&u, SourceAnchor::ConsistencyGuid));
        assert!(!needs_consistency_guid(&u, SourceAnchor::ObjectGuid));
        u.consistency_guid = Some([1; 16].into());
        assert_eq!(
            immutable_id(&u, SourceAnchor::ConsistencyGuid),
            "AQEBAQEBAQEBAQEBAQEBAQ=="
        );
        assert!(!needs_consistency_guid(&u, SourceAnchor::ConsistencyGuid));
    }
}
