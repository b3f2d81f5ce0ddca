//! `UdpHandle`: the native half of one `dgram.Socket`, exported to JS.
//!
//! It mirrors Node's internal UDP handle: JS owns the API semantics
//! (arguments, lookups, state machine, events); this owns the socket. Every
//! method takes `&self` because listeners re-enter (a `'message'` listener
//! calls `send()`); JS-thread-only state sits in `RefCell`s, state shared
//! with runtime tasks in `Shared`. Failures are thrown as errors whose
//! message is the libuv code name, which `lib/errors.js` turns into Node's
//! error shape.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::sync::Arc;

use napi::bindgen_prelude::{Int32Array, Uint32Array};
use napi::Env;
use napi_derive::napi;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::blocklist::BlockList;
use crate::error::{coded, to_napi};
use crate::io::IoSocket;
use crate::shared::{lock, Shared};
use crate::{addr, runtime, send, sockopt, sys};

/// `{ address, family, port }`, as `socket.address()` returns it.
#[napi(object)]
pub struct AddressInfo {
    pub address: String,
    pub family: String,
    pub port: u32,
}

fn address_info(a: &SocketAddr) -> AddressInfo {
    AddressInfo {
        address: addr::to_js(a),
        family: if a.is_ipv4() { "IPv4" } else { "IPv6" }.to_string(),
        port: u32::from(a.port()),
    }
}

/// What `sendMany` did with each datagram.
#[napi(object)]
pub struct SendManyResult {
    pub results: Int32Array,
    pub errors: Vec<String>,
}

/// Node's `guessHandleType(fd)`: `"UDP"` for a datagram socket.
#[napi]
pub fn guess_handle_type(fd: i64) -> String {
    #[cfg(unix)]
    {
        i32::try_from(fd)
            .map_or("INVALID", sys::fd_type)
            .to_string()
    }
    #[cfg(not(unix))]
    {
        let _ = fd;
        "UNKNOWN".to_string()
    }
}

#[napi(js_name = "UdpHandle")]
pub struct UdpHandle {
    ipv6: bool,
    socket: RefCell<Option<Arc<IoSocket>>>,
    /// A socket created by a bind that failed, kept for the next try.
    unbound: RefCell<Option<Socket>>,
    closed: Cell<bool>,
    shared: Arc<Shared>,
    receiving: Cell<bool>,
    /// Whether `connect` fixed a peer: libuv refuses an explicit destination
    /// then (`EISCONN`) and requires one otherwise (`EDESTADDRREQ`).
    connected: Cell<bool>,
}

#[napi]
impl UdpHandle {
    /// A handle for an `udp4` (`ipv6 = false`) or `udp6` socket; the OS
    /// socket is created by `bind`/`open`, as libuv does.
    /// `id` tags this socket's events, which go to `channel` (what this copy
    /// of index.js got from `setDispatcher`); JS hands out ids unique within
    /// its channel (cheaper than reading one back through a getter).
    #[napi(constructor, catch_unwind)]
    pub fn new(ipv6: bool, id: u32, channel: u32) -> Self {
        Self {
            ipv6,
            socket: RefCell::new(None),
            unbound: RefCell::new(None),
            closed: Cell::new(false),
            shared: Arc::new(Shared::new(id, channel as usize)),
            receiving: Cell::new(false),
            connected: Cell::new(false),
        }
    }

    fn sock(&self) -> napi::Result<Arc<IoSocket>> {
        self.socket.borrow().clone().ok_or_else(|| coded("EBADF"))
    }

