//! Handing a socket's events to JS: one call of the environment's event
//! function (`addEventHandler`), with the socket's handle object as `this`,
//! made the way Node calls JS from libuv (`node::MakeCallback`, or
//! `napi_make_callback` where it is missing, in the socket's async
//! context, so `process.nextTick` callbacks and microtasks
//! run right after it, and async_hooks / `AsyncLocalStorage` see the
//! socket's context).
//!
//! The arguments are `(kind, …)`:
//! - `BATCH, chunks, meta, addrs`: datagrams (see `core::recv::Batch`);
//! - `ONE, length, port, address, buffer`: a batch of one datagram: its
//!   Buffer, or undefined when its bytes are at the start of the scratch
//!   buffer (`addEventHandler`); `address` is undefined when it is the
//!   previous `ONE` event's;
//! - `SMALL, count, addrs`: a batch of at most `SMALL_MAX` datagrams (no
//!   destination fields), payloads back to back at the start of the
//!   scratch buffer and (length, port, sender) per datagram at its
//!   `SCRATCH_META_AT`; `addrs` is undefined when the only sender is the
//!   previous event's;
//! - `RECV_ERROR, code`: a receive error, e.g. `"ECONNREFUSED"`;
//! - `SEND_DONE, bytes, code?`: the oldest queued send completed;
//! - `RESUME`: go on with the batch JS holds (what a listener's exception
//!   interrupted, or the rest of a batch larger than `TURN_MAX`);
//! - `CLOSED`: the close phase of a closed socket (cancelled sends).
//!
//! An exception thrown by a listener goes to Node's uncaught-exception
//! handling; if the program survives it, JS is called again with `RESUME`
//! to emit the rest of the batch, as libuv would go on with the next
//! datagram (each is a callback of its own there).
//!
//! A call emits at most 32 messages (lib/receive.js `TURN_MAX`), as libuv
//! reads at most 32 datagrams per socket per loop turn: timers, immediates
//! and other sockets get their turn between. JS then returns `false` and
//! keeps the rest of the batch; the caller arranges a `RESUME` call on a
//! later turn and reads nothing for the socket meanwhile
//! (`SocketCtx::take_events`).

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::core::error::code_of;
use crate::core::recv::{self, Batch};
use crate::env::ThreadState;
use crate::sys::napi::{self as raw, value, HandleScope, RawEnv, RawValue};

/// What an event call needs of its socket: implemented by
/// `socket::SocketCtx`, which calls these functions (a trait keeps this
/// module below it in the layers).
pub(crate) trait EventTarget {
    fn env(&self) -> RawEnv;
    fn thread(&self) -> &ThreadState;
    /// The number of the index.js copy's event function (`env::Handler`).
    fn handler(&self) -> u32;
    /// The handle object, `this` of the call; `None` once it can hear no
    /// more events.
    fn receiver(&self, env: RawEnv) -> napi::Result<Option<RawValue>>;
    /// The socket's async context, ready for a call; `None` once ended.
    fn call_context(&self, env: RawEnv) -> napi::Result<Option<raw::CallContext>>;
    /// The sender of the last one-datagram event (JS keeps its string).
    fn last_sender(&self) -> &RefCell<String>;
    fn is_closed(&self) -> bool;
}

pub(crate) const KIND_BATCH: u32 = 0;
pub(crate) const KIND_RECV_ERROR: u32 = 1;
pub(crate) const KIND_SEND_DONE: u32 = 2;
pub(crate) const KIND_RESUME: u32 = 3;
pub(crate) const KIND_CLOSED: u32 = 4;
pub(crate) const KIND_ONE: u32 = 5;
pub(crate) const KIND_SMALL: u32 = 6;

/// Batches of at most this many datagrams cross in the scratch buffer (JS
/// copies each into a Buffer of its own, as for one): cheaper than the
/// tables and views of a large batch. lib/receive.js sizes the scratch for it.
const SMALL_MAX: usize = 16;
/// ... and at most this many bytes: larger payloads cost more copied twice
/// and allocated one by one than handed out as views of one chunk.
const SMALL_MAX_BYTES: usize = 8 * 1024;

/// Chunks at least this large become Buffers without a copy.
const HAND_OVER_BYTES: usize = 8 * 1024;

