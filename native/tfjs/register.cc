// Registers the tfjs kernels of every area (conv_pool.cc, matmul.cc, elementwise.cc, reductions.cc, layout.cc, batchnorm.cc) as
// functions of `exports.tfjs`, each called through callKernel(): arguments read (kargs.h), the kernel run without
// autograd, and its result copied into the output array unless it was written there already.
#include "kargs.h"

namespace fm {
namespace {

using tfjs::KArgs;
using tfjs::KernelDef;
using tfjs::Tensor;

const tfjs::KernelTable& kernels() {
  static const tfjs::KernelTable table = [] {
    tfjs::KernelTable t;
    tfjs::addConvPoolKernels(t);
    tfjs::addMatmulKernels(t);
    tfjs::addElementwiseKernels(t);
    tfjs::addReductionKernels(t);
    tfjs::addLayoutKernels(t);
    tfjs::addBatchNormKernels(t);
    return t;
  }();
  return table;
}

Napi::Value callKernel(const Napi::CallbackInfo& info) {
  auto* e = static_cast<const KernelDef*>(info.Data());
  return guard(info.Env(), e->name, [&]() -> Napi::Value {
    KArgs k(info, e->name, e->attrsAt);
    c10::InferenceMode inference;  // no autograd bookkeeping: these tensors never see backward()
    Tensor r = e->fn(k);
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
  for (const KernelDef& e : kernels())
    tfjs.Set(e.name, Napi::Function::New(env, callKernel, e.name, const_cast<void*>(static_cast<const void*>(&e))));
  exports.Set("tfjs", tfjs);
}

}  // namespace fm
