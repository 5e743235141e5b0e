//! Results as plain values, and how two results are held equal.
//!
//! Floats agree within a relative 1e-9 (and an absolute 1e-6: sums of values up to 1e6 in
//! another order); every NaN is one value; a zero's sign is compared only in sort keys (the
//! order of −0.0 and +0.0 is aqueduct's documented rule, which the SQL spells out; an
//! aggregate's choice between them is not).

use std::cmp::Ordering;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;

#[derive(Clone, Debug)]
pub enum Cell {
    Null,
    Int(i128),
    Float(f64),
    Str(String),
    Bool(bool),
    List(Vec<Cell>),
}

/// A result: its column names and rows.
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// How a case's output is ordered.
#[derive(Clone, Copy, Debug)]
pub enum Order {
    /// Any order: compared as multisets.
    Any,
    /// Ordered by its first n columns (the SQL's ORDER BY): those agree row by row, and the
    /// rows as multisets (ties may come in any order).
    By(usize),
    /// `By(n)` where the run preserves order, `Any` where it does not (`repartition`).
    Kept(usize),
    /// `limit(n)` of rows ordered by their first column: with `preserve_order` the first n of
    /// DuckDB's (ordered, unlimited) result; without, any n of them.
    First(usize),
}

pub fn table(batches: &[RecordBatch]) -> Result<Table, String> {
    let Some(first) = batches.first() else {
        return Ok(Table {
            columns: Vec::new(),
            rows: Vec::new(),
        });
    };
    let columns = first
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut rows = Vec::new();
    for batch in batches {
        let cells: Vec<Vec<Cell>> = batch
            .columns()
            .iter()
            .map(cells)
            .collect::<Result<_, _>>()?;
        for i in 0..batch.num_rows() {
            rows.push(cells.iter().map(|c| c[i].clone()).collect());
        }
    }
    Ok(Table { columns, rows })
}

fn cells(array: &ArrayRef) -> Result<Vec<Cell>, String> {
    let n = array.len();
    let out = match array.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Date32 => {
            let a = arrow::compute::cast(array, &DataType::Int64).map_err(|e| e.to_string())?;
            let a = a.as_primitive::<Int64Type>();
            (0..n).map(|i| Cell::Int(a.value(i) as i128)).collect()
        }
        DataType::UInt64 => {
            let a = array.as_primitive::<arrow::datatypes::UInt64Type>();
            (0..n).map(|i| Cell::Int(a.value(i) as i128)).collect()
        }
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
            let a = arrow::compute::cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
            let a = a.as_primitive::<Float64Type>();
            (0..n).map(|i| Cell::Float(a.value(i))).collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let a = arrow::compute::cast(array, &DataType::Utf8).map_err(|e| e.to_string())?;
            let a = a.as_string::<i32>();
            (0..n).map(|i| Cell::Str(a.value(i).to_owned())).collect()
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n).map(|i| Cell::Bool(a.value(i))).collect()
        }
        DataType::List(_) => {
            let a = array.as_list::<i32>();
            (0..n)
                .map(|i| cells(&a.value(i)).map(Cell::List))
                .collect::<Result<_, _>>()?
        }
        DataType::LargeList(_) => {
            let a = array.as_list::<i64>();
            (0..n)
                .map(|i| cells(&a.value(i)).map(Cell::List))
                .collect::<Result<_, _>>()?
        }
        other => return Err(format!("no comparison for {other}")),
    };
    let mut out: Vec<Cell> = out;
    for (i, cell) in out.iter_mut().enumerate() {
        if array.is_null(i) {
            *cell = Cell::Null;
        }
    }
    Ok(out)
}

/// A total order to line rows up (floats by value, every NaN last, zeros as one).
fn rank(a: &Cell, b: &Cell) -> Ordering {
    use Cell::*;
    let kind = |c: &Cell| match c {
        Null => 0,
        Bool(_) => 1,
        Int(_) | Float(_) => 2,
        Str(_) => 3,
        List(_) => 4,
    };
    match (a, b) {
        (Int(x), Int(y)) => x.cmp(y),
        (Float(_), _) | (_, Float(_)) if kind(a) == 2 && kind(b) == 2 => {
            normal(number(a)).total_cmp(&normal(number(b)))
        }
        (Str(x), Str(y)) => x.cmp(y),
        (Bool(x), Bool(y)) => x.cmp(y),
        (List(x), List(y)) => row_rank(x, y),
        _ => kind(a).cmp(&kind(b)),
    }
}

