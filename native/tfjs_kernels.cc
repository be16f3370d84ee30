// Kernels of the tfjs backend 'torch' (src/tfjs-backend/). Each entry of the table below is one tfjs kernel. Argument 0
// is the output: a typed array that the JS side allocates (V8 owns and recycles its memory, see README.md) and the
// kernel fills; the inputs that follow are the cpu backend's typed arrays, read as tensors without copying (from_blob
// over their memory). Elementwise kernels and reductions write straight into the output (libtorch's out= variants);
// the others compute into a libtorch tensor that is then copied over. tfjs's layouts are kept: NHWC activations (viewed
// as channels_last NCHW, which oneDNN takes as is) and HWIO filters.
//
// The JS side (src/tfjs-backend/kernels/*) decides which calls come here (dtypes, attributes, sizes) and sizes the
// output; this side checks every argument and the output's size, and guard() turns any failure into a JS Error.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/WrapDimUtils.h>

#include "common.h"

namespace fm {
namespace {

using at::Tensor;
using IntList = std::vector<int64_t>;
constexpr auto kCL = at::MemoryFormat::ChannelsLast;
constexpr auto kContig = at::MemoryFormat::Contiguous;

// Matrix products at least this big (M*K*N) run as a 1x1 convolution through oneDNN instead of at::mm, whose BLAS
// here is the reference libblas (~3 GFLOP/s against oneDNN's ~25 for the Dense layers' shapes).
constexpr int64_t kOneDnnMatmulMin = 1 << 16;

// Forward convolutions whose output is bigger than this run in batch chunks of about this size (see conv2d()).
constexpr int64_t kConvChunkBytes = 8 << 20;

struct TypedArrayView {
  void* data;
  int64_t length;
  at::ScalarType dtype;
};

// One kernel call's arguments: the output (argument 0), the inputs (typed arrays, as zero-copy tensors) and attributes.
struct KArgs {
  const Args& a;
  TypedArrayView dst;

  // The typed array at i as a flat tensor, or with the shape given at shapeAt.
  Tensor flat(size_t i) const { return view(i, nullptr); }
  Tensor in(size_t i, size_t shapeAt) const {
    if (!a.has(shapeAt)) return flat(i);
    IntList shape = a.ints(shapeAt);
    return view(i, &shape);
  }
  // The typed array at i as a bool tensor (tfjs keeps bools as 0/1 in a Uint8Array; anything non-zero is true).
  Tensor boolean(size_t i, size_t shapeAt) const {
    Tensor t = in(i, shapeAt);
    return t.scalar_type() == at::kBool ? t : t.ne(0);
  }
  // The output array as a tensor of these sizes (float32, int32, or bool for a Uint8Array), to write into.
  Tensor out(at::IntArrayRef sizes) const {
    int64_t n = c10::multiply_integers(sizes);
    if (n != dst.length)
      throw std::length_error("the result has " + std::to_string(n) + " elements but the output array holds " +
                              std::to_string(dst.length));
    return at::from_blob(dst.data, sizes, at::TensorOptions().dtype(dst.dtype));
  }
  IntList ints(size_t i) const { return a.ints(i); }
  int64_t i(size_t i) const { return a.i(i); }
  double d(size_t i) const { return a.d(i); }
  double d(size_t i, double def) const { return a.d(i, def); }
  bool b(size_t i, bool def) const { return a.b(i, def); }
  std::string s(size_t i) const { return a.s(i); }
  bool has(size_t i) const { return a.has(i); }

  static TypedArrayView typedArray(const Args& a, size_t i, bool output) {
    const auto& info = a.info;
    if (i >= info.Length() || !info[i].IsTypedArray()) a.bad(i, "a Float32Array, Int32Array or Uint8Array");
    auto ta = info[i].As<Napi::TypedArray>();
    at::ScalarType st;
    switch (ta.TypedArrayType()) {
      case napi_float32_array: st = at::kFloat; break;
      case napi_int32_array: st = at::kInt; break;
      case napi_uint8_array: st = output ? at::kBool : at::kByte; break;
      default: a.bad(i, "a Float32Array, Int32Array or Uint8Array");
    }
    void* data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    return {data, static_cast<int64_t>(ta.ElementLength()), st};
  }

