// The op tables and their dispatchers. The tables are generated from scripts/gen-ops/ops.spec (ops.generated.inc):
// each entry maps JS arguments onto a libtorch call, and the dispatchers below do wrapping and error conversion once
// for all of them. The bindings further down are hand-written because they are not one libtorch call (readers that
// return JS values, typed-array copies, global state); the spec lists them too, for the TS types and the export test.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <functional>
#include <malloc.h>
#include <ATen/autocast_mode.h>

#include "common.h"
#include "linear.h"

namespace fm {
namespace {

using at::Tensor;
using TensorOp = std::function<Tensor(const Args&)>;
using MultiOp = std::function<std::vector<Tensor>(const Args&)>;
using InplaceOp = std::function<void(const Args&)>;

// A whole number given for an integral tensor stays integral, as in PyTorch (int64 += 1).
at::Scalar scalarFor(const Tensor& t, double v) {
  if (at::isIntegralType(t.scalar_type(), /*includeBool=*/false) && v == static_cast<double>(static_cast<int64_t>(v)))
    return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

at::TensorOptions opts(at::ScalarType dtype) { return at::TensorOptions().dtype(dtype); }

// PyTorch's memory_format for 4-D tensors: NCHW (contiguous) or NHWC (channels_last), which oneDNN's convolutions
// run faster on CPU.
at::MemoryFormat memoryFormat(bool channelsLast) {
  return channelsLast ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
}

// clamp's bounds: a missing bound (null in JS) is no bound.
c10::optional<at::Scalar> optScalar(c10::optional<double> v) {
  return v ? c10::optional<at::Scalar>(*v) : c10::nullopt;
}

at::Reduction::Reduction reduction(const Args& a, size_t i) {
  std::string r = a.has(i) ? a.s(i) : "mean";
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  a.bad(i, "'mean', 'sum' or 'none'");
}

// kOps, kMultiOps and kInplace: one entry per line of scripts/gen-ops/ops.spec (npm run gen).
#include "ops.generated.inc"

template <typename Entry>
const Entry* entryOf(const Napi::CallbackInfo& info) {
  return static_cast<const Entry*>(info.Data());
}

Napi::Value wrapOrNull(Napi::Env env, Tensor t) {
  if (!t.defined()) return env.Null();
  return TensorWrap::Wrap(env, std::move(t));
}

Napi::Value callOp(const Napi::CallbackInfo& info) {
  auto* e = entryOf<std::pair<const char*, TensorOp>>(info);
  return guard(info.Env(), e->first, [&] { return wrapOrNull(info.Env(), e->second(Args{info, e->first})); });
}

Napi::Value callMulti(const Napi::CallbackInfo& info) {
  auto* e = entryOf<std::pair<const char*, MultiOp>>(info);
  return guard(info.Env(), e->first, [&]() -> Napi::Value {
    auto outs = e->second(Args{info, e->first});
    Napi::Array arr = Napi::Array::New(info.Env(), outs.size());
    for (size_t k = 0; k < outs.size(); k++) arr.Set(static_cast<uint32_t>(k), wrapOrNull(info.Env(), outs[k]));
    return arr;
  });
}

Napi::Value callInplace(const Napi::CallbackInfo& info) {
  auto* e = entryOf<std::pair<const char*, InplaceOp>>(info);
  return guard(info.Env(), e->first, [&]() -> Napi::Value {
    e->second(Args{info, e->first});
    return info[0];
  });
}

// Hand-written bindings (the `!` lines of ops.spec): readers and global state.
Napi::Value shape(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "shape", [&]() -> Napi::Value {
    auto sizes = Args{info, "shape"}.t(0).sizes();
    Napi::Array arr = Napi::Array::New(info.Env(), sizes.size());
    for (size_t k = 0; k < sizes.size(); k++) arr.Set(static_cast<uint32_t>(k), static_cast<double>(sizes[k]));
    return arr;
  });
}

Napi::Value dtype(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "dtype", [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), dtypeName(Args{info, "dtype"}.t(0).scalar_type()));
  });
}

Napi::Value item(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "item", [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), Args{info, "item"}.t(0).item<double>());
  });
}

Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "requiresGrad", [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), Args{info, "requiresGrad"}.t(0).requires_grad());
  });
}

