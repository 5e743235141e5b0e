//! Lowering of numeric column expressions to one fused PTX kernel (a `with_columns(..,
//! num_gpus = n)` stage): one thread per row loads the columns the expressions read, computes
//! every new column, and stores them.
//!
//! The kernel gives the same bits as the CPU code of the same stage (but for NaN payloads,
//! and for which zero `min`/`max` return of +0 and −0: Rust promises neither): arithmetic is
//! IEEE with round-to-nearest and no fused multiply-add (`add.rn`, `mul.rn`, `div.rn`,
//! `sqrt.rn`: the explicit rounding keeps ptxas from contracting them), `min`/`max` ignore a
//! NaN as Rust's do, casts saturate and send NaN to 0 as Rust's `as` does, and integer
//! arithmetic wraps (as release builds do; a debug build's CPU code panics on overflow
//! instead). What PTX cannot do exactly is not lowered, with an error at the offending token:
//! transcendental functions (PTX has only approximations), integer `/` and `%` (Rust panics
//! on a zero divisor; a kernel cannot), float `%`, strings, nullable columns, function calls
//! and `{ rust }` blocks.
//!
//! `types.rs` says how values live in registers; `builder.rs` writes the instructions; this
//! file checks a stage's shape (scalars, or tensors of one shape) and assembles the module.

mod builder;
mod types;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use syn::Expr;
use syn::spanned::Spanned;

use crate::ctxt::Ctxt;
use crate::schema::Schema;
use crate::types::LType;

use builder::Builder;
use types::{Reg, Ty};

/// A lowered stage: the PTX module and the columns its kernel reads and writes, in the order
/// of its parameters (after the row count).
#[derive(Debug, Clone, PartialEq)]
pub struct Kernel {
    pub name: String,
    pub ptx: String,
    /// The columns read, with the bytes of one value.
    pub inputs: Vec<(String, usize)>,
    pub outputs: Vec<String>,
    /// Elements per row: 1, or a tensor stage's element count (a thread per element).
    pub elements: usize,
}

/// Why an expression is not lowered, and where.
struct Unsupported(proc_macro2::Span, String);

type Lowered<T> = Result<T, Unsupported>;

fn unsupported<T>(at: &dyn Spanned, why: impl Into<String>) -> Lowered<T> {
    Err(Unsupported(at.span(), why.into()))
}

