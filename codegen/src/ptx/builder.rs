//! Writing a kernel's body: each expression typed (`infer`) and emitted as PTX instructions
//! (`emit`), each column loaded once.

use std::collections::BTreeMap;

use syn::spanned::Spanned;
use syn::{BinOp, Expr, Lit, UnOp};

use super::types::{Reg, Ty, float_constant, literal_type, unify};
use super::{Lowered, Unsupported, unsupported};
use crate::schema::Schema;
use crate::types::LType;

/// A kernel being written: its body, the registers it uses, and the columns it loads.
pub(super) struct Builder<'a> {
    pub(super) input: &'a Schema,
    pub(super) body: String,
    pub(super) counts: BTreeMap<Reg, usize>,
    /// Columns loaded so far: name → register; in first-use order in `inputs`.
    pub(super) loaded: BTreeMap<String, String>,
    pub(super) inputs: Vec<String>,
    /// The register holding this thread's row (or element) index.
    pub(super) index: String,
}

impl Builder<'_> {
    pub(super) fn fresh(&mut self, reg: Reg) -> String {
        let n = self.counts.entry(reg).or_insert(0);
        *n += 1;
        format!("{}{}", reg.prefix(), *n - 1)
    }

    pub(super) fn line(&mut self, text: String) {
        self.body.push('\t');
        self.body.push_str(&text);
        self.body.push_str(";\n");
    }

    pub(super) fn column_type(&self, name: &str, at: &dyn Spanned) -> Lowered<Ty> {
        let Some(column) = self.input.column(name) else {
            return unsupported(at, format!("no column `{name}`"));
        };
        let ltype = column
            .ltype
            .tensor()
            .map_or(&column.ltype, |(elem, _)| elem);
        match Ty::of(ltype) {
            Some(t @ (Ty::Int(_) | Ty::Float(_))) => Ok(t),
            _ => unsupported(
                at,
                format!(
                    "column `{name}` is `{}`: a GPU stage reads numeric columns (integers, f32, f64, tensors of them) that are not nullable",
                    column.ltype
                ),
            ),
        }
    }

    /// The type an expression has, before literals are given their context's.
    pub(super) fn infer(&self, expr: &Expr) -> Lowered<Ty> {
        match expr {
            Expr::Path(path) => match path.path.get_ident() {
                Some(ident) => self.column_type(&ident.to_string(), ident),
                None => unsupported(path, "a GPU stage reads columns by name"),
            },
            Expr::Lit(lit) => literal_type(&lit.lit),
            Expr::Paren(inner) => self.infer(&inner.expr),
            Expr::Group(inner) => self.infer(&inner.expr),
            Expr::Unary(unary) => {
                let t = self.infer(&unary.expr)?;
                match (&unary.op, t) {
                    (UnOp::Not(_), Ty::Bool) => Ok(Ty::Bool),
                    (UnOp::Neg(_), t) if t != Ty::Bool => Ok(t),
                    _ => unsupported(unary, "not lowered to PTX"),
                }
            }
            Expr::Binary(binary) => {
                let (l, r) = (self.infer(&binary.left)?, self.infer(&binary.right)?);
                let common = unify(l, r).ok_or_else(|| {
                    Unsupported(binary.op.span(), "operands of different types".into())
                })?;
                match binary.op {
                    BinOp::And(_) | BinOp::Or(_) => Ok(Ty::Bool),
                    BinOp::Eq(_)
                    | BinOp::Ne(_)
                    | BinOp::Lt(_)
                    | BinOp::Le(_)
                    | BinOp::Gt(_)
                    | BinOp::Ge(_) => Ok(Ty::Bool),
                    BinOp::Add(_) | BinOp::Sub(_) | BinOp::Mul(_) => Ok(common),
                    BinOp::Div(_) if matches!(common, Ty::Float(_) | Ty::FloatLiteral) => {
                        Ok(common)
                    }
                    BinOp::Div(_) | BinOp::Rem(_) => unsupported(
                        &binary.op,
                        "integer `/` and `%` (and float `%`) are not lowered to PTX: Rust panics on a zero divisor, a kernel cannot; divide floats, or run this stage on the CPU",
                    ),
                    _ => unsupported(&binary.op, "this operator is not lowered to PTX"),
                }
            }
            Expr::Cast(cast) => {
                self.infer(&cast.expr)?;
                match LType::of(&cast.ty) {
                    LType::Int(name) => Ok(Ty::Int(name)),
                    LType::Float(name) => Ok(Ty::Float(name)),
                    _ => unsupported(&cast.ty, "a GPU stage casts to numbers"),
                }
            }
            Expr::MethodCall(call) => {
                let method = call.method.to_string();
                let receiver = self.infer(&call.receiver)?;
                match (method.as_str(), call.args.len()) {
                    ("min" | "max", 1) => {
                        let other = self.infer(&call.args[0])?;
                        unify(receiver, other).ok_or_else(|| {
                            Unsupported(call.method.span(), "operands of different types".into())
                        })
                    }
                    ("abs", 0) if receiver != Ty::Bool => Ok(receiver),
                    ("sqrt" | "floor" | "ceil", 0)
                        if matches!(receiver, Ty::Float(_) | Ty::FloatLiteral) =>
                    {
                        Ok(receiver)
                    }
                    _ => unsupported(
                        &call.method,
                        format!(
                            "`.{method}()` is not lowered to PTX: a GPU stage has min, max, abs, and for floats sqrt, floor, ceil (PTX has no exact transcendental functions)"
                        ),
                    ),
                }
            }
            Expr::If(expr_if) => {
                if self.infer(&expr_if.cond)? != Ty::Bool {
                    return unsupported(&expr_if.cond, "a condition is a `bool`");
                }
                let then = single(&expr_if.then_branch.stmts, expr_if)?;
                let Some((_, otherwise)) = &expr_if.else_branch else {
                    return unsupported(expr_if, "an `if` needs an `else`");
                };
                let (a, b) = (self.infer(then)?, self.infer(branch(otherwise)?)?);
                unify(a, b).ok_or_else(|| {
                    Unsupported(expr_if.span(), "branches of different types".into())
                })
            }
            Expr::Call(call) => unsupported(
                call,
                "a function call cannot run in a GPU kernel: use the stage on the CPU, or a `map_batches` stage with your own kernel",
            ),
            Expr::Block(block) => unsupported(block, "a `{ rust }` value cannot be lowered to PTX"),
            other => unsupported(other, "not lowered to PTX"),
        }
    }

    /// Emit `expr` as a value of type `want`; returns its register.
    pub(super) fn emit(&mut self, expr: &Expr, want: Ty) -> Lowered<String> {
        let want = want.concrete();
        match expr {
            Expr::Path(path) => {
                let name = path.path.get_ident().expect("inferred").to_string();
                Ok(self.load(&name))
            }
            Expr::Lit(lit) => self.constant(&lit.lit, want, lit),
            Expr::Paren(inner) => self.emit(&inner.expr, want),
            Expr::Group(inner) => self.emit(&inner.expr, want),
            Expr::Unary(unary) => {
                let v = self.emit(&unary.expr, want)?;
                let out = self.fresh(want.reg());
                match unary.op {
                    UnOp::Not(_) => self.line(format!("not.pred {out}, {v}")),
                    _ => {
                        let op = want.op().replace('u', "s");
                        self.line(format!("neg.{op} {out}, {v}"));
                        return Ok(self.wrap(out, want));
                    }
                }
                Ok(out)
            }
            Expr::Binary(binary) => self.binary(binary, want),
            Expr::Cast(cast) => {
                let from = match self.infer(&cast.expr)? {
                    Ty::IntLiteral | Ty::FloatLiteral => want,
                    t => t,
                };
                let v = self.emit(&cast.expr, from)?;
                Ok(self.convert(v, from.concrete(), want))
            }
            Expr::MethodCall(call) => {
                let method = call.method.to_string();
                let v = self.emit(&call.receiver, want)?;
                let out = self.fresh(want.reg());
                let op = want.op();
                match method.as_str() {
                    "min" | "max" => {
                        let other = self.emit(&call.args[0], want)?;
                        self.line(format!("{method}.{op} {out}, {v}, {other}"));
                    }
                    "abs" => {
                        let op = op.replace('u', "s");
                        if want.signed() || matches!(want, Ty::Float(_)) {
                            self.line(format!("abs.{op} {out}, {v}"));
                        } else {
                            self.line(format!("mov.b{} {out}, {v}", want.reg_bits()));
                        }
                    }
                    "sqrt" => self.line(format!("sqrt.rn.{op} {out}, {v}")),
                    "floor" => self.line(format!("cvt.rmi.{op}.{op} {out}, {v}")),
                    "ceil" => self.line(format!("cvt.rpi.{op}.{op} {out}, {v}")),
                    _ => unreachable!("inferred"),
                }
                Ok(out)
            }
            Expr::If(expr_if) => {
                let cond = self.emit(&expr_if.cond, Ty::Bool)?;
                let then = self.emit(single(&expr_if.then_branch.stmts, expr_if)?, want)?;
                let (_, otherwise) = expr_if.else_branch.as_ref().expect("inferred");
                let otherwise = self.emit(branch(otherwise)?, want)?;
                let out = self.fresh(want.reg());
                if want == Ty::Bool {
                    let (a, b) = (self.fresh(Reg::Pred), self.fresh(Reg::Pred));
                    self.line(format!("and.pred {a}, {cond}, {then}"));
                    self.line(format!("not.pred {b}, {cond}"));
                    self.line(format!("and.pred {b}, {b}, {otherwise}"));
                    self.line(format!("or.pred {out}, {a}, {b}"));
                } else {
                    let op = want.op();
                    let kind = if op.starts_with('f') {
                        op.to_owned()
                    } else {
                        format!("b{}", want.reg_bits())
                    };
                    self.line(format!("selp.{kind} {out}, {then}, {otherwise}, {cond}"));
                }
                Ok(out)
            }
            other => unsupported(other, "not lowered to PTX"),
        }
    }

    pub(super) fn binary(&mut self, binary: &syn::ExprBinary, want: Ty) -> Lowered<String> {
        let (l, r) = (self.infer(&binary.left)?, self.infer(&binary.right)?);
        let common = unify(l, r).expect("inferred");
        let logical = matches!(binary.op, BinOp::And(_) | BinOp::Or(_));
        let comparison = !logical && want == Ty::Bool;
        // Operands: of the result's type for arithmetic; of their own (or Rust's literal
        // defaults) for comparisons.
        let operand = if logical {
            Ty::Bool
        } else if comparison {
            common.concrete()
        } else {
            want
        };
        let a = self.emit(&binary.left, operand)?;
        let b = self.emit(&binary.right, operand)?;
        let out = self.fresh(want.reg());
        let op = operand.op();
        let float = op.starts_with('f');
        match binary.op {
            BinOp::And(_) => self.line(format!("and.pred {out}, {a}, {b}")),
            BinOp::Or(_) => self.line(format!("or.pred {out}, {a}, {b}")),
            BinOp::Add(_) | BinOp::Sub(_) | BinOp::Mul(_) | BinOp::Div(_) => {
                let name = match binary.op {
                    BinOp::Add(_) => "add",
                    BinOp::Sub(_) => "sub",
                    BinOp::Mul(_) => "mul",
                    _ => "div",
                };
                let line = if float {
                    format!("{name}.rn.{op} {out}, {a}, {b}")
                } else if name == "mul" {
                    format!("mul.lo.{op} {out}, {a}, {b}")
                } else {
                    format!("{name}.{op} {out}, {a}, {b}")
                };
                self.line(line);
                return Ok(self.wrap(out, want));
            }
            _ => {
                let cmp = match binary.op {
                    BinOp::Eq(_) => "eq",
                    BinOp::Ne(_) if float => "neu",
                    BinOp::Ne(_) => "ne",
                    BinOp::Lt(_) => "lt",
                    BinOp::Le(_) => "le",
                    BinOp::Gt(_) => "gt",
                    _ => "ge",
                };
                self.line(format!("setp.{cmp}.{op} {out}, {a}, {b}"));
            }
        }
        Ok(out)
    }

    /// Narrow integers computed in 32-bit registers wrap to their width, as Rust's do.
    pub(super) fn wrap(&mut self, value: String, ty: Ty) -> String {
        let bits = ty.bits();
        if !matches!(ty, Ty::Int(_)) || bits >= 32 {
            return value;
        }
        let out = self.fresh(Reg::B32);
        let (wide, narrow) = if ty.signed() {
            ("s32", format!("s{bits}"))
        } else {
            ("u32", format!("u{bits}"))
        };
        self.line(format!("cvt.{wide}.{narrow} {out}, {value}"));
        out
    }

    /// Rust's `as` from `from` to `to`.
    pub(super) fn convert(&mut self, value: String, from: Ty, to: Ty) -> String {
        if from == to {
            return value;
        }
        let (fo, to_op) = (from.op(), to.op());
        match (from, to) {
            (Ty::Bool, _) => {
                let out = self.fresh(to.reg());
                let (one, zero) = match to.reg() {
                    Reg::F32 => ("0f3F800000".to_owned(), "0f00000000".to_owned()),
                    Reg::F64 => (
                        "0d3FF0000000000000".to_owned(),
                        "0d0000000000000000".to_owned(),
                    ),
                    _ => ("1".to_owned(), "0".to_owned()),
                };
                let kind = if to_op.starts_with('f') {
                    to_op.to_owned()
                } else {
                    format!("b{}", to.reg_bits())
                };
                self.line(format!("selp.{kind} {out}, {one}, {zero}, {value}"));
                out
            }
            (Ty::Float(_), Ty::Float(_)) => {
                let out = self.fresh(to.reg());
                let rounding = if to.bits() < from.bits() { ".rn" } else { "" };
                self.line(format!("cvt{rounding}.{to_op}.{fo} {out}, {value}"));
                out
            }
            (Ty::Int(_), Ty::Float(_)) => {
                let out = self.fresh(to.reg());
                self.line(format!("cvt.rn.{to_op}.{fo} {out}, {value}"));
                out
            }
            (Ty::Float(_), Ty::Int(_)) => {
                // Saturating, NaN to 0. cvt saturates to 32 or 64 bits; narrower targets are
                // clamped first (their bounds are exact in any float type).
                let mut source = value.clone();
                if to.bits() < 32 {
                    let bits = to.bits();
                    let (lo, hi): (f64, f64) = if to.signed() {
                        (
                            -(2f64.powi(bits as i32 - 1)),
                            2f64.powi(bits as i32 - 1) - 1.0,
                        )
                    } else {
                        (0.0, 2f64.powi(bits as i32) - 1.0)
                    };
                    let (lo, hi) = (float_constant(lo, from), float_constant(hi, from));
                    let clamped = self.fresh(from.reg());
                    self.line(format!("max.{fo} {clamped}, {source}, {lo}"));
                    self.line(format!("min.{fo} {clamped}, {clamped}, {hi}"));
                    source = clamped;
                }
                let wide = if to.bits() == 64 {
                    to_op.to_owned()
                } else if to.signed() {
                    "s32".into()
                } else {
                    "u32".into()
                };
                let converted = self.fresh(to.reg());
                self.line(format!("cvt.rzi.{wide}.{fo} {converted}, {source}"));
                let nan = self.fresh(Reg::Pred);
                self.line(format!("testp.notanumber.{fo} {nan}, {value}"));
                let out = self.fresh(to.reg());
                self.line(format!(
                    "selp.b{} {out}, 0, {converted}, {nan}",
                    to.reg_bits()
                ));
                out
            }
            (Ty::Int(_), Ty::Int(_)) => {
                let out = self.fresh(to.reg());
                match (from.reg(), to.reg()) {
                    (Reg::B32, Reg::B64) => {
                        let ext = if from.signed() { "s64.s32" } else { "u64.u32" };
                        self.line(format!("cvt.{ext} {out}, {value}"));
                    }
                    (Reg::B64, Reg::B32) => self.line(format!("cvt.u32.u64 {out}, {value}")),
                    (Reg::B64, _) => self.line(format!("mov.b64 {out}, {value}")),
                    _ => self.line(format!("mov.b32 {out}, {value}")),
                }
                self.wrap(out, to)
            }
            _ => unreachable!("casts are to numbers"),
        }
    }

    pub(super) fn constant(&mut self, lit: &Lit, want: Ty, at: &dyn Spanned) -> Lowered<String> {
        let text = match lit {
            Lit::Int(int) => int.base10_digits().to_owned(),
            Lit::Float(float) => float.base10_digits().to_owned(),
            Lit::Bool(b) => {
                let out = self.fresh(Reg::Pred);
                self.line(format!("setp.ne.u32 {out}, {}, 0", u32::from(b.value)));
                return Ok(out);
            }
            _ => return unsupported(at, "a GPU stage takes number and bool literals"),
        };
        let out = self.fresh(want.reg());
        let value = match want {
            Ty::Float(_) => {
                let v: f64 = text
                    .parse()
                    .map_err(|_| Unsupported(at.span(), "not a number".into()))?;
                float_constant(v, want)
            }
            _ => text,
        };
        let kind = match want.reg() {
            Reg::F32 => "f32".to_owned(),
            Reg::F64 => "f64".to_owned(),
            _ => want.op().to_owned(),
        };
        self.line(format!("mov.{kind} {out}, {value}"));
        Ok(out)
    }

    /// The register holding column `name` of this thread's row (loaded on first use).
    pub(super) fn load(&mut self, name: &str) -> String {
        if let Some(reg) = self.loaded.get(name) {
            return reg.clone();
        }
        let ltype = &self.input.column(name).expect("inferred").ltype;
        let ty = Ty::of(ltype.tensor().map_or(ltype, |(elem, _)| elem)).expect("inferred");
        let param = self.inputs.len();
        self.inputs.push(name.to_owned());
        let base = self.fresh(Reg::B64);
        self.line(format!("ld.param.u64 {base}, [in{param}]"));
        self.line(format!("cvta.to.global.u64 {base}, {base}"));
        let address = self.fresh(Reg::B64);
        let index = self.index.clone();
        self.line(format!(
            "mad.lo.u64 {address}, {index}, {}, {base}",
            ty.bits() / 8
        ));
        let out = self.fresh(ty.reg());
        self.line(format!("ld.global.{} {out}, [{address}]", ty.memory()));
        self.loaded.insert(name.to_owned(), out.clone());
        out
    }
}

pub(super) fn single<'e>(stmts: &'e [syn::Stmt], at: &dyn Spanned) -> Lowered<&'e Expr> {
    match stmts {
        [syn::Stmt::Expr(expr, None)] => Ok(expr),
        _ => unsupported(at, "a branch of a GPU stage's `if` is one expression"),
    }
}

pub(super) fn branch(otherwise: &Expr) -> Lowered<&Expr> {
    match otherwise {
        Expr::Block(block) => single(&block.block.stmts, block),
        Expr::If(_) => Ok(otherwise),
        other => unsupported(other, "not lowered to PTX"),
    }
}
