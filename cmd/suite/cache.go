package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cache"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

// cacheDir is the workspace's cache_dir, else $XDG_CACHE_HOME/suite, else
// ~/.cache/suite. A relative cache_dir is relative to the workspace root.
func cacheDir(g *rules.Graph) (string, error) {
	if d := g.Config.CacheDir; d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join(g.Root, d)
		}
		return d, nil
	}
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "suite"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set cache_dir in WORKSPACE or XDG_CACHE_HOME")
	}
	return filepath.Join(home, ".cache", "suite"), nil
}

// results is everything a command needs to compute keys and read results.
type results struct {
	store   *cache.Store
	digests *workspace.DigestCache
	keys    *action.KeyMemo
	keyer   *action.Keyer
	index   *sched.KeyIndex
}

func (s *session) openResults(execProps ...string) (*results, error) {
	dir, err := cacheDir(s.graph)
	if err != nil {
		return nil, err
	}
	store, err := cache.Open(dir)
	if err != nil {
		return nil, err
	}
	// The digest and key memos are per workspace, so two workspaces
	// sharing a cache directory do not overwrite each other's.
	sum := sha256.Sum256([]byte(s.graph.Root))
	ws := hex.EncodeToString(sum[:8])
	digests, err := workspace.OpenDigestCache(filepath.Join(dir, "digests", ws))
	if err != nil {
		return nil, err
	}
	keys := action.OpenKeyMemo(filepath.Join(dir, "keys", ws))
	platform := map[string]string{}
	for k, v := range s.graph.Config.RemoteExecProperties {
		platform[k] = v
	}
	for _, kv := range execProps {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, invalid("--remote-exec-property %q: want KEY=VALUE", kv)
		}
		platform[k] = v
	}
	return &results{
		store:   store,
		digests: digests,
		keys:    keys,
		keyer: &action.Keyer{Root: s.graph.Root, WorkspaceName: s.graph.Config.Name, Digests: digests,
			Platform: platform, Memo: keys,
			EnvironmentFiles: s.graph.Config.EnvironmentFingerprint == "files",
			ProbeMemo:        filepath.Join(s.graph.Root, workspace.OutputDir, "python-probes")},
		index: sched.LoadKeyIndex(filepath.Join(s.graph.Root, workspace.OutputDir, "keys.tsv")),
	}, nil
}

func (r *results) save() error {
	if err := r.digests.Save(); err != nil {
		return err
	}
	if err := r.keys.Save(); err != nil {
		return err
	}
	return r.index.Save()
}

