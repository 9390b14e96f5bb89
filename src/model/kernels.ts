/**
 * Hand-written WebAssembly SIMD kernels for everything in the inference path that is not a matrix product
 * (those stay on tfjs / XNNPACK), and the memory arena that holds the KV caches and the forward pass's
 * per-row buffers. Small models spend most of their time outside the matrix products: attention over each
 * row's own cache, norms, the SwiGLU gate, residual adds and log-softmax over the vocabulary. In plain
 * JavaScript those are scalar float64 loops with `Math.exp`; here they are f32x4 loops, with the exponential
 * computed in SIMD by a Cephes-style polynomial (relative error ≈ 1e-7, like float32 `expf`).
 *
 * Every kernel reads and writes only the rows it is given and processes each row with the same instruction
 * sequence whatever the number of rows, so results never depend on the batch (the sampling contract).
 *
 * The module is assembled at load time from the WAT below (src/model/wasm-asm.ts); no toolchain is needed.
 * All addresses are byte offsets into the imported memory; widths given in bytes must be multiples of 16
 * (head width, hidden size and MLP width multiples of 4), except where a kernel says it handles tails.
 */
import { assembleModule, type WasmFunction } from "./wasm-asm.js";

/** Leaves exp($x) (f32x4) on the stack; clobbers $x and $n (v128 locals). */
function exp4(x: string, n: string): string {
  return `
    local.get ${x} f32x4.const -87.33654 f32x4.max f32x4.const 88.0 f32x4.min local.set ${x}
    local.get ${x} f32x4.const 1.44269504 f32x4.mul f32x4.nearest local.set ${n}
    ;; r = x - n·ln2 (in two parts, so r is exact enough)
    local.get ${x} local.get ${n} f32x4.const 0.693359375 f32x4.mul f32x4.sub
    local.get ${n} f32x4.const -2.12194440e-4 f32x4.mul f32x4.sub local.set ${x}
    ;; e^r ≈ 1 + r + r²·P(r)
    local.get ${x} f32x4.const 1.9875691500e-4 f32x4.mul f32x4.const 1.3981999507e-3 f32x4.add
    local.get ${x} f32x4.mul f32x4.const 8.3334519073e-3 f32x4.add
    local.get ${x} f32x4.mul f32x4.const 4.1665795894e-2 f32x4.add
    local.get ${x} f32x4.mul f32x4.const 1.6666665459e-1 f32x4.add
    local.get ${x} f32x4.mul f32x4.const 5.0000001201e-1 f32x4.add
    local.get ${x} local.get ${x} f32x4.mul f32x4.mul
    local.get ${x} f32x4.add f32x4.const 1 f32x4.add
    ;; · 2^n, built in the exponent bits
    local.get ${n} i32x4.trunc_sat_f32x4_s i32x4.const 127 127 127 127 i32x4.add i32.const 23 i32x4.shl
    f32x4.mul`;
}

/** Horizontal sum of a v128 local as ((l0 + l1) + (l2 + l3)). */
function hsum(v: string): string {
  return `local.get ${v} f32x4.extract_lane 0 local.get ${v} f32x4.extract_lane 1 f32.add
    local.get ${v} f32x4.extract_lane 2 local.get ${v} f32x4.extract_lane 3 f32.add f32.add`;
}

