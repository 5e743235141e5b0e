//! The types and registers of values in a kernel.

use syn::Lit;

use super::{Lowered, Unsupported, unsupported};
use crate::types::LType;

/// A value's type in the kernel: a Rust scalar type, or an untyped literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Int(&'static str),
    Float(&'static str),
    Bool,
    IntLiteral,
    FloatLiteral,
}

impl Ty {
    pub(super) fn of(ltype: &LType) -> Option<Ty> {
        match ltype {
            LType::Int(name) => Some(Ty::Int(name)),
            LType::Float(name) => Some(Ty::Float(name)),
            LType::Bool => Some(Ty::Bool),
            LType::IntLiteral => Some(Ty::IntLiteral),
            LType::FloatLiteral => Some(Ty::FloatLiteral),
            _ => None,
        }
    }

    /// A literal's type once its context gives none (Rust's defaults).
    pub(super) fn concrete(self) -> Ty {
        match self {
            Ty::IntLiteral => Ty::Int("i32"),
            Ty::FloatLiteral => Ty::Float("f64"),
            other => other,
        }
    }

    pub(super) fn bits(self) -> u32 {
        match self.concrete() {
            Ty::Int(name) | Ty::Float(name) => name[1..].parse().expect("a sized type"),
            _ => 1,
        }
    }

    pub(super) fn signed(self) -> bool {
        matches!(self, Ty::Int(name) if name.starts_with('i'))
    }

    /// The register class and the instruction type of the value (narrow integers live in
    /// 32-bit registers).
    pub(super) fn reg(self) -> Reg {
        match self.concrete() {
            Ty::Float("f32") => Reg::F32,
            Ty::Float(_) => Reg::F64,
            Ty::Bool => Reg::Pred,
            t if t.bits() == 64 => Reg::B64,
            _ => Reg::B32,
        }
    }

    /// The width of the value's register.
    pub(super) fn reg_bits(self) -> u32 {
        match self.reg() {
            Reg::B64 | Reg::F64 => 64,
            _ => 32,
        }
    }

    /// The PTX type of arithmetic on the value.
    pub(super) fn op(self) -> &'static str {
        let t = self.concrete();
        match (t.reg(), t.signed()) {
            (Reg::F32, _) => "f32",
            (Reg::F64, _) => "f64",
            (Reg::B64, true) => "s64",
            (Reg::B64, false) => "u64",
            (_, true) => "s32",
            _ => "u32",
        }
    }

    /// The PTX type of the value in memory.
    pub(super) fn memory(self) -> String {
        match self.concrete() {
            Ty::Float(name) => name.to_owned(),
            Ty::Int(name) => format!("{}{}", if self.signed() { "s" } else { "u" }, &name[1..]),
            _ => "u8".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Reg {
    F32,
    F64,
    B32,
    B64,
    Pred,
}

impl Reg {
    pub(super) fn prefix(self) -> &'static str {
        match self {
            Reg::F32 => "%f",
            Reg::F64 => "%fd",
            Reg::B32 => "%r",
            Reg::B64 => "%rd",
            Reg::Pred => "%p",
        }
    }

    pub(super) fn declaration(self) -> &'static str {
        match self {
            Reg::F32 => ".f32",
            Reg::F64 => ".f64",
            Reg::B32 => ".b32",
            Reg::B64 => ".b64",
            Reg::Pred => ".pred",
        }
    }
}

pub(super) fn float_constant(v: f64, ty: Ty) -> String {
    if ty.bits() == 32 {
        format!("0f{:08X}", (v as f32).to_bits())
    } else {
        format!("0d{:016X}", v.to_bits())
    }
}

pub(super) fn literal_type(lit: &Lit) -> Lowered<Ty> {
    match lit {
        Lit::Int(int) => Ok(match int.suffix() {
            "" => Ty::IntLiteral,
            s => Ty::of(&LType::of(
                &syn::parse_str(s).map_err(|_| Unsupported(int.span(), "bad suffix".into()))?,
            ))
            .ok_or_else(|| Unsupported(int.span(), "bad suffix".into()))?,
        }),
        Lit::Float(float) => Ok(match float.suffix() {
            "" => Ty::FloatLiteral,
            s => Ty::of(&LType::of(
                &syn::parse_str(s).map_err(|_| Unsupported(float.span(), "bad suffix".into()))?,
            ))
            .ok_or_else(|| Unsupported(float.span(), "bad suffix".into()))?,
        }),
        Lit::Bool(_) => Ok(Ty::Bool),
        other => unsupported(other, "a GPU stage takes number and bool literals"),
    }
}

pub(super) fn unify(a: Ty, b: Ty) -> Option<Ty> {
    use Ty::*;
    match (a, b) {
        (x, y) if x == y => Some(x),
        (IntLiteral, t @ (Int(_) | Float(_))) | (t @ (Int(_) | Float(_)), IntLiteral) => Some(t),
        (FloatLiteral, t @ Float(_)) | (t @ Float(_), FloatLiteral) => Some(t),
        (IntLiteral, FloatLiteral) | (FloatLiteral, IntLiteral) => Some(FloatLiteral),
        _ => None,
    }
}
