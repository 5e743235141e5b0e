//! The column expression language of `filter` and `with_column`: Rust syntax over column
//! names — arithmetic, comparison, boolean logic, `as` casts, null tests, literals, `if`,
//! calls of user functions, and `{ rust }` blocks evaluated once when the pipeline is built.
//! Expressions are type-checked here (with hints) and compiled to plain Rust inside the fused
//! row loop.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{BinOp, Expr, Lit, UnOp};

use crate::ctxt::{Ctxt, did_you_mean};
use crate::types::LType;

/// How a value is held: borrowed from a batch (`Field::Ref`), owned, or a reference to an
/// owned value. Decides how it is appended to a builder or turned into an owned field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    Ref,
    Owned,
    Borrowed,
}

/// A compiled expression: its type, how its value is held, and its Rust tokens.
#[derive(Clone, Debug)]
pub struct Value {
    pub ltype: LType,
    pub held: Held,
    pub tokens: TokenStream,
    /// The literal itself, when the value is an untyped number literal (typed by context).
    literal: Option<(String, Span)>,
}

impl Value {
    /// A value of type `ltype` held as `held`, written as `tokens`.
    pub fn of(ltype: LType, held: Held, tokens: TokenStream) -> Self {
        Value::new(ltype, held, tokens)
    }

    /// The tokens, with an untyped number literal written as a `target` literal.
    pub fn tokens_as(&self, target: &LType) -> TokenStream {
        self.as_type(target)
    }

    fn new(ltype: LType, held: Held, tokens: TokenStream) -> Self {
        Value {
            ltype,
            held,
            tokens,
            literal: None,
        }
    }

