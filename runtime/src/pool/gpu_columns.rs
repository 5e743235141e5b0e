//! The runtime side of `with_columns(.., num_gpus = n)`: a pooled stage whose workers run the
//! stage's compiled PTX kernel on their device, or its compiled CPU code where there is no
//! device (see `codegen/src/ptx/` for how the kernel matches the CPU code bit for bit).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::{BoxError, Compute, PoolSpec, Resources, StatefulWorker, Worker};
use crate::error::StageError;

/// A stage's kernel as codegen emitted it.
#[derive(Clone)]
pub struct ColumnsKernel {
    /// The PTX module.
    pub ptx: &'static str,
    /// The kernel's name in it.
    pub name: &'static str,
    /// The columns it reads, in parameter order (after the row count), with the bytes of
    /// one value of each.
    pub inputs: &'static [(&'static str, usize)],
    /// The columns it writes, in parameter order (after the inputs).
    pub outputs: &'static [&'static str],
    /// Elements per row: 1, or the element count of the tensors of a stage over tensors
    /// (whose kernel runs a thread per element).
    pub elements: usize,
    /// The stage's output schema.
    pub schema: SchemaRef,
}

/// The stage's CPU code: the fused loop of the same expressions.
pub type CpuColumns = Arc<dyn Fn(RecordBatch) -> Result<RecordBatch, StageError> + Send + Sync>;

/// The pool of a GPU column stage: each worker placed on a device runs `kernel` there, each
/// worker without one runs `cpu`.
pub fn gpu_columns_pool(
    kernel: ColumnsKernel,
    cpu: CpuColumns,
    gpus: f64,
    cpu_fallback: bool,
) -> Arc<PoolSpec> {
    let resources = Resources {
        gpus: Some(gpus),
        cpu_fallback,
        ..Resources::default()
    };
    // Workers are cheap on the CPU; on GPUs the devices cap their number.
    let compute = Compute::Actors { min: 1, max: 256 };
    Arc::new(PoolSpec::new(
        compute,
        resources,
        move |devices: &[usize]| match devices.first() {
            None => {
                let cpu = cpu.clone();
                let call = move |_: &mut (), block: RecordBatch| cpu(block);
                Ok(Box::new(StatefulWorker { state: (), call }) as Box<dyn Worker>)
            }
            Some(&device) => on_device(&kernel, device),
        },
    ))
}

#[cfg(not(feature = "cuda"))]
fn on_device(_: &ColumnsKernel, device: usize) -> Result<Box<dyn Worker>, BoxError> {
    Err(format!("placed on GPU {device}, but aqueduct was built without the `cuda` feature").into())
}

#[cfg(feature = "cuda")]
fn on_device(kernel: &ColumnsKernel, device: usize) -> Result<Box<dyn Worker>, BoxError> {
    Ok(Box::new(cuda::ColumnsWorker::new(kernel.clone(), device)?))
}

