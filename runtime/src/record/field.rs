//! `Field`: how one Rust type maps to one Arrow column (type, typed reader, builder).
//!
//! Generated code reads columns through `Field::reader` + `Field::get` (a slice index for
//! primitives, a borrowed `&str` for strings: no allocation per row) and writes through
//! `Field::builder` + `Field::append`.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, BinaryArray, BinaryBuilder, BooleanArray,
    BooleanBuilder, FixedSizeListArray, FixedSizeListBuilder, GenericListArray, ListBuilder,
    PrimitiveBuilder, StringArray, StringBuilder,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{self as dt, DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A Rust type that can be a column of a [`Record`](crate::Record).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a column of a Record",
    label = "unsupported column type",
    note = "supported: i8..i64, u8..u64, f32, f64, bool, String, Vec<u8> (binary), Option<T>, Vec<T> (list), [T; N] (fixed-size list), Tensor<T, D0, D1, D2>, chrono::NaiveDate, chrono::NaiveDateTime, chrono::DateTime<Utc>"
)]
pub trait Field: Sized + Send + Sync + 'static {
    /// The borrowed form of a value, as read from a column without allocating.
    type Ref<'a>: Copy;
    /// A typed, cheap-to-copy view over one column.
    type Reader<'a>: Copy;
    /// The Arrow builder values are appended to.
    type Builder: ArrayBuilder;
    /// Whether the column may hold nulls (only `Option<T>`).
    const NULLABLE: bool = false;

    /// The Arrow type of the column.
    fn data_type() -> DataType;
    /// A typed view over `array`, or `None` when the array has another type.
    fn reader(array: &dyn Array) -> Option<Self::Reader<'_>>;
    /// The value at row `i`. For a non-nullable field a null row reads as a default value:
    /// binding code rejects columns with nulls before reading.
    fn get<'a>(reader: Self::Reader<'a>, i: usize) -> Self::Ref<'a>;
    /// The owned value of a borrowed one.
    fn to_owned(value: Self::Ref<'_>) -> Self;
    /// A builder with room for `capacity` values.
    fn builder(capacity: usize) -> Self::Builder;
    /// Append a borrowed value.
    fn append(builder: &mut Self::Builder, value: Self::Ref<'_>);
    /// Append an owned value.
    fn append_owned(builder: &mut Self::Builder, value: &Self);
    /// Append a null (only meaningful inside `Option<T>`).
    fn append_null(builder: &mut Self::Builder);
    /// The shape of a tensor column (`Tensor<T, D0, D1, D2>`), `None` for other columns.
    fn tensor_shape() -> Option<[usize; 3]> {
        None
    }
}

/// Finish a builder into an array of exactly the Arrow type `T::data_type()`.
pub fn finish<T: Field>(builder: &mut T::Builder) -> ArrayRef {
    let array = builder.finish();
    debug_assert_eq!(array.data_type(), &T::data_type());
    array
}

macro_rules! primitive_field {
    ($($rust:ty => $arrow:ty),* $(,)?) => {$(
        impl Field for $rust {
            type Ref<'a> = $rust;
            type Reader<'a> = &'a [$rust];
            type Builder = PrimitiveBuilder<$arrow>;
            fn data_type() -> DataType {
                <$arrow as dt::ArrowPrimitiveType>::DATA_TYPE
            }
            fn reader(array: &dyn Array) -> Option<&[$rust]> {
                array.as_primitive_opt::<$arrow>().map(|a| a.values().as_ref())
            }
            #[inline(always)]
            fn get<'a>(reader: Self::Reader<'a>, i: usize) -> Self::Ref<'a> {
                reader[i]
            }
            fn to_owned(value: $rust) -> $rust {
                value
            }
            fn builder(capacity: usize) -> Self::Builder {
                PrimitiveBuilder::with_capacity(capacity)
            }
            #[inline(always)]
            fn append(builder: &mut Self::Builder, value: $rust) {
                builder.append_value(value)
            }
            #[inline(always)]
            fn append_owned(builder: &mut Self::Builder, value: &$rust) {
                builder.append_value(*value)
            }
            fn append_null(builder: &mut Self::Builder) {
                builder.append_null()
            }
        }
    )*};
}

