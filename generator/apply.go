// SPDX-License-Identifier: Apache-2.0

package generator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrChangedSincePlanning is returned by Apply when a planned file no longer has the content Detect read
// (FileChange.Before).
var ErrChangedSincePlanning = errors.New("changed since planning")

// Apply writes every file of the plan or none: it checks that no planned file changed since Detect,
// writes each new content to a temporary file beside it (same mode), then renames them into place,
// restoring the originals if a rename fails.
func Apply(p *Plan) error {
	type staged struct {
		path, tmp string
		before    []byte
		mode      os.FileMode
	}
	var done []staged
	cleanup := func() {
		for _, s := range done {
			os.Remove(s.tmp)
		}
	}
	for _, c := range p.Changes {
		full := filepath.Join(p.Root, filepath.FromSlash(c.Path))
		current, err := os.ReadFile(full)
		if err != nil || !bytes.Equal(current, c.Before) {
			cleanup()
			return fmt.Errorf("%s: %w; nothing was written, run again", c.Path, ErrChangedSincePlanning)
		}
		info, err := os.Stat(full)
		if err != nil {
			cleanup()
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(full), "."+filepath.Base(full)+".diagkit-*")
		if err != nil {
			cleanup()
			return fmt.Errorf("stage %s: %w", c.Path, err)
		}
		done = append(done, staged{path: full, tmp: tmp.Name(), before: current, mode: info.Mode().Perm()})
		_, werr := tmp.Write(c.After)
		serr := tmp.Sync()
		cerr := tmp.Close()
		if err := errors.Join(werr, serr, cerr, os.Chmod(tmp.Name(), info.Mode().Perm())); err != nil {
			cleanup()
			return fmt.Errorf("stage %s: %w; nothing was written", c.Path, err)
		}
	}
	for i, s := range done {
		if err := os.Rename(s.tmp, s.path); err != nil {
			// Put back what was already replaced; the rest are still temporary files.
			var restoreErrs []error
			for _, r := range done[:i] {
				restoreErrs = append(restoreErrs, os.WriteFile(r.path, r.before, r.mode))
			}
			for _, r := range done[i:] {
				os.Remove(r.tmp)
			}
			return errors.Join(fmt.Errorf("write %s: %w; the files written before it were restored", s.path, err), errors.Join(restoreErrs...))
		}
	}
	return nil
}
