//! Predicates pushed from `filter` stages into parquet reads: comparisons of a column with a
//! constant. A row group whose min/max statistics prove that no row can match is skipped; the
//! filter itself still runs on the row groups that are read, so a predicate only saves work.

use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

/// `column op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    pub column: String,
    pub op: CmpOp,
    pub value: Scalar,
}

impl Predicate {
    /// `column op value`.
    pub fn new(column: &str, op: CmpOp, value: Scalar) -> Self {
        Predicate {
            column: column.to_owned(),
            op,
            value,
        }
    }

    /// Whether some value in `min..=max` may satisfy the predicate; `None` when the statistics
    /// cannot be compared with the constant.
    fn may_match(&self, stats: &Statistics) -> Option<bool> {
        use std::cmp::Ordering::*;
        let (min, max) = bounds(stats, &self.value)?;
        Some(match self.op {
            CmpOp::Gt => max == Greater,
            CmpOp::Ge => max != Less,
            CmpOp::Lt => min == Less,
            CmpOp::Le => min != Greater,
            CmpOp::Eq => min != Greater && max != Less,
        })
    }
}

impl std::fmt::Display for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
        };
        match &self.value {
            Scalar::Int(v) => write!(f, "{} {op} {v}", self.column),
            Scalar::Float(v) => write!(f, "{} {op} {v:?}", self.column),
            Scalar::Str(v) => write!(f, "{} {op} {v:?}", self.column),
            Scalar::Bool(v) => write!(f, "{} {op} {v}", self.column),
        }
    }
}

/// How the row group's min and max compare with the constant.
fn bounds(stats: &Statistics, value: &Scalar) -> Option<(std::cmp::Ordering, std::cmp::Ordering)> {
    fn number<T: Copy + Into<f64>>(
        min: Option<&T>,
        max: Option<&T>,
        value: &Scalar,
    ) -> Option<(std::cmp::Ordering, std::cmp::Ordering)> {
        let v = match value {
            Scalar::Int(i) => *i as f64,
            Scalar::Float(f) => *f,
            _ => return None,
        };
        let (min, max): (f64, f64) = ((*min?).into(), (*max?).into());
        Some((min.partial_cmp(&v)?, max.partial_cmp(&v)?))
    }
    match (stats, value) {
        (Statistics::Int64(s), Scalar::Int(v)) => Some((s.min_opt()?.cmp(v), s.max_opt()?.cmp(v))),
        (Statistics::Int32(s), Scalar::Int(v)) => Some((
            i64::from(*s.min_opt()?).cmp(v),
            i64::from(*s.max_opt()?).cmp(v),
        )),
        (Statistics::Int32(s), _) => number(s.min_opt(), s.max_opt(), value),
        (Statistics::Float(s), _) => number(s.min_opt(), s.max_opt(), value),
        (Statistics::Double(s), _) => number(s.min_opt(), s.max_opt(), value),
        (Statistics::Boolean(s), Scalar::Bool(v)) => {
            Some((s.min_opt()?.cmp(v), s.max_opt()?.cmp(v)))
        }
        (Statistics::ByteArray(s), Scalar::Str(v)) => Some((
            s.min_opt()?.data().cmp(v.as_bytes()),
            s.max_opt()?.data().cmp(v.as_bytes()),
        )),
        _ => None,
    }
}

/// The row groups that may hold matching rows, or `None` to read them all.
pub(super) fn row_groups(
    metadata: &ParquetMetaData,
    predicates: &[Predicate],
) -> Option<Vec<usize>> {
    if predicates.is_empty() {
        return None;
    }
    let schema = metadata.file_metadata().schema_descr();
    let leaf = |name: &str| {
        schema
            .columns()
            .iter()
            .position(|c| c.path().string() == name)
    };
    let keep: Vec<usize> = (0..metadata.num_row_groups())
        .filter(|&group| {
            let row_group = metadata.row_group(group);
            predicates.iter().all(|p| {
                leaf(&p.column)
                    .and_then(|i| row_group.column(i).statistics())
                    .and_then(|stats| p.may_match(stats))
                    .unwrap_or(true)
            })
        })
        .collect();
    (keep.len() < metadata.num_row_groups()).then_some(keep)
}
