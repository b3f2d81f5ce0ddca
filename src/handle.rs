//! The napi edge: `UDP`, the native half of one `dgram.Socket` (the
//! module's other functions are in `exports.rs`).
//!
//! The class mirrors Node's internal UDP handle: JS owns the API semantics
//! (arguments, lookups, state machine, events); this owns the socket. Every
//! method takes `&self` because listeners re-enter (a `'message'` listener
//! calls `send()`). Failures are thrown as errors whose message is the
//! libuv code name, which `lib/errors.js` turns into Node's error shape.
//! Events go back to JS through `deliver.rs`.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use napi::Env;
use napi_derive::napi;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::core::blocklist::BlockList;
use crate::core::error::code_of;
use crate::core::{addr, send::Source, sockopt};
use crate::drivers::js_loop::Sharing;
use crate::drivers::send::Outcome;
use crate::socket::SocketCtx;
use crate::sys;
use crate::sys::napi::class::{self, Args, Ret};
use crate::sys::napi::{value, Js, RawEnv, RawValue};

/// An error for JS whose message is the libuv name of `err`.
fn to_napi(err: &std::io::Error) -> napi::Error {
    napi::Error::from_reason(code_of(err))
}

/// An error for JS with a libuv name of our choosing.
fn coded(code: &str) -> napi::Error {
    napi::Error::from_reason(code)
}

/// `{ address, family, port }`, as `socket.address()` returns it; for an
/// IPv4 address the number `ip * 65536 + port` instead, which JS makes
/// into that object (`lib/udp-handle.js`): an object literal and a cached
/// address string cost a fraction of three Node-API property sets.
fn address_info(env: RawEnv, a: &SocketAddr) -> napi::Result<Ret> {
    if let SocketAddr::V4(v4) = a {
        return Ok(Ret::F64(
            f64::from(u32::from(*v4.ip())) * 65536.0 + f64::from(v4.port()),
        ));
    }
    Ok(Ret::Value(value::object(
        env,
        &[
            (c"address", value::string(env, &addr::to_js(a))?),
            (c"family", value::string(env, "IPv6")?),
            (c"port", value::uint32(env, u32::from(a.port()))?),
        ],
    )?))
}

/// A send's result as Node's handle reports it: bytes + 1 when the kernel
/// took it now, 0 when it was queued (a `SEND_DONE` event follows).
fn sent_code(outcome: Outcome) -> napi::Result<i64> {
    match outcome {
        Outcome::Sent(n) => Ok(n as i64 + 1),
        Outcome::Queued => Ok(0),
        Outcome::Failed(e) => Err(to_napi(&e)),
    }
}

pub struct UdpHandle {
    ipv6: bool,
    /// The socket's state; once closed, a stand-in that lets it go (see
    /// `SocketCtx::closed_stand_in`).
    ctx: RefCell<Rc<SocketCtx>>,
    /// The async id of the socket's resource (`getAsyncId()`, also after
    /// the close).
    async_id: Option<f64>,
    /// A socket created by a bind that failed, kept for the next try.
    unbound: RefCell<Option<Socket>>,
    /// Whether `connect` fixed a peer: libuv refuses an explicit destination
    /// then (`EISCONN`) and requires one otherwise (`EDESTADDRREQ`).
    connected: Cell<bool>,
}

impl UdpHandle {
    /// A handle for an `udp4` (`ipv6 = false`) or `udp6` socket whose
    /// events go to event function `handler` (`addEventHandler`); the OS
    /// socket is created by `bind`/`open`, as libuv does.
    pub fn new(a: &Args) -> napi::Result<Self> {
        let (ipv6, handler) = (a.bool(0)?, a.u32(1)?);
        let ctx = SocketCtx::new(&Env::from_raw(a.env()), a.this(), handler)?;
        Ok(Self {
            ipv6,
            async_id: ctx.async_id,
            ctx: RefCell::new(ctx),
            unbound: RefCell::new(None),
            connected: Cell::new(false),
        })
    }

    /// The socket's state (a clone: a call may close the handle, which
    /// replaces it).
    fn ctx(&self) -> Rc<SocketCtx> {
        self.ctx.borrow().clone()
    }

