//go:build linux

package pid1

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

// The tracer sees every path the test and its children look up, by
// seccomp user notification: a filter inherited by every process of the
// test stops each open/stat-family call and hands it to the init, which
// reads the path from the caller's memory, notes it when it lies under the
// traced directory, and lets the call go on unchanged
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5). It needs no privilege
// beyond what the init has anyway (CAP_SYS_ADMIN in its own user
// namespace) and, unlike fanotify, it sees lookups that fail: in the
// strict view an undeclared file is missing, and the failed open of its
// path is the evidence.
//
// The notification is advisory, not a security boundary: a path the test
// changes between the stop and the kernel's own read is recorded as it
// was. That is good enough to name a file and to list what a test read;
// the sandbox's mounts, not the tracer, keep the test in.
//
// Each stopped call costs two context switches and a memory read, so the
// sandbox turns the tracer on only for actions that need it (see
// ../README.md, "Tracing").

// OpTrace DIR in the plan turns the tracer on for lookups under DIR.
const OpTrace = "trace"

// Report lines of the tracer, before the final status: "read CTIME PATH"
// for a path relative to the traced directory that existed in the test's
// view when it was first looked up, with its ctime then in nanoseconds
// (so the caller can tell a file that changed while the test ran), and
// "missing PATH" for one that did not, "listed CTIME PATH" for a directory
// it opened (and so may have listed). The workspace root itself is not
// reported.
// ReportTraced comes first and says the tracer ran.
const (
	ReportTraced  = "traced"
	ReportRead    = "read"
	ReportMissing = "missing"
	ReportListed  = "listed"
)

// Linux's seccomp ABI, which package syscall does not define.
const (
	seccompSetModeFilter      = 1
	seccompFlagNewListener    = 1 << 3
	seccompRetAllow           = 0x7fff0000
	seccompRetUserNotif       = 0x7fc00000
	seccompUserNotifContinue  = 1
	seccompIoctlNotifRecv     = 0xc0502100 // _IOWR('!', 0, struct seccomp_notif)
	seccompIoctlNotifSend     = 0xc0182101 // _IOWR('!', 1, struct seccomp_notif_resp)
	seccompIoctlNotifIDValid  = 0x40082102 // _IOW('!', 2, __u64)
	bpfLdWAbs                 = syscall.BPF_LD | syscall.BPF_W | syscall.BPF_ABS
	bpfJeqK                   = syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K
	bpfRetK                   = syscall.BPF_RET | syscall.BPF_K
	atFDCWD                   = -100
	seccompDataNr, seccompArc = 0, 4
)

// seccompNotif is struct seccomp_notif.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

// seccompNotifResp is struct seccomp_notif_resp.
type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// pathCall says where a traced system call keeps its path: the argument
// holding the pointer, and the one holding the directory descriptor it is
// relative to (-1: the cwd); and whether it opens (an open directory is
// one the test may list).
type pathCall struct {
	path, dirfd int
	open        bool
}

// archCalls are the traced calls of the architectures the tracer knows;
// elsewhere it reports that it cannot run.
type archCalls struct {
	audit                                 uint32 // AUDIT_ARCH_*
	seccomp, processVMReadv, ppoll, pipe2 uintptr
	calls                                 map[uint32]pathCall
}

var archs = map[string]archCalls{
	"amd64": {audit: 0xc000003e, seccomp: 317, processVMReadv: 310, calls: map[uint32]pathCall{
		2: {0, -1, true}, 4: {0, -1, false}, 6: {0, -1, false}, 21: {0, -1, false}, 89: {0, -1, false}, // open stat lstat access readlink
		257: {1, 0, true}, 262: {1, 0, false}, 267: {1, 0, false}, 269: {1, 0, false}, 332: {1, 0, false}, 437: {1, 0, true}, 439: {1, 0, false}, // openat newfstatat readlinkat faccessat statx openat2 faccessat2
	}},
	"arm64": {audit: 0xc00000b7, seccomp: 277, processVMReadv: 270, calls: map[uint32]pathCall{
		56: {1, 0, true}, 79: {1, 0, false}, 78: {1, 0, false}, 48: {1, 0, false}, 291: {1, 0, false}, 437: {1, 0, true}, 439: {1, 0, false}, // openat newfstatat readlinkat faccessat statx openat2 faccessat2
	}},
}

