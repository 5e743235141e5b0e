//! A GPU worker on `cust`: one per pool worker placed on a device (see `mod.rs`).

use std::ffi::{CString, c_void};
use std::sync::OnceLock;

use cust::context::{Context, CurrentContext};
use cust::device::Device;
use cust::memory::{AsyncCopyDestination, DeviceBuffer, DeviceCopy, LockedBuffer};
use cust::module::Module;
use cust::stream::{Stream, StreamFlags};

use super::ptx::{Arg, Signatures};

/// The fewest rows a batch is split into chunks of (unless the budget allows fewer).
const MIN_CHUNK: usize = 1024;

/// Something the GPU path could not do.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// The driver refused a call.
    #[error("CUDA on device {device}: {during}: {message}")]
    Driver {
        device: usize,
        during: String,
        message: String,
    },
    /// A PTX module did not load (the driver's JIT rejected it).
    #[error("kernel module `{module}` failed to load on device {device}: {message}{log}")]
    Load {
        module: String,
        device: usize,
        message: String,
        /// The JIT's error log, when it wrote one (starts with a newline).
        log: String,
    },
    /// A launch does not match the kernel, or the driver refused it.
    #[error("launching kernel `{kernel}` of module `{module}`: {reason}")]
    Launch {
        module: String,
        kernel: String,
        reason: String,
    },
    /// Device memory could not be had.
    #[error("device {device} cannot give {bytes} bytes for {what}: {message}")]
    Memory {
        device: usize,
        bytes: usize,
        what: String,
        message: String,
    },
    /// The host data handed to a run does not match its layout.
    #[error("{0}")]
    Shape(String),
}

/// The number of CUDA devices (0 when the driver says there are none, or is a stand-in).
pub(super) fn device_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let counted = cust::init(cust::CudaFlags::empty()).and_then(|()| Device::num_devices());
        match counted {
            Ok(n) => n as usize,
            Err(e) => {
                tracing::debug!("no CUDA device: {e}");
                0
            }
        }
    })
}

/// What a run's rows look like: bytes per row of each input and output column, and of
/// per-row scratch space kept on the device between kernels (a hidden layer, say).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
    pub scratch: Vec<usize>,
}

impl Layout {
    fn row_bytes(&self) -> usize {
        self.inputs
            .iter()
            .chain(&self.outputs)
            .chain(&self.scratch)
            .sum()
    }
}

/// An array kept on the device (weights, a lookup table), uploaded once.
pub struct DeviceArray<T: DeviceCopy> {
    buffer: DeviceBuffer<T>,
    // Retained so the array can be freed from any thread, after the worker is gone.
    context: Context,
}

impl<T: DeviceCopy> Drop for DeviceArray<T> {
    fn drop(&mut self) {
        // cuMemFree needs the owning context current on the dropping thread.
        let _ = CurrentContext::set_current(&self.context);
    }
}

impl<T: DeviceCopy> DeviceArray<T> {
    /// The array's device address, as a kernel argument.
    pub fn pointer(&self) -> Arg {
        Arg::Pointer(self.buffer.as_device_ptr().as_raw())
    }

    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.len() == 0
    }
}

/// The device addresses of one chunk's columns, for the kernels' arguments.
pub struct Chunk {
    /// Rows in this chunk.
    pub rows: u32,
    pub inputs: Vec<Arg>,
    pub outputs: Vec<Arg>,
    pub scratch: Vec<Arg>,
}

/// Launches kernels of the worker's module on one chunk's stream.
pub struct Launcher<'a> {
    module: &'a Module,
    module_name: &'a str,
    signatures: &'a Signatures,
    stream: &'a Stream,
}

impl Launcher<'_> {
    /// Launch `kernel` on `grid` blocks of `block` threads with `args`, checked against the
    /// kernel's PTX declaration first.
    pub fn launch(
        &self,
        kernel: &str,
        grid: u32,
        block: u32,
        args: &[Arg],
    ) -> Result<(), GpuError> {
        let failed = |reason: String| GpuError::Launch {
            module: self.module_name.to_owned(),
            kernel: kernel.to_owned(),
            reason,
        };
        self.signatures.check(kernel, args).map_err(failed)?;
        let function = self
            .module
            .get_function(kernel)
            .map_err(|e| failed(e.to_string()))?;
        let mut values: Vec<[u8; 8]> = args.iter().map(Arg::bytes).collect();
        let pointers: Vec<*mut c_void> = values
            .iter_mut()
            .map(|v| v.as_mut_ptr() as *mut c_void)
            .collect();
        // SAFETY: every argument was checked against the kernel's declared parameters
        // (count and width); the values outlive the call, which copies them.
        unsafe { self.stream.launch(&function, grid, block, 0, &pointers) }
            .map_err(|e| failed(e.to_string()))
    }
}

