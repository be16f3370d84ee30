// state_dict files: torch::pickle_save writes the zip format that Python's torch.load reads. Loading is done in
// TypeScript (src/torch/serialization/), so no file ever reaches libtorch's unpickler.
#include <torch/csrc/jit/serialization/pickle.h>

#include "common.h"

namespace fm {
namespace {

Napi::Value pickleSave(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "pickleSave", [&]() -> Napi::Value {
    Args a{info, "pickleSave"};
    if (!info[0].IsArray()) a.bad(0, "an array of names");
    Napi::Array names = info[0].As<Napi::Array>();
    auto tensors = a.tensors(1);
    if (names.Length() != tensors.size()) a.bad(1, "as long as the names");
    c10::Dict<std::string, at::Tensor> dict;
    for (uint32_t k = 0; k < names.Length(); k++)
      dict.insert(names.Get(k).As<Napi::String>().Utf8Value(), tensors[k].detach().contiguous());
    std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
    return Napi::Buffer<char>::Copy(info.Env(), bytes.data(), bytes.size());
  });
}

}  // namespace

void InitSerialize(Napi::Env env, Napi::Object exports) {
  exports.Set("pickleSave", Napi::Function::New(env, pickleSave, "pickleSave"));
}

}  // namespace fm
