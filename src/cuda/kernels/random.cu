// Counter-based pseudo-random fills (splitmix64 of seed + index): uniform values in [lo, hi),
// the same for a given (seed, index) whatever the launch shape. Used to make large benchmark
// inputs on the device without a host round trip.
#include "common.cuh"

__device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
// Uniform in [0, 1) with 53 random bits.
__device__ __forceinline__ double unit(uint64_t seed, uint64_t i) {
    return double(splitmix64(seed ^ splitmix64(i)) >> 11) * (1.0 / 9007199254740992.0);
}

extern "C" __global__ void fill_uniform_f32(float* out, uint64_t n, uint64_t seed, double lo, double hi) {
    for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x)
        out[i] = float(lo + (hi - lo) * unit(seed, i));
}
extern "C" __global__ void fill_uniform_f64(double* out, uint64_t n, uint64_t seed, double lo, double hi) {
    for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x)
        out[i] = lo + (hi - lo) * unit(seed, i);
}
extern "C" __global__ void fill_uniform_bf16(uint16_t* out, uint64_t n, uint64_t seed, double lo, double hi) {
    for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x)
        out[i] = uint16_t(f32_to_bf16_bits(float(lo + (hi - lo) * unit(seed, i))));
}
