//! The bfloat16 storage format on the host: the high 16 bits of an IEEE f32.

use crate::logps::{bf16_bits_to_f32, f32_to_bf16_bits};

/// A bfloat16 value (1 sign, 8 exponent, 7 fraction bits), stored as its bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Bf16(pub u16);

impl Bf16 {
    /// Rounds an f32 to the nearest bfloat16, ties to even; NaN stays NaN.
    pub fn from_f32(x: f32) -> Bf16 {
        Bf16(f32_to_bf16_bits(x))
    }

    /// The exact value as f32.
    pub fn to_f32(self) -> f32 {
        bf16_bits_to_f32(self.0)
    }
}
