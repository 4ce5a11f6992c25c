;; Element-wise training kernels in WebAssembly SIMD (4 float32 lanes), run directly on the memory of
;; TensorFlow.js's wasm backend (imported): pointers are byte offsets of tensors in that memory.
;; Built into simd-kernels.wasm by `npm run build:kernels`; src/model/simd-kernels.ts loads it.
(module
  (import "tfjs" "memory" (memory 0))

  ;; tanh of n4 groups of 4 floats: Eigen's float32 13/6 rational approximation, as fastTanh in
  ;; js-kernels.ts, computed in float32 (Eigen computes it so too, its Horner steps fused where the CPU
  ;; can, as in the relaxed build here); |x| < 4e-4 passes x through.
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
        (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $x2) (f32x4.splat (f32.const 2.00018790482477e-13))))
        (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $x2) (f32x4.splat (f32.const -8.60467152213735e-11))))
        (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $x2) (f32x4.splat (f32.const 5.12229709037114e-8))))
        (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $x2) (f32x4.splat (f32.const 1.48572235717979e-5))))
        (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $x2) (f32x4.splat (f32.const 6.37261928875436e-4))))
        (local.set $p (f32x4.relaxed_madd (local.get $p) (local.get $x2) (f32x4.splat (f32.const 4.89352455891786e-3))))
        (local.set $p (f32x4.mul (local.get $p) (local.get $x)))
        ;; q = ((b0 x2 + b1) x2 + b2) x2 + b3
        (local.set $q (f32x4.splat (f32.const 1.19825839466702e-6)))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $x2) (f32x4.splat (f32.const 1.18534705686654e-4))))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $x2) (f32x4.splat (f32.const 2.268434632439e-3))))
        (local.set $q (f32x4.relaxed_madd (local.get $q) (local.get $x2) (f32x4.splat (f32.const 4.89352518554385e-3))))
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
  ;; 2×2, stride-2 max pool of NHWC activations, c a multiple of 4: each window's maximum (pmax: the
  ;; plain comparison, one instruction where max's NaN rules take several). `windows` = n·(h/2)·(w/2).
  (func (export "maxPool2x2")
    (param $x i32) (param $out i32) (param $windows i32) (param $halfW i32) (param $c i32)
    (local $row i32) (local $pixel i32) (local $col i32) (local $k i32) (local $off i32)
    (local.set $pixel (i32.shl (local.get $c) (i32.const 2)))
    (local.set $row (i32.mul (local.get $pixel) (i32.shl (local.get $halfW) (i32.const 1))))
    (block $done
      (loop $window
        (br_if $done (i32.eqz (local.get $windows)))
        (local.set $k (i32.const 0))
        (block $channelsDone
          (loop $channels
            (br_if $channelsDone (i32.ge_u (local.get $k) (local.get $pixel)))
            (local.set $off (i32.add (local.get $x) (local.get $k)))
            (v128.store (i32.add (local.get $out) (local.get $k))
              (f32x4.pmax
                (f32x4.pmax (v128.load (local.get $off)) (v128.load (i32.add (local.get $off) (local.get $pixel))))
                (f32x4.pmax
                  (v128.load (i32.add (local.get $off) (local.get $row)))
                  (v128.load (i32.add (i32.add (local.get $off) (local.get $row)) (local.get $pixel))))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $channels)))
        (local.set $out (i32.add (local.get $out) (local.get $pixel)))
        ;; next window: two pixels right, or at the end of a row pair, to the start of the next pair
        (local.set $x (i32.add (local.get $x) (i32.shl (local.get $pixel) (i32.const 1))))
        (local.set $col (i32.add (local.get $col) (i32.const 1)))
        (if (i32.eq (local.get $col) (local.get $halfW))
          (then
            (local.set $col (i32.const 0))
            (local.set $x (i32.add (local.get $x) (local.get $row)))))
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

  ;; Copies `rows` rows of `srcRow` bytes into rows of `dstRow` bytes, `left` bytes in, zeroing the rest
  ;; of each: the horizontal zero padding a convolution's filter gradient reads past an image's edges.
  (func (export "padColumns")
    (param $src i32) (param $dst i32) (param $rows i32) (param $srcRow i32) (param $dstRow i32)
    (param $left i32) (param $copy i32)
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (memory.fill (local.get $dst) (i32.const 0) (local.get $left))
        (memory.copy (i32.add (local.get $dst) (local.get $left)) (local.get $src) (local.get $copy))
        (memory.fill (i32.add (local.get $dst) (i32.add (local.get $left) (local.get $copy))) (i32.const 0)
          (i32.sub (local.get $dstRow) (i32.add (local.get $left) (local.get $copy))))
        (local.set $src (i32.add (local.get $src) (local.get $srcRow)))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstRow)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; The filter gradient of a stride-1 NHWC convolution with `co` (a multiple of 8) output channels:
  ;; dw[ky, kx, ci, co] = Σ over images, output rows oy and columns ox of
  ;;   xp[img, oy + ky − top, ox + kx, ci] · dy[img, oy, ox, co],
  ;; where xp is the input padded to wo + kw − 1 columns (padColumns) and rows outside it count as zero.
  ;; For one filter row ky, (kx, ci) is one contiguous run of kw·ci floats in xp and in dw alike, so each
  ;; (output row, ky) adds a [kw·ci, co] product, computed in register tiles of 4 × 8 (tile4x8, tile1x8).
  (func (export "filterGradient")
    (param $xp i32) (param $dy i32) (param $dw i32) (param $n i32) (param $ho i32) (param $wo i32)
    (param $hin i32) (param $ci i32) (param $co i32) (param $kh i32) (param $kw i32) (param $top i32)
    (local $kk i32) (local $xPixel i32) (local $dyPixel i32) (local $xRowBytes i32) (local $dyRowBytes i32)
    (local $img i32) (local $oy i32) (local $ky i32) (local $iy i32) (local $kb i32) (local $cb i32)
    (local $dyRow i32) (local $xRow i32) (local $dwKy i32)
    (local.set $kk (i32.mul (local.get $kw) (local.get $ci)))
    (local.set $xPixel (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $dyPixel (i32.shl (local.get $co) (i32.const 2)))
    (local.set $xRowBytes
      (i32.mul (local.get $xPixel) (i32.sub (i32.add (local.get $wo) (local.get $kw)) (i32.const 1))))
    (local.set $dyRowBytes (i32.mul (local.get $dyPixel) (local.get $wo)))
    (memory.fill (local.get $dw) (i32.const 0)
      (i32.mul (i32.mul (local.get $kh) (local.get $kk)) (local.get $dyPixel)))
    (local.set $dyRow (local.get $dy))
    (local.set $img (i32.const 0))
    (block $imagesDone
      (loop $images
        (br_if $imagesDone (i32.ge_u (local.get $img) (local.get $n)))
        (local.set $oy (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $oy) (local.get $ho)))
            (local.set $ky (i32.const 0))
            (block $kyDone
              (loop $filterRows
                (br_if $kyDone (i32.ge_u (local.get $ky) (local.get $kh)))
                (local.set $iy (i32.sub (i32.add (local.get $oy) (local.get $ky)) (local.get $top)))
                ;; unsigned: a negative row is as out of range as one past the bottom
                (if (i32.lt_u (local.get $iy) (local.get $hin))
                  (then
                    (local.set $xRow (i32.add (local.get $xp)
                      (i32.mul (i32.add (i32.mul (local.get $img) (local.get $hin)) (local.get $iy))
                        (local.get $xRowBytes))))
                    (local.set $dwKy (i32.add (local.get $dw)
                      (i32.mul (i32.mul (local.get $ky) (local.get $kk)) (local.get $dyPixel))))
                    (local.set $kb (i32.const 0))
                    (block $kbDone
                      (loop $kBlocks
                        (br_if $kbDone (i32.ge_u (local.get $kb) (local.get $kk)))
                        (local.set $cb (i32.const 0))
                        (block $cbDone
                          (loop $cBlocks
                            (br_if $cbDone (i32.ge_u (local.get $cb) (local.get $co)))
                            (if (i32.le_u (i32.add (local.get $kb) (i32.const 4)) (local.get $kk))
                              (then (call $tile4x8
                                (i32.add (local.get $xRow) (i32.shl (local.get $kb) (i32.const 2)))
                                (i32.add (local.get $dyRow) (i32.shl (local.get $cb) (i32.const 2)))
                                (i32.add (local.get $dwKy)
                                  (i32.shl (i32.add (i32.mul (local.get $kb) (local.get $co)) (local.get $cb)) (i32.const 2)))
                                (local.get $wo) (local.get $xPixel) (local.get $dyPixel)))
                              (else (call $tile1x8
                                (i32.add (local.get $xRow) (i32.shl (local.get $kb) (i32.const 2)))
                                (i32.add (local.get $dyRow) (i32.shl (local.get $cb) (i32.const 2)))
                                (i32.add (local.get $dwKy)
                                  (i32.shl (i32.add (i32.mul (local.get $kb) (local.get $co)) (local.get $cb)) (i32.const 2)))
                                (local.get $wo) (local.get $xPixel) (local.get $dyPixel))))
                            (local.set $cb (i32.add (local.get $cb) (i32.const 8)))
                            (br $cBlocks)))
                        ;; four rows of (kx, ci) at a time, then the last few one by one
                        (local.set $kb (i32.add (local.get $kb)
                          (select (i32.const 4) (i32.const 1)
                            (i32.le_u (i32.add (local.get $kb) (i32.const 4)) (local.get $kk)))))
                        (br $kBlocks)))))
                (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
                (br $filterRows)))
            (local.set $dyRow (i32.add (local.get $dyRow) (local.get $dyRowBytes)))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $rows)))
        (local.set $img (i32.add (local.get $img) (i32.const 1)))
        (br $images))))

  ;; dw[r, 0..8] += Σ_p x[p, r] · dy[p, 0..8] for r = 0..4, over `count` pixels: 8 accumulators in
  ;; registers; x and dy step by their pixel strides, dw's rows are `dyPixel` bytes apart.
  (func $tile4x8
    (param $x i32) (param $dy i32) (param $dw i32) (param $count i32) (param $xPixel i32) (param $dyPixel i32)
    (local $d0 v128) (local $d1 v128) (local $s v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128)
    (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local.set $r1 (i32.add (local.get $dw) (local.get $dyPixel)))
    (local.set $r2 (i32.add (local.get $r1) (local.get $dyPixel)))
    (local.set $r3 (i32.add (local.get $r2) (local.get $dyPixel)))
    (local.set $a00 (v128.load (local.get $dw)))
    (local.set $a01 (v128.load offset=16 (local.get $dw)))
    (local.set $a10 (v128.load (local.get $r1)))
    (local.set $a11 (v128.load offset=16 (local.get $r1)))
    (local.set $a20 (v128.load (local.get $r2)))
    (local.set $a21 (v128.load offset=16 (local.get $r2)))
    (local.set $a30 (v128.load (local.get $r3)))
    (local.set $a31 (v128.load offset=16 (local.get $r3)))
    (block $done
      (loop $pixels
        (br_if $done (i32.eqz (local.get $count)))
        (local.set $d0 (v128.load (local.get $dy)))
        (local.set $d1 (v128.load offset=16 (local.get $dy)))
        (local.set $s (v128.load32_splat (local.get $x)))
        (local.set $a00 (f32x4.relaxed_madd (local.get $s) (local.get $d0) (local.get $a00)))
        (local.set $a01 (f32x4.relaxed_madd (local.get $s) (local.get $d1) (local.get $a01)))
        (local.set $s (v128.load32_splat offset=4 (local.get $x)))
        (local.set $a10 (f32x4.relaxed_madd (local.get $s) (local.get $d0) (local.get $a10)))
        (local.set $a11 (f32x4.relaxed_madd (local.get $s) (local.get $d1) (local.get $a11)))
        (local.set $s (v128.load32_splat offset=8 (local.get $x)))
        (local.set $a20 (f32x4.relaxed_madd (local.get $s) (local.get $d0) (local.get $a20)))
        (local.set $a21 (f32x4.relaxed_madd (local.get $s) (local.get $d1) (local.get $a21)))
        (local.set $s (v128.load32_splat offset=12 (local.get $x)))
        (local.set $a30 (f32x4.relaxed_madd (local.get $s) (local.get $d0) (local.get $a30)))
        (local.set $a31 (f32x4.relaxed_madd (local.get $s) (local.get $d1) (local.get $a31)))
        (local.set $x (i32.add (local.get $x) (local.get $xPixel)))
        (local.set $dy (i32.add (local.get $dy) (local.get $dyPixel)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $pixels)))
    (v128.store (local.get $dw) (local.get $a00))
    (v128.store offset=16 (local.get $dw) (local.get $a01))
    (v128.store (local.get $r1) (local.get $a10))
    (v128.store offset=16 (local.get $r1) (local.get $a11))
    (v128.store (local.get $r2) (local.get $a20))
    (v128.store offset=16 (local.get $r2) (local.get $a21))
    (v128.store (local.get $r3) (local.get $a30))
    (v128.store offset=16 (local.get $r3) (local.get $a31)))

  ;; tile4x8 for a single row r = 0.
  (func $tile1x8
    (param $x i32) (param $dy i32) (param $dw i32) (param $count i32) (param $xPixel i32) (param $dyPixel i32)
    (local $s v128) (local $a0 v128) (local $a1 v128)
    (local.set $a0 (v128.load (local.get $dw)))
    (local.set $a1 (v128.load offset=16 (local.get $dw)))
    (block $done
      (loop $pixels
        (br_if $done (i32.eqz (local.get $count)))
        (local.set $s (v128.load32_splat (local.get $x)))
        (local.set $a0 (f32x4.relaxed_madd (local.get $s) (v128.load (local.get $dy)) (local.get $a0)))
        (local.set $a1 (f32x4.relaxed_madd (local.get $s) (v128.load offset=16 (local.get $dy)) (local.get $a1)))
        (local.set $x (i32.add (local.get $x) (local.get $xPixel)))
        (local.set $dy (i32.add (local.get $dy) (local.get $dyPixel)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $pixels)))
    (v128.store (local.get $dw) (local.get $a0))
    (v128.store offset=16 (local.get $dw) (local.get $a1)))

  ;; One Adam step over n4 groups of 4 weights, as tf.train.adam computes it: m and v (the moments) are
  ;; updated in place, then w -= lr·c1·m / (√(v·c2) + 1e-7), where c1 and c2 are the bias corrections
  ;; 1/(1 − β^t). Run on the optimizer's own memory (src/train/optimizers.ts), not the backend's.
  (func (export "adam")
    (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $n4 i32)
    (param $lr f32) (param $c1 f32) (param $c2 f32)
    (local $gi v128) (local $mi v128) (local $vi v128) (local $step v128) (local $correction v128)
    (local.set $step (f32x4.splat (f32.mul (local.get $lr) (local.get $c1))))
    (local.set $correction (f32x4.splat (local.get $c2)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n4)))
        (local.set $gi (v128.load (local.get $g)))
        (local.set $mi (f32x4.add
          (f32x4.mul (v128.load (local.get $m)) (f32x4.splat (f32.const 0.9)))
          (f32x4.mul (local.get $gi) (f32x4.splat (f32.const 0.1)))))
        (local.set $vi (f32x4.add
          (f32x4.mul (v128.load (local.get $v)) (f32x4.splat (f32.const 0.999)))
          (f32x4.mul (f32x4.mul (local.get $gi) (local.get $gi)) (f32x4.splat (f32.const 0.001)))))
        (v128.store (local.get $m) (local.get $mi))
        (v128.store (local.get $v) (local.get $vi))
        (v128.store (local.get $w)
          (f32x4.sub (v128.load (local.get $w))
            (f32x4.div (f32x4.mul (local.get $step) (local.get $mi))
              (f32x4.add (f32x4.sqrt (f32x4.mul (local.get $vi) (local.get $correction)))
                (f32x4.splat (f32.const 1e-7))))))
        (local.set $w (i32.add (local.get $w) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (local.set $n4 (i32.sub (local.get $n4) (i32.const 1)))
        (br $next))))

  ;; a ∘ b for a of `rows` rows of 4·c4 floats and b one such row, broadcast down them (a per-channel
  ;; vector against NHWC activations): op 0 multiplies, 1 adds, 2 subtracts b from a.
  (func (export "channelBinary")
    (param $a i32) (param $b i32) (param $out i32) (param $rows i32) (param $c4 i32) (param $op i32)
    (local $k i32) (local $x v128) (local $y v128)
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $k (i32.const 0))
        (block $rowDone
          (loop $column
            (br_if $rowDone (i32.ge_u (local.get $k) (i32.shl (local.get $c4) (i32.const 4))))
            (local.set $x (v128.load (i32.add (local.get $a) (local.get $k))))
            (local.set $y (v128.load (i32.add (local.get $b) (local.get $k))))
            (v128.store (i32.add (local.get $out) (local.get $k))
              (if (result v128) (i32.eqz (local.get $op))
                (then (f32x4.mul (local.get $x) (local.get $y)))
                (else (if (result v128) (i32.eq (local.get $op) (i32.const 1))
                  (then (f32x4.add (local.get $x) (local.get $y)))
                  (else (f32x4.sub (local.get $x) (local.get $y)))))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $column)))
        (local.set $a (i32.add (local.get $a) (i32.shl (local.get $c4) (i32.const 4))))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $c4) (i32.const 4))))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; out = (x − m)·k + d per channel (m, k and d one row of 4·c4 floats each): batch normalisation with
  ;; its scale folded into k = scale/√(variance+ε). Centring first, as the stock kernel does, keeps
  ;; activations with a large mean and a tiny variance exact.
  (func (export "channelAffine")
    (param $x i32) (param $m i32) (param $k i32) (param $d i32) (param $out i32) (param $rows i32) (param $c4 i32)
    (local $j i32)
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $column
            (br_if $rowDone (i32.ge_u (local.get $j) (i32.shl (local.get $c4) (i32.const 4))))
            (v128.store (i32.add (local.get $out) (local.get $j))
              (f32x4.add
                (f32x4.mul
                  (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $m) (local.get $j))))
                  (v128.load (i32.add (local.get $k) (local.get $j))))
                (v128.load (i32.add (local.get $d) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $column)))
        (local.set $x (i32.add (local.get $x) (i32.shl (local.get $c4) (i32.const 4))))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $c4) (i32.const 4))))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; BatchNorm's training pass in three passes over the activations (batch-norm.ts): sumRows for the
  ;; mean, centredSquareSums for the variance, channelAffine to normalise; and its gradient in two,
  ;; centredDotSums then batchNormGrad. Rows are pixels, 4·c4 channels a row; per-channel sums accumulate
  ;; in dst, as in sumRows.

  ;; dst[c] = Σ over rows of (x − m)², m one row of 4·c4 floats.
  (func (export "centredSquareSums")
    (param $x i32) (param $m i32) (param $dst i32) (param $rows i32) (param $c4 i32)
    (local $j i32) (local $width i32) (local $v v128)
    (local.set $width (i32.shl (local.get $c4) (i32.const 4)))
    (memory.fill (local.get $dst) (i32.const 0) (local.get $width))
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $column
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $width)))
            (local.set $v
              (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $m) (local.get $j)))))
            (v128.store (i32.add (local.get $dst) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j))) (f32x4.mul (local.get $v) (local.get $v))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $column)))
        (local.set $x (i32.add (local.get $x) (local.get $width)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; dst[c] = Σ dy and dst[C + c] = Σ dy·(x − m) over rows (C = 4·c4): what BatchNorm's offset and scale
  ;; gradients are made of, in one pass over dy and x.
  (func (export "centredDotSums")
    (param $dy i32) (param $x i32) (param $m i32) (param $dst i32) (param $rows i32) (param $c4 i32)
    (local $j i32) (local $width i32) (local $g v128) (local $at i32)
    (local.set $width (i32.shl (local.get $c4) (i32.const 4)))
    (memory.fill (local.get $dst) (i32.const 0) (i32.shl (local.get $width) (i32.const 1)))
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $column
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $width)))
            (local.set $g (v128.load (i32.add (local.get $dy) (local.get $j))))
            (local.set $at (i32.add (local.get $dst) (local.get $j)))
            (v128.store (local.get $at) (f32x4.add (v128.load (local.get $at)) (local.get $g)))
            (local.set $at (i32.add (local.get $at) (local.get $width)))
            (v128.store (local.get $at)
              (f32x4.add (v128.load (local.get $at))
                (f32x4.mul (local.get $g)
                  (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $m) (local.get $j)))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $column)))
        (local.set $dy (i32.add (local.get $dy) (local.get $width)))
        (local.set $x (i32.add (local.get $x) (local.get $width)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; out = dy·k + (x − m)·a + b per channel, k, a and b three consecutive rows of 4·c4 floats at $coef:
  ;; BatchNorm's input gradient γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)) with its per-channel factors folded.
  (func (export "batchNormGrad")
    (param $dy i32) (param $x i32) (param $m i32) (param $coef i32) (param $out i32) (param $rows i32) (param $c4 i32)
    (local $j i32) (local $width i32) (local $at i32)
    (local.set $width (i32.shl (local.get $c4) (i32.const 4)))
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $rowDone
          (loop $column
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $width)))
            (local.set $at (i32.add (local.get $coef) (local.get $j)))
            (v128.store (i32.add (local.get $out) (local.get $j))
              (f32x4.add
                (f32x4.add
                  (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j))) (v128.load (local.get $at)))
                  (f32x4.mul
                    (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $m) (local.get $j))))
                    (v128.load (i32.add (local.get $at) (local.get $width)))))
                (v128.load (i32.add (local.get $at) (i32.shl (local.get $width) (i32.const 1))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $column)))
        (local.set $dy (i32.add (local.get $dy) (local.get $width)))
        (local.set $x (i32.add (local.get $x) (local.get $width)))
        (local.set $out (i32.add (local.get $out) (local.get $width)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; tanh's gradient dy·(1 − y²) from its output y, n4 groups of 4 floats: one pass instead of tfjs's three.
  (func (export "tanhGrad") (param $dy i32) (param $y i32) (param $dst i32) (param $n4 i32)
    (local $v v128)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n4)))
        (local.set $v (v128.load (local.get $y)))
        (v128.store (local.get $dst)
          (f32x4.mul (v128.load (local.get $dy))
            (f32x4.sub (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $v) (local.get $v)))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $n4 (i32.sub (local.get $n4) (i32.const 1)))
        (br $next))))

  ;; ReLU's gradient: dy where x > 0, else 0 (a lane mask), n4 groups of 4 floats: one pass instead of tfjs's
  ;; three (Step, Cast, Multiply).
  (func (export "reluGrad") (param $dy i32) (param $x i32) (param $dst i32) (param $n4 i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n4)))
        (v128.store (local.get $dst)
          (v128.and (v128.load (local.get $dy))
            (f32x4.gt (v128.load (local.get $x)) (f32x4.splat (f32.const 0)))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $n4 (i32.sub (local.get $n4) (i32.const 1)))
        (br $next))))

  ;; Winograd F(4×4, 3×3) (docs/training-speed.md): a 3×3 convolution as 36 matrix products, one per
  ;; entry of a 6×6 tile, with 4× fewer multiplies than direct convolution. Three steps: winogradInput
  ;; (tiles → V), winogradGemm (V·U → M, U the transformed filter) and winogradOutput (M → 4×4 outputs per
  ;; tile, bias, ReLU). Each 6×6 transform is one 1-D transform of six values, run over the tile's six rows
  ;; (into the planes) and then over the six columns of the planes (in place), by the same loop body.

  ;; V[e][k][c] = (Bᵀ d B)[e] for tiles t0 … t0+count−1 (k = t − t0), d the tile's 6×6 window of the
  ;; input padded by one pixel on every side (xp: [n, 4·th+2, 4·tw+2, ci], ci a multiple of 4), four
  ;; channels at a time; entry e = 6·i + j in plane e, planes `plane` bytes apart. Bᵀ's rows:
  ;; [4 0 −5 0 1 0], [0 −4 −4 1 1 0], [0 4 −4 −1 1 0], [0 −2 −1 2 1 0], [0 2 −1 −2 1 0], [0 4 0 −5 0 1].
  (func (export "winogradInput")
    (param $xp i32) (param $v i32) (param $t0 i32) (param $count i32) (param $th i32) (param $tw i32)
    (param $ci i32) (param $plane i32)
    (local $k i32) (local $tx i32) (local $ty i32) (local $img i32) (local $rem i32) (local $pixel i32) (local $row i32)
    (local $base i32) (local $dst i32) (local $g i32) (local $l i32) (local $p i32) (local $from i32) (local $to i32)
    (local $inStep i32) (local $outStep i32) (local $four v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128) (local $d4 v128) (local $d5 v128)
    (local $s v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $four (f32x4.splat (f32.const 4)))
    (local.set $pixel (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $row (i32.mul (local.get $pixel) (i32.add (i32.shl (local.get $tw) (i32.const 2)) (i32.const 2))))
    ;; tile t0's image and position; later tiles step through them without dividing
    (local.set $img (i32.div_u (local.get $t0) (i32.mul (local.get $th) (local.get $tw))))
    (local.set $rem (i32.rem_u (local.get $t0) (i32.mul (local.get $th) (local.get $tw))))
    (local.set $ty (i32.div_u (local.get $rem) (local.get $tw)))
    (local.set $tx (i32.rem_u (local.get $rem) (local.get $tw)))
    (local.set $k (i32.const 0))
    (block $tilesDone
      (loop $tiles
        (br_if $tilesDone (i32.ge_u (local.get $k) (local.get $count)))
        ;; the window's top-left pixel: padded row 4·ty of image img, column 4·tx
        (local.set $base (i32.add (local.get $xp)
          (i32.add
            (i32.mul (local.get $row)
              (i32.add (i32.mul (local.get $img) (i32.add (i32.shl (local.get $th) (i32.const 2)) (i32.const 2)))
                (i32.shl (local.get $ty) (i32.const 2))))
            (i32.mul (local.get $pixel) (i32.shl (local.get $tx) (i32.const 2))))))
        (local.set $dst (i32.add (local.get $v) (i32.mul (local.get $k) (local.get $pixel))))
        (local.set $l (i32.const 0))
        (block $linesDone
          (loop $lines
            (br_if $linesDone (i32.ge_u (local.get $l) (i32.const 12)))
            ;; lines 0–5: window row l (pixels `pixel` apart) → entries 6·l … 6·l+5; lines 6–11: column
            ;; l − 6 of those entries (6 planes apart), transformed in place
            (if (i32.lt_u (local.get $l) (i32.const 6))
              (then
                (local.set $from (i32.add (local.get $base) (i32.mul (local.get $l) (local.get $row))))
                (local.set $to (i32.add (local.get $dst) (i32.mul (i32.mul (local.get $l) (i32.const 6)) (local.get $plane))))
                (local.set $inStep (local.get $pixel))
                (local.set $outStep (local.get $plane)))
              (else
                (local.set $from (i32.add (local.get $dst) (i32.mul (i32.sub (local.get $l) (i32.const 6)) (local.get $plane))))
                (local.set $to (local.get $from))
                (local.set $inStep (i32.mul (local.get $plane) (i32.const 6)))
                (local.set $outStep (local.get $inStep))))
            (local.set $g (i32.const 0))
            (block $groupsDone
              (loop $groups
                (br_if $groupsDone (i32.ge_u (local.get $g) (local.get $pixel)))
                (local.set $p (i32.add (local.get $from) (local.get $g)))
                (local.set $d0 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
                (local.set $d1 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
                (local.set $d2 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
                (local.set $d3 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
                (local.set $d4 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
                (local.set $d5 (v128.load (local.get $p)))
                (local.set $s (f32x4.sub (local.get $d1) (local.get $d3)))
                (local.set $t1 (f32x4.sub (local.get $d4) (f32x4.mul (local.get $four) (local.get $d2))))
                (local.set $t2 (f32x4.sub (f32x4.mul (local.get $four) (local.get $d1)) (local.get $d3)))
                (local.set $t3 (f32x4.sub (local.get $d4) (local.get $d2)))
                (local.set $p (i32.add (local.get $to) (local.get $g)))
                (v128.store (local.get $p) (f32x4.add (f32x4.mul (local.get $four) (f32x4.sub (local.get $d0) (local.get $d2))) (local.get $t3)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.sub (local.get $t1) (local.get $t2)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.add (local.get $t1) (local.get $t2)))
                (local.set $s (f32x4.add (local.get $s) (local.get $s)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.sub (local.get $t3) (local.get $s)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.add (local.get $t3) (local.get $s)))
                ;; 4·(d1 − d3) + d5 − d3: s is 2·(d1 − d3) by now
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.add (f32x4.add (local.get $s) (local.get $s)) (f32x4.sub (local.get $d5) (local.get $d3))))
                (local.set $g (i32.add (local.get $g) (i32.const 16)))
                (br $groups)))
            (local.set $l (i32.add (local.get $l) (i32.const 1)))
            (br $lines)))
        (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
        (if (i32.eq (local.get $tx) (local.get $tw))
          (then
            (local.set $tx (i32.const 0))
            (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
            (if (i32.eq (local.get $ty) (local.get $th))
              (then
                (local.set $ty (i32.const 0))
                (local.set $img (i32.add (local.get $img) (i32.const 1)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tiles))))

  ;; The filter transform U = G g Gᵀ (G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1]) of
  ;; `pairs` (a multiple of 4) channel pairs at once, four per instruction: g [3, 3, pairs] → u [36, pairs].
  ;; Lines 0–2: column kx of g through G into entries kx, 6 + kx, …, 30 + kx of u; lines 3–8: row i = l − 3
  ;; of those (entries 6·i …, the first three) through G, in place.
  (func (export "winogradFilterTransform") (param $g i32) (param $u i32) (param $pairs i32)
    (local $plane i32) (local $l i32) (local $c i32) (local $from i32) (local $to i32) (local $inStep i32)
    (local $outStep i32) (local $p i32) (local $a v128) (local $b v128) (local $d v128) (local $e v128)
    (local $o v128) (local $sixth v128)
    (local.set $sixth (f32x4.splat (f32.const 0x1.555556p-3)))
    (local.set $plane (i32.shl (local.get $pairs) (i32.const 2)))
    (local.set $l (i32.const 0))
    (block $linesDone
      (loop $lines
        (br_if $linesDone (i32.ge_u (local.get $l) (i32.const 9)))
        (if (i32.lt_u (local.get $l) (i32.const 3))
          (then
            (local.set $from (i32.add (local.get $g) (i32.mul (local.get $l) (local.get $plane))))
            (local.set $to (i32.add (local.get $u) (i32.mul (local.get $l) (local.get $plane))))
            (local.set $inStep (i32.mul (local.get $plane) (i32.const 3)))
            (local.set $outStep (i32.mul (local.get $plane) (i32.const 6))))
          (else
            (local.set $from (i32.add (local.get $u) (i32.mul (i32.mul (i32.sub (local.get $l) (i32.const 3)) (i32.const 6)) (local.get $plane))))
            (local.set $to (local.get $from))
            (local.set $inStep (local.get $plane))
            (local.set $outStep (local.get $plane))))
        (local.set $c (i32.const 0))
        (block $groupsDone
          (loop $groups
            (br_if $groupsDone (i32.ge_u (local.get $c) (local.get $plane)))
            (local.set $p (i32.add (local.get $from) (local.get $c)))
            (local.set $a (v128.load (local.get $p)))
            (local.set $b (v128.load (i32.add (local.get $p) (local.get $inStep))))
            (local.set $d (v128.load (i32.add (i32.add (local.get $p) (local.get $inStep)) (local.get $inStep))))
            ;; e = (a + d)/6, o = a/24 + d/6, b now b/6
            (local.set $e (f32x4.mul (f32x4.add (local.get $a) (local.get $d)) (local.get $sixth)))
            (local.set $o (f32x4.add (f32x4.mul (local.get $a) (f32x4.splat (f32.const 0x1.555556p-5))) (f32x4.mul (local.get $d) (local.get $sixth))))
            (local.set $b (f32x4.mul (local.get $b) (local.get $sixth)))
            (local.set $p (i32.add (local.get $to) (local.get $c)))
            (v128.store (local.get $p) (f32x4.mul (local.get $a) (f32x4.splat (f32.const 0.25))))
            (local.set $p (i32.add (local.get $p) (local.get $outStep)))
            (v128.store (local.get $p) (f32x4.sub (f32x4.neg (local.get $e)) (local.get $b)))
            (local.set $p (i32.add (local.get $p) (local.get $outStep)))
            (v128.store (local.get $p) (f32x4.sub (local.get $b) (local.get $e)))
            (local.set $b (f32x4.mul (local.get $b) (f32x4.splat (f32.const 0.5))))
            (local.set $p (i32.add (local.get $p) (local.get $outStep)))
            (v128.store (local.get $p) (f32x4.add (local.get $o) (local.get $b)))
            (local.set $p (i32.add (local.get $p) (local.get $outStep)))
            (v128.store (local.get $p) (f32x4.sub (local.get $o) (local.get $b)))
            (local.set $p (i32.add (local.get $p) (local.get $outStep)))
            (v128.store (local.get $p) (local.get $d))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $groups)))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br $lines))))

  ;; Its adjoint for the filter gradient, dW = Gᵀ dU G: du [36, pairs] → dw [3, 3, pairs]. Lines 0–5:
  ;; column j of du through Gᵀ, in place into entries j, 6 + j, 12 + j; lines 6–8: row k = l − 6 of
  ;; those (entries 6·k …) through Gᵀ into dw's row k. du is overwritten.
  (func (export "winogradFilterUntransform") (param $du i32) (param $dw i32) (param $pairs i32)
    (local $plane i32) (local $l i32) (local $c i32) (local $from i32) (local $to i32) (local $inStep i32)
    (local $outStep i32) (local $p i32) (local $sixth v128) (local $sum v128) (local $outer v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $x4 v128) (local $x5 v128)
    (local.set $sixth (f32x4.splat (f32.const 0x1.555556p-3)))
    (local.set $plane (i32.shl (local.get $pairs) (i32.const 2)))
    (local.set $l (i32.const 0))
    (block $linesDone
      (loop $lines
        (br_if $linesDone (i32.ge_u (local.get $l) (i32.const 9)))
        (if (i32.lt_u (local.get $l) (i32.const 6))
          (then
            (local.set $from (i32.add (local.get $du) (i32.mul (local.get $l) (local.get $plane))))
            (local.set $to (local.get $from))
            (local.set $inStep (i32.mul (local.get $plane) (i32.const 6)))
            (local.set $outStep (local.get $inStep)))
          (else
            (local.set $from (i32.add (local.get $du) (i32.mul (i32.mul (i32.sub (local.get $l) (i32.const 6)) (i32.const 6)) (local.get $plane))))
            (local.set $to (i32.add (local.get $dw) (i32.mul (i32.mul (i32.sub (local.get $l) (i32.const 6)) (i32.const 3)) (local.get $plane))))
            (local.set $inStep (local.get $plane))
            (local.set $outStep (local.get $plane))))
        (local.set $c (i32.const 0))
        (block $groupsDone
          (loop $groups
            (br_if $groupsDone (i32.ge_u (local.get $c) (local.get $plane)))
            (local.set $p (i32.add (local.get $from) (local.get $c)))
            (local.set $x0 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
            (local.set $x1 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
            (local.set $x2 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
            (local.set $x3 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
            (local.set $x4 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
            (local.set $x5 (v128.load (local.get $p)))
            ;; (x0/4 − s + t, (x2 − x1)/6 + (x3 − x4)/12, 4·t − s + x5), s = (x1 + x2)/6, t = (x3 + x4)/24
            (local.set $sum (f32x4.mul (f32x4.add (local.get $x1) (local.get $x2)) (local.get $sixth)))
            (local.set $outer (f32x4.mul (f32x4.add (local.get $x3) (local.get $x4)) (f32x4.splat (f32.const 0x1.555556p-5))))
            (local.set $p (i32.add (local.get $to) (local.get $c)))
            (v128.store (local.get $p)
              (f32x4.add (f32x4.sub (f32x4.mul (local.get $x0) (f32x4.splat (f32.const 0.25))) (local.get $sum)) (local.get $outer)))
            (local.set $p (i32.add (local.get $p) (local.get $outStep)))
            (v128.store (local.get $p)
              (f32x4.add (f32x4.mul (f32x4.sub (local.get $x2) (local.get $x1)) (local.get $sixth))
                (f32x4.mul (f32x4.sub (local.get $x3) (local.get $x4)) (f32x4.splat (f32.const 0x1.555556p-4)))))
            (local.set $p (i32.add (local.get $p) (local.get $outStep)))
            (v128.store (local.get $p)
              (f32x4.add (f32x4.sub (f32x4.mul (local.get $outer) (f32x4.splat (f32.const 4))) (local.get $sum)) (local.get $x5)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $groups)))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br $lines))))

  ;; M[e] = V[e] · U[e] for the `planes` planes e: V[e] rows4 × ci, U[e] ci × co, M[e] rows4 × co (rows4 a
  ;; multiple of 4, co of 8), each row-major and contiguous; 4 × 8 tiles of M in registers.
  (func (export "winogradGemm")
    (param $v i32) (param $u i32) (param $m i32) (param $rows4 i32) (param $ci i32) (param $co i32)
    (param $vPlane i32) (param $uPlane i32) (param $mPlane i32) (param $planes i32)
    (local $e i32) (local $r i32) (local $cb i32) (local $aRow i32) (local $bRow i32)
    (local.set $aRow (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $bRow (i32.shl (local.get $co) (i32.const 2)))
    (local.set $e (i32.const 0))
    (block $planesDone
      (loop $planes
        (br_if $planesDone (i32.ge_u (local.get $e) (local.get $planes)))
        (local.set $cb (i32.const 0))
        (block $colsDone
          (loop $cols
            (br_if $colsDone (i32.ge_u (local.get $cb) (local.get $bRow)))
            (local.set $r (i32.const 0))
            (block $rowsDone
              (loop $rows
                (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows4)))
                (call $gemm4x8
                  (i32.add (local.get $v) (i32.mul (local.get $r) (local.get $aRow)))
                  (i32.add (local.get $u) (local.get $cb))
                  (i32.add (i32.add (local.get $m) (i32.mul (local.get $r) (local.get $bRow))) (local.get $cb))
                  (local.get $ci) (local.get $aRow) (local.get $bRow) (i32.const 1) (i32.const 0))
                (local.set $r (i32.add (local.get $r) (i32.const 4)))
                (br $rows)))
            (local.set $cb (i32.add (local.get $cb) (i32.const 32)))
            (br $cols)))
        (local.set $v (i32.add (local.get $v) (local.get $vPlane)))
        (local.set $u (i32.add (local.get $u) (local.get $uPlane)))
        (local.set $m (i32.add (local.get $m) (local.get $mPlane)))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $planes))))

  ;; A 3×3 'same', stride-1 NHWC convolution computed directly, for inputs of few channels (the RGB
  ;; input, where Winograd's transforms would cost more than they save): out[img, y, x, co] = bias[co] +
  ;; Σ over ky of Σ over (kx, ci) of xp[img, y + ky, x + kx, ci] · w[ky, kx, ci, co], xp being the input
  ;; with one zero pixel on every side. For one ky, (kx, ci) is a run of 3·ci contiguous floats in xp and
  ;; 3·ci rows of w, so each block of 4 pixels × 8 channels is gemm4x8 over three runs, one per ky; then
  ;; each output row gets its bias, and max(·, 0) when relu ≠ 0. Width in fours, co in eights.
  (func (export "directConv3x3")
    (param $xp i32) (param $w i32) (param $bias i32) (param $out i32) (param $n i32) (param $h i32)
    (param $width i32) (param $ci i32) (param $co i32) (param $relu i32)
    (local $pixel i32) (local $xpRow i32) (local $bRow i32) (local $run i32) (local $rows i32)
    (local $y i32) (local $x i32) (local $cb i32) (local $j i32) (local $end i32) (local $v v128)
    (local.set $pixel (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $xpRow (i32.mul (i32.add (local.get $width) (i32.const 2)) (local.get $pixel)))
    (local.set $bRow (i32.shl (local.get $co) (i32.const 2)))
    (local.set $run (i32.mul (local.get $ci) (i32.const 3)))
    (local.set $rows (i32.mul (local.get $n) (i32.add (local.get $h) (i32.const 2))))
    (local.set $y (i32.const 0))
    (block $imageRowsDone
      (loop $imageRows
        (br_if $imageRowsDone (i32.ge_u (local.get $y) (local.get $rows)))
        ;; padded rows y, y+1, y+2 make one output row, except for the last two rows of each image
        (if (i32.lt_u (i32.rem_u (local.get $y) (i32.add (local.get $h) (i32.const 2))) (local.get $h))
          (then
            (local.set $x (i32.const 0))
            (block $pixelsDone
              (loop $pixels
                (br_if $pixelsDone (i32.ge_u (local.get $x) (local.get $width)))
                (local.set $cb (i32.const 0))
                (block $channelsDone
                  (loop $channels
                    (br_if $channelsDone (i32.ge_u (local.get $cb) (local.get $bRow)))
                    (call $gemm4x8
                      (i32.add (i32.add (local.get $xp) (i32.mul (local.get $y) (local.get $xpRow)))
                        (i32.mul (local.get $x) (local.get $pixel)))
                      (i32.add (local.get $w) (local.get $cb))
                      (i32.add (i32.add (local.get $out) (i32.mul (local.get $x) (local.get $bRow))) (local.get $cb))
                      (local.get $run) (local.get $pixel) (local.get $bRow)
                      (i32.const 3) (i32.sub (local.get $xpRow) (i32.mul (local.get $run) (i32.const 4))))
                    (local.set $cb (i32.add (local.get $cb) (i32.const 32)))
                    (br $channels)))
                (local.set $x (i32.add (local.get $x) (i32.const 4)))
                (br $pixels)))
            (local.set $end (i32.add (local.get $out) (i32.mul (local.get $width) (local.get $bRow))))
            (block $rowDone
              (loop $row
                (br_if $rowDone (i32.ge_u (local.get $out) (local.get $end)))
                (local.set $j (i32.const 0))
                (block $pixelDone
                  (loop $pixelChannels
                    (br_if $pixelDone (i32.ge_u (local.get $j) (local.get $bRow)))
                    (local.set $v (f32x4.add (v128.load (i32.add (local.get $out) (local.get $j)))
                      (v128.load (i32.add (local.get $bias) (local.get $j)))))
                    (if (local.get $relu) (then (local.set $v (f32x4.pmax (local.get $v) (v128.const f32x4 0 0 0 0)))))
                    (v128.store (i32.add (local.get $out) (local.get $j)) (local.get $v))
                    (local.set $j (i32.add (local.get $j) (i32.const 16)))
                    (br $pixelChannels)))
                (local.set $out (i32.add (local.get $out) (local.get $bRow)))
                (br $row)))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br $imageRows))))

  ;; c[r, 0..8] = Σ_k a[r, k] · b[k, 0..8] for r = 0..4: a's rows aRow bytes apart, b's and c's bRow.
  ;; k runs over `segments` runs of `run` entries: b's rows follow on, a's jump `jump` bytes past each
  ;; run (the direct convolution's filter rows; Winograd's GEMM is one run).
  (func $gemm4x8
    (param $a i32) (param $b i32) (param $c i32) (param $run i32) (param $aRow i32) (param $bRow i32)
    (param $segments i32) (param $jump i32)
    (local $k i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $b0 v128) (local $b1 v128) (local $s v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $a1 (i32.add (local.get $a) (local.get $aRow)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $aRow)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $aRow)))
    (loop $runs
    (local.set $k (local.get $run))
    (block $done
      (loop $steps
        (br_if $done (i32.eqz (local.get $k)))
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $s (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c00)))
        (local.set $c01 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c01)))
        (local.set $s (v128.load32_splat (local.get $a1)))
        (local.set $c10 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c10)))
        (local.set $c11 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c11)))
        (local.set $s (v128.load32_splat (local.get $a2)))
        (local.set $c20 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c20)))
        (local.set $c21 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c21)))
        (local.set $s (v128.load32_splat (local.get $a3)))
        (local.set $c30 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c30)))
        (local.set $c31 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c31)))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
        (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
        (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (local.get $bRow)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $steps)))
    (local.set $a (i32.add (local.get $a) (local.get $jump)))
    (local.set $a1 (i32.add (local.get $a1) (local.get $jump)))
    (local.set $a2 (i32.add (local.get $a2) (local.get $jump)))
    (local.set $a3 (i32.add (local.get $a3) (local.get $jump)))
    (local.set $segments (i32.sub (local.get $segments) (i32.const 1)))
    (br_if $runs (local.get $segments)))
    (v128.store (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $bRow)))
    (v128.store (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
    (local.set $c (i32.add (local.get $c) (local.get $bRow)))
    (v128.store (local.get $c) (local.get $c20))
    (v128.store offset=16 (local.get $c) (local.get $c21))
    (local.set $c (i32.add (local.get $c) (local.get $bRow)))
    (v128.store (local.get $c) (local.get $c30))
    (v128.store offset=16 (local.get $c) (local.get $c31)))

  ;; out = Aᵀ M A + bias for tiles t0 … t0+count−1, Aᵀ's rows [1 1 1 1 1 0], [0 1 −1 2 −2 0],
  ;; [0 1 1 4 4 0], [0 1 −1 8 −8 1]: each tile's 4×4 outputs of an NHWC output [n, 4·th, 4·tw, co], four
  ;; channels at a time; then max(·, 0) when relu ≠ 0. With pool ≠ 0, each 2×2 block's maximum, into
  ;; [n, 2·th, 2·tw, co] (a 2×2, stride-2 max pool). Rows first (in place, into each row's first four
  ;; entries), then those four columns, by the same loop body.
  (func (export "winogradOutput")
    (param $m i32) (param $out i32) (param $bias i32) (param $t0 i32) (param $count i32) (param $th i32)
    (param $tw i32) (param $co i32) (param $plane i32) (param $relu i32) (param $pool i32)
    (local $k i32) (local $tx i32) (local $ty i32) (local $img i32) (local $rem i32) (local $pixel i32) (local $row i32)
    (local $o i32) (local $src i32) (local $g i32) (local $l i32) (local $p i32) (local $step i32) (local $side i32)
    (local $from i32) (local $to i32)
    (local $floor v128) (local $b v128) (local $add v128) (local $max v128) (local $minusInf v128) (local $zero v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $m4 v128) (local $m5 v128)
    (local $a v128) (local $d v128) (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128)
    (local.set $minusInf (f32x4.splat (f32.const -inf)))
    ;; without ReLU the floor is −∞, which max leaves every value above
    (local.set $floor (f32x4.splat (select (f32.const 0) (f32.const -inf) (local.get $relu))))
    (local.set $pixel (i32.shl (local.get $co) (i32.const 2)))
    ;; a tile's side in output pixels is 1 << side: 4, or 2 pooled
    (local.set $side (i32.sub (i32.const 2) (local.get $pool)))
    (local.set $row (i32.mul (local.get $pixel) (i32.shl (local.get $tw) (local.get $side))))
    (local.set $img (i32.div_u (local.get $t0) (i32.mul (local.get $th) (local.get $tw))))
    (local.set $rem (i32.rem_u (local.get $t0) (i32.mul (local.get $th) (local.get $tw))))
    (local.set $ty (i32.div_u (local.get $rem) (local.get $tw)))
    (local.set $tx (i32.rem_u (local.get $rem) (local.get $tw)))
    (local.set $k (i32.const 0))
    (block $tilesDone
      (loop $tiles
        (br_if $tilesDone (i32.ge_u (local.get $k) (local.get $count)))
        ;; the tile's top-left output pixel: (4·ty, 4·tx), or (2·ty, 2·tx) pooled
        (local.set $o (i32.add (local.get $out)
          (i32.add
            (i32.mul (local.get $row) (i32.add (i32.mul (local.get $img) (i32.shl (local.get $th) (local.get $side)))
              (i32.shl (local.get $ty) (local.get $side))))
            (i32.mul (local.get $pixel) (i32.shl (local.get $tx) (local.get $side))))))
        (local.set $src (i32.add (local.get $m) (i32.mul (local.get $k) (local.get $pixel))))
        ;; lines 0–5: row l of M (planes 6·l …), 6 → 4 in place; lines 6–9: column j = l − 6 (6 planes
        ;; apart), 6 → 4 outputs, plus bias, floored, into the output's column j (pooled: column j/2, the
        ;; odd column taking the maximum with what the even one stored)
        (local.set $l (i32.const 0))
        (block $linesDone
          (loop $lines
            (br_if $linesDone (i32.ge_u (local.get $l) (i32.const 10)))
            (if (i32.lt_u (local.get $l) (i32.const 6))
              (then
                (local.set $from (i32.add (local.get $src) (i32.mul (i32.mul (local.get $l) (i32.const 6)) (local.get $plane))))
                (local.set $step (local.get $plane))
                (local.set $max (local.get $minusInf)))
              (else
                (local.set $from (i32.add (local.get $src) (i32.mul (i32.sub (local.get $l) (i32.const 6)) (local.get $plane))))
                (local.set $to (i32.add (local.get $o) (i32.mul (i32.shr_u (i32.sub (local.get $l) (i32.const 6)) (local.get $pool)) (local.get $pixel))))
                (local.set $step (i32.mul (local.get $plane) (i32.const 6)))
                (local.set $max (local.get $floor))))
            (local.set $g (i32.const 0))
            (block $groupsDone
              (loop $groups
                (br_if $groupsDone (i32.ge_u (local.get $g) (local.get $pixel)))
                (local.set $p (i32.add (local.get $from) (local.get $g)))
                (local.set $add (if (result v128) (i32.lt_u (local.get $l) (i32.const 6))
                  (then (local.get $zero))
                  (else (v128.load (i32.add (local.get $bias) (local.get $g))))))
                (local.set $m0 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $step)))
                (local.set $m1 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $step)))
                (local.set $m2 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $step)))
                (local.set $m3 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $step)))
                (local.set $m4 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $step)))
                (local.set $m5 (v128.load (local.get $p)))
                (local.set $a (f32x4.add (local.get $m1) (local.get $m2)))
                (local.set $b (f32x4.sub (local.get $m1) (local.get $m2)))
                (local.set $m1 (f32x4.add (local.get $m3) (local.get $m4)))
                (local.set $d (f32x4.sub (local.get $m3) (local.get $m4)))
                (local.set $d (f32x4.add (local.get $d) (local.get $d)))
                ;; a = m1 + m2, b = m1 − m2, m1 now m3 + m4, d = 2·(m3 − m4)
                (local.set $y0 (f32x4.max (f32x4.add (f32x4.add (f32x4.add (local.get $m0) (local.get $a)) (local.get $m1)) (local.get $add)) (local.get $max)))
                (local.set $y1 (f32x4.max (f32x4.add (f32x4.add (local.get $b) (local.get $d)) (local.get $add)) (local.get $max)))
                (local.set $m1 (f32x4.add (local.get $m1) (local.get $m1)))
                (local.set $y2 (f32x4.max (f32x4.add (f32x4.add (local.get $a) (f32x4.add (local.get $m1) (local.get $m1))) (local.get $add)) (local.get $max)))
                (local.set $d (f32x4.add (local.get $d) (local.get $d)))
                (local.set $y3 (f32x4.max (f32x4.add (f32x4.add (f32x4.add (local.get $b) (f32x4.add (local.get $d) (local.get $d))) (local.get $m5)) (local.get $add)) (local.get $max)))
                (if (i32.lt_u (local.get $l) (i32.const 6))
                  (then
                    (local.set $p (i32.add (local.get $from) (local.get $g)))
                    (v128.store (local.get $p) (local.get $y0))
                    (local.set $p (i32.add (local.get $p) (local.get $plane)))
                    (v128.store (local.get $p) (local.get $y1))
                    (local.set $p (i32.add (local.get $p) (local.get $plane)))
                    (v128.store (local.get $p) (local.get $y2))
                    (local.set $p (i32.add (local.get $p) (local.get $plane)))
                    (v128.store (local.get $p) (local.get $y3)))
                  (else
                    (local.set $p (i32.add (local.get $to) (local.get $g)))
                    (if (local.get $pool)
                      (then
                        (local.set $y0 (f32x4.max (local.get $y0) (local.get $y1)))
                        (local.set $y2 (f32x4.max (local.get $y2) (local.get $y3)))
                        (if (i32.and (local.get $l) (i32.const 1))
                          (then
                            (local.set $y0 (f32x4.max (local.get $y0) (v128.load (local.get $p))))
                            (local.set $y2 (f32x4.max (local.get $y2) (v128.load (i32.add (local.get $p) (local.get $row)))))))
                        (v128.store (local.get $p) (local.get $y0))
                        (v128.store (i32.add (local.get $p) (local.get $row)) (local.get $y2)))
                      (else
                        (v128.store (local.get $p) (local.get $y0))
                        (local.set $p (i32.add (local.get $p) (local.get $row)))
                        (v128.store (local.get $p) (local.get $y1))
                        (local.set $p (i32.add (local.get $p) (local.get $row)))
                        (v128.store (local.get $p) (local.get $y2))
                        (local.set $p (i32.add (local.get $p) (local.get $row)))
                        (v128.store (local.get $p) (local.get $y3))))))
                (local.set $g (i32.add (local.get $g) (i32.const 16)))
                (br $groups)))
            (local.set $l (i32.add (local.get $l) (i32.const 1)))
            (br $lines)))
        (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
        (if (i32.eq (local.get $tx) (local.get $tw))
          (then
            (local.set $tx (i32.const 0))
            (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
            (if (i32.eq (local.get $ty) (local.get $th))
              (then
                (local.set $ty (i32.const 0))
                (local.set $img (i32.add (local.get $img) (i32.const 1)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tiles))))

  ;; The filter gradient by the same transform: dU[e] = Σ_tiles V[e]ᵀ · dM[e], then dW = Gᵀ dU G (in JS).
  ;; dM[e][k][c] = (A dY Aᵀ)[e] for tiles t0 … t0+count−1, dY the tile's 4×4 block of the output gradient
  ;; dy [n, 4·th, 4·tw, co], A = Aᵀ of winogradOutput transposed; planes `plane` bytes apart, as
  ;; winogradInput's. Rows first (four values → entries 6·l … 6·l+5), then the six columns in place.
  (func (export "winogradOutputGrad")
    (param $dy i32) (param $dm i32) (param $t0 i32) (param $count i32) (param $th i32) (param $tw i32)
    (param $co i32) (param $plane i32)
    (local $k i32) (local $tx i32) (local $ty i32) (local $img i32) (local $rem i32) (local $pixel i32)
    (local $row i32) (local $base i32) (local $dst i32) (local $g i32) (local $l i32) (local $p i32)
    (local $from i32) (local $to i32) (local $inStep i32) (local $outStep i32)
    (local $y0 v128) (local $y1 v128) (local $y2 v128) (local $y3 v128) (local $a v128) (local $b v128)
    (local $four v128)
    (local.set $four (f32x4.splat (f32.const 4)))
    (local.set $pixel (i32.shl (local.get $co) (i32.const 2)))
    (local.set $row (i32.mul (local.get $pixel) (i32.shl (local.get $tw) (i32.const 2))))
    (local.set $img (i32.div_u (local.get $t0) (i32.mul (local.get $th) (local.get $tw))))
    (local.set $rem (i32.rem_u (local.get $t0) (i32.mul (local.get $th) (local.get $tw))))
    (local.set $ty (i32.div_u (local.get $rem) (local.get $tw)))
    (local.set $tx (i32.rem_u (local.get $rem) (local.get $tw)))
    (local.set $k (i32.const 0))
    (block $tilesDone
      (loop $tiles
        (br_if $tilesDone (i32.ge_u (local.get $k) (local.get $count)))
        (local.set $base (i32.add (local.get $dy) (i32.add
              (i32.mul (local.get $row) (i32.add (i32.mul (local.get $img) (i32.shl (local.get $th) (i32.const 2)))
                (i32.shl (local.get $ty) (i32.const 2))))
              (i32.mul (local.get $pixel) (i32.shl (local.get $tx) (i32.const 2))))))
        (local.set $dst (i32.add (local.get $dm) (i32.mul (local.get $k) (local.get $pixel))))
        (local.set $l (i32.const 0))
        (block $linesDone
          (loop $lines
            (br_if $linesDone (i32.ge_u (local.get $l) (i32.const 10)))
            (if (i32.lt_u (local.get $l) (i32.const 4))
              (then
                (local.set $from (i32.add (local.get $base) (i32.mul (local.get $l) (local.get $row))))
                (local.set $to (i32.add (local.get $dst) (i32.mul (i32.mul (local.get $l) (i32.const 6)) (local.get $plane))))
                (local.set $inStep (local.get $pixel))
                (local.set $outStep (local.get $plane)))
              (else
                (local.set $from (i32.add (local.get $dst) (i32.mul (i32.sub (local.get $l) (i32.const 4)) (local.get $plane))))
                (local.set $to (local.get $from))
                (local.set $inStep (i32.mul (local.get $plane) (i32.const 6)))
                (local.set $outStep (local.get $inStep))))
            (local.set $g (i32.const 0))
            (block $groupsDone
              (loop $groups
                (br_if $groupsDone (i32.ge_u (local.get $g) (local.get $pixel)))
                (local.set $p (i32.add (local.get $from) (local.get $g)))
                (local.set $y0 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
                (local.set $y1 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
                (local.set $y2 (v128.load (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $inStep)))
                (local.set $y3 (v128.load (local.get $p)))
                ;; (y0, y0+y1+y2+y3, y0−y1+y2−y3, y0+2y1+4y2+8y3, y0−2y1+4y2−8y3, y3)
                (local.set $p (i32.add (local.get $to) (local.get $g)))
                (v128.store (local.get $p) (local.get $y0))
                (local.set $a (f32x4.add (local.get $y0) (local.get $y2)))
                (local.set $b (f32x4.add (local.get $y1) (local.get $y3)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.add (local.get $a) (local.get $b)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.sub (local.get $a) (local.get $b)))
                (local.set $a (f32x4.add (local.get $y0) (f32x4.mul (local.get $four) (local.get $y2))))
                (local.set $b (f32x4.add (local.get $y1) (f32x4.mul (local.get $four) (local.get $y3))))
                (local.set $b (f32x4.add (local.get $b) (local.get $b)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.add (local.get $a) (local.get $b)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (f32x4.sub (local.get $a) (local.get $b)))
                (local.set $p (i32.add (local.get $p) (local.get $outStep)))
                (v128.store (local.get $p) (local.get $y3))
                (local.set $g (i32.add (local.get $g) (i32.const 16)))
                (br $groups)))
            (local.set $l (i32.add (local.get $l) (i32.const 1)))
            (br $lines)))
        (local.set $tx (i32.add (local.get $tx) (i32.const 1)))
        (if (i32.eq (local.get $tx) (local.get $tw))
          (then
            (local.set $tx (i32.const 0))
            (local.set $ty (i32.add (local.get $ty) (i32.const 1)))
            (if (i32.eq (local.get $ty) (local.get $th))
              (then
                (local.set $ty (i32.const 0))
                (local.set $img (i32.add (local.get $img) (i32.const 1)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tiles))))

  ;; dU[e] += V[e]ᵀ · dM[e] for the `planes` planes e, over `count` tiles: V[e] count × ci, dM[e] count × co
  ;; (rows of ci and co floats), dU[e] ci × co; the filter gradient's 4 × 8 register tiles (tile4x8).
  (func (export "winogradFilterGemm")
    (param $v i32) (param $dm i32) (param $du i32) (param $count i32) (param $ci i32) (param $co i32)
    (param $vPlane i32) (param $mPlane i32) (param $planes i32)
    (local $e i32) (local $r i32) (local $cb i32) (local $xPixel i32) (local $dyPixel i32)
    (local.set $xPixel (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $dyPixel (i32.shl (local.get $co) (i32.const 2)))
    (local.set $e (i32.const 0))
    (block $planesDone
      (loop $planes
        (br_if $planesDone (i32.ge_u (local.get $e) (local.get $planes)))
        (local.set $r (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $xPixel)))
            (local.set $cb (i32.const 0))
            (block $colsDone
              (loop $cols
                (br_if $colsDone (i32.ge_u (local.get $cb) (local.get $dyPixel)))
                (call $tile4x8
                  (i32.add (local.get $v) (local.get $r))
                  (i32.add (local.get $dm) (local.get $cb))
                  (i32.add (i32.add (local.get $du) (i32.mul (local.get $r) (local.get $co))) (local.get $cb))
                  (local.get $count) (local.get $xPixel) (local.get $dyPixel))
                (local.set $cb (i32.add (local.get $cb) (i32.const 32)))
                (br $cols)))
            (local.set $r (i32.add (local.get $r) (i32.const 16)))
            (br $rows)))
        (local.set $v (i32.add (local.get $v) (local.get $vPlane)))
        (local.set $dm (i32.add (local.get $dm) (local.get $mPlane)))
        (local.set $du (i32.add (local.get $du) (i32.mul (local.get $ci) (local.get $dyPixel))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $planes))))
)
