// The op table. Each entry is one line that maps JS arguments onto a libtorch call; the
// dispatcher does wrapping and error conversion once for all of them.
#include <cstdlib>
#include <functional>
#include <malloc.h>

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

at::TensorOptions opts(const Args& a, size_t dtypeArg) {
  return at::TensorOptions().dtype(a.dtype(dtypeArg, at::kFloat));
}

at::Reduction::Reduction reduction(const Args& a, size_t i) {
  std::string r = a.has(i) ? a.s(i) : "mean";
  if (r == "mean") return at::Reduction::Mean;
  if (r == "sum") return at::Reduction::Sum;
  if (r == "none") return at::Reduction::None;
  a.bad(i, "'mean', 'sum' or 'none'");
}

// Ops that return a new tensor.
const std::vector<std::pair<const char*, TensorOp>> kOps = {
    // factories: (shape, dtype)
    {"zeros", [](const Args& a) { return at::zeros(a.ints(0), opts(a, 1)); }},
    {"ones", [](const Args& a) { return at::ones(a.ints(0), opts(a, 1)); }},
    {"empty", [](const Args& a) { return at::empty(a.ints(0), opts(a, 1)); }},
    {"full", [](const Args& a) { return at::full(a.ints(0), a.d(1), opts(a, 2)); }},
    {"randn", [](const Args& a) { return at::randn(a.ints(0), opts(a, 1)); }},
    {"rand", [](const Args& a) { return at::rand(a.ints(0), opts(a, 1)); }},
    {"randint", [](const Args& a) { return at::randint(a.i(0), a.i(1), a.ints(2), opts(a, 3).dtype(at::kLong)); }},
    {"randperm", [](const Args& a) { return at::randperm(a.i(0), at::TensorOptions().dtype(at::kLong)); }},
    {"arange", [](const Args& a) { return at::arange(a.d(0), a.d(1), a.d(2, 1), opts(a, 3)); }},
    // elementwise
    {"add", [](const Args& a) { return at::add(a.t(0), a.t(1), a.d(2, 1)); }},
    {"sub", [](const Args& a) { return at::sub(a.t(0), a.t(1), a.d(2, 1)); }},
    {"mul", [](const Args& a) { return at::mul(a.t(0), a.t(1)); }},
    {"div", [](const Args& a) { return at::div(a.t(0), a.t(1)); }},
    {"addScalar", [](const Args& a) { return at::add(a.t(0), scalarFor(a.t(0), a.d(1))); }},
    {"mulScalar", [](const Args& a) { return at::mul(a.t(0), scalarFor(a.t(0), a.d(1))); }},
    {"divScalar", [](const Args& a) { return at::div(a.t(0), a.d(1)); }},
    {"rsubScalar", [](const Args& a) { return at::rsub(a.t(0), a.d(1)); }},
    {"powScalar", [](const Args& a) { return at::pow(a.t(0), a.d(1)); }},
    {"pow", [](const Args& a) { return at::pow(a.t(0), a.t(1)); }},
    {"maximum", [](const Args& a) { return at::maximum(a.t(0), a.t(1)); }},
    {"minimum", [](const Args& a) { return at::minimum(a.t(0), a.t(1)); }},
    {"neg", [](const Args& a) { return at::neg(a.t(0)); }},
    {"abs", [](const Args& a) { return at::abs(a.t(0)); }},
    {"exp", [](const Args& a) { return at::exp(a.t(0)); }},
    {"log", [](const Args& a) { return at::log(a.t(0)); }},
    {"sqrt", [](const Args& a) { return at::sqrt(a.t(0)); }},
    {"rsqrt", [](const Args& a) { return at::rsqrt(a.t(0)); }},
    {"square", [](const Args& a) { return at::square(a.t(0)); }},
    {"sign", [](const Args& a) { return at::sign(a.t(0)); }},
    {"relu", [](const Args& a) { return at::relu(a.t(0)); }},
    {"leakyRelu", [](const Args& a) { return at::leaky_relu(a.t(0), a.d(1, 0.01)); }},
    {"gelu", [](const Args& a) { return at::gelu(a.t(0)); }},
    {"sigmoid", [](const Args& a) { return at::sigmoid(a.t(0)); }},
    {"tanh", [](const Args& a) { return at::tanh(a.t(0)); }},
    {"clamp",
     [](const Args& a) {
       c10::optional<at::Scalar> lo, hi;
       if (a.has(1)) lo = a.d(1);
       if (a.has(2)) hi = a.d(2);
       return at::clamp(a.t(0), lo, hi);
     }},
    {"where", [](const Args& a) { return at::where(a.t(0), a.t(1), a.t(2)); }},
    {"eq", [](const Args& a) { return at::eq(a.t(0), a.t(1)); }},
    {"eqScalar", [](const Args& a) { return at::eq(a.t(0), a.d(1)); }},
    {"gt", [](const Args& a) { return at::gt(a.t(0), a.t(1)); }},
    {"gtScalar", [](const Args& a) { return at::gt(a.t(0), a.d(1)); }},
    {"ltScalar", [](const Args& a) { return at::lt(a.t(0), a.d(1)); }},
    // reductions
    {"sum", [](const Args& a) { return at::sum(a.t(0)); }},
    {"sumDim", [](const Args& a) { return at::sum(a.t(0), a.ints(1), a.b(2, false)); }},
    {"mean", [](const Args& a) { return at::mean(a.t(0)); }},
    {"meanDim", [](const Args& a) { return at::mean(a.t(0), a.ints(1), a.b(2, false)); }},
    {"varDim", [](const Args& a) { return at::var(a.t(0), a.ints(1), a.b(2, true), a.b(3, false)); }},
    {"max", [](const Args& a) { return at::max(a.t(0)); }},
    {"min", [](const Args& a) { return at::min(a.t(0)); }},
    {"argmax", [](const Args& a) { return at::argmax(a.t(0), a.i(1), a.b(2, false)); }},
    {"softmax", [](const Args& a) { return at::softmax(a.t(0), a.i(1)); }},
    {"logSoftmax", [](const Args& a) { return at::log_softmax(a.t(0), a.i(1)); }},
    // shape and copies
    {"reshape", [](const Args& a) { return at::reshape(a.t(0), a.ints(1)); }},
    {"view", [](const Args& a) { return a.t(0).view(a.ints(1)); }},
    {"permute", [](const Args& a) { return a.t(0).permute(a.ints(1)); }},
    {"transpose", [](const Args& a) { return a.t(0).transpose(a.i(1), a.i(2)); }},
    {"flatten", [](const Args& a) { return at::flatten(a.t(0), a.i(1, 0), a.i(2, -1)); }},
    {"squeeze", [](const Args& a) { return at::squeeze(a.t(0), a.i(1)); }},
    {"unsqueeze", [](const Args& a) { return at::unsqueeze(a.t(0), a.i(1)); }},
    {"expand", [](const Args& a) { return a.t(0).expand(a.ints(1)); }},
    {"narrow", [](const Args& a) { return at::narrow(a.t(0), a.i(1), a.i(2), a.i(3)); }},
    {"select", [](const Args& a) { return at::select(a.t(0), a.i(1), a.i(2)); }},
    {"contiguous", [](const Args& a) { return a.t(0).contiguous(); }},
    {"clone", [](const Args& a) { return a.t(0).clone(); }},
    {"detach", [](const Args& a) { return a.t(0).detach(); }},
    {"to", [](const Args& a) { return a.t(0).to(a.dtype(1, at::kFloat)); }},
    {"cat", [](const Args& a) { return at::cat(a.tensors(0), a.i(1, 0)); }},
    {"stack", [](const Args& a) { return at::stack(a.tensors(0), a.i(1, 0)); }},
    {"indexSelect", [](const Args& a) { return at::index_select(a.t(0), a.i(1), a.t(2)); }},
    {"gather", [](const Args& a) { return at::gather(a.t(0), a.i(1), a.t(2)); }},
    {"flip", [](const Args& a) { return at::flip(a.t(0), a.ints(1)); }},
    {"roll", [](const Args& a) { return at::roll(a.t(0), a.ints(1), a.ints(2)); }},
    {"pad", [](const Args& a) { return at::constant_pad_nd(a.t(0), a.ints(1), a.d(2, 0)); }},
    // nn
    {"matmul", [](const Args& a) { return at::matmul(a.t(0), a.t(1)); }},
    {"linear", [](const Args& a) { return fastLinear(a.t(0), a.t(1), a.ot(2)); }},
    {"conv2d",
     [](const Args& a) {
       return at::conv2d(a.t(0), a.t(1), a.ot(2), a.ints(3), a.ints(4), a.ints(5), a.i(6, 1));
     }},
    {"maxPool2d",
     [](const Args& a) { return at::max_pool2d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.ints(4), a.b(5, false)); }},
    {"avgPool2d",
     [](const Args& a) { return at::avg_pool2d(a.t(0), a.ints(1), a.ints(2), a.ints(3), a.b(4, false), a.b(5, true)); }},
    {"adaptiveAvgPool2d", [](const Args& a) { return at::adaptive_avg_pool2d(a.t(0), a.ints(1)); }},
    {"batchNorm",
     [](const Args& a) {
       return at::batch_norm(a.t(0), a.ot(1), a.ot(2), a.ot(3), a.ot(4), a.b(5, false), a.d(6, 0.1), a.d(7, 1e-5),
                             /*cudnn_enabled=*/true);
     }},
    {"dropout", [](const Args& a) { return at::dropout(a.t(0), a.d(1), a.b(2, false)); }},
    {"crossEntropy",
     [](const Args& a) {
       return at::cross_entropy_loss(a.t(0), a.t(1), a.ot(2), reduction(a, 3), a.i(4, -100), a.d(5, 0.0));
     }},
    {"nllLoss", [](const Args& a) { return at::nll_loss(a.t(0), a.t(1), a.ot(2), reduction(a, 3), a.i(4, -100)); }},
    {"mseLoss", [](const Args& a) { return at::mse_loss(a.t(0), a.t(1), reduction(a, 2)); }},
    // autograd
    {"grad",
     [](const Args& a) {
       const Tensor& g = a.t(0).grad();
       return g;  // undefined -> the dispatcher answers null
     }},
};

