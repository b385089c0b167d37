package lint

import "fmt"

// A Finding is one buildtools warning about a suite file.
type Finding struct {
	Path      string
	Line, Col int // 1-based; Col counts runes, as buildifier does
	Category  string
	Message   string
	URL       string // the warning's documentation
}

// String formats f like buildifier --lint=warn, with the column added:
// "path:line:col: category: message (URL)".
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s (%s)", f.Path, f.Line, f.Col, f.Category, f.Message, f.URL)
}