primitive_field! {
    i8 => dt::Int8Type, i16 => dt::Int16Type, i32 => dt::Int32Type, i64 => dt::Int64Type,
    u8 => dt::UInt8Type, u16 => dt::UInt16Type, u32 => dt::UInt32Type, u64 => dt::UInt64Type,
    f32 => dt::Float32Type, f64 => dt::Float64Type,
}

/// Types that may be items of a list column (`Vec<T>`, `[T; N]`): every field but `u8`, since
/// `Vec<u8>` is a binary column, not a list of bytes.
pub trait ListItem: Field {}

macro_rules! list_items {
    ($($rust:ty),*) => {$( impl ListItem for $rust {} )*};
}
list_items!(i8, i16, i32, i64, u16, u32, u64, f32, f64);

impl Field for bool {
    type Ref<'a> = bool;
    type Reader<'a> = &'a BooleanArray;
    type Builder = BooleanBuilder;
    fn data_type() -> DataType {
        DataType::Boolean
    }
    fn reader(array: &dyn Array) -> Option<&BooleanArray> {
        array.as_boolean_opt()
    }
    fn get<'a>(reader: Self::Reader<'a>, i: usize) -> Self::Ref<'a> {
        reader.value(i)
    }
    fn to_owned(value: bool) -> bool {
        value
    }
    fn append_owned(builder: &mut Self::Builder, value: &bool) {
        builder.append_value(*value)
    }
    fn builder(capacity: usize) -> Self::Builder {
        BooleanBuilder::with_capacity(capacity)
    }
    fn append(builder: &mut Self::Builder, value: bool) {
        builder.append_value(value)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append_null()
    }
}
impl ListItem for bool {}

/// A string column: plain, or a dictionary (which parquet readers hand over when asked, see
/// `FileSource::with_dictionary`).
#[derive(Clone, Copy)]
pub enum StrReader<'a> {
    Plain(&'a StringArray),
    Dictionary {
        keys: &'a [i32],
        values: &'a StringArray,
    },
}

impl Field for String {
    type Ref<'a> = &'a str;
    type Reader<'a> = StrReader<'a>;
    type Builder = StringBuilder;
    fn data_type() -> DataType {
        DataType::Utf8
    }
    fn reader(array: &dyn Array) -> Option<StrReader<'_>> {
        if let Some(plain) = array.as_string_opt::<i32>() {
            return Some(StrReader::Plain(plain));
        }
        let dictionary = array.as_dictionary_opt::<dt::Int32Type>()?;
        Some(StrReader::Dictionary {
            keys: dictionary.keys().values(),
            values: dictionary.values().as_string_opt::<i32>()?,
        })
    }
    #[inline(always)]
    fn get<'a>(reader: Self::Reader<'a>, i: usize) -> Self::Ref<'a> {
        match reader {
            StrReader::Plain(array) => array.value(i),
            // Null rows are never read here: `Option<String>` checks the nulls first, and
            // non-nullable columns with nulls are refused when bound.
            StrReader::Dictionary { keys, values } => values.value(keys[i] as usize),
        }
    }
    fn to_owned(value: &str) -> String {
        value.to_owned()
    }
    fn append_owned(builder: &mut Self::Builder, value: &String) {
        builder.append_value(value)
    }
    fn builder(capacity: usize) -> Self::Builder {
        StringBuilder::with_capacity(capacity, capacity * 8)
    }
    fn append(builder: &mut Self::Builder, value: &str) {
        builder.append_value(value)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append_null()
    }
}
impl ListItem for String {}

impl Field for Vec<u8> {
    type Ref<'a> = &'a [u8];
    type Reader<'a> = &'a BinaryArray;
    type Builder = BinaryBuilder;
    fn data_type() -> DataType {
        DataType::Binary
    }
    fn reader(array: &dyn Array) -> Option<&BinaryArray> {
        array.as_binary_opt::<i32>()
    }
    fn get<'a>(reader: Self::Reader<'a>, i: usize) -> Self::Ref<'a> {
        reader.value(i)
    }
    fn to_owned(value: &[u8]) -> Vec<u8> {
        value.to_vec()
    }
    fn append_owned(builder: &mut Self::Builder, value: &Vec<u8>) {
        builder.append_value(value)
    }
    fn builder(capacity: usize) -> Self::Builder {
        BinaryBuilder::with_capacity(capacity, capacity * 8)
    }
    fn append(builder: &mut Self::Builder, value: &[u8]) {
        builder.append_value(value)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append_null()
    }
}