const GENERIC: WasmFunction[] = [
  {
    // out[t] = scale · q·k_t for t < n, keys `stride` bytes apart. Four keys at a time share each load of q
    // and their four lane sums are reduced together by shuffles; every key's sum is ((l0 + l2) + (l1 + l3)).
    // Returns the largest score written (the caller's softmax needs it).
    name: "scores",
    params: [["q", "i32"], ["k", "i32"], ["n", "i32"], ["hdB", "i32"], ["strideB", "i32"], ["scale", "f32"], ["out", "i32"]],
    result: "f32",
    locals: [
      ["t", "i32"], ["j", "i32"], ["k1", "i32"], ["k2", "i32"], ["k3", "i32"],
      ["a0", "v128"], ["a1", "v128"], ["a2", "v128"], ["a3", "v128"], ["qv", "v128"], ["s01", "v128"], ["s23", "v128"],
      ["m", "v128"], ["max", "f32"], ["x", "f32"],
    ],
    body: `
      f32x4.const -Infinity local.set $m
      block loop
        local.get $t i32.const 4 i32.add local.get $n i32.gt_u br_if 1
        f32x4.const 0 local.tee $a0 local.tee $a1 local.tee $a2 local.set $a3
        local.get $k local.get $strideB i32.add local.tee $k1 local.get $strideB i32.add local.tee $k2 local.get $strideB i32.add local.set $k3
        i32.const 0 local.set $j
        block loop
          local.get $j local.get $hdB i32.ge_u br_if 1
          local.get $q local.get $j i32.add v128.load local.set $qv
          local.get $a0 local.get $qv local.get $k local.get $j i32.add v128.load f32x4.mul f32x4.add local.set $a0
          local.get $a1 local.get $qv local.get $k1 local.get $j i32.add v128.load f32x4.mul f32x4.add local.set $a1
          local.get $a2 local.get $qv local.get $k2 local.get $j i32.add v128.load f32x4.mul f32x4.add local.set $a2
          local.get $a3 local.get $qv local.get $k3 local.get $j i32.add v128.load f32x4.mul f32x4.add local.set $a3
          local.get $j i32.const 16 i32.add local.set $j
          br 0
        end end
        local.get $a0 local.get $a1 f32x4.shuffle 0 4 1 5 local.get $a0 local.get $a1 f32x4.shuffle 2 6 3 7 f32x4.add local.set $s01
        local.get $a2 local.get $a3 f32x4.shuffle 0 4 1 5 local.get $a2 local.get $a3 f32x4.shuffle 2 6 3 7 f32x4.add local.set $s23
        local.get $s01 local.get $s23 f32x4.shuffle 0 1 4 5 local.get $s01 local.get $s23 f32x4.shuffle 2 3 6 7 f32x4.add
        local.get $scale f32x4.splat f32x4.mul local.set $a0
        local.get $out local.get $a0 v128.store
        local.get $m local.get $a0 f32x4.max local.set $m
        local.get $out i32.const 16 i32.add local.set $out
        local.get $k3 local.get $strideB i32.add local.set $k
        local.get $t i32.const 4 i32.add local.set $t
        br 0
      end end
      local.get $m f32x4.extract_lane 0 local.get $m f32x4.extract_lane 1 f32.max
      local.get $m f32x4.extract_lane 2 local.get $m f32x4.extract_lane 3 f32.max f32.max local.set $max
      ;; the last n mod 4 keys one at a time
      block loop
        local.get $t local.get $n i32.ge_u br_if 1
        f32x4.const 0 local.set $a0
        i32.const 0 local.set $j
        block loop
          local.get $j local.get $hdB i32.ge_u br_if 1
          local.get $a0
          local.get $q local.get $j i32.add v128.load
          local.get $k local.get $j i32.add v128.load
          f32x4.mul f32x4.add local.set $a0
          local.get $j i32.const 16 i32.add local.set $j
          br 0
        end end
        local.get $a0 f32x4.extract_lane 0 local.get $a0 f32x4.extract_lane 2 f32.add
        local.get $a0 f32x4.extract_lane 1 local.get $a0 f32x4.extract_lane 3 f32.add f32.add
        local.get $scale f32.mul local.set $x
        local.get $out local.get $x f32.store
        local.get $max local.get $x f32.max local.set $max
        local.get $out i32.const 4 i32.add local.set $out
        local.get $k local.get $strideB i32.add local.set $k
        local.get $t i32.const 1 i32.add local.set $t
        br 0
      end end
      local.get $max`,
  },
  {
    // out[j] += Σ_t p[t] · v_t[j] for j < hd. Four 4-lane chunks of out stay in registers over all t (one
    // splat of p[t] serves them), then the remaining chunks one at a time.
    name: "accum",
    params: [["p", "i32"], ["v", "i32"], ["n", "i32"], ["hdB", "i32"], ["strideB", "i32"], ["out", "i32"]],
    locals: [["t", "i32"], ["j", "i32"], ["acc", "v128"], ["pp", "i32"], ["vv", "i32"], ["a1", "v128"], ["a2", "v128"], ["a3", "v128"], ["ps", "v128"]],
    body: `
      block loop
        local.get $j i32.const 64 i32.add local.get $hdB i32.gt_u br_if 1
        local.get $out local.get $j i32.add v128.load local.set $acc
        local.get $out local.get $j i32.add v128.load offset=16 local.set $a1
        local.get $out local.get $j i32.add v128.load offset=32 local.set $a2
        local.get $out local.get $j i32.add v128.load offset=48 local.set $a3
        local.get $p local.set $pp
        local.get $v local.get $j i32.add local.set $vv
        i32.const 0 local.set $t
        block loop
          local.get $t local.get $n i32.ge_u br_if 1
          local.get $pp f32.load f32x4.splat local.set $ps
          local.get $acc local.get $ps local.get $vv v128.load f32x4.mul f32x4.add local.set $acc
          local.get $a1 local.get $ps local.get $vv v128.load offset=16 f32x4.mul f32x4.add local.set $a1
          local.get $a2 local.get $ps local.get $vv v128.load offset=32 f32x4.mul f32x4.add local.set $a2
          local.get $a3 local.get $ps local.get $vv v128.load offset=48 f32x4.mul f32x4.add local.set $a3
          local.get $pp i32.const 4 i32.add local.set $pp
          local.get $vv local.get $strideB i32.add local.set $vv
          local.get $t i32.const 1 i32.add local.set $t
          br 0
        end end
        local.get $out local.get $j i32.add local.get $acc v128.store
        local.get $out local.get $j i32.add local.get $a1 v128.store offset=16
        local.get $out local.get $j i32.add local.get $a2 v128.store offset=32
        local.get $out local.get $j i32.add local.get $a3 v128.store offset=48
        local.get $j i32.const 64 i32.add local.set $j
        br 0
      end end
      block loop
        local.get $j local.get $hdB i32.ge_u br_if 1
        local.get $out local.get $j i32.add v128.load local.set $acc
        local.get $p local.set $pp
        local.get $v local.get $j i32.add local.set $vv
        i32.const 0 local.set $t
        block loop
          local.get $t local.get $n i32.ge_u br_if 1
          local.get $acc
          local.get $pp f32.load f32x4.splat
          local.get $vv v128.load
          f32x4.mul f32x4.add local.set $acc
          local.get $pp i32.const 4 i32.add local.set $pp
          local.get $vv local.get $strideB i32.add local.set $vv
          local.get $t i32.const 1 i32.add local.set $t
          br 0
        end end
        local.get $out local.get $j i32.add local.get $acc v128.store
        local.get $j i32.const 16 i32.add local.set $j
        br 0
      end end`,
  },
  {
    // Causal attention of one row, all heads: softmax(scale · q_h·K) · V over the parent segment (P keys at
    // kp/vp) then the own segment (n keys at ko/vo); head h reads kv head g = ⌊h / rep⌋, whose keys start
    // g·pHeadB (parent) or g·oHeadB (own) bytes in, strideB bytes apart. Interleaved rows [t][head][hd]: both
    // head strides hdB and strideB the row width; head-major caches [head][t][hd]: head strides of
    // capacity·hdB and strideB = hdB. s: scratch for P + n + 4 floats. out: H·hd floats.
    name: "attendRow",
    params: [
      ["q", "i32"], ["kp", "i32"], ["vp", "i32"], ["P", "i32"], ["pHeadB", "i32"], ["ko", "i32"], ["vo", "i32"], ["n", "i32"],
      ["oHeadB", "i32"], ["H", "i32"], ["rep", "i32"], ["hdB", "i32"], ["strideB", "i32"], ["scale", "f32"], ["s", "i32"], ["out", "i32"],
    ],
    locals: [
      ["h", "i32"], ["g", "i32"], ["kvp", "i32"], ["kvo", "i32"], ["qh", "i32"], ["oh", "i32"], ["T", "i32"], ["t", "i32"], ["max", "f32"],
      ["acc", "v128"], ["x", "v128"], ["e", "v128"], ["inv", "v128"], ["mx", "v128"], ["sp", "i32"], ["send", "i32"],
    ],
    body: `
      local.get $P local.get $n i32.add local.set $T
      block loop
        local.get $h local.get $H i32.ge_u br_if 1
        local.get $h local.get $rep i32.div_u local.tee $g local.get $pHeadB i32.mul local.set $kvp
        local.get $g local.get $oHeadB i32.mul local.set $kvo
        local.get $q local.get $h local.get $hdB i32.mul i32.add local.set $qh
        local.get $out local.get $h local.get $hdB i32.mul i32.add local.set $oh
        f32.const -Infinity local.set $max
        local.get $P if
          local.get $qh local.get $kp local.get $kvp i32.add local.get $P local.get $hdB local.get $strideB local.get $scale local.get $s call $scores
          local.set $max
        end
        local.get $n if
          local.get $qh local.get $ko local.get $kvo i32.add local.get $n local.get $hdB local.get $strideB local.get $scale
          local.get $s local.get $P i32.const 4 i32.mul i32.add call $scores
          local.get $max f32.max local.set $max
        end
        ;; e = exp(s - max) in place, acc = Σ e; in the last chunk, lanes past T are zeroed
        f32x4.const 0 local.set $acc
        local.get $max f32x4.splat local.set $mx
        local.get $s local.set $sp
        local.get $s local.get $T i32.const 4 i32.mul i32.add local.set $send
        block loop
          local.get $sp i32.const 16 i32.add local.get $send i32.gt_u br_if 1
          local.get $sp v128.load local.get $mx f32x4.sub local.set $x
          ${exp4("$x", "$e")}
          local.set $x
          local.get $sp local.get $x v128.store
          local.get $acc local.get $x f32x4.add local.set $acc
          local.get $sp i32.const 16 i32.add local.set $sp
          br 0
        end end
        local.get $sp local.get $send i32.lt_u if
          local.get $sp v128.load local.get $mx f32x4.sub local.set $x
          ${exp4("$x", "$e")}
          local.get $sp i32x4.splat i32x4.const 0 4 8 12 i32x4.add local.get $send i32x4.splat i32x4.lt_s v128.and
          local.set $x
          local.get $sp local.get $x v128.store
          local.get $acc local.get $x f32x4.add local.set $acc
        end
        f32.const 1 ${hsum("$acc")} f32.div f32x4.splat local.set $inv
        ;; out_h = (Σ e_t v_t) / Σ e
        i32.const 0 local.set $t
        block loop
          local.get $t local.get $hdB i32.ge_u br_if 1
          local.get $oh local.get $t i32.add f32x4.const 0 v128.store
          local.get $t i32.const 16 i32.add local.set $t
          br 0
        end end
        local.get $P if
          local.get $s local.get $vp local.get $kvp i32.add local.get $P local.get $hdB local.get $strideB local.get $oh call $accum
        end
        local.get $n if
          local.get $s local.get $P i32.const 4 i32.mul i32.add local.get $vo local.get $kvo i32.add local.get $n local.get $hdB local.get $strideB local.get $oh call $accum
        end
        i32.const 0 local.set $t
        block loop
          local.get $t local.get $hdB i32.ge_u br_if 1
          local.get $oh local.get $t i32.add
          local.get $oh local.get $t i32.add v128.load local.get $inv f32x4.mul v128.store
          local.get $t i32.const 16 i32.add local.set $t
          br 0
        end end
        local.get $h i32.const 1 i32.add local.set $h
        br 0
      end end`,
  },
  {
    // Rotary positions, in place, on the first `heads` heads of each row (q then k heads; rows widthB bytes
    // apart): x·cos + rotate_half(x)·sin with the tables' row for the row's position (i32 at pos[r]).
    // The same float32 operations, in the same order, as the JavaScript version and torch.
    name: "rope",
    params: [["x", "i32"], ["rows", "i32"], ["widthB", "i32"], ["heads", "i32"], ["hdB", "i32"], ["cos", "i32"], ["sin", "i32"], ["pos", "i32"]],
    locals: [["r", "i32"], ["h", "i32"], ["i", "i32"], ["o", "i32"], ["c", "i32"], ["sn", "i32"], ["halfB", "i32"], ["a", "v128"], ["b", "v128"]],
    body: `
      local.get $hdB i32.const 1 i32.shr_u local.set $halfB
      block loop
        local.get $r local.get $rows i32.ge_u br_if 1
        local.get $pos local.get $r i32.const 4 i32.mul i32.add i32.load local.get $hdB i32.mul local.tee $c
        local.get $sin i32.add local.set $sn
        local.get $c local.get $cos i32.add local.set $c
        i32.const 0 local.set $h
        block loop
          local.get $h local.get $heads i32.ge_u br_if 1
          local.get $x local.get $h local.get $hdB i32.mul i32.add local.set $o
          i32.const 0 local.set $i
          block loop
            local.get $i local.get $halfB i32.ge_u br_if 1
            local.get $o local.get $i i32.add v128.load local.set $a
            local.get $o local.get $halfB i32.add local.get $i i32.add v128.load local.set $b
            local.get $o local.get $i i32.add
            local.get $a local.get $c local.get $i i32.add v128.load f32x4.mul
            local.get $b f32x4.neg local.get $sn local.get $i i32.add v128.load f32x4.mul
            f32x4.add v128.store
            local.get $o local.get $halfB i32.add local.get $i i32.add
            local.get $b local.get $c local.get $halfB i32.add local.get $i i32.add v128.load f32x4.mul
            local.get $a local.get $sn local.get $halfB i32.add local.get $i i32.add v128.load f32x4.mul
            f32x4.add v128.store
            local.get $i i32.const 16 i32.add local.set $i
            br 0
          end end
          local.get $h i32.const 1 i32.add local.set $h
          br 0
        end end
        local.get $x local.get $widthB i32.add local.set $x
        local.get $r i32.const 1 i32.add local.set $r
        br 0
      end end`,
  },
  {
    // out = x / sqrt(mean(x²) + eps) · w, per row of dB bytes.
    name: "rmsNorm",
    params: [["x", "i32"], ["w", "i32"], ["out", "i32"], ["rows", "i32"], ["dB", "i32"], ["d", "f32"], ["eps", "f32"]],
    locals: [["r", "i32"], ["j", "i32"], ["acc", "v128"], ["v", "v128"], ["inv", "v128"]],
    body: `
      block loop
        local.get $r local.get $rows i32.ge_u br_if 1
        f32x4.const 0 local.set $acc
        i32.const 0 local.set $j
        block loop
          local.get $j local.get $dB i32.ge_u br_if 1
          local.get $x local.get $j i32.add v128.load local.set $v
          local.get $acc local.get $v local.get $v f32x4.mul f32x4.add local.set $acc
          local.get $j i32.const 16 i32.add local.set $j
          br 0
        end end
        f32.const 1 ${hsum("$acc")} local.get $d f32.div local.get $eps f32.add f32.sqrt f32.div f32x4.splat local.set $inv
        i32.const 0 local.set $j
        block loop
          local.get $j local.get $dB i32.ge_u br_if 1
          local.get $out local.get $j i32.add
          local.get $x local.get $j i32.add v128.load local.get $inv f32x4.mul
          local.get $w local.get $j i32.add v128.load f32x4.mul
          v128.store
          local.get $j i32.const 16 i32.add local.set $j
          br 0
        end end
        local.get $x local.get $dB i32.add local.set $x
        local.get $out local.get $dB i32.add local.set $out
        local.get $r i32.const 1 i32.add local.set $r
        br 0
      end end`,
  },
  {
    // act = silu(gate) · up per row; gu rows are [gate (IB bytes) | up (IB bytes)].
    name: "swiGlu",
    params: [["gu", "i32"], ["act", "i32"], ["rows", "i32"], ["IB", "i32"]],
    locals: [["r", "i32"], ["j", "i32"], ["g", "v128"], ["x", "v128"], ["e", "v128"]],
    body: `
      block loop
        local.get $r local.get $rows i32.ge_u br_if 1
        i32.const 0 local.set $j
        block loop
          local.get $j local.get $IB i32.ge_u br_if 1
          local.get $gu local.get $j i32.add v128.load local.tee $g f32x4.neg local.set $x
          local.get $act local.get $j i32.add
          local.get $g f32x4.const 1 ${exp4("$x", "$e")} f32x4.add f32x4.div
          local.get $gu local.get $IB i32.add local.get $j i32.add v128.load f32x4.mul
          v128.store
          local.get $j i32.const 16 i32.add local.set $j
          br 0
        end end
        local.get $gu local.get $IB i32.add local.get $IB i32.add local.set $gu
        local.get $act local.get $IB i32.add local.set $act
        local.get $r i32.const 1 i32.add local.set $r
        br 0
      end end`,
  },
  {
    // x += y over nB bytes.
    name: "addTo",
    params: [["x", "i32"], ["y", "i32"], ["nB", "i32"]],
    locals: [["j", "i32"]],
    body: `
      block loop
        local.get $j local.get $nB i32.ge_u br_if 1
        local.get $x local.get $j i32.add
        local.get $x local.get $j i32.add v128.load local.get $y local.get $j i32.add v128.load f32x4.add
        v128.store
        local.get $j i32.const 16 i32.add local.set $j
        br 0
      end end`,
  },
  {
    // Per row of n floats (any n; rows packed, up to 3 floats read past the last row): stats[2r] = max,
    // stats[2r + 1] = Σ exp(x - max). The caller forms log Z = max + log(sum).
    name: "softmaxStats",
    params: [["x", "i32"], ["rows", "i32"], ["n", "i32"], ["stats", "i32"]],
    locals: [["r", "i32"], ["t", "i32"], ["max", "f32"], ["acc", "v128"], ["v", "v128"], ["e", "v128"]],
    body: `
      block loop
        local.get $r local.get $rows i32.ge_u br_if 1
        f32.const -Infinity local.set $max
        i32.const 0 local.set $t
        block loop
          local.get $t local.get $n i32.ge_u br_if 1
          local.get $max local.get $x local.get $t i32.const 4 i32.mul i32.add f32.load f32.max local.set $max
          local.get $t i32.const 1 i32.add local.set $t
          br 0
        end end
        f32x4.const 0 local.set $acc
        i32.const 0 local.set $t
        block loop
          local.get $t local.get $n i32.ge_u br_if 1
          local.get $x local.get $t i32.const 4 i32.mul i32.add v128.load local.get $max f32x4.splat f32x4.sub local.set $v
          local.get $acc
          ${exp4("$v", "$e")}
          local.get $t i32x4.splat i32x4.const 0 1 2 3 i32x4.add local.get $n i32x4.splat i32x4.lt_s v128.and
          f32x4.add local.set $acc
          local.get $t i32.const 4 i32.add local.set $t
          br 0
        end end
        local.get $stats local.get $max f32.store
        local.get $stats ${hsum("$acc")} f32.store offset=4
        local.get $stats i32.const 8 i32.add local.set $stats
        local.get $x local.get $n i32.const 4 i32.mul i32.add local.set $x
        local.get $r i32.const 1 i32.add local.set $r
        br 0
      end end`,
  },
  {
    // x[t] = s · exp(x[t] − c) for t < n; returns Σ_t x[t]. Writes zeros to the (up to 3) floats past n in the
    // last chunk, so the buffer must hold n rounded up to 4. With s = 1, the same exp and summation order as
    // attendRow. The trainer recomputes attention softmaxes and forms the logits' gradient with it.
    name: "expSub",
    params: [["x", "i32"], ["n", "i32"], ["c", "f32"], ["s", "f32"]],
    result: "f32",
    locals: [["sp", "i32"], ["send", "i32"], ["acc", "v128"], ["v", "v128"], ["e", "v128"], ["cv", "v128"], ["sv", "v128"]],
    body: `
      local.get $c f32x4.splat local.set $cv
      local.get $s f32x4.splat local.set $sv
      local.get $x local.set $sp
      local.get $x local.get $n i32.const 4 i32.mul i32.add local.set $send
      block loop
        local.get $sp i32.const 16 i32.add local.get $send i32.gt_u br_if 1
        local.get $sp v128.load local.get $cv f32x4.sub local.set $v
        ${exp4("$v", "$e")}
        local.get $sv f32x4.mul local.set $v
        local.get $sp local.get $v v128.store
        local.get $acc local.get $v f32x4.add local.set $acc
        local.get $sp i32.const 16 i32.add local.set $sp
        br 0
      end end
      local.get $sp local.get $send i32.lt_u if
        local.get $sp v128.load local.get $cv f32x4.sub local.set $v
        ${exp4("$v", "$e")}
        local.get $sv f32x4.mul
        local.get $sp i32x4.splat i32x4.const 0 4 8 12 i32x4.add local.get $send i32x4.splat i32x4.lt_s v128.and
        local.set $v
        local.get $sp local.get $v v128.store
        local.get $acc local.get $v f32x4.add local.set $acc
      end
      ${hsum("$acc")}`,
  },
  {
    // The softmax backward of one attention row, in place: p[t] ·= inv (e → probabilities), then
    // d[t] = p[t] · (d[t] − Σ_u p[u]·d[u]) · scale for t < n (d: dL/dp in, dL/dscore out). Buffers hold n
    // rounded up to 4 (the lanes past n are zero in p, so they add nothing).
    name: "softmaxBack",
    params: [["p", "i32"], ["d", "i32"], ["n", "i32"], ["inv", "f32"], ["scale", "f32"]],
    locals: [["t", "i32"], ["end", "i32"], ["acc", "v128"], ["pv", "v128"], ["iv", "v128"], ["dot", "v128"], ["sv", "v128"]],
    body: `
      local.get $inv f32x4.splat local.set $iv
      local.get $n i32.const 3 i32.add i32.const -4 i32.and i32.const 4 i32.mul local.set $end
      block loop
        local.get $t local.get $end i32.ge_u br_if 1
        local.get $p local.get $t i32.add local.get $p local.get $t i32.add v128.load local.get $iv f32x4.mul local.tee $pv v128.store
        local.get $acc local.get $pv local.get $d local.get $t i32.add v128.load f32x4.mul f32x4.add local.set $acc
        local.get $t i32.const 16 i32.add local.set $t
        br 0
      end end
      ${hsum("$acc")} f32x4.splat local.set $dot
      local.get $scale f32x4.splat local.set $sv
      i32.const 0 local.set $t
      block loop
        local.get $t local.get $end i32.ge_u br_if 1
        local.get $d local.get $t i32.add
        local.get $p local.get $t i32.add v128.load
        local.get $d local.get $t i32.add v128.load local.get $dot f32x4.sub f32x4.mul local.get $sv f32x4.mul
        v128.store
        local.get $t i32.const 16 i32.add local.set $t
        br 0
      end end`,
  },
  {
    // The SwiGLU backward: from gu rows [gate | up] (IB bytes each) and dact rows (IB bytes), dgu rows
    // [dgate | dup] with σ = sigmoid(gate): dgate = dact·up·σ·(1 + gate·(1 − σ)), dup = dact·gate·σ.
    name: "swiGluBack",
    params: [["gu", "i32"], ["dact", "i32"], ["dgu", "i32"], ["rows", "i32"], ["IB", "i32"]],
    locals: [["r", "i32"], ["j", "i32"], ["g", "v128"], ["x", "v128"], ["e", "v128"], ["sg", "v128"], ["da", "v128"]],
    body: `
      block loop
        local.get $r local.get $rows i32.ge_u br_if 1
        i32.const 0 local.set $j
        block loop
          local.get $j local.get $IB i32.ge_u br_if 1
          local.get $gu local.get $j i32.add v128.load local.tee $g f32x4.neg local.set $x
          f32x4.const 1 f32x4.const 1 ${exp4("$x", "$e")} f32x4.add f32x4.div local.set $sg
          local.get $dact local.get $j i32.add v128.load local.set $da
          local.get $dgu local.get $j i32.add
          local.get $da local.get $gu local.get $IB i32.add local.get $j i32.add v128.load f32x4.mul local.get $sg f32x4.mul
          f32x4.const 1 local.get $g f32x4.const 1 local.get $sg f32x4.sub f32x4.mul f32x4.add f32x4.mul
          v128.store
          local.get $dgu local.get $IB i32.add local.get $j i32.add
          local.get $da local.get $g f32x4.mul local.get $sg f32x4.mul
          v128.store
          local.get $j i32.const 16 i32.add local.set $j
          br 0
        end end
        local.get $gu local.get $IB i32.add local.get $IB i32.add local.set $gu
        local.get $dgu local.get $IB i32.add local.get $IB i32.add local.set $dgu
        local.get $dact local.get $IB i32.add local.set $dact
        local.get $r i32.const 1 i32.add local.set $r
        br 0
      end end`,
  },
  {
    // out_t += c[t] · x for t < n: n rows of hdB bytes, strideB bytes apart (the transpose of accum; the
    // trainer's attention backward adds each query's share into the key and value gradients with it).
    name: "scatter",
    params: [["c", "i32"], ["x", "i32"], ["n", "i32"], ["hdB", "i32"], ["strideB", "i32"], ["out", "i32"]],
    locals: [["t", "i32"], ["j", "i32"], ["cs", "v128"]],
    body: `
      block loop
        local.get $t local.get $n i32.ge_u br_if 1
        local.get $c f32.load f32x4.splat local.set $cs
        i32.const 0 local.set $j
        block loop
          local.get $j local.get $hdB i32.ge_u br_if 1
          local.get $out local.get $j i32.add
          local.get $out local.get $j i32.add v128.load
          local.get $cs local.get $x local.get $j i32.add v128.load f32x4.mul
          f32x4.add v128.store
          local.get $j i32.const 16 i32.add local.set $j
          br 0
        end end
        local.get $c i32.const 4 i32.add local.set $c
        local.get $out local.get $strideB i32.add local.set $out
        local.get $t i32.const 1 i32.add local.set $t
        br 0
      end end`,
  },
  {
    // x[r][t] -= c[r] for t < n (any n; rows packed; stays inside the rows).
    name: "subRows",
    params: [["x", "i32"], ["rows", "i32"], ["n", "i32"], ["c", "i32"]],
    locals: [["r", "i32"], ["t", "i32"], ["z", "f32"], ["zv", "v128"]],
    body: `
      block loop
        local.get $r local.get $rows i32.ge_u br_if 1
        local.get $c f32.load local.tee $z f32x4.splat local.set $zv
        i32.const 0 local.set $t
        block loop
          local.get $t i32.const 4 i32.add local.get $n i32.gt_u br_if 1
          local.get $x local.get $t i32.const 4 i32.mul i32.add
          local.get $x local.get $t i32.const 4 i32.mul i32.add v128.load local.get $zv f32x4.sub v128.store
          local.get $t i32.const 4 i32.add local.set $t
          br 0
        end end
        block loop
          local.get $t local.get $n i32.ge_u br_if 1
          local.get $x local.get $t i32.const 4 i32.mul i32.add
          local.get $x local.get $t i32.const 4 i32.mul i32.add f32.load local.get $z f32.sub f32.store
          local.get $t i32.const 1 i32.add local.set $t
          br 0
        end end
        local.get $x local.get $n i32.const 4 i32.mul i32.add local.set $x
        local.get $c i32.const 4 i32.add local.set $c
        local.get $r i32.const 1 i32.add local.set $r
        br 0
      end end`,
  },
];