 private:
  Tensor view(size_t i, const IntList* shape) const {
    TypedArrayView v = typedArray(a, i, false);
    IntList sizes = shape ? *shape : IntList{v.length};
    int64_t numel = 1;
    for (int64_t s : sizes) {
      if (s < 0) a.bad(i + 1, "a shape of non-negative integers");
      numel *= s;
    }
    if (numel != v.length)
      throw Napi::RangeError::New(a.env(), std::string(a.op) + ": argument " + std::to_string(i) + " has " +
                                               std::to_string(v.length) + " elements but its shape holds " +
                                               std::to_string(numel));
    return at::from_blob(v.data, sizes, at::TensorOptions().dtype(v.dtype));
  }
};

// --- layouts -------------------------------------------------------------------------------------------------------

// tfjs's 2-D conv/pool attributes, read from 4 consecutive arguments: strides [sh, sw], pads [top, bottom, left,
// right], dilations [dh, dw], channelsLast (NHWC when true, NCHW when false).
struct Conv2dAttrs {
  IntList stride, dil;
  int64_t top, bottom, left, right;
  bool cl;
  bool symmetric() const { return top == bottom && left == right; }
};

Conv2dAttrs convAttrs(const KArgs& k, size_t i) {
  Conv2dAttrs c;
  c.stride = k.ints(i);
  IntList p = k.ints(i + 1);
  c.dil = k.ints(i + 2);
  c.cl = k.b(i + 3, true);
  if (c.stride.size() != 2) k.a.bad(i, "[strideHeight, strideWidth]");
  if (p.size() != 4) k.a.bad(i + 1, "[top, bottom, left, right]");
  if (c.dil.size() != 2) k.a.bad(i + 2, "[dilationHeight, dilationWidth]");
  for (int64_t v : p)
    if (v < 0) k.a.bad(i + 1, "non-negative pads");
  for (int64_t v : c.stride)
    if (v < 1) k.a.bad(i, "positive strides");
  for (int64_t v : c.dil)
    if (v < 1) k.a.bad(i + 2, "positive dilations");
  c.top = p[0], c.bottom = p[1], c.left = p[2], c.right = p[3];
  return c;
}

IntList poolSize(const KArgs& k, size_t i) {
  IntList ks = k.ints(i);
  if (ks.size() != 2 || ks[0] < 1 || ks[1] < 1) k.a.bad(i, "[filterHeight, filterWidth], both positive");
  return ks;
}

Tensor toNCHW(const Tensor& x, bool cl) {
  TORCH_CHECK(x.dim() == 4, "expected a rank-4 tensor, got rank ", x.dim());
  return cl ? x.permute({0, 3, 1, 2}) : x;
}
Tensor fromNCHW(const Tensor& y, bool cl) { return cl ? y.permute({0, 2, 3, 1}) : y; }
at::MemoryFormat formatOf(const Conv2dAttrs& c) { return c.cl ? kCL : kContig; }

// HWIO (tfjs) -> OIHW (libtorch), laid out the way the activations are.
Tensor filterOIHW(const Tensor& w, const Conv2dAttrs& c) {
  TORCH_CHECK(w.dim() == 4, "expected a rank-4 filter, got rank ", w.dim());
  return w.permute({3, 2, 0, 1}).contiguous(formatOf(c));
}

// libtorch pads symmetrically; tfjs's 'same' padding can put one more row/column at the bottom/right. Then the input is
// padded explicitly (with `value`) and the op runs unpadded. Returns the padding to give the op.
IntList padFor(Tensor& x, const Conv2dAttrs& c, double value, const IntList* kernel = nullptr) {
  bool fits = c.symmetric();
  if (fits && kernel) fits = c.top <= (*kernel)[0] / 2 && c.left <= (*kernel)[1] / 2;  // max_pool2d's own limit
  if (fits) return {c.top, c.left};
  x = at::constant_pad_nd(x, {c.left, c.right, c.top, c.bottom}, value).contiguous(formatOf(c));
  return {0, 0};
}

// libtorch's max pooling propagates NaN; tfjs's (pool_utils, maxPoolPositions) skips it: a window of NaNs alone gives
// -Infinity. Then the pooling runs again over x with its NaNs as -Infinity; only when the result has a NaN, so the
// common case costs one pass over the (smaller) output.
Tensor skipNaN(const Tensor& x) { return x.masked_fill(at::isnan(x), -std::numeric_limits<double>::infinity()); }

// The output array as an NHWC (or NCHW) tensor of tfjs's shape, viewed as NCHW: what libtorch writes into.
Tensor outNCHW(const KArgs& k, at::IntArrayRef nchw, bool cl) {
  if (!cl) return k.out(nchw);
  return k.out({nchw[0], nchw[2], nchw[3], nchw[1]}).permute({0, 3, 1, 2});
}

Tensor activate(Tensor y, const std::string& act, double alpha) {
  if (act.empty() || act == "linear") return y;
  if (act == "relu") return y.relu_();
  if (act == "relu6") return y.clamp_(at::Scalar(0.0), at::Scalar(6.0));
  if (act == "sigmoid") return y.sigmoid_();
  if (act == "elu") return at::elu_(y);
  if (act == "leakyrelu") return at::leaky_relu_(y, alpha);
  throw std::invalid_argument("unsupported fused activation '" + act + "'");
}

// Conv2D and FusedConv2D: (out, x, xShape, filter, filterShape, strides, pads, dilations, channelsLast, bias?,
// biasShape?, activation?, alpha?). A per-channel bias goes into the convolution itself; any other broadcasts.
// Big batches (inference) run in chunks written into the output one after the other: libtorch's result for a whole
// batch of 500 would be a fresh 40+ MB mmap every call (page faults cost as much as the convolution there).
Tensor conv2d(const KArgs& k) {
  Conv2dAttrs c = convAttrs(k, 5);
  Tensor x = toNCHW(k.in(1, 2), c.cl), w = filterOIHW(k.in(3, 4), c);
  IntList pad = padFor(x, c, 0.0);
  c10::optional<Tensor> bias, channelBias;
  if (k.has(9)) bias = k.in(9, 10);
  int64_t C = w.size(0);
  if (bias && bias->numel() == C && bias->dim() >= 1 &&
      (c.cl ? bias->size(-1) == C : bias->dim() >= 3 && bias->size(-3) == C))
    channelBias = bias->reshape({C});
  std::string act = k.has(11) ? k.s(11) : "linear";
  double alpha = k.d(12, 0.2);
  auto run = [&](const Tensor& xs) {
    Tensor y = fromNCHW(at::conv2d(xs, w, channelBias, c.stride, pad, c.dil, 1), c.cl);
    if (bias && !channelBias) y = y + *bias;
    return activate(y, act, alpha);
  };

  int64_t N = x.size(0), H = x.size(2), W = x.size(3);
  int64_t OH = (H + 2 * pad[0] - c.dil[0] * (w.size(2) - 1) - 1) / c.stride[0] + 1;
  int64_t OW = (W + 2 * pad[1] - c.dil[1] * (w.size(3) - 1) - 1) / c.stride[1] + 1;
  int64_t perImage = C * OH * OW * static_cast<int64_t>(sizeof(float));
  int64_t chunk = std::max<int64_t>(1, kConvChunkBytes / std::max<int64_t>(perImage, 1));
  if (N <= chunk || (bias && !channelBias) || OH <= 0 || OW <= 0) return run(x);
  Tensor o = c.cl ? k.out({N, OH, OW, C}) : k.out({N, C, OH, OW});
  for (int64_t i = 0; i < N; i += chunk) {
    int64_t n = std::min(chunk, N - i);
    o.narrow(0, i, n).copy_(run(x.narrow(0, i, n)));
  }
  return o;
}

// --- matrix product ------------------------------------------------------------------------------------------------

// C[M,N] = A[M,K] B[K,N] (+ bias[N]). Large products run as a 1x1 convolution (oneDNN): input A as [M,K,1,1], weight
// B^T as [N,K,1,1]; a transposed B (tfjs's transposeB) is then already the weight's layout.
// `direct`: the product is the whole result, so at::mm may write it straight into the output.
Tensor mm2d(const KArgs& k, const Tensor& A, const Tensor& B, const c10::optional<Tensor>& bias, bool direct) {
  int64_t M = A.size(0), K = A.size(1), N = B.size(1);
  if (M >= 16 && M * K * N >= kOneDnnMatmulMin && at::hasMKLDNN()) {
    Tensor in = A.reshape({M, K, 1, 1});
    Tensor w = B.t().reshape({N, K, 1, 1});
    const IntList ones{1, 1}, zeros{0, 0};
    return at::conv2d(in, w, bias, ones, zeros, ones, 1).view({M, N});
  }
  if (!direct) return bias ? at::addmm(*bias, A, B) : at::mm(A, B);
  Tensor o = k.out({M, N});
  return bias ? at::addmm_out(o, *bias, A, B) : at::mm_out(o, A, B);
}

// BatchMatMul and _FusedMatMul: (out, a, aShape, b, bShape, transposeA, transposeB, bias?, biasShape?, activation?,
// alpha?)
Tensor matmul(const KArgs& k) {
  Tensor A = k.in(1, 2), B = k.in(3, 4);
  TORCH_CHECK(A.dim() >= 2 && B.dim() >= 2, "matMul needs rank >= 2 inputs");
  if (k.b(5, false)) A = A.transpose(-1, -2);
  if (k.b(6, false)) B = B.transpose(-1, -2);
  TORCH_CHECK(A.size(-1) == B.size(-2), "matMul: inner dimensions differ (", A.size(-1), " vs ", B.size(-2), ")");
  c10::optional<Tensor> bias;
  if (k.has(7)) bias = k.in(7, 8);
  std::string act = k.has(9) ? k.s(9) : "linear";
  double alpha = k.d(10, 0.2);

  Tensor y;
  auto batchOf = [](const Tensor& t) {
    int64_t b = 1;
    for (int64_t d = 0; d < t.dim() - 2; d++) b *= t.size(d);
    return b;
  };
  if (batchOf(A) == 1 && batchOf(B) == 1) {
    Tensor A2 = A.reshape({A.size(-2), A.size(-1)}), B2 = B.reshape({B.size(-2), B.size(-1)});
    int64_t N = B2.size(1);
    bool vectorBias = bias && bias->numel() == N && bias->dim() >= 1 && bias->size(-1) == N;
    y = mm2d(k, A2, B2, vectorBias ? c10::optional<Tensor>(bias->reshape({N})) : c10::nullopt, !bias || vectorBias);
    if (bias && !vectorBias) y = y + *bias;
  } else {
    y = at::matmul(A, B);
    if (bias) y = y + *bias;
  }
  return activate(y, act, alpha);
}

// --- reductions ------------------------------------------------------------------------------------------------------

// x with the reduced axes moved last and flattened: [outer, reduced].
Tensor reduceInner(const Tensor& x, const IntList& axes) {
  IntList perm;
  std::vector<bool> reduced(x.dim(), false);
  for (int64_t ax : axes) reduced[at::maybe_wrap_dim(ax, x.dim())] = true;
  for (int64_t d = 0; d < x.dim(); d++)
    if (!reduced[d]) perm.push_back(d);
  int64_t outer = 1;
  for (int64_t d : perm) outer *= x.size(d);
  for (int64_t d = 0; d < x.dim(); d++)
    if (reduced[d]) perm.push_back(d);
  return x.permute(perm).reshape({outer, -1});
}

// The sizes left after reducing `axes` (no keepDims).
IntList reducedSizes(const Tensor& x, const IntList& axes) {
  std::vector<bool> reduced(x.dim(), false);
  for (int64_t ax : axes) reduced[at::maybe_wrap_dim(ax, x.dim())] = true;
  IntList out;
  for (int64_t d = 0; d < x.dim(); d++)
    if (!reduced[d]) out.push_back(x.size(d));
  return out;
}

// tfjs's ArgMax/ArgMin (tfjs-backend-cpu): per row, a scan from the first value that moves only on a strictly greater
// (smaller) one. So NaNs are skipped (no comparison with NaN holds), ties go to the first, and a NaN in first place
// stays the answer (nothing compares greater than it). at::argmax/argmin would return the index of any NaN instead.
template <bool Max, typename T>
void argScan(const T* x, int32_t* out, int64_t rows, int64_t n) {
  at::parallel_for(0, rows, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      const T* row = x + i * n;
      T best = row[0];
      int32_t idx = 0;
      for (int64_t j = 1; j < n; j++) {
        if (Max ? row[j] > best : row[j] < best) {
          best = row[j];
          idx = static_cast<int32_t>(j);
        }
      }
      out[i] = idx;
    }
  });
}

