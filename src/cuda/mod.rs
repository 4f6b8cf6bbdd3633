//! The GPU path (feature `cuda`): batched pair losses and fused sequence log-probabilities in
//! CUDA kernels, driven through the `cust` crate, cross-checked against the CPU oracle.
//!
//! The kernels are CUDA C (`src/cuda/kernels/*.cu`); their PTX is committed beside them, made by
//! `scripts/gen-ptx.sh` (nvcc 13.0, `compute_75`, PTX ISA 9.0) and embedded here, so building the
//! crate needs no CUDA toolkit. Linking needs a `libcuda.so`: on a machine without a driver,
//! `scripts/cuda-stub.sh` makes a stand-in whose every call fails with code 34, and [`Gpu::new`]
//! then reports [`CudaError::DriverUnavailable`].
//!
//! Every call to the driver returns a [`Result`]; every length, shape, label and parameter is
//! checked before a launch, as is the device memory a call would allocate. All work runs on one
//! stream created with `StreamFlags::DEFAULT`, which the driver orders after the synchronous
//! copies and memsets that `cust` issues on the legacy default stream.
//!
//! This module is the only place in the crate with `unsafe` code: the kernel launches, the
//! allocation of buffers that a kernel or a copy writes in full before they are read, and one
//! asynchronous device-to-device copy.

mod bf16;
mod error;
pub mod logps;
pub mod losses;
mod ptx;
mod signature;
mod timing;

pub use bf16::Bf16;
pub use error::CudaError;
pub use timing::{copy_bandwidth, time_median, Timing};

use cust::context::Context;
use cust::device::{Device, DeviceAttribute};
use cust::function::{BlockSize, GridSize};
use cust::memory::{bytemuck::Pod, DeviceBuffer, DeviceCopy};
use cust::module::Module;
use cust::stream::{Stream, StreamFlags};
use error::driver;
use std::ffi::c_void;

/// Result of the GPU path.
pub type Result<T> = std::result::Result<T, CudaError>;

/// A CUDA context on device 0 with the crate's kernels loaded and one stream.
pub struct Gpu {
    // Fields drop in order: modules and stream before the context they live in.
    losses: Kernels,
    logps: Kernels,
    random: Kernels,
    timing: Kernels,
    stream: Stream,
    name: String,
    multiprocessors: u32,
    _context: Context,
}

impl Gpu {
    /// Initialises the driver, creates a context on device 0 and loads the kernels.
    ///
    /// Returns [`CudaError::DriverUnavailable`] where there is no usable driver or device.
    pub fn new() -> Result<Gpu> {
        // SAFETY: cuInit takes flags by value and has no other precondition.
        let code = unsafe { cust::sys::cuInit(0) } as u32;
        if code != 0 {
            return Err(CudaError::DriverUnavailable {
                code,
                reason: error::init_failure(code),
            });
        }
        let device = Device::get_device(0).map_err(driver("cuDeviceGet"))?;
        let context = Context::new(device).map_err(driver("cuCtxCreate"))?;
        let name = device.name().map_err(driver("cuDeviceGetName"))?;
        let multiprocessors = device
            .get_attribute(DeviceAttribute::MultiprocessorCount)
            .map_err(driver("cuDeviceGetAttribute"))? as u32;
        Ok(Gpu {
            losses: Kernels::load(ptx::LOSSES)?,
            logps: Kernels::load(ptx::LOGPS)?,
            random: Kernels::load(ptx::RANDOM)?,
            timing: Kernels::load(ptx::TIMING)?,
            stream: Stream::new(StreamFlags::DEFAULT, None).map_err(driver("cuStreamCreate"))?,
            name,
            multiprocessors,
            _context: context,
        })
    }

    /// The device's name, as the driver reports it.
    pub fn device_name(&self) -> &str {
        &self.name
    }

    /// Number of streaming multiprocessors.
    pub fn multiprocessors(&self) -> u32 {
        self.multiprocessors
    }

