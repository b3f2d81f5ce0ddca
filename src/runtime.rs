//! The one tokio runtime shared by every socket of the process.
//!
//! Started lazily by the first bind. Sized for small machines: the JS thread
//! does the hot work (emitting events), so a single I/O worker is enough to
//! wait for readiness and drain sockets; more workers only add wake-ups.
//! It is never shut down: its threads hold no JS state, are not joined at
//! exit, and so can neither keep the process alive nor crash its teardown.

use std::sync::OnceLock;
use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<std::io::Result<Runtime>> = OnceLock::new();

/// The shared runtime's handle, starting it on first use.
pub(crate) fn handle() -> std::io::Result<Handle> {
    let rt = RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .thread_name("dgram-rs-io")
            .enable_io()
            .build()
    });
    match rt {
        Ok(rt) => Ok(rt.handle().clone()),
        Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
    }
}
