// Convolutions and max pooling: x/dy NHWC (or NCHW when channelsLast is false), filters HWIO (tfjs's layouts). NHWC is
// viewed as channels_last NCHW, which oneDNN takes as is. Conv/pool attributes: strides [h, w], pads [top, bottom,
// left, right], dilations [h, w], channelsLast, and for convolutions groups (optional, default 1): a grouped filter is
// HWIO [fh, fw, inC / groups, outC], output channel o in group o / (outC / groups). tfjs's depthwise filter
// [fh, fw, inC, multiplier] is that with groups = inC, read as [fh, fw, 1, inC * multiplier] (the JS side passes that
// shape): its output channel c * multiplier + m is libtorch's.
#include <algorithm>

#include "kargs.h"

namespace fm {
namespace tfjs {
namespace {

// Forward convolutions whose output is bigger than this run in batch chunks of about this size (see conv2d()).
constexpr int64_t kConvChunkBytes = 8 << 20;

struct Conv2dAttrs {
  IntList stride, dil;
  int64_t top, bottom, left, right;
  int64_t groups;
  bool cl;
  bool symmetric() const { return top == bottom && left == right; }
};

Conv2dAttrs convAttrs(const KArgs& k) {
  Conv2dAttrs c;
  c.stride = k.ints("strides", 2);
  IntList p = k.ints("pads", 4);
  c.dil = k.ints("dilations", 2);
  c.cl = k.b("channelsLast");
  c.groups = k.has("groups") ? k.i("groups") : 1;
  if (c.groups < 1) k.bad("groups", "a positive integer");
  for (int64_t v : p)
    if (v < 0) k.bad("pads", "[top, bottom, left, right], all non-negative");
  for (int64_t v : c.stride)
    if (v < 1) k.bad("strides", "[strideHeight, strideWidth], both positive");
  for (int64_t v : c.dil)
    if (v < 1) k.bad("dilations", "[dilationHeight, dilationWidth], both positive");
  c.top = p[0], c.bottom = p[1], c.left = p[2], c.right = p[3];
  return c;
}

IntList poolSize(const KArgs& k) {
  IntList ks = k.ints("filterSize", 2);
  if (ks[0] < 1 || ks[1] < 1) k.bad("filterSize", "[filterHeight, filterWidth], both positive");
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
Tensor skipNaN(const Tensor& x) { return x.masked_fill(at::isnan(x), -kInf); }

// The smallest element, NaN when there is one (min propagates NaN): one vectorized reduction and no bool mask, so
// the usual NaN-free call pays little for tfjs's NaN semantics (a CNN step runs two pools and their gradients).
float minOf(const Tensor& y) { return y.numel() ? y.min().item<float>() : 0.0f; }
bool hasNaN(const Tensor& y) { return std::isnan(minOf(y)); }

// The output array as an NHWC (or NCHW) tensor of tfjs's shape, viewed as NCHW: what libtorch writes into.
Tensor outNCHW(const KArgs& k, at::IntArrayRef nchw, bool cl) {
  if (!cl) return k.out(nchw);
  return k.out({nchw[0], nchw[2], nchw[3], nchw[1]}).permute({0, 3, 1, 2});
}

// Conv2D and FusedConv2D (and their depthwise twins): {x, xShape, filter, filterShape, strides, pads, dilations,
// channelsLast, groups?} and for the fused ones
// {bias?, biasShape?, activation?, leakyreluAlpha?}. A per-channel bias goes into the convolution itself; any other
// broadcasts. Big batches (inference) run in chunks written into the output one after the other: libtorch's result for
// a whole batch of 500 would be a fresh 40+ MB mmap every call (page faults cost as much as the convolution there).
Tensor conv2d(const KArgs& k, bool fused) {
  Conv2dAttrs c = convAttrs(k);
  Tensor x = toNCHW(k.in("x", "xShape"), c.cl), w = filterOIHW(k.in("filter", "filterShape"), c);
  IntList pad = padFor(x, c, 0.0);
  c10::optional<Tensor> bias, channelBias;
  if (fused && k.has("bias")) bias = k.in("bias", "biasShape");
  int64_t C = w.size(0);
  if (bias && bias->numel() == C && bias->dim() >= 1 &&
      (c.cl ? bias->size(-1) == C : bias->dim() >= 3 && bias->size(-3) == C))
    channelBias = bias->reshape({C});
  std::string act = fused ? k.s("activation", "linear") : "linear";
  double alpha = fused ? k.d("leakyreluAlpha", 0.2) : 0.2;
  auto run = [&](const Tensor& xs) {
    Tensor y = fromNCHW(at::conv2d(xs, w, channelBias, c.stride, pad, c.dil, c.groups), c.cl);
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

// {x, xShape, dy, dyShape, filterShape (HWIO), strides, pads, dilations, channelsLast, groups?}
Tensor conv2dBackpropFilter(const KArgs& k) {
  Conv2dAttrs c = convAttrs(k);
  Tensor x = toNCHW(k.in("x", "xShape"), c.cl), dy = toNCHW(k.in("dy", "dyShape"), c.cl);
  IntList fs = k.ints("filterShape", 4);
  IntList pad = padFor(x, c, 0.0);
  Tensor w = at::empty({fs[3], fs[2], fs[0], fs[1]}, x.options().memory_format(formatOf(c)));  // shape only
  auto r =
      at::convolution_backward(dy, x, w, c10::nullopt, c.stride, pad, c.dil, false, {0, 0}, c.groups, {false, true, false});
  return std::get<1>(r).permute({2, 3, 1, 0});  // OIHW -> HWIO
}

// {dy, dyShape, filter, filterShape, inputShape, strides, pads, dilations, channelsLast, groups?}
Tensor conv2dBackpropInput(const KArgs& k) {
  Conv2dAttrs c = convAttrs(k);
  Tensor dy = toNCHW(k.in("dy", "dyShape"), c.cl), w = filterOIHW(k.in("filter", "filterShape"), c);
  IntList s = k.ints("inputShape", 4);
  if (c.cl) s = {s[0], s[3], s[1], s[2]};
  bool explicitPad = !c.symmetric();
  IntList padded = {s[0], s[1], s[2] + (explicitPad ? c.top + c.bottom : 0), s[3] + (explicitPad ? c.left + c.right : 0)};
  IntList pad = explicitPad ? IntList{0, 0} : IntList{c.top, c.left};
  Tensor x = at::empty(padded, dy.options().memory_format(formatOf(c)));  // shape only
  auto r =
      at::convolution_backward(dy, x, w, c10::nullopt, c.stride, pad, c.dil, false, {0, 0}, c.groups, {true, false, false});
  Tensor dx = std::get<0>(r);
  if (explicitPad) dx = dx.narrow(2, c.top, s[2]).narrow(3, c.left, s[3]);
  return fromNCHW(dx, c.cl);
}

// {x, xShape, filterSize [h, w], strides, pads, dilations, channelsLast}
Tensor maxPool(const KArgs& k) {
  IntList ks = poolSize(k);
  Conv2dAttrs c = convAttrs(k);
  Tensor x = toNCHW(k.in("x", "xShape"), c.cl);
  IntList pad = padFor(x, c, -kInf, &ks);
  Tensor y = at::max_pool2d(x, ks, c.stride, pad, c.dil, false);
  if (hasNaN(y)) y = at::max_pool2d(skipNaN(x), ks, c.stride, pad, c.dil, false);
  return fromNCHW(y, c.cl);
}

// {dy, dyShape, x, xShape, filterSize, strides, pads, dilations, channelsLast}: dy goes to the first maximum of each
// window (row-major), as tfjs's cpu kernel routes it.
Tensor maxPoolGrad(const KArgs& k) {
  IntList ks = poolSize(k);
  Conv2dAttrs c = convAttrs(k);
  Tensor dy = toNCHW(k.in("dy", "dyShape"), c.cl), x = toNCHW(k.in("x", "xShape"), c.cl);
  IntList sizes = x.sizes().vec();
  IntList pad = padFor(x, c, -kInf, &ks);
  auto fwd = at::max_pool2d_with_indices(x, ks, c.stride, pad, c.dil, false);
  float lowest = minOf(std::get<0>(fwd));
  if (std::isnan(lowest)) {  // route dy to the max that tfjs picks, not to a NaN
    x = skipNaN(x);
    fwd = at::max_pool2d_with_indices(x, ks, c.stride, pad, c.dil, false);
    lowest = minOf(std::get<0>(fwd));
  }
  TORCH_CHECK(std::get<0>(fwd).sizes() == dy.sizes(), "MaxPoolGrad: dy has shape ", dy.sizes(),
              " but the pooled input has ", std::get<0>(fwd).sizes());
  // A window of -Infinity (and NaN) alone has no max for tfjs (maxPoolPositions keeps -1: its dy goes nowhere);
  // libtorch's index is the window's first element.
  if (lowest == -kInf) dy = dy.masked_fill(std::get<0>(fwd) == -kInf, 0.0);
  const Tensor& idx = std::get<1>(fwd);
  if (x.sizes() == at::IntArrayRef(sizes)) {  // straight into the output
    Tensor o = outNCHW(k, sizes, c.cl);
    at::max_pool2d_with_indices_backward_out(o, dy, x, ks, c.stride, pad, c.dil, false, idx);
    return fromNCHW(o, c.cl);
  }
  Tensor dx = at::max_pool2d_with_indices_backward(dy, x, ks, c.stride, pad, c.dil, false, idx);
  return fromNCHW(dx.narrow(2, c.top, sizes[2]).narrow(3, c.left, sizes[3]), c.cl);
}

}  // namespace

void addConvPoolKernels(KernelTable& t) {
  t.push_back({"Conv2D", 1, [](const KArgs& k) { return conv2d(k, false); }});
  t.push_back({"FusedConv2D", 1, [](const KArgs& k) { return conv2d(k, true); }});
  t.push_back({"Conv2DBackpropFilter", 1, conv2dBackpropFilter});
  t.push_back({"Conv2DBackpropInput", 1, conv2dBackpropInput});
  // The same code with groups = inC (the JS side passes the filter's shape as [fh, fw, 1, inC * multiplier]).
  t.push_back({"DepthwiseConv2dNative", 1, [](const KArgs& k) { return conv2d(k, false); }});
  t.push_back({"FusedDepthwiseConv2D", 1, [](const KArgs& k) { return conv2d(k, true); }});
  t.push_back({"DepthwiseConv2dNativeBackpropFilter", 1, conv2dBackpropFilter});
  t.push_back({"DepthwiseConv2dNativeBackpropInput", 1, conv2dBackpropInput});
  t.push_back({"MaxPool", 1, maxPool});
  t.push_back({"MaxPoolGrad", 1, maxPoolGrad});
}

}  // namespace tfjs
}  // namespace fm
