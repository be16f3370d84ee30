// Shared pieces of the addon: the error guard, the Tensor wrapper and argument readers.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace fm {

// The one catch-and-convert path. Every binding body runs inside guard(), so a libtorch
// exception (c10::Error and the rest) becomes a JS Error and never aborts the process.
template <typename F>
Napi::Value guard(Napi::Env env, const char* name, F&& body) {
  try {
    return body();
  } catch (const Napi::Error& e) {
    throw;  // already a JS error (bad argument), node-addon-api rethrows it into JS
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, std::string(name) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(name) + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(env, std::string(name) + ": unknown native error");
  }
}

at::ScalarType parseDtype(Napi::Env env, const std::string& s);
const char* dtypeName(at::ScalarType t);

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, at::Tensor t);
  // nullptr when v is not a Tensor handle.
  static TensorWrap* Peek(Napi::Value v);
  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;
  void Release(Napi::Env env);

  at::Tensor tensor;
  int64_t accounted = 0;

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
};

// Reads the arguments of one binding call, with errors that name the op and the position.
struct Args {
  const Napi::CallbackInfo& info;
  const char* op;

  Napi::Env env() const { return info.Env(); }
  [[noreturn]] void bad(size_t i, const char* want) const;
  bool has(size_t i) const { return i < info.Length() && !info[i].IsNull() && !info[i].IsUndefined(); }
  at::Tensor& t(size_t i) const;
  c10::optional<at::Tensor> ot(size_t i) const;
  double d(size_t i) const;
  double d(size_t i, double def) const { return has(i) ? d(i) : def; }
  c10::optional<double> od(size_t i) const { return has(i) ? c10::optional<double>(d(i)) : c10::nullopt; }
  int64_t i(size_t i) const;
  int64_t i(size_t i, int64_t def) const { return has(i) ? this->i(i) : def; }
  bool b(size_t i, bool def) const;
  std::vector<int64_t> ints(size_t i) const;
  std::vector<at::Tensor> tensors(size_t i) const;
  std::string s(size_t i) const;
  at::ScalarType dtype(size_t i, at::ScalarType def) const {
    return has(i) ? parseDtype(env(), s(i)) : def;
  }
};

void InitOps(Napi::Env env, Napi::Object exports);
void InitSerialize(Napi::Env env, Napi::Object exports);
void InitTfjsKernels(Napi::Env env, Napi::Object exports);

}  // namespace fm
