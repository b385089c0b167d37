//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

func run(ctx context.Context, s Spec, opt options) (res Result, err error) {
	if err := s.normalize(); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(s.ScratchDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("sandbox: %w", err)
	}
	if !s.KeepScratch {
		defer func() {
			if rmErr := removeAll(s.ScratchDir); rmErr != nil && err == nil {
				err = fmt.Errorf("sandbox: removing scratch directory: %w", rmErr)
			}
		}()
	}
	lay := newLayout(s.ScratchDir, s.WorkspaceName, s.Package)
	if err := lay.create(s.Workspace, s.Inputs); err != nil {
		return Result{}, err
	}
	log, err := newTailLog(s.LogPath, filepath.Join(s.ScratchDir, "log.segment"), s.LogLimit)
	if err != nil {
		return Result{}, err
	}
	env := s.environ(lay)
	res, err = execute(ctx, &s, lay, env, log, opt)
	total, truncated, logErr := log.finish()
	res.LogBytes, res.LogTruncated = total, truncated
	if err != nil {
		return res, err
	}
	if logErr != nil {
		return res, fmt.Errorf("sandbox: writing log: %w", logErr)
	}
	if res.WroteXML, err = collectXML(lay.xmlFile, s.XMLPath); err != nil {
		return res, err
	}
	if err := moveOutputs(lay.outputsDir, s.OutputsDir); err != nil {
		return res, err
	}
	return res, nil
}
