//! The typed error of the GPU path: bad input found before any launch, or a failed CUDA call
//! with the driver's own name and message.

use crate::loss::{LossError, LossType};
use std::fmt::{self, Write as _};

/// Everything the GPU path can report instead of a result.
#[derive(Debug, Clone, PartialEq)]
pub enum CudaError {
    /// The driver could not be initialised: no driver (the link-time stub library answered),
    /// no device, or a driver too old. Callers that merely probe for a GPU treat this as "skip".
    DriverUnavailable {
        /// The driver's result code of `cuInit` (34: stub library, 100: no device, 35: driver too old).
        code: u32,
        /// What that code means.
        reason: &'static str,
    },
    /// A CUDA driver call failed.
    Driver {
        /// The operation that failed.
        call: &'static str,
        /// The driver's error, by name (codes newer than the bindings read `UnknownError`).
        name: String,
        /// The driver's message for it.
        message: String,
    },
    /// Two inputs that must have the same length do not.
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// Logits whose shape is not the one the computation was prepared for.
    ShapeMismatch {
        /// `[batch, time, vocabulary]` of the preparation.
        expected: [usize; 3],
        /// `[batch, time, vocabulary]` of the logits passed.
        got: [usize; 3],
    },
    /// Logits of another storage type than the computation was prepared for.
    LogitsTypeMismatch,
    /// A batch (of pairs, or of sequences) with no element, or sequences of length 0.
    EmptyBatch,
    /// Logits with a vocabulary of size 0.
    EmptyVocabulary,
    /// The causal shift needs at least two positions per sequence.
    TooShortForShift {
        /// The sequence length given.
        time: usize,
    },
    /// A scored label outside `0..vocab`.
    LabelOutOfRange {
        /// Sequence index.
        batch: usize,
        /// Position of the label in the sequence.
        pos: usize,
        /// The label.
        label: i64,
        /// The vocabulary size.
        vocab: usize,
    },
    /// A size beyond what the kernels index (grid or 32-bit label limits).
    TooLarge {
        /// Which size.
        what: &'static str,
        /// Its value.
        value: usize,
        /// The largest value supported.
        limit: usize,
    },
    /// The buffers needed exceed the device memory that is free.
    InsufficientDeviceMemory {
        /// Bytes the operation would allocate.
        needed: usize,
        /// Bytes free on the device.
        free: usize,
    },
    /// The loss specification is invalid (its parameters checked by [`LossSpec::validate`]).
    ///
    /// [`LossSpec::validate`]: crate::loss::LossSpec::validate
    Loss(LossError),
    /// A loss the kernels do not implement.
    UnsupportedLoss {
        /// The loss.
        loss: LossType,
    },
    /// The backward pass was asked for before its prerequisite (forward pass, upstream gradient).
    MissingStep {
        /// What has to happen first.
        needed: &'static str,
    },
    /// A launch whose arguments disagree with the kernel's parameters as its PTX declares them
    /// (a defect of this crate, caught before the launch).
    KernelArguments {
        /// The kernel.
        kernel: String,
        /// Its parameters' sizes in bytes (`None`: the PTX has no such kernel).
        expected: Option<Vec<usize>>,
        /// The sizes of the arguments given.
        got: Vec<usize>,
    },
}

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CudaError::DriverUnavailable { code, reason } => {
                write!(
                    f,
                    "CUDA driver unavailable (cuInit returned {code}: {reason})"
                )
            }
            CudaError::Driver {
                call,
                name,
                message,
            } => {
                write!(f, "CUDA call {call} failed: {name}: {message}")
            }
            CudaError::LengthMismatch {
                what,
                expected,
                got,
            } => {
                write!(f, "{what} has length {got}, expected {expected}")
            }
            CudaError::ShapeMismatch { expected, got } => {
                write!(f, "logits of shape {got:?}, prepared for {expected:?}")
            }
            CudaError::LogitsTypeMismatch => {
                write!(
                    f,
                    "logits of another type than the computation was prepared for"
                )
            }
            CudaError::EmptyBatch => write!(f, "empty batch"),
            CudaError::EmptyVocabulary => write!(f, "vocabulary of size 0"),
            CudaError::TooShortForShift { time } => {
                write!(
                    f,
                    "sequence length {time} is too short for the causal shift (needs ≥ 2)"
                )
            }
            CudaError::LabelOutOfRange {
                batch,
                pos,
                label,
                vocab,
            } => write!(
                f,
                "label {label} at sequence {batch}, position {pos} is outside 0..{vocab}"
            ),
            CudaError::TooLarge { what, value, limit } => {
                write!(f, "{what} = {value} exceeds the supported {limit}")
            }
            CudaError::InsufficientDeviceMemory { needed, free } => write!(
                f,
                "needs {needed} bytes of device memory, {free} bytes are free"
            ),
            CudaError::Loss(e) => write!(f, "invalid loss: {e}"),
            CudaError::UnsupportedLoss { loss } => {
                write!(
                    f,
                    "loss {loss} has no GPU kernel (sigmoid, cdpo, robust, ipo, hinge do)"
                )
            }
            CudaError::MissingStep { needed } => write!(f, "{needed} must come first"),
            CudaError::KernelArguments {
                kernel,
                expected: Some(expected),
                got,
            } => write!(
                f,
                "launch of kernel {kernel} with arguments of {got:?} bytes; its PTX declares {expected:?}"
            ),
            CudaError::KernelArguments {
                kernel,
                expected: None,
                got,
            } => write!(
                f,
                "launch of kernel {kernel} (arguments of {got:?} bytes): the PTX has no such kernel"
            ),
        }
    }
}