template <typename T, typename ArrayT>
Napi::Value copyOut(Napi::Env env, const Tensor& c) {
  ArrayT arr = ArrayT::New(env, static_cast<size_t>(c.numel()));
  if (c.numel()) std::memcpy(arr.Data(), c.data_ptr(), c.numel() * sizeof(T));
  return arr;
}

// Copies a tensor's values into a new typed array of the matching kind.
Napi::Value toTypedArray(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "toTypedArray", [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Tensor c = Args{info, "toTypedArray"}.t(0).detach().contiguous();
    if (c.scalar_type() == at::kBFloat16) c = c.to(at::kFloat);  // JS has no bfloat16 array: widen, exactly
    switch (c.scalar_type()) {
      case at::kFloat: return copyOut<float, Napi::Float32Array>(env, c);
      case at::kDouble: return copyOut<double, Napi::Float64Array>(env, c);
      case at::kInt: return copyOut<int32_t, Napi::Int32Array>(env, c);
      case at::kLong: return copyOut<int64_t, Napi::BigInt64Array>(env, c);
      case at::kByte:
      case at::kBool: return copyOut<uint8_t, Napi::Uint8Array>(env, c);
      default: throw Napi::TypeError::New(env, std::string("toTypedArray: unsupported dtype ") + dtypeName(c.scalar_type()));
    }
  });
}

// Copies a typed array into a new tensor of the given shape; the dtype follows the array.
Napi::Value fromTypedArray(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "fromTypedArray", [&]() -> Napi::Value {
    Args a{info, "fromTypedArray"};
    if (!info[0].IsTypedArray()) a.bad(0, "a typed array");
    auto ta = info[0].As<Napi::TypedArray>();
    at::ScalarType st;
    switch (ta.TypedArrayType()) {
      case napi_float32_array: st = at::kFloat; break;
      case napi_float64_array: st = at::kDouble; break;
      case napi_int32_array: st = at::kInt; break;
      case napi_bigint64_array: st = at::kLong; break;
      case napi_uint8_array:
      case napi_uint8_clamped_array: st = at::kByte; break;
      default: a.bad(0, "a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array");
    }
    auto shape = a.ints(1);
    int64_t n = 1;
    for (auto s : shape) n *= s;
    if (n != static_cast<int64_t>(ta.ElementLength()))
      throw Napi::Error::New(info.Env(), "fromTypedArray: shape holds " + std::to_string(n) + " elements but the array has " +
                                             std::to_string(ta.ElementLength()));
    auto* data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    Tensor t = at::from_blob(data, shape, at::TensorOptions().dtype(st)).clone();
    if (a.has(2)) t = t.to(a.dtype(2, st));
    return TensorWrap::Wrap(info.Env(), t);
  });
}

Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "setGradEnabled", [&]() -> Napi::Value {
    bool prev = at::GradMode::is_enabled();
    at::GradMode::set_enabled(Args{info, "setGradEnabled"}.b(0, true));
    return Napi::Boolean::New(info.Env(), prev);
  });
}

Napi::Value manualSeed(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "manualSeed", [&]() -> Napi::Value {
    torch::manual_seed(static_cast<uint64_t>(Args{info, "manualSeed"}.i(0)));
    return info.Env().Undefined();
  });
}

// The default CPU generator's whole state (mt19937 and the normal-sampling cache), so that a checkpoint can
// resume dropout masks exactly where they left off.
Napi::Value getRngState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "getRngState", [&]() -> Napi::Value {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    Tensor state = gen.get_state().contiguous();
    return Napi::Buffer<uint8_t>::Copy(info.Env(), state.data_ptr<uint8_t>(), state.numel());
  });
}

Napi::Value setRngState(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "setRngState", [&]() -> Napi::Value {
    Args a{info, "setRngState"};
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      a.bad(0, "a Uint8Array (from getRngState)");
    auto bytes = info[0].As<Napi::Uint8Array>();
    Tensor state = at::empty({static_cast<int64_t>(bytes.ByteLength())}, opts(at::kByte));
    std::memcpy(state.data_ptr<uint8_t>(), bytes.Data(), bytes.ByteLength());
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);  // throws (a JS Error via guard) when the size or contents are wrong
    return info.Env().Undefined();
  });
}

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "setNumThreads", [&]() -> Napi::Value {
    int64_t n = Args{info, "setNumThreads"}.i(0);
    if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: need at least 1 thread");
    at::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  });
}

