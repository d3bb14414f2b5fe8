;; scoreZ: the ranker's pass up to the head logits, two candidates at a time in f64x2 lanes (lane 0:
;; candidate 2p, lane 1: candidate 2p + 1), every lane doing exactly the scalar pass's double
;; operations in its order (so each logit is bit-identical to scoreCandidates' in model.ts):
;;   hid_j = user_j + part_j + x0·P[j][0] + … + x6·P[j][6]        (left to right)
;;   z_h  = b2_h + Σ_j relu(hid_j)·P[j][7 + h]                      (j ascending)
;; The scalar pass skips a unit with hid_j <= 0; here it adds max(hid_j, 0)·w = ±0, which leaves
;; a logit unchanged but for the sign of a zero logit (and sigmoid(-0) = sigmoid(+0)).
;; Memory (byte offsets given by the caller):
;;   $user  f64[H]               user part (b1 + W1u·xu)
;;   $w     f64[H × 12]          per unit j: the 7 pair weights, the 4 head weights, a pad
;;   $parts f64[pairs × H × 2]   per candidate pair p and unit j: the two candidates' video parts
;;   $pair  f32[m × 7]           pair features, candidate-major (as pairFeatures writes them)
;;   $z     f64[m × 4]           out: the four head logits of each candidate
;; m is even (the caller pads an odd count with a copy of the last candidate).
;; Source of score-kernel-wasm.ts (assembled by `npm run wasm`; a test checks the two agree).
(module
  (memory (export "memory") 1)
  (func $x (param $pair i32) (param $i i32) (param $k i32) (result v128)
    ;; [x_k of candidate i, x_k of candidate i + 1] as doubles.
    (f64x2.replace_lane 1
      (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $pair) (i32.shl (i32.add (i32.mul (local.get $i) (i32.const 7)) (local.get $k)) (i32.const 2))))))
      (f64.promote_f32 (f32.load (i32.add (local.get $pair) (i32.shl (i32.add (i32.mul (i32.add (local.get $i) (i32.const 1)) (i32.const 7)) (local.get $k)) (i32.const 2)))))))
  (func (export "scoreZ") (param $user i32) (param $w i32) (param $parts i32) (param $pair i32) (param $m i32) (param $H i32)
      (param $b0 f64) (param $b1 f64) (param $b2 f64) (param $b3 f64) (param $z i32)
    (local $i i32) (local $j i32) (local $wj i32) (local $pj i32) (local $zi i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $x4 v128) (local $x5 v128) (local $x6 v128)
    (local $h v128) (local $z0 v128) (local $z1 v128) (local $z2 v128) (local $z3 v128)
    (block $done_i
      (loop $next_i
        (br_if $done_i (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $x0 (call $x (local.get $pair) (local.get $i) (i32.const 0)))
        (local.set $x1 (call $x (local.get $pair) (local.get $i) (i32.const 1)))
        (local.set $x2 (call $x (local.get $pair) (local.get $i) (i32.const 2)))
        (local.set $x3 (call $x (local.get $pair) (local.get $i) (i32.const 3)))
        (local.set $x4 (call $x (local.get $pair) (local.get $i) (i32.const 4)))
        (local.set $x5 (call $x (local.get $pair) (local.get $i) (i32.const 5)))
        (local.set $x6 (call $x (local.get $pair) (local.get $i) (i32.const 6)))
        (local.set $z0 (f64x2.splat (local.get $b0)))
        (local.set $z1 (f64x2.splat (local.get $b1)))
        (local.set $z2 (f64x2.splat (local.get $b2)))
        (local.set $z3 (f64x2.splat (local.get $b3)))
        (local.set $j (i32.const 0))
        (local.set $wj (local.get $w))
        ;; parts of this pair: $parts + (i / 2) × H × 16 bytes = $parts + i × H × 8.
        (local.set $pj (i32.add (local.get $parts) (i32.shl (i32.mul (local.get $i) (local.get $H)) (i32.const 3))))
        (block $done_j
          (loop $next_j
            (br_if $done_j (i32.ge_u (local.get $j) (local.get $H)))
            (local.set $h
              (f64x2.add
                (f64x2.add
                  (f64x2.add
                    (f64x2.add
                      (f64x2.add
                        (f64x2.add
                          (f64x2.add
                            (f64x2.add
                              (v128.load64_splat (i32.add (local.get $user) (i32.shl (local.get $j) (i32.const 3))))
                              (v128.load (local.get $pj)))
                            (f64x2.mul (local.get $x0) (v128.load64_splat (local.get $wj))))
                          (f64x2.mul (local.get $x1) (v128.load64_splat offset=8 (local.get $wj))))
                        (f64x2.mul (local.get $x2) (v128.load64_splat offset=16 (local.get $wj))))
                      (f64x2.mul (local.get $x3) (v128.load64_splat offset=24 (local.get $wj))))
                    (f64x2.mul (local.get $x4) (v128.load64_splat offset=32 (local.get $wj))))
                  (f64x2.mul (local.get $x5) (v128.load64_splat offset=40 (local.get $wj))))
                (f64x2.mul (local.get $x6) (v128.load64_splat offset=48 (local.get $wj)))))
            (local.set $h (f64x2.max (local.get $h) (v128.const f64x2 0 0)))
            (local.set $z0 (f64x2.add (local.get $z0) (f64x2.mul (local.get $h) (v128.load64_splat offset=56 (local.get $wj)))))
            (local.set $z1 (f64x2.add (local.get $z1) (f64x2.mul (local.get $h) (v128.load64_splat offset=64 (local.get $wj)))))
            (local.set $z2 (f64x2.add (local.get $z2) (f64x2.mul (local.get $h) (v128.load64_splat offset=72 (local.get $wj)))))
            (local.set $z3 (f64x2.add (local.get $z3) (f64x2.mul (local.get $h) (v128.load64_splat offset=80 (local.get $wj)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (local.set $wj (i32.add (local.get $wj) (i32.const 96)))
            (local.set $pj (i32.add (local.get $pj) (i32.const 16)))
            (br $next_j)))
        ;; z[i × 4 + h] for lane 0, z[(i + 1) × 4 + h] for lane 1.
        (local.set $zi (i32.add (local.get $z) (i32.shl (local.get $i) (i32.const 5))))
        (f64.store (local.get $zi) (f64x2.extract_lane 0 (local.get $z0)))
        (f64.store offset=8 (local.get $zi) (f64x2.extract_lane 0 (local.get $z1)))
        (f64.store offset=16 (local.get $zi) (f64x2.extract_lane 0 (local.get $z2)))
        (f64.store offset=24 (local.get $zi) (f64x2.extract_lane 0 (local.get $z3)))
        (f64.store offset=32 (local.get $zi) (f64x2.extract_lane 1 (local.get $z0)))
        (f64.store offset=40 (local.get $zi) (f64x2.extract_lane 1 (local.get $z1)))
        (f64.store offset=48 (local.get $zi) (f64x2.extract_lane 1 (local.get $z2)))
        (f64.store offset=56 (local.get $zi) (f64x2.extract_lane 1 (local.get $z3)))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $next_i)))))