// filter is the BPF program: the traced calls of this architecture go to
// the listener, everything else (and any other architecture's calls, as
// from a 32-bit binary) is allowed at once.
func (a archCalls) filter() []syscall.SockFilter {
	nrs := make([]uint32, 0, len(a.calls))
	for nr := range a.calls {
		nrs = append(nrs, nr)
	}
	n := len(nrs)
	prog := []syscall.SockFilter{
		{Code: bpfLdWAbs, K: seccompArc},
		// Not this architecture: jump over the load and the n comparisons
		// to the allow.
		{Code: bpfJeqK, K: a.audit, Jt: 0, Jf: uint8(n + 1)},
		{Code: bpfLdWAbs, K: seccompDataNr},
	}
	for i, nr := range nrs {
		// Matched: jump over the remaining comparisons and the allow to
		// the notify.
		prog = append(prog, syscall.SockFilter{Code: bpfJeqK, K: nr, Jt: uint8(n - i), Jf: 0})
	}
	return append(prog,
		syscall.SockFilter{Code: bpfRetK, K: seccompRetAllow},
		syscall.SockFilter{Code: bpfRetK, K: seccompRetUserNotif})
}

// tracer collects the lookups under dir.
type tracer struct {
	arch     archCalls
	dir      string
	listener int
	mu       sync.Mutex       // over the maps: serve writes them, stop reads them
	read     map[string]int64 // path -> ctime (ns) when first looked up
	missing  map[string]bool
	listed   map[string]int64 // directories opened -> ctime (ns)
}

// startTraced starts the test with the filter installed. The filter goes
// on a thread of its own, locked and then discarded, so no other thread of
// the init is ever stopped by it; the test, forked from that thread,
// inherits it, and so does everything the test starts.
func startTraced(dir, path string, argv []string, attr *syscall.ProcAttr) (*tracer, int, error) {
	a, ok := archs[runtime.GOARCH]
	if !ok {
		return nil, 0, filterError{errors.New("no tracer for " + runtime.GOARCH)}
	}
	t := &tracer{arch: a, dir: dir, read: map[string]int64{}, missing: map[string]bool{}, listed: map[string]int64{}}
	type started struct {
		listener, pid int
		err           error
	}
	res := make(chan started, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine, and the
		// filter with it.
		runtime.LockOSThread()
		prog := a.filter()
		fprog := syscall.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		fd, _, e := syscall.RawSyscall(a.seccomp, seccompSetModeFilter, seccompFlagNewListener, uintptr(unsafe.Pointer(&fprog)))
		if e != 0 {
			res <- started{err: filterError{os.NewSyscallError("seccomp", e)}}
			return
		}
		syscall.CloseOnExec(int(fd))
		pid, err := syscall.ForkExec(path, argv, attr)
		res <- started{listener: int(fd), pid: pid, err: err}
	}()
	r := <-res
	if r.err != nil {
		if r.listener > 0 {
			syscall.Close(r.listener)
		}
		return nil, 0, r.err
	}
	t.listener = r.listener
	go t.serve()
	return t, r.pid, nil
}

// filterError is a failure to set the tracer up, rather than to start the
// test: the test can still run, untraced.
type filterError struct{ error }

// serve answers notifications for as long as the init lives: it blocks
// in the kernel waiting for the next one, and the init's exit ends it.
// One stop costs two context switches, the read of the path, and for a
// relative path a readlink; the rest of the work is only for paths under
// the traced directory.
func (t *tracer) serve() {
	runtime.LockOSThread()
	for {
		var n seccompNotif
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(t.listener), seccompIoctlNotifRecv, uintptr(unsafe.Pointer(&n))); e != 0 {
			if e == syscall.EINTR || e == syscall.ENOENT {
				continue // interrupted, or the caller died before we got it
			}
			return
		}
		t.mu.Lock()
		t.note(&n)
		t.mu.Unlock()
		resp := seccompNotifResp{id: n.id, flags: seccompUserNotifContinue}
		syscall.Syscall(syscall.SYS_IOCTL, uintptr(t.listener), seccompIoctlNotifSend, uintptr(unsafe.Pointer(&resp)))
	}
}

