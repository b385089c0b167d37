//go:build linux

package sandbox

import "github.com/suite-run/suite/internal/sandbox/pid1"

// The init of every sandbox is package pid1, run from its init function when
// this binary is re-executed with argv[0] = pid1.Arg0; importing it here puts
// it in every binary that can call Run.
const (
	initArg0         = pid1.Arg0
	initModeLoopback = pid1.ModeLoopback
	initModeHostNet  = pid1.ModeHostNet
)
