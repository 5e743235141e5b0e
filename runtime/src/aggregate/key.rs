//! Group keys: one or more columns, looked up by their borrowed values (a `&str` straight from
//! the block) so that rows of an existing group allocate nothing.

use std::hash::{Hash, Hasher};

use arrow::array::{ArrayBuilder, ArrayRef};

use crate::record::Field;

/// A column type that can be a group key: hashable and totally ordered in its borrowed form.
/// Floats cannot be keys (NaN breaks equality); group by a rounded or integer column instead.
pub trait KeyField: Field + Clone {
    /// The borrowed form of an owned key.
    fn borrow(&self) -> Self::Ref<'_>;
    /// Hash a borrowed value.
    fn hash_ref<H: Hasher>(value: Self::Ref<'_>, state: &mut H);
    /// Whether an owned key equals a borrowed value.
    fn equals(&self, value: Self::Ref<'_>) -> bool;
    /// Order two keys.
    fn compare(&self, other: &Self) -> std::cmp::Ordering;
    /// Bytes the key holds on the heap.
    fn heap_bytes(&self) -> usize {
        0
    }
    /// Values in the column's dictionary, when it is dictionary-encoded (0 otherwise).
    fn dictionary_len(_reader: Self::Reader<'_>) -> usize {
        0
    }
    /// The dictionary index of row `i`'s value, when the column is dictionary-encoded: rows
    /// with the same index are in the same group, so the group is found once per index.
    #[inline(always)]
    fn dictionary_index(_reader: Self::Reader<'_>, _i: usize) -> Option<usize> {
        None
    }
}

macro_rules! key_by_value {
    ($($ty:ty),*) => {$(
        impl KeyField for $ty {
            #[inline(always)]
            fn borrow(&self) -> $ty { *self }
            #[inline(always)]
            fn hash_ref<H: Hasher>(value: $ty, state: &mut H) { value.hash(state) }
            #[inline(always)]
            fn equals(&self, value: $ty) -> bool { *self == value }
            fn compare(&self, other: &Self) -> std::cmp::Ordering { self.cmp(other) }
        }
    )*};
}
key_by_value!(
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    bool,
    chrono::NaiveDate,
    chrono::NaiveDateTime,
    chrono::DateTime<chrono::Utc>
);

impl KeyField for String {
    #[inline(always)]
    fn borrow(&self) -> &str {
        self
    }
    fn dictionary_len(reader: crate::record::StrReader<'_>) -> usize {
        match reader {
            crate::record::StrReader::Dictionary { values, .. } => arrow::array::Array::len(values),
            crate::record::StrReader::Plain(_) => 0,
        }
    }
    #[inline(always)]
    fn dictionary_index(reader: crate::record::StrReader<'_>, i: usize) -> Option<usize> {
        match reader {
            crate::record::StrReader::Dictionary { keys, .. } => Some(keys[i] as usize),
            crate::record::StrReader::Plain(_) => None,
        }
    }
    #[inline(always)]
    fn hash_ref<H: Hasher>(value: &str, state: &mut H) {
        value.hash(state)
    }
    #[inline(always)]
    fn equals(&self, value: &str) -> bool {
        self == value
    }
    fn compare(&self, other: &Self) -> std::cmp::Ordering {
        self.cmp(other)
    }
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl KeyField for Vec<u8> {
    fn borrow(&self) -> &[u8] {
        self
    }
    fn hash_ref<H: Hasher>(value: &[u8], state: &mut H) {
        value.hash(state)
    }
    fn equals(&self, value: &[u8]) -> bool {
        self == value
    }
    fn compare(&self, other: &Self) -> std::cmp::Ordering {
        self.cmp(other)
    }
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

/// A null key is a group of its own; it sorts before every value.
impl<T: KeyField> KeyField for Option<T> {
    #[inline(always)]
    fn borrow(&self) -> Option<T::Ref<'_>> {
        self.as_ref().map(T::borrow)
    }
    #[inline(always)]
    fn hash_ref<H: Hasher>(value: Option<T::Ref<'_>>, state: &mut H) {
        match value {
            None => state.write_u8(0),
            Some(v) => {
                state.write_u8(1);
                T::hash_ref(v, state)
            }
        }
    }
    #[inline(always)]
    fn equals(&self, value: Option<T::Ref<'_>>) -> bool {
        match (self, value) {
            (None, None) => true,
            (Some(a), Some(b)) => a.equals(b),
            _ => false,
        }
    }
    fn compare(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(a), Some(b)) => a.compare(b),
        }
    }
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, T::heap_bytes)
    }
    fn dictionary_len((reader, _): Self::Reader<'_>) -> usize {
        T::dictionary_len(reader)
    }
    #[inline(always)]
    fn dictionary_index((reader, nulls): Self::Reader<'_>, i: usize) -> Option<usize> {
        match nulls {
            Some(nulls) if nulls.is_null(i) => None,
            _ => T::dictionary_index(reader, i),
        }
    }
}

