package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/suite-run/suite/internal/sched"
)

// FlakyRow is a test that flipped between passing and failing over its
// recent runs, or passed only after a retry.
type FlakyRow struct {
	Label string `json:"label"`
	Runs  int    `json:"runs"`  // recent runs considered (cached passes included)
	Flaky int    `json:"flaky"` // passed after failing, within a run
	Bad   int    `json:"failed"`
	// Rate is the share of the runs that were not clean passes.
	Rate        float64 `json:"rate"`
	Recent      string  `json:"recent"`
	Quarantined bool    `json:"quarantined"` // in its last run
}

// SlowerRow is a test whose last executed run took markedly longer than
// it used to.
type SlowerRow struct {
	Label   string  `json:"label"`
	BeforeS float64 `json:"before_s"` // median of the earlier executed runs
	LastS   float64 `json:"last_s"`
	Factor  float64 `json:"factor"`
}

// A duration "grew markedly" when the last executed run took at least
// slowerFactor times the median of the earlier ones and at least
// slowerMin more: a factor alone would flag a 5ms test taking 12ms, the
// noise of a busy machine.
const (
	slowerFactor = 1.5
	slowerMin    = 250 * time.Millisecond
	slowerRuns   = 2 // earlier executed runs needed for a median worth comparing with
)

// sparkLetter is one run in a test's recent results.
func sparkLetter(r sched.TestRun) byte {
	switch r.Status {
	case "passed":
		if r.Cached {
			return 'c'
		}
		return '.'
	case "flaky":
		return 'f'
	case "failed":
		return 'F'
	case "timeout":
		return 'T'
	case "skipped":
		return 's'
	}
	return '?'
}

// SparkLegend explains Sparkline's letters.
const SparkLegend = ". passed, c cached, f flaky, F failed, T timed out, s skipped; oldest first"

// Sparkline writes recent results as one letter per run, oldest first.
func Sparkline(runs []sched.TestRun) string {
	b := make([]byte, len(runs))
	for i, r := range runs {
		b[i] = sparkLetter(r)
	}
	return string(b)
}

// Flakiest lists the tests that were flaky, or both passed and failed,
// over their recent runs, highest rate first. A test that failed every
// time is broken, not flaky, and is not listed.
func Flakiest(recent map[string][]sched.TestRun) []FlakyRow {
	var rows []FlakyRow
	for label, runs := range recent {
		row := FlakyRow{Label: label, Recent: Sparkline(runs)}
		good := 0
		for _, r := range runs {
			switch r.Status {
			case "passed":
				good++
			case "flaky":
				row.Flaky++
			case "failed", "timeout":
				row.Bad++
			default:
				continue // a skip says nothing either way
			}
			row.Runs++
		}
		if row.Flaky == 0 && (row.Bad == 0 || good == 0) {
			continue
		}
		row.Rate = float64(row.Flaky+row.Bad) / float64(row.Runs)
		row.Quarantined = len(runs) > 0 && runs[len(runs)-1].Quarantined
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Rate != rows[j].Rate {
			return rows[i].Rate > rows[j].Rate
		}
		return rows[i].Label < rows[j].Label
	})
	return rows
}

// Slower lists the tests whose last executed run took markedly longer
// than the median of their earlier executed runs, most grown first.
// Cached results repeat an old duration and failed runs may stop early,
// so only executed passes count.
func Slower(recent map[string][]sched.TestRun) []SlowerRow {
	var rows []SlowerRow
	for label, runs := range recent {
		var ds []float64
		for _, r := range runs {
			if !r.Cached && (r.Status == "passed" || r.Status == "flaky") {
				ds = append(ds, r.DurationS)
			}
		}
		if len(ds) < slowerRuns+1 {
			continue
		}
		last := ds[len(ds)-1]
		before := median(ds[:len(ds)-1])
		if last < before*slowerFactor || last-before < slowerMin.Seconds() {
			continue
		}
		f := last / max(before, 1e-3)
		rows = append(rows, SlowerRow{Label: label, BeforeS: before, LastS: last, Factor: f})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Factor != rows[j].Factor {
			return rows[i].Factor > rows[j].Factor
		}
		return rows[i].Label < rows[j].Label
	})
	return rows
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// FlakyReport is what `suite flaky` prints: the flakiest tests and the
// tests that got slower, from the workspace's history.
type FlakyReport struct {
	Runs   int         `json:"window"` // the most recent results kept per test
	Flaky  []FlakyRow  `json:"flaky"`
	Slower []SlowerRow `json:"slower"`
}

// NewFlakyReport analyses a history.
func NewFlakyReport(h *sched.History) FlakyReport {
	recent := h.Recent()
	return FlakyReport{Runs: sched.RecentRuns, Flaky: Flakiest(recent), Slower: Slower(recent)}
}

// WriteJSON writes the report as one JSON document.
func (f FlakyReport) WriteJSON(w io.Writer) error {
	if f.Flaky == nil {
		f.Flaky = []FlakyRow{}
	}
	if f.Slower == nil {
		f.Slower = []SlowerRow{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// WriteText writes the report as tables for a terminal.
func (f FlakyReport) WriteText(w io.Writer) {
	if len(f.Flaky) == 0 {
		fmt.Fprintf(w, "No flaky test in the last %d runs of each test.\n", f.Runs)
	} else {
		fmt.Fprintf(w, "Flakiest tests (last %d runs of each; %s):\n", f.Runs, SparkLegend)
		fmt.Fprintf(w, "  %5s  %5s  %6s  %-20s  %s\n", "RATE", "FLAKY", "FAILED", "RECENT", "TEST")
		for _, r := range f.Flaky {
			q := ""
			if r.Quarantined {
				q = "  (quarantined)"
			}
			fmt.Fprintf(w, "  %4.0f%%  %5d  %6d  %-20s  %s%s\n", r.Rate*100, r.Flaky, r.Bad, r.Recent, r.Label, q)
		}
	}
	if len(f.Slower) > 0 {
		fmt.Fprintln(w, "\nTests that got slower (last executed pass against the median before it):")
		for _, r := range f.Slower {
			fmt.Fprintf(w, "  %5.1fx  %8s -> %-8s  %s\n", r.Factor, formatDuration(secs(r.BeforeS)), formatDuration(secs(r.LastS)), r.Label)
		}
	}
}

// WriteSuggest lists the flaky tests not yet quarantined, as the
// workspace() option that would quarantine them.
func (f FlakyReport) WriteSuggest(w io.Writer) {
	var labels []string
	for _, r := range f.Flaky {
		if !r.Quarantined {
			labels = append(labels, r.Label)
		}
	}
	if len(labels) == 0 {
		fmt.Fprintln(w, "No test to quarantine: no flaky test outside quarantine in the history.")
		return
	}
	fmt.Fprintf(w, "Candidates for quarantine (flaky in their last %d runs), for workspace() in WORKSPACE:\n", f.Runs)
	fmt.Fprintln(w, "    quarantine = [")
	for _, l := range labels {
		fmt.Fprintf(w, "        %q,\n", l)
	}
	fmt.Fprintln(w, "    ],")
	fmt.Fprintln(w, "(or give a test the registered mark \"quarantine\"); quarantined tests run and are reported, but do not fail the run.")
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
