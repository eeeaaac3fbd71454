pub mod fixtures;
pub mod live_ad;
pub mod samba;
