//! The column expression language of `filter` and `with_column`: Rust syntax over column
//! names — arithmetic, comparison, boolean logic, `as` casts, null tests, literals, `if`,
//! calls of user functions, and `{ rust }` blocks evaluated once when the pipeline is built.
//! Expressions are type-checked once, when the plan is ([`check`], with hints), into a
//! [`Typed`] tree that each operator keeps; lowering renders that tree into plain Rust inside
//! the fused row loop ([`render`]), against the values the loop holds.

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

/// A rendered expression: its type, how its value is held, and its Rust tokens.
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

/// What a checked expression is rendered in: a loop holding the columns at its stage, and a
/// place for `{ rust }` captures.
pub trait Scope {
    /// The value of column `name` read at `span`, or `None` if there is no such column.
    fn column(&mut self, name: &str, span: Span) -> Option<Value>;
    /// Capture `{ block }` to evaluate once; returns the tokens that read it per row.
    fn capture(&mut self, block: &syn::ExprBlock) -> TokenStream;
}

/// What an expression is checked against: the types of the columns at its stage.
pub trait Columns {
    /// The type of column `name` read at `span`, or `None` if there is no such column.
    fn column_type(&mut self, name: &str, span: Span) -> Option<LType>;
    /// Column names, for hints.
    fn names(&self) -> Vec<String>;
    /// What the columns are, for messages (`Sale`, `{a, b}`).
    fn describe(&self) -> String;
}

/// A type-checked expression: its type, and what rendering it needs. Columns stay names
/// until a loop renders the expression against the values it holds ([`render`]): how a loop
/// holds a column (borrowed from the block, owned after an earlier stage) is known only
/// once stages are fused, and changes the code, never the type.
#[derive(Clone)]
pub struct Typed {
    pub ltype: LType,
    node: Node,
}

#[derive(Clone)]
enum Node {
    Column {
        name: String,
        span: Span,
    },
    Literal {
        held: Held,
        tokens: TokenStream,
        /// An untyped number's digits, written again once its type is known.
        literal: Option<(String, Span)>,
    },
    Paren(Box<Typed>),
    Capture(syn::ExprBlock),
    Not {
        op: UnOp,
        inner: Box<Typed>,
    },
    Neg {
        op: UnOp,
        inner: Box<Typed>,
    },
    Logical {
        op: BinOp,
        span: Span,
        left: Box<Typed>,
        right: Box<Typed>,
    },
    /// Arithmetic or a comparison over the operands' common type; a plain operand of `==`
    /// with a nullable one is wrapped in `Some` (`wrap_*` holds the type inside).
    Binary {
        op: BinOp,
        span: Span,
        left: Box<Typed>,
        right: Box<Typed>,
        wrap_left: Option<LType>,
        wrap_right: Option<LType>,
        common: LType,
        comparison: bool,
    },
    Cast {
        inner: Box<Typed>,
        ty: syn::Type,
        span: Span,
    },
    Call {
        func: syn::ExprPath,
        args: Vec<Typed>,
        span: Span,
    },
    If {
        cond: Box<Typed>,
        then: Box<Typed>,
        otherwise: Box<Typed>,
        common: LType,
        span: Span,
    },
    Method {
        receiver: Box<Typed>,
        args: Vec<Typed>,
        method: Method,
        span: Span,
    },
}

#[derive(Clone)]
enum Method {
    /// `is_null` / `is_not_null`: the test (`is_none` / `is_some`), or its answer for a
    /// value that cannot be null.
    NullTest(syn::Ident, Option<bool>),
    UnwrapOr {
        common: LType,
        held: Held,
    },
    /// `abs`, `sqrt`, ...: the method called (`wrapping_abs` for integers).
    Unary(syn::Ident),
    /// `min`, `pow`, ...: the method called and its argument's type.
    WithArg(syn::Ident, LType),
    /// `starts_with`, `ends_with`, `contains`.
    StrTest(syn::Ident),
    Len,
}

impl Typed {
    fn new(ltype: LType, node: Node) -> Self {
        Typed { ltype, node }
    }

    fn boxed(self) -> Box<Typed> {
        Box::new(self)
    }
}

