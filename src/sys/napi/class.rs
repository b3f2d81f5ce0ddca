use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::sys;

use super::{check, value, RawEnv, RawValue};
use crate::int_hash::IntMap;

/// Most arguments a native function takes (the instance's number, the
/// instance and a method's own).
const MAX_ARGS: usize = 10;

/// A call's `this` and arguments.
pub(crate) struct Args {
    env: RawEnv,
    this: RawValue,
    argv: [RawValue; MAX_ARGS],
    argc: usize,
}

/// What a method returns to JS.
pub(crate) enum Ret {
    Undefined,
    Bool(bool),
    U32(u32),
    F64(f64),
    Value(RawValue),
}

pub(crate) type Method<T> = fn(&T, &Args) -> napi::Result<Ret>;

fn type_error(what: &str) -> napi::Error {
    napi::Error::new(napi::Status::InvalidArg, what)
}

impl Args {
    /// Drops the first `n` arguments and makes the next one `this`
    /// (the JS half passes the instance as an argument: a call with a
    /// receiver of its own, `fn.call(instance, ...)`, takes V8's slow
    /// path for native functions).
    fn shift(&mut self, n: usize) {
        let argc = self.argc.min(MAX_ARGS);
        if n < argc {
            self.this = self.argv[n];
        }
        let skip = (n + 1).min(argc);
        self.argv.rotate_left(skip);
        self.argc = argc - skip;
    }

    pub(crate) fn env(&self) -> RawEnv {
        self.env
    }

    pub(crate) fn this(&self) -> RawValue {
        self.this
    }

    /// Argument `i` (undefined when absent).
    pub(crate) fn raw(&self, i: usize) -> napi::Result<RawValue> {
        if i < self.argc.min(MAX_ARGS) {
            Ok(self.argv[i])
        } else {
            value::undefined(self.env)
        }
    }

    fn type_of(&self, i: usize) -> napi::Result<sys::napi_valuetype> {
        let mut ty = 0;
        // SAFETY: a live value of `env` on its thread.
        let status = unsafe { sys::napi_typeof(self.env, self.raw(i)?, &mut ty) };
        check(status, "napi_typeof")?;
        Ok(ty)
    }

    /// Whether argument `i` is undefined or null.
    pub(crate) fn is_nullish(&self, i: usize) -> napi::Result<bool> {
        let ty = self.type_of(i)?;
        Ok(ty == sys::ValueType::napi_undefined || ty == sys::ValueType::napi_null)
    }

    pub(crate) fn u32(&self, i: usize) -> napi::Result<u32> {
        let mut n = 0;
        // SAFETY: as in `type_of`; a non-number fails.
        let status = unsafe { sys::napi_get_value_uint32(self.env, self.raw(i)?, &mut n) };
        check(status, "expected a number")?;
        Ok(n)
    }

    pub(crate) fn f64(&self, i: usize) -> napi::Result<f64> {
        let mut n = 0.0;
        // SAFETY: as in `type_of`; a non-number fails.
        let status = unsafe { sys::napi_get_value_double(self.env, self.raw(i)?, &mut n) };
        check(status, "expected a number")?;
        Ok(n)
    }

    pub(crate) fn i32(&self, i: usize) -> napi::Result<i32> {
        let mut n = 0;
        // SAFETY: as in `type_of`; a non-number fails.
        let status = unsafe { sys::napi_get_value_int32(self.env, self.raw(i)?, &mut n) };
        check(status, "expected a number")?;
        Ok(n)
    }

    pub(crate) fn i64(&self, i: usize) -> napi::Result<i64> {
        let mut n = 0;
        // SAFETY: as in `type_of`; a non-number fails.
        let status = unsafe { sys::napi_get_value_int64(self.env, self.raw(i)?, &mut n) };
        check(status, "expected a number")?;
        Ok(n)
    }

    pub(crate) fn bool(&self, i: usize) -> napi::Result<bool> {
        let mut b = false;
        // SAFETY: as in `type_of`; a non-boolean fails.
        let status = unsafe { sys::napi_get_value_bool(self.env, self.raw(i)?, &mut b) };
        check(status, "expected a boolean")?;
        Ok(b)
    }

    /// A string argument.
    pub(crate) fn string(&self, i: usize) -> napi::Result<String> {
        string_of(self.env, self.raw(i)?)
    }

    /// A string argument, or `None` for undefined/null.
    pub(crate) fn opt_string(&self, i: usize) -> napi::Result<Option<String>> {
        if self.is_nullish(i)? {
            return Ok(None);
        }
        self.string(i).map(Some)
    }

