// Kernels that move values: Transpose, Tile, GatherV2 (any of float32, int32, bool).
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