template <bool Max>
Tensor argExtreme(const KArgs& k) {
  Tensor x = k.in(1, 2);
  TORCH_CHECK(x.dim() >= 1, "expected a tensor of rank >= 1");
  IntList axes{at::maybe_wrap_dim(k.i(3), x.dim())};
  Tensor o = k.out(reducedSizes(x, axes));
  TORCH_CHECK(o.scalar_type() == at::kInt, "the output must be an Int32Array");
  TORCH_CHECK(x.size(axes[0]) < std::numeric_limits<int32_t>::max(), "the axis is too long for int32 indices");
  Tensor rows = reduceInner(x, axes).contiguous();  // [outer, n]; a view when the axis is the last
  int64_t n = rows.size(1);
  if (n == 0) return o.zero_();  // as tfjs: index 0
  int32_t* po = o.data_ptr<int32_t>();
  if (rows.scalar_type() == at::kFloat) {
    argScan<Max>(rows.data_ptr<float>(), po, rows.size(0), n);
  } else if (rows.scalar_type() == at::kInt) {
    argScan<Max>(rows.data_ptr<int32_t>(), po, rows.size(0), n);
  } else {
    throw std::invalid_argument("float32 or int32 input only");
  }
  return o;
}

// tfjs's Step: 1 where x > 0, alpha elsewhere, NaN stays NaN. Branch-free and vectorized (random signs would cost a
// misprediction per element otherwise: 7x slower).
__attribute__((optimize("O3"))) void stepLoop(const float* __restrict px, float* __restrict po, int64_t n, float al) {
  for (int64_t i = 0; i < n; i++) {
    float v = px[i];
    float r = v > 0.f ? 1.f : al;
    po[i] = v != v ? v : r;
  }
}

