//! Kernel signatures read from PTX text, so that launches are checked against them: a kernel
//! declared with an `.f32` parameter refuses an `f64`, a `.u32` count refuses a `u64`, and a
//! missing or extra argument is an error naming the kernel — `cust`'s `launch!` checks none of
//! this and passes whatever bytes it is given.

use std::collections::BTreeMap;

/// The type of one kernel parameter, as PTX declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// `.f32`
    F32,
    /// `.f64`
    F64,
    /// `.u32`, `.s32` or `.b32`: a 32-bit integer (C compilers write `int` as `.u32` too).
    Int32,
    /// `.u64`, `.s64` or `.b64`: a 64-bit integer or a device pointer.
    Int64,
    /// Anything else (`.u8`, `.align 4 .b8 x[16]` structures...): not passed by aqueduct.
    Other,
}

impl std::fmt::Display for ParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParamType::F32 => ".f32 (f32)",
            ParamType::F64 => ".f64 (f64)",
            ParamType::Int32 => "a 32-bit integer (i32/u32)",
            ParamType::Int64 => "a 64-bit integer or a device pointer (i64/u64/pointer)",
            ParamType::Other => "a type aqueduct does not pass",
        })
    }
}

/// One argument of a launch, with the type it was given as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg {
    F32(f32),
    F64(f64),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    /// A device address.
    Pointer(u64),
}

impl Arg {
    /// The parameter type this argument fits.
    pub fn param_type(&self) -> ParamType {
        match self {
            Arg::F32(_) => ParamType::F32,
            Arg::F64(_) => ParamType::F64,
            Arg::I32(_) | Arg::U32(_) => ParamType::Int32,
            Arg::I64(_) | Arg::U64(_) | Arg::Pointer(_) => ParamType::Int64,
        }
    }

    /// The argument's bytes, as the launch passes them.
    pub fn bytes(&self) -> [u8; 8] {
        let mut out = [0; 8];
        match *self {
            Arg::F32(v) => out[..4].copy_from_slice(&v.to_ne_bytes()),
            Arg::F64(v) => out.copy_from_slice(&v.to_ne_bytes()),
            Arg::I32(v) => out[..4].copy_from_slice(&v.to_ne_bytes()),
            Arg::U32(v) => out[..4].copy_from_slice(&v.to_ne_bytes()),
            Arg::I64(v) => out.copy_from_slice(&v.to_ne_bytes()),
            Arg::U64(v) | Arg::Pointer(v) => out.copy_from_slice(&v.to_ne_bytes()),
        }
        out
    }
}

macro_rules! arg_from {
    ($($t:ty => $variant:ident),*) => {
        $(impl From<$t> for Arg {
            fn from(value: $t) -> Self {
                Arg::$variant(value)
            }
        })*
    };
}
arg_from!(f32 => F32, f64 => F64, i32 => I32, u32 => U32, i64 => I64, u64 => U64);

/// The kernels (`.entry` functions) of a PTX module and their parameters, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Signatures {
    pub kernels: BTreeMap<String, Vec<ParamType>>,
}

impl Signatures {
    /// Read the `.entry` declarations of `ptx`.
    pub fn parse(ptx: &str) -> Signatures {
        let mut kernels = BTreeMap::new();
        let mut rest = ptx;
        while let Some(at) = rest.find(".entry") {
            rest = &rest[at + ".entry".len()..];
            let Some(open) = rest.find('(') else { break };
            let name = rest[..open].trim().to_owned();
            let Some(close) = rest[open..].find(')') else {
                break;
            };
            let params = rest[open + 1..open + close]
                .split(',')
                .filter(|p| p.contains(".param"))
                .map(param_type)
                .collect();
            kernels.insert(name, params);
            rest = &rest[open + close..];
        }
        Signatures { kernels }
    }

    /// Check a launch of `kernel` with `args` against its declaration.
    pub fn check(&self, kernel: &str, args: &[Arg]) -> Result<(), String> {
        let Some(params) = self.kernels.get(kernel) else {
            let known: Vec<&str> = self.kernels.keys().map(String::as_str).collect();
            return Err(format!(
                "no kernel `{kernel}` in the module (it has: {})",
                known.join(", ")
            ));
        };
        if params.len() != args.len() {
            return Err(format!(
                "kernel `{kernel}` takes {} arguments, the launch passes {}",
                params.len(),
                args.len()
            ));
        }
        for (i, (param, arg)) in params.iter().zip(args).enumerate() {
            if *param != arg.param_type() {
                return Err(format!(
                    "argument {i} of kernel `{kernel}` is declared {param}, the launch passes {arg:?}"
                ));
            }
        }
        Ok(())
    }
}

fn param_type(declaration: &str) -> ParamType {
    // `.param .u64 .ptr .global .align 4 name` or `.param .f32 name`: the first type word.
    for word in declaration.split_whitespace() {
        match word {
            ".f32" => return ParamType::F32,
            ".f64" => return ParamType::F64,
            ".u32" | ".s32" | ".b32" => return ParamType::Int32,
            ".u64" | ".s64" | ".b64" => return ParamType::Int64,
            ".param" => {}
            _ if word.starts_with('.') => return ParamType::Other,
            _ => {}
        }
    }
    ParamType::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTX: &str = r#"
.version 7.0
.target sm_70
.address_size 64

.visible .entry scale(
	.param .u64 .ptr .global .align 4 scale_param_0,
	.param .f32 scale_param_1,
	.param .u32 scale_param_2
)
{
	ret;
}
.visible .entry nothing()
{
	ret;
}
"#;

    #[test]
    fn reads_entries_and_checks_launches() {
        let signatures = Signatures::parse(PTX);
        assert_eq!(
            signatures.kernels["scale"],
            [ParamType::Int64, ParamType::F32, ParamType::Int32]
        );
        assert_eq!(signatures.kernels["nothing"], []);
        let ok = [Arg::Pointer(64), Arg::from(2.0f32), Arg::from(10u32)];
        assert_eq!(signatures.check("scale", &ok), Ok(()));

        // The classic mistake: an unsuffixed float literal is an f64.
        let wrong = [Arg::Pointer(64), Arg::from(2.0), Arg::from(10u32)];
        let error = signatures.check("scale", &wrong).unwrap_err();
        assert!(
            error.contains("argument 1 of kernel `scale` is declared .f32")
                && error.contains("F64"),
            "{error}"
        );
        // A usize count (u64) for a .u32 parameter.
        let wide = [Arg::Pointer(64), Arg::from(2.0f32), Arg::from(10u64)];
        assert!(signatures.check("scale", &wide).is_err());
        let few = signatures.check("scale", &ok[..2]).unwrap_err();
        assert!(
            few.contains("takes 3 arguments, the launch passes 2"),
            "{few}"
        );
        let missing = signatures.check("scal", &ok).unwrap_err();
        assert!(
            missing.contains("no kernel `scal`") && missing.contains("scale"),
            "{missing}"
        );
    }

    #[test]
    fn argument_bytes_are_native() {
        assert_eq!(&Arg::from(1.5f32).bytes()[..4], &1.5f32.to_ne_bytes());
        assert_eq!(Arg::Pointer(0xdead).bytes(), 0xdeadu64.to_ne_bytes());
    }
}
