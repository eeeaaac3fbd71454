pub mod fixtures;
pub mod live_ad;
pub mod live_fixture;
pub mod samba;
pub mod situations;
