;; The products and the activations of the side network's host kernels (host-block.ts), in
;; WebAssembly with 128-bit SIMD: four float32 lanes per instruction. Plain JavaScript loops ran
;; the products at 0.4–0.7 G multiply-adds per second on the build machine, this at about 4.
;; Assembled into dist/side/kernels.wasm by scripts/build-kernels.js (the `wabt` package).
;;
;; Every address is a byte offset into the module's memory, every count a number of float32
;; values; a row of n values is 4·n bytes. The memory is imported: host-kernels.ts sizes it once
;; per network and lays the buffers out in it.
(module
  (import "env" "memory" (memory 1))

  ;; Σ_c w[c]·x[c], c < n
  (func $dot (param $w i32) (param $x i32) (param $n i32) (result f32)
    (local $end i32) (local $vend i32) (local $acc v128) (local $s f32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done (loop $vec
      (br_if $done (i32.ge_u (local.get $x) (local.get $vend)))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load (local.get $w)) (v128.load (local.get $x)))))
      (local.set $w (i32.add (local.get $w) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (br $vec)))
    (local.set $s (call $hsum (local.get $acc)))
    (block $done (loop $tail
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $w)) (f32.load (local.get $x)))))
      (local.set $w (i32.add (local.get $w) (i32.const 4)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (br $tail)))
    (local.get $s))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; *p += s
  (func $addTo (param $p i32) (param $s f32)
    (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (local.get $s))))

  ;; dotRows: out[j·os] += Σ_c W[j·n + c]·x[c] for j < J (os in bytes): J dot products of the
  ;; rows of W [J, n] with one vector x [n]. Four rows at a time share each load of x.
  (func (export "dotRows") (param $out i32) (param $os i32) (param $W i32) (param $J i32) (param $x i32) (param $n i32)
    (local $rb i32) (local $c i32) (local $vend i32) (local $v v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $w1 i32) (local $w2 i32) (local $w3 i32) (local $j i32)
    (local.set $rb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vend (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $J)))
      (local.set $w1 (i32.add (local.get $W) (local.get $rb)))
      (local.set $w2 (i32.add (local.get $w1) (local.get $rb)))
      (local.set $w3 (i32.add (local.get $w2) (local.get $rb)))
      (local.set $s0 (v128.const i32x4 0 0 0 0)) (local.set $s1 (v128.const i32x4 0 0 0 0))
      (local.set $s2 (v128.const i32x4 0 0 0 0)) (local.set $s3 (v128.const i32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $done (loop $vec
        (br_if $done (i32.ge_u (local.get $c) (local.get $vend)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $c))))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load (i32.add (local.get $W) (local.get $c))) (local.get $v))))
        (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (v128.load (i32.add (local.get $w1) (local.get $c))) (local.get $v))))
        (local.set $s2 (f32x4.add (local.get $s2) (f32x4.mul (v128.load (i32.add (local.get $w2) (local.get $c))) (local.get $v))))
        (local.set $s3 (f32x4.add (local.get $s3) (f32x4.mul (v128.load (i32.add (local.get $w3) (local.get $c))) (local.get $v))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $vec)))
      ;; the last n mod 4 values of each row
      (call $addTo (local.get $out)
        (f32.add (call $hsum (local.get $s0)) (call $dot (i32.add (local.get $W) (local.get $c)) (i32.add (local.get $x) (local.get $c)) (i32.and (local.get $n) (i32.const 3)))))
      (call $addTo (i32.add (local.get $out) (local.get $os))
        (f32.add (call $hsum (local.get $s1)) (call $dot (i32.add (local.get $w1) (local.get $c)) (i32.add (local.get $x) (local.get $c)) (i32.and (local.get $n) (i32.const 3)))))
      (call $addTo (i32.add (local.get $out) (i32.mul (local.get $os) (i32.const 2)))
        (f32.add (call $hsum (local.get $s2)) (call $dot (i32.add (local.get $w2) (local.get $c)) (i32.add (local.get $x) (local.get $c)) (i32.and (local.get $n) (i32.const 3)))))
      (call $addTo (i32.add (local.get $out) (i32.mul (local.get $os) (i32.const 3)))
        (f32.add (call $hsum (local.get $s3)) (call $dot (i32.add (local.get $w3) (local.get $c)) (i32.add (local.get $x) (local.get $c)) (i32.and (local.get $n) (i32.const 3)))))
      (local.set $W (i32.add (local.get $w3) (local.get $rb)))
      (local.set $out (i32.add (local.get $out) (i32.shl (local.get $os) (i32.const 2))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $rows)))
    (block $done (loop $rest
      (br_if $done (i32.ge_s (local.get $j) (local.get $J)))
      (call $addTo (local.get $out) (call $dot (local.get $W) (local.get $x) (local.get $n)))
      (local.set $W (i32.add (local.get $W) (local.get $rb)))
      (local.set $out (i32.add (local.get $out) (local.get $os)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $rest))))

  ;; out[q] += w·x[q], q < n
  (func $axpy (param $out i32) (param $w f32) (param $x i32) (param $n i32)
    (local $end i32) (local $vend i32) (local $wv v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $wv (f32x4.splat (local.get $w)))
    (block $done (loop $vec
      (br_if $done (i32.ge_u (local.get $x) (local.get $vend)))
      (v128.store (local.get $out) (f32x4.add (v128.load (local.get $out)) (f32x4.mul (local.get $wv) (v128.load (local.get $x)))))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (br $vec)))
    (block $done (loop $tail
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (call $addTo (local.get $out) (f32.mul (local.get $w) (f32.load (local.get $x))))
      (local.set $out (i32.add (local.get $out) (i32.const 4)))
      (local.set $x (i32.add (local.get $x) (i32.const 4)))
      (br $tail))))

  ;; out[j·n + q] += w0·x[q] … for four rows j = 0…3 at once (rows of n values)
  (func $axpy4 (param $out i32) (param $w0 f32) (param $w1 f32) (param $w2 f32) (param $w3 f32) (param $x i32) (param $n i32)
    (local $rb i32) (local $q i32) (local $vend i32) (local $v v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local.set $rb (i32.shl (local.get $n) (i32.const 2)))
    (local.set $o1 (i32.add (local.get $out) (local.get $rb)))
    (local.set $o2 (i32.add (local.get $o1) (local.get $rb)))
    (local.set $o3 (i32.add (local.get $o2) (local.get $rb)))
    (local.set $vend (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $v0 (f32x4.splat (local.get $w0))) (local.set $v1 (f32x4.splat (local.get $w1)))
    (local.set $v2 (f32x4.splat (local.get $w2))) (local.set $v3 (f32x4.splat (local.get $w3)))
    (block $done (loop $vec
      (br_if $done (i32.ge_u (local.get $q) (local.get $vend)))
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $q))))
      (v128.store (i32.add (local.get $out) (local.get $q))
        (f32x4.add (v128.load (i32.add (local.get $out) (local.get $q))) (f32x4.mul (local.get $v0) (local.get $v))))
      (v128.store (i32.add (local.get $o1) (local.get $q))
        (f32x4.add (v128.load (i32.add (local.get $o1) (local.get $q))) (f32x4.mul (local.get $v1) (local.get $v))))
      (v128.store (i32.add (local.get $o2) (local.get $q))
        (f32x4.add (v128.load (i32.add (local.get $o2) (local.get $q))) (f32x4.mul (local.get $v2) (local.get $v))))
      (v128.store (i32.add (local.get $o3) (local.get $q))
        (f32x4.add (v128.load (i32.add (local.get $o3) (local.get $q))) (f32x4.mul (local.get $v3) (local.get $v))))
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (br $vec)))
    ;; the last n mod 4 values of each row
    (local.set $n (i32.and (local.get $n) (i32.const 3)))
    (local.set $x (i32.add (local.get $x) (local.get $q)))
    (call $axpy (i32.add (local.get $out) (local.get $q)) (local.get $w0) (local.get $x) (local.get $n))
    (call $axpy (i32.add (local.get $o1) (local.get $q)) (local.get $w1) (local.get $x) (local.get $n))
    (call $axpy (i32.add (local.get $o2) (local.get $q)) (local.get $w2) (local.get $x) (local.get $n))
    (call $axpy (i32.add (local.get $o3) (local.get $q)) (local.get $w3) (local.get $x) (local.get $n)))

  ;; mixRows: out[j·n + q] += Σ_i W[j·wj + i·wi]·x[i·n + q] for j < J, q < n (wj, wi in bytes):
  ;; a small matrix W [J, I], any strides, times the rows of x [I, n]. Four output rows at a time.
  (func (export "mixRows") (param $out i32) (param $W i32) (param $wj i32) (param $wi i32) (param $J i32) (param $I i32) (param $x i32) (param $n i32)
    (local $j i32) (local $i i32) (local $rb i32) (local $wp i32) (local $xp i32)
    (local.set $rb (i32.shl (local.get $n) (i32.const 2)))
    (block $blocksDone (loop $blocks
      (br_if $blocksDone (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $J)))
      (local.set $i (i32.const 0)) (local.set $wp (local.get $W)) (local.set $xp (local.get $x))
      (block $done (loop $inputs
        (br_if $done (i32.ge_s (local.get $i) (local.get $I)))
        (call $axpy4 (local.get $out)
          (f32.load (local.get $wp))
          (f32.load (i32.add (local.get $wp) (local.get $wj)))
          (f32.load (i32.add (local.get $wp) (i32.shl (local.get $wj) (i32.const 1))))
          (f32.load (i32.add (local.get $wp) (i32.mul (local.get $wj) (i32.const 3))))
          (local.get $xp) (local.get $n))
        (local.set $wp (i32.add (local.get $wp) (local.get $wi)))
        (local.set $xp (i32.add (local.get $xp) (local.get $rb)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $inputs)))
      (local.set $W (i32.add (local.get $W) (i32.shl (local.get $wj) (i32.const 2))))
      (local.set $out (i32.add (local.get $out) (i32.shl (local.get $rb) (i32.const 2))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $blocks)))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_s (local.get $j) (local.get $J)))
      (local.set $i (i32.const 0)) (local.set $wp (local.get $W)) (local.set $xp (local.get $x))
      (block $done (loop $inputs
        (br_if $done (i32.ge_s (local.get $i) (local.get $I)))
        (call $axpy (local.get $out) (f32.load (local.get $wp)) (local.get $xp) (local.get $n))
        (local.set $wp (i32.add (local.get $wp) (local.get $wi)))
        (local.set $xp (i32.add (local.get $xp) (local.get $rb)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $inputs)))
      (local.set $W (i32.add (local.get $W) (local.get $wj)))
      (local.set $out (i32.add (local.get $out) (local.get $rb)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $rows))))
