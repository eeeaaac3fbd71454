pub mod fixtures;
pub mod samba;