    /// The tokens, with an untyped literal given the type `target`.
    fn as_type(&self, target: &LType) -> TokenStream {
        match (&self.literal, target) {
            (Some((digits, span)), LType::Int(name) | LType::Float(name)) => {
                let (negative, digits) = match digits.strip_prefix('-') {
                    Some(positive) => (true, positive),
                    None => (false, digits.as_str()),
                };
                let digits =
                    if matches!(target, LType::Float(_)) && !digits.contains(['.', 'e', 'E']) {
                        format!("{digits}.0")
                    } else {
                        digits.to_owned()
                    };
                let lit = if matches!(target, LType::Float(_)) {
                    Lit::Float(syn::LitFloat::new(&format!("{digits}_{name}"), *span))
                } else {
                    Lit::Int(syn::LitInt::new(&format!("{digits}_{name}"), *span))
                };
                // In parentheses: `(-2).abs()` must not become `-2_i64.abs()`.
                if negative {
                    quote!((-#lit))
                } else {
                    lit.to_token_stream()
                }
            }
            _ => self.tokens.clone(),
        }
    }
}

/// What an expression can see: the columns at its stage, and a place for `{ rust }` captures.
pub trait Scope {
    /// The value of column `name` read at `span`, or `None` if there is no such column.
    fn column(&mut self, name: &str, span: Span) -> Option<Value>;
    /// Column names, for hints.
    fn names(&self) -> Vec<String>;
    /// What the columns are, for messages (`Sale`, `{a, b}`).
    fn describe(&self) -> String;
    /// Capture `{ block }` to evaluate once; returns the tokens that read it per row.
    fn capture(&mut self, block: &syn::ExprBlock) -> TokenStream;
}

/// Reads tensor columns as one element each, remembering which it read (see
/// [`compile_column`]).
struct Elements<'s> {
    inner: &'s mut dyn Scope,
    /// Each tensor read: its name, the tokens of its values, its element type and shape.
    tensors: Vec<(String, TokenStream, LType, [usize; 3])>,
    mismatch: Option<(Span, String)>,
}

fn element_ident(index: usize) -> proc_macro2::Ident {
    quote::format_ident!("__aq_e{}", index)
}

impl Scope for Elements<'_> {
    fn column(&mut self, name: &str, span: Span) -> Option<Value> {
        let value = self.inner.column(name, span)?;
        let LType::Tensor(elem, dims) = &value.ltype else {
            return Some(value);
        };
        let index = match self.tensors.iter().position(|(n, ..)| n == name) {
            Some(index) => index,
            None => {
                if let Some((first, .., shape)) = self.tensors.first()
                    && shape != dims
                {
                    self.mismatch = Some((
                        span,
                        format!(
                            "`{name}` is `{}` but `{first}` has another shape: elementwise arithmetic takes tensors of one shape",
                            value.ltype
                        ),
                    ));
                }
                self.tensors.push((
                    name.to_owned(),
                    value.tokens.clone(),
                    (**elem).clone(),
                    *dims,
                ));
                self.tensors.len() - 1
            }
        };
        let ident = element_ident(index);
        Some(Value::new((**elem).clone(), Held::Owned, quote!(#ident)))
    }
    fn names(&self) -> Vec<String> {
        self.inner.names()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn capture(&mut self, block: &syn::ExprBlock) -> TokenStream {
        self.inner.capture(block)
    }
}

/// Compile the expression of a new column: as [`compile`], except that an expression reading
/// tensor columns is computed element by element (scalar columns apply to every element) and
/// gives a tensor of the same shape — `image as f32 / 255.0` over a `Tensor<u8, 8, 8>` is a
/// `Tensor<f32, 8, 8>`. `element` is the declared element type, if any.
pub fn compile_column(
    cx: &Ctxt,
    expr: &Expr,
    scope: &mut dyn Scope,
    element: Option<&LType>,
) -> Option<Value> {
    let mut elements = Elements {
        inner: scope,
        tensors: Vec::new(),
        mismatch: None,
    };
    let value = compile(cx, expr, &mut elements)?;
    if let Some((span, message)) = elements.mismatch {
        cx.error_at(span, message);
        return None;
    }
    let Some((_, _, _, dims)) = elements.tensors.first() else {
        return Some(value);
    };
    let result = match (&value.ltype, element) {
        (_, Some(declared)) => declared.clone(),
        (LType::IntLiteral, None) => LType::Int("i64"),
        (LType::FloatLiteral, None) => LType::Float("f64"),
        (t @ (LType::Int(_) | LType::Float(_)), None) => t.clone(),
        (other, None) => {
            cx.error_spanned_by(
                expr,
                format!(
                    "an expression over tensors computes numbers element by element, not `{other}`"
                ),
            );
            return None;
        }
    };
    let elem_ty = result.rust_type()?;
    let body = value.tokens_as(&result);
    let slices = elements
        .tensors
        .iter()
        .enumerate()
        .map(|(i, (_, tokens, elem, _))| {
            let (held, slice) = (
                quote::format_ident!("__aq_h{}", i),
                quote::format_ident!("__aq_t{}", i),
            );
            let ty = elem.rust_type().unwrap_or_else(|| quote!(_));
            // A borrowed slice of the block, or an owned tensor computed before: both as `&[T]`.
            quote! {
                let #held = #tokens;
                let #slice: &[#ty] = ::core::convert::AsRef::<[#ty]>::as_ref(&#held);
            }
        });
    let reads = (0..elements.tensors.len()).map(|i| {
        let (slice, e) = (quote::format_ident!("__aq_t{}", i), element_ident(i));
        quote!(let #e = #slice[__aq_k];)
    });
    let [d0, d1, d2] = *dims;
    let len = d0 * d1 * d2;
    let tensor = LType::Tensor(Box::new(result), *dims);
    Some(Value::new(
        tensor,
        Held::Owned,
        quote! {{
            #(#slices)*
            let __aq_values: ::std::vec::Vec<#elem_ty> = (0..#len).map(|__aq_k| { #(#reads)* #body }).collect();
            ::aqueduct::__private::Tensor::<#elem_ty, #d0, #d1, #d2>::new(__aq_values)
                .expect("an elementwise result has its inputs' shape")
        }},
    ))
}

/// Type-check and compile `expr`; errors go to `cx` and yield `None`.
pub fn compile(cx: &Ctxt, expr: &Expr, scope: &mut dyn Scope) -> Option<Value> {
    match expr {
        Expr::Path(path) if path.qself.is_none() && path.path.get_ident().is_some() => {
            let ident = path.path.get_ident().expect("checked");
            let name = ident.to_string();
            scope.column(&name, ident.span()).or_else(|| {
                let names = scope.names();
                let hint = match (
                    did_you_mean(&name, names.iter().map(String::as_str)),
                    cx.gone(&name),
                ) {
                    (_, Some(why)) => format!(": {why}"),
                    (Some(close), None) => format!("; did you mean `{close}`?"),
                    (None, None) => {
                        "; to use a Rust value, write it in braces: `{value}`".to_owned()
                    }
                };
                cx.error_spanned_by(
                    ident,
                    format!("no column `{name}` in {}{hint}", scope.describe()),
                );
                None
            })
        }
        Expr::Lit(lit) => literal(cx, &lit.lit),
        Expr::Paren(inner) => {
            let v = compile(cx, &inner.expr, scope)?;
            let tokens = &v.tokens;
            Some(Value {
                tokens: quote!((#tokens)),
                ..v
            })
        }
        Expr::Group(inner) => compile(cx, &inner.expr, scope),
        Expr::Block(block) => Some(Value::new(
            LType::Opaque("{..}".into()),
            Held::Owned,
            scope.capture(block),
        )),
        Expr::Unary(unary) => {
            let v = compile(cx, &unary.expr, scope)?;
            let op = &unary.op;
            let inner = &v.tokens;
            match op {
                UnOp::Not(_) if matches!(v.ltype, LType::Bool | LType::Opaque(_)) => {
                    Some(Value::new(v.ltype, Held::Owned, quote!(#op #inner)))
                }
                UnOp::Neg(_) if v.ltype.is_numeric() || matches!(v.ltype, LType::Opaque(_)) => {
                    let tokens = match &v.ltype {
                        // `-i64::MIN` wraps, as `+ - * /` do.
                        LType::Int(name) => {
                            let ty = syn::Ident::new(name, proc_macro2::Span::call_site());
                            quote!(#ty::wrapping_neg(#inner))
                        }
                        _ => quote!(#op #inner),
                    };
                    // An untyped literal is written again once its type is known: it keeps
                    // its sign (`z.unwrap_or(-1.0)` gave 1.0 when it did not).
                    let literal = v.literal.as_ref().map(|(digits, span)| {
                        let negated = match digits.strip_prefix('-') {
                            Some(positive) => positive.to_owned(),
                            None => format!("-{digits}"),
                        };
                        (negated, *span)
                    });
                    Some(Value {
                        tokens,
                        literal,
                        ..v
                    })
                }
                _ => {
                    cx.error_spanned_by(
                        unary,
                        format!(
                            "cannot apply `{}` to a value of type `{}`",
                            op.to_token_stream(),
                            v.ltype
                        ),
                    );
                    None
                }
            }
        }
        Expr::Binary(binary) => binary_op(cx, binary, scope),
        Expr::Cast(cast) => {
            let v = compile(cx, &cast.expr, scope)?;
            let target = LType::of(&cast.ty);
            let castable =
                |t: &LType| t.is_numeric() || matches!(t, LType::Bool | LType::Opaque(_));
            if !castable(&v.ltype) || !matches!(target, LType::Int(_) | LType::Float(_)) {
                cx.error_spanned_by(
                    cast,
                    format!(
                        "cannot cast `{}` to `{}`: `as` converts between numbers",
                        v.ltype, target
                    ),
                );
                return None;
            }
            let inner = v.as_type(&target);
            let ty = &cast.ty;
            Some(Value::new(
                target,
                Held::Owned,
                quote_spanned!(cast.span()=> (#inner as #ty)),
            ))
        }
        Expr::MethodCall(call) => method(cx, call, scope),
        Expr::Call(call) => {
            let Expr::Path(func) = call.func.as_ref() else {
                cx.error_spanned_by(
                    &call.func,
                    "only functions named by a path can be called in a column expression",
                );
                return None;
            };
            let args: Vec<TokenStream> = call
                .args
                .iter()
                .map(|a| compile(cx, a, scope).map(|v| v.tokens))
                .collect::<Option<_>>()?;
            let text = func.to_token_stream().to_string().replace(' ', "");
            Some(Value::new(
                LType::Opaque(format!("{text}(..)")),
                Held::Owned,
                quote_spanned!(call.span()=> #func(#(#args),*)),
            ))
        }
        Expr::If(expr_if) => if_else(cx, expr_if, scope),
        other => {
            cx.error_spanned_by(
                other,
                "not supported in a column expression (columns, literals, arithmetic, comparisons, `&&`, `||`, `!`, `as`, `if`, method and function calls, `{ rust }`); use a closure stage such as `map(|row| ...)` for anything else",
            );
            None
        }
    }
}

fn literal(cx: &Ctxt, lit: &Lit) -> Option<Value> {
    let tokens = lit.to_token_stream();
    Some(match lit {
        Lit::Int(int) => match int.suffix() {
            "" => Value {
                literal: Some((int.base10_digits().to_owned(), int.span())),
                ..Value::new(LType::IntLiteral, Held::Owned, tokens)
            },
            suffix => Value::new(
                LType::of(&syn::parse_str(suffix).ok()?),
                Held::Owned,
                tokens,
            ),
        },
        Lit::Float(float) => match float.suffix() {
            "" => Value {
                literal: Some((float.base10_digits().to_owned(), float.span())),
                ..Value::new(LType::FloatLiteral, Held::Owned, tokens)
            },
            suffix => Value::new(
                LType::of(&syn::parse_str(suffix).ok()?),
                Held::Owned,
                tokens,
            ),
        },
        Lit::Str(_) => Value::new(LType::Str, Held::Ref, tokens),
        Lit::Bool(_) => Value::new(LType::Bool, Held::Owned, tokens),
        other => {
            cx.error_spanned_by(
                other,
                "unsupported literal: use numbers, strings or booleans",
            );
            return None;
        }
    })
}

/// The common type of two operands, adapting untyped literals; `None` if they do not mix.
fn unify(a: &LType, b: &LType) -> Option<LType> {
    use LType::*;
    match (a, b) {
        (Opaque(_), other) | (other, Opaque(_)) => {
            Some(if other.is_numeric() || matches!(other, Opaque(_)) {
                Opaque("?".into())
            } else {
                other.clone()
            })
        }
        (IntLiteral, IntLiteral) => Some(IntLiteral),
        (IntLiteral | FloatLiteral, FloatLiteral) | (FloatLiteral, IntLiteral) => {
            Some(FloatLiteral)
        }
        (IntLiteral, t @ (Int(_) | Float(_))) | (t @ (Int(_) | Float(_)), IntLiteral) => {
            Some(t.clone())
        }
        (FloatLiteral, t @ Float(_)) | (t @ Float(_), FloatLiteral) => Some(t.clone()),
        (x, y) if x == y => Some(x.clone()),
        _ => None,
    }
}

fn null_hint(cx: &Ctxt, at: &dyn ToTokens, v: &LType) -> bool {
    if let LType::Nullable(inner) = v {
        cx.error_spanned_by(
            at,
            format!("this value may be null (`Option<{inner}>`): use `.unwrap_or(default)`, or test `.is_null()` / `.is_not_null()`"),
        );
        return true;
    }
    false
}

fn binary_op(cx: &Ctxt, binary: &syn::ExprBinary, scope: &mut dyn Scope) -> Option<Value> {
    let left = compile(cx, &binary.left, scope);
    let right = compile(cx, &binary.right, scope);
    let (left, right) = (left?, right?);
    let op = &binary.op;
    let op_text = op.to_token_stream().to_string();
    let span = op.span();
    let logical = matches!(op, BinOp::And(_) | BinOp::Or(_));
    let comparison = matches!(
        op,
        BinOp::Eq(_) | BinOp::Ne(_) | BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_)
    );
    if logical {
        for (side, v) in [(&binary.left, &left), (&binary.right, &right)] {
            if !matches!(v.ltype, LType::Bool | LType::Opaque(_)) {
                cx.error_spanned_by(
                    side,
                    format!("`{op_text}` needs a `bool`, found `{}`", v.ltype),
                );
                return None;
            }
        }
        let (l, r) = (&left.tokens, &right.tokens);
        return Some(Value::new(
            LType::Bool,
            Held::Owned,
            quote_spanned!(span=> #l #op #r),
        ));
    }
    // `==` and `!=` compare a nullable value with a plain one: a null equals no value.
    let equality = matches!(op, BinOp::Eq(_) | BinOp::Ne(_));
    let (mut left, mut right) = (left, right);
    if equality {
        match (&left.ltype, &right.ltype) {
            (LType::Nullable(_), LType::Nullable(_)) => {}
            (LType::Nullable(inner), _) => right = wrap_some(right, inner),
            (_, LType::Nullable(inner)) => left = wrap_some(left, inner),
            _ => {}
        }
    }
    if !equality
        && (null_hint(cx, &binary.left, &left.ltype) | null_hint(cx, &binary.right, &right.ltype))
    {
        return None;
    }
    let Some(common) = unify(&left.ltype, &right.ltype) else {
        let hint = match (&left.ltype, &right.ltype) {
            (LType::FloatLiteral, b) if b.is_numeric() => {
                format!(
                    "; convert it with `as`: `{} as f64`",
                    crate::tokens::compact(binary.right.to_token_stream())
                )
            }
            (a, LType::FloatLiteral) if a.is_numeric() => {
                format!(
                    "; convert it with `as`: `{} as f64`",
                    crate::tokens::compact(binary.left.to_token_stream())
                )
            }
            (a, b) if a.is_numeric() && b.is_numeric() => format!(
                "; convert one side with `as`, e.g. `{} as {a}`",
                crate::tokens::compact(binary.right.to_token_stream())
            ),
            _ => String::new(),
        };
        cx.error_at(
            span,
            format!(
                "cannot apply `{op_text}` to `{}` and `{}`{hint}",
                left.ltype, right.ltype
            ),
        );
        return None;
    };
    if !(comparison || common.is_numeric() || matches!(common, LType::Opaque(_))) {
        cx.error_at(
            span,
            format!("cannot apply `{op_text}` to `{common}`: arithmetic needs numbers"),
        );
        return None;
    }
    let (l, r) = (left.as_type(&common), right.as_type(&common));
    if comparison {
        // Strings compare as `&str` on both sides; owned values are borrowed for the compare.
        let (l, r) = (comparable(&left, l), comparable(&right, r));
        return Some(Value::new(
            LType::Bool,
            Held::Owned,
            quote_spanned!(span=> (#l #op #r)),
        ));
    }
    // Integers wrap (two's complement) in debug and release builds alike, as the GPU kernels
    // do: an expression must not give a result in one build and a panic in the other.
    let wrapping = match (&common, op) {
        (LType::Int(_) | LType::IntLiteral, BinOp::Add(_)) => Some("wrapping_add"),
        (LType::Int(_) | LType::IntLiteral, BinOp::Sub(_)) => Some("wrapping_sub"),
        (LType::Int(_) | LType::IntLiteral, BinOp::Mul(_)) => Some("wrapping_mul"),
        (LType::Int(_) | LType::IntLiteral, BinOp::Div(_)) => Some("wrapping_div"),
        (LType::Int(_) | LType::IntLiteral, BinOp::Rem(_)) => Some("wrapping_rem"),
        _ => None,
    };
    let tokens = match (wrapping, &common) {
        (Some(method), LType::Int(name)) => {
            let (ty, method) = (syn::Ident::new(name, span), syn::Ident::new(method, span));
            quote_spanned!(span=> #ty::#method(#l, #r))
        }
        (Some(method), _) => {
            let method = syn::Ident::new(method, span);
            quote_spanned!(span=> i64::#method(#l, #r))
        }
        (None, _) => quote_spanned!(span=> (#l #op #r)),
    };
    let mut value = Value::new(common, Held::Owned, tokens);
    if matches!(value.ltype, LType::IntLiteral | LType::FloatLiteral) {
        value.ltype = if matches!(value.ltype, LType::IntLiteral) {
            LType::Int("i64")
        } else {
            LType::Float("f64")
        };
    }
    Some(value)
}

/// `value` as `Some(value)` of the nullable type `Option<inner>`, for `==` with a nullable.
fn wrap_some(value: Value, inner: &LType) -> Value {
    let tokens = value.as_type(inner);
    let comparable = comparable(&value, tokens);
    Value::new(
        LType::Nullable(Box::new(inner.clone())),
        Held::Ref,
        quote!(::std::option::Option::Some(#comparable)),
    )
}

/// Tokens of an operand for `==`/`<`: non-`Copy` owned values are compared by reference.
fn comparable(v: &Value, tokens: TokenStream) -> TokenStream {
    match (v.held, v.ltype.is_copy()) {
        (Held::Owned, false) if !matches!(v.ltype, LType::Opaque(_)) => quote!((&*#tokens)),
        _ => tokens,
    }
}

fn if_else(cx: &Ctxt, expr_if: &syn::ExprIf, scope: &mut dyn Scope) -> Option<Value> {
    let single = |block: &syn::Block| match block.stmts.as_slice() {
        [syn::Stmt::Expr(e, None)] => Some(e.clone()),
        _ => None,
    };
    let Some((_, else_branch)) = &expr_if.else_branch else {
        cx.error_spanned_by(
            expr_if,
            "`if` in a column expression needs an `else` branch",
        );
        return None;
    };
    let Some(then_expr) = single(&expr_if.then_branch) else {
        cx.error_spanned_by(&expr_if.then_branch, "each branch holds one expression");
        return None;
    };
    let cond = compile(cx, &expr_if.cond, scope)?;
    if !matches!(cond.ltype, LType::Bool | LType::Opaque(_)) {
        cx.error_spanned_by(
            &expr_if.cond,
            format!("`if` needs a `bool` condition, found `{}`", cond.ltype),
        );
        return None;
    }
    // `else { e }` is a branch holding `e`, not a `{ rust }` value (`else if` nests).
    let else_expr = match else_branch.as_ref() {
        syn::Expr::Block(block) if block.attrs.is_empty() && block.label.is_none() => {
            let Some(e) = single(&block.block) else {
                cx.error_spanned_by(block, "each branch holds one expression");
                return None;
            };
            e
        }
        other => other.clone(),
    };
    let then_v = compile(cx, &then_expr, scope)?;
    let else_v = compile(cx, &else_expr, scope)?;
    let Some(common) = unify(&then_v.ltype, &else_v.ltype) else {
        cx.error_spanned_by(
            else_branch,
            format!(
                "`if` branches differ: `{}` and `{}`",
                then_v.ltype, else_v.ltype
            ),
        );
        return None;
    };
    let c = &cond.tokens;
    let (t, e) = (then_v.as_type(&common), else_v.as_type(&common));
    let held = if then_v.held == else_v.held {
        then_v.held
    } else {
        Held::Owned
    };
    Some(Value::new(
        common,
        held,
        quote_spanned!(expr_if.span()=> (if #c { #t } else { #e })),
    ))
}

fn method(cx: &Ctxt, call: &syn::ExprMethodCall, scope: &mut dyn Scope) -> Option<Value> {
    let receiver = compile(cx, &call.receiver, scope)?;
    let name = call.method.to_string();
    let args: Vec<Value> = call
        .args
        .iter()
        .map(|a| compile(cx, a, scope))
        .collect::<Option<_>>()?;
    let r = &receiver.tokens;
    let span = call.method.span();
    let arity = |n: usize| {
        if args.len() != n {
            cx.error_spanned_by(call, format!("`{name}` takes {n} argument(s)"));
            return false;
        }
        true
    };
    let t = &receiver.ltype;
    let unsupported = |why: &str| {
        cx.error_spanned_by(
            &call.method,
            format!("`{name}` does not apply to `{t}`{why}"),
        );
        None
    };
    match name.as_str() {
        "is_null" | "is_not_null" => {
            if !arity(0) {
                return None;
            }
            let test = if name == "is_null" {
                quote!(is_none)
            } else {
                quote!(is_some)
            };
            match t {
                LType::Nullable(_) | LType::Opaque(_) => Some(Value::new(
                    LType::Bool,
                    Held::Owned,
                    quote_spanned!(span=> #r.#test()),
                )),
                _ => Some(Value::new(
                    LType::Bool,
                    Held::Owned,
                    if name == "is_null" {
                        quote!(false)
                    } else {
                        quote!(true)
                    },
                )),
            }
        }
        "unwrap_or" => {
            if !arity(1) {
                return None;
            }
            let LType::Nullable(inner) = t else {
                return unsupported(": it is not nullable");
            };
            let Some(common) = unify(inner, &args[0].ltype) else {
                cx.error_spanned_by(
                    &call.args[0],
                    format!("the default must be a `{inner}`, found `{}`", args[0].ltype),
                );
                return None;
            };
            let d = args[0].as_type(&common);
            let held = if inner.is_copy() {
                Held::Owned
            } else {
                Held::Ref
            };
            Some(Value::new(
                common,
                held,
                quote_spanned!(span=> #r.unwrap_or(#d)),
            ))
        }
        "abs" | "sqrt" | "floor" | "ceil" | "round" | "ln" | "exp" => {
            if !arity(0) {
                return None;
            }
            let float_only = name != "abs";
            match t {
                LType::Float(_) => {}
                LType::Int(_) if !float_only => {}
                LType::Opaque(_) => {}
                _ => {
                    return unsupported(if float_only {
                        ": it needs a float; cast with `as f64`"
                    } else {
                        ": it needs a number"
                    });
                }
            }
            let m = match t {
                // `i64::MIN.abs()` wraps, as the operators do.
                LType::Int(_) => syn::Ident::new("wrapping_abs", call.method.span()),
                _ => call.method.clone(),
            };
            Some(Value::new(
                t.clone(),
                Held::Owned,
                quote_spanned!(span=> #r.#m()),
            ))
        }
        "min" | "max" | "pow" | "powi" | "powf" => {
            if !arity(1) {
                return None;
            }
            if !t.is_numeric() && !matches!(t, LType::Opaque(_)) {
                return unsupported(": it needs a number");
            }
            let arg = match name.as_str() {
                "powi" => args[0].as_type(&LType::Int("i32")),
                "pow" => args[0].as_type(&LType::Int("u32")),
                _ => args[0].as_type(t),
            };
            let m = match (t, name.as_str()) {
                (LType::Int(_), "pow") => syn::Ident::new("wrapping_pow", call.method.span()),
                _ => call.method.clone(),
            };
            Some(Value::new(
                t.clone(),
                Held::Owned,
                quote_spanned!(span=> #r.#m(#arg)),
            ))
        }
        "starts_with" | "ends_with" | "contains" => {
            if !arity(1) {
                return None;
            }
            if !matches!(t, LType::Str | LType::Opaque(_))
                || !matches!(args[0].ltype, LType::Str | LType::Opaque(_))
            {
                return unsupported(": it compares strings");
            }
            let m = &call.method;
            let a = &args[0].tokens;
            Some(Value::new(
                LType::Bool,
                Held::Owned,
                quote_spanned!(span=> #r.#m(&*#a)),
            ))
        }
        "len" => {
            if !arity(0) {
                return None;
            }
            if !matches!(
                t,
                LType::Str | LType::Binary | LType::List(_) | LType::Opaque(_)
            ) {
                return unsupported(": it measures strings, binaries and lists");
            }
            Some(Value::new(
                LType::Int("u64"),
                Held::Owned,
                quote_spanned!(span=> (#r.len() as u64)),
            ))
        }
        _ => {
            cx.error_spanned_by(
                &call.method,
                format!("unknown method `{name}` in a column expression; supported: is_null, is_not_null, unwrap_or, abs, sqrt, floor, ceil, round, ln, exp, min, max, pow, powi, powf, starts_with, ends_with, contains, len"),
            );
            None
        }
    }
}

/// The column names an expression reads (for projection pushdown).
pub fn columns_read(expr: &Expr, out: &mut Vec<String>) {
    struct Collect<'a>(&'a mut Vec<String>);
    impl<'ast> syn::visit::Visit<'ast> for Collect<'_> {
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Path(p) if p.qself.is_none() => {
                    if let Some(ident) = p.path.get_ident() {
                        self.0.push(ident.to_string());
                    }
                }
                Expr::Block(_) => {}
                // An `if`'s branches are blocks of the expression, not `{ rust }` captures
                // (its `else` was skipped as one: the column it read was not fetched).
                Expr::If(expr_if) => {
                    self.visit_expr(&expr_if.cond);
                    self.visit_block(&expr_if.then_branch);
                    match expr_if.else_branch.as_ref().map(|(_, e)| &**e) {
                        Some(Expr::Block(block)) => self.visit_block(&block.block),
                        Some(other) => self.visit_expr(other),
                        None => {}
                    }
                }
                Expr::Call(call) => call.args.iter().for_each(|a| self.visit_expr(a)),
                Expr::MethodCall(call) => {
                    self.visit_expr(&call.receiver);
                    call.args.iter().for_each(|a| self.visit_expr(a));
                }
                other => syn::visit::visit_expr(self, other),
            }
        }
    }
    syn::visit::Visit::visit_expr(&mut Collect(out), expr);
}
