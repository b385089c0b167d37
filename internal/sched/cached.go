package sched

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cache"
	"github.com/suite-run/suite/internal/statefile"
)

// Store is where results live: the local cache, or the local cache in
// front of a remote one.
type Store interface {
	GetActionResult(ctx context.Context, key *repb.Digest) (*repb.ActionResult, error)
	PutActionResult(ctx context.Context, key *repb.Digest, r *repb.ActionResult) error
	PutFile(path string) (*repb.Digest, error)
	PutBlob(data []byte) (*repb.Digest, error)
	GetBlob(d *repb.Digest) ([]byte, error)
	BlobPath(d *repb.Digest) (string, error)
	BlobFile(d *repb.Digest) (string, error)
	// Warnings are the store's own (a remote that went away), at most one.
	Warnings() []string
}

// executedStore is a Store that files results a remote executor produced
// in that executor's cache too (cache.Tiered).
type executedStore interface {
	PutExecutedActionResult(ctx context.Context, key *repb.Digest, r *repb.ActionResult) error
}

// ResultCache decides, before an action runs, whether a stored result
// stands for it, and stores clean results after.
type ResultCache struct {
	Keyer    *action.Keyer
	Store    Store
	Index    *KeyIndex
	History  *History // learns durations from hits
	NoLookup bool     // --no-cache: run everything, still store passes
	// Ctx bounds remote calls; cancelling it (Ctrl-C) cuts them short.
	Ctx context.Context

	digests     sync.Map // *action.Action -> *repb.Digest
	keys        sync.Map // *action.Action -> *action.Key
	mu          sync.Mutex
	warnings    []string
	storeFailed bool
}

// storeFailure warns once per run that results cannot be stored (a
// read-only or full cache directory): the run goes on uncached.
func (c *ResultCache) storeFailure(err error) {
	c.mu.Lock()
	first := !c.storeFailed
	c.storeFailed = true
	c.mu.Unlock()
	if first {
		c.warn("cache: results are not being stored (%v); the run goes on uncached", err)
	}
}

func (c *ResultCache) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings = append(c.warnings, msg)
}

