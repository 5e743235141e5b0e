//! The fused row loop: consecutive row-wise stages compiled into one function per block with
//! one loop over its rows. Columns are read in place (`Field::get` on typed readers, no
//! allocation for strings); computed columns live in locals; filters `continue`; columns that
//! pass through untouched are not copied row by row but gathered once after the loop.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::Ident;

use super::{GeneratedRecords, value_type};
use crate::expr::{Held, Scope, Value};
use crate::schema::{Column, Schema};
use crate::tokens::rt;
use crate::types::LType;

/// Where a column's value is, inside the loop.
#[derive(Clone)]
enum Bound {
    /// A column of the block, read through a typed reader. `source` is its name in the
    /// block, which a `rename` in the loop does not change.
    Input { source: String },
    /// A local computed by `with_column`.
    Local { ident: Ident, held: Held },
    /// A field of a row value made by `map` / `flat_map`.
    RowField { row: Ident },
}

#[derive(Clone)]
struct Binding {
    column: Column,
    bound: Bound,
}

/// The loop being generated: where each current column's value is, and the statements so
/// far. Operators add themselves through its methods (`ops::Operator::fuse`).
pub struct RowLoop {
    bindings: Vec<Binding>,
    /// Input columns read in the loop: (reader, column).
    readers: Vec<(Ident, Column)>,
    /// Statements outside the block function (captures, user functions).
    setup: Vec<TokenStream>,
    /// Open `for` loops (from `flat_map`) with their statements; the first is the row loop.
    frames: Vec<(TokenStream, Vec<TokenStream>)>,
    filters: bool,
    counter: usize,
    /// The row value that holds exactly the current columns, if any (it can move on whole).
    whole_row: Option<Ident>,
}

impl RowLoop {
    /// A loop over the rows of a block with `input`'s columns.
    pub fn open(input: &Schema) -> RowLoop {
        RowLoop {
            bindings: input
                .columns
                .iter()
                .map(|c| Binding {
                    column: c.clone(),
                    bound: Bound::Input {
                        source: c.name.clone(),
                    },
                })
                .collect(),
            readers: Vec::new(),
            setup: Vec::new(),
            frames: vec![(quote!(for __aq_i in 0..__aq_n), Vec::new())],
            filters: false,
            counter: 0,
            whole_row: None,
        }
    }

    /// A new local name.
    pub fn fresh(&mut self, prefix: &str) -> Ident {
        self.counter += 1;
        format_ident!("__aq_{}{}", prefix, self.counter)
    }

    /// A statement run for each row (inside the innermost open loop).
    pub fn push(&mut self, statement: TokenStream) {
        self.frames
            .last_mut()
            .expect("the row loop frame")
            .1
            .push(statement);
    }

    /// A statement run once, before the block function is made (captures, user functions).
    pub fn setup(&mut self, statement: TokenStream) {
        self.setup.push(statement);
    }