func (r *results) manifest(ref string) (action.Manifest, error) {
	var m action.Manifest
	hash, size, ok := strings.Cut(ref, "/")
	if !ok {
		return m, fmt.Errorf("no manifest recorded")
	}
	var n int64
	fmt.Sscan(size, &n)
	b, err := r.store.GetBlob(&repb.Digest{Hash: hash, SizeBytes: n})
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

func newWhyCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "why LABEL",
		Short: "Say why LABEL's last run missed the cache",
		Long: `Compare the key of LABEL's last run with the key of its last cached pass and
say what differs: input files added, removed or changed, env entries, argv
elements, tools. A sharded or repeated test is explained per action.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.load()
			if err != nil {
				return err
			}
			ids, err := s.actionIDs(args[0])
			if err != nil {
				return err
			}
			r, err := s.openResults()
			if err != nil {
				return &exitError{exitInternal, err}
			}
			out := cmd.OutOrStdout()
			if sel, err := s.selectTests(args, "", ""); err == nil && len(sel.tests) == 1 {
				a := action.Build(s.graph, sel.tests, action.Options{LookupEnv: os.LookupEnv, ToolEnv: &action.ToolEnv{}})[0]
				fmt.Fprintf(out, "%s: sandbox: %s\n", a.Label, newSandboxPolicy(s.graph.Config).view(a))
			}
			for _, id := range ids {
				e, ok := r.index.Entry(id)
				switch {
				case !ok:
					fmt.Fprintf(out, "%s: has not run in this workspace yet\n", id)
				case e.LastHit:
					fmt.Fprintf(out, "%s: cache hit: its last run reused a cached pass\n", id)
				case e.TracedChange != "" && (e.BaselineKey == e.LastKey || e.PassKey == e.LastKey):
					// Same key, but something the test looked up changed.
					fmt.Fprintf(out, "%s: missed because, since its last cached pass:\n  %s\n", id, e.TracedChange)
				case e.BaselineKey == "":
					fmt.Fprintf(out, "%s: missed: it had no cached pass to reuse (it never passed with caching on; failures are never cached)\n", id)
				case e.BaselineKey == e.LastKey:
					fmt.Fprintf(out, "%s: missed although its key has a cached pass: run with --no-cache, the cached pass took longer than the timeout, or the entry was unreadable\n", id)
				default:
					old, err1 := r.manifest(e.BaselineManifest)
					cur, err2 := r.manifest(e.LastManifest)
					if err1 != nil || err2 != nil {
						fmt.Fprintf(out, "%s: missed; the details were trimmed from the cache\n", id)
						continue
					}
					fmt.Fprintf(out, "%s: missed because, since its last cached pass:\n", id)
					for _, line := range action.Explain(old, cur) {
						fmt.Fprintf(out, "  %s\n", line)
					}
					if e.TracedChange != "" {
						fmt.Fprintf(out, "  %s\n", e.TracedChange)
					}
				}
			}
			return nil
		},
	}
}

// actionIDs resolves a label argument to the action IDs recorded for it.
func (s *session) actionIDs(arg string) ([]string, error) {
	sel, err := s.selectTests([]string{arg}, "", "")
	if err != nil {
		return nil, err
	}
	if len(sel.tests) != 1 {
		return nil, invalid("%s: want exactly one test label, matched %d tests", arg, len(sel.tests))
	}
	t := sel.tests[0]
	var ids []string
	for _, a := range action.Build(s.graph, sel.tests, action.Options{LookupEnv: os.LookupEnv}) {
		ids = append(ids, a.ID())
	}
	if t.Shards > 1 {
		return ids, nil
	}
	return []string{t.Label.String()}, nil
}

func newLogCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "log LABEL",
		Short: "Print the last log of LABEL (from the cache when it was a hit)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.load()
			if err != nil {
				return err
			}
			sel, err := s.selectTests(args, "", "")
			if err != nil {
				return err
			}
			if len(sel.tests) != 1 {
				return invalid("%s: want exactly one test label, matched %d tests", args[0], len(sel.tests))
			}
			r, err := s.openResults()
			if err != nil {
				return &exitError{exitInternal, err}
			}
			out := cmd.OutOrStdout()
			printed := false
			for _, a := range action.Build(s.graph, sel.tests, action.Options{LookupEnv: os.LookupEnv}) {
				if a.Shards > 1 || a.Runs > 1 {
					fmt.Fprintf(out, "==> %s <==\n", a.ID())
				}
				p := filepath.Join(s.graph.Root, workspace.OutputDir, filepath.FromSlash(a.LogDir()), "test.log")
				b, err := os.ReadFile(p)
				if err != nil {
					b, err = r.cachedLog(a.ID())
				}
				if err != nil {
					continue
				}
				out.Write(b)
				printed = true
			}
			if !printed {
				return &exitError{exitInvalid, fmt.Errorf("%s has no log yet: run it first", args[0])}
			}
			return nil
		},
	}
}

// cachedLog reads the log stored with the action's last cached pass.
func (r *results) cachedLog(id string) ([]byte, error) {
	e, ok := r.index.Entry(id)
	if !ok || e.PassKey == "" {
		return nil, os.ErrNotExist
	}
	ar, err := r.store.GetActionResult(e.PassKey) // the local store: a log is read where it was kept
	if err != nil {
		return nil, err
	}
	return r.store.GetBlob(ar.StdoutDigest)
}

func newCacheCmd(g *globalFlags) *cobra.Command {
	c := &cobra.Command{Use: "cache", Short: "Inspect and bound the local cache"}
	open := func() (*cache.Store, error) {
		s, err := g.load()
		if err != nil {
			return nil, err
		}
		dir, err := cacheDir(s.graph)
		if err != nil {
			return nil, err
		}
		return cache.Open(dir)
	}
	c.AddCommand(&cobra.Command{
		Use: "stats", Short: "Print the cache's location, entries and size", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open()
			if err != nil {
				return err
			}
			stats, err := st.Stats()
			if err != nil {
				return &exitError{exitInternal, err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cache: %s\nentries: %d\nblobs: %d\nsize: %.1f MiB\n",
				st.Dir(), stats.Entries, stats.Blobs, float64(stats.Bytes)/(1<<20))
			if !stats.Oldest.IsZero() {
				fmt.Fprintf(cmd.OutOrStdout(), "oldest use: %s\n", stats.Oldest.Format("2006-01-02 15:04"))
			}
			return nil
		},
	})
	var maxSize int64
	var maxAge string
	trim := &cobra.Command{
		Use: "trim", Short: "Remove the least recently used entries beyond a size or age", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open()
			if err != nil {
				return err
			}
			p := cache.DefaultTrim
			if maxSize > 0 {
				p.MaxBytes = maxSize << 20
			}
			if maxAge != "" {
				d, err := parseAge(maxAge)
				if err != nil {
					return invalid("--max-age: %v", err)
				}
				p.MaxAge = d
			}
			n, freed, err := st.Trim(p)
			if err != nil {
				return &exitError{exitInternal, err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %d files, %.1f MiB\n", n, float64(freed)/(1<<20))
			return nil
		},
	}
	trim.Flags().Int64Var(&maxSize, "max-size", 0, "keep at most `MiB` (default: the automatic policy's)")
	trim.Flags().StringVar(&maxAge, "max-age", "", "remove what was not used for `AGE` (e.g. 72h, 7d)")
	c.AddCommand(trim)
	c.AddCommand(&cobra.Command{
		Use: "clean", Short: "Remove every cached result", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open()
			if err != nil {
				return err
			}
			if err := st.Clean(); err != nil {
				return &exitError{exitInternal, err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed everything in %s\n", st.Dir())
			return nil
		},
	})
	return c
}

// parseAge accepts Go durations and whole days ("7d").
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscan(d, &n); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a duration such as 72h or 7d", s)
	}
	return d, nil
}
