package sched

import (
	"io/fs"
	"syscall"
)

// statCtime is a file's ctime in nanoseconds, as the sandbox's tracer
// reports it.
func statCtime(fi fs.FileInfo) int64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	return st.Ctim.Sec*1e9 + st.Ctim.Nsec
}
