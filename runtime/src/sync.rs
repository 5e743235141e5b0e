//! Locks that outlive a panicking holder.
//!
//! A panic in user code or in a decoder is caught and reported as an error naming its stage
//! and block (`error::guard_stage`); a lock held at that moment is poisoned while the job is
//! already failing with that error. Taking the data anyway lets the other workers stop and
//! the error be reported, instead of a second panic hiding the first.

use std::sync::{LockResult, PoisonError};

/// The guard (or value) of a lock operation, poisoned or not.
pub(crate) trait Recover<T> {
    fn recover(self) -> T;
}

impl<T> Recover<T> for LockResult<T> {
    fn recover(self) -> T {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}
