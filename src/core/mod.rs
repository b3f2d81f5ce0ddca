//! The socket core: plain Rust on `io::Result`, no Node-API and no async
//! runtime, so `cargo test` covers it without Node. Batch reads and writes,
//! addresses, socket options, block lists, error names.

pub(crate) mod addr;
pub(crate) mod blocklist;
pub(crate) mod error;
pub(crate) mod recv;
pub(crate) mod send;
pub(crate) mod sockopt;
pub(crate) mod stream;