    fn sock(&self) -> napi::Result<Arc<Socket>> {
        self.ctx().sock().ok_or_else(|| coded("EBADF"))
    }

    /// Runs a socket-option call on whichever socket exists: the bound one,
    /// or one whose bind failed (libuv keeps that descriptor open too).
    fn with_sock<R>(&self, f: impl FnOnce(SockRef<'_>) -> std::io::Result<R>) -> napi::Result<R> {
        if let Some(s) = self.ctx().sock() {
            return f(SockRef::from(&*s)).map_err(|e| to_napi(&e));
        }
        match self.unbound.borrow().as_ref() {
            Some(s) => f(SockRef::from(s)).map_err(|e| to_napi(&e)),
            None => Err(coded("EBADF")),
        }
    }

    /// Creates the OS socket with `flags` (see `sockopt::flags`) and binds it.
    pub fn bind(
        &self,
        this: sys::napi::RawValue,
        address: String,
        port: u32,
        flags: u32,
    ) -> napi::Result<()> {
        self.bind_in(this, self.ipv6, &address, port, flags)
    }

    /// `bind` for a socket of the given family: the handle's own, except for
    /// libuv's implicit bind of a membership call, which takes the group's.
    fn bind_in(
        &self,
        this: sys::napi::RawValue,
        ipv6: bool,
        address: &str,
        port: u32,
        flags: u32,
    ) -> napi::Result<()> {
        let ctx = self.ctx();
        if ctx.is_closed() {
            return Err(coded("EINVAL"));
        }
        let port = u16::try_from(port).map_err(|_| coded("EINVAL"))?;
        let at = addr::parse(address, port, ipv6).map_err(|e| to_napi(&e))?;
        // libuv on Windows (uv_udp_maybe_bind): a bound handle (a membership
        // call's implicit bind) is left as it is, before any other check,
        // and the bind succeeds.
        #[cfg(windows)]
        if ctx.sock().is_some() {
            return Ok(());
        }
        // libuv refuses IPV6ONLY on an IPv4 socket before creating anything.
        if !ipv6 && flags & sockopt::flags::IPV6_ONLY != 0 {
            return Err(coded("EINVAL"));
        }
        if let Some(s) = ctx.sock() {
            // Bound already (a membership call's implicit bind): libuv sets
            // the flags and calls bind() again, so the kernel answers:
            // IPV6_V6ONLY on an IPv4 socket ENOPROTOOPT, an address that is
            // not local EADDRNOTAVAIL, anything else EINVAL.
            let s = SockRef::from(&*s);
            // (`true`: let the kernel, not our check, refuse IPV6_V6ONLY.)
            return sockopt::apply_bind_flags(&s, true, flags)
                .and_then(|()| s.bind(&at.into()))
                .map_err(|e| to_napi(&sockopt::bind_error(e)));
        }
        // A socket whose earlier bind failed is reused, as libuv does.
        let s = match self.unbound.borrow_mut().take() {
            Some(s) => s,
            None => {
                let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
                // On Linux, non-blocking from the start (`SOCK_NONBLOCK`).
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
        let s = Arc::new(s);
        ctx.attach(&s, this, Sharing::Exclusive)
            .map_err(|e| to_napi(&e))?;
        ctx.shared.saw_local_port(port);
        Ok(())
    }

    /// Wraps an existing UDP socket descriptor (`bind({ fd })`); with
    /// `duplicate`, a duplicate of it, the original staying the caller's
    /// (a cluster worker adopting the socket its primary shares).
    pub fn open(
        &self,
        this: sys::napi::RawValue,
        fd: i64,
        duplicate: Option<bool>,
    ) -> napi::Result<()> {
        if self.ctx().is_closed() || self.ctx().sock().is_some() {
            return Err(coded("EINVAL"));
        }
        #[cfg(unix)]
        {
            let fd = i32::try_from(fd).map_err(|_| coded("EBADF"))?;
            if self.ctx().thread.owns_fd(fd) {
                return Err(coded("EEXIST"));
            }
            // Closed on the way out unless adopted below.
            let dup = match duplicate {
                Some(true) => Some(sys::dup_fd(fd).map_err(|e| to_napi(&e))?),
                _ => None,
            };
            let fd = dup.as_ref().map_or(fd, std::os::fd::AsRawFd::as_raw_fd);
            // The descriptor's ownership passes to us once it is set up, as
            // with uv_udp_open; a failure leaves it open, the caller's.
            let s = Socket::from(sys::adopt_fd(fd).map_err(|e| to_napi(&e))?);
            let ipv6 = s
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map_or(self.ipv6, |a| a.is_ipv6());
            let setup = s
                .set_nonblocking(true)
                .and_then(|()| self.apply_recv_destination(SockRef::from(&s), ipv6));
            // A descriptor connected before it came here counts as
            // connected, as uv_udp_open makes it: sends take no address.
            let preconnected = s.peer_addr().is_ok();
            let s = Arc::new(s);
            // Another process (a cluster's primary and its other workers,
            // or whoever passed the descriptor) may read it too.
            let attached = setup.and_then(|()| self.ctx().attach(&s, this, Sharing::Shared));
            if let Err(e) = attached {
                // Not ours after all: give the descriptor back unclosed.
                if let Ok(s) = Arc::try_unwrap(s) {
                    let _ = std::os::fd::IntoRawFd::into_raw_fd(s);
                }
                return Err(to_napi(&e));
            }
            // The duplicate now belongs to the socket.
            if let Some(owned) = dup {
                let _ = std::os::fd::IntoRawFd::into_raw_fd(owned);
            }
            self.connected.set(preconnected);
            Ok(())
        }
        #[cfg(not(unix))]
        {
            let _ = (fd, this, duplicate);
            Err(coded("ENOTSUP"))
        }
    }

    /// Starts receiving: datagrams and receive errors go to the event
    /// handler (see `deliver.rs`).
    pub fn recv_start(&self) -> napi::Result<()> {
        self.sock()?;
        self.ctx().recv_start().map_err(|e| to_napi(&e))
    }

    /// Stops receiving (Node's `_stopReceiving()`); the socket stays open.
    pub fn recv_stop(&self) {
        self.ctx().recv_stop();
    }

    /// Sends `data` to `address:port`, or to the connected peer when
    /// `address` is absent. Returns Node's handle code: bytes + 1 when sent
    /// now, 0 when queued (a `SEND_DONE` event follows).
    pub fn send(&self, data: &[u8], port: u32, address: Option<&str>) -> napi::Result<i64> {
        let sock = self.sock()?;
        let dest = self.destination(port, address)?;
        sent_code(self.ctx().send(&sock, data, dest, None))
    }

    /// `send` from the local address `source` (an IP literal, IPv6 with an
    /// optional `%scope` naming the interface): `sendFrom`, Linux only.
    pub fn send_from(
        &self,
        data: &[u8],
        port: u32,
        address: Option<String>,
        source: String,
    ) -> napi::Result<i64> {
        let sock = self.sock()?;
        let dest = self.destination(port, address.as_deref())?;
        let source: Source = addr::parse_source(&source, self.ipv6).map_err(|e| to_napi(&e))?;
        sent_code(self.ctx().send(&sock, data, dest, Some(source)))
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

    /// `receiveBlockList`: the list's `rules` (see `core/blocklist.rs`), or
    /// null to stop filtering. False when a rule is in a form this version
    /// does not parse: nothing is filtered here then, and JS checks every
    /// datagram.
    pub fn set_receive_block_list(&self, rules: Option<Vec<String>>) -> bool {
        let parsed = rules.map(|r| BlockList::parse(&r));
        let understood = !matches!(parsed, Some(None));
        // (Not into a closed handle's stand-in, shared by all closed ones.)
        let ctx = self.ctx();
        if !ctx.is_closed() {
            ctx.shared.set_receive_block_list(parsed.flatten());
        }
        understood
    }

    /// JS found the socket's listeners slow (or fast again): read-ahead
    /// stops, or may start again (see `Shared::slow_consumer`).
    pub fn set_slow_consumer(&self, slow: bool) {
        let ctx = self.ctx();
        if !ctx.is_closed() {
            ctx.shared
                .slow_consumer
                .store(slow, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// `recvDestination`: each received datagram then also reports its
    /// destination address and interface. Asked for at creation; applied
    /// when bind/open creates the socket (before any datagram can arrive),
    /// or now if it exists. `ENOTSUP` where the platform lacks `*_PKTINFO`
    /// support here.
    pub fn recv_destination(&self) -> napi::Result<()> {
        #[cfg(target_os = "linux")]
        {
            let ctx = self.ctx();
            if ctx.is_closed() {
                return Ok(());
            }
            ctx.shared
                .recv_dest
                .store(true, std::sync::atomic::Ordering::Relaxed);
            if let Some(s) = ctx.sock() {
                sys::enable_pktinfo(&*s, self.ipv6).map_err(|e| to_napi(&e))?;
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
            .ctx()
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
    /// order (see `drivers::send::send_many`); a list repeats few
    /// addresses, so each is passed and parsed once. `results[i]` is the
    /// bytes sent, -1 when queued (a `SEND_DONE` event follows), or -2 on
    /// failure, whose code is the next entry of `errors`.
    pub fn send_many(
        &self,
        data: &[&[u8]],
        ports: &[u32],
        targets: &[u32],
        addresses: &[Option<SocketAddr>],
        results: &mut [i32],
    ) -> napi::Result<Vec<String>> {
        let ctx = self.ctx();
        let sock = ctx.sock().ok_or_else(|| coded("EBADF"))?;
        self.check_destination(true)?;
        // Runs of items whose address parses go out together; an item whose
        // address does not parse fails alone (JS only passes IP literals, so
        // this is a guard).
        let mut outcomes = Vec::with_capacity(data.len());
        let mut run = Vec::with_capacity(data.len());
        for (i, d) in data.iter().enumerate() {
            let port = ports.get(i).and_then(|p| u16::try_from(*p).ok());
            let target = targets
                .get(i)
                .and_then(|t| addresses.get(*t as usize).copied().flatten());
            match (target, port) {
                (Some(mut to), Some(port)) => {
                    to.set_port(port);
                    run.push((*d, Some(to)));
                }
                _ => {
                    if !run.is_empty() {
                        outcomes.extend(ctx.send_many(&sock, &run));
                        run.clear();
                    }
                    outcomes.push(Outcome::Failed(std::io::Error::from(
                        std::io::ErrorKind::InvalidInput,
                    )));
                }
            }
        }
        if !run.is_empty() {
            outcomes.extend(ctx.send_many(&sock, &run));
        }
        let mut errors = Vec::new();
        for (slot, outcome) in results.iter_mut().zip(outcomes) {
            *slot = match outcome {
                Outcome::Sent(n) => i32::try_from(n).unwrap_or(i32::MAX),
                Outcome::Queued => -1,
                Outcome::Failed(e) => {
                    errors.push(code_of(&e));
                    -2
                }
            };
        }
        Ok(errors)
    }

    /// A `sendMany` target: an IP literal of the socket's family, or `None`
    /// (the items sent to it fail alone).
    pub(crate) fn target(&self, address: &str) -> Option<SocketAddr> {
        addr::parse(address, 0, self.ipv6).ok()
    }

    /// `connect(2)`: fixes the peer; later sends need no address. A
    /// connected handle refuses (`EISCONN`, as libuv): JS disconnects first.
    pub fn connect(&self, address: String, port: u32) -> napi::Result<()> {
        let sock = self.sock()?;
        if self.connected.get() {
            return Err(coded("EISCONN"));
        }
        let port = u16::try_from(port).map_err(|_| coded("EINVAL"))?;
        let to = addr::parse(&address, port, self.ipv6).map_err(|e| to_napi(&e))?;
        sock.connect(&to.into()).map_err(|e| to_napi(&e))?;
        self.connected.set(true);
        self.ctx().send_room_changed();
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

    /// Dissolves the association made by `connect`.
    pub fn disconnect(&self) -> napi::Result<()> {
        let sock = self.sock()?;
        sys::disconnect(&SockRef::from(&*sock)).map_err(|e| to_napi(&e))?;
        self.connected.set(false);
        self.ctx().send_room_changed();
        Ok(())
    }

    pub fn getsockname(&self) -> napi::Result<SocketAddr> {
        let local = self.with_sock(|s| {
            s.local_addr()?
                .as_socket()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))
        })?;
        self.ctx().shared.saw_local_port(local.port());
        Ok(local)
    }

    pub fn getpeername(&self) -> napi::Result<SocketAddr> {
        let sock = self.sock()?;
        sock.peer_addr()
            .and_then(|a| {
                a.as_socket()
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotConnected))
            })
            .map_err(|e| to_napi(&e))
    }

    pub fn set_broadcast(&self, on: bool) -> napi::Result<()> {
        self.with_sock(|s| sockopt::set_broadcast(&s, on))
    }

    pub fn set_ttl(&self, ttl: i32) -> napi::Result<()> {
        // libuv checks the range before touching the socket.
        let ttl = u32::try_from(ttl)
            .ok()
            .filter(|t| (1..=255).contains(t))
            .ok_or_else(|| coded("EINVAL"))?;
        self.with_sock(|s| sockopt::set_ttl(&s, self.ipv6, ttl))
    }

    pub fn set_multicast_ttl(&self, ttl: i32) -> napi::Result<()> {
        // libuv's range: 0..=255 on Unix, -1..=255 on Windows, where the
        // value goes to setsockopt as a DWORD (-1 as 0xFFFFFFFF).
        let min = if cfg!(windows) { -1 } else { 0 };
        if !(min..=255).contains(&ttl) {
            return Err(coded("EINVAL"));
        }
        self.with_sock(|s| sockopt::set_multicast_ttl(&s, self.ipv6, ttl as u32))
    }

    pub fn set_multicast_loopback(&self, on: bool) -> napi::Result<()> {
        self.with_sock(|s| sockopt::set_multicast_loop(&s, self.ipv6, on))
    }

    pub fn set_multicast_interface(&self, iface: String) -> napi::Result<()> {
        // libuv parses the address before it touches the socket: EINVAL
        // for a bad one even without a descriptor (EBADF).
        if addr::ip4(&iface).is_none() && addr::ip6(&iface).is_none() {
            return Err(coded("EINVAL"));
        }
        self.with_sock(|s| sockopt::set_multicast_interface(&s, &iface))
    }

    /// Before a membership call: like libuv, an unbound socket is bound to
    /// the any-address (port 0, `SO_REUSEADDR`) first, without receiving; a
    /// later `bind()` then fails with `EINVAL`, as on Node.
    fn implicit_bind(
        &self,
        this: sys::napi::RawValue,
        group: std::net::IpAddr,
    ) -> napi::Result<()> {
        if self.ctx().sock().is_none() && self.unbound.borrow().is_none() && !self.ctx().is_closed()
        {
            let (ipv6, any) = if group.is_ipv6() {
                (true, "::")
            } else {
                (false, "0.0.0.0")
            };
            self.bind_in(this, ipv6, any, 0, sockopt::flags::REUSE_ADDR)?;
        }
        Ok(())
    }

    /// Joins (`join = true`) or leaves a multicast group.
    pub fn membership(
        &self,
        this: sys::napi::RawValue,
        group: String,
        iface: Option<String>,
        join: bool,
    ) -> napi::Result<()> {
        // libuv parses the group before its implicit bind: a bad one binds nothing.
        let g = sockopt::parse_group(&group).map_err(|e| to_napi(&e))?;
        #[cfg(windows)]
        self.windows_family_check(g)?;
        self.implicit_bind(this, g)?;
        self.with_sock(|s| sockopt::membership(&s, &group, iface.as_deref(), join))
    }

    /// Joins or leaves a source-specific multicast group.
    pub fn source_membership(
        &self,
        this: sys::napi::RawValue,
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
        #[cfg(windows)]
        self.windows_family_check(g)?;
        self.implicit_bind(this, g)?;
        self.with_sock(|s| sockopt::source_membership(&s, &source, &group, iface.as_deref(), join))
    }

    /// libuv on Windows checks a bound handle's family before anything
    /// else: an IPv4 group on an IPv6 socket, or an IPv6 group on an IPv4
    /// one, is EINVAL (an unbound handle is bound in the group's family, as
    /// on Unix, where the kernel decides the rest).
    #[cfg(windows)]
    fn windows_family_check(&self, group: std::net::IpAddr) -> napi::Result<()> {
        let bound_v6 = self
            .ctx()
            .sock()
            .and_then(|s| s.local_addr().ok())
            .and_then(|a| a.as_socket())
            .map(|a| a.is_ipv6());
        match bound_v6 {
            Some(v6) if group.is_ipv4() == v6 => Err(coded("EINVAL")),
            _ => Ok(()),
        }
    }

    /// Reads (`size == 0`) or sets the kernel receive/send buffer size.
    pub fn buffer_size(&self, size: u32, recv: bool) -> napi::Result<u32> {
        // The option is a C int: libuv refuses what does not fit.
        if size > i32::MAX as u32 {
            return Err(coded("EINVAL"));
        }
        // libuv on Windows asks the OS with INVALID_SOCKET before a bind:
        // WSAENOTSOCK (on Unix its own check says EBADF).
        #[cfg(windows)]
        if self.ctx().sock().is_none() && self.unbound.borrow().is_none() {
            return Err(coded("ENOTSOCK"));
        }
        let n = self.with_sock(|s| sockopt::buffer_size(&s, recv, size as usize))?;
        if size != 0 && !recv {
            self.ctx().send_room_changed();
        }
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub fn get_send_queue_size(&self) -> u32 {
        u32::try_from(self.ctx().send_queue_size()).unwrap_or(u32::MAX)
    }

    pub fn get_send_queue_count(&self) -> u32 {
        u32::try_from(self.ctx().send_queue_count()).unwrap_or(u32::MAX)
    }

    /// Queued sends the drain thread has not written yet (not part of
    /// Node's API: lets tests wait for the writes without JS hearing of
    /// them, which `getSendQueueCount()` would need).
    pub fn unwritten_sends(&self) -> u32 {
        self.ctx()
            .shared
            .queued_count
            .load(std::sync::atomic::Ordering::Acquire) as u32
    }

    /// Takes the socket's pending error (`SO_ERROR`: an ICMP report on a
    /// connected socket), by its libuv name; undefined when there is none.
    /// JS asks between the messages of a batch after a connected send (see
    /// lib/receive.js `pendingError`): the kernel would report it before
    /// those datagrams to a reader that had not read them yet, as libuv
    /// reads them.
    fn take_error(&self, env: RawEnv) -> napi::Result<Ret> {
        let Some(sock) = self.ctx().sock() else {
            return Ok(Ret::Undefined);
        };
        match sock.take_error() {
            Ok(Some(e)) => Ok(Ret::Value(value::string(env, &code_of(&e))?)),
            Ok(None) | Err(_) => Ok(Ret::Undefined),
        }
    }

    /// The OS descriptor (Node's `handle.fd`); libuv's `UV_EBADF` while
    /// there is none, and always on Windows, as Node reports it.
    pub fn fd(&self) -> i64 {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            self.ctx()
                .sock()
                .map_or(-i64::from(libc::EBADF), |s| i64::from(s.as_raw_fd()))
        }
        #[cfg(not(unix))]
        {
            -4083 // UV_EBADF on Windows
        }
    }

    pub fn ref_(&self) {
        self.ctx().set_ref(true);
    }

    pub fn unref(&self) {
        self.ctx().set_ref(false);
    }

    /// Node's `handle.hasRef()`: open and not unref()'d. Tools that look
    /// for what keeps a process alive ask it (jest's --detectOpenHandles
    /// reports an async resource without it as always open).
    pub fn has_ref(&self) -> bool {
        self.ctx().has_ref()
    }

    /// Closes the socket now: the port is free when this returns; queued
    /// sends are dropped. Returns how many queued sends were cancelled or,
    /// when some completed before the close without JS having heard,
    /// `[cancelled, outcome, …]` (bytes written or an error's code, oldest
    /// first). With `notify`, a `CLOSED` event comes in the loop's close
    /// phase.
    fn close(&self, env: RawEnv, this: RawValue, notify: bool) -> napi::Result<Ret> {
        self.unbound.borrow_mut().take();
        let ctx = self.ctx();
        if ctx.is_closed() {
            return Ok(Ret::U32(0)); // (a second close: nothing to do)
        }
        // (Should holding it fail, the socket still closes; only its
        // callback is lost.)
        if notify {
            let _ = ctx.hold_this(this);
        }
        let closed = ctx.close(notify);
        *self.ctx.borrow_mut() = SocketCtx::closed_stand_in(&ctx);
        drop(ctx);
        let cancelled = u32::try_from(closed.cancelled).unwrap_or(u32::MAX);
        if closed.completed.is_empty() {
            return Ok(Ret::U32(cancelled));
        }
        let mut items = Vec::with_capacity(1 + closed.completed.len());
        items.push(value::uint32(env, cancelled)?);
        for outcome in &closed.completed {
            items.push(match outcome {
                Ok(n) => value::uint32(env, u32::try_from(*n).unwrap_or(u32::MAX))?,
                Err(e) => value::string(env, &code_of(e))?,
            });
        }
        Ok(Ret::Value(value::array(env, &items)?))
    }
}

/// A method's `()` result, as JS's `undefined`.
fn u(r: napi::Result<()>) -> napi::Result<Ret> {
    r.map(|()| Ret::Undefined)
}

/// The native half of the `UDP` class (`lib/udp-handle.js`): the methods
/// above, each unpacking its arguments (see `sys::napi::class` for why not
/// a napi-rs class).
#[napi(catch_unwind)]
pub fn udp_parts(env: Env) -> napi::Result<Js> {
    type M = class::Method<UdpHandle>;
    let methods: &[(&std::ffi::CStr, M)] = &[
        (c"bind", |h, a| {
            u(h.bind(a.this(), a.string(0)?, a.u32(1)?, a.u32(2)?))
        }),
        (c"open", |h, a| {
            let dup = if a.is_nullish(1)? {
                None
            } else {
                Some(a.bool(1)?)
            };
            u(h.open(a.this(), a.i64(0)?, dup))
        }),
        // The socket's async id (Node's `AsyncWrap.getAsyncId()`), -1 where
        // Node-API made the context (its id is not exposed).
        (c"getAsyncId", |h, _| {
            Ok(Ret::F64(h.async_id.unwrap_or(-1.0)))
        }),
        // 0, as Node's handle answers (DEP0112 code may look at it).
        (c"recvStart", |h, _| h.recv_start().map(|()| Ret::U32(0))),
        (c"recvStop", |h, _| {
            h.recv_stop();
            Ok(Ret::U32(0))
        }),
        (c"send", |h, a| {
            let (data, port) = (a.bytes(0)?, a.u32(1)?);
            let n = if a.is_nullish(2)? {
                h.send(data, port, None)?
            } else {
                a.with_str(2, |address| h.send(data, port, Some(address)))?
            };
            Ok(Ret::F64(n as f64))
        }),
        (c"sendFrom", |h, a| {
            let n = h.send_from(a.bytes(0)?, a.u32(1)?, a.opt_string(2)?, a.string(3)?)?;
            Ok(Ret::F64(n as f64))
        }),
        // sendMany(data[], ports, targets, addresses[], results, packed?):
        // each datagram's outcome is written into `results` (an Int32Array
        // at least as long as `data`: bytes sent, -1 queued, -2 failed); the
        // failures' codes are returned in order, or undefined for none. A
        // number in `data` is a datagram of that many bytes, the next ones
        // of `packed` (small datagrams JS copied there, lib/send-path.js).
        (c"sendMany", |h, a| {
            // Both arrays' elements first: reading an element may run JS (a
            // getter), which could detach a buffer whose bytes we already
            // borrowed. From here on no JS runs while the slices live.
            let (data, addresses) = (a.array(0)?, a.array(3)?);
            let mut packed: &[u8] = if a.is_nullish(5)? { &[] } else { a.bytes(5)? };
            let data = data
                .into_iter()
                .map(|v| match a.opt_u32_of(v)? {
                    Some(n) => {
                        let n = n as usize;
                        if n > packed.len() {
                            return Err(napi::Error::new(
                                napi::Status::InvalidArg,
                                "sendMany: packed data too short",
                            ));
                        }
                        let (datagram, rest) = packed.split_at(n);
                        packed = rest;
                        Ok(datagram)
                    }
                    None => a.bytes_of(v),
                })
                .collect::<napi::Result<Vec<_>>>()?;
            let addresses = addresses
                .into_iter()
                .map(|v| a.with_value_str(v, |s| Ok(h.target(s))))
                .collect::<napi::Result<Vec<_>>>()?;
            let (ports, targets) = (a.u32_array(1)?, a.u32_array(2)?);
            let errors = a.with_i32_array_mut(4, &data, |results| {
                if results.len() < data.len() {
                    return Err(napi::Error::new(
                        napi::Status::InvalidArg,
                        "sendMany: results array too short",
                    ));
                }
                h.send_many(&data, &ports, &targets, &addresses, results)
            })?;
            if errors.is_empty() {
                return Ok(Ret::Undefined);
            }
            let env = a.env();
            let errors = errors
                .iter()
                .map(|e| value::string(env, e))
                .collect::<napi::Result<Vec<_>>>()?;
            Ok(Ret::Value(value::array(env, &errors)?))
        }),
        (c"setReceiveBlockList", |h, a| {
            let rules = if a.is_nullish(0)? {
                None
            } else {
                Some(
                    a.array(0)?
                        .into_iter()
                        .map(|v| a.string_of(v))
                        .collect::<napi::Result<Vec<_>>>()?,
                )
            };
            Ok(Ret::Bool(h.set_receive_block_list(rules)))
        }),
        (c"recvDestination", |h, _| u(h.recv_destination())),
        (c"setSlowConsumer", |h, a| {
            h.set_slow_consumer(a.bool(0)?);
            Ok(Ret::Undefined)
        }),
        (c"connect", |h, a| u(h.connect(a.string(0)?, a.u32(1)?))),
        (c"disconnect", |h, _| u(h.disconnect())),
        (c"getsockname", |h, a| {
            address_info(a.env(), &h.getsockname()?)
        }),
        (c"getpeername", |h, a| {
            address_info(a.env(), &h.getpeername()?)
        }),
        (c"setBroadcast", |h, a| u(h.set_broadcast(a.bool(0)?))),
        (c"setTTL", |h, a| u(h.set_ttl(a.i32(0)?))),
        (c"setMulticastTTL", |h, a| u(h.set_multicast_ttl(a.i32(0)?))),
        (c"setMulticastLoopback", |h, a| {
            u(h.set_multicast_loopback(a.bool(0)?))
        }),
        (c"setMulticastInterface", |h, a| {
            u(h.set_multicast_interface(a.string(0)?))
        }),
        (c"membership", |h, a| {
            u(h.membership(a.this(), a.string(0)?, a.opt_string(1)?, a.bool(2)?))
        }),
        (c"sourceMembership", |h, a| {
            u(h.source_membership(
                a.this(),
                a.string(0)?,
                a.string(1)?,
                a.opt_string(2)?,
                a.bool(3)?,
            ))
        }),
        (c"bufferSize", |h, a| {
            Ok(Ret::U32(h.buffer_size(a.u32(0)?, a.bool(1)?)?))
        }),
        (c"getSendQueueSize", |h, _| {
            Ok(Ret::U32(h.get_send_queue_size()))
        }),
        (c"getSendQueueCount", |h, _| {
            Ok(Ret::U32(h.get_send_queue_count()))
        }),
        (c"unwrittenSends", |h, _| Ok(Ret::U32(h.unwritten_sends()))),
        (c"takeError", |h, a| h.take_error(a.env())),
        (c"ref", |h, _| {
            h.ref_();
            Ok(Ret::Undefined)
        }),
        (c"unref", |h, _| {
            h.unref();
            Ok(Ret::Undefined)
        }),
        (c"close", |h, a| h.close(a.env(), a.this(), a.bool(0)?)),
        (c"hasRef", |h, _| Ok(Ret::Bool(h.has_ref()))),
    ];
    let getters: &[(&std::ffi::CStr, M)] = &[(c"fd", |h, _| Ok(Ret::F64(h.fd() as f64)))];
    Ok(Js(class::parts(
        env.raw(),
        UdpHandle::new,
        methods,
        getters,
    )?))
}