const std::vector<std::pair<const char*, MultiOp>> kMultiOps = {
    {"maxDim",
     [](const Args& a) {
       auto r = at::max(a.t(0), a.i(1), a.b(2, false));
       return std::vector<Tensor>{std::get<0>(r), std::get<1>(r)};
     }},
    {"topk",
     [](const Args& a) {
       auto r = at::topk(a.t(0), a.i(1), a.i(2, -1));
       return std::vector<Tensor>{std::get<0>(r), std::get<1>(r)};
     }},
};

// In-place ops; JS gets its own first argument back.
const std::vector<std::pair<const char*, InplaceOp>> kInplace = {
    {"add_", [](const Args& a) { a.t(0).add_(a.t(1), a.d(2, 1)); }},
    {"addScalar_", [](const Args& a) { a.t(0).add_(scalarFor(a.t(0), a.d(1))); }},
    {"mul_", [](const Args& a) { a.t(0).mul_(a.t(1)); }},
    {"mulScalar_", [](const Args& a) { a.t(0).mul_(scalarFor(a.t(0), a.d(1))); }},
    {"div_", [](const Args& a) { a.t(0).div_(a.t(1)); }},
    {"addcmul_", [](const Args& a) { a.t(0).addcmul_(a.t(1), a.t(2), a.d(3, 1)); }},
    {"addcdiv_", [](const Args& a) { a.t(0).addcdiv_(a.t(1), a.t(2), a.d(3, 1)); }},
    {"lerp_", [](const Args& a) { a.t(0).lerp_(a.t(1), a.d(2)); }},
    {"sqrt_", [](const Args& a) { a.t(0).sqrt_(); }},
    {"maximum_", [](const Args& a) { at::maximum_out(a.t(0), a.t(0), a.t(1)); }},
    {"copy_", [](const Args& a) { a.t(0).copy_(a.t(1)); }},
    {"zero_", [](const Args& a) { a.t(0).zero_(); }},
    {"fill_", [](const Args& a) { a.t(0).fill_(a.d(1)); }},
    {"uniform_", [](const Args& a) { a.t(0).uniform_(a.d(1), a.d(2)); }},
    {"normal_", [](const Args& a) { a.t(0).normal_(a.d(1), a.d(2)); }},
    {"requiresGrad_", [](const Args& a) { a.t(0).requires_grad_(a.b(1, true)); }},
    {"zeroGrad_", [](const Args& a) { a.t(0).mutable_grad().reset(); }},
    {"backward",
     [](const Args& a) {
       auto g = a.ot(1);
       a.t(0).backward(g ? *g : Tensor(), a.b(2, false));
     }},
};

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

// Hand-written bindings: readers and global state.
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

Napi::Value setNumThreads(const Napi::CallbackInfo& info) {
  return guard(info.Env(), "setNumThreads", [&]() -> Napi::Value {
    int64_t n = Args{info, "setNumThreads"}.i(0);
    if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: need at least 1 thread");
    at::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  });
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
  exports.Set("setNumThreads", Napi::Function::New(env, setNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, getNumThreads, "getNumThreads"));
  exports.Set("mallocTrim", Napi::Function::New(env, mallocTrim, "mallocTrim"));
}

}  // namespace fm