/// One of the two halves of the double buffering: a stream and its buffers.
struct Slot {
    stream: Stream,
    host_in: Vec<LockedBuffer<u8>>,
    device_in: Vec<DeviceBuffer<u8>>,
    device_out: Vec<DeviceBuffer<u8>>,
    host_out: Vec<LockedBuffer<u8>>,
    scratch: Vec<DeviceBuffer<u8>>,
    /// The rows (first, count) in flight on this slot.
    pending: Option<(usize, usize)>,
}

/// A worker's hold on one GPU (see the module docs).
pub struct DeviceWorker {
    device: usize,
    module_name: String,
    signatures: Signatures,
    layout: Layout,
    chunk_rows: usize,
    slots: Vec<Slot>,
    // Dropped after the buffers and streams that belong to it.
    module: Module,
    context: Context,
}

impl DeviceWorker {
    /// Take device `device`: its primary context, `ptx` loaded as `module_name`, and two
    /// slots of buffers for `layout`, using at most `device_memory` bytes of the device.
    pub fn new(
        device: usize,
        module_name: &str,
        ptx: &str,
        layout: Layout,
        device_memory: usize,
    ) -> Result<Self, GpuError> {
        let driver = |during: &str| {
            let during = during.to_owned();
            move |e: cust::error::CudaError| GpuError::Driver {
                device,
                during,
                message: e.to_string(),
            }
        };
        if device_count() <= device {
            return Err(GpuError::Driver {
                device,
                during: "choosing the device".into(),
                message: format!("this machine has {} CUDA device(s)", device_count()),
            });
        }
        let handle = Device::get_device(device as u32).map_err(driver("getting the device"))?;
        let context = Context::new(handle).map_err(driver("creating its context"))?;
        CurrentContext::set_current(&context).map_err(driver("making its context current"))?;
        let module = load(device, module_name, ptx)?;
        let row_bytes = layout.row_bytes().max(1);
        let chunk_rows = device_memory / (2 * row_bytes);
        if chunk_rows == 0 {
            return Err(GpuError::Memory {
                device,
                bytes: 2 * row_bytes,
                what: format!("one row of `{module_name}` in each of two buffers"),
                message: format!("its device memory budget is {device_memory} bytes"),
            });
        }
        let chunk_rows = chunk_rows.min(1 << 16);
        let allocate = |bytes: usize, what: &str| -> Result<DeviceBuffer<u8>, GpuError> {
            // SAFETY: the buffer is written (by a copy or a kernel) before it is read.
            unsafe { DeviceBuffer::uninitialized(bytes.max(1)) }.map_err(|e| GpuError::Memory {
                device,
                bytes,
                what: what.to_owned(),
                message: e.to_string(),
            })
        };
        let pin = |bytes: usize| -> Result<LockedBuffer<u8>, GpuError> {
            LockedBuffer::new(&0u8, bytes.max(1)).map_err(driver("pinning host memory"))
        };
        let mut slots = Vec::with_capacity(2);
        for _ in 0..2 {
            let bytes =
                |widths: &[usize]| widths.iter().map(|w| w * chunk_rows).collect::<Vec<_>>();
            slots.push(Slot {
                stream: Stream::new(StreamFlags::NON_BLOCKING, None)
                    .map_err(driver("creating a stream"))?,
                host_in: bytes(&layout.inputs)
                    .into_iter()
                    .map(pin)
                    .collect::<Result<_, _>>()?,
                device_in: bytes(&layout.inputs)
                    .into_iter()
                    .map(|b| allocate(b, "an input column"))
                    .collect::<Result<_, _>>()?,
                device_out: bytes(&layout.outputs)
                    .into_iter()
                    .map(|b| allocate(b, "an output column"))
                    .collect::<Result<_, _>>()?,
                host_out: bytes(&layout.outputs)
                    .into_iter()
                    .map(pin)
                    .collect::<Result<_, _>>()?,
                scratch: bytes(&layout.scratch)
                    .into_iter()
                    .map(|b| allocate(b, "scratch space"))
                    .collect::<Result<_, _>>()?,
                pending: None,
            });
        }
        Ok(DeviceWorker {
            device,
            module_name: module_name.to_owned(),
            signatures: Signatures::parse(ptx),
            layout,
            chunk_rows,
            slots,
            module,
            context,
        })
    }

