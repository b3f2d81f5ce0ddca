//! Functions the host process (node, node.exe, libnode) exports, looked up
//! at run time: libuv's (`uv.rs`) and Node's C++ ones (`napi/node_cxx.rs`),
//! which an addon cannot link against on every platform.

use std::ffi::c_void;

/// Looks up a function exported by the host process.
#[cfg(unix)]
fn host_symbol(name: &std::ffi::CStr) -> *mut c_void {
    // SAFETY: dlsym with RTLD_DEFAULT only reads the NUL-terminated name.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

#[cfg(windows)]
fn host_symbol(name: &std::ffi::CStr) -> *mut c_void {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    // The executable (node.exe) first, then the DLL builds of Node.
    let dlls: Vec<Vec<u16>> = ["libnode", "node"]
        .iter()
        .map(|n| n.encode_utf16().chain(std::iter::once(0)).collect())
        .collect();
    // SAFETY: a null name asks for the executable's module, the others are
    // NUL-terminated UTF-16 strings; GetProcAddress only reads `name`.
    unsafe {
        let modules = std::iter::once(GetModuleHandleW(std::ptr::null()))
            .chain(dlls.iter().map(|d| GetModuleHandleW(d.as_ptr())));
        for module in modules {
            if module.is_null() {
                continue;
            }
            if let Some(f) = GetProcAddress(module, name.as_ptr().cast()) {
                return f as *mut c_void;
            }
        }
    }
    std::ptr::null_mut()
}

/// A function exported by the host process, as a function pointer of type
/// `F`; `None` when it does not export it.
///
/// # Safety
/// `F` must be the (C ABI) function-pointer type of the symbol `name`.
pub(crate) unsafe fn host_fn<F: Copy>(name: &std::ffi::CStr) -> Option<F> {
    const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*mut c_void>()) };
    let p = host_symbol(name);
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null symbol address, which the caller says is a
    // function of type `F` (a pointer-sized function pointer).
    Some(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) })
}
