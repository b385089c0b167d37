package main

import (
	"os"
	"runtime/pprof"
)

// SUITE_CPUPROFILE=FILE writes a CPU profile of suite itself (not of the
// tests), for `go tool pprof`. It is how the hot paths were found.
func init() {
	p := os.Getenv("SUITE_CPUPROFILE")
	if p == "" {
		return
	}
	f, err := os.Create(p)
	if err != nil {
		return
	}
	if pprof.StartCPUProfile(f) != nil {
		f.Close()
		return
	}
	stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
}
