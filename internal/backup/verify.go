package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// maxManifest bounds the manifest read into memory.
const maxManifest = 16 << 20

// Verify reads the whole backup in r without restoring it: the key opens
// it, every chunk is authentic and in order, it is not truncated, every
// part's SHA-256, size and (PostgreSQL) row count matches the manifest,
// and the manifest is well formed. The error names what failed and wraps
// ErrNotBackup, ErrWrongKey, ErrTruncated or ErrDamaged.
func Verify(r io.Reader, k Key) (Manifest, error) {
	return walk(r, k, nil)
}

// walk reads the backup part by part, giving each part before the
// manifest to use (when not nil), which may read it; walk reads whatever
// use leaves, then checks the part against the manifest at the end.
func walk(r io.Reader, k Key, use func(name string, part io.Reader) error) (Manifest, error) {
	o, err := newOpener(r, k)
	if err != nil {
		return Manifest{}, err
	}
	ar := newArchiveReader(o)
	var seen []Part
	for {
		name, pr, err := ar.next()
		if errors.Is(err, io.EOF) {
			return Manifest{}, fmt.Errorf("%w: it holds no manifest", ErrDamaged)
		}
		if err != nil {
			return Manifest{}, err
		}
		if name == manifestName {
			return readManifest(ar, pr, seen)
		}
		if slices.ContainsFunc(seen, func(p Part) bool { return p.Name == name }) {
			return Manifest{}, fmt.Errorf("%w: part %s appears twice", ErrDamaged, name)
		}
		if use != nil {
			if err := use(name, pr); err != nil {
				return Manifest{}, err
			}
		}
		if _, err := io.Copy(io.Discard, pr); err != nil {
			return Manifest{}, err
		}
		seen = append(seen, Part{Name: name, SHA256: pr.sum(), Bytes: pr.bytes, Rows: pr.lines})
	}
}

// readManifest reads the manifest part, checks that nothing follows it,
// and compares it with the parts seen.
func readManifest(ar *archiveReader, pr *partReader, seen []Part) (Manifest, error) {
	body, err := io.ReadAll(io.LimitReader(pr, maxManifest+1))
	if err != nil {
		return Manifest{}, err
	}
	if len(body) > maxManifest {
		return Manifest{}, fmt.Errorf("%w: the manifest is too large", ErrDamaged)
	}
	if _, _, err := ar.next(); !errors.Is(err, io.EOF) {
		if err != nil {
			return Manifest{}, err
		}
		return Manifest{}, fmt.Errorf("%w: parts follow the manifest", ErrDamaged)
	}
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: the manifest is not valid JSON", ErrDamaged)
	}
	if err := m.check(); err != nil {
		return Manifest{}, err
	}
	if len(seen) != len(m.Parts) {
		return Manifest{}, fmt.Errorf("%w: the manifest lists %d parts, the backup holds %d", ErrDamaged, len(m.Parts), len(seen))
	}
	for i, want := range m.Parts {
		got := seen[i]
		switch {
		case got.Name != want.Name:
			return Manifest{}, fmt.Errorf("%w: part %d is %s, the manifest says %s", ErrDamaged, i+1, got.Name, want.Name)
		case got.Bytes != want.Bytes:
			return Manifest{}, fmt.Errorf("%w: part %s holds %d bytes, the manifest says %d", ErrDamaged, want.Name, got.Bytes, want.Bytes)
		case got.SHA256 != want.SHA256:
			return Manifest{}, fmt.Errorf("%w: part %s does not match its SHA-256 in the manifest", ErrDamaged, want.Name)
		case want.Table != "" && got.Rows != want.Rows:
			return Manifest{}, fmt.Errorf("%w: part %s holds %d rows, the manifest says %d", ErrDamaged, want.Name, got.Rows, want.Rows)
		}
	}
	return m, nil
}
