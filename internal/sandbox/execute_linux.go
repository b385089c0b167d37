//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/suite-run/suite/internal/sandbox/pid1"
)

// exitStatus is how the test's main process ended.
type exitStatus struct {
	code   int            // -1 when signalled
	signal syscall.Signal // 0 when it exited
}

// processTree is the running test with everything it starts.
type processTree interface {
	// wait blocks until the test's main process has exited. The warnings
	// are about the sandbox's setup.
	wait() (exitStatus, []string, error)
	// terminate asks every process of the test to stop (SIGTERM).
	terminate()
	// kill stops every process of the test now (SIGKILL).
	kill()
	// reap makes sure, after wait, that no process of the test is left.
	reap()
}

// logDrainDelay bounds how long the log is read after the test is gone. It
// matters only in the fallback, where a process that escaped the kill can
// hold the log pipe open.
const logDrainDelay = 2 * time.Second

func execute(ctx context.Context, s *Spec, lay layout, env []string, log *tailLog, opt options) (Result, error) {
	if ctx.Err() != nil {
		return Result{Status: Interrupted, ExitCode: -1}, nil
	}
	path, err := lookPath(s.Argv[0], lay.cwd, s.Env)
	if err != nil {
		fmt.Fprintf(log, "suite: cannot run the test: %v\n", err)
		return Result{Status: Failed, ExitCode: 127}, nil
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: %w", err)
	}
	defer devNull.Close()
	logR, logW, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: %w", err)
	}
	defer logR.Close()

	var res Result
	start := time.Now()
	var tree processTree
	if !opt.noNamespaces {
		tree, err = startInNamespaces(s, lay, path, env, devNull, logW, opt)
		if err != nil && namespacesRefused(err) {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"pid, mount and network namespaces unavailable (%v): tests share the host network, see the host's whole file system (the workspace and home included) and can write wherever the user can, and processes a test detaches from its process group may survive it", err))
			tree, err = nil, nil
		}
	}
	if tree == nil && err == nil {
		if err = s.linkReadOnlyPaths(lay); err == nil {
			tree, err = startInProcessGroup(s, lay, path, env, devNull, logW)
		}
	}
	logW.Close()
	if err != nil {
		return Result{}, fmt.Errorf("sandbox: starting %s: %w", s.Argv[0], err)
	}

	drained := make(chan struct{})
	go func() {
		_, _ = io.CopyBuffer(log, logR, make([]byte, 64<<10))
		close(drained)
	}()

	type waited struct {
		st       exitStatus
		warnings []string
		err      error
	}
	waitc := make(chan waited, 1)
	go func() {
		st, warnings, err := tree.wait()
		waitc <- waited{st, warnings, err}
	}()

	var deadline <-chan time.Time
	if s.Timeout > 0 {
		t := time.NewTimer(s.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	var w waited
	stoppedAs := Passed // Passed: not stopped by us
	select {
	case w = <-waitc:
	case <-deadline:
		stoppedAs = Timeout
	case <-ctx.Done():
		stoppedAs = Interrupted
	}
	if stoppedAs != Passed {
		tree.terminate()
		grace := time.NewTimer(s.Grace)
		select {
		case w = <-waitc:
		case <-grace.C:
			tree.kill()
			w = <-waitc
		case <-ctxDoneUnlessInterrupted(ctx, stoppedAs):
			// Ctrl-C during a timeout's grace period: no more waiting.
			tree.kill()
			w = <-waitc
		}
		grace.Stop()
	}
	res.Duration = time.Since(start)
	tree.reap()

	select {
	case <-drained:
	case <-time.After(logDrainDelay):
		_ = logR.SetReadDeadline(time.Now())
		<-drained
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: a process the test started outlived it and kept its output open; the log may be incomplete", s.Label))
	}
	res.Warnings = append(res.Warnings, w.warnings...)
	if t, ok := tree.(*nsTree); ok {
		t.trace.fill(&res, s)
	}
	if s.Trace && !res.Traced {
		res.Warnings = append(res.Warnings, traceUnavailable)
	}
	if w.err != nil {
		return res, w.err
	}
	res.ExitCode = w.st.code
	if w.st.signal != 0 {
		res.ExitCode = -1
		res.Signal = unix.SignalName(w.st.signal)
		if res.Signal == "" {
			res.Signal = "signal " + strconv.Itoa(int(w.st.signal))
		}
	}
	switch {
	case stoppedAs != Passed:
		res.Status = stoppedAs
	case w.st.signal == 0 && w.st.code == 0:
		res.Status = Passed
	default:
		res.Status = Failed
	}
	return res, nil
}

func ctxDoneUnlessInterrupted(ctx context.Context, stoppedAs Status) <-chan struct{} {
	if stoppedAs == Interrupted {
		return nil
	}
	return ctx.Done()
}

func statusOf(ps *os.ProcessState) exitStatus {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return exitStatus{code: -1, signal: ws.Signal()}
	}
	return exitStatus{code: ps.ExitCode()}
}

