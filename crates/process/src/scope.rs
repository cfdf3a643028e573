//! The process groups one piece of blocking work started.
//!
//! Blocking work (a compile in `spawn_blocking`) cannot be aborted: dropping the
//! future that awaits it leaves the thread, and the child it waits for, running.
//! So the work runs inside a [`Scope`] ([`Scope::enter`]); the runner registers each
//! group it starts with the thread's current scope, and whoever awaits the work
//! holds a [`CancelOnDrop`]: when the awaiting future is dropped, the scope kills
//! every group it holds and refuses to start new ones, so the blocking work ends
//! promptly too.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::groups::kill_group;

thread_local! {
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

#[derive(Debug, Default)]
struct State {
    cancelled: bool,
    groups: Vec<i32>,
}

/// A set of live process groups that can be killed together; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Scope(Arc<Mutex<State>>);

/// Restores the thread's previous scope when [`Scope::enter`] returns or unwinds.
struct Entered(Option<Scope>);

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl Scope {
    pub fn new() -> Self {
        Scope::default()
    }

    /// The scope of the work running on this thread, if any.
    pub fn current() -> Option<Scope> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Runs `f` on this thread with `self` as the current scope: children started
    /// through this crate's runner belong to it.
    pub fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Entered(previous);
        f()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Kills every group of the scope and refuses new ones.
    pub fn cancel(&self) {
        let mut state = self.state();
        state.cancelled = true;
        for pgid in std::mem::take(&mut state.groups) {
            kill_group(pgid);
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.state().cancelled
    }

    /// Starts a child with `spawn` and adds its group, unless the scope is
    /// cancelled (`None`). Holding the lock while starting means a cancellation
    /// either comes first (nothing starts) or sees the group.
    pub(crate) fn admit<T>(&self, spawn: impl FnOnce() -> (T, Option<i32>)) -> Option<T> {
        let mut state = self.state();
        if state.cancelled {
            return None;
        }
        let (started, pgid) = spawn();
        state.groups.extend(pgid);
        Some(started)
    }

    /// The group ended on its own.
    pub(crate) fn release(&self, pgid: i32) {
        self.state().groups.retain(|g| *g != pgid);
    }

    /// A guard that cancels the scope when dropped, unless disarmed.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

/// Cancels its scope on drop: held by the future that awaits blocking work.
#[derive(Debug)]
pub struct CancelOnDrop(Option<Scope>);

impl CancelOnDrop {
    /// The work finished: nothing to cancel.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(scope) = self.0.take() {
            scope.cancel();
        }
    }
}