/// A nullable column: reads as `None` where the array is null.
impl<T: Field> Field for Option<T> {
    type Ref<'a> = Option<T::Ref<'a>>;
    type Reader<'a> = (T::Reader<'a>, Option<&'a NullBuffer>);
    type Builder = T::Builder;
    const NULLABLE: bool = true;
    fn data_type() -> DataType {
        T::data_type()
    }
    fn reader(array: &dyn Array) -> Option<Self::Reader<'_>> {
        Some((T::reader(array)?, array.nulls()))
    }
    #[inline(always)]
    fn get<'a>((reader, nulls): Self::Reader<'a>, i: usize) -> Self::Ref<'a> {
        match nulls {
            Some(nulls) if nulls.is_null(i) => None,
            _ => Some(T::get(reader, i)),
        }
    }
    fn to_owned(value: Self::Ref<'_>) -> Self {
        value.map(T::to_owned)
    }
    fn append_owned(builder: &mut Self::Builder, value: &Self) {
        match value {
            Some(v) => T::append_owned(builder, v),
            None => T::append_null(builder),
        }
    }
    fn builder(capacity: usize) -> Self::Builder {
        T::builder(capacity)
    }
    fn append(builder: &mut Self::Builder, value: Self::Ref<'_>) {
        match value {
            Some(v) => T::append(builder, v),
            None => T::append_null(builder),
        }
    }
    fn append_null(builder: &mut Self::Builder) {
        T::append_null(builder)
    }
}
impl<T: ListItem> ListItem for Option<T> {}

/// A borrowed list value: items `start..end` of a list column's child array.
pub struct ListRef<'a, T: Field> {
    items: T::Reader<'a>,
    start: usize,
    end: usize,
}

impl<T: Field> Clone for ListRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Field> Copy for ListRef<'_, T> {}

impl<'a, T: Field> ListRef<'a, T> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    /// The item at `index`.
    pub fn get(&self, index: usize) -> T::Ref<'a> {
        assert!(index < self.len(), "list index {index} out of range");
        T::get(self.items, self.start + index)
    }
    /// The items, borrowed.
    pub fn iter(&self) -> impl Iterator<Item = T::Ref<'a>> + 'a {
        let items = self.items;
        (self.start..self.end).map(move |i| T::get(items, i))
    }
}

impl<T: Field> std::fmt::Debug for ListRef<'_, T>
where
    for<'a> T::Ref<'a>: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

fn item_field<T: Field>() -> Arc<arrow::datatypes::Field> {
    Arc::new(arrow::datatypes::Field::new(
        "item",
        T::data_type(),
        T::NULLABLE,
    ))
}

/// A variable-length list column.
impl<T: ListItem> Field for Vec<T> {
    type Ref<'a> = ListRef<'a, T>;
    type Reader<'a> = (&'a [i32], T::Reader<'a>);
    type Builder = ListBuilder<T::Builder>;
    fn data_type() -> DataType {
        DataType::List(item_field::<T>())
    }
    fn reader(array: &dyn Array) -> Option<Self::Reader<'_>> {
        let list: &GenericListArray<i32> = array.as_list_opt::<i32>()?;
        Some((list.value_offsets(), T::reader(list.values().as_ref())?))
    }
    fn get<'a>((offsets, items): Self::Reader<'a>, i: usize) -> Self::Ref<'a> {
        ListRef {
            items,
            start: offsets[i] as usize,
            end: offsets[i + 1] as usize,
        }
    }
    fn to_owned(value: ListRef<'_, T>) -> Self {
        value.iter().map(T::to_owned).collect()
    }
    fn append_owned(builder: &mut Self::Builder, value: &Self) {
        for item in value {
            T::append_owned(builder.values(), item);
        }
        builder.append(true)
    }
    fn builder(capacity: usize) -> Self::Builder {
        ListBuilder::with_capacity(T::builder(capacity), capacity).with_field(item_field::<T>())
    }
    fn append(builder: &mut Self::Builder, value: ListRef<'_, T>) {
        for item in value.iter() {
            T::append(builder.values(), item);
        }
        builder.append(true)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append_null()
    }
}
impl<T: ListItem> ListItem for Vec<T> {}