    /// The bytes of a Buffer / TypedArray / DataView argument, valid
    /// for the call.
    pub(crate) fn bytes(&self, i: usize) -> napi::Result<&[u8]> {
        bytes_of(self.env, self.raw(i)?)
    }

    /// The elements of an array argument.
    pub(crate) fn array(&self, i: usize) -> napi::Result<Vec<RawValue>> {
        let arr = self.raw(i)?;
        let mut len = 0;
        // SAFETY: as in `type_of`; a non-array fails.
        let status = unsafe { sys::napi_get_array_length(self.env, arr, &mut len) };
        check(status, "expected an array")?;
        (0..len)
            .map(|k| {
                let mut v = std::ptr::null_mut();
                // SAFETY: `arr` is an array of `len` elements.
                let status = unsafe { sys::napi_get_element(self.env, arr, k, &mut v) };
                check(status, "napi_get_element")?;
                Ok(v)
            })
            .collect()
    }

    /// A Uint32Array argument's elements, copied.
    pub(crate) fn u32_array(&self, i: usize) -> napi::Result<Vec<u32>> {
        let bytes = self.bytes(i)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Calls `f` with an `Int32Array` argument's elements, to write
    /// results into (JS reads them after the call returns). `borrowed`
    /// are the other arguments' bytes that the call reads meanwhile:
    /// an array sharing memory with one of them is refused.
    pub(crate) fn with_i32_array_mut<R>(
        &self,
        i: usize,
        borrowed: &[&[u8]],
        f: impl FnOnce(&mut [i32]) -> napi::Result<R>,
    ) -> napi::Result<R> {
        let v = self.raw(i)?;
        let (mut ty, mut n, mut data, mut ab, mut off) =
            (0, 0, std::ptr::null_mut(), std::ptr::null_mut(), 0);
        // SAFETY: `v` is a live argument, rooted for the call; a value
        // that is no typed array fails.
        let status = unsafe {
            sys::napi_get_typedarray_info(
                self.env, v, &mut ty, &mut n, &mut data, &mut ab, &mut off,
            )
        };
        check(status, "expected an Int32Array")?;
        if ty != sys::TypedarrayType::int32_array {
            return Err(type_error("expected an Int32Array"));
        }
        if n == 0 || data.is_null() {
            return f(&mut []);
        }
        let (start, end) = (data as usize, data as usize + n * 4);
        let overlaps = |b: &&[u8]| {
            let at = b.as_ptr() as usize;
            !b.is_empty() && at < end && start < at + b.len()
        };
        if borrowed.iter().any(overlaps) {
            return Err(type_error("expected an Int32Array of its own"));
        }
        // SAFETY: an Int32Array's data is `n` aligned i32s, alive while
        // the argument is; no JS runs during `f`, and no slice that `f`
        // may read lies in the same memory (`borrowed`, checked above),
        // so nothing else touches them; the slice does not outlive `f`.
        f(unsafe { std::slice::from_raw_parts_mut(data.cast::<i32>(), n) })
    }

    /// Calls `f` with a string argument, read into a stack buffer when
    /// short (IP literals always are): no allocation per call.
    pub(crate) fn with_str<R>(
        &self,
        i: usize,
        f: impl FnOnce(&str) -> napi::Result<R>,
    ) -> napi::Result<R> {
        self.with_value_str(self.raw(i)?, f)
    }

    /// `with_str` for a string value (an array element).
    pub(crate) fn with_value_str<R>(
        &self,
        v: RawValue,
        f: impl FnOnce(&str) -> napi::Result<R>,
    ) -> napi::Result<R> {
        let mut buf = [0u8; 64];
        let mut written = 0;
        // SAFETY: `buf` has room for `buf.len()` bytes including the NUL
        // Node writes; a non-string fails.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                self.env,
                v,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            )
        };
        check(status, "expected a string")?;
        // Node stops before a character that does not fit (up to 4
        // bytes) and keeps one byte for the NUL: more room left than
        // that means the whole string was read.
        if written + 4 < buf.len() {
            let s =
                std::str::from_utf8(&buf[..written]).map_err(|_| type_error("invalid UTF-8"))?;
            return f(s);
        }
        // Possibly cut short: read it whole.
        f(&string_of(self.env, v)?)
    }

    /// A string value (an array element) as a Rust string.
    pub(crate) fn string_of(&self, v: RawValue) -> napi::Result<String> {
        string_of(self.env, v)
    }

    pub(crate) fn bytes_of(&self, v: RawValue) -> napi::Result<&[u8]> {
        bytes_of(self.env, v)
    }

    /// A value's number as a u32, or `None` when it is no number.
    pub(crate) fn opt_u32_of(&self, v: RawValue) -> napi::Result<Option<u32>> {
        let mut ty = 0;
        // SAFETY: a live value of `env` on its thread.
        let status = unsafe { sys::napi_typeof(self.env, v, &mut ty) };
        check(status, "napi_typeof")?;
        if ty != sys::ValueType::napi_number {
            return Ok(None);
        }
        let mut n = 0;
        // SAFETY: as above; `v` is a number.
        let status = unsafe { sys::napi_get_value_uint32(self.env, v, &mut n) };
        check(status, "expected a number")?;
        Ok(Some(n))
    }
}

