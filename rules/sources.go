package rules

import "go.starlark.net/starlark"

// sourceBuiltins read workspace sources for the standard rules (Go
// imports, pytest marks). They are the only built-ins besides glob() and
// load() that read files, and they read only inside the workspace.
var sourceBuiltins = starlark.StringDict{}
