//! `Ctxt`: collects every error found while compiling a pipeline, so all are reported at once.

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Collects errors; must be consumed with [`Ctxt::check`] (dropping it unchecked is a bug).
#[derive(Default)]
pub struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
    /// Columns earlier stages took away, with what took each: `select(a, b)` removed it.
    gone: RefCell<Vec<(String, String)>>,
}

impl Ctxt {
    /// A fresh context.
    pub fn new() -> Self {
        Self {
            errors: RefCell::new(Some(Vec::new())),
            gone: RefCell::new(Vec::new()),
        }
    }

    /// Note that a stage took column `name` away (`why`: "`drop(note)` removed it").
    pub fn note_gone(&self, name: &str, why: String) {
        self.gone.borrow_mut().push((name.to_owned(), why));
    }

    /// Why column `name` is not there any more, if an earlier stage took it away.
    pub fn gone(&self, name: &str) -> Option<String> {
        let gone = self.gone.borrow();
        gone.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, why)| why.clone())
    }

    /// Record an error at the span of `tokens`.
    pub fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Record an error at `span`.
    pub fn error_at<M: Display>(&self, span: proc_macro2::Span, message: M) {
        self.syn_error(syn::Error::new(span, message));
    }

    /// Record a syn error.
    pub fn syn_error(&self, error: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("Ctxt used after check")
            .push(error);
    }

    /// All errors as one `compile_error!` token stream, or `Ok` when there were none.
    pub fn check(self) -> Result<(), TokenStream> {
        let errors = self.errors.borrow_mut().take().expect("Ctxt checked twice");
        let mut combined: Option<syn::Error> = None;
        for error in errors {
            match &mut combined {
                Some(all) => all.combine(error),
                None => combined = Some(error),
            }
        }
        match combined {
            Some(all) => Err(all.to_compile_error()),
            None => Ok(()),
        }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("aqueduct: Ctxt dropped without checking its errors");
        }
    }
}

/// The candidate closest to `name` by edit distance, if close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= (name.len().max(c.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let columns = ["price", "qty", "category"];
        assert_eq!(did_you_mean("prce", columns), Some("price"));
        assert_eq!(did_you_mean("categroy", columns), Some("category"));
        assert_eq!(did_you_mean("zzz", columns), None);
    }
}