/**
 * `scores`, `accum` and `scatter` for one head width, fully unrolled over the hd/4 chunks of a head: q's chunks (and
 * accum's output chunks) live in locals for the whole call, so the inner loop is only over keys. Same
 * signatures and the same arithmetic order as the generic versions (the `hdB` argument is ignored).
 */
function specialised(hd: number): WasmFunction[] {
  const C = hd / 4;
  const chunks = Array.from({ length: C }, (_, c) => c);
  const qLocals: Array<[string, "v128"]> = chunks.map((c) => [`q${c}`, "v128"]);
  const loadQ = chunks.map((c) => `local.get $q v128.load offset=${16 * c} local.set $q${c}`).join("\n");
  // Σ_c q_c·k_c for the key at local $ptr, left on the stack: ((q0·k0 + q1·k1) + q2·k2) + …
  const dot = (ptr: string): string =>
    chunks.map((c) => `local.get $q${c} local.get ${ptr} v128.load offset=${16 * c} f32x4.mul` + (c > 0 ? " f32x4.add" : "")).join("\n");
  const scores: WasmFunction = {
    name: "scores",
    params: [["q", "i32"], ["k", "i32"], ["n", "i32"], ["hdB", "i32"], ["strideB", "i32"], ["scale", "f32"], ["out", "i32"]],
    result: "f32",
    locals: [
      ["t", "i32"], ["k1", "i32"], ["k2", "i32"], ["k3", "i32"],
      ["a0", "v128"], ["a1", "v128"], ["a2", "v128"], ["a3", "v128"], ["s01", "v128"], ["s23", "v128"],
      ["m", "v128"], ["max", "f32"], ["x", "f32"], ...qLocals,
    ],
    body: `
      ${loadQ}
      f32x4.const -Infinity local.set $m
      block loop
        local.get $t i32.const 4 i32.add local.get $n i32.gt_u br_if 1
        local.get $k local.get $strideB i32.add local.tee $k1 local.get $strideB i32.add local.tee $k2 local.get $strideB i32.add local.set $k3
        ${dot("$k")} local.set $a0
        ${dot("$k1")} local.set $a1
        ${dot("$k2")} local.set $a2
        ${dot("$k3")} local.set $a3
        local.get $a0 local.get $a1 f32x4.shuffle 0 4 1 5 local.get $a0 local.get $a1 f32x4.shuffle 2 6 3 7 f32x4.add local.set $s01
        local.get $a2 local.get $a3 f32x4.shuffle 0 4 1 5 local.get $a2 local.get $a3 f32x4.shuffle 2 6 3 7 f32x4.add local.set $s23
        local.get $s01 local.get $s23 f32x4.shuffle 0 1 4 5 local.get $s01 local.get $s23 f32x4.shuffle 2 3 6 7 f32x4.add
        local.get $scale f32x4.splat f32x4.mul local.set $a0
        local.get $out local.get $a0 v128.store
        local.get $m local.get $a0 f32x4.max local.set $m
        local.get $out i32.const 16 i32.add local.set $out
        local.get $k3 local.get $strideB i32.add local.set $k
        local.get $t i32.const 4 i32.add local.set $t
        br 0
      end end
      local.get $m f32x4.extract_lane 0 local.get $m f32x4.extract_lane 1 f32.max
      local.get $m f32x4.extract_lane 2 local.get $m f32x4.extract_lane 3 f32.max f32.max local.set $max
      block loop
        local.get $t local.get $n i32.ge_u br_if 1
        ${dot("$k")} local.set $a0
        local.get $a0 f32x4.extract_lane 0 local.get $a0 f32x4.extract_lane 2 f32.add
        local.get $a0 f32x4.extract_lane 1 local.get $a0 f32x4.extract_lane 3 f32.add f32.add
        local.get $scale f32.mul local.set $x
        local.get $out local.get $x f32.store
        local.get $max local.get $x f32.max local.set $max
        local.get $out i32.const 4 i32.add local.set $out
        local.get $k local.get $strideB i32.add local.set $k
        local.get $t i32.const 1 i32.add local.set $t
        br 0
      end end
      local.get $max`,
  };
  const accLocals: Array<[string, "v128"]> = chunks.map((c) => [`o${c}`, "v128"]);
  const accum: WasmFunction = {
    name: "accum",
    params: [["p", "i32"], ["v", "i32"], ["n", "i32"], ["hdB", "i32"], ["strideB", "i32"], ["out", "i32"]],
    locals: [["t", "i32"], ["ps", "v128"], ...accLocals],
    body: `
      ${chunks.map((c) => `local.get $out v128.load offset=${16 * c} local.set $o${c}`).join("\n")}
      block loop
        local.get $t local.get $n i32.ge_u br_if 1
        local.get $p f32.load f32x4.splat local.set $ps
        ${chunks.map((c) => `local.get $o${c} local.get $ps local.get $v v128.load offset=${16 * c} f32x4.mul f32x4.add local.set $o${c}`).join("\n")}
        local.get $p i32.const 4 i32.add local.set $p
        local.get $v local.get $strideB i32.add local.set $v
        local.get $t i32.const 1 i32.add local.set $t
        br 0
      end end
      ${chunks.map((c) => `local.get $out local.get $o${c} v128.store offset=${16 * c}`).join("\n")}`,
  };
  const scatter: WasmFunction = {
    name: "scatter",
    params: [["c", "i32"], ["x", "i32"], ["n", "i32"], ["hdB", "i32"], ["strideB", "i32"], ["out", "i32"]],
    locals: [["t", "i32"], ["cs", "v128"], ...chunks.map((c): [string, "v128"] => [`x${c}`, "v128"])],
    body: `
      ${chunks.map((c) => `local.get $x v128.load offset=${16 * c} local.set $x${c}`).join("\n")}
      block loop
        local.get $t local.get $n i32.ge_u br_if 1
        local.get $c f32.load f32x4.splat local.set $cs
        ${chunks.map((c) => `local.get $out local.get $out v128.load offset=${16 * c} local.get $cs local.get $x${c} f32x4.mul f32x4.add v128.store offset=${16 * c}`).join("\n")}
        local.get $c i32.const 4 i32.add local.set $c
        local.get $out local.get $strideB i32.add local.set $out
        local.get $t i32.const 1 i32.add local.set $t
        br 0
      end end`,
  };
  const replaced: Record<string, WasmFunction> = { scores, accum, scatter };
  return GENERIC.map((f) => replaced[f.name] ?? f);
}