    /// Runs a socket-option call on whichever socket exists: the bound one,
    /// or one whose bind failed (libuv keeps that descriptor open too).
    fn with_sock<R>(&self, f: impl FnOnce(SockRef<'_>) -> std::io::Result<R>) -> napi::Result<R> {
        if let Some(io) = self.socket.borrow().as_ref() {
            return f(io.sock()).map_err(|e| to_napi(&e));
        }
        match self.unbound.borrow().as_ref() {
            Some(s) => f(SockRef::from(s)).map_err(|e| to_napi(&e)),
            None => Err(coded("EBADF")),
        }
    }

    fn adopt(&self, std_sock: std::net::UdpSocket) -> napi::Result<()> {
        let rt = runtime::handle().map_err(|e| to_napi(&e))?;
        let _enter = rt.enter();
        let sock = IoSocket::new(std_sock).map_err(|e| to_napi(&e))?;
        *self.socket.borrow_mut() = Some(Arc::new(sock));
        Ok(())
    }

    /// Creates the OS socket with `flags` (see `sockopt::flags`) and binds it.
    #[napi(catch_unwind)]
    pub fn bind(&self, address: String, port: u32, flags: u32) -> napi::Result<()> {
        self.bind_in(self.ipv6, &address, port, flags)
    }

    /// `bind` for a socket of the given family: the handle's own, except for
    /// libuv's implicit bind of a membership call, which takes the group's.
    fn bind_in(&self, ipv6: bool, address: &str, port: u32, flags: u32) -> napi::Result<()> {
        if self.closed.get() {
            return Err(coded("EINVAL"));
        }
        let port = u16::try_from(port).map_err(|_| coded("EINVAL"))?;
        let at = addr::parse(address, port, ipv6).map_err(|e| to_napi(&e))?;
        // libuv refuses IPV6ONLY on an IPv4 socket before creating anything.
        if !ipv6 && flags & sockopt::flags::IPV6_ONLY != 0 {
            return Err(coded("EINVAL"));
        }
        if self.socket.borrow().is_some() {
            // Bound already (a membership call's implicit bind): libuv sets
            // the flags before bind() fails, and IPV6_V6ONLY fails first on
            // an IPv4 socket.
            let v4 = self
                .with_sock(|s| s.local_addr())
                .is_ok_and(|a| a.is_ipv4());
            let ipv6_only = flags & sockopt::flags::IPV6_ONLY != 0;
            return Err(coded(if ipv6_only && v4 {
                "ENOPROTOOPT"
            } else {
                "EINVAL"
            }));
        }
        // A socket whose earlier bind failed is reused, as libuv does.
        let s = match self.unbound.borrow_mut().take() {
            Some(s) => s,
            None => {
                let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
                // On Linux, non-blocking from the start (`SOCK_NONBLOCK`):
                // two `fcntl` calls fewer per socket.
                #[cfg(target_os = "linux")]
                let ty = Type::DGRAM.nonblocking();
                #[cfg(not(target_os = "linux"))]
                let ty = Type::DGRAM;
                Socket::new(domain, ty, Some(Protocol::UDP)).map_err(|e| to_napi(&e))?
            }
        };
        let bound = sockopt::apply_bind_flags(&SockRef::from(&s), ipv6, flags)
            .and_then(|()| self.apply_recv_destination(SockRef::from(&s), ipv6))
            .and_then(|()| s.bind(&at.into()));
        #[cfg(not(target_os = "linux"))]
        let bound = bound.and_then(|()| s.set_nonblocking(true));
        if let Err(e) = bound {
            *self.unbound.borrow_mut() = Some(s);
            return Err(to_napi(&e));
        }
        self.adopt(s.into())
    }

    /// Wraps an existing UDP socket descriptor (`bind({ fd })`); with
    /// `duplicate`, a duplicate of it, the original staying the caller's
    /// (a cluster worker adopting the socket its primary shares).
    #[napi(catch_unwind)]
    pub fn open(&self, fd: i64, duplicate: Option<bool>) -> napi::Result<()> {
        if self.closed.get() || self.socket.borrow().is_some() {
            return Err(coded("EINVAL"));
        }
        #[cfg(unix)]
        {
            let fd = i32::try_from(fd).map_err(|_| coded("EBADF"))?;
            // Closed on the way out unless adopted below.
            let dup = match duplicate {
                Some(true) => Some(sys::dup_fd(fd).map_err(|e| to_napi(&e))?),
                _ => None,
            };
            let fd = dup.as_ref().map_or(fd, std::os::fd::AsRawFd::as_raw_fd);
            // The descriptor's ownership passes to us once it is set up, as
            // with uv_udp_open; a failure leaves it open, the caller's.
            let std_sock = sys::adopt_fd(fd).map_err(|e| to_napi(&e))?;
            // recvDestination for the descriptor's own family.
            let ipv6 = std_sock
                .local_addr()
                .map(|a| a.is_ipv6())
                .unwrap_or(self.ipv6);
            let setup = std_sock
                .set_nonblocking(true)
                .and_then(|()| self.apply_recv_destination(SockRef::from(&std_sock), ipv6));
            if let Err(e) = setup {
                let _ = std::os::fd::IntoRawFd::into_raw_fd(std_sock);
                return Err(to_napi(&e));
            }
            // The duplicate now belongs to `std_sock`.
            if let Some(owned) = dup {
                let _ = std::os::fd::IntoRawFd::into_raw_fd(owned);
            }
            self.adopt(std_sock)
        }
        #[cfg(not(unix))]
        {
            let _ = (fd, duplicate);
            Err(coded("ENOTSUP"))
        }
    }

    /// Starts receiving: datagrams, receive errors and queued-send
    /// completions go to the environment's dispatcher (`setDispatcher`),
    /// tagged with this handle's `id`. The receive task itself starts at
    /// the next `startReceiving()` (see `env::defer_start`), which JS must
    /// schedule when this returns true.
    #[napi(catch_unwind)]
    pub fn recv_start(&self, env: Env) -> napi::Result<bool> {
        let sock = self.sock()?;
        if self.receiving.replace(true) {
            return Ok(false);
        }
        crate::env::sink(&self.shared)?; // fails if setDispatcher was not called
        lock(&self.shared.liveness).receiving = true;
        crate::env::sync_liveness(&env, &self.shared)?;
        // A worker's teardown stops the socket's tasks even if JS never
        // closed it.
        crate::env::track(&self.shared);
        Ok(crate::env::defer_start(
            Arc::downgrade(&sock),
            self.shared.clone(),
        ))
    }

    /// Sends `data` to `address:port`, or to the connected peer when
    /// `address` is absent. Returns the bytes sent, or -1 when the datagram
    /// was queued (a send-done event follows).
    #[napi(catch_unwind)]
    pub fn send(
        &self,
        env: Env,
        data: &[u8],
        port: u32,
        address: Option<String>,
    ) -> napi::Result<i64> {
        let sock = self.sock()?;
        let dest = self.destination(port, address.as_deref())?;
        self.send_with(&env, &sock, data, dest, None)
    }

    /// `send` from the local address `source` (an IP literal, IPv6 with an
    /// optional `%scope` naming the interface): `sendFrom`, Linux only.
    #[napi(catch_unwind)]
    pub fn send_from(
        &self,
        env: Env,
        data: &[u8],
        port: u32,
        address: Option<String>,
        source: String,
    ) -> napi::Result<i64> {
        let sock = self.sock()?;
        let dest = self.destination(port, address.as_deref())?;
        let source = addr::parse_source(&source, self.ipv6).map_err(|e| to_napi(&e))?;
        self.send_with(&env, &sock, data, dest, Some(source))
    }

    /// A send's destination (`None`: the connected peer), checked against
    /// the connection state as libuv does.
    fn destination(&self, port: u32, address: Option<&str>) -> napi::Result<Option<SocketAddr>> {
        let dest = match address {
            Some(a) => {
                let port = u16::try_from(port).map_err(|_| coded("EINVAL"))?;
                Some(addr::parse(a, port, self.ipv6).map_err(|e| to_napi(&e))?)
            }
            None => None,
        };
        self.check_destination(dest.is_some())?;
        Ok(dest)
    }

    fn send_with(
        &self,
        env: &Env,
        sock: &Arc<IoSocket>,
        data: &[u8],
        dest: Option<SocketAddr>,
        source: Option<send::Source>,
    ) -> napi::Result<i64> {
        match send::send(sock, &self.shared, data, dest, source).map_err(|e| to_napi(&e))? {
            send::Sent::Now(n) => Ok(n as i64),
            send::Sent::Queued => {
                lock(&self.shared.liveness).pending_sends += 1;
                crate::env::sync_liveness(env, &self.shared)?;
                Ok(-1)
            }
        }
    }

    /// `receiveBlockList`: the list's `rules` (see `blocklist.rs`), or null
    /// to stop filtering. False when a rule is in a form this version does
    /// not parse: nothing is filtered here then, and JS checks every datagram.
    #[napi(catch_unwind)]
    pub fn set_receive_block_list(&self, rules: Option<Vec<String>>) -> bool {
        let parsed = rules.map(|r| BlockList::parse(&r));
        let understood = !matches!(parsed, Some(None));
        self.shared.set_receive_block_list(parsed.flatten());
        understood
    }

    /// `recvDestination`: each received datagram then also reports its
    /// destination address and interface. Asked for at creation; applied
    /// when bind/open creates the socket (before any datagram can arrive),
    /// or now if it exists. `ENOTSUP` where the platform lacks `*_PKTINFO`
    /// support here.
    #[napi(catch_unwind)]
    pub fn recv_destination(&self) -> napi::Result<()> {
        #[cfg(target_os = "linux")]
        {
            self.shared
                .recv_dest
                .store(true, std::sync::atomic::Ordering::Relaxed);
            if let Some(io) = self.socket.borrow().as_ref() {
                sys::enable_pktinfo(&*io.sock(), self.ipv6).map_err(|e| to_napi(&e))?;
            }
            Ok(())
        }
        #[cfg(not(target_os = "linux"))]
        Err(coded("ENOTSUP"))
    }

    /// Applies `recvDestination` to a socket being set up.
    fn apply_recv_destination(&self, s: SockRef<'_>, ipv6: bool) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        if self
            .shared
            .recv_dest
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            sys::enable_pktinfo(&*s, ipv6)?;
        }
        let _ = (s, ipv6);
        Ok(())
    }

