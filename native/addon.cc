#include "common.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTensor", fm::TensorWrap::Init(env));
  fm::InitOps(env, exports);
  fm::InitSerialize(env, exports);
  fm::InitTfjsKernels(env, exports);
  exports.Set("libtorchVersion", Napi::String::New(env, TORCH_VERSION));
  return exports;
}
}  // namespace

NODE_API_MODULE(fmnist_torch, Init)
