package action

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

// The no-change rerun of issue 4's target: 2,000 actions of 20 input
// files each (40,000 files), every digest already memoized.
const (
	benchActions = 2000
	benchFiles   = 20
)

func benchActionsOnDisk(b *testing.B) (root string, actions []*Action) {
	b.Helper()
	root = b.TempDir()
	for i := 0; i < benchActions; i++ {
		l := label.Label{Pkg: fmt.Sprintf("p%04d", i/5), Name: fmt.Sprintf("t%d", i%5)}
		var inputs []string
		dir := filepath.Join(root, l.Pkg, l.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < benchFiles; f++ {
			name := fmt.Sprintf("f%02d.txt", f)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(l.String()+"/"+name+"\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			inputs = append(inputs, l.Pkg+"/"+l.Name+"/"+name)
		}
		t := &rules.Test{Label: l, Cmd: []string{"sh", "-c", "cat " + l.Name + "/* >/dev/null"},
			Inputs: inputs, Shards: 1, Attempts: 1, CPUs: 1, Cache: true}
		actions = append(actions, &Action{Test: t, Label: l, Shard: 0, Shards: 1, Run: 1, Runs: 1,
			Argv: t.Cmd, Env: map[string]string{"PATH": "/usr/bin:/bin"}, Inputs: inputs,
			Timeout: time.Minute, Network: "isolated", CPUs: 1, Attempts: 1, Cacheable: true})
	}
	// A memo is trusted only once recorded 2 s after the file's last
	// change (the racy window); the files of a real checkout are older.
	time.Sleep(2100 * time.Millisecond)
	return root, actions
}

// keyAll computes every key on GOMAXPROCS workers, in full, or through
// the key memo (Keyer.Digest) as the scheduler's cache lookup does.
func keyAll(b *testing.B, k *Keyer, actions []*Action) {
	each(b, actions, func(a *Action) error { _, err := k.Key(a); return err })
}

func digestAll(b *testing.B, k *Keyer, actions []*Action) {
	each(b, actions, func(a *Action) error {
		_, full, err := k.Digest(a)
		if full != nil {
			b.Errorf("%s: key computed, not taken from the memo", a.ID())
		}
		return err
	})
}

func each(b *testing.B, actions []*Action, f func(*Action) error) {
	var wg sync.WaitGroup
	next := make(chan *Action)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range next {
				if err := f(a); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, a := range actions {
		next <- a
	}
	close(next)
	wg.Wait()
}

// BenchmarkKeysNoChange computes the keys of 2,000 actions × 20 files
// with nothing changed since the digests were memoized: a stat per file
// and the Merkle tree and Action messages, no file content read.
//
//   - warm: the digest memo in memory (a second lookup in one process);
//   - open: the digest memo loaded from its file first;
//   - memo: the keys from the key memo, loaded from its file, as a new
//     `suite run` gets them: a stat per file and a fingerprint per action.
func BenchmarkKeysNoChange(b *testing.B) {
	root, actions := benchActionsOnDisk(b)
	memo := filepath.Join(b.TempDir(), "digests")
	dc, err := workspace.OpenDigestCache(memo)
	if err != nil {
		b.Fatal(err)
	}
	keyMemo := filepath.Join(b.TempDir(), "keys")
	km := OpenKeyMemo(keyMemo)
	first := &Keyer{Root: root, WorkspaceName: "bench", Digests: dc, Memo: km}
	each(b, actions, func(a *Action) error { _, _, err := first.Digest(a); return err }) // fills the key memo
	if err := dc.Save(); err != nil {
		b.Fatal(err)
	}
	if err := km.Save(); err != nil {
		b.Fatal(err)
	}
	perAction := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchActions, "ns/action")
	}
	b.Run("warm", func(b *testing.B) {
		k := &Keyer{Root: root, WorkspaceName: "bench", Digests: dc}
		for b.Loop() {
			keyAll(b, k, actions)
		}
		perAction(b)
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			dc, err := workspace.OpenDigestCache(memo)
			if err != nil {
				b.Fatal(err)
			}
			keyAll(b, &Keyer{Root: root, WorkspaceName: "bench", Digests: dc}, actions)
		}
		perAction(b)
	})
	b.Run("memo", func(b *testing.B) {
		for b.Loop() {
			dc, err := workspace.OpenDigestCache(memo)
			if err != nil {
				b.Fatal(err)
			}
			digestAll(b, &Keyer{Root: root, WorkspaceName: "bench", Digests: dc, Memo: OpenKeyMemo(keyMemo)}, actions)
		}
		perAction(b)
	})
}
