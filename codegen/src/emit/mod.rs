//! What operators lower to: the fused row loop ([`RowLoop`], and the feed of a hash
//! aggregate) and the records generated for intermediate columns. It knows nothing of plans: `lower` drives it, and each operator in `ops/`
//! writes its own part through it.

mod records;
mod row_loop;

pub use records::GeneratedRecords;
pub use row_loop::{FeedValue, RowLoop};

use proc_macro2::TokenStream;
use quote::quote;

use crate::schema::Column;
use crate::tokens::rt;
use crate::types::LType;

/// The type an aggregate's values have: the column's, or the inner type of a nullable one.
pub fn value_type(column: &Column) -> TokenStream {
    let rt = rt();
    let ty = &column.ty;
    match &column.ltype {
        LType::Nullable(inner) => match inner.rust_type() {
            Some(inner) => inner,
            None => quote!(<#ty as #rt::Nullable>::Inner),
        },
        _ => ty.clone(),
    }
}
