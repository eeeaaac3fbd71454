pub mod samba;
