//! dgram-rs: Node's `node:dgram` UDP sockets, implemented in Rust.
//!
//! JS (`index.js`) owns the API semantics; this crate owns the sockets: one
//! `UdpHandle` per socket, driven by one shared tokio runtime, with batched
//! receives handed to JS in one call per wake-up.
//!
//! Platform support: everything builds on Linux, macOS and Windows; Linux
//! receives with `recvmmsg`, others with a loop of `recv_from`.

#![deny(clippy::all)]

mod addr;
mod env;
mod error;
mod handle;
mod io;
mod recv;
mod runtime;
mod send;
mod shared;
mod sockopt;
mod sys;
