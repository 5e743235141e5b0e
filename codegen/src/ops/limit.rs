//! `limit(n)`: the first n rows, in order; reading stops once they are out.

use super::{Checker, check_args};
use crate::plan::NodeKind;
use crate::schema::Schema;
use crate::syntax::Call;

pub fn check(ck: &Checker, call: &Call, input: &Schema) -> Option<(NodeKind, Schema)> {
    if !check_args(ck.cx, call, &["n"], &[]) {
        return None;
    }
    let n = call.positional().next()?.clone();
    Some((NodeKind::Limit(n), input.clone()))
}
