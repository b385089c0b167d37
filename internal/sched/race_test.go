//go:build race

package sched

// The race detector makes every process start several times slower, so the
// load test runs fewer tests under it; the full 10,000 run without it.
const raceEnabled = true
