//! Size limits checked before allocating: a table or an enumeration larger than
//! [`MAX_ENTRIES`] is refused with a typed error instead of an allocation failure (an abort) or
//! an overflowing size computation (a panic).

/// The most `f64` entries one table (or enumerated response set) may hold: $2^{28}$, that is
/// 2 GiB of `f64`. Every construction in this crate is an exact sum over its entries, so a
/// larger table is not a use the oracle serves.
pub const MAX_ENTRIES: usize = 1 << 28;

/// The product of `sizes` when it is at most [`MAX_ENTRIES`], `None` when it is larger (or its
/// computation would overflow `usize`).
pub fn checked_entries(sizes: &[usize]) -> Option<usize> {
    sizes
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .filter(|&n| n <= MAX_ENTRIES)
}