    /// The device this worker uses.
    pub fn device(&self) -> usize {
        self.device
    }

    /// The most rows per chunk (what the device-memory budget allows).
    pub fn chunk_rows(&self) -> usize {
        self.chunk_rows
    }

    /// Copy `values` to the device, to stay there for this worker's launches.
    pub fn upload<T: DeviceCopy>(&self, values: &[T]) -> Result<DeviceArray<T>, GpuError> {
        CurrentContext::set_current(&self.context)
            .map_err(|e| self.driver("making its context current", e))?;
        let context = Device::get_device(self.device as u32)
            .and_then(Context::new)
            .map_err(|e| self.driver("retaining its context", e))?;
        DeviceBuffer::from_slice(values)
            .map(|buffer| DeviceArray { buffer, context })
            .map_err(|e| GpuError::Memory {
                device: self.device,
                bytes: std::mem::size_of_val(values),
                what: "an uploaded array".into(),
                message: e.to_string(),
            })
    }

    fn driver(&self, during: &str, e: cust::error::CudaError) -> GpuError {
        GpuError::Driver {
            device: self.device,
            during: during.to_owned(),
            message: e.to_string(),
        }
    }

    /// Run `rows` rows through the device: `inputs[i]` holds `rows × layout.inputs[i]`
    /// bytes, `outputs[i]` receives `rows × layout.outputs[i]`. For each chunk, `launch`
    /// enqueues the kernels (on the chunk's stream, between its copies in and out).
    pub fn run(
        &mut self,
        rows: usize,
        inputs: &[&[u8]],
        outputs: &mut [&mut [u8]],
        mut launch: impl FnMut(&Launcher, &Chunk) -> Result<(), GpuError>,
    ) -> Result<(), GpuError> {
        self.check_shapes(rows, inputs, outputs)?;
        CurrentContext::set_current(&self.context)
            .map_err(|e| self.driver("making its context current", e))?;
        // At least four chunks for a large batch, so that copies overlap kernels within it;
        // no chunk smaller than MIN_CHUNK rows, where launch costs would dominate.
        let chunk_rows = self.chunk_rows.min(rows.div_ceil(4).max(MIN_CHUNK)).max(1);
        let chunks = rows.div_ceil(chunk_rows);
        for k in 0..chunks {
            let slot = k % 2;
            // The chunk that used this slot two steps ago is done (or we wait for it); the
            // other slot's chunk keeps the device busy meanwhile.
            self.finish(slot, outputs)?;
            let first = k * chunk_rows;
            let count = chunk_rows.min(rows - first);
            self.start(slot, first, count, inputs, &mut launch)?;
        }
        self.finish(chunks % 2, outputs)?;
        self.finish((chunks + 1) % 2, outputs)
    }

    fn check_shapes(
        &self,
        rows: usize,
        inputs: &[&[u8]],
        outputs: &[&mut [u8]],
    ) -> Result<(), GpuError> {
        let check = |kind: &str, widths: &[usize], lengths: Vec<usize>| {
            if widths.len() != lengths.len() {
                return Err(GpuError::Shape(format!(
                    "`{}` takes {} {kind} column(s), got {}",
                    self.module_name,
                    widths.len(),
                    lengths.len()
                )));
            }
            for (i, (width, length)) in widths.iter().zip(lengths).enumerate() {
                if width * rows != length {
                    return Err(GpuError::Shape(format!(
                        "{kind} column {i} of `{}` has {length} bytes; {rows} rows of {width} need {}",
                        self.module_name,
                        width * rows
                    )));
                }
            }
            Ok(())
        };
        check(
            "input",
            &self.layout.inputs,
            inputs.iter().map(|c| c.len()).collect(),
        )?;
        check(
            "output",
            &self.layout.outputs,
            outputs.iter().map(|c| c.len()).collect(),
        )
    }

