use super::{check, RawEnv, RawValue};
use napi::sys;

/// A `Buffer` holding a copy of `data`.
pub(crate) fn buffer_copy(env: RawEnv, data: &[u8]) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    let mut ignored = std::ptr::null_mut();
    // SAFETY: `data` is valid for `data.len()` bytes; Node copies them.
    let status = unsafe {
        sys::napi_create_buffer_copy(
            env,
            data.len(),
            data.as_ptr().cast(),
            &mut ignored,
            &mut out,
        )
    };
    check(status, "napi_create_buffer_copy")?;
    Ok(out)
}

/// A `Buffer` over `data` itself, which it owns and frees when
/// collected: no copy, but a finalizer (worth it for large batches).
/// Where external buffers are not allowed, a copy.
pub(crate) fn buffer_from_vec(env: RawEnv, data: Vec<u8>) -> napi::Result<RawValue> {
    let mut data = std::mem::ManuallyDrop::new(data);
    let (ptr, len, cap) = (data.as_mut_ptr(), data.len(), data.capacity());
    let mut out = std::ptr::null_mut();
    // SAFETY: the Vec's allocation stays alive until the finalizer,
    // which rebuilds and drops the Vec from the hint (its capacity).
    let status = unsafe {
        sys::napi_create_external_buffer(
            env,
            len,
            ptr.cast(),
            Some(free_vec),
            cap as *mut std::ffi::c_void,
            &mut out,
        )
    };
    match status {
        sys::Status::napi_ok => Ok(out),
        // Refused before Node took the data (external buffers not
        // allowed, as in Electron; an exception pending): ours again,
        // copied instead.
        sys::Status::napi_no_external_buffers_allowed | sys::Status::napi_pending_exception => {
            // SAFETY: the parts of the Vec leaked above; Node returns
            // these statuses before it takes the data, so not freed.
            let data = unsafe { Vec::from_raw_parts(ptr, len, cap) };
            buffer_copy(env, &data)
        }
        // Failed after Node took it: Node frees what it cannot wrap
        // (through `free_vec`), so the data is no longer ours to read
        // or free.
        status => Err(napi::Error::new(
            napi::Status::from(status),
            "napi_create_external_buffer",
        )),
    }
}

unsafe extern "C" fn free_vec(
    _env: RawEnv,
    data: *mut std::ffi::c_void,
    hint: *mut std::ffi::c_void,
) {
    // SAFETY: `data` and the capacity in `hint` are those of a Vec<u8>
    // leaked by `buffer_from_vec`; the length is irrelevant to freeing.
    drop(unsafe { Vec::from_raw_parts(data.cast::<u8>(), 0, hint as usize) });
}

/// A `Uint32Array` holding a copy of `data`.
pub(crate) fn uint32_array(env: RawEnv, data: &[u32]) -> napi::Result<RawValue> {
    let bytes = std::mem::size_of_val(data);
    let mut store: *mut std::ffi::c_void = std::ptr::null_mut();
    let mut buffer = std::ptr::null_mut();
    let mut out = std::ptr::null_mut();
    // SAFETY: Node allocates `bytes` bytes at `store` (suitably aligned
    // for any element type), which we fill from `data` before use.
    unsafe {
        check(
            sys::napi_create_arraybuffer(env, bytes, &mut store, &mut buffer),
            "napi_create_arraybuffer",
        )?;
        if bytes > 0 {
            std::ptr::copy_nonoverlapping(data.as_ptr(), store.cast::<u32>(), data.len());
        }
        check(
            sys::napi_create_typedarray(
                env,
                sys::TypedarrayType::uint32_array,
                data.len(),
                buffer,
                0,
                &mut out,
            ),
            "napi_create_typedarray",
        )?;
    }
    Ok(out)
}

pub(crate) fn string(env: RawEnv, s: &str) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: `s` is valid UTF-8 of the given length.
    let status =
        unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out) };
    check(status, "napi_create_string_utf8")?;
    Ok(out)
}

pub(crate) fn uint32(env: RawEnv, n: u32) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: plain value creation on the env's thread.
    let status = unsafe { sys::napi_create_uint32(env, n, &mut out) };
    check(status, "napi_create_uint32")?;
    Ok(out)
}

pub(crate) fn boolean(env: RawEnv, b: bool) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: plain value creation on the env's thread.
    let status = unsafe { sys::napi_get_boolean(env, b, &mut out) };
    check(status, "napi_get_boolean")?;
    Ok(out)
}

pub(crate) fn double(env: RawEnv, n: f64) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: plain value creation on the env's thread.
    let status = unsafe { sys::napi_create_double(env, n, &mut out) };
    check(status, "napi_create_double")?;
    Ok(out)
}

/// A plain object with the given properties.
pub(crate) fn object(env: RawEnv, props: &[(&std::ffi::CStr, RawValue)]) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: the names are NUL-terminated, the values live in scope.
    unsafe {
        check(sys::napi_create_object(env, &mut out), "napi_create_object")?;
        for (name, v) in props {
            check(
                sys::napi_set_named_property(env, out, name.as_ptr(), *v),
                "napi_set_named_property",
            )?;
        }
    }
    Ok(out)
}

pub(crate) fn undefined(env: RawEnv) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: plain value lookup on the env's thread.
    let status = unsafe { sys::napi_get_undefined(env, &mut out) };
    check(status, "napi_get_undefined")?;
    Ok(out)
}

/// An array of `items`.
pub(crate) fn array(env: RawEnv, items: &[RawValue]) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: the items are live values of `env` in the current scope.
    unsafe {
        check(
            sys::napi_create_array_with_length(env, items.len(), &mut out),
            "napi_create_array_with_length",
        )?;
        for (i, item) in items.iter().enumerate() {
            check(
                sys::napi_set_element(env, out, i as u32, *item),
                "napi_set_element",
            )?;
        }
    }
    Ok(out)
}