fn row_rank(a: &[Cell], b: &[Cell]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| rank(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(a.len().cmp(&b.len()))
}

fn number(c: &Cell) -> f64 {
    match c {
        Cell::Int(i) => *i as f64,
        Cell::Float(f) => *f,
        _ => unreachable!(),
    }
}

fn normal(x: f64) -> f64 {
    if x.is_nan() {
        f64::NAN
    } else if x == 0.0 {
        0.0
    } else {
        x
    }
}

/// Whether two cells agree; `signed_zero` where the sign of a zero counts (sort keys).
fn same(a: &Cell, b: &Cell, signed_zero: bool) -> bool {
    use Cell::*;
    match (a, b) {
        (Null, Null) => true,
        (Int(x), Int(y)) => x == y,
        (Float(_), Int(_)) | (Int(_), Float(_)) | (Float(_), Float(_)) => {
            let (x, y) = (number(a), number(b));
            if x.is_nan() || y.is_nan() {
                return x.is_nan() && y.is_nan();
            }
            if x.is_infinite() || y.is_infinite() {
                return x == y;
            }
            if signed_zero && x == 0.0 && y == 0.0 {
                return x.is_sign_negative() == y.is_sign_negative();
            }
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) + 1e-6
        }
        (Str(x), Str(y)) => x == y,
        (Bool(x), Bool(y)) => x == y,
        (List(x), List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q, false)),
        _ => false,
    }
}

fn show(row: &[Cell]) -> String {
    let text: Vec<String> = row
        .iter()
        .map(|c| {
            let s = format!("{c:?}");
            if s.len() > 60 {
                format!("{}…", &s[..s.floor_char_boundary(60)])
            } else {
                s
            }
        })
        .collect();
    format!("({})", text.join(", "))
}

/// `Ok` when aqueduct's result (`got`) agrees with DuckDB's (`want`), else what differs.
pub fn agree(got: &Table, want: &Table, order: Order, preserve_order: bool) -> Result<(), String> {
    let order = match order {
        Order::Kept(n) if preserve_order => Order::By(n),
        Order::Kept(_) => Order::Any,
        Order::First(n) if preserve_order => {
            let first = Table {
                columns: want.columns.clone(),
                rows: want.rows.iter().take(n).cloned().collect(),
            };
            return agree(got, &first, Order::By(1), true);
        }
        Order::First(n) => return any_of(got, want, n),
        other => other,
    };
    if !got.rows.is_empty() && got.columns != want.columns {
        return Err(format!(
            "columns differ: aqueduct {:?}, DuckDB {:?}",
            got.columns, want.columns
        ));
    }
    if got.rows.len() != want.rows.len() {
        return Err(format!(
            "{} rows from aqueduct, {} from DuckDB{}",
            got.rows.len(),
            want.rows.len(),
            first_missing(got, want)
        ));
    }
    if let Order::By(keys) = order {
        for (i, (g, w)) in got.rows.iter().zip(&want.rows).enumerate() {
            if !g[..keys]
                .iter()
                .zip(&w[..keys])
                .all(|(a, b)| same(a, b, true))
            {
                return Err(format!(
                    "row {i} is out of order: aqueduct {}, DuckDB {}",
                    show(g),
                    show(w)
                ));
            }
        }
    }
    let mut g: Vec<&Vec<Cell>> = got.rows.iter().collect();
    let mut w: Vec<&Vec<Cell>> = want.rows.iter().collect();
    g.sort_by(|a, b| row_rank(a, b));
    w.sort_by(|a, b| row_rank(a, b));
    for (a, b) in g.iter().zip(&w) {
        if !a.iter().zip(b.iter()).all(|(x, y)| same(x, y, false)) {
            return Err(format!(
                "rows differ: aqueduct {}, DuckDB {}",
                show(a),
                show(b)
            ));
        }
    }
    Ok(())
}

/// `got` is `n` of `want`'s rows (or all of them, if fewer).
fn any_of(got: &Table, want: &Table, n: usize) -> Result<(), String> {
    if got.rows.len() != n.min(want.rows.len()) {
        return Err(format!(
            "{} rows from aqueduct; the limit is {n} of DuckDB's {}",
            got.rows.len(),
            want.rows.len()
        ));
    }
    let mut left: Vec<&Vec<Cell>> = want.rows.iter().collect();
    for row in &got.rows {
        let Some(at) = left
            .iter()
            .position(|r| r.iter().zip(row).all(|(a, b)| same(a, b, false)))
        else {
            return Err(format!("not one of DuckDB's rows: {}", show(row)));
        };
        left.swap_remove(at);
    }
    Ok(())
}

/// A row one side has and the other does not (to say which rows a count mismatch is about).
fn first_missing(got: &Table, want: &Table) -> String {
    let contains = |t: &Table, row: &Vec<Cell>| {
        t.rows
            .iter()
            .any(|r| r.len() == row.len() && r.iter().zip(row).all(|(a, b)| same(a, b, false)))
    };
    if let Some(row) = want.rows.iter().find(|r| !contains(got, r)) {
        return format!("; missing from aqueduct: {}", show(row));
    }
    if let Some(row) = got.rows.iter().find(|r| !contains(want, r)) {
        return format!("; not in DuckDB's: {}", show(row));
    }
    String::new()
}