fn string_of(env: RawEnv, v: RawValue) -> napi::Result<String> {
    let mut len = 0;
    // SAFETY: a null buffer asks for the length; then `buf` has room for
    // it and the NUL terminator Node writes.
    unsafe {
        check(
            sys::napi_get_value_string_utf8(env, v, std::ptr::null_mut(), 0, &mut len),
            "expected a string",
        )?;
        let mut buf = vec![0u8; len + 1];
        let mut written = 0;
        check(
            sys::napi_get_value_string_utf8(
                env,
                v,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut written,
            ),
            "napi_get_value_string_utf8",
        )?;
        buf.truncate(written);
        String::from_utf8(buf).map_err(|_| type_error("invalid UTF-8"))
    }
}

fn bytes_of<'a>(env: RawEnv, v: RawValue) -> napi::Result<&'a [u8]> {
    let mut data: *mut c_void = std::ptr::null_mut();
    let mut len = 0;
    // SAFETY: `v` is a live value; the typed-array / DataView queries
    // fail for anything else. The bytes stay valid for the call: the
    // value is an argument, rooted until the callback returns, and no
    // JS runs while the slice is used. (A view of a SharedArrayBuffer may
    // be written by another thread meanwhile, as with Node's own send: the
    // slice is only copied, by the kernel or into a queued send, never
    // read to decide anything, so such a write can tear the datagram's
    // bytes and nothing else.)
    unsafe {
        let mut is = false;
        if sys::napi_is_typedarray(env, v, &mut is) == sys::Status::napi_ok && is {
            let (mut ty, mut n, mut ab, mut off) = (0, 0, std::ptr::null_mut(), 0);
            check(
                sys::napi_get_typedarray_info(
                    env, v, &mut ty, &mut n, &mut data, &mut ab, &mut off,
                ),
                "napi_get_typedarray_info",
            )?;
            len = n * element_size(ty);
        } else if sys::napi_is_dataview(env, v, &mut is) == sys::Status::napi_ok && is {
            let (mut ab, mut off) = (std::ptr::null_mut(), 0);
            check(
                sys::napi_get_dataview_info(env, v, &mut len, &mut data, &mut ab, &mut off),
                "napi_get_dataview_info",
            )?;
        } else {
            return Err(type_error("expected a Buffer, TypedArray or DataView"));
        }
        if len == 0 || data.is_null() {
            return Ok(&[]);
        }
        Ok(std::slice::from_raw_parts(data.cast::<u8>(), len))
    }
}

fn element_size(ty: sys::napi_typedarray_type) -> usize {
    use sys::TypedarrayType as T;
    match ty {
        T::int16_array | T::uint16_array => 2,
        T::int32_array | T::uint32_array | T::float32_array => 4,
        T::float64_array | T::bigint64_array | T::biguint64_array => 8,
        _ => 1,
    }
}

thread_local! {
    /// Our instances' values on this thread and their types, by the
    /// number JS holds for each (what `create` returned): a native
    /// function given any other number, or one of another class's
    /// instance, throws instead of reading memory it does not own.
    static LIVE: std::cell::RefCell<IntMap<u64, (std::any::TypeId, usize)>> =
        std::cell::RefCell::new(IntMap::default());
    /// The next instance's number (from 1; exact in a JS number for
    /// 2^53 instances).
    static NEXT_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(1) };
}

