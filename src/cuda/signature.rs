//! The kernels' parameter lists, read from their PTX, so that every launch is checked against
//! the kernel it calls before the driver sees it.
//!
//! `cuLaunchKernel` takes its arguments as untyped pointers: an argument list that disagrees with
//! the kernel's parameters (one too few, an `i32` where the kernel takes a `u64`) would make the
//! kernel read garbage. Each `.entry` of the PTX declares its parameters with their types
//! (`.param .u64 name`, `.param .f64 name`, `.param .align 8 .b8 name[16]`); [`entries`] turns
//! them into byte sizes, and [`check`] compares a launch's argument sizes with them.

use super::CudaError;
use std::collections::HashMap;

/// Parameter sizes in bytes of each `.entry` of a PTX module, by kernel name.
pub(crate) type Signatures = HashMap<String, Vec<usize>>;

/// Reads every `.entry` of `ptx` with the byte size of each of its parameters.
///
/// Returns `None` for a parameter declaration it cannot read (a type it does not know), so that
/// an unreadable module fails loudly rather than checking nothing.
pub(crate) fn entries(ptx: &str) -> Option<Signatures> {
    let mut out = Signatures::new();
    let mut rest = ptx;
    while let Some(at) = rest.find(".entry ") {
        let after = &rest[at + ".entry ".len()..];
        let open = after.find('(')?;
        let close = after.find(')')?;
        let name = after[..open].trim().to_string();
        let sizes = after[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(param_size)
            .collect::<Option<Vec<usize>>>()?;
        out.insert(name, sizes);
        rest = &after[close..];
    }
    Some(out)
}

/// Byte size of one `.param` declaration: its scalar type's width, times the array length when
/// it is an array (`.b8 name[16]`).
fn param_size(decl: &str) -> Option<usize> {
    let words: Vec<&str> = decl.split_whitespace().collect();
    if words.first() != Some(&".param") {
        return None;
    }
    let width = words.iter().find_map(|w| match *w {
        ".u8" | ".s8" | ".b8" => Some(1),
        ".u16" | ".s16" | ".b16" | ".f16" => Some(2),
        ".u32" | ".s32" | ".b32" | ".f32" => Some(4),
        ".u64" | ".s64" | ".b64" | ".f64" => Some(8),
        _ => None,
    })?;
    let name = words.last()?;
    let count = match (name.find('['), name.strip_suffix(']')) {
        (Some(open), Some(inner)) => inner[open + 1..].parse().ok()?,
        _ => 1,
    };
    Some(width * count)
}

/// Checks the argument sizes of a launch of `kernel` against its parameters.
pub(crate) fn check(
    signatures: &Signatures,
    kernel: &str,
    sizes: &[usize],
) -> Result<(), CudaError> {
    match signatures.get(kernel) {
        Some(expected) if expected == sizes => Ok(()),
        expected => Err(CudaError::KernelArguments {
            kernel: kernel.to_string(),
            expected: expected.cloned(),
            got: sizes.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ptx;
    use super::*;

    const PTR: usize = 8;
    const U64: usize = 8;
    const F64: usize = 8;
    const INT: usize = 4;

    /// The parameter sizes written out from the kernels' C declarations in `kernels/*.cu`
    /// (pointers and `uint64_t` 8 bytes, `int` and `uint32_t` 4, `double` 8): the PTX that the
    /// crate embeds must declare exactly these, kernel by kernel.
    #[test]
    fn embedded_ptx_declares_the_c_signatures() {
        let pair = [&[PTR; 4][..], &[U64, INT, F64, F64, INT], &[PTR; 7], &[PTR]].concat();
        let mut losses = Signatures::new();
        for name in ["pair_losses_f32", "pair_losses_f64"] {
            losses.insert(name.to_string(), pair.clone());
        }
        losses.insert("sum_partials".to_string(), vec![PTR, INT, F64, PTR]);
        let mut logps = Signatures::new();
        for s in ["f32_acc32", "f32_acc64", "bf16_acc32", "bf16_acc64"] {
            logps.insert(format!("logps_forward_{s}"), vec![PTR, PTR, U64, PTR, PTR]);
            let backward = vec![PTR, PTR, PTR, PTR, U64, INT, PTR];
            logps.insert(format!("logps_backward_{s}"), backward);
        }
        for s in ["acc32", "acc64"] {
            logps.insert(format!("logps_sequence_sum_{s}"), vec![PTR, INT, PTR]);
        }
        let random = Signatures::from(
            ["f32", "f64", "bf16"]
                .map(|s| (format!("fill_uniform_{s}"), vec![PTR, U64, U64, F64, F64])),
        );
        let timing = Signatures::from([("spin".to_string(), vec![U64])]);
        for (module, want) in [
            (ptx::LOSSES, losses),
            (ptx::LOGPS, logps),
            (ptx::RANDOM, random),
            (ptx::TIMING, timing),
        ] {
            assert_eq!(entries(module), Some(want));
        }
    }

    #[test]
    fn reads_arrays_and_rejects_unknown_types() {
        let ptx = ".visible .entry k(\n\t.param .align 8 .b8 k_param_0[24],\n\t.param .u32 k_param_1\n)\n{";
        assert_eq!(entries(ptx).unwrap()["k"], vec![24, 4]);
        assert_eq!(entries(".entry k(.param .q7 x)"), None);
        assert_eq!(entries(".entry k()").unwrap()["k"], Vec::<usize>::new());
    }

    #[test]
    fn a_launch_that_disagrees_is_a_typed_error() {
        let sigs = entries(ptx::LOSSES).unwrap();
        assert!(check(&sigs, "sum_partials", &[8, 4, 8, 8]).is_ok());
        let wrong = check(&sigs, "sum_partials", &[8, 8, 8, 8]).unwrap_err();
        assert!(wrong.to_string().contains("sum_partials"), "{wrong}");
        assert!(matches!(
            check(&sigs, "no_such_kernel", &[]),
            Err(CudaError::KernelArguments { expected: None, .. })
        ));
    }
}
