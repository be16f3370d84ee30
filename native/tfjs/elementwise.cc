// Elementwise kernels, written straight into the output (libtorch's out= variants): unary (out, x) or
// (out, x, attrs) on flat arrays; binary (out, {a, aShape?, b, bShape?}) with numpy broadcasting, where equal shapes
// travel without theirs (flat); Select; FusedBatchNorm.
#include <algorithm>

#include "kargs.h"

namespace fm {
namespace tfjs {

// (x - m) * a + b, row by row of the parameters' length n (declared in kargs.h: batchnorm.cc uses it too).
__attribute__((optimize("O3"))) void batchNormRows(const float* __restrict px, float* __restrict po, int64_t rows,
                                                   int64_t n, const float* __restrict m, const float* __restrict a,
                                                   const float* __restrict b) {
  for (int64_t r = 0; r < rows; r++, px += n, po += n)
    for (int64_t j = 0; j < n; j++) po[j] = (px[j] - m[j]) * a[j] + b[j];
}

namespace {

// tfjs's Step: 1 where x > 0, alpha elsewhere, NaN stays NaN. Branch-free and vectorized (random signs would cost a
// misprediction per element otherwise: 7x slower).
__attribute__((optimize("O3"))) void stepLoop(const float* __restrict px, float* __restrict po, int64_t n, float al) {
  for (int64_t i = 0; i < n; i++) {
    float v = px[i];
    float r = v > 0.f ? 1.f : al;
    po[i] = v != v ? v : r;
  }
}

Tensor step(const KArgs& k, const Tensor& x, double alpha) {
  TORCH_CHECK(x.scalar_type() == at::kFloat, "Step: float32 only");
  Tensor o = k.out(x.sizes());
  TORCH_CHECK(o.scalar_type() == at::kFloat, "Step: the output must be a Float32Array");
  const float* px = x.data_ptr<float>();
  float* po = o.data_ptr<float>();
  const auto al = static_cast<float>(alpha);
  at::parallel_for(0, x.numel(), 1 << 16, [&](int64_t b, int64_t e) { stepLoop(px + b, po + b, e - b, al); });
  return o;
}

// FusedBatchNorm: {x, xShape, mean, meanShape, variance, varianceShape, offset?, offsetShape?, scale?, scaleShape?,
// varianceEpsilon}. Each parameter's shape is a suffix of x's (the JS side reads tfjs's cyclic indexing that way).
// tfjs computes offset + (x - mean) * scale / sqrt(variance + eps) in double; here a = scale / sqrt(variance + eps) is
// computed first (in double, on the small parameters), then one pass over x, row by row of the parameters' length,
// writes (x - mean) * a + offset in that order. x * a + (offset - mean * a), what at::batch_norm computes, loses
// digits to cancellation when |mean| is large against the spread (mean 1000, spread 1: 1e-4 off tfjs's answer).
Tensor batchNorm(const KArgs& k) {
  Tensor x = k.in("x", "xShape");
  TORCH_CHECK(x.scalar_type() == at::kFloat, "FusedBatchNorm: float32 only");
  auto param = [&](const char* name, const char* shape) { return k.in(name, shape).to(at::kDouble); };
  Tensor a = (param("variance", "varianceShape") + k.d("varianceEpsilon")).rsqrt();
  if (k.has("scale")) a = a * param("scale", "scaleShape");
  Tensor b = k.has("offset") ? param("offset", "offsetShape") : at::zeros({1}, a.options());
  std::vector<Tensor> p = at::broadcast_tensors({param("mean", "meanShape"), a, b});
  for (Tensor& t : p) t = t.to(at::kFloat).contiguous();
  at::IntArrayRef ps = p[0].sizes();
  int64_t d = x.dim() - static_cast<int64_t>(ps.size());
  TORCH_CHECK(d >= 0 && x.sizes().slice(d) == ps, "FusedBatchNorm: the parameters (broadcast to ", ps,
              ") must have the shape of x's last axes ", x.sizes());
  Tensor o = k.out(x.sizes());
  int64_t n = p[0].numel();
  if (x.numel() == 0 || n == 0) return o;
  const float *px = x.data_ptr<float>(), *pm = p[0].data_ptr<float>(), *pa = p[1].data_ptr<float>(),
              *pb = p[2].data_ptr<float>();
  float* po = o.data_ptr<float>();
  at::parallel_for(0, x.numel() / n, std::max<int64_t>(1, (1 << 16) / n), [&](int64_t begin, int64_t end) {
    batchNormRows(px + begin * n, po + begin * n, end - begin, n, pm, pa, pb);
  });
  return o;
}

// Broadcast result of two inputs, written into the output: fn(out, a, b).
template <typename F>
Tensor binaryOut(const KArgs& k, F fn) {
  Tensor a = k.in("a", "aShape", false), b = k.in("b", "bShape", false);
  Tensor o = k.out(at::infer_size(a.sizes(), b.sizes()));
  fn(o, a, b);
  return o;
}

}  // namespace

// Unary kernels: (out, x) elementwise, written straight into the output.
#define UNARY(name, call)                         \
  t.push_back({name, 0, [](const KArgs& k) {      \
                 Tensor x = k.flat(1), o = k.out(x.sizes()); \
                 call;                            \
                 return o;                        \
               }})
// Unary kernels with attributes: (out, x, attrs).
#define UNARY_ATTRS(name, call)                   \
  t.push_back({name, 2, [](const KArgs& k) {      \
                 Tensor x = k.flat(1), o = k.out(x.sizes()); \
                 call;                            \
                 return o;                        \
               }})
#define BINARY(name, fn)                                                                                  \
  t.push_back({name, 1, [](const KArgs& k) {                                                             \
                 return binaryOut(k, [](Tensor& o, const Tensor& a, const Tensor& b) { fn(o, a, b); }); \
               }})

void addElementwiseKernels(KernelTable& t) {
  UNARY("Abs", at::abs_out(o, x));
  UNARY("Ceil", at::ceil_out(o, x));
  UNARY("Cos", at::cos_out(o, x));
  UNARY("Elu", at::elu_out(o, x));
  UNARY("Erf", at::erf_out(o, x));
  UNARY("Exp", at::exp_out(o, x));
  UNARY("Expm1", at::expm1_out(o, x));
  UNARY("Floor", at::floor_out(o, x));
  UNARY("Log", at::log_out(o, x));
  UNARY("Log1p", at::log1p_out(o, x));
  UNARY("Neg", at::neg_out(o, x));
  UNARY("Reciprocal", at::reciprocal_out(o, x));
  UNARY("Relu", at::clamp_min_out(o, x, at::Scalar(0.0)));
  UNARY("Relu6", at::clamp_out(o, x, at::Scalar(0.0), at::Scalar(6.0)));
  UNARY("Round", at::round_out(o, x));
  UNARY("Rsqrt", at::rsqrt_out(o, x));
  UNARY("Sigmoid", at::sigmoid_out(o, x));
  UNARY("Sin", at::sin_out(o, x));
  UNARY("Sqrt", at::sqrt_out(o, x));
  UNARY("Square", at::mul_out(o, x, x));
  UNARY("Tanh", at::tanh_out(o, x));
  UNARY("Cast", o.copy_(x));  // the output array's type is the target dtype
  UNARY_ATTRS("LeakyRelu", at::leaky_relu_out(o, x, k.d("alpha")));                                  // {alpha}
  UNARY_ATTRS("ClipByValue", at::clamp_out(o, x, at::Scalar(k.d("min")), at::Scalar(k.d("max"))));  // {min, max}
  t.push_back({"Step", 2, [](const KArgs& k) { return step(k, k.flat(1), k.d("alpha")); }});        // {alpha}

  BINARY("Add", at::add_out);
  BINARY("Sub", at::sub_out);
  BINARY("Multiply", at::mul_out);
  BINARY("RealDiv", at::div_out);
  BINARY("Maximum", at::maximum_out);
  BINARY("Minimum", at::minimum_out);
  BINARY("Pow", at::pow_out);
  BINARY("Equal", at::eq_out);
  BINARY("NotEqual", at::ne_out);
  BINARY("Greater", at::gt_out);
  BINARY("GreaterEqual", at::ge_out);
  BINARY("Less", at::lt_out);
  BINARY("LessEqual", at::le_out);
  BINARY("LogicalAnd", at::logical_and_out);
  BINARY("LogicalOr", at::logical_or_out);
  t.push_back({"SquaredDifference", 1, [](const KArgs& k) {
                 return binaryOut(k, [](Tensor& o, const Tensor& a, const Tensor& b) { at::sub_out(o, a, b).mul_(o); });
               }});
  t.push_back({"FusedBatchNorm", 1, batchNorm});
  // {condition, conditionShape?, t, tShape?, e, eShape?}, broadcasting
  t.push_back({"Select", 1, [](const KArgs& k) {
                 Tensor cond = k.boolean("condition", "conditionShape");
                 Tensor a = k.in("t", "tShape", false), b = k.in("e", "eShape", false);
                 Tensor o = k.out(at::infer_size(at::infer_size(cond.sizes(), a.sizes()), b.sizes()));
                 return at::where_out(o, cond, a, b);
               }});
}
#undef UNARY
#undef UNARY_ATTRS
#undef BINARY

}  // namespace tfjs
}  // namespace fm
