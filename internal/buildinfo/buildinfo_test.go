package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func settings(kv ...string) []debug.BuildSetting {
	var s []debug.BuildSetting
	for i := 0; i < len(kv); i += 2 {
		s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
	}
	return s
}

func TestFrom(t *testing.T) {
	release := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/wardhq/ward", Version: "(devel)"},
		Settings: settings("GOOS", "linux", "GOARCH", "arm64", "vcs", "git",
			"vcs.revision", "0123456789abcdef0123456789abcdef01234567", "vcs.time", "2026-12-06T09:30:00Z", "vcs.modified", "false"),
	}
	installed := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/wardhq/ward", Version: "v1.4.0"},
		Settings:  settings("GOOS", "linux", "GOARCH", "amd64"),
	}
	dirty := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/wardhq/ward", Version: "(devel)"},
		Settings:  settings("GOOS", "linux", "GOARCH", "amd64", "vcs.revision", "abc", "vcs.time", "2026-12-01T00:00:00Z", "vcs.modified", "true"),
	}
	here := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name   string
		linked string
		bi     *debug.BuildInfo
		want   Info
	}{
		{"release build: -X version, VCS stamped", "v1.5.0", release,
			Info{Version: "v1.5.0", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-12-06T09:30:00Z", GoVersion: "go1.26.8", Platform: "linux/arm64"}},
		{"go install @version: the module version", "dev", installed,
			Info{Version: "v1.4.0", GoVersion: "go1.26.8", Platform: "linux/amd64"}},
		{"the linked version wins over the module's", "v1.5.0-rc.1", installed,
			Info{Version: "v1.5.0-rc.1", GoVersion: "go1.26.8", Platform: "linux/amd64"}},
		{"go build in a work tree with changes", "", dirty,
			Info{Version: Dev, Commit: "abc", Modified: true, Date: "2026-12-01T00:00:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"}},
		{"no build information", "", nil,
			Info{Version: Dev, GoVersion: runtime.Version(), Platform: here}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := From(tt.linked, tt.bi); got != tt.want {
				t.Errorf("From = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	i := Info{Version: "v1.5.0", Commit: "0123abc", Date: "2026-12-06T09:30:00Z", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	want := "ward v1.5.0\ncommit: 0123abc\ndate:   2026-12-06T09:30:00Z\ngo:     go1.26.8 linux/amd64\n"
	if got := i.String(); got != want {
		t.Errorf("String =\n%s\nwant\n%s", got, want)
	}
	i.Modified = true
	if got := i.String(); got != "ward v1.5.0\ncommit: 0123abc (modified: built with uncommitted changes)\ndate:   2026-12-06T09:30:00Z\ngo:     go1.26.8 linux/amd64\n" {
		t.Errorf("modified: %s", got)
	}
	if got := (Info{Version: Dev, GoVersion: "go1.26.8", Platform: "linux/amd64"}).String(); got != "ward dev\ncommit: unknown (built without VCS information)\ndate:   unknown\ngo:     go1.26.8 linux/amd64\n" {
		t.Errorf("no VCS: %s", got)
	}
}
