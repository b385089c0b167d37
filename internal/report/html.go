package report

import (
	_ "embed"
	"encoding/json"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The page's style and script, inlined into every report: the file must
// work offline and alone, e.g. as a CI artifact opened from a download.
var (
	//go:embed html/report.css
	reportCSS string
	//go:embed html/report.js
	reportJS string
)

// WriteHTML writes the record as one self-contained HTML page: the data
// as JSON in a script element, rendered by the inline script, so the
// page's one source of truth is the same record `suite report` reads.
func WriteHTML(w io.Writer, rec *Record) error {
	data, err := json.Marshal(rec) // escapes <, > and &: safe inside <script>
	if err != nil {
		return err
	}
	title := "suite report"
	if rec.Suite != "" {
		title = "suite " + rec.Suite + " report"
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	// No request may leave the page: not even for a favicon.
	b.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n")
	b.WriteString("<link rel=\"icon\" href=\"data:,\">\n")
	b.WriteString("<title>" + html.EscapeString(title) + "</title>\n<style>\n" + reportCSS + "</style>\n</head>\n<body>\n")
	b.WriteString("<noscript><p>This report is drawn by its inline script; enable JavaScript to read it.</p></noscript>\n")
	b.WriteString("<main id=\"report\"></main>\n")
	b.WriteString("<script id=\"suite-data\" type=\"application/json\">")
	b.Write(data)
	b.WriteString("</script>\n<script>\n" + reportJS + "</script>\n</body>\n</html>\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// WriteHTMLFile writes the page to path, creating its folder; readable by
// all, as a report is made to be shared.
func WriteHTMLFile(path string, rec *Record) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	if err := WriteHTML(&b, rec); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