    /// Waits for all launched work; a kernel's asynchronous failure surfaces here.
    pub fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(driver("cuStreamSynchronize"))
    }

    /// Free and total device memory in bytes.
    pub fn memory(&self) -> Result<(usize, usize)> {
        cust::memory::mem_get_info().map_err(driver("cuMemGetInfo"))
    }

    /// Fails with [`CudaError::InsufficientDeviceMemory`] unless `bytes` are free.
    pub fn ensure_free(&self, bytes: usize) -> Result<()> {
        let (free, _) = self.memory()?;
        if bytes > free {
            return Err(CudaError::InsufficientDeviceMemory {
                needed: bytes,
                free,
            });
        }
        Ok(())
    }

    /// A device buffer of `n` elements whose contents the caller overwrites before reading.
    fn buffer<T: DeviceCopy + Pod>(&self, n: usize) -> Result<DeviceBuffer<T>> {
        // SAFETY: T is plain old data, so any bit pattern is a valid value; every caller fills
        // the buffer (by a copy, a memset or a kernel that writes each element) before reading.
        unsafe { DeviceBuffer::uninitialized(n.max(1)) }.map_err(driver("cuMemAlloc"))
    }

    /// A device buffer holding a copy of `host`.
    fn upload<T: DeviceCopy + Pod>(&self, host: &[T]) -> Result<DeviceBuffer<T>> {
        let buf = self.buffer(host.len())?;
        if !host.is_empty() {
            use cust::memory::CopyDestination;
            buf.index(..host.len())
                .copy_from(host)
                .map_err(driver("cuMemcpyHtoD"))?;
        }
        Ok(buf)
    }

    /// `block` rounded down to a multiple of 32 in `32..=1024`, and down to the most threads per
    /// block that `function` can be launched with (it depends on its registers).
    fn fit_block(&self, kernels: &Kernels, function: &str, block: u32) -> Result<u32> {
        let f = kernels.function(function)?;
        let max = f
            .get_attribute(cust::function::FunctionAttribute::MaxThreadsPerBlock)
            .map_err(driver("cuFuncGetAttribute"))?;
        let max = u32::try_from(max).unwrap_or(32).clamp(32, 1024);
        Ok(block.clamp(32, max) / 32 * 32)
    }

    /// How many blocks of `block` threads of `function` the whole device runs at once: the
    /// multiprocessors times the blocks each holds (limited by the kernel's registers and shared
    /// memory). A grid-stride kernel launched with this many blocks runs in one wave.
    fn resident_blocks(&self, kernels: &Kernels, function: &str, block: u32) -> Result<usize> {
        let f = kernels.function(function)?;
        let per_sm = f
            .max_active_blocks_per_multiprocessor(BlockSize::x(block), 0)
            .map_err(driver("cuOccupancyMaxActiveBlocksPerMultiprocessor"))?;
        Ok(per_sm.max(1) as usize * self.multiprocessors as usize)
    }

    /// Launches `function` of `kernels` with the given arguments, after checking their number
    /// and sizes against the kernel's parameters as its PTX declares them
    /// ([`CudaError::KernelArguments`] otherwise).
    ///
    /// # Safety
    /// The arguments must be in the kernel's order with its types, and the buffers they reference
    /// must hold what the kernel reads and writes for this grid.
    unsafe fn launch(
        &self,
        kernels: &Kernels,
        function: &str,
        grid: u32,
        block: u32,
        args: &[Arg],
    ) -> Result<()> {
        let sizes: Vec<usize> = args.iter().map(|a| a.size).collect();
        signature::check(&kernels.signatures, function, &sizes)?;
        let f = kernels.function(function)?;
        let pointers: Vec<*mut c_void> = args.iter().map(|a| a.value).collect();
        self.stream
            .launch(&f, GridSize::x(grid), BlockSize::x(block), 0, &pointers)
            .map_err(driver("cuLaunchKernel"))
    }

    /// Fills `buf` with uniform pseudo-random values in `[lo, hi)` (splitmix64 of seed and index).
    fn fill_uniform<T: DeviceCopy>(
        &self,
        kernel: &str,
        buf: &mut DeviceBuffer<T>,
        seed: u64,
        lo: f64,
        hi: f64,
    ) -> Result<()> {
        let ptr = buf.as_device_ptr();
        let n = buf.len() as u64;
        let grid = 8 * self.multiprocessors;
        // SAFETY: the kernel writes exactly elements 0..n of `buf`.
        unsafe {
            self.launch(
                &self.random,
                kernel,
                grid,
                256,
                &[arg(&ptr), arg(&n), arg(&seed), arg(&lo), arg(&hi)],
            )
        }
    }
}

/// One module of kernels, with each kernel's parameter sizes read from its PTX.
struct Kernels {
    module: Module,
    signatures: signature::Signatures,
}

impl Kernels {
    fn function(&self, name: &str) -> Result<cust::function::Function<'_>> {
        self.module
            .get_function(name)
            .map_err(driver("cuModuleGetFunction"))
    }

    fn load(ptx: &str) -> Result<Kernels> {
        let signatures = signature::entries(ptx).ok_or(CudaError::KernelArguments {
            kernel: "(a module whose parameter list could not be read)".to_string(),
            expected: None,
            got: Vec::new(),
        })?;
        let module = Module::from_ptx(ptx, &[]).map_err(driver("cuModuleLoadData"))?;
        Ok(Kernels { module, signatures })
    }
}

/// A kernel argument: a pointer to the value, as `cuLaunchKernel` takes it, and its size.
struct Arg {
    value: *mut c_void,
    size: usize,
}

fn arg<T: DeviceCopy>(value: &T) -> Arg {
    Arg {
        value: value as *const T as *mut c_void,
        size: std::mem::size_of::<T>(),
    }
}

/// Downloads a device buffer's first `n` elements.
fn download<T: DeviceCopy + Pod + Default>(buf: &DeviceBuffer<T>, n: usize) -> Result<Vec<T>> {
    use cust::memory::CopyDestination;
    let mut host = vec![T::default(); n];
    if n > 0 {
        buf.index(..n)
            .copy_to(&mut host[..])
            .map_err(driver("cuMemcpyDtoH"))?;
    }
    Ok(host)
}

/// Fills a buffer with the byte 0xFF: NaN in f32, f64 and bf16 alike, so an element that a kernel
/// fails to write reads back as NaN.
fn poison<T: DeviceCopy + Pod>(buf: &mut DeviceBuffer<T>) -> Result<()> {
    buf.set_8(0xFF).map_err(driver("cuMemsetD8"))
}
