package sched

import (
	"path/filepath"
	"testing"
	"time"
)

// Each test's recent results are bounded to RecentRuns, oldest dropped
// first, and survive a save and a load; an interrupted test records none.
func TestHistoryRecentBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.json")
	h := LoadHistory(path)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < RecentRuns+5; i++ {
		st := Passed
		if i%2 == 1 {
			st = Failed
		}
		h.setLast(int64(i), nil, []TestResult{
			{Label: "//a:coin", Status: st, Duration: time.Duration(i) * time.Second},
			{Label: "//a:stopped", Status: Interrupted},
		}, t0.Add(time.Duration(i)*time.Minute))
	}
	if err := h.Save(); err != nil {
		t.Fatal(err)
	}
	runs := LoadHistory(path).Recent()["//a:coin"]
	if len(runs) != RecentRuns {
		t.Fatalf("%d runs kept, want %d", len(runs), RecentRuns)
	}
	if first, last := runs[0], runs[len(runs)-1]; first.DurationS != 5 || last.DurationS != float64(RecentRuns+4) || last.Status != "passed" {
		t.Errorf("kept runs %+v .. %+v, want the last %d, oldest first", first, last, RecentRuns)
	}
	if n := len(LoadHistory(path).Recent()["//a:stopped"]); n != 0 {
		t.Errorf("an interrupted test has %d recorded runs, want 0", n)
	}

	// A test not run for longer than forgetAfter is forgotten.
	h.setLast(0, nil, []TestResult{{Label: "//a:other", Status: Passed}}, t0.Add(forgetAfter+time.Hour))
	if rs := h.Recent(); len(rs["//a:coin"]) != 0 || len(rs["//a:other"]) != 1 {
		t.Errorf("after %v without a run: %d results of //a:coin, want 0; %d of //a:other, want 1", forgetAfter, len(rs["//a:coin"]), len(rs["//a:other"]))
	}
}

// Reruns with nothing changed do not grow the history: hits in a row are
// one entry, dated by the latest; an executed result after them is new.
func TestHistoryHitsInARowAreOneEntry(t *testing.T) {
	h := LoadHistory(filepath.Join(t.TempDir(), "history.json"))
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h.setLast(0, nil, []TestResult{{Label: "//a:t", Status: Passed}}, t0)
	for i := 1; i <= 30; i++ {
		h.setLast(0, nil, []TestResult{{Label: "//a:t", Status: Passed, Cached: true}}, t0.Add(time.Duration(i)*time.Minute))
	}
	h.setLast(0, nil, []TestResult{{Label: "//a:t", Status: Failed}}, t0.Add(time.Hour))
	var got []string
	for _, r := range h.Recent()["//a:t"] {
		got = append(got, r.Status+map[bool]string{true: "/cached", false: ""}[r.Cached])
	}
	if want := []string{"passed", "passed/cached", "failed"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("recent results %v, want %v", got, want)
	}
	if when := h.Recent()["//a:t"][1].When; !when.Equal(t0.Add(30 * time.Minute)) {
		t.Errorf("the hits' entry is dated %v, want the last hit's %v", when, t0.Add(30*time.Minute))
	}
}