;; activate: for i < n (n ≥ 4), with u = x·(c1 + c3·x²) and σ = 1/(1 + e^(−u)),
  ;;   a[i] = x·σ   and   s[i] = σ + x·σ(1−σ)·(c1 + 3·c3·x²)      (x = h[i])
  ;; the mixers' activation and its slope: GELU's tanh form with c1 = 2√(2/π), c3 = 0.044715·c1,
  ;; or QuickGELU with c1 = 1.702, c3 = 0 (ops.ts). Four lanes at a time; the last vector ends at
  ;; n and may redo up to three elements (a and s do not overlap h).
  (func (export "activate") (param $h i32) (param $a i32) (param $s i32) (param $n i32) (param $c1 f32) (param $c3 f32)
    (local $i i32) (local $last i32)
    (local.set $last (i32.shl (i32.sub (local.get $n) (i32.const 4)) (i32.const 2)))
    (block $done (loop $vec
      (call $activate4 (local.get $h) (local.get $a) (local.get $s) (local.get $i) (local.get $c1) (local.get $c3))
      (br_if $done (i32.ge_u (local.get $i) (local.get $last)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (if (i32.gt_u (local.get $i) (local.get $last)) (then (local.set $i (local.get $last))))
      (br $vec))))

  (func $activate4 (param $h i32) (param $a i32) (param $s i32) (param $i i32) (param $c1 f32) (param $c3 f32)
    (local $x v128) (local $x2 v128) (local $sig v128) (local $k1 v128) (local $k3 v128)
    (local.set $k1 (f32x4.splat (local.get $c1)))
    (local.set $k3 (f32x4.splat (local.get $c3)))
    (local.set $x (v128.load (i32.add (local.get $h) (local.get $i))))
    (local.set $x2 (f32x4.mul (local.get $x) (local.get $x)))
    ;; σ(u) = 1 / (1 + e^(−u))
    (local.set $sig (f32x4.div (f32x4.splat (f32.const 1))
      (f32x4.add (f32x4.splat (f32.const 1))
        (call $exp4 (f32x4.neg (f32x4.mul (local.get $x) (f32x4.add (local.get $k1) (f32x4.mul (local.get $k3) (local.get $x2)))))))))
    (v128.store (i32.add (local.get $a) (local.get $i)) (f32x4.mul (local.get $x) (local.get $sig)))
    (v128.store (i32.add (local.get $s) (local.get $i))
      (f32x4.add (local.get $sig)
        (f32x4.mul (f32x4.mul (local.get $x) (f32x4.mul (local.get $sig) (f32x4.sub (f32x4.splat (f32.const 1)) (local.get $sig))))
          (f32x4.add (local.get $k1) (f32x4.mul (f32x4.mul (f32x4.splat (f32.const 3)) (local.get $k3)) (local.get $x2)))))))

  ;; e^v for four lanes, v clamped to [−87, 88]: e^v = 2^k·e^r, k = round(v/ln 2), r = v − k·ln 2
  ;; (ln 2 in two parts, so r is exact to float32), e^r by its Taylor series to r⁶
  ;; (|r| ≤ ln 2 / 2: relative error under 4·10⁻⁸), 2^k built in the exponent bits.
  (func $exp4 (param $v v128) (result v128)
    (local $k v128) (local $r v128) (local $p v128)
    (local.set $v (f32x4.min (f32x4.max (local.get $v) (f32x4.splat (f32.const -87))) (f32x4.splat (f32.const 88))))
    (local.set $k (f32x4.nearest (f32x4.mul (local.get $v) (f32x4.splat (f32.const 1.44269504088896341)))))
    (local.set $r (f32x4.sub (f32x4.sub (local.get $v) (f32x4.mul (local.get $k) (f32x4.splat (f32.const 0.693359375))))
      (f32x4.mul (local.get $k) (f32x4.splat (f32.const -2.12194440e-4)))))
    (local.set $p (f32x4.splat (f32.const 1.38888889e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 8.33333333e-3))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 4.16666667e-2))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 0.166666667))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 0.5))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1))))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $k)) (i32x4.splat (i32.const 127))) (i32.const 23))))
)