    fn start(
        &mut self,
        slot: usize,
        first: usize,
        count: usize,
        inputs: &[&[u8]],
        launch: &mut impl FnMut(&Launcher, &Chunk) -> Result<(), GpuError>,
    ) -> Result<(), GpuError> {
        let device = self.device;
        let driver = |during: &str, e: cust::error::CudaError| GpuError::Driver {
            device,
            during: during.to_owned(),
            message: e.to_string(),
        };
        let s = &mut self.slots[slot];
        for (i, width) in self.layout.inputs.iter().enumerate() {
            let bytes = count * width;
            let host = &mut s.host_in[i].as_mut_slice()[..bytes];
            host.copy_from_slice(&inputs[i][first * width..first * width + bytes]);
            let mut target = s.device_in[i].index(..bytes);
            // SAFETY: the pinned source stays alive and untouched until `finish` synchronizes
            // this slot's stream.
            unsafe { target.async_copy_from(&*host, &s.stream) }
                .map_err(|e| driver("copying a chunk to the device", e))?;
        }
        let address = |buffer: &DeviceBuffer<u8>| Arg::Pointer(buffer.as_device_ptr().as_raw());
        let chunk = Chunk {
            rows: count as u32,
            inputs: s.device_in.iter().map(address).collect(),
            outputs: s.device_out.iter().map(address).collect(),
            scratch: s.scratch.iter().map(address).collect(),
        };
        launch(
            &Launcher {
                module: &self.module,
                module_name: &self.module_name,
                signatures: &self.signatures,
                stream: &s.stream,
            },
            &chunk,
        )?;
        for (i, width) in self.layout.outputs.iter().enumerate() {
            let bytes = count * width;
            let source = s.device_out[i].index(..bytes);
            let host = &mut s.host_out[i].as_mut_slice()[..bytes];
            // SAFETY: as above; read only after the stream is synchronized.
            unsafe { source.async_copy_to(host, &s.stream) }
                .map_err(|e| driver("copying a chunk from the device", e))?;
        }
        s.pending = Some((first, count));
        Ok(())
    }

    fn finish(&mut self, slot: usize, outputs: &mut [&mut [u8]]) -> Result<(), GpuError> {
        let s = &mut self.slots[slot];
        let Some((first, count)) = s.pending.take() else {
            return Ok(());
        };
        s.stream.synchronize().map_err(|e| GpuError::Driver {
            device: self.device,
            during: format!(
                "running `{}` on rows {first}..{}",
                self.module_name,
                first + count
            ),
            message: e.to_string(),
        })?;
        for (i, width) in self.layout.outputs.iter().enumerate() {
            let bytes = count * width;
            outputs[i][first * width..first * width + bytes]
                .copy_from_slice(&s.host_out[i].as_slice()[..bytes]);
        }
        Ok(())
    }
}

impl Drop for DeviceWorker {
    fn drop(&mut self) {
        // The pool may drop a worker on any thread: the buffers, streams and module are
        // released in this context, so it must be current here.
        let _ = CurrentContext::set_current(&self.context);
    }
}

/// Load `ptx`; when the driver refuses, load it again asking for the JIT's error log.
fn load(device: usize, name: &str, ptx: &str) -> Result<Module, GpuError> {
    match Module::from_ptx(ptx, &[]) {
        Ok(module) => Ok(module),
        Err(error) => Err(GpuError::Load {
            module: name.to_owned(),
            device,
            message: error.to_string(),
            log: jit_log(ptx)
                .map(|log| format!("\n{log}"))
                .unwrap_or_default(),
        }),
    }
}

/// The JIT's error log for `ptx`, if it writes one.
fn jit_log(ptx: &str) -> Option<String> {
    use cust::sys::{CUjit_option, cuModuleLoadDataEx, cuModuleUnload};
    let image = CString::new(ptx).ok()?;
    let mut log = vec![0u8; 8192];
    let mut options = [
        CUjit_option::CU_JIT_ERROR_LOG_BUFFER,
        CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
    ];
    // cuModuleLoadDataEx takes option values that fit a pointer by value.
    let mut values = [log.as_mut_ptr() as *mut c_void, log.len() as *mut c_void];
    let mut module = std::ptr::null_mut();
    // SAFETY: the buffers outlive the call; the module, if one loads, is unloaded.
    let result = unsafe {
        cuModuleLoadDataEx(
            &mut module,
            image.as_ptr() as *const c_void,
            options.len() as u32,
            options.as_mut_ptr(),
            values.as_mut_ptr(),
        )
    };
    if result == cust::sys::cudaError_enum::CUDA_SUCCESS {
        // SAFETY: just loaded.
        unsafe { cuModuleUnload(module) };
        return None;
    }
    let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]).trim().to_owned();
    (!text.is_empty()).then_some(text)
}
