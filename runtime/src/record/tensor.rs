//! `Tensor<T, D0, D1, D2>`: a fixed-shape tensor column (an image, an embedding), its shape and
//! element type in its type. Stored row-major as an Arrow fixed-size list of `D0·D1·D2`
//! values; read as a borrowed `&[T]` slice of the block, without copying.

use std::sync::Arc;

use arrow::array::{Array, AsArray, FixedSizeListBuilder, PrimitiveBuilder};
use arrow::datatypes::{self as dt, ArrowPrimitiveType, DataType};

use super::Field;

/// An element type of a tensor.
pub trait TensorElement:
    arrow::datatypes::ArrowNativeType + Default + PartialEq + Send + Sync + std::fmt::Debug + 'static
{
    /// The Arrow type of the values.
    type Arrow: ArrowPrimitiveType<Native = Self>;
    /// A byte (an image's pixel) as this type.
    fn from_u8(value: u8) -> Self;
}

macro_rules! elements {
    ($($rust:ty => $arrow:ty),*) => {$(
        impl TensorElement for $rust {
            type Arrow = $arrow;
            fn from_u8(value: u8) -> Self { value as $rust }
        }
    )*};
}
elements!(
    u8 => dt::UInt8Type, u16 => dt::UInt16Type, u32 => dt::UInt32Type, u64 => dt::UInt64Type,
    i8 => dt::Int8Type, i16 => dt::Int16Type, i32 => dt::Int32Type, i64 => dt::Int64Type,
    f32 => dt::Float32Type, f64 => dt::Float64Type
);

/// A tensor of shape `[D0, D1, D2]` (trailing dimensions default to 1): `Tensor<u8, 8, 8>` is
/// an 8×8 grayscale image, `Tensor<u8, 32, 32, 3>` an RGB one, `Tensor<f32, 128>` a vector.
#[derive(Clone, PartialEq, Debug)]
pub struct Tensor<T, const D0: usize, const D1: usize = 1, const D2: usize = 1> {
    values: Vec<T>,
}

impl<T: TensorElement, const D0: usize, const D1: usize, const D2: usize> Tensor<T, D0, D1, D2> {
    /// Number of values.
    pub const LEN: usize = D0 * D1 * D2;
    /// The shape.
    pub const SHAPE: [usize; 3] = [D0, D1, D2];

    /// A tensor of `values`, row-major; `None` unless there are exactly `LEN` of them.
    pub fn new(values: Vec<T>) -> Option<Self> {
        (values.len() == Self::LEN).then_some(Self { values })
    }

    /// A tensor of zeros.
    pub fn zeros() -> Self {
        Self {
            values: vec![T::default(); Self::LEN],
        }
    }

    /// The values, row-major.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// The values, row-major, to change in place.
    pub fn values_mut(&mut self) -> &mut [T] {
        &mut self.values
    }

    /// The value at `[i, j, k]`.
    pub fn at(&self, i: usize, j: usize, k: usize) -> T {
        self.values[(i * D1 + j) * D2 + k]
    }
}

/// Generated elementwise code reads owned tensors and borrowed slices alike.
impl<T, const D0: usize, const D1: usize, const D2: usize> AsRef<[T]> for Tensor<T, D0, D1, D2> {
    fn as_ref(&self) -> &[T] {
        &self.values
    }
}

impl<T: TensorElement, const D0: usize, const D1: usize, const D2: usize> Default
    for Tensor<T, D0, D1, D2>
{
    fn default() -> Self {
        Self::zeros()
    }
}

fn item<T: TensorElement>() -> Arc<dt::Field> {
    Arc::new(dt::Field::new("item", T::Arrow::DATA_TYPE, false))
}

impl<T: TensorElement, const D0: usize, const D1: usize, const D2: usize> Field
    for Tensor<T, D0, D1, D2>
{
    type Ref<'a> = &'a [T];
    /// The values of the block's column, and where its first row starts.
    type Reader<'a> = (&'a [T], usize);
    type Builder = FixedSizeListBuilder<PrimitiveBuilder<T::Arrow>>;

    fn data_type() -> DataType {
        DataType::FixedSizeList(item::<T>(), Self::LEN as i32)
    }
    fn reader(array: &dyn Array) -> Option<Self::Reader<'_>> {
        let list = array.as_fixed_size_list_opt()?;
        if list.value_length() as usize != Self::LEN {
            return None;
        }
        let values = list.values().as_primitive_opt::<T::Arrow>()?;
        let start = if list.is_empty() {
            0
        } else {
            list.value_offset_at(0)
        };
        Some((values.values().as_ref(), start))
    }
    #[inline(always)]
    fn get<'a>((values, start): Self::Reader<'a>, i: usize) -> &'a [T] {
        let from = start + i * Self::LEN;
        &values[from..from + Self::LEN]
    }
    fn to_owned(value: &[T]) -> Self {
        Self {
            values: value.to_vec(),
        }
    }
    fn builder(capacity: usize) -> Self::Builder {
        FixedSizeListBuilder::with_capacity(
            PrimitiveBuilder::with_capacity(capacity * Self::LEN),
            Self::LEN as i32,
            capacity,
        )
        .with_field(item::<T>())
    }
    fn append(builder: &mut Self::Builder, value: &[T]) {
        builder.values().append_slice(value);
        builder.append(true)
    }
    fn append_owned(builder: &mut Self::Builder, value: &Self) {
        Self::append(builder, &value.values)
    }
    fn append_null(builder: &mut Self::Builder) {
        builder
            .values()
            .append_slice(&vec![T::default(); Self::LEN]);
        builder.append(false)
    }
    fn tensor_shape() -> Option<[usize; 3]> {
        Some(Self::SHAPE)
    }
}
