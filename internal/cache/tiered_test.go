package cache

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sharedRemote is a remote cache server both clones of a workspace reach:
// a real nginx, or the gRPC stand-in for bazel-remote / BuildBuddy.
type sharedRemote struct {
	name  string
	start func(t *testing.T) (url string, kill func(), dangling func() int)
}

var sharedRemotes = []sharedRemote{
	{"nginx", func(t *testing.T) (string, func(), func() int) {
		srv := startNginx(t, nginxOptions{})
		return srv.url, srv.kill, nil
	}},
	{"grpc", func(t *testing.T) (string, func(), func() int) {
		// A small batch limit sends the 3 MiB output through ByteStream.
		f := startFakeREAPI(t, fakeOptions{instance: "main", batchLimit: 16 << 10})
		return f.url, f.server.Stop, func() int { d, _, _, _ := f.counts(); return d }
	}},
}

// Two clones of one workspace, each with its own cache directory, sharing
// one remote: what CI uploads from the first is a hit in the second, log
// bytes and all.
func TestTieredTwoClones(t *testing.T) {
	for _, sr := range sharedRemotes {
		t.Run(sr.name, func(t *testing.T) {
			url, _, dangling := sr.start(t)
			ci := NewTiered(openStore(t), openRemote(t, url, RemoteOptions{}), true)
			dev := NewTiered(openStore(t), openRemote(t, url, RemoteOptions{}), false)
			entries := []*testEntry{newTestEntry("login", 3<<20), newTestEntry("logout", 10)}
			for _, e := range entries {
				e.putLocal(t, ci)
			}
			for _, e := range entries {
				e.checkHit(t, dev)
			}
			if w := append(ci.Warnings(), dev.Warnings()...); len(w) > 0 {
				t.Errorf("warnings %q", w)
			}
			if dangling != nil && dangling() > 0 {
				t.Errorf("%d action results went up before their blobs", dangling())
			}
			// The hit filled the second clone's local store: it no
			// longer needs the remote.
			offline := NewTiered(dev.Local(), nil, false)
			for _, e := range entries {
				e.checkHit(t, offline)
			}

			// A clone that does not upload keeps its results local.
			e := newTestEntry("local-only", 10)
			e.putLocal(t, dev)
			third := NewTiered(openStore(t), openRemote(t, url, RemoteOptions{}), false)
			checkMiss(t, third, e.key)
			entries[1].checkHit(t, third)
			if w := third.Warnings(); len(w) > 0 {
				t.Errorf("warnings %q", w)
			}
		})
	}
}

// The remote dies in the middle of a run: lookups miss, writes stay local,
// the local store keeps working, and the run is told once.
func TestTieredRemoteKilledMidRun(t *testing.T) {
	for _, sr := range sharedRemotes {
		t.Run(sr.name, func(t *testing.T) {
			url, kill, _ := sr.start(t)
			ci := NewTiered(openStore(t), openRemote(t, url, RemoteOptions{Timeout: 2 * time.Second}), true)
			dev := NewTiered(openStore(t), openRemote(t, url, RemoteOptions{Timeout: 2 * time.Second}), true)
			before := newTestEntry("before", 100)
			before.putLocal(t, ci)
			before.checkHit(t, dev)
			uploaded := newTestEntry("uploaded", 100)
			uploaded.putLocal(t, ci)

			kill()

			for i := range 5 {
				checkMiss(t, dev, newTestEntry(fmt.Sprint("after", i), 1).key)
			}
			checkMiss(t, dev, uploaded.key) // on the dead remote only
			checkOneWarning(t, dev)
			t.Logf("warning: %s", dev.Warnings()[0])
			before.checkHit(t, dev)
			e := newTestEntry("new", 100)
			e.putLocal(t, dev)
			e.checkHit(t, dev)
			e.putLocal(t, ci) // uploading to the dead remote fails quietly
			checkOneWarning(t, ci)
			e.checkHit(t, ci)
			if len(dev.Warnings()) != 1 {
				t.Errorf("more warnings: %q", dev.Warnings())
			}
		})
	}
}

// A lookup the caller gives up on (Ctrl-C) says nothing about the remote.
func TestTieredCallerCancelIsNoWarning(t *testing.T) {
	f := startFakeREAPI(t, fakeOptions{delay: 300 * time.Millisecond})
	c := NewTiered(openStore(t), openRemote(t, f.url, RemoteOptions{}), false)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	e := newTestEntry("cancel", 1)
	if _, err := c.GetActionResult(ctx, e.key); !IsMiss(err) {
		t.Fatalf("got %v, want a miss", err)
	}
	if w := c.Warnings(); len(w) > 0 {
		t.Fatalf("warnings %q after the caller cancelled", w)
	}
	checkMiss(t, c, e.key) // still asks, and waits the delay out
	if w := c.Warnings(); len(w) > 0 {
		t.Fatalf("warnings %q", w)
	}
}

func TestTieredWithoutRemote(t *testing.T) {
	c := NewTiered(openStore(t), nil, true)
	e := newTestEntry("alone", 10)
	checkMiss(t, c, e.key)
	e.putLocal(t, c)
	e.checkHit(t, c)
	if w := c.Warnings(); len(w) > 0 {
		t.Errorf("warnings %q", w)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

// A remote that lets this client read but not write (a read-only token,
// an executor's cache closed to clients): the refused upload is said once,
// nothing more is uploaded, and the remote is still read.
func TestTieredWriteRefusedKeepsReading(t *testing.T) {
	for _, sr := range []struct {
		name string
		// start returns a read-write and a read-only door to one cache;
		// share makes what went in through the first visible through the
		// second.
		start func(t *testing.T) (readWrite, readOnly string, share func())
	}{
		{"nginx", func(t *testing.T) (string, string, func()) {
			rw := startNginx(t, nginxOptions{})
			ro := startNginx(t, nginxOptions{readOnly: true})
			return rw.url, ro.url, func() {
				if out, err := exec.Command("cp", "-a", rw.dataDir+"/.", ro.dataDir).CombinedOutput(); err != nil {
					t.Fatalf("cp: %v %s", err, out)
				}
			}
		}},
		{"grpc", func(t *testing.T) (string, string, func()) {
			f := startFakeREAPI(t, fakeOptions{instance: "main"})
			ro := startFakeREAPI(t, fakeOptions{instance: "main", readOnly: true})
			ro.ac, ro.cas = f.ac, f.cas // one store behind two doors, used one after the other
			return f.url, ro.url, func() {}
		}},
	} {
		t.Run(sr.name, func(t *testing.T) {
			rwURL, roURL, share := sr.start(t)
			ci := NewTiered(openStore(t), openRemote(t, rwURL, RemoteOptions{}), true)
			old := newTestEntry("uploaded-by-ci", 10)
			old.putLocal(t, ci)
			share()

			dev := NewTiered(openStore(t), openRemote(t, roURL, RemoteOptions{}), true)
			mine := newTestEntry("refused", 10)
			mine.putLocal(t, dev) // the upload is refused; the local write is not
			w := dev.Warnings()
			if len(w) != 1 || !strings.Contains(w[0], "refused a write") || !strings.Contains(w[0], "still read") {
				t.Fatalf("warnings %q, want one saying writes are refused and reads go on", w)
			}
			old.checkHit(t, dev) // still read
			mine.checkHit(t, dev)
			if w := dev.Warnings(); len(w) != 1 {
				t.Errorf("warnings %q after more use, want the one", w)
			}
		})
	}
}
