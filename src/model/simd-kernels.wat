;; Element-wise training kernels in WebAssembly SIMD (4 float32 lanes), run directly on the memory of
;; TensorFlow.js's wasm backend (imported): pointers are byte offsets of tensors in that memory.
;; Built into simd-kernels.wasm by `npm run build:kernels`; src/model/simd-kernels.ts loads it.
(module
  (import "tfjs" "memory" (memory 0))

  ;; tanh of n4 groups of 4 floats: Eigen's float32 13/6 rational approximation, as fastTanh in
  ;; js-kernels.ts, computed in float32 (Eigen computes it so too); |x| < 4e-4 passes x through.
  (func (export "tanh") (param $src i32) (param $dst i32) (param $n4 i32)
    (local $x v128) (local $x2 v128) (local $p v128) (local $q v128)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n4)))
        (local.set $x
          (f32x4.pmax
            (f32x4.pmin (v128.load (local.get $src)) (f32x4.splat (f32.const 7.90531110763549805)))
            (f32x4.splat (f32.const -7.90531110763549805))))
        (local.set $x2 (f32x4.mul (local.get $x) (local.get $x)))
        ;; p = x * (((((((a0 x2 + a1) x2 + a2) x2 + a3) x2 + a4) x2 + a5) x2 + a6)
        (local.set $p (f32x4.splat (f32.const -2.76076847742355e-16)))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $x2)) (f32x4.splat (f32.const 2.00018790482477e-13))))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $x2)) (f32x4.splat (f32.const -8.60467152213735e-11))))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $x2)) (f32x4.splat (f32.const 5.12229709037114e-8))))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $x2)) (f32x4.splat (f32.const 1.48572235717979e-5))))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $x2)) (f32x4.splat (f32.const 6.37261928875436e-4))))
        (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $x2)) (f32x4.splat (f32.const 4.89352455891786e-3))))
        (local.set $p (f32x4.mul (local.get $p) (local.get $x)))
        ;; q = ((b0 x2 + b1) x2 + b2) x2 + b3
        (local.set $q (f32x4.splat (f32.const 1.19825839466702e-6)))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $x2)) (f32x4.splat (f32.const 1.18534705686654e-4))))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $x2)) (f32x4.splat (f32.const 2.268434632439e-3))))
        (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $x2)) (f32x4.splat (f32.const 4.89352518554385e-3))))
        (v128.store (local.get $dst)
          (v128.bitselect
            (local.get $x)
            (f32x4.div (local.get $p) (local.get $q))
            (f32x4.lt (f32x4.abs (local.get $x)) (f32x4.splat (f32.const 4e-4)))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $n4 (i32.sub (local.get $n4) (i32.const 1)))
        (br $next))))

  ;; Gradient of a 2×2, stride-2 max pool over NHWC x (rows of w pixels of c floats, c a multiple of 4):
  ;; each window's dy goes to its largest input, ties to the first in scan order as in TensorFlow, and
  ;; every other element of dx gets 0, so dx needs no clearing first. `windows` = n·(h/2)·(w/2).
  (func (export "maxPoolGrad2x2")
    (param $x i32) (param $dy i32) (param $dx i32) (param $windows i32) (param $halfW i32) (param $c i32)
    (local $row i32) (local $pixel i32) (local $col i32) (local $k i32) (local $off i32)
    (local $tl v128) (local $tr v128) (local $bl v128) (local $br v128) (local $g v128)
    (local $best v128) (local $isTr v128) (local $isBl v128) (local $isBr v128)
    (local.set $pixel (i32.shl (local.get $c) (i32.const 2)))              ;; bytes per pixel
    (local.set $row (i32.mul (local.get $pixel) (i32.shl (local.get $halfW) (i32.const 1)))) ;; bytes per input row
    (block $done
      (loop $window
        (br_if $done (i32.eqz (local.get $windows)))
        (local.set $k (i32.const 0))
        (block $channelsDone
          (loop $channels
            (br_if $channelsDone (i32.ge_u (local.get $k) (local.get $pixel)))
            (local.set $off (i32.add (local.get $x) (local.get $k)))
            (local.set $tl (v128.load (local.get $off)))
            (local.set $tr (v128.load (i32.add (local.get $off) (local.get $pixel))))
            (local.set $bl (v128.load (i32.add (local.get $off) (local.get $row))))
            (local.set $br (v128.load (i32.add (i32.add (local.get $off) (local.get $row)) (local.get $pixel))))
            (local.set $g (v128.load (i32.add (local.get $dy) (local.get $k))))
            (local.set $isTr (f32x4.gt (local.get $tr) (local.get $tl)))
            (local.set $best (v128.bitselect (local.get $tr) (local.get $tl) (local.get $isTr)))
            (local.set $isBl (f32x4.gt (local.get $bl) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $bl) (local.get $best) (local.get $isBl)))
            (local.set $isBr (f32x4.gt (local.get $br) (local.get $best)))
            ;; the winner is the last position that beat the best so far
            (local.set $off (i32.add (local.get $dx) (local.get $k)))
            (v128.store (i32.add (i32.add (local.get $off) (local.get $row)) (local.get $pixel))
              (v128.and (local.get $g) (local.get $isBr)))
            (v128.store (i32.add (local.get $off) (local.get $row))
              (v128.and (local.get $g) (v128.andnot (local.get $isBl) (local.get $isBr))))
            (v128.store (i32.add (local.get $off) (local.get $pixel))
              (v128.and (local.get $g)
                (v128.andnot (v128.andnot (local.get $isTr) (local.get $isBl)) (local.get $isBr))))
            (v128.store (local.get $off)
              (v128.andnot (local.get $g)
                (v128.or (v128.or (local.get $isTr) (local.get $isBl)) (local.get $isBr))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $channels)))
        (local.set $dy (i32.add (local.get $dy) (local.get $pixel)))
        ;; next window: two pixels right, or at the end of a row pair, to the start of the next pair
        (local.set $col (i32.add (local.get $col) (i32.const 1)))
        (if (i32.eq (local.get $col) (local.get $halfW))
          (then
            (local.set $col (i32.const 0))
            (local.set $x (i32.add (local.get $x) (i32.add (local.get $row) (i32.shl (local.get $pixel) (i32.const 1)))))
            (local.set $dx (i32.add (local.get $dx) (i32.add (local.get $row) (i32.shl (local.get $pixel) (i32.const 1))))))
          (else
            (local.set $x (i32.add (local.get $x) (i32.shl (local.get $pixel) (i32.const 1))))
            (local.set $dx (i32.add (local.get $dx) (i32.shl (local.get $pixel) (i32.const 1))))))
        (local.set $windows (i32.sub (local.get $windows) (i32.const 1)))
        (br $window))))
  ;; Column sums of a rows × (4·cols4) matrix: dst[j] = Σ_i src[i, j], rows in order (as a sequential sum
  ;; over each column would add them). The bias and BatchNorm gradients reduce over all but the last axis.
  (func (export "sumRows") (param $src i32) (param $dst i32) (param $rows i32) (param $cols4 i32)
    (local $d i32) (local $n i32)
    (local.set $d (local.get $dst))
    (local.set $n (local.get $cols4))
    (block $cleared
      (loop $clear
        (br_if $cleared (i32.eqz (local.get $n)))
        (v128.store (local.get $d) (v128.const i32x4 0 0 0 0))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $clear)))
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $d (local.get $dst))
        (local.set $n (local.get $cols4))
        (block $rowDone
          (loop $column
            (br_if $rowDone (i32.eqz (local.get $n)))
            (v128.store (local.get $d) (f32x4.add (v128.load (local.get $d)) (v128.load (local.get $src))))
            (local.set $d (i32.add (local.get $d) (i32.const 16)))
            (local.set $src (i32.add (local.get $src) (i32.const 16)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $column)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))
)
