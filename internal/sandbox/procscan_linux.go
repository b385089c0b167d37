//go:build linux

package sandbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// killHolders SIGKILLs, in the namespace-less fallback, every process that
// still holds something of a finished test: the write end of its log pipe
// (inode pipeIno), or a cwd or open file under its scratch directory. Such a
// process left the test's process group (setsid, or a double fork with
// setpgid), so the group kill missed it.
//
// A PR_SET_CHILD_SUBREAPER would catch orphans more surely, but it is
// process-wide: with several actions running, orphans of all of them would
// become children of suite, and reaping them with wait(-1) would steal the
// exit statuses os.Process.Wait waits for. So we look instead.
func killHolders(pipeIno uint64, scratch string) {
	if real, err := filepath.EvalSymlinks(scratch); err == nil {
		scratch = real
	}
	self := os.Getpid()
	pipe := "pipe:[" + strconv.FormatUint(pipeIno, 10) + "]"
	holds := func(link string) bool {
		return link == pipe || link == scratch || strings.HasPrefix(link, scratch+"/")
	}
	// A killed process can take a moment to close its files, so look again
	// until nothing holds them; bounded in case something keeps forking.
	for range 50 {
		found := false
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self || !holdsAny(pid, holds) {
				continue
			}
			// A child of suite itself between fork and exec holds copies of
			// all suite's descriptors, including another action's log;
			// it is not ours to kill. Escaped processes have other parents.
			if parentOf(pid) == self {
				continue
			}
			_ = unix.Kill(pid, unix.SIGKILL)
			found = true
		}
		if !found {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func holdsAny(pid int, holds func(string) bool) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	if cwd, err := os.Readlink(dir + "/cwd"); err == nil && holds(cwd) {
		return true
	}
	fds, _ := os.ReadDir(dir + "/fd")
	for _, fd := range fds {
		if link, err := os.Readlink(dir + "/fd/" + fd.Name()); err == nil && holds(link) {
			return true
		}
	}
	return false
}

func parentOf(pid int) int {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}
