package rules

// Built-ins that tell the standard rules about installed environments and
// JavaScript workspaces; the analysis is in internal/lang/python and
// internal/lang/node.

import (
	"path"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/suite-run/suite/internal/lang/node"
	"github.com/suite-run/suite/internal/lang/python"
)

// fromPkg is a workspace-relative path as seen from package pkg's folder,
// for argv ("../../.venv/bin/python").
func fromPkg(pkg, rel string) string {
	if pkg == "" {
		return rel
	}
	up := strings.Repeat("../", strings.Count(pkg, "/")+1)
	return path.Clean(up + rel)
}

// python_venv() returns the project virtualenv nearest to the calling
// package (.venv or venv holding pyvenv.cfg, here or above) as
// struct(python = its interpreter relative to the package, for argv,
// environment = "python://…" for test(environments)), or None.
func pythonVenvFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, t, err := pkgTreeNoArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	venv := python.FindVenv(p.pkg, t.isFile)
	if venv == "" {
		return starlark.None, nil
	}
	interp := venv + "/bin/python"
	return starlarkstruct.FromStringDict(starlark.String("python_venv"), starlark.StringDict{
		"dir":         starlark.String(venv),
		"python":      starlark.String(fromPkg(p.pkg, interp)),
		"environment": starlark.String("python://" + interp),
	}), nil
}

// treeFiles adapts a sourceTree to node.Files.
type treeFiles struct{ t *sourceTree }

func (f treeFiles) ReadFile(rel string) ([]byte, error) {
	if !f.t.isFile(rel) {
		return nil, errNotFile
	}
	return f.t.read(rel)
}

func (f treeFiles) IsFile(rel string) bool { return f.t.isFile(rel) }

func (f treeFiles) Dirs(rel string) []string {
	var out []string
	for _, e := range f.t.list(rel) {
		if e.isDir {
			out = append(out, e.name)
		}
	}
	return out
}

type notFileError struct{}

func (notFileError) Error() string { return "not a file" }

var errNotFile = notFileError{}

// node_workspace() reads the JavaScript project whose package.json is in
// the calling package: struct(manager, lockfile, packages = [struct(dir,
// cd, name, test, deps, marks)]), where dir and deps are "//"-rooted
// folders, cd is dir relative to the package (for argv), test is the
// package's test script ("" for none) and marks come from package.json's
// "suite": {"marks": [...]}. None when there is no package.json.
func nodeWorkspaceFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, t, err := pkgTreeNoArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	if !t.isFile(path.Join(p.pkg, "package.json")) {
		return starlark.None, nil
	}
	ws, err := node.ReadWorkspace(treeFiles{t}, p.pkg)
	if err != nil {
		return nil, userError(thread, "%s: %v", b.Name(), err)
	}
	var pkgs []starlark.Value
	for _, pk := range ws.Packages {
		var deps []string
		for _, d := range pk.WorkspaceDeps {
			deps = append(deps, "//"+d)
		}
		cd := "."
		if pk.Dir != p.pkg {
			cd = strings.TrimPrefix(strings.TrimPrefix(pk.Dir, p.pkg), "/")
		}
		pkgs = append(pkgs, starlarkstruct.FromStringDict(starlark.String("node_package"), starlark.StringDict{
			"dir":   starlark.String("//" + pk.Dir),
			"cd":    starlark.String(cd),
			"name":  starlark.String(pk.Manifest.Name),
			"test":  starlark.String(pk.Manifest.Scripts["test"]),
			"deps":  stringList(deps),
			"marks": stringList(pk.Manifest.Suite.Marks),
		}))
	}
	return starlarkstruct.FromStringDict(starlark.String("node_workspace"), starlark.StringDict{
		"manager":  starlark.String(ws.Manager),
		"lockfile": starlark.String(ws.Lockfile),
		"packages": starlark.NewList(pkgs),
	}), nil
}
