// Kernels that move values: Transpose, Tile, GatherV2, PadV2, Slice (any of float32, int32, bool).
#include <ATen/WrapDimUtils.h>

#include "kargs.h"

namespace fm {
namespace tfjs {

void addLayoutKernels(KernelTable& t) {
  t.push_back({"Transpose", 1, [](const KArgs& k) {  // {x, xShape, perm}
                 Tensor x = k.in("x", "xShape").permute(k.ints("perm"));
                 return k.out(x.sizes()).copy_(x);
               }});
  // {x, xShape, reps}: the output viewed as [r0, s0, r1, s1, ...] is x broadcast along the r's
  t.push_back({"Tile", 1, [](const KArgs& k) {
                 Tensor x = k.in("x", "xShape");
                 IntList reps = k.ints("reps", static_cast<int>(x.dim()));
                 IntList split, src, outSizes;
                 for (int64_t d = 0; d < x.dim(); d++) {
                   split.insert(split.end(), {reps[d], x.size(d)});
                   src.insert(src.end(), {1, x.size(d)});
                   outSizes.push_back(reps[d] * x.size(d));
                 }
                 Tensor o = k.out(outSizes);
                 o.view(split).copy_(x.reshape(src).expand(split));
                 return o;
               }});
  // {x, xShape, paddings [before0, after0, before1, ...] (non-negative), constantValue}
  t.push_back({"PadV2", 1, [](const KArgs& k) {
                 Tensor x = k.in("x", "xShape");
                 IntList p = k.ints("paddings", static_cast<int>(2 * x.dim()));
                 IntList sizes;
                 for (int64_t d = 0; d < x.dim(); d++) {
                   if (p[2 * d] < 0 || p[2 * d + 1] < 0) k.bad("paddings", "non-negative [before, after] pairs");
                   sizes.push_back(p[2 * d] + x.size(d) + p[2 * d + 1]);
                 }
                 Tensor o = k.out(sizes);
                 o.fill_(k.d("constantValue"));
                 Tensor inner = o;
                 for (int64_t d = 0; d < x.dim(); d++) inner = inner.narrow(d, p[2 * d], x.size(d));
                 inner.copy_(x);
                 return o;
               }});
  // {x, xShape, begin, size}: the JS side checked the bounds (and leaves contiguous slices, which share x's data, to
  // the cpu kernel)
  t.push_back({"Slice", 1, [](const KArgs& k) {
                 Tensor x = k.in("x", "xShape");
                 int n = static_cast<int>(x.dim());
                 IntList begin = k.ints("begin", n), size = k.ints("size", n);
                 for (int64_t d = 0; d < n; d++) {
                   if (begin[d] < 0 || size[d] < 0 || begin[d] + size[d] > x.size(d))
                     k.bad("size", "within x's shape (begin + size <= xShape, both non-negative)");
                   x = x.narrow(d, begin[d], size[d]);
                 }
                 return k.out(x.sizes()).copy_(x);
               }});
  // {x, xShape, indices (int32), axis}: rows of x along axis; the JS side checked the range
  t.push_back({"GatherV2", 1, [](const KArgs& k) {
                 Tensor x = k.in("x", "xShape"), idx = k.flat("indices").to(at::kLong);
                 int64_t axis = at::maybe_wrap_dim(k.i("axis"), x.dim());
                 if (x.scalar_type() != k.dst.dtype) return at::index_select(x, axis, idx);  // bool: on the copy
                 IntList sizes = x.sizes().vec();
                 sizes[axis] = idx.numel();
                 Tensor o = k.out(sizes);
                 return at::index_select_out(o, x, axis, idx);
               }});
}

}  // namespace tfjs
}  // namespace fm
