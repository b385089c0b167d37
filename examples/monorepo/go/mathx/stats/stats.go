// Package stats summarises integer samples, using mathx.
package stats

import "example.com/mathx"

// CommonPeriod is the least common multiple of every period.
func CommonPeriod(periods ...int) int {
	l := 1
	for _, p := range periods {
		l = mathx.LCM(l, p)
	}
	return l
}