    /// Sends `data[i]` to `addresses[targets[i]]:ports[i]` for every i, in
    /// order (see `send::send_many`); a list repeats few addresses, so each
    /// is passed and parsed once. `results[i]` is the bytes sent, -1 when
    /// queued (a send-done event follows), or -2 on failure, whose code is
    /// the next entry of `errors`.
    #[napi(catch_unwind)]
    pub fn send_many(
        &self,
        env: Env,
        data: Vec<&[u8]>,
        ports: Uint32Array,
        targets: Uint32Array,
        addresses: Vec<String>,
    ) -> napi::Result<SendManyResult> {
        let sock = self.sock()?;
        self.check_destination(true)?;
        let parsed: Vec<Option<SocketAddr>> = addresses
            .iter()
            .map(|a| addr::parse(a, 0, self.ipv6).ok())
            .collect();
        // One outcome per item, in order: runs of items whose address parses
        // go out together; an item whose address does not parse fails alone
        // (JS only passes IP literals, so this is a guard).
        let mut outcomes = Vec::with_capacity(data.len());
        let mut run = Vec::new();
        for (i, d) in data.iter().enumerate() {
            let port = ports.get(i).and_then(|p| u16::try_from(*p).ok());
            let target = targets
                .get(i)
                .and_then(|t| parsed.get(*t as usize).copied().flatten());
            match (target, port) {
                (Some(mut to), Some(port)) => {
                    to.set_port(port);
                    run.push((*d, Some(to)));
                }
                _ => {
                    outcomes.extend(send::send_many(&sock, &self.shared, &run));
                    run.clear();
                    outcomes.push(send::Outcome::Failed(std::io::Error::from(
                        std::io::ErrorKind::InvalidInput,
                    )));
                }
            }
        }
        outcomes.extend(send::send_many(&sock, &self.shared, &run));
        let mut results = Vec::with_capacity(outcomes.len());
        let mut errors = Vec::new();
        let mut queued = 0;
        for outcome in outcomes {
            results.push(match outcome {
                send::Outcome::Sent(n) => i32::try_from(n).unwrap_or(i32::MAX),
                send::Outcome::Queued => {
                    queued += 1;
                    -1
                }
                send::Outcome::Failed(e) => {
                    errors.push(crate::error::code_of(&e));
                    -2
                }
            });
        }
        if queued > 0 {
            lock(&self.shared.liveness).pending_sends += queued;
            crate::env::sync_liveness(&env, &self.shared)?;
        }
        Ok(SendManyResult {
            results: Int32Array::new(results),
            errors,
        })
    }

