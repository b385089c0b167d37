// Command genjs writes a synthetic JavaScript monorepo (an npm workspace)
// for benchmarking suite's npm_packages() against Turborepo: P packages,
// each with a source module, F test files of T node:test tests, and up to
// two dependencies on earlier packages, whose modules it imports.
//
//	OUT/package.json        the workspace (packages/*); turbo as a dev
//	                        dependency when -turbo
//	OUT/turbo.json          test depends on a transit task, so a package's
//	                        hash covers the packages it imports (Turborepo's
//	                        recommended set-up for source-only packages)
//	OUT/WORKSPACE, SUITES.star   npm_packages(name = "npm")
//	OUT/packages/pNNN/      package.json, src/index.js, test/*.test.js
//	OUT/packages.tsv        one line per package: name, the packages it
//	                        depends on directly (bench/js.sh reads it)
//
// The same seed writes the same bytes.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	out := flag.String("out", "", "directory to write the monorepo into (created; must be empty or missing)")
	packages := flag.Int("packages", 40, "number of packages")
	files := flag.Int("files", 2, "test files per package")
	tests := flag.Int("tests", 5, "tests per test file")
	seed := flag.Uint64("seed", 1, "seed of the dependency graph")
	turbo := flag.String("turbo", "", "turbo version to declare as a dev dependency (\"\": none)")
	manager := flag.String("package-manager", "npm@10.0.0", "the packageManager field Turborepo requires")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "genjs: -out is required")
		os.Exit(2)
	}
	if err := generate(*out, *packages, *files, *tests, *seed, *turbo, *manager); err != nil {
		fmt.Fprintln(os.Stderr, "genjs:", err)
		os.Exit(1)
	}
}

func name(i int) string { return fmt.Sprintf("p%03d", i) }

func generate(out string, packages, files, tests int, seed uint64, turbo, manager string) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	write := func(rel, data string) error {
		p := filepath.Join(out, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(data), 0o644)
	}
	root := fmt.Sprintf(`{"name": "bench-js", "private": true, "workspaces": ["packages/*"], "packageManager": %q`, manager)
	if turbo != "" {
		root += fmt.Sprintf(`, "devDependencies": {"turbo": %q}`, turbo)
	}
	root += "}\n"
	var tsv strings.Builder
	tsv.WriteString("# package\tdepends on\n")
	for i := 0; i < packages; i++ {
		var deps []string
		for k := 0; k < 2 && i > 0; k++ {
			if r.IntN(3) > 0 { // two in three packages import an earlier one
				d := name(r.IntN(i))
				if !contains(deps, d) {
					deps = append(deps, d)
				}
			}
		}
		sort.Strings(deps)
		var depJSON, imports, sum []string
		for _, d := range deps {
			depJSON = append(depJSON, fmt.Sprintf("%q: \"*\"", d))
			imports = append(imports, fmt.Sprintf("const %s = require(%q);", d, d))
			sum = append(sum, d+".value()")
		}
		n := name(i)
		pj := fmt.Sprintf(`{"name": %q, "version": "1.0.0", "main": "src/index.js", "scripts": {"test": "node --test test/"}, "dependencies": {%s}}`+"\n",
			n, strings.Join(depJSON, ", "))
		value := "1"
		if len(sum) > 0 {
			value = "1 + " + strings.Join(sum, " + ")
		}
		src := strings.Join(imports, "\n") + fmt.Sprintf("\nexports.value = () => %s;\nexports.name = %q;\n", value, n)
		if err := write("packages/"+n+"/package.json", pj); err != nil {
			return err
		}
		if err := write("packages/"+n+"/src/index.js", src); err != nil {
			return err
		}
		for f := 0; f < files; f++ {
			var b strings.Builder
			b.WriteString("const test = require(\"node:test\");\nconst assert = require(\"node:assert\");\nconst m = require(\"../src/index.js\");\n")
			for t := 0; t < tests; t++ {
				fmt.Fprintf(&b, "test(\"case %d.%d\", () => { assert.ok(m.value() >= 1); assert.strictEqual(m.name, %q); });\n", f, t, n)
			}
			if err := write(fmt.Sprintf("packages/%s/test/t%d.test.js", n, f), b.String()); err != nil {
				return err
			}
		}
		fmt.Fprintf(&tsv, "%s\t%s\n", n, strings.Join(deps, ","))
	}
	for rel, data := range map[string]string{
		"package.json": root,
		"turbo.json": `{
  "$schema": "https://turbo.build/schema.json",
  "tasks": {
    "transit": {"dependsOn": ["^transit"]},
    "test": {"dependsOn": ["transit"], "outputs": []}
  }
}
`,
		"WORKSPACE":    "workspace(name = \"bench_js\")\n",
		"SUITES.star":  "load(\"@suite//rules:node.star\", \"npm_packages\")\n\nnpm_packages(name = \"npm\")\n\nsuite(name = \"all\")\n",
		"packages.tsv": tsv.String(),
		".gitignore":   "node_modules\n.turbo\n.suite\n",
	} {
		if err := write(rel, data); err != nil {
			return err
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
