package action

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Explain says, in words, what differs between two keys' manifests: old is
// the key of the last cached pass, cur the key of the last run. It returns
// nil when they are the same key.
func Explain(old, cur Manifest) []string {
	if old.Key == cur.Key {
		return nil
	}
	var out []string
	diffMaps("input file", old.Inputs, cur.Inputs, &out)
	diffMaps("env", old.Env, cur.Env, &out)
	diffMaps("tool", old.Tools, cur.Tools, &out)
	diffEnvs(old.Envs, cur.Envs, &out)
	if strings.Join(old.Argv, "\x00") != strings.Join(cur.Argv, "\x00") {
		n := max(len(old.Argv), len(cur.Argv))
		for i := 0; i < n; i++ {
			o, c := at(old.Argv, i), at(cur.Argv, i)
			if o != c {
				out = append(out, fmt.Sprintf("argv[%d] changed: %s -> %s", i, o, c))
			}
		}
	}
	if stripEnvs(old.Salt) != stripEnvs(cur.Salt) {
		out = append(out, fmt.Sprintf("settings changed (host OS or CPU, network mode, skip exit codes or suite version): %s -> %s", old.Salt, cur.Salt))
	}
	if len(out) == 0 {
		out = append(out, "the platform or output paths changed (remote_exec_properties, --remote-exec-property or suite version)")
	}
	return out
}

func at(xs []string, i int) string {
	if i < len(xs) {
		return fmt.Sprintf("%q", xs[i])
	}
	return "(none)"
}

func diffMaps(what string, old, cur map[string]string, out *[]string) {
	for _, k := range unionKeys(old, cur) {
		o, inOld := old[k]
		c, inCur := cur[k]
		switch {
		case !inOld:
			*out = append(*out, fmt.Sprintf("%s added: %s", what, k))
		case !inCur:
			*out = append(*out, fmt.Sprintf("%s removed: %s", what, k))
		case o != c:
			*out = append(*out, fmt.Sprintf("%s changed: %s (%s)", what, k, change(what, o, c)))
		}
	}
}

// change describes one value's change without dumping digests at the user
// unless that is all there is.
func change(what, o, c string) string {
	switch what {
	case "env":
		return fmt.Sprintf("%q -> %q", o, c)
	case "input file":
		const link = "symlink -> "
		if strings.HasPrefix(o, link) || strings.HasPrefix(c, link) {
			return describeLinkChange(strings.TrimPrefix(o, link), strings.HasPrefix(o, link), strings.TrimPrefix(c, link), strings.HasPrefix(c, link))
		}
		ox, cx := strings.HasSuffix(o, " +x"), strings.HasSuffix(c, " +x")
		if ox != cx && strings.TrimSuffix(o, " +x") == strings.TrimSuffix(c, " +x") {
			if cx {
				return "became executable"
			}
			return "no longer executable"
		}
		return "content"
	}
	return fmt.Sprintf("%s -> %s", o, c)
}

// describeLinkChange says how a symlink input changed: where it points, or
// that it became (or stopped being) a symlink.
func describeLinkChange(o string, oLink bool, c string, cLink bool) string {
	switch {
	case oLink && cLink:
		return fmt.Sprintf("symlink now points to %s, was %s", c, o)
	case cLink:
		return "became a symlink to " + c
	}
	return "no longer a symlink (was to " + o + ")"
}

// stripEnvs leaves out of a salt the environments' digest, which diffEnvs
// explains package by package.
func stripEnvs(salt string) string {
	s, _, _ := strings.Cut(salt, ";environments=")
	return s
}

// diffEnvs names each installed package that was added, removed, or
// changed version or files, with the environment it is in.
func diffEnvs(old, cur map[string]string, out *[]string) {
	for _, k := range unionKeys(old, cur) {
		env, pkg, _ := strings.Cut(k, "\x00")
		o, inOld := old[k]
		c, inCur := cur[k]
		ov, _, _ := strings.Cut(o, " ")
		cv, _, _ := strings.Cut(c, " ")
		switch {
		case !inOld:
			*out = append(*out, fmt.Sprintf("installed package added: %s %s (%s)", pkg, cv, env))
		case !inCur:
			*out = append(*out, fmt.Sprintf("installed package removed: %s %s (%s)", pkg, ov, env))
		case ov != cv:
			*out = append(*out, fmt.Sprintf("installed package changed: %s %s -> %s (%s)", pkg, ov, cv, env))
		case o != c:
			*out = append(*out, fmt.Sprintf("installed package changed: %s %s, same version, other installed files (%s)", pkg, ov, env))
		}
	}
}

// unionKeys returns the keys of both maps, sorted.
func unionKeys(old, cur map[string]string) []string {
	keys := make(map[string]string, len(old)+len(cur))
	maps.Copy(keys, old)
	maps.Copy(keys, cur)
	return slices.Sorted(maps.Keys(keys))
}