/// A fixed-size list column (`[T; N]`), e.g. an embedding or a small tensor.
impl<T: ListItem, const N: usize> Field for [T; N] {
    type Ref<'a> = ListRef<'a, T>;
    type Reader<'a> = T::Reader<'a>;
    type Builder = FixedSizeListBuilder<T::Builder>;
    fn data_type() -> DataType {
        DataType::FixedSizeList(item_field::<T>(), N as i32)
    }
    fn reader(array: &dyn Array) -> Option<Self::Reader<'_>> {
        let list: &FixedSizeListArray = array.as_fixed_size_list_opt()?;
        if list.value_length() as usize != N {
            return None;
        }
        T::reader(list.values().as_ref())
    }
    fn get<'a>(items: Self::Reader<'a>, i: usize) -> Self::Ref<'a> {
        ListRef {
            items,
            start: i * N,
            end: (i + 1) * N,
        }
    }
    fn to_owned(value: ListRef<'_, T>) -> Self {
        let items: Vec<T> = value.iter().map(T::to_owned).collect();
        items
            .try_into()
            .unwrap_or_else(|_| unreachable!("fixed-size list of length {N}"))
    }
    fn append_owned(builder: &mut Self::Builder, value: &Self) {
        for item in value {
            T::append_owned(builder.values(), item);
        }
        builder.append(true)
    }
    fn builder(capacity: usize) -> Self::Builder {
        FixedSizeListBuilder::with_capacity(T::builder(capacity * N), N as i32, capacity)
            .with_field(item_field::<T>())
    }
    fn append(builder: &mut Self::Builder, value: ListRef<'_, T>) {
        for item in value.iter() {
            T::append(builder.values(), item);
        }
        builder.append(true)
    }
    fn append_null(builder: &mut Self::Builder) {
        for _ in 0..N {
            T::append_null(builder.values());
        }
        builder.append(false)
    }
}
impl<T: ListItem, const N: usize> ListItem for [T; N] {}

/// Days from 0001-01-01 (chrono's day count) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

macro_rules! temporal_field {
    ($rust:ty, $arrow:ty, $data_type:expr, $native:ty,
     to_native: |$v:ident| $to:expr, from_native: |$n:ident| $from:expr) => {
        impl Field for $rust {
            type Ref<'a> = $rust;
            type Reader<'a> = &'a [$native];
            type Builder = PrimitiveBuilder<$arrow>;
            fn data_type() -> DataType {
                $data_type
            }
            fn reader(array: &dyn Array) -> Option<&[$native]> {
                array
                    .as_primitive_opt::<$arrow>()
                    .map(|a| a.values().as_ref())
            }
            fn get<'a>(reader: Self::Reader<'a>, i: usize) -> Self::Ref<'a> {
                let $n = reader[i];
                $from
            }
            fn to_owned(value: $rust) -> $rust {
                value
            }
            fn builder(capacity: usize) -> Self::Builder {
                PrimitiveBuilder::with_capacity(capacity).with_data_type(Self::data_type())
            }
            fn append(builder: &mut Self::Builder, $v: $rust) {
                builder.append_value($to)
            }
            fn append_owned(builder: &mut Self::Builder, value: &$rust) {
                Self::append(builder, *value)
            }
            fn append_null(builder: &mut Self::Builder) {
                builder.append_null()
            }
        }
        impl ListItem for $rust {}
    };
}

temporal_field!(NaiveDate, dt::Date32Type, DataType::Date32, i32,
    to_native: |v| chrono::Datelike::num_days_from_ce(&v) - UNIX_EPOCH_DAYS_FROM_CE,
    from_native: |n| NaiveDate::from_num_days_from_ce_opt(n + UNIX_EPOCH_DAYS_FROM_CE).unwrap_or_default());
temporal_field!(NaiveDateTime, dt::TimestampMicrosecondType,
    DataType::Timestamp(TimeUnit::Microsecond, None), i64,
    to_native: |v| v.and_utc().timestamp_micros(),
    from_native: |n| DateTime::from_timestamp_micros(n).unwrap_or_default().naive_utc());
temporal_field!(DateTime<Utc>, dt::TimestampMicrosecondType,
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), i64,
    to_native: |v| v.timestamp_micros(),
    from_native: |n| DateTime::from_timestamp_micros(n).unwrap_or_default());
