package cache

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
)

// The test binary doubles as a second suite process: with workerEnv set it
// runs one worker role against the cache dir in dirEnv and exits.
const (
	workerEnv = "SUITE_CACHE_TEST_WORKER"
	dirEnv    = "SUITE_CACHE_TEST_DIR"
	argEnv    = "SUITE_CACHE_TEST_ARG"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(workerEnv); role != "" {
		os.Exit(runWorker(role, os.Getenv(dirEnv), os.Getenv(argEnv)))
	}
	os.Exit(m.Run())
}

func runWorker(role, dir, arg string) int {
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch role {
	case "hammer":
		id, _ := strconv.Atoi(arg)
		if err := hammer(s, id, 200); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "putfile":
		// Blocks reading a FIFO the parent never closes, holding a temp
		// file, until the parent kills it.
		s.PutFile(arg)
	case "full":
		big := bytes.Repeat([]byte("x"), 64<<10)
		src := filepath.Join(filepath.Dir(dir), "big-output")
		if err := os.WriteFile(src, big, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		// A file size limit makes every write past 4 KiB fail with EFBIG,
		// as a full disk fails with ENOSPC.
		lim := syscall.Rlimit{Cur: 4096, Max: 4096}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			return 2
		}
		if _, err := s.PutBlob(big); err == nil {
			fmt.Fprintln(os.Stderr, "PutBlob of 64 KiB succeeded under a 4 KiB limit")
			return 1
		}
		if _, err := s.PutFile(src); err == nil {
			fmt.Fprintln(os.Stderr, "PutFile of 64 KiB succeeded under a 4 KiB limit")
			return 1
		}
		if err := s.PutActionResult(hammerKey(0), &repb.ActionResult{StdoutRaw: big}); err == nil {
			fmt.Fprintln(os.Stderr, "PutActionResult of 64 KiB succeeded under a 4 KiB limit")
			return 1
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown role", role)
		return 2
	}
	return 0
}

func hammerKey(i int) string { return actionKey(fmt.Sprintf("shared %d", i)) }

// hammer writes and reads a few shared keys, each write a self-consistent
// result from writer id. Whatever interleaving of writers, a reader must see
// either no entry or one whose log blob is there and agrees with it.
func hammer(s *Store, id, rounds int) error {
	for round := range rounds {
		key := hammerKey(round % 4)
		log := []byte(strings.Repeat(fmt.Sprintf("writer %d round %d\n", id, round), 1+round%50))
		d, err := s.PutBlob(log)
		if err != nil {
			return err
		}
		r := &repb.ActionResult{
			ExitCode:     int32(id*100000 + round),
			StdoutDigest: d,
			StdoutRaw:    log,
		}
		if err := s.PutActionResult(key, r); err != nil {
			return err
		}
		for i := range 4 {
			if err := checkHammered(s, hammerKey(i)); err != nil {
				return fmt.Errorf("writer %d round %d: %v", id, round, err)
			}
		}
	}
	return nil
}

func checkHammered(s *Store, key string) error {
	r, err := s.GetActionResult(key)
	if IsMiss(err) {
		if err.(*MissError).Reason != ReasonNotFound {
			return err
		}
		return nil // not written yet
	}
	if err != nil {
		return err
	}
	log, err := s.GetBlob(r.StdoutDigest)
	if err != nil {
		return fmt.Errorf("entry %s: log: %v", key, err)
	}
	if !bytes.Equal(log, r.StdoutRaw) {
		return fmt.Errorf("entry %s: log does not match the entry", key)
	}
	id, round := r.ExitCode/100000, r.ExitCode%100000
	if !bytes.HasPrefix(log, fmt.Appendf(nil, "writer %d round %d\n", id, round)) {
		return fmt.Errorf("entry %s: log of another write", key)
	}
	return nil
}

func TestConcurrentGoroutines(t *testing.T) {
	s := openStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for id := range 16 {
		wg.Go(func() {
			// Each goroutine its own Store, as in separate runs.
			own, err := Open(s.Dir())
			if err == nil {
				err = hammer(own, id, 100)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func worker(t *testing.T, dir, role, arg string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+role, dirEnv+"="+dir, argEnv+"="+arg)
	return cmd
}

func TestConcurrentProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for id := range 6 {
		cmd := worker(t, dir, "hammer", strconv.Itoa(id))
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	// This process reads while they write.
	s, err := Open(dir)
	for err != nil { // the workers may be mid-way through creating the layout
		time.Sleep(10 * time.Millisecond)
		s, err = Open(dir)
	}
	done := make(chan struct{})
	go func() {
		for i := range cmds {
			cmds[i].Wait()
		}
		close(done)
	}()
	reads := 0
	for {
		select {
		case <-done:
		default:
			for i := range 4 {
				if err := checkHammered(s, hammerKey(i)); err != nil {
					t.Error(err)
				}
			}
			reads++
			continue
		}
		break
	}
	for i, cmd := range cmds {
		if !cmd.ProcessState.Success() {
			t.Errorf("worker %d: %v\n%s", i, cmd.ProcessState, outs[i])
		}
	}
	for i := range 4 {
		if _, err := s.GetActionResult(hammerKey(i)); err != nil {
			t.Errorf("key %d after all writers: %v", i, err)
		}
	}
	t.Logf("%d concurrent read rounds", reads)
}

func TestWriterKilledMidWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "output")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	cmd := worker(t, dir, "putfile", fifo)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(bytes.Repeat([]byte("partial output\n"), 1000))

	// Wait until the writer holds a temp file with data in it, then kill it.
	temp := ""
	for deadline := time.Now().Add(10 * time.Second); temp == "" && time.Now().Before(deadline); {
		names, _ := filepath.Glob(filepath.Join(dir, casDir, tempPrefix+"*"))
		for _, n := range names {
			if fi, err := os.Stat(n); err == nil && fi.Size() > 0 {
				temp = n
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if temp == "" {
		t.Fatal("the writer never wrote a temp file")
	}
	if st, _ := s.Stats(); st.Blobs != 0 {
		t.Fatalf("a half-written blob counts as a blob: %+v", st)
	}
	s.now = func() time.Time { return time.Now().Add(staleTempAge + time.Minute) }
	if err := s.MaybeTrim(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(temp); !os.IsNotExist(err) {
		t.Fatalf("stale temp file survived MaybeTrim: %v", err)
	}
}

func TestFullDiskIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	out, err := worker(t, dir, "full", "").CombinedOutput()
	if err != nil {
		t.Fatalf("worker: %v\n%s", err, out)
	}
	s, _ := Open(dir)
	_, err = s.GetActionResult(hammerKey(0))
	wantMiss(t, err, ReasonNotFound)
	s.now = func() time.Time { return time.Now().Add(2 * staleTempAge) }
	if n, _, _ := s.Trim(TrimPolicy{}); n != 0 {
		t.Errorf("a failed write left %d temp files behind", n)
	}
}