// torch.autocast's __enter__ and __exit__ for the CPU. The state is thread-local and every op runs on the JS
// thread, so it covers the ops called in between. Enter returns the previous [enabled, dtype] for exit to put back;
// the last exit clears the cache of float32 weights cast to bfloat16, which would go stale after an optimizer step.
Napi::Value autocastEnter(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "autocastEnter", [&]() -> Napi::Value {
    Args a{info, "autocastEnter"};
    bool on = a.b(0, true);
    at::ScalarType dt = a.dtype(1, at::kBFloat16);
    if (dt != at::kBFloat16) a.bad(1, "'bfloat16' (the one lower precision of CPU autocast)");
    auto prev = Napi::Array::New(info.Env(), 2);
    prev.Set(0u, Napi::Boolean::New(info.Env(), at::autocast::is_cpu_enabled()));
    prev.Set(1u, Napi::String::New(info.Env(), dtypeName(at::autocast::get_autocast_cpu_dtype())));
    at::autocast::set_cpu_enabled(on);
    at::autocast::set_autocast_cpu_dtype(dt);
    at::autocast::increment_nesting();
    return prev;
  });
}

Napi::Value autocastExit(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "autocastExit", [&]() -> Napi::Value {
    Args a{info, "autocastExit"};
    bool on = a.b(0, false);
    at::ScalarType dt = a.dtype(1, at::kBFloat16);
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(on);
    at::autocast::set_autocast_cpu_dtype(dt);
    return info.Env().Undefined();
  });
}

Napi::Value isAutocastEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::autocast::is_cpu_enabled());
}

// Hands free heap pages back to the kernel. Training frees and reallocates activations of
// many sizes; glibc keeps the holes, so without this RSS climbed to ~3 GB in a CNN epoch.
Napi::Value mallocTrim(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
}

Napi::Value getNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

}  // namespace

void InitOps(Napi::Env env, Napi::Object exports) {
  for (auto& e : kOps) exports.Set(e.first, Napi::Function::New(env, callOp, e.first, const_cast<void*>(static_cast<const void*>(&e))));
  for (auto& e : kMultiOps)
    exports.Set(e.first, Napi::Function::New(env, callMulti, e.first, const_cast<void*>(static_cast<const void*>(&e))));
  for (auto& e : kInplace)
    exports.Set(e.first, Napi::Function::New(env, callInplace, e.first, const_cast<void*>(static_cast<const void*>(&e))));
  exports.Set("shape", Napi::Function::New(env, shape, "shape"));
  exports.Set("dtype", Napi::Function::New(env, dtype, "dtype"));
  exports.Set("item", Napi::Function::New(env, item, "item"));
  exports.Set("requiresGrad", Napi::Function::New(env, requiresGrad, "requiresGrad"));
  exports.Set("toTypedArray", Napi::Function::New(env, toTypedArray, "toTypedArray"));
  exports.Set("fromTypedArray", Napi::Function::New(env, fromTypedArray, "fromTypedArray"));
  exports.Set("setGradEnabled", Napi::Function::New(env, setGradEnabled, "setGradEnabled"));
  exports.Set("manualSeed", Napi::Function::New(env, manualSeed, "manualSeed"));
  exports.Set("getRngState", Napi::Function::New(env, getRngState, "getRngState"));
  exports.Set("setRngState", Napi::Function::New(env, setRngState, "setRngState"));
  exports.Set("setNumThreads", Napi::Function::New(env, setNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, getNumThreads, "getNumThreads"));
  exports.Set("autocastEnter", Napi::Function::New(env, autocastEnter, "autocastEnter"));
  exports.Set("autocastExit", Napi::Function::New(env, autocastExit, "autocastExit"));
  exports.Set("isAutocastEnabled", Napi::Function::New(env, isAutocastEnabled, "isAutocastEnabled"));
  exports.Set("mallocTrim", Napi::Function::New(env, mallocTrim, "mallocTrim"));
}

}  // namespace fm
