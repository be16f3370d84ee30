#include <atomic>
#include <cmath>

#include "common.h"

namespace fm {

namespace {
struct AddonData {
  Napi::FunctionReference ctor;
};
// Frees that happened in finalizers, where we must not call into JS; settled on the next Wrap.
std::atomic<int64_t> pendingRelease{0};

int64_t bytesOf(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}
}  // namespace

at::ScalarType parseDtype(Napi::Env env, const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float64") return at::kDouble;
  if (s == "int32") return at::kInt;
  if (s == "int64") return at::kLong;
  if (s == "uint8") return at::kByte;
  if (s == "bool") return at::kBool;
  if (s == "bfloat16") return at::kBFloat16;
  throw Napi::TypeError::New(env, "unsupported dtype '" + s + "' (expected float32, float64, int32, int64, uint8, bool or bfloat16)");
}

const char* dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    case at::kBFloat16: return "bfloat16";
    default: return c10::toString(t);
  }
}

Napi::Function TensorWrap::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "NativeTensor",
                                 {InstanceMethod("dispose", &TensorWrap::Dispose),
                                  InstanceAccessor("isDisposed", &TensorWrap::IsDisposed, nullptr)});
  auto* data = new AddonData();
  data->ctor = Napi::Persistent(f);
  env.SetInstanceData<AddonData>(data);
  return f;
}

Napi::Object TensorWrap::Wrap(Napi::Env env, at::Tensor t) {
  int64_t pending = pendingRelease.exchange(0);
  if (pending) Napi::MemoryManagement::AdjustExternalMemory(env, -pending);
  Napi::Object obj = env.GetInstanceData<AddonData>()->ctor.New({});
  TensorWrap* w = Unwrap(obj);
  w->tensor = std::move(t);
  w->accounted = bytesOf(w->tensor);
  if (w->accounted) Napi::MemoryManagement::AdjustExternalMemory(env, w->accounted);
  return obj;
}

TensorWrap* TensorWrap::Peek(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  void* p = nullptr;
  if (napi_unwrap(v.Env(), v, &p) != napi_ok) return nullptr;
  return static_cast<TensorWrap*>(p);
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info) {}

// The finalizer: the backstop for tensors nobody disposed.
TensorWrap::~TensorWrap() {
  if (accounted) pendingRelease += accounted;
}

void TensorWrap::Release(Napi::Env env) {
  tensor = at::Tensor();
  if (accounted) Napi::MemoryManagement::AdjustExternalMemory(env, -accounted);
  accounted = 0;
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release(info.Env());
  return info.Env().Undefined();
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor.defined());
}

void Args::bad(size_t i, const char* want) const {
  throw Napi::TypeError::New(env(), std::string(op) + ": argument " + std::to_string(i) + " must be " + want);
}

at::Tensor& Args::t(size_t i) const {
  TensorWrap* w = i < info.Length() ? TensorWrap::Peek(info[i]) : nullptr;
  if (!w) bad(i, "a Tensor");
  if (!w->tensor.defined())
    throw Napi::Error::New(env(), std::string(op) + ": argument " + std::to_string(i) + " is a disposed tensor");
  return w->tensor;
}

c10::optional<at::Tensor> Args::ot(size_t i) const {
  if (!has(i)) return c10::nullopt;
  return t(i);
}

double Args::d(size_t i) const {
  if (i >= info.Length() || !info[i].IsNumber()) bad(i, "a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

static bool isInteger(const Napi::Value& v) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) && d == std::floor(d);
}

int64_t Args::i(size_t i) const {
  if (i >= info.Length() || !isInteger(info[i])) bad(i, "an integer");
  return info[i].As<Napi::Number>().Int64Value();
}

bool Args::b(size_t i, bool def) const {
  if (!has(i)) return def;
  if (!info[i].IsBoolean()) bad(i, "a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::vector<int64_t> Args::ints(size_t i) const {
  if (i >= info.Length() || !info[i].IsArray()) bad(i, "an array of integers");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (!isInteger(v)) bad(i, "an array of integers");
    out[k] = v.As<Napi::Number>().Int64Value();
  }
  return out;
}

std::vector<at::Tensor> Args::tensors(size_t i) const {
  if (i >= info.Length() || !info[i].IsArray()) bad(i, "an array of Tensors");
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    TensorWrap* w = TensorWrap::Peek(a.Get(k));
    if (!w) bad(i, "an array of Tensors");
    if (!w->tensor.defined()) bad(i, "an array of live (not disposed) Tensors");
    out.push_back(w->tensor);
  }
  return out;
}

std::string Args::s(size_t i) const {
  if (i >= info.Length() || !info[i].IsString()) bad(i, "a string");
  return info[i].As<Napi::String>().Utf8Value();
}

}  // namespace fm