/// Lower `columns` (name, output type, expression), all computed from `input`'s columns, to
/// one kernel named `name`. Errors go to `cx` at the offending tokens.
pub fn lower(
    cx: &Ctxt,
    name: &str,
    input: &Schema,
    columns: &[(String, LType, &Expr)],
) -> Option<Kernel> {
    let mut k = Builder {
        input,
        body: String::new(),
        counts: BTreeMap::new(),
        loaded: BTreeMap::new(),
        inputs: Vec::new(),
        index: String::new(),
    };
    // The row index: blockIdx.x * blockDim.x + threadIdx.x, as a 64-bit offset.
    let (block, width, thread, row, rows) = (
        k.fresh(Reg::B32),
        k.fresh(Reg::B32),
        k.fresh(Reg::B32),
        k.fresh(Reg::B32),
        k.fresh(Reg::B32),
    );
    k.line(format!("mov.u32 {block}, %ctaid.x"));
    k.line(format!("mov.u32 {width}, %ntid.x"));
    k.line(format!("mov.u32 {thread}, %tid.x"));
    k.line(format!("mad.lo.u32 {row}, {block}, {width}, {thread}"));
    k.line(format!("ld.param.u32 {rows}, [rows]"));
    let past = k.fresh(Reg::Pred);
    k.line(format!("setp.ge.u32 {past}, {row}, {rows}"));
    k.body.push_str(&format!("\t@{past} bra DONE;\n"));
    let index = k.fresh(Reg::B64);
    k.line(format!("cvt.u64.u32 {index}, {row}"));
    k.index = index.clone();

    // A stage over tensors runs a thread per element: every column it reads and writes is a
    // tensor of one shape.
    let shape = columns.iter().find_map(|(_, ltype, _)| match ltype {
        LType::Tensor(_, dims) => Some(*dims),
        _ => None,
    });
    if let Some(dims) = shape {
        let mut ok = true;
        for (column, ltype, expr) in columns {
            let mut read = Vec::new();
            crate::expr::columns_read(expr, &mut read);
            let other = read.iter().find(|name| {
                !matches!(input.column(name).map(|c| &c.ltype), Some(LType::Tensor(_, d)) if *d == dims)
            });
            let wrong = match ltype {
                LType::Tensor(_, d) if *d == dims => other
                    .map(|name| format!("it reads `{name}`, which is not a tensor of that shape")),
                _ => Some(format!("column `{column}` is `{ltype}`")),
            };
            if let Some(why) = wrong {
                cx.error_spanned_by(*expr, format!("cannot run on the GPU: a GPU stage over tensors computes every column element by element from tensors of one shape, but {why}"));
                ok = false;
            }
        }
        if !ok {
            return None;
        }
    }

    let mut ok = true;
    let mut results = Vec::new();
    for (column, ltype, expr) in columns {
        let ltype = ltype.tensor().map_or(ltype, |(elem, _)| elem);
        // An untyped literal column is what its Rust code makes it: i64 or f64.
        let want = Ty::of(ltype).map(|t| match t {
            Ty::IntLiteral => Ty::Int("i64"),
            Ty::FloatLiteral => Ty::Float("f64"),
            t => t,
        });
        let Some(want) = want else {
            cx.error_spanned_by(
                *expr,
                format!(
                    "column `{column}` would be `{ltype}`: a GPU stage computes numbers and bools"
                ),
            );
            ok = false;
            continue;
        };
        match k.infer(expr).and_then(|_| k.emit(expr, want)) {
            Ok(reg) => results.push((want, reg)),
            Err(Unsupported(span, why)) => {
                cx.error_at(span, format!("cannot run on the GPU: {why}"));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let mut outputs = Vec::new();
    for (i, (want, reg)) in results.into_iter().enumerate() {
        let value = if want == Ty::Bool {
            let byte = k.fresh(Reg::B32);
            k.line(format!("selp.u32 {byte}, 1, 0, {reg}"));
            byte
        } else {
            reg
        };
        let base = k.fresh(Reg::B64);
        k.line(format!("ld.param.u64 {base}, [out{i}]"));
        k.line(format!("cvta.to.global.u64 {base}, {base}"));
        let address = k.fresh(Reg::B64);
        k.line(format!(
            "mad.lo.u64 {address}, {index}, {}, {base}",
            want.bits().div_ceil(8)
        ));
        k.line(format!("st.global.{} [{address}], {value}", want.memory()));
        outputs.push(columns[i].0.clone());
    }

    let mut ptx = String::new();
    let _ = writeln!(ptx, "// Generated by aqueduct's codegen: {name}");
    ptx.push_str(".version 7.0\n.target sm_70\n.address_size 64\n\n");
    let mut params = vec!["\t.param .u32 rows".to_owned()];
    params.extend((0..k.inputs.len()).map(|i| format!("\t.param .u64 in{i}")));
    params.extend((0..outputs.len()).map(|i| format!("\t.param .u64 out{i}")));
    let _ = writeln!(
        ptx,
        ".visible .entry {name}(\n{}\n)\n{{",
        params.join(",\n")
    );
    for (reg, count) in &k.counts {
        let _ = writeln!(
            ptx,
            "\t.reg {} {}<{count}>;",
            reg.declaration(),
            reg.prefix()
        );
    }
    ptx.push('\n');
    ptx.push_str(&k.body);
    ptx.push_str("DONE:\n\tret;\n}\n");
    let inputs = k
        .inputs
        .iter()
        .map(|name| {
            let ltype = &input.column(name).expect("loaded").ltype;
            let ty = Ty::of(ltype.tensor().map_or(ltype, |(elem, _)| elem)).expect("loaded");
            (name.clone(), (ty.bits() / 8) as usize)
        })
        .collect();
    Some(Kernel {
        name: name.to_owned(),
        ptx,
        inputs,
        outputs,
        elements: shape.map_or(1, |dims| dims.iter().product()),
    })
}
