//go:build linux

package pid1

import (
	"runtime"
	"syscall"
	"testing"
)

// runFilter interprets the few BPF instructions filter() uses, as the
// kernel would for a call nr of architecture arch.
func runFilter(t *testing.T, prog []syscall.SockFilter, arch, nr uint32) uint32 {
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case bpfLdWAbs:
			acc = map[uint32]uint32{seccompArc: arch, seccompDataNr: nr}[in.K]
		case bpfJeqK:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case bpfRetK:
			return in.K
		default:
			t.Fatalf("unexpected instruction %+v", in)
		}
	}
	t.Fatal("the program fell off its end")
	return 0
}

// The filter stops exactly the traced calls of this architecture; every
// other call, and every call of another architecture (a 32-bit binary),
// goes on at once.
func TestFilterStopsOnlyTracedCalls(t *testing.T) {
	a, ok := archs[runtime.GOARCH]
	if !ok {
		t.Skip("no tracer for " + runtime.GOARCH)
	}
	prog := a.filter()
	for nr := range a.calls {
		if got := runFilter(t, prog, a.audit, nr); got != seccompRetUserNotif {
			t.Errorf("traced call %d: %#x, want the notification", nr, got)
		}
		if got := runFilter(t, prog, 0x40000003, nr); got != seccompRetAllow { // AUDIT_ARCH_I386
			t.Errorf("call %d of another architecture: %#x, want allow", nr, got)
		}
	}
	for _, nr := range []uint32{0, 1, 3, 59, 231} { // read write close execve exit_group (amd64 numbers)
		if _, traced := a.calls[nr]; traced {
			continue
		}
		if got := runFilter(t, prog, a.audit, nr); got != seccompRetAllow {
			t.Errorf("untraced call %d: %#x, want allow", nr, got)
		}
	}
}