impl std::error::Error for CudaError {}

/// Turns a failed cust call into [`CudaError::Driver`], naming the operation.
pub(crate) fn driver(call: &'static str) -> impl FnOnce(cust::error::CudaError) -> CudaError {
    move |e| {
        // cust's Display asks the driver for the message; with no driver it fails, so fall back.
        let mut message = String::new();
        if write!(message, "{e}").is_err() {
            message = "the driver gave no message".to_string();
        }
        CudaError::Driver {
            call,
            name: format!("{e:?}"),
            message: message.trim_matches('"').to_string(),
        }
    }
}

/// The meaning of a `cuInit` result code that leaves no usable driver.
pub(crate) fn init_failure(code: u32) -> &'static str {
    match code {
        34 => "the stub library was loaded instead of a driver",
        35 => "the driver is older than the CUDA version required",
        100 => "no CUDA-capable device is detected",
        3 => "the driver is not initialised",
        _ => "the driver could not be initialised",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed cust call becomes [`CudaError::Driver`] naming the call and the driver's error;
    /// the message is the driver's own text, or (where no driver answers, as with the link-time
    /// stub) a fallback that says so, never an empty string or a panic.
    #[test]
    fn a_failed_call_names_the_call_the_error_and_a_message() {
        let e = driver("cuMemAlloc")(cust::error::CudaError::OutOfMemory);
        let CudaError::Driver {
            call,
            name,
            message,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(*call, "cuMemAlloc");
        assert_eq!(name, "OutOfMemory");
        assert!(
            !message.is_empty() && !message.starts_with('"'),
            "{message:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("cuMemAlloc")
                && text.contains("OutOfMemory")
                && text.contains(message.as_str()),
            "{text}"
        );
    }

    /// The result codes of `cuInit` that leave no driver each have their own reason.
    #[test]
    fn init_failures_are_told_apart() {
        let reasons: Vec<&str> = [34, 35, 100, 3, 999].map(init_failure).to_vec();
        assert!(reasons[0].contains("stub"));
        assert!(reasons[1].contains("older"));
        assert!(reasons[2].contains("no CUDA-capable device"));
        let mut unique = reasons.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), reasons.len(), "{reasons:?}");
    }
}
