package python

import (
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// PackageRoots returns the folders, relative to the project's folder, in
// which the project's build configuration says its own top-level packages
// live, when that is not the folder itself: what `pip install .` would put
// on sys.path. name is the file's base name (pyproject.toml, setup.cfg or
// setup.py). It reads
//   - pyproject.toml: [tool.setuptools] package-dir, [tool.setuptools.
//     packages.find] where, [tool.hatch.build.targets.wheel] packages,
//     [tool.poetry] packages' from;
//   - setup.cfg: [options] package_dir, [options.packages.find] where;
//   - setup.py: package_dir={"": "DIR"} and find_packages("DIR") /
//     find_packages(where="DIR") written literally (setup.py is a program;
//     only literal arguments can be read without running it).
//
// A file that cannot be parsed gives no roots: the caller's defaults stand.
func PackageRoots(name string, src []byte) []string {
	var roots []string
	add := func(d string) {
		d = path.Clean(strings.TrimSpace(d))
		if d == "." || d == "" || strings.HasPrefix(d, "..") || path.IsAbs(d) {
			return
		}
		if !slices.Contains(roots, d) {
			roots = append(roots, d)
		}
	}
	// a package mapped to a folder of its own name is found in that
	// folder's parent
	addMapping := func(pkg, dir string) {
		pkg = strings.TrimSpace(pkg)
		dir = path.Clean(strings.TrimSpace(dir))
		switch {
		case pkg == "":
			add(dir)
		case !strings.Contains(pkg, ".") && path.Base(dir) == pkg:
			add(path.Dir(dir))
		}
	}
	switch path.Base(name) {
	case "pyproject.toml":
		var doc struct {
			Tool struct {
				Setuptools struct {
					PackageDir map[string]string `toml:"package-dir"`
					Packages   any               `toml:"packages"`
				} `toml:"setuptools"`
				Hatch struct {
					Build struct {
						Targets struct {
							Wheel struct {
								Packages []string `toml:"packages"`
							} `toml:"wheel"`
						} `toml:"targets"`
					} `toml:"build"`
				} `toml:"hatch"`
				Poetry struct {
					Packages []struct {
						Include string `toml:"include"`
						From    string `toml:"from"`
					} `toml:"packages"`
				} `toml:"poetry"`
			} `toml:"tool"`
		}
		if _, err := toml.Decode(string(src), &doc); err != nil {
			return nil
		}
		for pkg, dir := range doc.Tool.Setuptools.PackageDir {
			addMapping(pkg, dir)
		}
		if pk, ok := doc.Tool.Setuptools.Packages.(map[string]any); ok {
			if find, ok := pk["find"].(map[string]any); ok {
				if where, ok := find["where"].([]any); ok {
					for _, w := range where {
						if s, ok := w.(string); ok {
							add(s)
						}
					}
				}
			}
		}
		for _, p := range doc.Tool.Hatch.Build.Targets.Wheel.Packages {
			add(path.Dir(p))
		}
		for _, p := range doc.Tool.Poetry.Packages {
			if p.From != "" {
				add(p.From)
			}
		}
	case "setup.cfg":
		sections, err := ParseINI(src)
		if err != nil {
			return nil
		}
		for _, l := range strings.Split(sections["options"]["package_dir"], "\n") {
			if pkg, dir, ok := strings.Cut(l, "="); ok {
				addMapping(pkg, dir)
			}
		}
		for _, w := range strings.Fields(sections["options.packages.find"]["where"]) {
			add(w)
		}
	case "setup.py":
		text := string(src)
		for _, m := range setupPyPackageDirRe.FindAllStringSubmatch(text, -1) {
			add(m[1])
		}
		for _, m := range setupPyFindRe.FindAllStringSubmatch(text, -1) {
			add(m[1])
		}
	}
	return roots
}

var (
	setupPyPackageDirRe = regexp.MustCompile(`package_dir\s*=\s*\{\s*["']{2}\s*:\s*["']([^"']+)["']`)
	setupPyFindRe       = regexp.MustCompile(`find(?:_namespace)?_packages\(\s*(?:where\s*=\s*)?["']([^"']+)["']`)
)
