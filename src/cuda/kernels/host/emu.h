// Host emulation of the CUDA built-ins the kernels use, so that the kernels' CUDA C source can be
// compiled by a host C++20 compiler and checked on a machine without a GPU: one std::thread per
// CUDA thread, std::barrier for __syncthreads and for the warp shuffles, blocks one after
// another. Math functions are the host libm's (the GPU's exp2f is approximate: only a GPU run
// checks the kernels' precision tiers; this checks their indexing, reductions and formulas).
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct uint3 { unsigned x, y, z; };
struct float4 { float x, y, z, w; };
struct uint4 { unsigned x, y, z, w; };
struct double2 { double x, y; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
thread_local uint3 threadIdx;
uint3 blockIdx_g; 
#define blockIdx blockIdx_g
uint3 blockDim, gridDim;
std::barrier<>* block_bar;
struct Warp { std::unique_ptr<std::barrier<>> bar; uint64_t slot[32]; };
std::vector<Warp> warps;
inline void __syncthreads() { block_bar->arrive_and_wait(); }
template <class T> T __shfl_down_sync(unsigned, T v, int off) {
  int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  Warp& W = warps[w];
  std::memcpy(&W.slot[lane], &v, sizeof v);
  W.bar->arrive_and_wait();
  T r = v;
  if (lane + off < 32) std::memcpy(&r, &W.slot[lane + off], sizeof r);
  W.bar->arrive_and_wait();
  return r;
}
inline float __uint_as_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t __float_as_uint(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
using std::fmax; using std::fabs; using std::exp; using std::log; using std::log1p;
inline void launch(unsigned grid, unsigned block, std::function<void()> k) {
  gridDim = {grid, 1, 1}; blockDim = {block, 1, 1};
  for (unsigned b = 0; b < grid; ++b) {
    blockIdx_g = {b, 0, 0};
    std::barrier<> bar(block); block_bar = &bar;
    warps.clear(); warps.resize(block / 32);
    for (auto& w : warps) w.bar = std::make_unique<std::barrier<>>(32);
    std::vector<std::thread> ts;
    for (unsigned t = 0; t < block; ++t) ts.emplace_back([t, &k] { threadIdx = {t, 0, 0}; k(); });
    for (auto& t : ts) t.join();
  }
}
