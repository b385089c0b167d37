package python

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// installedFilesDigest digests the content of every file a distribution's
// RECORD lists (paths relative to the folder holding its .dist-info), each
// through the digest memo, so only files whose stat changed are read. It
// sees what the record alone does not: a file edited in place.
func (p *Prober) installedFilesDigest(siteDir, record string) (string, error) {
	f, err := os.Open(record)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return "", fmt.Errorf("%s: %v", record, err)
	}
	var paths []string
	for _, row := range rows {
		if len(row) > 0 && row[0] != "" {
			paths = append(paths, row[0])
		}
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, rel := range paths {
		abs := rel
		if !filepath.IsAbs(rel) {
			abs = filepath.Join(siteDir, filepath.FromSlash(rel))
		}
		d, err := p.Digests.Digest(abs)
		if err != nil {
			fmt.Fprintf(h, "%s missing\n", rel) // e.g. a .pyc not written yet
			continue
		}
		fmt.Fprintf(h, "%s %s\n", rel, d.Hash)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