/// A datagram alone up to this size crosses in the scratch buffer; a
/// larger one costs less copied once into a Buffer made here than twice
/// (measured with 8 KiB datagrams from a node:dgram sender).
const ONE_VIA_SCRATCH_MAX: usize = 2 * 1024;

/// Whether every chunk is copied into a Buffer V8 allocates. Set by JS where
/// `markAsUntransferable` makes an ArrayBuffer undetachable (Node 24+):
/// Node detaches a Buffer made over external memory at environment
/// teardown, which aborts the process for such a buffer.
static COPY_CHUNKS: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_copy_chunks(on: bool) {
    COPY_CHUNKS.store(on, Ordering::Relaxed);
}

/// Hands a batch to JS. `Ok(false)`: JS holds the rest of it (more than
/// 32 datagrams), to be emitted by `resume` on a later turn.
pub(crate) fn batch(ctx: &impl EventTarget, mut b: Batch) -> napi::Result<bool> {
    let env = ctx.env();
    let _scope = HandleScope::open(env)?;
    if let ([chunk], &[len, port, sender]) = (&b.chunks[..], &b.meta[..]) {
        // One datagram (the common case below saturation): JS gets a
        // Buffer of its own (as Node gives each message) and no tables.
        // A small one crosses in the scratch buffer and JS copies it out
        // (cheaper than a Buffer made here); a larger one is copied once,
        // into a Buffer made here.
        // (A batch's meta always fits its chunks and addresses, see
        // `core::recv`; checked anyway: this runs in a libuv callback.)
        let (Some(bytes), Some(from)) = (chunk.get(..len as usize), b.addrs.get(sender as usize))
        else {
            return Err(napi::Error::from_reason("dgram-rs: malformed batch"));
        };
        let own = if bytes.len() <= ONE_VIA_SCRATCH_MAX
            && ctx.thread().write_scratch(ctx.handler(), bytes)
        {
            None
        } else {
            Some(value::buffer_copy(env, bytes)?)
        };
        // The sender repeats (a peer in conversation): JS keeps its
        // string from last time.
        let address = if ctx.last_sender().borrow().as_str() == from.as_str() {
            value::undefined(env)?
        } else {
            ctx.last_sender().replace(from.clone());
            value::string(env, from)?
        };
        let args = [
            value::uint32(env, KIND_ONE)?,
            value::uint32(env, len)?,
            value::uint32(env, port)?,
            address,
            match own {
                Some(buffer) => buffer,
                None => value::undefined(env)?,
            },
        ];
        recycle_all(&mut b.chunks);
        return emit(ctx, &args, 1);
    }
    // A few datagrams (a conversation with several in flight): through
    // the scratch buffer too, with no tables or chunks to build.
    if b.count <= SMALL_MAX
        && b.meta.len() == 3 * b.count
        && b.chunks.iter().map(Vec::len).sum::<usize>() <= SMALL_MAX_BYTES
        && ctx.thread().write_small(ctx.handler(), &b.chunks, &b.meta)
    {
        let addrs = match &b.addrs[..] {
            [only] if ctx.last_sender().borrow().as_str() == only.as_str() => {
                value::undefined(env)?
            }
            [only] => {
                ctx.last_sender().replace(only.clone());
                value::array(env, &[value::string(env, only)?])?
            }
            many => {
                ctx.last_sender().borrow_mut().clear();
                let strings = many
                    .iter()
                    .map(|a| value::string(env, a))
                    .collect::<napi::Result<Vec<_>>>()?;
                value::array(env, &strings)?
            }
        };
        let args = [
            value::uint32(env, KIND_SMALL)?,
            value::uint32(env, b.count as u32)?,
            addrs,
        ];
        recycle_all(&mut b.chunks);
        return emit(ctx, &args, b.count);
    }
    // Large chunks are handed over (a finalizer costs less than copying
    // them), small ones copied (V8 allocates those cheaply).
    let hand_over = !COPY_CHUNKS.load(Ordering::Relaxed);
    let chunks = b
        .chunks
        .into_iter()
        .map(|c| {
            if hand_over && c.len() >= HAND_OVER_BYTES {
                value::buffer_from_vec(env, c)
            } else {
                let copy = value::buffer_copy(env, &c);
                recv::recycle(c);
                copy
            }
        })
        .collect::<napi::Result<Vec<_>>>()?;
    let addrs = b
        .addrs
        .iter()
        .map(|a| value::string(env, a))
        .collect::<napi::Result<Vec<_>>>()?;
    let args = [
        value::uint32(env, KIND_BATCH)?,
        value::array(env, &chunks)?,
        value::uint32_array(env, &b.meta)?,
        value::array(env, &addrs)?,
    ];
    emit(ctx, &args, b.count)
}