Tensor step(const KArgs& k, const Tensor& x, double alpha) {
  TORCH_CHECK(x.scalar_type() == at::kFloat, "Step: float32 only");
  Tensor o = k.out(x.sizes());
  TORCH_CHECK(o.scalar_type() == at::kFloat, "Step: the output must be a Float32Array");
  const float* px = x.data_ptr<float>();
  float* po = o.data_ptr<float>();
  const auto al = static_cast<float>(alpha);
  at::parallel_for(0, x.numel(), 1 << 16, [&](int64_t b, int64_t e) { stepLoop(px + b, po + b, e - b, al); });
  return o;
}

// Broadcast result of two inputs, written into the output: fn(out, a, b).
template <typename F>
Tensor binaryOut(const KArgs& k, F fn) {
  Tensor a = k.in(1, 2), b = k.in(3, 4);
  Tensor o = k.out(at::infer_size(a.sizes(), b.sizes()));
  fn(o, a, b);
  return o;
}

using Kernel = std::function<Tensor(const KArgs&)>;
// Unary kernels: (out, x) elementwise, written straight into the output.
#define UNARY(name, call)                       \
  {                                             \
    name, [](const KArgs& k) {                  \
      Tensor x = k.flat(1), o = k.out(x.sizes()); \
      call;                                     \
      return o;                                 \
    }                                           \
  }
