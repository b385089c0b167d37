package python

// The sys.path of an interpreter is asked of the interpreter, which costs
// a process start (20 ms, far more on a loaded machine): more than the
// rest of a no-change rerun. It is remembered across runs, with the stats
// of everything that decides it: the interpreter, pyvenv.cfg, and each
// folder on the path (a .pth file added to site-packages changes its
// folder's mtime). Only answers whose files had not changed for the racy
// window when asked are kept, as for digests.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/suite-run/suite/internal/statefile"
	"github.com/suite-run/suite/internal/workspace"
)

const probeMemoMagic = "suite-python-probes-1\n"

type probeMemoEntry struct {
	Info  probeInfo         `json:"info"`
	Stats map[string]string `json:"stats"` // path -> stat identity
}

// statIdentity is what tells, without reading, whether a file or folder
// changed; "" when it does not exist. changed is its last change (ns).
func statIdentity(p string) (id string, changed int64) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return "", 0
	}
	m, c := st.Mtim.Nano(), st.Ctim.Nano()
	return fmt.Sprintf("%d/%d/%d/%d", st.Size, m, c, st.Ino), max(m, c)
}

// dependsOn lists what an interpreter's answer depends on.
func dependsOn(interp string, info probeInfo) []string {
	paths := []string{interp, filepath.Join(filepath.Dir(filepath.Dir(interp)), "pyvenv.cfg")}
	if real, err := filepath.EvalSymlinks(interp); err == nil {
		paths = append(paths, real)
	}
	for _, d := range info.Path {
		if filepath.IsAbs(d) {
			paths = append(paths, d)
		}
	}
	return paths
}

func (p *Prober) loadMemo() {
	p.memoOnce.Do(func() {
		p.memo = map[string]probeMemoEntry{}
		if p.MemoPath == "" {
			return
		}
		if body, err := statefile.ReadSealed(p.MemoPath, probeMemoMagic); err == nil {
			json.Unmarshal(body, &p.memo)
		}
	})
}

// remembered returns the memo's answer for id when nothing it depends on
// changed.
func (p *Prober) remembered(id, interp string) (probeInfo, bool) {
	p.loadMemo()
	p.mu.Lock()
	e, ok := p.memo[id]
	p.mu.Unlock()
	if !ok {
		return probeInfo{}, false
	}
	for path, want := range e.Stats {
		if got, _ := statIdentity(path); got != want {
			return probeInfo{}, false
		}
	}
	return e.Info, true
}

// remember records an answer taken at recorded (Unix ns) when what it
// depends on is old enough to trust, and writes the memo.
func (p *Prober) remember(id, interp string, info probeInfo, recorded int64) {
	if p.MemoPath == "" {
		return
	}
	e := probeMemoEntry{Info: info, Stats: map[string]string{}}
	for _, path := range dependsOn(interp, info) {
		st, changed := statIdentity(path)
		if !workspace.Trustworthy(recorded, changed) {
			return
		}
		e.Stats[path] = st
	}
	p.mu.Lock()
	p.memo[id] = e
	body, err := json.Marshal(p.memo)
	p.mu.Unlock()
	if err == nil {
		statefile.WriteSealed(p.MemoPath, probeMemoMagic, body) // a lost memo costs a probe
	}
}

func nowNano() int64 { return time.Now().UnixNano() }
