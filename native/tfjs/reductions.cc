// Reductions: (out, {x, xShape, axes}) over the listed axes, no keepDims (the JS side reshapes); ArgMax/ArgMin
// (out, {x, xShape, axis}); Softmax (out, {logits, logitsShape, dim}).
#include <ATen/WrapDimUtils.h>

#include <algorithm>
#include <stdexcept>

#include "kargs.h"

namespace fm {
namespace tfjs {
namespace {

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
  Tensor x = k.in("x", "xShape");
  TORCH_CHECK(x.dim() >= 1, "expected a tensor of rank >= 1");
  IntList axes{at::maybe_wrap_dim(k.i("axis"), x.dim())};
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

// A reduction written into the output: fn(out, x, axes).
template <typename F>
Tensor reduceOut(const KArgs& k, F fn) {
  Tensor x = k.in("x", "xShape");
  IntList axes = k.ints("axes");
  Tensor o = k.out(reducedSizes(x, axes));
  fn(o, x, axes);
  return o;
}

}  // namespace

void addReductionKernels(KernelTable& t) {
  t.push_back({"Sum", 1, [](const KArgs& k) {
                 return reduceOut(k, [](Tensor& o, const Tensor& x, const IntList& axes) {
                   at::sum_out(o, x, axes, false, o.scalar_type());
                 });
               }});
  t.push_back({"Mean", 1, [](const KArgs& k) {
                 return reduceOut(k, [](Tensor& o, const Tensor& x, const IntList& axes) {
                   at::mean_out(o, x, axes, false);
                 });
               }});
  t.push_back({"Max", 1, [](const KArgs& k) {
                 return reduceOut(k, [](Tensor& o, const Tensor& x, const IntList& axes) {
                   at::amax_out(o, x, axes, false);
                 });
               }});
  t.push_back({"Min", 1, [](const KArgs& k) {
                 return reduceOut(k, [](Tensor& o, const Tensor& x, const IntList& axes) {
                   at::amin_out(o, x, axes, false);
                 });
               }});
  t.push_back({"Prod", 1, [](const KArgs& k) {
                 return at::prod(reduceInner(k.in("x", "xShape"), k.ints("axes")), 1, false, k.dst.dtype);
               }});
  t.push_back({"All", 1, [](const KArgs& k) {
                 return at::all(reduceInner(k.boolean("x", "xShape"), k.ints("axes")), 1);
               }});
  t.push_back({"Any", 1, [](const KArgs& k) {
                 return at::any(reduceInner(k.boolean("x", "xShape"), k.ints("axes")), 1);
               }});
  t.push_back({"ArgMax", 1, argExtreme<true>});
  t.push_back({"ArgMin", 1, argExtreme<false>});
  t.push_back({"Softmax", 1, [](const KArgs& k) {
                 Tensor x = k.in("logits", "logitsShape");
                 Tensor o = k.out(x.sizes());
                 return at::softmax_out(o, x, k.i("dim"));
               }});
}

}  // namespace tfjs
}  // namespace fm
