//! The only module allowed to use `unsafe`: syscalls, libuv and Node-API
//! calls that neither std, socket2, tokio nor napi-rs wrap safely.
//! Everything above it is safe Rust.
//!
//! | what                      | Linux            | elsewhere                      |
//! |---------------------------|------------------|--------------------------------|
//! | batched receive           | `recvmmsg`       | loop of `recv_from`            |
//! | disconnect a UDP socket   | `AF_UNSPEC`      | `AF_UNSPEC` / any-address      |
//! | interface name <-> index  | `if_*toname`     | numeric scope ids (Windows)    |
//! | destination / source addr | `*_PKTINFO` cmsg | unsupported                    |
//! | receive room left unfilled| `heads.rs`: read only where the kernel wrote |
//! | the JS thread's loop      | `uv.rs`: libuv looked up in the host process |
//! | watching many sockets     | an `Epoll` of ours under one libuv poll | a libuv poll each |
//! | calling JS from libuv     | `napi.rs`: Node's `MakeCallback` and friends |

#[cfg(not(target_os = "linux"))]
mod fallback;
mod heads;
pub(crate) mod host;
#[cfg(target_os = "linux")]
mod linux;
pub(crate) mod napi;
#[cfg(unix)]
mod unix;
pub(crate) mod uv;
#[cfg(windows)]
mod windows;

/// Runs the body of a callback that libuv or Node-API calls (no Rust frame
/// above it): a panic, which would abort the process at the `extern "C"`
/// boundary, stops here instead (the panic hook has printed it). Nothing in
/// these bodies is meant to panic; this keeps a bug from taking the
/// application down.
pub(crate) fn contain(body: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
}

#[cfg(not(target_os = "linux"))]
pub(crate) use fallback::recv_from;
pub(crate) use heads::Heads;
#[cfg(target_os = "linux")]
pub(crate) use linux::{
    enable_gro, enable_pktinfo, gso_supported, recv_batch, send_batch, send_from, send_gso, Epoll,
    MmsgScratch, Slots, TimerFd, EPOLL_BATCH, GSO_MAX_SEGMENTS,
};
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
))]
pub(crate) use unix::ssm_v6;
#[cfg(unix)]
pub(crate) use unix::{
    adopt_fd, block_process_signals, disconnect, dup_fd, fd_type, interface_index, interface_name,
    register_readable, wait_woken, wait_writable, Registered, Wake,
};
#[cfg(windows)]
pub(crate) use windows::{
    block_process_signals, disconnect, interface_index, interface_name, ssm_v6, wait_woken,
    wait_writable, Wake,
};

/// One filled receive slot (see `recv_batch` on Linux, `recv_from` elsewhere).
pub(crate) struct Received {
    pub(crate) len: usize,
    pub(crate) from: std::net::SocketAddr,
    /// The UDP GRO segment size when the slot holds several datagrams, or 0.
    pub(crate) segment: usize,
    /// The datagram's destination address and receiving interface index,
    /// when `enable_pktinfo` is on.
    pub(crate) dest: Option<(std::net::IpAddr, u32)>,
}