#[cfg(feature = "cuda")]
mod cuda {
    use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, FixedSizeListArray, make_array};
    use arrow::buffer::Buffer;
    use arrow::datatypes::DataType;
    use arrow::record_batch::RecordBatch;

    use super::ColumnsKernel;
    use crate::error::StageError;
    use crate::gpu::{Arg, DeviceWorker, GpuError, Layout};
    use crate::pool::Worker;

    /// Device memory a column stage's buffers may use per worker.
    const DEVICE_MEMORY: usize = 256 << 20;
    const BLOCK: u32 = 256;

    pub struct ColumnsWorker {
        kernel: ColumnsKernel,
        device: DeviceWorker,
        output_types: Vec<DataType>,
    }

    /// The bytes of one element of a column of `data_type` (a tensor's: of its values).
    fn width(data_type: &DataType) -> Option<usize> {
        match data_type {
            DataType::Boolean => Some(1),
            DataType::FixedSizeList(item, _) => item.data_type().primitive_width(),
            other => other.primitive_width(),
        }
    }

    /// A numeric column's values (a tensor column's: the values of all its elements).
    fn values(column: &ArrayRef) -> ArrayRef {
        match column.data_type() {
            DataType::FixedSizeList(..) => column.as_fixed_size_list().values().clone(),
            _ => column.clone(),
        }
    }

    impl ColumnsWorker {
        pub fn new(kernel: ColumnsKernel, device: usize) -> Result<Self, GpuError> {
            let schema = kernel.schema.clone();
            let type_of = |name: &str| -> Result<DataType, GpuError> {
                schema
                    .field_with_name(name)
                    .map(|f| f.data_type().clone())
                    .map_err(|e| GpuError::Shape(e.to_string()))
            };
            let output_types = kernel
                .outputs
                .iter()
                .map(|n| type_of(n))
                .collect::<Result<Vec<_>, _>>()?;
            let input_widths: Vec<usize> = kernel.inputs.iter().map(|(_, w)| *w).collect();
            let layout = Layout {
                inputs: input_widths.clone(),
                outputs: output_types.iter().map(|t| width(t).unwrap_or(0)).collect(),
                scratch: Vec::new(),
            };
            let device = DeviceWorker::new(device, kernel.name, kernel.ptx, layout, DEVICE_MEMORY)?;
            Ok(ColumnsWorker {
                kernel,
                device,
                output_types,
            })
        }

        fn run(&mut self, block: RecordBatch) -> Result<RecordBatch, String> {
            let rows = block.num_rows();
            // A thread per element: a tensor stage's rows are its elements.
            let elements = rows * self.kernel.elements;
            let mut datas = Vec::with_capacity(self.kernel.inputs.len());
            for &(name, width) in self.kernel.inputs {
                let column = block
                    .column_by_name(name)
                    .ok_or_else(|| format!("no column `{name}` in the block"))?;
                if column.null_count() > 0 {
                    return Err(format!(
                        "column `{name}` has nulls; a GPU stage reads non-null columns"
                    ));
                }
                datas.push((values(column).to_data(), width));
            }
            let inputs: Vec<&[u8]> = datas
                .iter()
                .map(|(data, width)| {
                    let start = data.offset() * width;
                    &data.buffers()[0].as_slice()[start..start + elements * width]
                })
                .collect();
            let mut outputs: Vec<Vec<u8>> = self
                .output_types
                .iter()
                .map(|t| vec![0u8; elements * width(t).unwrap_or(0)])
                .collect();
            let mut views: Vec<&mut [u8]> = outputs.iter_mut().map(|o| o.as_mut_slice()).collect();
            let name = self.kernel.name;
            self.device
                .run(elements, &inputs, &mut views, |launch, chunk| {
                    let mut args = vec![Arg::U32(chunk.rows)];
                    args.extend(&chunk.inputs);
                    args.extend(&chunk.outputs);
                    launch.launch(name, chunk.rows.div_ceil(BLOCK), BLOCK, &args)
                })
                .map_err(|e| e.to_string())?;
            let mut computed = self
                .kernel
                .outputs
                .iter()
                .zip(outputs)
                .zip(&self.output_types);
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.kernel.schema.fields().len());
            let mut new: Vec<(&str, ArrayRef)> = Vec::new();
            for ((name, bytes), data_type) in computed.by_ref() {
                let array: ArrayRef = match data_type {
                    DataType::Boolean => std::sync::Arc::new(BooleanArray::from(
                        bytes.iter().map(|b| *b != 0).collect::<Vec<bool>>(),
                    )),
                    DataType::FixedSizeList(item, size) => {
                        let data = arrow::array::ArrayData::builder(item.data_type().clone())
                            .len(elements)
                            .add_buffer(Buffer::from_vec(bytes))
                            .build()
                            .map_err(|e| e.to_string())?;
                        std::sync::Arc::new(
                            FixedSizeListArray::try_new(
                                item.clone(),
                                *size,
                                make_array(data),
                                None,
                            )
                            .map_err(|e| e.to_string())?,
                        )
                    }
                    other => {
                        let data = arrow::array::ArrayData::builder(other.clone())
                            .len(rows)
                            .add_buffer(Buffer::from_vec(bytes))
                            .build()
                            .map_err(|e| e.to_string())?;
                        make_array(data)
                    }
                };
                new.push((name, array));
            }
            for field in self.kernel.schema.fields() {
                let column = match new.iter().find(|(n, _)| *n == field.name()) {
                    Some((_, array)) => array.clone(),
                    None => block
                        .column_by_name(field.name())
                        .ok_or_else(|| format!("no column `{}` in the block", field.name()))?
                        .clone(),
                };
                columns.push(column);
            }
            RecordBatch::try_new(self.kernel.schema.clone(), columns).map_err(|e| e.to_string())
        }
    }

    impl Worker for ColumnsWorker {
        fn call(&mut self, block: RecordBatch) -> Result<RecordBatch, StageError> {
            self.run(block)
                .map_err(|reason| StageError::User(reason.into()))
        }
    }
}
