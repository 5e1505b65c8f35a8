{
  # The native backend: one static library per ISA, each compiled with its own flags, linked
  # into build/Release/tinyvllm.node and chosen at runtime with __builtin_cpu_supports.
  # Off x86-64 only the portable scalar path is built.
  #
  # Build time: node-gyp runs make with one job per core, and make starts independent targets
  # together, but a target's own sources wait for all of its dependencies. So every source is in a
  # static library with no dependencies (the N-API layer too, tv_addon), the largest first, and the
  # module itself is one small file (native/module.cc) compiled last.
  'variables': {
    'tv_cflags': ['-O3', '-fPIC', '-ffp-contract=off', '-fno-math-errno', '-fno-trapping-math'],
    # GCC 12's AVX-512 intrinsic headers trip a false -Wuninitialized (GCC PR105593, fixed in 12.3).
    'tv_avx512_quiet': ['-Wno-uninitialized', '-Wno-maybe-uninitialized'],
  },
  'target_defaults': {
    'cflags_cc': ['<@(tv_cflags)'],
    'conditions': [
      ['target_arch=="x64"', {'defines': ['TV_X86']}],
    ],
  },
  'targets': [
    {
      'target_name': 'tinyvllm',
      'sources': ['native/module.cc'],
      'dependencies': ['tv_scalar', 'tv_addon'],
      'conditions': [
        # '+' prepends: make starts the dependencies in list order, so the longest compile goes first.
        ['target_arch=="x64"', {'dependencies+': ['tv_avx512', 'tv_avx2', 'tv_avx512_bf16', 'tv_avx512_vnni', 'tv_avx_vnni']}],
      ],
      'defines': ['NAPI_VERSION=8'],
    },
    {
      'target_name': 'tv_addon',
      'type': 'static_library',
      'sources': ['native/addon.cc', 'native/bench.cc', 'native/context.cc', 'native/pack.cc', 'native/thread_pool.cc', 'native/quant.cc', 'native/quantize.cc', 'native/quant_addon.cc'],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS'],
      'cflags_cc!': ['-fno-exceptions'],
      'cflags_cc': ['-fexceptions'],
    },
    {
      'target_name': 'tv_scalar',
      'type': 'static_library',
      'sources': ['native/kernels_scalar.cc', 'native/quant_scalar.cc'],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'tv_avx2',
          'type': 'static_library',
          'sources': ['native/kernels_avx2.cc', 'native/quant_avx2.cc'],
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c'],
        },
        {
          'target_name': 'tv_avx512',
          'type': 'static_library',
          'sources': ['native/kernels_avx512.cc', 'native/quant_avx512.cc'],
          'cflags_cc': ['-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq', '-mfma', '-mf16c', '<@(tv_avx512_quiet)'],
        },
        {
          # Only the vdpbf16ps GEMM: the rest of its table is tv_avx512's.
          'target_name': 'tv_avx512_bf16',
          'type': 'static_library',
          'sources': ['native/kernels_avx512_bf16.cc'],
          'cflags_cc': ['-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq', '-mavx512bf16', '-mfma', '-mf16c', '<@(tv_avx512_quiet)'],
        },
        {
          # Only the int8 dot-product (vpdpbusd) quantized kernels; chosen at runtime where the CPU has VNNI.
          'target_name': 'tv_avx512_vnni',
          'type': 'static_library',
          'sources': ['native/quant_avx512_vnni.cc'],
          'cflags_cc': ['-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq', '-mavx512vnni', '-mfma', '-mf16c', '<@(tv_avx512_quiet)'],
        },
        {
          # The same with 256-bit vpdpbusd (AVX-VNNI), for CPUs that have it without AVX-512.
          'target_name': 'tv_avx_vnni',
          'type': 'static_library',
          'sources': ['native/quant_avx_vnni.cc'],
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c', '-mavxvnni'],
        },
      ],
    }],
  ],
}
