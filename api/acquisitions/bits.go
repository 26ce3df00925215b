package acquisitions

import "math/bits"

func mul64(a, b uint64) (hi, lo uint64) { return bits.Mul64(a, b) }

// div128 divides the 128-bit hi:lo by c. Amounts here are far below the
// overflow of the quotient (hi < c always holds for them).
func div128(hi, lo, c uint64) (q, r uint64) { return bits.Div64(hi%c, lo, c) }