// TakeWarnings returns the warnings gathered since the last call.
func (c *ResultCache) TakeWarnings() []string {
	for _, w := range c.Store.Warnings() {
		c.warn("%s", w)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.warnings
	c.warnings = nil
	return w
}

func (c *ResultCache) ctx() context.Context {
	if c.Ctx != nil {
		return c.Ctx
	}
	return context.Background()
}

// Key returns the action's full key, computed once per run: what a remote
// executor and an explanation of a miss need.
func (c *ResultCache) Key(a *action.Action) (*action.Key, error) {
	if k, ok := c.keys.Load(a); ok {
		return k.(*action.Key), nil
	}
	k, err := c.Keyer.Key(a)
	if err != nil {
		return nil, err
	}
	c.keys.Store(a, k)
	return k, nil
}

// digest returns the action's key digest, once per run; from the key memo
// when the action and its inputs are as they were.
func (c *ResultCache) digest(a *action.Action) (*repb.Digest, error) {
	if d, ok := c.digests.Load(a); ok {
		return d.(*repb.Digest), nil
	}
	d, full, err := c.Keyer.Digest(a)
	if err != nil {
		return nil, err
	}
	if full != nil {
		c.keys.Store(a, full)
	}
	c.digests.Store(a, d)
	return d, nil
}

// Peek reports whether the action would be a cache hit, changing nothing.
func (c *ResultCache) Peek(a *action.Action) bool {
	if !a.Cacheable {
		return false
	}
	key, err := c.digest(a)
	if err != nil {
		return false
	}
	r, err := c.Store.GetActionResult(c.ctx(), key)
	if err != nil {
		return false
	}
	d := resultDuration(r)
	ok := r.ExitCode == 0 || contains(a.Test.SkipExitCodes, int(r.ExitCode))
	return ok && (a.Timeout <= 0 || d <= a.Timeout) && c.tracedChange(a, r) == ""
}

// tracedChange checks a traced action's result against its manifest: ""
// when every traced file, absence and listing still holds, else what no
// longer does. A traced result without a readable manifest never holds.
func (c *ResultCache) tracedChange(a *action.Action, r *repb.ActionResult) string {
	if !a.TracedInputs {
		return ""
	}
	d := manifestOf(r)
	if d == nil {
		return "its cached pass has no list of traced inputs"
	}
	data, err := c.Store.GetBlob(d)
	if err != nil {
		return "its list of traced inputs is gone from the cache"
	}
	entries, err := parseManifest(data)
	if err != nil {
		return "its list of traced inputs is unreadable"
	}
	return firstChange(c.Keyer.Digests, c.Keyer.Root, entries)
}

// Lookup returns the stored outcome for the action when there is a usable
// one: a clean pass (or skip) whose recorded duration fits the current
// timeout. Anything doubtful is a miss.
func (c *ResultCache) Lookup(a *action.Action) (Outcome, bool) {
	if !a.Cacheable {
		return Outcome{}, false
	}
	d, err := c.digest(a)
	if err != nil {
		c.warn("%v (the test runs uncached)", err)
		return Outcome{}, false
	}
	c.Index.sawRun(c, a, d.Hash)
	if c.NoLookup {
		return Outcome{}, false
	}
	r, err := c.Store.GetActionResult(c.ctx(), d)
	if err != nil {
		if !cache.IsMiss(err) {
			c.warn("cache: %v", err)
		}
		return Outcome{}, false
	}
	o := Outcome{Cached: true, ExitCode: int(r.ExitCode), Duration: resultDuration(r)}
	switch {
	case r.ExitCode == 0:
		o.Status = Passed
	case contains(a.Test.SkipExitCodes, int(r.ExitCode)):
		o.Status = Skipped
	default:
		return Outcome{}, false // never stored by us; someone else's failure is not a hit
	}
	if a.Timeout > 0 && o.Duration > a.Timeout {
		return Outcome{}, false
	}
	if a.TracedInputs {
		change := c.tracedChange(a, r)
		c.Index.sawTracedChange(a.ID(), change)
		if change != "" {
			return Outcome{}, false
		}
	}
	// The log of a cached pass is pointed at (--json) and at most quoted
	// (the tail in a JUnit case made up for a test without XML), so it is
	// not read and hashed here; `suite log` verifies it when it prints it.
	// The XML becomes JUnit cases, so it is verified.
	if r.StdoutDigest != nil {
		if p, err := c.Store.BlobFile(r.StdoutDigest); err == nil {
			o.LogPath = p
		}
	}
	for _, f := range r.OutputFiles {
		if f.Path == action.OutputXML {
			if p, err := c.Store.BlobPath(f.Digest); err == nil {
				o.XMLPath = p
			}
		}
	}
	if c.History != nil {
		c.History.Learn(a.ID(), o.Duration)
	}
	c.Index.sawResult(a.ID(), d.Hash, true)
	return o, true
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func resultDuration(r *repb.ActionResult) time.Duration {
	m := r.GetExecutionMetadata()
	if m == nil || m.ExecutionStartTimestamp == nil || m.ExecutionCompletedTimestamp == nil {
		return 0
	}
	return m.ExecutionCompletedTimestamp.AsTime().Sub(m.ExecutionStartTimestamp.AsTime())
}

// Save stores a clean result: the log, the XML and the undeclared outputs
// as blobs, then the ActionResult naming them (blobs first, so an entry
// never names a blob that is not there).
func (c *ResultCache) Save(a *action.Action, o Outcome, start time.Time) {
	if !a.Cacheable || (o.Status != Passed && o.Status != Skipped) {
		return
	}
	d, err := c.digest(a)
	if err != nil {
		return
	}
	worker := "local"
	if o.Remote {
		worker = "remote"
	}
	r := &repb.ActionResult{
		ExitCode: int32(o.ExitCode),
		ExecutionMetadata: &repb.ExecutedActionMetadata{
			Worker:                      worker,
			ExecutionStartTimestamp:     timestamppb.New(start),
			ExecutionCompletedTimestamp: timestamppb.New(start.Add(o.Duration)),
		},
	}
	if o.LogPath != "" {
		d, err := c.Store.PutFile(o.LogPath)
		if err != nil {
			c.storeFailure(err)
			return
		}
		r.StdoutDigest = d
	}
	if o.XMLPath != "" {
		d, err := c.Store.PutFile(o.XMLPath)
		if err != nil {
			c.storeFailure(err)
			return
		}
		r.OutputFiles = append(r.OutputFiles, &repb.OutputFile{Path: action.OutputXML, Digest: d})
	}
	if a.TracedInputs {
		// Without the list of what it read, a traced pass proves nothing
		// about the next run.
		if !o.Traced {
			return
		}
		m, err := tracedManifest(c.Keyer.Digests, c.Keyer.Root, a, o)
		if err != nil {
			c.warn("%s: not cached: %v", a.ID(), err)
			return
		}
		d, err := c.Store.PutBlob(m)
		if err != nil {
			c.storeFailure(err)
			return
		}
		r.OutputFiles = append(r.OutputFiles, &repb.OutputFile{Path: OutputTracedInputs, Digest: d})
	}
	if o.OutputsDir != "" {
		err := filepath.WalkDir(o.OutputsDir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return err
			}
			d, err := c.Store.PutFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(o.OutputsDir, p)
			r.OutputFiles = append(r.OutputFiles, &repb.OutputFile{Path: action.OutputOutputs + "/" + filepath.ToSlash(rel), Digest: d})
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			c.storeFailure(err)
			return
		}
	}
	put := c.Store.PutActionResult
	if es, ok := c.Store.(executedStore); ok && o.Remote {
		put = es.PutExecutedActionResult
	}
	if err := put(c.ctx(), d, r); err != nil {
		c.storeFailure(err)
		return
	}
	c.Index.sawResult(a.ID(), d.Hash, false)
}

// KeyIndex remembers, per action, the key of its last run, whether that
// run was a hit, and the key of the cached pass it could have reused (the
// baseline), with their manifests stored as blobs, for `suite why`. It lives
// in .suite/keys.tsv; a no-change rerun leaves it untouched.
type KeyIndex struct {
	path    string
	mu      sync.Mutex
	entries map[string]*IndexEntry
	dirty   bool
}

// IndexEntry is one action's record. Manifests are "hash/size" blob refs.
type IndexEntry struct {
	LastKey          string
	LastManifest     string
	LastHit          bool
	PassKey          string // the latest cached pass
	PassManifest     string
	BaselineKey      string // the latest pass when the last run's key was first seen
	BaselineManifest string
	// TracedChange says which traced input made the last lookup of a
	// traced test miss although its key had a cached pass ("" if none).
	TracedChange string
}

// The index file has one line per action, its fields separated by tabs
// (action IDs never hold tabs or newlines): read on every run, it must
// load in a fraction of a millisecond per thousand actions, which JSON
// does not.
//
//	ID	LastKey	LastManifest	LastHit (0|1)	PassKey	PassManifest	BaselineKey	BaselineManifest	TracedChange
//
// The last field came later; a line without it is read as having it empty.
const indexHeader = "# suite key index v1\n"

// LoadKeyIndex reads the index; a missing or broken file is empty.
func LoadKeyIndex(path string) *KeyIndex {
	ix := &KeyIndex{path: path, entries: map[string]*IndexEntry{}}
	b, err := os.ReadFile(path)
	text, ok := strings.CutPrefix(string(b), indexHeader)
	if err != nil || !ok {
		return ix
	}
	entries := map[string]*IndexEntry{}
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) == 8 {
			f = append(f, "")
		}
		if len(f) != 9 || (f[3] != "0" && f[3] != "1") {
			return ix // a damaged index explains nothing; start afresh
		}
		entries[f[0]] = &IndexEntry{LastKey: f[1], LastManifest: f[2], LastHit: f[3] == "1",
			PassKey: f[4], PassManifest: f[5], BaselineKey: f[6], BaselineManifest: f[7], TracedChange: f[8]}
	}
	ix.entries = entries
	return ix
}

