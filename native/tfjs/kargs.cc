// Reading the tfjs kernels' arguments (see kargs.h), and what the areas share.
#include "kargs.h"

#include <cmath>
#include <stdexcept>

namespace fm {
namespace tfjs {
namespace {

const char* kArrayTypes = "a Float32Array, Int32Array or Uint8Array";

bool isInteger(const Napi::Value& v) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) && d == std::floor(d);
}

// What a bad value was, for the messages.
std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) return "a typed array";
  if (v.IsArray()) return "an array";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsNumber()) return "the number " + v.ToString().Utf8Value();
  if (v.IsString()) return "a string";
  if (v.IsFunction()) return "a function";
  return "an object";
}

}  // namespace

TypedArrayView typedArray(Napi::Env env, const char* kernel, Napi::Value v, const std::string& what, bool output) {
  auto fail = [&]() {
    throw Napi::TypeError::New(env, std::string(kernel) + ": " + what + " must be " + kArrayTypes + " (got " +
                                        describe(v) + ")");
  };
  if (!v.IsTypedArray()) fail();
  auto ta = v.As<Napi::TypedArray>();
  at::ScalarType st = at::kFloat;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: st = at::kFloat; break;
    case napi_int32_array: st = at::kInt; break;
    case napi_uint8_array: st = output ? at::kBool : at::kByte; break;
    default: fail();
  }
  void* data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return {data, static_cast<int64_t>(ta.ElementLength()), st};
}

KArgs::KArgs(const Napi::CallbackInfo& info, const char* kernel, size_t attrsAt)
    : kernel(kernel), info_(info) {
  dst = typedArray(info.Env(), kernel, info[0], "argument 0", true);
  if (attrsAt == 0) return;
  Napi::Value a = info[attrsAt];
  if (!a.IsObject() || a.IsArray() || a.IsTypedArray() || a.IsFunction())
    throw Napi::TypeError::New(info.Env(), std::string(kernel) + ": argument " + std::to_string(attrsAt) +
                                               " must be an object of named inputs and attributes (got " +
                                               describe(a) + ")");
  attrs_ = a.As<Napi::Object>();
}

Tensor KArgs::out(at::IntArrayRef sizes) const {
  int64_t n = c10::multiply_integers(sizes);
  if (n != dst.length)
    throw std::length_error("the result has " + std::to_string(n) + " elements but the output array holds " +
                            std::to_string(dst.length));
  return at::from_blob(dst.data, sizes, at::TensorOptions().dtype(dst.dtype));
}

Tensor KArgs::flat(size_t i) const {
  std::string what = "argument " + std::to_string(i);
  return view(typedArray(info_.Env(), kernel, info_[i], what, false), nullptr, what, nullptr);
}

void KArgs::bad(const char* name, const std::string& want) const {
  Napi::Value v = get(name);
  throw Napi::TypeError::New(info_.Env(), std::string(kernel) + ": attrs." + name + " must be " + want + " (got " +
                                              describe(v) + ")");
}

Napi::Value KArgs::get(const char* name) const {
  if (attrs_.IsEmpty()) throw std::logic_error(std::string("internal: the kernel reads attrs.") + name + " but has none");
  return attrs_.Get(name);
}

bool KArgs::has(const char* name) const {
  Napi::Value v = get(name);
  return !v.IsUndefined() && !v.IsNull();
}

Tensor KArgs::in(const char* name, const char* shape, bool shapeRequired) const {
  std::string what = std::string("attrs.") + name;
  TypedArrayView v = typedArray(info_.Env(), kernel, get(name), what, false);
  if (shape == nullptr || (!shapeRequired && !has(shape))) return view(v, nullptr, what, nullptr);
  IntList sizes = ints(shape);
  return view(v, &sizes, what, shape);
}

Tensor KArgs::boolean(const char* name, const char* shape) const {
  Tensor t = in(name, shape, false);
  return t.scalar_type() == at::kBool ? t : t.ne(0);
}

IntList KArgs::ints(const char* name, int n) const {
  std::string want = n >= 0 ? "an array of " + std::to_string(n) + " integers" : "an array of integers";
  Napi::Value v = get(name);
  if (!v.IsArray()) bad(name, want);
  Napi::Array a = v.As<Napi::Array>();
  if (n >= 0 && a.Length() != static_cast<uint32_t>(n)) bad(name, want);
  IntList out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value e = a.Get(k);
    if (!isInteger(e)) bad(name, want);
    out[k] = e.As<Napi::Number>().Int64Value();
  }
  return out;
}

int64_t KArgs::i(const char* name) const {
  Napi::Value v = get(name);
  if (!isInteger(v)) bad(name, "an integer");
  return v.As<Napi::Number>().Int64Value();
}

double KArgs::d(const char* name) const {
  Napi::Value v = get(name);
  if (!v.IsNumber()) bad(name, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool KArgs::b(const char* name) const {
  Napi::Value v = get(name);
  if (!v.IsBoolean()) bad(name, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string KArgs::s(const char* name, const std::string& def) const {
  if (!has(name)) return def;
  Napi::Value v = get(name);
  if (!v.IsString()) bad(name, "a string");
  return v.As<Napi::String>().Utf8Value();
}

Tensor KArgs::view(const TypedArrayView& v, const IntList* shape, const std::string& what,
                   const char* shapeName) const {
  IntList sizes = shape ? *shape : IntList{v.length};
  int64_t numel = 1;
  for (int64_t s : sizes) {
    if (s < 0) bad(shapeName, "a shape of non-negative integers");
    numel *= s;
  }
  if (numel != v.length)
    throw Napi::RangeError::New(info_.Env(), std::string(kernel) + ": " + what + " has " + std::to_string(v.length) +
                                                 " elements but attrs." + shapeName + " holds " +
                                                 std::to_string(numel));
  return at::from_blob(v.data, sizes, at::TensorOptions().dtype(v.dtype));
}

Tensor activate(Tensor y, const std::string& act, double alpha) {
  if (act.empty() || act == "linear") return y;
  if (act == "relu") return y.relu_();
  if (act == "relu6") return y.clamp_(at::Scalar(0.0), at::Scalar(6.0));
  if (act == "sigmoid") return y.sigmoid_();
  if (act == "elu") return at::elu_(y);
  if (act == "leakyrelu") return at::leaky_relu_(y, alpha);
  throw std::invalid_argument("unsupported fused activation '" + act + "'");
}

}  // namespace tfjs
}  // namespace fm
