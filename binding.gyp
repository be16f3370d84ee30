{
  "targets": [
    {
      "target_name": "fmnist_torch",
      "sources": ["native/addon.cc", "native/tensor.cc", "native/ops.cc", "native/serialize.cc", "native/tfjs/kargs.cc", "native/tfjs/register.cc", "native/tfjs/conv_pool.cc", "native/tfjs/matmul.cc", "native/tfjs/elementwise.cc", "native/tfjs/reductions.cc", "native/tfjs/layout.cc", "native/tfjs/batchnorm.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<!@(node scripts/find-libtorch.mjs --include)"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "<!@(node scripts/find-libtorch.mjs --defines)"],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "ldflags": ["<!@(node scripts/find-libtorch.mjs --ldflags)"],
      "libraries": ["<!@(node scripts/find-libtorch.mjs --libs)"]
    }
  ]
}
