//! Files from outside and files idsync writes: reading only regular files within a size bound
//! ([`read`]), and writing atomically beside the real target ([`write`]).

pub mod read;
pub mod write;
