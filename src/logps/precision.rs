//! Reduced-precision arithmetic for reproducing trainers that take the log-softmax in `f32` or
//! `bf16`: the `f32 → bf16` conversion with round-to-nearest-even, written out bit by bit.
//!
//! bf16 keeps the sign, the 8 exponent bits and the top 7 mantissa bits of an `f32`. Rounding to
//! nearest, ties to even, on the 16 dropped bits: add `0x7FFF` plus the lowest kept bit, then
//! truncate. A carry out of the mantissa increments the exponent (correct rounding up to the next
//! binade, and to infinity above the largest finite bf16). NaN must not be rounded (the carry
//! could turn it into infinity): it keeps its sign and top payload bits with the quiet bit set.

/// The precision a log-softmax is taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// `f64` throughout, with an online max-shifted log-sum-exp (the oracle's own).
    #[default]
    F64,
    /// Logits rounded to `f32`, log-softmax and the sum over tokens in `f32` arithmetic.
    F32,
    /// Logits rounded to bf16; the log-softmax computed in `f32` and each per-token
    /// log-probability rounded to bf16; the sum accumulated in `f32` and rounded to bf16 (how
    /// PyTorch's bf16 kernels accumulate in `f32` and store in bf16).
    Bf16,
}

/// The bf16 bit pattern nearest to `x` (ties to even); NaN stays a (quiet) NaN.
pub fn f32_to_bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) as u16) | 0x0040;
    }
    let lowest_kept = (bits >> 16) & 1;
    ((bits + 0x7FFF + lowest_kept) >> 16) as u16
}

/// The `f32` value of a bf16 bit pattern (exact).
pub fn bf16_bits_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// `x` rounded to the nearest bf16 value (ties to even), as an `f32`.
pub fn round_to_bf16(x: f32) -> f32 {
    bf16_bits_to_f32(f32_to_bf16_bits(x))
}

impl Precision {
    /// Rounds a stored value to this precision's storage type (returned as `f32`; `F64` is
    /// not a low precision and rounds to `f32` only for uniformity of the reduced path).
    pub(crate) fn store(self, x: f32) -> f32 {
        match self {
            Self::Bf16 => round_to_bf16(x),
            Self::F32 | Self::F64 => x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit patterns worked out by hand from the IEEE layouts.
    #[test]
    fn rne_on_hand_computed_patterns() {
        // 1.0 = 0x3F80_0000: exact.
        assert_eq!(f32_to_bf16_bits(1.0), 0x3F80);
        // 1 + 2^-8 = 0x3F80_8000: exactly halfway between 0x3F80 and 0x3F81; the kept mantissa
        // is even, so round down.
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3F80_8000)), 0x3F80);
        // 0x3F81_8000: halfway, kept mantissa odd (…1), round up to even 0x3F82.
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3F81_8000)), 0x3F82);
        // Just above halfway rounds up; just below rounds down.
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3F80_8001)), 0x3F81);
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3F80_7FFF)), 0x3F80);
        // Mantissa carry into the exponent: 0x3FFF_FFFF (≈ 1.99999988) rounds to 2.0 = 0x4000.
        assert_eq!(f32_to_bf16_bits(f32::from_bits(0x3FFF_FFFF)), 0x4000);
        // f32::MAX = 0x7F7F_FFFF rounds up past the largest bf16 (0x7F7F) to +inf 0x7F80.
        assert_eq!(f32_to_bf16_bits(f32::MAX), 0x7F80);
        // Negative: -1.5 = 0xBFC0_0000 exact.
        assert_eq!(f32_to_bf16_bits(-1.5), 0xBFC0);
        // Infinities and signed zero keep their patterns.
        assert_eq!(f32_to_bf16_bits(f32::INFINITY), 0x7F80);
        assert_eq!(f32_to_bf16_bits(f32::NEG_INFINITY), 0xFF80);
        assert_eq!(f32_to_bf16_bits(-0.0), 0x8000);
        // Smallest f32 subnormal 0x0000_0001 rounds to +0.
        assert_eq!(f32_to_bf16_bits(f32::from_bits(1)), 0x0000);
        // -420.5 = 0xC3D2_4000: bf16 spacing at 256..512 is 2; 420.5 lies between 420 (0xC3D2)
        // and 422 (0xC3D3), below halfway: -420.
        assert_eq!(f32_to_bf16_bits(-420.5), 0xC3D2);
        assert_eq!(round_to_bf16(-421.0), -420.0); // tie, even mantissa 0x52 kept
        assert_eq!(round_to_bf16(-423.0), -424.0); // tie, odd 0x53 rounds to 0x54
    }

    #[test]
    fn nan_stays_nan_with_its_sign() {
        // A signalling NaN whose payload lies only in the dropped bits: truncation would give
        // 0x7F80 (infinity) and rounding could carry; we keep a quiet NaN.
        let snan = f32::from_bits(0x7F80_0001);
        assert!(snan.is_nan());
        assert_eq!(f32_to_bf16_bits(snan), 0x7FC0);
        assert!(bf16_bits_to_f32(f32_to_bf16_bits(snan)).is_nan());
        let neg_nan = f32::from_bits(0xFFFF_FFFF);
        assert_eq!(f32_to_bf16_bits(neg_nan), 0xFFFF);
        assert!(round_to_bf16(f32::NAN).is_nan());
    }
}
