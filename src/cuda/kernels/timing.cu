// Support for timing with CUDA events: a kernel that keeps the device busy for a given time, so
// that the host can queue an event, the work to time and a second event before the device reaches
// the first. The events then bracket the work alone, not the host's time spent launching it.
#include "common.cuh"

__device__ __forceinline__ uint64_t global_ns() {
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

extern "C" __global__ void spin(uint64_t ns) {
    const uint64_t start = global_ns();
    while (global_ns() - start < ns) {
    }
}