/// A checked column expression (`with_column`): an expression over tensor columns is
/// computed element by element (see [`check_column`]).
#[derive(Clone)]
pub struct TypedColumn {
    /// The column's type: a tensor's when computed element by element.
    pub ltype: LType,
    typed: Typed,
    /// When computed element by element: each element's type and the tensors' shape.
    elements: Option<(LType, [usize; 3])>,
}

/// The check-time view of tensor columns read element by element: each is its element type.
struct ElementTypes<'s> {
    inner: &'s mut dyn Columns,
    /// Each tensor read: its name and shape.
    tensors: Vec<(String, [usize; 3])>,
    mismatch: Option<(Span, String)>,
}

impl Columns for ElementTypes<'_> {
    fn column_type(&mut self, name: &str, span: Span) -> Option<LType> {
        let ltype = self.inner.column_type(name, span)?;
        let LType::Tensor(elem, dims) = &ltype else {
            return Some(ltype);
        };
        if !self.tensors.iter().any(|(n, _)| n == name) {
            if let Some((first, shape)) = self.tensors.first()
                && shape != dims
            {
                self.mismatch = Some((
                    span,
                    format!(
                        "`{name}` is `{ltype}` but `{first}` has another shape: elementwise arithmetic takes tensors of one shape"
                    ),
                ));
            }
            self.tensors.push((name.to_owned(), *dims));
        }
        Some((**elem).clone())
    }
    fn names(&self) -> Vec<String> {
        self.inner.names()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Check the expression of a new column: as [`check`], except that an expression reading
/// tensor columns is computed element by element (scalar columns apply to every element) and
/// gives a tensor of the same shape — `image as f32 / 255.0` over a `Tensor<u8, 8, 8>` is a
/// `Tensor<f32, 8, 8>`. `element` is the declared element type, if any.
pub fn check_column(
    cx: &Ctxt,
    expr: &Expr,
    scope: &mut dyn Columns,
    element: Option<&LType>,
) -> Option<TypedColumn> {
    let mut elements = ElementTypes {
        inner: scope,
        tensors: Vec::new(),
        mismatch: None,
    };
    let typed = check(cx, expr, &mut elements)?;
    if let Some((span, message)) = elements.mismatch {
        cx.error_at(span, message);
        return None;
    }
    let Some((_, dims)) = elements.tensors.first() else {
        return Some(TypedColumn {
            ltype: typed.ltype.clone(),
            typed,
            elements: None,
        });
    };
    let result = match (&typed.ltype, element) {
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
    result.rust_type()?;
    Some(TypedColumn {
        ltype: LType::Tensor(Box::new(result.clone()), *dims),
        typed,
        elements: Some((result, *dims)),
    })
}

/// Type-check `expr`; errors go to `cx` and yield `None`.
pub fn check(cx: &Ctxt, expr: &Expr, scope: &mut dyn Columns) -> Option<Typed> {
    match expr {
        Expr::Path(path) if path.qself.is_none() && path.path.get_ident().is_some() => {
            let ident = path.path.get_ident().expect("checked");
            let name = ident.to_string();
            match scope.column_type(&name, ident.span()) {
                Some(ltype) => Some(Typed::new(
                    ltype,
                    Node::Column {
                        name,
                        span: ident.span(),
                    },
                )),
                None => {
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
                }
            }
        }
        Expr::Lit(lit) => literal(cx, &lit.lit),
        Expr::Paren(inner) => {
            let v = check(cx, &inner.expr, scope)?;
            Some(Typed::new(v.ltype.clone(), Node::Paren(v.boxed())))
        }
        Expr::Group(inner) => check(cx, &inner.expr, scope),
        Expr::Block(block) => Some(Typed::new(
            LType::Opaque("{..}".into()),
            Node::Capture(block.clone()),
        )),
        Expr::Unary(unary) => {
            let v = check(cx, &unary.expr, scope)?;
            let op = unary.op;
            match op {
                UnOp::Not(_) if matches!(v.ltype, LType::Bool | LType::Opaque(_)) => {
                    Some(Typed::new(
                        v.ltype.clone(),
                        Node::Not {
                            op,
                            inner: v.boxed(),
                        },
                    ))
                }
                UnOp::Neg(_) if v.ltype.is_numeric() || matches!(v.ltype, LType::Opaque(_)) => {
                    Some(Typed::new(
                        v.ltype.clone(),
                        Node::Neg {
                            op,
                            inner: v.boxed(),
                        },
                    ))
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
            let v = check(cx, &cast.expr, scope)?;
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
            Some(Typed::new(
                target,
                Node::Cast {
                    inner: v.boxed(),
                    ty: (*cast.ty).clone(),
                    span: cast.span(),
                },
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
            let args: Vec<Typed> = call
                .args
                .iter()
                .map(|a| check(cx, a, scope))
                .collect::<Option<_>>()?;
            let text = func.to_token_stream().to_string().replace(' ', "");
            Some(Typed::new(
                LType::Opaque(format!("{text}(..)")),
                Node::Call {
                    func: func.clone(),
                    args,
                    span: call.span(),
                },
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

fn literal(cx: &Ctxt, lit: &Lit) -> Option<Typed> {
    let tokens = lit.to_token_stream();
    let typed = |ltype: LType, held: Held, literal: Option<(String, Span)>| {
        Typed::new(
            ltype,
            Node::Literal {
                held,
                tokens: tokens.clone(),
                literal,
            },
        )
    };
    Some(match lit {
        Lit::Int(int) => match int.suffix() {
            "" => typed(
                LType::IntLiteral,
                Held::Owned,
                Some((int.base10_digits().to_owned(), int.span())),
            ),
            suffix => typed(LType::of(&syn::parse_str(suffix).ok()?), Held::Owned, None),
        },
        Lit::Float(float) => match float.suffix() {
            "" => typed(
                LType::FloatLiteral,
                Held::Owned,
                Some((float.base10_digits().to_owned(), float.span())),
            ),
            suffix => typed(LType::of(&syn::parse_str(suffix).ok()?), Held::Owned, None),
        },
        Lit::Str(_) => typed(LType::Str, Held::Ref, None),
        Lit::Bool(_) => typed(LType::Bool, Held::Owned, None),
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

fn binary_op(cx: &Ctxt, binary: &syn::ExprBinary, scope: &mut dyn Columns) -> Option<Typed> {
    let left = check(cx, &binary.left, scope);
    let right = check(cx, &binary.right, scope);
    let (left, right) = (left?, right?);
    let op = binary.op;
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
        return Some(Typed::new(
            LType::Bool,
            Node::Logical {
                op,
                span,
                left: left.boxed(),
                right: right.boxed(),
            },
        ));
    }
    // `==` and `!=` compare a nullable value with a plain one: a null equals no value.
    let equality = matches!(op, BinOp::Eq(_) | BinOp::Ne(_));
    let (mut wrap_left, mut wrap_right) = (None, None);
    let (mut left_type, mut right_type) = (left.ltype.clone(), right.ltype.clone());
    if equality {
        match (&left.ltype, &right.ltype) {
            (LType::Nullable(_), LType::Nullable(_)) => {}
            (LType::Nullable(inner), _) => {
                wrap_right = Some((**inner).clone());
                right_type = LType::Nullable(inner.clone());
            }
            (_, LType::Nullable(inner)) => {
                wrap_left = Some((**inner).clone());
                left_type = LType::Nullable(inner.clone());
            }
            _ => {}
        }
    }
    if !equality
        && (null_hint(cx, &binary.left, &left_type) | null_hint(cx, &binary.right, &right_type))
    {
        return None;
    }
    let Some(common) = unify(&left_type, &right_type) else {
        let hint = match (&left_type, &right_type) {
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
            format!("cannot apply `{op_text}` to `{left_type}` and `{right_type}`{hint}"),
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
    let ltype = match &common {
        _ if comparison => LType::Bool,
        LType::IntLiteral => LType::Int("i64"),
        LType::FloatLiteral => LType::Float("f64"),
        other => other.clone(),
    };
    Some(Typed::new(
        ltype,
        Node::Binary {
            op,
            span,
            left: left.boxed(),
            right: right.boxed(),
            wrap_left,
            wrap_right,
            common,
            comparison,
        },
    ))
}

fn if_else(cx: &Ctxt, expr_if: &syn::ExprIf, scope: &mut dyn Columns) -> Option<Typed> {
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
    let cond = check(cx, &expr_if.cond, scope)?;
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
    let then_v = check(cx, &then_expr, scope)?;
    let else_v = check(cx, &else_expr, scope)?;
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
    Some(Typed::new(
        common.clone(),
        Node::If {
            cond: cond.boxed(),
            then: then_v.boxed(),
            otherwise: else_v.boxed(),
            common,
            span: expr_if.span(),
        },
    ))
}

fn method(cx: &Ctxt, call: &syn::ExprMethodCall, scope: &mut dyn Columns) -> Option<Typed> {
    let receiver = check(cx, &call.receiver, scope)?;
    let name = call.method.to_string();
    let args: Vec<Typed> = call
        .args
        .iter()
        .map(|a| check(cx, a, scope))
        .collect::<Option<_>>()?;
    let arity = |n: usize| {
        if args.len() != n {
            cx.error_spanned_by(call, format!("`{name}` takes {n} argument(s)"));
            return false;
        }
        true
    };
    let t = receiver.ltype.clone();
    let unsupported = |why: &str| {
        cx.error_spanned_by(
            &call.method,
            format!("`{name}` does not apply to `{t}`{why}"),
        );
        None
    };
    let (ltype, method) = match name.as_str() {
        "is_null" | "is_not_null" => {
            if !arity(0) {
                return None;
            }
            let is_null = name == "is_null";
            let test = syn::Ident::new(
                if is_null { "is_none" } else { "is_some" },
                Span::call_site(),
            );
            let answer = match t {
                LType::Nullable(_) | LType::Opaque(_) => None,
                _ => Some(!is_null),
            };
            (LType::Bool, Method::NullTest(test, answer))
        }
        "unwrap_or" => {
            if !arity(1) {
                return None;
            }
            let LType::Nullable(inner) = &t else {
                return unsupported(": it is not nullable");
            };
            let Some(common) = unify(inner, &args[0].ltype) else {
                cx.error_spanned_by(
                    &call.args[0],
                    format!("the default must be a `{inner}`, found `{}`", args[0].ltype),
                );
                return None;
            };
            let held = if inner.is_copy() {
                Held::Owned
            } else {
                Held::Ref
            };
            (common.clone(), Method::UnwrapOr { common, held })
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
            (t.clone(), Method::Unary(m))
        }
        "min" | "max" | "pow" | "powi" | "powf" => {
            if !arity(1) {
                return None;
            }
            if !t.is_numeric() && !matches!(t, LType::Opaque(_)) {
                return unsupported(": it needs a number");
            }
            let arg = match name.as_str() {
                "powi" => LType::Int("i32"),
                "pow" => LType::Int("u32"),
                _ => t.clone(),
            };
            let m = match (&t, name.as_str()) {
                (LType::Int(_), "pow") => syn::Ident::new("wrapping_pow", call.method.span()),
                _ => call.method.clone(),
            };
            (t.clone(), Method::WithArg(m, arg))
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
            (LType::Bool, Method::StrTest(call.method.clone()))
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
            (LType::Int("u64"), Method::Len)
        }
        _ => {
            cx.error_spanned_by(
                &call.method,
                format!("unknown method `{name}` in a column expression; supported: is_null, is_not_null, unwrap_or, abs, sqrt, floor, ceil, round, ln, exp, min, max, pow, powi, powf, starts_with, ends_with, contains, len"),
            );
            return None;
        }
    };
    Some(Typed::new(
        ltype,
        Node::Method {
            receiver: receiver.boxed(),
            args,
            method,
            span: call.method.span(),
        },
    ))
}

/// The code of a checked expression in a loop: `scope` gives the value of each column it
/// reads and holds its `{ rust }` captures.
pub fn render(typed: &Typed, scope: &mut dyn Scope) -> Value {
    match &typed.node {
        Node::Column { name, span } => scope
            .column(name, *span)
            .expect("a checked expression reads columns its stage has"),
        Node::Literal {
            held,
            tokens,
            literal,
        } => Value {
            literal: literal.clone(),
            ..Value::new(typed.ltype.clone(), *held, tokens.clone())
        },
        Node::Paren(inner) => {
            let v = render(inner, scope);
            let tokens = &v.tokens;
            Value {
                tokens: quote!((#tokens)),
                ..v
            }
        }
        Node::Capture(block) => Value::new(typed.ltype.clone(), Held::Owned, scope.capture(block)),
        Node::Not { op, inner } => {
            let v = render(inner, scope);
            let inner = &v.tokens;
            Value::new(v.ltype.clone(), Held::Owned, quote!(#op #inner))
        }
        Node::Neg { op, inner } => {
            let v = render(inner, scope);
            let inner = &v.tokens;
            let tokens = match &v.ltype {
                // `-i64::MIN` wraps, as `+ - * /` do.
                LType::Int(name) => {
                    let ty = syn::Ident::new(name, Span::call_site());
                    quote!(#ty::wrapping_neg(#inner))
                }
                _ => quote!(#op #inner),
            };
            // An untyped literal is written again once its type is known: it keeps its sign
            // (`z.unwrap_or(-1.0)` gave 1.0 when it did not).
            let literal = v.literal.as_ref().map(|(digits, span)| {
                let negated = match digits.strip_prefix('-') {
                    Some(positive) => positive.to_owned(),
                    None => format!("-{digits}"),
                };
                (negated, *span)
            });
            Value {
                tokens,
                literal,
                ..v
            }
        }
        Node::Logical {
            op,
            span,
            left,
            right,
        } => {
            let (l, r) = (render(left, scope), render(right, scope));
            let (l, r) = (&l.tokens, &r.tokens);
            Value::new(LType::Bool, Held::Owned, quote_spanned!(*span=> #l #op #r))
        }
        Node::Binary {
            op,
            span,
            left,
            right,
            wrap_left,
            wrap_right,
            common,
            comparison,
        } => {
            let span = *span;
            let (mut left, mut right) = (render(left, scope), render(right, scope));
            if let Some(inner) = wrap_left {
                left = wrap_some(left, inner);
            }
            if let Some(inner) = wrap_right {
                right = wrap_some(right, inner);
            }
            let (l, r) = (left.as_type(common), right.as_type(common));
            if *comparison {
                // Strings compare as `&str` on both sides; owned values are borrowed for the
                // compare.
                let (l, r) = (comparable(&left, l), comparable(&right, r));
                return Value::new(LType::Bool, Held::Owned, quote_spanned!(span=> (#l #op #r)));
            }
            // Integers wrap (two's complement) in debug and release builds alike, as the GPU
            // kernels do: an expression must not give a result in one build and a panic in
            // the other.
            let wrapping = match (common, op) {
                (LType::Int(_) | LType::IntLiteral, BinOp::Add(_)) => Some("wrapping_add"),
                (LType::Int(_) | LType::IntLiteral, BinOp::Sub(_)) => Some("wrapping_sub"),
                (LType::Int(_) | LType::IntLiteral, BinOp::Mul(_)) => Some("wrapping_mul"),
                (LType::Int(_) | LType::IntLiteral, BinOp::Div(_)) => Some("wrapping_div"),
                (LType::Int(_) | LType::IntLiteral, BinOp::Rem(_)) => Some("wrapping_rem"),
                _ => None,
            };
            let tokens = match (wrapping, common) {
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
            Value::new(typed.ltype.clone(), Held::Owned, tokens)
        }
        Node::Cast { inner, ty, span } => {
            let v = render(inner, scope);
            let inner = v.as_type(&typed.ltype);
            Value::new(
                typed.ltype.clone(),
                Held::Owned,
                quote_spanned!(*span=> (#inner as #ty)),
            )
        }
        Node::Call { func, args, span } => {
            let args: Vec<TokenStream> = args.iter().map(|a| render(a, scope).tokens).collect();
            Value::new(
                typed.ltype.clone(),
                Held::Owned,
                quote_spanned!(*span=> #func(#(#args),*)),
            )
        }
        Node::If {
            cond,
            then,
            otherwise,
            common,
            span,
        } => {
            let cond = render(cond, scope);
            let then_v = render(then, scope);
            let else_v = render(otherwise, scope);
            let c = &cond.tokens;
            let (t, e) = (then_v.as_type(common), else_v.as_type(common));
            let held = if then_v.held == else_v.held {
                then_v.held
            } else {
                Held::Owned
            };
            Value::new(
                common.clone(),
                held,
                quote_spanned!(*span=> (if #c { #t } else { #e })),
            )
        }
        Node::Method {
            receiver,
            args,
            method,
            span,
        } => {
            let span = *span;
            let receiver = render(receiver, scope);
            let args: Vec<Value> = args.iter().map(|a| render(a, scope)).collect();
            let r = &receiver.tokens;
            let ltype = typed.ltype.clone();
            match method {
                Method::NullTest(test, None) => {
                    Value::new(ltype, Held::Owned, quote_spanned!(span=> #r.#test()))
                }
                Method::NullTest(_, Some(answer)) => {
                    Value::new(ltype, Held::Owned, quote!(#answer))
                }
                Method::UnwrapOr { common, held } => {
                    let d = args[0].as_type(common);
                    Value::new(ltype, *held, quote_spanned!(span=> #r.unwrap_or(#d)))
                }
                Method::Unary(m) => Value::new(ltype, Held::Owned, quote_spanned!(span=> #r.#m())),
                Method::WithArg(m, arg) => {
                    let arg = args[0].as_type(arg);
                    Value::new(ltype, Held::Owned, quote_spanned!(span=> #r.#m(#arg)))
                }
                Method::StrTest(m) => {
                    let a = &args[0].tokens;
                    Value::new(ltype, Held::Owned, quote_spanned!(span=> #r.#m(&*#a)))
                }
                Method::Len => {
                    Value::new(ltype, Held::Owned, quote_spanned!(span=> (#r.len() as u64)))
                }
            }
        }
    }
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

/// Reads tensor columns as one element each while rendering, remembering which it read.
struct Elements<'s> {
    inner: &'s mut dyn Scope,
    /// Each tensor read: its name, the tokens of its values, its element type.
    tensors: Vec<(String, TokenStream, LType)>,
}

fn element_ident(index: usize) -> proc_macro2::Ident {
    quote::format_ident!("__aq_e{}", index)
}

impl Scope for Elements<'_> {
    fn column(&mut self, name: &str, span: Span) -> Option<Value> {
        let value = self.inner.column(name, span)?;
        let LType::Tensor(elem, _) = &value.ltype else {
            return Some(value);
        };
        let index = match self.tensors.iter().position(|(n, ..)| n == name) {
            Some(index) => index,
            None => {
                self.tensors
                    .push((name.to_owned(), value.tokens.clone(), (**elem).clone()));
                self.tensors.len() - 1
            }
        };
        let ident = element_ident(index);
        Some(Value::new((**elem).clone(), Held::Owned, quote!(#ident)))
    }
    fn capture(&mut self, block: &syn::ExprBlock) -> TokenStream {
        self.inner.capture(block)
    }
}

/// The code of a checked column expression in a loop (see [`render`]).
pub fn render_column(column: &TypedColumn, scope: &mut dyn Scope) -> Value {
    let Some((result, dims)) = &column.elements else {
        return render(&column.typed, scope);
    };
    let mut elements = Elements {
        inner: scope,
        tensors: Vec::new(),
    };
    let value = render(&column.typed, &mut elements);
    let elem_ty = result.rust_type().expect("checked: a number type");
    let body = value.tokens_as(result);
    let slices = elements
        .tensors
        .iter()
        .enumerate()
        .map(|(i, (_, tokens, elem))| {
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
    Value::new(
        column.ltype.clone(),
        Held::Owned,
        quote! {{
            #(#slices)*
            let __aq_values: ::std::vec::Vec<#elem_ty> = (0..#len).map(|__aq_k| { #(#reads)* #body }).collect();
            ::aqueduct::__private::Tensor::<#elem_ty, #d0, #d1, #d2>::new(__aq_values)
                .expect("an elementwise result has its inputs' shape")
        }},
    )
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
