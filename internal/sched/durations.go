package sched

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/statefile"
	"github.com/suite-run/suite/internal/workspace"
)

// DurationsFile is the durations file's name at the workspace root, where
// it is kept in version control beside WORKSPACE.
const DurationsFile = workspace.DurationsFile

// Durations is the durations file: how long one run of each test takes
// (the sum of its shards), by label. CI shards split the selection by it.
//
// It is a source file, not a record of this machine: `suite durations`
// refreshes it on purpose, and a run never writes it, so every CI machine
// and every rerun of a shard reads the same numbers from the same checkout.
// pytest-split's .test_durations works the same way.
type Durations struct {
	Tests map[string]float64 // label -> seconds
}

type durationsFile struct {
	Version int                `json:"version"`
	Tests   map[string]float64 `json:"tests"`
}

const durationsVersion = 1

// LoadDurations reads the durations file at path. A missing file is an
// empty one: every test weighs the same. A file that cannot be read is an
// error, since shards that disagree on it would not be a partition.
func LoadDurations(path string) (*Durations, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Durations{Tests: map[string]float64{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var f durationsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: not a durations file (%v); rewrite it with `suite durations`", path, err)
	}
	if f.Version != durationsVersion {
		return nil, fmt.Errorf("%s: durations file version %d, want %d; rewrite it with `suite durations`", path, f.Version, durationsVersion)
	}
	if f.Tests == nil {
		f.Tests = map[string]float64{}
	}
	for l, s := range f.Tests {
		if s < 0 || math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, fmt.Errorf("%s: %s: duration %v, want a number of seconds >= 0", path, l, s)
		}
	}
	return &Durations{Tests: f.Tests}, nil
}

// Get is the duration of one run of the test labelled l.
func (d *Durations) Get(l string) (time.Duration, bool) {
	if d == nil {
		return 0, false
	}
	s, ok := d.Tests[l]
	return time.Duration(s * float64(time.Second)), ok
}

// Set records the duration of one run of the test labelled l, in
// milliseconds: finer would only make the file churn.
func (d *Durations) Set(l string, v time.Duration) {
	d.Tests[l] = math.Round(v.Seconds()*1000) / 1000
}

// Save writes the file, one test per line in label order, so that a
// refresh reads well in a diff.
func (d *Durations) Save(path string) error {
	b, err := json.MarshalIndent(durationsFile{Version: durationsVersion, Tests: d.Tests}, "", "  ")
	if err != nil {
		return err
	}
	return statefile.WriteBytes(path, append(b, '\n'))
}

// TestDurations sums, per test, the recorded durations of its actions of
// the first run (--runs-per-test repeats them). A test some of whose
// shards have no recorded duration is left out.
func TestDurations(actions []*action.Action, h *History) map[string]time.Duration {
	out := map[string]time.Duration{}
	incomplete := map[string]bool{}
	for _, a := range actions {
		if a.Run > 1 {
			continue
		}
		l := a.Label.String()
		d, ok := h.Duration(a.ID())
		if !ok {
			incomplete[l] = true
			continue
		}
		out[l] += d
	}
	for l := range incomplete {
		delete(out, l)
	}
	return out
}

// EventDurations reads the test_result events of a --json file (one CI
// shard's run) and sums, per test, the durations of its shards in the
// first run. Cached results carry the duration recorded when they ran.
// Interrupted tests say nothing and are left out.
func EventDurations(path string) (map[string]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type key struct {
		label string
		shard int
	}
	seen := map[key]time.Duration{}
	bad := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var ev struct {
			Event     string  `json:"event"`
			Label     string  `json:"label"`
			Shard     int     `json:"shard"`
			Run       int     `json:"run"`
			Status    string  `json:"status"`
			DurationS float64 `json:"duration_s"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON event of `suite run --json`: %v", path, n, err)
		}
		if ev.Event != "test_result" || ev.Label == "" || ev.Run > 1 {
			continue
		}
		if ev.Status == Interrupted.String() {
			bad[ev.Label] = true
			continue
		}
		seen[key{ev.Label, ev.Shard}] = time.Duration(ev.DurationS * float64(time.Second))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	out := map[string]time.Duration{}
	for k, d := range seen {
		if !bad[k.label] {
			out[k.label] += d
		}
	}
	return out, nil
}