// Binary kernels broadcast: (out, a, aShape?, b, bShape?); equal shapes travel without theirs, as flat arrays.
#define BINARY(name, fn)                                                                                       \
  {                                                                                                            \
    name, [](const KArgs& k) {                                                                                 \
      return binaryOut(k, [](Tensor& o, const Tensor& a, const Tensor& b) { fn(o, a, b); });                  \
    }                                                                                                          \
  }

const std::vector<std::pair<const char*, Kernel>> kKernels = {
    // convolutions and pooling: x/dy NHWC (or NCHW), filters HWIO; pads [top, bottom, left, right]
    {"Conv2D", conv2d},       // (out, x, xShape, filter, filterShape, strides, pads, dilations, channelsLast)
    {"FusedConv2D", conv2d},  // ... then (bias?, biasShape?, activation?, leakyreluAlpha?)
    {"Conv2DBackpropFilter",  // (out, x, xShape, dy, dyShape, filterShape HWIO, strides, pads, dilations, channelsLast)
     [](const KArgs& k) {
       Conv2dAttrs c = convAttrs(k, 6);
       Tensor x = toNCHW(k.in(1, 2), c.cl), dy = toNCHW(k.in(3, 4), c.cl);
       IntList fs = k.ints(5);
       TORCH_CHECK(fs.size() == 4, "filterShape must be [h, w, in, out]");
       IntList pad = padFor(x, c, 0.0);
       Tensor w = at::empty({fs[3], fs[2], fs[0], fs[1]}, x.options().memory_format(formatOf(c)));  // shape only
       auto r = at::convolution_backward(dy, x, w, c10::nullopt, c.stride, pad, c.dil, false, {0, 0}, 1,
                                         {false, true, false});
       return std::get<1>(r).permute({2, 3, 1, 0});  // OIHW -> HWIO
     }},
    {"Conv2DBackpropInput",  // (out, dy, dyShape, filter, filterShape, inShape, strides, pads, dilations, channelsLast)
     [](const KArgs& k) {
       Conv2dAttrs c = convAttrs(k, 6);
       Tensor dy = toNCHW(k.in(1, 2), c.cl), w = filterOIHW(k.in(3, 4), c);
       IntList s = k.ints(5);
       TORCH_CHECK(s.size() == 4, "inShape must have rank 4");
       if (c.cl) s = {s[0], s[3], s[1], s[2]};
       bool explicitPad = !c.symmetric();
       IntList padded = {s[0], s[1], s[2] + (explicitPad ? c.top + c.bottom : 0),
                         s[3] + (explicitPad ? c.left + c.right : 0)};
       IntList pad = explicitPad ? IntList{0, 0} : IntList{c.top, c.left};
       Tensor x = at::empty(padded, dy.options().memory_format(formatOf(c)));  // shape only
       auto r = at::convolution_backward(dy, x, w, c10::nullopt, c.stride, pad, c.dil, false, {0, 0}, 1,
                                         {true, false, false});
       Tensor dx = std::get<0>(r);
       if (explicitPad) dx = dx.narrow(2, c.top, s[2]).narrow(3, c.left, s[3]);
       return fromNCHW(dx, c.cl);
     }},
    {"MaxPool",  // (out, x, xShape, filterSize [h, w], strides, pads, dilations, channelsLast)
     [](const KArgs& k) {
       IntList ks = poolSize(k, 3);
       Conv2dAttrs c = convAttrs(k, 4);
       Tensor x = toNCHW(k.in(1, 2), c.cl);
       IntList pad = padFor(x, c, -std::numeric_limits<double>::infinity(), &ks);
       Tensor y = at::max_pool2d(x, ks, c.stride, pad, c.dil, false);
       if (at::isnan(y).any().item<bool>()) y = at::max_pool2d(skipNaN(x), ks, c.stride, pad, c.dil, false);
       return fromNCHW(y, c.cl);
     }},
    {"MaxPoolGrad",  // (out, dy, dyShape, x, xShape, filterSize, strides, pads, dilations, channelsLast)
     [](const KArgs& k) {
       IntList ks = poolSize(k, 5);
       Conv2dAttrs c = convAttrs(k, 6);
       Tensor dy = toNCHW(k.in(1, 2), c.cl), x = toNCHW(k.in(3, 4), c.cl);
       IntList sizes = x.sizes().vec();
       IntList pad = padFor(x, c, -std::numeric_limits<double>::infinity(), &ks);
       auto fwd = at::max_pool2d_with_indices(x, ks, c.stride, pad, c.dil, false);
       if (at::isnan(std::get<0>(fwd)).any().item<bool>()) {  // route dy to the max that tfjs picks, not to a NaN
         x = skipNaN(x);
         fwd = at::max_pool2d_with_indices(x, ks, c.stride, pad, c.dil, false);
       }
       TORCH_CHECK(std::get<0>(fwd).sizes() == dy.sizes(), "MaxPoolGrad: dy has shape ", dy.sizes(),
                   " but the pooled input has ", std::get<0>(fwd).sizes());
       // A window of -Infinity (and NaN) alone has no max for tfjs (maxPoolPositions keeps -1: its dy goes nowhere);
       // libtorch's index is the window's first element.
       Tensor empty = std::get<0>(fwd) == -std::numeric_limits<double>::infinity();
       if (empty.any().item<bool>()) dy = dy.masked_fill(empty, 0.0);
       const Tensor& idx = std::get<1>(fwd);
       if (x.sizes() == at::IntArrayRef(sizes)) {  // straight into the output
         Tensor o = outNCHW(k, sizes, c.cl);
         at::max_pool2d_with_indices_backward_out(o, dy, x, ks, c.stride, pad, c.dil, false, idx);
         return fromNCHW(o, c.cl);
       }
       Tensor dx = at::max_pool2d_with_indices_backward(dy, x, ks, c.stride, pad, c.dil, false, idx);
       return fromNCHW(dx.narrow(2, c.top, sizes[2]).narrow(3, c.left, sizes[3]), c.cl);
     }},
    // matrix products
    {"BatchMatMul", matmul},
    {"_FusedMatMul", matmul},
    // unary, elementwise (flat)
    UNARY("Abs", at::abs_out(o, x)),
    UNARY("Ceil", at::ceil_out(o, x)),
    UNARY("Cos", at::cos_out(o, x)),
    UNARY("Elu", at::elu_out(o, x)),
    UNARY("Erf", at::erf_out(o, x)),
    UNARY("Exp", at::exp_out(o, x)),
    UNARY("Expm1", at::expm1_out(o, x)),
    UNARY("Floor", at::floor_out(o, x)),
    UNARY("Log", at::log_out(o, x)),
    UNARY("Log1p", at::log1p_out(o, x)),
    UNARY("Neg", at::neg_out(o, x)),
    UNARY("Reciprocal", at::reciprocal_out(o, x)),
    UNARY("Relu", at::clamp_min_out(o, x, at::Scalar(0.0))),
    UNARY("Relu6", at::clamp_out(o, x, at::Scalar(0.0), at::Scalar(6.0))),
    UNARY("Round", at::round_out(o, x)),
    UNARY("Rsqrt", at::rsqrt_out(o, x)),
    UNARY("Sigmoid", at::sigmoid_out(o, x)),
    UNARY("Sin", at::sin_out(o, x)),
    UNARY("Sqrt", at::sqrt_out(o, x)),
    UNARY("Square", at::mul_out(o, x, x)),
    UNARY("Tanh", at::tanh_out(o, x)),
    UNARY("LeakyRelu", at::leaky_relu_out(o, x, k.d(2, 0.2))),                       // (out, x, alpha)
    UNARY("ClipByValue", at::clamp_out(o, x, at::Scalar(k.d(2)), at::Scalar(k.d(3)))),  // (out, x, min, max)
    UNARY("Cast", o.copy_(x)),  // (out, x): the output array's type is the target dtype
    {"Step", [](const KArgs& k) { return step(k, k.flat(1), k.d(2, 0)); }},  // (out, x, alpha)
    // binary, elementwise with broadcasting
    BINARY("Add", at::add_out),
    BINARY("Sub", at::sub_out),
    BINARY("Multiply", at::mul_out),
    BINARY("RealDiv", at::div_out),
    BINARY("Maximum", at::maximum_out),
    BINARY("Minimum", at::minimum_out),
    BINARY("Pow", at::pow_out),
    BINARY("Equal", at::eq_out),
    BINARY("NotEqual", at::ne_out),
    BINARY("Greater", at::gt_out),
    BINARY("GreaterEqual", at::ge_out),
    BINARY("Less", at::lt_out),
    BINARY("LessEqual", at::le_out),
    BINARY("LogicalAnd", at::logical_and_out),
    BINARY("LogicalOr", at::logical_or_out),
    {"SquaredDifference",
     [](const KArgs& k) {
       return binaryOut(k, [](Tensor& o, const Tensor& a, const Tensor& b) { at::sub_out(o, a, b).mul_(o); });
     }},
    {"Select",  // (out, condition, conditionShape?, t, tShape?, e, eShape?), broadcasting
     [](const KArgs& k) {
       Tensor cond = k.boolean(1, 2), t = k.in(3, 4), e = k.in(5, 6);
       Tensor o = k.out(at::infer_size(at::infer_size(cond.sizes(), t.sizes()), e.sizes()));
       return at::where_out(o, cond, t, e);
     }},
    // reductions: (out, x, xShape, axes) over the listed axes, no keepDims (the JS side reshapes)
    {"Sum",
     [](const KArgs& k) {
       Tensor x = k.in(1, 2);
       IntList axes = k.ints(3);
       Tensor o = k.out(reducedSizes(x, axes));
       return at::sum_out(o, x, axes, false, o.scalar_type());
     }},
    {"Mean",
     [](const KArgs& k) {
       Tensor x = k.in(1, 2);
       IntList axes = k.ints(3);
       Tensor o = k.out(reducedSizes(x, axes));
       return at::mean_out(o, x, axes, false);
     }},
    {"Max",
     [](const KArgs& k) {
       Tensor x = k.in(1, 2);
       IntList axes = k.ints(3);
       Tensor o = k.out(reducedSizes(x, axes));
       return at::amax_out(o, x, axes, false);
     }},
    {"Min",
     [](const KArgs& k) {
       Tensor x = k.in(1, 2);
       IntList axes = k.ints(3);
       Tensor o = k.out(reducedSizes(x, axes));
       return at::amin_out(o, x, axes, false);
     }},
    {"Prod",
     [](const KArgs& k) {
       Tensor x = k.in(1, 2);
       return at::prod(reduceInner(x, k.ints(3)), 1, false, k.dst.dtype);
     }},
    {"All", [](const KArgs& k) { return at::all(reduceInner(k.boolean(1, 2), k.ints(3)), 1); }},
    {"Any", [](const KArgs& k) { return at::any(reduceInner(k.boolean(1, 2), k.ints(3)), 1); }},
    {"ArgMax", [](const KArgs& k) { return argExtreme<true>(k); }},  // (out, x, xShape, axis)
    {"ArgMin", [](const KArgs& k) { return argExtreme<false>(k); }},
    // others
    {"Softmax",  // (out, logits, shape, dim)
     [](const KArgs& k) {
       Tensor x = k.in(1, 2);
       Tensor o = k.out(x.sizes());
       return at::softmax_out(o, x, k.i(3));
     }},
    {"Transpose",  // (out, x, shape, perm)
     [](const KArgs& k) {
       Tensor x = k.in(1, 2).permute(k.ints(3));
       return k.out(x.sizes()).copy_(x);
     }},
    {"GatherV2",  // (out, x, xShape, indices (int32), axis): rows of x along axis; the JS side checked the range
     [](const KArgs& k) {
       Tensor x = k.in(1, 2), idx = k.flat(3).to(at::kLong);
       int64_t axis = at::maybe_wrap_dim(k.i(4), x.dim());
       if (x.scalar_type() != k.dst.dtype) return at::index_select(x, axis, idx);  // bool: converted on the copy
       IntList sizes = x.sizes().vec();
       sizes[axis] = idx.numel();
       Tensor o = k.out(sizes);
       return at::index_select_out(o, x, axis, idx);
     }},
    {"Tile",  // (out, x, shape, reps): the output viewed as [r0, s0, r1, s1, ...] is x broadcast along the r's
     [](const KArgs& k) {
       Tensor x = k.in(1, 2);
       IntList reps = k.ints(3);
       TORCH_CHECK(reps.size() == static_cast<size_t>(x.dim()), "Tile: reps must have one entry per dimension");
       IntList split, src, outSizes;
       for (int64_t d = 0; d < x.dim(); d++) {
         split.insert(split.end(), {reps[d], x.size(d)});
         src.insert(src.end(), {1, x.size(d)});
         outSizes.push_back(reps[d] * x.size(d));
       }
       Tensor o = k.out(outSizes);
       o.view(split).copy_(x.reshape(src).expand(split));
       return o;
     }},
};
#undef UNARY
#undef BINARY

Napi::Value callKernel(const Napi::CallbackInfo& info) {
  auto* e = static_cast<const std::pair<const char*, Kernel>*>(info.Data());
  return guard(info.Env(), e->first, [&]() -> Napi::Value {
    Args a{info, e->first};
    KArgs k{a, KArgs::typedArray(a, 0, true)};
    c10::InferenceMode inference;  // no autograd bookkeeping: these tensors never see backward()
    Tensor r = e->second(k);
    if (r.data_ptr() == k.dst.data) {  // written in place: it must be the output array, as is
      TORCH_CHECK(r.is_contiguous() && r.numel() == k.dst.length && r.scalar_type() == k.dst.dtype,
                  "internal: the result was written into the output in another layout");
    } else {
      k.out(r.sizes()).copy_(r);
    }
    return info.Env().Undefined();
  });
}

}  // namespace

void InitTfjsKernels(Napi::Env env, Napi::Object exports) {
  Napi::Object tfjs = Napi::Object::New(env);
  for (auto& e : kKernels)
    tfjs.Set(e.first, Napi::Function::New(env, callKernel, e.first, const_cast<void*>(static_cast<const void*>(&e))));
  exports.Set("tfjs", tfjs);
}

}  // namespace fm
