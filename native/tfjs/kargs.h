// Shared by the kernels of the tfjs backend 'torch' (src/tfjs-backend/), one file per area in this folder: how a
// kernel call's arguments are read, and the kernel table each area contributes to (registered by register.cc).
//
// Argument 0 of every kernel is the output: a typed array that the JS side allocates (V8 owns and recycles its memory,
// see src/tfjs-backend/README.md) and the kernel fills. Then either
//   - (out, x) or (out, x, attrs): elementwise kernels of one input, x a typed array (attrs: e.g. {alpha});
//   - (out, attrs): every other kernel; attrs holds the inputs (typed arrays, each with its shape as `<name>Shape`
//     where the kernel needs one) and the attributes, all by name, as typed in src/native/addon.d.ts (TfjsKernels).
// Inputs are the cpu backend's typed arrays, read as tensors without copying (from_blob over their memory). A missing
// or mistyped field is a TypeError that names the kernel and the field ("Conv2D: attrs.strides must be an array of 2
// integers"); guard() turns every other failure into a JS Error.
#pragma once
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "../common.h"

namespace fm {
namespace tfjs {

using at::Tensor;
using IntList = std::vector<int64_t>;
constexpr auto kCL = at::MemoryFormat::ChannelsLast;
constexpr auto kContig = at::MemoryFormat::Contiguous;
constexpr double kInf = std::numeric_limits<double>::infinity();

struct TypedArrayView {
  void* data;
  int64_t length;
  at::ScalarType dtype;
};

// One kernel call's arguments.
class KArgs {
 public:
  // attrsAt: the position of the attrs object (0: the kernel takes none).
  KArgs(const Napi::CallbackInfo& info, const char* kernel, size_t attrsAt);

  const char* kernel;
  TypedArrayView dst;  // the output array

  // The output array as a tensor of these sizes (float32, int32, or bool for a Uint8Array), to write into.
  Tensor out(at::IntArrayRef sizes) const;

  // Positional typed array i (elementwise kernels' x), as a flat tensor.
  Tensor flat(size_t i) const;

  // --- named fields of attrs ---
  bool has(const char* name) const;  // present, and neither null nor undefined
  // Typed array `name`: flat, or with the shape in field `shape` (required when `shapeRequired`, else optional).
  Tensor in(const char* name, const char* shape, bool shapeRequired = true) const;
  Tensor flat(const char* name) const { return in(name, nullptr, false); }
  // As a bool tensor (tfjs keeps bools as 0/1 in a Uint8Array; anything non-zero is true).
  Tensor boolean(const char* name, const char* shape) const;
  // An array of integers; of exactly `n` when n >= 0.
  IntList ints(const char* name, int n = -1) const;
  int64_t i(const char* name) const;
  double d(const char* name) const;
  double d(const char* name, double def) const { return has(name) ? d(name) : def; }
  bool b(const char* name) const;
  std::string s(const char* name, const std::string& def) const;

  // TypeError "<kernel>: attrs.<name> must be <want>".
  [[noreturn]] void bad(const char* name, const std::string& want) const;

 private:
  const Napi::CallbackInfo& info_;
  Napi::Object attrs_;
  Napi::Value get(const char* name) const;
  Tensor view(const TypedArrayView& v, const IntList* shape, const std::string& what, const char* shapeName) const;
};

// Reads typed array `v` (for the message: `what`); a Uint8Array is bool when `output`, else uint8.
TypedArrayView typedArray(Napi::Env env, const char* kernel, Napi::Value v, const std::string& what, bool output);

// A kernel computes its result into the output array (then returns it) or returns a tensor that is copied there.
using Kernel = std::function<Tensor(const KArgs&)>;
struct KernelDef {
  const char* name;
  size_t attrsAt;  // see KArgs
  Kernel fn;
};
using KernelTable = std::vector<KernelDef>;

// Each area adds its kernels.
void addConvPoolKernels(KernelTable& t);
void addMatmulKernels(KernelTable& t);
void addElementwiseKernels(KernelTable& t);
void addReductionKernels(KernelTable& t);
void addLayoutKernels(KernelTable& t);
void addBatchNormKernels(KernelTable& t);

// FusedBatchNorm's loop, (x - m) * a + b over `rows` rows of n (elementwise.cc); BatchNormTraining's too.
void batchNormRows(const float* __restrict px, float* __restrict po, int64_t rows, int64_t n,
                   const float* __restrict m, const float* __restrict a, const float* __restrict b);

// The fused activations of FusedConv2D and _FusedMatMul, in place on y.
Tensor activate(Tensor y, const std::string& act, double alpha);

}  // namespace tfjs
}  // namespace fm