    /// `connect(2)`: fixes the peer; later sends need no address.
    #[napi(catch_unwind)]
    pub fn connect(&self, address: String, port: u32) -> napi::Result<()> {
        let sock = self.sock()?;
        let port = u16::try_from(port).map_err(|_| coded("EINVAL"))?;
        let to = addr::parse(&address, port, self.ipv6).map_err(|e| to_napi(&e))?;
        sock.sock().connect(&to.into()).map_err(|e| to_napi(&e))?;
        self.set_connected(true);
        Ok(())
    }

    /// libuv's rule: a connected socket takes no destination, another needs one.
    fn check_destination(&self, has_dest: bool) -> napi::Result<()> {
        match (self.connected.get(), has_dest) {
            (true, true) => Err(coded("EISCONN")),
            (false, false) => Err(coded("EDESTADDRREQ")),
            _ => Ok(()),
        }
    }

    fn set_connected(&self, on: bool) {
        self.connected.set(on);
        // The receive task watches connected sockets for ICMP errors too.
        self.shared
            .connected
            .store(on, std::sync::atomic::Ordering::Release);
        self.shared.mode_changed.notify_one();
    }

    /// Dissolves the association made by `connect`.
    #[napi(catch_unwind)]
    pub fn disconnect(&self) -> napi::Result<()> {
        let sock = self.sock()?;
        sys::disconnect(&sock.sock()).map_err(|e| to_napi(&e))?;
        self.set_connected(false);
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn getsockname(&self) -> napi::Result<AddressInfo> {
        let a = self.with_sock(|s| {
            s.local_addr()?
                .as_socket()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))
        })?;
        Ok(address_info(&a))
    }

    #[napi(catch_unwind)]
    pub fn getpeername(&self) -> napi::Result<AddressInfo> {
        let sock = self.sock()?;
        let a = sock.peer_addr().map_err(|e| to_napi(&e))?;
        Ok(address_info(&a))
    }

    #[napi(catch_unwind)]
    pub fn set_broadcast(&self, on: bool) -> napi::Result<()> {
        self.with_sock(|s| sockopt::set_broadcast(&s, on))
    }

    #[napi(js_name = "setTTL", catch_unwind)]
    pub fn set_ttl(&self, ttl: i32) -> napi::Result<()> {
        // libuv checks the range before touching the socket.
        let ttl = u32::try_from(ttl)
            .ok()
            .filter(|t| (1..=255).contains(t))
            .ok_or_else(|| coded("EINVAL"))?;
        self.with_sock(|s| sockopt::set_ttl(&s, self.ipv6, ttl))
    }

    #[napi(js_name = "setMulticastTTL", catch_unwind)]
    pub fn set_multicast_ttl(&self, ttl: i32) -> napi::Result<()> {
        let ttl = u32::try_from(ttl)
            .ok()
            .filter(|t| *t <= 255)
            .ok_or_else(|| coded("EINVAL"))?;
        self.with_sock(|s| sockopt::set_multicast_ttl(&s, self.ipv6, ttl))
    }

    #[napi(catch_unwind)]
    pub fn set_multicast_loopback(&self, on: bool) -> napi::Result<()> {
        self.with_sock(|s| sockopt::set_multicast_loop(&s, self.ipv6, on))
    }

    #[napi(catch_unwind)]
    pub fn set_multicast_interface(&self, iface: String) -> napi::Result<()> {
        // libuv parses the address before it touches the socket: EINVAL
        // for a bad one even without a descriptor (EBADF).
        let (host, _) = iface.split_once('%').unwrap_or((&iface, ""));
        if iface.parse::<std::net::Ipv4Addr>().is_err()
            && host.parse::<std::net::Ipv6Addr>().is_err()
        {
            return Err(coded("EINVAL"));
        }
        self.with_sock(|s| sockopt::set_multicast_interface(&s, &iface))
    }

    /// Before a membership call: like libuv, an unbound socket is
    /// bound to the any-address (port 0, `SO_REUSEADDR`) first, without
    /// receiving; a later `bind()` then fails with `EINVAL`, as on Node.
    fn implicit_bind(&self, group: std::net::IpAddr) -> napi::Result<()> {
        if self.socket.borrow().is_none() && self.unbound.borrow().is_none() && !self.closed.get() {
            let (ipv6, any) = if group.is_ipv6() {
                (true, "::")
            } else {
                (false, "0.0.0.0")
            };
            self.bind_in(ipv6, any, 0, sockopt::flags::REUSE_ADDR)?;
        }
        Ok(())
    }

    /// Joins (`join = true`) or leaves a multicast group.
    #[napi(catch_unwind)]
    pub fn membership(&self, group: String, iface: Option<String>, join: bool) -> napi::Result<()> {
        // libuv parses the group before its implicit bind: a bad one binds nothing.
        let g = sockopt::parse_group(&group).map_err(|e| to_napi(&e))?;
        self.implicit_bind(g)?;
        self.with_sock(|s| sockopt::membership(&s, &group, iface.as_deref(), join))
    }

    /// Joins or leaves a source-specific multicast group.
    #[napi(catch_unwind)]
    pub fn source_membership(
        &self,
        source: String,
        group: String,
        iface: Option<String>,
        join: bool,
    ) -> napi::Result<()> {
        let g = sockopt::parse_group(&group).map_err(|e| to_napi(&e))?;
        let src = sockopt::parse_group(&source).map_err(|e| to_napi(&e))?;
        if g.is_ipv4() != src.is_ipv4() {
            return Err(coded("EINVAL")); // the source parses in the group's family
        }
        self.implicit_bind(g)?;
        self.with_sock(|s| sockopt::source_membership(&s, &source, &group, iface.as_deref(), join))
    }

    /// Reads (`size == 0`) or sets the kernel receive/send buffer size.
    #[napi(catch_unwind)]
    pub fn buffer_size(&self, size: u32, recv: bool) -> napi::Result<u32> {
        // The option is a C int: libuv refuses what does not fit.
        if size > i32::MAX as u32 {
            return Err(coded("EINVAL"));
        }
        let n = self.with_sock(|s| sockopt::buffer_size(&s, recv, size as usize))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    #[napi(catch_unwind)]
    pub fn get_send_queue_size(&self) -> u32 {
        self.shared
            .queued_bytes
            .load(std::sync::atomic::Ordering::Acquire) as u32
    }

    #[napi(catch_unwind)]
    pub fn get_send_queue_count(&self) -> u32 {
        self.shared
            .queued_count
            .load(std::sync::atomic::Ordering::Acquire) as u32
    }

    /// The OS descriptor, or -1 (Node's `handle.fd`).
    #[napi(getter, catch_unwind)]
    pub fn fd(&self) -> i64 {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            self.socket
                .borrow()
                .as_ref()
                .map_or(-1, |s| i64::from(s.as_raw_fd()))
        }
        #[cfg(not(unix))]
        {
            -1
        }
    }

    #[napi(js_name = "ref", catch_unwind)]
    pub fn ref_(&self, env: Env) -> napi::Result<()> {
        lock(&self.shared.liveness).unrefd = false;
        crate::env::sync_liveness(&env, &self.shared)
    }

    #[napi(catch_unwind)]
    pub fn unref(&self, env: Env) -> napi::Result<()> {
        lock(&self.shared.liveness).unrefd = true;
        crate::env::sync_liveness(&env, &self.shared)
    }

    /// Stops receiving (Node's `_stopReceiving()`); the socket stays open.
    #[napi(catch_unwind)]
    pub fn recv_stop(&self, env: Env) -> napi::Result<()> {
        // Rare, so simple: stopping the receive task means a new Shared.
        lock(&self.shared.liveness).receiving = false;
        crate::env::sync_liveness(&env, &self.shared)
    }

    /// Closes the socket now: the port is free when this returns; queued
    /// sends are dropped. Returns how many queued sends were cancelled.
    #[napi(catch_unwind)]
    pub fn close(&self, env: Env) -> napi::Result<u32> {
        if self.closed.replace(true) {
            return Ok(0);
        }
        let (cancelled, draining) = send::cancel_all(&self.shared);
        self.shared.stop();
        if draining {
            // A drain thread may be waiting for the socket to become
            // writable: shutting it down wakes that wait and makes any
            // further write fail, so nothing reported cancelled goes out
            // and close() need not wait for the wait to time out.
            if let Some(io) = self.socket.borrow().as_ref() {
                let _ = io.sock().shutdown(std::net::Shutdown::Both);
            }
        }
        if self.receiving.get() {
            crate::env::cancel_start(&self.shared);
        }
        {
            let mut l = lock(&self.shared.liveness);
            l.receiving = false;
            l.pending_sends = 0;
        }
        crate::env::sync_liveness(&env, &self.shared)?;
        self.unbound.borrow_mut().take();
        if let Some(sock) = self.socket.borrow_mut().take() {
            release_socket(sock);
        }
        Ok(u32::try_from(cancelled).unwrap_or(u32::MAX))
    }
}

/// Drops our reference to the socket, which is normally the last one (the
/// runtime tasks hold it weakly), closing the descriptor now so that the
/// port is free when `close()` returns. If a task is in the middle of a
/// receive, wait the few microseconds until it lets go.
fn release_socket(sock: Arc<IoSocket>) {
    let weak = Arc::downgrade(&sock);
    drop(sock);
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    while weak.strong_count() > 0 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
}

impl Drop for UdpHandle {
    /// A handle collected without `close()` (an unbound or closed socket, as
    /// bound ones stay reachable from JS's table of live sockets) stops its tasks.
    fn drop(&mut self) {
        self.shared.stop();
    }
}
