package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"
)

// Attribute conversion. Each helper names the built-in and the attribute in
// its error and says what type would be right, in go.starlark.net's style.

func wantStrings(fn, attr string, v starlark.Value) ([]string, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	iter, ok := v.(starlark.Iterable)
	if !ok || isString(v) {
		return nil, fmt.Errorf("%s: %s: got %s, want list of strings", fn, attr, v.Type())
	}
	var out []string
	it := iter.Iterate()
	defer it.Done()
	var x starlark.Value
	for it.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("%s: %s: element %s is %s, want string", fn, attr, x, x.Type())
		}
		out = append(out, s)
	}
	return out, nil
}

func isString(v starlark.Value) bool {
	_, ok := v.(starlark.String)
	return ok
}

func wantStringDict(fn, attr string, v starlark.Value) (map[string]string, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	d, ok := v.(*starlark.Dict)
	if !ok {
		return nil, fmt.Errorf("%s: %s: got %s, want dict of string to string", fn, attr, v.Type())
	}
	out := make(map[string]string, d.Len())
	for _, kv := range d.Items() {
		k, ok1 := starlark.AsString(kv[0])
		val, ok2 := starlark.AsString(kv[1])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: %s: entry %s: %s is %s to %s, want string to string", fn, attr, kv[0], kv[1], kv[0].Type(), kv[1].Type())
		}
		out[k] = val
	}
	return out, nil
}

// wantDuration accepts Go duration strings ("30s", "2m", "1h30m") and
// positive numbers of seconds.
func wantDuration(fn, attr string, v starlark.Value) (time.Duration, error) {
	switch v := v.(type) {
	case nil, starlark.NoneType:
		return 0, nil
	case starlark.String:
		d, err := time.ParseDuration(string(v))
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%s: %s: %s is not a positive duration, want e.g. \"30s\", \"5m\" or \"1h\"", fn, attr, v)
		}
		return d, nil
	case starlark.Int:
		n, ok := v.Int64()
		if !ok || n <= 0 || n > 1<<31 {
			return 0, fmt.Errorf("%s: %s: %s is not a positive number of seconds", fn, attr, v)
		}
		return time.Duration(n) * time.Second, nil
	}
	return 0, fmt.Errorf("%s: %s: got %s, want duration string such as \"30s\"", fn, attr, v.Type())
}

// wantJobs accepts "auto" or a positive int.
func wantJobs(fn, attr string, v starlark.Value) (int, error) {
	switch v := v.(type) {
	case nil, starlark.NoneType:
		return JobsUnset, nil
	case starlark.String:
		if v == "auto" {
			return JobsAuto, nil
		}
	case starlark.Int:
		if n, ok := v.Int64(); ok && n > 0 && n <= 4096 {
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("%s: %s: got %s, want \"auto\" or a positive int", fn, attr, v)
}

func wantInt(fn, attr string, v starlark.Value, def, min, max int) (int, error) {
	if v == nil || v == starlark.None {
		return def, nil
	}
	i, ok := v.(starlark.Int)
	if !ok {
		return 0, fmt.Errorf("%s: %s: got %s, want int", fn, attr, v.Type())
	}
	n, ok := i.Int64()
	if !ok || n < int64(min) || n > int64(max) {
		return 0, fmt.Errorf("%s: %s: %s is out of range, want %d to %d", fn, attr, v, min, max)
	}
	return int(n), nil
}

func wantBool(fn, attr string, v starlark.Value, def bool) (bool, error) {
	if v == nil || v == starlark.None {
		return def, nil
	}
	b, ok := v.(starlark.Bool)
	if !ok {
		return false, fmt.Errorf("%s: %s: got %s, want bool (True or False)", fn, attr, v.Type())
	}
	return bool(b), nil
}

func wantString(fn, attr string, v starlark.Value) (string, error) {
	if v == nil || v == starlark.None {
		return "", nil
	}
	s, ok := starlark.AsString(v)
	if !ok {
		return "", fmt.Errorf("%s: %s: got %s, want string", fn, attr, v.Type())
	}
	return s, nil
}

func wantOneOf(fn, attr string, v starlark.Value, allowed ...string) (string, error) {
	s, err := wantString(fn, attr, v)
	if err != nil || s == "" {
		return s, err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", fmt.Errorf("%s: %s: %q is not one of %s%s", fn, attr, s, quoteList(allowed), didYouMean(s, allowed))
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// attrs unpacks keyword-only arguments by name, rejecting positional
// arguments and unknown names with a suggestion. Names ending in "?" are
// optional.
func attrs(fn string, args starlark.Tuple, kwargs []starlark.Tuple, names ...string) (map[string]starlark.Value, error) {
	known := make([]string, len(names))
	required := map[string]bool{}
	for i, n := range names {
		known[i] = strings.TrimSuffix(n, "?")
		if !strings.HasSuffix(n, "?") {
			required[known[i]] = true
		}
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("%s: got %d positional arguments, want keyword arguments only (e.g. %s = ...)", fn, len(args), known[0])
	}
	out := make(map[string]starlark.Value, len(kwargs))
	for _, kv := range kwargs {
		k := string(kv[0].(starlark.String))
		if !contains(known, k) {
			return nil, fmt.Errorf("%s: unknown attribute %q%s", fn, k, didYouMean(k, known))
		}
		out[k] = kv[1]
	}
	for _, k := range known {
		if required[k] {
			if _, ok := out[k]; !ok {
				return nil, fmt.Errorf("%s: missing attribute %q", fn, k)
			}
		}
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// didYouMean returns ` (did you mean "x"?)` for the nearest candidate within
// a small edit distance, or "".
func didYouMean(s string, candidates []string) string {
	if n := nearest(s, candidates); n != "" {
		return fmt.Sprintf(" (did you mean %q?)", n)
	}
	return ""
}

func nearest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(1, len(s)/3+1) && bestD < len(s) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
