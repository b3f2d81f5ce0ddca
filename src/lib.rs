//! dgram-rs: Node's `node:dgram` UDP sockets, implemented in Rust.
//!
//! JS (`index.js`) owns the API semantics; this crate owns the sockets.
//! Layers, each importing only those below it:
//!
//! - `sys`: syscalls, libuv and Node-API calls; the only `unsafe` code.
//! - `core`: the socket core in plain Rust (batch reads and writes,
//!   addresses, options, block lists), covered by `cargo test`.
//! - `drivers`: who reads and writes when. While a socket is idle, the JS
//!   thread's own event loop watches it and the JS thread reads it
//!   (`js_loop`); when the JS thread falls behind, the shared tokio runtime
//!   reads ahead into a bounded queue until JS catches up (`runtime`);
//!   sends go out from the calling thread and only what the kernel refuses
//!   for now waits on the runtime (`send`).
//! - `int_hash`: a cheap hasher for the per-thread tables (a leaf, used by
//!   every layer).
//! - the napi edge: `handle` (the `UDP` class JS sees), `exports` (the
//!   module's other functions), `socket` (one socket's JS-thread state),
//!   `deliver` (events into JS, as Node's own handles call it), `env`
//!   (per-thread state), each importing only those after it: `deliver` and `env` reach a socket through the traits they
//!   define (`EventTarget`, `ThreadSocket`), which `socket` implements.
//!
//! Platforms: Linux uses `recvmmsg`, UDP GRO on receive and UDP GSO and
//! `sendmmsg` on send; macOS and Windows use portable
//! one-datagram-per-syscall paths.

#![deny(clippy::all)]
// Every unsafe block carries the SAFETY comment that justifies it.
#![deny(clippy::undocumented_unsafe_blocks)]
// napi-derive registers the exports only outside `cfg(test)`, so in the test
// build whatever only they reach is unused.
#![cfg_attr(test, allow(dead_code))]

mod core;
mod deliver;
mod drivers;
mod env;
mod exports;
mod handle;
mod int_hash;
mod socket;
mod sys;