interface KernelExports {
  scores(q: number, k: number, n: number, hdBytes: number, strideBytes: number, scale: number, out: number): number;
  accum(p: number, v: number, n: number, hdBytes: number, strideBytes: number, out: number): void;
  attendRow(q: number, kp: number, vp: number, P: number, pHeadB: number, ko: number, vo: number, n: number, oHeadB: number, H: number, rep: number, hdB: number, strideB: number, scale: number, s: number, out: number): void;
  rope(x: number, rows: number, widthB: number, heads: number, hdB: number, cos: number, sin: number, pos: number): void;
  rmsNorm(x: number, w: number, out: number, rows: number, dB: number, d: number, eps: number): void;
  swiGlu(gu: number, act: number, rows: number, IB: number): void;
  addTo(x: number, y: number, nB: number): void;
  softmaxStats(x: number, rows: number, n: number, stats: number): void;
  subRows(x: number, rows: number, n: number, c: number): void;
  expSub(x: number, n: number, c: number, s: number): number;
  softmaxBack(p: number, d: number, n: number, inv: number, scale: number): void;
  swiGluBack(gu: number, dact: number, dgu: number, rows: number, IBytes: number): void;
  scatter(c: number, x: number, n: number, hdBytes: number, strideBytes: number, out: number): void;
}