/// The key of a group: a tuple of [`KeyField`]s (`()` for a whole-dataset aggregate).
pub trait GroupKey: Sized + Send + Sync + 'static {
    /// The borrowed key, as read from a block.
    type Ref<'a>: Copy;
    /// The builders of the key columns.
    type Builders;
    /// Hash a borrowed key.
    fn hash_ref<H: Hasher>(key: Self::Ref<'_>, state: &mut H);
    /// Whether this key equals a borrowed one.
    fn equals(&self, key: Self::Ref<'_>) -> bool;
    /// The borrowed form of this key.
    fn borrow(&self) -> Self::Ref<'_>;
    /// The owned form of a borrowed key.
    fn to_owned(key: Self::Ref<'_>) -> Self;
    /// Order two keys (output groups are sorted by key).
    fn compare(&self, other: &Self) -> std::cmp::Ordering;
    /// Bytes the key holds on the heap.
    fn heap_bytes(&self) -> usize;
    /// Builders for `capacity` keys.
    fn builders(capacity: usize) -> Self::Builders;
    /// Append this key's columns.
    fn append(&self, builders: &mut Self::Builders);
    /// The key columns built so far.
    fn finish(builders: &mut Self::Builders) -> Vec<ArrayRef>;
    /// The key at row `i` of key columns made by [`GroupKey::finish`].
    fn read(columns: &[ArrayRef], i: usize) -> Option<Self>;
}

macro_rules! tuple_key {
    ($($name:ident $index:tt),*) => {
        impl<$($name: KeyField),*> GroupKey for ($($name,)*) {
            type Ref<'a> = ($($name::Ref<'a>,)*);
            type Builders = ($($name::Builder,)*);
            #[inline(always)]
            #[allow(unused_variables)]
            fn hash_ref<H: Hasher>(key: Self::Ref<'_>, state: &mut H) {
                $($name::hash_ref(key.$index, state);)*
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn equals(&self, key: Self::Ref<'_>) -> bool {
                true $(&& self.$index.equals(key.$index))*
            }
            #[allow(clippy::unused_unit)]
            fn borrow(&self) -> Self::Ref<'_> {
                ($(self.$index.borrow(),)*)
            }
            #[allow(unused_variables, clippy::unused_unit)]
            fn to_owned(key: Self::Ref<'_>) -> Self {
                ($(<$name as Field>::to_owned(key.$index),)*)
            }
            #[allow(unused_variables)]
            fn compare(&self, other: &Self) -> std::cmp::Ordering {
                std::cmp::Ordering::Equal $(.then_with(|| self.$index.compare(&other.$index)))*
            }
            fn heap_bytes(&self) -> usize {
                0 $(+ self.$index.heap_bytes())*
            }
            #[allow(unused_variables, clippy::unused_unit)]
            fn builders(capacity: usize) -> Self::Builders {
                ($(<$name as Field>::builder(capacity),)*)
            }
            #[allow(unused_variables)]
            fn append(&self, builders: &mut Self::Builders) {
                $(<$name as Field>::append_owned(&mut builders.$index, &self.$index);)*
            }
            #[allow(unused_variables)]
            fn finish(builders: &mut Self::Builders) -> Vec<ArrayRef> {
                vec![$(builders.$index.finish(),)*]
            }
            #[allow(unused_variables, clippy::unused_unit)]
            fn read(columns: &[ArrayRef], i: usize) -> Option<Self> {
                Some(($(<$name as Field>::to_owned(<$name as Field>::get(
                    <$name as Field>::reader(columns.get($index)?.as_ref())?,
                    i,
                )),)*))
            }
        }
    };
}

tuple_key!();
tuple_key!(A 0);
tuple_key!(A 0, B 1);
tuple_key!(A 0, B 1, C 2);
tuple_key!(A 0, B 1, C 2, D 3);
tuple_key!(A 0, B 1, C 2, D 3, E 4);
tuple_key!(A 0, B 1, C 2, D 3, E 4, F 5);
