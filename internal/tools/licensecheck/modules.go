package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Module is one Go module linked into the binary, as go list reports it.
type Module struct {
	Path    string
	Version string
	Dir     string
	Main    bool
	Replace *Module
}

// listModules returns the modules that provide the packages linked into
// pkgs (go list -deps: build dependencies only, not tests), without the main
// module, sorted by path. A replaced module is read from its replacement.
func listModules(pkgs []string) ([]Module, error) {
	args := append([]string{"list", "-deps", "-json=ImportPath,Module"}, pkgs...)
	cmd := exec.Command("go", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	seen := map[string]Module{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct{ Module *Module }
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		if p.Module == nil || p.Module.Main {
			continue // the standard library, or Ward itself
		}
		m := *p.Module
		if m.Replace != nil {
			m.Dir = m.Replace.Dir
		}
		seen[m.Path] = m
	}
	mods := make([]Module, 0, len(seen))
	for _, m := range seen {
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b Module) int { return strings.Compare(a.Path, b.Path) })
	return mods, nil
}

var (
	// primaryName is a module's own licence file: LICENSE, LICENCE,
	// COPYING or UNLICENSE, bare or as .txt or .md.
	primaryName = regexp.MustCompile(`(?i)^(licen[cs]e|copying|unlicense)(\.(txt|md|rst))?$`)
	// extraName is a further licence file (LICENSE-SQLITE, LICENSE-3RD-PARTY.md).
	extraName  = regexp.MustCompile(`(?i)^(licen[cs]e|copying)[-_.].+`)
	noticeName = regexp.MustCompile(`(?i)^notice(\.(txt|md))?$`)
)

// File is one licence or NOTICE file of a module, with what it carries.
type File struct {
	Name     string
	Text     string
	Licences []string
}

// Verdict is what the check found in one module's directory.
type Verdict struct {
	Module   Module
	Primary  []File // LICENSE and its kin
	Extra    []File // LICENSE-*, further licences of parts of the module
	Notices  []File // NOTICE files (Apache-2.0 section 4(d))
	Licences []string
	Problems []string
}

// OK reports whether the module may be linked into Ward.
func (v Verdict) OK() bool { return len(v.Problems) == 0 }

// inspect reads the licence and NOTICE files at the root of a module's
// directory and judges them: at least one licence file, every one of them
// recognised, and every licence found anywhere in them on the allowed list.
// Extra files that carry no recognised licence (a logo's source, a
// third-party index) are not judged.
func inspect(m Module) Verdict {
	v := Verdict{Module: m}
	entries, err := os.ReadDir(m.Dir)
	if err != nil {
		v.Problems = append(v.Problems, fmt.Sprintf("module not in the module cache (run go mod download): %v", err))
		return v
	}
	found := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		if !primaryName.MatchString(name) && !extraName.MatchString(name) && !noticeName.MatchString(name) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.Dir, name))
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		f := File{Name: name, Text: string(b)}
		switch {
		case noticeName.MatchString(name):
			v.Notices = append(v.Notices, f)
			continue
		case primaryName.MatchString(name):
			f.Licences = Classify(f.Text)
			v.Primary = append(v.Primary, f)
			if len(f.Licences) == 0 {
				v.Problems = append(v.Problems, name+": licence not recognised")
			}
		default:
			f.Licences = Classify(f.Text)
			v.Extra = append(v.Extra, f)
		}
		for _, id := range f.Licences {
			found[id] = true
			if !allowed[id] {
				v.Problems = append(v.Problems, fmt.Sprintf("%s: %s is not an allowed licence", name, id))
			}
		}
	}
	if len(v.Primary) == 0 {
		v.Problems = append(v.Problems, "no licence file (LICENSE, LICENCE, COPYING or UNLICENSE)")
	}
	for id := range found {
		v.Licences = append(v.Licences, id)
	}
	slices.Sort(v.Licences)
	return v
}

// missingNotices returns the modules that ship a NOTICE file but are not
// named in Ward's own NOTICE, which must carry their notices (Apache License
// 2.0 section 4(d)).
func missingNotices(verdicts []Verdict, ourNotice string) []string {
	var missing []string
	for _, v := range verdicts {
		if len(v.Notices) > 0 && !strings.Contains(ourNotice, v.Module.Path+" ") {
			missing = append(missing, v.Module.Path)
		}
	}
	return missing
}
