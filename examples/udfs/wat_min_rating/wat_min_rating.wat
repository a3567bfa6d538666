;; wat_min_rating 1.0.0: the smallest useful UDF, written by hand in WebAssembly text.
;; A filter: matches documents whose numeric field "rating" is at least min_rating.
;; Parameter: min_rating f64 (default 4.0), the export's only argument:
;;   (func (export "min_rating") (param f64) (result i32))
;; A missing or non-numeric rating reads as NaN, and NaN >= x is false: no match.
;; Build: wat2wasm wat_min_rating.wat -o wat_min_rating.wasm
(module
  (import "kiln" "get_field_float64" (func $get_field_float64 (param i32 i32) (result f64)))
  (memory (export "memory") 1)
  (data (i32.const 16) "rating")

  ;; Mandatory: the host ABI version this module was written for.
  (func (export "kiln_abi_version") (result i32)
    i32.const 1)

  (func (export "min_rating") (param $min f64) (result i32)
    (f64.ge
      (call $get_field_float64 (i32.const 16) (i32.const 6))
      (local.get $min))))
