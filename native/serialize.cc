// state_dict files: torch::pickle_save writes the zip format that Python's torch.load reads.
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

Napi::Value pickleLoad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "pickleLoad", [&]() -> Napi::Value {
    Args a{info, "pickleLoad"};
    if (!info[0].IsBuffer()) a.bad(0, "a Buffer");
    auto buf = info[0].As<Napi::Buffer<char>>();
    std::vector<char> bytes(buf.Data(), buf.Data() + buf.Length());
    c10::IValue v;
    try {
      v = torch::pickle_load(bytes);
    } catch (const c10::Error& e) {
      // libtorch 1.13's unpickler lacks OrderedDict and single-item SETITEM.
      throw std::runtime_error(std::string("cannot read this file (") + e.what_without_backtrace() +
                               "). From Python, save a plain dict: torch.save(dict(model.state_dict()), path)");
    }
    if (!v.isGenericDict()) throw std::runtime_error("the file does not hold a dict of tensors");
    Napi::Env env = info.Env();
    Napi::Array names = Napi::Array::New(env);
    Napi::Array tensors = Napi::Array::New(env);
    uint32_t k = 0;
    for (const auto& item : v.toGenericDict()) {
      if (!item.key().isString() || !item.value().isTensor())
        throw std::runtime_error("the file's dict must map names to tensors");
      names.Set(k, item.key().toStringRef());
      tensors.Set(k, TensorWrap::Wrap(env, item.value().toTensor()));
      k++;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("names", names);
    out.Set("tensors", tensors);
    return out;
  });
}

}  // namespace

void InitSerialize(Napi::Env env, Napi::Object exports) {
  exports.Set("pickleSave", Napi::Function::New(env, pickleSave, "pickleSave"));
  exports.Set("pickleLoad", Napi::Function::New(env, pickleLoad, "pickleLoad"));
}

}  // namespace fm
