{
  "targets": [
    {
      "target_name": "caviar",
      "sources": [
        "native/binding/addon.cc",
        "native/engine/spec.cc",
        "native/engine/pool.cc",
        "native/engine/blas.cc",
        "native/engine/rng.cc",
        "native/engine/optimizer.cc",
        "native/engine/schedule.cc",
        "native/engine/network.cc",
        "native/engine/trainer.cc",
        "native/engine/session.cc",
        "native/engine/model.cc",
        "native/engine/gradcheck.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/engine"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++14", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-fno-math-errno"],
      "conditions": [
        ["OS=='mac'", {
          "libraries": ["-framework Accelerate"],
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
          }
        }, {
          "libraries": ["-lopenblas"]
        }]
      ]
    }
  ]
}
