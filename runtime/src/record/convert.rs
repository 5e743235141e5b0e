//! Which Arrow columns a declared field can be read from, and the conversion. Files written by
//! other tools store the same values in other representations — large or view strings,
//! dictionaries, nanosecond timestamps, time zones, wider integers — and a reader must accept
//! them. A conversion no value can change is made silently; one that could change a value (a
//! narrower integer, a coarser time unit) is checked value by value, and the first value that
//! would change is an error naming its row.

use arrow::array::{Array, ArrayRef};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, TimeUnit};

/// How a column of one type is read as a declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Readable {
    /// The same type.
    Same,
    /// Another representation of the same values.
    Lossless,
    /// A conversion that some values would not survive: checked value by value.
    Checked,
    /// Not readable as the declared type.
    No,
}

/// How a column of type `actual` is read as `declared`.
pub fn readable(declared: &DataType, actual: &DataType) -> Readable {
    use DataType::*;
    use Readable::*;
    if declared == actual {
        return Same;
    }
    match (declared, actual) {
        (d, a) if is_string(d) && is_string(a) => Lossless,
        (d, a) if is_binary(d) && is_binary(a) => Lossless,
        (d, a) if d.is_integer() && a.is_integer() => {
            if widens(a, d) {
                Lossless
            } else {
                Checked
            }
        }
        (Float64, Float32 | Float16) | (Float32, Float16) => Lossless,
        // Integers as floats: exact up to the float's mantissa, checked beyond it.
        (Float64 | Float32, a) if a.is_integer() => {
            let mantissa = if *declared == Float64 { 53 } else { 24 };
            let bits = a.primitive_width().unwrap_or(8) * 8;
            if bits < mantissa { Lossless } else { Checked }
        }
        (Timestamp(d, _), Timestamp(a, _)) => {
            if d == a {
                Lossless
            } else {
                Checked
            }
        }
        (Date32, Date64) => Checked,
        (List(d), List(a) | LargeList(a) | ListView(a) | LargeListView(a)) => {
            readable(d.data_type(), a.data_type()).max(Lossless)
        }
        (FixedSizeList(d, n), FixedSizeList(a, m)) if n == m => {
            readable(d.data_type(), a.data_type()).max(Lossless)
        }
        _ => No,
    }
}

/// `column` as the declared type; `name` names the column in the error.
pub fn convert(column: &ArrayRef, declared: &DataType, name: &str) -> Result<ArrayRef, String> {
    let actual = column.data_type();
    let refused = || {
        format!(
            "column `{name}` holds {} values, which the declared {} cannot hold",
            rust_name(actual),
            rust_name(declared)
        )
    };
    let how = readable(declared, actual);
    if how == Readable::Same {
        return Ok(column.clone());
    }
    if how == Readable::No {
        return Err(refused());
    }
    // Safe casts make a value that does not fit null; the check below finds it.
    let options = CastOptions {
        safe: true,
        ..Default::default()
    };
    let converted =
        cast_with_options(column, declared, &options).map_err(|e| format!("{}: {e}", refused()))?;
    if how == Readable::Checked
        && let Some(row) = first_changed(column, &converted)
    {
        let value =
            arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &Default::default())
                .map(|f| f.value(row).to_string())
                .unwrap_or_else(|_| "?".into());
        return Err(format!(
            "column `{name}` holds {} values, read as the declared {}: row {row} of the block holds {value}, which {} cannot hold exactly",
            rust_name(actual),
            rust_name(declared),
            rust_name(declared)
        ));
    }
    Ok(converted)
}

/// The first row whose value `converted` does not hold exactly (cast back, it differs).
fn first_changed(original: &ArrayRef, converted: &ArrayRef) -> Option<usize> {
    let back = arrow::compute::cast(converted, original.data_type()).ok()?;
    match arrow::compute::kernels::cmp::distinct(&back, original) {
        Ok(differs) => (0..differs.len()).find(|&i| differs.is_valid(i) && differs.value(i)),
        // Nested types: row by row (only lists of narrowed values come here).
        Err(_) => (0..original.len())
            .find(|&i| back.slice(i, 1).to_data() != original.slice(i, 1).to_data()),
    }
}

