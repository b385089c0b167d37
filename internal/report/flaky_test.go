package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/suite-run/suite/internal/sched"
)

func runsOf(spark string, durs ...float64) []sched.TestRun {
	var rs []sched.TestRun
	for i, ch := range spark {
		r := sched.TestRun{}
		switch ch {
		case '.':
			r.Status = "passed"
		case 'c':
			r.Status, r.Cached = "passed", true
		case 'f':
			r.Status = "flaky"
		case 'F':
			r.Status = "failed"
		case 'T':
			r.Status = "timeout"
		case 's':
			r.Status = "skipped"
		}
		if i < len(durs) {
			r.DurationS = durs[i]
		}
		rs = append(rs, r)
	}
	return rs
}

func TestFlakiest(t *testing.T) {
	rows := Flakiest(map[string][]sched.TestRun{
		"//a:steady":  runsOf("....c"),
		"//a:broken":  runsOf("FFFF"),    // broken, not flaky
		"//a:coin":    runsOf(".F.Ts"),   // 2 of 4 (the skip says nothing)
		"//a:retried": runsOf("...f..."), // 1 of 7
		"//a:fixed":   runsOf("FF.."),
	})
	var got []string
	for _, r := range rows {
		got = append(got, r.Label+" "+r.Recent)
	}
	want := "//a:coin .F.Ts|//a:fixed FF..|//a:retried ...f..."
	if strings.Join(got, "|") != want {
		t.Fatalf("Flakiest = %q, want %q", strings.Join(got, "|"), want)
	}
	if rows[0].Rate != 0.5 || rows[0].Runs != 4 || rows[0].Bad != 2 {
		t.Errorf("coin: %+v, want rate 0.5 over 4 runs with 2 failures", rows[0])
	}
}

func TestSlower(t *testing.T) {
	rows := Slower(map[string][]sched.TestRun{
		"//a:grew":      runsOf("....", 1, 1.2, 0.9, 3),
		"//a:noise":     runsOf("....", 0.005, 0.004, 0.005, 0.015), // 3x, but 10ms
		"//a:steady":    runsOf("....", 2, 2.1, 1.9, 2.2),
		"//a:cachedhit": runsOf("...c", 1, 1, 1, 9), // a hit repeats an old duration
		"//a:young":     runsOf("..", 1, 5),         // too few runs to judge
	})
	if len(rows) != 1 || rows[0].Label != "//a:grew" || rows[0].BeforeS != 1 || rows[0].LastS != 3 {
		t.Fatalf("Slower = %+v, want only //a:grew from 1s to 3s", rows)
	}
	var b bytes.Buffer
	FlakyReport{Runs: 20, Slower: rows}.WriteText(&b)
	if !strings.Contains(b.String(), "3.0x      1.0s -> 3.0s      //a:grew") {
		t.Errorf("text report:\n%s", b.String())
	}
}