// note records the path of one stopped call if it lies under the traced
// directory.
func (t *tracer) note(n *seccompNotif) {
	c, ok := t.arch.calls[uint32(n.nr)]
	if !ok || n.arch != t.arch.audit {
		return
	}
	p := t.readString(int(n.pid), n.args[c.path])
	if p == "" {
		return // fstatat(fd, "", AT_EMPTY_PATH): no lookup
	}
	if p[0] != '/' {
		base := "/proc/" + strconv.Itoa(int(n.pid)) + "/cwd"
		if c.dirfd >= 0 && int32(n.args[c.dirfd]) != atFDCWD {
			base = "/proc/" + strconv.Itoa(int(n.pid)) + "/fd/" + strconv.Itoa(int(int32(n.args[c.dirfd])))
		}
		dir, err := os.Readlink(base)
		if err != nil || dir == "" || dir[0] != '/' {
			return
		}
		p = dir + "/" + p
	}
	p = cleanPath(p)
	if len(p) <= len(t.dir) || p[:len(t.dir)] != t.dir || p[len(t.dir)] != '/' {
		return
	}
	rel := p[len(t.dir)+1:]
	// The pid may have died and been reused while we read: only a
	// notification that is still pending vouches for what we read.
	id := n.id
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(t.listener), seccompIoctlNotifIDValid, uintptr(unsafe.Pointer(&id))); e != 0 {
		return
	}
	if _, seen := t.read[rel]; seen || t.missing[rel] {
		return
	}
	if _, seen := t.listed[rel]; seen {
		return
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err == nil {
		if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			t.read[rel] = st.Ctim.Sec*1e9 + st.Ctim.Nsec
		} else if c.open {
			t.listed[rel] = st.Ctim.Sec*1e9 + st.Ctim.Nsec
		}
	} else {
		t.missing[rel] = true
	}
}

// readString reads a NUL-terminated string of at most PATH_MAX bytes from
// the memory of pid, a page at a time so a string that ends just before
// an unmapped page is read whole.
func (t *tracer) readString(pid int, addr uint64) string {
	const pathMax, page = 4096, 4096
	var buf []byte
	for len(buf) < pathMax {
		chunk := page - int(addr%page)
		local := make([]byte, chunk)
		liov := syscall.Iovec{Base: &local[0], Len: uint64(chunk)}
		riov := struct {
			base uintptr
			len  uint64
		}{uintptr(addr), uint64(chunk)}
		n, _, e := syscall.Syscall6(t.arch.processVMReadv, uintptr(pid), uintptr(unsafe.Pointer(&liov)), 1, uintptr(unsafe.Pointer(&riov)), 1, 0)
		if e != 0 || n == 0 {
			return ""
		}
		local = local[:n]
		for i, b := range local {
			if b == 0 {
				return string(append(buf, local[:i]...))
			}
		}
		buf = append(buf, local...)
		addr += uint64(n)
	}
	return ""
}

// stop ends the tracer once every process of the test is gone, and
// reports what it saw.
func (t *tracer) stop(report func(string)) {
	// No process holds the filter any more, so no notification comes;
	// one being noted finishes first.
	t.mu.Lock()
	defer t.mu.Unlock()
	report(ReportTraced)
	for p, ctime := range t.read {
		report(ReportRead + " " + strconv.FormatInt(ctime, 10) + " " + p)
	}
	for p := range t.missing {
		report(ReportMissing + " " + p)
	}
	for p, ctime := range t.listed {
		report(ReportListed + " " + strconv.FormatInt(ctime, 10) + " " + p)
	}
}

// cleanPath is path.Clean for an absolute path, without importing path
// or strings (see the package comment on what the init may import).
func cleanPath(p string) string {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); {
		j := i
		for j < len(p) && p[j] != '/' {
			j++
		}
		switch part := p[i:j]; part {
		case "", ".":
		case "..":
			for len(out) > 0 && out[len(out)-1] != '/' {
				out = out[:len(out)-1]
			}
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(append(out, '/'), part...)
		}
		i = j + 1
	}
	if len(out) == 0 {
		return "/"
	}
	return string(out)
}
