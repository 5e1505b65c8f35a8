;; Regenerate the bytes embedded in finite.ts with: wat2wasm src/checkpoint/finite-scan.wat --output=- | base64 -w0
;; (wat2wasm is in Debian's wabt package; the build does not need it.)
(module
  (memory (export "mem") 1)
  ;; 1 when some 32-bit lane of [p, p+n) has (x & mask) == mask; n a multiple of 64.
  (func (export "any32") (param $p i32) (param $n i32) (param $mask i32) (result i32)
    (local $m v128) (local $acc v128) (local $end i32)
    (local.set $m (i32x4.splat (local.get $mask)))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $acc (v128.or (local.get $acc)
          (v128.or
            (v128.or
              (i32x4.eq (v128.and (v128.load (local.get $p)) (local.get $m)) (local.get $m))
              (i32x4.eq (v128.and (v128.load offset=16 (local.get $p)) (local.get $m)) (local.get $m)))
            (v128.or
              (i32x4.eq (v128.and (v128.load offset=32 (local.get $p)) (local.get $m)) (local.get $m))
              (i32x4.eq (v128.and (v128.load offset=48 (local.get $p)) (local.get $m)) (local.get $m))))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $next)))
    (v128.any_true (local.get $acc)))
  ;; The same over 16-bit lanes.
  (func (export "any16") (param $p i32) (param $n i32) (param $mask i32) (result i32)
    (local $m v128) (local $acc v128) (local $end i32)
    (local.set $m (i16x8.splat (local.get $mask)))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $acc (v128.or (local.get $acc)
          (v128.or
            (v128.or
              (i16x8.eq (v128.and (v128.load (local.get $p)) (local.get $m)) (local.get $m))
              (i16x8.eq (v128.and (v128.load offset=16 (local.get $p)) (local.get $m)) (local.get $m)))
            (v128.or
              (i16x8.eq (v128.and (v128.load offset=32 (local.get $p)) (local.get $m)) (local.get $m))
              (i16x8.eq (v128.and (v128.load offset=48 (local.get $p)) (local.get $m)) (local.get $m))))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $next)))
    (v128.any_true (local.get $acc)))
)
