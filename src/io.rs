//! The socket as the runtime sees it.
//!
//! On Unix the socket is registered for readability only (`AsyncFd`):
//! tokio's `UdpSocket` also asks for edge-triggered writability, and every
//! datagram sent then wakes the runtime thread when the kernel frees its
//! buffer, one wake-up per send. Sends that must wait (rare: a full socket
//! buffer) wait on a blocking thread with `poll(POLLOUT)` instead.
//!
//! The registration is made lazily, by the receive task when it starts
//! (`register`), not when the socket is created: it costs an `epoll_ctl`
//! each way, and a socket closed before it ever waits for a datagram (a
//! short-lived socket) then never pays for it. libuv defers it the same way,
//! to its next poll.

use std::io;
use std::net::SocketAddr;

use socket2::SockRef;
use tokio::io::Interest;

#[cfg(unix)]
pub(crate) struct IoSocket {
    /// The readiness registration, once `register` made it. It shares the
    /// socket, so the descriptor stays open while it is registered.
    reg: std::sync::OnceLock<tokio::io::unix::AsyncFd<std::sync::Arc<std::net::UdpSocket>>>,
    sock: std::sync::Arc<std::net::UdpSocket>,
}

#[cfg(not(unix))]
pub(crate) struct IoSocket(tokio::net::UdpSocket);

impl IoSocket {
    /// Wraps a non-blocking socket. On Unix the registration with the
    /// runtime waits for `register`; elsewhere it is made now, within the
    /// current runtime (sends use it too).
    pub(crate) fn new(sock: std::net::UdpSocket) -> io::Result<Self> {
        #[cfg(unix)]
        return Ok(Self {
            reg: std::sync::OnceLock::new(),
            sock: std::sync::Arc::new(sock),
        });
        #[cfg(not(unix))]
        return tokio::net::UdpSocket::from_std(sock).map(Self);
    }

    /// Registers the socket for readability with the current runtime, once;
    /// called by the receive task before it first waits.
    #[cfg(unix)]
    pub(crate) fn register(&self) -> io::Result<()> {
        if self.reg.get().is_none() {
            let fd = crate::sys::register_readable(self.sock.clone())?;
            // Only the socket's one receive task registers: the slot is free.
            let _ = self.reg.set(fd);
        }
        Ok(())
    }

    #[cfg(not(unix))]
    pub(crate) fn register(&self) -> io::Result<()> {
        Ok(())
    }

    /// The registration; an error before `register`.
    #[cfg(unix)]
    fn reg(&self) -> io::Result<&tokio::io::unix::AsyncFd<std::sync::Arc<std::net::UdpSocket>>> {
        self.reg
            .get()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// The socket, for option calls and non-blocking syscalls.
    pub(crate) fn sock(&self) -> SockRef<'_> {
        #[cfg(unix)]
        return SockRef::from(&*self.sock);
        #[cfg(not(unix))]
        return SockRef::from(&self.0);
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock()
            .peer_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Polls whether the socket may have datagrams to read.
    pub(crate) fn poll_readable(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        #[cfg(unix)]
        return match self.reg() {
            Ok(reg) => reg.poll_read_ready(cx).map_ok(drop),
            Err(e) => std::task::Poll::Ready(Err(e)),
        };
        #[cfg(not(unix))]
        return self.0.poll_recv_ready(cx);
    }

    /// Waits until the socket has datagrams or a pending error; true when
    /// an error is pending.
    #[cfg(unix)]
    pub(crate) async fn readable_or_error(&self) -> io::Result<bool> {
        let mut guard = self
            .reg()?
            .ready(Interest::READABLE | Interest::ERROR)
            .await?;
        let error = guard.ready().is_error();
        if error {
            // The receive that follows consumes the error; tokio would
            // otherwise keep reporting it.
            guard.clear_ready_matching(tokio::io::Ready::ERROR);
        }
        Ok(error)
    }

    #[cfg(not(unix))]
    pub(crate) async fn readable_or_error(&self) -> io::Result<bool> {
        let ready = self.0.ready(Interest::READABLE | Interest::ERROR).await?;
        Ok(ready.is_error())
    }

    /// Runs a non-blocking receive; `WouldBlock` clears the readiness.
    pub(crate) fn try_read<R>(
        &self,
        f: impl FnOnce(SockRef<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        #[cfg(unix)]
        return self
            .reg()?
            .try_io(Interest::READABLE, |s| f(SockRef::from(&**s)));
        #[cfg(not(unix))]
        return self
            .0
            .try_io(Interest::READABLE, || f(SockRef::from(&self.0)));
    }

    /// Sends one datagram with `send` (a non-blocking send), waiting for
    /// buffer space; gives up (returning `Interrupted`) once `stopped()` says
    /// so. Called from the send drain.
    #[cfg(unix)]
    pub(crate) fn send_waiting(
        &self,
        send: impl Fn(SockRef<'_>) -> io::Result<usize>,
        stopped: impl Fn() -> bool,
    ) -> io::Result<usize> {
        loop {
            match send(self.sock()) {
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted =>
                {
                    if stopped() {
                        return Err(io::Error::from(io::ErrorKind::Interrupted));
                    }
                    crate::sys::wait_writable(&*self.sock(), 50)?;
                    // Closed while waiting: this send was reported cancelled.
                    if stopped() {
                        return Err(io::Error::from(io::ErrorKind::Interrupted));
                    }
                }
                r => return r,
            }
        }
    }

    /// Sends one datagram, awaiting buffer space (sending from a given
    /// source address is Linux-only).
    #[cfg(not(unix))]
    pub(crate) async fn send_async(
        &self,
        data: &[u8],
        dest: Option<SocketAddr>,
        source: Option<crate::send::Source>,
    ) -> io::Result<usize> {
        if source.is_some() {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        match dest {
            Some(a) => self.0.send_to(data, a).await,
            None => self.0.send(data).await,
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for IoSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}
