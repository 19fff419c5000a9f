;; Line stamping for opsd's log files: copies complete lines, each preceded by a
;; prefix (a timestamp and the stream name). Sixteen bytes at a time with SIMD:
;; each step stores what it loaded and looks for a newline in it, so every byte
;; is read once. 200 MB of 100-byte lines take about 65 ms (a JavaScript loop
;; took 500 ms; an 8-byte-word version of this routine 120 ms).
;;
;; Build: scripts/build-stamp-wasm (needs wat2wasm from wabt; the output is committed).
(module
  (memory (export "memory") 1)
  ;; Where the last call to stamp stopped reading: the start of the first line it
  ;; did not copy (end when it copied them all).
  (global $next (export "next") (mut i32) (i32.const 0))

  ;; Copies the whole lines in [src, end) to [dst, limit), each preceded by the
  ;; prefix at [pre, pre + plen) (plen at most 32). Stops before a line that does
  ;; not end before end or does not fit. Reads up to 15 bytes past end (the caller
  ;; leaves them readable) and never writes at or past limit. Returns the end of
  ;; what it wrote.
  (func (export "stamp")
    (param $src i32) (param $end i32) (param $dst i32) (param $limit i32)
    (param $pre i32) (param $plen i32) (result i32)
    (local $lineSrc i32) (local $lineDst i32) (local $roomy i32)
    (local $v v128) (local $found i32) (local $k i32)
    (local $pre0 v128) (local $pre1 v128) (local $newlines v128)
    (local.set $pre0 (v128.load align=1 (local.get $pre)))
    (local.set $pre1 (v128.load offset=16 align=1 (local.get $pre)))
    (local.set $newlines (i8x16.splat (i32.const 10)))
    (block $done
      (loop $line
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $lineSrc (local.get $src))
        (local.set $lineDst (local.get $dst))
        ;; The prefix is stored as two 16-byte words, the line after it in 16-byte
        ;; steps, the last of which may run 15 bytes past the newline: a line needs
        ;; up to plen + length + 15 bytes, and 48 are needed to start one.
        (br_if $done (i32.gt_u (i32.add (local.get $dst) (i32.const 48)) (local.get $limit)))
        ;; When everything left of the input fits, no step needs checking.
        (local.set $roomy (i32.le_u
          (i32.add (i32.add (local.get $dst) (i32.const 48))
                   (i32.sub (local.get $end) (local.get $src)))
          (local.get $limit)))
        (v128.store align=1 (local.get $dst) (local.get $pre0))
        (v128.store offset=16 align=1 (local.get $dst) (local.get $pre1))
        (local.set $dst (i32.add (local.get $dst) (local.get $plen)))
        (loop $step
          (if (i32.eqz (local.get $roomy))
            (then
              (if (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $limit))
                (then
                  (local.set $src (local.get $lineSrc))
                  (local.set $dst (local.get $lineDst))
                  (br $done)))))
          (local.set $v (v128.load align=1 (local.get $src)))
          (v128.store align=1 (local.get $dst) (local.get $v))
          (local.set $found (i8x16.bitmask (i8x16.eq (local.get $v) (local.get $newlines))))
          (if (i32.eqz (local.get $found))
            (then
              (local.set $src (i32.add (local.get $src) (i32.const 16)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
              (br_if $step (i32.lt_u (local.get $src) (local.get $end)))
              ;; No newline before end: the line is not complete.
              (local.set $src (local.get $lineSrc))
              (local.set $dst (local.get $lineDst))
              (br $done)))
          ;; The first newline in the step ends the line.
          (local.set $k (i32.add (i32.ctz (local.get $found)) (i32.const 1)))
          (local.set $src (i32.add (local.get $src) (local.get $k)))
          (local.set $dst (i32.add (local.get $dst) (local.get $k)))
          (br_if $line (i32.le_u (local.get $src) (local.get $end)))
          ;; That newline was past end: the line is not complete.
          (local.set $src (local.get $lineSrc))
          (local.set $dst (local.get $lineDst)))))
    (global.set $next (local.get $src))
    (local.get $dst))
)
