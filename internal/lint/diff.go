package lint

import (
	"bytes"
	"fmt"
	"strings"
)

// diffContext is the number of unchanged lines shown around each change, as diff -u does.
const diffContext = 3

// maxDiffCells bounds the LCS table (old lines × new lines left after trimming the common
// head and tail). Formatting changes of files this large are shown as one replaced block
// rather than risking hundreds of megabytes for a minimal diff; SUITES.star files are far
// smaller than the 6,000 × 6,000 lines this allows.
const maxDiffCells = 6000 * 6000

// Diff returns a unified diff (diff -u, 3 lines of context) that turns old into new, with
// the headers "--- path.orig" and "+++ path", as gofmt -d writes them, so that
// `patch -p0` applies it to path. It returns "" when old and new are equal.
func Diff(path string, old, new []byte) string {
	if bytes.Equal(old, new) {
		return ""
	}
	ops := lineDiff(splitLines(old), splitLines(new))

	var out strings.Builder
	fmt.Fprintf(&out, "--- %s.orig\n+++ %s\n", path, path)
	// oldLine and newLine count the lines consumed before ops[i].
	oldLine, newLine := 0, 0
	for i := 0; i < len(ops); {
		// Find the next change and the end of its hunk: the hunk goes on while the gap
		// to the next change is short enough that the two contexts would touch.
		next := i
		for next < len(ops) && ops[next].kind == ' ' {
			next++
		}
		if next == len(ops) {
			break
		}
		start := max(i, next-diffContext)
		end := next
		for {
			for end < len(ops) && ops[end].kind != ' ' {
				end++
			}
			gap := end
			for gap < len(ops) && ops[gap].kind == ' ' {
				gap++
			}
			if gap == len(ops) || gap-end > 2*diffContext {
				end = min(end+diffContext, len(ops))
				break
			}
			end = gap
		}
		// Lines consumed between i and the start of the hunk are unchanged.
		oldLine += start - i
		newLine += start - i
		oldCount, newCount := 0, 0
		for _, op := range ops[start:end] {
			if op.kind != '+' {
				oldCount++
			}
			if op.kind != '-' {
				newCount++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(oldLine, oldCount), hunkRange(newLine, newCount))
		for _, op := range ops[start:end] {
			out.WriteByte(op.kind)
			out.WriteString(op.line)
			if !strings.HasSuffix(op.line, "\n") {
				out.WriteString("\n\\ No newline at end of file\n")
			}
		}
		oldLine += oldCount
		newLine += newCount
		i = end
	}
	return out.String()
}

// hunkRange formats one side of a hunk header: "first,count", with ",count" left out for a
// single line and, for an empty side, first being the line before the hunk (diff -u's way).
func hunkRange(before, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", before)
	case 1:
		return fmt.Sprintf("%d", before+1)
	}
	return fmt.Sprintf("%d,%d", before+1, count)
}

// splitLines splits b into lines, each keeping its "\n"; only the last may lack one.
func splitLines(b []byte) []string {
	var lines []string
	for len(b) > 0 {
		n := bytes.IndexByte(b, '\n') + 1
		if n == 0 {
			n = len(b)
		}
		lines = append(lines, string(b[:n]))
		b = b[n:]
	}
	return lines
}

// diffOp is one line of an edit script: kind ' ' keeps it, '-' deletes it, '+' inserts it.
type diffOp struct {
	kind byte
	line string
}

// lineDiff returns an edit script from a to b with a longest common subsequence of lines
// kept, deletions before insertions within a change.
func lineDiff(a, b []string) []diffOp {
	var ops []diffOp
	// The common head and tail are kept as they are; only the middle needs the LCS table.
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		ops = append(ops, diffOp{' ', a[head]})
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	ma, mb := a[head:len(a)-tail], b[head:len(b)-tail]
	n, m := len(ma), len(mb)

	if n*m > maxDiffCells {
		for _, l := range ma {
			ops = append(ops, diffOp{'-', l})
		}
		for _, l := range mb {
			ops = append(ops, diffOp{'+', l})
		}
	} else {
		// lcs[i*(m+1)+j] is the length of the LCS of ma[i:] and mb[j:].
		w := m + 1
		lcs := make([]int32, (n+1)*w)
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				ops = append(ops, diffOp{' ', ma[i]})
				i++
				j++
			case j == m || (i < n && lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				ops = append(ops, diffOp{'-', ma[i]})
				i++
			default:
				ops = append(ops, diffOp{'+', mb[j]})
				j++
			}
		}
	}
	for _, l := range a[len(a)-tail:] {
		ops = append(ops, diffOp{' ', l})
	}
	return ops
}
