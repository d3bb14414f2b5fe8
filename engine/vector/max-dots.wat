;; maxDots: for each of nv rows v_i (dim floats each, dim a multiple of 4), the largest dot product
;; with any of nq query rows q_r: out[i] = max_r <q_r, v_i>, in f32x4 SIMD lanes.
;; Source of engine/vector/max-dots-wasm.ts (assembled by `npm run wasm`; a test checks the two agree).
(module
  (memory (export "memory") 1)
  (func (export "maxDots") (param $q i32) (param $nq i32) (param $v i32) (param $nv i32) (param $dim i32) (param $out i32)
    (local $i i32) (local $r i32) (local $d i32) (local $bytes i32) (local $vrow i32) (local $qrow i32)
    (local $a0 v128) (local $a1 v128) (local $best f32) (local $s f32)
    (local.set $bytes (i32.shl (local.get $dim) (i32.const 2)))
    (block $done_i
      (loop $next_i
        (br_if $done_i (i32.ge_u (local.get $i) (local.get $nv)))
        (local.set $vrow (i32.add (local.get $v) (i32.mul (local.get $i) (local.get $bytes))))
        (local.set $best (f32.const -inf))
        (local.set $r (i32.const 0))
        (block $done_r
          (loop $next_r
            (br_if $done_r (i32.ge_u (local.get $r) (local.get $nq)))
            (local.set $qrow (i32.add (local.get $q) (i32.mul (local.get $r) (local.get $bytes))))
            ;; Two accumulators (even and odd groups of four): two independent add chains.
            (local.set $a0 (v128.const f32x4 0 0 0 0))
            (local.set $a1 (v128.const f32x4 0 0 0 0))
            (local.set $d (i32.const 0))
            (block $done_d
              (loop $next_d
                (br_if $done_d (i32.ge_u (local.get $d) (local.get $bytes)))
                (local.set $a0 (f32x4.add (local.get $a0)
                  (f32x4.mul (v128.load (i32.add (local.get $qrow) (local.get $d)))
                             (v128.load (i32.add (local.get $vrow) (local.get $d))))))
                (local.set $d (i32.add (local.get $d) (i32.const 16)))
                (br_if $done_d (i32.ge_u (local.get $d) (local.get $bytes)))
                (local.set $a1 (f32x4.add (local.get $a1)
                  (f32x4.mul (v128.load (i32.add (local.get $qrow) (local.get $d)))
                             (v128.load (i32.add (local.get $vrow) (local.get $d))))))
                (local.set $d (i32.add (local.get $d) (i32.const 16)))
                (br $next_d)))
            (local.set $a0 (f32x4.add (local.get $a0) (local.get $a1)))
            (local.set $s (f32.add
              (f32.add (f32x4.extract_lane 0 (local.get $a0)) (f32x4.extract_lane 1 (local.get $a0)))
              (f32.add (f32x4.extract_lane 2 (local.get $a0)) (f32x4.extract_lane 3 (local.get $a0)))))
            (local.set $best (f32.max (local.get $best) (local.get $s)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $next_r)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $best))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next_i)))))
