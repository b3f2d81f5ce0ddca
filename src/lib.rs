//! dgram-rs: Node's `node:dgram` UDP sockets, implemented in Rust.
//!
//! JS (`index.js`) owns the API semantics; this crate owns the sockets: one
//! `UdpHandle` per socket (`handle.rs`), driven by one shared tokio runtime
//! (`runtime.rs`), talking to each JS environment through one channel
//! (`env.rs`). Receives are batched and handed to JS in one call per wake-up
//! (`recv.rs`); sends go to the kernel from the JS thread, coalesced per tick
//! (`send.rs`). All `unsafe` code is in `sys/`.
//!
//! Platforms: Linux uses `recvmmsg`, UDP GSO on send and UDP GRO on receive;
//! macOS and Windows use portable one-datagram-per-syscall paths.

#![deny(clippy::all)]

mod addr;
mod blocklist;
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