// namespacesRefused tells whether starting in new namespaces failed because
// the kernel or a seccomp/container policy does not allow it.
func namespacesRefused(err error) bool {
	for _, e := range []error{unix.EPERM, unix.EINVAL, unix.ENOSPC, unix.EUSERS, unix.EACCES, unix.ENOSYS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// nsTree is the test under our init (initmode.go), pid 1 of a new pid
// namespace: when the init dies, the kernel kills every process in the
// namespace, however it detached (setsid, double fork), and the init's wait
// returns only after they are all gone.
type nsTree struct {
	init   *os.Process
	status *os.File // read end of the init's status pipe
	trace  traceReport
}

func startInNamespaces(s *Spec, lay layout, path string, env []string, devNull, logW *os.File, opt options) (*nsTree, error) {
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer statusW.Close()
	mode := initModeHostNet
	// A mount namespace, so that the init can mount a /proc of the new pid
	// namespace.
	flags := uintptr(unix.CLONE_NEWPID | unix.CLONE_NEWNS)
	if s.Network == NetworkIsolated {
		flags |= unix.CLONE_NEWNET
		mode = initModeLoopback
	}
	sys := &syscall.SysProcAttr{
		Setpgid: true, // out of the terminal's foreground group: Ctrl-C reaches suite, which cancels ctx
		// If suite dies, the init dies, and the kernel kills the namespace.
		// Pdeathsig fires when the forking OS thread exits; Go keeps threads
		// unless a goroutine exits while locked to one, which Run's callers
		// do not do.
		Pdeathsig:  syscall.SIGKILL,
		Cloneflags: flags,
	}
	if os.Geteuid() != 0 {
		// Unprivileged: a user namespace makes the pid and net namespaces
		// possible. The test keeps its uid; the init gets CAP_SYS_ADMIN and
		// CAP_NET_ADMIN, which reach only its own namespaces, to mount /proc
		// and bring the loopback up. The test inherits them, with the same
		// reach.
		sys.Cloneflags |= unix.CLONE_NEWUSER
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}}
		sys.GidMappingsEnableSetgroups = false
		sys.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN}
	}
	plan := mountPlan{cwd: lay.cwd}
	if !opt.noMounts {
		plan = s.planMounts(lay, path)
	}
	if s.Trace {
		plan.mounts = append(plan.mounts, mount{op: pid1.OpTrace, dst: traceRoot(s.Workspace)})
	}
	argv := append([]string{initArg0, mode, plan.cwd, lay.cwd}, plan.args()...)
	argv = append(append(argv, path), s.Argv...)
	proc, err := os.StartProcess("/proc/self/exe", argv, &os.ProcAttr{
		Dir:   lay.cwd,
		Env:   env,
		Files: []*os.File{devNull, logW, logW, statusW},
		Sys:   sys,
	})
	if err != nil {
		statusR.Close()
		return nil, err
	}
	return &nsTree{init: proc, status: statusR}, nil
}

func (t *nsTree) wait() (exitStatus, []string, error) {
	// The init is the only writer: this read ends when it is gone. It
	// comes first, so a long trace report cannot fill the pipe and stall
	// the init before it exits.
	msg, _ := io.ReadAll(t.status)
	t.status.Close()
	ps, err := t.init.Wait()
	if err != nil {
		return exitStatus{}, nil, fmt.Errorf("sandbox: %w", err)
	}
	var warnings []string
	for _, line := range strings.Split(strings.TrimSpace(string(msg)), "\n") {
		verb, arg, _ := strings.Cut(line, " ")
		if t.trace.add(verb, arg) {
			continue
		}
		switch verb {
		case "":
			// Killed before it could report: by us on timeout, or by
			// someone else.
			return statusOf(ps), warnings, nil
		case "warning":
			warnings = append(warnings, arg)
			continue
		case "exit":
			if code, err := strconv.Atoi(arg); err == nil {
				return exitStatus{code: code}, warnings, nil
			}
		case "signal":
			if sig, err := strconv.Atoi(arg); err == nil {
				return exitStatus{code: -1, signal: syscall.Signal(sig)}, warnings, nil
			}
		case "error":
			return exitStatus{}, warnings, fmt.Errorf("sandbox: init: %s", arg)
		}
		return exitStatus{}, warnings, fmt.Errorf("sandbox: init: unexpected report %q", line)
	}
	// Warnings, then killed before the final report.
	return statusOf(ps), warnings, nil
}

// terminate signals the init, which passes SIGTERM to every process in the
// namespace.
func (t *nsTree) terminate() { _ = t.init.Signal(syscall.SIGTERM) }

// kill kills the init; the kernel then kills the whole namespace.
func (t *nsTree) kill() { _ = t.init.Kill() }

func (t *nsTree) reap() {}

// groupTree is the fallback where the kernel refuses namespaces: the test in
// its own process group. Members of the group are killed with it; a process
// that left the group (setsid, setpgid) is found afterwards only by what it
// still holds of the test: the log pipe, or a cwd or open file under the
// scratch directory. A daemon that closed all of those and moved away
// escapes.
type groupTree struct {
	proc    *os.Process
	pipeIno uint64
	scratch string
}

func startInProcessGroup(s *Spec, lay layout, path string, env []string, devNull, logW *os.File) (*groupTree, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(logW.Fd()), &st); err != nil {
		return nil, err
	}
	proc, err := os.StartProcess(path, s.Argv, &os.ProcAttr{
		Dir:   lay.cwd,
		Env:   env,
		Files: []*os.File{devNull, logW, logW},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return nil, err
	}
	return &groupTree{proc: proc, pipeIno: st.Ino, scratch: s.ScratchDir}, nil
}

func (t *groupTree) wait() (exitStatus, []string, error) {
	ps, err := t.proc.Wait()
	if err != nil {
		return exitStatus{}, nil, fmt.Errorf("sandbox: %w", err)
	}
	return statusOf(ps), nil, nil
}

// The group id is the main process's pid. It cannot be reused while any
// member of the group lives, so signalling it after the main process has
// been reaped reaches only the test's processes.
func (t *groupTree) terminate() { _ = unix.Kill(-t.proc.Pid, unix.SIGTERM) }

func (t *groupTree) kill() {
	_ = unix.Kill(-t.proc.Pid, unix.SIGKILL)
	killHolders(t.pipeIno, t.scratch)
}

func (t *groupTree) reap() { t.kill() }