fn is_string(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_string(values),
        _ => false,
    }
}

fn is_binary(data_type: &DataType) -> bool {
    match data_type {
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => true,
        DataType::Dictionary(_, values) => is_binary(values),
        _ => false,
    }
}

/// Whether every value of integer type `from` is a value of integer type `to`.
fn widens(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let bits = |t: &DataType| t.primitive_width().unwrap_or(8) * 8;
    let signed = |t: &DataType| matches!(t, Int8 | Int16 | Int32 | Int64);
    match (signed(from), signed(to)) {
        (false, false) | (true, true) => bits(from) <= bits(to),
        (false, true) => bits(from) < bits(to),
        (true, false) => false,
    }
}

/// The Rust type a record declares for an Arrow type, for messages users read.
pub fn rust_name(data_type: &DataType) -> String {
    use DataType::*;
    match data_type {
        Int8 => "i8".into(),
        Int16 => "i16".into(),
        Int32 => "i32".into(),
        Int64 => "i64".into(),
        UInt8 => "u8".into(),
        UInt16 => "u16".into(),
        UInt32 => "u32".into(),
        UInt64 => "u64".into(),
        Float32 => "f32".into(),
        Float64 => "f64".into(),
        Boolean => "bool".into(),
        Utf8 => "String".into(),
        Binary => "Vec<u8>".into(),
        Date32 => "NaiveDate".into(),
        Timestamp(TimeUnit::Microsecond, None) => "NaiveDateTime".into(),
        Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" => {
            "DateTime<Utc>".into()
        }
        List(item) => format!("Vec<{}>", rust_name(item.data_type())),
        FixedSizeList(item, n) => format!("[{}; {n}]", rust_name(item.data_type())),
        Dictionary(_, values) if **values == Utf8 => "String".into(),
        other => format!("Arrow {other}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, LargeStringArray, TimestampNanosecondArray};

    use super::*;

    #[test]
    fn representations_convert_and_narrowing_is_checked() {
        let strings: ArrayRef = Arc::new(LargeStringArray::from(vec!["a", "bb"]));
        let as_utf8 = convert(&strings, &DataType::Utf8, "s").unwrap();
        assert_eq!(as_utf8.data_type(), &DataType::Utf8);

        let fits: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(-7)]));
        let narrowed = convert(&fits, &DataType::Int32, "qty").unwrap();
        assert_eq!(narrowed.null_count(), 1);
        let too_big: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 1 << 40]));
        let error = convert(&too_big, &DataType::Int32, "qty").unwrap_err();
        assert!(
            error.contains("`qty`") && error.contains("row 2") && error.contains("i32"),
            "{error}"
        );

        let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
        let whole: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1_000, 2_000]));
        convert(&whole, &micros, "ts").unwrap();
        let finer: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1_000, 2_001]));
        let error = convert(&finer, &micros, "ts").unwrap_err();
        assert!(
            error.contains("row 1") && error.contains("NaiveDateTime"),
            "{error}"
        );
    }

    #[test]
    fn what_is_readable_as_what() {
        use DataType::*;
        assert_eq!(readable(&Int64, &Int32), Readable::Lossless);
        assert_eq!(readable(&Int32, &UInt16), Readable::Lossless);
        assert_eq!(readable(&UInt32, &Int32), Readable::Checked);
        assert_eq!(readable(&Float32, &Float64), Readable::No);
        assert_eq!(readable(&Float64, &Int32), Readable::Lossless);
        assert_eq!(readable(&Float64, &Int64), Readable::Checked);
        assert_eq!(readable(&Int64, &Float64), Readable::No);
        assert_eq!(readable(&Utf8, &Int64), Readable::No);
        let dictionary = Dictionary(Box::new(Int32), Box::new(Utf8));
        assert_eq!(readable(&dictionary, &Utf8View), Readable::Lossless);
        assert_eq!(rust_name(&dictionary), "String");
    }
}