/// The native half of a class: `{ create, methods, getters }`, where
/// `create(instance, ...args)` builds the new instance's value with
/// `ctor` and returns its number, and each of `methods` / `getters` is
/// a function `(number, instance, ...args)`; `ctor` and the methods see
/// `instance` as `this`.
pub(crate) fn parts<T: 'static>(
    env: RawEnv,
    ctor: fn(&Args) -> napi::Result<T>,
    methods: &[(&'static std::ffi::CStr, Method<T>)],
    getters: &[(&'static std::ffi::CStr, Method<T>)],
) -> napi::Result<RawValue> {
    // Each function's Rust callee is its callback's data: nothing to
    // allocate, nothing to free when a worker's environment (which
    // makes its own parts) ends.
    let table = |list: &[(&'static std::ffi::CStr, Method<T>)]| {
        function_table(
            env,
            call::<T>,
            list.iter().map(|(n, m)| (*n, *m as *mut c_void)),
        )
    };
    let create = function(env, c"create", create::<T>, ctor as *mut c_void)?;
    value::object(
        env,
        &[
            (c"create", create),
            (c"methods", table(methods)?),
            (c"getters", table(getters)?),
        ],
    )
}

/// A module function that reads its arguments itself.
pub(crate) type Func = fn(&Args) -> napi::Result<Ret>;

/// An object of plain functions, for the hot ones: a `#[napi]`
/// function pays napi-rs's borrow tracking (~900 instructions a call).
pub(crate) fn functions(
    env: RawEnv,
    list: &[(&'static std::ffi::CStr, Func)],
) -> napi::Result<RawValue> {
    function_table(
        env,
        call_fn,
        list.iter().map(|(n, f)| (*n, *f as *mut c_void)),
    )
}

type Callback = unsafe extern "C" fn(RawEnv, sys::napi_callback_info) -> RawValue;

/// `{ name: function }` for each `(name, data)`: functions that run
/// `cb` with `data`.
fn function_table(
    env: RawEnv,
    cb: Callback,
    list: impl Iterator<Item = (&'static std::ffi::CStr, *mut c_void)>,
) -> napi::Result<RawValue> {
    let fns = list
        .map(|(n, data)| Ok((n, function(env, n, cb, data)?)))
        .collect::<napi::Result<Vec<_>>>()?;
    value::object(env, &fns)
}

fn function(
    env: RawEnv,
    name: &std::ffi::CStr,
    cb: Callback,
    data: *mut c_void,
) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: `name` is NUL-terminated (`NAPI_AUTO_LENGTH`); `data` is
    // read back only by `cb`, which is this module's for the same T.
    let status = unsafe {
        sys::napi_create_function(
            env,
            name.as_ptr(),
            usize::MAX as isize,
            Some(cb),
            data,
            &mut out,
        )
    };
    check(status, "napi_create_function")?;
    Ok(out)
}

/// Reads a call's `this`, arguments and data pointer.
///
/// # Safety
/// `info` must be the callback info of the current call of `env`.
unsafe fn args_of(env: RawEnv, info: sys::napi_callback_info) -> napi::Result<(Args, *mut c_void)> {
    let mut args = Args {
        env,
        this: std::ptr::null_mut(),
        argv: [std::ptr::null_mut(); MAX_ARGS],
        argc: MAX_ARGS,
    };
    let mut data = std::ptr::null_mut();
    // SAFETY: per the contract; `argv` has room for `argc` values.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut args.argc,
            args.argv.as_mut_ptr(),
            &mut args.this,
            &mut data,
        )
    };
    check(status, "napi_get_cb_info")?;
    Ok((args, data))
}

/// Throws `err` as a JS Error whose message is its reason: a TypeError
/// for a value of the wrong kind (a status other than the generic
/// failure of our own coded errors, whose reason is an errno code).
fn throw(env: RawEnv, err: &napi::Error) {
    let msg = std::ffi::CString::new(err.reason.replace('\0', " ")).unwrap_or_default();
    // SAFETY: a NUL-terminated message; on the env's thread.
    unsafe {
        if err.status == napi::Status::GenericFailure {
            sys::napi_throw_error(env, std::ptr::null(), msg.as_ptr());
        } else {
            sys::napi_throw_type_error(env, std::ptr::null(), msg.as_ptr());
        }
    }
}

fn to_js(env: RawEnv, ret: napi::Result<Ret>) -> RawValue {
    let value = ret.and_then(|r| match r {
        Ret::Undefined => value::undefined(env),
        Ret::Bool(b) => value::boolean(env, b),
        Ret::U32(n) => value::uint32(env, n),
        Ret::F64(n) => value::double(env, n),
        Ret::Value(v) => Ok(v),
    });
    match value {
        Ok(v) => v,
        Err(e) => {
            throw(env, &e);
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn create<T: 'static>(env: RawEnv, info: sys::napi_callback_info) -> RawValue {
    let made = catch_unwind(AssertUnwindSafe(|| -> napi::Result<RawValue> {
        // SAFETY: Node calls this with the info of the current call.
        let (mut args, data) = unsafe { args_of(env, info)? };
        args.shift(0);
        // SAFETY: `data` is the `ctor` given to `parts::<T>`.
        let ctor: fn(&Args) -> napi::Result<T> = unsafe { std::mem::transmute(data) };
        let value = Box::into_raw(Box::new(ctor(&args)?));
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id + 1);
            id
        });
        // SAFETY: `args.this()` is the call's first argument, the new
        // instance (Node refuses anything but an object); ownership of
        // `value` passes to the finalizer, which Node calls once, when
        // the instance is collected or its environment ends. The hint
        // carries the number (pointer-sized on every target we build).
        let added = unsafe {
            sys::napi_add_finalizer(
                env,
                args.this(),
                value.cast(),
                Some(finalize::<T>),
                id as usize as *mut c_void,
                std::ptr::null_mut(),
            )
        };
        if added != sys::Status::napi_ok {
            // SAFETY: not adopted: still ours.
            drop(unsafe { Box::from_raw(value) });
            check(added, "napi_add_finalizer")?;
        }
        LIVE.with(|l| {
            l.borrow_mut()
                .insert(id, (std::any::TypeId::of::<T>(), value as usize))
        });
        value::double(env, id as f64)
    }));
    match made {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => {
            throw(env, &e);
            std::ptr::null_mut()
        }
        Err(_) => {
            throw(
                env,
                &napi::Error::from_reason("dgram-rs: panic in constructor"),
            );
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn finalize<T: 'static>(_env: RawEnv, data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `data` is the Box<T> made by `create::<T>`, handed back
    // once, when its instance is collected or its environment ends.
    let value = unsafe { Box::from_raw(data.cast::<T>()) };
    // Contained: dropping the value releases its socket (locks, Node-API
    // calls), and a panic must not unwind into Node's finalizer.
    crate::sys::contain(move || {
        // try_with: also reached while the thread's locals are destroyed.
        let _ = LIVE.try_with(|l| l.borrow_mut().remove(&(hint as usize as u64)));
        drop(value);
    });
}

unsafe extern "C" fn call_fn(env: RawEnv, info: sys::napi_callback_info) -> RawValue {
    let ret = catch_unwind(AssertUnwindSafe(|| -> napi::Result<Ret> {
        // SAFETY: Node calls this with the info of the current call.
        let (args, data) = unsafe { args_of(env, info)? };
        // SAFETY: `data` is a Func given to `functions` (a fn pointer,
        // the size of a data pointer).
        let f = unsafe { std::mem::transmute::<*mut c_void, Func>(data) };
        f(&args)
    }));
    match ret {
        Ok(r) => to_js(env, r),
        Err(_) => {
            throw(
                env,
                &napi::Error::from_reason("dgram-rs: panic in a function"),
            );
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn call<T: 'static>(env: RawEnv, info: sys::napi_callback_info) -> RawValue {
    let ret = catch_unwind(AssertUnwindSafe(|| -> napi::Result<Ret> {
        // SAFETY: Node calls this with the info of the current call.
        let (mut args, data) = unsafe { args_of(env, info)? };
        let mut id = 0.0f64;
        let first = if args.argc > 0 {
            args.argv[0]
        } else {
            std::ptr::null_mut()
        };
        let is_number = !first.is_null() && {
            // SAFETY: a live argument of the call; a non-number fails.
            let status = unsafe { sys::napi_get_value_double(env, first, &mut id) };
            status == sys::Status::napi_ok
        };
        if !is_number || id.fract() != 0.0 || id < 1.0 {
            return Err(type_error("Illegal invocation"));
        }
        let Some((type_id, value)) = LIVE.with(|l| l.borrow().get(&(id as u64)).copied()) else {
            return Err(type_error("Illegal invocation"));
        };
        if type_id != std::any::TypeId::of::<T>() {
            return Err(type_error("Illegal invocation"));
        }
        let value = value as *mut c_void;
        // Then the instance, which the method sees as `this`, then the
        // method's own arguments.
        args.shift(1);
        // SAFETY: `data` is a Method<T> given to `parts::<T>` (a fn
        // pointer, the size of a data pointer); `value` is a live
        // Box<T> of ours (in `LIVE` as a T: made by `create::<T>`, not yet
        // finalized), alive for the call (finalizers run from the
        // loop, never inside a native call), and methods only take
        // shared references.
        let (method, this) = unsafe {
            (
                std::mem::transmute::<*mut c_void, Method<T>>(data),
                &*value.cast::<T>(),
            )
        };
        method(this, &args)
    }));
    match ret {
        Ok(r) => to_js(env, r),
        Err(_) => {
            throw(
                env,
                &napi::Error::from_reason("dgram-rs: panic in a method"),
            );
            std::ptr::null_mut()
        }
    }
}