// The project's TypeScript lib (ES2023, no DOM) does not declare the WebAssembly JS API; these are the few
// members used here, typed locally.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (desc: { initial: number; maximum?: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Compiled modules: "generic", or one per head width the kernels were specialised for. */
const compiled = new Map<string, object>();

function moduleFor(headDim: number): object {
  const key = headDim > 0 && headDim % 4 === 0 ? String(headDim) : "generic";
  let m = compiled.get(key);
  if (m === undefined) {
    m = new wasm.Module(assembleModule(key === "generic" ? GENERIC : specialised(headDim)));
    compiled.set(key, m);
  }
  return m;
}

/** True where WebAssembly SIMD is available (Node ≥ 16.4). */
export function simdAvailable(): boolean {
  try {
    moduleFor(0);
    return true;
  } catch {
    return false;
  }
}

const PAGE = 65536;

/**
 * A growable wasm memory with a size-class allocator, holding KV caches and per-forward buffers (and a
 * scratch area for the kernels). Float offsets stay valid across growth; `f32` is refreshed whenever the
 * memory grows.
 */
export class KernelArena {
  readonly memory: WasmMemory;
  f32: Float32Array;
  readonly kernels: KernelExports;
  /** Next never-used float offset. */
  private top: number;
  private readonly free = new Map<number, number[]>();
  /** Scratch float offset and size (q, out, scores). */
  scratch = 0;
  private scratchSize = 0;

