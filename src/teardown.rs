//! Stopping a JS environment's sockets when it is torn down (a worker
//! terminated with sockets still open), so no task outlives its thread's JS.
//!
//! One cleanup hook per environment, registered on first use, stops every
//! socket still tracked. Sockets are tracked per thread: each environment
//! (the main one, every worker) runs on a thread of its own. A per-socket
//! hook would cost a leaked allocation each time one is removed (napi-rs's
//! `remove_env_cleanup_hook` does not free its box).

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use napi::Env;

use crate::shared::Shared;

#[derive(Default)]
struct Tracked {
    hooked: bool,
    sockets: Vec<Weak<Shared>>,
}

thread_local! {
    static TRACKED: RefCell<Tracked> = RefCell::new(Tracked::default());
}

/// Tracks a receiving socket of the current thread's environment.
pub(crate) fn track(env: &Env, shared: &Arc<Shared>) -> napi::Result<()> {
    let hook_needed = TRACKED.with(|t| {
        let mut t = t.borrow_mut();
        // Closed sockets are pruned when the list doubles: amortised O(1).
        if t.sockets.len() >= 64 && t.sockets.len() == t.sockets.capacity() {
            t.sockets.retain(|w| w.strong_count() > 0);
        }
        t.sockets.push(Arc::downgrade(shared));
        !std::mem::replace(&mut t.hooked, true)
    });
    if hook_needed {
        env.add_env_cleanup_hook((), |()| stop_all())?;
    }
    Ok(())
}

fn stop_all() {
    let sockets = TRACKED.with(|t| std::mem::take(&mut t.borrow_mut().sockets));
    for shared in sockets.iter().filter_map(Weak::upgrade) {
        shared.stop();
    }
}
