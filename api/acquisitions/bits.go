package acquisitions

import "math/bits"

func mul64(a, b uint64) (hi, lo uint64) { return bits.Mul64(a, b) }

// div128 divides the 128-bit hi:lo by c. Callers keep the quotient inside
// 64 bits (split's weights never exceed their sum; amounts and rates are
// bounded at input), which is exactly hi < c; the modulo only keeps
// bits.Div64 from panicking on a broken caller.
func div128(hi, lo, c uint64) (q, r uint64) { return bits.Div64(hi%c, lo, c) }