// Entry returns the record of an action ID.
func (ix *KeyIndex) Entry(id string) (IndexEntry, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e, ok := ix.entries[id]
	if !ok {
		return IndexEntry{}, false
	}
	return *e, true
}

func (ix *KeyIndex) sawRun(c *ResultCache, a *action.Action, hash string) {
	id := a.ID()
	ix.mu.Lock()
	e := ix.entries[id]
	if e != nil && e.LastKey == hash {
		ix.mu.Unlock()
		return // a no-change rerun writes nothing
	}
	ix.mu.Unlock()
	k, err := c.Key(a)
	if err != nil {
		return
	}
	b, err := json.Marshal(k.Manifest())
	if err != nil {
		return
	}
	d, err := c.Store.PutBlob(b)
	if err != nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.entries[id] == nil {
		ix.entries[id] = &IndexEntry{}
	}
	e = ix.entries[id]
	e.BaselineKey, e.BaselineManifest = e.PassKey, e.PassManifest
	e.LastKey, e.LastManifest, e.LastHit = k.Hash, fmt.Sprintf("%s/%d", d.Hash, d.SizeBytes), false
	ix.dirty = true
}

// sawResult records that the last run's key now has a cached pass; hit
// says the run reused it rather than producing it.
func (ix *KeyIndex) sawResult(id, hash string, hit bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.entries[id]
	if e == nil || e.LastKey != hash || (e.PassKey == hash && e.LastHit == hit) {
		return
	}
	e.PassKey, e.PassManifest, e.LastHit = e.LastKey, e.LastManifest, hit
	ix.dirty = true
}

// sawTracedChange records what the last lookup of a traced action found
// changed among its traced inputs ("" for nothing).
func (ix *KeyIndex) sawTracedChange(id, change string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.entries[id]
	if e == nil || (e.TracedChange == change && (change == "" || !e.LastHit)) {
		return
	}
	e.TracedChange = change
	if change != "" {
		e.LastHit = false // the same key as the last run, which may have been a hit
	}
	ix.dirty = true
}

// Save writes the index if it changed.
func (ix *KeyIndex) Save() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.dirty {
		return nil
	}
	ids := make([]string, 0, len(ix.entries))
	for id := range ix.entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString(indexHeader)
	for _, id := range ids {
		e := ix.entries[id]
		hit := "0"
		if e.LastHit {
			hit = "1"
		}
		for i, f := range []string{id, e.LastKey, e.LastManifest, hit, e.PassKey, e.PassManifest, e.BaselineKey, e.BaselineManifest, e.TracedChange} {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(f)
		}
		b.WriteByte('\n')
	}
	if err := statefile.WriteBytes(ix.path, []byte(b.String())); err != nil {
		return err
	}
	// The JSON index of earlier versions, superseded by this file.
	os.Remove(filepath.Join(filepath.Dir(ix.path), "keys.json"))
	return nil
}