    /// Skip the row unless `condition` (parenthesised tokens) holds.
    pub fn keep_if(&mut self, condition: TokenStream) {
        self.push(quote!(if !#condition { continue; }));
        self.filters = true;
    }

    /// Rows multiply: later statements run inside `header` (a `for` over a closure's output).
    pub fn nest(&mut self, header: TokenStream) {
        self.frames.push((header, Vec::new()));
    }

    /// The current columns change: no row value holds exactly them any more.
    pub fn forget_whole_row(&mut self) {
        self.whole_row = None;
    }

    /// Bind computed columns (locals holding values), replacing columns of the same name.
    pub fn bind_locals(&mut self, locals: Vec<(Column, Ident, Held)>) {
        for (column, ident, held) in locals {
            let binding = Binding {
                column,
                bound: Bound::Local { ident, held },
            };
            match self
                .bindings
                .iter_mut()
                .find(|b| b.column.name == binding.column.name)
            {
                Some(existing) => *existing = binding,
                None => self.bindings.push(binding),
            }
        }
        self.whole_row = None;
    }

    /// Keep these columns, in this order.
    pub fn select(&mut self, names: &[String]) {
        let bindings = std::mem::take(&mut self.bindings);
        self.bindings = names
            .iter()
            .filter_map(|n| bindings.iter().find(|b| &b.column.name == n).cloned())
            .collect();
        self.whole_row = None;
    }

    /// Remove these columns.
    pub fn drop_columns(&mut self, names: &[String]) {
        self.bindings.retain(|b| !names.contains(&b.column.name));
        self.whole_row = None;
    }

    /// Rename columns; a column of the block keeps the name it is read by.
    pub fn rename(&mut self, pairs: &[(String, String)]) {
        for (from, to) in pairs {
            if let Some(b) = self.bindings.iter_mut().find(|b| &b.column.name == from) {
                b.column.name = to.clone();
            }
        }
        self.whole_row = None;
    }

    /// The typed reader of the block's column `source` (its name in the block).
    fn reader(&mut self, source: &str, column: &Column) -> Ident {
        if let Some((ident, _)) = self.readers.iter().find(|(_, c)| c.name == source) {
            return ident.clone();
        }
        let ident = format_ident!("__aq_r_{}", source);
        let column = Column {
            name: source.to_owned(),
            ..column.clone()
        };
        self.readers.push((ident.clone(), column));
        ident
    }

    /// The value of `binding` as a borrowed `Field::Ref`, an owned value or a reference.
    fn value(&mut self, binding: &Binding, span: Span) -> Value {
        let rt = rt();
        let ty = &binding.column.ty;
        let ltype = binding.column.ltype.clone();
        let field = format_ident!("{}", binding.column.name, span = span);
        match &binding.bound {
            Bound::Input { source } => {
                let reader = self.reader(source, &binding.column);
                value(
                    ltype,
                    Held::Ref,
                    quote!(<#ty as #rt::Field>::get(#reader, __aq_i)),
                )
            }
            Bound::Local { ident, held } => match held {
                Held::Owned if !ltype.is_copy() => value(ltype, Held::Borrowed, quote!((&#ident))),
                held => value(ltype, *held, quote!(#ident)),
            },
            Bound::RowField { row } if ltype.is_copy() => {
                value(ltype, Held::Owned, quote!(#row.#field))
            }
            Bound::RowField { row } => value(ltype, Held::Borrowed, quote!((&#row.#field))),
        }
    }

    /// An owned value of `binding`, to build a record from.
    fn owned(&mut self, binding: &Binding) -> TokenStream {
        let rt = rt();
        let ty = &binding.column.ty;
        let v = self.value(binding, Span::call_site());
        let tokens = v.tokens;
        match v.held {
            Held::Ref => quote!(<#ty as #rt::Field>::to_owned(#tokens)),
            Held::Owned => tokens,
            Held::Borrowed => quote!(::std::clone::Clone::clone(#tokens)),
        }
    }

    /// An owned row of type `record_ty` holding the current columns.
    pub fn construct(&mut self, record_ty: &TokenStream) -> TokenStream {
        // A whole row from the previous map moves on as it is.
        if let [first, ..] = self.bindings.as_slice()
            && let Bound::RowField { row } = &first.bound
            && self
                .bindings
                .iter()
                .all(|b| matches!(&b.bound, Bound::RowField { row: r } if r == row))
            && self.whole_row == Some(row.clone())
        {
            return quote!(#row);
        }
        let bindings = self.bindings.clone();
        let fields = bindings.iter().map(|b| {
            let name = format_ident!("{}", b.column.name);
            let value = self.owned(b);
            quote!(#name: #value)
        });
        let fields: Vec<TokenStream> = fields.collect();
        quote!(#record_ty { #(#fields),* })
    }

    /// The current columns are the fields of `row`, a value of `schema`'s record.
    pub fn rows_of(&mut self, row: &Ident, schema: &Schema) {
        self.bindings = schema
            .columns
            .iter()
            .map(|c| Binding {
                column: c.clone(),
                bound: Bound::RowField { row: row.clone() },
            })
            .collect();
        self.whole_row = Some(row.clone());
    }
}

fn value(ltype: LType, held: Held, tokens: TokenStream) -> Value {
    Value::of(ltype, held, tokens)
}

impl Scope for RowLoop {
    fn column(&mut self, name: &str, span: Span) -> Option<Value> {
        let binding = self
            .bindings
            .iter()
            .find(|b| b.column.name == name)?
            .clone();
        Some(self.value(&binding, span))
    }

    fn capture(&mut self, block: &syn::ExprBlock) -> TokenStream {
        let ident = self.fresh("k");
        self.setup.push(quote!(let #ident = #block;));
        quote!(::std::clone::Clone::clone(&#ident))
    }
}

impl RowLoop {
    /// The loop's frames nested into one body.
    fn body(&mut self) -> TokenStream {
        let mut body = TokenStream::new();
        for (header, statements) in self.frames.drain(..).rev() {
            body = quote!(#header { #(#statements)* #body });
        }
        body
    }

    /// Statements binding the typed readers of the input columns the loop reads.
    fn reader_statements(&self) -> Vec<TokenStream> {
        let rt = rt();
        self.readers
            .iter()
            .map(|(ident, column)| {
                let ty = &column.ty;
                let name = &column.name;
                quote!(let #ident = #rt::bind_column::<#ty>(&__aq_batch, #name)?;)
            })
            .collect()
    }

    /// The value of column `name` in the borrowed form `Field::Ref` of `ty` (`value_ty` when
    /// the column is nullable and `inner` asks for the value inside the `Option`).
    fn borrowed(&mut self, name: &str, via: TokenStream) -> TokenStream {
        let binding = self
            .bindings
            .iter()
            .find(|b| b.column.name == name)
            .expect("checked column")
            .clone();
        let copy = binding.column.ltype.is_copy();
        let v = self.value(&binding, Span::call_site());
        let tokens = v.tokens;
        match v.held {
            Held::Ref => tokens,
            Held::Owned if copy => tokens,
            Held::Owned => quote!(#via(&(#tokens))),
            Held::Borrowed => quote!(#via(#tokens)),
        }
    }
}

impl RowLoop {
    /// The block function of the loop: (setup statements, a runtime `Stage::Map` named
    /// `name`). The block it builds has `output`'s columns; `index` names the function.
    pub fn finish(
        self,
        output: &Schema,
        name: &str,
        index: usize,
        records: &mut GeneratedRecords,
    ) -> (TokenStream, TokenStream) {
        let mut lp = self;
        let rt = rt();
        let output_ty = records.type_of(output, None);

        // After the loop: pass-through columns are gathered at once; others come from builders.
        let mut builders = Vec::new();
        let mut appends = Vec::new();
        let mut columns = Vec::new();
        let bindings: Vec<Binding> = output
            .columns
            .iter()
            .map(|c| {
                lp.bindings
                    .iter()
                    .find(|b| b.column.name == c.name)
                    .expect("the stages make every column of their output")
                    .clone()
            })
            .collect();
        for binding in &bindings {
            let ty = &binding.column.ty;
            if let Bound::Input { source } = &binding.bound {
                columns.push(quote!(#rt::take_column(&__aq_batch, #source, &__aq_kept)?));
                continue;
            }
            let builder = lp.fresh("b");
            builders.push(quote!(let mut #builder = <#ty as #rt::Field>::builder(__aq_n);));
            let v = lp.value(binding, Span::call_site());
            let tokens = v.tokens;
            appends.push(match v.held {
                Held::Ref => quote!(<#ty as #rt::Field>::append(&mut #builder, #tokens);),
                Held::Owned if binding.column.ltype.is_copy() => {
                    quote!(<#ty as #rt::Field>::append(&mut #builder, #tokens);)
                }
                Held::Owned => quote!(<#ty as #rt::Field>::append_owned(&mut #builder, &#tokens);),
                Held::Borrowed => {
                    quote!(<#ty as #rt::Field>::append_owned(&mut #builder, #tokens);)
                }
            });
            columns.push(quote!(#rt::finish::<#ty>(&mut #builder)));
        }
        let keep = lp.filters.then(|| quote!(__aq_keep.push(__aq_i as u32);));
        lp.push(quote! {
            #keep
            #(#appends)*
            __aq_rows += 1;
        });

        let body = lp.body();
        let readers = lp.reader_statements();
        let setup = &lp.setup;
        let filters = lp.filters;
        let func = format_ident!("__aq_stage{}", index);
        let setup = quote! {
            #(#setup)*
            #[allow(unused_mut, unused_variables, unused_parens, clippy::all)]
            let #func = move |__aq_batch: #rt::RecordBatch| -> ::std::result::Result<#rt::RecordBatch, #rt::StageError> {
                let __aq_n = __aq_batch.num_rows();
                #(#readers)*
                let mut __aq_keep: ::std::vec::Vec<u32> = ::std::vec::Vec::with_capacity(if #filters { __aq_n } else { 0 });
                let mut __aq_rows: usize = 0;
                #(#builders)*
                #body
                let __aq_kept = if #filters { #rt::Kept::new(__aq_keep, __aq_n) } else { #rt::Kept::all() };
                ::std::result::Result::Ok(#rt::batch_from_columns(
                    <#output_ty as #rt::Record>::schema(),
                    ::std::vec![#(#columns),*],
                    __aq_rows,
                )?)
            };
        };
        let stage =
            quote!(#rt::Stage::Map { name: #name.into(), func: ::std::sync::Arc::new(#func) });
        (setup, stage)
    }
}

/// A value an aggregate takes from each row: `None` for `count()`, else the column, with
/// whether the aggregate only counts it (`count(column)`: its non-null values).
pub struct FeedValue<'a> {
    pub column: Option<&'a Column>,
    pub counts: bool,
}

impl RowLoop {
    /// The loop feeding a hash aggregate grouped by `keys` (columns of the loop's output)
    /// with `aggregates`: (setup statements, the feed closure). Each kept row finds its group
    /// in the table and updates every aggregate's state in place: no block is built between
    /// the stages and the aggregate.
    pub fn feed(self, keys: &[Column], aggregates: &[FeedValue]) -> (TokenStream, TokenStream) {
        let rt = rt();
        let mut lp = self;
        let key_names: Vec<&String> = keys.iter().map(|k| &k.name).collect();
        let keys: Vec<TokenStream> = keys
            .iter()
            .map(|key| {
                let ty = &key.ty;
                lp.borrowed(&key.name, quote!(<#ty as #rt::KeyField>::borrow))
            })
            .collect();
        let mut updates = Vec::new();
        for (i, aggregate) in aggregates.iter().enumerate() {
            let at = syn::Index::from(i);
            let Some(column) = aggregate.column else {
                updates.push(
                quote!(#rt::Aggregator::<bool>::accumulate(&__aq_aggs.#at, &mut __aq_s.#at, true);),
            );
                continue;
            };
            let nullable = matches!(column.ltype, LType::Nullable(_));
            let value_ty = value_type(column);
            if aggregate.counts {
                if nullable {
                    let v = lp.borrowed(&column.name, quote!(::std::convert::identity));
                    updates.push(quote! {
                    if ::std::option::Option::is_some(&(#v)) {
                        #rt::Aggregator::<bool>::accumulate(&__aq_aggs.#at, &mut __aq_s.#at, true);
                    }
                });
                } else {
                    updates.push(
                    quote!(#rt::Aggregator::<bool>::accumulate(&__aq_aggs.#at, &mut __aq_s.#at, true);),
                );
                }
                continue;
            }
            if nullable {
                let binding = lp
                    .bindings
                    .iter()
                    .find(|b| b.column.name == column.name)
                    .expect("checked")
                    .clone();
                let v = lp.value(&binding, Span::call_site());
                let tokens = v.tokens;
                updates.push(match v.held {
                Held::Ref => quote! {
                    if let ::std::option::Option::Some(__aq_v) = #tokens {
                        #rt::Aggregator::<#value_ty>::accumulate(&__aq_aggs.#at, &mut __aq_s.#at, __aq_v);
                    }
                },
                _ => quote! {
                    if let ::std::option::Option::Some(__aq_v) = &(#tokens) {
                        #rt::Aggregator::<#value_ty>::accumulate(&__aq_aggs.#at, &mut __aq_s.#at, <#value_ty as #rt::Ordered>::borrow(__aq_v));
                    }
                },
            });
            } else {
                let v = lp.borrowed(&column.name, quote!(<#value_ty as #rt::Ordered>::borrow));
                updates.push(
                quote!(#rt::Aggregator::<#value_ty>::accumulate(&__aq_aggs.#at, &mut __aq_s.#at, #v);),
            );
            }
        }
        // One string key read from the block: when the block holds it as a dictionary, each
        // dictionary value's group is looked up once per block and remembered by index.
        let dictionary_key = match key_names.as_slice() {
            [name] => lp
                .bindings
                .iter()
                .find(|b| &&b.column.name == name)
                .filter(|b| match &b.column.ltype {
                    LType::Str => true,
                    LType::Nullable(inner) => **inner == LType::Str,
                    _ => false,
                })
                .and_then(|b| match &b.bound {
                    Bound::Input { source } => Some((source.clone(), b.column.clone())),
                    _ => None,
                }),
            _ => None,
        }
        .map(|(source, column)| (lp.reader(&source, &column), column.ty));
        let (cache_setup, entry) = match dictionary_key {
            Some((reader, ty)) => (
                quote! {
                    let mut __aq_groups_of: ::std::vec::Vec<u32> =
                        ::std::vec![u32::MAX; <#ty as #rt::KeyField>::dictionary_len(#reader)];
                },
                quote! {
                    match <#ty as #rt::KeyField>::dictionary_index(#reader, __aq_i) {
                        ::std::option::Option::Some(__aq_d) => __aq_table.entry_cached(&mut __aq_groups_of[__aq_d], || (#(#keys,)*), &__aq_init_feed),
                        ::std::option::Option::None => __aq_table.entry((#(#keys,)*), &__aq_init_feed),
                    }
                },
            ),
            None => (
                quote!(),
                quote!(__aq_table.entry((#(#keys,)*), &__aq_init_feed)),
            ),
        };
        lp.push(quote! {
            let __aq_s = #entry;
            #(#updates)*
        });
        let body = lp.body();
        let readers = lp.reader_statements();
        let setup = &lp.setup;
        let closure = quote! {{
            let __aq_init_feed = ::std::clone::Clone::clone(&__aq_init);
            let __aq_aggs = ::std::clone::Clone::clone(&__aq_aggs);
            #rt::feed_fn(&__aq_init, move |__aq_batch: &#rt::RecordBatch, __aq_table| -> ::std::result::Result<(), #rt::StageError> {
                let __aq_n = __aq_batch.num_rows();
                #(#readers)*
                #cache_setup
                #body
                ::std::result::Result::Ok(())
            })
        }};
        (quote!(#(#setup)*), closure)
    }
}