  /** `headDim`: the attention kernels are specialised for that head width (a multiple of 4; 0: generic). */
  constructor(headDim = 0, initialBytes = 16 << 20) {
    this.memory = new wasm.Memory({ initial: Math.ceil(initialBytes / PAGE) });
    const instance = new wasm.Instance(moduleFor(headDim), { env: { memory: this.memory } });
    this.kernels = instance.exports as unknown as KernelExports;
    this.f32 = new Float32Array(this.memory.buffer);
    this.top = 16; // keep offset 0 unused
  }

  /** Allocates `floats` (rounded up to a power of two ≥ 64); returns a float offset (16-byte aligned). */
  alloc(floats: number): number {
    const size = sizeClass(floats);
    const list = this.free.get(size);
    if (list !== undefined && list.length > 0) return list.pop()!;
    const off = this.top;
    this.top += size;
    this.reserve(this.top);
    return off;
  }

  release(offset: number, floats: number): void {
    const size = sizeClass(floats);
    let list = this.free.get(size);
    if (list === undefined) this.free.set(size, (list = []));
    list.push(offset);
  }

  /** A scratch region of at least `floats` floats (valid until the next call). */
  ensureScratch(floats: number): number {
    if (floats > this.scratchSize) {
      if (this.scratchSize > 0) this.release(this.scratch, this.scratchSize);
      this.scratchSize = sizeClass(floats * 2);
      this.scratch = this.alloc(this.scratchSize);
    }
    return this.scratch;
  }

  private reserve(floats: number): void {
    const need = floats * 4;
    const have = this.memory.buffer.byteLength;
    if (need <= have) return;
    this.memory.grow(Math.ceil(Math.max(need - have, have / 2) / PAGE));
    this.f32 = new Float32Array(this.memory.buffer);
  }
}

function sizeClass(floats: number): number {
  let s = 64;
  while (s < floats) s *= 2;
  return s;
}
