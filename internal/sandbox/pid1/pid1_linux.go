//go:build linux

// Package pid1 is the sandbox's init: the suite binary re-executed as pid 1
// of a test's new pid namespace (see ../README.md). It lives apart from the
// sandbox and imports only the standard library's os, os/signal, strconv,
// syscall and what those already need (errors, runtime, sync) because Go runs every package's init functions in dependency
// order, with ties broken by import path: such a package gets its turn
// after a few dozen others, before the protobuf, gRPC and Starlark packages
// of the rest of the binary. Even golang.org/x/sys/unix is initialized only
// after sixty-odd packages; doing without it starts the init about 0.7 ms
// sooner, on every test action.
package pid1

import (
	"errors"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"unsafe"
)

// The init is this same binary, re-executed through /proc/self/exe with
// argv[0] = initArg0 as pid 1 of the test's new pid namespace. Its argv is
// [initArg0, mode, cwd, fallback cwd, mount plan..., PlanEnd, resolved
// test path, test argv...] (see mounts_linux.go); its environment is
// exactly the test's; fd 3 is a pipe on which it reports problems worth a
// warning ("warning TEXT" lines), then how the test ended: "exit N",
// "signal N" or "error TEXT".
//
// The hook sits in the package's init function rather than in an exported
// function main must call first: every binary that can call Run imports this
// package, so none can forget the hook and, re-executed, run its own main
// (or, for a test binary, its whole test suite) once more inside every
// sandbox. Package init functions of the packages this one depends on have
// run by then, which is all the init needs.
const Arg0 = "suite-sandbox-init"

// Modes of the init, its argv[1].
const (
	ModeLoopback = "lo"   // new network namespace: bring the loopback up
	ModeHostNet  = "host" // the host's network: nothing to set up
)

func init() {
	if len(os.Args) > 0 && os.Args[0] == Arg0 {
		// Not os.Exit: in a -race build that sleeps a second (the race
		// runtime's atexit_sleep_ms) after every test.
		syscall.Exit(runInit(os.Args[1:]))
	}
}

// runInit starts the test, forwards termination signals to every process in
// the namespace, reaps every orphan, and when the test's main process exits
// kills whatever is left and reports the main process's status.
func runInit(args []string) int {
	status := os.NewFile(3, "status")
	report := func(line string) { status.WriteString(line + "\n") }
	// kill(-1) below must never run outside a pid namespace of our own,
	// where it would reach every process the user may signal.
	if os.Getpid() != 1 {
		os.Stderr.WriteString(Arg0 + ": must run as pid 1 of a new pid namespace; it is started by the sandbox package\n")
		return 127
	}
	// The test must not inherit the status pipe: we are its only writer.
	syscall.CloseOnExec(3)
	if len(args) < 3 {
		report("error bad arguments")
		return 127
	}
	mode, cwd, fallbackCwd := args[0], args[1], args[2]
	plan, rest, ok := parsePlan(args[3:])
	if !ok || len(rest) < 2 {
		report("error bad arguments")
		return 127
	}
	path, argv := rest[0], rest[1:]
	if mode == ModeLoopback {
		if err := loopbackUp(); err != nil {
			report("error bringing up the loopback interface: " + err.Error())
			return 127
		}
	}

	// In a pid namespace, /proc must be one of its own: with the host's,
	// /proc/<getpid()> names some other process (psutil, multiprocessing
	// and ps all read it), and the host's processes show. The mount
	// namespace is ours, but a "shared" root would propagate the mount to
	// the host, so make everything private first, and mount nothing if that
	// fails.
	private := true
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		private = false
		report("warning cannot make mounts private (" + err.Error() + "): the test sees the host's /proc and file system")
	} else if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		report("warning cannot mount /proc (" + err.Error() + "): the test sees the host's /proc")
	}

	// The file system the test sees. The first operation tells whether the
	// kernel lets us change mounts at all; if it does not, the test runs
	// with the host's file system, and the user is told. A later failure
	// would leave a half-built view, so it stops the test.
	if !private {
		cwd = fallbackCwd
	} else if len(plan) > 0 {
		if i, err := applyPlan(plan); err != nil {
			if i > 0 {
				report("error preparing the file system: " + err.Error())
				return 127
			}
			report("warning cannot make the file system read-only (" + err.Error() + "): the test can write outside its sandbox and sees the workspace's files and home")
			cwd = fallbackCwd
		}
	}
	if err := syscall.Chdir(cwd); err != nil {
		report("error entering the package directory: " + err.Error())
		return 127
	}

	// Without handlers, pid 1 ignores these signals; with them, the
	// whole namespace gets them.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	var trace *tracer
	var pid int
	var err error
	if dir := traceDir(plan); dir != "" && private {
		trace, pid, err = startTraced(dir, path, argv, attr)
		if fe, ok := err.(filterError); ok {
			// The kernel refused the filter: run untraced, and say so.
			report("warning cannot trace the test's file lookups (" + fe.Error() + ")")
			pid, err = syscall.ForkExec(path, argv, attr)
		}
	} else {
		pid, err = syscall.ForkExec(path, argv, attr)
	}
	if err != nil {
		os.Stderr.WriteString("suite: cannot run the test: " + path + ": " + err.Error() + "\n")
		report("exit 127")
		return 127
	}
	go func() {
		for sig := range sigs {
			_ = syscall.Kill(-1, sig.(syscall.Signal))
		}
	}()

	var main syscall.WaitStatus
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			report("error waiting for the test: " + err.Error())
			return 127
		}
		if wpid == pid {
			main = ws
			break
		}
	}
	// The test's main process is gone; nothing it started may outlive it.
	_ = syscall.Kill(-1, syscall.SIGKILL)
	for {
		_, err := syscall.Wait4(-1, nil, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			break
		}
	}
	if trace != nil {
		trace.stop(report)
	}
	if main.Signaled() {
		report("signal " + strconv.Itoa(int(main.Signal())))
		return 128 + int(main.Signal())
	}
	report("exit " + strconv.Itoa(main.ExitStatus()))
	return main.ExitStatus()
}

// loopbackUp sets IFF_UP on "lo", which a new network namespace has down.
func loopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	// struct ifreq: the interface name, then a union whose first member
	// here is the flags; 40 bytes in all on Linux.
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], "lo")
	ioctl := func(req uintptr) error {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&ifr))); e != 0 {
			return e
		}
		return nil
	}
	if err := ioctl(syscall.SIOCGIFFLAGS); err != nil {
		return err
	}
	ifr.flags |= syscall.IFF_UP
	return ioctl(syscall.SIOCSIFFLAGS)
}

// traceDir is the directory of the plan's OpTrace, "" when there is none.
func traceDir(plan []mountOp) string {
	for _, m := range plan {
		if m.op == OpTrace {
			return m.args[0]
		}
	}
	return ""
}
