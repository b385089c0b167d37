//go:build linux

package pid1

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// Mount operations of the init's plan, each followed by its arguments
// (see Arity). The sandbox package decides the plan; the init only carries
// it out, in order, inside the test's new mount namespace.
const (
	// OpReadOnly ( ): make every mount read-only, recursively.
	OpReadOnly = "ro"
	// OpTmpfs DST MODE: an empty, writable tmpfs at DST (octal MODE).
	OpTmpfs = "tmpfs"
	// OpBind SRC DST: SRC, as it was before any operation ran, writable at DST.
	OpBind = "bind"
	// OpBindReadOnly SRC DST: the same, read-only.
	OpBindReadOnly = "robind"
	// OpSeal DST: make the mount at DST (only that one, not what is
	// mounted beneath it) read-only, once the mount points the later
	// operations needed have been made in it.
	OpSeal = "seal"
	// PlanEnd ends the plan; the test's path and argv follow.
	PlanEnd = "--"
)

// Arity is the number of arguments of each operation.
var Arity = map[string]int{OpReadOnly: 0, OpTmpfs: 2, OpBind: 2, OpBindReadOnly: 2, OpSeal: 1, OpTrace: 1}

type mountOp struct {
	op   string
	args []string
	src  int // O_PATH descriptor of a bind's source, opened before any mount
}

// parsePlan splits args into the plan and what follows PlanEnd.
func parsePlan(args []string) ([]mountOp, []string, bool) {
	var plan []mountOp
	for len(args) > 0 {
		if args[0] == PlanEnd {
			return plan, args[1:], true
		}
		n, ok := Arity[args[0]]
		if !ok || len(args) < 1+n {
			return nil, nil, false
		}
		plan = append(plan, mountOp{op: args[0], args: args[1 : 1+n], src: -1})
		args = args[1+n:]
	}
	return nil, nil, false
}

// Linux's mount_setattr(2) (5.12): one call changes a flag on a whole
// mount tree, and changes only that flag, so it never trips over the
// nosuid/nodev flags a user namespace locks on the mounts it inherited
// (which mount(MS_REMOUNT) would have to repeat exactly).
const (
	sysMountSetattr = 442 // the same number on every architecture
	atRecursive     = 0x8000
	mountAttrRdonly = 0x1
	oPath           = 0x200000
)

type mountAttr struct{ set, clr, propagation, usernsFD uint64 }

func setReadOnly(path string, readOnly, recursive bool) error {
	attr := mountAttr{}
	if readOnly {
		attr.set = mountAttrRdonly
	} else {
		attr.clr = mountAttrRdonly
	}
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	atFDCWD, flags := -100, 0
	if recursive {
		flags = atRecursive
	}
	_, _, e := syscall.Syscall6(sysMountSetattr, uintptr(atFDCWD), uintptr(unsafe.Pointer(p)),
		uintptr(flags), uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return e
	}
	return nil
}

// applyPlan carries out the plan. Sources of binds are opened first, so a
// source that a later tmpfs covers (a workspace under /tmp, a cache under
// home) is still reachable through /proc/self/fd. It returns which
// operation failed, if one did.
func applyPlan(plan []mountOp) (failed int, err error) {
	defer func() {
		for _, m := range plan {
			if m.src >= 0 {
				syscall.Close(m.src)
			}
		}
	}()
	for i := range plan {
		if plan[i].op == OpBind || plan[i].op == OpBindReadOnly {
			fd, err := syscall.Open(plan[i].args[0], oPath|syscall.O_CLOEXEC, 0)
			if err != nil {
				return i, &os.PathError{Op: "open", Path: plan[i].args[0], Err: err}
			}
			plan[i].src = fd
		}
	}
	for i, m := range plan {
		var err error
		switch m.op {
		case OpReadOnly:
			err = setReadOnly("/", true, true)
		case OpTmpfs:
			if err = mountPoint(m.args[0], true); err == nil {
				err = syscall.Mount("tmpfs", m.args[0], "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode="+m.args[1])
			}
		case OpBind, OpBindReadOnly:
			err = bind(m.src, m.args[1], m.op == OpBind)
		case OpSeal:
			err = setReadOnly(m.args[0], true, false)
		case OpTrace:
			// Not a mount: runInit starts the tracer with the test.
		}
		if err != nil {
			if _, ok := err.(*os.PathError); !ok {
				err = &os.PathError{Op: m.op, Path: m.args[len(m.args)-1], Err: err}
			}
			return i, err
		}
	}
	return -1, nil
}

func bind(src int, dst string, writable bool) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(src, &st); err != nil {
		return err
	}
	if err := mountPoint(dst, st.Mode&syscall.S_IFMT == syscall.S_IFDIR); err != nil {
		return err
	}
	if err := syscall.Mount("/proc/self/fd/"+strconv.Itoa(src), dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return err
	}
	// The copy inherits the flags of its source, which OpReadOnly has
	// made read-only.
	return setReadOnly(dst, !writable, true)
}

// mountPoint makes sure dst exists as a directory (or, for a file, an
// empty file). Missing ones lie in a tmpfs of the plan or in the exec root,
// both still writable when this runs.
func mountPoint(dst string, dir bool) error {
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	if dir {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(dirOf(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func dirOf(p string) string {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "/"
}