/// Gives the chunks of a batch that JS got copies of back to the reads.
fn recycle_all(chunks: &mut Vec<Vec<u8>>) {
    for chunk in chunks.drain(..) {
        recv::recycle(chunk);
    }
}

pub(crate) fn recv_error(ctx: &impl EventTarget, err: &io::Error) -> napi::Result<()> {
    let env = ctx.env();
    let _scope = HandleScope::open(env)?;
    let args = [
        value::uint32(env, KIND_RECV_ERROR)?,
        value::string(env, &code_of(err))?,
    ];
    emit(ctx, &args, 0).map(drop)
}

pub(crate) fn send_done(ctx: &impl EventTarget, result: io::Result<usize>) -> napi::Result<()> {
    let env = ctx.env();
    let _scope = HandleScope::open(env)?;
    let (bytes, code) = match &result {
        Ok(n) => (
            u32::try_from(*n).unwrap_or(u32::MAX),
            value::undefined(env)?,
        ),
        Err(e) => (0, value::string(env, &code_of(e))?),
    };
    let args = [
        value::uint32(env, KIND_SEND_DONE)?,
        value::uint32(env, bytes)?,
        code,
    ];
    emit(ctx, &args, 0).map(drop)
}

pub(crate) fn closed(ctx: &impl EventTarget) -> napi::Result<()> {
    let env = ctx.env();
    let _scope = HandleScope::open(env)?;
    emit(ctx, &[value::uint32(env, KIND_CLOSED)?], 0).map(drop)
}

/// Goes on with the batch JS holds (see `batch`), which has at most
/// `left` datagrams left. `Ok(false)`: JS still holds some.
pub(crate) fn resume(ctx: &impl EventTarget, left: usize) -> napi::Result<bool> {
    let env = ctx.env();
    let _scope = HandleScope::open(env)?;
    emit(ctx, &[value::uint32(env, KIND_RESUME)?], left)
}

thread_local! {
    /// How deep this thread is in event calls (they do not nest across
    /// sockets, but a listener may close its socket from inside one).
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether an event call is running on this thread.
pub(crate) fn in_event() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

/// Calls the event function; after an exception, with `RESUME` until a call
/// returns normally, at most `resumable` times (each exception consumes the
/// datagram whose listener threw; a terminating worker throws at every
/// call). `Ok(false)`: JS holds the rest of a batch.
fn emit(ctx: &impl EventTarget, args: &[RawValue], resumable: usize) -> napi::Result<bool> {
    let env = ctx.env();
    let Some(recv) = ctx.receiver(env)? else {
        return Ok(true);
    };
    let func = ctx.thread().handler(env, ctx.handler())?;
    // The context lives until the socket's close phase when JS closes the
    // socket during the call (see `SocketCtx::close` and `in_event`).
    let Some(async_ctx) = ctx.call_context(env)? else {
        return Ok(true);
    };
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = emit_counted(ctx, async_ctx, recv, func, args, resumable);
    DEPTH.with(|d| d.set(d.get() - 1));
    result
}

fn emit_counted(
    ctx: &impl EventTarget,
    async_ctx: raw::CallContext,
    recv: RawValue,
    func: RawValue,
    args: &[RawValue],
    resumable: usize,
) -> napi::Result<bool> {
    let env = ctx.env();
    if let Some(done) = raw::make_callback(env, async_ctx, recv, func, args)? {
        return Ok(done);
    }
    let resume = [value::uint32(env, KIND_RESUME)?];
    for _ in 0..resumable {
        if ctx.is_closed() || ctx.thread().is_torn_down(env) {
            break;
        }
        if let Some(done) = raw::make_callback(env, async_ctx, recv, func, &resume)? {
            return Ok(done);
        }
    }
    Ok(true)
}
